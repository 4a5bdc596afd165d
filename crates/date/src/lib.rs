//! bailiff-date: fail2ban's date detection (default templates, `datepattern`).
//!
//! Principal types and how data flows through them:
//!
//! - [`DateOptions`] fixes what a detector is built with (the reference year that
//!   drives `%ExY`).
//! - [`DateDetector::new`] turns a jail's or filter's `datepattern` (or `None` for
//!   fail2ban's 31 default templates) into an ordered list of templates: each one a
//!   PCRE2 regex (JIT, UTF, UCP) plus the way its match becomes a time.
//! - [`DateDetector::locate`] / [`DateDetector::find`] take one log line, a "now"
//!   and a [`Zone`], and search the templates with fail2ban's strategy (the last
//!   winner first, line-anchored templates stop the search, far-away matches are
//!   kept only as a fallback, templates with hits bubble to the front). The
//!   winner's group 1 is the date text, returned as a byte span together with the
//!   Unix time it denotes ([`DateMatch`], [`DateHit`]).
//! - [`Zone`] is where zone-less dates are read: the system zone with its DST
//!   rules (via `jiff`, honouring `TZ`), optionally overridden by a jail's
//!   `logtimezone` (a fixed offset).
//!
//! The core is pure: "now" and the zone are arguments. [`Zone::system`] (and
//! [`Zone::parse_logtimezone`], which starts from it) is the one place that reads
//! the environment.
//!
//! Fidelity: `tests/oracle.rs` runs fail2ban's own Python detector on the same
//! lines and requires the same winner, span and time. Where fail2ban depends on
//! process-wide state, bailiff takes the deterministic reading:
//! - fail2ban shares template objects (and their regex hit counters) between all
//!   detectors of a process; here each detector counts its own, as if each jail
//!   ran alone. The counter only decides one early stop of the search.
//! - A user pattern identical to a default `{^LN-BEG}` twin gets the twin's
//!   weight (100), as in fail2ban while its template cache holds the twin.
//! - A repeated local time (DST fold) is resolved as glibc's `mktime` does under
//!   fail2ban: with the offset of the previous conversion. glibc keeps that per
//!   process, bailiff per detector (starting from "now"'s offset). Non-existent
//!   local times (spring gap) use the offset before the gap, as glibc does.
//! - Template "last used" times come from the `now` argument, not a wall clock.
//! - Text that makes fail2ban raise (an unknown `%Z` abbreviation, `%I` with a
//!   `%p` group that did not match) gives a match without a time.

#[cfg(test)]
mod cache_diff;
mod codes;
mod convert;
mod native;
#[cfg(test)]
mod native_diff;
mod pattern;
#[cfg(test)]
mod test_rng;

use std::sync::atomic::{AtomicU64, Ordering};

use jiff::tz::{AmbiguousOffset, TimeZone};
use pcre2::bytes::{CaptureLocations, Regex, RegexBuilder};

use convert::{AmPm, Field, NaiveNow};
use pattern::{Kind, Spec, LINE_BEGIN, LINE_END};

static ZONE_IDS: AtomicU64 = AtomicU64::new(1);

/// The zone year-less and zone-less dates are read in: the system's local zone
/// (with DST) or a jail's `logtimezone`.
#[derive(Debug, Clone)]
pub struct Zone {
    /// Identifies this zone's rules for the detector's conversion caches.
    id: u64,
    /// The system zone: "now" is taken in it, and zone-less dates without a
    /// `logtimezone` are local times in it.
    local: TimeZone,
    /// `logtimezone`, minutes east of UTC.
    log_offset: Option<i32>,
}

impl Zone {
    /// The process's local zone (honours `TZ`, incl. POSIX strings such as
    /// `CET-01CEST-02,M3.5.0,M10.5.0`). The one place this crate touches the environment.
    pub fn system() -> Zone {
        Zone::from_time_zone(TimeZone::system())
    }

    /// A zone from `jiff` rules.
    pub fn from_time_zone(tz: TimeZone) -> Zone {
        Zone {
            id: ZONE_IDS.fetch_add(1, Ordering::Relaxed),
            local: tz,
            log_offset: None,
        }
    }

    /// UTC as the system zone.
    pub fn utc() -> Zone {
        Zone::from_time_zone(TimeZone::UTC)
    }

    /// A system zone given the way `TZ` gives it: a POSIX rule string
    /// (`CET-01CEST-02,M3.5.0,M10.5.0`) or an IANA name (`Europe/Paris`).
    pub fn from_tz_string(tz: &str) -> Result<Zone, DateError> {
        let tz = tz.strip_prefix(':').unwrap_or(tz);
        TimeZone::get(tz)
            .or_else(|_| TimeZone::posix(tz))
            .map(Zone::from_time_zone)
            .map_err(|e| DateError::new(format!("unknown time zone {tz:?}: {e}")))
    }

    /// fail2ban's `logtimezone` syntax: `UTC`, `UTC+0200`, `CET`, `EST-05`, ...
    /// on top of the system zone (which still gives "now").
    pub fn parse_logtimezone(s: &str) -> Result<Zone, DateError> {
        Zone::system().with_logtimezone(s)
    }

    /// This zone with a `logtimezone` (fixed offset) for zone-less dates.
    pub fn with_logtimezone(&self, s: &str) -> Result<Zone, DateError> {
        let off = logtimezone_offset(s)?;
        Ok(Zone {
            id: ZONE_IDS.fetch_add(1, Ordering::Relaxed),
            local: self.local.clone(),
            log_offset: Some(off),
        })
    }

    /// The `logtimezone` offset in minutes east of UTC, if one is set.
    pub fn log_offset_minutes(&self) -> Option<i32> {
        self.log_offset
    }

    /// Offset of the system zone at a Unix time, in seconds.
    fn offset_at(&self, t: i64) -> i64 {
        jiff::Timestamp::from_second(t)
            .map(|ts| i64::from(self.local.to_offset(ts).seconds()))
            .unwrap_or(0)
    }

    /// The stretch of time around Unix time `t` during which the system zone's
    /// offset does not change.
    fn period_at(&self, t: i64) -> Period {
        let off = self.offset_at(t);
        let ts = |x: i64| jiff::Timestamp::from_second(x).ok();
        let prev = ts(t.saturating_add(1))
            .and_then(|x| self.local.preceding(x).next())
            .map(|tr| tr.timestamp().as_second());
        let next = ts(t)
            .and_then(|x| self.local.following(x).next())
            .map(|tr| (tr.timestamp().as_second(), i64::from(tr.offset().seconds())));
        let (utc_lo, naive_lo) = match prev {
            Some(a) => (a, a.saturating_add(off.max(self.offset_at(a - 1)))),
            None => (i64::MIN, i64::MIN),
        };
        let (utc_hi, naive_hi) = match next {
            Some((b, o)) => (b, b.saturating_add(off.min(o))),
            None => (i64::MAX, i64::MAX),
        };
        Period {
            zone: self.id,
            utc_lo,
            utc_hi,
            offset: off,
            naive_lo,
            naive_hi,
        }
    }

