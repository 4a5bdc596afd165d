//! Failure counting per id: `findtime`, `maxretry`, `maxmatches`.
//!
//! fail2ban does not keep a sliding window of timestamps. Each id has one entry with
//! a retry count, the time of its last failure and the start of its interval. When a
//! new failure lies more than `findtime` after the interval's start, the count is
//! rescaled to the rate seen so far: `retry = round(retry / (now - first) * findtime)`
//! and the interval restarts at `now - findtime`. Entries whose last failure is older
//! than `findtime` are purged by [`FailManager::cleanup`].

use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;

use crate::id::FailId;
use crate::ticket::{Ticket, TicketData, Time};

/// The compact per-id state. Ids live in a dense vector of slots; a hash table of
/// 4-byte slot numbers indexes them (keyed with SipHash and a random key, since ids
/// are chosen by attackers). 72 bytes per slot, about 83 per id with the index, plus
/// kept matches.
#[derive(Debug)]
struct Slot {
    id: FailId,
    first: Time,
    last: Time,
    retry: u32,
    failures: u32,
    /// Kept matched lines, each length-prefixed, in one allocation.
    matches: MatchBuf,
    /// Captured data and a known ban count: rare, so kept out of line.
    extra: Option<Box<SlotExtra>>,
}

#[derive(Debug, Default, Clone)]
struct SlotExtra {
    data: TicketData,
    ban_count: u32,
}

impl Slot {
    fn ban_count(&self) -> u32 {
        self.extra.as_ref().map_or(0, |x| x.ban_count)
    }
    fn data(&self) -> TicketData {
        self.extra
            .as_ref()
            .map(|x| x.data.clone())
            .unwrap_or_default()
    }
}

/// Matched lines packed as `[u32 length][bytes]...` in one boxed buffer.
#[derive(Debug, Default)]
struct MatchBuf(Option<Box<[u8]>>);

impl MatchBuf {
    fn lines(&self) -> impl Iterator<Item = &[u8]> {
        let mut rest: &[u8] = self.0.as_deref().unwrap_or(&[]);
        std::iter::from_fn(move || {
            let (len, tail) = rest.split_first_chunk::<4>()?;
            let len = u32::from_le_bytes(*len) as usize;
            let line = tail.get(..len)?;
            rest = &tail[len..];
            Some(line)
        })
    }

    fn count(&self) -> usize {
        self.lines().count()
    }

    /// Appends `new` lines and keeps the last `max`.
    fn extend(&mut self, new: &[String], max: usize) {
        if new.is_empty() {
            return;
        }
        let total = self.count() + new.len();
        let skip = total.saturating_sub(max);
        let mut buf = Vec::new();
        let old: Vec<&[u8]> = self.lines().collect();
        for line in old
            .into_iter()
            .chain(new.iter().map(|s| s.as_bytes()))
            .skip(skip)
        {
            let len = u32::try_from(line.len()).unwrap_or(u32::MAX);
            buf.extend_from_slice(&len.to_le_bytes());
            buf.extend_from_slice(&line[..len as usize]);
        }
        self.0 = (!buf.is_empty()).then(|| buf.into_boxed_slice());
    }

    fn to_vec(&self) -> Vec<String> {
        self.lines()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect()
    }
}

/// Ids in a dense vector with a hash index.
#[derive(Debug)]
struct Table {
    slots: Vec<Slot>,
    index: HashTable<u32>,
    hasher: RandomState,
}

impl Table {
    fn new() -> Table {
        Table {
            slots: Vec::new(),
            index: HashTable::new(),
            hasher: RandomState::new(),
        }
    }

    fn hash(&self, id: &FailId) -> u64 {
        self.hasher.hash_one(id)
    }

    fn find(&self, id: &FailId) -> Option<usize> {
        let slots = &self.slots;
        self.index
            .find(self.hash(id), |&i| slots[i as usize].id == *id)
            .map(|&i| i as usize)
    }

    fn insert(&mut self, slot: Slot) {
        let h = self.hash(&slot.id);
        let i = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
        self.slots.push(slot);
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index
            .insert_unique(h, i, |&j| hasher.hash_one(&slots[j as usize].id));
    }

    fn remove_at(&mut self, i: usize) -> Slot {
        let h = self.hash(&self.slots[i].id);
        if let Ok(e) = self.index.find_entry(h, |&j| j as usize == i) {
            e.remove();
        }
        let last = self.slots.len() - 1;
        let slot = self.slots.swap_remove(i);
        if i != last {
            // The last slot moved into `i`: point its index entry there.
            let hm = self.hash(&self.slots[i].id);
            if let Some(e) = self.index.find_mut(hm, |&j| j as usize == last) {
                *e = i as u32;
            }
        }
        slot
    }

