//! bailiff-filter: fail2ban's matching pipeline, pure (no I/O; "now" is passed in).
//!
//! A [`FilterConfig`] (the resolved `prefregex`, `failregex`, `ignoreregex`, `maxlines`,
//! `datepattern`, `usedns` of one jail's filter) is compiled into a [`Filter`]: the
//! regexes are tag-expanded (`<HOST>`, `<F-USER>`, ...; module `tags`), translated from
//! Python `re` to PCRE2 syntax (module `translate`) and JIT-compiled. The filter then
//! takes one log line at a time:
//!
//! ```text
//! line ──DateDetector──▶ (before, date, after) ──literal prefilter──▶ buffer (last
//!      maxlines lines + "\n") ──ignoreregex (early)──▶ prefregex (<F-CONTENT>)
//!      ──▶ failregexes ──▶ ignoreregex ──▶ failure id (fid/ip4/ip6/dns, cidr) + ticket
//!      data, mlfid state ──▶ LineResult
//! ```
//!
//! The literal prefilter (module `literals`, single-line filters) drops a line that
//! holds none of the words some failregex needs (`Failed `, `Invalid user `...)
//! before any regex runs; results are the same with it as without it.
//!
//! [`Filter::process_line`] finds the date itself (crate `bailiff_date`);
//! [`Filter::process_dated`] takes a line whose date the caller already located;
//! [`Filter::process_entry`] takes a journal entry whose time is known. Each returns a
//! [`LineResult`] with zero or more [`Failure`]s: the failure id (an address in
//! canonical form, or an `<F-ID>` value), the time, the index of the failregex and the
//! ticket data (`user`, `users`, `mlfid`, ...). Host names (`usedns = yes|warn`) are not
//! resolved here: such a failure carries [`Failure::needs_dns`] and the caller resolves.
//!
//! Each regex search is bounded by [`MATCH_LIMIT`]: a hostile line against a
//! backtracking-prone regex is reported in [`LineResult::errors`] and processing goes on.
//! With `maxlines = 1`, a line that matches no failregex costs no heap allocation.
//!
//! ```
//! use bailiff_filter::{Filter, FilterConfig, Zone};
//! let cfg = FilterConfig {
//!     failregex: vec![r"^Failed password for \S+ from <HOST>".into()],
//!     maxlines: 1,
//!     ..FilterConfig::default()
//! };
//! let mut filter = Filter::new(&cfg, Zone::system(), 1_700_000_000.0).unwrap();
//! let res = filter.process_entry("Failed password for root from 192.0.2.7", 1.7e9, 1.7e9);
//! assert_eq!(res.failures[0].fid, "192.0.2.7");
//! ```

use std::collections::BTreeMap;

pub use bailiff_date::{DateDetector, DateHit, DateOptions, Zone};

mod addr;
pub mod ambiguity;
mod fail;
mod jit;
mod literals;
mod mlfid;
mod prefilter;
mod prune;
mod regex;
#[cfg(test)]
mod stock;
pub mod tags;
pub mod translate;

use addr::Family;
use fail::{Fail, Key, Val};
use regex::Compiled;

pub use ambiguity::{is_resolvable_name, AmbiguityKind};
pub use regex::MATCH_LIMIT;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UseDns {
    Yes,
    #[default]
    Warn,
    No,
    Raw,
}

impl UseDns {
    /// fail2ban's `usedns` values (case-insensitive); anything else is `no`, as fail2ban does.
    pub fn parse(s: &str) -> UseDns {
        match s.trim().to_ascii_lowercase().as_str() {
            "yes" | "true" => UseDns::Yes,
            "warn" => UseDns::Warn,
            "raw" => UseDns::Raw,
            _ => UseDns::No,
        }
    }
}

/// Everything a filter needs, already resolved by the config reader.
#[derive(Debug, Clone, Default)]
pub struct FilterConfig {
    pub prefregex: Option<String>,
    pub failregex: Vec<String>,
    pub ignoreregex: Vec<String>,
    /// Multi-line buffer size; 1 when unset (0 is read as 1).
    pub maxlines: usize,
    pub datepattern: Option<String>,
    pub usedns: UseDns,
    pub logtimezone: Option<String>,
    /// Try every failregex (fail2ban's `checkAllRegex`, used by tests and fail2ban-regex).
    pub check_all: bool,
    /// fail2ban-regex: accept any year for `%ExY`.
    pub any_year: bool,
    /// Report host names as they are written, never asking for resolution (fail2ban's
    /// `returnRawHost`, fail2ban-regex `-r`); `<HOST>` still accepts names unless
    /// `usedns = no`.
    pub raw_host: bool,
    /// fail2ban's `findtime` with its time checks on (`checkFindTime`, on in the
    /// daemon): see [`Filter::set_in_operation`]; lines without any date get "now" in
    /// operation and are skipped otherwise; failure times are never in the future.
    /// None (tests, fail2ban-regex): dates are taken as they are.
    pub find_time: Option<f64>,
    /// The year `%ExY` centres on; None: the year of `now` given to [`Filter::new`].
    /// (fail2ban takes the wall-clock year even when its tests freeze "now".)
    pub reference_year: Option<i32>,
}

#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("failregex #{index} {regex:?}: {message}")]
    Regex {
        index: usize,
        regex: String,
        message: String,
    },
    #[error("prefregex {regex:?}: {message}")]
    Prefregex { regex: String, message: String },
    #[error("ignoreregex #{index} {regex:?}: {message}")]
    Ignoreregex {
        index: usize,
        regex: String,
        message: String,
    },
    #[error("datepattern: {0}")]
    Date(String),
    #[error("{0}")]
    Other(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Counts towards a ban.
    Fail,
    /// Matched a `<F-NOFAIL>` regex (or a `<F-MLFGAINED>` success), or is pending
    /// (see [`Failure::pending`]). Only reported with `check_all`.
    NoFail,
}

/// One result of a line: fail2ban's (failRegexIndex, fid, time, data).
#[derive(Debug, Clone)]
pub struct Failure {
    pub kind: FailureKind,
    /// Failure id: the address text, or an `<F-ID>` value (empty when pending).
    pub fid: String,
    /// Unix time of the failure.
    pub time: f64,
    /// Index of the failregex that matched.
    pub regex: usize,
    /// Ticket data under fail2ban's names (`ip`, `user`, `users`, `ip4`, `ip6`, `dns`,
    /// `mlfid`, ...), JSON-typed. Groups that did not participate are left out.
    pub data: BTreeMap<String, serde_json::Value>,
    /// The matched line(s).
    pub matches: Vec<String>,
    /// A multi-line (`mlfid`) match still waiting for its address (only with `check_all`).
    pub pending: bool,
    /// `fid` is a host name the caller must resolve (`usedns = yes|warn`).
    pub needs_dns: bool,
    /// The ticket data as fail2ban holds it: every key in fail2ban's order (a Python
    /// dict's insertion order), groups that did not take part as [`FieldValue::None`],
    /// `matches` left out. Filled only after [`Filter::set_ordered_data`]`(true)`.
    pub ordered: Vec<(String, FieldValue)>,
}

/// A ticket-data value with its Python type (see [`Failure::ordered`]).
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// A group that did not take part in the match.
    None,
    Str(String),
    /// A set (`users`), sorted.
    Set(Vec<String>),
    /// A list of lines (`nofail-matches`).
    List(Vec<String>),
    /// `tuple_` groups.
    Tuple(Vec<Option<String>>),
    Int(i64),
}

/// What one input line produced.
#[derive(Debug, Clone, Default)]
pub struct LineResult {
    /// The date found (None: no date and none carried over).
    pub date: Option<DateHit>,
    pub failures: Vec<Failure>,
    /// An ignoreregex dropped a match.
    pub ignored: bool,
    /// Regexes that gave up on this line (match limit, JIT stack): "regex: message".
    pub errors: Vec<String>,
    /// Matches whose address attacker-written text could have supplied: nobody is
    /// banned for them (they are not in `failures`); the caller should log them.
    pub ambiguous: Vec<Ambiguity>,
}

