//! Acceptance: `dump_stream` equals `fail2ban-client -d` line for line on the stock
//! configuration with every jail of `jail.conf` enabled.

mod common;

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

fn oracle_dump(confdir: &Path) -> Vec<Value> {
    common::run_oracle(&["dump", confdir.to_str().unwrap()])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Compare two streams; numbers and strings with the same text count as equal.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::String(y)) | (Value::String(y), Value::Number(x)) => {
            x.to_string() == *y
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        _ => a == b,
    }
}

fn compare(confdir: &Path) -> (usize, Vec<Value>) {
    let want = oracle_dump(confdir);
    let got = bailiff_config::dump_stream(confdir).expect("dump_stream");
    let mut diffs = String::new();
    let n = want.len().max(got.len());
    let mut count = 0;
    for i in 0..n {
        let (w, g) = (want.get(i), got.get(i));
        let eq = matches!((w, g), (Some(w), Some(g)) if same(w, g));
        if !eq {
            count += 1;
            if count <= 10 {
                let _ = writeln!(
                    diffs,
                    "line {i}:\n  fail2ban {}\n  ours     {}",
                    w.map_or("<none>".into(), |v| v.to_string()),
                    g.map_or("<none>".into(), |v| v.to_string())
                );
            }
        }
    }
    assert_eq!(count, 0, "{count} differing lines:\n{diffs}");
    (want.len(), want)
}

#[test]
fn stock_config_as_installed() {
    if !common::oracle_available() {
        return;
    }
    let (n, _) = compare(Path::new("/etc/fail2ban"));
    eprintln!("stock /etc/fail2ban: {n} lines equal");
}

#[test]
fn every_stock_jail_enabled() {
    if !common::oracle_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("conf");
    common::copy_tree(Path::new("/etc/fail2ban"), &conf);
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    // the jails of the stock jail.conf, by their section headers
    let text = std::fs::read_to_string(conf.join("jail.conf")).unwrap();
    let jails: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix('[').and_then(|r| r.strip_suffix(']')))
        .filter(|s| *s != "INCLUDES" && *s != "DEFAULT")
        .map(str::to_string)
        .collect();
    assert!(jails.len() > 50, "found {} jails", jails.len());
    let mut local = String::new();
    for (i, j) in jails.iter().enumerate() {
        let log = logs.join(format!("{j}.log"));
        std::fs::write(&log, "").unwrap();
        let _ = writeln!(local, "[{j}]\nenabled = true");
        match i % 7 {
            // a glob and a tail position
            3 => {
                let _ = writeln!(local, "logpath = {}/{j}.l?g tail", logs.display());
            }
            // two lines, one matching nothing (fail2ban warns in -d mode)
            5 => {
                let _ = writeln!(
                    local,
                    "logpath = {}\n          {}/missing-{j}.log",
                    log.display(),
                    logs.display()
                );
            }
            _ => {
                let _ = writeln!(local, "logpath = {}", log.display());
            }
        }
        local.push('\n');
    }
    local.push_str(
        "[sshd-journal]\nenabled = true\nfilter = sshd[mode=aggressive]\nbackend = systemd\n",
    );
    std::fs::write(conf.join("jail.local"), local).unwrap();
    let (n, stream) = compare(&conf);
    let count = |cmd: &str, idx: usize| {
        stream
            .iter()
            .filter(|v| v.get(idx).and_then(|x| x.as_str()) == Some(cmd))
            .count()
    };
    let started = count("start", 0);
    let actions = count("addaction", 2);
    let filters: std::collections::BTreeSet<String> = stream
        .iter()
        .filter(|v| {
            v.get(2)
                .and_then(|x| x.as_str())
                .is_some_and(|s| s.starts_with("addfailregex"))
        })
        .filter_map(|v| v.get(1).and_then(|x| x.as_str()).map(str::to_string))
        .collect();
    eprintln!(
        "all jails enabled: {n} lines equal; {started} jails started, {} jails with failregex, {actions} actions, {} config-errors",
        filters.len(),
        count("config-error", 0)
    );
    assert!(started > 50);
}
