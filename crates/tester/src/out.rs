//! `-o/--out`: one printed line per failure, the way fail2ban-regex prints it.
//!
//! An [`OutFormat`] is parsed once from the option's text and then renders the
//! failures of each line ([`OutFormat::write`]). Templates (`-o '<ip> <F-USER>'`)
//! use the action tags of a ban ticket (`<ip>`, `<fid>`, `<time>`, `<failures>`,
//! `<matches>`, `<family>`, `<ip-rev>`, `<F-NAME>`...) plus `<msg>`, substituted in
//! one pass (a value is never expanded again), then `<F-NAME>` tags.

use std::io::{self, Write};
use std::net::IpAddr;

use bailiff_filter::{Failure, FailureKind};
use serde_json::Value;

/// What `-o` prints for each failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutFormat {
    /// `id`/`fid`: the failure id.
    Id,
    /// `ip`: the ticket's `ip`, else the id.
    Ip,
    /// `msg`: every matched line.
    Msg,
    /// `row`: `[fid, time, {data}],` in Python notation.
    Row,
    /// Any other bare word: that ticket-data key (`None` when absent).
    Key(String),
    /// A text with `<tags>`.
    Template(Template),
}

/// A `-o` template split once into literal text and tags, so that a failure is
/// printed without re-scanning the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    text: String,
    segs: Vec<Seg>,
    /// A literal holds `<F-`: only the two-pass [`render`] prints it right.
    general: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Lit(String),
    /// `<name>`: a ticket tag, or kept as written when unknown.
    Tag(String),
    /// `<time>`, `<ip>`, `<fid>`: the tags of every line, told apart once.
    Time,
    Ip,
    Fid,
    /// `<F-NAME>`: the captured group (its ticket-data key), or nothing.
    Group(String),
}

impl Template {
    pub fn compile(text: &str) -> Template {
        let mut segs = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(open) = rest.find('<') {
            lit.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find(['>', '<', ' ']) {
                Some(c) if c > 0 && after.as_bytes()[c] == b'>' => {
                    let tag = &after[..c];
                    if !lit.is_empty() {
                        segs.push(Seg::Lit(std::mem::take(&mut lit)));
                    }
                    let group = tag.strip_prefix("F-").filter(|n| {
                        n.bytes().all(|b| {
                            b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                        })
                    });
                    segs.push(match (group, tag) {
                        (Some(n), _) => Seg::Group(tag_to_key(n)),
                        (None, "time") => Seg::Time,
                        (None, "ip") => Seg::Ip,
                        (None, "fid") => Seg::Fid,
                        (None, _) => Seg::Tag(tag.to_string()),
                    });
                    rest = &after[c + 1..];
                }
                _ => {
                    lit.push('<');
                    rest = after;
                }
            }
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            segs.push(Seg::Lit(lit));
        }
        let general = segs
            .iter()
            .any(|s| matches!(s, Seg::Lit(l) if l.contains("<F-")));
        Template {
            text: text.to_string(),
            segs,
            general,
        }
    }

