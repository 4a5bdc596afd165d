//! The daemon's side of `bailiff_health` that is more than feeding counters: the
//! bailiff-only `health_*` options of fail2ban.conf's `[Definition]`, the refresh
//! done before each report, and the journal cross-check.
//!
//! - [`read_options`] reads the thresholds of the warnings and the journal
//!   cross-check's settings (fail2ban ignores these options).
//! - [`refresh`] brings a jail's health up to date with its ban manager (active
//!   bans) and its ignore list (addresses now in `ignoreip` are no NAT suspects).
//! - [`spawn_journal_check`] starts the `health-journal` thread: every
//!   `health_journal_check`, for each jail that reads log files although its filter
//!   has a `journalmatch`, it counts the journal entries that `journalmatch` selects
//!   in the last interval and compares them with the lines the files gave in the
//!   same interval (`journal-not-read` when the journal holds clearly more).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use bailiff_config::reader::{ConfigSet, Vars};
use bailiff_health::{JournalMismatch, Thresholds};
use bailiff_jail::FailId;
use bailiff_source::journal::{JournalOptions, JournalSource};

use crate::jail::{Core, JailRt};
use crate::log::Level;
use crate::{lock, now, Daemon, ServerError};

/// The journal cross-check's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalCheck {
    /// `health_journal_check = TIME`: how often (0: never). 5 minutes by default.
    pub every: Duration,
    /// `health_journal_files = GLOB...`: journal files to read instead of the
    /// system journal (empty: the system journal).
    pub files: Vec<String>,
}

impl Default for JournalCheck {
    fn default() -> Self {
        JournalCheck {
            every: Duration::from_secs(300),
            files: Vec::new(),
        }
    }
}

/// Fewer journal entries than this in an interval say nothing (a line written to
/// both just at the interval's edge, a service's few start-up messages on stderr
/// while it writes its own log file).
pub const MIN_JOURNAL_ENTRIES: u64 = 5;
/// Entries counted per jail and check at most (the count stays cheap on a busy
/// journal; beyond it the answer is clear anyway).
pub const MAX_JOURNAL_ENTRIES: u64 = 100_000;

