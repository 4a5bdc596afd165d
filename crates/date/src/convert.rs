//! From matched date fields to a Unix time, the way fail2ban's strptime variant
//! does it: missing year and missing date are taken from "now" (with the roll
//! back to last year / yesterday), `%z`/`%Z` or the jail's `logtimezone` give a
//! fixed offset, otherwise the date is local time in the system zone.
//!
//! Naive (zone-less) date-times are counted in seconds from 1970-01-01T00:00:00
//! as if that were UTC; that makes the comparisons with "now" cheap.

/// A strptime field a named group of a template can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Year4,
    Year2,
    Month,
    MonthName,
    MonthAbbr,
    Day,
    Hour24,
    Hour12,
    AmPm,
    Minute,
    Second,
    WeekdayName,
    WeekdayAbbr,
    Weekday,
    YearDay,
    WeekSun,
    WeekMon,
    Offset,
    ZoneName,
}

impl Field {
    /// The field a named group stands for (`None`: ignored, e.g. `f`, `_sep`).
    pub(crate) fn from_group_name(name: &str) -> Option<Field> {
        Some(match name {
            "Y" => Field::Year4,
            "y" => Field::Year2,
            "m" => Field::Month,
            "B" => Field::MonthName,
            "b" => Field::MonthAbbr,
            "d" => Field::Day,
            "H" => Field::Hour24,
            "I" => Field::Hour12,
            "p" => Field::AmPm,
            "M" => Field::Minute,
            "S" => Field::Second,
            "A" => Field::WeekdayName,
            "a" => Field::WeekdayAbbr,
            "w" => Field::Weekday,
            "j" => Field::YearDay,
            "U" => Field::WeekSun,
            "W" => Field::WeekMon,
            "z" => Field::Offset,
            "Z" => Field::ZoneName,
            _ => return None,
        })
    }
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Fixed offsets (minutes) of the zone abbreviations fail2ban knows. `CET` is +1
/// all year: abbreviations never switch to summer time.
const TZ_ABBR: &[(&str, i32)] = &[
    ("A", 60),
    ("ACDT", 630),
    ("ACST", 570),
    ("ACT", 480),
    ("ADT", -180),
    ("AEDT", 660),
    ("AEST", 600),
    ("AFT", 270),
    ("AKDT", -480),
    ("AKST", -540),
    ("ALMT", 360),
    ("AMST", 300),
    ("AMT", 240),
    ("ANAST", 720),
    ("ANAT", 720),
    ("AQTT", 300),
    ("ART", -180),
    ("AST", -240),
    ("AWDT", 540),
    ("AWST", 480),
    ("AZOT", -60),
    ("AZST", 300),
    ("AZT", 240),
    ("B", 120),
    ("BDT", 480),
    ("BIOT", 360),
    ("BNT", 480),
    ("BOT", -240),
    ("BRST", -120),
    ("BRT", -180),
    ("BTT", 360),
    ("C", 180),
    ("CAST", 480),
    ("CAT", 120),
    ("CCT", 390),
    ("CDT", -300),
    ("CEDT", 120),
    ("CEST", 120),
    ("CET", 60),
    ("CIST", -480),
    ("CKT", -600),
    ("CLST", -180),
    ("CLT", -240),
    ("COST", -240),
    ("COT", -300),
    ("CST", -360),
    ("CVT", -60),
    ("CXT", 420),
    ("ChST", 600),
    ("D", 240),
    ("DAVT", 420),
    ("DFT", 60),
    ("E", 300),
    ("EASST", -300),
    ("EAST", -360),
    ("EAT", 180),
    ("ECT", -300),
    ("EDT", -240),
    ("EEDT", 180),
    ("EEST", 180),
    ("EET", 120),
    ("EGST", 0),
    ("EGT", -60),
    ("EST", -300),
    ("ET", -300),
    ("F", 360),
    ("FJST", 780),
    ("FJT", 720),
    ("FKST", -180),
    ("FKT", -240),
    ("FNT", -120),
    ("G", 420),
    ("GALT", -360),
    ("GAMT", -540),
    ("GET", 240),
    ("GFT", -180),
    ("GILT", 720),
    ("GIT", -540),
    ("GMT", 0),
    ("GST", 240),
    ("GYT", -240),
    ("H", 480),
    ("HAA", -180),
    ("HAC", -300),
    ("HADT", -540),
    ("HAE", -240),
    ("HAP", -420),
    ("HAR", -360),
    ("HAST", -600),
    ("HAT", -150),
    ("HAY", -480),
    ("HKT", 480),
    ("HLV", -270),
    ("HMT", 300),
    ("HNA", -240),
    ("HNC", -360),
    ("HNE", -300),
    ("HNP", -480),
    ("HNR", -420),
    ("HNT", -210),
    ("HNY", -540),
    ("HOVT", 420),
    ("HST", -600),
    ("I", 540),
    ("ICT", 420),
    ("IDT", 180),
    ("IOT", 360),
    ("IRDT", 270),
    ("IRKST", 540),
    ("IRKT", 480),
    ("IRST", 210),
    ("JST", 540),
    ("K", 600),
    ("KGT", 360),
    ("KRAST", 480),
    ("KRAT", 420),
    ("KST", 540),
    ("KUYT", 240),
    ("L", 660),
    ("LHDT", 660),
    ("LHST", 630),
    ("M", 720),
    ("MAGST", 720),
    ("MAGT", 660),
    ("MART", -570),
    ("MAWT", 300),
    ("MDT", -360),
    ("MHT", 720),
    ("MIT", -570),
    ("MMT", 390),
    ("MSD", 240),
    ("MSK", 180),
    ("MST", -420),
    ("MUT", 240),
    ("MVT", 300),
    ("MYT", 480),
    ("N", -60),
    ("NCT", 660),
    ("NDT", -150),
    ("NFT", 690),
    ("NOVST", 420),
    ("NOVT", 360),
    ("NPT", 345),
    ("NST", -210),
    ("NT", -210),
    ("NUT", -660),
    ("NZDT", 780),
    ("NZST", 720),
    ("O", -120),
    ("OMSST", 420),
    ("OMST", 360),
    ("P", -180),
    ("PDT", -420),
    ("PET", -300),
    ("PETST", 720),
    ("PETT", 720),
    ("PGT", 600),
    ("PHT", 480),
    ("PKT", 300),
    ("PMDT", -120),
    ("PMST", -180),
    ("PONT", 660),
    ("PST", -480),
    ("PT", -480),
    ("PWT", 540),
    ("PYST", -180),
    ("PYT", -240),
    ("Q", -240),
    ("R", -300),
    ("RET", 240),
    ("S", -360),
    ("SAMT", 240),
    ("SAST", 120),
    ("SBT", 660),
    ("SCT", 240),
    ("SGT", 480),
    ("SLT", 330),
    ("SRT", -180),
    ("SST", -660),
    ("T", -420),
    ("TAHT", -600),
    ("TFT", 300),
    ("THA", 420),
    ("TJT", 300),
    ("TKT", -600),
    ("TLT", 540),
    ("TMT", 300),
    ("TVT", 720),
    ("U", -480),
    ("ULAT", 480),
    ("UTC", 0),
    ("UYST", -120),
    ("UYT", -180),
    ("UZT", 300),
    ("V", -540),
    ("VET", -270),
    ("VLAST", 660),
    ("VLAT", 600),
    ("VUT", 660),
    ("W", -600),
    ("WAST", 120),
    ("WAT", 60),
    ("WDT", 540),
    ("WEDT", 60),
    ("WEST", 60),
    ("WET", 0),
    ("WFT", 720),
    ("WGST", -120),
    ("WGT", -180),
    ("WIB", 420),
    ("WIT", 540),
    ("WITA", 480),
    ("WST", 480),
    ("WT", 0),
    ("X", -660),
    ("Y", -720),
    ("YAKST", 600),
    ("YAKT", 540),
    ("YAPT", 600),
    ("YEKST", 360),
    ("YEKT", 300),
    ("Z", 0),
];

/// Position of `v` (lower-cased as Python does) among full names, or among
/// their three-letter abbreviations.
fn name_index(names: &[&'static str], v: &str, abbr: bool) -> Option<usize> {
    let full = |n: &&'static str| -> &'static str {
        if abbr {
            &n[..3]
        } else {
            n
        }
    };
    if v.is_ascii() {
        names.iter().position(|n| full(n).eq_ignore_ascii_case(v))
    } else {
        let l = v.to_lowercase();
        names.iter().position(|n| full(n) == l)
    }
}

fn abbr_offset(abbr: &str) -> Option<i32> {
    if abbr.is_empty() {
        return Some(0);
    }
    TZ_ABBR
        .binary_search_by(|(k, _)| k.cmp(&abbr))
        .ok()
        .map(|i| TZ_ABBR[i].1)
}

/// fail2ban's fixed-offset zone syntax: `[ABBR][+-]hh[[:]mm]`, e.g. `UTC`,
/// `UTC+0200`, `CET`, `EST-05`, `+05:30`. The abbreviation's offset and the
/// explicit offset add up. Returns minutes east of UTC.
pub(crate) fn parse_fixed_zone(s: &str) -> Option<i32> {
    // Python's `$` also accepts one trailing newline
    let s = s.strip_suffix('\n').unwrap_or(s);
    let letters = s.bytes().take_while(|b| b.is_ascii_uppercase()).count();
    if !matches!(letters, 0 | 1 | 3 | 4 | 5) {
        return None;
    }
    let (abbr, tzo) = s.split_at(letters);
    let b = tzo.as_bytes();
    let offset = match b.len() {
        0 => 0,
        3 | 5 | 6 => {
            let sign = match b[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digit = |i: usize| -> Option<i32> {
                b.get(i)
                    .filter(|c| c.is_ascii_digit())
                    .map(|c| i32::from(c - b'0'))
            };
            if !matches!(b[1], b'0' | b'1') {
                return None;
            }
            let hh = digit(1)? * 10 + digit(2)?;
            let mm = match b.len() {
                3 => 0,
                5 => digit(3)? * 10 + digit(4)?,
                _ => {
                    if b[3] != b':' {
                        return None;
                    }
                    digit(4)? * 10 + digit(5)?
                }
            };
            sign * (hh * 60 + mm)
        }
        _ => return None,
    };
    Some(abbr_offset(abbr)? + offset)
}

/// Days from 1970-01-01 to the given proleptic Gregorian date.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day count from 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Python `datetime` range and field checks.
fn valid_date(y: i64, m: u32, d: u32) -> bool {
    (1..=9999).contains(&y) && (1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m)
}

/// Python's `int()` on the digits a group matched (leading/trailing blanks allowed).
/// Values beyond 9 significant digits are refused: no valid date field is
/// that large, and it keeps the arithmetic far from overflow.
fn int(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if !b.is_empty() && b.len() <= 9 && b.iter().all(u8::is_ascii_digit) {
        return Some(b.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')));
    }
    // Python's int() strips blanks and reads any Unicode decimal digit
    let digits: Option<Vec<u32>> = s.trim().chars().map(digit_value).collect();
    let digits = digits?;
    let first = digits.iter().position(|&d| d != 0).unwrap_or(digits.len());
    if digits.is_empty() || digits.len() - first > 9 {
        return None;
    }
    Some(digits.iter().fold(0i64, |n, &d| n * 10 + i64::from(d)))
}

/// First code point (digit zero) of each run of ten Unicode decimal digits
/// (general category Nd, Unicode 14 as in Python 3.11).
const DIGIT_ZEROS: [u32; 66] = [
    0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66,
    0xDE6, 0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
    0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650,
    0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50,
    0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
];

/// Value of a decimal digit in any script.
fn digit_value(c: char) -> Option<u32> {
    let c = u32::from(c);
    let i = DIGIT_ZEROS.partition_point(|&z| z <= c);
    let zero = DIGIT_ZEROS[i.checked_sub(1)?];
    (c - zero < 10).then_some(c - zero)
}

/// The text with every decimal digit in ASCII.
fn ascii_digits(v: &str) -> std::borrow::Cow<'_, str> {
    if v.is_ascii() {
        return v.into();
    }
    v.chars()
        .map(|c| match digit_value(c) {
            Some(d) => char::from(b'0' + d as u8),
            None => c,
        })
        .collect::<String>()
        .into()
}

/// "Now" in the system zone, as a naive date-time.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NaiveNow {
    /// Naive seconds (floor).
    pub secs: i64,
    ymd: (i64, u32, u32),
}

impl NaiveNow {
    pub(crate) fn new(secs: i64) -> NaiveNow {
        NaiveNow {
            secs,
            ymd: civil_from_days(secs.div_euclid(86_400)),
        }
    }
    pub(crate) fn ymd(&self) -> (i64, u32, u32) {
        self.ymd
    }
}

/// What the match gave for the `%p` group that `%I` reads.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AmPm<'a> {
    /// The template has no `p` group.
    Absent,
    /// The group exists but did not take part in the match.
    Unset,
    Value(&'a str),
}

/// Turns fields into a Unix time; `local_to_utc` maps a naive local time in the
/// system zone to a Unix time (mktime).
/// Every field of a match but the seconds, read: what consecutive lines of a log
/// usually share, so [`crate::DateDetector`] keeps the last one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parsed {
    year: Option<i64>,
    month: Option<u32>,
    day: Option<u32>,
    hour: i64,
    minute: i64,
    tzoffset: Option<i32>,
    weekday: Option<i64>,
    julian: Option<i64>,
    week: Option<(i64, bool)>,
}

/// Reads the fields (the seconds excluded: the caller passes them to
/// [`Parsed::to_time`]); None when one of them is not a valid value.
pub(crate) fn parse_fields<'a>(
    fields: impl Iterator<Item = (Field, &'a str)>,
    ampm: AmPm<'_>,
) -> Option<Parsed> {
    let mut year: Option<i64> = None;
    let (mut month, mut day): (Option<u32>, Option<u32>) = (None, None);
    let (mut hour, mut minute) = (0i64, 0i64);
    let mut tzoffset: Option<i32> = None;
    let mut weekday: Option<i64> = None;
    let mut julian: Option<i64> = None;
    let mut week: Option<(i64, bool)> = None; // (week, starts on Monday)
    for (f, v) in fields {
        match f {
            Field::Year2 => {
                let y = int(v)?;
                year = Some(if y <= 2000 { y + 2000 } else { y });
            }
            Field::Year4 => year = Some(int(v)?),
            Field::Month => month = Some(u32::try_from(int(v)?).ok()?),
            Field::MonthName | Field::MonthAbbr => {
                month = Some(name_index(&MONTHS, v, f == Field::MonthAbbr)? as u32 + 1);
            }
            Field::Day => day = Some(u32::try_from(int(v)?).ok()?),
            Field::Hour24 => hour = int(v)?,
            Field::Hour12 => {
                hour = int(v)?;
                let p = match ampm {
                    AmPm::Absent => String::new(),
                    AmPm::Unset => return None,
                    AmPm::Value(p) => p.to_lowercase(),
                };
                if p.is_empty() || p == "am" {
                    if hour == 12 {
                        hour = 0;
                    }
                } else if p == "pm" && hour != 12 {
                    hour += 12;
                }
            }
            Field::Minute => minute = int(v)?,
            // Read by `to_time`.
            Field::Second => {}
            Field::WeekdayName | Field::WeekdayAbbr => {
                weekday = Some(name_index(&DAYS, v, f == Field::WeekdayAbbr)? as i64);
            }
            Field::Weekday => {
                let w = int(v)? - 1;
                weekday = Some(if w < 0 { 6 } else { w });
            }
            Field::YearDay => julian = Some(int(v)?),
            Field::WeekSun => week = Some((int(v)?, false)),
            Field::WeekMon => week = Some((int(v)?, true)),
            Field::AmPm => {}
            Field::Offset | Field::ZoneName => {
                tzoffset = Some(if matches!(v, "Z" | "UTC" | "GMT") {
                    0
                } else {
                    parse_fixed_zone(v)?
                });
            }
        }
    }
    Some(Parsed {
        year,
        month,
        day,
        hour,
        minute,
        tzoffset,
        weekday,
        julian,
        week,
    })
}

impl Parsed {
    /// The Unix time of the parsed fields and the seconds text (None: no seconds
    /// field, 0). The uncached computation: [`Parsed::minute`] then [`Minute::to_time`].
    pub(crate) fn to_time(
        self,
        second: Option<&str>,
        now: NaiveNow,
        log_offset: Option<i32>,
        local_to_utc: &mut dyn FnMut(i64) -> i64,
    ) -> Option<f64> {
        let second = match second {
            Some(v) => int(v)?,
            None => 0,
        };
        self.minute(now.ymd(), log_offset)?
            .to_time(second, now, local_to_utc)
    }

