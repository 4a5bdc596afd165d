//! One compiled fail2ban regex (PCRE2, JIT) and the ticket data its groups give.

use std::borrow::Cow;

use pcre2::bytes::{CaptureLocations, Regex, RegexBuilder};

use crate::fail::{Fail, Key, Val};
use crate::jit::JitRegex;
use crate::literals::Needs;
use crate::prefilter::{first_bytes, FirstBytes, Prefixes};
use crate::prune::{Plan, Pruner, TailStub};
use crate::{tags, translate, TupleLine};

/// PCRE2 match limit per search: a hostile line against a backtracking-prone regex
/// gives up after this many steps instead of hanging the filter.
pub const MATCH_LIMIT: u32 = 2_000_000;

pub(crate) struct Compiled {
    expanded: String,
    /// The PCRE2 pattern (with the match limit): the UTF regex's, and what the tests
    /// check the byte-mode engines against.
    #[cfg_attr(not(test), allow(dead_code))]
    pattern: String,
    /// `pattern` with its repeats guarded ([`crate::prune::guard_repeats`]): what the
    /// byte-mode engines (ASCII twin, pruned variants, tail stub) are built from.
    fast: String,
    re: Regex,
    locs: CaptureLocations,
    /// The offsets of the last match, two per group ([`crate::jit::UNSET`] when a group
    /// did not take part), copied from whichever engine ran: what [`Compiled::span`]
    /// reads.
    ov: Vec<usize>,
    /// The same pattern compiled without UTF/UCP, for pure-ASCII subjects (built on
    /// first use; see [`AsciiTwin`]).
    ascii: AsciiTwin,
    /// The last search ran on the ASCII twin: its captures are in `ascii`'s locations.
    last_ascii: bool,
    /// Variants with branches cut that cannot succeed without some literal (module
    /// `prune`), for ASCII subjects.
    pub(crate) prune: Option<Box<Pruner>>,
    /// The last search ran on a pruned variant: its captures are in `prune`.
    last_pruned: bool,
    /// The pattern with its final `.+$` not walked (module `prune`), for ASCII
    /// subjects with no newline before their last byte.
    tail: Option<Box<TailStub>>,
    /// The last search ran on `tail`.
    last_tail: bool,
    /// Entries built from this regex keep their order (see [`Compiled::keep_none_all`]).
    ordered: bool,
    multi_line: bool,
    /// (group index, name) of every named group.
    groups: Vec<(usize, Key)>,
    /// Per group: report it even when it did not take part (a failregex group that
    /// also exists in the prefregex overrides the prefregex value with "none").
    keep_none: Vec<bool>,
    /// `alt_<x>[_N]` groups (group, target) and `tuple_<x>[_N]` groups, sorted.
    alt: Vec<(Key, Key)>,
    tuple: Vec<(Key, Key)>,
    /// Indices of `skiplines0`, `skiplines1`, ...
    skip: Vec<usize>,
    /// (capture index, name) of the `ip4`, `ip6` and `dns` groups, in that order.
    hosts: Vec<(usize, &'static str)>,
    /// Bytes a match can start with (anchored regexes only).
    first: Option<FirstBytes>,
    /// Strings one of which a match begins with (anchored regexes only).
    prefix: Option<Prefixes>,
    /// Literal sets the buffer must hold a member of each of.
    needs: Option<Needs>,
}

/// A regex compiled a second time without UTF and UCP. On a subject that is pure ASCII
/// it matches exactly as the UTF/UCP one does (on ASCII text `\w`, `\d`, `\s`, `\b`,
/// `.`, classes and caseless matching agree in both modes, and a non-ASCII literal of
/// the pattern can match neither way), and PCRE2's JIT runs it up to twice as fast:
/// it need not decode characters. Checked against the UTF regex over the stock
/// filters' sample logs by the compat suite, and class by class by the unit test
/// `ascii_twin_agrees`. The twin runs through its JIT code directly ([`JitRegex`]),
/// without the `pcre2` crate's per-call checks.
enum AsciiTwin {
    /// Not compiled yet.
    Untried,
    /// The pattern does not compile without UTF (e.g. `\x{100}`), or JIT is not
    /// available: always use the UTF one.
    Unavailable,
    Ready(Box<JitRegex>),
}

/// The UTF + UCP regex (Python's `str` semantics).
fn build(pattern: &str, multi_line: bool) -> Result<Regex, pcre2::Error> {
    RegexBuilder::new()
        .utf(true)
        .ucp(true)
        .jit_if_available(true)
        .multi_line(multi_line)
        .max_jit_stack_size(Some(1 << 20))
        .build(pattern)
}

/// `alt_x_1` → ("alt_", "x"); names fail2ban completes from other groups.
fn complement(name: &str) -> Option<(&'static str, String)> {
    if name.len() <= 4 {
        return None;
    }
    let (pre, rest) = if let Some(r) = name.strip_prefix("alt_") {
        ("alt_", r)
    } else if let Some(r) = name.strip_prefix("tuple_") {
        ("tuple_", r)
    } else {
        return None;
    };
    let base = match rest.rfind('_') {
        Some(i) if i + 1 < rest.len() && rest[i + 1..].bytes().all(|b| b.is_ascii_digit()) => {
            &rest[..i]
        }
        _ => rest,
    };
    Some((pre, tags::tag_group_name(base)))
}

impl Compiled {
    /// Expand tags, translate to PCRE2 and compile. `multi_line`: `^`/`$` at line ends.
    pub fn new(regex: &str, with_dns: bool, multi_line: bool) -> Result<Compiled, String> {
        let expanded = tags::expand(regex, with_dns);
        if expanded.trim_start().is_empty() {
            return Err("Cannot add empty regex".into());
        }
        let pattern = format!(
            "(*LIMIT_MATCH={MATCH_LIMIT}){}",
            translate::python_to_pcre2(&expanded)
        );
        let re = build(&pattern, multi_line)
            .map_err(|e| format!("Unable to compile regular expression '{expanded}': {e}"))?;
        let mut groups = Vec::new();
        let mut alt = Vec::new();
        let mut tuple = Vec::new();
        let mut skip = Vec::new();
        for (i, n) in re.capture_names().iter().enumerate() {
            let Some(n) = n else { continue };
            groups.push((i, Key::intern(n)));
            if let Some((pre, target)) = complement(n) {
                let pair = (Key::intern(n), Key::intern(&target));
                if pre == "alt_" {
                    alt.push(pair);
                } else {
                    tuple.push(pair);
                }
            }
            if let Some(num) = n
                .strip_prefix("skiplines")
                .and_then(|d| d.parse::<usize>().ok())
            {
                skip.push((num, i));
            }
        }
        // By name: fail2ban completes them in sorted order.
        alt.sort_by_key(|(k, _)| k.as_str());
        tuple.sort_by_key(|(k, _)| k.as_str());
        skip.sort();
        let names = re.capture_names();
        let hosts = ["ip4", "ip6", "dns"]
            .into_iter()
            .filter_map(|h| {
                names
                    .iter()
                    .position(|n| n.as_deref() == Some(h))
                    .map(|i| (i, h))
            })
            .collect();
        let locs = re.capture_locations();
        let scoped = translate::scope_inline_flags(&expanded);
        let (first, prefix) = if multi_line {
            (None, None)
        } else {
            (first_bytes(&scoped), Prefixes::of(&scoped))
        };
        let needs = Needs::of(&scoped);
        let keep_none = vec![false; groups.len()];
        let fast = crate::prune::guard_repeats(&pattern).unwrap_or_else(|| pattern.clone());
        let prune = Plan::of(&fast).map(|p| Box::new(Pruner::new(p, multi_line)));
        let tail = if multi_line {
            None
        } else {
            let index_of = |n: &str| names.iter().position(|m| m.as_deref() == Some(n));
            TailStub::new(&fast, index_of).map(Box::new)
        };
        Ok(Compiled {
            prune,
            tail,
            last_tail: false,
            last_pruned: false,
            keep_none,
            first,
            prefix,
            needs,
            expanded,
            pattern,
            fast,
            re,
            ov: vec![crate::jit::UNSET; 2 * locs.len()],
            locs,
            ascii: AsciiTwin::Untried,
            last_ascii: false,
            ordered: false,
            multi_line,
            groups,
            alt,
            tuple,
            skip: skip.into_iter().map(|(_, i)| i).collect(),
            hosts,
        })
    }

