//! Failure counting per id: `findtime`, `maxretry`, `maxmatches`.
//!
//! fail2ban does not keep a sliding window of timestamps. Each id has one entry with
//! a retry count, the time of its last failure and the start of its interval. When a
//! new failure lies more than `findtime` after the interval's start, the count is
//! rescaled to the rate seen so far: `retry = round(retry / (now - first) * findtime)`
//! and the interval restarts at `now - findtime`. Entries whose last failure is older
//! than `findtime` are purged by [`FailManager::cleanup`].
//!
//! Memory: a jail may count a million ids at once (a botnet, a scan), so an entry is
//! a 52-byte `Slot` in a dense vector (the address inline, no pointer), indexed by a
//! hash table of 4-byte slot numbers, with its matched lines packed in a
//! `LineArena`. Rare data (captured values, a known ban count, an id that is not an
//! address) lives in a side table.

use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hashbrown::HashTable;

use crate::arena::{self, LineArena, RecRef};
use crate::id::{FailId, IpAddrPrefix};
use crate::ticket::{Ticket, TicketData, Time};

/// A time stored as two 4-byte halves, so that [`Slot`] needs 4-byte alignment only
/// (an `f64` field would pad it to a multiple of 8).
#[derive(Debug, Clone, Copy)]
struct PackedTime([u32; 2]);

impl PackedTime {
    fn new(t: Time) -> PackedTime {
        let b = t.to_bits();
        PackedTime([b as u32, (b >> 32) as u32])
    }
    fn get(self) -> Time {
        f64::from_bits(u64::from(self.0[0]) | (u64::from(self.0[1]) << 32))
    }
}

/// How [`Slot::bits`] is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
enum Kind {
    V4,
    V6,
    Net4,
    Net6,
    /// Not an address: the text is in the slot's [`Extra`].
    Raw,
}

/// The id in a fixed 18 bytes (16 of address, kind, prefix); `Raw` text elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    bits: [u32; 4],
    kind: Kind,
    prefix: u8,
}

fn addr_bits(ip: IpAddr) -> [u32; 4] {
    match ip {
        IpAddr::V4(a) => [u32::from(a), 0, 0, 0],
        IpAddr::V6(a) => {
            let v = u128::from(a);
            [
                (v >> 96) as u32,
                (v >> 64) as u32,
                (v >> 32) as u32,
                v as u32,
            ]
        }
    }
}

fn bits_v6(b: [u32; 4]) -> Ipv6Addr {
    Ipv6Addr::from(
        (u128::from(b[0]) << 96)
            | (u128::from(b[1]) << 64)
            | (u128::from(b[2]) << 32)
            | u128::from(b[3]),
    )
}

impl Key {
    /// The key of `id`, and its text when it is not an address.
    fn of(id: &FailId) -> (Key, Option<&str>) {
        match id {
            FailId::Ip(ip) => (
                Key {
                    bits: addr_bits(*ip),
                    kind: if ip.is_ipv4() { Kind::V4 } else { Kind::V6 },
                    prefix: 0,
                },
                None,
            ),
            FailId::Net(n) => (
                Key {
                    bits: addr_bits(n.addr),
                    kind: if n.addr.is_ipv4() {
                        Kind::Net4
                    } else {
                        Kind::Net6
                    },
                    prefix: n.prefix,
                },
                None,
            ),
            FailId::Raw(s) => (
                Key {
                    bits: [0; 4],
                    kind: Kind::Raw,
                    prefix: 0,
                },
                Some(s),
            ),
        }
    }

    /// Back to the id (`raw` is the text of a `Raw` key).
    fn to_id(self, raw: Option<&str>) -> FailId {
        let v4 = || IpAddr::V4(Ipv4Addr::from(self.bits[0]));
        let v6 = || IpAddr::V6(bits_v6(self.bits));
        match self.kind {
            Kind::V4 => FailId::Ip(v4()),
            Kind::V6 => FailId::Ip(v6()),
            Kind::Net4 => FailId::Net(IpAddrPrefix {
                addr: v4(),
                prefix: self.prefix,
            }),
            Kind::Net6 => FailId::Net(IpAddrPrefix {
                addr: v6(),
                prefix: self.prefix,
            }),
            Kind::Raw => FailId::Raw(raw.unwrap_or_default().into()),
        }
    }
}

