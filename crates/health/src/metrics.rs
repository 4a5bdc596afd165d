//! Prometheus text exposition (format 0.0.4): a small encoder, the per-jail
//! families, and process metrics from `/proc`.
//!
//! Our own encoder rather than `prometheus-client`: we only render a snapshot of
//! counters the daemon already keeps in [`JailHealth`], so a registry of live
//! atomic metrics would duplicate that state; the format is a few lines of text.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::state::{JailHealth, Time};
use crate::warn::{evaluate, is_healthy, Thresholds};

/// Metric type, as written on the `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
}

#[derive(Debug, Clone)]
struct Family {
    help: String,
    kind: MetricType,
    samples: Vec<(Vec<(String, String)>, f64)>,
}

/// A snapshot of metric families, rendered in the text format.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    families: BTreeMap<String, Family>,
}

/// Escape a label value: backslash, double quote and newline.
pub fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Declare a family (idempotent) so it is listed with HELP/TYPE even when empty.
    pub fn declare(&mut self, name: &str, kind: MetricType, help: &str) {
        self.families
            .entry(name.to_string())
            .or_insert_with(|| Family {
                help: help.to_string(),
                kind,
                samples: Vec::new(),
            });
    }

    /// Add a sample to a declared family (an undeclared one is declared as an
    /// untyped-looking gauge; declare families first).
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let f = self
            .families
            .entry(name.to_string())
            .or_insert_with(|| Family {
                help: name.to_string(),
                kind: MetricType::Gauge,
                samples: Vec::new(),
            });
        f.samples.push((
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value,
        ));
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, f) in &self.families {
            let kind = match f.kind {
                MetricType::Counter => "counter",
                MetricType::Gauge => "gauge",
            };
            let _ = writeln!(out, "# HELP {name} {}", escape_help(&f.help));
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, v) in &f.samples {
                out.push_str(name);
                if !labels.is_empty() {
                    out.push('{');
                    for (i, (k, val)) in labels.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        let _ = write!(out, "{k}=\"{}\"", escape_label(val));
                    }
                    out.push('}');
                }
                let _ = writeln!(out, " {}", number(*v));
            }
        }
        out
    }
}

const JAIL_FAMILIES: &[(&str, MetricType, &str)] = &[
    (
        "bailiff_lines_read_total",
        MetricType::Counter,
        "Log lines read, per source.",
    ),
    (
        "bailiff_lines_matched_total",
        MetricType::Counter,
        "Lines on which a failregex matched, per regex index.",
    ),
    (
        "bailiff_lines_ignored_total",
        MetricType::Counter,
        "Lines whose match an ignoreregex dropped.",
    ),
    (
        "bailiff_lines_missed_total",
        MetricType::Counter,
        "Lines no failregex matched.",
    ),
    (
        "bailiff_lines_nodate_total",
        MetricType::Counter,
        "Lines with no recognisable date, per source.",
    ),
    (
        "bailiff_lines_ambiguous_total",
        MetricType::Counter,
        "Lines whose address attacker text could have supplied (not banned).",
    ),
    (
        "bailiff_failures_total",
        MetricType::Counter,
        "Failures found (failregex matches counted by the jail).",
    ),
    (
        "bailiff_bans_total",
        MetricType::Counter,
        "Bans made (each counted once).",
    ),
    (
        "bailiff_unbans_total",
        MetricType::Counter,
        "Bans that ended (expired or lifted).",
    ),
    (
        "bailiff_bans_active",
        MetricType::Gauge,
        "Addresses currently banned.",
    ),
    (
        "bailiff_action_errors_total",
        MetricType::Counter,
        "Action commands that failed, per action.",
    ),
    (
        "bailiff_action_missing_bans",
        MetricType::Gauge,
        "Recorded bans missing from the firewall set at the last check, per action.",
    ),
    (
        "bailiff_source_up",
        MetricType::Gauge,
        "1 when the log source is open and read, else 0.",
    ),
    (
        "bailiff_source_last_read_timestamp_seconds",
        MetricType::Gauge,
        "Unix time lines were last read from the source.",
    ),
    (
        "bailiff_action_repairs_total",
        MetricType::Counter,
        "Times the firewall of the action was found broken and repaired.",
    ),
    (
        "bailiff_jail_healthy",
        MetricType::Gauge,
        "1 when the jail has no health warning, else 0.",
    ),
    (
        "bailiff_jail_warnings",
        MetricType::Gauge,
        "Health warnings of the jail, per code.",
    ),
];

