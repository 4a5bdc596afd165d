//! [`evaluate`]: turn a [`JailHealth`] into [`Warning`]s, each with the fix.
//!
//! Pure: the state and `now` in, warnings out. A warning exists exactly as long as
//! its condition holds, so it clears by itself once the cause is fixed.

use serde::Serialize;

use crate::state::{JailHealth, Time};

/// How bad a warning is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; the jail still counts as healthy.
    Info,
    /// Detection is degraded: the jail is unhealthy.
    Warning,
    /// Bans are not enforced, or nothing is read: the jail is unhealthy.
    Critical,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        })
    }
}

/// What kind of quiet failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    /// A log source has been missing or unreadable for a while.
    SourceDown,
    /// The log grows but nothing has matched for long, while it matched before.
    FormatDrift,
    /// The lines' dates are far from the time they are read.
    DateSkew,
    /// An action command fails.
    ActionFailing,
    /// Recorded bans are missing from the kernel set, or the set is gone.
    BansNotEnforced,
    /// One address fails with many distinct users.
    PossibleNat,
    /// `backend` reads files while the journal holds the service's entries.
    JournalNotRead,
    /// The firewall was found broken and repaired within the last day (info).
    FirewallRepaired,
    /// A source is open but nothing has been read from it for long, though it was
    /// read before (info: a quiet service looks the same as a moved log).
    SourceStale,
}

impl Code {
    /// The stable name used in JSON, status and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::SourceDown => "source-down",
            Code::FormatDrift => "format-drift",
            Code::DateSkew => "date-skew",
            Code::ActionFailing => "action-failing",
            Code::BansNotEnforced => "bans-not-enforced",
            Code::PossibleNat => "possible-nat",
            Code::JournalNotRead => "journal-not-read",
            Code::FirewallRepaired => "firewall-repaired",
            Code::SourceStale => "source-stale",
        }
    }
}

/// One problem found in a jail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Warning {
    pub code: Code,
    pub severity: Severity,
    /// The source, action or address concerned, if any.
    pub subject: Option<String>,
    /// What is wrong, in one sentence.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

/// When a condition becomes a warning.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Thresholds {
    /// A source missing or unreadable this long (seconds).
    pub source_down_after: f64,
    /// No match for this long (seconds) while lines keep coming...
    pub drift_after: f64,
    /// ...and at least this many lines were read since the last match.
    pub drift_min_lines: u64,
    /// An open source from which nothing was read for this long (seconds; 0: off).
    pub source_stale_after: f64,
    /// Median date offset beyond which dates are called wrong (seconds).
    pub skew_limit: f64,
    /// Dated lines needed before judging the offset.
    pub skew_min_samples: usize,
    /// Distinct users from one address that suggest a NAT gateway.
    pub nat_users: usize,
    /// Within this window (seconds since the address's last failure).
    pub nat_window: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            source_down_after: 300.0,
            drift_after: 6.0 * 3600.0,
            drift_min_lines: 1000,
            source_stale_after: 86400.0,
            skew_limit: 600.0,
            skew_min_samples: 5,
            nat_users: 10,
            nat_window: 3600.0,
        }
    }
}

/// True when no warning makes the jail unhealthy (`Info` does not).
pub fn is_healthy(warnings: &[Warning]) -> bool {
    warnings.iter().all(|w| w.severity < Severity::Warning)
}

fn minutes(secs: f64) -> String {
    if secs < 90.0 {
        // Short thresholds (tests, eager operators) read as seconds, not "0 min".
        return format!("{} s", secs.round().max(0.0) as u64);
    }
    let m = (secs / 60.0).round().max(0.0) as u64;
    if m >= 120 {
        format!("{} h", m / 60)
    } else {
        format!("{m} min")
    }
}