    /// How a naive local time maps to UTC.
    fn local_offset(&self, naive: i64) -> LocalOffset {
        let days = naive.div_euclid(86_400);
        let tod = naive.rem_euclid(86_400);
        let (y, m, d) = convert::civil_from_days(days);
        let dt = i16::try_from(y).ok().and_then(|y| {
            jiff::civil::DateTime::new(
                y,
                m as i8,
                d as i8,
                (tod / 3600) as i8,
                (tod / 60 % 60) as i8,
                (tod % 60) as i8,
                0,
            )
            .ok()
        });
        let Some(dt) = dt else {
            return LocalOffset::Gap { before: 0 };
        };
        let secs = |o: jiff::tz::Offset| i64::from(o.seconds());
        match self.local.to_ambiguous_timestamp(dt).offset() {
            AmbiguousOffset::Unambiguous { offset } => LocalOffset::Unique(secs(offset)),
            AmbiguousOffset::Gap { before, .. } => LocalOffset::Gap {
                before: secs(before),
            },
            AmbiguousOffset::Fold { before, after } => LocalOffset::Fold {
                before: secs(before),
                after: secs(after),
            },
        }
    }
}

/// A naive local time's offset(s) in a zone, in seconds.
#[derive(Debug, Clone, Copy)]
enum LocalOffset {
    Unique(i64),
    /// The time does not exist (spring gap).
    Gap {
        before: i64,
    },
    /// The time exists twice (autumn fold).
    Fold {
        before: i64,
        after: i64,
    },
}

/// A stretch of time with one UTC offset in a zone: `[utc_lo, utc_hi)` in Unix
/// time, and `[naive_lo, naive_hi)` the local times that map into it without
/// ambiguity.
#[derive(Debug, Clone, Copy)]
struct Period {
    zone: u64,
    utc_lo: i64,
    utc_hi: i64,
    offset: i64,
    naive_lo: i64,
    naive_hi: i64,
}

