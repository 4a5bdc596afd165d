//! Unit behaviour of the date detector: each `%`-code, the special patterns,
//! year/day rollover, zones and DST boundaries. Expected times are computed
//! here from the civil date (via `jiff`), not copied from a run.

use bailiff_date::{logtimezone_offset, DateDetector, DateMatch, DateOptions, Zone};
use jiff::civil::date;
use jiff::tz::TimeZone;

const CET_RULES: &str = "CET-01CEST-02,M3.5.0,M10.5.0";

fn opts() -> DateOptions {
    DateOptions {
        reference_year: 2026,
        any_year: false,
    }
}

/// Unix time of a civil date-time read in `tz`.
fn ts(tz: &TimeZone, y: i16, mo: i8, d: i8, h: i8, mi: i8, s: i8) -> f64 {
    date(y, mo, d)
        .at(h, mi, s, 0)
        .to_zoned(tz.clone())
        .expect("valid local time")
        .timestamp()
        .as_second() as f64
}

fn utc(y: i16, mo: i8, d: i8, h: i8, mi: i8, s: i8) -> f64 {
    ts(&TimeZone::UTC, y, mo, d, h, mi, s)
}

/// 2005-08-14 12:00:00 UTC.
fn now() -> f64 {
    utc(2005, 8, 14, 12, 0, 0)
}

fn locate(dp: Option<&str>, line: &str, zone: &Zone) -> Option<DateMatch> {
    let mut dd = DateDetector::new(dp, &opts()).expect("detector");
    dd.locate(line, now(), zone)
}

/// Time of the date `dp` finds in `line`, in UTC as the system zone.
fn time(dp: &str, line: &str) -> Option<f64> {
    locate(Some(dp), line, &Zone::utc()).and_then(|m| m.time)
}

fn text(dp: Option<&str>, line: &str) -> Option<String> {
    locate(dp, line, &Zone::utc()).map(|m| line[m.start..m.end].to_string())
}

#[test]
fn numeric_codes() {
    let t = utc(2005, 8, 14, 10, 11, 12);
    assert_eq!(time("%Y-%m-%d %H:%M:%S", "2005-08-14 10:11:12 x"), Some(t));
    assert_eq!(time("%d.%m.%Y %H:%M:%S", "14.8.2005 10:11:12"), Some(t));
    assert_eq!(time("%y%m%d %H:%M:%S", "050814 10:11:12"), Some(t));
    assert_eq!(time("%ExY%Exm%Exd%ExH%ExM%ExS", "20050814101112"), Some(t));
    assert_eq!(
        time("%Y-%m-%d %k:%M:%S", "2005-08-14  9:11:12"),
        Some(t - 3600.0)
    );
    // fractions are matched but dropped
    assert_eq!(
        time("%Y-%m-%d %H:%M:%S.%f", "2005-08-14 10:11:12.999999"),
        Some(t)
    );
    // a literal percent sign
    assert_eq!(time("%%%Y-%m-%d %H:%M:%S", "%2005-08-14 10:11:12"), Some(t));
}

#[test]
fn two_digit_years_are_this_century() {
    assert_eq!(
        time("%y-%m-%d %H:%M", "00-08-14 10:00"),
        Some(utc(2000, 8, 14, 10, 0, 0))
    );
    assert_eq!(
        time("%y-%m-%d %H:%M", "99-08-14 10:00"),
        Some(utc(2099, 8, 14, 10, 0, 0))
    );
}

#[test]
fn extended_year_is_limited_to_nearby_decades() {
    assert!(text(Some("%ExY-%m-%d %H:%M"), "2029-01-01 10:00").is_some());
    assert!(text(Some("%ExY-%m-%d %H:%M"), "1999-01-01 10:00").is_none());
    assert!(text(Some("%ExY-%m-%d %H:%M"), "2030-01-01 10:00").is_none());
    assert!(text(Some("%Y-%m-%d %H:%M"), "1999-01-01 10:00").is_some());
}

#[test]
fn names_are_case_insensitive() {
    let t = utc(2005, 8, 14, 10, 0, 0);
    for line in [
        "Sun Aug 14 2005 10:00",
        "SUN AUG 14 2005 10:00",
        "sun aug 14 2005 10:00",
    ] {
        assert_eq!(time("%a %b %d %Y %H:%M", line), Some(t), "{line}");
    }
    assert_eq!(
        time("%A, %B %d %Y %H:%M", "sunday, AUGUST 14 2005 10:00"),
        Some(t)
    );
}

