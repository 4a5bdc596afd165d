//! The library suite: bailiff's own filters (`config/filter.d` at the repository root)
//! put in place of the stock ones, then checked with the compat suite's harness against
//! fail2ban's sample log for the same service and against our own sample logs
//! (`tests/samples/<filter>`, same `# failJSON:` format, written for current log formats).
//!
//! Prints `<filter>: N passed, M failed` per filter. Needs fail2ban's package files (the
//! stock `filter.d`, which some of our samples' stock neighbours include, and the sample
//! logs); without them it is skipped (and fails under `CI=true`).

mod common;

use std::path::{Path, PathBuf};

use common::{build_confdir, Suite, F2B_TESTS, FILTER_D, TZ};

fn repo_dir(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// Our filters: every `config/filter.d/*.conf` except the shared `*common.conf` includes.
fn library_filters(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("config/filter.d")
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let stem = n.strip_suffix(".conf")?;
            (!stem.ends_with("common") && !stem.starts_with('.')).then(|| stem.to_string())
        })
        .collect();
    names.sort();
    names
}

#[test]
fn library_sample_logs() {
    if !Path::new(FILTER_D).is_dir() || !Path::new(F2B_TESTS).is_dir() {
        let msg = "SKIPPED: fail2ban's filter.d or sample logs are not installed";
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{msg}");
        }
        eprintln!("{msg}");
        return;
    }
    std::env::set_var("TZ", TZ);
    let library = repo_dir("config/filter.d");
    let samples = repo_dir("tests/samples");
    let f2b_logs = Path::new(F2B_TESTS).join("files/logs");
    let tmp = tempfile::tempdir().expect("tempdir");
    let confdir = build_confdir(tmp.path(), Some(&library));
    let mut suite = Suite::new(confdir);
    let only = std::env::var("LIBRARY_ONLY").ok();
    let names = library_filters(&library);
    assert!(!names.is_empty(), "no filters in {}", library.display());
    let mut report = Vec::new();
    for name in &names {
        if only
            .as_deref()
            .is_some_and(|o| !o.split(',').any(|x| x == name))
        {
            continue;
        }
        let mut sources = Vec::new();
        for dir in [&f2b_logs, &samples] {
            if dir.join(name).is_file() {
                sources.push((dir.clone(), name.clone()));
            }
        }
        let (checks0, failed0) = (suite.checks, suite.failures.len());
        if sources.is_empty() {
            suite.failures.push(format!(
                "{name}: no sample log, neither fail2ban's nor ours"
            ));
        } else {
            suite.run_filter_logs(name, &sources);
        }
        let failed = suite.failures.len() - failed0;
        let passed = (suite.checks - checks0).saturating_sub(failed);
        let from: Vec<String> = sources
            .iter()
            .map(|(d, _)| if *d == samples { "ours" } else { "fail2ban's" }.to_string())
            .collect();
        report.push(format!(
            "{name}: {passed} passed, {failed} failed (samples: {})",
            from.join(" + ")
        ));
    }
    for f in &suite.failures {
        println!("FAIL {f}");
    }
    for r in &report {
        println!("{r}");
    }
    let failed = suite.failures.len();
    println!(
        "library: {} filters, {} passed, {} failed ({} checks: {} lines over all option sets, {} per-regex sample/lint checks)",
        report.len(),
        suite.checks.saturating_sub(failed),
        failed,
        suite.checks,
        suite.line_checks,
        suite.checks - suite.line_checks
    );
    assert_eq!(
        failed, 0,
        "{failed} library checks failed (see output above)"
    );
}

/// Every filter of the library must come with a sample log of ours or fail2ban's, and
/// every shared include must be used by some filter.
#[test]
fn library_is_complete() {
    let library = repo_dir("config/filter.d");
    let names = library_filters(&library);
    let f2b_logs = Path::new(F2B_TESTS).join("files/logs");
    let samples = repo_dir("tests/samples");
    for name in &names {
        assert!(
            samples.join(name).is_file() || f2b_logs.join(name).is_file(),
            "{name}: no sample log"
        );
    }
    let texts: Vec<String> = names
        .iter()
        .map(|n| std::fs::read_to_string(library.join(format!("{n}.conf"))).expect("read filter"))
        .chain(
            std::fs::read_dir(&library)
                .expect("config/filter.d")
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with("common.conf"))
                .map(|e| std::fs::read_to_string(e.path()).expect("read include")),
        )
        .collect();
    for e in std::fs::read_dir(&library)
        .expect("config/filter.d")
        .flatten()
    {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.ends_with("common.conf") {
            assert!(
                texts.iter().any(|t| t.contains(&format!("before = {n}"))),
                "{n} is included by no filter"
            );
        }
    }
}
