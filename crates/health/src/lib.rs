//! Health checks and metrics for bailiff: quiet failures made loud.
//!
//! fail2ban's worst failures say nothing: a rotated or moved log that is no longer
//! read, a filter that stopped matching after a format change, dates read in the
//! wrong time zone, bans recorded but not in the firewall, a NAT address that gets
//! a whole office banned. This crate notices them.
//!
//! Data flows one way:
//!
//! * The daemon keeps one [`JailHealth`] per jail and feeds it through small calls
//!   ([`JailHealth::on_lines_read`], [`JailHealth::on_line`] with a [`LineSummary`],
//!   [`JailHealth::on_ban`], [`JailHealth::on_unban`], [`JailHealth::on_action_result`],
//!   [`JailHealth::on_enforcement_check`], [`JailHealth::on_source_state`],
//!   [`JailHealth::set_journal_mismatch`]). Memory is bounded: rates are kept in
//!   rings of time slots ([`RecentCounts`]), per-address sets are capped.
//! * [`evaluate`] turns a `JailHealth`, the time and [`Thresholds`] into
//!   [`Warning`]s (code, severity, sentence, fix). It is pure: a warning lasts
//!   exactly as long as its cause. [`is_healthy`] says whether any of them counts.
//! * [`JailReport`] gathers state and warnings for `status JAIL` (the `Health`
//!   branch appended after fail2ban's fields, [`JailReport::status_value`]) and
//!   JSON; [`HealthReport::render`] gives `bailiff client health`'s text and exit code.
//! * [`render_metrics`] renders every jail's counters and the process's in the
//!   Prometheus text format ([`Registry`]); [`MetricsServer`] serves it on
//!   `GET /metrics` when the daemon is told to listen.
//!
//! Everything but [`ProcessStats::read`] and [`MetricsServer`] is pure: time is a
//! value (`f64` Unix seconds) passed in.
//!
//! # Wiring in the daemon
//!
//! One `JailHealth` per jail, next to the jail's state (same lock), and:
//!
//! | where | call |
//! |---|---|
//! | each batch of `FileSource::wait` events / journal entries | `on_lines_read(path or "journal", n_lines, n_bytes, now)` |
//! | after each poll round | `on_file_health(&f, now)` for each `FileSource::health()` entry; `on_source_state("journal", ..)` for the journal |
//! | after `Filter` handled a line | `on_line(&LineSummary { source, line_time: date.map(|d| d.time), catching_up: event.initial, matched: one per failure (regex, fid, data["user"], ignoreip from the jail's ignore check), ignored, ambiguous: one per ambiguity (regex, candidates[0]) }, now)` |
//! | ban / unban executed | `on_ban(now)` / `on_unban(now)`; `set_bans_active(n)` after restoring from the database |
//! | every action call (start, ban, unban, flush, stop) | `on_action_result(action, ActionOutcome::from_result(&r), now)` |
//! | periodic firewall check | `on_check_and_repair(action, &r, now)` (or `on_check_report`) |
//! | journal/backend cross-check | `set_journal_mismatch(Some(JournalMismatch { .. }))` / `None` |
//! | reload changed the filter or `logtimezone` | `reset_date_offsets()` |
//! | before a report, with the jail's ignore list | `forget_addresses_where(\|a\| ignored(a))` |
//! | `ignoreip` changed | `forget_address(ip)` for the new entries |
//! | `status JAIL` | append `JailReport::new(jail, &h, now, &th).status_value()` to the reply's pairs |
//! | `health` / `status --json` | `HealthReport::new(reports)`; `render(json)` gives the text and exit code |
//! | start-up, if `[Definition] metrics` is set | `parse_metrics_listen(v)?`, then `MetricsServer::bind(addr, render)` with `render` locking the jails and calling `render_metrics` |
//!
//! ```
//! use bailiff_health::*;
//! let mut h = JailHealth::new();
//! let t = 1_700_000_000.0;
//! h.on_source_state("/var/log/auth.log", SourceState::Missing, t);
//! assert!(is_healthy(&evaluate(&h, t + 60.0, &Thresholds::default())));
//! let w = evaluate(&h, t + 3600.0, &Thresholds::default());
//! assert_eq!(w[0].code, Code::SourceDown);
//! ```

mod adapt;
mod config;
mod metrics;
mod report;
mod server;
mod state;
mod warn;

pub use config::{parse_metrics_listen, MetricsOptionError, METRICS_OPTION};
pub use metrics::{add_jails, escape_label, render_metrics, MetricType, ProcessStats, Registry};
pub use report::{HealthReport, JailReport, LineCounts};
pub use server::{BindError, MetricsServer, RenderFn, IO_TIMEOUT, MAX_CONNECTIONS, MAX_REQUEST};
pub use state::{
    ActionHealth, ActionOutcome, AmbiguousMatch, Buckets, JailHealth, JournalMismatch, LineSummary,
    Matched, RecentCounts, SourceHealth, SourceState, Time,
};
pub use warn::{evaluate, is_healthy, Code, Severity, Thresholds, Warning};