/// Validate a `logtimezone` value; minutes east of UTC.
pub fn logtimezone_offset(s: &str) -> Result<i32, DateError> {
    convert::parse_fixed_zone(s).ok_or_else(|| {
        DateError::new(format!(
            "logtimezone: unknown or unsupported time zone {s:?} \
             (expected [ABBR][+-]hh[[:]mm], e.g. UTC, UTC+0200, CET, EST-05)"
        ))
    })
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DateError {
    pub message: String,
}

impl DateError {
    pub(crate) fn new(message: impl Into<String>) -> DateError {
        DateError {
            message: message.into(),
        }
    }
}

/// Options fixed when the detector is built.
#[derive(Debug, Clone)]
pub struct DateOptions {
    /// Year of "now" when the detector is built (drives `%ExY`).
    pub reference_year: i32,
    /// fail2ban-regex mode. fail2ban-regex 1.0.2 asks for every year but its
    /// `%ExY` still comes out as this century's first three decades (its
    /// "alternate now" is capped at 2001), so this changes nothing; kept so
    /// callers can state the mode.
    pub any_year: bool,
}

/// Where the date was found in a line and what time it denotes.
#[derive(Debug, Clone, PartialEq)]
pub struct DateHit {
    /// Byte span of the date text (fail2ban's group 1) to cut out of the line.
    pub start: usize,
    pub end: usize,
    /// Unix time, seconds (fail2ban drops fractions: integral value).
    pub time: f64,
    /// Index of the template that matched (see [`DateDetector::template_names`]).
    pub template: usize,
}

/// A template matched: the date text's span, and its time when it converts.
///
/// fail2ban cuts the span out of the line even when the text does not convert
/// (e.g. `Feb 30`, logging "failed to parse timeText"), and an empty span (the
/// `{NONE}` pattern) means "no date here: use the last date or now".
#[derive(Debug, Clone, PartialEq)]
pub struct DateMatch {
    pub start: usize,
    pub end: usize,
    /// `None`: empty date text, or text that is not a valid date.
    pub time: Option<f64>,
    pub template: usize,
}

/// One template as fail2ban-regex lists it ("Date template hits").
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateInfo {
    /// Index as in [`DateHit::template`].
    pub index: usize,
    pub name: String,
    /// Times this template won.
    pub hits: u64,
    /// fail2ban's sort weight: hits × template weight / distance.
    pub weight: f64,
    /// Template weight: 100 for the `{^LN-BEG}` twins of the defaults, else 1.
    pub template_weight: f64,
    /// The `datepattern` text (pattern templates only).
    pub pattern: Option<String>,
    /// The regex, in fail2ban's (Python) syntax.
    pub regex: String,
}

/// The last "now" converted (bits, zone id, result) and its zone period.
#[derive(Debug, Default)]
struct NowCache {
    last: Option<(u64, u64, NaiveNow)>,
    period: Option<Period>,
    /// Offset of the system zone at the last "now", seconds.
    offset: i64,
}

/// A compiled template.
struct Template {
    spec: Spec,
    regex: Regex,
    locs: CaptureLocations,
    /// The same regex without UTF/UCP for pure-ASCII lines (compiled on first use;
    /// None inside: it does not compile that way). On ASCII text both modes match
    /// alike, and the JIT runs the byte one faster.
    ascii: Option<Option<Box<(Regex, CaptureLocations)>>>,
    /// The last search ran on the ASCII twin (its captures are in there).
    last_ascii: bool,
    /// The native matcher for ASCII lines, built on first use (None inside: the
    /// regex uses something it does not support).
    native: Option<Option<native::Program>>,
    /// The native matcher's working memory and last match.
    native_scratch: native::Scratch,
    /// The last search ran the native matcher.
    last_native: bool,
    /// Named groups that carry fields, in group order, but the seconds.
    fields: Vec<(Field, usize)>,
    /// Groups of the seconds field (the last one that took part counts).
    seconds: Vec<usize>,
    /// Group of `%p`, if the template has one.
    ampm: Option<usize>,
    /// Successful regex searches (fail2ban counts these on the template itself).
    regex_hits: u64,
    /// Built from `{NONE}`.
    none: bool,
}

impl Template {
    fn compile(spec: Spec) -> Result<Template, DateError> {
        let pcre = pattern::to_pcre2(&spec.regex);
        let regex = build_regex(&pcre, true).map_err(|e| {
            DateError::new(format!(
                "date template {:?}: cannot compile regex {:?}: {e}",
                spec.name, spec.regex
            ))
        })?;
        let mut fields = Vec::new();
        let mut seconds = Vec::new();
        let mut ampm = None;
        for (i, name) in regex.capture_names().iter().enumerate() {
            let Some(name) = name else { continue };
            match Field::from_group_name(name) {
                Some(Field::Second) => seconds.push(i),
                Some(f) => {
                    if f == Field::AmPm {
                        ampm = Some(i);
                    }
                    fields.push((f, i));
                }
                None => {}
            }
        }
        let locs = regex.capture_locations();
        Ok(Template {
            spec,
            regex,
            locs,
            ascii: None,
            last_ascii: false,
            native: None,
            native_scratch: native::Scratch::default(),
            last_native: false,
            fields,
            seconds,
            ampm,
            regex_hits: 0,
            none: false,
        })
    }

    fn is_anchored(&self) -> bool {
        self.spec.flags & (LINE_BEGIN | LINE_END) != 0
    }

    /// Search `subject[from..]` (`ascii`: the whole line is ASCII); on success the
    /// captures are in [`Template::locs`].
    fn search(&mut self, subject: &[u8], from: usize, ascii: bool) -> Option<(usize, usize)> {
        if from > subject.len() {
            return None;
        }
        let m = self.captures_at(subject, from, ascii)?;
        self.regex_hits += 1;
        Some(m)
    }
}

impl Template {
    /// One search; errors (match limit) count as no match.
    fn captures_at(&mut self, subject: &[u8], from: usize, ascii: bool) -> Option<(usize, usize)> {
        self.last_native = false;
        if ascii {
            if self.native.is_none() {
                let pcre = pattern::to_pcre2(&self.spec.regex);
                let groups = self.locs.len();
                self.native =
                    Some(native::Program::compile(&pcre).filter(|p| p.groups() + 1 == groups));
            }
            if let Some(Some(p)) = &self.native {
                self.last_native = true;
                return p.search(subject, from, &mut self.native_scratch);
            }
            if self.ascii.is_none() {
                let pcre = pattern::to_pcre2(&self.spec.regex);
                self.ascii = Some(build_regex(&pcre, false).ok().map(|re| {
                    let locs = re.capture_locations();
                    Box::new((re, locs))
                }));
            }
            if let Some(Some(b)) = &mut self.ascii {
                self.last_ascii = true;
                let (re, locs) = &mut **b;
                let m = re.captures_read_at(locs, subject, from).ok()??;
                return Some((m.start(), m.end()));
            }
        }
        self.last_ascii = false;
        let m = self
            .regex
            .captures_read_at(&mut self.locs, subject, from)
            .ok()??;
        Some((m.start(), m.end()))
    }

    /// Span of group `g` in the last search.
    #[inline]
    fn group(&self, g: usize) -> Option<(usize, usize)> {
        if self.last_native {
            return self.native_scratch.group(g);
        }
        match &self.ascii {
            Some(Some(b)) if self.last_ascii => b.1.get(g),
            _ => self.locs.get(g),
        }
    }
}

fn build_regex(pcre: &str, utf: bool) -> Result<Regex, pcre2::Error> {
    RegexBuilder::new()
        .utf(utf)
        .ucp(utf)
        .jit_if_available(true)
        .build(pcre)
}

/// The fields (all but the seconds) of the last date converted and what they read
/// as: consecutive lines of a log mostly differ in the seconds only, and then the
/// fields need not be read again. The parse depends on nothing but the template and
/// the field texts, so reusing it gives the same result; the same goes for the
/// date resolved down to its minute, which depends on the parse, "now"'s date
/// and `logtimezone` only (see [`convert::Parsed::minute`]).
///
/// The field texts are compared as one window of the line, from the first
/// field's start to the last field's end, 8 bytes at a time under a mask of the
/// bytes that belong to a field (the seconds and fractions in between may change).
/// The window only means the same fields when every field sits at the same place
/// in it: the spans are compared, unless the native matcher answered from its
/// memo of the very search stored here (then they are the same by construction).
#[derive(Debug, Default)]
struct ParsedMemo {
    valid: bool,
    template: usize,
    /// [`native::Scratch::answer`] of the template when stored (None: the search
    /// was not native).
    runs: Option<u64>,
    /// The first field that took part (index into [`Template::fields`]): its
    /// start is the window's origin.
    first: Option<usize>,
    /// Each field's span relative to the origin (None: did not take part).
    spans: Vec<Option<(usize, usize)>>,
    /// The window's bytes, little-endian words masked by the second value,
    /// which has 0xff for the bytes that belong to a field.
    words: Vec<(u64, u64)>,
    parsed: Option<convert::Parsed>,
    /// The last minute resolved from `parsed`, with what it was resolved for
    /// ("now"'s date, `logtimezone`).
    minute: Option<MinuteKey>,
}

/// [`convert::Parsed::minute`]'s arguments and answer.
type MinuteKey = ((i64, u32, u32), Option<i32>, Option<convert::Minute>);

/// 8 bytes of `b` from `at` (zeros past the end), little-endian.
#[inline]
fn word_at(b: &[u8], at: usize) -> u64 {
    match b.get(at..at + 8) {
        Some(w) => u64::from_le_bytes(w.try_into().unwrap_or([0; 8])),
        None => {
            let mut w = [0u8; 8];
            let tail = b.get(at..).unwrap_or(&[]);
            w[..tail.len()].copy_from_slice(tail);
            u64::from_le_bytes(w)
        }
    }
}

impl ParsedMemo {
    #[inline]
    fn same(&self, template: usize, t: &Template, line: &str) -> bool {
        if !self.valid || self.template != template {
            return false;
        }
        let origin = if t.last_native && self.runs == Some(t.native_scratch.answer()) {
            // the native memo answered from the search stored here: same spans,
            // possibly all moved by the same amount
            match self.first {
                Some(k) => match t.group(t.fields[k].1) {
                    Some((a, _)) => a,
                    None => return false,
                },
                None => 0,
            }
        } else {
            let mut origin = None;
            for (&(_, g), &want) in t.fields.iter().zip(&self.spans) {
                let got = t.group(g).map(|(a, b)| {
                    let o = *origin.get_or_insert(a);
                    (a - o, b - o)
                });
                if got != want {
                    return false;
                }
            }
            origin.unwrap_or(0)
        };
        let b = line.as_bytes();
        match b.get(origin..) {
            Some(rest) if rest.len() >= 8 * self.words.len() => rest
                .chunks_exact(8)
                .zip(&self.words)
                .all(|(c, &(w, care))| {
                    u64::from_le_bytes(c.try_into().unwrap_or([0; 8])) & care == w
                }),
            // the window runs past the line's end
            _ => self
                .words
                .iter()
                .enumerate()
                .all(|(k, &(w, care))| word_at(b, origin + 8 * k) & care == w),
        }
    }

    fn store(
        &mut self,
        template: usize,
        t: &Template,
        line: &str,
        parsed: Option<convert::Parsed>,
    ) {
        self.spans.clear();
        self.words.clear();
        self.first = None;
        let mut origin = None;
        let mut end = 0;
        let mut ok = true;
        for (i, &(_, g)) in t.fields.iter().enumerate() {
            let span = t.group(g).and_then(|(a, b)| {
                if origin.is_none() {
                    origin = Some(a);
                    self.first = Some(i);
                }
                let o = origin.unwrap_or(a);
                // a field before the first one's start: no window (never the same)
                let span = a.checked_sub(o).zip(b.checked_sub(o));
                ok &= span.is_some_and(|(a, b)| a <= b);
                span
            });
            if let Some((_, b)) = span {
                end = end.max(b);
            }
            self.spans.push(span);
        }
        let origin = origin.unwrap_or(0);
        if ok {
            let mut care = vec![0u64; end.div_ceil(8)];
            for &(a, b) in self.spans.iter().flatten() {
                for p in a..b {
                    care[p / 8] |= 0xff << (8 * (p % 8));
                }
            }
            let bytes = line.as_bytes();
            for (k, c) in care.into_iter().enumerate() {
                self.words.push((word_at(bytes, origin + 8 * k) & c, c));
            }
        }
        self.template = template;
        self.runs = t.last_native.then_some(t.native_scratch.answer());
        self.parsed = parsed;
        self.minute = None;
        self.valid = ok;
    }
}

/// The last answer, kept to give the next line the same one when it differs
/// only in its seconds (and fractions): the winner was the last winner, a
/// line-anchored template whose native search ran (so fail2ban's search would
/// try it first and stop there). Its window ([`native::Window`]) holds the
/// bytes the search depended on, with the ranges that test the same; the bytes
/// of the date's fields (all but the seconds) are pinned to their values, so a
/// line within the window's ranges has the same match, the same groups and the
/// same fields: the parse and the minute in [`ParsedMemo`] (`parsed_memo[0]`)
/// hold for it, and only the seconds are read.
///
/// Positions are those of the stored line; with a leading run (`lead`) the ones
/// from `base` on move with the run's end, as in the native memo.
#[derive(Debug, Default)]
struct Fast {
    valid: bool,
    slot: usize,
    tpl: usize,
    lead: bool,
    base: usize,
    len_dep: bool,
    len: usize,
    sig_len: usize,
    words: Vec<native::Word>,
    /// `words` split for the check.
    split: Vec<native::Split>,
    /// The match (group 0) and the date text (group 1).
    whole: (usize, usize),
    date: (usize, usize),
    /// The seconds group that took part.
    second: Option<(usize, usize)>,
    /// The "now" (bits) and zone (id) the following were computed for.
    now: (u64, u64),
    naive_now: NaiveNow,
    /// Offset of the system zone at "now".
    now_offset: i64,
    /// The date's minute (`parsed_memo[0]`'s) for "now"'s date.
    minute: Option<convert::Minute>,
}

impl Fast {
    /// Position `x` of the stored line in a line whose window starts at `base`.
    #[inline]
    fn shift(&self, x: usize, base: usize) -> usize {
        if x >= self.base {
            x - self.base + base
        } else {
            x
        }
    }
}

/// A template's place in the search order, with its per-detector statistics.
#[derive(Debug, Clone)]
struct Slot {
    template: usize,
    hits: u64,
    last_used: f64,
    /// Char offset of the last winning match (fail2ban's "distance").
    distance: usize,
}

impl Slot {
    fn weight(&self, templates: &[Template]) -> f64 {
        self.hits as f64 * templates[self.template].spec.weight / self.distance.max(1) as f64
    }
}

/// A line with cheap char/byte offset conversions (fail2ban counts in chars).
struct Line<'a> {
    s: &'a str,
    ascii: bool,
}