/// A failregex match the filter does not trust (module [`ambiguity`]): the line can be
/// read with more than one address, or its host is a number a resolver would turn
/// into an arbitrary address. fail2ban would have reported `candidates[0]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Ambiguity {
    pub kind: AmbiguityKind,
    /// Index of the failregex that matched.
    pub regex: usize,
    /// The captured address first (fail2ban's pick), then every other address the
    /// line can be read with.
    pub candidates: Vec<String>,
    /// Unix time of the match.
    pub time: f64,
    /// The matched line(s).
    pub matches: Vec<String>,
}

/// One buffered line: its text and the byte span of the date cut out of it.
#[derive(Debug, Clone, Default)]
struct TupleLine {
    text: String,
    cut: (usize, usize),
}

impl TupleLine {
    fn push_content(&self, out: &mut String) {
        out.push_str(&self.text[..self.cut.0]);
        out.push_str(&self.text[self.cut.1..]);
    }
    fn content_eq(&self, s: &str) -> bool {
        let (a, b) = (&self.text[..self.cut.0], &self.text[self.cut.1..]);
        s.len() == a.len() + b.len() && s.starts_with(a) && s.ends_with(b)
    }
}

fn build_buf(lines: &[TupleLine], out: &mut String) {
    out.clear();
    for (i, l) in lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        l.push_content(out);
    }
    out.push('\n');
}

/// The line buffer after a line: unchanged, the prefregex content, or a new list.
enum LineBuf {
    Org,
    Content(usize, usize),
    Owned(Vec<TupleLine>),
}

/// How the failure id text is turned into an address (fail2ban's cidr argument).
#[derive(Debug, Clone, Copy)]
enum Cidr {
    Raw,
    Unspec,
    Fam(Family),
    Len(i64),
}

/// The failure id of address text `text` (see [`Cidr`]), appended to `out`.
fn ipaddr_into(text: &str, cidr: Cidr, out: &mut String) {
    match cidr {
        Cidr::Raw => out.push_str(text),
        // A plain dotted quad is its own canonical form whatever the family asked
        // (an IPv6 parse of it fails and keeps the text), unless a prefix length
        // masks it.
        Cidr::Unspec | Cidr::Fam(_) if is_plain_ipv4(text) => out.push_str(text),
        Cidr::Len(l) if !(0..32).contains(&l) && is_plain_ipv4(text) => out.push_str(text),
        // An IPv6 address without brackets, zone or prefix: formatted here, as
        // `addr::canonical` does, without `core::fmt`.
        Cidr::Unspec | Cidr::Fam(Family::V6 | Family::Any) if push_ipv6(text, out) => {}
        Cidr::Unspec => out.push_str(&addr::canonical_any(text)),
        Cidr::Fam(f) => out.push_str(&addr::canonical(text, f, None)),
        Cidr::Len(l) => out.push_str(&addr::canonical(text, Family::Any, Some(l))),
    }
}

/// Append the canonical form of IPv6 address text `s` (as `addr::canonical` gives
/// it without a prefix length: IPv4-mapped as IPv4, IPv4-compatible as `::a.b.c.d`,
/// the longest run of two or more zero groups, the first of equals, as `::`,
/// lowercase hex). False, with nothing appended, when `s` is no plain IPv6 address.
fn push_ipv6(s: &str, out: &mut String) -> bool {
    if !s.contains(':') {
        return false;
    }
    // Groups of hex digits are read here; a text with a dotted quad in it goes to
    // the standard parser.
    let a = if s.contains('.') {
        match s.parse::<std::net::Ipv6Addr>() {
            Ok(a) => a,
            Err(_) => return false,
        }
    } else {
        match parse_hex_ipv6(s.as_bytes()) {
            Some(seg) => std::net::Ipv6Addr::from(seg),
            None => return false,
        }
    };
    let seg = a.segments();
    let dotted = |out: &mut String, o: [u8; 4]| {
        for (i, b) in o.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            push_dec(out, *b);
        }
    };
    if let Some(v4) = a.to_ipv4_mapped() {
        dotted(out, v4.octets());
        return true;
    }
    if seg[..6].iter().all(|&w| w == 0) && seg[6] != 0 {
        out.push_str("::");
        let o = a.octets();
        dotted(out, [o[12], o[13], o[14], o[15]]);
        return true;
    }
    // The longest run of zero groups (the first of equal ones).
    let (mut best, mut best_len, mut cur, mut cur_len) = (0, 0, 0, 0);
    for (i, &w) in seg.iter().enumerate() {
        if w == 0 {
            if cur_len == 0 {
                cur = i;
            }
            cur_len += 1;
            if cur_len > best_len {
                (best, best_len) = (cur, cur_len);
            }
        } else {
            cur_len = 0;
        }
    }
    let groups = |out: &mut String, ws: &[u16]| {
        for (i, &w) in ws.iter().enumerate() {
            if i > 0 {
                out.push(':');
            }
            push_hex(out, w);
        }
    };
    if best_len > 1 {
        groups(out, &seg[..best]);
        out.push_str("::");
        groups(out, &seg[best + best_len..]);
    } else {
        groups(out, &seg);
    }
    true
}

/// IPv6 address text without a dotted quad in it (`1:2::3`), read by the rules of
/// [`std::net::Ipv6Addr`]'s parser: groups of one to four hex digits split by `:`,
/// at most one `::` standing for one or more zero groups, nothing else.
fn parse_hex_ipv6(b: &[u8]) -> Option<[u16; 8]> {
    /// One group at `*i`: one to four hex digits (further ones are left unread).
    fn group(b: &[u8], i: &mut usize) -> Option<u16> {
        let start = *i;
        let mut v = 0u16;
        while *i < b.len() && *i - start < 4 {
            let d = match b[*i] {
                c @ b'0'..=b'9' => c - b'0',
                c @ b'a'..=b'f' => c - b'a' + 10,
                c @ b'A'..=b'F' => c - b'A' + 10,
                _ => break,
            };
            v = v << 4 | u16::from(d);
            *i += 1;
        }
        (*i > start).then_some(v)
    }
    /// Up to `out.len()` groups from `*i`, each after the first preceded by `:`; a
    /// group that cannot be read leaves `*i` before its separator. How many were read.
    fn groups(b: &[u8], i: &mut usize, out: &mut [u16]) -> usize {
        for (n, slot) in out.iter_mut().enumerate() {
            let mut j = *i;
            if n > 0 {
                if b.get(j) != Some(&b':') {
                    return n;
                }
                j += 1;
            }
            match group(b, &mut j) {
                Some(g) => {
                    *slot = g;
                    *i = j;
                }
                None => return n,
            }
        }
        out.len()
    }
    let mut seg = [0u16; 8];
    let mut i = 0;
    let head = groups(b, &mut i, &mut seg);
    if head < 8 {
        if b.get(i..i + 2) != Some(b"::") {
            return None;
        }
        i += 2;
        let mut tail = [0u16; 7];
        let n = groups(b, &mut i, &mut tail[..7 - head]);
        seg[8 - n..].copy_from_slice(&tail[..n]);
    }
    (i == b.len()).then_some(seg)
}

/// `b` in decimal.
fn push_dec(out: &mut String, b: u8) {
    if b >= 100 {
        out.push(char::from(b'0' + b / 100));
    }
    if b >= 10 {
        out.push(char::from(b'0' + b / 10 % 10));
    }
    out.push(char::from(b'0' + b % 10));
}

/// `w` in lowercase hex without leading zeros.
fn push_hex(out: &mut String, w: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut started = false;
    for shift in [12, 8, 4, 0] {
        let d = (w >> shift) & 0xf;
        if d != 0 || started || shift == 0 {
            out.push(char::from(HEX[usize::from(d)]));
            started = true;
        }
    }
}