    /// Everything the time depends on but the seconds and "now"'s clock time:
    /// the date (year and month/day taken from "now"'s date `now_ymd` when the
    /// text lacks them), hour, minute and the fixed offset. None when the fields
    /// do not make a valid date. Consecutive lines of a log mostly share it, so
    /// [`crate::DateDetector`] keeps the last one.
    pub(crate) fn minute(
        self,
        now_ymd: (i64, u32, u32),
        log_offset: Option<i32>,
    ) -> Option<Minute> {
        let Parsed {
            year,
            month,
            day,
            hour,
            minute,
            mut tzoffset,
            weekday,
            mut julian,
            week,
        } = self;
        let mut assume_year = false;
        let year = match year {
            Some(y) => y,
            None => {
                assume_year = true;
                now_ymd.0
            }
        };
        let (mut year, mut month, mut day) = (year, month, day);
        if month.is_none() || day.is_none() {
            if julian.is_none() {
                if let (Some((w, monday)), Some(wd)) = (week, weekday) {
                    julian = Some(julian_from_week(year, w, wd, monday)?);
                }
            }
            if let Some(j) = julian {
                if !(1..=9999).contains(&year) {
                    return None;
                }
                let days = days_from_civil(year, 1, 1) + j - 1;
                // Python's date ordinals start at 0001-01-01
                if days < days_from_civil(1, 1, 1) || days > days_from_civil(9999, 12, 31) {
                    return None;
                }
                let (y, m, d) = civil_from_days(days);
                year = y;
                month = Some(m);
                day = Some(d);
            }
        }
        let mut assume_today = false;
        if month.is_none() && day.is_none() {
            let (_, m, d) = now_ymd;
            month = Some(m);
            day = Some(d);
            assume_today = true;
        }
        let (month, day) = (month?, day?);
        if !valid_date(year, month, day) || !(0..24).contains(&hour) || !(0..60).contains(&minute) {
            return None;
        }
        let mut naive = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60;
        if tzoffset.is_none() {
            tzoffset = log_offset;
        }
        if let Some(off) = tzoffset {
            naive -= i64::from(off) * 60;
        }
        Some(Minute {
            naive,
            year,
            month,
            day,
            fixed: tzoffset.is_some(),
            assume_today,
            assume_year,
        })
    }
}

/// A date resolved down to its minute ([`Parsed::minute`]): what is left to do
/// for a line is adding the seconds, the roll back to yesterday / last year
/// against "now", and the local zone's offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Minute {
    /// Naive seconds of the minute's second 0, with a fixed offset (`%z`, `%Z`,
    /// `logtimezone`) already applied.
    naive: i64,
    year: i64,
    month: u32,
    day: u32,
    /// A fixed offset applies: no local zone conversion.
    fixed: bool,
    /// Month and day came from "now": a time after "now" means yesterday.
    assume_today: bool,
    /// The year came from "now": more than a day after "now" means last year.
    assume_year: bool,
}