/// A date offset in words: "1 h", "5 h 30 min", "3 days".
fn span(secs: f64) -> String {
    let s = secs.abs();
    if s >= 2.0 * 86400.0 {
        format!("{} days", (s / 86400.0).round() as u64)
    } else {
        let m = (s / 60.0).round() as u64;
        match (m / 60, m % 60) {
            (0, m) => format!("{m} min"),
            (h, 0) => format!("{h} h"),
            (h, m) => format!("{h} h {m} min"),
        }
    }
}

/// fail2ban's `logtimezone` spelling of a zone `off` seconds from UTC
/// (`UTC-0500`, `UTC+0530`), rounded to the half hour.
fn utc_zone(off: f64) -> String {
    let halves = (off / 1800.0).round() as i64;
    if halves == 0 {
        return "UTC".into();
    }
    let sign = if halves < 0 { '-' } else { '+' };
    let mins = halves.abs() * 30;
    format!("UTC{sign}{:02}{:02}", mins / 60, mins % 60)
}

/// The fix for a failing action: specific when the kernel refused for lack of
/// privilege (a container or unit without `CAP_NET_ADMIN`).
fn action_fix(err: &str) -> String {
    let e = err.to_ascii_lowercase();
    if e.contains("operation not permitted")
        || e.contains("permission denied")
        || e.contains("eperm")
        || e.contains("net_admin")
    {
        "grant the daemon the NET_ADMIN capability (systemd: \
         AmbientCapabilities=CAP_NET_ADMIN; a container: --cap-add=NET_ADMIN) and \
         restart it: recorded bans are then put in the firewall"
            .into()
    } else {
        "run the action by hand to see why (nftables and iptables need root or the \
         NET_ADMIN capability); recorded bans are applied again after a restart"
            .into()
    }
}