/// Whether `s` is an IPv4 address as [`std::net::Ipv4Addr`] parses it: four decimal
/// parts of at most 255, without leading zeros.
fn is_plain_ipv4(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 7 || b.len() > 15 {
        return false;
    }
    let mut i = 0;
    for part in 0..4 {
        // One to three digits, no leading zero, at most 255; then a dot.
        let start = i;
        let mut val = 0u32;
        while i < b.len() && i - start < 3 {
            let d = b[i].wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            val = val * 10 + u32::from(d);
            i += 1;
        }
        let n = i - start;
        if n == 0 || val > 255 || (n > 1 && b[start] == b'0') {
            return false;
        }
        if part < 3 {
            if b.get(i) != Some(&b'.') {
                return false;
            }
            i += 1;
        }
    }
    i == b.len()
}

/// The (UTC) calendar year of a Unix time.
pub fn civil_year(unix: f64) -> i32 {
    // Days since 1970-01-01 to a proleptic Gregorian year (H. Hinnant's algorithm).
    let days = (unix / 86400.0).floor() as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2)) as i32
}

/// A compiled filter with its multi-line state.
pub struct Filter {
    dates: DateDetector,
    zone: Zone,
    pref: Option<Compiled>,
    /// prefregex has named groups besides `content` (merged into every failure).
    pref_has_groups: bool,
    /// The number of the prefregex's `content` group.
    pref_content: Option<usize>,
    fail: Vec<Compiled>,
    /// Which failregexes may match a buffer, by its first byte (module `prefilter`).
    dispatch: prefilter::Dispatch,
    ignore: Vec<Compiled>,
    maxlines: usize,
    usedns: UseDns,
    raw_host: bool,
    check_all: bool,
    lines: Vec<TupleLine>,
    pbuf: String,
    wbuf: String,
    tmp: String,
    /// The connection id of the current match (a buffer kept across lines).
    mlfid: String,
    /// Scratch ticket data, reused line after line: a failregex's groups (when
    /// they are completed from others), and the entry of a match.
    scr_grp: Fail,
    scr_fail: Fail,
    /// The entry of a match that stands alone (forgotten, or taken out of the
    /// mlfid cache): [`Slot::Own`].
    scr_own: Fail,
    last_date: Option<f64>,
    /// The last line processed had no date (see [`Filter::last_line_undated`]).
    undated: bool,
    mlf: mlfid::MlfCache,
    find_time: Option<f64>,
    in_operation: bool,
    /// Single-line filters: the literals a line needs to reach the regexes.
    lits: Option<literals::LineLiterals>,
    /// The literal prefilter is on (see [`Filter::set_line_prefilter`]).
    lits_on: bool,
    /// Whether the literal prefilter drops enough lines to pay for itself.
    lits_worth: literals::Worth,
    /// Whether the ignoreregexes run on every line before the failregexes.
    early_ignore: bool,
    /// The ambiguity check (None: no regex has a host group).
    checker: ambiguity::Checker,
    /// Ambiguous matches so far.
    ambiguous_total: u64,
    /// The ambiguity check is on (see [`Filter::set_ambiguity_check`]).
    check_hosts: bool,
    /// What failures carry (see [`Filter::set_keep_matches`], [`Filter::set_keep_keys`]).
    keep: Keep,
    /// Pending multi-line matches are dropped unless `check_all` (see
    /// [`Filter::set_ignore_pending`]).
    ignore_pending: bool,
    /// Failures of earlier lines handed back through [`Filter::process_line_into`]:
    /// their strings and maps are overwritten by the next failures.
    spare: Vec<Failure>,
}

/// How many recycled failures a filter keeps at most.
const SPARE_FAILURES: usize = 8;

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter")
            .field("failregex", &self.failregex_expanded())
            .field("maxlines", &self.maxlines)
            .finish_non_exhaustive()
    }
}

