//! Can attacker-written text have supplied the address a failregex captured?
//!
//! Log lines carry text the attacker chose (user names, URLs, user agents, HELO names,
//! SIP caller ids). When that text holds an address in the right shape, a regex may
//! capture it instead of the address the daemon wrote, and the jail would ban a
//! bystander. This module decides, for one match, which addresses the line can be
//! read with:
//!
//! 1. [`address_tokens`] finds every address-like token of the buffer the regex saw:
//!    dotted quads (also inside `::ffff:`, brackets, `addr:port`), IPv6 text, and,
//!    when `<HOST>` accepts host names, numbers a resolver turns into addresses
//!    (`3405803842`, `0xcb007142`, `0313.0.0.1`) and resolvable names.
//! 2. For each token other than the captured one (and not the same address), a
//!    *probe*: the token's text is replaced by a sentinel, and a variant of the regex
//!    whose `ip4`/`ip6`/`dns` groups match only that sentinel is run on the result. A
//!    hit means the regex can read the line with that token as the host. In the
//!    variant, the groups the attacker fills outright (`<F-USER>`, `<F-ALT_USER…>`)
//!    also accept any text: a stock regex that cannot read the true line at all
//!    (its user group excludes ` from `, say) would otherwise find no second reading
//!    of a line whose user name holds a `from <address>` of its own.
//!
//! A line with more than one such address is ambiguous: the filter reports it
//! instead of a failure (see `LineResult::ambiguous` in the crate root). Only lines
//! that matched and hold a second address-like token pay for probes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pcre2::bytes::{CaptureLocations, Regex, RegexBuilder};

/// A line with more distinct address-like tokens than this is ambiguous without
/// probing each (bounds the work a hostile line can cause).
pub const MAX_PROBED_TOKENS: usize = 32;

/// What shape of address text a token has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TokenKind {
    /// A dotted quad (`192.0.2.1`, also with leading zeros).
    V4,
    /// IPv6 text (`2001:db8::1`, `::ffff:c000:201`).
    V6,
    /// A number a resolver reads as an IPv4 address (`3405803842`, `0xcb007142`,
    /// `203.0.29250`): only when host names are accepted.
    Numeric,
    /// A host name with a letter and a dot: only when host names are accepted.
    Name,
}

impl TokenKind {
    fn sentinel(self) -> char {
        match self {
            TokenKind::V4 => '\u{E004}',
            TokenKind::V6 => '\u{E006}',
            TokenKind::Numeric => '\u{E00E}',
            TokenKind::Name => '\u{E00D}',
        }
    }
    fn bit(self) -> u8 {
        match self {
            TokenKind::V4 => 1,
            TokenKind::V6 => 2,
            TokenKind::Numeric => 4,
            TokenKind::Name => 8,
        }
    }
}

/// One address-like token of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressToken {
    /// Byte span in the buffer.
    pub start: usize,
    pub end: usize,
    pub kind: TokenKind,
    /// What a ban on this token would hit: the address in canonical form (IPv4-mapped
    /// IPv6 as IPv4, numbers as the IPv4 address a resolver makes of them), or the
    /// lowercased name.
    pub address: String,
}

impl AddressToken {
    fn key(&self) -> Key {
        key_of(&self.address)
    }
}

/// Comparable identity of an address (text forms differ: `::ffff:1.2.3.4`, `1.2.3.4`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    Ip(IpAddr),
    Text(String),
}

fn key_of(text: &str) -> Key {
    let t = text.trim_start_matches('[').trim_end_matches(']');
    let t = t.split_once('/').map_or(t, |(a, _)| a);
    if let Ok(a) = t.parse::<Ipv4Addr>() {
        return Key::Ip(IpAddr::V4(a));
    }
    if let Ok(a) = t.parse::<Ipv6Addr>() {
        return Key::Ip(match a.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(a),
        });
    }
    if let Some(a) = inet_aton(t) {
        return Key::Ip(IpAddr::V4(a));
    }
    Key::Text(t.to_ascii_lowercase())
}

/// The IPv4 address the C library's `inet_aton` (and so `getaddrinfo`) makes of
/// `text`: one to four parts, each decimal, octal (leading `0`) or hex (`0x`), the last
/// part filling the remaining bytes. None when it is no such number.
pub fn inet_aton(text: &str) -> Option<Ipv4Addr> {
    // Every part starts with a digit (`0x`, a leading `0` or a decimal): a word
    // is rejected before any work (most tokens of a line are words).
    if !text.as_bytes().first().is_some_and(u8::is_ascii_digit) || text.len() > 64 {
        return None;
    }
    if text.bytes().filter(|&b| b == b'.').count() > 3 {
        return None;
    }
    let mut vals = [0u64; 4];
    let mut n = 0;
    for p in text.split('.') {
        let v = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
            // `0x` without a hex digit is no number (glibc).
            if !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()) && h.len() <= 8 {
                u64::from_str_radix(h, 16).ok()?
            } else {
                return None;
            }
        } else if p.len() > 1 && p.starts_with('0') {
            if p.bytes().all(|b| (b'0'..=b'7').contains(&b)) && p.len() <= 12 {
                u64::from_str_radix(p, 8).ok()?
            } else {
                return None;
            }
        } else if !p.is_empty() && p.len() <= 10 && p.bytes().all(|b| b.is_ascii_digit()) {
            p.parse::<u64>().ok()?
        } else {
            return None;
        };
        vals[n] = v;
        n += 1;
    }
    let mut out: u64 = 0;
    for (i, v) in vals[..n].iter().enumerate() {
        if i + 1 < n {
            if *v > 255 {
                return None;
            }
            out |= v << (8 * (3 - i));
        } else {
            let room = 8 * (4 - i as u32);
            if room < 64 && *v >= 1u64 << room {
                return None;
            }
            out |= v;
        }
    }
    u32::try_from(out).ok().map(Ipv4Addr::from)
}

/// A host name worth asking DNS about (`usedns = yes|warn`): it has a letter and a
/// dot, and it is not a number in disguise. `getaddrinfo("3405803842")`,
/// `getaddrinfo("0x7f.1")` and `getaddrinfo("127.1")` return addresses without asking
/// DNS, so a "name" made of numeric labels would let log text pick any address.
pub fn is_resolvable_name(name: &str) -> bool {
    let name = name.trim_end_matches('.');
    if name.is_empty()
        || name.len() > 253
        || !name.contains('.')
        || name.contains(':')
        || name.starts_with('.')
        || name.split('.').any(str::is_empty)
    {
        return false;
    }
    if inet_aton(name).is_some() {
        return false;
    }
    let numeric_label = |l: &str| {
        let hex = l.strip_prefix("0x").or_else(|| l.strip_prefix("0X"));
        match hex {
            Some(h) => h.bytes().all(|b| b.is_ascii_hexdigit()),
            None => l.bytes().all(|b| b.is_ascii_digit()),
        }
    };
    if name.split('.').all(numeric_label) {
        return false;
    }
    name.chars().any(char::is_alphabetic)
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_dns_char(c: char) -> bool {
    is_word(c) || c == '-' || c == '.' || c == '^'
}

/// Every address-like token of `buf`. `names`: also numbers a resolver reads as
/// addresses and resolvable names (the regex accepts host names).
pub fn address_tokens(buf: &str, names: bool) -> Vec<AddressToken> {
    let mut out = Vec::new();
    scan_v4(buf, &mut out);
    scan_v6(buf, &mut out);
    if names {
        scan_names(buf, &mut out);
    }
    out.sort_by_key(|t| (t.start, t.end));
    out.dedup_by(|a, b| a.start == b.start && a.end == b.end);
    out
}

/// Dotted quads: every window of four consecutive dot-separated groups of 1-3 digits
/// within a run of digits and dots.
fn scan_v4(buf: &str, out: &mut Vec<AddressToken>) {
    let b = buf.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
            i += 1;
        }
        let run = &buf[start..i];
        if !run.contains('.') {
            continue;
        }
        // Group spans within the run.
        let mut groups: Vec<(usize, usize)> = Vec::new();
        let mut gs = 0;
        for (k, c) in run.bytes().enumerate() {
            if c == b'.' {
                groups.push((gs, k));
                gs = k + 1;
            }
        }
        groups.push((gs, run.len()));
        for w in groups.windows(4) {
            if w.iter().all(|&(s, e)| e > s && e - s <= 3) {
                let (s, e) = (w[0].0, w[3].1);
                let text = &run[s..e];
                let addr = match text.parse::<Ipv4Addr>() {
                    Ok(a) => a,
                    Err(_) => match inet_aton(text) {
                        Some(a) => a,
                        None => continue,
                    },
                };
                out.push(AddressToken {
                    start: start + s,
                    end: start + e,
                    kind: TokenKind::V4,
                    address: addr.to_string(),
                });
            }
        }
    }
}

fn v6_text(a: &Ipv6Addr) -> String {
    match a.to_ipv4_mapped() {
        Some(v4) => v4.to_string(),
        None => a.to_string(),
    }
}

/// IPv6 text: within each run of hex digits and colons (two colons at least), every
/// sub-span from a group start to a group end that parses as an IPv6 address.
fn scan_v6(buf: &str, out: &mut Vec<AddressToken>) {
    let b = buf.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !(b[i].is_ascii_hexdigit() || b[i] == b':') {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && (b[i].is_ascii_hexdigit() || b[i] == b':') {
            i += 1;
        }
        // A hex run glued to a word is part of a word (`sshd2:`), not an address;
        // but let it through: the colon count below does the filtering.
        let run = &b[start..i.min(start + 64)];
        // A run that goes on with `.` holds an embedded dotted quad
        // (`::ffff:192.0.2.1`): the IPv4 scan reads that one.
        if run.iter().filter(|&&c| c == b':').count() < 2 || b.get(i) == Some(&b'.') {
            continue;
        }
        let n = run.len();
        let starts = (0..n).filter(|&p| p == 0 || run[p - 1] == b':' || run[p] == b':');
        for s in starts {
            for e in s + 2..=n {
                let at_end = e == n || run[e] == b':' || run[e - 1] == b':';
                if !at_end {
                    continue;
                }
                let text = &buf[start + s..start + e];
                if text.bytes().filter(|&c| c == b':').count() < 2 {
                    continue;
                }
                if let Ok(a) = text.parse::<Ipv6Addr>() {
                    if a.is_unspecified() {
                        continue;
                    }
                    out.push(AddressToken {
                        start: start + s,
                        end: start + e,
                        kind: TokenKind::V6,
                        address: v6_text(&a),
                    });
                }
            }
        }
    }
}

