//! A small insertion-ordered map with string keys.
//!
//! fail2ban's readers iterate Python dicts, whose order is insertion order and whose
//! `update` keeps the position of an existing key. The command stream depends on that
//! order, so every map of options here keeps it too.

use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
pub struct OMap<V> {
    entries: Vec<(String, V)>,
    index: HashMap<String, usize>,
}

impl<V> Default for OMap<V> {
    fn default() -> Self {
        OMap {
            entries: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<V> OMap<V> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Insert or replace; a replaced key keeps its position.
    pub fn insert(&mut self, key: impl Into<String>, value: V) {
        let key = key.into();
        match self.index.get(&key) {
            Some(&i) => self.entries[i].1 = value,
            None => {
                self.index.insert(key.clone(), self.entries.len());
                self.entries.push((key, value));
            }
        }
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        self.index.get(key).map(|&i| &self.entries[i].1)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        match self.index.get(key) {
            Some(&i) => Some(&mut self.entries[i].1),
            None => None,
        }
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.index.contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.entries.iter().map(|(k, _)| k)
    }

    /// Remove a key, shifting later entries (rare; only used when popping call arguments).
    pub fn remove(&mut self, key: &str) -> Option<V> {
        let i = self.index.remove(key)?;
        let (_, v) = self.entries.remove(i);
        for (_, idx) in self.index.iter_mut() {
            if *idx > i {
                *idx -= 1;
            }
        }
        Some(v)
    }
}

impl<V: Clone> OMap<V> {
    /// Python `dict.update`: replaced keys keep their place, new keys go to the end.
    pub fn update(&mut self, other: &OMap<V>) {
        for (k, v) in other.iter() {
            self.insert(k.clone(), v.clone());
        }
    }
}

impl<V> FromIterator<(String, V)> for OMap<V> {
    fn from_iter<T: IntoIterator<Item = (String, V)>>(iter: T) -> Self {
        let mut m = OMap::new();
        for (k, v) in iter {
            m.insert(k, v);
        }
        m
    }
}
