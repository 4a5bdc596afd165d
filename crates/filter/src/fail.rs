//! Ticket data: the values a match's named groups give, as fail2ban types them,
//! under interned keys.

use std::collections::BTreeSet;
use std::sync::Mutex;

/// A ticket-data key (a group name, or one of fail2ban's own keys such as `users`),
/// interned: one `&'static str` per distinct name in the process, so keys are
/// compared by address and copied for free. Names come from the filters' regexes
/// (written by the administrator), never from log text, so the table stays small;
/// it is never freed.
#[derive(Clone, Copy)]
pub(crate) struct Key(&'static str, u8);

impl PartialEq for Key {
    fn eq(&self, o: &Key) -> bool {
        // Interned: equal names are the same string.
        std::ptr::eq(self.0, o.0)
    }
}
impl Eq for Key {}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

macro_rules! known_keys {
    ($($id:ident = $name:literal @ $n:literal,)*) => {
        $(pub(crate) static $id: Key = Key($name, $n);)*
        /// The keys the filter itself reads or writes, in the table from the start.
        static KNOWN: &[&Key] = &[$(&$id,)*];
    };
}

known_keys! {
    CONTENT = "content" @ 0,
    MLFID = "mlfid" @ 1,
    NOFAIL = "nofail" @ 2,
    MLFGAINED = "mlfgained" @ 3,
    MLFFORGET = "mlfforget" @ 4,
    MLFPENDING = "mlfpending" @ 5,
    USER = "user" @ 6,
    USERS = "users" @ 7,
    MATCHES = "matches" @ 8,
    NOFAIL_MATCHES = "nofail-matches" @ 9,
    FID = "fid" @ 10,
    IP = "ip" @ 11,
    IP4 = "ip4" @ 12,
    IP6 = "ip6" @ 13,
    DNS = "dns" @ 14,
    CIDR = "cidr" @ 15,
}

static TABLE: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

fn with_table<R>(f: impl FnOnce(&mut Vec<&'static str>) -> R) -> R {
    let mut t = TABLE.lock().unwrap_or_else(|e| e.into_inner());
    if t.is_empty() {
        t.extend(KNOWN.iter().map(|k| k.0));
    }
    f(&mut t)
}

/// Key numbers from this one up share one presence bit (see [`Fail`]).
const SHARED_BIT: usize = 63;

impl Key {
    /// The key of `name`, added to the table if new (when compiling a regex).
    pub fn intern(name: &str) -> Key {
        with_table(|t| match t.iter().position(|n| *n == name) {
            Some(i) => Key(t[i], i.min(SHARED_BIT) as u8),
            None => {
                let n: &'static str = Box::leak(name.to_string().into_boxed_str());
                t.push(n);
                Key(n, (t.len() - 1).min(SHARED_BIT) as u8)
            }
        })
    }
    /// The key of `name` if some regex or the filter uses it.
    pub fn lookup(name: &str) -> Option<Key> {
        with_table(|t| {
            t.iter()
                .position(|n| *n == name)
                .map(|i| Key(t[i], i.min(SHARED_BIT) as u8))
        })
    }
    pub fn as_str(self) -> &'static str {
        self.0
    }
    /// The key's presence bit in [`Fail::2`].
    fn bit(self) -> u64 {
        1 << self.1
    }
}

/// A ticket-data value, typed as fail2ban's are.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    /// A named group that did not take part in the match.
    None,
    Str(String),
    Set(BTreeSet<String>),
    Lines(Vec<String>),
    Tuple(Vec<Option<String>>),
    Int(i64),
    /// A group's text while its line is matched: bytes `s..e` of the prefregex's
    /// buffer (`pref`) or of the failregex's. Turned into [`Val::Str`] (see
    /// [`Fail::assign_resolved`], [`Fail::set_resolved`]) before the entry outlives the line;
    /// never in a [`crate::Failure`].
    At {
        pref: bool,
        s: u32,
        e: u32,
    },
}