impl Minute {
    /// The Unix time at `second` of this minute.
    #[inline]
    pub(crate) fn to_time(
        self,
        second: i64,
        now: NaiveNow,
        local_to_utc: &mut dyn FnMut(i64) -> i64,
    ) -> Option<f64> {
        if !(0..60).contains(&second) {
            return None;
        }
        let mut naive = self.naive + second;
        if self.assume_today && naive > now.secs {
            naive -= 86_400;
        }
        if self.assume_year && naive > now.secs + 86_400 {
            // back one year, with the *original* month and day but the shifted time
            let tod = naive.rem_euclid(86_400);
            if !valid_date(self.year - 1, self.month, self.day) {
                return None;
            }
            naive = days_from_civil(self.year - 1, self.month, self.day) * 86_400 + tod;
        }
        let t = if self.fixed {
            naive
        } else {
            local_to_utc(naive)
        };
        Some(t as f64)
    }
}

/// Python's `int()` on a seconds field: the common two ASCII digits directly.
#[inline]
pub(crate) fn seconds_value(s: &str) -> Option<i64> {
    match *s.as_bytes() {
        [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => {
            Some(i64::from(a - b'0') * 10 + i64::from(b - b'0'))
        }
        _ => int(s),
    }
}

/// Day of the year from a week number (`%U`: weeks start Sunday, `%W`: Monday)
/// and a weekday (0 = Monday), as Python's `_strptime` computes it.
fn julian_from_week(year: i64, week: i64, weekday: i64, starts_monday: bool) -> Option<i64> {
    if !(1..=9999).contains(&year) {
        return None;
    }
    // weekday of Jan 1st, 0 = Monday (1970-01-01 was a Thursday)
    let mut first = (days_from_civil(year, 1, 1) + 3).rem_euclid(7);
    let mut wd = weekday;
    if !starts_monday {
        first = (first + 1) % 7;
        wd = (wd + 1) % 7;
    }
    let week0_len = (7 - first) % 7;
    Some(if week == 0 {
        1 + wd - first
    } else {
        1 + week0_len + 7 * (week - 1) + wd
    })
}

/// Seconds since the epoch, possibly with a fraction, of an `EPOCH` match.
pub(crate) fn epoch_value(v: &str, long: bool) -> Option<f64> {
    let x: f64 = ascii_digits(v).parse().ok()?;
    if long && v.chars().count() >= 13 {
        if v.chars().count() >= 16 && !v.contains('.') {
            return Some(x / 1_000_000.0);
        }
        return Some(x / 1000.0);
    }
    Some(x)
}

/// Seconds of a TAI64N label `@4000000037c219bf2ef02e94` (no leap-second fix).
pub(crate) fn tai64n_value(v: &str) -> Option<f64> {
    let hex = v.get(2..17)?;
    i64::from_str_radix(hex, 16).ok().map(|x| x as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_roundtrip() {
        for days in [-800_000i64, -1, 0, 1, 10_957, 13_009, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(days_from_civil(2005, 8, 14), 13_009);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
    }

    #[test]
    fn fixed_zones() {
        assert_eq!(parse_fixed_zone("UTC"), Some(0));
        assert_eq!(parse_fixed_zone("UTC+0200"), Some(120));
        assert_eq!(parse_fixed_zone("CET"), Some(60));
        assert_eq!(parse_fixed_zone("CEST"), Some(120));
        assert_eq!(parse_fixed_zone("EST-05"), Some(-600));
        assert_eq!(parse_fixed_zone("-04:30"), Some(-270));
        assert_eq!(parse_fixed_zone("+0530"), Some(330));
        assert_eq!(parse_fixed_zone("Z"), Some(0));
        assert_eq!(parse_fixed_zone("NPT"), Some(345));
        assert_eq!(parse_fixed_zone(""), Some(0));
        assert_eq!(parse_fixed_zone("XYZ"), None);
        assert_eq!(parse_fixed_zone("Europe/Paris"), None);
        assert_eq!(parse_fixed_zone("+2"), None);
        assert_eq!(parse_fixed_zone("+25"), None);
        assert_eq!(parse_fixed_zone("cet"), None);
    }

    #[test]
    fn week_numbers() {
        // 2005-01-01 is a Saturday; %W week 1, Monday -> Jan 3rd (day 3)
        assert_eq!(julian_from_week(2005, 1, 0, true), Some(3));
        // %U week 0, Saturday (weekday 5) -> Jan 1st
        assert_eq!(julian_from_week(2005, 0, 5, false), Some(1));
    }

    #[test]
    fn unicode_digits() {
        assert_eq!(int("٢٠٠٥"), Some(2005));
        assert_eq!(int("１４"), Some(14));
        assert_eq!(int(" 7"), Some(7));
        assert_eq!(int("0000000000012"), Some(12));
        assert_eq!(int("1234567890"), None);
        assert_eq!(int("1a"), None);
        assert_eq!(int(""), None);
        assert_eq!(digit_value('/'), None);
        assert_eq!(digit_value(':'), None);
        assert_eq!(epoch_value("١١٢٤٠١٣٦٠٠", false), Some(1124013600.0));
    }

    #[test]
    fn epochs() {
        assert_eq!(epoch_value("1138215601", false), Some(1138215601.0));
        assert_eq!(epoch_value("1138215601123", true), Some(1138215601.123));
        assert_eq!(
            epoch_value("1138215601123456", true),
            Some(1138215601.123456)
        );
        assert_eq!(tai64n_value("@4000000037c219bf2ef02e94"), Some(935467455.0));
    }
}