impl<'a> Line<'a> {
    fn new(s: &'a str) -> Line<'a> {
        Line {
            s,
            ascii: is_ascii(s.as_bytes()),
        }
    }
    /// Byte offset of char offset `ci` (clamped to the end).
    fn byte(&self, ci: usize) -> usize {
        if self.ascii {
            ci.min(self.s.len())
        } else {
            self.s
                .char_indices()
                .nth(ci)
                .map(|(b, _)| b)
                .unwrap_or(self.s.len())
        }
    }
    /// Char offset of byte offset `bi`.
    fn chr(&self, bi: usize) -> usize {
        if self.ascii {
            bi
        } else {
            self.s[..bi].chars().count()
        }
    }
    /// Python `line[ci]` for `0 <= ci`: `None` past the end.
    fn at(&self, ci: usize) -> Option<char> {
        if self.ascii {
            self.s.as_bytes().get(ci).map(|&b| b as char)
        } else {
            self.s.chars().nth(ci)
        }
    }
    /// Python `line[ci:ci+1]`, where `ci == -1` gives the empty string.
    fn slice1(&self, ci: isize) -> Option<char> {
        usize::try_from(ci).ok().and_then(|ci| self.at(ci))
    }
    fn last(&self) -> Option<char> {
        self.s.chars().next_back()
    }
}

/// `[u8]::is_ascii`, a word at a time (log lines are long; this runs on every one).
#[inline]
fn is_ascii(b: &[u8]) -> bool {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let n = b.len();
    if n < 8 {
        return b.iter().all(|&c| c < 0x80);
    }
    let word = |c: &[u8]| u64::from_le_bytes(c.try_into().unwrap_or([0xff; 8]));
    let mut blocks = b.chunks_exact(32);
    for c in &mut blocks {
        let acc = word(&c[..8]) | word(&c[8..16]) | word(&c[16..24]) | word(&c[24..]);
        if acc & HIGH != 0 {
            return false;
        }
    }
    let mut words = blocks.remainder().chunks_exact(8);
    let mut acc = 0;
    for c in &mut words {
        acc |= word(c);
    }
    // the last 8 bytes of the line cover what is left (overlapping)
    acc |= word(&b[n - 8..]);
    acc & HIGH == 0
}

fn is_alnum(c: Option<char>) -> bool {
    c.is_some_and(char::is_alphanumeric)
}

/// A search result waiting to be confirmed: (slot index, char start, char end,
/// byte range searched).
#[derive(Clone, Copy)]
struct Found {
    slot: usize,
    start: usize,
    end: usize,
    from: usize,
    to: usize,
}

/// Finds dates in lines, as fail2ban's `DateDetector`.
pub struct DateDetector {
    templates: Vec<Template>,
    order: Vec<Slot>,
    /// Last winner: char start, char before it, char at it.
    last_pos: (usize, Option<char>, Option<char>),
    /// Last winner: char end, char before it, char at it.
    last_end: (usize, Option<char>, Option<char>),
    last_idx: usize,
    first_unused: usize,
    /// The last "now" and its zone period.
    now_cache: NowCache,
    /// Zone periods of the last two local dates converted (logs switch between
    /// this year and last year around the turn of the year).
    local_period: [Option<Period>; 2],
    /// Offset of the last local conversion (glibc's `mktime` guess).
    mktime_offset: Option<i64>,
    /// The fields of the last date converted, read.
    /// (the last one first, then the one before: two kinds of lines taking turns)
    parsed_memo: [ParsedMemo; 2],
    /// The last answer, for lines that repeat it but for the seconds.
    fast: Fast,
    /// See [`DateDetector::shape`].
    shape: u64,
    /// Tests: compute every time what the caches above keep (see `cache_diff`).
    uncached: bool,
    /// Conversions that reused the parse memo, the minute, and answers from
    /// [`Fast`] (for tests).
    cache_hits: [u64; 3],
}

impl std::fmt::Debug for DateDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DateDetector")
            .field("templates", &self.template_names())
            .finish()
    }
}