impl Val {
    /// Python truthiness.
    pub fn truthy(&self) -> bool {
        match self {
            Val::None => false,
            Val::Str(s) => !s.is_empty(),
            Val::Set(s) => !s.is_empty(),
            Val::Lines(l) => !l.is_empty(),
            Val::Tuple(t) => !t.is_empty(),
            Val::Int(i) => *i != 0,
            Val::At { s, e, .. } => e > s,
        }
    }
    /// The text of a string value, a span read in `pbuf` (prefregex) or `buf`.
    pub fn text<'a>(&'a self, pbuf: &'a str, buf: &'a str) -> Option<&'a str> {
        match self {
            Val::Str(s) => Some(s),
            Val::At { pref, s, e } => {
                let b = if *pref { pbuf } else { buf };
                b.get(*s as usize..*e as usize)
            }
            _ => None,
        }
    }
    /// The value as ticket data in JSON, spans read in `bufs` (`pbuf`, `buf`); `None`
    /// for a group that did not participate.
    pub fn json(&self, (pbuf, buf): (&str, &str)) -> Option<serde_json::Value> {
        use serde_json::Value as J;
        let s = |v: &String| J::String(v.clone());
        Some(match self {
            Val::None => return None,
            Val::At { .. } => J::String(self.text(pbuf, buf).unwrap_or_default().to_string()),
            Val::Str(v) => s(v),
            Val::Set(v) => J::Array(v.iter().map(s).collect()),
            Val::Lines(l) => J::Array(l.iter().map(s).collect()),
            Val::Tuple(t) => J::Array(t.iter().map(|v| v.as_ref().map_or(J::Null, s)).collect()),
            Val::Int(i) => J::from(*i),
        })
    }

    /// Overwrite `slot` with [`Val::json`] (a value that did not take part leaves
    /// it as it is): a string over a string reuses its allocation.
    pub fn write_json(&self, slot: &mut serde_json::Value, bufs: (&str, &str)) {
        match (self, &mut *slot) {
            (Val::Str(_) | Val::At { .. }, serde_json::Value::String(old)) => {
                old.clear();
                old.push_str(self.text(bufs.0, bufs.1).unwrap_or_default());
            }
            _ => {
                if let Some(j) = self.json(bufs) {
                    *slot = j;
                }
            }
        }
    }
}

/// Ticket data being built: group name to value, in a small vector (a dozen entries at
/// most; names are shared with the compiled regex, so building one does not allocate
/// names). The third field has the presence bit of every key held (keys numbered
/// from [`SHARED_BIT`] up share the last one): most lookups are of keys that are
/// absent (`nofail`, `mlfgained`, `fid`, ...), answered without a scan.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fail(Vec<(Key, Val)>, pub(crate) bool, u64);

impl Fail {
    pub fn new() -> Fail {
        Fail(Vec::with_capacity(12), false, 0)
    }
    fn pos(&self, k: Key) -> Option<usize> {
        if self.2 & k.bit() == 0 {
            return None;
        }
        self.0.iter().position(|(n, _)| *n == k)
    }
    /// Add `k`, which is not there yet (a regex's group names are unique).
    pub fn push_new(&mut self, k: Key, v: Val) {
        debug_assert!(self.pos(k).is_none());
        self.2 |= k.bit();
        self.0.push((k, v));
    }
    pub fn get(&self, k: Key) -> Option<&Val> {
        self.pos(k).map(|i| &self.0[i].1)
    }
    pub fn get_mut(&mut self, k: Key) -> Option<&mut Val> {
        self.pos(k).map(|i| &mut self.0[i].1)
    }
    /// Set `k`.
    pub fn insert(&mut self, k: Key, v: Val) {
        match self.pos(k) {
            Some(i) => self.0[i].1 = v,
            None => self.push_new(k, v),
        }
    }
    /// Whether `k` is set to a true value (Python truthiness).
    pub fn truthy(&self, k: Key) -> bool {
        self.get(k).is_some_and(Val::truthy)
    }
    /// Remove `k`. In an ordered entry (see [`crate::regex::Compiled::keep_none_all`]) the others
    /// keep their order, as a Python dict's `pop`; otherwise order does not matter
    /// and the last entry takes its place.
    pub fn remove(&mut self, k: Key) -> Option<Val> {
        let i = self.pos(k)?;
        if usize::from(k.1) < SHARED_BIT {
            self.2 &= !k.bit();
        }
        Some(if self.1 {
            self.0.remove(i).1
        } else {
            self.0.swap_remove(i).1
        })
    }
    /// Empty, keeping the allocation (a scratch entry reused line after line).
    pub fn clear(&mut self) {
        // Spans, `None` and numbers (nearly every value of a scratch entry) own
        // nothing: they are let go without a call to the enum's drop glue each.
        while let Some((_, v)) = self.0.pop() {
            match v {
                Val::None | Val::At { .. } | Val::Int(_) => std::mem::forget(v),
                v => drop(v),
            }
        }
        self.1 = false;
        self.2 = 0;
    }
    /// Overwrite with a copy of every entry of `other` (spans are copied as spans).
    pub fn extend_from(&mut self, other: &Fail) {
        self.1 |= other.1;
        if self.0.is_empty() {
            // Names are unique within `other`: no lookups.
            self.0.extend(other.0.iter().cloned());
            self.2 = other.2;
            return;
        }
        for (k, v) in &other.0 {
            self.insert(*k, v.clone());
        }
    }
    /// The text of `k` (see [`Val::text`]).
    pub fn text<'a>(&'a self, k: Key, pbuf: &'a str, buf: &'a str) -> Option<&'a str> {
        self.get(k).and_then(|v| v.text(pbuf, buf))
    }
    /// Overwrite with an owned copy of `src`, its spans turned into strings, reusing
    /// this entry's vector and strings where the shapes agree (an mlfid entry
    /// written over a freed one).
    pub fn assign_resolved(&mut self, src: &Fail, pbuf: &str, buf: &str) {
        self.1 = src.1;
        self.2 = src.2;
        let old = self.0.len();
        for (i, (k, v)) in src.0.iter().enumerate() {
            let text = || v.text(pbuf, buf).unwrap_or_default();
            if i >= old {
                let v = match v {
                    Val::At { .. } => Val::Str(text().to_string()),
                    v => v.clone(),
                };
                self.0.push((*k, v));
                continue;
            }
            let slot = &mut self.0[i];
            slot.0 = *k;
            match (v, &mut slot.1) {
                (Val::At { .. }, Val::Str(s)) => {
                    s.clear();
                    s.push_str(text());
                }
                (Val::At { .. }, o) => *o = Val::Str(text().to_string()),
                (v, o) => o.clone_from(v),
            }
        }
        self.0.truncate(src.0.len());
    }
    /// Set `k` to `v`, a span turned into a string: an existing string value is
    /// overwritten in place (no allocation when it is long enough).
    pub fn set_resolved(&mut self, k: Key, v: &Val, pbuf: &str, buf: &str) {
        let Val::At { .. } = v else {
            return self.insert(k, v.clone());
        };
        let t = v.text(pbuf, buf).unwrap_or_default();
        match self.get_mut(k) {
            Some(Val::Str(old)) => {
                old.clear();
                old.push_str(t);
            }
            Some(old) => *old = Val::Str(t.to_string()),
            None => self.push_new(k, Val::Str(t.to_string())),
        }
    }
    pub fn entries(&self) -> impl Iterator<Item = &(Key, Val)> {
        self.0.iter()
    }
}