#[test]
fn twelve_hour_clock() {
    let d = |h| Some(utc(2005, 8, 14, h, 0, 0));
    let dp = "%Y-%m-%d %I:%M %p";
    assert_eq!(time(dp, "2005-08-14 12:00 AM"), d(0));
    assert_eq!(time(dp, "2005-08-14 01:00 am"), d(1));
    assert_eq!(time(dp, "2005-08-14 12:00 PM"), d(12));
    assert_eq!(time(dp, "2005-08-14 01:00 pm"), d(13));
    // no %p: read as AM
    assert_eq!(
        time("%Y-%m-%d %I:%M", "2005-08-14 12:30"),
        Some(utc(2005, 8, 14, 0, 30, 0))
    );
}

#[test]
fn day_of_year_and_week_numbers() {
    let t = utc(2005, 8, 14, 10, 0, 0);
    // 2005-08-14 is day 226, a Sunday; %U week 33 (weeks from Sunday), %W week 32
    assert_eq!(time("%Y %j %H:%M", "2005 226 10:00"), Some(t));
    assert_eq!(time("%Y %U %w %H:%M", "2005 33 0 10:00"), Some(t));
    assert_eq!(time("%Y %W %a %H:%M", "2005 32 Sun 10:00"), Some(t));
}

#[test]
fn zone_in_the_line_wins() {
    let t = utc(2005, 8, 14, 10, 0, 0);
    let dp = "%Y-%m-%d %H:%M:%S %z";
    assert_eq!(time(dp, "2005-08-14 12:00:00 +0200"), Some(t));
    assert_eq!(time(dp, "2005-08-14 12:00:00 +02:00"), Some(t));
    assert_eq!(time(dp, "2005-08-14 08:30:00 -0130"), Some(t));
    assert_eq!(time(dp, "2005-08-14 10:00:00 Z"), Some(t));
    assert_eq!(time(dp, "2005-08-14 10:00:00 GMT"), Some(t));
    let dz = "%Y-%m-%d %H:%M:%S %Z";
    assert_eq!(time(dz, "2005-08-14 12:00:00 CEST"), Some(t));
    assert_eq!(time(dz, "2005-08-14 05:00:00 EST"), Some(t));
    // an abbreviation fail2ban does not know: the text is cut, there is no time
    let m = locate(Some(dz), "2005-08-14 12:00:00 XYZ", &Zone::utc()).expect("match");
    assert_eq!((m.start, m.end, m.time), (0, 23, None));
    // the line's zone beats logtimezone
    let zone = Zone::utc().with_logtimezone("UTC+0500").expect("tz");
    let m = locate(Some(dp), "2005-08-14 12:00:00 +0200", &zone).expect("match");
    assert_eq!(m.time, Some(t));
}

#[test]
fn invalid_dates_match_without_a_time() {
    for line in ["2005-02-30 10:00:00", "2005-02-28 10:00:61"] {
        let m = locate(Some("%Y-%m-%d %H:%M:%S"), line, &Zone::utc()).expect(line);
        assert_eq!((m.start, m.end, m.time), (0, line.len(), None), "{line}");
    }
    // %k takes 0-29; the hour is refused later
    let m = locate(Some("%Y-%m-%d %k:%M"), "2005-02-28 24:00", &Zone::utc()).expect("k");
    assert_eq!(m.time, None);
    // %H itself stops at 23
    assert!(locate(
        Some("%Y-%m-%d %H:%M:%S"),
        "2005-02-28 24:00:00",
        &Zone::utc()
    )
    .is_none());
}

#[test]
fn missing_year_rolls_back_when_more_than_a_day_ahead() {
    let z = Zone::utc();
    let t = |line: &str| locate(None, line, &z).and_then(|m| m.time);
    // now = 2005-08-14 12:00 UTC
    assert_eq!(t("Aug 14 10:00:00 x"), Some(utc(2005, 8, 14, 10, 0, 0)));
    assert_eq!(t("Aug 15 11:59:59 x"), Some(utc(2005, 8, 15, 11, 59, 59)));
    assert_eq!(t("Aug 15 12:00:01 x"), Some(utc(2004, 8, 15, 12, 0, 1)));
    assert_eq!(t("Dec 31 23:59:59 x"), Some(utc(2004, 12, 31, 23, 59, 59)));
    assert_eq!(t("Jan  1 00:00:00 x"), Some(utc(2005, 1, 1, 0, 0, 0)));
    // 2005 has no Feb 29: no time (fail2ban's datetime refuses it)
    assert_eq!(t("Feb 29 10:00:00 x"), None);
}