/// Add the families of every jail to `reg`.
pub fn add_jails<'a, I>(reg: &mut Registry, jails: I, now: Time, th: &Thresholds)
where
    I: IntoIterator<Item = (&'a str, &'a JailHealth)>,
{
    for (name, kind, help) in JAIL_FAMILIES {
        reg.declare(name, *kind, help);
    }
    for (jail, h) in jails {
        let j = [("jail", jail)];
        for (src, s) in &h.sources {
            let l = [("jail", jail), ("source", src.as_str())];
            reg.sample("bailiff_lines_read_total", &l, s.lines_read as f64);
            reg.sample("bailiff_lines_nodate_total", &l, s.lines_nodate as f64);
            reg.sample(
                "bailiff_source_up",
                &l,
                if s.state.is_up() { 1.0 } else { 0.0 },
            );
            if let Some(t) = s.last_read {
                reg.sample("bailiff_source_last_read_timestamp_seconds", &l, t);
            }
        }
        for (re, n) in &h.matched_per_regex {
            let idx = re.to_string();
            reg.sample(
                "bailiff_lines_matched_total",
                &[("jail", jail), ("regex", idx.as_str())],
                *n as f64,
            );
        }
        reg.sample("bailiff_lines_ignored_total", &j, h.lines_ignored as f64);
        reg.sample("bailiff_lines_missed_total", &j, h.lines_missed as f64);
        reg.sample(
            "bailiff_lines_ambiguous_total",
            &j,
            h.lines_ambiguous as f64,
        );
        reg.sample("bailiff_failures_total", &j, h.failures_total as f64);
        reg.sample("bailiff_bans_total", &j, h.bans_total as f64);
        reg.sample("bailiff_unbans_total", &j, h.unbans_total as f64);
        reg.sample("bailiff_bans_active", &j, h.bans_active as f64);
        for (act, a) in &h.actions {
            let l = [("jail", jail), ("action", act.as_str())];
            reg.sample("bailiff_action_errors_total", &l, a.errors as f64);
            reg.sample("bailiff_action_repairs_total", &l, a.repairs as f64);
            if a.last_check.is_some() {
                reg.sample("bailiff_action_missing_bans", &l, a.missing as f64);
            }
        }
        let warnings = evaluate(h, now, th);
        reg.sample(
            "bailiff_jail_healthy",
            &j,
            if is_healthy(&warnings) { 1.0 } else { 0.0 },
        );
        let mut per_code: BTreeMap<&str, u64> = BTreeMap::new();
        for w in &warnings {
            *per_code.entry(w.code.as_str()).or_default() += 1;
        }
        for (code, n) in per_code {
            reg.sample(
                "bailiff_jail_warnings",
                &[("jail", jail), ("code", code)],
                n as f64,
            );
        }
    }
}

/// This process's resource use, from `/proc/self`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ProcessStats {
    pub resident_memory_bytes: u64,
    pub cpu_seconds: f64,
    pub open_fds: u64,
    pub start_time_seconds: f64,
}

impl ProcessStats {
    /// Read `/proc/self/stat`, `/proc/stat` (boot time) and `/proc/self/fd`.
    /// None where `/proc` is not there.
    pub fn read() -> Option<ProcessStats> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let boot = std::fs::read_to_string("/proc/stat").ok()?;
        let btime = boot
            .lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<u64>().ok())?;
        // SAFETY: sysconf only reads configuration values.
        let (ticks, page) = unsafe {
            (
                libc::sysconf(libc::_SC_CLK_TCK),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        let open_fds = std::fs::read_dir("/proc/self/fd")
            .map(|d| d.count() as u64)
            .unwrap_or(0);
        Self::parse(
            &stat,
            btime,
            ticks.max(1) as u64,
            page.max(1) as u64,
            open_fds,
        )
    }

    /// Parse `/proc/PID/stat` (after the `(comm)` field, which may hold spaces).
    pub fn parse(stat: &str, btime: u64, ticks: u64, page: u64, open_fds: u64) -> Option<Self> {
        let rest = &stat[stat.rfind(')')? + 1..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        // rest[0] is field 3 (state): field N is f[N - 3].
        let get = |n: usize| f.get(n - 3).and_then(|v| v.parse::<u64>().ok());
        let utime = get(14)?;
        let stime = get(15)?;
        let start = get(22)?;
        let rss = get(24)?;
        Some(ProcessStats {
            resident_memory_bytes: rss * page,
            cpu_seconds: (utime + stime) as f64 / ticks as f64,
            open_fds,
            start_time_seconds: btime as f64 + start as f64 / ticks as f64,
        })
    }

    /// Add the `process_*` families.
    pub fn add_to(&self, reg: &mut Registry) {
        let fams: [(&str, MetricType, &str, f64); 4] = [
            (
                "process_resident_memory_bytes",
                MetricType::Gauge,
                "Resident memory size in bytes.",
                self.resident_memory_bytes as f64,
            ),
            (
                "process_cpu_seconds_total",
                MetricType::Counter,
                "Total user and system CPU time spent in seconds.",
                self.cpu_seconds,
            ),
            (
                "process_open_fds",
                MetricType::Gauge,
                "Number of open file descriptors.",
                self.open_fds as f64,
            ),
            (
                "process_start_time_seconds",
                MetricType::Gauge,
                "Start time of the process since unix epoch in seconds.",
                self.start_time_seconds,
            ),
        ];
        for (name, kind, help, v) in fams {
            reg.declare(name, kind, help);
            reg.sample(name, &[], v);
        }
    }
}

/// The whole `/metrics` page: every jail's families, then the process's.
pub fn render_metrics<'a, I>(jails: I, now: Time, th: &Thresholds) -> String
where
    I: IntoIterator<Item = (&'a str, &'a JailHealth)>,
{
    let mut reg = Registry::new();
    add_jails(&mut reg, jails, now, th);
    if let Some(p) = ProcessStats::read() {
        p.add_to(&mut reg);
    }
    reg.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_stat_with_spaces_in_comm() {
        let stat = "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 1000 12345678 300 18446744073709551615";
        let p = ProcessStats::parse(stat, 1_700_000_000, 100, 4096, 7).expect("parses");
        assert_eq!(p.cpu_seconds, 3.0);
        assert_eq!(p.resident_memory_bytes, 300 * 4096);
        assert_eq!(p.start_time_seconds, 1_700_000_010.0);
        assert_eq!(p.open_fds, 7);
        assert!(ProcessStats::parse("garbage", 0, 100, 4096, 0).is_none());
    }

    #[test]
    fn real_process_stats_are_plausible() {
        let Some(p) = ProcessStats::read() else {
            eprintln!("SKIPPED: no /proc here");
            return;
        };
        assert!(p.resident_memory_bytes > 0);
        assert!(p.open_fds >= 3);
        assert!(p.start_time_seconds > 1_000_000_000.0);
    }
}