    pub fn expanded(&self) -> &str {
        &self.expanded
    }

    /// Groups named like one of `names` are reported even when they did not match.
    pub fn keep_none_for(&mut self, names: &[&str]) {
        for (i, (_, n)) in self.groups.iter().enumerate() {
            self.keep_none[i] |= names.iter().any(|m| *m == n.as_str());
        }
    }

    /// Every group is reported, `None` when it did not match (Python's `groupdict`),
    /// and the entries keep a Python dict's order.
    pub fn keep_none_all(&mut self) {
        self.keep_none.iter_mut().for_each(|k| *k = true);
        self.ordered = true;
    }

    pub fn has_prefilter(&self) -> bool {
        self.first.is_some()
    }

    /// The bytes a match can start with, when known (see [`crate::prefilter::Dispatch`]).
    pub fn first_bytes(&self) -> Option<&FirstBytes> {
        self.first.as_ref()
    }

    pub fn has_group(&self, name: &str) -> bool {
        self.groups.iter().any(|(_, n)| n.as_str() == name)
    }

    pub fn group_names(&self) -> impl Iterator<Item = &str> + Clone {
        self.groups.iter().map(|(_, n)| n.as_str())
    }

    /// Search `buf`; the span of the match.
    pub fn search(&mut self, buf: &str) -> Result<Option<(usize, usize)>, String> {
        self.search_ascii(buf, None)
    }