    /// Substitute the tags for failure `f` (as [`render`], without re-scanning).
    pub fn render(
        &self,
        f: &Failure,
        int_time: bool,
        msg: &mut dyn FnMut(&Failure) -> String,
    ) -> String {
        let mut out = Vec::with_capacity(self.text.len() + 64);
        self.render_into(f, int_time, msg, &mut out);
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// [`Template::render`] appended to `out`.
    pub fn render_into(
        &self,
        f: &Failure,
        int_time: bool,
        msg: &mut dyn FnMut(&Failure) -> String,
        out: &mut Vec<u8>,
    ) {
        let mark = out.len();
        if self.general || !self.render_fast(f, int_time, msg, out) {
            out.truncate(mark);
            out.extend_from_slice(render(&self.text, f, int_time, msg).as_bytes());
        }
    }

    /// The one-pass rendering; false when a value needs the reference's second
    /// pass (the caller then takes [`render`]).
    fn render_fast(
        &self,
        f: &Failure,
        int_time: bool,
        msg: &mut dyn FnMut(&Failure) -> String,
        out: &mut Vec<u8>,
    ) -> bool {
        // Text printed as it is: no NUL to escape, no `<` a second pass could read.
        let plain = |s: &str| !has_byte2(s.as_bytes(), 0, b'<');
        out.reserve(self.text.len() + 64);
        for seg in &self.segs {
            match seg {
                // A separator (one byte, the usual case) without a copy call.
                Seg::Lit(l) if l.len() == 1 => out.push(l.as_bytes()[0]),
                Seg::Lit(l) => out.extend_from_slice(l.as_bytes()),
                // The tags of every line, written without a temporary.
                Seg::Time => push_time(out, f.time, int_time),
                Seg::Fid if plain(&f.fid) => out.extend_from_slice(f.fid.as_bytes()),
                Seg::Ip => match f.data.get("ip") {
                    Some(Value::String(ip)) if plain(ip) => out.extend_from_slice(ip.as_bytes()),
                    Some(v) if !v.is_null() => return false,
                    _ if plain(&f.fid) => out.extend_from_slice(f.fid.as_bytes()),
                    _ => return false,
                },
                Seg::Fid => return false,
                Seg::Tag(t) => {
                    let v = ticket_tag(t, f, int_time, msg);
                    let v = v.unwrap_or_else(|| format!("<{t}>"));
                    // A value that itself holds `<F-...>` would be expanded by the
                    // reference's second pass: take the general path.
                    if v.contains("<F-") {
                        return false;
                    }
                    out.extend_from_slice(v.as_bytes());
                }
                Seg::Group(k) => {
                    if let Some(v) = f.data.get(k).filter(|v| !v.is_null()) {
                        match v {
                            Value::String(s) if !has_byte2(s.as_bytes(), 0, 0) => {
                                out.extend_from_slice(s.as_bytes())
                            }
                            _ => out.extend_from_slice(escape_nul(&py_str_of(k, v)).as_bytes()),
                        }
                    }
                }
            }
        }
        true
    }
}

/// 0x01 in every byte of a word.
const LO: u64 = 0x0101_0101_0101_0101;

/// Does `s` (text: never a 0xff byte) hold ASCII byte `a` or `b`? Eight bytes a
/// step without a call: the values printed are short (addresses, user names),
/// where a vector search's setup costs more than the search.
fn has_byte2(s: &[u8], a: u8, b: u8) -> bool {
    // A zero byte in x sets its high bit in `(x - 0x01..) & !x & 0x80..` (and a
    // word without one gives 0).
    let zero = |x: u64| x.wrapping_sub(LO) & !x & (0x80 * LO);
    let (wa, wb) = (u64::from(a) * LO, u64::from(b) * LO);
    let mut words = s.chunks_exact(8);
    let mut hit = 0u64;
    for w in &mut words {
        let x = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        hit |= zero(x ^ wa) | zero(x ^ wb);
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        // Padded with 0xff, which no UTF-8 text holds (the callers look for ASCII).
        let mut w = [0xffu8; 8];
        w[..rest.len()].copy_from_slice(rest);
        let x = u64::from_le_bytes(w);
        hit |= zero(x ^ wa) | zero(x ^ wb);
    }
    hit != 0
}

/// The ticket time as [`py_time`] prints it, appended without `core::fmt` in the
/// common cases (whole seconds).
fn push_time(out: &mut Vec<u8>, t: f64, int_time: bool) {
    if t > 0.0 && t < 9e15 {
        let n = t as u64;
        if n as f64 == t {
            push_u64(out, n);
            if !int_time {
                out.extend_from_slice(b".0");
            }
            return;
        }
    }
    out.extend_from_slice(py_time(t, int_time).as_bytes());
}

/// Two decimal digits of each number below 100.
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
                            2021222324252627282930313233343536373839\
                            4041424344454647484950515253545556575859\
                            6061626364656667686970717273747576777879\
                            8081828384858687888990919293949596979899";

/// Decimal digits of `n`. Numbers of nine or ten digits (every Unix time from 2001
/// to 2286) take three divisions by constants; others go two digits at a time. Not
/// inlined: the compiler would otherwise compute all twenty digits up front in
/// every caller.
#[inline(never)]
fn push_u64(out: &mut Vec<u8>, n: u64) {
    if (100_000_000..10_000_000_000).contains(&n) {
        // hi: one or two digits; lo: eight digits, as two halves of four.
        let (hi, lo) = ((n / 100_000_000) as usize, (n % 100_000_000) as u32);
        let (a, b) = ((lo / 10_000) as usize, (lo % 10_000) as usize);
        let mut d = [0u8; 10];
        d[0..2].copy_from_slice(&PAIRS[hi * 2..hi * 2 + 2]);
        d[2..4].copy_from_slice(&PAIRS[(a / 100) * 2..(a / 100) * 2 + 2]);
        d[4..6].copy_from_slice(&PAIRS[(a % 100) * 2..(a % 100) * 2 + 2]);
        d[6..8].copy_from_slice(&PAIRS[(b / 100) * 2..(b / 100) * 2 + 2]);
        d[8..10].copy_from_slice(&PAIRS[(b % 100) * 2..(b % 100) * 2 + 2]);
        out.extend_from_slice(&d[usize::from(hi < 10)..]);
        return;
    }
    let mut n = n;
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    while n >= 10 {
        let d = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        digits[i..i + 2].copy_from_slice(&PAIRS[d..d + 2]);
    }
    if n > 0 || i == digits.len() {
        i -= 1;
        digits[i] = b'0' + n as u8;
    }
    out.extend_from_slice(&digits[i..]);
}

/// Placeholder for `<msg>` when a failure spans several lines.
const MSG_MARK: &str = "\0msg\0";

impl OutFormat {
    pub fn parse(s: &str) -> OutFormat {
        match s {
            "id" | "fid" => OutFormat::Id,
            "ip" => OutFormat::Ip,
            "msg" => OutFormat::Msg,
            "row" => OutFormat::Row,
            _ if s.contains('<') => OutFormat::Template(Template::compile(s)),
            _ => OutFormat::Key(s.to_string()),
        }
    }

