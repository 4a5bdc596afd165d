//! Turning captured address text into the failure id fail2ban reports.
//!
//! fail2ban parses the `ip4`/`ip6` capture as an address (with `cidr` as prefix
//! length), prints it back in canonical form, turns IPv4-mapped IPv6 into IPv4, and
//! keeps text that does not parse unchanged.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Address family a capture came from (fail2ban parses each with its own family).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
    /// Try IPv4, then IPv6.
    Any,
}

/// Canonical IPv6 text as the C library's `inet_ntop` prints it.
fn ntop6(a: &Ipv6Addr) -> String {
    let s = a.segments();
    if s[..6].iter().all(|&w| w == 0) && s[6] != 0 {
        let o = a.octets();
        return format!("::{}.{}.{}.{}", o[12], o[13], o[14], o[15]);
    }
    a.to_string()
}

/// `text` as fail2ban's `IPAddr(text, cidr)` prints it. `cidr` is the prefix length if
/// one was captured. Text that is not an address comes back unchanged.
pub fn canonical(text: &str, family: Family, cidr: Option<i64>) -> String {
    if matches!(family, Family::V4 | Family::Any) {
        if let Ok(a) = text.parse::<Ipv4Addr>() {
            if cidr.is_none_or(|c| !(0..32).contains(&c)) {
                // The parser takes only the canonical dotted quad (no leading zeros,
                // four parts), so the text is already what inet_ntop would print.
                return text.to_string();
            }
            let mut v = u32::from(a);
            let mut plen = 32i64;
            if let Some(c) = cidr {
                if c >= 0 {
                    let mask = if c >= 32 { u32::MAX } else { !(u32::MAX >> c) };
                    v &= mask;
                    plen = c;
                }
            }
            let mut s = Ipv4Addr::from(v).to_string();
            if plen > 0 && plen < 32 {
                s.push_str(&format!("/{plen}"));
            }
            return s;
        }
    }
    if matches!(family, Family::V6 | Family::Any) {
        if let Ok(a) = text.parse::<Ipv6Addr>() {
            match cidr {
                Some(c) if c >= 0 => {
                    let v = u128::from(a);
                    let mask = if c >= 128 {
                        u128::MAX
                    } else {
                        !(u128::MAX >> c)
                    };
                    let mut s = ntop6(&Ipv6Addr::from(v & mask));
                    if c > 0 && c < 128 {
                        s.push_str(&format!("/{c}"));
                    }
                    return s;
                }
                _ => {
                    if let Some(v4) = a.to_ipv4_mapped() {
                        return v4.to_string();
                    }
                    return ntop6(&a);
                }
            }
        }
    }
    text.to_string()
}

/// fail2ban's `IPAddr(text)` without a family: brackets dropped, `/len` or `/mask`
/// honoured; anything else stays as it is.
pub fn canonical_any(text: &str) -> String {
    let t = if text.len() > 2 && text.starts_with('[') && text.ends_with(']') {
        &text[1..text.len() - 1]
    } else {
        text
    };
    if let Some((ip, plen)) = t.split_once('/') {
        let len = if plen.contains('.') || plen.contains(':') {
            mask_len(plen)
        } else {
            plen.parse::<i64>().ok()
        };
        return match len {
            Some(l) => canonical(ip, Family::Any, Some(l)),
            None => t.to_string(),
        };
    }
    canonical(t, Family::Any, None)
}

fn mask_len(mask: &str) -> Option<i64> {
    if let Ok(a) = mask.parse::<Ipv4Addr>() {
        let v = u32::from(a);
        return (v.leading_ones() + v.trailing_zeros() == 32).then_some(v.leading_ones() as i64);
    }
    if let Ok(a) = mask.parse::<Ipv6Addr>() {
        let v = u128::from(a);
        return (v.leading_ones() + v.trailing_zeros() == 128).then_some(v.leading_ones() as i64);
    }
    None
}

/// fail2ban's `searchIP`: the whole text is an IPv4 or (optionally bracketed) IPv6
/// address. Returns the address text.
pub fn search_ip(text: &str) -> Option<&str> {
    if text.parse::<Ipv4Addr>().is_ok() {
        return Some(text);
    }
    let t = text.strip_prefix('[').unwrap_or(text);
    let t = t.strip_suffix(']').unwrap_or(t);
    if t.parse::<Ipv6Addr>().is_ok() && t.contains(':') {
        return Some(t);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        let cases: &[(&str, Family, Option<i64>, &str)] = &[
            ("192.0.2.1", Family::V4, None, "192.0.2.1"),
            ("192.0.2.77", Family::V4, Some(24), "192.0.2.0/24"),
            ("192.0.2.77", Family::V4, Some(32), "192.0.2.77"),
            ("999.1.2.3", Family::V4, None, "999.1.2.3"),
            // Leading zeros: not an address for inet_pton either; kept as text.
            ("010.0.0.1", Family::V4, None, "010.0.0.1"),
            ("010.0.0.1", Family::V4, Some(8), "010.0.0.1"),
            ("2001:DB8:0:0::1", Family::V6, None, "2001:db8::1"),
            ("::ffff:192.0.2.1", Family::V6, None, "192.0.2.1"),
            ("::ffff:c000:0201", Family::V6, None, "192.0.2.1"),
            ("2001:db8::77", Family::V6, Some(64), "2001:db8::/64"),
            ("::1", Family::V6, None, "::1"),
            ("::102:304", Family::V6, None, "::1.2.3.4"),
            ("1:0:0:0:0:0:0:8", Family::V6, None, "1::8"),
            ("1:0:2:3:4:5:6:7", Family::V6, None, "1:0:2:3:4:5:6:7"),
        ];
        for (text, fam, cidr, want) in cases {
            assert_eq!(canonical(text, *fam, *cidr), *want, "{text} {cidr:?}");
        }
    }

    #[test]
    fn canonical_without_family() {
        assert_eq!(canonical_any("[2001:db8::1]"), "2001:db8::1");
        assert_eq!(canonical_any("10.1.2.3/8"), "10.0.0.0/8");
        assert_eq!(canonical_any("10.1.2.3/255.255.0.0"), "10.1.0.0/16");
        assert_eq!(canonical_any("user@example"), "user@example");
    }

    #[test]
    fn numbers_are_not_names() {
        use crate::ambiguity::is_resolvable_name as resolvable_name;
        assert!(resolvable_name("mail.example.com"));
        assert!(!resolvable_name("1234"));
        assert!(!resolvable_name("deadbeef"));
        assert!(!resolvable_name("10.0.0.1"));
        assert!(!resolvable_name("0x7f.1"));
        assert!(resolvable_name("cafe.de"));
        assert_eq!(search_ip("10.0.0.1"), Some("10.0.0.1"));
        assert_eq!(search_ip("[::1]"), Some("::1"));
        assert_eq!(search_ip("example.com"), None);
    }
}