    fn retain(&mut self, keep: impl Fn(&Slot) -> bool) {
        let doomed: Vec<usize> = (0..self.slots.len())
            .filter(|&i| !keep(&self.slots[i]))
            .collect();
        if doomed.is_empty() {
            return;
        }
        if doomed.len() * 4 <= self.slots.len() {
            for &i in doomed.iter().rev() {
                self.remove_at(i);
            }
        } else {
            self.slots.retain(keep);
            self.rebuild();
        }
        if self.slots.capacity() > 1024 && self.slots.len() < self.slots.capacity() / 4 {
            self.slots.shrink_to_fit();
            self.rebuild();
        }
    }

    fn rebuild(&mut self) {
        let mut index = HashTable::with_capacity(self.slots.len());
        let hasher = &self.hasher;
        for (i, s) in self.slots.iter().enumerate() {
            let h = hasher.hash_one(&s.id);
            index.insert_unique(h, i as u32, |&j| {
                hasher.hash_one(&self.slots[j as usize].id)
            });
        }
        self.index = index;
    }
}

/// Who adds a failure: the filter (a line matched), or the observer (raising the
/// retry count of a known bad id when `bantime.increment` is on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddMode {
    Filter,
    /// `same_ticket`: this failure is the one that created the entry (fail2ban then
    /// adds no matches a second time).
    Observer {
        same_ticket: bool,
    },
}

/// Result of [`FailManager::add_failure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Added {
    /// The id's retry count after the addition (compare with `maxretry`).
    pub retry: u32,
    /// The entry was created by this failure.
    pub created: bool,
}

/// Counts failures per id.
#[derive(Debug)]
pub struct FailManager {
    list: Table,
    max_retry: u32,
    find_time: f64,
    max_matches: usize,
    fail_total: u64,
}

fn python_round(x: f64) -> f64 {
    x.round_ties_even()
}

impl FailManager {
    pub fn new(max_retry: u32, find_time: f64, max_matches: usize) -> FailManager {
        FailManager {
            list: Table::new(),
            max_retry,
            find_time,
            max_matches,
            fail_total: 0,
        }
    }

    pub fn max_retry(&self) -> u32 {
        self.max_retry
    }
    pub fn set_max_retry(&mut self, v: u32) {
        self.max_retry = v;
    }
    pub fn find_time(&self) -> f64 {
        self.find_time
    }
    pub fn set_find_time(&mut self, v: f64) {
        self.find_time = v;
    }
    pub fn max_matches(&self) -> usize {
        self.max_matches
    }
    pub fn set_max_matches(&mut self, v: usize) {
        self.max_matches = v;
    }

    /// "Total failed" in `status`.
    pub fn fail_total(&self) -> u64 {
        self.fail_total
    }
    pub fn set_fail_total(&mut self, v: u64) {
        self.fail_total = v;
    }

    /// "Currently failed" in `status`: ids being counted.
    pub fn size(&self) -> usize {
        self.list.slots.len()
    }

    /// (ids, sum of their retry counts).
    pub fn fail_count(&self) -> (usize, u64) {
        (
            self.list.slots.len(),
            self.list.slots.iter().map(|e| u64::from(e.retry)).sum(),
        )
    }

    /// The id's current retry count, if it is being counted.
    pub fn retry_of(&self, id: &FailId) -> Option<u32> {
        self.list.find(id).map(|i| self.list.slots[i].retry)
    }

