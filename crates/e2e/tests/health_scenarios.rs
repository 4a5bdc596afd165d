//! Issue 7's quiet failures, made for real against the running `bailiff server`
//! binary on a copy of the stock `/etc/fail2ban`: real log files, the real control
//! socket, and the answers of `bailiff client status sshd`, `bailiff client --json
//! status sshd` and `bailiff client health` (exit 1 while unhealthy). Each test
//! creates one failure, sees its warning with the fix, repairs the cause and sees
//! the warning clear:
//!
//! - format drift: sshd's lines gain a new daemon name (`sshd-session`), so the
//!   stock filter stops matching while the log keeps growing;
//! - date skew: the log is written in a zone five hours behind the daemon's,
//!   without `logtimezone`; fixed by `logtimezone` and a reload;
//! - possible NAT: one address fails with many users; cleared by `ignoreip` and a
//!   reload (the window is an hour), or by the window passing;
//! - journal not read: the jail reads a file while journal files (written by
//!   `systemd-journal-remote`, pointed at by `health_journal_files`) hold sshd's
//!   entries; fixed by `backend = systemd` and a reload.
//!
//! The jails have no action (nothing touches the host's firewall) and the
//! thresholds are the bailiff-only `health_*` options of `fail2ban.local`, set
//! short so the tests take seconds. Needs the stock configuration (package
//! fail2ban) and, for the journal, `systemd-journal-remote` and libsystemd: with
//! CI=true they must be there; elsewhere the test says SKIPPED.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bailiff_e2e::{require_bailiff_bin, skip_or_fail, wait_until};

const REMOTE: &str = "/lib/systemd/systemd-journal-remote";
/// Generous: a loaded CI machine polls slowly.
const WAIT: Duration = Duration::from_secs(30);

/// The real daemon in the host's network namespace on a temporary copy of the
/// stock configuration (its jails have no actions).
struct Host {
    dir: tempfile::TempDir,
    bin: PathBuf,
    child: Option<Child>,
}