    /// Whether printing reads [`Failure::matches`] (the matched lines).
    pub fn reads_matches(&self) -> bool {
        match self {
            OutFormat::Id | OutFormat::Ip | OutFormat::Row => false,
            OutFormat::Msg => true,
            OutFormat::Key(k) => k == "matches",
            OutFormat::Template(t) => t.segs.iter().any(|s| match s {
                Seg::Tag(t) => !matches!(
                    t.as_str(),
                    "ip" | "fid"
                        | "time"
                        | "family"
                        | "ip-rev"
                        | "ip-host"
                        | "failures"
                        | "ipfailures"
                        | "ipjailfailures"
                        | "bancount"
                        | "restored"
                        | "br"
                        | "sp"
                ),
                Seg::Lit(_) | Seg::Group(_) | Seg::Time | Seg::Ip | Seg::Fid => false,
            }),
        }
    }

    /// The ticket-data keys printing reads (None: any). A value holding `<F-` is
    /// expanded again and may name any key: the filter then keeps them all.
    pub fn reads_keys(&self) -> Option<Vec<String>> {
        match self {
            OutFormat::Id | OutFormat::Msg => Some(Vec::new()),
            OutFormat::Ip => Some(vec!["ip".into()]),
            OutFormat::Row => None,
            OutFormat::Key(k) => Some(vec![k.clone()]),
            OutFormat::Template(t) => {
                let mut keys = vec!["ip".to_string(), "failures".to_string()];
                for s in &t.segs {
                    match s {
                        Seg::Group(k) => keys.push(k.clone()),
                        // `<F-` written in the text: the general path reads any key.
                        Seg::Lit(l) if l.contains("<F-") => return None,
                        _ => {}
                    }
                }
                Some(keys)
            }
        }
    }

    /// Append what the reference prints for the failures one input line produced
    /// (those of kind [`FailureKind::Fail`]; the others are skipped) to `out`.
    /// `int_time`: the reference keeps the time as an integer (dates with an
    /// explicit zone, or a `--timezone`), which prints without `.0`. `undated`: the
    /// line had no date ([`bailiff_filter::Filter::last_line_undated`]); the
    /// reference's failure then has no time, which `row` prints as `None` (its
    /// `<time>` tag prints the clock's time, as the failures' time here is).
    pub fn write(&self, failures: &[Failure], int_time: bool, undated: bool, out: &mut Vec<u8>) {
        let fails = || failures.iter().filter(|f| f.kind == FailureKind::Fail);
        // Writing to a Vec cannot fail.
        let _ = self.write_fails(fails, int_time, undated, out);
    }

