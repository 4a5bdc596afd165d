//! Static tag substitution for action properties (pure).
//!
//! An action's properties are the ordered `(key, value)` pairs of its `[Definition]`
//! and `[Init]` sections plus the jail's arguments, exactly as `fail2ban-client -d`
//! prints them in `multi-set <jail> action <act> [[k, v] ...]`. [`Properties::expand`]
//! replaces every `<key>` in a hook by the key's value, recursively, preferring
//! `key?family=inet6` for IPv6, and resolving `<known/key>`, `<br>`, `<sp>`,
//! `<fq-hostname>` and `<sh-hostname>`. Tags it does not know (`<ip>`, `<F-USER>`,
//! `<matches>` ...) are left alone for the dynamic, per-ticket stage
//! ([`crate::shell`]).

use std::collections::HashMap;

use crate::ticket::Family;

/// How many nested replacements are allowed before a definition counts as looping.
const MAX_DEPTH: usize = 25;

/// Tags that are never taken from the properties: their values come from log lines
/// and are substituted per ticket only, with shell-safe quoting.
const NEVER_STATIC: &[&str] = &["matches", "ipmatches", "ipjailmatches"];

/// A substitution error: a definition refers to itself, or nests too deeply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    #[error("property <{tag}> refers to itself (through {chain})")]
    SelfReference { tag: String, chain: String },
    #[error("property <{tag}> nests more than {MAX_DEPTH} replacements deep")]
    TooDeep { tag: String },
}

/// The host names behind `<fq-hostname>` and `<sh-hostname>`, passed in so that
/// substitution stays pure. [`HostNames::local`] asks the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostNames {
    pub fq: String,
    pub short: String,
}

impl HostNames {
    /// The names of this machine: `gethostname`, and its canonical name from the
    /// resolver (falling back to the plain host name).
    pub fn local() -> HostNames {
        let short_raw = hostname().unwrap_or_else(|| "localhost".to_string());
        let fq = canonical_name(&short_raw).unwrap_or_else(|| short_raw.clone());
        let short = short_raw
            .split('.')
            .next()
            .unwrap_or(&short_raw)
            .to_string();
        HostNames { fq, short }
    }
}

fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that much.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8(buf[..end].to_vec())
        .ok()
        .filter(|s| !s.is_empty())
}

fn canonical_name(host: &str) -> Option<String> {
    let c_host = std::ffi::CString::new(host).ok()?;
    // SAFETY: plain getaddrinfo call with a zeroed hints struct; the result list is
    // read only while valid and freed once.
    unsafe {
        let mut hints: libc::addrinfo = std::mem::zeroed();
        hints.ai_flags = libc::AI_CANONNAME;
        hints.ai_socktype = libc::SOCK_STREAM;
        let mut res: *mut libc::addrinfo = std::ptr::null_mut();
        if libc::getaddrinfo(c_host.as_ptr(), std::ptr::null(), &hints, &mut res) != 0
            || res.is_null()
        {
            return None;
        }
        let name = if (*res).ai_canonname.is_null() {
            None
        } else {
            std::ffi::CStr::from_ptr((*res).ai_canonname)
                .to_str()
                .ok()
                .map(str::to_string)
        };
        libc::freeaddrinfo(res);
        name.filter(|s| !s.is_empty())
    }
}

/// An action's ordered property list. A key defined twice keeps both values: the
/// last one is the value, the earlier one is what `<known/key>` sees.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    items: Vec<(String, String)>,
}

impl Properties {
    pub fn new(items: Vec<(String, String)>) -> Properties {
        Properties { items }
    }

    /// The pairs, in order.
    pub fn items(&self) -> &[(String, String)] {
        &self.items
    }

    /// The value of `key` (its last definition).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.items
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `key` for `family`: `key?family=inet6` when present, else `key`.
    pub fn get_for(&self, key: &str, family: Option<Family>) -> Option<&str> {
        if let Some(f) = family {
            let cond = format!("{key}?family={}", f.as_str());
            if let Some(v) = self.get(&cond) {
                return Some(v);
            }
        }
        self.get(key)
    }

