//! The per-connection (`mlfid`) state of multi-line failures: at most 100 entries,
//! each living 5 minutes, oldest evicted first (fail2ban's cache sizes).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::regex::Fail;

const MAX_COUNT: usize = 100;
const MAX_TIME: f64 = 300.0;

struct Entry {
    fail: Rc<RefCell<Fail>>,
    expires: f64,
    seq: u64,
}

#[derive(Default)]
pub(crate) struct MlfCache {
    map: HashMap<String, Entry>,
    seq: u64,
}

impl MlfCache {
    pub fn get(&mut self, key: &str, now: f64) -> Option<Rc<RefCell<Fail>>> {
        let e = self.map.get(key)?;
        if e.expires > now {
            return Some(Rc::clone(&e.fail));
        }
        self.map.remove(key);
        None
    }

    pub fn set(&mut self, key: &str, fail: Rc<RefCell<Fail>>, now: f64) {
        if self.map.len() >= MAX_COUNT {
            // Drop the oldest entries until one still alive was dropped and there is room.
            while let Some(oldest) = self
                .map
                .iter()
                .min_by_key(|(_, e)| e.seq)
                .map(|(k, _)| k.clone())
            {
                let e = self.map.remove(&oldest);
                if e.is_some_and(|e| e.expires > now) && self.map.len() < MAX_COUNT {
                    break;
                }
            }
        }
        self.seq += 1;
        self.map.insert(
            key.to_string(),
            Entry {
                fail,
                expires: now + MAX_TIME,
                seq: self.seq,
            },
        );
    }

    pub fn unset(&mut self, key: &str) {
        self.map.remove(key);
    }
}