#[test]
fn time_only_is_today_or_yesterday() {
    let dp = "{^LN-BEG}%H:%M:%S";
    assert_eq!(time(dp, "10:00:00 x"), Some(utc(2005, 8, 14, 10, 0, 0)));
    assert_eq!(time(dp, "13:00:00 x"), Some(utc(2005, 8, 13, 13, 0, 0)));
}

#[test]
fn logtimezone_forms() {
    assert_eq!(logtimezone_offset("UTC").ok(), Some(0));
    assert_eq!(logtimezone_offset("UTC+0200").ok(), Some(120));
    assert_eq!(logtimezone_offset("UTC-02:30").ok(), Some(-150));
    assert_eq!(logtimezone_offset("CET").ok(), Some(60));
    assert_eq!(logtimezone_offset("EST-05").ok(), Some(-600));
    assert_eq!(logtimezone_offset("+0530").ok(), Some(330));
    assert!(logtimezone_offset("Europe/Paris").is_err());
    assert!(logtimezone_offset("FOO").is_err());
    let dp = "%Y-%m-%d %H:%M:%S";
    let line = "2005-08-14 12:00:00";
    for (tz, hours) in [("UTC+0200", 2), ("CET", 1), ("CEST", 2), ("EST-05", -10)] {
        let zone = Zone::utc().with_logtimezone(tz).expect(tz);
        let m = locate(Some(dp), line, &zone).expect(tz);
        assert_eq!(m.time, Some(utc(2005, 8, 14, 12 - hours, 0, 0)), "{tz}");
    }
    // CET as logtimezone is +1 all year, also in summer (no CEST switch)
    let zone = Zone::from_tz_string(CET_RULES)
        .unwrap()
        .with_logtimezone("CET")
        .unwrap();
    let m = locate(Some(dp), line, &zone).expect("cet");
    assert_eq!(m.time, Some(utc(2005, 8, 14, 11, 0, 0)));
}

#[test]
fn system_zone_with_dst() {
    let rules = TimeZone::posix(CET_RULES).unwrap();
    let zone = Zone::from_tz_string(CET_RULES).unwrap();
    let t = |line: &str| locate(Some("%Y-%m-%d %H:%M:%S"), line, &zone).and_then(|m| m.time);
    // summer +2, winter +1
    assert_eq!(t("2005-07-15 12:00:00"), Some(utc(2005, 7, 15, 10, 0, 0)));
    assert_eq!(t("2005-01-15 12:00:00"), Some(utc(2005, 1, 15, 11, 0, 0)));
    // around the spring gap (02:00 CET -> 03:00 CEST on 2005-03-27)
    assert_eq!(
        t("2005-03-27 01:59:59"),
        Some(ts(&rules, 2005, 3, 27, 1, 59, 59))
    );
    assert_eq!(
        t("2005-03-27 03:00:00"),
        Some(ts(&rules, 2005, 3, 27, 3, 0, 0))
    );
    // inside the gap: read with the offset before it, as glibc's mktime does
    assert_eq!(t("2005-03-27 02:30:00"), Some(utc(2005, 3, 27, 1, 30, 0)));
    // around the autumn change (03:00 CEST -> 02:00 CET here: rules end at 02:00 local DST)
    assert_eq!(
        t("2005-10-30 00:59:59"),
        Some(utc(2005, 10, 29, 22, 59, 59))
    );
    assert_eq!(t("2005-10-30 02:00:00"), Some(utc(2005, 10, 30, 1, 0, 0)));
    // "now" is also read in the system zone: time-only dates are today's local date
    let m = locate(Some("{^LN-BEG}%H:%M:%S"), "13:30:00 x", &zone).expect("time");
    // now = 14:00 CEST on 2005-08-14, so 13:30 is today
    assert_eq!(m.time, Some(ts(&rules, 2005, 8, 14, 13, 30, 0)));
}