    /// A boolean flag the way fail2ban reads them (`1`, `true`, `yes`, `on`).
    pub fn flag(&self, key: &str) -> Option<bool> {
        self.get(key).map(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        })
    }

    /// True when any key has a `?family=` variant.
    pub fn has_family_variants(&self) -> bool {
        self.items.iter().any(|(k, _)| k.contains("?family="))
    }

    /// `<known/key>`: an explicit `known/key` property, else an earlier definition of
    /// `key` in the list.
    fn known(&self, key: &str) -> Option<&str> {
        if let Some(v) = self.get(&format!("known/{key}")) {
            return Some(v);
        }
        let mut defs = self.items.iter().rev().filter(|(k, _)| k == key);
        defs.next()?;
        defs.next().map(|(_, v)| v.as_str())
    }

    /// Substitute static tags in `text` for `family` (None: no conditional variants).
    pub fn expand(
        &self,
        text: &str,
        family: Option<Family>,
        host: &HostNames,
    ) -> Result<String, TagError> {
        let mut ctx = Expander {
            props: self,
            family,
            host,
            memo: HashMap::new(),
            stack: Vec::new(),
        };
        ctx.expand_text(text)
    }

    /// Fully substituted value of one property (for reading settings such as `port`).
    pub fn resolved(
        &self,
        key: &str,
        family: Option<Family>,
        host: &HostNames,
    ) -> Result<Option<String>, TagError> {
        let mut ctx = Expander {
            props: self,
            family,
            host,
            memo: HashMap::new(),
            stack: Vec::new(),
        };
        ctx.resolve(key)
    }
}

struct Expander<'a> {
    props: &'a Properties,
    family: Option<Family>,
    host: &'a HostNames,
    memo: HashMap<String, Option<String>>,
    stack: Vec<String>,
}

impl Expander<'_> {
    fn expand_text(&mut self, text: &str) -> Result<String, TagError> {
        let mut cur = text.to_string();
        for _ in 0..=MAX_DEPTH {
            if !cur.contains('<') {
                return Ok(cur);
            }
            let next = self.one_pass(&cur)?;
            if next == cur {
                return Ok(next);
            }
            cur = next;
        }
        Err(TagError::TooDeep {
            tag: text.chars().take(60).collect(),
        })
    }

    fn one_pass(&mut self, text: &str) -> Result<String, TagError> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some((before, name, after)) = next_tag(rest) {
            out.push_str(before);
            match self.resolve(name)? {
                Some(v) => out.push_str(&v),
                None => {
                    out.push('<');
                    out.push_str(name);
                    out.push('>');
                }
            }
            rest = after;
        }
        out.push_str(rest);
        Ok(out)
    }

    fn resolve(&mut self, name: &str) -> Result<Option<String>, TagError> {
        if let Some(v) = self.memo.get(name) {
            return Ok(v.clone());
        }
        if self.stack.iter().any(|s| s == name) {
            return Err(TagError::SelfReference {
                tag: name.to_string(),
                chain: self.stack.join(" -> "),
            });
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(TagError::TooDeep {
                tag: name.to_string(),
            });
        }
        let raw: Option<String> = if NEVER_STATIC.contains(&name) {
            None
        } else if let Some(v) = self.props.get_for(name, self.family) {
            Some(v.to_string())
        } else if let Some(k) = name.strip_prefix("known/") {
            self.props.known(k).map(str::to_string)
        } else {
            match name {
                "br" => Some("\n".to_string()),
                "sp" => Some(" ".to_string()),
                "fq-hostname" => Some(self.host.fq.clone()),
                "sh-hostname" => Some(self.host.short.clone()),
                _ => None,
            }
        };
        let value = match raw {
            None => None,
            Some(v) => {
                self.stack.push(name.to_string());
                let r = self.expand_text(&v);
                self.stack.pop();
                Some(r?)
            }
        };
        self.memo.insert(name.to_string(), value.clone());
        Ok(value)
    }
}