impl Filter {
    pub fn new(cfg: &FilterConfig, zone: Zone, now: f64) -> Result<Filter, FilterError> {
        let maxlines = cfg.maxlines.max(1);
        let with_dns = cfg.usedns != UseDns::No;
        let pref = match cfg.prefregex.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => Some(Compiled::new(p, with_dns, false).map_err(|message| {
                FilterError::Prefregex {
                    regex: p.to_string(),
                    message,
                }
            })?),
            None => None,
        };
        let mut fail = Vec::with_capacity(cfg.failregex.len());
        for (index, r) in cfg.failregex.iter().enumerate() {
            let err = |message| FilterError::Regex {
                index,
                regex: r.clone(),
                message,
            };
            let c = Compiled::new(r, with_dns, maxlines > 1).map_err(err)?;
            let has_id = |c: &Compiled| {
                ["fid", "ip4", "ip6", "dns", "mlfid"]
                    .iter()
                    .any(|g| c.has_group(g))
            };
            if !has_id(&c) && !pref.as_ref().is_some_and(has_id) {
                return Err(err(format!("No failure-id group in '{}'", c.expanded())));
            }
            fail.push(c);
        }
        if let Some(p) = &pref {
            let names: Vec<&str> = p.group_names().collect();
            for c in &mut fail {
                c.keep_none_for(&names);
            }
        }
        let mut ignore = Vec::with_capacity(cfg.ignoreregex.len());
        for (index, r) in cfg.ignoreregex.iter().enumerate() {
            let c =
                Compiled::new(r, with_dns, false).map_err(|message| FilterError::Ignoreregex {
                    index,
                    regex: r.clone(),
                    message,
                })?;
            ignore.push(c);
        }
        let zone = match cfg.logtimezone.as_deref().filter(|z| !z.trim().is_empty()) {
            Some(z) => Zone::parse_logtimezone(z)
                .map_err(|e| FilterError::Other(format!("logtimezone {z:?}: {e}")))?,
            None => zone,
        };
        let opts = DateOptions {
            reference_year: cfg.reference_year.unwrap_or_else(|| civil_year(now)),
            any_year: cfg.any_year,
        };
        let dates = DateDetector::new(cfg.datepattern.as_deref(), &opts)
            .map_err(|e| FilterError::Date(e.to_string()))?;
        // fail2ban runs the ignoreregexes before the failregexes when there are few of
        // them for many failregexes.
        let early_ignore = !ignore.is_empty() && ignore.len() + 2 < fail.len();
        let lits = if maxlines == 1 {
            let f: Vec<&str> = fail.iter().map(|c| c.expanded()).collect();
            let i: Vec<&str> = if early_ignore {
                ignore.iter().map(|c| c.expanded()).collect()
            } else {
                Vec::new()
            };
            literals::LineLiterals::new(&f, &i)
        } else {
            None
        };
        let pref_has_groups = pref
            .as_ref()
            .is_some_and(|p| p.group_names().any(|n| n != "content"));
        let pref_content = pref.as_ref().and_then(|p| p.group_index("content"));
        let fail_expanded: Vec<&str> = fail.iter().map(|c| c.expanded()).collect();
        let checker = ambiguity::Checker::new(
            pref.as_ref().map(|p| p.expanded()),
            &fail_expanded,
            with_dns,
            maxlines > 1,
        )
        .map_err(FilterError::Other)?;
        Ok(Filter {
            dates,
            zone,
            pref,
            pref_has_groups,
            pref_content,
            dispatch: prefilter::Dispatch::new(fail.iter().map(Compiled::first_bytes)),
            fail,
            ignore,
            maxlines,
            usedns: cfg.usedns,
            raw_host: cfg.raw_host || cfg.usedns == UseDns::Raw,
            check_all: cfg.check_all,
            lines: Vec::with_capacity(maxlines + 1),
            pbuf: String::with_capacity(256),
            wbuf: String::with_capacity(256),
            tmp: String::new(),
            mlfid: String::new(),
            scr_grp: Fail::new(),
            scr_fail: Fail::new(),
            scr_own: Fail::new(),
            last_date: None,
            undated: false,
            mlf: mlfid::MlfCache::default(),
            find_time: cfg.find_time,
            in_operation: true,
            checker,
            ambiguous_total: 0,
            check_hosts: true,
            keep: Keep {
                matches: true,
                ordered: false,
                keys: None,
            },
            ignore_pending: true,
            spare: Vec::new(),
            lits,
            lits_on: true,
            lits_worth: literals::Worth::default(),
            early_ignore,
        })
    }

    /// Turn the ambiguity check off (`false`: every match is trusted, exactly as
    /// fail2ban does) or back on (the default). For measurements and comparisons.
    pub fn set_ambiguity_check(&mut self, on: bool) {
        self.check_hosts = on;
    }

    /// Whether [`Failure::matches`] is filled (the default) or left empty, for a
    /// caller that never reads it (`bailiff regex -o '<ip>'`): copying the matched
    /// lines of a connection into every failure is a good part of a failure's cost.
    /// Nothing else changes.
    pub fn set_keep_matches(&mut self, on: bool) {
        self.keep.matches = on;
    }

    /// Which ticket-data keys [`Failure::data`] holds: `None` (the default) every
    /// one, else only those named, for a caller that reads a few (`bailiff regex -o
    /// '<F-USER>'`). When a value it keeps holds the text `<F-`, the failure keeps
    /// every key: a caller that expands tags in values may then read any of them.
    pub fn set_keep_keys(&mut self, keys: Option<Vec<String>>) {
        // A name no regex of this filter has (nor the filter itself) is never set.
        // Each key once (`fill_failure` counts the values it writes).
        self.keep.keys = keys.map(|ks| {
            let mut v: Vec<Key> = Vec::with_capacity(ks.len());
            for k in ks.iter().filter_map(|k| Key::lookup(k)) {
                if !v.contains(&k) {
                    v.push(k);
                }
            }
            v
        });
    }

    /// Fill [`Failure::ordered`] (fail2ban-regex `-o row`): every group is then kept
    /// in the ticket data, `None` when it did not take part, as fail2ban keeps it.
    /// Matching and every other result are the same either way.
    pub fn set_ordered_data(&mut self, on: bool) {
        self.keep.ordered = on;
        if on {
            self.fail
                .iter_mut()
                .for_each(regex::Compiled::keep_none_all);
            if let Some(p) = self.pref.as_mut() {
                p.keep_none_all();
            }
        }
    }

    /// fail2ban's `ignorePending`: with `true` (the default, as in the daemon) a
    /// multi-line (`mlfid`) match still waiting for its address is dropped unless
    /// `check_all`; with `false` it is reported as a pending [`Failure`] (what
    /// fail2ban-regex does without `-o`).
    pub fn set_ignore_pending(&mut self, on: bool) {
        self.ignore_pending = on;
    }

    /// Turn off (or back on, the default) the ambiguity check's shortcut that skips
    /// probes which cannot read a token (lead-ins, anchors, required literals). The
    /// verdicts are the same either way; for the test that shows it.
    #[doc(hidden)]
    pub fn set_ambiguity_shortcuts(&mut self, on: bool) {
        self.checker.set_gate(on);
    }

    /// How many matches were ambiguous (reported in [`LineResult::ambiguous`], nobody
    /// banned) since the filter was built.
    pub fn ambiguous_total(&self) -> u64 {
        self.ambiguous_total
    }

    /// The failregexes after tag expansion (Python syntax), as fail2ban lists them.
    pub fn failregex_expanded(&self) -> Vec<&str> {
        self.fail.iter().map(|c| c.expanded()).collect()
    }

    /// Which failregexes have a literal prefilter (diagnostics, benchmarks).
    pub fn failregex_prefiltered(&self) -> Vec<bool> {
        self.fail.iter().map(|c| c.has_prefilter()).collect()
    }

    /// Per failregex: the literals one of which any line it matches contains (None:
    /// none found). Diagnostics; see [`Filter::line_prefilter`].
    pub fn failregex_literals(&self) -> Vec<Option<Vec<String>>> {
        self.fail
            .iter()
            .map(|c| literals::required(&translate::scope_inline_flags(c.expanded())))
            .collect()
    }

    /// Whether lines without any failregex literal are dropped before the regexes
    /// run (single-line filters whose every failregex, and early ignoreregex, has
    /// literals).
    pub fn line_prefilter(&self) -> bool {
        self.lits.is_some() && self.lits_on
    }

    /// Turn the literal prefilter off (every line goes through the regexes) or back
    /// on (the default). Results are the same either way; for measurements and tests.
    pub fn set_line_prefilter(&mut self, on: bool) {
        self.lits_on = on;
    }

    /// The ignoreregexes after tag expansion.
    pub fn ignoreregex_expanded(&self) -> Vec<&str> {
        self.ignore.iter().map(|c| c.expanded()).collect()
    }

    /// The date detector (for its template names and statistics).
    pub fn date_detector(&self) -> &DateDetector {
        &self.dates
    }

    /// Multi-line buffer size in effect.
    pub fn maxlines(&self) -> usize {
        self.maxlines
    }

    /// One line from a file (no trailing newline): date detection, then matching.
    pub fn process_line(&mut self, line: &str, now: f64) -> LineResult {
        let mut res = LineResult::default();
        self.process_line_into(line, now, &mut res);
        res
    }

    /// [`Filter::process_line`] into `res`, which is emptied first and whose storage
    /// (its vectors, the strings and maps of its failures) is reused: a caller that
    /// hands the same `LineResult` back line after line allocates nothing for a
    /// failure like the previous one. The results are those of `process_line`.
    pub fn process_line_into(&mut self, line: &str, now: f64, res: &mut LineResult) {
        self.recycle(res);
        match self.dates.locate(line, now, &self.zone) {
            Some(m) => {
                let hit = m.time.map(|time| DateHit {
                    start: m.start,
                    end: m.end,
                    time,
                    template: m.template,
                });
                self.process_span(line, Some((m.start, m.end)), m.time, hit, now, res)
            }
            None => self.process_span(line, None, None, None, now, res),
        }
    }

    /// One line whose date the caller has already looked for (`hit` as
    /// [`DateDetector::find`] returns it; a non-finite `time` means "date text found
    /// but not a valid date"): the rest of [`Filter::process_line`].
    pub fn process_dated(&mut self, line: &str, hit: Option<DateHit>, now: f64) -> LineResult {
        let mut res = LineResult::default();
        self.process_dated_into(line, hit, now, &mut res);
        res
    }

    /// [`Filter::process_dated`] into a reused `res` (see [`Filter::process_line_into`]).
    pub fn process_dated_into(
        &mut self,
        line: &str,
        hit: Option<DateHit>,
        now: f64,
        res: &mut LineResult,
    ) {
        self.recycle(res);
        match hit {
            Some(h) => {
                let time = Some(h.time).filter(|t| t.is_finite());
                let span = (h.start, h.end);
                self.process_span(line, Some(span), time, Some(h), now, res)
            }
            None => self.process_span(line, None, None, None, now, res),
        }
    }

    /// Empty `res` for the next line, keeping its failures' storage for reuse.
    fn recycle(&mut self, res: &mut LineResult) {
        res.date = None;
        res.ignored = false;
        res.errors.clear();
        res.ambiguous.clear();
        let room = SPARE_FAILURES.saturating_sub(self.spare.len());
        if room >= res.failures.len() {
            self.spare.append(&mut res.failures);
        } else {
            self.spare.extend(res.failures.drain(..).take(room));
            res.failures.clear();
        }
    }

    /// fail2ban's date handling: the date text (if any) is cut out of the line; a line
    /// without a usable date takes the last date when it is less than 60 s old, and a
    /// template that matched empty text (`^WARNING:()**`) falls back to "now" as well.
    fn process_span(
        &mut self,
        line: &str,
        span: Option<(usize, usize)>,
        time: Option<f64>,
        hit: Option<DateHit>,
        now: f64,
        res: &mut LineResult,
    ) {
        let recent = self.last_date.filter(|&d| d > now - 60.0);
        let span = span.filter(|&(s, e)| s <= e && line.get(s..e).is_some());
        let (cut, date) = match span {
            Some((s, e)) if s == e => ((s, e), Some(recent.unwrap_or(now))),
            Some(cut) => match time {
                Some(t) => {
                    self.last_date = Some(t);
                    (cut, Some(t))
                }
                // Date text found but not convertible: it is still cut out.
                None => (cut, self.undated(recent, now)),
            },
            None => ((0, 0), self.undated(recent, now)),
        };
        self.check_and_find(line, cut, date, hit, now, res)
    }

    /// Date of a line without one: the recent last date, or "now" for a filter in
    /// operation (with `find_time`); otherwise none.
    fn undated(&self, recent: Option<f64>, now: f64) -> Option<f64> {
        recent.or_else(|| (self.find_time.is_some() && self.in_operation).then_some(now))
    }

    /// fail2ban's time checks (with `find_time` only), then matching.
    fn check_and_find(
        &mut self,
        line: &str,
        cut: (usize, usize),
        mut date: Option<f64>,
        hit: Option<DateHit>,
        now: f64,
        res: &mut LineResult,
    ) {
        res.date = hit;
        if let (Some(find_time), Some(d)) = (self.find_time, date) {
            if self.in_operation {
                // A date more than a minute off (clock or zone trouble) counts as now.
                if (d - now).trunc().abs() > 60.0 {
                    date = Some(now);
                    self.last_date = Some(now);
                }
            } else if d < now - find_time {
                // Initial read: older than findtime, nothing to count.
                return;
            }
        }
        self.undated = date.is_none();
        self.find_failure(line, cut, date, now, res);
    }

    /// Whether the line last processed had no date for fail2ban (no usable date
    /// text, and no last date under a minute old): its failures carry "now" as
    /// their time, where fail2ban's own failure has none (`fail2ban-regex -o row`
    /// prints `None`).
    pub fn last_line_undated(&self) -> bool {
        self.undated
    }

    /// One journal entry whose time is known (no date detection).
    pub fn process_entry(&mut self, line: &str, time: f64, now: f64) -> LineResult {
        let mut res = LineResult::default();
        self.process_entry_into(line, time, now, &mut res);
        res
    }

    /// [`Filter::process_entry`] into a reused `res` (see [`Filter::process_line_into`]).
    pub fn process_entry_into(&mut self, line: &str, time: f64, now: f64, res: &mut LineResult) {
        self.recycle(res);
        self.last_date = Some(time);
        self.check_and_find(line, (0, 0), Some(time), None, now, res)
    }

    /// fail2ban's `inOperation`: true (the default) while following new lines; false
    /// during the initial read of a log, when lines older than `find_time` are skipped
    /// instead of having their dates corrected. Only matters with `find_time`.
    pub fn set_in_operation(&mut self, on: bool) {
        self.in_operation = on;
    }

    fn push_line(&mut self, line: &str, cut: (usize, usize)) {
        if self.maxlines > 1 {
            self.lines.push(TupleLine {
                text: line.to_string(),
                cut,
            });
            if self.lines.len() > self.maxlines {
                let extra = self.lines.len() - self.maxlines;
                self.lines.drain(..extra);
            }
        } else {
            // Reuse the one slot's allocation.
            self.lines.truncate(1);
            if let Some(slot) = self.lines.first_mut() {
                slot.text.clear();
                slot.text.push_str(line);
                slot.cut = cut;
            } else {
                self.lines.push(TupleLine {
                    text: line.to_string(),
                    cut,
                });
            }
        }
    }

    fn find_failure(
        &mut self,
        line: &str,
        cut: (usize, usize),
        date: Option<f64>,
        now: f64,
        res: &mut LineResult,
    ) {
        if let Some(l) = self.lits.as_ref().filter(|_| self.lits_on) {
            if self.lits_worth.scan_next() {
                let drop = !l.may_match(line, cut);
                self.lits_worth.record(drop);
                if drop {
                    // No literal of any regex: nothing can match (module `literals`).
                    return;
                }
            }
        }
        self.push_line(line, cut);
        let org = std::mem::take(&mut self.lines);
        let mut pbuf = std::mem::take(&mut self.pbuf);
        let mut wbuf = std::mem::take(&mut self.wbuf);
        build_buf(&org, &mut pbuf);
        let cur = self.match_buffer(&org, &pbuf, &mut wbuf, date, now, res);
        self.lines = match cur {
            Some(c) if self.maxlines > 1 => c,
            _ => org,
        };
        self.pbuf = pbuf;
        self.wbuf = wbuf;
    }

    /// Searches the ignoreregexes; the index of the (last, with check_all) hit.
    fn ignore_hit(&mut self, buf: &str, res: &mut LineResult) -> Option<usize> {
        let mut found = None;
        for (i, ig) in self.ignore.iter_mut().enumerate() {
            match ig.search(buf) {
                Ok(Some(_)) => {
                    found = Some(i);
                    res.ignored = true;
                    if !self.check_all {
                        break;
                    }
                }
                Ok(None) => {}
                Err(e) => res.errors.push(format!("ignoreregex #{i}: {e}")),
            }
        }
        found
    }

    /// The failregex loop over one buffer. Returns the new line buffer, if changed.
    fn match_buffer(
        &mut self,
        org: &[TupleLine],
        pbuf: &str,
        wbuf: &mut String,
        date: Option<f64>,
        now: f64,
        res: &mut LineResult,
    ) -> Option<Vec<TupleLine>> {
        let mut cur = LineBuf::Org;
        self.match_inner(org, pbuf, wbuf, date, now, res, &mut cur);
        match cur {
            LineBuf::Org => None,
            LineBuf::Content(s, e) if self.maxlines > 1 => Some(vec![TupleLine {
                text: pbuf[s..e].to_string(),
                cut: (0, 0),
            }]),
            LineBuf::Content(..) => None,
            LineBuf::Owned(v) => Some(v),
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn match_inner(
        &mut self,
        org: &[TupleLine],
        pbuf: &str,
        wbuf: &mut String,
        date: Option<f64>,
        now: f64,
        res: &mut LineResult,
        cur: &mut LineBuf,
    ) {
        let multi = self.maxlines > 1;
        // Early ignore, when there are few ignoreregexes for many failregexes.
        if self.early_ignore && self.ignore_hit(pbuf, res).is_some() {
            return;
        }
        // Which buffer the failregexes see: pbuf, or wbuf (content / rebuilt).
        let mut use_w = false;
        // Every buffer searched below is pbuf or made of its text: all ASCII when
        // pbuf is (checked once per line instead of once per regex).
        let ascii = pbuf.is_ascii().then_some(true);
        if let Some(p) = self.pref.as_mut() {
            match p.search_ascii(pbuf, ascii) {
                Ok(Some(_)) => {}
                Ok(None) => return,
                Err(e) => {
                    res.errors.push(format!("prefregex: {e}"));
                    return;
                }
            }
            let content = self.pref_content.and_then(|i| p.group_span_at(i));
            if let Some((s, e)) = content.filter(|(s, e)| e > s) {
                wbuf.clear();
                wbuf.push_str(&pbuf[s..e]);
                wbuf.push('\n');
                use_w = true;
                *cur = LineBuf::Content(s, e);
            }
        }
        let mut valid = true;
        // The failregexes that may match the buffer (by its first byte): the others
        // are not called at all.
        let mut cand = self.dispatch.candidates(if use_w {
            wbuf.as_bytes()
        } else {
            pbuf.as_bytes()
        });
        for idx in 0..self.fail.len() {
            if !valid {
                match &*cur {
                    LineBuf::Org => build_buf(org, wbuf),
                    LineBuf::Owned(v) => build_buf(v, wbuf),
                    LineBuf::Content(s, e) => {
                        wbuf.clear();
                        wbuf.push_str(&pbuf[*s..*e]);
                        wbuf.push('\n');
                    }
                }
                use_w = true;
                valid = true;
                cand = self.dispatch.candidates(wbuf.as_bytes());
            }
            if !prefilter::Dispatch::may(cand, idx) {
                continue;
            }
            let buf: &str = if use_w { wbuf } else { pbuf };
            let fr = &mut self.fail[idx];
            let span = match fr.search_ascii(buf, ascii) {
                Ok(Some(s)) => s,
                Ok(None) => continue,
                Err(e) => {
                    res.errors.push(format!("failregex #{idx}: {e}"));
                    continue;
                }
            };
            let (matched, unmatched) = regex::split_lines(buf, org, span, &fr.skipped_lines(buf));
            if !self.ignore.is_empty() {
                let hit = if multi {
                    let mut tmp = std::mem::take(&mut self.tmp);
                    build_buf(&matched, &mut tmp);
                    let h = self.ignore_hit(&tmp, res);
                    self.tmp = tmp;
                    h
                } else {
                    self.ignore_hit(buf, res)
                };
                if hit.is_some() {
                    if !self.check_all || multi {
                        *cur = LineBuf::Owned(unmatched);
                    }
                    valid = false;
                    if !self.check_all {
                        break;
                    }
                    continue;
                }
            }
            if date.is_none() && self.find_time.is_some() {
                // A match without any date while checking times: skipped.
                continue;
            }
            // Could attacker-written text have supplied the host? (module `ambiguity`)
            let content_off = match &*cur {
                LineBuf::Content(s, _) if use_w => *s,
                _ => 0,
            };
            let verdict = self.host_verdict(idx, buf, pbuf, content_off, span);
            if !self.check_all || multi {
                *cur = LineBuf::Owned(unmatched);
                valid = false;
            }
            if let Some(r) = verdict {
                let mut time = date.unwrap_or(now);
                if self.find_time.is_some() && time > now {
                    time = now;
                }
                self.ambiguous_total += 1;
                res.ambiguous.push(Ambiguity {
                    kind: r.kind.unwrap_or(AmbiguityKind::Readings),
                    regex: idx,
                    candidates: r.candidates,
                    time,
                    matches: matched.iter().map(|l| l.text.clone()).collect(),
                });
                if !self.check_all {
                    break;
                }
                continue;
            }
            // The ticket data: the prefregex's groups (read once per line) overwritten
            // by the failregex's, as spans into the buffers, in scratch entries.
            let mut fail = std::mem::take(&mut self.scr_fail);
            if self.pref_has_groups {
                // The prefregex's groups straight into the entry (its last match is
                // this line's): one match a line is the rule, so nothing is kept
                // for the next failregex.
                match &self.pref {
                    Some(p) => p.groups_into(pbuf, Some(fail::CONTENT), true, &mut fail),
                    None => fail.clear(),
                }
                let fr = &self.fail[idx];
                if fr.completes_groups() {
                    // `alt_`/`tuple_` groups are completed from the failregex's own.
                    let mut grp = std::mem::take(&mut self.scr_grp);
                    fr.groups_into(buf, None, false, &mut grp);
                    fail.extend_from(&grp);
                    self.scr_grp = grp;
                } else {
                    fr.groups_onto(buf, &mut fail);
                }
            } else {
                self.fail[idx].groups_into(buf, None, false, &mut fail);
            }
            // The connection id, copied into a buffer kept across lines.
            let mut mlfid = std::mem::take(&mut self.mlfid);
            let has_mlfid = match fail.get(fail::MLFID) {
                Some(v @ (Val::Str(_) | Val::At { .. })) => {
                    mlfid.clear();
                    mlfid.push_str(v.text(pbuf, buf).unwrap_or_default());
                    true
                }
                _ => false,
            };
            let slot = if has_mlfid {
                self.merge_failure(&mlfid, &mut fail, (pbuf, buf), &matched, now)
            } else {
                // No connection state: the failure is built from the scratch entry,
                // its texts read as spans of the buffers.
                if self.keep.matches {
                    let mut m = match fail.remove(fail::MATCHES) {
                        Some(Val::Lines(v)) => v,
                        _ => Vec::new(),
                    };
                    m.extend(matched.iter().map(|l| l.text.clone()));
                    fail.insert(fail::MATCHES, Val::Lines(m));
                }
                Slot::Scratch
            };
            let mlf = has_mlfid.then_some(&*mlfid);
            let next = self.report(idx, slot, &mut fail, mlf, (pbuf, buf), date, now, res);
            self.scr_fail = fail;
            self.mlfid = mlfid;
            match next {
                Next::Return => return,
                Next::Continue => continue,
                Next::Break => break,
            }
        }
    }

    /// The failure id of a matched (and merged) entry, then the [`Failure`] itself.
    /// `mlfid`: the connection id when the entry went through the mlfid cache;
    /// `scratch`: the line's entry (spans of `pbuf`/`buf`), for [`Slot::Scratch`].
    #[allow(clippy::too_many_arguments)]
    fn report(
        &mut self,
        idx: usize,
        mut slot: Slot,
        scratch: &mut Fail,
        mlfid: Option<&str>,
        (pbuf, buf): (&str, &str),
        date: Option<f64>,
        now: f64,
        res: &mut LineResult,
    ) -> Next {
        let done = if self.check_all {
            Next::Continue
        } else {
            Next::Break
        };
        let f: &mut Fail = match (&mut slot, mlfid) {
            (Slot::Own, _) => &mut self.scr_own,
            (Slot::Scratch, _) => scratch,
            (Slot::Cached(i), Some(_)) => self.mlf.at(*i),
            (Slot::Cached(_), None) => return done,
        };
        if mlfid.is_some() && f.truthy(fail::NOFAIL) && !self.check_all {
            return Next::Return;
        }
        // Failure id.
        let defcidr = if self.raw_host {
            Cidr::Raw
        } else {
            Cidr::Unspec
        };
        let fid = f.text(fail::FID, pbuf, buf);
        let cidr_len = f
            .text(fail::CIDR, pbuf, buf)
            .filter(|s| !s.is_empty())
            .and_then(|s| s.parse::<i64>().ok());
        let (ip, cidr, raw) = if let Some(v) = f.text(fail::IP4, pbuf, buf) {
            (
                Some(v),
                cidr_len.map_or(Cidr::Fam(Family::V4), Cidr::Len),
                true,
            )
        } else if let Some(v) = f.text(fail::IP6, pbuf, buf) {
            (
                Some(v),
                cidr_len.map_or(Cidr::Fam(Family::V6), Cidr::Len),
                true,
            )
        } else if let Some(v) = f.text(fail::DNS, pbuf, buf) {
            (Some(v), defcidr, self.raw_host)
        } else {
            if fid.is_none() && mlfid.is_none() {
                // The regex has id groups, but none took part in this match.
                res.errors
                    .push(format!("failregex #{idx}: no failure-id group matched"));
                return Next::Continue;
            }
            (fid, defcidr, true)
        };
        // The failure is written into a recycled one (its strings reused).
        let mut out = self.spare.pop().unwrap_or_else(Failure::empty);
        out.fid.clear();
        let mut needs_dns = false;
        // The `ip` entry a failure gets when its id is another group than its address.
        let mut ip_entry = None;
        let id = match ip {
            None => Id::Pending,
            Some(ip) if raw => {
                match fid {
                    Some(fid) if fid != ip => {
                        let mut ipc = String::new();
                        ipaddr_into(ip, cidr, &mut ipc);
                        ip_entry = Some(ipc);
                        ipaddr_into(fid, defcidr, &mut out.fid);
                    }
                    _ => ipaddr_into(ip, cidr, &mut out.fid),
                }
                Id::Found
            }
            Some(name) => match addr::search_ip(name) {
                Some(a) => {
                    out.fid.push_str(&addr::canonical_any(a));
                    Id::Found
                }
                None if matches!(self.usedns, UseDns::Yes | UseDns::Warn)
                    && ambiguity::is_resolvable_name(name) =>
                {
                    needs_dns = true;
                    out.fid.push_str(name);
                    Id::Found
                }
                None => Id::Nothing,
            },
        };
        if let Some(ipc) = ip_entry {
            f.insert(fail::IP, Val::Str(ipc));
        }
        // At most one failure: a pending one has no address yet.
        let pending = match id {
            Id::Pending => {
                f.insert(fail::MLFPENDING, Val::Int(1));
                if !self.check_all && self.ignore_pending {
                    self.spare.push(out);
                    return Next::Return;
                }
                true
            }
            Id::Found => false,
            Id::Nothing => {
                self.spare.push(out);
                return done;
            }
        };
        let mut time = date.unwrap_or(now);
        if self.find_time.is_some() && time > now {
            // Not in the future.
            time = now;
        }
        fill_failure(&mut out, f, (pbuf, buf), &self.keep);
        out.finish(idx, pending, time, needs_dns);
        res.failures.push(out);
        done
    }

    /// The ambiguity verdict on the last match of failregex `idx` (on `buf`, which is
    /// `pbuf` or the prefregex content at `content_off` of it): None when the host
    /// it captured (if any) is trusted.
    fn host_verdict(
        &mut self,
        idx: usize,
        buf: &str,
        pbuf: &str,
        content_off: usize,
        span: (usize, usize),
    ) -> Option<ambiguity::Readings> {
        if !self.check_hosts {
            return None;
        }
        let multi = self.maxlines > 1;
        let fr = &self.fail[idx];
        // The captured host: the failregex's, else the prefregex's.
        let (group, tok, off, whole) = match fr.host_span() {
            Some((g, s)) if multi => (g, s, 0, buf),
            Some((g, s)) => (g, s, content_off, pbuf),
            None if multi => return None,
            None => {
                let p = self.pref.as_ref()?;
                let (g, s) = p.host_span()?;
                // Positions are already in pbuf.
                let text = pbuf.get(s.0..s.1)?;
                if !self.checker.worth_checking(pbuf, s) {
                    return None;
                }
                let addr = self.captured_address(g, text)?;
                let content = self.content_span(content_off, buf);
                let r = self.checker.readings(
                    pbuf,
                    s,
                    &addr,
                    (span.0 + content_off, span.1 + content_off),
                    content,
                );
                return r.ambiguous().then_some(r);
            }
        };
        let text = buf.get(tok.0..tok.1)?;
        if group == "dns" && addr::search_ip(text).is_none() {
            if let Some(a) = ambiguity::inet_aton(text) {
                // A number: getaddrinfo would make any address of it.
                return Some(ambiguity::Readings {
                    candidates: vec![a.to_string()],
                    kind: Some(AmbiguityKind::NumericHost),
                });
            }
            // A name without a dot (`localhost`, `intranet`): fail2ban would resolve it
            // through the hosts file or the search domains; we do not look it up.
            if matches!(self.usedns, UseDns::Yes | UseDns::Warn)
                && !self.raw_host
                && text.chars().any(char::is_alphabetic)
                && !ambiguity::is_resolvable_name(text)
            {
                return Some(ambiguity::Readings {
                    candidates: vec![text.to_ascii_lowercase()],
                    kind: Some(AmbiguityKind::NumericHost),
                });
            }
        }
        let tok = (tok.0 + off, tok.1 + off);
        if !self.checker.worth_checking(whole, tok) {
            return None;
        }
        let addr = self.captured_address(group, text)?;
        let matched = (span.0 + off, span.1 + off);
        let content = if multi {
            None
        } else {
            self.content_span(content_off, buf)
        };
        let r = self.checker.readings(whole, tok, &addr, matched, content);
        r.ambiguous().then_some(r)
    }

    /// The prefregex content's span in pbuf, when the failregexes ran on it.
    fn content_span(&self, content_off: usize, buf: &str) -> Option<(usize, usize)> {
        self.pref
            .as_ref()
            .and_then(|p| p.group_span("content"))
            .filter(|&(s, e)| s == content_off && e > s && buf.len() == e - s + 1)
    }

    /// The address a host capture stands for (None: a name that is no address).
    fn captured_address(&self, group: &str, text: &str) -> Option<String> {
        match group {
            "dns" => match addr::search_ip(text) {
                Some(a) => Some(addr::canonical_any(a)),
                None => Some(text.to_ascii_lowercase()),
            },
            _ => Some(addr::canonical_any(text)),
        }
    }

    /// fail2ban's per-`mlfid` merge: the cached entry of the connection absorbs the
    /// new groups; nofail/gained/forget flags decide what is reported. The entry
    /// stays in the cache ([`Slot::Cached`]) or, forgotten, is handed back.
    fn merge_failure(
        &mut self,
        mlfid: &str,
        fail: &mut Fail,
        (pbuf, buf): (&str, &str),
        matched: &[TupleLine],
        now: f64,
    ) -> Slot {
        const NOFAIL: u8 = 1;
        const FORGET: u8 = 2;
        const CACHED_NOFAIL: u8 = 4;
        const GAINED: u8 = 8;
        let mut fl = 0u8;
        if fail.truthy(fail::MLFGAINED) {
            fl |= GAINED | NOFAIL;
            if !fail.truthy(fail::NOFAIL) {
                let g = fail.get(fail::MLFGAINED).cloned().unwrap_or(Val::None);
                fail.insert(fail::NOFAIL, g);
            }
        } else if fail.truthy(fail::NOFAIL) {
            fl |= NOFAIL;
        }
        if fail.remove(fail::MLFFORGET).is_some_and(|v| v.truthy()) {
            fl |= FORGET;
        }
        let user = fail.text(fail::USER, pbuf, buf).filter(|u| !u.is_empty());
        // The connection's entry after the merge: users, flags and matched lines.
        let keep_matches = self.keep.matches;
        let settle = |g: &mut Fail, fl: &mut u8, count_users: bool| {
            let pending = g.remove(fail::MLFPENDING).is_some_and(|v| v.truthy());
            let many_users =
                count_users && matches!(g.get(fail::USERS), Some(Val::Set(s)) if s.len() > 1);
            if pending || many_users {
                g.remove(fail::NOFAIL);
                g.remove(fail::MLFGAINED);
                *fl &= !(GAINED | NOFAIL);
            }
            let lines = || matched.iter().map(|l| l.text.clone());
            if *fl & NOFAIL == 0 {
                let old = g.remove(fail::NOFAIL_MATCHES);
                // `matches` is only read from a failure's matched lines: without
                // them it is not kept at all.
                if keep_matches {
                    let mut m = match old {
                        Some(Val::Lines(v)) => v,
                        _ => Vec::new(),
                    };
                    // The old list is replaced below: move its lines instead of copying.
                    if let Some(Val::Lines(v)) = g.remove(fail::MATCHES) {
                        m.extend(v);
                    }
                    if *fl & GAINED == 0 {
                        m.extend(lines());
                    }
                    g.insert(fail::MATCHES, Val::Lines(m));
                }
            } else if *fl & (NOFAIL | FORGET) == NOFAIL {
                let mut m = match g.remove(fail::NOFAIL_MATCHES) {
                    Some(Val::Lines(v)) => v,
                    _ => Vec::new(),
                };
                m.extend(lines());
                g.insert(fail::NOFAIL_MATCHES, Val::Lines(m));
            }
        };
        if let Some(i) = self.mlf.get_mut(mlfid, now) {
            let g = self.mlf.at(i);
            fail::add_user(g, user);
            if g.remove(fail::NOFAIL).is_some_and(|v| v.truthy()) {
                fl |= CACHED_NOFAIL;
            }
            if g.remove(fail::MLFGAINED).is_some_and(|v| v.truthy()) {
                fl |= CACHED_NOFAIL;
            }
            if fl & GAINED != 0 {
                g.remove(fail::MLFPENDING);
            }
            if fl & CACHED_NOFAIL == 0 && !g.truthy(fail::MLFPENDING) {
                g.remove(fail::MATCHES);
            }
            for (k, v) in fail.entries() {
                // The entry's `mlfid` is its key, the text just matched.
                if !matches!(v, Val::None) && (*k != fail::MLFID || g.get(*k).is_none()) {
                    g.set_resolved(*k, v, pbuf, buf);
                }
            }
            settle(g, &mut fl, true);
            if fl & FORGET != 0 {
                // The cache slot keeps the storage of the last standalone entry.
                self.mlf.take_into(mlfid, i, &mut self.scr_own);
                Slot::Own
            } else {
                Slot::Cached(i)
            }
        } else if fl & FORGET == 0 {
            // A new connection: its entry is written over a freed one's storage.
            let i = self.mlf.set(mlfid, now);
            let own = self.mlf.at(i);
            own.assign_resolved(fail, pbuf, buf);
            fail::add_user(own, user);
            settle(own, &mut fl, true);
            Slot::Cached(i)
        } else {
            let own = &mut self.scr_own;
            own.assign_resolved(fail, pbuf, buf);
            settle(own, &mut fl, false);
            Slot::Own
        }
    }
}

/// Where the ticket data of a match ended up.
enum Slot {
    /// In the mlfid cache, under the connection id, at this index.
    Cached(mlfid::Idx),
    /// Taken out of the cache (forgotten) or built for this match alone: in
    /// `Filter::scr_own`.
    Own,
    /// Still in the line's scratch entry, as spans of the buffers.
    Scratch,
}

/// What the failregex loop does after a match.
enum Next {
    Return,
    Continue,
    Break,
}

/// A match's failure id.
enum Id {
    /// None yet (a multi-line match waiting for its address).
    Pending,
    /// Written into the failure.
    Found,
    /// A host name that is no address and is not to be resolved: no failure.
    Nothing,
}

/// [`Failure::ordered`] of an entry (emptied, filled only when asked for).
fn ordered_fields(
    keep: &Keep,
    fail: &Fail,
    bufs: (&str, &str),
    out: &mut Vec<(String, FieldValue)>,
) {
    out.clear();
    if !keep.ordered {
        return;
    }
    out.extend(
        fail.entries()
            .filter(|(k, _)| *k != fail::MATCHES)
            .map(|(k, v)| (k.as_str().to_string(), v.to_field(bufs))),
    );
}

/// What a [`Failure`] carries of its ticket data.
#[derive(Debug, Clone)]
struct Keep {
    matches: bool,
    /// Fill [`Failure::ordered`].
    ordered: bool,
    /// None: every key.
    keys: Option<Vec<Key>>,
}

impl Keep {
    fn wants(&self, k: Key) -> bool {
        self.keys.as_ref().is_none_or(|ks| ks.contains(&k))
    }
    /// Every key is kept: no list, or the id or a kept value holds `<F-`.
    fn all_keys(&self, fid: &str, fail: &Fail, bufs: (&str, &str)) -> bool {
        let Some(keys) = &self.keys else {
            return true;
        };
        has_tag(fid)
            || keys
                .iter()
                .any(|k| fail.get(*k).is_some_and(|v| val_has_tag(v, bufs)))
    }
}

/// Whether a value holds `<F-` somewhere.
fn val_has_tag(v: &Val, (pbuf, buf): (&str, &str)) -> bool {
    match v {
        Val::Str(_) | Val::At { .. } => v.text(pbuf, buf).is_some_and(has_tag),
        Val::Set(s) => s.iter().any(|s| has_tag(s)),
        Val::Lines(l) => l.iter().any(|s| has_tag(s)),
        Val::Tuple(t) => t.iter().flatten().any(|s| has_tag(s)),
        Val::Int(_) | Val::None => false,
    }
}

/// Whether `s` holds `<F-` (a tag a caller expanding values would read).
fn has_tag(s: &str) -> bool {
    let b = s.as_bytes();
    // The values looked at here are short (addresses, user names) and almost never
    // hold `<`: eight bytes a step look for one without a call.
    const LO: u64 = 0x0101_0101_0101_0101;
    let lt = |w: [u8; 8]| {
        let x = u64::from_le_bytes(w) ^ (u64::from(b'<') * LO);
        x.wrapping_sub(LO) & !x & (0x80 * LO) != 0
    };
    let mut words = b.chunks_exact(8);
    let mut any = false;
    for w in &mut words {
        any |= lt([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
    }
    let rest = words.remainder();
    let mut last = [0u8; 8];
    last[..rest.len()].copy_from_slice(rest);
    any |= lt(last);
    any && memchr::memchr_iter(b'<', b).any(|i| b[i + 1..].starts_with(b"F-"))
}

/// Write the ticket data of `fail` (texts read in `bufs` where they are spans) into
/// `out`, a failure whose `fid` is set: `data`, `matches` and `ordered` are
/// overwritten in place, their strings reused.
fn fill_failure(out: &mut Failure, fail: &Fail, bufs: (&str, &str), keep: &Keep) {
    out.kind = if fail.truthy(fail::NOFAIL) {
        FailureKind::NoFail
    } else {
        FailureKind::Fail
    };
    match fail.get(fail::MATCHES) {
        Some(Val::Lines(l)) if keep.matches => out.matches.clone_from(l),
        _ => out.matches.clear(),
    }
    // The few keys a caller reads (`-o '<ip> <F-USER>'`): looked up one by one,
    // unless a value holds a tag (then every key is kept, see [`Keep::all_keys`]).
    if let Some(keys) = keep.keys.as_ref().filter(|ks| ks.len() <= 8) {
        let mut vals: [Option<&Val>; 8] = [None; 8];
        let mut tagged = has_tag(&out.fid);
        for (slot, k) in vals.iter_mut().zip(keys) {
            let v = fail
                .get(*k)
                .filter(|v| *k != fail::MATCHES && !matches!(v, Val::None));
            tagged |= v.is_some_and(|v| val_has_tag(v, bufs));
            *slot = v;
        }
        if !tagged {
            let vals = &vals[..keys.len()];
            let mut present = 0;
            for (k, v) in keys.iter().zip(vals) {
                let Some(v) = v else { continue };
                present += 1;
                match out.data.get_mut(k.as_str()) {
                    Some(slot) => v.write_json(slot, bufs),
                    None => {
                        if let Some(j) = v.json(bufs) {
                            out.data.insert(k.as_str().to_string(), j);
                        }
                    }
                }
            }
            // Every value written is there now: keys of the last failure that this
            // one lacks are the only extra ones (usually none, and no pass is made).
            if out.data.len() > present {
                out.data.retain(|name, _| {
                    keys.iter()
                        .zip(vals)
                        .any(|(k, v)| v.is_some() && k.as_str() == name.as_str())
                });
            }
            ordered_fields(keep, fail, bufs, &mut out.ordered);
            return;
        }
    }
    let all = keep.all_keys(&out.fid, fail, bufs);
    let kept =
        |k: Key, v: &Val| k != fail::MATCHES && !matches!(v, Val::None) && (all || keep.wants(k));
    // Keys of the last failure this one does not have go; the others are overwritten.
    if !out.data.is_empty() {
        out.data.retain(|name, _| {
            fail.entries()
                .any(|(k, v)| k.as_str() == name.as_str() && kept(*k, v))
        });
    }
    for (k, v) in fail.entries() {
        if !kept(*k, v) {
            continue;
        }
        match out.data.get_mut(k.as_str()) {
            Some(slot) => v.write_json(slot, bufs),
            None => {
                if let Some(j) = v.json(bufs) {
                    out.data.insert(k.as_str().to_string(), j);
                }
            }
        }
    }
    ordered_fields(keep, fail, bufs, &mut out.ordered);
}

impl Failure {
    /// A failure with nothing in it yet (filled by [`fill_failure`]).
    fn empty() -> Failure {
        Failure {
            kind: FailureKind::Fail,
            fid: String::new(),
            time: 0.0,
            regex: 0,
            data: BTreeMap::new(),
            matches: Vec::new(),
            pending: false,
            needs_dns: false,
            ordered: Vec::new(),
        }
    }

    /// The fields besides the ticket data.
    fn finish(&mut self, idx: usize, pending: bool, time: f64, needs_dns: bool) {
        if pending {
            self.kind = FailureKind::NoFail;
        }
        self.pending = pending;
        self.time = time;
        self.regex = idx;
        self.needs_dns = needs_dns;
    }
}

#[cfg(test)]
mod tests;
