//! Rendering: the `Health` branch of `status JAIL`, the JSON report, and the
//! `bailiff client health` text with its exit code.

use std::collections::BTreeMap;

use bailiff_control::Value;
use serde::Serialize;

use crate::state::{ActionHealth, JailHealth, SourceHealth, Time};
use crate::warn::{evaluate, is_healthy, Thresholds, Warning};

/// Everything known about one jail's health, for `--json` and `client health`.
#[derive(Debug, Clone, Serialize)]
pub struct JailReport {
    pub jail: String,
    pub healthy: bool,
    pub warnings: Vec<Warning>,
    pub sources: BTreeMap<String, SourceHealth>,
    pub lines: LineCounts,
    pub matched_per_regex: BTreeMap<usize, u64>,
    pub last_match: Option<Time>,
    pub failures_last_hour: u64,
    pub failures_last_day: u64,
    pub bans_last_hour: u64,
    pub bans_last_day: u64,
    pub bans_active: u64,
    pub actions: BTreeMap<String, ActionHealth>,
    /// Median offset of the lines' dates from the clock (seconds; negative: behind).
    pub date_offset: Option<f64>,
    pub ambiguous_addresses: BTreeMap<String, u64>,
}

/// Line counters of a jail.
#[derive(Debug, Clone, Serialize)]
pub struct LineCounts {
    pub read: u64,
    pub matched: u64,
    pub missed: u64,
    pub ignored: u64,
    pub nodate: u64,
    pub ambiguous: u64,
}

impl JailReport {
    /// Evaluate `h` at `now` and gather the report.
    pub fn new(jail: &str, h: &JailHealth, now: Time, th: &Thresholds) -> Self {
        let warnings = evaluate(h, now, th);
        JailReport {
            jail: jail.to_string(),
            healthy: is_healthy(&warnings),
            warnings,
            sources: h.sources.clone(),
            lines: LineCounts {
                read: h.lines_read,
                matched: h.lines_matched,
                missed: h.lines_missed,
                ignored: h.lines_ignored,
                nodate: h.lines_nodate,
                ambiguous: h.lines_ambiguous,
            },
            matched_per_regex: h.matched_per_regex.clone(),
            last_match: h.last_match,
            failures_last_hour: h.failures_last_hour(now),
            failures_last_day: h.failures_last_day(now),
            bans_last_hour: h.bans_last_hour(now),
            bans_last_day: h.bans_last_day(now),
            bans_active: h.bans_active,
            actions: h.actions.clone(),
            date_offset: h.date_offset(),
            ambiguous_addresses: h.ambiguous_addresses.clone(),
        }
    }

    /// The `("Health", [...])` pair to append as the last item of fail2ban's status
    /// reply for the jail (after `Filter` and `Actions`): the standard fields are
    /// untouched, and the client draws it in the same `|-` / `` `- `` tree.
    pub fn status_value(&self) -> Value {
        let int = |n: u64| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));
        let state = if self.healthy {
            "healthy".to_string()
        } else {
            "UNHEALTHY".to_string()
        };
        let mut items = vec![
            Value::pair("State", Value::str(state)),
            Value::pair(
                "Lines read/matched/missed",
                Value::str(format!(
                    "{} / {} / {}",
                    self.lines.read, self.lines.matched, self.lines.missed
                )),
            ),
            Value::pair(
                "Lines ignored/no date/ambiguous",
                Value::str(format!(
                    "{} / {} / {}",
                    self.lines.ignored, self.lines.nodate, self.lines.ambiguous
                )),
            ),
            Value::pair("Failures last hour", int(self.failures_last_hour)),
            Value::pair("Failures last day", int(self.failures_last_day)),
            Value::pair("Bans last day", int(self.bans_last_day)),
        ];
        let sources: Vec<String> = self
            .sources
            .iter()
            .map(|(p, s)| format!("{p} ({})", s.state))
            .collect();
        items.push(Value::pair("Sources", Value::str_list(sources)));
        if !self.ambiguous_addresses.is_empty() {
            let mut top: Vec<(&String, &u64)> = self.ambiguous_addresses.iter().collect();
            top.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
            let top: Vec<String> = top
                .into_iter()
                .take(5)
                .map(|(a, n)| format!("{a} ({n})"))
                .collect();
            items.push(Value::pair("Ambiguous senders", Value::str_list(top)));
        }
        items.push(Value::pair("Warnings", int(self.warnings.len() as u64)));
        // One line per warning, named by its code.
        for w in &self.warnings {
            items.push(Value::pair(
                w.code.as_str(),
                Value::str(format!("[{}] {} Fix: {}", w.severity, w.message, w.fix)),
            ));
        }
        Value::pair("Health", Value::List(items))
    }
}

/// The whole `bailiff client health` answer.
#[derive(Debug, Clone, Serialize)]
pub struct HealthReport {
    pub healthy: bool,
    pub jails: Vec<JailReport>,
}

impl HealthReport {
    pub fn new(jails: Vec<JailReport>) -> Self {
        HealthReport {
            healthy: jails.iter().all(|j| j.healthy),
            jails,
        }
    }

    /// JSON text (for `--json`).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// Text for a terminal, and the exit code: 0 when every jail is healthy, 1 when
    /// any is not (so `bailiff client health || alert` works from cron or a probe).
    pub fn render(&self, json: bool) -> (String, i32) {
        let code = if self.healthy { 0 } else { 1 };
        if json {
            return (self.to_json(), code);
        }
        let mut out = String::new();
        let bad = self.jails.iter().filter(|j| !j.healthy).count();
        if self.jails.is_empty() {
            out.push_str("No jail is running.\n");
        } else if bad == 0 {
            out.push_str(&format!("All {} jails are healthy.\n", self.jails.len()));
        } else {
            out.push_str(&format!(
                "{bad} of {} jails are unhealthy.\n",
                self.jails.len()
            ));
        }
        for j in &self.jails {
            let tag = if j.healthy { "ok" } else { "UNHEALTHY" };
            out.push_str(&format!("{}: {tag}\n", j.jail));
            let n = j.warnings.len();
            for (i, w) in j.warnings.iter().enumerate() {
                let (branch, cont) = if i + 1 == n {
                    ("`-", "   ")
                } else {
                    ("|-", "|  ")
                };
                out.push_str(&format!(
                    "{branch} {} {}: {}\n{cont}   fix: {}\n",
                    w.severity,
                    w.code.as_str(),
                    w.message,
                    w.fix
                ));
            }
        }
        (out, code)
    }
}
