//! The per-connection (`mlfid`) state of multi-line failures: at most 100 entries,
//! each living 5 minutes, oldest evicted first (fail2ban's cache sizes).
//!
//! Entries live in a slab of at most [`MAX_COUNT`] slots, found by one hash lookup
//! of the connection id; a slot freed by eviction or `mlfforget` keeps its storage
//! (the key text, the ticket entry's vector and strings) for the next connection,
//! so a steady stream of connections allocates nothing.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use crate::fail::Fail;

const MAX_COUNT: usize = 100;
const MAX_TIME: f64 = 300.0;

struct Entry {
    /// The connection id (kept for eviction, which finds entries by age).
    key: String,
    fail: Fail,
    expires: f64,
    /// When the entry was set; 0 for a free slot.
    seq: u64,
}

/// A small multiplicative hash taking 8 bytes a step: the keys are short
/// (` web1 sshd[1234]: `) and the map never holds more than [`MAX_COUNT`] entries,
/// so a keyed hash buys nothing here.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        // Mix the high bits down: hashbrown takes its control bits from the top.
        let h = self.0;
        h ^ (h >> 29)
    }
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w) ^ (rest.len() as u64) << 59).wrapping_mul(K);
        self.0 = h;
    }
}

/// The index of a live entry (see [`MlfCache::get_mut`]).
pub(crate) type Idx = u32;

#[derive(Default)]
pub(crate) struct MlfCache {
    map: HashMap<String, Idx, BuildHasherDefault<Fnv>>,
    slots: Vec<Entry>,
    /// Slots not in the map.
    free: Vec<Idx>,
    /// Key strings taken out of the map, reused for the next insert.
    spare_keys: Vec<String>,
    /// Insertion order; entries whose slot was since freed or reused are stale.
    order: VecDeque<(u64, Idx)>,
    seq: u64,
}

impl MlfCache {
    /// The live entry of `key` (an expired one is dropped): its index, for
    /// [`MlfCache::at`] and [`MlfCache::take`].
    pub fn get_mut(&mut self, key: &str, now: f64) -> Option<Idx> {
        let i = *self.map.get(key)?;
        if self.slots[i as usize].expires > now {
            return Some(i);
        }
        self.remove(key);
        None
    }

    /// The entry at `i` (from [`MlfCache::get_mut`] or [`MlfCache::set`]).
    pub fn at(&mut self, i: Idx) -> &mut Fail {
        &mut self.slots[i as usize].fail
    }

    /// Drop `key`'s entry, keeping its storage for reuse.
    fn remove(&mut self, key: &str) {
        if let Some((k, i)) = self.map.remove_entry(key) {
            self.spare_keys.push(k);
            self.slots[i as usize].seq = 0;
            self.free.push(i);
        }
    }

    /// Add an entry for `key` (not in the cache: [`MlfCache::get_mut`] just said
    /// so), evicting the oldest when full. Its ticket entry is empty, with the
    /// storage of a freed one: the caller fills it in place.
    pub fn set(&mut self, key: &str, now: f64) -> Idx {
        if self.map.len() >= MAX_COUNT {
            // Drop the oldest entries until one still alive was dropped and there is room.
            while let Some((seq, i)) = self.order.pop_front() {
                let e = &self.slots[i as usize];
                if e.seq != seq {
                    continue;
                }
                let alive = e.expires > now;
                let k = std::mem::take(&mut self.slots[i as usize].key);
                self.remove(&k);
                self.slots[i as usize].key = k;
                if alive && self.map.len() < MAX_COUNT {
                    break;
                }
            }
        }
        self.seq += 1;
        let i = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Entry {
                    key: String::new(),
                    fail: Fail::new(),
                    expires: 0.0,
                    seq: 0,
                });
                (self.slots.len() - 1) as Idx
            }
        };
        let e = &mut self.slots[i as usize];
        e.key.clear();
        e.key.push_str(key);
        e.fail.clear();
        e.expires = now + MAX_TIME;
        e.seq = self.seq;
        self.order.push_back((self.seq, i));
        if self.order.len() > 4 * MAX_COUNT {
            // Forget stale order entries so the queue stays small.
            let slots = &self.slots;
            self.order.retain(|&(seq, i)| slots[i as usize].seq == seq);
        }
        let mut k = self.spare_keys.pop().unwrap_or_default();
        k.clear();
        k.push_str(key);
        self.map.insert(k, i);
        i
    }

    /// Remove the entry at `i` (of `key`), swapping its ticket entry into `out`
    /// (whose old storage the freed slot keeps for reuse).
    pub fn take_into(&mut self, key: &str, i: Idx, out: &mut Fail) {
        self.remove(key);
        std::mem::swap(&mut self.slots[i as usize].fail, out);
    }

    #[cfg(test)]
    fn keys(&self) -> Vec<String> {
        let mut k: Vec<String> = self.map.keys().cloned().collect();
        k.sort();
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fail::{Key, Val};

    #[test]
    fn oldest_entry_goes_first() {
        let mut c = MlfCache::default();
        for i in 0..MAX_COUNT {
            c.set(&format!("k{i:03}"), 0.0);
        }
        let i = c.get_mut("k005", 0.0).unwrap();
        c.take_into("k005", i, &mut Fail::new());
        c.set("new1", 1.0); // room: nothing evicted
        assert_eq!(c.map.len(), MAX_COUNT);
        c.set("new2", 1.0); // full: the oldest live entry (k000) goes
        assert!(c.get_mut("k000", 1.0).is_none());
        assert!(c.get_mut("k001", 1.0).is_some());
        assert_eq!(c.map.len(), MAX_COUNT);
        assert!(c.keys().contains(&"new2".to_string()));
        // Slots are reused, never more than the cache holds.
        assert_eq!(c.slots.len(), MAX_COUNT);
    }

    #[test]
    fn entries_expire_after_five_minutes() {
        let mut c = MlfCache::default();
        c.set("a", 0.0);
        assert!(c.get_mut("a", 299.0).is_some());
        assert!(c.get_mut("a", 300.0).is_none());
        assert!(c.keys().is_empty());
    }

    /// A reused slot is found under its new key only, and its entry is the one
    /// written last, whatever the freed one held.
    #[test]
    fn reused_slots_hold_only_their_new_entry() {
        let k = Key::intern("mlfid_test_key");
        let mut c = MlfCache::default();
        for n in 0..(3 * MAX_COUNT) {
            let key = format!("conn{n}");
            let i = c.set(&key, n as f64);
            let mut src = Fail::new();
            src.insert(k, Val::Str(key.clone()));
            c.at(i).assign_resolved(&src, "", "");
            if n % 7 == 0 {
                let i = c.get_mut(&key, n as f64).unwrap();
                let mut f = Fail::new();
                c.take_into(&key, i, &mut f);
                assert_eq!(f.text(k, "", ""), Some(key.as_str()));
            }
        }
        for n in (2 * MAX_COUNT)..(3 * MAX_COUNT) {
            let key = format!("conn{n}");
            match c.get_mut(&key, 0.0) {
                Some(i) => assert_eq!(c.at(i).text(k, "", ""), Some(key.as_str())),
                None => assert_eq!(n % 7, 0, "{key}"),
            }
        }
        assert!(c.get_mut("conn0", 0.0).is_none());
        assert!(c.slots.len() <= MAX_COUNT);
    }
}