impl Val {
    /// The public form of the value, spans read in `bufs` (`pbuf`, `buf`).
    pub fn to_field(&self, (pbuf, buf): (&str, &str)) -> crate::FieldValue {
        use crate::FieldValue as F;
        match self {
            Val::None => F::None,
            Val::At { .. } => F::Str(self.text(pbuf, buf).unwrap_or_default().to_string()),
            Val::Str(s) => F::Str(s.clone()),
            Val::Set(s) => F::Set(s.iter().cloned().collect()),
            Val::Lines(l) => F::List(l.clone()),
            Val::Tuple(t) => F::Tuple(t.clone()),
            Val::Int(i) => F::Int(*i),
        }
    }
}

/// fail2ban's `users` bookkeeping: every distinct user of a connection (the name
/// is copied only when new to the set).
pub(crate) fn add_user(fail: &mut Fail, user: Option<&str>) {
    if let Some(u) = user {
        match fail.get_mut(USERS) {
            Some(Val::Set(s)) => {
                if !s.contains(u) {
                    s.insert(u.to_string());
                }
            }
            _ => {
                fail.insert(USERS, Val::Set(BTreeSet::from([u.to_string()])));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_keys_are_numbered_by_their_place_in_the_table() {
        for (i, k) in KNOWN.iter().enumerate() {
            assert_eq!(usize::from(k.1), i, "{}", k.0);
            let l = Key::lookup(k.0).unwrap();
            assert!(l == **k && l.1 == k.1, "{}", k.0);
        }
    }

    /// Lookups answered from the presence bits agree with a scan, keys sharing the
    /// last bit included, through inserts and removes in both entry orders.
    #[test]
    fn presence_bits_agree_with_the_entries() {
        let keys: Vec<Key> = (0..80)
            .map(|i| Key::intern(&format!("presence_test_{i}")))
            .chain(KNOWN.iter().map(|k| **k))
            .collect();
        for ordered in [false, true] {
            let mut f = Fail::new();
            f.1 = ordered;
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            for step in 0..5_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let k = keys[(x % keys.len() as u64) as usize];
                if x & (1 << 40) == 0 {
                    f.insert(k, Val::Int(step));
                } else {
                    f.remove(k);
                }
                for k in &keys {
                    let scan = f.0.iter().find(|(n, _)| n == k).map(|(_, v)| v);
                    assert_eq!(f.get(*k), scan, "{k:?} after step {step}");
                }
                if step % 97 == 0 {
                    f.clear();
                    f.1 = ordered;
                }
            }
        }
    }
}