#[test]
fn special_patterns() {
    let z = Zone::utc();
    // {NONE}: an empty date, no time
    let mut dd = DateDetector::new(Some("{NONE}"), &opts()).unwrap();
    assert!(dd.is_none());
    let m = dd
        .locate("Aug 14 10:00:00 x", now(), &z)
        .expect("empty match");
    assert_eq!((m.start, m.end, m.time), (0, 0, None));
    assert!(dd.find("Aug 14 10:00:00 x", now(), &z).is_none());
    // automatic word boundaries, {UNB} and ** turn them off
    assert_eq!(text(Some("%H:%M"), "x10:00y"), None);
    assert_eq!(
        text(Some("{UNB}%H:%M"), "x10:00y").as_deref(),
        Some("10:00")
    );
    assert_eq!(text(Some("**%H:%M**"), "x10:00y").as_deref(), Some("10:00"));
    assert_eq!(text(Some("**%H:%M"), "x10:00 y").as_deref(), Some("10:00"));
    // {^LN-BEG}: at line start after at most two non-word chars
    assert_eq!(
        text(Some("{^LN-BEG}%H:%M"), "[(10:00 x").as_deref(),
        Some("10:00")
    );
    assert_eq!(text(Some("{^LN-BEG}%H:%M"), "[((10:00 x"), None);
    assert_eq!(text(Some("{^LN-BEG}%H:%M"), "x 10:00"), None);
    // the capturing group is the date text
    assert_eq!(
        text(Some(r"^\[(%H:%M)\]"), "[10:00] x").as_deref(),
        Some("10:00")
    );
    // {DATE} inside a regex: each default template in turn
    let line = "host [14/Aug/2005:12:00:00 +0200] x";
    let m = locate(Some(r"^[^\[]*\[({DATE})"), line, &z).expect("date");
    assert_eq!(&line[m.start..m.end], "14/Aug/2005:12:00:00 +0200");
    assert_eq!(m.time, Some(utc(2005, 8, 14, 10, 0, 0)));
}

#[test]
fn epoch_and_tai64n() {
    let z = Zone::utc();
    let t = |dp: &str, line: &str| locate(Some(dp), line, &z).and_then(|m| m.time);
    assert_eq!(t("EPOCH", "1124013600 x"), Some(1124013600.0));
    assert_eq!(t("EPOCH", "[1124013600] x"), Some(1124013600.0));
    assert_eq!(
        t("EPOCH", "x audit(1124013600.500:12): y"),
        Some(1124013600.5)
    );
    assert_eq!(t("EPOCH", "x 1124013600 y"), None);
    assert_eq!(t("LEPOCH", "1124013600500 x"), Some(1124013600.5));
    assert_eq!(t("LEPOCH", "1124013600500000 x"), Some(1124013600.5));
    assert_eq!(t(r"ts={EPOCH}", "a ts=1124013600 b"), Some(1124013600.0));
    // TAI64N: 2^62 + seconds, in hex
    let label = format!("@{:016x}{:08x}", (1u64 << 62) + 1_124_013_600, 0);
    assert_eq!(t("TAI64N", &format!("{label} x")), Some(1124013600.0));
}

#[test]
fn byte_spans_on_non_ascii_lines() {
    let line = "ünïcödé 2005-08-14 10:00:00 ü";
    let m = locate(None, line, &Zone::utc()).expect("date");
    assert_eq!(&line[m.start..m.end], "2005-08-14 10:00:00");
    assert_eq!(m.time, Some(utc(2005, 8, 14, 10, 0, 0)));
}

#[test]
fn template_lists() {
    let dd = DateDetector::new(None, &opts()).unwrap();
    assert_eq!(dd.template_names().len(), 31);
    let dd = DateDetector::new(Some("{DEFAULT}"), &opts()).unwrap();
    assert_eq!(dd.template_names().len(), 31);
    let dd = DateDetector::new(Some("{^LN-BEG}"), &opts()).unwrap();
    assert_eq!(dd.template_names().len(), 17);
    assert!(dd
        .template_names()
        .iter()
        .all(|n| n.starts_with("{^LN-BEG}") || n.starts_with('^')));
    let dd = DateDetector::new(Some("%Y-%m-%d\n\n  %H:%M  \n"), &opts()).unwrap();
    assert_eq!(dd.template_names(), vec!["Year-Month-Day", "24hour:Minute"]);
}

#[test]
fn bad_patterns_are_errors() {
    assert!(DateDetector::new(Some("%Q"), &opts()).is_err());
    assert!(DateDetector::new(Some("100%"), &opts()).is_err());
    assert!(DateDetector::new(Some("%Y-%m-%d\n%Y-%m-%d"), &opts()).is_err());
    assert!(DateDetector::new(Some("(%Y"), &opts()).is_err());
}

