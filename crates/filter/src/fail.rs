//! Ticket data: the values a match's named groups give, as fail2ban types them, and
//! the shared entries the multi-line (mlfid) cache keeps.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};

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
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }
    /// [`Val::into_json`] of a copy.
    pub fn to_json(&self) -> Option<serde_json::Value> {
        use serde_json::Value as J;
        let s = |v: &String| J::String(v.clone());
        Some(match self {
            Val::None => return None,
            Val::Str(v) => s(v),
            Val::Set(v) => J::Array(v.iter().map(s).collect()),
            Val::Lines(l) => J::Array(l.iter().map(s).collect()),
            Val::Tuple(t) => J::Array(t.iter().map(|v| v.as_ref().map_or(J::Null, s)).collect()),
            Val::Int(i) => J::from(*i),
        })
    }
    /// The value as ticket data in JSON; `None` for a group that did not participate.
    pub fn into_json(self) -> Option<serde_json::Value> {
        use serde_json::Value as J;
        Some(match self {
            Val::None => return None,
            Val::Str(s) => J::String(s),
            Val::Set(s) => J::Array(s.into_iter().map(J::String).collect()),
            Val::Lines(l) => J::Array(l.into_iter().map(J::String).collect()),
            Val::Tuple(t) => J::Array(
                t.into_iter()
                    .map(|v| v.map_or(J::Null, J::String))
                    .collect(),
            ),
            Val::Int(i) => J::from(i),
        })
    }
}

/// Ticket data being built: group name to value, in a small vector (a dozen entries at
/// most; names are shared with the compiled regex, so building one does not allocate
/// names).
#[derive(Debug, Clone, Default)]
pub(crate) struct Fail(pub(crate) Vec<(Arc<str>, Val)>, pub(crate) bool);

impl Fail {
    pub fn new() -> Fail {
        Fail(Vec::with_capacity(12), false)
    }
    fn pos(&self, k: &str) -> Option<usize> {
        self.0.iter().position(|(n, _)| {
            std::ptr::eq(n.as_ptr(), k.as_ptr()) && n.len() == k.len() || &**n == k
        })
    }
    pub fn get(&self, k: &str) -> Option<&Val> {
        self.pos(k).map(|i| &self.0[i].1)
    }
    pub fn get_mut(&mut self, k: &str) -> Option<&mut Val> {
        self.pos(k).map(|i| &mut self.0[i].1)
    }
    /// Set `k`; a new name is allocated once.
    pub fn insert(&mut self, k: &str, v: Val) {
        match self.pos(k) {
            Some(i) => self.0[i].1 = v,
            None => self.0.push((Arc::from(k), v)),
        }
    }
    /// Set `k` with a shared name.
    pub fn insert_key(&mut self, k: &Arc<str>, v: Val) {
        match self.pos(k) {
            Some(i) => self.0[i].1 = v,
            None => self.0.push((Arc::clone(k), v)),
        }
    }
    /// Remove `k`. In an ordered entry (see [`crate::regex::Compiled::keep_none_all`]) the others
    /// keep their order, as a Python dict's `pop`; otherwise order does not matter
    /// and the last entry takes its place.
    pub fn remove(&mut self, k: &str) -> Option<Val> {
        let i = self.pos(k)?;
        Some(if self.1 {
            self.0.remove(i).1
        } else {
            self.0.swap_remove(i).1
        })
    }
    /// Overwrite with every entry of `other`.
    pub fn extend(&mut self, other: Fail) {
        self.1 |= other.1;
        for (k, v) in other.0 {
            self.insert_key(&k, v);
        }
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn entries(&self) -> impl Iterator<Item = &(Arc<str>, Val)> {
        self.0.iter()
    }
    pub fn into_entries(self) -> impl Iterator<Item = (Arc<str>, Val)> {
        self.0.into_iter()
    }
}

impl Val {
    /// The public form of the value.
    pub fn to_field(&self) -> crate::FieldValue {
        use crate::FieldValue as F;
        match self {
            Val::None => F::None,
            Val::Str(s) => F::Str(s.clone()),
            Val::Set(s) => F::Set(s.iter().cloned().collect()),
            Val::Lines(l) => F::List(l.clone()),
            Val::Tuple(t) => F::Tuple(t.clone()),
            Val::Int(i) => F::Int(*i),
        }
    }
}

/// Ticket data shared between the mlfid cache and the failure being built (fail2ban
/// mutates the cached entry through the failure it returns).
pub(crate) type Shared = Arc<Mutex<Fail>>;

pub(crate) fn shared(f: Fail) -> Shared {
    Arc::new(Mutex::new(f))
}

/// Lock a shared entry; a poisoned lock (a panic elsewhere) still holds usable data.
pub(crate) fn lock(s: &Shared) -> MutexGuard<'_, Fail> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// fail2ban's `users` bookkeeping: every distinct user of a connection.
pub(crate) fn add_user(fail: &mut Fail, user: Option<String>) {
    if let Some(u) = user {
        match fail.get_mut("users") {
            Some(Val::Set(s)) => {
                s.insert(u);
            }
            _ => {
                fail.insert("users", Val::Set(BTreeSet::from([u])));
            }
        }
    }
}
