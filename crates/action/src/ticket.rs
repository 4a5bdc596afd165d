//! What one ban is about: the [`Ticket`] and the address it bans ([`Target`]).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Address family of a ban, as fail2ban names it in `<family>` and `?family=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Inet4,
    Inet6,
}

impl Family {
    /// `inet4` or `inet6`.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Inet4 => "inet4",
            Family::Inet6 => "inet6",
        }
    }

    /// Both families, IPv4 first.
    pub const ALL: [Family; 2] = [Family::Inet4, Family::Inet6];
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A banned address or network: `192.0.2.7`, `2001:db8::1` or `198.51.100.0/24`.
///
/// The prefix is normalised (host bits cleared), and a full-length prefix prints
/// as a plain address, the way fail2ban prints `<ip>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    addr: IpAddr,
    prefix: u8,
}

/// An address that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an IP address or network: {0:?}")]
pub struct BadTarget(pub String);

impl Target {
    /// A single address.
    pub fn host(addr: IpAddr) -> Target {
        let addr = unmap(addr);
        Target {
            addr,
            prefix: max_prefix(addr),
        }
    }

    /// A network; host bits are cleared. Fails when the prefix is too long.
    pub fn network(addr: IpAddr, prefix: u8) -> Result<Target, BadTarget> {
        let addr = unmap(addr);
        if prefix > max_prefix(addr) {
            return Err(BadTarget(format!("{addr}/{prefix}")));
        }
        Ok(Target {
            addr: mask(addr, prefix),
            prefix,
        })
    }

    /// An ordering bound: `addr` with `prefix`, host bits kept (not a valid ban).
    pub(crate) fn bound(addr: IpAddr, prefix: u8) -> Target {
        Target { addr, prefix }
    }

    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn family(&self) -> Family {
        match self.addr {
            IpAddr::V4(_) => Family::Inet4,
            IpAddr::V6(_) => Family::Inet6,
        }
    }

    /// True for a single address (full-length prefix).
    pub fn is_host(&self) -> bool {
        self.prefix == max_prefix(self.addr)
    }

    /// True when `other` lies inside this network (or equals it).
    pub fn contains(&self, other: &Target) -> bool {
        if self.family() != other.family() || other.prefix < self.prefix {
            return false;
        }
        mask(other.addr, self.prefix) == self.addr
    }

    /// fail2ban's `<ip-rev>`: reversed octets (IPv4) or nibbles (IPv6), with a trailing dot.
    pub fn reversed(&self) -> String {
        match self.addr {
            IpAddr::V4(a) => {
                let o = a.octets();
                format!("{}.{}.{}.{}.", o[3], o[2], o[1], o[0])
            }
            IpAddr::V6(a) => {
                let mut s = String::with_capacity(64);
                for b in a.octets().iter().rev() {
                    s.push(hex(b & 0xf));
                    s.push('.');
                    s.push(hex(b >> 4));
                    s.push('.');
                }
                s
            }
        }
    }
}

fn hex(n: u8) -> char {
    char::from_digit(u32::from(n), 16).unwrap_or('0')
}

fn unmap(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => addr,
        },
        v4 => v4,
    }
}

fn max_prefix(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix))
            };
            IpAddr::V4(Ipv4Addr::from(bits & m))
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix))
            };
            IpAddr::V6(Ipv6Addr::from(bits & m))
        }
    }
}

impl FromStr for Target {
    type Err = BadTarget;