/// Runs of host-name characters ending in a word character: numbers a resolver turns
/// into addresses, and resolvable names.
fn scan_names(buf: &str, out: &mut Vec<AddressToken>) {
    let mut iter = buf.char_indices().peekable();
    while let Some((s, c)) = iter.next() {
        if !is_dns_char(c) {
            continue;
        }
        let mut e = s + c.len_utf8();
        while let Some(&(k, d)) = iter.peek() {
            if !is_dns_char(d) {
                break;
            }
            e = k + d.len_utf8();
            iter.next();
        }
        let run = buf[s..e].trim_end_matches(|c: char| !is_word(c));
        let run_s = s + (run.len() - run.trim_start_matches(['-', '.', '^']).len());
        let run = run.trim_start_matches(['-', '.', '^']);
        if run.len() < 2 {
            continue;
        }
        let run_e = run_s + run.len();
        if let Some(a) = inet_aton(run) {
            out.push(AddressToken {
                start: run_s,
                end: run_e,
                kind: TokenKind::Numeric,
                address: a.to_string(),
            });
        } else if is_resolvable_name(run) {
            out.push(AddressToken {
                start: run_s,
                end: run_e,
                kind: TokenKind::Name,
                address: run.to_ascii_lowercase(),
            });
        }
    }
}

/// Does `b` hold, outside `skip`, a dot, a `::` or seven colons (what every IPv4,
/// IPv6 or name token needs)? SIMD searches.
fn promising(b: &[u8], skip: (usize, usize)) -> bool {
    let (s0, s1) = (
        skip.0.min(b.len()),
        skip.1.min(b.len()).max(skip.0.min(b.len())),
    );
    // One pass over the whole buffer; each side of the skipped span counts alone.
    let mut colons = [0usize; 2];
    let mut last = [usize::MAX; 2];
    for i in memchr::memchr2_iter(b'.', b':', b) {
        if i >= s0 && i < s1 {
            continue;
        }
        if b[i] == b'.' {
            return true;
        }
        let side = usize::from(i >= s1);
        colons[side] += 1;
        if colons[side] >= 7 || last[side].wrapping_add(1) == i {
            return true;
        }
        last[side] = i;
    }
    false
}

/// Could `buf` hold an address-like token outside `skip` that [`address_tokens`]
/// would return as IPv4, IPv6 or (with `names`) a name? A cheap byte scan, without
/// allocating, so that ordinary lines (one address) skip the check. Numbers are not
/// looked for: they never compete with a captured address.
pub fn may_hold_other_address(
    buf: &str,
    skip: (usize, usize),
    names: bool,
    led: &dyn Fn(usize) -> bool,
) -> bool {
    let b = buf.as_bytes();
    // Fast path: an address or name needs a dot, a `::` or seven colons outside the
    // captured token (SIMD searches; most lines end here).
    if !promising(b, skip) {
        return false;
    }
    let outside = |s: usize, e: usize| e <= skip.0 || s >= skip.1;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_alphanumeric()
            || c == b':'
            || c == b'.'
            || c >= 0x80
            || c == b'_'
            || c == b'-'
        {
            let s = i;
            let (e, address_like, dotted) = run_shape(b, s, names);
            i = e;
            if outside(s, i) {
                if address_like && led(s) {
                    return true;
                }
            } else if dotted && (s < skip.0 || i > skip.1) {
                // A run that holds the captured token and more: look closer.
                return true;
            }
            continue;
        }
        i += 1;
    }
    false
}