/// Find the next `<name>` (name without spaces or angle brackets) in `s`:
/// `(text before, name, text after)`.
pub(crate) fn next_tag(s: &str) -> Option<(&str, &str, &str)> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'<' {
            if let Some(end) = tag_end(b, i) {
                return Some((&s[..i], &s[i + 1..end], &s[end + 1..]));
            }
        }
        i += 1;
    }
    None
}

/// If a tag starts at `i` (`b[i] == '<'`), the index of its closing `>`.
pub(crate) fn tag_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'>' => return if j > i + 1 { Some(j) } else { None },
            b'<' | b' ' => return None,
            _ => j += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostNames {
        HostNames {
            fq: "gate.example.org".into(),
            short: "gate".into(),
        }
    }

    fn props(pairs: &[(&str, &str)]) -> Properties {
        Properties::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn table_of_substitutions() {
        let p = props(&[
            (
                "actionban",
                "<iptables> -I f2b-<name> 1 -s <ip> -j <blocktype>",
            ),
            ("name", "sshd"),
            ("blocktype", "REJECT --reject-with icmp-port-unreachable"),
            ("lockingopt", "-w"),
            ("iptables", "iptables <lockingopt>"),
            (
                "blocktype?family=inet6",
                "REJECT --reject-with icmp6-port-unreachable",
            ),
            ("iptables?family=inet6", "ip6tables <lockingopt>"),
            ("type", "multiport"),
            ("match-multiport", "dport <port>"),
            ("match", "<match-<type>>"),
            ("port", "ssh"),
            ("chain", "INPUT"),
            ("chain", "<known/chain>-x"),
            ("note", "a<br>b<sp>c on <fq-hostname>/<sh-hostname>"),
            ("m", "<matches> <F-USER> <unknown>"),
        ]);
        let h = host();
        let cases: &[(&str, Option<Family>, &str)] = &[
            (
                "<actionban>",
                Some(Family::Inet4),
                "iptables -w -I f2b-sshd 1 -s <ip> -j REJECT --reject-with icmp-port-unreachable",
            ),
            (
                "<actionban>",
                Some(Family::Inet6),
                "ip6tables -w -I f2b-sshd 1 -s <ip> -j REJECT --reject-with icmp6-port-unreachable",
            ),
            (
                "<actionban>",
                None,
                "iptables -w -I f2b-sshd 1 -s <ip> -j REJECT --reject-with icmp-port-unreachable",
            ),
            ("<match>", None, "dport ssh"),
            ("<chain>", None, "INPUT-x"),
            ("<note>", None, "a\nb c on gate.example.org/gate"),
            ("<m>", None, "<matches> <F-USER> <unknown>"),
            ("no tags here", None, "no tags here"),
            ("< spaced >", None, "< spaced >"),
            ("<<name>>", None, "<sshd>"),
        ];
        for (input, fam, want) in cases {
            assert_eq!(p.expand(input, *fam, &h).unwrap(), *want, "{input} {fam:?}");
        }
    }

    #[test]
    fn loops_are_errors() {
        let h = host();
        let p = props(&[("a", "x<b>"), ("b", "y<a>")]);
        assert!(matches!(
            p.expand("<a>", None, &h),
            Err(TagError::SelfReference { .. })
        ));
        let p = props(&[("a", "<a>")]);
        assert!(p.expand("<a>", None, &h).is_err());
        // a known/ tag without an earlier definition stays as it is
        let p = props(&[("chain", "<known/chain>")]);
        assert_eq!(
            p.expand("-A <chain>", None, &h).unwrap(),
            "-A <known/chain>"
        );
    }

    #[test]
    fn flags() {
        let p = props(&[("norestored", "1"), ("x", "false"), ("y", " Yes ")]);
        assert_eq!(p.flag("norestored"), Some(true));
        assert_eq!(p.flag("x"), Some(false));
        assert_eq!(p.flag("y"), Some(true));
        assert_eq!(p.flag("z"), None);
    }
}
