//! Differential test of the detector's caches: the same lines through a detector
//! as it runs, and through one that computes everything every time
//! (`DateDetector::uncached`: no parse memo, no minute cache, no zone period or
//! "now" caches, no native matcher memo). Every answer must be the same: span,
//! template and time, and at the end the template statistics.
//!
//! The lines are walks through time the way logs are written (mostly a few
//! seconds apart, sometimes minutes or hours, now and then a step back), started
//! just before the instants where a cache could go stale: minute, hour, day,
//! month and year boundaries, leap days, the DST transitions of
//! `CET-01CEST-02,M3.5.0,M10.5.0` and `America/New_York`, and the moment a
//! year-less date turns into last year's against "now". Zone suffixes change
//! between lines, "now" stands still (fail2ban-regex) or follows the lines (the
//! daemon), and `logtimezone` is set or not.

use jiff::tz::{Offset, TimeZone};
use jiff::Timestamp;

use crate::test_rng::Rng;
use crate::{DateDetector, DateMatch, DateOptions, Zone};

/// UTC instants around which the caches could go wrong.
const EDGES: &[&str] = &[
    // EU DST (CET-01CEST-02,M3.5.0,M10.5.0): spring gap, autumn fold
    "2005-03-27T01:00:00Z",
    "2005-10-30T01:00:00Z",
    "2026-03-29T01:00:00Z",
    "2026-10-25T01:00:00Z",
    // US DST (America/New_York)
    "2005-04-03T07:00:00Z",
    "2005-10-30T06:00:00Z",
    "2026-03-08T07:00:00Z",
    "2026-11-01T06:00:00Z",
    // year, month and leap-day boundaries in UTC and in the local zones
    "2004-12-31T23:00:00Z",
    "2005-01-01T00:00:00Z",
    "2005-01-01T05:00:00Z",
    "2004-02-29T00:00:00Z",
    "2005-03-01T00:00:00Z",
    "2005-08-31T22:00:00Z",
    // the oracle's "now" and one day after it (year-less dates roll back there)
    "2005-08-14T10:00:00Z",
    "2005-08-15T10:00:00Z",
    "2026-11-19T12:47:35Z",
];

/// Fixed-offset zone suffixes a line may carry, with their offsets (seconds).
const SUFFIXES: &[(&str, i32)] = &[
    ("+00:00", 0),
    ("Z", 0),
    ("+01:00", 3600),
    ("+02:00", 7200),
    ("-05:00", -18_000),
    ("-04:30", -16_200),
    (" UTC", 0),
    (" +0100", 3600),
];

/// How a walk writes its dates, and the `datepattern` that reads them.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// `2005-08-14 10:00:00` (local time)
    IsoLocal,
    /// `2005-08-14T10:00:00.123456+01:00`: the suffix changes between lines
    IsoZoned,
    /// `Aug 14 10:00:00` (year-less, local)
    Syslog,
    /// `[14/Aug/2005:10:00:00 +0200]` after an address of varying length
    Access,
    /// `10:00:00` (date-less: today, or yesterday when after "now")
    TimeOnly,
    /// `Sun Aug 14 10:00:00 2005` (the year after the time)
    Asctime,
    /// `10:00:00 PM 14.08.2005` with a `%I %p` datepattern
    TwelveHour,
}

const SHAPES: &[Shape] = &[
    Shape::IsoLocal,
    Shape::IsoZoned,
    Shape::Syslog,
    Shape::Access,
    Shape::TimeOnly,
    Shape::Asctime,
    Shape::TwelveHour,
];

fn datepattern(shape: Shape, variant: u64) -> Option<&'static str> {
    match (shape, variant % 3) {
        (Shape::TwelveHour, _) => Some("%I:%M:%S %p %d.%m.%Y"),
        (_, 0) => None,
        (_, 1) => Some("{^LN-BEG}"),
        (Shape::Access, _) => Some(r"^[^\[]*\[({DATE})"),
        (_, _) => Some("%d/%b/%Y:%H:%M:%S %z\n%b %d %H:%M:%S\n%Y-%m-%d %H:%M:%S\n%H:%M:%S"),
    }
}

