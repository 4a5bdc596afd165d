//! The compat suite: every stock filter against fail2ban's own sample logs, checked the
//! way fail2ban's `samplestestcase` checks them (`# failJSON:` expectations, option sets,
//! "Multiple regexs matched", "Regex has no samples").
//!
//! Needs fail2ban's package files (`/etc/fail2ban/filter.d` and the sample logs under
//! `/usr/lib/python3/dist-packages/fail2ban/tests`); without them it is skipped (and fails
//! under `CI=true`).

mod common;

use std::path::{Path, PathBuf};

use common::{build_confdir, wrong_greed, Suite, F2B_TESTS, FILTER_D, TZ};

#[test]
fn wrong_greed_lint_works() {
    let host = bailiff_filter::tags::expand("<HOST>", true);
    let lint = wrong_greed();
    let hit = |s: String| lint.is_match(s.as_bytes()).unwrap();
    assert!(hit(format!("greedy .* test{host} test not hard-anchored")));
    assert!(hit(format!("greedy .+ test{host} test vary .* anchored$")));
    assert!(!hit(format!(
        "greedy .* test{host} test no catch-all, hard-anchored$"
    )));
    assert!(!hit(format!(
        "non-greedy .*? test{host} test not hard-anchored"
    )));
    assert!(!hit(format!(
        "non-greedy .+? test{host} test vary catch-all .* anchored$"
    )));
}

fn filter_names() -> Vec<(String, bool)> {
    let mut names = Vec::new();
    for (dir, test_only) in [
        (PathBuf::from(FILTER_D), false),
        (Path::new(F2B_TESTS).join("config/filter.d"), true),
    ] {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            let Some(stem) = n.strip_suffix(".conf") else {
                continue;
            };
            if stem.starts_with('.') {
                continue;
            }
            if test_only && !stem.starts_with("zzz-") {
                continue;
            }
            if !test_only && n.ends_with("common.conf") {
                continue;
            }
            names.push((stem.to_string(), test_only));
        }
    }
    names.sort();
    names
}

#[test]
fn fail2ban_sample_logs() {
    if !Path::new(FILTER_D).is_dir() || !Path::new(F2B_TESTS).is_dir() {
        let msg = "SKIPPED: fail2ban's filter.d or sample logs are not installed";
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{msg}");
        }
        eprintln!("{msg}");
        return;
    }
    // The zone fail2ban's tests run in; the filter reads it through Zone::system().
    std::env::set_var("TZ", TZ);
    let tmp = tempfile::tempdir().expect("tempdir");
    let confdir = build_confdir(tmp.path(), None);
    let only = std::env::var("COMPAT_ONLY").ok();
    let mut suite = Suite::new(confdir);
    let mut per_filter = Vec::new();
    for (name, _) in filter_names() {
        if only
            .as_deref()
            .is_some_and(|o| !o.split(',').any(|x| x == name))
        {
            continue;
        }
        let before = suite.failures.len();
        suite.run_filter(&name);
        per_filter.push((name, suite.failures.len() - before));
    }
    for f in &suite.failures {
        println!("FAIL {f}");
    }
    let bad: Vec<String> = per_filter
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(n, c)| format!("{n}:{c}"))
        .collect();
    println!("filters with failures: {bad:?}");
    let failed = suite.failures.len();
    println!(
        "compat: {} filters, {} passed, {} failed ({} checks: {} lines over all option sets, {} per-regex sample/lint checks)",
        per_filter.len(),
        suite.checks.saturating_sub(failed),
        failed,
        suite.checks,
        suite.line_checks,
        suite.checks - suite.line_checks
    );
    println!(
        "compat: {} sample lines reported ambiguous (listed in KNOWN_AMBIGUOUS): {:?}",
        suite.ambiguous.len(),
        suite.ambiguous
    );
    assert_eq!(
        failed, 0,
        "{failed} compat checks failed (see output above)"
    );
}
