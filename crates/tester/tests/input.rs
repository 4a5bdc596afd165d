//! End-to-end runs of `bailiff regex` on awkward input (CRLF, NULs, invalid UTF-8,
//! a 1 MB line, comments), `--json` output, and `-o` on literal input. Where the
//! reference fail2ban-regex is installed, its `-o` output on the same file is
//! compared too.

use std::io::Write as _;
use std::path::Path;
use std::process::Command;

use bailiff_tester::{run, RegexArgs};
use clap::Parser;
use serde_json::Value;

const REGEX: &str =
    r"Failed password for (?:invalid user )?<F-USER>\S*</F-USER> from <HOST> port \d+";
/// 2024-01-02 03:04:05 UTC.
const T0: i64 = 1_704_164_645;

fn ours(args: &[&str]) -> (String, String) {
    let mut argv = vec!["bailiff-regex"];
    argv.extend_from_slice(args);
    let parsed = RegexArgs::try_parse_from(&argv).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run(&parsed, &mut out, &mut err).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert_eq!(code, 0);
    (
        String::from_utf8(out).unwrap(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

fn reference(args: &[&str]) -> Option<String> {
    if !Path::new("/usr/bin/fail2ban-regex").exists() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but fail2ban-regex is not installed");
        }
        eprintln!("SKIPPED (reference part): fail2ban-regex is not installed");
        return None;
    }
    let out = Command::new("fail2ban-regex").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// An auth log with hostile bytes; returns the file and the (ip, user) pairs that
/// must come out, in order.
fn awkward_log(dir: &Path) -> (std::path::PathBuf, Vec<(String, String)>) {
    let mut bytes: Vec<u8> = Vec::new();
    let mut want = Vec::new();
    let line = |b: &mut Vec<u8>, sec: u32, body: &[u8], end: &[u8]| {
        b.extend_from_slice(format!("2024-01-02 03:04:{sec:02} ").as_bytes());
        b.extend_from_slice(body);
        b.extend_from_slice(end);
    };
    line(
        &mut bytes,
        5,
        b"Failed password for root from 192.0.2.1 port 22 ssh2",
        b"\r\n",
    );
    want.push(("192.0.2.1".to_string(), "root".to_string()));
    bytes.extend_from_slice(b"# a comment line\n\n\r\n");
    // A NUL inside the user name (not whitespace, so `\S*` takes it); templates
    // show it escaped.
    line(
        &mut bytes,
        6,
        b"Failed password for invalid user a\0b from 192.0.2.2 port 22",
        b"\n",
    );
    want.push(("192.0.2.2".to_string(), "a\\x00b".to_string()));
    // Invalid UTF-8 in the user name: the bytes become U+FFFD.
    line(
        &mut bytes,
        7,
        b"Failed password for invalid user x\xff\xfey from 192.0.2.3 port 22",
        b"\n",
    );
    want.push(("192.0.2.3".to_string(), "x\u{fffd}\u{fffd}y".to_string()));
    // A 1 MB line that matches nothing, then a matching one.
    let mut big = b"Something else entirely ".to_vec();
    big.resize(1 << 20, b'z');
    line(&mut bytes, 8, &big, b"\n");
    line(
        &mut bytes,
        9,
        b"Failed password for bob from 2001:db8::9 port 22 ssh2",
        b"\r\n",
    );
    want.push(("2001:db8::9".to_string(), "bob".to_string()));
    // A last line without its newline is still being written: not read (as the
    // reference does).
    line(
        &mut bytes,
        10,
        b"Failed password for eve from 198.51.100.4 port 2222",
        b"",
    );
    let path = dir.join("awkward.log");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(&bytes)
        .unwrap();
    (path, want)
}

#[test]
fn awkward_bytes_are_tolerated() {
    let dir = tempfile::tempdir().unwrap();
    let (path, want) = awkward_log(dir.path());
    let p = path.to_str().unwrap();
    let (out, _) = ours(&["--timezone", "UTC", "-o", "<ip>|<F-USER>", p, REGEX]);
    let got: Vec<(String, String)> = out
        .lines()
        .map(|l| {
            let (a, b) = l.split_once('|').unwrap();
            (a.to_string(), b.to_string())
        })
        .collect();
    assert_eq!(got, want);
    if let Some(r) = reference(&["--timezone", "UTC", "-o", "<ip>|<F-USER>", p, REGEX]) {
        assert_eq!(out, r, "reference differs");
    }
    // The summary counts every tested line: 5 complete dated lines, comments and
    // blanks skipped.
    let (report, _) = ours(&["--timezone", "UTC", p, REGEX]);
    assert!(
        report.contains("\nLines: 5 lines, 0 ignored, 4 matched, 1 missed\n"),
        "{report}"
    );
}

#[test]
fn json_lines_carry_the_results() {
    let log = "2024-01-02 03:04:05 Failed password for root from 192.0.2.1 port 22\n\
               2024-01-02 03:04:06 nothing here\n\
               2024-01-02 03:04:07 Failed password for invalid user ann from 192.0.2.7 port 2200\n\
               2024-01-02 03:04:08 Failed password for joe from 192.0.2.8 port 22";
    let (out, err) = ours(&["--timezone", "UTC", "--json", log, REGEX, "joe"]);
    let objs: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objs.len(), 3, "{out}");
    assert_eq!(objs[0]["line"], 1);
    assert_eq!(objs[0]["kind"], "fail");
    assert_eq!(objs[0]["id"], "192.0.2.1");
    assert_eq!(objs[0]["time"].as_f64(), Some(T0 as f64));
    assert_eq!(objs[0]["regex"], 0);
    assert_eq!(objs[0]["fields"]["user"], "root");
    assert_eq!(objs[0]["matches"][0], log.lines().next().unwrap());
    assert_eq!(objs[1]["line"], 3);
    assert_eq!(objs[1]["fields"]["user"], "ann");
    assert_eq!(objs[1]["time"].as_f64(), Some((T0 + 2) as f64));
    assert_eq!(objs[2]["line"], 4);
    assert_eq!(objs[2]["kind"], "ignored");
    // The summary goes to stderr.
    assert!(
        err.contains("Lines: 4 lines, 1 ignored, 2 matched, 1 missed"),
        "{err}"
    );
}

#[test]
fn literal_multi_line_input_and_out_tokens() {
    let log = "2024-01-02 03:04:05 Failed password for root from 192.0.2.1 port 22\n\
               2024-01-02 03:04:07 Failed password for invalid user ann from 192.0.2.7 port 2200";
    let (ids, _) = ours(&["-o", "id", log, REGEX]);
    assert_eq!(ids, "192.0.2.1\n192.0.2.7\n");
    let (users, _) = ours(&["-o", "user", log, REGEX]);
    assert_eq!(users, "root\nann\n");
    let (msgs, _) = ours(&["-o", "msg", log, REGEX]);
    assert_eq!(msgs, format!("{log}\n"));
    let (times, _) = ours(&["--timezone", "UTC", "-o", "<time>", log, REGEX]);
    assert_eq!(times, format!("{}\n{}\n", T0, T0 + 2));
    let (report, _) = ours(&[log, REGEX]);
    assert!(
        report.contains("Use      multi line : 2 line(s)"),
        "{report}"
    );
    assert!(report.contains("|   1) [2] Failed password"), "{report}");
}

#[test]
fn a_filter_file_with_several_ignoreregexes() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("mine.conf");
    std::fs::write(
        &conf,
        "[Definition]\nfailregex = ^ fail from <HOST>\nignoreregex = from 10\\.\n              from 192\\.168\\.\n",
    )
    .unwrap();
    let log = "2024-01-02 03:04:05 fail from 10.0.0.1\n\
               2024-01-02 03:04:06 fail from 192.168.1.1\n\
               2024-01-02 03:04:07 fail from 192.168.1.2\n\
               2024-01-02 03:04:08 fail from 198.51.100.4";
    let (report, _) = ours(&[log, conf.to_str().unwrap()]);
    assert!(
        report.contains(&format!("Use   failregex file : {}", conf.display())),
        "{report}"
    );
    assert!(
        report.contains("\nIgnoreregex: 3 total\n|-  #) [# of hits] regular expression\n|   1) [1] from 10\\.\n|   2) [2] from 192\\.168\\.\n`-\n"),
        "{report}"
    );
    assert!(
        report.contains("\nLines: 4 lines, 3 ignored, 1 matched, 0 missed\n"),
        "{report}"
    );
    let (ids, _) = ours(&["-o", "id", log, conf.to_str().unwrap()]);
    assert_eq!(ids, "198.51.100.4\n");
}