fn line(rng: &mut Rng, shape: Shape, t: i64, local: &TimeZone, prefix: &str) -> String {
    let ts = Timestamp::from_second(t).expect("time in range");
    let zoned = |tz: &TimeZone| ts.to_zoned(tz.clone());
    let l = zoned(local);
    match shape {
        Shape::IsoLocal => format!(
            "{prefix}{} host sshd[1]: x",
            l.strftime("%Y-%m-%d %H:%M:%S")
        ),
        Shape::IsoZoned => {
            let (suffix, off) = SUFFIXES[rng.below(SUFFIXES.len() as u64) as usize];
            let z = zoned(&TimeZone::fixed(Offset::from_seconds(off).expect("offset")));
            let frac = rng.below(1_000_000);
            format!(
                "{prefix}{}.{frac:06}{suffix} web1 sshd[1020]: Invalid user",
                z.strftime("%Y-%m-%dT%H:%M:%S")
            )
        }
        Shape::Syslog => format!("{prefix}{} host sshd[1]: x", l.strftime("%b %e %H:%M:%S")),
        Shape::Access => {
            let ip = format!(
                "{}.{}.{}.{}",
                rng.below(256),
                rng.below(256),
                rng.below(256),
                rng.below(256)
            );
            let z = if rng.below(4) == 0 {
                let (_, off) = SUFFIXES[rng.below(SUFFIXES.len() as u64) as usize];
                zoned(&TimeZone::fixed(Offset::from_seconds(off).expect("offset")))
            } else {
                l.clone()
            };
            format!(
                "{ip} - - [{}] \"GET / HTTP/1.1\" 200 1",
                z.strftime("%d/%b/%Y:%H:%M:%S %z")
            )
        }
        Shape::TimeOnly => format!("{prefix}{} x", l.strftime("%H:%M:%S")),
        Shape::Asctime => format!("{prefix}{} x", l.strftime("%a %b %e %H:%M:%S %Y")),
        Shape::TwelveHour => format!("{prefix}{} x", l.strftime("%I:%M:%S %p %d.%m.%Y")),
    }
}

#[derive(Default)]
struct Totals {
    lines: u64,
    timed: u64,
    memo: u64,
    minute: u64,
    fast: u64,
    shape_kept: u64,
}

/// `zones`: the same system zone with different `logtimezone`s; a walk mostly
/// stays with its first, and sometimes switches (one detector, other zones).
fn walk(rng: &mut Rng, zones: &[Zone], local: &TimeZone, totals: &mut Totals) {
    let mut zone = &zones[rng.below(zones.len() as u64) as usize];
    let opts = DateOptions {
        reference_year: 2026,
        any_year: false,
    };
    let edge: Timestamp = EDGES[rng.below(EDGES.len() as u64) as usize]
        .parse()
        .expect("edge");
    let mut t = edge.as_second() - rng.below(5400) as i64;
    let shape = SHAPES[rng.below(SHAPES.len() as u64) as usize];
    let dp = datepattern(shape, rng.below(3));
    // a third of the walks: another kind of line now and then (an error log's
    // lines among access lines), whether the templates read it or not
    let other = (rng.below(3) == 0).then(|| SHAPES[rng.below(SHAPES.len() as u64) as usize]);
    let mut fast = DateDetector::new(dp, &opts).expect("detector");
    let mut slow = DateDetector::new(dp, &opts).expect("detector");
    slow.uncached = true;
    // "now": still (fail2ban-regex: the start, or later) or following the lines
    let follow = rng.below(2) == 0;
    let still = (t + [0, 60, 3600, 86_400, 200_000][rng.below(5) as usize] as i64) as f64;
    let prefixes = ["", "", "host: ", "[", "<13>1 "];
    let mut prefix = prefixes[rng.below(prefixes.len() as u64) as usize];
    let n = 150 + rng.below(250);
    // busy logs (seconds apart) and quiet ones (minutes apart: hours per walk)
    let stride = [3, 3, 3, 60, 240][rng.below(5) as usize];
    // now and then a log read backwards (merged out of order): the transitions
    // are crossed the other way
    let dir = if rng.below(4) == 0 { -1 } else { 1 };
    if dir < 0 {
        t += 2 * 5400;
    }
    let mut last_text: Option<(u64, String)> = None;
    for _ in 0..n {
        t += dir
            * match rng.below(60) {
                // an hour back: another source's lines, or a repeated DST hour
                0 => -3600 - rng.below(600) as i64,
                1..=2 => -(rng.below(3) as i64),
                3..=5 => rng.below(200) as i64,
                6 => 3600 - rng.below(5) as i64,
                7..=15 => 0,
                _ => rng.below(stride) as i64,
            };
        if rng.below(60) == 0 {
            prefix = prefixes[rng.below(prefixes.len() as u64) as usize];
        }
        if rng.below(80) == 0 {
            zone = &zones[rng.below(zones.len() as u64) as usize];
        }
        let kind = match other {
            Some(o) if rng.below(4) == 0 => o,
            _ => shape,
        };
        let mut l = line(rng, kind, t, local, prefix);
        if rng.below(8) == 0 {
            // text after the date that is not ASCII (the date itself is)
            l.push_str([" é", "\u{fffd}", " 日本", "\u{0}ü"][rng.below(4) as usize]);
        }
        // the daemon reads a line a little after it was written, by a clock
        // that may be a bit behind the writer's
        let now = if follow {
            (t + rng.below(120) as i64 - 30) as f64 + 0.25
        } else {
            still
        };
        let got: Option<DateMatch> = fast.locate(&l, now, zone);
        // an unchanged shape: the same text but for digits (where both have one)
        let text = got.as_ref().map(|m| l[m.start..m.end].to_string());
        if let (Some((shape, before)), Some(text)) = (&last_text, &text) {
            if *shape == fast.shape() {
                assert!(
                    before.len() == text.len()
                        && before
                            .bytes()
                            .zip(text.bytes())
                            .all(|(a, b)| a == b || (a.is_ascii_digit() && b.is_ascii_digit())),
                    "shape kept from {before:?} to {text:?}"
                );
                totals.shape_kept += 1;
            }
        }
        last_text = text.map(|t| (fast.shape(), t));
        let want = slow.locate(&l, now, zone);
        assert_eq!(
            got, want,
            "{kind:?} {dp:?} line {l:?} now {now} zone {:?}: cached vs uncached",
            zone.log_offset
        );
        totals.lines += 1;
        totals.timed += u64::from(want.is_some_and(|m| m.time.is_some()));
    }
    assert_eq!(fast.templates_report(), slow.templates_report());
    totals.memo += fast.cache_hits[0];
    totals.minute += fast.cache_hits[1];
    totals.fast += fast.cache_hits[2];
}

