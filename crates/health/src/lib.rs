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
mod metrics;
mod report;
mod server;
mod state;
mod warn;

pub use metrics::{add_jails, escape_label, render_metrics, MetricType, ProcessStats, Registry};
pub use report::{HealthReport, JailReport, LineCounts};
pub use server::{BindError, MetricsServer, RenderFn, IO_TIMEOUT, MAX_CONNECTIONS, MAX_REQUEST};
pub use state::{
    ActionHealth, ActionOutcome, AmbiguousMatch, Buckets, JailHealth, LineSummary, Matched,
    RecentCounts, SourceHealth, SourceState, Time,
};
pub use warn::{evaluate, is_healthy, Code, Severity, Thresholds, Warning};