    fn write_fails<'a, I: Iterator<Item = &'a Failure>>(
        &self,
        failures: impl Fn() -> I,
        int_time: bool,
        undated: bool,
        w: &mut Vec<u8>,
    ) -> io::Result<()> {
        match self {
            OutFormat::Id => {
                for f in failures() {
                    writeln!(w, "{}", f.fid)?;
                }
            }
            OutFormat::Ip => {
                for f in failures() {
                    match f.data.get("ip") {
                        Some(v) if !v.is_null() => writeln!(w, "{}", py_str(v))?,
                        _ => writeln!(w, "{}", f.fid)?,
                    }
                }
            }
            OutFormat::Msg => {
                for f in failures() {
                    for m in &f.matches {
                        writeln!(w, "{m}")?;
                    }
                }
            }
            OutFormat::Row if failures().all(|f| !f.ordered.is_empty()) => {
                // fail2ban's dict: its key order, None for groups that did not match.
                for f in failures() {
                    let items: Vec<String> = f
                        .ordered
                        .iter()
                        .map(|(k, v)| format!("{}: {}", py_repr_str(k), py_field(v)))
                        .collect();
                    writeln!(
                        w,
                        "[{},\t{},\t{{{}}}],",
                        py_repr_str(&f.fid),
                        row_time(f.time, int_time, undated),
                        items.join(", ")
                    )?;
                }
            }
            OutFormat::Row => {
                for f in failures() {
                    let mut data = String::from("{");
                    let mut first = true;
                    for (k, v) in f.data.iter().filter(|(k, _)| k.as_str() != "matches") {
                        if !first {
                            data.push_str(", ");
                        }
                        first = false;
                        data.push_str(&py_repr_str(k));
                        data.push_str(": ");
                        data.push_str(&match v {
                            Value::Array(_) if k == "users" => py_str_of(k, v),
                            _ => py_repr(v),
                        });
                    }
                    data.push('}');
                    writeln!(
                        w,
                        "[{},\t{},\t{}],",
                        py_repr_str(&f.fid),
                        row_time(f.time, int_time, undated),
                        data
                    )?;
                }
            }
            OutFormat::Key(key) => {
                for f in failures() {
                    if key == "matches" {
                        let list = Value::from(f.matches.clone());
                        writeln!(w, "{}", py_repr(&list))?;
                    } else {
                        match f.data.get(key.as_str()) {
                            Some(v) => writeln!(w, "{}", py_str_of(key, v))?,
                            None => writeln!(w, "None")?,
                        }
                    }
                }
            }
            OutFormat::Template(t) => write_template(t, failures(), int_time, w),
        }
        Ok(())
    }
}

/// Python's `repr` of a ticket-data value (a set's items sorted: Python's own order
/// of a set of strings changes from run to run).
fn py_field(v: &bailiff_filter::FieldValue) -> String {
    use bailiff_filter::FieldValue as F;
    let strs = |l: &[String]| l.iter().map(|s| py_repr_str(s)).collect::<Vec<_>>();
    match v {
        F::None => "None".to_string(),
        F::Str(s) => py_repr_str(s),
        F::Int(i) => i.to_string(),
        F::Set(s) if s.is_empty() => "set()".to_string(),
        F::Set(s) => format!("{{{}}}", strs(s).join(", ")),
        F::List(l) => format!("[{}]", strs(l).join(", ")),
        F::Tuple(t) => {
            let items: Vec<String> = t
                .iter()
                .map(|v| v.as_deref().map_or("None".to_string(), py_repr_str))
                .collect();
            if items.len() == 1 {
                format!("({},)", items[0])
            } else {
                format!("({})", items.join(", "))
            }
        }
    }
}

fn write_template<'a>(
    t: &Template,
    failures: impl Iterator<Item = &'a Failure>,
    int_time: bool,
    w: &mut Vec<u8>,
) {
    // Once a failure with several matched lines is met, it and every later one of
    // this line are printed once per matched line, after the others.
    let mut wrap = false;
    let mut deferred: Vec<(&Failure, String)> = Vec::new();
    for f in failures {
        if wrap {
            deferred.push((f, t.render(f, int_time, &mut |_| MSG_MARK.to_string())));
            continue;
        }
        let mark = w.len();
        t.render_into(
            f,
            int_time,
            &mut |_| {
                if f.matches.len() <= 1 {
                    f.matches.join("\n")
                } else {
                    wrap = true;
                    MSG_MARK.to_string()
                }
            },
            w,
        );
        if wrap {
            let text = String::from_utf8_lossy(&w[mark..]).into_owned();
            w.truncate(mark);
            deferred.push((f, text));
            continue;
        }
        w.push(b'\n');
    }
    for (f, text) in deferred {
        for m in &f.matches {
            w.extend_from_slice(text.replace(MSG_MARK, m).as_bytes());
            w.push(b'\n');
        }
    }
}

/// Substitute the tags of `t` for failure `f`; `msg` computes `<msg>`.
pub fn render(
    t: &str,
    f: &Failure,
    int_time: bool,
    msg: &mut dyn FnMut(&Failure) -> String,
) -> String {
    // Pass 1: `<tag>` with no space or angle bracket inside.
    let mut out = String::with_capacity(t.len() + 32);
    let mut rest = t;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find(['>', '<', ' ']);
        match close {
            Some(c) if c > 0 && after.as_bytes()[c] == b'>' => {
                let tag = &after[..c];
                match ticket_tag(tag, f, int_time, msg) {
                    Some(v) => out.push_str(&v),
                    None => {
                        out.push('<');
                        out.push_str(tag);
                        out.push('>');
                    }
                }
                rest = &after[c + 1..];
            }
            _ => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    if !out.contains("<F-") {
        return out;
    }
    // Pass 2: `<F-NAME>` with NAME in [A-Z0-9_-]: the captured group, or nothing.
    let mut res = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(open) = rest.find("<F-") {
        res.push_str(&rest[..open]);
        let after = &rest[open + 3..];
        let n = after
            .bytes()
            .take_while(|b| {
                b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-'
            })
            .count();
        if n > 0 && after.as_bytes().get(n) == Some(&b'>') {
            let key = tag_to_key(&after[..n]);
            if let Some(v) = f.data.get(&key).filter(|v| !v.is_null()) {
                res.push_str(&escape_nul(&py_str_of(&key, v)));
            }
            rest = &after[n + 1..];
        } else {
            res.push_str("<F-");
            rest = after;
        }
    }
    res.push_str(rest);
    res
}

/// `USER` → `user`, `ID` → `fid`, `PORT` → `fport`.
fn tag_to_key(tag: &str) -> String {
    let k = tag.to_ascii_lowercase();
    match k.as_str() {
        "id" => "fid".to_string(),
        "port" => "fport".to_string(),
        _ => k,
    }
}

fn escape_nul(s: &str) -> String {
    s.replace('\0', "\\x00")
}

fn ticket_ip(f: &Failure) -> String {
    match f.data.get("ip") {
        Some(v) if !v.is_null() => py_str(v),
        _ => f.fid.clone(),
    }
}

fn ticket_tag(
    tag: &str,
    f: &Failure,
    int_time: bool,
    msg: &mut dyn FnMut(&Failure) -> String,
) -> Option<String> {
    let v = match tag {
        "ip" => ticket_ip(f),
        "fid" => f.fid.clone(),
        "family" => match ticket_ip(f).parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) => "inet4".to_string(),
            Ok(IpAddr::V6(_)) => "inet6".to_string(),
            Err(_) => String::new(),
        },
        "ip-rev" => ip_rev(&ticket_ip(f)),
        // No DNS lookups in the tester.
        "ip-host" => String::new(),
        "failures" | "ipfailures" | "ipjailfailures" => match f.data.get("failures") {
            Some(v) if !v.is_null() => py_str(v),
            _ => "0".to_string(),
        },
        "time" => py_time(f.time, int_time),
        "bancount" | "restored" => "0".to_string(),
        "matches" | "ipmatches" | "ipjailmatches" => f.matches.join("\n"),
        "msg" => return Some(msg(f)),
        "br" => return Some("\n".to_string()),
        "sp" => return Some(" ".to_string()),
        _ => return None,
    };
    Some(escape_nul(&v))
}