/// The compact per-id state: 52 bytes, no pointer.
#[derive(Debug, Clone, Copy)]
struct Slot {
    bits: [u32; 4],
    kind: Kind,
    prefix: u8,
    /// Size of the matched-lines record, in arena units (see [`RecRef`]).
    match_units: u16,
    match_at: u32,
    first: PackedTime,
    last: PackedTime,
    retry: u32,
    failures: u32,
    /// Index into `Table::extras`, or [`NO_EXTRA`].
    extra: u32,
}

const NO_EXTRA: u32 = u32::MAX;

impl Slot {
    fn key(&self) -> Key {
        Key {
            bits: self.bits,
            kind: self.kind,
            prefix: self.prefix,
        }
    }
    fn matches(&self) -> RecRef {
        RecRef {
            at: self.match_at,
            units: self.match_units,
        }
    }
    fn set_matches(&mut self, r: RecRef) {
        self.match_at = r.at;
        self.match_units = r.units;
    }
}

/// What few ids have: captured data, a known ban count, a non-address id.
#[derive(Debug, Default, Clone)]
struct Extra {
    raw: Option<Box<str>>,
    data: TicketData,
    ban_count: u32,
}

/// Ids in a dense vector with a hash index, their lines in an arena, their rare data
/// in a side table.
#[derive(Debug)]
struct Table {
    slots: Vec<Slot>,
    index: HashTable<u32>,
    hasher: RandomState,
    lines: LineArena,
    extras: Vec<Extra>,
    /// Unused entries of `extras`.
    extras_free: Vec<u32>,
    /// Scratch space for encoding a record.
    scratch: Vec<u8>,
}

/// Hashes a key the same way whether it comes from a [`FailId`] or a slot (ids are
/// chosen by attackers: SipHash with a random key).
fn hash_key(hasher: &RandomState, key: Key, raw: Option<&str>) -> u64 {
    let mut h = hasher.build_hasher();
    key.hash(&mut h);
    if let Some(s) = raw {
        s.hash(&mut h);
    }
    h.finish()
}

/// Growth of the slot vector beyond this many slots is in steps of an eighth rather
/// than doubling, so that a vector of a million slots does not reserve a second
/// million.
const GROW_GENTLY_FROM: usize = 1 << 16;

impl Table {
    fn new() -> Table {
        Table {
            slots: Vec::new(),
            index: HashTable::new(),
            hasher: RandomState::new(),
            lines: LineArena::default(),
            extras: Vec::new(),
            extras_free: Vec::new(),
            scratch: Vec::new(),
        }
    }

    fn raw_of(&self, s: &Slot) -> Option<&str> {
        if s.kind != Kind::Raw {
            return None;
        }
        self.extras.get(s.extra as usize)?.raw.as_deref()
    }

    fn extra(&self, s: &Slot) -> Option<&Extra> {
        self.extras.get(s.extra as usize)
    }

    fn slot_hash(&self, s: &Slot) -> u64 {
        hash_key(&self.hasher, s.key(), self.raw_of(s))
    }

    fn find(&self, id: &FailId) -> Option<usize> {
        let (key, raw) = Key::of(id);
        let h = hash_key(&self.hasher, key, raw);
        self.index
            .find(h, |&i| {
                let s = &self.slots[i as usize];
                s.key() == key && self.raw_of(s) == raw
            })
            .map(|&i| i as usize)
    }

    fn id_of(&self, s: &Slot) -> FailId {
        s.key().to_id(self.raw_of(s))
    }