impl Host {
    /// `fail2ban.local` gets the temp paths plus `options`; `jail.local` is
    /// `jail_local` with `{dir}` replaced. None after a loud skip.
    fn new(options: &str, jail_local: &str) -> Option<Host> {
        if !Path::new("/etc/fail2ban/jail.conf").is_file() {
            skip_or_fail("the stock configuration /etc/fail2ban is missing (package fail2ban)");
            return None;
        }
        let bin = require_bailiff_bin();
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("conf");
        let st = Command::new("cp")
            .args(["-r", "/etc/fail2ban"])
            .arg(&conf)
            .status()
            .unwrap();
        assert!(st.success(), "copying /etc/fail2ban");
        let _ = std::fs::remove_dir_all(conf.join("jail.d"));
        let d = dir.path().display().to_string();
        std::fs::write(
            conf.join("fail2ban.local"),
            format!(
                "[Definition]\nloglevel = INFO\nlogtarget = {d}/bailiff.log\n\
                 socket = {d}/bailiff.sock\npidfile = {d}/bailiff.pid\n\
                 dbfile = {d}/bailiff.sqlite3\n{}\n",
                options.replace("{dir}", &d)
            ),
        )
        .unwrap();
        std::fs::write(dir.path().join("auth.log"), "").unwrap();
        let h = Host {
            dir,
            bin,
            child: None,
        };
        h.jail_local(jail_local);
        Some(h)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn jail_local(&self, text: &str) {
        let d = self.dir.path().display().to_string();
        std::fs::write(
            self.path("conf").join("jail.local"),
            text.replace("{dir}", &d),
        )
        .unwrap();
    }

    fn start(&mut self) {
        let child = Command::new(&self.bin)
            .args(["server", "-f", "-x", "-c"])
            .arg(self.path("conf"))
            .arg("-s")
            .arg(self.path("bailiff.sock"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        self.child = Some(child);
        assert!(
            wait_until(Duration::from_secs(20), || self.client(&["ping"]).0 == 0),
            "the daemon did not answer ping; its log:\n{}",
            self.log()
        );
    }

    /// `bailiff client -c CONF -s SOCK ARGS`: exit code, stdout and stderr.
    fn client(&self, args: &[&str]) -> (i32, String) {
        let o = Command::new(&self.bin)
            .arg("client")
            .arg("-c")
            .arg(self.path("conf"))
            .arg("-s")
            .arg(self.path("bailiff.sock"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
        s.push_str(&String::from_utf8_lossy(&o.stderr));
        (o.status.code().unwrap_or(-1), s)
    }

    fn health(&self) -> (i32, String) {
        self.client(&["health"])
    }

    fn reload(&self) {
        let (code, out) = self.client(&["reload"]);
        assert_eq!(code, 0, "reload: {out}");
    }

    fn append(&self, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.path("auth.log"))
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("bailiff.log")).unwrap_or_default()
    }

    /// Wait until `client health` says unhealthy with `code` (and each of `words`)
    /// in its text, `status sshd` shows the same warning and `--json status sshd`
    /// carries its code; returns the health text.
    fn expect_warning(&self, code: &str, words: &[&str]) -> String {
        let ok = wait_until(WAIT, || {
            let (rc, text) = self.health();
            rc == 1 && text.contains(code)
        });
        let (rc, text) = self.health();
        assert!(
            ok,
            "no {code} warning (exit {rc}):\n{text}\ndaemon log:\n{}",
            self.log()
        );
        assert!(text.contains("sshd: UNHEALTHY"), "{text}");
        assert!(text.contains("fix: "), "{text}");
        for w in words {
            assert!(text.contains(w), "{code}: {w:?} missing in:\n{text}");
        }
        let (rc, status) = self.client(&["status", "sshd"]);
        assert_eq!(rc, 0, "{status}");
        assert!(
            status.contains("UNHEALTHY") && status.contains(code) && status.contains("Fix: "),
            "status sshd:\n{status}"
        );
        let (rc, json) = self.client(&["--json", "status", "sshd"]);
        assert_eq!(rc, 0, "{json}");
        assert!(json.contains(code), "--json status sshd:\n{json}");
        let (rc, json) = self.client(&["health", "--json"]);
        assert_eq!(rc, 1, "{json}");
        assert!(
            json.contains(&format!("\"code\": \"{code}\"")),
            "health --json:\n{json}"
        );
        eprintln!("--- {code}\n{text}");
        text
    }

    /// Wait until `client health` exits 0 without `code`.
    fn expect_cleared(&self, code: &str) {
        let ok = wait_until(WAIT, || {
            let (rc, text) = self.health();
            rc == 0 && !text.contains(code)
        });
        let (rc, text) = self.health();
        assert!(
            ok,
            "{code} did not clear (exit {rc}):\n{text}\ndaemon log:\n{}",
            self.log()
        );
        let (_, status) = self.client(&["status", "sshd"]);
        assert!(
            !status.contains(code) && status.contains("healthy"),
            "status sshd:\n{status}"
        );
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The sshd jail of the stock configuration on `{dir}/auth.log`, with no action
/// (`backend = polling` unless `extra` sets it).
fn sshd_jail(extra: &str) -> String {
    let backend = if extra.contains("backend") {
        ""
    } else {
        "backend = polling\n"
    };
    format!(
        "[sshd]\nenabled = true\nport = 22\nlogpath = {{dir}}/auth.log\n{backend}\
         maxretry = 100000\naction =\n{extra}\n"
    )
}

/// A syslog line of sshd stamped with `t` as read in `zone`.
fn sshd_line(t: &jiff::Timestamp, zone: &jiff::tz::TimeZone, daemon: &str, rest: &str) -> String {
    format!(
        "{} host {daemon}[4242]: {rest}\n",
        t.to_zoned(zone.clone()).strftime("%b %e %H:%M:%S")
    )
}

fn here() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::system()
}

#[test]
fn format_drift_warns_while_nothing_matches_and_clears_when_lines_match() {
    let Some(mut h) = Host::new(
        "health_drift_after = 2\nhealth_drift_lines = 20",
        &sshd_jail(""),
    ) else {
        return;
    };
    h.start();
    let now = jiff::Timestamp::now;
    let fail = "Failed password for root from 192.0.2.7 port 22 ssh2";
    let mut text = String::new();
    for _ in 0..3 {
        text.push_str(&sshd_line(&now(), &here(), "sshd", fail));
    }
    h.append(&text);
    assert!(
        wait_until(WAIT, || h.log().contains("Found 192.0.2.7")),
        "{}",
        h.log()
    );
    assert_eq!(h.health().0, 0, "{}", h.health().1);
    // An update renames the daemon in the log: the stock filter matches nothing.
    let mut text = String::new();
    for _ in 0..30 {
        text.push_str(&sshd_line(&now(), &here(), "sshd-session", fail));
    }
    h.append(&text);
    let msg = h.expect_warning(
        "format-drift",
        &[
            "30 lines were read since the filter last matched",
            "none matched",
            "bailiff regex",
        ],
    );
    assert!(!msg.contains("source-down"), "{msg}");
    // The log keeps growing the new way: still drift.
    h.append(&sshd_line(&now(), &here(), "sshd-session", fail));
    assert!(wait_until(WAIT, || h.health().1.contains("31 lines")));
    // Lines match again (the filter or the daemon fixed): cleared.
    h.append(&sshd_line(&now(), &here(), "sshd", fail));
    h.expect_cleared("format-drift");
}

#[test]
fn date_skew_names_the_offset_and_clears_with_logtimezone() {
    let Some(mut h) = Host::new("health_skew_lines = 3", &sshd_jail("")) else {
        return;
    };
    h.start();
    // The logging host runs five hours behind this one, and nobody said so.
    let here_off = jiff::Timestamp::now().to_zoned(here()).offset().seconds();
    let there_off = here_off - 5 * 3600;
    let there = jiff::tz::TimeZone::fixed(jiff::tz::Offset::from_seconds(there_off).unwrap());
    let zone_name = {
        let m = there_off.abs() / 60;
        let sign = if there_off < 0 { '-' } else { '+' };
        format!("UTC{sign}{:02}{:02}", m / 60, m % 60)
    };
    let lines = |n: usize| {
        (0..n)
            .map(|i| {
                sshd_line(
                    &jiff::Timestamp::now(),
                    &there,
                    "sshd",
                    &format!(
                        "Failed password for root from 192.0.2.{} port 22 ssh2",
                        20 + i
                    ),
                )
            })
            .collect::<String>()
    };
    h.append(&lines(5));
    let msg = h.expect_warning("date-skew", &["5 h behind", "logtimezone"]);
    if here_off == 0 {
        assert!(msg.contains("logtimezone = UTC-0500"), "{msg}");
    }
    // The failures were read but fell outside findtime: nothing counted.
    assert!(!h.log().contains("Found 192.0.2.20"), "{}", h.log());
    h.jail_local(&sshd_jail(&format!("logtimezone = {zone_name}")));
    h.reload();
    h.append(&lines(5));
    // Read right now: the same lines count as failures...
    assert!(
        wait_until(WAIT, || h.log().contains("Found 192.0.2.24")),
        "{}",
        h.log()
    );
    // ...and their dates are near the clock.
    h.expect_cleared("date-skew");
    let (_, json) = h.client(&["health", "--json"]);
    let offset: f64 = json
        .split("\"date_offset\": ")
        .nth(1)
        .and_then(|r| r.split([',', '\n']).next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no date_offset in {json}"));
    assert!(offset.abs() < 60.0, "{offset} s off after the fix:\n{json}");
}

/// Six failures from `addr`, each with another user name.
fn many_users(addr: &str) -> String {
    (0..6)
        .map(|i| {
            sshd_line(
                &jiff::Timestamp::now(),
                &here(),
                "sshd",
                &format!("Failed password for invalid user staff{i} from {addr} port 22 ssh2"),
            )
        })
        .collect()
}

#[test]
fn possible_nat_clears_when_the_gateway_goes_to_ignoreip() {
    // The default window (an hour): only ignoreip can clear it within the test.
    let Some(mut h) = Host::new("health_nat_users = 5", &sshd_jail("")) else {
        return;
    };
    h.start();
    h.append(&many_users("198.51.100.10"));
    h.expect_warning(
        "possible-nat",
        &["198.51.100.10", "6 distinct users", "ignoreip"],
    );
    // The office gateway goes to ignoreip (reload, the jail updated in place).
    h.jail_local(&sshd_jail("ignoreip = 127.0.0.1/8 198.51.100.10"));
    h.reload();
    h.expect_cleared("possible-nat");
    // Its later failures are not suspected either.
    h.append(&many_users("198.51.100.10"));
    assert!(wait_until(WAIT, || h
        .client(&["status", "sshd"])
        .1
        .contains("12 / 12 / 0")));
    let (rc, text) = h.health();
    assert!(rc == 0 && !text.contains("possible-nat"), "{text}");
}

#[test]
fn possible_nat_ages_out_when_the_window_passes() {
    let Some(mut h) = Host::new(
        "health_nat_users = 5\nhealth_nat_window = 10",
        &sshd_jail(""),
    ) else {
        return;
    };
    h.start();
    h.append(&many_users("198.51.100.20"));
    h.expect_warning("possible-nat", &["198.51.100.20"]);
    h.expect_cleared("possible-nat");
}

/// Write `entries` (time in µs, MESSAGE) of sshd.service as a journal file with
/// systemd-journal-remote from the export format.
fn write_journal(out: &Path, entries: &[(u64, String)]) {
    let mut export = Vec::new();
    for (i, (usec, msg)) in entries.iter().enumerate() {
        export.extend_from_slice(
            format!(
                "__REALTIME_TIMESTAMP={usec}\n__MONOTONIC_TIMESTAMP={}\n\
                 _BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=host\n\
                 _SYSTEMD_UNIT=sshd.service\n_COMM=sshd\nSYSLOG_IDENTIFIER=sshd\n\
                 _PID=4242\nMESSAGE={msg}\n\n",
                1_000_000 + i
            )
            .as_bytes(),
        );
    }
    let mut child = Command::new(REMOTE)
        .arg(format!("--output={}", out.display()))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&export).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "journal-remote: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn journal_not_read_warns_until_the_jail_reads_the_journal() {
    if !Path::new(REMOTE).is_file() || !libsystemd() {
        skip_or_fail(&format!(
            "needs {REMOTE} (package systemd-journal-remote) and libsystemd.so.0"
        ));
        return;
    }
    let Some(mut h) = Host::new(
        "health_journal_check = 1\nhealth_journal_files = {dir}/journal/*.journal",
        &sshd_jail(""),
    ) else {
        return;
    };
    std::fs::create_dir_all(h.path("journal")).unwrap();
    let journal = h.path("journal/remote.journal");
    // sshd's entries go to the journal only (no syslog daemon writes auth.log).
    // Stamped five seconds ahead: the file is complete before the cross-check's
    // interval that holds them ends, even when journal-remote runs slowly.
    let entries = |first: usize| -> Vec<(u64, String)> {
        let now = jiff::Timestamp::now().as_microsecond() as u64 + 5_000_000;
        (0..8)
            .map(|i| {
                (
                    now + i as u64,
                    format!(
                        "Failed password for root from 192.0.2.{} port 22 ssh2",
                        first + i
                    ),
                )
            })
            .collect()
    };
    h.start();
    // The cross-check's first interval starts once the jail runs.
    std::thread::sleep(Duration::from_millis(1500));
    write_journal(&journal, &entries(100));
    let msg = h.expect_warning(
        "journal-not-read",
        &["sshd.service", "8 entries", "0 lines", "backend = systemd"],
    );
    assert!(msg.contains("in the last"), "{msg}");
    assert!(
        h.log().contains("WARNING") && h.log().contains("the journal held 8 entries"),
        "{}",
        h.log()
    );
    // The fix: the jail reads the journal (here: those files).
    h.jail_local(&sshd_jail(
        "backend = systemd[journalfiles={dir}/journal/*.journal]",
    ));
    h.reload();
    h.expect_cleared("journal-not-read");
    // And it reads sshd's failures from there.
    write_journal(&journal, &entries(150));
    assert!(
        wait_until(WAIT, || h.log().contains("Found 192.0.2.150")),
        "{}",
        h.log()
    );
    assert_eq!(h.health().0, 0, "{}", h.health().1);
}

fn libsystemd() -> bool {
    [
        "/lib/x86_64-linux-gnu/libsystemd.so.0",
        "/usr/lib/x86_64-linux-gnu/libsystemd.so.0",
        "/lib/aarch64-linux-gnu/libsystemd.so.0",
        "/usr/lib/aarch64-linux-gnu/libsystemd.so.0",
    ]
    .iter()
    .any(|p| Path::new(p).exists())
}

#[test]
fn a_journal_backlog_read_at_start_is_not_date_skew() {
    if !Path::new(REMOTE).is_file() || !libsystemd() {
        skip_or_fail(&format!(
            "needs {REMOTE} (package systemd-journal-remote) and libsystemd.so.0"
        ));
        return;
    }
    let Some(mut h) = Host::new(
        "health_skew_lines = 3",
        &sshd_jail("backend = systemd[journalfiles={dir}/journal/*.journal]\nfindtime = 1h"),
    ) else {
        return;
    };
    std::fs::create_dir_all(h.path("journal")).unwrap();
    // Entries of the last 40 minutes, there before the daemon starts: read at start
    // (within findtime), so they are 40 minutes old when read, rightly.
    let then = jiff::Timestamp::now().as_microsecond() as u64 - 40 * 60 * 1_000_000;
    let entries: Vec<(u64, String)> = (0..10)
        .map(|i| {
            (
                then + i * 1_000_000,
                format!(
                    "Failed password for root from 192.0.2.{} port 22 ssh2",
                    60 + i
                ),
            )
        })
        .collect();
    write_journal(&h.path("journal/remote.journal"), &entries);
    h.start();
    assert!(
        wait_until(WAIT, || h.log().contains("Found 192.0.2.69")),
        "{}",
        h.log()
    );
    let (rc, text) = h.health();
    assert_eq!(rc, 0, "{text}");
    assert!(!text.contains("date-skew"), "{text}");
    let (_, status) = h.client(&["status", "sshd"]);
    assert!(status.contains("10 / 10 / 0"), "{status}");
    // A journal entry's time is its date: no line counts as undated.
    let (_, json) = h.client(&["health", "--json"]);
    assert!(json.contains("\"nodate\": 0,"), "{json}");
}