fn raw(set: &ConfigSet, name: &str) -> Option<String> {
    set.get_raw("Definition", name, &Vars::new())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn time_option(set: &ConfigSet, name: &str) -> Result<Option<f64>, ServerError> {
    let Some(v) = raw(set, name) else {
        return Ok(None);
    };
    bailiff_config::parse_time(&v)
        .ok()
        .filter(|t| t.is_finite() && *t >= 0.0)
        .map(Some)
        .ok_or_else(|| {
            ServerError::Config(format!(
                "[Definition] {name} = {v:?}: not a time (e.g. 300, 5m, 6h)"
            ))
        })
}

fn count_option(set: &ConfigSet, name: &str) -> Result<Option<u64>, ServerError> {
    let Some(v) = raw(set, name) else {
        return Ok(None);
    };
    v.parse::<u64>().map(Some).map_err(|_| {
        ServerError::Config(format!(
            "[Definition] {name} = {v:?}: not a whole number (e.g. 1000)"
        ))
    })
}

/// Read the bailiff-only `health_*` options of fail2ban.conf's `[Definition]` (see
/// `config/fail2ban.conf`) into `th` and `jc`; absent options keep their defaults.
/// (`health_source_down` and `health_firewall_check` are read beside `metrics`.)
pub fn read_options(
    set: &ConfigSet,
    th: &mut Thresholds,
    jc: &mut JournalCheck,
) -> Result<(), ServerError> {
    if let Some(t) = time_option(set, "health_drift_after")? {
        th.drift_after = t;
    }
    if let Some(n) = count_option(set, "health_drift_lines")? {
        th.drift_min_lines = n;
    }
    if let Some(t) = time_option(set, "health_source_stale")? {
        th.source_stale_after = t;
    }
    if let Some(t) = time_option(set, "health_skew_limit")? {
        th.skew_limit = t;
    }
    if let Some(n) = count_option(set, "health_skew_lines")? {
        th.skew_min_samples = usize::try_from(n.max(1)).unwrap_or(usize::MAX);
    }
    if let Some(n) = count_option(set, "health_nat_users")? {
        th.nat_users = usize::try_from(n.max(2)).unwrap_or(usize::MAX);
    }
    if let Some(t) = time_option(set, "health_nat_window")? {
        th.nat_window = t;
    }
    if let Some(t) = time_option(set, "health_journal_check")? {
        jc.every = Duration::from_secs_f64(t);
    }
    if let Some(v) = raw(set, "health_journal_files") {
        jc.files = v.split_whitespace().map(str::to_string).collect();
    }
    Ok(())
}

/// Bring `core.health` up to date before a report: the active ban count from the
/// ban manager, and addresses now covered by `ignoreip` (a reload, `addignoreip`)
/// forgotten by the NAT check, which suggested exactly that.
pub fn refresh(core: &mut Core) {
    let banned = core.jail.status().currently_banned;
    core.health.set_bans_active(banned as u64);
    let ignore = core.jail.ignore_list();
    core.health
        .forget_addresses_where(|a| ignore.check(&FailId::parse(a)).is_some());
}

/// The unit (or identifier, or command) a `journalmatch` selects, for messages:
/// `_SYSTEMD_UNIT=sshd.service + _COMM=sshd` names `sshd.service`.
pub fn journalmatch_unit(groups: &[Vec<String>]) -> String {
    for key in ["_SYSTEMD_UNIT=", "SYSLOG_IDENTIFIER=", "_COMM="] {
        for term in groups.iter().flatten() {
            if let Some(v) = term.strip_prefix(key) {
                return v.to_string();
            }
        }
    }
    groups
        .iter()
        .flatten()
        .next()
        .cloned()
        .unwrap_or_else(|| "the service".into())
}

/// Journal entries selected by `groups` whose time lies in `(from, to]`, at most
/// [`MAX_JOURNAL_ENTRIES`].
pub fn count_journal_entries(
    files: &[String],
    groups: &[Vec<String>],
    from: f64,
    to: f64,
) -> Result<u64, String> {
    let opts = JournalOptions {
        files: files.to_vec(),
        matches: groups.to_vec(),
        ..JournalOptions::default()
    };
    let mut j = JournalSource::open(&opts).map_err(|e| e.to_string())?;
    j.seek_time(UNIX_EPOCH + Duration::from_secs_f64(from.max(0.0)))
        .map_err(|e| e.to_string())?;
    let mut n = 0;
    while n < MAX_JOURNAL_ENTRIES {
        let Some(e) = j.next_entry().map_err(|e| e.to_string())? else {
            break;
        };
        let t = e
            .time
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        if t > to {
            break;
        }
        if t > from {
            n += 1;
        }
    }
    Ok(n)
}

/// The verdict of one interval: `Some(Some(m))` mismatch, `Some(None)` no
/// mismatch, `None` no evidence either way (the journal was quiet): keep the last
/// verdict.
pub fn judge(
    unit: &str,
    journal_entries: u64,
    file_lines: u64,
    window: f64,
) -> Option<Option<JournalMismatch>> {
    if journal_entries < MIN_JOURNAL_ENTRIES {
        return None;
    }
    if file_lines.saturating_mul(2) < journal_entries {
        Some(Some(JournalMismatch {
            unit: unit.to_string(),
            journal_entries,
            file_lines,
            window,
        }))
    } else {
        Some(None)
    }
}

/// Where a jail's last interval began: its time and the file lines read then.
struct Mark {
    at: f64,
    file_lines: u64,
}

/// Start the `health-journal` thread (nothing when `health_journal_check = 0`, or
/// when libsystemd is missing: then there is no journal to compare with).
pub fn spawn_journal_check(d: &Arc<Daemon>) {
    let jc = d.health_journal();
    if jc.every.is_zero() {
        return;
    }
    if !bailiff_source::journal::available() {
        crate::log!(
            Level::Debug,
            "fail2ban.server",
            "No libsystemd: the journal cross-check of file jails is off"
        );
        return;
    }
    let weak = Arc::downgrade(d);
    let spawned = std::thread::Builder::new()
        .name("health-journal".into())
        .spawn(move || {
            let mut marks: HashMap<usize, Mark> = HashMap::new();
            let mut next = Instant::now();
            loop {
                let Some(d) = weak.upgrade() else { return };
                if d.quitting() {
                    return;
                }
                if Instant::now() >= next {
                    next = Instant::now() + jc.every;
                    check_all(&d, &jc, &mut marks);
                }
                drop(d);
                std::thread::sleep(Duration::from_millis(200));
            }
        });
    if let Err(e) = spawned {
        crate::log!(
            Level::Error,
            "fail2ban.server",
            "Cannot start the journal cross-check: {e}"
        );
    }
}

fn check_all(d: &Daemon, jc: &JournalCheck, marks: &mut HashMap<usize, Mark>) {
    let rts: Vec<Arc<JailRt>> = lock(&d.jails).values().cloned().collect();
    // A restarted jail is a new JailRt with fresh counters: key by identity.
    let live: Vec<usize> = rts.iter().map(|r| Arc::as_ptr(r) as usize).collect();
    marks.retain(|k, _| live.contains(k));
    for rt in rts {
        let key = Arc::as_ptr(&rt) as usize;
        let t = now();
        let (journal, journalmatch, file_lines) = {
            let c = rt.core();
            (
                c.journal,
                c.journalmatch.clone(),
                c.health.file_lines_read(),
            )
        };
        // The jail's journalmatch, already parsed into groups.
        let groups = journalmatch;
        if journal || groups.is_empty() {
            continue;
        }
        let Some(mark) = marks.get_mut(&key) else {
            marks.insert(key, Mark { at: t, file_lines });
            continue;
        };
        let entries = match count_journal_entries(&jc.files, &groups, mark.at, t) {
            Ok(n) => n,
            Err(e) => {
                crate::log!(
                    Level::Debug,
                    "fail2ban.server",
                    "[{}] journal cross-check: {e}",
                    rt.name
                );
                continue;
            }
        };
        let lines = file_lines.saturating_sub(mark.file_lines);
        let window = t - mark.at;
        *mark = Mark { at: t, file_lines };
        let unit = journalmatch_unit(&groups);
        if let Some(verdict) = judge(&unit, entries, lines, window) {
            let mut c = rt.core();
            if verdict.is_some() && c.health.journal_mismatch.is_none() {
                crate::log!(
                    Level::Warning,
                    "fail2ban.server",
                    "[{}] the journal held {entries} entries of {unit} in the last {:.0} s, \
                     the log files gave {lines} lines: set backend = systemd?",
                    rt.name,
                    window
                );
            }
            c.health.set_journal_mismatch(verdict);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bailiff_source::journal::parse_journalmatch;

    #[test]
    fn unit_named_by_journalmatch() {
        let g = |s: &str| parse_journalmatch(s).unwrap();
        assert_eq!(
            journalmatch_unit(&g("_SYSTEMD_UNIT=sshd.service + _COMM=sshd")),
            "sshd.service"
        );
        assert_eq!(journalmatch_unit(&g("_COMM=dovecot")), "dovecot");
        assert_eq!(
            journalmatch_unit(&g("SYSLOG_FACILITY=10 + SYSLOG_IDENTIFIER=su")),
            "su"
        );
        assert_eq!(journalmatch_unit(&g("PRIORITY=3")), "PRIORITY=3");
    }

    #[test]
    fn verdicts() {
        // (journal entries, file lines, verdict: None no evidence, Some(true) mismatch)
        let table = [
            (0, 0, None),
            (4, 0, None),
            (5, 0, Some(true)),
            (9, 4, Some(true)),
            (9, 5, Some(false)),
            (40, 19, Some(true)),
            (40, 20, Some(false)),
            (40, 500, Some(false)),
        ];
        for (entries, lines, want) in table {
            let got = judge("sshd.service", entries, lines, 300.0).map(|v| v.is_some());
            assert_eq!(got, want, "{entries} entries, {lines} lines");
        }
    }
}
