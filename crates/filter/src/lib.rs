//! bailiff-filter: fail2ban's matching pipeline, pure (no I/O; "now" passed in).
//!
//! CONTRACT STUB (skeleton). The owner replaces the bodies; `bailiff-tester` and
//! the daemon use these types (extend, don't break).

use std::collections::BTreeMap;

pub use bailiff_date::{DateDetector, DateHit, DateOptions, Zone};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UseDns {
    Yes,
    #[default]
    Warn,
    No,
    Raw,
}

/// Everything a filter needs, already resolved by the config reader.
#[derive(Debug, Clone, Default)]
pub struct FilterConfig {
    pub prefregex: Option<String>,
    pub failregex: Vec<String>,
    pub ignoreregex: Vec<String>,
    /// Multi-line buffer size; 1 when unset.
    pub maxlines: usize,
    pub datepattern: Option<String>,
    pub usedns: UseDns,
    pub logtimezone: Option<String>,
    /// Try every failregex (fail2ban's `checkAllRegex`, used by tests and fail2ban-regex).
    pub check_all: bool,
    /// fail2ban-regex: accept any year for `%ExY`.
    pub any_year: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("failregex #{index} {regex:?}: {message}")]
    Regex { index: usize, regex: String, message: String },
    #[error("{0}")]
    Other(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Counts towards a ban.
    Fail,
    /// Matched a `<F-NOFAIL>` regex (or a `<F-MLFGAINED>` success).
    NoFail,
}

/// One result of a line: fail2ban's (failRegexIndex, fid, time, data).
#[derive(Debug, Clone)]
pub struct Failure {
    pub kind: FailureKind,
    /// Failure id: the address text, or an `<F-ID>` value.
    pub fid: String,
    /// Unix time of the failure.
    pub time: f64,
    /// Index of the failregex that matched.
    pub regex: usize,
    /// Ticket data under fail2ban's names (`ip`, `user`, `users`, `ip4`, `ip6`, `dns`,
    /// `mlfid`, `attempts`...), JSON-typed.
    pub data: BTreeMap<String, serde_json::Value>,
    /// The matched line(s).
    pub matches: Vec<String>,
}

/// What one input line produced.
#[derive(Debug, Clone, Default)]
pub struct LineResult {
    /// The date found (None: no date and none carried over).
    pub date: Option<DateHit>,
    pub failures: Vec<Failure>,
    /// An ignoreregex dropped a match.
    pub ignored: bool,
}

/// A compiled filter with its multi-line state.
pub struct Filter {
    _private: (),
}

impl Filter {
    pub fn new(cfg: &FilterConfig, zone: Zone, now: f64) -> Result<Filter, FilterError> {
        let _ = (cfg, zone, now);
        unimplemented!("contract stub")
    }
    /// One line from a file (no trailing newline): date detection, then matching.
    pub fn process_line(&mut self, line: &str, now: f64) -> LineResult {
        let _ = (line, now);
        unimplemented!("contract stub")
    }
    /// One journal entry whose time is known (no date detection).
    pub fn process_entry(&mut self, line: &str, time: f64, now: f64) -> LineResult {
        let _ = (line, time, now);
        unimplemented!("contract stub")
    }
}