#[test]
fn caches_agree_with_uncached_computation() {
    let zones: Vec<(String, TimeZone)> =
        ["CET-01CEST-02,M3.5.0,M10.5.0", "America/New_York", "UTC"]
            .iter()
            .map(|name| {
                let tz = TimeZone::get(name)
                    .or_else(|_| TimeZone::posix(name))
                    .expect("zone rules");
                (name.to_string(), tz)
            })
            .collect();
    let walks: u64 = if cfg!(debug_assertions) { 240 } else { 2400 };
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut totals = Totals::default();
    for i in 0..walks {
        let (_, tz) = &zones[(i % zones.len() as u64) as usize];
        let system = Zone::from_time_zone(tz.clone());
        let zones = [
            system.with_logtimezone("UTC+0200").expect("logtimezone"),
            system.with_logtimezone("EST").expect("logtimezone"),
            system.clone(),
            system,
        ];
        walk(&mut rng, &zones, tz, &mut totals);
    }
    eprintln!(
        "cached vs uncached: {} lines ({} with a time), parse memo reused {} times, minute reused {} times, \
         {} answered without a search, all equal",
        totals.lines, totals.timed, totals.memo, totals.minute, totals.fast
    );
    assert!(totals.timed > totals.lines / 2, "too few dates converted");
    assert!(
        totals.memo > totals.timed / 3,
        "the parse memo hardly ever answered"
    );
    assert!(
        totals.minute > totals.timed / 3,
        "the minute cache hardly ever answered"
    );
    // (only line-anchored winners are reused: about half of the walks)
    assert!(
        totals.fast > totals.timed / 20,
        "the last answer was hardly ever reused"
    );
    assert!(
        totals.shape_kept > totals.fast / 2,
        "the shape hardly ever kept"
    );
}

/// Date-less and year-less lines read right around midnight and New Year by a
/// clock a little behind or ahead of the writer's: the same text may mean
/// another day (or year) once "now" has crossed midnight.
#[test]
fn caches_follow_now_across_midnight() {
    let opts = DateOptions {
        reference_year: 2026,
        any_year: false,
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut compared = 0u64;
    for name in ["CET-01CEST-02,M3.5.0,M10.5.0", "America/New_York"] {
        let tz = TimeZone::get(name)
            .or_else(|_| TimeZone::posix(name))
            .expect("zone rules");
        let zone = Zone::from_time_zone(tz.clone());
        for midnight in [
            "2005-01-01T00:00:00",
            "2005-08-15T00:00:00",
            "2026-01-01T00:00:00",
        ] {
            let civil: jiff::civil::DateTime = midnight.parse().expect("civil");
            let m = civil
                .to_zoned(tz.clone())
                .expect("local midnight")
                .timestamp()
                .as_second();
            for shape in [Shape::TimeOnly, Shape::Syslog, Shape::IsoLocal] {
                let mut fast = DateDetector::new(None, &opts).expect("detector");
                let mut slow = DateDetector::new(None, &opts).expect("detector");
                slow.uncached = true;
                let mut t = m - 90;
                while t < m + 90 {
                    let l = line(&mut rng, shape, t, &tz, "");
                    for _ in 0..3 {
                        let now = (t + rng.below(90) as i64 - 45) as f64;
                        let got = fast.locate(&l, now, &zone);
                        let want = slow.locate(&l, now, &zone);
                        assert_eq!(got, want, "{name}: {l:?} now {now}: cached vs uncached");
                        compared += 1;
                    }
                    t += rng.below(3) as i64;
                }
            }
        }
    }
    assert!(compared > 2000);
}

/// The word-at-a-time ASCII check the detector runs on every line.
#[test]
fn ascii_check_agrees_with_std() {
    let mut rng = Rng(11);
    for n in 0..100usize {
        let mut b: Vec<u8> = (0..n).map(|_| b' ' + rng.below(90) as u8).collect();
        assert_eq!(crate::is_ascii(&b), b.is_ascii(), "len {n}");
        for at in 0..n {
            let keep = b[at];
            b[at] = 0x80 + rng.below(128) as u8;
            assert_eq!(
                crate::is_ascii(&b),
                b.is_ascii(),
                "len {n}, high byte at {at}"
            );
            b[at] = keep;
        }
    }
}