/// Bound on "now" (about ±31,000 years): beyond it the calendar math could overflow.
const MAX_SECS: i64 = 1_000_000_000_000;

/// Seconds a template may sit unused before any other may take its place.
const UNUSED_TIME: f64 = 300.0;

/// The default templates: the 17 patterns and the 31-template list
/// (the 14 `{^LN-BEG}` twins first, weight 100).
struct Defaults {
    base: Vec<Spec>,
    all: Vec<Spec>,
    /// Lookup keys of the twins: a user pattern with the same key is the same
    /// (cached) template in fail2ban, weight included.
    twin_keys: Vec<String>,
}

impl Defaults {
    fn build(year_re: &str) -> Result<Defaults, DateError> {
        let base = pattern::DEFAULT_PATTERNS
            .iter()
            .map(|p| pattern::template_spec(p, year_re))
            .collect::<Result<Vec<_>, _>>()?;
        let mut twins = Vec::new();
        let mut twin_keys = Vec::new();
        for b in &base {
            if b.name.starts_with("{^LN-BEG}") || b.name.starts_with('^') {
                continue;
            }
            let wrap = |s: &str| format!("{{^LN-BEG}}{s}");
            let mut t = pattern::derived_spec(b, &wrap, year_re)?;
            if t.name != b.name {
                t.weight = 100.0;
                twin_keys.push(pattern::pattern_key(&wrap(
                    b.pattern.as_deref().unwrap_or(&b.name),
                )));
                twins.push(t);
            }
        }
        let all = twins.into_iter().chain(base.iter().cloned()).collect();
        Ok(Defaults {
            base,
            all,
            twin_keys,
        })
    }
}

impl DateDetector {
    /// `datepattern`: `None` means fail2ban's default templates; otherwise the
    /// option's value (several lines allowed; `{^LN-BEG}`, `{DEFAULT}`, `{NONE}`,
    /// `EPOCH`, `LEPOCH`, `TAI64N`, `%`-codes...).
    pub fn new(datepattern: Option<&str>, opts: &DateOptions) -> Result<DateDetector, DateError> {
        let year_re = codes::year_regex(opts.reference_year);
        let defaults = Defaults::build(&year_re)?;
        let mut specs: Vec<(Spec, bool)> = Vec::new();
        if let Some(text) = datepattern {
            for line in text.split('\n').map(str::trim).filter(|l| !l.is_empty()) {
                add_pattern(&mut specs, line, &defaults, &year_re)?;
            }
        }
        if specs.is_empty() {
            // no pattern at all (or only `{DEFAULT}`): the default templates
            specs = defaults.all.iter().cloned().map(|s| (s, false)).collect();
        }
        let mut templates = Vec::with_capacity(specs.len());
        for (spec, none) in specs {
            let mut t = Template::compile(spec)?;
            t.none = none;
            templates.push(t);
        }
        let order = (0..templates.len())
            .map(|i| Slot {
                template: i,
                hits: 0,
                last_used: 0.0,
                distance: 0x7fff_ffff,
            })
            .collect();
        Ok(DateDetector {
            templates,
            order,
            last_pos: (1, None, None),
            last_end: (0x7fff_ffff, None, None),
            last_idx: usize::MAX,
            first_unused: 0,
            now_cache: NowCache::default(),
            local_period: [None, None],
            mktime_offset: None,
            parsed_memo: Default::default(),
            fast: Fast::default(),
            shape: 1,
            uncached: false,
            cache_hits: [0; 3],
        })
    }

    /// `{NONE}`: lines carry no date.
    pub fn is_none(&self) -> bool {
        !self.templates.is_empty() && self.templates.iter().all(|t| t.none)
    }

    /// Find the date in `line`; year-less dates resolve against `now` in `zone`.
    /// Only matches whose text converts to a time are returned; see [`Self::locate`]
    /// for fail2ban's full answer.
    pub fn find(&mut self, line: &str, now: f64, zone: &Zone) -> Option<DateHit> {
        let m = self.locate(line, now, zone)?;
        Some(DateHit {
            start: m.start,
            end: m.end,
            time: m.time?,
            template: m.template,
        })
    }

    /// Tells apart the shapes of the date texts [`Self::locate`] found: while it
    /// stays the same, each date text had the same length as the one before
    /// and differed from it only in places where both have an ASCII digit (the
    /// seconds and fractions of consecutive lines of one log). A caller that
    /// derives something from a date text's shape alone (not from its digits)
    /// can keep its answer while this does not change. (Other lines may change
    /// it without need.)
    pub fn shape(&self) -> u64 {
        self.shape
    }

    /// Human names of the templates, as fail2ban-regex prints them in "Date template hits".
    pub fn template_names(&self) -> Vec<String> {
        self.templates.iter().map(|t| t.spec.name.clone()).collect()
    }

    /// What fail2ban-regex shows after "Use datepattern : <pattern> :" (fail2ban's
    /// `getDatePattern`): more than two templates are "Default Detectors",
    /// otherwise the first template's pattern and name.
    pub fn describe(&self) -> (Option<String>, String) {
        if self.order.len() > 2 {
            return (None, "Default Detectors".to_string());
        }
        match self.order.first() {
            Some(s) => {
                let spec = &self.templates[s.template].spec;
                let pattern = if spec.kind == Kind::Fields {
                    spec.pattern.clone()
                } else {
                    None
                };
                (pattern, spec.name.clone())
            }
            None => (None, "Default Detectors".to_string()),
        }
    }

    /// The templates in their current search order, with hit counts.
    pub fn templates_report(&self) -> Vec<TemplateInfo> {
        self.order
            .iter()
            .map(|s| {
                let t = &self.templates[s.template];
                TemplateInfo {
                    index: s.template,
                    name: t.spec.name.clone(),
                    hits: s.hits,
                    weight: s.weight(&self.templates),
                    template_weight: t.spec.weight,
                    pattern: t.spec.pattern.clone(),
                    regex: t.spec.regex.clone(),
                }
            })
            .collect()
    }

    /// Find the winning template for `line` (fail2ban's `matchTime`) and convert
    /// its date text (`getTime`).
    pub fn locate(&mut self, line: &str, now: f64, zone: &Zone) -> Option<DateMatch> {
        if self.fast.valid {
            if let Some(m) = self.fast_locate(line, now, zone) {
                return Some(m);
            }
            self.fast.valid = false;
        }
        self.shape += 1;
        let l = Line::new(line);
        let (slot, found, again) = match self.again(&l) {
            Some(w) => (self.win(w, &l, now), None, true),
            None => {
                let (slot, found) = self.match_time(&l, now)?;
                (slot, found, false)
            }
        };
        let tpl = self.order[slot].template;
        // captures of the winning search are in the template's locations, unless a
        // later search by the same template overwrote them: redo that search then
        if let Some(f) = found {
            let t = &mut self.templates[tpl];
            let subject = &line.as_bytes()[..f.to];
            let _ = t.captures_at(subject, f.from, l.ascii);
        }
        let t = &self.templates[tpl];
        let (start, end) = t.group(1).unwrap_or((0, 0));
        let time = if start == end {
            None
        } else {
            self.convert(tpl, line, now, zone)
        };
        if again && start < end {
            self.keep_fast(slot, tpl, line);
        }
        Some(DateMatch {
            start,
            end,
            time,
            template: tpl,
        })
    }