/// Reverse-DNS form: `4.3.2.1.` or the nibbles of an IPv6 address, dot-ended.
pub fn ip_rev(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => {
            let o = a.octets();
            format!("{}.{}.{}.{}.", o[3], o[2], o[1], o[0])
        }
        Ok(IpAddr::V6(a)) => {
            let mut s = String::with_capacity(64);
            for b in a.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", b & 0xf, b >> 4));
            }
            s
        }
        Err(_) => String::new(),
    }
}

/// The time column of `row`: `None` for a line without a date.
fn row_time(t: f64, int_time: bool, undated: bool) -> String {
    if undated {
        "None".to_string()
    } else {
        py_time(t, int_time)
    }
}

/// The ticket time as the reference prints it: an int or a float.
pub fn py_time(t: f64, int_time: bool) -> String {
    if int_time && t.is_finite() && t.fract() == 0.0 {
        format!("{t:.0}")
    } else {
        py_float(t)
    }
}

/// [`date_time_is_int`] remembered for the last date text seen. The answer
/// depends on where the text has digits, not on which digits: a date that
/// differs from the last one only in digits (the usual case in a log) is
/// answered from memory.
#[derive(Debug, Default)]
pub struct IntTimeCache {
    zone_given: bool,
    last: Vec<u8>,
    answer: bool,
    /// The date detector's [`bailiff_filter::DateDetector::shape`] that `answer`
    /// holds for (0: none).
    shape: u64,
}

impl IntTimeCache {
    pub fn new(zone_given: bool) -> IntTimeCache {
        IntTimeCache {
            zone_given,
            ..IntTimeCache::default()
        }
    }

    /// [`Self::is_int`] for a date text the detector just found, `shape` its
    /// [`bailiff_filter::DateDetector::shape`]: while that stays the same the
    /// texts differ only in digits, and the answer holds without a look.
    #[inline]
    pub fn is_int_shaped(&mut self, date: &str, shape: u64) -> bool {
        if shape != 0 && shape == self.shape {
            return self.answer;
        }
        let answer = self.is_int(date);
        self.shape = shape;
        answer
    }

    pub fn is_int(&mut self, date: &str) -> bool {
        let b = date.as_bytes();
        if !b.is_empty() && same_but_digits(b, &self.last) {
            // Kept current so that the next date differs in as few places.
            self.last.copy_from_slice(b);
            return self.answer;
        }
        self.shape = 0;
        self.answer = date_time_is_int(date, self.zone_given);
        self.last.clear();
        self.last.extend_from_slice(b);
        self.answer
    }
}

/// Whether `a` and `b` differ only where both have a digit; eight bytes at a
/// time, as dates of one log mostly share their words.
fn same_but_digits(a: &[u8], b: &[u8]) -> bool {
    let same = |x: &[u8], y: &[u8]| {
        x.iter()
            .zip(y)
            .all(|(p, q)| p == q || (p.is_ascii_digit() && q.is_ascii_digit()))
    };
    if a.len() != b.len() {
        return false;
    }
    let mut xs = a.chunks_exact(8);
    let mut ys = b.chunks_exact(8);
    for (x, y) in (&mut xs).zip(&mut ys) {
        if x != y && !same(x, y) {
            return false;
        }
    }
    same(xs.remainder(), ys.remainder())
}