    /// Adds `count` to the retry count of `ticket.id` (creating the entry if needed) and
    /// one failure. Returns `None` when an observer addition finds no entry (the id was
    /// banned or purged meanwhile): nothing is added then, as in fail2ban.
    pub fn add_failure(&mut self, ticket: &Ticket, count: u32, mode: AddMode) -> Option<Added> {
        let max_matches = self.max_matches;
        let find_time = self.find_time;
        let result = match self.list.find(&ticket.id) {
            Some(i) => {
                let e = &mut self.list.slots[i];
                let (matches, attempt): (&[String], u32) = match mode {
                    AddMode::Observer { same_ticket: true } => (&[], 1),
                    _ => (&ticket.matches, ticket.failures.max(1)),
                };
                // Rescale the count when the failures span more than findtime.
                if ticket.time > e.last {
                    if e.first < ticket.time - find_time {
                        let span = ticket.time - e.first;
                        let scaled = python_round(f64::from(e.retry) / span * find_time);
                        e.retry = if scaled.is_finite() && scaled > 0.0 {
                            scaled.min(f64::from(u32::MAX)) as u32
                        } else {
                            0
                        };
                        e.first = ticket.time - find_time;
                    }
                    e.last = ticket.time;
                }
                e.retry = e.retry.saturating_add(count);
                e.failures = e.failures.saturating_add(attempt);
                if max_matches > 0 {
                    e.matches.extend(matches, max_matches);
                } else {
                    e.matches = MatchBuf::default();
                }
                Added {
                    retry: e.retry,
                    created: false,
                }
            }
            None => {
                if matches!(mode, AddMode::Observer { .. }) {
                    return None;
                }
                let mut retry = ticket.failures;
                let mut failures = ticket.failures;
                if count > ticket.failures {
                    retry = count;
                    if failures == 0 {
                        failures = 1;
                    }
                }
                let mut matches = MatchBuf::default();
                if max_matches > 0 {
                    matches.extend(&ticket.matches, max_matches);
                }
                self.list.insert(Slot {
                    id: ticket.id.clone(),
                    first: ticket.first_time.min(ticket.time),
                    last: ticket.time,
                    retry,
                    failures,
                    matches,
                    extra: (!ticket.data.is_empty() || ticket.ban_count > 0).then(|| {
                        Box::new(SlotExtra {
                            data: ticket.data.clone(),
                            ban_count: ticket.ban_count,
                        })
                    }),
                });
                Added {
                    retry,
                    created: true,
                }
            }
        };
        self.fail_total += 1;
        Some(result)
    }

    /// Records the id's known ban count on its entry (observer).
    pub fn set_ban_count(&mut self, id: &FailId, count: u32) {
        if let Some(i) = self.list.find(id) {
            let e = &mut self.list.slots[i];
            if count > e.ban_count() {
                e.extra.get_or_insert_with(Box::default).ban_count = count;
            }
        }
    }

    /// Drops ids whose last failure is at or before `now - findtime`.
    pub fn cleanup(&mut self, now: Time) {
        let limit = now - self.find_time;
        self.list.retain(|e| e.last > limit);
    }

    /// Forgets an id.
    pub fn del_failure(&mut self, id: &FailId) {
        if let Some(i) = self.list.find(id) {
            self.list.remove_at(i);
        }
    }

    /// Takes out a ticket whose retry count reached `maxretry`: `id`'s own if given and
    /// counted, otherwise any.
    pub fn to_ban(&mut self, id: Option<&FailId>) -> Option<Ticket> {
        let max = self.max_retry;
        let i = match id.and_then(|id| self.list.find(id)) {
            Some(i) => (self.list.slots[i].retry >= max).then_some(i),
            None => self.list.slots.iter().position(|e| e.retry >= max),
        }?;
        Some(slot_to_ticket(self.list.remove_at(i)))
    }

    /// A copy of the id's ticket, if counted.
    pub fn get(&self, id: &FailId) -> Option<Ticket> {
        let e = &self.list.slots[self.list.find(id)?];
        Some(Ticket {
            id: e.id.clone(),
            time: e.last,
            first_time: e.first,
            retry: e.retry,
            failures: e.failures,
            matches: e.matches.to_vec(),
            data: e.data(),
            ban_time: None,
            ban_count: e.ban_count(),
            restored: false,
        })
    }
}