    fn from_str(s: &str) -> Result<Target, BadTarget> {
        let t = s.trim();
        let bad = || BadTarget(s.to_string());
        match t.split_once('/') {
            None => t.parse::<IpAddr>().map(Target::host).map_err(|_| bad()),
            Some((a, p)) => {
                let addr: IpAddr = a.parse().map_err(|_| bad())?;
                // fail2ban also accepts a dotted netmask (`/255.255.255.0`).
                let prefix = match p.parse::<u8>() {
                    Ok(n) => n,
                    Err(_) => {
                        let m: Ipv4Addr = p.parse().map_err(|_| bad())?;
                        let bits = u32::from(m);
                        if bits.leading_ones() + bits.trailing_zeros() != 32 {
                            return Err(bad());
                        }
                        bits.leading_ones() as u8
                    }
                };
                let addr = unmap(addr);
                if prefix > max_prefix(addr) {
                    return Err(bad());
                }
                Ok(Target {
                    addr: mask(addr, prefix),
                    prefix,
                })
            }
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_host() {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

impl From<IpAddr> for Target {
    fn from(a: IpAddr) -> Target {
        Target::host(a)
    }
}

/// Reverse DNS name of an address (`<ip-host>`), through the system resolver. This
/// blocks for as long as the resolver takes; call it only when an action uses the
/// tag ([`crate::CommandAction::uses_tag`]).
pub fn reverse_dns(addr: IpAddr) -> Option<String> {
    let (storage, len) = match addr {
        IpAddr::V4(a) => {
            // SAFETY: all-zero sockaddr_in is valid; fields are set below.
            let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_addr = libc::in_addr {
                s_addr: u32::from_ne_bytes(a.octets()),
            };
            let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
            // SAFETY: sockaddr_in fits in sockaddr_storage.
            unsafe { std::ptr::write(std::ptr::addr_of_mut!(ss).cast(), sin) };
            (ss, std::mem::size_of::<libc::sockaddr_in>())
        }
        IpAddr::V6(a) => {
            // SAFETY: all-zero sockaddr_in6 is valid; fields are set below.
            let mut sin6: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_addr = libc::in6_addr {
                s6_addr: a.octets(),
            };
            let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
            // SAFETY: sockaddr_in6 fits in sockaddr_storage.
            unsafe { std::ptr::write(std::ptr::addr_of_mut!(ss).cast(), sin6) };
            (ss, std::mem::size_of::<libc::sockaddr_in6>())
        }
    };
    let mut host = [0 as libc::c_char; 1025];
    // SAFETY: valid sockaddr and output buffer of the given sizes.
    let r = unsafe {
        libc::getnameinfo(
            std::ptr::addr_of!(storage).cast(),
            len as libc::socklen_t,
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        )
    };
    if r != 0 {
        return None;
    }
    // SAFETY: getnameinfo wrote a NUL-terminated string into `host`.
    let name = unsafe { std::ffi::CStr::from_ptr(host.as_ptr()) };
    name.to_str()
        .ok()
        .map(str::to_string)
        .filter(|s| !s.is_empty())
}

/// One ban as the actions see it: fail2ban's "ticket" plus the per-IP facts the
/// caller looked up (database matches and failure counts).
///
/// Every `String` here may come from a log line (written by an attacker) and is
/// treated as untrusted by every action: it never becomes shell syntax.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ticket {
    /// The banned address or network (`<ip>`).
    pub ip: Option<Target>,
    /// Failure id (`<fid>`); `None` means the same as `<ip>`.
    pub fid: Option<String>,
    /// `<failures>`.
    pub failures: u64,
    /// `<time>`: UNIX time of the last failure.
    pub time: i64,
    /// `<bantime>` in seconds; negative means permanent.
    pub bantime: i64,
    /// `<bancount>`.
    pub bancount: u64,
    /// `<matches>`: the matched log lines of this ticket.
    pub matches: Vec<String>,
    /// `<ipmatches>`: matches for the IP in every jail (from the database).
    pub ip_matches: Vec<String>,
    /// `<ipjailmatches>`: matches for the IP in this jail (from the database).
    pub ip_jail_matches: Vec<String>,
    /// `<ipfailures>` / `<ipjailfailures>`.
    pub ip_failures: Option<u64>,
    pub ip_jail_failures: Option<u64>,
    /// Captured groups (`<F-USER>` ...): name without `F-`, any case; looked up lowercased.
    pub fields: Vec<(String, String)>,
    /// `<restored>`: the ticket was restored from the database at start.
    pub restored: bool,
    /// `<ip-host>`: reverse DNS name, when the caller resolved it.
    pub ip_host: Option<String>,
    /// Any other dynamic tag (`jail.banned`, `raw-ticket` ...), untrusted.
    pub extra: Vec<(String, String)>,
}

impl Ticket {
    /// A ticket for one address with everything else empty.
    pub fn new(ip: Target) -> Ticket {
        Ticket {
            ip: Some(ip),
            ..Ticket::default()
        }
    }

    /// The family of the address (IPv4 when there is none).
    pub fn family(&self) -> Family {
        self.ip.map(|t| t.family()).unwrap_or(Family::Inet4)
    }

    /// Captured group `name` (without `F-`), compared case-insensitively.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_print() {
        let cases = [
            ("192.0.2.7", "192.0.2.7", Family::Inet4, true),
            ("198.51.100.77/24", "198.51.100.0/24", Family::Inet4, false),
            ("10.0.0.0/255.255.0.0", "10.0.0.0/16", Family::Inet4, false),
            ("2001:db8::1", "2001:db8::1", Family::Inet6, true),
            (
                "2001:db8:1:2::5/64",
                "2001:db8:1:2::/64",
                Family::Inet6,
                false,
            ),
            ("::ffff:192.0.2.1", "192.0.2.1", Family::Inet4, true),
            (" 192.0.2.9/32 ", "192.0.2.9", Family::Inet4, true),
        ];
        for (input, shown, fam, host) in cases {
            let t: Target = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(t.to_string(), shown, "{input}");
            assert_eq!(t.family(), fam, "{input}");
            assert_eq!(t.is_host(), host, "{input}");
        }
        for bad in [
            "",
            "1.2.3",
            "1.2.3.4/33",
            "::1/129",
            "10.0.0.0/255.0.255.0",
            "x",
        ] {
            assert!(bad.parse::<Target>().is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn reversed_forms() {
        let t: Target = "192.0.2.7".parse().unwrap();
        assert_eq!(t.reversed(), "7.2.0.192.");
        let t: Target = "2001:db8::1".parse().unwrap();
        let r = t.reversed();
        assert!(r.starts_with("1.0.0.0.0.0.0.0."), "{r}");
        assert!(r.ends_with("8.b.d.0.1.0.0.2."), "{r}");
        assert_eq!(r.len(), 64);
    }

    #[test]
    fn reverse_dns_of_loopback() {
        // /etc/hosts maps 127.0.0.1 on any sane system; an unassigned address has no name
        assert!(reverse_dns("127.0.0.1".parse().unwrap()).is_some());
        assert_eq!(reverse_dns("192.0.2.213".parse().unwrap()), None);
    }

    #[test]
    fn containment() {
        let net: Target = "198.51.100.0/24".parse().unwrap();
        assert!(net.contains(&"198.51.100.200".parse().unwrap()));
        assert!(!net.contains(&"198.51.101.1".parse().unwrap()));
        assert!(!net.contains(&"2001:db8::1".parse().unwrap()));
    }
}
