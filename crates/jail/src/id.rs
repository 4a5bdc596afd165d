//! Failure ids and address parsing.
//!
//! A failure id is what fail2ban keys its tickets on: usually an address (`<HOST>`),
//! sometimes a subnet (a captured CIDR) or an arbitrary `<F-ID>` string. Addresses are
//! parsed once into [`IpAddr`] so that a million tracked ids stay compact, and
//! IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) become plain IPv4, as fail2ban does
//! everywhere.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::JailError;

/// An address block: an address with its prefix length, host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Builds a block, clearing host bits. `prefix` is capped to the family's width.
    pub fn new(addr: IpAddr, prefix: u8) -> IpNet {
        let addr = normalize(addr);
        let (addr, prefix) = match addr {
            IpAddr::V4(a) => {
                let p = prefix.min(32);
                (IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask4(p))), p)
            }
            IpAddr::V6(a) => {
                let p = prefix.min(128);
                (IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask6(p))), p)
            }
        };
        IpNet { addr, prefix }
    }

    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// True when the block is a single address (/32 or /128).
    pub fn is_single(&self) -> bool {
        match self.addr {
            IpAddr::V4(_) => self.prefix == 32,
            IpAddr::V6(_) => self.prefix == 128,
        }
    }

    /// Whether `ip` lies inside this block (families must agree after normalising).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, normalize(ip)) {
            (IpAddr::V4(net), IpAddr::V4(a)) => u32::from(a) & mask4(self.prefix) == u32::from(net),
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                u128::from(a) & mask6(self.prefix) == u128::from(net)
            }
            _ => false,
        }
    }

    /// Whether the whole of `other` lies inside this block.
    pub fn contains_net(&self, other: &IpNet) -> bool {
        other.prefix >= self.prefix && self.contains(other.addr)
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_single() {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

impl FromStr for IpNet {
    type Err = JailError;

    /// Accepts `a.b.c.d`, `a.b.c.d/n`, `a.b.c.d/m.m.m.m`, IPv6 with or without
    /// brackets, `x::/n`, and an IPv6 netmask such as `/ffff:ffff::`.
    fn from_str(s: &str) -> Result<IpNet, JailError> {
        parse_net(s).ok_or_else(|| JailError::BadAddress(s.to_string()))
    }
}

fn mask4(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    }
}

fn mask6(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix.min(128)))
    }
}

/// Turns an IPv4-mapped IPv6 address into IPv4; other addresses are returned as they are.
pub fn normalize(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// Parses a single address (optionally in `[...]`), normalising mapped IPv6.
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let s = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    IpAddr::from_str(s).ok().map(normalize)
}

/// Prefix length of a contiguous netmask, or None when the mask has holes.
fn mask_to_prefix(mask: IpAddr) -> Option<u8> {
    let (bits, width) = match mask {
        IpAddr::V4(m) => (u128::from(u32::from(m)) << 96, 32u32),
        IpAddr::V6(m) => (u128::from(m), 128u32),
    };
    let ones = bits.leading_ones();
    if ones > width {
        return None;
    }
    // Everything after the leading ones must be zero.
    let rest = if ones == 128 { 0 } else { bits << ones };
    if rest != 0 {
        return None;
    }
    u8::try_from(ones).ok()
}

/// Parses an address or block in the forms fail2ban accepts for `ignoreip` and `unbanip`.
pub fn parse_net(s: &str) -> Option<IpNet> {
    let s = s.trim();
    let s = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    match s.split_once('/') {
        None => parse_ip(s).map(|ip| IpNet::new(ip, 128)),
        Some((addr, plen)) => {
            let addr = IpAddr::from_str(addr.trim_end_matches(']').trim_start_matches('[')).ok()?;
            let prefix = if plen.contains('.') || plen.contains(':') {
                let mask = IpAddr::from_str(plen).ok()?;
                mask_to_prefix(mask)?
            } else {
                let p: u8 = plen.parse().ok()?;
                let width = if addr.is_ipv4() { 32 } else { 128 };
                if p > width {
                    return None;
                }
                p
            };
            // A mapped address with a prefix keeps its IPv6 form, as in fail2ban
            // (only unmasked mapped addresses are turned into IPv4).
            Some(match addr {
                IpAddr::V4(a) => IpNet {
                    addr: IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask4(prefix))),
                    prefix,
                },
                IpAddr::V6(a) => IpNet {
                    addr: IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask6(prefix))),
                    prefix,
                },
            })
        }
    }
}

/// The key a jail counts failures and bans under.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailId {
    /// A single address (mapped IPv6 already turned into IPv4).
    Ip(IpAddr),
    /// A captured subnet.
    Net(IpAddrPrefix),
    /// Any other id (`<F-ID>`, a host name kept raw).
    Raw(Box<str>),
}