/// Whether the reference holds the time of this date text as an integer: TAI64N
/// stamps and dates with a zone (their own, or `--timezone`) are; epoch numbers
/// and zone-less dates are floats.
pub fn date_time_is_int(date: &str, zone_given: bool) -> bool {
    if date.starts_with('@') {
        return true;
    }
    if date.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        return false;
    }
    zone_given || date_has_zone(date)
}

/// Does this date text carry its own zone (`Z`, `UTC`, `GMT`, `+0100`, `-05:00`,
/// `CEST`)? The reference then computes an integer time.
pub fn date_has_zone(date: &str) -> bool {
    let t = date.trim_end();
    let b = t.as_bytes();
    if t.ends_with("UTC") || t.ends_with("GMT") {
        return true;
    }
    if t.ends_with('Z') && b.len() >= 2 && b[b.len() - 2].is_ascii_digit() {
        return true;
    }
    // [+-]HH, [+-]HHMM or [+-]HH:MM after a time of day.
    let tail_digits = b
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_digit() || **c == b':')
        .count();
    if (2..=5).contains(&tail_digits) && b.len() > tail_digits {
        let sign = b[b.len() - tail_digits - 1];
        let before = &t[..t.len() - tail_digits - 1];
        if (sign == b'+' || sign == b'-')
            && before.contains(':')
            && !before.ends_with(|c: char| c.is_ascii_alphabetic())
        {
            return true;
        }
    }
    // A zone before the date: `PDT Apr 16 21:05:29`, `+0200 Apr 16 ...`.
    if let Some((first, rest)) = t.split_once(' ') {
        let abbrev =
            (3..=5).contains(&first.len()) && first.bytes().all(|c| c.is_ascii_uppercase());
        let offset = first.len() >= 3
            && (first.starts_with('+') || first.starts_with('-'))
            && first[1..].bytes().all(|c| c.is_ascii_digit() || c == b':');
        if (abbrev || offset || first == "Z") && rest.contains(':') {
            return true;
        }
    }
    // An abbreviation after a space: `... 10:01:26 CEST`.
    if let Some((head, last)) = t.rsplit_once(' ') {
        if (3..=5).contains(&last.len())
            && last.bytes().all(|c| c.is_ascii_uppercase())
            && head.contains(':')
        {
            return true;
        }
    }
    false
}

/// Python `repr(float)`: `1700000000.0`, `0.5`.
pub fn py_float(x: f64) -> String {
    if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e16 {
        format!("{x:.1}")
    } else {
        format!("{x:?}")
    }
}

/// Python `str()` of the ticket value under `key`: as [`py_str`], except that
/// fail2ban keeps `users` as a set, printed `{'a', 'b'}` (sorted here: Python's
/// order of a set of strings changes from run to run) or `set()`.
pub fn py_str_of(key: &str, v: &Value) -> String {
    match v {
        Value::Array(items) if key == "users" => {
            let mut items: Vec<String> = items.iter().map(py_repr).collect();
            if items.is_empty() {
                return "set()".to_string();
            }
            items.sort_unstable();
            format!("{{{}}}", items.join(", "))
        }
        _ => py_str(v),
    }
}

/// Python `str(value)` of a ticket value.
pub fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        _ => py_repr(v),
    }
}