fn slot_to_ticket(e: Slot) -> Ticket {
    let ban_count = e.ban_count();
    Ticket {
        matches: e.matches.to_vec(),
        id: e.id,
        time: e.last,
        first_time: e.first,
        retry: e.retry,
        failures: e.failures,
        ban_count,
        data: e.extra.map(|x| x.data).unwrap_or_default(),
        ban_time: None,
        restored: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> FailId {
        FailId::parse(s)
    }

    /// Table: a sequence of failure times for one id, findtime, maxretry, and the retry
    /// count expected after each failure (computed by hand from the rescaling rule).
    #[test]
    fn rescaling_table() {
        struct Case {
            name: &'static str,
            findtime: f64,
            times: &'static [f64],
            want: &'static [u32],
        }
        let cases = [
            Case {
                name: "all inside findtime",
                findtime: 600.0,
                times: &[0.0, 10.0, 20.0, 30.0],
                want: &[1, 2, 3, 4],
            },
            Case {
                // at 1000: 2 failures over 1000 s, scaled to 600 s: round(1.2) = 1, then +1
                name: "span longer than findtime rescales",
                findtime: 600.0,
                times: &[0.0, 500.0, 1000.0],
                want: &[1, 2, 2],
            },
            Case {
                // at 700: round(3/700*600)=round(2.571)=3, +1 = 4
                name: "fast attacker keeps its rate",
                findtime: 600.0,
                times: &[0.0, 1.0, 2.0, 700.0],
                want: &[1, 2, 3, 4],
            },
            Case {
                // at 400: round(1/400*100)=round(0.25)=0 +1 = 1
                name: "slow attacker decays",
                findtime: 100.0,
                times: &[0.0, 400.0, 410.0],
                want: &[1, 1, 2],
            },
            Case {
                // round(2.5) is 2 in Python (ties to even): 5 failures, span 200, findtime 100
                name: "ties round to even",
                findtime: 100.0,
                times: &[0.0, 1.0, 2.0, 3.0, 4.0, 200.0],
                want: &[1, 2, 3, 4, 5, 3],
            },
            Case {
                name: "older failure does not move the interval",
                findtime: 600.0,
                times: &[100.0, 50.0, 60.0],
                want: &[1, 2, 3],
            },
        ];
        for c in cases {
            let mut fm = FailManager::new(1000, c.findtime, 5);
            for (t, want) in c.times.iter().zip(c.want) {
                let added = fm
                    .add_failure(&Ticket::new(id("192.0.2.1"), *t), 1, AddMode::Filter)
                    .expect("filter add");
                assert_eq!(added.retry, *want, "{}: at t={t}", c.name);
            }
            assert_eq!(fm.fail_total(), c.times.len() as u64, "{}", c.name);
        }
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn slots_stay_compact() {
        assert_eq!(std::mem::size_of::<Slot>(), 72);
    }

    #[test]
    fn maxmatches_keeps_the_last() {
        let mut fm = FailManager::new(10, 600.0, 2);
        for (i, line) in ["a", "b", "c"].iter().enumerate() {
            let t = Ticket::new(id("192.0.2.9"), i as f64).with_matches([*line]);
            fm.add_failure(&t, 1, AddMode::Filter);
        }
        let t = fm.get(&id("192.0.2.9")).expect("entry");
        assert_eq!(t.matches, vec!["b".to_string(), "c".to_string()]);
        assert_eq!(t.failures, 3);

        let mut none = FailManager::new(10, 600.0, 0);
        let t = Ticket::new(id("192.0.2.9"), 0.0).with_matches(["x"]);
        none.add_failure(&t, 1, AddMode::Filter);
        none.add_failure(&t, 1, AddMode::Filter);
        assert!(none.get(&id("192.0.2.9")).unwrap().matches.is_empty());
    }

    #[test]
    fn to_ban_and_cleanup() {
        let mut fm = FailManager::new(3, 600.0, 5);
        for t in [0.0, 1.0] {
            fm.add_failure(&Ticket::new(id("10.0.0.1"), t), 1, AddMode::Filter);
            fm.add_failure(&Ticket::new(id("10.0.0.2"), t), 1, AddMode::Filter);
        }
        assert!(fm.to_ban(Some(&id("10.0.0.1"))).is_none());
        fm.add_failure(&Ticket::new(id("10.0.0.1"), 2.0), 1, AddMode::Filter);
        let t = fm.to_ban(Some(&id("10.0.0.1"))).expect("ban");
        assert_eq!(
            (t.retry, t.failures, t.time, t.first_time),
            (3, 3, 2.0, 0.0)
        );
        assert_eq!(fm.size(), 1);
        assert_eq!(fm.fail_total(), 5);
        // last failure of 10.0.0.2 at 1: purged when now - 600 >= 1
        fm.cleanup(600.0);
        assert_eq!(fm.size(), 1);
        fm.cleanup(601.0);
        assert_eq!(fm.size(), 0);
    }

    #[test]
    fn observer_adds_only_to_known_entries() {
        let mut fm = FailManager::new(5, 600.0, 5);
        let t = Ticket::new(id("10.0.0.1"), 0.0).with_matches(["l1"]);
        assert!(fm
            .add_failure(&t, 2, AddMode::Observer { same_ticket: false })
            .is_none());
        assert_eq!(fm.fail_total(), 0);
        let a = fm.add_failure(&t, 1, AddMode::Filter).unwrap();
        assert!(a.created);
        let a = fm
            .add_failure(&t, 2, AddMode::Observer { same_ticket: true })
            .unwrap();
        assert_eq!(a.retry, 3);
        let got = fm.get(&id("10.0.0.1")).unwrap();
        assert_eq!(got.matches, vec!["l1".to_string()]);
        assert_eq!(got.failures, 2);
        assert_eq!(fm.fail_total(), 2);
    }
}