    /// [`Fast`]: the answer for a line within the last answer's window (None:
    /// it is not, the search runs).
    #[inline]
    fn fast_locate(&mut self, line: &str, now: f64, zone: &Zone) -> Option<DateMatch> {
        let f = &self.fast;
        let b = line.as_bytes();
        let mut delta = 0;
        let base = if f.lead {
            let Some(Some(p)) = &self.templates[f.tpl].native else {
                return None;
            };
            let e = p.lead_end(b);
            // char offsets are byte offsets up to the date
            if !is_ascii(&b[..e]) {
                return None;
            }
            delta = e.wrapping_sub(f.base);
            e
        } else {
            0
        };
        let rest = &b[base..];
        let fits = if f.len_dep {
            rest.len() == f.len
        } else {
            rest.len() >= f.sig_len
        };
        if !fits || !native::split_match(&f.split, rest) {
            return None;
        }
        // fail2ban's search: the last winner, line-anchored, matched again
        let (mut start, mut end, mut date, mut second) = (f.whole.0, f.whole.1, f.date, f.second);
        if delta != 0 {
            start = f.shift(start, base);
            end = f.shift(end, base);
            date = (f.shift(date.0, base), f.shift(date.1, base));
            second = second.map(|(a, z)| (f.shift(a, base), f.shift(z, base)));
        }
        let (i, tpl) = (f.slot, f.tpl);
        self.templates[tpl].regex_hits += 1;
        let slot = &mut self.order[i];
        slot.hits += 1;
        slot.last_used = now;
        slot.distance = start;
        if self.first_unused == i {
            self.first_unused += 1;
        }
        // The winner's position. The chars around it are read only when the
        // last winner is not line-anchored (see `match_time`), and the next
        // `win` sets them before that can be: they are left as they are.
        self.last_pos.0 = start;
        self.last_end.0 = end;
        self.cache_hits[0] += 1;
        self.cache_hits[2] += 1;
        // the fields are those of `parsed_memo[0]`: only the seconds are read
        let second = match second {
            Some((a, z)) => match b[a..z] {
                [x, y] if x.is_ascii_digit() && y.is_ascii_digit() => {
                    Some(i64::from(x - b'0') * 10 + i64::from(y - b'0'))
                }
                _ => convert::seconds_value(&line[a..z]),
            },
            None => Some(0),
        };
        if self.fast.now != (now.to_bits(), zone.id) {
            self.fast_now(now, zone);
        } else {
            self.cache_hits[1] += 1;
        }
        let f = &self.fast;
        let time = match (f.minute, second) {
            (Some(m), Some(second)) => {
                let (period, last) = (&mut self.local_period, &mut self.mktime_offset);
                let now_offset = f.now_offset;
                let mut local = |n| DateDetector::local_to_utc(period, last, now_offset, zone, n);
                m.to_time(second, f.naive_now, &mut local)
            }
            _ => None,
        };
        Some(DateMatch {
            start: date.0,
            end: date.1,
            time,
            template: tpl,
        })
    }

    /// [`Fast`]'s "now" and minute for another "now" or zone.
    #[cold]
    fn fast_now(&mut self, now: f64, zone: &Zone) {
        let naive_now = DateDetector::naive_now(&mut self.now_cache, now, zone);
        let memo = &mut self.parsed_memo[0];
        let key = (naive_now.ymd(), zone.log_offset);
        let minute = match (memo.parsed, memo.minute) {
            (None, _) => None,
            (Some(_), Some((ymd, off, m))) if (ymd, off) == key => {
                self.cache_hits[1] += 1;
                m
            }
            (Some(parsed), _) => {
                let m = parsed.minute(key.0, key.1);
                memo.minute = Some((key.0, key.1, m));
                m
            }
        };
        let f = &mut self.fast;
        f.now = (now.to_bits(), zone.id);
        f.naive_now = naive_now;
        f.now_offset = self.now_cache.offset;
        f.minute = minute;
    }

    /// After a search that [`Self::again`] answered and [`Self::convert`] read
    /// with the parse memo: keep the answer for [`Self::fast_locate`] when it
    /// can serve.
    fn keep_fast(&mut self, slot: usize, tpl: usize, line: &str) {
        let t = &self.templates[tpl];
        let memo = &self.parsed_memo[0];
        if self.uncached
            || t.spec.kind != Kind::Fields
            || !t.last_native
            || !t.is_anchored()
            || !memo.valid
            || memo.template != tpl
        {
            return;
        }
        let Some(w) = t.native_scratch.window() else {
            return;
        };
        if w.from != 0 {
            return;
        }
        let f = &mut self.fast;
        f.words.clear();
        f.words.extend_from_slice(w.words);
        f.base = if w.lead { w.at } else { 0 };
        let span = |g: usize| t.group(g);
        let (Some(whole), Some(date)) = (span(0), span(1)) else {
            return;
        };
        let mut second = None;
        for &g in &t.seconds {
            if let Some(v) = span(g) {
                second = Some(v);
            }
        }
        // everything read must lie in the window (after a leading run)
        let inside = |(a, z): (usize, usize)| a >= f.base && z <= f.base + w.sig_len;
        if !inside(date) || !second.is_none_or(inside) || whole.1 > f.base + w.sig_len {
            return;
        }
        // pin the bytes of the fields to their values
        for &(_, g) in &t.fields {
            if let Some(s) = span(g) {
                if !inside(s) {
                    return;
                }
                for p in s.0..s.1 {
                    let k = p - f.base;
                    f.words[k / 8].pin(k % 8, line.as_bytes()[p]);
                }
            }
        }
        f.split.clear();
        f.split.extend(f.words.iter().map(native::Word::split));
        f.slot = slot;
        f.tpl = tpl;
        f.lead = w.lead;
        f.len_dep = w.len_dep;
        f.len = w.len;
        f.sig_len = w.sig_len;
        f.whole = whole;
        f.date = date;
        f.second = second;
        f.now = (u64::MAX, 0);
        f.valid = true;
    }

    /// Run one template: over the whole line, or over a char range of it.
    fn search(&mut self, slot: usize, l: &Line, range: Option<(usize, usize)>) -> Option<Found> {
        let tpl = self.order[slot].template;
        let (from, to) = match range {
            None => (0, l.s.len()),
            Some((a, b)) => (l.byte(a), l.byte(b)),
        };
        if from > to {
            return None;
        }
        if self.uncached {
            self.templates[tpl].native_scratch.forget();
        }
        let (s, e) = self.templates[tpl].search(&l.s.as_bytes()[..to], from, l.ascii)?;
        Some(Found {
            slot,
            start: l.chr(s),
            end: l.chr(e),
            from,
            to,
        })
    }

