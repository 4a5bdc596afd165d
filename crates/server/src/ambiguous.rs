//! Lines the filter would not trust (`LineResult::ambiguous`): counted per jail, and
//! the candidate addresses that keep sending them kept in a bounded map so that
//! `status JAIL` can show them (nobody is banned for them).

use std::collections::HashMap;

/// How many candidate addresses a jail remembers; when full, the least recently
/// seen half is dropped (attacker text cannot grow it without bound).
pub const MAX_CANDIDATES: usize = 1000;

/// How many addresses `status JAIL` lists.
pub const TOP: usize = 5;

/// One candidate address: how many ambiguous lines named it, and when last.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seen {
    pub count: u64,
    pub last: f64,
}

/// Per-jail record of ambiguous lines.
#[derive(Debug, Clone, Default)]
pub struct AmbiguousLog {
    /// Lines with at least one ambiguous match.
    pub lines: u64,
    pub candidates: HashMap<String, Seen>,
}

impl AmbiguousLog {
    /// Note one ambiguous line naming `candidates` at time `t`.
    pub fn note<'a, I: IntoIterator<Item = &'a str>>(&mut self, candidates: I, t: f64) {
        self.lines += 1;
        for c in candidates {
            // Candidates are addresses; clip anyway, they come from attacker text.
            let c = clip(c, 64);
            if let Some(s) = self.candidates.get_mut(c) {
                s.count += 1;
                s.last = t;
                continue;
            }
            if self.candidates.len() >= MAX_CANDIDATES {
                self.evict();
            }
            self.candidates
                .insert(c.to_string(), Seen { count: 1, last: t });
        }
    }

    fn evict(&mut self) {
        let mut lasts: Vec<f64> = self.candidates.values().map(|s| s.last).collect();
        lasts.sort_by(f64::total_cmp);
        let median = lasts[lasts.len() / 2];
        self.candidates.retain(|_, s| s.last > median);
        // All equal times: drop everything but keep the bound.
        if self.candidates.len() >= MAX_CANDIDATES {
            self.candidates.clear();
        }
    }

    /// The `n` addresses with the most ambiguous lines (most recent first on ties),
    /// as `address (count)`.
    pub fn top(&self, n: usize) -> Vec<String> {
        let mut v: Vec<(&String, &Seen)> = self.candidates.iter().collect();
        v.sort_by(|a, b| {
            b.1.count
                .cmp(&a.1.count)
                .then(b.1.last.total_cmp(&a.1.last))
                .then(a.0.cmp(b.0))
        });
        v.into_iter()
            .take(n)
            .map(|(a, s)| format!("{a} ({})", s.count))
            .collect()
    }
}

fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_ranks() {
        let mut a = AmbiguousLog::default();
        a.note(["192.0.2.9", "203.0.113.5"], 1.0);
        a.note(["192.0.2.9"], 2.0);
        assert_eq!(a.lines, 2);
        assert_eq!(a.top(5), vec!["192.0.2.9 (2)", "203.0.113.5 (1)"]);
        assert_eq!(a.top(1).len(), 1);
    }

    #[test]
    fn bounded() {
        let mut a = AmbiguousLog::default();
        for i in 0..(MAX_CANDIDATES * 3) {
            a.note([format!("10.0.{}.{}", i / 256, i % 256).as_str()], i as f64);
        }
        assert!(a.candidates.len() <= MAX_CANDIDATES);
        // The newest survives eviction.
        let last = MAX_CANDIDATES * 3 - 1;
        let newest = format!("10.0.{}.{}", last / 256, last % 256);
        assert!(a.candidates.contains_key(&newest));
        // Same time for all: still bounded.
        let mut b = AmbiguousLog::default();
        for i in 0..(MAX_CANDIDATES + 10) {
            b.note([format!("x{i}").as_str()], 0.0);
        }
        assert!(b.candidates.len() <= MAX_CANDIDATES);
    }
}
