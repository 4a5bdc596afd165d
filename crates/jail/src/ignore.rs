//! `ignoreip`, `ignoreself` and `ignorecache`.
//!
//! The jail never resolves names nor runs commands: DNS names in `ignoreip` are
//! resolved by the caller and handed in with [`IgnoreList::set_resolved`]; the host's
//! own addresses (for `ignoreself`) are handed in with [`IgnoreList::set_self_ips`];
//! `ignorecommand` is a question the jail asks its caller through
//! [`crate::JailHooks::ignore_command`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use crate::id::{normalize, parse_ip, parse_net, FailId, IpNet};
use crate::ticket::Time;

/// One `ignoreip` entry.
#[derive(Debug, Clone, PartialEq)]
pub enum IgnoreEntry {
    Single(IpAddr),
    Net(IpNet),
    /// A host name, with the addresses the caller resolved it to.
    Dns {
        name: String,
        addrs: Vec<IpAddr>,
    },
}

impl IgnoreEntry {
    fn text(&self) -> String {
        match self {
            IgnoreEntry::Single(ip) => ip.to_string(),
            IgnoreEntry::Net(n) => n.to_string(),
            IgnoreEntry::Dns { name, .. } => name.clone(),
        }
    }
}

/// Why an id is ignored (for the "Ignore ... by ..." log line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IgnoreSource {
    /// `ignoreself`.
    SelfIp,
    /// An address or block in `ignoreip`.
    Ip,
    /// A host name in `ignoreip`.
    Dns,
    /// `ignorecommand` said so.
    Command,
    /// A cached verdict (`ignorecache`).
    Cache,
}

impl IgnoreSource {
    /// fail2ban's wording.
    pub fn as_str(self) -> &'static str {
        match self {
            IgnoreSource::SelfIp => "ignoreself rule",
            IgnoreSource::Ip => "ip",
            IgnoreSource::Dns => "dns",
            IgnoreSource::Command => "command",
            IgnoreSource::Cache => "cache",
        }
    }
}

/// `ignoreip` and `ignoreself`.
#[derive(Debug, Clone)]
pub struct IgnoreList {
    singles: HashSet<IpAddr>,
    singles_order: Vec<IpAddr>,
    others: Vec<IgnoreEntry>,
    ignore_self: bool,
    self_ips: HashSet<IpAddr>,
}

impl Default for IgnoreList {
    fn default() -> IgnoreList {
        IgnoreList {
            singles: HashSet::new(),
            singles_order: Vec::new(),
            others: Vec::new(),
            ignore_self: true,
            self_ips: HashSet::new(),
        }
    }
}

/// What [`IgnoreList::add`] understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    Address,
    Block,
    /// A host name: resolve it and call [`IgnoreList::set_resolved`].
    HostName(String),
    /// Already in the list.
    Duplicate,
    /// Empty text.
    Nothing,
}

impl IgnoreList {
    pub fn new() -> IgnoreList {
        IgnoreList::default()
    }