    /// fail2ban's template search. Returns the winning slot, and the search to
    /// redo when the winner came from a reserved (earlier) search.
    fn match_time(&mut self, l: &Line, now: f64) -> Option<(usize, Option<Found>)> {
        let n = self.order.len();
        let mut winner: Option<Found> = None;
        let mut reserve: Option<Found> = None;
        let mut skip = usize::MAX;
        let i = self.last_idx;
        if i < n {
            let anchored = self.templates[self.order[i].template].is_anchored();
            let m = if anchored {
                skip = i;
                self.search(i, l, None)
            } else {
                let (d, e) = (self.last_pos.0, self.last_end.0);
                let (lp, le) = (self.last_pos, self.last_end);
                let begin_ok = l.slice1(d as isize - 1) == lp.1
                    || (l.slice1(d as isize) == lp.2 && !is_alnum(lp.2));
                let end_ok = l.slice1(e as isize) == le.2
                    || (l.slice1(e as isize - 1) == le.1 && !is_alnum(le.1));
                if begin_ok && end_ok {
                    self.search(i, l, Some((d, e)))
                } else {
                    skip = i;
                    self.search(i, l, None)
                }
            };
            if let Some(f) = m {
                if n == 1 || anchored || (f.start == self.last_pos.0 && f.end == self.last_end.0) {
                    winner = Some(f);
                } else {
                    reserve = Some(f);
                }
            }
        }
        let mut redo = None;
        if winner.is_none() {
            let mut i = 0;
            while i < n {
                if i == skip {
                    i += 1;
                    continue;
                }
                if let Some(f) = self.search(i, l, None) {
                    if i + 1 >= n {
                        winner = Some(f);
                        break;
                    }
                    let t = &self.templates[self.order[i].template];
                    if t.is_anchored() {
                        winner = Some(f);
                        break;
                    }
                    let next = &self.templates[self.order[i + 1].template];
                    if f.start == 0 && self.order[i].hits > 0 && next.regex_hits == 0 {
                        winner = Some(f);
                        break;
                    }
                    if f.start > self.order[i].distance || f.start > self.last_pos.0 {
                        if reserve.is_none_or(|r| f.start < r.start) {
                            reserve = Some(f);
                        }
                        i += 1;
                        continue;
                    }
                    winner = Some(f);
                    break;
                }
                i += 1;
            }
            if winner.is_none() {
                if let Some(r) = reserve {
                    winner = Some(r);
                    redo = Some(r);
                }
            }
        }
        let w = winner?;
        Some((self.win(w, l, now), redo))
    }

    /// The most common answer, tried first: the last winner is line-anchored
    /// and matches again (an ASCII line, the native matcher). fail2ban's search
    /// starts with that template and stops there, so the winner is the same as
    /// [`Self::match_time`]'s; when this gives nothing, that search runs.
    #[inline]
    fn again(&mut self, l: &Line) -> Option<Found> {
        if !l.ascii || self.uncached {
            return None;
        }
        let i = self.last_idx;
        let tpl = self.order.get(i)?.template;
        let t = &mut self.templates[tpl];
        if !t.is_anchored() {
            return None;
        }
        let Some(Some(p)) = &t.native else {
            return None;
        };
        let b = l.s.as_bytes();
        let (start, end) = p.search(b, 0, &mut t.native_scratch)?;
        t.last_native = true;
        t.regex_hits += 1;
        Some(Found {
            slot: i,
            start,
            end,
            from: 0,
            to: b.len(),
        })
    }

    /// Record the winner of a search (hits, position, order); its slot now.
    #[inline]
    fn win(&mut self, w: Found, l: &Line, now: f64) -> usize {
        let mut i = w.slot;
        let slot = &mut self.order[i];
        slot.hits += 1;
        slot.last_used = now;
        slot.distance = w.start;
        if self.first_unused == i {
            self.first_unused += 1;
        }
        if l.ascii {
            let b = l.s.as_bytes();
            let at = |i: usize| b.get(i).map(|&c| c as char);
            let before = |i: usize| i.checked_sub(1).and_then(at);
            self.last_pos = (w.start, before(w.start), at(w.start));
            // (`w.end == 0`: Python's `line[-1]`, the last char)
            let last = match w.end {
                0 => b.last().map(|&c| c as char),
                e => at(e - 1),
            };
            self.last_end = (w.end, last, at(w.end));
        } else {
            self.win_pos(w, l);
        }
        if i != 0 && i != self.last_idx {
            i = self.reorder(i);
        }
        self.last_idx = i;
        i
    }

    /// [`Self::win`]'s record of the chars around the winner, in chars.
    fn win_pos(&mut self, w: Found, l: &Line) {
        self.last_pos = (w.start, l.slice1(w.start as isize - 1), l.at(w.start));
        self.last_end = (
            w.end,
            if w.end == 0 {
                l.last()
            } else {
                l.at(w.end - 1)
            },
            l.slice1(w.end as isize),
        );
    }

    /// Move a template that just won towards the front (fail2ban's bubble-up).
    fn reorder(&mut self, num: usize) -> usize {
        let untime = self.order[num].last_used - UNUSED_TIME;
        let weight = self.order[num].weight(&self.templates);
        let mut pos = if self.first_unused < num {
            self.first_unused
        } else {
            num / 2
        };
        let moveable = |d: &DateDetector, pos: usize| {
            weight > d.order[pos].weight(&d.templates) || untime > d.order[pos].last_used
        };
        if !moveable(self, pos) {
            if pos == num - 1 {
                return num;
            }
            pos = num - 1;
            if !moveable(self, pos) {
                return num;
            }
        }
        let slot = self.order.remove(num);
        self.order.insert(pos, slot);
        while self.first_unused < self.order.len() && self.order[self.first_unused].hits > 0 {
            self.first_unused += 1;
        }
        pos
    }

    /// Python's `fromtimestamp(now)`: naive local "now" in the system zone.
    fn naive_now(cache: &mut NowCache, now: f64, zone: &Zone) -> NaiveNow {
        if let Some((bits, id, n)) = cache.last {
            if bits == now.to_bits() && id == zone.id {
                return n;
            }
        }
        let period = &mut cache.period;
        // microseconds rounded half-to-even
        let mut secs = now.floor();
        let us = ((now - secs) * 1e6).round_ties_even();
        if us >= 1e6 {
            secs += 1.0;
        }
        // far outside any real clock: keep the arithmetic in range
        let secs = (secs as i64).clamp(-MAX_SECS, MAX_SECS);
        let p = match *period {
            Some(p) if p.zone == zone.id && p.utc_lo <= secs && secs < p.utc_hi => p,
            _ => {
                let p = zone.period_at(secs);
                *period = Some(p);
                p
            }
        };
        let n = NaiveNow::new(secs + p.offset);
        cache.last = Some((now.to_bits(), zone.id, n));
        cache.offset = p.offset;
        n
    }

