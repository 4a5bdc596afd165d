//! `bailiff regex 'systemd-journal[journalfiles=...]' sshd` against fail2ban-regex
//! on a real journal file: a generated sshd log written into the journal with
//! systemd-journal-remote (entries with `_COMM=sshd`, which the sshd filter's
//! journalmatch selects, mixed with other programs').
//!
//! Needs fail2ban-regex with python3-systemd, systemd-journal-remote and
//! libsystemd; skipped loudly without them, except under CI=true.

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use bailiff_tester::{run, RegexArgs};
use clap::Parser;

const REMOTE: &str = "/lib/systemd/systemd-journal-remote";

fn prerequisites(test: &str) -> bool {
    let mut missing = Vec::new();
    for p in [
        "/usr/bin/fail2ban-regex",
        "/usr/bin/python3",
        REMOTE,
        "/etc/fail2ban/filter.d/sshd.conf",
    ] {
        if !Path::new(p).exists() {
            missing.push(p.to_string());
        }
    }
    let py = Command::new("/usr/bin/python3")
        .args(["-c", "import systemd.journal"])
        .output();
    if !py.is_ok_and(|o| o.status.success()) {
        missing.push("python3-systemd".into());
    }
    if !bailiff_source::journal::available() {
        missing.push("libsystemd.so.0".into());
    }
    if missing.is_empty() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: CI=true but missing {missing:?}");
    }
    eprintln!("SKIPPED: {test}: missing {missing:?}");
    false
}

/// `2026-11-23T10:01:26.788951+00:00 host prog[pid]: message` → journal export entry.
fn export_entry(line: &str, seq: usize) -> Option<String> {
    let (ts, rest) = line.split_once(' ')?;
    let (host, rest) = rest.split_once(' ')?;
    let (tag, msg) = rest.split_once(": ")?;
    let (prog, pid) = match tag.split_once('[') {
        Some((p, pid)) => (p, Some(pid.trim_end_matches(']'))),
        None => (tag, None),
    };
    let t = jiff::Timestamp::strptime("%Y-%m-%dT%H:%M:%S%.f%:z", ts).ok()?;
    let mut e = format!(
        "__REALTIME_TIMESTAMP={}\n__MONOTONIC_TIMESTAMP={}\n_BOOT_ID=0123456789abcdef0123456789abcdef\n\
         _HOSTNAME={host}\nSYSLOG_IDENTIFIER={prog}\n_COMM={prog}\nMESSAGE={msg}\n",
        t.as_microsecond(),
        1000 + seq * 1000
    );
    if let Some(pid) = pid {
        e.push_str(&format!("_PID={pid}\nSYSLOG_PID={pid}\n"));
    }
    Some(e)
}

fn ours(args: &[&str]) -> String {
    let mut argv = vec!["bailiff-regex"];
    argv.extend_from_slice(args);
    let parsed = RegexArgs::try_parse_from(&argv).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run(&parsed, &mut out, &mut err).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert_eq!(code, 0);
    String::from_utf8(out).unwrap()
}

fn reference(args: &[&str]) -> String {
    let out = Command::new("fail2ban-regex").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn without_timing(s: &str) -> String {
    s.lines()
        .filter(|l| !l.starts_with("[processed in "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn journal_input_matches_fail2ban_regex() {
    let test = "journal_input_matches_fail2ban_regex";
    if !prerequisites(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let end = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 7200;
    let gen = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/regex-throughput-genlog.py");
    let log = Command::new("/usr/bin/python3")
        .arg(gen)
        .args([
            "--kind",
            "sshd",
            "--lines",
            "2000",
            "--seed",
            "21",
            "--end",
            &end.to_string(),
        ])
        .output()
        .unwrap();
    assert!(log.status.success());
    let text = String::from_utf8(log.stdout).unwrap();
    let export: String = text
        .lines()
        .enumerate()
        .filter_map(|(i, l)| export_entry(l, i))
        .collect::<Vec<_>>()
        .join("\n");
    let src = dir.path().join("in.export");
    std::fs::write(&src, export + "\n").unwrap();
    let journal = dir.path().join("sshd.journal");
    let st = Command::new(REMOTE)
        .arg(format!("--output={}", journal.display()))
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );

    let spec = format!("systemd-journal[journalfiles={}]", journal.display());
    for filter in ["sshd", "sshd[mode=aggressive]"] {
        let args = ["-o", "<time> <ip> <F-USER>", spec.as_str(), filter];
        let want = reference(&args);
        assert!(
            want.lines().count() > 100,
            "the journal should produce failures"
        );
        assert_eq!(ours(&args), want, "-o output differs for {filter}");
        let args = [spec.as_str(), filter];
        assert_eq!(
            without_timing(&ours(&args)),
            without_timing(&reference(&args)),
            "report differs for {filter}"
        );
    }
}