    /// Parses a whole `ignoreip` value (whitespace or comma separated) and adds each part.
    pub fn add_all(&mut self, value: &str) -> Vec<Added> {
        value
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|s| !s.is_empty())
            .map(|s| self.add(s))
            .collect()
    }

    /// Adds one entry: an address, a CIDR or netmask block, or a host name.
    pub fn add(&mut self, spec: &str) -> Added {
        let spec = spec.trim();
        if spec.is_empty() {
            return Added::Nothing;
        }
        if let Some(ip) = parse_ip(spec) {
            if !self.singles.insert(ip) {
                return Added::Duplicate;
            }
            self.singles_order.push(ip);
            return Added::Address;
        }
        if let Some(net) = parse_net(spec) {
            if net.is_single() {
                return self.add(&net.addr().to_string());
            }
            let e = IgnoreEntry::Net(net);
            if self.others.contains(&e) {
                return Added::Duplicate;
            }
            self.others.push(e);
            return Added::Block;
        }
        if self
            .others
            .iter()
            .any(|e| matches!(e, IgnoreEntry::Dns { name, .. } if name == spec))
        {
            return Added::Duplicate;
        }
        self.others.push(IgnoreEntry::Dns {
            name: spec.to_string(),
            addrs: Vec::new(),
        });
        Added::HostName(spec.to_string())
    }

    /// Sets the addresses a host name entry resolves to (refresh them as DNS changes).
    pub fn set_resolved(&mut self, name: &str, addrs: &[IpAddr]) {
        for e in &mut self.others {
            if let IgnoreEntry::Dns { name: n, addrs: a } = e {
                if n == name {
                    *a = addrs.iter().copied().map(normalize).collect();
                }
            }
        }
    }

    /// The host names that need resolving.
    pub fn host_names(&self) -> Vec<&str> {
        self.others
            .iter()
            .filter_map(|e| match e {
                IgnoreEntry::Dns { name, .. } => Some(name.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Removes an entry given in the same text form it was added (`delignoreip`).
    /// Returns false when it was not there.
    pub fn remove(&mut self, spec: &str) -> bool {
        let spec = spec.trim();
        if let Some(ip) = parse_ip(spec) {
            if self.singles.remove(&ip) {
                self.singles_order.retain(|x| *x != ip);
                return true;
            }
            return false;
        }
        let before = self.others.len();
        match parse_net(spec) {
            Some(net) => self.others.retain(|e| *e != IgnoreEntry::Net(net)),
            None => self
                .others
                .retain(|e| !matches!(e, IgnoreEntry::Dns { name, .. } if name == spec)),
        }
        before != self.others.len()
    }

    /// Empties `ignoreip` (not the self addresses).
    pub fn clear(&mut self) {
        self.singles.clear();
        self.singles_order.clear();
        self.others.clear();
    }

    /// The entries as `get <jail> ignoreip` lists them: blocks and names first, then
    /// single addresses.
    pub fn entries(&self) -> Vec<String> {
        self.others
            .iter()
            .map(IgnoreEntry::text)
            .chain(self.singles_order.iter().map(|ip| ip.to_string()))
            .collect()
    }

    pub fn ignore_self(&self) -> bool {
        self.ignore_self
    }
    pub fn set_ignore_self(&mut self, v: bool) {
        self.ignore_self = v;
    }

    /// The host's own addresses (from resolving `localhost`, the host name and FQDN).
    pub fn set_self_ips(&mut self, ips: &[IpAddr]) {
        self.self_ips = ips.iter().copied().map(normalize).collect();
    }

    /// Checks `ignoreself` then `ignoreip`. Raw (non-address) ids never match.
    pub fn check(&self, id: &FailId) -> Option<IgnoreSource> {
        let net = id.net()?;
        if let FailId::Ip(ip) = id {
            if self.ignore_self && self.self_ips.contains(ip) {
                return Some(IgnoreSource::SelfIp);
            }
            if self.singles.contains(ip) {
                return Some(IgnoreSource::Ip);
            }
        }
        for e in &self.others {
            match e {
                IgnoreEntry::Net(n) if n.contains_net(&net) => return Some(IgnoreSource::Ip),
                IgnoreEntry::Dns { addrs, .. } => {
                    if let FailId::Ip(ip) = id {
                        if addrs.contains(ip) {
                            return Some(IgnoreSource::Dns);
                        }
                    }
                }
                _ => {}
            }
        }
        None
    }
}

/// `ignorecache`: remembers verdicts per rendered key, FIFO with a size and an age limit.
#[derive(Debug, Clone)]
pub struct IgnoreCache {
    key: String,
    max_count: usize,
    max_time: f64,
    map: HashMap<String, (bool, Time, u64)>,
    order: BTreeMap<u64, String>,
    seq: u64,
}

impl IgnoreCache {
    /// `key` is the template (default `<ip>`), `max_count` (default 100), `max_time`
    /// seconds (default 300).
    pub fn new(key: &str, max_count: usize, max_time: f64) -> IgnoreCache {
        IgnoreCache {
            key: key.to_string(),
            max_count,
            max_time,
            map: HashMap::new(),
            order: BTreeMap::new(),
            seq: 0,
        }
    }

    /// Parses the option value `key="<ip>", max-count=100, max-time=5m`. `to_seconds`
    /// converts fail2ban time strings (the config crate's `str2seconds`).
    pub fn parse(
        value: &str,
        to_seconds: impl Fn(&str) -> Option<f64>,
    ) -> Result<IgnoreCache, crate::JailError> {
        let bad = |message: String| crate::JailError::BadOption {
            option: "ignorecache".into(),
            value: value.to_string(),
            message,
        };
        let mut key = "<ip>".to_string();
        let mut max_count = 100usize;
        let mut max_time = 300.0;
        for part in split_options(value) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| bad(format!("expected name=value, got {part:?}")))?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
                .unwrap_or(v);
            match k.trim() {
                "key" => key = v.to_string(),
                "max-count" => {
                    max_count = v
                        .parse()
                        .map_err(|_| bad(format!("max-count {v:?} is not a number")))?
                }
                "max-time" => {
                    max_time =
                        to_seconds(v).ok_or_else(|| bad(format!("max-time {v:?} is not a time")))?
                }
                other => return Err(bad(format!("unknown parameter {other:?}"))),
            }
        }
        Ok(IgnoreCache::new(&key, max_count, max_time))
    }

    pub fn key_template(&self) -> &str {
        &self.key
    }
    pub fn max_count(&self) -> usize {
        self.max_count
    }
    pub fn max_time(&self) -> f64 {
        self.max_time
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The cached verdict for `key`, if any and not expired.
    pub fn get(&mut self, key: &str, now: Time) -> Option<bool> {
        let (v, expires, seq) = *self.map.get(key)?;
        if expires > now {
            return Some(v);
        }
        self.map.remove(key);
        self.order.remove(&seq);
        None
    }

    /// Stores a verdict. When full, the oldest entries go first (expired ones all go).
    pub fn set(&mut self, key: &str, v: bool, now: Time) {
        if let Some(e) = self.map.get_mut(key) {
            e.0 = v;
            e.1 = now + self.max_time;
            return;
        }
        if self.map.len() >= self.max_count {
            while let Some((seq, k)) = self.order.pop_first() {
                let expires = self.map.remove(&k).map(|e| e.1).unwrap_or(0.0);
                let _ = seq;
                if expires > now && self.map.len() < self.max_count {
                    break;
                }
            }
        }
        self.seq += 1;
        self.order.insert(self.seq, key.to_string());
        self.map
            .insert(key.to_string(), (v, now + self.max_time, self.seq));
    }
}

/// Splits `a="x, y", b=2` at commas outside quotes.
fn split_options(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut quote: Option<char> = None;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ',') => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignoreip_table() {
        let mut l = IgnoreList::new();
        let added = l.add_all("127.0.0.1/8 ::1, 192.168.1.0/255.255.255.0 203.0.113.5 gw.example");
        assert_eq!(
            added,
            vec![
                Added::Block,
                Added::Address,
                Added::Block,
                Added::Address,
                Added::HostName("gw.example".into())
            ]
        );
        l.set_resolved("gw.example", &["198.51.100.7".parse().unwrap()]);
        let cases: &[(&str, Option<IgnoreSource>)] = &[
            ("127.0.0.1", Some(IgnoreSource::Ip)),
            ("127.200.0.1", Some(IgnoreSource::Ip)),
            ("::1", Some(IgnoreSource::Ip)),
            ("::2", None),
            ("192.168.1.77", Some(IgnoreSource::Ip)),
            ("192.168.2.1", None),
            ("203.0.113.5", Some(IgnoreSource::Ip)),
            ("::ffff:203.0.113.5", Some(IgnoreSource::Ip)),
            ("203.0.113.6", None),
            ("198.51.100.7", Some(IgnoreSource::Dns)),
            ("192.168.1.0/28", Some(IgnoreSource::Ip)),
            ("192.168.0.0/16", None),
            ("someuser", None),
        ];
        for (id, want) in cases {
            assert_eq!(l.check(&FailId::parse(id)), *want, "{id}");
        }
        assert_eq!(l.add("::1"), Added::Duplicate);
        assert_eq!(
            l.entries(),
            [
                "127.0.0.0/8",
                "192.168.1.0/24",
                "gw.example",
                "::1",
                "203.0.113.5"
            ]
        );
        assert!(l.remove("192.168.1.0/24"));
        assert!(!l.remove("192.168.1.0/24"));
        assert_eq!(l.check(&FailId::parse("192.168.1.77")), None);
    }

    #[test]
    fn ignoreself() {
        let mut l = IgnoreList::new();
        l.set_self_ips(&[
            "10.1.1.1".parse().unwrap(),
            "::ffff:10.2.2.2".parse().unwrap(),
        ]);
        assert_eq!(
            l.check(&FailId::parse("10.1.1.1")),
            Some(IgnoreSource::SelfIp)
        );
        assert_eq!(
            l.check(&FailId::parse("10.2.2.2")),
            Some(IgnoreSource::SelfIp)
        );
        l.set_ignore_self(false);
        assert_eq!(l.check(&FailId::parse("10.1.1.1")), None);
    }

    #[test]
    fn cache_fifo_and_expiry() {
        let mut c = IgnoreCache::new("<ip>", 2, 10.0);
        c.set("a", true, 0.0);
        c.set("b", false, 1.0);
        assert_eq!(c.get("a", 5.0), Some(true));
        assert_eq!(c.get("b", 5.0), Some(false));
        c.set("c", true, 5.0); // full: "a" (oldest) goes
        assert_eq!(c.get("a", 5.0), None);
        assert_eq!(c.get("b", 5.0), Some(false));
        assert_eq!(c.get("b", 11.0), None, "expired");
        assert_eq!(c.get("c", 14.9), Some(true));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn cache_option() {
        let secs = |s: &str| match s {
            "5m" => Some(300.0),
            "1h" => Some(3600.0),
            x => x.parse().ok(),
        };
        let c =
            IgnoreCache::parse(r#"key="<ip>:<F-USER>", max-count=50, max-time=1h"#, secs).unwrap();
        assert_eq!(
            (c.key_template(), c.max_count(), c.max_time()),
            ("<ip>:<F-USER>", 50, 3600.0)
        );
        let c = IgnoreCache::parse("", secs).unwrap();
        assert_eq!(
            (c.key_template(), c.max_count(), c.max_time()),
            ("<ip>", 100, 300.0)
        );
        assert!(IgnoreCache::parse("max-count=lots", secs).is_err());
        assert!(IgnoreCache::parse("colour=red", secs).is_err());
    }
}