    /// mktime: naive local time in the system zone → Unix time.
    ///
    /// Like glibc's `mktime` (what fail2ban calls): a time in a spring gap is read
    /// with the offset before the gap; a time in an autumn fold with the offset
    /// of the previous conversion when that is one of the two, else by probing
    /// from it. `last` is that previous offset (at first: "now"'s offset).
    fn local_to_utc(
        periods: &mut [Option<Period>; 2],
        last: &mut Option<i64>,
        now_offset: i64,
        zone: &Zone,
        naive: i64,
    ) -> i64 {
        for p in periods.iter().flatten() {
            if p.zone == zone.id && p.naive_lo <= naive && naive < p.naive_hi {
                *last = Some(p.offset);
                return naive - p.offset;
            }
        }
        let off = match zone.local_offset(naive) {
            LocalOffset::Unique(off) => {
                periods[1] = periods[0];
                periods[0] = Some(zone.period_at(naive - off));
                off
            }
            LocalOffset::Gap { before } => before,
            LocalOffset::Fold { before, after } => {
                let guess = last.unwrap_or(now_offset);
                if guess == before || guess == after {
                    guess
                } else {
                    let probe = zone.offset_at(naive - guess);
                    if probe == after {
                        after
                    } else {
                        before
                    }
                }
            }
        };
        *last = Some(off);
        naive - off
    }

    fn convert(&mut self, tpl: usize, line: &str, now: f64, zone: &Zone) -> Option<f64> {
        let text =
            |t: &Template, g: usize| -> Option<&str> { t.group(g).map(|(a, b)| &line[a..b]) };
        let t = &self.templates[tpl];
        match t.spec.kind {
            Kind::Epoch { long, group } => convert::epoch_value(text(t, group)?, long),
            Kind::Tai64n => convert::tai64n_value(text(t, 1)?),
            Kind::Fields => {
                if self.uncached {
                    self.now_cache = NowCache::default();
                    self.local_period = [None, None];
                }
                let naive_now = DateDetector::naive_now(&mut self.now_cache, now, zone);
                let period = &mut self.local_period;
                let last = &mut self.mktime_offset;
                let now_offset = self.now_cache.offset;
                let memos = &mut self.parsed_memo;
                let mut cached = !self.uncached && memos[0].same(tpl, t, line);
                if !cached && !self.uncached && memos[1].same(tpl, t, line) {
                    memos.swap(0, 1);
                    cached = true;
                }
                self.cache_hits[0] += u64::from(cached);
                if !cached {
                    // the last one becomes the one before, this one takes its place
                    memos.swap(0, 1);
                }
                let memo = &mut memos[0];
                if !cached {
                    let ampm = match t.ampm {
                        None => AmPm::Absent,
                        Some(g) => match text(t, g) {
                            None => AmPm::Unset,
                            Some(v) => AmPm::Value(v),
                        },
                    };
                    let fields = t.fields.iter().filter_map(|&(f, g)| Some((f, text(t, g)?)));
                    let parsed = convert::parse_fields(fields, ampm);
                    memo.store(tpl, t, line, parsed);
                }
                let mut second = None;
                for &g in &t.seconds {
                    if let Some(v) = t.group(g) {
                        second = Some(v);
                    }
                }
                let mut local = |n| DateDetector::local_to_utc(period, last, now_offset, zone, n);
                if self.uncached {
                    let second = second.map(|(a, b)| &line[a..b]);
                    return memo
                        .parsed?
                        .to_time(second, naive_now, zone.log_offset, &mut local);
                }
                memo_time(
                    memo,
                    second,
                    line,
                    naive_now,
                    zone,
                    &mut local,
                    &mut self.cache_hits[1],
                )
            }
        }
    }
}

/// The time of a date whose fields are those `memo` holds, at the seconds in
/// `second` (a span of `line`): the minute is resolved (or taken from the memo
/// when it was for the same date of "now" and `logtimezone`, counted in
/// `minute_hits`), then the seconds added.
#[inline]
fn memo_time(
    memo: &mut ParsedMemo,
    second: Option<(usize, usize)>,
    line: &str,
    naive_now: NaiveNow,
    zone: &Zone,
    local: &mut dyn FnMut(i64) -> i64,
    minute_hits: &mut u64,
) -> Option<f64> {
    let second = match second {
        Some((a, b)) => match line.as_bytes()[a..b] {
            [x, y] if x.is_ascii_digit() && y.is_ascii_digit() => {
                i64::from(x - b'0') * 10 + i64::from(y - b'0')
            }
            _ => convert::seconds_value(&line[a..b])?,
        },
        None => 0,
    };
    let parsed = memo.parsed?;
    let key = (naive_now.ymd(), zone.log_offset);
    let minute = match memo.minute {
        Some((ymd, off, m)) if (ymd, off) == key => {
            *minute_hits += 1;
            m
        }
        _ => {
            let m = parsed.minute(key.0, key.1);
            memo.minute = Some((key.0, key.1, m));
            m
        }
    };
    minute?.to_time(second, naive_now, local)
}

/// One `datepattern` line: a template, or a set of default templates.
fn add_pattern(
    specs: &mut Vec<(Spec, bool)>,
    line: &str,
    defaults: &Defaults,
    year_re: &str,
) -> Result<(), DateError> {
    let key = pattern::pattern_key(line);
    let with_weight = |mut s: Spec| {
        if defaults
            .twin_keys
            .iter()
            .any(|k| *k == pattern::pattern_key(s.pattern.as_deref().unwrap_or(&s.name)))
        {
            s.weight = 100.0;
        }
        s
    };
    if key == "{^LN-BEG}" || key == "{DEFAULT}" {
        // `{DEFAULT}` adds nothing by itself here: fail2ban falls back to the
        // defaults only when no template at all was given
        let ignore_dup = !specs.is_empty();
        if key == "{^LN-BEG}" {
            for s in defaults.all.iter().filter(|s| s.flags & LINE_BEGIN != 0) {
                push_spec(specs, s.clone(), false, ignore_dup)?;
            }
        }
        return Ok(());
    }
    if key.contains("{DATE}") {
        let ignore_dup = !specs.is_empty();
        for b in &defaults.base {
            let wrap = |s: &str| pattern::replace_date_token(line, &pattern::unbound_pattern(s));
            let s = pattern::derived_spec(b, &wrap, year_re)?;
            let s = with_weight(s);
            push_spec(specs, s, false, ignore_dup)?;
        }
        return Ok(());
    }
    if key == "{NONE}" {
        let s = pattern::pattern_spec("{UNB}^", year_re)?;
        return push_spec(specs, s, true, false);
    }
    let s = with_weight(pattern::template_spec(line, year_re)?);
    push_spec(specs, s, false, false)
}

fn push_spec(
    specs: &mut Vec<(Spec, bool)>,
    s: Spec,
    none: bool,
    ignore_dup: bool,
) -> Result<(), DateError> {
    if specs.iter().any(|(t, _)| t.name == s.name) {
        if ignore_dup {
            return Ok(());
        }
        return Err(DateError::new(format!(
            "datepattern: there is already a template with name {}",
            s.name
        )));
    }
    specs.push((s, none));
    Ok(())
}
