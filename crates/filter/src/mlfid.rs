//! The per-connection (`mlfid`) state of multi-line failures: at most 100 entries,
//! each living 5 minutes, oldest evicted first (fail2ban's cache sizes).

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use crate::fail::Fail;

const MAX_COUNT: usize = 100;
const MAX_TIME: f64 = 300.0;

struct Entry {
    fail: Fail,
    expires: f64,
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

#[derive(Default)]
pub(crate) struct MlfCache {
    map: HashMap<String, Entry, BuildHasherDefault<Fnv>>,
    /// Insertion order; entries whose key was since removed or re-inserted are stale.
    order: VecDeque<(u64, String)>,
    seq: u64,
}

impl MlfCache {
    /// The live entry of `key` (an expired one is dropped).
    pub fn get_mut(&mut self, key: &str, now: f64) -> Option<&mut Fail> {
        let alive = self.map.get(key)?.expires > now;
        if !alive {
            self.map.remove(key);
            return None;
        }
        self.map.get_mut(key).map(|e| &mut e.fail)
    }

    /// The entry of `key`, alive or not (just looked up or set).
    pub fn peek_mut(&mut self, key: &str) -> Option<&mut Fail> {
        self.map.get_mut(key).map(|e| &mut e.fail)
    }

    pub fn set(&mut self, key: &str, fail: Fail, now: f64) {
        if self.map.len() >= MAX_COUNT {
            // Drop the oldest entries until one still alive was dropped and there is room.
            while let Some((seq, key)) = self.order.pop_front() {
                if self.map.get(&key).is_none_or(|e| e.seq != seq) {
                    continue;
                }
                let alive = self.map.remove(&key).is_some_and(|e| e.expires > now);
                if alive && self.map.len() < MAX_COUNT {
                    break;
                }
            }
        }
        self.seq += 1;
        self.order.push_back((self.seq, key.to_string()));
        if self.order.len() > 4 * MAX_COUNT {
            // Forget stale order entries so the queue stays small.
            let map = &self.map;
            self.order
                .retain(|(seq, k)| map.get(k).is_some_and(|e| e.seq == *seq));
        }
        self.map.insert(
            key.to_string(),
            Entry {
                fail,
                expires: now + MAX_TIME,
                seq: self.seq,
            },
        );
    }

    /// Remove the entry of `key`, giving it back.
    pub fn take(&mut self, key: &str) -> Option<Fail> {
        self.map.remove(key).map(|e| e.fail)
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
    fn entry() -> Fail {
        Fail::new()
    }

    #[test]
    fn oldest_entry_goes_first() {
        let mut c = MlfCache::default();
        for i in 0..MAX_COUNT {
            c.set(&format!("k{i:03}"), entry(), 0.0);
        }
        c.take("k005");
        c.set("new1", entry(), 1.0); // room: nothing evicted
        assert_eq!(c.map.len(), MAX_COUNT);
        c.set("new2", entry(), 1.0); // full: the oldest live entry (k000) goes
        assert!(c.get_mut("k000", 1.0).is_none());
        assert!(c.get_mut("k001", 1.0).is_some());
        assert_eq!(c.map.len(), MAX_COUNT);
        assert!(c.keys().contains(&"new2".to_string()));
    }

    #[test]
    fn entries_expire_after_five_minutes() {
        let mut c = MlfCache::default();
        c.set("a", entry(), 0.0);
        assert!(c.get_mut("a", 299.0).is_some());
        assert!(c.get_mut("a", 300.0).is_none());
    }
}
