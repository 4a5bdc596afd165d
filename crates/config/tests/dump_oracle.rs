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
    every_stock_jail_with("");
}

/// The same with a journal backend for all: filters read with `logtype = journal`,
/// `journalmatch` sent, log paths ignored.
#[test]
fn every_stock_jail_enabled_systemd_backend() {
    every_stock_jail_with("[DEFAULT]\nbackend = systemd\nusedns = raw\n\n");
}

fn every_stock_jail_with(default_block: &str) {
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
    let mut local = default_block.to_string();
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
        "[sshd-journal]\nenabled = true\nfilter = sshd[mode=aggressive]\nbackend = systemd\n\n",
    );
    // one jail per action file, and one per action bundle of jail.conf
    let mut action_files: Vec<String> = std::fs::read_dir(conf.join("action.d"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.ends_with(".conf") || n.ends_with(".py"))
        .collect();
    action_files.sort();
    let log0 = logs.join(format!("{}.log", jails[0]));
    for f in &action_files {
        let act = f.strip_suffix(".conf").unwrap_or(f);
        let _ = writeln!(
            local,
            "[act-{act}]\nenabled = true\nfilter = sshd\nport = 22,2222\nlogpath = {}\naction = {act}[name=\"n, {act}\"]\n",
            log0.display()
        );
    }
    let bundles = [
        "action_",
        "action_mw",
        "action_mwl",
        "action_xarf",
        "action_cf_mwl",
        "action_blocklist_de",
        "action_abuseipdb",
    ];
    for bundle in bundles {
        let _ = writeln!(
            local,
            "[bundle-{bundle}]\nenabled = true\nfilter = sshd\ncfemail = a@b.c\ncfapikey = k1\nabuseipdb_apikey = k2\nblocklist_de_apikey = k3\nbanaction = %(banaction_allports)s\nlogpath = {}\naction = %({bundle})s\n",
            log0.display()
        );
    }
    eprintln!(
        "extra jails: one per action file ({}), one per action bundle ({})",
        action_files.len(),
        bundles.len()
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
        "all jails enabled: {n} lines equal; {started} jails started, {} jails with failregex, {actions} actions, {} config-errors [{}]",
        filters.len(),
        count("config-error", 0),
        default_block.replace('\n', " ")
    );
    assert!(started > 50);
    let cfg = bailiff_config::load(&conf).unwrap();
    let filters: std::collections::BTreeSet<&str> = cfg
        .jails
        .iter()
        .filter_map(|j| j.filter.as_ref().map(|f| f.name.as_str()))
        .collect();
    let action_files: std::collections::BTreeSet<&str> = cfg
        .jails
        .iter()
        .flat_map(|j| j.actions.iter().map(|a| a.file.as_str()))
        .collect();
    eprintln!(
        "compared: {} jails, {} distinct filters, {} distinct action files",
        cfg.jails.len(),
        filters.len(),
        action_files.len()
    );
    assert_eq!(cfg.jails.len(), started);
}