/// Index of the `)` closing the group whose body starts at `from` (Python syntax:
/// escapes and character classes skipped).
fn group_end(re: &[char], from: usize) -> Option<usize> {
    let mut depth = 1usize;
    let mut i = from;
    while i < re.len() {
        match re[i] {
            '\\' => i += 1,
            '[' => {
                i += 1;
                if i < re.len() && re[i] == '^' {
                    i += 1;
                }
                if i < re.len() && re[i] == ']' {
                    i += 1;
                }
                while i < re.len() && re[i] != ']' {
                    if re[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// `re` with every host group (`ip4`, `ip6`, `dns`) matching only its sentinel,
/// and the token kinds those groups accept (bits of [`TokenKind::bit`]).
fn sentinel_groups(re: &str) -> Result<(String, u8), String> {
    let chars: Vec<char> = re.chars().collect();
    let mut out = String::with_capacity(re.len());
    let mut kinds = 0u8;
    let mut i = 0;
    let v4 = TokenKind::V4.sentinel();
    let v6 = TokenKind::V6.sentinel();
    let num = TokenKind::Numeric.sentinel();
    let name = TokenKind::Name.sentinel();
    while i < chars.len() {
        if chars[i] == '\\' && i + 1 < chars.len() {
            out.push(chars[i]);
            out.push(chars[i + 1]);
            i += 2;
            continue;
        }
        let head: String = chars[i..chars.len().min(i + 8)].iter().collect();
        let body = match head.as_str() {
            "(?P<ip4>" => {
                kinds |= TokenKind::V4.bit();
                Some(format!(".{v4}."))
            }
            "(?P<ip6>" => {
                kinds |= TokenKind::V6.bit();
                Some(format!(".{v6}."))
            }
            "(?P<dns>" => {
                kinds |= TokenKind::V4.bit() | TokenKind::Numeric.bit() | TokenKind::Name.bit();
                Some(format!(".[{v4}{num}{name}]."))
            }
            _ => None,
        };
        match body {
            Some(b) => {
                let close = group_end(&chars, i + 8)
                    .ok_or_else(|| format!("unbalanced host group in {re:?}"))?;
                out.push_str(&head);
                out.push_str(&b);
                out.push(')');
                i = close + 1;
            }
            None => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    Ok((out, kinds))
}

/// Is `name` a group whose text the attacker chooses outright (`<F-USER>`,
/// `<F-ALT_USER>`, `<F-ALT_USER1>`...)?
fn is_attacker_group(name: &str) -> bool {
    name == "user" || name.starts_with("alt_user")
}

/// `re` with the body `X` of every attacker-chosen group (see [`is_attacker_group`])
/// turned into `(?:X|.+?)`: the daemon writes whatever name it was sent, so the
/// field may hold any text, not only what the filter's author expected there. The
/// groups inside `X` stay, so conditionals on them (`(?(cond_user)...)`) still
/// compile; when the `.+?` branch is taken they are unset, which is what "the name
/// had another shape" means to such a conditional. In a regex that tells an invalid
/// user from a valid one with a group `cond_inv` (sshd's `Failed … for (?P<cond_inv>
/// invalid user )?NAME`), only the invalid user's name is relaxed: a valid user's
/// name is an account on the host, which the client cannot make up. `re` is one
/// regex (the scope of that group), not the joined pipeline.
fn relax_attacker_groups(re: &str) -> String {
    let chars: Vec<char> = re.chars().collect();
    let has_cond_inv = re.contains("(?P<cond_inv>");
    let mut out = String::with_capacity(re.len() + 16);
    // The `)` closing each relaxed group (char index, innermost last) and the
    // relaxed branch to put before it.
    let mut closes: Vec<(usize, &str)> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                out.push('\\');
                if let Some(&c) = chars.get(i + 1) {
                    out.push(c);
                }
                i += 2;
                continue;
            }
            '[' => {
                if let Some(e) = group_end_class(&chars, i) {
                    out.extend(&chars[i..=e]);
                    i = e + 1;
                    continue;
                }
            }
            '(' if chars[i..].starts_with(&['(', '?', 'P', '<']) => {
                let name_end = chars[i + 4..].iter().position(|&c| c == '>');
                if let Some(n) = name_end {
                    let name: String = chars[i + 4..i + 4 + n].iter().collect();
                    let body = i + 4 + n + 1;
                    if is_attacker_group(&name) {
                        if let Some(close) = group_end(&chars, body) {
                            // sshd's regexes tell an invalid user (`cond_inv`: a name
                            // the client sent) from a valid one (an account the admin
                            // made, no attacker text): only the former is relaxed.
                            let any = if has_cond_inv {
                                "|(?(cond_inv).+?|(?!))))"
                            } else {
                                "|.+?))"
                            };
                            out.extend(&chars[i..body]);
                            out.push_str("(?:");
                            closes.push((close, any));
                            i = body;
                            continue;
                        }
                    }
                }
            }
            ')' if closes.last().is_some_and(|&(c, _)| c == i) => {
                if let Some((_, any)) = closes.pop() {
                    out.push_str(any);
                }
                i += 1;
                continue;
            }
            _ => {}
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// `re` without its `^` anchors (unescaped, outside character classes): inside the
/// prefregex's content, a failregex's `^` is the start of the content.
fn strip_carets(re: &str) -> String {
    let chars: Vec<char> = re.chars().collect();
    let mut out = String::with_capacity(re.len());
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                out.push('\\');
                if let Some(&c) = chars.get(i + 1) {
                    out.push(c);
                }
                i += 2;
                continue;
            }
            '[' => {
                // Copy the class unchanged (an unterminated one runs to the end).
                let e = group_end_class(&chars, i).map_or(chars.len(), |e| e + 1);
                out.extend(&chars[i..e]);
                i = e;
                continue;
            }
            '^' => {}
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// Char index span of the named group `(?P<name>...)`: (start of `(?P<`, start of body,
/// index of the closing `)`).
fn find_group(chars: &[char], name: &str) -> Option<(usize, usize, usize)> {
    let open: Vec<char> = format!("(?P<{name}>").chars().collect();
    let mut i = 0;
    while i + open.len() <= chars.len() {
        if chars[i] == '\\' {
            i += 2;
            continue;
        }
        if chars[i..i + open.len()] == open[..] {
            let body = i + open.len();
            return group_end(chars, body).map(|close| (i, body, close));
        }
        i += 1;
    }
    None
}

/// The probe's group around the failregexes: where the failregex part of a reading is.
const FR_GROUP: &str = "zzbailifffr";

/// One regex for "can the filter read this buffer with the sentinel as its host?": the
/// failregexes as one alternation, joined with the prefregex the way the filter runs
/// them (the prefregex must match; with `<F-CONTENT>`, the failregexes are searched in
/// the content, wherever the prefregex can put it).
fn pipeline_pattern(pref: Option<&str>, fail: &[&str], multi_line: bool) -> String {
    let alt = |strip: bool| {
        let branches = fail
            .iter()
            .map(|f| {
                let anchored = f.starts_with('^');
                let body = if strip {
                    strip_carets(f)
                } else {
                    f.to_string()
                };
                if strip && !anchored {
                    format!("(?:.*?(?:{body}))")
                } else {
                    format!("(?:{body})")
                }
            })
            .collect::<Vec<_>>()
            .join("|");
        format!("(?P<{FR_GROUP}>{branches})")
    };
    let Some(pref) = pref.filter(|_| !multi_line) else {
        return alt(false);
    };
    let chars: Vec<char> = pref.chars().collect();
    match find_group(&chars, "content") {
        Some((open, body, close)) => {
            let before: String = chars[..open].iter().collect();
            let inner: String = chars[body..close].iter().collect();
            let after: String = chars[close + 1..].iter().collect();
            format!("{before}(?P<content>(?={})(?:{inner})){after}", alt(true))
        }
        None => format!(r"\A(?=[\s\S]*?(?:{pref}))[\s\S]*?(?:{})", alt(false)),
    }
}

/// The compiled probe: the filter's pipeline with sentinel host groups.
pub(crate) struct Probe {
    re: Regex,
    locs: CaptureLocations,
    /// Capture index of [`FR_GROUP`].
    fr: usize,
    /// Token kinds its host groups accept (bits of [`TokenKind::bit`]).
    kinds: u8,
}

impl Probe {
    /// The probe for tag-expanded (Python syntax) regexes; None when no regex has a
    /// host group (`ip4`, `ip6`, `dns`).
    pub fn new(
        pref: Option<&str>,
        fail: &[&str],
        multi_line: bool,
        limit: u32,
    ) -> Result<Option<Probe>, String> {
        if fail.is_empty() {
            return Ok(None);
        }
        let pref = pref.map(relax_attacker_groups);
        let fail: Vec<String> = fail.iter().map(|f| relax_attacker_groups(f)).collect();
        let fail: Vec<&str> = fail.iter().map(String::as_str).collect();
        let joined = pipeline_pattern(pref.as_deref(), &fail, multi_line);
        let (text, kinds) = sentinel_groups(&joined)?;
        if kinds == 0 {
            return Ok(None);
        }
        // Group names repeat across the joined regexes: allow duplicates.
        let pattern = format!(
            "(*LIMIT_MATCH={limit})(?J){}",
            crate::translate::python_to_pcre2(&text)
        );
        let re = RegexBuilder::new()
            .utf(true)
            .ucp(true)
            .jit_if_available(true)
            .multi_line(multi_line)
            .max_jit_stack_size(Some(1 << 20))
            .build(&pattern)
            .map_err(|e| format!("ambiguity probe: {e}"))?;
        let fr = re
            .capture_names()
            .iter()
            .position(|n| n.as_deref() == Some(FR_GROUP))
            .ok_or("ambiguity probe: no failregex group")?;
        let locs = re.capture_locations();
        Ok(Some(Probe {
            re,
            locs,
            fr,
            kinds,
        }))
    }

    fn accepts(&self, kind: TokenKind) -> bool {
        self.kinds & kind.bit() != 0
    }

    /// Does the pipeline match `buf` with the token as its host? Returns the span (in
    /// `buf`) of the failregex part of that reading, or the regex error (match limit).
    fn reads(
        &mut self,
        buf: &str,
        tok: &AddressToken,
        scratch: &mut String,
    ) -> Result<Option<(usize, usize)>, ()> {
        let text = &buf[tok.start..tok.end];
        let (Some(first), Some(last)) = (text.chars().next(), text.chars().next_back()) else {
            return Ok(None);
        };
        scratch.clear();
        scratch.push_str(&buf[..tok.start]);
        scratch.push(first);
        scratch.push(tok.kind.sentinel());
        scratch.push(last);
        let sent_end = scratch.len();
        scratch.push_str(&buf[tok.end..]);
        match self.re.captures_read(&mut self.locs, scratch.as_bytes()) {
            Ok(Some(_)) => {
                let Some((s, e)) = self.locs.get(self.fr) else {
                    return Ok(None);
                };
                // Back to `buf` offsets: the sentinel stands for the token.
                let back = |p: usize, is_end: bool| {
                    if p <= tok.start {
                        p
                    } else if p >= sent_end {
                        p - sent_end + tok.end
                    } else if is_end {
                        tok.end
                    } else {
                        tok.start
                    }
                };
                Ok(Some((back(s, false), back(e, true))))
            }
            Ok(None) => Ok(None),
            Err(_) => Err(()),
        }
    }
}

/// Why a match is not trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmbiguityKind {
    /// The line can be read with more than one address as the host.
    Readings,
    /// After the host, the line repeats the regex's own wording right before the host
    /// (at least [`MIN_LEAD_IN`] characters like `FAIL LOGIN: Client "`, or
    /// [`MIN_TAIL_LEAD_IN`] like `ip=[` past the end of the match) in front of another
    /// address: a second record, most likely written into an attacker's field (the
    /// regex may be unable to read the daemon's own record at all).
    RepeatedRecord,
    /// More than [`MAX_PROBED_TOKENS`] distinct address-like tokens.
    TooManyAddresses,
    /// The host is a number (`3405803842`, `0xcb007142`) a resolver would turn into
    /// an address, or (under `usedns = yes|warn`) a name without a dot (`localhost`),
    /// which only the hosts file or the search domains could resolve: neither is
    /// looked up.
    NumericHost,
}

/// The addresses one match can be read with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Readings {
    /// The captured address first, then every other address the line can be read
    /// with.
    pub candidates: Vec<String>,
    /// Why it is ambiguous; None: the captured address is trusted.
    pub kind: Option<AmbiguityKind>,
}

impl Readings {
    pub fn ambiguous(&self) -> bool {
        self.kind.is_some()
    }
}

/// Shortest lead-in (literal text right before a host group) that counts for
/// [`AmbiguityKind::RepeatedRecord`]; longer ones are cut to [`MAX_LEAD_IN`].
pub const MIN_LEAD_IN: usize = 8;
/// The same for a copy after the end of the match (text the regex did not read at
/// all, where a short lead-in naming a field, like `ip=[`, already marks a second
/// record; one of plain words, like ` from `, does not).
pub const MIN_TAIL_LEAD_IN: usize = 3;
const MAX_LEAD_IN: usize = 24;

/// Does the text before an address token end with `lead`, directly or before what
/// `<HOST>` accepts ahead of the address (an opening bracket, an IPv4-mapped prefix)?
fn led_by(head: &str, lead: &str) -> bool {
    let mut heads = vec![head];
    let l = head.len();
    if l >= 7 && head.is_char_boundary(l - 7) && head[l - 7..].eq_ignore_ascii_case("::ffff:") {
        heads.push(&head[..l - 7]);
    }
    for h in heads.clone() {
        if let Some(x) = h.strip_suffix('[') {
            heads.push(x);
        }
    }
    // ASCII case is ignored: a regex may be case-insensitive (`(?i)`).
    let lb = lead.as_bytes();
    heads.iter().any(|h| {
        let hb = h.as_bytes();
        hb.len() >= lb.len() && hb[hb.len() - lb.len()..].eq_ignore_ascii_case(lb)
    })
}

/// The literal text each `<HOST>`/`<ADDR>` of a tag-expanded regex requires right
/// before it (`FAIL LOGIN: Client "`; empty when it requires none).
fn lead_ins(expanded: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (p, _) in expanded.match_indices("(?P<ip4>") {
        let mut head = &expanded[..p];
        for wrap in [r"(?:::f{4,6}:)?", r"(?:", r"\[?", r"(?:"] {
            head = head.strip_suffix(wrap).unwrap_or(head);
        }
        out.push(literal_tail(head));
    }
    out
}

/// The literal text `head` (regex text) ends with, cut to [`MAX_LEAD_IN`] characters.
fn literal_tail(head: &str) -> String {
    // Literal characters at the end of `head`: tokenize forward, keep the tail.
    let chars: Vec<char> = head.chars().collect();
    let mut lit: Vec<char> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if i + 1 < chars.len() => {
                let n = chars[i + 1];
                i += 2;
                if n.is_alphanumeric() {
                    lit.clear();
                    // The escape's own arguments are no literal text (`\x41`,
                    // `\u00e9`, `\N{...}`, octal and group numbers).
                    match n {
                        'x' => i += 2,
                        'u' => i += 4,
                        'U' => i += 8,
                        'N' => {
                            while i < chars.len() && chars[i] != '}' {
                                i += 1;
                            }
                            i += 1;
                        }
                        '0'..='9' => {
                            while i < chars.len() && chars[i].is_ascii_digit() {
                                i += 1;
                            }
                        }
                        _ => {}
                    }
                } else {
                    lit.push(n);
                }
                continue;
            }
            '[' => {
                lit.clear();
                if let Some(e) = group_end_class(&chars, i) {
                    i = e + 1;
                    continue;
                }
            }
            '.' | '^' | '$' | '*' | '+' | '?' | '(' | ')' | ']' | '{' | '}' | '|' | '\\' => {
                lit.clear()
            }
            _ => lit.push(c),
        }
        i += 1;
    }
    let keep = lit.len().min(MAX_LEAD_IN);
    lit[lit.len() - keep..].iter().collect()
}

/// Index of the `]` closing the character class opened at `open`.
fn group_end_class(chars: &[char], open: usize) -> Option<usize> {
    let mut i = open + 1;
    if chars.get(i) == Some(&'^') {
        i += 1;
    }
    if chars.get(i) == Some(&']') {
        i += 1;
    }
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            ']' => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Is `b` part of a run of address characters (see [`may_hold_other_address`])?
fn is_run_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b':' || b == b'.' || b >= 0x80 || b == b'_' || b == b'-'
}

/// What may stand between a host group's lead-in and the token the group captures:
/// nothing, `[`, an IPv4-mapped prefix `::f{4,6}:`, or `[` and that prefix.
fn is_gap(g: &[u8]) -> bool {
    let g = g.strip_prefix(b"[").unwrap_or(g);
    if g.is_empty() {
        return true;
    }
    let n = g.len();
    (7..=9).contains(&n)
        && g.starts_with(b"::")
        && g[n - 1] == b':'
        && g[2..n - 1].iter().all(|c| c.eq_ignore_ascii_case(&b'f'))
}

/// Lengths of the gaps [`is_gap`] accepts.
const GAP_LENS: [usize; 8] = [0, 1, 7, 8, 9, 10, 8, 9];

/// Does `lead` (ASCII case ignored) end at `end` in `b`?
fn ends_with_ci(b: &[u8], end: usize, lead: &[u8]) -> bool {
    end >= lead.len() && b[end - lead.len()..end].eq_ignore_ascii_case(lead)
}

/// Index of the `)` closing the group opened at `open` (bytes; escapes and classes
/// skipped).
fn group_close(re: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = open;
    while i < re.len() {
        match re[i] {
            b'\\' => i += 1,
            b'[' => i = class_close(re, i)?,
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Index of the `]` closing the class opened at `open` (bytes).
fn class_close(re: &[u8], open: usize) -> Option<usize> {
    let mut i = open + 1;
    if re.get(i) == Some(&b'^') {
        i += 1;
    }
    if re.get(i) == Some(&b']') {
        i += 1;
    }
    while i < re.len() {
        match re[i] {
            b'\\' => i += 1,
            b']' => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Does `re[s..e]` hold a `|` outside nested groups and classes?
fn has_top_alternation(re: &[u8], s: usize, e: usize) -> bool {
    let mut depth = 0usize;
    let mut i = s;
    while i < e {
        match re[i] {
            b'\\' => i += 1,
            b'[' => match class_close(re, i) {
                Some(c) => i = c,
                None => return true,
            },
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            b'|' if depth == 0 => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

/// Must every match of `re` pass through `re[us..ue]` (a host unit)? No quantifier
/// that allows zero after it, and every group around it is a plain group without a
/// top-level alternative and without such a quantifier (no lookaround, no
/// conditional); the regex itself has no top-level alternative.
fn is_mandatory(re: &[u8], us: usize, ue: usize) -> bool {
    let optional_after = |p: usize| matches!(re.get(p), Some(b'?' | b'*' | b'{'));
    if optional_after(ue) || has_top_alternation(re, 0, re.len()) {
        return false;
    }
    let mut open = Vec::new();
    let mut i = 0;
    while i < us {
        match re[i] {
            b'\\' => i += 1,
            b'[' => match class_close(re, i) {
                Some(c) => i = c,
                None => return false,
            },
            b'(' => open.push(i),
            b')' => {
                open.pop();
            }
            _ => {}
        }
        i += 1;
    }
    open.iter().all(|&g| {
        let Some(close) = group_close(re, g) else {
            return false;
        };
        let head = &re[g + 1..];
        let plain = !(head.starts_with(b"?=")
            || head.starts_with(b"?!")
            || head.starts_with(b"?<=")
            || head.starts_with(b"?<!")
            || head.starts_with(b"?("));
        plain && close >= ue && !has_top_alternation(re, g + 1, close) && !optional_after(close + 1)
    })
}

/// Groups of a regex: (index of `(`, index where its body starts, index of its `)`,
/// plain: a capturing, named or non-capturing group, not a lookaround, conditional
/// or flag group).
fn groups_of(re: &[u8]) -> Vec<(usize, usize, usize, bool)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < re.len() {
        match re[i] {
            b'\\' => i += 1,
            b'[' => match class_close(re, i) {
                Some(c) => i = c,
                None => break,
            },
            b'(' => {
                let body = &re[i + 1..];
                let (skip, plain) = if body.starts_with(b"?:") {
                    (2, true)
                } else if body.starts_with(b"?P<") {
                    match body.iter().position(|&b| b == b'>') {
                        Some(p) => (p + 1, true),
                        None => (0, false),
                    }
                } else if body.first() == Some(&b'?') {
                    (0, false)
                } else {
                    (0, true)
                };
                if let Some(close) = group_close(re, i) {
                    out.push((i, i + 1 + skip, close, plain));
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// The literal text every match of `re` has right before byte `at` (a mandatory host
/// unit's start), read backwards through literal characters, non-alphanumeric
/// escapes and plain groups without a top-level alternative (into a group from its
/// `)` when no quantifier follows it, out of one through its opener unless a
/// repetition follows it); at most 32 bytes. Empty when none is certain.
fn lead_before(re: &[u8], at: usize) -> Vec<u8> {
    let groups = groups_of(re);
    let mut lead: Vec<u8> = Vec::new();
    let mut i = at;
    while i > 0 && lead.len() < 32 {
        if let Some(&(open, _, close, plain)) = groups.iter().find(|g| g.1 == i) {
            // At the start of a group's body: go on before its opener.
            let repeated = matches!(re.get(close + 1), Some(b'*' | b'+' | b'{'));
            if !plain || repeated || has_top_alternation(re, i, close) {
                break;
            }
            i = open;
            continue;
        }
        let c = re[i - 1];
        let slashes = re[..i - 1]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        if slashes % 2 == 1 {
            if c.is_ascii_alphanumeric() || c >= 0x80 {
                break;
            }
            lead.push(c);
            i -= 2;
            continue;
        }
        match c {
            b')' => {
                let Some(&(_, body, close, plain)) = groups.iter().find(|g| g.2 == i - 1) else {
                    break;
                };
                if !plain || has_top_alternation(re, body, close) {
                    break;
                }
                // Into the body from its end (no quantifier: the character after the
                // `)` was read as a literal, or is `at`).
                i = close;
                if i == body {
                    // An empty group: step out of it at once.
                    continue;
                }
            }
            b'(' | b'.' | b'^' | b'$' | b'*' | b'+' | b'?' | b']' | b'}' | b'|' | b'[' | b'{' => {
                break
            }
            _ => {
                lead.push(c);
                i -= 1;
            }
        }
    }
    lead.reverse();
    // Cut at 32 bytes: no half character at the front.
    let half = lead
        .iter()
        .take_while(|&&b| (0x80..0xc0).contains(&b))
        .count();
    lead.drain(..half);
    lead
}

/// Does a regex set the inline flag `flag` (`(?i)`, `(?i:`, `(?si)`...) anywhere?
fn has_flag(re: &str, flag: u8) -> bool {
    let p = re.as_bytes();
    p.windows(2).enumerate().any(|(k, w)| {
        if w != b"(?" {
            return false;
        }
        let s = k + 2;
        let e = s + p[s..]
            .iter()
            .take_while(|b| b.is_ascii_alphabetic() || **b == b'-')
            .count();
        e > s && !p[s..e].starts_with(b"P") && p[s..e].contains(&flag)
    })
}

/// The host units (expanded `<HOST>`, `<ADDR>`, `<SUBNET>`, `<IP4>`, `<IP6>`, `<DNS>`)
/// of a tag-expanded regex, as byte spans; None when a host group stands outside the
/// expansions we know (a hand-written `(?P<ip4>...)`).
fn host_units(re: &str) -> Option<Vec<(usize, usize)>> {
    let shapes: Vec<String> = [
        crate::tags::expand("<HOST>", true),
        crate::tags::expand("<ADDR>", true),
        crate::tags::expand("<IP4>", true),
        crate::tags::expand("<IP6>", true),
        crate::tags::expand("<DNS>", true),
    ]
    .into();
    let mut units: Vec<(usize, usize)> = Vec::new();
    for shape in &shapes {
        for (p, _) in re.match_indices(shape.as_str()) {
            let e = p + shape.len();
            if !units.iter().any(|&(s, ue)| p < ue && s < e) {
                units.push((p, e));
            }
        }
    }
    // `<SUBNET>` is `<ADDR>` with a `/cidr` before the closing bracket: its
    // `\[?(?:IP4|IP6)` part is a unit of its own.
    let subnet = crate::tags::expand("<SUBNET>", true);
    let addr = crate::tags::expand("<ADDR>", true);
    let core = addr.strip_suffix(r"\]?").unwrap_or(&addr);
    if subnet.starts_with(core) {
        for (p, _) in re.match_indices(core) {
            let e = p + core.len();
            if !units.iter().any(|&(s, ue)| p < ue && s < e) {
                units.push((p, e));
            }
        }
    }
    for g in ["(?P<ip4>", "(?P<ip6>", "(?P<dns>"] {
        for (p, _) in re.match_indices(g) {
            if !units.iter().any(|&(s, e)| s <= p && p < e) {
                return None;
            }
        }
    }
    units.sort_unstable();
    Some(units)
}

/// A lead-in (see [`lead_ins`]) the fast path of [`Checker::worth_checking`] looks
/// for.
#[derive(Debug, Clone)]
struct GateLead {
    text: Vec<u8>,
    /// One of the checker's own lead-ins (the probe gate and the repeated-record
    /// test use those).
    current: bool,
    /// Long or field-like enough for [`AmbiguityKind::RepeatedRecord`].
    may_repeat: bool,
    /// Branches (bits) that have a mandatory host unit right after this lead-in.
    branches: u64,
    /// The byte a search for it looks for: (index in `text`, its two ASCII cases).
    needle: (usize, u8, u8),
    /// No other lead-in is a suffix of this one (ASCII case ignored): it is searched
    /// for; the others are found where their shortest such suffix is.
    root: bool,
    /// For a root: the lead-ins (indices) that end with it, itself included.
    group: Vec<usize>,
}

/// The byte of `text` least likely in a log line (by a rough frequency rank), with
/// its two ASCII cases: what a search for `text` looks for first.
fn rarest_byte(text: &[u8]) -> (usize, u8, u8) {
    const LETTERS: &[u8] = b"etaoinshrdlcumwfgypbvkjxqz";
    let score = |c: u8| -> usize {
        match c {
            b' ' => 255,
            b'.' => 170,
            b'0'..=b'9' => 160,
            b'/' | b':' | b'-' => 140,
            b'_' => 120,
            b'=' => 90,
            _ if c.is_ascii_alphabetic() => {
                let r = LETTERS
                    .iter()
                    .position(|&x| x == c.to_ascii_lowercase())
                    .unwrap_or(0);
                230 - 6 * r
            }
            _ => 60,
        }
    };
    let (pos, &c) = text
        .iter()
        .enumerate()
        .min_by_key(|&(_, &c)| score(c))
        .unwrap_or((0, &b' '));
    (pos, c.to_ascii_lowercase(), c.to_ascii_uppercase())
}

/// Necessary conditions for the probe to read a token, decided without running it:
/// the probe's match must take some failregex (a *branch*) whose required literals
/// (see [`crate::literals::required`]) occur in the buffer, and a branch whose host
/// unit is mandatory can only put the host where that unit's lead-in (or, for a
/// regex anchored with `^` on a single line, the start of the buffer) precedes it.
#[derive(Debug)]
struct Gate {
    /// Required literals of each branch (None: none known, always possible).
    lits: Vec<Option<Vec<memchr::memmem::Finder<'static>>>>,
    /// Branches (bits) that can match with their host anywhere (no mandatory unit with
    /// a lead-in or an anchor, or no host unit at all).
    free: u64,
    /// Branches (bits) with a mandatory unit anchored at the start of the buffer.
    anchored: u64,
    leads: Vec<GateLead>,
    /// The fast path of [`Checker::worth_checking`] is sound for this filter.
    fast: bool,
}

/// Branch literals found so far for one buffer: (known bits, present bits).
#[derive(Default, Clone, Copy)]
struct LitCache(u64, u64);

impl Gate {
    /// `fail`: the failregexes as the probe sees them (attacker groups relaxed);
    /// `current`: the checker's own lead-ins; `anchor_ok`: `^` means the start of the
    /// buffer (single-line, no prefregex).
    fn new(fail: &[String], current: &[String], anchor_ok: bool, any_ci: bool) -> Option<Gate> {
        if fail.len() > 64 {
            return None;
        }
        let mut g = Gate {
            lits: Vec::new(),
            free: 0,
            anchored: 0,
            leads: Vec::new(),
            fast: true,
        };
        for l in current {
            if g.leads.iter().any(|x| x.text == l.as_bytes()) {
                continue;
            }
            g.leads.push(GateLead {
                text: l.as_bytes().to_vec(),
                current: true,
                may_repeat: lead_may_repeat(l),
                branches: 0,
                needle: (0, 0, 0),
                root: false,
                group: Vec::new(),
            });
        }
        for (bi, re) in fail.iter().enumerate() {
            let bit = 1u64 << bi;
            g.lits.push(
                crate::literals::required(&crate::translate::scope_inline_flags(re)).map(|v| {
                    v.iter()
                        .map(|l| memchr::memmem::Finder::new(l.as_bytes()).into_owned())
                        .collect()
                }),
            );
            let Some(units) = host_units(re) else {
                g.free |= bit;
                g.fast = false;
                continue;
            };
            let b = re.as_bytes();
            let mut constrained = false;
            for &(us, ue) in &units {
                if !is_mandatory(b, us, ue) {
                    continue;
                }
                let head = &re[..us];
                if head == "^" && anchor_ok {
                    g.anchored |= bit;
                    constrained = true;
                    continue;
                }
                let lead = String::from_utf8_lossy(&lead_before(b, us)).into_owned();
                // Under `(?i)` PCRE2 folds `k`, `s` and non-ASCII letters into
                // characters an ASCII comparison misses: such a lead-in proves nothing.
                let foldable = any_ci
                    && lead
                        .chars()
                        .any(|c| !c.is_ascii() || matches!(c, 'k' | 'K' | 's' | 'S'));
                let ends_in_run = lead.bytes().next_back().is_none_or(is_run_byte);
                if lead.is_empty() || foldable || ends_in_run {
                    continue;
                }
                constrained = true;
                match g.leads.iter_mut().find(|l| l.text == lead.as_bytes()) {
                    Some(l) => l.branches |= bit,
                    None => g.leads.push(GateLead {
                        text: lead.as_bytes().to_vec(),
                        current: false,
                        may_repeat: false,
                        branches: bit,
                        needle: (0, 0, 0),
                        root: false,
                        group: Vec::new(),
                    }),
                }
            }
            if !constrained {
                g.free |= bit;
            }
        }
        // The fast path finds a token from the lead-in before it: each must end in a
        // character that cannot belong to the token.
        if g.leads
            .iter()
            .any(|l| l.text.last().is_none_or(|&c| is_run_byte(c)))
        {
            g.fast = false;
        }
        g.leads.retain(|l| l.branches != 0 || l.current);
        for l in &mut g.leads {
            l.needle = rarest_byte(&l.text);
        }
        // Each lead-in hangs under its shortest suffix among the lead-ins (itself when
        // none): an occurrence of it is an occurrence of that suffix, ending at the
        // same place, so one search per root finds them all.
        let ends_with = |a: &[u8], b: &[u8]| {
            a.len() >= b.len() && a[a.len() - b.len()..].eq_ignore_ascii_case(b)
        };
        for i in 0..g.leads.len() {
            let r = (0..g.leads.len())
                .filter(|&j| ends_with(&g.leads[i].text, &g.leads[j].text))
                .min_by_key(|&j| (g.leads[j].text.len(), j))
                .unwrap_or(i);
            g.leads[r].group.push(i);
        }
        for l in &mut g.leads {
            l.root = !l.group.is_empty();
        }
        Some(g)
    }

    /// Bits of the branches among `mask` whose literals occur in `buf`.
    fn present(&self, buf: &[u8], mask: u64, cache: &mut LitCache) -> u64 {
        let mut todo = mask & !cache.0;
        while todo != 0 {
            let i = todo.trailing_zeros() as usize;
            let bit = 1u64 << i;
            todo &= !bit;
            let ok = match &self.lits[i] {
                None => true,
                Some(f) => f.iter().any(|f| f.find(buf).is_some()),
            };
            cache.0 |= bit;
            if ok {
                cache.1 |= bit;
            }
        }
        cache.1 & mask
    }

    /// Can a branch whose literals occur put its host at `start` (a token's start)?
    /// False only when the probe cannot read the token.
    fn may_read(&self, buf: &[u8], start: usize, cache: &mut LitCache) -> bool {
        if self.present(buf, self.free, cache) != 0 {
            return true;
        }
        if self.anchored != 0
            && is_gap(&buf[..start])
            && self.present(buf, self.anchored, cache) != 0
        {
            return true;
        }
        let mut seen_gap = [false; 11];
        for n in GAP_LENS {
            if n > start || seen_gap[n] || !is_gap(&buf[start - n..start]) {
                continue;
            }
            seen_gap[n] = true;
            let end = start - n;
            for l in &self.leads {
                if l.branches != 0
                    && ends_with_ci(buf, end, &l.text)
                    && self.present(buf, l.branches, cache) != 0
                {
                    return true;
                }
            }
        }
        false
    }
}

/// Can a lead-in count for [`AmbiguityKind::RepeatedRecord`] (anywhere)?
fn lead_may_repeat(l: &str) -> bool {
    let n = l.chars().count();
    n >= MIN_LEAD_IN || (n >= MIN_TAIL_LEAD_IN && l.contains(['=', '[', '(', ':', '"', '\'']))
}

/// Could `side` hold a run [`run_shape`] calls address-like? Such a run holds three
/// dots (IPv4), a dot (a name, with `names`), or two colons of which two are
/// adjacent or seven in all (IPv6). Dots and colons are counted without branches,
/// 255 bytes at a time (the compiler turns the loop into vector compares); only a
/// side with two to six colons is looked at again, for a `::`.
fn may_hold_shaped_run(side: &[u8], names: bool) -> bool {
    let (mut dots, mut colons) = (0usize, 0usize);
    for chunk in side.chunks(255) {
        let (mut d, mut c) = (0u8, 0u8);
        for &x in chunk {
            d += u8::from(x == b'.');
            c += u8::from(x == b':');
        }
        dots += usize::from(d);
        colons += usize::from(c);
    }
    if (names && dots >= 1) || dots >= 3 || colons >= 7 {
        return true;
    }
    colons >= 2 && {
        let mut last = usize::MAX;
        memchr::memchr_iter(b':', side).any(|i| {
            let pair = last.wrapping_add(1) == i;
            last = i;
            pair
        })
    }
}

/// Shape of the run of address characters starting at `s` (as
/// [`may_hold_other_address`] classifies it): (end, looks like an address or name,
/// holds a dot or colon).
fn run_shape(b: &[u8], s: usize, names: bool) -> (usize, bool, bool) {
    let (mut dots, mut colons, mut letters, mut hexish) = (0, 0, false, true);
    let mut double = false;
    let mut i = s;
    while i < b.len() {
        let d = b[i];
        match d {
            b'.' => dots += 1,
            b':' => {
                colons += 1;
                double |= i > s && b[i - 1] == b':';
            }
            b'0'..=b'9' => {}
            b'a'..=b'f' | b'A'..=b'F' => letters = true,
            _ if d.is_ascii_alphabetic() || d >= 0x80 || d == b'_' || d == b'-' => {
                letters = true;
                hexish = false;
            }
            _ => break,
        }
        i += 1;
    }
    let v4 = dots >= 3;
    let v6 = colons >= 2 && (double || colons >= 7) && (hexish || dots >= 3);
    let name = names && dots >= 1 && letters;
    (i, v4 || v6 || name, dots + colons > 0)
}

/// The ambiguity check of one filter.
pub(crate) struct Checker {
    /// The whole pipeline (prefregex joined with the failregexes).
    probe: Option<Probe>,
    /// The failregexes alone, run on the content the prefregex chose, when the whole
    /// pipeline gives up (nested quantifiers in a prefix can explode once the content
    /// part fails); None without a prefregex.
    fallback: Option<Probe>,
    names: bool,
    /// The literal text right before each host group of the regexes (see
    /// [`lead_ins`]).
    lead_ins: Vec<String>,
    /// Every host group has a non-empty lead-in: a token not preceded by one of them
    /// cannot be read as the host, so it needs no probe.
    all_led: bool,
    /// [`Checker::worth_checking`] may also require a lead-in before a run of address
    /// characters: every host group is led, and no lead-in ends with a character that
    /// can be part of such a run (so a token never starts inside one).
    gate_on_leads: bool,
    /// Necessary conditions for a probe to read (None: no such analysis for this
    /// filter's regexes).
    gate: Option<Gate>,
    /// The gate is used (see [`Checker::set_gate`]).
    gate_on: bool,
    scratch: String,
    sub: String,
}

/// Up to this many lead-ins, [`Checker::fast_worth`] searches for each of them;
/// with more, it looks at the address-like runs of the line instead.
const LEAD_SEARCHES: usize = 3;

/// Match limit of the whole-pipeline probe (the fallback has the filter's own).
const PROBE_LIMIT: u32 = 200_000;

impl Checker {
    /// `pref`, `fail`: the tag-expanded regexes; `names`: `<HOST>` accepts host names;
    /// `multi_line`: maxlines > 1 (the probe then runs on the failregexes' buffer and
    /// leaves the prefregex out).
    pub fn new(
        pref: Option<&str>,
        fail: &[&str],
        names: bool,
        multi_line: bool,
    ) -> Result<Checker, String> {
        let joined = pref.is_some() && !multi_line;
        let mut leads: Vec<String> = pref
            .iter()
            .chain(fail.iter())
            .flat_map(|r| lead_ins(r))
            .collect();
        let all_led = !leads.iter().any(String::is_empty);
        leads.retain(|l| !l.is_empty());
        leads.sort_by_key(|l| std::cmp::Reverse(l.len()));
        leads.dedup();
        let gate_on_leads = all_led
            && leads.iter().all(|l| {
                l.chars()
                    .next_back()
                    .is_some_and(|c| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')))
            });
        let relaxed: Vec<String> = fail.iter().map(|f| relax_attacker_groups(f)).collect();
        let flagged = |f: u8| pref.iter().chain(fail.iter()).any(|r| has_flag(r, f));
        let gate = if flagged(b'x') {
            None
        } else {
            Gate::new(
                &relaxed,
                &leads,
                pref.is_none() && !multi_line,
                flagged(b'i'),
            )
        };
        Ok(Checker {
            gate,
            gate_on: true,
            lead_ins: leads,
            all_led,
            gate_on_leads,
            probe: Probe::new(pref, fail, multi_line, PROBE_LIMIT)?,
            fallback: if joined {
                Probe::new(None, fail, false, crate::regex::MATCH_LIMIT)?
            } else {
                None
            },
            names,
            scratch: String::new(),
            sub: String::new(),
        })
    }

    /// Use the gate (the default) or not: the verdicts are the same either way, only
    /// the cost differs (a test proves it on fail2ban's samples and the hostile
    /// corpus).
    pub fn set_gate(&mut self, on: bool) {
        self.gate_on = on;
    }

    /// Cheap test first: does `buf` hold any other address-like token at all?
    /// (Not inlined: its cost shows in a profile under its own name.)
    #[inline(never)]
    pub fn worth_checking(&self, buf: &str, captured: (usize, usize)) -> bool {
        if self.probe.is_none() {
            return false;
        }
        if let Some(v) = self
            .gate
            .as_ref()
            .filter(|g| g.fast && self.gate_on)
            .and_then(|g| self.fast_worth(g, buf.as_bytes(), captured))
        {
            return v;
        }
        let led = |p: usize| {
            !self.gate_on_leads
                || self
                    .lead_ins
                    .iter()
                    .any(|l| led_by(buf.get(..p).unwrap_or(""), l))
        };
        may_hold_other_address(buf, captured, self.names, &led)
    }

    /// The rest of [`Checker::fast_worth`] for a filter with few lead-ins: one search
    /// per lead-in (for its rarest byte), then the run after each occurrence.
    fn lead_driven(&self, g: &Gate, b: &[u8], cap: (usize, usize), cache: &mut LitCache) -> bool {
        // An address-like run (other than the captured one) starting at `at`, after
        // an optional `[`.
        let token_at = |at: usize| -> Option<usize> {
            let p = if b.get(at) == Some(&b'[') { at + 1 } else { at };
            if p >= b.len() || !is_run_byte(b[p]) {
                return None;
            }
            let (e, shaped, _) = run_shape(b, p, self.names);
            (shaped && !(p < cap.1 && cap.0 < e)).then_some(p)
        };
        if g.anchored != 0 && token_at(0).is_some() && g.present(b, g.anchored, cache) != 0 {
            return true;
        }
        // Does lead-in `l`, ending right before token `p`, make the token worth a probe?
        let worth = |l: &GateLead, p: usize, cache: &mut LitCache| {
            (l.current && l.may_repeat && p >= cap.1)
                || (l.current && g.present(b, g.free, cache) != 0)
                || g.present(b, l.branches, cache) != 0
        };
        for r in g.leads.iter().filter(|l| l.root) {
            let (pos, b1, b2) = r.needle;
            let after = r.text.len() - pos;
            let mut hit = |i: usize| {
                let end = i + after;
                if end > b.len() || !ends_with_ci(b, end, &r.text) {
                    return false;
                }
                let Some(p) = token_at(end) else {
                    return false;
                };
                r.group.iter().any(|&k| {
                    let l = &g.leads[k];
                    ends_with_ci(b, end, &l.text) && worth(l, p, cache)
                })
            };
            // One byte to look for unless it is a letter.
            let found = if b1 == b2 {
                memchr::memchr_iter(b1, b).any(&mut hit)
            } else {
                memchr::memchr2_iter(b1, b2, b).any(&mut hit)
            };
            if found {
                return true;
            }
        }
        false
    }

    /// [`Checker::worth_checking`] from the lead-ins instead of every byte: only a
    /// token right after a lead-in (or at the start of the buffer, for an anchored
    /// regex) can be probed ([`Gate::may_read`]) or count as a repeated record. None:
    /// the filter has a branch whose literals occur and that may read a token anywhere
    /// (the full scan decides).
    fn fast_worth(&self, g: &Gate, b: &[u8], cap: (usize, usize)) -> Option<bool> {
        let cap = (
            cap.0.min(b.len()),
            cap.1.min(b.len()).max(cap.0.min(b.len())),
        );
        let mut cache = LitCache::default();
        if !self.all_led && g.present(b, g.free, &mut cache) != 0 {
            return None;
        }
        // The captured token's own run: more address text glued to it.
        let mut s = cap.0;
        while s > 0 && is_run_byte(b[s - 1]) {
            s -= 1;
        }
        let mut e = cap.1;
        while e < b.len() && is_run_byte(b[e]) {
            e += 1;
        }
        if (s < cap.0 || e > cap.1) && b[s..e].iter().any(|&c| c == b'.' || c == b':') {
            return Some(true);
        }
        if g.leads.len() <= LEAD_SEARCHES {
            return Some(self.lead_driven(g, b, cap, &mut cache));
        }
        // A run outside the captured token lies on one side of it, and a side
        // without the dots or colons of an address-like run holds no token (most
        // lines end here, without a run scanned).
        if !may_hold_shaped_run(&b[..cap.0], self.names)
            && !may_hold_shaped_run(&b[cap.1..], self.names)
        {
            return Some(false);
        }
        // Every address-like run holds a dot or a colon: look at the runs around
        // those outside the captured token, and at what precedes each.
        let mut from = 0;
        for side in [(0, cap.0), (cap.1, b.len())] {
            for x in memchr::memchr2_iter(b'.', b':', &b[side.0..side.1]) {
                let x = side.0 + x;
                if x < from {
                    continue;
                }
                let mut p = x;
                while p > 0 && is_run_byte(b[p - 1]) {
                    p -= 1;
                }
                let (e, shaped, _) = run_shape(b, p, self.names);
                from = e;
                if !shaped || (p < cap.1 && cap.0 < e) {
                    continue;
                }
                // Where a lead-in would end: right before the run, or before a `[`.
                let bracket = p > 0 && b[p - 1] == b'[';
                let anchored = p == 0 || (p == 1 && bracket);
                if anchored && g.anchored != 0 && g.present(b, g.anchored, &mut cache) != 0 {
                    return Some(true);
                }
                for l in &g.leads {
                    let led =
                        ends_with_ci(b, p, &l.text) || (bracket && ends_with_ci(b, p - 1, &l.text));
                    if led
                        && ((l.current && l.may_repeat && p >= cap.1)
                            || (l.current && g.present(b, g.free, &mut cache) != 0)
                            || g.present(b, l.branches, &mut cache) != 0)
                    {
                        return Some(true);
                    }
                }
            }
        }
        Some(false)
    }

    /// The addresses `buf` can be read with. `captured`: the span of the captured host
    /// token, `captured_addr` its address, `matched`: the span of the failregex match,
    /// all in `buf`, which is the whole buffer (single-line mode) or the buffer the
    /// failregexes saw (multi-line mode).
    ///
    /// Ambiguous when another address reads, except in one case: the chosen reading
    /// covers every other candidate, and every other reading ends before the chosen
    /// host (the regex's own greed placed the host after the text it skipped, as
    /// fail2ban's filters intend for fields written before the address).
    #[inline(never)]
    pub fn readings(
        &mut self,
        buf: &str,
        captured: (usize, usize),
        captured_addr: &str,
        matched: (usize, usize),
        content: Option<(usize, usize)>,
    ) -> Readings {
        let mut r = Readings {
            candidates: vec![captured_addr.to_string()],
            kind: None,
        };
        let Some(probe) = self.probe.as_mut() else {
            return r;
        };
        let mut seen = vec![key_of(captured_addr)];
        let mut probed = 0usize;
        // (token span, reading span) of every other address that reads.
        let mut others: Vec<((usize, usize), (usize, usize))> = Vec::new();
        let head = |p: usize| buf.get(..p).unwrap_or("");
        let lead = self.lead_ins.iter().find(|l| led_by(head(captured.0), l));
        let line_of = |p: usize| buf[..p].matches('\n').count();
        let own_line = line_of(captured.0);
        let mut repeated = Vec::new();
        let mut cache = LitCache::default();
        for tok in address_tokens(buf, self.names) {
            if tok.start < captured.1 && captured.0 < tok.end {
                continue;
            }
            // A number never gets banned (see `AmbiguityKind::NumericHost`), so a
            // reading with a number as host competes with nothing.
            if tok.kind == TokenKind::Numeric || !probe.accepts(tok.kind) {
                continue;
            }
            let k = tok.key();
            if seen.contains(&k) {
                continue;
            }
            // Only copies after the captured host: one before it sits in a field the
            // regex skipped on its way to the host it chose.
            if matches!(tok.kind, TokenKind::V4 | TokenKind::V6)
                && tok.start >= captured.1
                && lead.is_some_and(|l| {
                    // Past the match, a short lead-in counts when it names a field
                    // (`ip=[`, `rip=`): prose like ` from ` recurs in free text.
                    let ok = if tok.start >= matched.1 {
                        l.chars().count() >= MIN_TAIL_LEAD_IN
                            && (l.chars().count() >= MIN_LEAD_IN
                                || l.contains(['=', '[', '(', ':', '"', '\'']))
                    } else {
                        l.chars().count() >= MIN_LEAD_IN
                    };
                    ok && led_by(head(tok.start), l)
                })
                && line_of(tok.start) == own_line
                && !repeated.contains(&tok.address)
            {
                repeated.push(tok.address.clone());
            }
            if self.all_led && !self.lead_ins.iter().any(|l| led_by(head(tok.start), l)) {
                // Nothing the regexes require before a host precedes this token.
                continue;
            }
            if let Some(g) = self.gate.as_ref().filter(|_| self.gate_on) {
                if !g.may_read(buf.as_bytes(), tok.start, &mut cache) {
                    // No branch that can match here puts a host at this token.
                    continue;
                }
            }
            probed += 1;
            if probed > MAX_PROBED_TOKENS {
                r.kind = Some(AmbiguityKind::TooManyAddresses);
                return r;
            }
            let read = match probe.reads(buf, &tok, &mut self.scratch) {
                Ok(x) => x,
                Err(()) => fallback_reads(
                    self.fallback.as_mut(),
                    buf,
                    content,
                    &tok,
                    &mut self.sub,
                    &mut self.scratch,
                ),
            };
            if let Some(span) = read {
                seen.push(k);
                others.push(((tok.start, tok.end), span));
                r.candidates.push(tok.address);
            }
        }
        let chosen_wins = others
            .iter()
            .all(|&((ts, te), (_, re))| matched.0 <= ts && te <= matched.1 && re <= captured.0);
        if !chosen_wins {
            r.kind = Some(AmbiguityKind::Readings);
        } else {
            // The others only read by stopping short of the chosen host.
            r.candidates.truncate(1);
            if !repeated.is_empty() {
                r.candidates.extend(repeated);
                r.kind = Some(AmbiguityKind::RepeatedRecord);
            }
        }
        r
    }
}

/// The failregexes alone on the prefregex's content, for a token inside it. A token
/// outside the content, no fallback, or a second regex error: a reading of the whole
/// buffer (a line we cannot read fully is not trusted).
fn fallback_reads(
    fallback: Option<&mut Probe>,
    buf: &str,
    content: Option<(usize, usize)>,
    tok: &AddressToken,
    sub: &mut String,
    scratch: &mut String,
) -> Option<(usize, usize)> {
    let whole = Some((0, buf.len()));
    let (Some(fb), Some((cs, ce))) = (fallback, content) else {
        return whole;
    };
    if tok.start < cs || tok.end > ce {
        return None;
    }
    sub.clear();
    sub.push_str(buf.get(cs..ce)?);
    sub.push('\n');
    let t = AddressToken {
        start: tok.start - cs,
        end: tok.end - cs,
        ..tok.clone()
    };
    match fb.reads(sub, &t, scratch) {
        Ok(x) => x.map(|(s, e)| (s + cs, e + cs)),
        Err(()) => whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_a_resolver_reads_as_addresses() {
        assert_eq!(
            inet_aton("3405803842"),
            Some(Ipv4Addr::new(203, 0, 113, 66))
        );
        assert_eq!(
            inet_aton("0xcb007142"),
            Some(Ipv4Addr::new(203, 0, 113, 66))
        );
        assert_eq!(inet_aton("0313.0.0.1"), Some(Ipv4Addr::new(203, 0, 0, 1)));
        assert_eq!(inet_aton("127.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(
            inet_aton("203.0.29250"),
            Some(Ipv4Addr::new(203, 0, 114, 66))
        );
        assert_eq!(inet_aton("4294967296"), None);
        assert_eq!(inet_aton("1.2.3.4.5"), None);
        assert_eq!(inet_aton("08"), None);
        assert_eq!(inet_aton("x1"), None);
    }

    /// The C library's `inet_aton` as the oracle, over short strings of the
    /// characters that matter (no blanks: the C function stops at one).
    #[test]
    fn inet_aton_agrees_with_the_c_library() {
        extern "C" {
            #[link_name = "inet_aton"]
            fn c_inet_aton(cp: *const libc::c_char, inp: *mut libc::in_addr) -> libc::c_int;
        }
        let alphabet = ['0', '1', '7', '8', '9', '.', 'x', 'a', 'f', 'g', '-'];
        let mut checked = 0;
        let mut texts: Vec<String> = vec![String::new()];
        for _ in 0..5 {
            let mut next = Vec::new();
            for t in &texts {
                for c in alphabet {
                    next.push(format!("{t}{c}"));
                }
            }
            for t in &next {
                let c = std::ffi::CString::new(t.as_str()).unwrap();
                let mut a = libc::in_addr { s_addr: 0 };
                let ok = unsafe { c_inet_aton(c.as_ptr(), &mut a) } != 0;
                let want = ok.then(|| Ipv4Addr::from(u32::from_be(a.s_addr)));
                assert_eq!(inet_aton(t), want, "{t:?}");
                checked += 1;
            }
            texts = next;
        }
        for t in [
            "255.255.255.255",
            "0x0.0x0.0x0.0x0",
            "1.2.3.4.5",
            "0xffffffff",
            "4294967296",
        ] {
            let c = std::ffi::CString::new(t).unwrap();
            let mut a = libc::in_addr { s_addr: 0 };
            let ok = unsafe { c_inet_aton(c.as_ptr(), &mut a) } != 0;
            assert_eq!(
                inet_aton(t),
                ok.then(|| Ipv4Addr::from(u32::from_be(a.s_addr))),
                "{t}"
            );
        }
        assert!(checked > 100_000);
    }

    #[test]
    fn side_counts_never_miss_a_shaped_run() {
        // Every string of up to 7 bytes over these bytes (a base-7 counter): whenever
        // a run in it is address-like, the counts say it may hold one.
        let alphabet = b".:a1 fg";
        let mut shaped_seen = 0;
        for len in 0..=7u32 {
            for mut k in 0..7usize.pow(len) {
                let mut b = Vec::with_capacity(len as usize);
                for _ in 0..len {
                    b.push(alphabet[k % 7]);
                    k /= 7;
                }
                for names in [false, true] {
                    let mut i = 0;
                    let mut any = false;
                    while i < b.len() {
                        if is_run_byte(b[i]) {
                            let (e, shaped, _) = run_shape(&b, i, names);
                            any |= shaped;
                            i = e;
                        } else {
                            i += 1;
                        }
                    }
                    shaped_seen += usize::from(any);
                    if any {
                        assert!(
                            may_hold_shaped_run(&b, names),
                            "{:?} {names}",
                            String::from_utf8_lossy(&b)
                        );
                    }
                }
            }
        }
        assert!(shaped_seen > 1000);
    }

    #[test]
    fn resolvable_names_need_a_letter_and_a_dot() {
        assert!(is_resolvable_name("mail.example.com"));
        assert!(is_resolvable_name("cafe.de"));
        assert!(!is_resolvable_name("localhost"));
        assert!(!is_resolvable_name("3405803842"));
        assert!(!is_resolvable_name("0xcb007142"));
        assert!(!is_resolvable_name("0x7f.1"));
        assert!(!is_resolvable_name("10.0.0.1"));
        assert!(!is_resolvable_name("deadbeef"));
        assert!(!is_resolvable_name("2001:db8::1"));
        assert!(!is_resolvable_name("a..b"));
    }

    fn kinds(buf: &str, names: bool) -> Vec<(String, TokenKind, String)> {
        address_tokens(buf, names)
            .into_iter()
            .map(|t| (buf[t.start..t.end].to_string(), t.kind, t.address))
            .collect()
    }

    #[test]
    fn tokens_of_every_shape() {
        let buf = "a 192.0.2.1:22 [2001:db8::7]:80 ::ffff:203.0.113.5 x=3405803842 h.example.org";
        let t = kinds(buf, true);
        let has = |text: &str, k: TokenKind, a: &str| {
            assert!(
                t.iter().any(|(x, kk, aa)| x == text && *kk == k && aa == a),
                "{text} {k:?} {a} not in {t:?}"
            )
        };
        has("192.0.2.1", TokenKind::V4, "192.0.2.1");
        has("2001:db8::7", TokenKind::V6, "2001:db8::7");
        has("203.0.113.5", TokenKind::V4, "203.0.113.5");
        has("3405803842", TokenKind::Numeric, "203.0.113.66");
        has("h.example.org", TokenKind::Name, "h.example.org");
        // Without names, only addresses.
        assert!(kinds(buf, false)
            .iter()
            .all(|(_, k, _)| matches!(k, TokenKind::V4 | TokenKind::V6)));
        // Times are not IPv6.
        assert!(kinds("at 12:34:56 ok", false).is_empty());
    }

    #[test]
    fn probe_finds_the_second_reading() {
        let expanded = crate::tags::expand(
            r"^Invalid user <F-USER>.*?</F-USER> from <HOST>(?: port \d+)?\s*$",
            true,
        );
        let mut c = Checker::new(None, &[&expanded], true, false).unwrap();
        let buf = "Invalid user x from 203.0.113.9 from 198.51.100.7 port 22\n";
        // The lazy user group captures the first address.
        let s = buf.find("203.").unwrap();
        let r = c.readings(buf, (s, s + 11), "203.0.113.9", (0, buf.len() - 1), None);
        assert_eq!(r.candidates, vec!["203.0.113.9", "198.51.100.7"]);
        assert!(r.ambiguous());
        // An end-anchored regex reads only the last address.
        let expanded = crate::tags::expand(
            r"^Failed password for <F-USER>.*</F-USER> from <HOST> port \d+ ssh2$",
            true,
        );
        let mut c = Checker::new(None, &[&expanded], true, false).unwrap();
        let buf = "Failed password for x from 203.0.113.9 port 1 from 198.51.100.7 port 22 ssh2\n";
        let s = buf.find("198.").unwrap();
        let r = c.readings(buf, (s, s + 12), "198.51.100.7", (0, buf.len() - 1), None);
        assert_eq!(r.candidates, vec!["198.51.100.7"]);
        assert!(!r.ambiguous());
    }

    #[test]
    fn prefregex_content_can_start_elsewhere() {
        // An optional prefix group lets attacker text move where the content starts.
        let pref = crate::tags::expand(
            r"^NOTICE [^:]+:\d*(?:(?: in)? [^:]+:)? <F-CONTENT>.+</F-CONTENT>$",
            true,
        );
        let f1 = crate::tags::expand(
            r"^Registration from '[^']*' failed for '<HOST>(:\d+)?' - Wrong password$",
            true,
        );
        let f2 = crate::tags::expand(r"^(?:Host )?<HOST> failed to authenticate\b", true);
        let mut c = Checker::new(Some(&pref), &[&f1, &f2], true, false).unwrap();
        let buf = "NOTICE chan_sip.c: Registration from '\"x: 203.0.113.5 failed to authenticate\" <sip:1@a>' failed for '198.51.100.2' - Wrong password\n";
        let s = buf.find("203.").unwrap();
        let r = c.readings(buf, (s, s + 11), "203.0.113.5", (0, buf.len() - 1), None);
        assert_eq!(r.candidates, vec!["203.0.113.5", "198.51.100.2"]);
        // Without the display-name trick only the real address reads.
        let buf = "NOTICE chan_sip.c: Registration from '<sip:1@a>' failed for '198.51.100.2' - Wrong password\n";
        let s = buf.find("198.").unwrap();
        let r = c.readings(buf, (s, s + 12), "198.51.100.2", (0, buf.len() - 1), None);
        assert!(!r.ambiguous(), "{r:?}");
    }

    #[test]
    fn attacker_groups_accept_any_text() {
        assert_eq!(
            relax_attacker_groups(
                r"a (?P<user>(?P<cond_user>\S+)|[^)(]+) (?P<alt_user1>x)(?P<userx>y)"
            ),
            r"a (?P<user>(?:(?P<cond_user>\S+)|[^)(]+|.+?)) (?P<alt_user1>(?:x|.+?))(?P<userx>y)"
        );
        assert_eq!(relax_attacker_groups(r"\(?P<user>x)"), r"\(?P<user>x)");
        assert_eq!(
            relax_attacker_groups(r"(?P<cond_inv>i )?(?P<user>\S+|[^:]+)"),
            r"(?P<cond_inv>i )?(?P<user>(?:\S+|[^:]+|(?(cond_inv).+?|(?!))))"
        );
    }

    /// The stock sshd regex cannot read the true line (its user alternatives exclude
    /// ` from `), and takes trailing text after `: `: the user name `a from
    /// 203.0.113.0:` makes it capture the bystander. Another shape of the user name
    /// reads the daemon's address, so the line is ambiguous.
    #[test]
    fn user_name_of_another_shape_reads_the_true_address() {
        let f = crate::tags::expand(
            r"^Failed \S+ for (?P<cond_inv>invalid user )?<F-USER>(?P<cond_user>\S+)|(?(cond_inv)(?:(?! from ).)*?|[^:]+)</F-USER> from <HOST>(?: (?:port \d+|on \S+))*(?: ssh\d*)?(?(cond_user): |(?:(?:(?! from ).)*)$)",
            false,
        );
        let mut c = Checker::new(None, &[&f], false, false).unwrap();
        let buf = "Failed password for invalid user a from 203.0.113.0: from 198.51.100.0 port 5022 ssh2\n";
        let s = buf.find("203.").unwrap();
        let r = c.readings(buf, (s, s + 11), "203.0.113.0", (0, s + 13), None);
        assert_eq!(r.candidates, vec!["203.0.113.0", "198.51.100.0"]);
        assert_eq!(r.kind, Some(AmbiguityKind::Readings));
        // A valid user's name is an account, not attacker text: not relaxed.
        let buf = "Failed password for a from 203.0.113.0: from 198.51.100.0 port 5022 ssh2\n";
        let s = buf.find("203.").unwrap();
        let r = c.readings(buf, (s, s + 11), "203.0.113.0", (0, s + 13), None);
        assert!(!r.ambiguous(), "{r:?}");
    }

    #[test]
    fn carets_and_groups() {
        assert_eq!(strip_carets(r"^a[^b]\^c|^d"), r"a[^b]\^c|d");
        let c: Vec<char> = "x(?P<content>a(b)[)]c)y".chars().collect();
        assert_eq!(find_group(&c, "content"), Some((1, 13, 21)));
    }

    fn filter(failregex: &[&str], usedns: crate::UseDns) -> crate::Filter {
        let cfg = crate::FilterConfig {
            failregex: failregex.iter().map(|s| s.to_string()).collect(),
            usedns,
            ..crate::FilterConfig::default()
        };
        crate::Filter::new(&cfg, crate::Zone::utc(), 1.7e9).unwrap()
    }

    #[test]
    fn filter_reports_ambiguous_lines_instead_of_failures() {
        let mut f = filter(
            &[r"^Invalid user <F-USER>.*?</F-USER> from <HOST>"],
            crate::UseDns::No,
        );
        let r = f.process_entry(
            "Invalid user x from 203.0.113.9 from 198.51.100.7 port 22",
            1.7e9,
            1.7e9,
        );
        assert!(r.failures.is_empty(), "{r:?}");
        assert_eq!(r.ambiguous.len(), 1);
        assert_eq!(r.ambiguous[0].kind, AmbiguityKind::Readings);
        assert_eq!(
            r.ambiguous[0].candidates,
            vec!["203.0.113.9", "198.51.100.7"]
        );
        assert_eq!(f.ambiguous_total(), 1);
        // An ordinary line is a failure as before.
        let r = f.process_entry("Invalid user x from 198.51.100.7 port 22", 1.7e9, 1.7e9);
        assert_eq!(r.failures.len(), 1);
        assert_eq!(r.failures[0].fid, "198.51.100.7");
        // With the check off, fail2ban's pick comes back.
        f.set_ambiguity_check(false);
        let r = f.process_entry(
            "Invalid user x from 203.0.113.9 from 198.51.100.7 port 22",
            1.7e9,
            1.7e9,
        );
        assert_eq!(r.failures[0].fid, "203.0.113.9");
        assert!(r.ambiguous.is_empty());
    }

    #[test]
    fn case_insensitive_regexes_are_probed() {
        let mut f = filter(
            &[r"(?i)^login failed for .*? from <HOST>"],
            crate::UseDns::No,
        );
        let r = f.process_entry(
            "LOGIN FAILED FOR x FROM 203.0.113.9 FROM 198.51.100.7",
            1.7e9,
            1.7e9,
        );
        assert!(r.failures.is_empty(), "{r:?}");
        assert_eq!(
            r.ambiguous[0].candidates,
            vec!["203.0.113.9", "198.51.100.7"]
        );
    }

    #[test]
    fn numeric_hosts_are_never_banned() {
        let mut f = filter(&[r"^auth failure from <HOST>$"], crate::UseDns::Warn);
        for (text, addr) in [
            ("3405803842", "203.0.113.66"),
            ("0xcb007142", "203.0.113.66"),
            ("0313.0.113.66", "203.0.113.66"),
        ] {
            let r = f.process_entry(&format!("auth failure from {text}"), 1.7e9, 1.7e9);
            assert!(r.failures.is_empty(), "{text}: {r:?}");
            assert_eq!(r.ambiguous[0].kind, AmbiguityKind::NumericHost, "{text}");
            assert_eq!(r.ambiguous[0].candidates, vec![addr]);
        }
        // A name with a letter and a dot goes to DNS; one without a dot is not looked
        // up (reported, like a number).
        let r = f.process_entry("auth failure from mail.example.com", 1.7e9, 1.7e9);
        assert!(r.failures[0].needs_dns);
        let r = f.process_entry("auth failure from localhost", 1.7e9, 1.7e9);
        assert!(r.failures.is_empty(), "{r:?}");
        assert_eq!(r.ambiguous[0].candidates, vec!["localhost"]);
    }

    #[test]
    fn repeated_record_after_the_host() {
        let mut f = filter(
            &[r#"^ \[pid \d+\] \[[^\]]+\] FAIL LOGIN: Client "<HOST>"(?:\s*$|,)"#],
            crate::UseDns::No,
        );
        let line = r#" [pid 1] [x] FAIL LOGIN: Client "203.0.113.5", [y] FAIL LOGIN: Client "198.51.100.7""#;
        let r = f.process_entry(line, 1.7e9, 1.7e9);
        assert!(r.failures.is_empty(), "{r:?}");
        assert_eq!(r.ambiguous[0].kind, AmbiguityKind::RepeatedRecord);
        assert_eq!(
            r.ambiguous[0].candidates,
            vec!["203.0.113.5", "198.51.100.7"]
        );
        let r = f.process_entry(
            r#" [pid 1] [x] FAIL LOGIN: Client "198.51.100.7""#,
            1.7e9,
            1.7e9,
        );
        assert_eq!(r.failures[0].fid, "198.51.100.7");
    }

    #[test]
    fn too_many_addresses() {
        let mut f = filter(&[r"^fail .* from <HOST>$"], crate::UseDns::No);
        let junk: Vec<String> = (1..=40).map(|i| format!("from 203.0.113.{i}")).collect();
        let line = format!("fail {} from 198.51.100.7", junk.join(" "));
        let r = f.process_entry(&line, 1.7e9, 1.7e9);
        assert!(r.failures.is_empty(), "{r:?}");
        assert_eq!(r.ambiguous[0].kind, AmbiguityKind::TooManyAddresses);
    }
}
