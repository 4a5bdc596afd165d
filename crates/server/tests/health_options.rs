//! Every bailiff-only `health_*` option of fail2ban.conf's `[Definition]`: read from
//! a `.local` over the embedded default, its value lands in the thresholds or the
//! journal cross-check's settings; a bad value is refused with the option's name.

use std::time::Duration;

use bailiff_config::ConfSource;
use bailiff_server::BailiffOptions;

fn read(text: &str) -> Result<BailiffOptions, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fail2ban.local"),
        format!("[Definition]\n{text}\n"),
    )
    .unwrap();
    BailiffOptions::read(&ConfSource::Overlay(dir.path().to_path_buf()).to_path())
        .map_err(|e| e.to_string())
}

#[test]
fn each_health_option_is_read() {
    type Check = fn(&BailiffOptions) -> bool;
    let table: &[(&str, Check)] = &[
        ("health_drift_after = 30m", |o| {
            o.thresholds.drift_after == 1800.0
        }),
        ("health_drift_lines = 50", |o| {
            o.thresholds.drift_min_lines == 50
        }),
        ("health_source_stale = 0", |o| {
            o.thresholds.source_stale_after == 0.0
        }),
        ("health_skew_limit = 2m", |o| {
            o.thresholds.skew_limit == 120.0
        }),
        ("health_skew_lines = 9", |o| {
            o.thresholds.skew_min_samples == 9
        }),
        ("health_nat_users = 4", |o| o.thresholds.nat_users == 4),
        ("health_nat_window = 1d", |o| {
            o.thresholds.nat_window == 86400.0
        }),
        ("health_journal_check = 0", |o| {
            o.journal_check.every.is_zero()
        }),
        ("health_journal_check = 90", |o| {
            o.journal_check.every == Duration::from_secs(90)
        }),
        ("health_journal_files = /j/a.journal /j/b*.journal", |o| {
            o.journal_check.files == ["/j/a.journal", "/j/b*.journal"]
        }),
    ];
    for (line, check) in table {
        let o = read(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert!(
            check(&o),
            "{line}: {:?} / {:?}",
            o.thresholds,
            o.journal_check
        );
    }
    // Absent: the defaults (a few minutes between journal checks, the system journal).
    let o = read("").unwrap();
    assert_eq!(o.thresholds, bailiff_health::Thresholds::default());
    assert_eq!(o.journal_check.every, Duration::from_secs(300));
    assert!(o.journal_check.files.is_empty());
}

#[test]
fn a_bad_health_value_names_the_option() {
    for line in [
        "health_drift_after = soon",
        "health_drift_lines = many",
        "health_nat_users = -3",
        "health_skew_limit = -5",
        "health_journal_check = 5 fortnights",
    ] {
        let name = line.split(' ').next().unwrap();
        let e = read(line)
            .err()
            .unwrap_or_else(|| panic!("{line} accepted"));
        assert!(e.contains(&format!("[Definition] {name}")), "{line}: {e}");
    }
}
