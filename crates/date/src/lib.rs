//! bailiff-date: fail2ban's date detection (default templates, `datepattern`).
//!
//! CONTRACT STUB (skeleton). The owner replaces the bodies; `bailiff-filter` and
//! `bailiff-tester` use these signatures (extend, don't break).

/// The zone year-less and zone-less dates are read in: the system's local zone
/// (with DST) or a jail's `logtimezone`.
#[derive(Debug, Clone)]
pub struct Zone {
    _private: (),
}

impl Zone {
    /// The process's local zone (honours `TZ`, incl. POSIX strings such as
    /// `CET-01CEST-02,M3.5.0,M10.5.0`). The one place this crate touches the environment.
    pub fn system() -> Zone {
        unimplemented!("contract stub")
    }
    /// fail2ban's `logtimezone` syntax: `UTC`, `UTC+0200`, `CET`, `EST-05`, ...
    pub fn parse_logtimezone(s: &str) -> Result<Zone, DateError> {
        let _ = s;
        unimplemented!("contract stub")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DateError {
    pub message: String,
}

/// Options fixed when the detector is built.
#[derive(Debug, Clone)]
pub struct DateOptions {
    /// Year of "now" when the detector is built (drives `%ExY`).
    pub reference_year: i32,
    /// fail2ban-regex mode: `%ExY` accepts 19xx-20xx.
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

/// Finds dates in lines, as fail2ban's `DateDetector`.
#[derive(Debug)]
pub struct DateDetector {
    _private: (),
}

impl DateDetector {
    /// `datepattern`: `None` means fail2ban's default templates; otherwise the
    /// option's value (several lines allowed; `{^LN-BEG}`, `{DEFAULT}`, `{NONE}`,
    /// `EPOCH`, `LEPOCH`, `TAI64N`, `%`-codes...).
    pub fn new(datepattern: Option<&str>, opts: &DateOptions) -> Result<DateDetector, DateError> {
        let _ = (datepattern, opts);
        unimplemented!("contract stub")
    }
    /// `{NONE}`: lines carry no date.
    pub fn is_none(&self) -> bool {
        unimplemented!("contract stub")
    }
    /// Find the date in `line`; year-less dates resolve against `now` in `zone`.
    pub fn find(&mut self, line: &str, now: f64, zone: &Zone) -> Option<DateHit> {
        let _ = (line, now, zone);
        unimplemented!("contract stub")
    }
    /// Human names of the templates, as fail2ban-regex prints them in "Date template hits".
    pub fn template_names(&self) -> Vec<String> {
        unimplemented!("contract stub")
    }
}