    fn new_extra(&mut self, x: Extra) -> u32 {
        match self.extras_free.pop() {
            Some(i) => {
                self.extras[i as usize] = x;
                i
            }
            None => {
                self.extras.push(x);
                u32::try_from(self.extras.len() - 1).unwrap_or(NO_EXTRA)
            }
        }
    }

    fn take_extra(&mut self, i: u32) -> Option<Extra> {
        let x = std::mem::take(self.extras.get_mut(i as usize)?);
        self.extras_free.push(i);
        if self.extras_free.len() == self.extras.len() {
            self.extras = Vec::new();
            self.extras_free = Vec::new();
        }
        Some(x)
    }

    /// The slot's extra data, created if needed.
    fn extra_mut(&mut self, i: usize) -> &mut Extra {
        if self.slots[i].extra == NO_EXTRA {
            let x = self.new_extra(Extra::default());
            self.slots[i].extra = x;
        }
        let x = self.slots[i].extra as usize;
        &mut self.extras[x]
    }

    /// Adds a new id (not present).
    fn insert(&mut self, id: &FailId, mut slot: Slot, extra: Extra) {
        let (key, raw) = Key::of(id);
        slot.bits = key.bits;
        slot.kind = key.kind;
        slot.prefix = key.prefix;
        let extra = Extra {
            raw: raw.map(Into::into),
            ..extra
        };
        slot.extra = if extra.raw.is_some() || !extra.data.is_empty() || extra.ban_count > 0 {
            self.new_extra(extra)
        } else {
            NO_EXTRA
        };
        let h = hash_key(&self.hasher, key, raw);
        if self.slots.len() == self.slots.capacity() && self.slots.len() >= GROW_GENTLY_FROM {
            self.slots.reserve_exact(self.slots.len() / 8);
        }
        let i = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
        self.slots.push(slot);
        let Table {
            slots,
            index,
            hasher,
            extras,
            ..
        } = self;
        index.insert_unique(h, i, |&j| {
            let s = &slots[j as usize];
            let raw = (s.kind == Kind::Raw)
                .then(|| extras.get(s.extra as usize).and_then(|x| x.raw.as_deref()))
                .flatten();
            hash_key(hasher, s.key(), raw)
        });
    }

    /// Replaces the slot's matched lines by the last `max` of its own and `new`.
    fn extend_matches(&mut self, i: usize, new: &[String], max: usize) {
        let old = self.slots[i].matches();
        let mut buf = std::mem::take(&mut self.scratch);
        arena::encode_lines(&mut buf, arena::lines(self.lines.get(old)), new, max);
        self.lines.free(old);
        let r = self.lines.put(&buf);
        self.slots[i].set_matches(r);
        self.scratch = buf;
        self.compact_if_wasted();
    }

    fn clear_matches(&mut self, i: usize) {
        let old = self.slots[i].matches();
        self.lines.free(old);
        self.slots[i].set_matches(RecRef::NONE);
    }

    fn matches_of(&self, s: &Slot) -> Vec<String> {
        arena::lines(self.lines.get(s.matches()))
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect()
    }

    /// Removes slot `i` (its lines and extra data with it).
    fn remove_at(&mut self, i: usize) {
        let h = self.slot_hash(&self.slots[i]);
        if let Ok(e) = self.index.find_entry(h, |&j| j as usize == i) {
            e.remove();
        }
        let last = self.slots.len() - 1;
        if i != last {
            // The last slot moves into `i`: point its index entry there.
            let hm = self.slot_hash(&self.slots[last]);
            if let Some(e) = self.index.find_mut(hm, |&j| j as usize == last) {
                *e = i as u32;
            }
        }
        let s = self.slots.swap_remove(i);
        self.lines.free(s.matches());
        if s.extra != NO_EXTRA {
            self.take_extra(s.extra);
        }
        self.compact_if_wasted();
    }