/// An [`IpNet`] with an ordering, for use inside [`FailId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpAddrPrefix {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl FailId {
    /// Parses failure-id text: an address, a block, or else raw text.
    pub fn parse(s: &str) -> FailId {
        if let Some(ip) = parse_ip(s) {
            return FailId::Ip(ip);
        }
        if s.contains('/') {
            if let Some(net) = parse_net(s) {
                return if net.is_single() {
                    FailId::Ip(net.addr())
                } else {
                    FailId::Net(IpAddrPrefix {
                        addr: net.addr(),
                        prefix: net.prefix(),
                    })
                };
            }
        }
        FailId::Raw(s.into())
    }

    /// The address, when the id is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            FailId::Ip(ip) => Some(*ip),
            _ => None,
        }
    }

    /// The id as a block (single addresses as /32 or /128), for containment checks.
    pub fn net(&self) -> Option<IpNet> {
        match self {
            FailId::Ip(ip) => Some(IpNet::new(*ip, 128)),
            FailId::Net(n) => Some(IpNet {
                addr: n.addr,
                prefix: n.prefix,
            }),
            FailId::Raw(_) => None,
        }
    }

    /// `inet4`, `inet6`, or empty for raw ids (the `<family>` action tag).
    pub fn family(&self) -> &'static str {
        match self {
            FailId::Ip(IpAddr::V4(_))
            | FailId::Net(IpAddrPrefix {
                addr: IpAddr::V4(_),
                ..
            }) => "inet4",
            FailId::Ip(IpAddr::V6(_))
            | FailId::Net(IpAddrPrefix {
                addr: IpAddr::V6(_),
                ..
            }) => "inet6",
            FailId::Raw(_) => "",
        }
    }
}

impl From<IpAddr> for FailId {
    fn from(ip: IpAddr) -> FailId {
        FailId::Ip(normalize(ip))
    }
}

impl fmt::Display for FailId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailId::Ip(ip) => write!(f, "{ip}"),
            FailId::Net(n) => write!(f, "{}/{}", n.addr, n.prefix),
            FailId::Raw(s) => f.write_str(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_forms() {
        // (input, expected display of the block, or None when rejected)
        let cases: &[(&str, Option<&str>)] = &[
            ("192.0.2.7", Some("192.0.2.7")),
            ("[192.0.2.7]", Some("192.0.2.7")),
            ("10.1.2.3/8", Some("10.0.0.0/8")),
            ("192.168.5.9/255.255.255.0", Some("192.168.5.0/24")),
            ("192.168.5.9/255.0.255.0", None),
            ("10.0.0.0/33", None),
            ("::ffff:192.0.2.1", Some("192.0.2.1")),
            ("2001:db8::1", Some("2001:db8::1")),
            ("[2001:db8::1]", Some("2001:db8::1")),
            ("2001:db8:1:2::5/32", Some("2001:db8::/32")),
            ("2001:db8:1:2::5/ffff:ffff::", Some("2001:db8::/32")),
            ("0.0.0.0/0", Some("0.0.0.0/0")),
            ("example.com", None),
            ("", None),
            ("1.2.3", None),
        ];
        for (input, want) in cases {
            let got = parse_net(input).map(|n| n.to_string());
            assert_eq!(got.as_deref(), *want, "input {input:?}");
        }
    }

    #[test]
    fn containment() {
        let cases: &[(&str, &str, bool)] = &[
            ("10.0.0.0/8", "10.255.1.2", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("127.0.0.1/8", "127.3.4.5", true),
            ("192.0.2.7", "192.0.2.7", true),
            ("192.0.2.7", "192.0.2.8", false),
            ("10.0.0.0/8", "::ffff:10.1.1.1", true),
            ("2001:db8::/32", "2001:db8:ffff::1", true),
            ("2001:db8::/32", "2001:db9::1", false),
            ("10.0.0.0/8", "2001:db8::1", false),
            ("0.0.0.0/0", "203.0.113.9", true),
            ("::/0", "203.0.113.9", false),
        ];
        for (net, ip, want) in cases {
            let n: IpNet = net.parse().expect("net");
            let a = parse_ip(ip).expect("ip");
            assert_eq!(n.contains(a), *want, "{ip} in {net}");
        }
    }

    #[test]
    fn fail_ids() {
        assert_eq!(
            FailId::parse("::ffff:1.2.3.4"),
            FailId::Ip("1.2.3.4".parse().unwrap())
        );
        assert_eq!(FailId::parse("1.2.3.0/24").to_string(), "1.2.3.0/24");
        assert_eq!(FailId::parse("1.2.3.4/32").to_string(), "1.2.3.4");
        assert_eq!(FailId::parse("user@host").to_string(), "user@host");
        assert_eq!(FailId::parse("1.2.3.4").family(), "inet4");
        assert_eq!(FailId::parse("::1").family(), "inet6");
        assert_eq!(FailId::parse("bob").family(), "");
    }
}