    /// [`Compiled::search`], told whether `buf` is pure ASCII when the caller knows.
    pub fn search_ascii(
        &mut self,
        buf: &str,
        ascii: Option<bool>,
    ) -> Result<Option<(usize, usize)>, String> {
        if let Some(f) = &self.first {
            if !f.accepts(buf.as_bytes()) {
                return Ok(None);
            }
        }
        if let Some(p) = &self.prefix {
            if !p.accepts(buf.as_bytes()) {
                return Ok(None);
            }
        }
        if let Some(n) = &mut self.needs {
            if !n.may_match(buf) {
                return Ok(None);
            }
        }
        let ascii = ascii.unwrap_or_else(|| buf.is_ascii());
        debug_assert_eq!(ascii, buf.is_ascii());
        if ascii && self.ascii_ready() {
            self.last_ascii = true;
            if let Some(p) = &mut self.prune {
                if let Some(r) = p.search(buf.as_bytes()) {
                    self.last_pruned = true;
                    if let Ok(Some(_)) = r {
                        let src = p.ovector();
                        let n = src.len().min(self.ov.len());
                        self.ov[..n].copy_from_slice(&src[..n]);
                    }
                    return r;
                }
            }
            self.last_pruned = false;
            if let Some(t) = &mut self.tail {
                if let Some(r) = t.search(buf.as_bytes()) {
                    self.last_tail = true;
                    if let Ok(Some(_)) = r {
                        t.copy_ovector(&mut self.ov);
                    }
                    return r;
                }
            }
            self.last_tail = false;
            if let AsciiTwin::Ready(re) = &mut self.ascii {
                let r = re.search(buf.as_bytes());
                if let Ok(Some(_)) = r {
                    let src = re.ovector();
                    let n = src.len().min(self.ov.len());
                    self.ov[..n].copy_from_slice(&src[..n]);
                }
                return r;
            }
        }
        self.last_ascii = false;
        match self.re.captures_read(&mut self.locs, buf.as_bytes()) {
            Ok(Some(m)) => {
                for (i, pair) in self.ov.chunks_exact_mut(2).enumerate() {
                    let (s, e) = self
                        .locs
                        .get(i)
                        .unwrap_or((crate::jit::UNSET, crate::jit::UNSET));
                    pair[0] = s;
                    pair[1] = e;
                }
                Ok(Some((m.start(), m.end())))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Whether the ASCII twin can be used (compiled on first call).
    fn ascii_ready(&mut self) -> bool {
        if let AsciiTwin::Untried = self.ascii {
            self.ascii = match JitRegex::new(&self.fast, self.multi_line) {
                Some(re) => AsciiTwin::Ready(Box::new(re)),
                None => AsciiTwin::Unavailable,
            };
        }
        matches!(self.ascii, AsciiTwin::Ready(_))
    }

    /// Span of group `i` in the last match.
    #[inline]
    fn span(&self, i: usize) -> Option<(usize, usize)> {
        let s = *self.ov.get(2 * i)?;
        (s != crate::jit::UNSET).then(|| (s, self.ov[2 * i + 1]))
    }

    /// The first host group (`ip4`, `ip6`, `dns`, in that order) that took part in the
    /// last match, and its span.
    pub fn host_span(&self) -> Option<(&'static str, (usize, usize))> {
        self.hosts
            .iter()
            .find_map(|&(i, name)| self.span(i).map(|s| (name, s)))
    }

    /// Byte span of a named group of the last match.
    pub fn group_span(&self, name: &str) -> Option<(usize, usize)> {
        let (i, _) = self.groups.iter().find(|(_, n)| n.as_str() == name)?;
        self.span(*i)
    }

    /// The number of named group `name` (for [`Compiled::group_span_at`]).
    pub fn group_index(&self, name: &str) -> Option<usize> {
        self.groups
            .iter()
            .find(|(_, n)| n.as_str() == name)
            .map(|(i, _)| *i)
    }

    /// [`Compiled::group_span`] of a group number from [`Compiled::group_index`]:
    /// no search by name on every line.
    pub fn group_span_at(&self, i: usize) -> Option<(usize, usize)> {
        self.span(i)
    }

    /// All named groups of the last match (None for those that did not take part),
    /// with `alt_` and `tuple_` groups folded in; texts are spans of `buf`.
    #[cfg(test)]
    pub fn groups(&self, buf: &str) -> Fail {
        let mut f = Fail::new();
        self.groups_into(buf, None, false, &mut f);
        f
    }

    /// [`Compiled::groups`] into `f` (cleared first, its allocation reused), without
    /// the group `skip` (the prefregex's `content`, which is not ticket data). Texts
    /// are [`Val::At`] spans of `buf`, marked `pref` for the prefregex's buffer.
    pub fn groups_into(&self, buf: &str, skip: Option<Key>, pref: bool, f: &mut Fail) {
        f.clear();
        f.1 = self.ordered;
        for (gi, (i, n)) in self.groups.iter().enumerate() {
            if Some(*n) == skip {
                continue;
            }
            match self.span(*i).filter(|&(s, e)| buf.get(s..e).is_some()) {
                // Names are unique within one regex: push without a lookup.
                Some((s, e)) => f.push_new(
                    *n,
                    Val::At {
                        pref,
                        s: s as u32,
                        e: e as u32,
                    },
                ),
                None if self.keep_none[gi] => f.push_new(*n, Val::None),
                None => {}
            }
        }
        for (k, n) in &self.alt {
            let v = f.get(*k).cloned().unwrap_or(Val::None);
            if v.truthy() && !f.truthy(*n) {
                f.insert(*n, v);
            }
        }
        // Tuples are built of strings (rare: no filter of the package has one).
        let text = |v: &Val| v.text(buf, buf).map(str::to_string);
        for (k, n) in &self.tuple {
            let v = f.get(*k).and_then(text);
            // Replaced in place: the key keeps its position (a Python dict's order).
            let t = match f.get_mut(*n).map(|v| std::mem::replace(v, Val::None)) {
                Some(Val::Tuple(mut t)) => {
                    t.push(v);
                    t
                }
                Some(old @ (Val::Str(_) | Val::At { .. })) => vec![text(&old), v],
                _ => vec![None, v],
            };
            f.insert(*n, Val::Tuple(t));
        }
    }

    /// Whether the groups of a match are completed from others (`alt_`, `tuple_`).
    pub fn completes_groups(&self) -> bool {
        !self.alt.is_empty() || !self.tuple.is_empty()
    }

    /// The groups of the last match written over `f` (the prefregex's groups): what
    /// [`Compiled::groups_into`] followed by [`Fail::extend_from`] gives, for a regex
    /// without `alt_`/`tuple_` groups (see [`Compiled::completes_groups`]).
    pub fn groups_onto(&self, buf: &str, f: &mut Fail) {
        debug_assert!(!self.completes_groups());
        f.1 |= self.ordered;
        for (gi, (i, n)) in self.groups.iter().enumerate() {
            match self.span(*i).filter(|&(s, e)| buf.get(s..e).is_some()) {
                Some((s, e)) => f.insert(
                    *n,
                    Val::At {
                        pref: false,
                        s: s as u32,
                        e: e as u32,
                    },
                ),
                None if self.keep_none[gi] => f.insert(*n, Val::None),
                None => {}
            }
        }
    }

    /// Lines the `<SKIPLINES>` groups of the last match skipped over.
    pub fn skipped_lines(&self, buf: &str) -> Vec<String> {
        if self.skip.is_empty() {
            return Vec::new();
        }
        let mut all = String::new();
        for &i in &self.skip {
            if let Some(t) = self.span(i).and_then(|(s, e)| buf.get(s..e)) {
                all.push_str(t);
            }
        }
        all.lines().map(str::to_string).collect()
    }
}

/// Split the buffered lines into those the match covered and the rest (fail2ban's
/// matched/unmatched tuple lines), by counting newlines of `buf` around `span`.
pub(crate) fn split_lines<'o>(
    buf: &str,
    org: &'o [TupleLine],
    span: (usize, usize),
    skipped: &[String],
) -> (Cow<'o, [TupleLine]>, Vec<TupleLine>) {
    if org.len() <= 1 {
        return (Cow::Borrowed(org), Vec::new());
    }
    let b = buf.as_bytes();
    let (s, e) = span;
    let head = &b[..(s + 1).min(b.len())];
    let line_start = memchr::memrchr(b'\n', head).map_or(0, |i| i + 1);
    let from = if e == 0 {
        b.len().saturating_sub(1)
    } else {
        e - 1
    };
    let line_end = memchr::memchr(b'\n', &b[from.min(b.len())..]).map_or(b.len(), |i| from + i + 1);
    let lc1 = memchr::memchr_iter(b'\n', &b[..line_start])
        .count()
        .min(org.len());
    let lc2 = memchr::memchr_iter(b'\n', &b[..line_end.min(b.len())])
        .count()
        .min(org.len())
        .max(lc1);
    let mut matched: Vec<TupleLine> = org[lc1..lc2].to_vec();
    let mut unmatched: Vec<TupleLine> = org[..lc1].to_vec();
    let mut n = 0;
    for sk in skipped {
        if let Some(m) = matched[n.min(matched.len())..]
            .iter()
            .position(|l| l.content_eq(sk))
        {
            unmatched.push(matched.remove(n + m));
            n += m;
        }
    }
    unmatched.extend_from_slice(&org[lc2..]);
    (Cow::Owned(matched), unmatched)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alt_and_tuple_names() {
        assert_eq!(complement("alt_user"), Some(("alt_", "user".to_string())));
        assert_eq!(complement("alt_user_1"), Some(("alt_", "user".to_string())));
        assert_eq!(
            complement("tuple_id_2"),
            Some(("tuple_", "fid".to_string()))
        );
        assert_eq!(complement("user"), None);
    }

    #[test]
    fn alt_fills_empty_user() {
        let mut c = Compiled::new(
            "(?:user <F-USER>\\w+</F-USER>|alt <F-ALT_USER>\\w+</F-ALT_USER>) from <ADDR>",
            false,
            false,
        )
        .unwrap();
        let buf = "alt bob from 192.0.2.1\n";
        assert!(c.search(buf).unwrap().is_some());
        let g = c.groups(buf);
        let get = |k: &str| g.text(Key::intern(k), buf, buf);
        assert_eq!(get("user"), Some("bob"));
        assert_eq!(get("alt_user"), Some("bob"));
        assert_eq!(get("ip4"), Some("192.0.2.1"));
        // Groups that did not take part are left out.
        assert_eq!(g.get(Key::intern("ip6")), None);
    }

    /// The ASCII twin finds the same matches and captures as the UTF/UCP regex on
    /// every ASCII character, for the constructs fail2ban's regexes use.
    #[test]
    fn ascii_twin_agrees() {
        let patterns = [
            r"^(?P<a>\w+)\s+(?P<b>\S+)$",
            r"(?P<a>\d+)\b(?P<b>\D)",
            r"(?i)(?P<a>[k-s]+)(?P<b>.)",
            r"(?P<a>[^é\s]+)(?P<b>[\\w.:-]?)",
            r"(?<=\W)(?P<a>\w)(?=\s|$)",
            r"(?P<a>[A-Za-z]+|[0-9]+)(?P<b>[\s\x0c]|\n)?",
            r"^(?P<a>(?:(?!x).)*?)(?P<b>\x7f|\x1c|\t|\x0b)",
            r"(?P<a>é|\w)\B(?P<b>\W*)",
        ];
        for p in patterns {
            let mut c = Compiled::new(p, false, false).unwrap();
            for ch in 0u8..128 {
                for subj in [
                    format!("ab{}12 x{}y\n", ch as char, ch as char),
                    format!("{}K  s_9{}", ch as char, ch as char),
                ] {
                    let a = c.search(&subj).unwrap();
                    assert!(c.last_ascii, "{p}: ASCII twin not used");
                    let ga: Vec<_> = (0..c.locs.len()).map(|i| c.span(i)).collect();
                    let b =
                        c.re.captures_read(&mut c.locs, subj.as_bytes())
                            .unwrap()
                            .map(|m| (m.start(), m.end()));
                    let gb: Vec<_> = (0..c.locs.len()).map(|i| c.locs.get(i)).collect();
                    assert_eq!(a, b, "{p} on {subj:?}");
                    if a.is_some() {
                        assert_eq!(ga, gb, "{p} on {subj:?}");
                    }
                }
            }
        }
        // A pattern that needs UTF falls back to the UTF regex.
        let mut c = Compiled::new(r"\x{100}|(?P<fid>a)", false, false).unwrap();
        assert_eq!(c.search("xa").unwrap(), Some((1, 2)));
        assert!(!c.last_ascii);
        // Non-ASCII subjects always use the UTF regex.
        let mut c = Compiled::new(r"(?P<fid>\w+)$", false, false).unwrap();
        assert_eq!(c.search("añb").unwrap(), Some((0, 4)));
        assert!(!c.last_ascii);
    }

    /// Every stock filter's regexes, searched with all the shortcuts (first bytes,
    /// prefixes, literal sets, the ASCII twin through its JIT code) and without any
    /// (the UTF regex through the `pcre2` crate): the same match and the same groups
    /// on the filter's sample log and on the hostile corpus, whole lines and the text
    /// after the first `: ` (where anchored failregexes begin).
    #[test]
    fn shortcuts_agree_with_plain_pcre2() {
        let Some((confdir, logs)) = crate::stock::reference() else {
            return;
        };
        let corpus = crate::stock::hostile_corpus();
        let names = crate::stock::filter_names(confdir);
        let (mut searches, mut matches) = (0usize, 0usize);
        for name in names {
            let Ok(def) = bailiff_config::read_filter(confdir, &name, &[]) else {
                continue;
            };
            let subjects = crate::stock::subjects(logs, &name, &corpus);
            let regexes = crate::stock::regexes(&def);
            for r in regexes {
                let Ok(mut c) = Compiled::new(r, true, false) else {
                    continue;
                };
                let plain = build(&c.pattern, false).unwrap();
                let mut locs = plain.capture_locations();
                for subj in &subjects {
                    searches += 1;
                    let a = c.search(subj);
                    let b = plain
                        .captures_read(&mut locs, subj.as_bytes())
                        .map(|m| m.map(|m| (m.start(), m.end())))
                        .map_err(|e| e.to_string());
                    assert_eq!(a, b, "{name}: {r} on {subj:?}");
                    if a.as_ref().is_ok_and(Option::is_some) {
                        matches += 1;
                        for i in 0..locs.len() {
                            assert_eq!(
                                c.span(i),
                                locs.get(i),
                                "{name}: {r} on {subj:?}, group {i}"
                            );
                        }
                    }
                }
            }
        }
        assert!(
            searches > 20_000 && matches > 1_000,
            "{searches} searches, {matches} matches"
        );
    }

    /// Every pruned variant (module `prune`) of every stock filter's regexes against
    /// the full regex (UTF, through the `pcre2` crate): the same match and the same
    /// groups on each buffer the variant is meant for, i.e. one lacking the literals
    /// of the keys whose cuts it makes. Buffers: the filter's sample log and the
    /// hostile corpus (whole lines and the text after the first `: `), and each of
    /// them with every key's literals taken out (so that the cuts apply to lines that
    /// would match otherwise). Variants tried per buffer: every key absent from it on
    /// its own, and all of them together. Both the plans the filter uses and the
    /// plans with every cut the analysis can justify ([`Plan::every`]).
    #[test]
    fn pruned_variants_agree_with_plain_pcre2() {
        let Some((confdir, logs)) = crate::stock::reference() else {
            return;
        };
        let corpus = crate::stock::hostile_corpus();
        let (mut plans, mut searches, mut pruned_matches) = (0usize, 0usize, 0usize);
        let mut sshd_failed = false;
        for (name, def) in crate::stock::definitions(confdir) {
            let subjects = crate::stock::subjects(logs, &name, &corpus);
            let regexes = crate::stock::regexes(&def);
            let regexes = regexes.flat_map(|r| {
                let c = Compiled::new(r, true, false).ok()?;
                if r.starts_with("^Failed (?:<F-NOFAIL>publickey</F-NOFAIL>|\\S+) for")
                    && c.prune.as_ref().is_some_and(|p| {
                        p.plan()
                            .variant(u32::MAX)
                            .contains("(*FAIL)(?P<cond_user>)")
                    })
                {
                    sshd_failed = true;
                }
                Some(
                    [
                        c.prune.as_ref().map(|p| p.plan().clone()),
                        Plan::every(&c.pattern),
                    ]
                    .into_iter()
                    .flatten()
                    .map(move |p| (r, c.pattern.clone(), p)),
                )
            });
            for (r, pattern, plan) in regexes.flatten().collect::<Vec<_>>() {
                plans += 1;
                let keys = plan.keys().to_vec();
                let plain = build(&pattern, false).unwrap();
                let mut locs = plain.capture_locations();
                let mut variants: std::collections::HashMap<u32, JitRegex> = Default::default();
                // Each subject, and each with the literals of one key (or all) cut out.
                let strip = |s: &str, sets: &[&Vec<String>]| {
                    let mut s = s.to_string();
                    while let Some(l) = sets
                        .iter()
                        .flat_map(|set| set.iter())
                        .find(|l| s.contains(l.as_str()))
                    {
                        s = s.replacen(l.as_str(), "", 1);
                    }
                    s
                };
                let mut all: Vec<String> = Vec::new();
                for subj in &subjects {
                    all.push(subj.clone());
                    for set in keys.iter().filter(|s| !s.is_empty()) {
                        all.push(strip(subj, &[set]));
                    }
                    all.push(strip(subj, &keys.iter().collect::<Vec<_>>()));
                }
                all.sort();
                all.dedup();
                for subj in &all {
                    let absent: u32 = keys
                        .iter()
                        .enumerate()
                        .filter(|(_, set)| {
                            !set.is_empty() && set.iter().all(|l| !subj.contains(l.as_str()))
                        })
                        .map(|(k, _)| 1u32 << k)
                        .sum();
                    if absent == 0 {
                        continue;
                    }
                    let want = plain
                        .captures_read(&mut locs, subj.as_bytes())
                        .map(|m| m.map(|m| (m.start(), m.end())))
                        .map_err(|e| e.to_string());
                    let masks = (0..keys.len())
                        .map(|k| 1u32 << k)
                        .filter(|m| absent & m != 0)
                        .chain(std::iter::once(absent));
                    for mask in masks {
                        let re = variants.entry(mask).or_insert_with(|| {
                            let v = plan.variant(mask);
                            JitRegex::new(&v, false)
                                .unwrap_or_else(|| panic!("{name}: variant {v} does not compile"))
                        });
                        searches += 1;
                        let got = re.search(subj.as_bytes());
                        if subj.is_ascii() {
                            assert_eq!(
                                got,
                                want,
                                "{name}: {r} on {subj:?}, variant {}",
                                plan.variant(mask)
                            );
                        }
                        if subj.is_ascii() && got.as_ref().is_ok_and(Option::is_some) {
                            pruned_matches += 1;
                            for i in 0..locs.len() {
                                assert_eq!(
                                    re.get(i),
                                    locs.get(i),
                                    "{name}: {r} on {subj:?}, group {i}, variant {}",
                                    plan.variant(mask)
                                );
                            }
                        }
                    }
                }
            }
        }
        eprintln!(
            "{plans} regexes with cuts, {searches} variant searches, {pruned_matches} matches"
        );
        assert!(sshd_failed, "sshd's Failed regex is no longer pruned");
        assert!(plans > 20 && searches > 5_000 && pruned_matches > 500);
    }

    /// The tail stub (module `prune`): the same match and groups as the full regex,
    /// also where the tail is empty, where an earlier piece took the final newline,
    /// without a final newline, and (falling back to the full regex) with a newline
    /// inside the buffer. sshd's prefregex gets a stub.
    #[test]
    fn tail_stub_agrees() {
        let patterns = [
            r"^a\s*(?P<c>.*)$",
            r"^(?P<x>\S+)\s+(?P<content>.+)$",
            r"^x.+$",
            r"^(?:a|ab)(?P<t>.+)$",
            r"^(?P<h>a+)?(?:b|(?P<k>c))?(?P<content>.*)$",
            r"(?P<w>\w)(?P<content>.+)$",
        ];
        let subjects = [
            "a\n", "a", "ab\n", "ab", "abc\n", "a \n", "a  x\n", "\n", "", "a\nb\n", "x\n", "xy\n",
            "xy", "aac\n", "aacz", "c\n", " b\n", "--a\n",
        ];
        let mut stubbed = 0;
        for p in patterns {
            let mut c = Compiled::new(p, false, false).unwrap();
            assert!(c.tail.is_some(), "{p}: no tail stub");
            let plain = build(&c.pattern, false).unwrap();
            let mut locs = plain.capture_locations();
            for subj in subjects {
                let a = c.search(subj);
                stubbed += usize::from(c.last_tail);
                let b = plain
                    .captures_read(&mut locs, subj.as_bytes())
                    .map(|m| m.map(|m| (m.start(), m.end())))
                    .map_err(|e| e.to_string());
                assert_eq!(a, b, "{p} on {subj:?}");
                if a.as_ref().is_ok_and(Option::is_some) {
                    for i in 0..locs.len() {
                        assert_eq!(c.span(i), locs.get(i), "{p} on {subj:?}, group {i}");
                    }
                }
            }
        }
        assert!(stubbed > 50, "{stubbed}");
        // Not for MULTILINE, a top-level alternative, other tails.
        for (p, multi) in [
            (r"^(?P<content>.+)$", true),
            (r"^a|(?P<content>.+)$", false),
            (r"^(?P<content>.+?)$", false),
            (r"^(?P<content>\S+)$", false),
            (r"^a\.+$", false),
        ] {
            assert!(
                Compiled::new(p, false, multi).unwrap().tail.is_none(),
                "{p}"
            );
        }
        let confdir = std::path::Path::new("/etc/fail2ban");
        if let Ok(def) = bailiff_config::read_filter(confdir, "sshd", &[]) {
            let c = Compiled::new(def.prefregex.as_deref().unwrap(), true, false).unwrap();
            assert!(c.tail.is_some(), "sshd's prefregex has no tail stub");
        }
    }

    #[test]
    fn match_limit_stops_catastrophic_backtracking() {
        let mut c = Compiled::new(r"^(\w+\w+)+$", false, false).unwrap();
        let hostile = format!("{}!\n", "x".repeat(5000));
        let t = std::time::Instant::now();
        let r = c.search(&hostile);
        assert!(r.is_err(), "expected a match-limit error, got {r:?}");
        assert!(t.elapsed().as_secs() < 5);
        // The regex still works on the next line.
        assert!(c.search("xxy\n").unwrap().is_some());
    }
}