    /// Removes slot `i` and returns its ticket.
    fn take(&mut self, i: usize) -> Ticket {
        let s = self.slots[i];
        let mut ticket = Ticket {
            id: self.id_of(&s),
            time: s.last.get(),
            first_time: s.first.get(),
            retry: s.retry,
            failures: s.failures,
            matches: self.matches_of(&s),
            data: TicketData::new(),
            ban_time: None,
            ban_count: 0,
            restored: false,
        };
        if let Some(x) = self.extras.get_mut(s.extra as usize) {
            ticket.data = std::mem::take(&mut x.data);
            ticket.ban_count = x.ban_count;
        }
        self.remove_at(i);
        ticket
    }

    fn ticket_of(&self, e: &Slot) -> Ticket {
        let extra = self.extra(e);
        Ticket {
            id: self.id_of(e),
            time: e.last.get(),
            first_time: e.first.get(),
            retry: e.retry,
            failures: e.failures,
            matches: self.matches_of(e),
            data: extra.map(|x| x.data.clone()).unwrap_or_default(),
            ban_time: None,
            ban_count: extra.map_or(0, |x| x.ban_count),
            restored: false,
        }
    }

    /// Keeps the slots for which `keep` holds.
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
            let mut slots = std::mem::take(&mut self.slots);
            for s in &slots {
                if !keep(s) {
                    self.lines.free(s.matches());
                    if s.extra != NO_EXTRA {
                        self.take_extra(s.extra);
                    }
                }
            }
            slots.retain(|s| keep(s));
            self.slots = slots;
            self.rebuild();
        }
        if self.slots.capacity() > 1024 && self.slots.len() < self.slots.capacity() / 4 {
            self.slots.shrink_to_fit();
            self.rebuild();
        }
        self.compact_if_wasted();
    }

    /// Moves the live records into a fresh arena when a third of it is free, and
    /// packs the side table when half of it is unused.
    fn compact_if_wasted(&mut self) {
        if self.lines.wasted() {
            let mut refs: Vec<RecRef> = self.slots.iter().map(Slot::matches).collect();
            self.lines = self.lines.compacted(refs.iter_mut());
            for (s, r) in self.slots.iter_mut().zip(refs) {
                s.set_matches(r);
            }
        }
        if self.extras.len() > 64 && self.extras_free.len() * 2 > self.extras.len() {
            let mut extras = Vec::with_capacity(self.extras.len() - self.extras_free.len());
            for s in &mut self.slots {
                if s.extra != NO_EXTRA {
                    extras.push(std::mem::take(&mut self.extras[s.extra as usize]));
                    s.extra = (extras.len() - 1) as u32;
                }
            }
            self.extras = extras;
            self.extras_free = Vec::new();
        }
    }

    fn rebuild(&mut self) {
        let mut index = HashTable::with_capacity(self.slots.len());
        for (i, s) in self.slots.iter().enumerate() {
            let h = self.slot_hash(s);
            index.insert_unique(h, i as u32, |&j| self.slot_hash(&self.slots[j as usize]));
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
                if ticket.time > e.last.get() {
                    let first = e.first.get();
                    if first < ticket.time - find_time {
                        let span = ticket.time - first;
                        let scaled = python_round(f64::from(e.retry) / span * find_time);
                        e.retry = if scaled.is_finite() && scaled > 0.0 {
                            scaled.min(f64::from(u32::MAX)) as u32
                        } else {
                            0
                        };
                        e.first = PackedTime::new(ticket.time - find_time);
                    }
                    e.last = PackedTime::new(ticket.time);
                }
                e.retry = e.retry.saturating_add(count);
                e.failures = e.failures.saturating_add(attempt);
                let retry = e.retry;
                if max_matches == 0 {
                    self.list.clear_matches(i);
                } else if !matches.is_empty() {
                    self.list.extend_matches(i, matches, max_matches);
                }
                Added {
                    retry,
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
                let slot = Slot {
                    bits: [0; 4],
                    kind: Kind::Raw,
                    prefix: 0,
                    match_units: 0,
                    match_at: 0,
                    first: PackedTime::new(ticket.first_time.min(ticket.time)),
                    last: PackedTime::new(ticket.time),
                    retry,
                    failures,
                    extra: NO_EXTRA,
                };
                let extra = Extra {
                    raw: None,
                    data: ticket.data.clone(),
                    ban_count: ticket.ban_count,
                };
                self.list.insert(&ticket.id, slot, extra);
                if max_matches > 0 && !ticket.matches.is_empty() {
                    let i = self.list.slots.len() - 1;
                    self.list.extend_matches(i, &ticket.matches, max_matches);
                }
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
            let known = self
                .list
                .extra(&self.list.slots[i])
                .map_or(0, |x| x.ban_count);
            if count > known {
                self.list.extra_mut(i).ban_count = count;
            }
        }
    }

    /// Drops ids whose last failure is at or before `now - findtime`.
    pub fn cleanup(&mut self, now: Time) {
        let limit = now - self.find_time;
        self.list.retain(|e| e.last.get() > limit);
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
        Some(self.list.take(i))
    }

    /// A copy of the id's ticket, if counted.
    pub fn get(&self, id: &FailId) -> Option<Ticket> {
        let i = self.list.find(id)?;
        Some(self.list.ticket_of(&self.list.slots[i]))
    }

    /// Heap bytes held by the counted ids (slots, index, lines, side table): what
    /// `count_memory` and the tests check the layout with.
    pub fn heap_bytes(&self) -> usize {
        let l = &self.list;
        l.slots.capacity() * std::mem::size_of::<Slot>()
            + l.index.capacity() * (std::mem::size_of::<u32>() + 1)
            + l.lines.capacity_bytes()
            + l.extras.capacity() * std::mem::size_of::<Extra>()
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
        assert_eq!(std::mem::size_of::<Slot>(), 52);
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

    /// A plain model of the counting: one map entry per id with owned fields, the
    /// rules written out directly. The compact table must agree with it.
    mod model {
        use super::*;
        use proptest::prelude::*;
        use std::collections::BTreeMap;

        #[derive(Debug, Clone, PartialEq)]
        struct Entry {
            first: f64,
            last: f64,
            retry: u32,
            failures: u32,
            matches: Vec<String>,
            data: TicketData,
            ban_count: u32,
        }

        #[derive(Debug, Default)]
        struct Model {
            map: BTreeMap<FailId, Entry>,
            total: u64,
        }

        fn keep_last(v: &mut Vec<String>, max: usize) {
            let skip = v.len().saturating_sub(max);
            v.drain(..skip);
        }

        impl Model {
            fn add(
                &mut self,
                t: &Ticket,
                count: u32,
                mode: AddMode,
                fm: &FailManager,
            ) -> Option<u32> {
                let (findtime, max) = (fm.find_time(), fm.max_matches());
                let retry = match self.map.get_mut(&t.id) {
                    Some(e) => {
                        if t.time > e.last {
                            if e.first < t.time - findtime {
                                let r = (f64::from(e.retry) / (t.time - e.first) * findtime)
                                    .round_ties_even();
                                e.retry = if r > 0.0 { r as u32 } else { 0 };
                                e.first = t.time - findtime;
                            }
                            e.last = t.time;
                        }
                        e.retry = e.retry.saturating_add(count);
                        let same = mode == AddMode::Observer { same_ticket: true };
                        e.failures += if same { 1 } else { t.failures.max(1) };
                        if max == 0 {
                            e.matches.clear();
                        } else if !same && !t.matches.is_empty() {
                            e.matches.extend(t.matches.iter().cloned());
                            keep_last(&mut e.matches, max);
                        }
                        e.retry
                    }
                    None if mode != AddMode::Filter => return None,
                    None => {
                        let (mut retry, mut failures) = (t.failures, t.failures);
                        if count > t.failures {
                            retry = count;
                            failures = failures.max(1);
                        }
                        let mut matches = if max > 0 { t.matches.clone() } else { vec![] };
                        keep_last(&mut matches, max);
                        self.map.insert(
                            t.id.clone(),
                            Entry {
                                first: t.first_time.min(t.time),
                                last: t.time,
                                retry,
                                failures,
                                matches,
                                data: t.data.clone(),
                                ban_count: t.ban_count,
                            },
                        );
                        retry
                    }
                };
                self.total += 1;
                Some(retry)
            }

            fn ticket(&self, id: &FailId) -> Option<Ticket> {
                let e = self.map.get(id)?;
                Some(Ticket {
                    id: id.clone(),
                    time: e.last,
                    first_time: e.first,
                    retry: e.retry,
                    failures: e.failures,
                    matches: e.matches.clone(),
                    data: e.data.clone(),
                    ban_time: None,
                    ban_count: e.ban_count,
                    restored: false,
                })
            }
        }

        fn ids() -> Vec<FailId> {
            let mut v: Vec<FailId> = [
                "192.0.2.1",
                "192.0.2.2",
                "10.0.0.0/8",
                "10.0.0.0/16",
                "2001:db8::1",
                "2001:db8::/32",
                "::",
                "0.0.0.0",
            ]
            .iter()
            .map(|s| FailId::parse(s))
            .collect();
            v.push(FailId::Raw("alice".into()));
            v.push(FailId::Raw("".into()));
            v.push(FailId::Raw("192.0.2.1 ".into()));
            v
        }

        #[derive(Debug, Clone)]
        enum Op {
            Add {
                id: usize,
                time: u16,
                back: u8,
                count: u32,
                failures: u32,
                mode: u8,
                lines: Vec<String>,
                data: bool,
                ban_count: u32,
            },
            BanCount(usize, u32),
            Cleanup(u16),
            Del(usize),
            ToBan(Option<usize>),
            MaxMatches(usize),
            MaxRetry(u32),
        }

        fn op() -> impl Strategy<Value = Op> {
            let line = prop_oneof![
                "[a-z ]{0,12}",
                "[a-z]{60,120}",
                proptest::collection::vec(any::<char>(), 0..5)
                    .prop_map(|c| c.into_iter().collect::<String>()),
            ];
            let add = (
                0..11usize,
                0..2000u16,
                0..4u8,
                1..4u32,
                0..3u32,
                0..4u8,
                proptest::collection::vec(line, 0..4),
                any::<bool>(),
                0..3u32,
            )
                .prop_map(
                    |(id, time, back, count, failures, mode, lines, data, ban_count)| Op::Add {
                        id,
                        time,
                        back,
                        count,
                        failures,
                        mode,
                        lines,
                        data,
                        ban_count,
                    },
                );
            prop_oneof![
                12 => add,
                1 => (0..11usize, 0..5u32).prop_map(|(i, c)| Op::BanCount(i, c)),
                1 => (0..2500u16).prop_map(Op::Cleanup),
                1 => (0..11usize).prop_map(Op::Del),
                2 => proptest::option::of(0..11usize).prop_map(Op::ToBan),
                1 => (0..7usize).prop_map(Op::MaxMatches),
                1 => (1..6u32).prop_map(Op::MaxRetry),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            #[test]
            fn compact_table_agrees_with_the_model(
                findtime in prop_oneof![Just(100.0), Just(600.0), Just(0.5)],
                ops in proptest::collection::vec(op(), 1..120),
            ) {
                let ids = ids();
                let mut fm = FailManager::new(3, findtime, 3);
                let mut m = Model::default();
                for op in ops {
                    match op {
                        Op::Add { id, time, back, count, failures, mode, lines, data, ban_count } => {
                            let mut t = Ticket::new(ids[id].clone(), f64::from(time) * 0.75)
                                .with_matches(lines);
                            t.first_time = t.time - f64::from(back) * 50.0;
                            t.failures = failures;
                            t.ban_count = ban_count;
                            if data {
                                t.data.insert("user".into(), serde_json::json!("root"));
                            }
                            let mode = match mode {
                                0 => AddMode::Observer { same_ticket: true },
                                1 => AddMode::Observer { same_ticket: false },
                                _ => AddMode::Filter,
                            };
                            let want = m.add(&t, count, mode, &fm);
                            let got = fm.add_failure(&t, count, mode).map(|a| a.retry);
                            prop_assert_eq!(got, want);
                        }
                        Op::BanCount(i, c) => {
                            fm.set_ban_count(&ids[i], c);
                            if let Some(e) = m.map.get_mut(&ids[i]) {
                                e.ban_count = e.ban_count.max(c);
                            }
                        }
                        Op::Cleanup(now) => {
                            let now = f64::from(now);
                            fm.cleanup(now);
                            m.map.retain(|_, e| e.last > now - findtime);
                        }
                        Op::Del(i) => {
                            fm.del_failure(&ids[i]);
                            m.map.remove(&ids[i]);
                        }
                        Op::ToBan(Some(i)) if m.map.contains_key(&ids[i]) => {
                            let got = fm.to_ban(Some(&ids[i]));
                            let want = m
                                .ticket(&ids[i])
                                .filter(|t| t.retry >= fm.max_retry());
                            if want.is_some() {
                                m.map.remove(&ids[i]);
                            }
                            prop_assert_eq!(got, want);
                        }
                        // Not counted (or no id): any ticket that reached maxretry.
                        Op::ToBan(i) => match fm.to_ban(i.map(|i| &ids[i])) {
                            Some(t) => {
                                prop_assert!(t.retry >= fm.max_retry());
                                prop_assert_eq!(Some(t.clone()), m.ticket(&t.id));
                                m.map.remove(&t.id);
                            }
                            None => prop_assert!(m.map.values().all(|e| e.retry < fm.max_retry())),
                        },
                        Op::MaxMatches(n) => fm.set_max_matches(n),
                        Op::MaxRetry(n) => fm.set_max_retry(n),
                    }
                    prop_assert_eq!(fm.size(), m.map.len());
                    prop_assert_eq!(fm.fail_total(), m.total);
                    let sum: u64 = m.map.values().map(|e| u64::from(e.retry)).sum();
                    prop_assert_eq!(fm.fail_count(), (m.map.len(), sum));
                    for id in &ids {
                        prop_assert_eq!(fm.get(id), m.ticket(id), "id {}", id);
                        prop_assert_eq!(fm.retry_of(id), m.map.get(id).map(|e| e.retry));
                    }
                }
            }
        }
    }

    /// Many ids, most of them purged again: the slot vector and the line arena shrink
    /// back, and what stays is intact.
    #[test]
    fn storage_shrinks_after_a_mass_purge() {
        let mut fm = FailManager::new(5, 100.0, 5);
        let n = 200_000u32;
        for i in 0..n {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            let t = Ticket::new(
                FailId::from(IpAddr::V4(ip)),
                if i % 100 == 0 { 1000.0 } else { 0.0 },
            )
            .with_matches([format!(
                "sshd[1]: Failed password for root from {ip} port 22"
            )]);
            fm.add_failure(&t, 1, AddMode::Filter);
        }
        let full = fm.heap_bytes();
        // ~52 B of slot, ~5-10 B of index, ~56 B of line per id
        assert!(full < n as usize * 140, "{full} bytes for {n} ids");
        fm.cleanup(500.0);
        assert_eq!(fm.size(), (n / 100) as usize);
        assert!(
            fm.heap_bytes() * 20 < full,
            "{} after purge, {full} before",
            fm.heap_bytes()
        );
        let ip = std::net::Ipv4Addr::from(0x0a00_0000 + 100 * 7);
        let t = fm.get(&FailId::from(IpAddr::V4(ip))).expect("kept");
        assert_eq!(
            t.matches,
            vec![format!(
                "sshd[1]: Failed password for root from {ip} port 22"
            )]
        );
    }
}