/// Python `repr(value)`.
pub fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".to_string(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => py_float(f),
            _ => n.to_string(),
        },
        Value::String(s) => py_repr_str(s),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(py_repr).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(o) => {
            let items: Vec<String> = o
                .iter()
                .map(|(k, v)| format!("{}: {}", py_repr_str(k), py_repr(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

/// Python `repr(str)`: single quotes unless the text has `'` and no `"`.
pub fn py_repr_str(s: &str) -> String {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if (0x80..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn failure(fid: &str, data: &[(&str, Value)], matches: &[&str]) -> Failure {
        Failure {
            kind: FailureKind::Fail,
            fid: fid.to_string(),
            time: 1_704_164_645.0,
            regex: 0,
            data: data
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
            matches: matches.iter().map(|s| s.to_string()).collect(),
            pending: false,
            needs_dns: false,
            ordered: Vec::new(),
        }
    }

    fn print(fmt: &str, fs: &[Failure]) -> String {
        let mut out = Vec::new();
        OutFormat::parse(fmt).write(fs, false, false, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn tokens() {
        let f = failure(
            "1.2.3.4",
            &[
                ("user", "bob".into()),
                ("ip4", "1.2.3.4".into()),
                ("ip6", Value::Null),
            ],
            &["line one"],
        );
        assert_eq!(print("id", std::slice::from_ref(&f)), "1.2.3.4\n");
        assert_eq!(print("fid", std::slice::from_ref(&f)), "1.2.3.4\n");
        assert_eq!(print("ip", std::slice::from_ref(&f)), "1.2.3.4\n");
        assert_eq!(print("msg", std::slice::from_ref(&f)), "line one\n");
        assert_eq!(print("user", std::slice::from_ref(&f)), "bob\n");
        assert_eq!(print("ip6", std::slice::from_ref(&f)), "None\n");
        assert_eq!(print("dns", std::slice::from_ref(&f)), "None\n");
        assert_eq!(print("matches", std::slice::from_ref(&f)), "['line one']\n");
        assert_eq!(
            print("row", &[f]),
            "['1.2.3.4',\t1704164645.0,\t{'ip4': '1.2.3.4', 'ip6': None, 'user': 'bob'}],\n"
        );
    }

    #[test]
    fn row_of_an_undated_line_has_no_time() {
        let f = failure("1.2.3.4", &[("user", "bob".into())], &["x"]);
        let mut out = Vec::new();
        OutFormat::parse("row").write(std::slice::from_ref(&f), false, true, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "['1.2.3.4',\tNone,\t{'user': 'bob'}],\n"
        );
        // Other tokens print the failure's time (the clock's, for such a line).
        let mut out = Vec::new();
        OutFormat::parse("<time> <ip>").write(&[f], false, true, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "1704164645.0 1.2.3.4\n");
    }

    #[test]
    fn users_print_as_a_set() {
        let f = failure(
            "1.2.3.4",
            &[
                ("user", "b".into()),
                ("users", serde_json::json!(["b", "a"])),
            ],
            &["x"],
        );
        assert_eq!(print("users", std::slice::from_ref(&f)), "{'a', 'b'}\n");
        assert_eq!(
            print("<F-USERS>|<F-USER>", std::slice::from_ref(&f)),
            "{'a', 'b'}|b\n"
        );
        let g = failure("1.2.3.4", &[("users", serde_json::json!([]))], &["x"]);
        assert_eq!(print("users", &[g]), "set()\n");
    }

    #[test]
    fn ip_token_prefers_ticket_ip() {
        let f = failure("alice", &[("ip", "10.0.0.1".into())], &["x"]);
        assert_eq!(print("ip", std::slice::from_ref(&f)), "10.0.0.1\n");
        assert_eq!(print("<fid>/<ip>", &[f]), "alice/10.0.0.1\n");
    }

    #[test]
    fn template_tags() {
        let f = failure("1.2.3.4", &[("user", "bob".into())], &["the line"]);
        let got = print(
            "<time>|<ip>|<F-USER>|<F-NOPE>|<failures>|<msg>|<family>|<ip-rev>|<br>x<sp>|<unknown>|<F-user>|< ip>",
            &[f],
        );
        assert_eq!(
            got,
            "1704164645.0|1.2.3.4|bob||0|the line|inet4|4.3.2.1.|\nx |<unknown>|<F-user>|< ip>\n"
        );
    }

    #[test]
    fn multi_line_msg_is_printed_per_line_after_single_ones() {
        let a = failure("1.1.1.1", &[], &["a1", "a2"]);
        let b = failure("2.2.2.2", &[], &["b1"]);
        assert_eq!(
            print("<ip> <msg>", &[a, b]),
            "1.1.1.1 a1\n1.1.1.1 a2\n2.2.2.2 b1\n"
        );
        let c = failure("3.3.3.3", &[], &["c1"]);
        let d = failure("4.4.4.4", &[], &["d1", "d2"]);
        assert_eq!(
            print("<ip> <msg>", &[c, d]),
            "3.3.3.3 c1\n4.4.4.4 d1\n4.4.4.4 d2\n"
        );
    }

    #[test]
    fn compiled_templates_agree_with_the_two_pass_rendering() {
        let f = failure(
            "1.2.3.4",
            &[
                ("user", "bob".into()),
                ("port", "22".into()),
                ("x", "<F-USER>".into()),
            ],
            &["m <F-USER> <ip>"],
        );
        for t in [
            "<ip> <F-USER> <time>",
            "<F-PORT>/<F-ID>/<F-NOPE>",
            "<msg>|<F-X>",
            "a<b <F-USER",
            "<F-<ip>>",
            "<unknown> <F-user> < ip>",
            "plain",
        ] {
            let fast = Template::compile(t).render(&f, false, &mut |f| f.matches.join("\n"));
            let slow = render(t, &f, false, &mut |f| f.matches.join("\n"));
            assert_eq!(fast, slow, "{t}");
        }
    }

    #[test]
    fn values_are_not_expanded_again() {
        let f = failure("1.2.3.4", &[("user", "<ip>".into())], &["x"]);
        assert_eq!(print("<F-USER> <ip>", &[f]), "<ip> 1.2.3.4\n");
        let g = failure("1.2.3.4", &[("user", "a\0b".into())], &["x"]);
        assert_eq!(print("<F-USER>", &[g]), "a\\x00b\n");
    }

    #[test]
    fn ipv6_rev_and_family() {
        assert_eq!(
            ip_rev("2001:db8::1"),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2."
        );
        let f = failure("2001:db8::1", &[], &["x"]);
        assert_eq!(print("<family>", &[f]), "inet6\n");
    }

    #[test]
    fn zone_detection_and_int_times() {
        for z in [
            "2026-11-23T10:01:26.788951+00:00",
            "2026-11-23T10:01:26+0100",
            "23/Nov/2026:10:01:27 -0500",
            "2026-11-23 10:01:26Z",
            "2026-11-23 10:01:26 UTC",
            "Nov 23 10:01:26 CEST",
            "2026-11-23 10:01:26 +01",
            "PDT Apr 16 21:05:29",
            "+0200 Apr 16 21:05:29",
        ] {
            assert!(date_has_zone(z), "{z}");
        }
        assert!(date_time_is_int("@400000004c91b044077a9e94", false));
        assert!(!date_time_is_int("1700000000.5", true));
        assert!(date_time_is_int("2026-11-23 10:01:26", true));
        assert!(!date_time_is_int("2026-11-23 10:01:26", false));
        for n in [
            "2026-11-23 10:01:26",
            "Nov 23 10:01:26.123",
            "Mon Nov 23 10:01:26.759531 2026",
            "2026-11-23",
            "1700000000",
            "23/Nov/2026:10:01:27",
        ] {
            assert!(!date_has_zone(n), "{n}");
        }
        assert_eq!(py_time(1795424741.0, true), "1795424741");
        assert_eq!(py_time(1795424741.0, false), "1795424741.0");
        assert_eq!(py_time(1795424741.5, true), "1795424741.5");
    }

    #[test]
    fn int_time_cache_agrees_with_the_rule() {
        let dates = [
            "Nov 23 10:01:26",
            "Nov 23 10:01:26 CEST",
            "2026-11-23T10:01:26+0100",
            "2026-11-23T10:01:26-0100",
            "2026-11-23T10:01:26.123456",
            "23/Nov/2026:10:01:27 -0500",
            "23/Nov/2026:10:01:27 +0000",
            "2026-11-23 10:01:26Z",
            "1700000000.5",
            "1700000000",
            "@400000004c91b044077a9e94",
            "2026-11-23 10:01:26 UTC",
            "",
            "+0200 Apr 16 21:05:29",
            "PDT Apr 16 21:05:29",
            "Nov 23 10:01:26",
        ];
        for zone_given in [false, true] {
            let mut cache = IntTimeCache::new(zone_given);
            // Every order of neighbours, and each date with its digits changed.
            for (i, d) in dates.iter().chain(dates.iter().rev()).enumerate() {
                let other: String = d
                    .chars()
                    .map(|c| match c.to_digit(10) {
                        Some(n) => char::from_digit((n + i as u32 + 1) % 10, 10).unwrap(),
                        None => c,
                    })
                    .collect();
                for t in [*d, other.as_str()] {
                    assert_eq!(cache.is_int(t), date_time_is_int(t, zone_given), "{t:?}");
                }
            }
        }
    }

    #[test]
    fn byte_search_finds_every_place() {
        for len in 0..40 {
            let base: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            assert!(!has_byte2(&base, 0, b'<'));
            for i in 0..len {
                for c in [0u8, b'<', 0x80, 0xc3, 0x01, 0x3b, 0x3d] {
                    let mut s = base.clone();
                    s[i] = c;
                    assert_eq!(has_byte2(&s, 0, b'<'), c == 0 || c == b'<', "{len} {i} {c}");
                }
            }
        }
    }

    #[test]
    fn integers_and_times_as_core_fmt_prints_them() {
        for n in [
            0u64,
            1,
            9,
            10,
            99,
            100,
            101,
            1795092455,
            99_999_999,
            100_000_000,
            100_000_001,
            999_999_999,
            1_000_000_000,
            1_000_000_009,
            9_999_999_999,
            10_000_000_000,
            u64::MAX,
        ]
        .into_iter()
        // And a spread over every length (a multiplicative sequence).
        .chain((0..20_000u64).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (i % 64)))
        {
            let mut out = Vec::new();
            push_u64(&mut out, n);
            assert_eq!(String::from_utf8(out).unwrap(), n.to_string());
        }
        for t in [
            1795092455.0,
            1795092455.5,
            0.0,
            -3.0,
            1.0,
            8.9e15,
            9.5e15,
            f64::NAN,
        ] {
            for int_time in [false, true] {
                let mut out = Vec::new();
                push_time(&mut out, t, int_time);
                assert_eq!(String::from_utf8(out).unwrap(), py_time(t, int_time), "{t}");
            }
        }
    }

    #[test]
    fn python_reprs() {
        assert_eq!(py_float(1.0), "1.0");
        assert_eq!(py_float(0.25), "0.25");
        assert_eq!(py_repr_str("it's"), "\"it's\"");
        assert_eq!(py_repr_str("a'\"b"), "'a\\'\"b'");
        assert_eq!(py_repr_str("t\tn\n\u{1}"), "'t\\tn\\n\\x01'");
        assert_eq!(
            py_repr(&serde_json::json!(["a", 1, null, true])),
            "['a', 1, None, True]"
        );
    }
}