#[test]
fn last_winner_is_tried_first_but_dates_inside_messages_do_not_win() {
    let z = Zone::utc();
    let mut dd = DateDetector::new(None, &opts()).unwrap();
    let a = dd
        .locate("Aug 14 10:00:00 host x", now(), &z)
        .expect("syslog");
    assert_eq!((a.start, a.end), (0, 15));
    let line = "Aug 14 10:00:01 host msg 2005-08-14 09:00:00 inside";
    let b = dd.locate(line, now(), &z).expect("syslog again");
    assert_eq!(&line[b.start..b.end], "Aug 14 10:00:01");
    let line = "2005-08-14 10:00:02 host msg Aug 14 09:00:00 inside";
    let c = dd.locate(line, now(), &z).expect("iso now");
    assert_eq!(&line[c.start..c.end], "2005-08-14 10:00:02");
}

#[test]
fn detector_and_zone_can_move_between_threads() {
    fn send<T: Send>() {}
    fn sync<T: Send + Sync>() {}
    send::<DateDetector>();
    sync::<Zone>();
}

/// `Zone::system()` reads `TZ`: checked in a child process (the environment is
/// process-wide), which runs `system_zone_child` below with `TZ` set.
#[test]
fn system_zone_honours_tz_posix_rules() {
    let exe = std::env::current_exe().expect("test binary");
    for tz in [CET_RULES, "America/New_York", ":Europe/Paris", "UTC"] {
        let out = std::process::Command::new(&exe)
            .args(["--ignored", "--exact", "system_zone_child", "--nocapture"])
            .env("TZ", tz)
            .env("BAILIFF_EXPECT_TZ", tz)
            .output()
            .expect("child test");
        assert!(
            out.status.success(),
            "TZ={tz}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("1 passed"),
            "TZ={tz}"
        );
    }
}

#[test]
#[ignore = "run by system_zone_honours_tz_posix_rules with TZ set"]
fn system_zone_child() {
    let tz = std::env::var("BAILIFF_EXPECT_TZ").expect("run through the parent test");
    let want = Zone::from_tz_string(&tz).expect("zone");
    let got = Zone::system();
    for line in [
        "2005-07-15 12:00:00",
        "2005-01-15 12:00:00",
        "Aug 14 23:30:00",
    ] {
        let a = locate(None, line, &got).and_then(|m| m.time);
        let b = locate(None, line, &want).and_then(|m| m.time);
        assert_eq!(a, b, "TZ={tz} {line}");
    }
}

#[test]
fn describe_as_fail2ban_regex_prints_it() {
    let d = |p: Option<&str>| DateDetector::new(p, &opts()).unwrap().describe();
    assert_eq!(d(None), (None, "Default Detectors".to_string()));
    assert_eq!(
        d(Some("{^LN-BEG}")),
        (None, "Default Detectors".to_string())
    );
    assert_eq!(
        d(Some("%Y-%m-%d %H:%M")),
        (
            Some("%Y-%m-%d %H:%M".to_string()),
            "Year-Month-Day 24hour:Minute".to_string()
        )
    );
    assert_eq!(
        d(Some("{^LN-BEG}%b %d")),
        (
            Some("{^LN-BEG}%b %d".to_string()),
            "{^LN-BEG}MON Day".to_string()
        )
    );
    assert_eq!(d(Some("EPOCH")), (None, "Epoch".to_string()));
}

#[test]
fn repeated_hour_follows_the_previous_conversion_like_mktime() {
    // 2005-10-30: 01:00-02:00 local happens twice under these rules (+2, then +1)
    let zone = Zone::from_tz_string(CET_RULES).unwrap();
    let mut dd = DateDetector::new(Some("%Y-%m-%d %H:%M:%S"), &opts()).unwrap();
    let mut t = |line: &str| dd.locate(line, now(), &zone).and_then(|m| m.time);
    let summer = utc(2005, 10, 29, 23, 30, 0); // 01:30 CEST
    let winter = utc(2005, 10, 30, 0, 30, 0); // 01:30 CET
    assert_eq!(
        t("2005-10-30 01:30:00"),
        Some(summer),
        "first: now's offset (+2)"
    );
    t("2005-01-15 12:00:00");
    assert_eq!(
        t("2005-10-30 01:30:00"),
        Some(winter),
        "after a winter date"
    );
    t("2005-07-15 12:00:00");
    assert_eq!(
        t("2005-10-30 01:30:00"),
        Some(summer),
        "after a summer date"
    );
}