/// Check one jail.
pub fn evaluate(h: &JailHealth, now: Time, th: &Thresholds) -> Vec<Warning> {
    let mut out = Vec::new();

    for (name, s) in &h.sources {
        let down_for = now - s.since;
        if !s.state.is_up() && down_for >= th.source_down_after {
            out.push(Warning {
                code: Code::SourceDown,
                severity: Severity::Critical,
                subject: Some(name.clone()),
                message: format!(
                    "{name} has been {} for {}: nothing is read from it",
                    s.state,
                    minutes(down_for)
                ),
                fix: "check logpath (the log may have moved after an update or a rotation \
                      change) and that the daemon may read it"
                    .into(),
            });
        }
    }

    for (name, s) in &h.sources {
        if let Some(last) = s.last_read {
            let idle = now - last;
            if th.source_stale_after > 0.0 && s.state.is_up() && idle >= th.source_stale_after {
                out.push(Warning {
                    code: Code::SourceStale,
                    severity: Severity::Info,
                    subject: Some(name.clone()),
                    message: format!("nothing has been read from {name} for {}", minutes(idle)),
                    fix: "if the service still logs, it writes elsewhere now (moved log, \
                          journal only): update logpath or backend"
                        .into(),
                });
            }
        }
    }

    if let (Some(last), Some(since)) = (h.last_match, h.drift_since) {
        let quiet = now - last;
        if quiet >= th.drift_after && h.lines_since_match >= th.drift_min_lines && since >= last {
            out.push(Warning {
                code: Code::FormatDrift,
                severity: Severity::Warning,
                subject: None,
                message: format!(
                    "{} lines were read since the filter last matched {} ago, and none \
                     matched: the log format may have changed",
                    h.lines_since_match,
                    minutes(quiet)
                ),
                fix: "test the filter on the current log with `bailiff regex LOG FILTER` \
                      and update failregex (or prefregex/datepattern)"
                    .into(),
            });
        }
    }

    if h.date_samples() >= th.skew_min_samples {
        if let Some(off) = h.date_offset() {
            if off.abs() >= th.skew_limit {
                let dir = if off < 0.0 { "behind" } else { "ahead of" };
                let word = if off < 0.0 { "behind" } else { "ahead" };
                // A whole number of half hours within a day: a time zone. Else the
                // date template (or the year, or the day/month order) is wrong.
                let halves = off / 1800.0;
                let tz_like = off.abs() <= 14.0 * 3600.0 + 60.0
                    && (halves - halves.round()).abs() * 1800.0 <= 120.0;
                let (message, fix) = if tz_like {
                    (
                        format!(
                            "the dates of new lines are {} {word} the clock: the log is \
                             written in another time zone than the one assumed",
                            span(off)
                        ),
                        format!(
                            "set logtimezone in the jail to the log's zone (logtimezone = \
                             {} if this host runs on UTC) and reload, or fix the logging \
                             host's time zone",
                            utc_zone(off)
                        ),
                    )
                } else {
                    (
                        format!(
                            "the dates of new lines are {} {dir} the clock: the date is read \
                             wrongly, so failures fall outside findtime and are dropped",
                            span(off)
                        ),
                        "check the date template: set datepattern in the filter (day/month \
                         order, year), or sync the clock (NTP)"
                            .to_string(),
                    )
                };
                out.push(Warning {
                    code: Code::DateSkew,
                    severity: Severity::Warning,
                    subject: None,
                    message,
                    fix,
                });
            }
        }
    }

    for (name, a) in &h.actions {
        if let Some(err) = &a.last_error {
            out.push(Warning {
                code: Code::ActionFailing,
                severity: Severity::Critical,
                subject: Some(name.clone()),
                message: format!(
                    "action {name} fails, so bans are recorded but not enforced: {}",
                    err.trim_end_matches(['.', '\n', ' '])
                ),
                fix: action_fix(err),
            });
        }
        if a.last_check.is_some() && (!a.set_present || a.missing > 0) {
            let message = if !a.set_present {
                format!(
                    "the firewall set of action {name} is gone: bans are recorded but not \
                     enforced"
                )
            } else {
                format!(
                    "{} banned addresses are not in the firewall set of action {name}: \
                     they are not blocked",
                    a.missing
                )
            };
            out.push(Warning {
                code: Code::BansNotEnforced,
                severity: Severity::Critical,
                subject: Some(name.clone()),
                message,
                fix: "the daemon repairs the firewall at each check; a warning that \
                      stays means something is in the way: read the action's last error \
                      (status JAIL), fix that, and keep other tools from flushing the \
                      ruleset"
                    .into(),
            });
        }
    }

    for (name, a) in &h.actions {
        if let Some(t) = a.last_repair {
            if now - t < 86400.0 {
                out.push(Warning {
                    code: Code::FirewallRepaired,
                    severity: Severity::Info,
                    subject: Some(name.clone()),
                    message: format!(
                        "the firewall of action {name} was found broken and repaired \
                         ({} repairs, the last {} ago)",
                        a.repairs,
                        minutes(now - t)
                    ),
                    fix: "find what flushes the ruleset (a firewall service reloading, \
                          another tool) and make it leave bailiff's table alone"
                        .into(),
                });
            }
        }
    }

    for (addr, users, failures) in h.users_per_address(now, th.nat_window) {
        if users >= th.nat_users {
            out.push(Warning {
                code: Code::PossibleNat,
                severity: Severity::Warning,
                subject: Some(addr.clone()),
                message: format!(
                    "{addr} failed {failures} times with {users} distinct users: it may be \
                     a shared (NAT) address whose ban locks out many people"
                ),
                fix: format!("if {addr} is a known gateway, add it to ignoreip"),
            });
        }
    }

    if let Some(m) = &h.journal_mismatch {
        out.push(Warning {
            code: Code::JournalNotRead,
            severity: Severity::Warning,
            subject: Some(m.unit.clone()),
            message: format!(
                "the jail reads log files, but in the last {} the journal held {} \
                 entries of {} while the files gave {} lines: failures logged only to \
                 the journal are missed",
                minutes(m.window),
                m.journal_entries,
                m.unit,
                m.file_lines
            ),
            fix: "set backend = systemd in the jail (its journalmatch selects these \
                  entries), or make the syslog daemon write the log file again"
                .into(),
        });
    }

    out
}