#[test]
fn now_sets_the_year_of_year_less_dates() {
    let log = "Jan  2 03:04:05 host sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2";
    // 2024-06-01 and 2025-06-01, 00:00 UTC.
    for (now, year_start) in [
        ("1717200000", 1_704_067_200i64),
        ("1748736000", 1_735_689_600i64),
    ] {
        let (out, _) = ours(&[
            "--now",
            now,
            "--timezone",
            "UTC",
            "-o",
            "<time>",
            log,
            REGEX,
        ]);
        // Jan 2, 03:04:05 of the year of --now.
        let want = year_start + 86_400 + 3 * 3600 + 4 * 60 + 5;
        assert_eq!(out, format!("{want}\n"), "--now {now}");
    }
}

/// A line that can be read with either of two addresses as the host (an attacker
/// can write `rhost=...` into a field) is no failure for bailiff: `-o` prints
/// nothing for it, the report counts it missed and lists it with its addresses,
/// `--json` reports it as `ambiguous`.
#[test]
fn ambiguous_hosts_are_shown_not_banned() {
    let log =
        "2024-01-02 03:04:05 auth failure; user=x rhost=192.0.2.2 user=test rhost=192.0.2.152\n\
               2024-01-02 03:04:06 auth failure; user=y rhost=192.0.2.7";
    let regex = "rhost=<HOST>";
    let (ids, _) = ours(&["-o", "id", log, regex]);
    assert_eq!(ids, "192.0.2.7\n");
    let (report, _) = ours(&[log, regex]);
    assert!(
        report.contains("\nLines: 2 lines, 0 ignored, 1 matched, 1 missed\n"),
        "{report}"
    );
    assert!(
        report.contains("\n|      addresses: 192.0.2.2, 192.0.2.152 (readings)\n`-\n"),
        "{report}"
    );
    let (json, _) = ours(&["--json", log, regex]);
    let first: Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(first["kind"], "ambiguous");
    assert_eq!(
        first["candidates"],
        serde_json::json!(["192.0.2.2", "192.0.2.152"])
    );
}
