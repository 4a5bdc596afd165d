//! End-to-end tests of `bailiff server` with `backend = systemd`: the real binary,
//! its real control socket and real journal files, written while it runs by
//! `systemd-journal-remote` from journal export format (no journald needed).
//!
//! Also the socket commands that change a running source (`addjournalmatch`,
//! `deljournalmatch`, `logencoding`) and the `status JAIL FLAVOR` answers, the
//! latter against the real `fail2ban-server` on the same configuration.
//!
//! The jails use fail2ban's stock `sshd` filter (copied at run time from
//! `/etc/fail2ban/filter.d`, with its `journalmatch`) and an action that appends
//! `ban <ip> <restored>` / `unban <ip>` to a file. Tests that need a tool that is
//! missing fail in CI (`CI=true`) and print `SKIPPED: ...` elsewhere.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod common;
use common::{find, wait_for};

const BIN: &str = env!("CARGO_BIN_EXE_bailiff");
const REMOTE: &str = "/lib/systemd/systemd-journal-remote";
const STOCK_FILTERS: &str = "/etc/fail2ban/filter.d";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// `ok`, or the test is skipped outside CI (and fails in CI) with `why`.
fn require(test: &str, ok: bool, why: &str) -> bool {
    if !ok {
        let msg = format!("{test}: {why}");
        if in_ci() {
            panic!("{msg}");
        }
        eprintln!("SKIPPED: {msg}");
    }
    ok
}

/// The journal writer, libsystemd and fail2ban's stock sshd filter are there.
fn journal_tools(test: &str) -> bool {
    require(
        test,
        Path::new(REMOTE).exists() && bailiff_source::journal::available(),
        "needs systemd-journal-remote and libsystemd0 (scripts/install-deps.sh)",
    ) && require(
        test,
        Path::new(STOCK_FILTERS).join("sshd.conf").exists(),
        "needs fail2ban's stock filters in /etc/fail2ban/filter.d (package fail2ban)",
    )
}

fn now_usec() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// One journal entry: the unit and command it came from, and its message (raw bytes,
/// so that a test can write text in another encoding). Its line always reads
/// `web1 sshd[1234]: MESSAGE` (`SYSLOG_IDENTIFIER=sshd`), so the filter would take
/// it: only the `journalmatch` (on `_SYSTEMD_UNIT` and `_COMM`) keeps it out.
struct Entry {
    unit: &'static str,
    comm: &'static str,
    message: Vec<u8>,
}

fn sshd(msg: impl Into<Vec<u8>>) -> Entry {
    Entry {
        unit: "sshd.service",
        comm: "sshd",
        message: msg.into(),
    }
}

/// An entry from another unit and command (that writes sshd-like lines).
fn cron(msg: impl Into<Vec<u8>>) -> Entry {
    Entry {
        unit: "cron.service",
        comm: "cron",
        message: msg.into(),
    }
}

fn failed(ip: &str) -> String {
    format!("Failed password for root from {ip} port 22 ssh2")
}

/// Appends `entries` (timed `offset_secs` from now, a microsecond apart) to the
/// journal file `file` with systemd-journal-remote reading export format on stdin.
fn write_journal(file: &Path, offset_secs: i64, entries: &[Entry]) {
    write_journal_at(
        file,
        (now_usec() as i64 + offset_secs * 1_000_000) as u64,
        entries,
    )
}

/// [`write_journal`] with the first entry's time in microseconds.
fn write_journal_at(file: &Path, base: u64, entries: &[Entry]) {
    let mut export = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let usec = base + i as u64;
        export.extend_from_slice(format!("__REALTIME_TIMESTAMP={usec}\n").as_bytes());
        export.extend_from_slice(
            format!("__MONOTONIC_TIMESTAMP={}\n", usec % 1_000_000_000_000).as_bytes(),
        );
        export.extend_from_slice(b"_BOOT_ID=0123456789abcdef0123456789abcdef\n");
        for (k, v) in [
            ("_HOSTNAME", "web1"),
            ("_SYSTEMD_UNIT", e.unit),
            ("_COMM", e.comm),
            ("SYSLOG_IDENTIFIER", "sshd"),
            ("_PID", "1234"),
        ] {
            export.extend_from_slice(format!("{k}={v}\n").as_bytes());
        }
        // The binary-safe form (name, newline, little-endian length, data) takes any
        // bytes.
        export.extend_from_slice(b"MESSAGE\n");
        export.extend_from_slice(&(e.message.len() as u64).to_le_bytes());
        export.extend_from_slice(&e.message);
        export.extend_from_slice(b"\n\n");
    }
    let mut child = Command::new(REMOTE)
        .arg(format!("--output={}", file.display()))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&export).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "systemd-journal-remote: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Env {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Env {
    /// A configuration directory with fail2ban's stock `sshd` filter (and
    /// `common.conf`), a `record` action, and `jails` as the jail.conf body after a
    /// `[DEFAULT]` section. `@D@` in `jails` and `extra_filters` is the test directory.
    fn new(jails: &str, extra_filters: &[(&str, &str)]) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        let conf = p.join("conf");
        std::fs::create_dir_all(conf.join("filter.d")).unwrap();
        std::fs::create_dir_all(conf.join("action.d")).unwrap();
        std::fs::create_dir_all(p.join("journal")).unwrap();
        let d = p.display().to_string();
        for f in ["sshd.conf", "common.conf"] {
            std::fs::copy(
                Path::new(STOCK_FILTERS).join(f),
                conf.join("filter.d").join(f),
            )
            .unwrap();
        }
        for (name, body) in extra_filters {
            std::fs::write(
                conf.join("filter.d").join(format!("{name}.conf")),
                body.replace("@D@", &d),
            )
            .unwrap();
        }
        std::fs::write(
            conf.join("fail2ban.conf"),
            format!(
                "[Definition]\nloglevel = INFO\nlogtarget = {d}/bailiff.log\nsocket = {d}/b.sock\n\
                 pidfile = {d}/b.pid\ndbfile = {d}/b.sqlite3\ndbpurgeage = 1d\n"
            ),
        )
        .unwrap();
        std::fs::write(
            conf.join("action.d/record.conf"),
            format!(
                "[Definition]\nactionstart =\nactionstop =\n\
                 actionban = echo ban <name> <ip> <restored> >> {d}/actions.txt\n\
                 actionunban = echo unban <name> <ip> >> {d}/actions.txt\n"
            ),
        )
        .unwrap();
        std::fs::write(
            conf.join("jail.conf"),
            format!(
                "[DEFAULT]\nbantime = 600\nfindtime = 600\nmaxretry = 2\naction = record\n\n{}\n",
                jails.replace("@D@", &d)
            ),
        )
        .unwrap();
        Env { dir, child: None }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The journal file the jails read (`journalfiles=@D@/journal/x.journal`).
    fn jfile(&self) -> PathBuf {
        self.path("journal/x.journal")
    }

    fn sock(&self) -> PathBuf {
        self.path("b.sock")
    }

    fn start(&mut self) {
        self.start_with(&[]);
    }

    /// Start the server in the foreground, under a command prefix if given.
    fn start_with(&mut self, prefix: &[&str]) {
        let mut cmd = match prefix.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(BIN);
                c
            }
            None => Command::new(BIN),
        };
        let child = cmd
            .args(["server", "-f", "-x", "-c"])
            .arg(self.path("conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        self.child = Some(child);
        wait_for("the socket answers", Duration::from_secs(20), || {
            self.client(&["ping"]).0 == 0
        });
    }

    fn kill9(&mut self) {
        let mut c = self.child.take().unwrap();
        c.kill().unwrap();
        c.wait().unwrap();
    }

    /// `bailiff client -s SOCK ARGS...`: exit code and stdout.
    fn client(&self, args: &[&str]) -> (i32, String) {
        let out = Command::new(BIN)
            .arg("client")
            .arg("-c")
            .arg(self.path("conf"))
            .arg("-s")
            .arg(self.sock())
            .args(args)
            .stderr(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// The client's output, which must succeed.
    fn ok(&self, args: &[&str]) -> String {
        let (code, out) = self.client(args);
        assert_eq!(code, 0, "{args:?}: {out}");
        out.trim_end().to_string()
    }

    fn status(&self, jail: &str) -> serde_json::Value {
        let out = self.ok(&["--json", "status", jail]);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    fn num(&self, jail: &str, key: &str) -> i64 {
        let s = self.status(jail);
        find(&s, key)
            .and_then(|v| v.as_i64())
            .unwrap_or_else(|| panic!("no {key} in {s}"))
    }

    fn banned(&self, jail: &str) -> Vec<String> {
        let s = self.status(jail);
        match find(&s, "Banned IP list") {
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect(),
            Some(serde_json::Value::String(s)) => s.split_whitespace().map(String::from).collect(),
            _ => panic!("no ban list in {s}"),
        }
    }

    fn actions(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("actions.txt"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn count(&self, line: &str) -> usize {
        self.actions().iter().filter(|l| *l == line).count()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("bailiff.log")).unwrap_or_default()
    }

    /// The cursor the daemon stored for `jail` (read with the sqlite3 tool).
    fn stored_cursor(&self, jail: &str) -> Option<String> {
        let out = Command::new("sqlite3")
            .arg(self.path("b.sqlite3"))
            .arg(format!(
                "SELECT cursor FROM bailiff_journal_cursors WHERE jail = '{jail}'"
            ))
            .output()
            .ok()?;
        let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (!s.is_empty()).then_some(s)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The `sshd` jail over the journal file, with the stock filter's journalmatch
/// (`_SYSTEMD_UNIT=sshd.service + _COMM=sshd`).
const SSHD_JOURNAL: &str = "[sshd]\nenabled = true\nfilter = sshd\n\
     backend = systemd[journalfiles=@D@/journal/x.journal]\n";

#[test]
fn journal_entries_ban_and_journalmatch_selects() {
    if !journal_tools("journal_entries_ban_and_journalmatch_selects") {
        return;
    }
    let mut env = Env::new(SSHD_JOURNAL, &[]);
    // An old failure (before now - findtime) is in the journal at start: not counted.
    write_journal(&env.jfile(), -3600, &[sshd(failed("192.0.2.7"))]);
    env.start();
    assert!(env.log().contains("Jail 'sshd' started"), "{}", env.log());
    // Entries outside the journalmatch, then entries inside it: once the latter
    // ban, the former have been read past.
    write_journal(
        &env.jfile(),
        0,
        &[
            cron(failed("192.0.2.99")),
            cron(failed("192.0.2.99")),
            cron(failed("192.0.2.99")),
        ],
    );
    write_journal(&env.jfile(), 0, &[sshd(failed("192.0.2.7"))]);
    write_journal(&env.jfile(), 0, &[sshd(failed("192.0.2.7"))]);
    wait_for("the ban of 192.0.2.7", Duration::from_secs(15), || {
        env.count("ban sshd 192.0.2.7 0") == 1
    });
    assert_eq!(env.banned("sshd"), vec!["192.0.2.7"]);
    assert_eq!(env.num("sshd", "Total failed"), 2);
    assert!(
        env.log().contains("NOTICE  [sshd] Ban 192.0.2.7"),
        "{}",
        env.log()
    );

    // What fail2ban-client prints for the matches, and the status line.
    assert_eq!(
        env.ok(&["get", "sshd", "journalmatch"]),
        "Current match filter:\n_SYSTEMD_UNIT=sshd.service + _COMM=sshd"
    );
    let text = env.ok(&["status", "sshd"]);
    assert!(
        text.contains("Journal matches:\t_SYSTEMD_UNIT=sshd.service + _COMM=sshd\n"),
        "{text}"
    );
}

#[test]
fn journal_cursor_is_stored_and_resumed_after_kill9() {
    if !journal_tools("journal_cursor_is_stored_and_resumed_after_kill9")
        || !require(
            "journal_cursor_is_stored_and_resumed_after_kill9",
            Command::new("sqlite3").arg("-version").output().is_ok(),
            "needs the sqlite3 tool",
        )
    {
        return;
    }
    let mut env = Env::new(&format!("{SSHD_JOURNAL}maxretry = 3\n"), &[]);
    write_journal(&env.jfile(), -3600, &[cron("boot")]);
    env.start();
    write_journal(
        &env.jfile(),
        0,
        &[sshd(failed("192.0.2.7")), sshd(failed("192.0.2.7"))],
    );
    wait_for("two failures counted", Duration::from_secs(15), || {
        env.num("sshd", "Total failed") == 2
    });
    // The cursor in SQLite is the last entry's, as journalctl names it.
    let last = Command::new("journalctl")
        .arg(format!("--file={}", env.jfile().display()))
        .args(["-n", "1", "-o", "json"])
        .output()
        .ok()
        .and_then(|o| {
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).ok()?;
            v["__CURSOR"].as_str().map(String::from)
        });
    wait_for(
        "the cursor in the database",
        Duration::from_secs(10),
        || match (&last, env.stored_cursor("sshd")) {
            (Some(want), Some(got)) => *want == got,
            (None, Some(_)) => true,
            _ => false,
        },
    );
    if last.is_none() {
        eprintln!(
            "SKIPPED (part): journalctl cannot name the last cursor; only its presence checked"
        );
    }

    // Killed hard; one more failure is written while it is down.
    env.kill9();
    write_journal(&env.jfile(), 0, &[sshd(failed("192.0.2.7"))]);
    env.start();
    // A failure of another address after the restart: once it is counted, every
    // entry before it has been read.
    write_journal(&env.jfile(), 0, &[sshd(failed("192.0.2.8"))]);
    wait_for(
        "the entries after the restart",
        Duration::from_secs(15),
        || env.num("sshd", "Total failed") >= 2,
    );
    // Only the entry written while down and the new one: the two counted before the
    // kill were not read again (else 192.0.2.7 would have 3 failures and be banned).
    assert_eq!(env.num("sshd", "Total failed"), 2);
    assert!(env.banned("sshd").is_empty());
    assert_eq!(env.count("ban sshd 192.0.2.7 0"), 0);
    // The entry written while down was counted: two more make three.
    write_journal(&env.jfile(), 0, &[sshd(failed("192.0.2.7"))]);
    write_journal(&env.jfile(), 0, &[sshd(failed("192.0.2.7"))]);
    wait_for("the ban after the restart", Duration::from_secs(15), || {
        env.count("ban sshd 192.0.2.7 0") == 1
    });
    assert_eq!(env.banned("sshd"), vec!["192.0.2.7"]);
}

#[test]
fn journal_matches_change_on_the_running_reader() {
    if !journal_tools("journal_matches_change_on_the_running_reader") {
        return;
    }
    let mut env = Env::new(SSHD_JOURNAL, &[]);
    write_journal(&env.jfile(), -3600, &[cron("boot")]);
    env.start();

    // Added: cron's entries now count.
    assert_eq!(
        env.ok(&["set", "sshd", "addjournalmatch", "_SYSTEMD_UNIT=cron.service"]),
        "Current match filter:\n_SYSTEMD_UNIT=sshd.service + _COMM=sshd + _SYSTEMD_UNIT=cron.service"
    );
    write_journal(
        &env.jfile(),
        0,
        &[cron(failed("192.0.2.50")), cron(failed("192.0.2.50"))],
    );
    wait_for(
        "the ban from cron's entries",
        Duration::from_secs(15),
        || env.count("ban sshd 192.0.2.50 0") == 1,
    );

    // Removed again: ignored.
    assert_eq!(
        env.ok(&[
            "set",
            "sshd",
            "deljournalmatch",
            "_SYSTEMD_UNIT=cron.service"
        ]),
        "Current match filter:\n_SYSTEMD_UNIT=sshd.service + _COMM=sshd"
    );
    write_journal(
        &env.jfile(),
        0,
        &[cron(failed("192.0.2.51")), cron(failed("192.0.2.51"))],
    );
    write_journal(&env.jfile(), 0, &[sshd(failed("192.0.2.60"))]);
    wait_for("the sentinel entry", Duration::from_secs(15), || {
        env.num("sshd", "Total failed") >= 3
    });
    assert_eq!(env.num("sshd", "Total failed"), 3);
    assert_eq!(env.banned("sshd"), vec!["192.0.2.50"]);

    // A group that is not there is an error; a bad term is refused.
    assert_ne!(
        env.client(&["set", "sshd", "deljournalmatch", "_COMM=nothing"])
            .0,
        0
    );
    assert_ne!(env.client(&["set", "sshd", "addjournalmatch", "sshd"]).0, 0);
    // Several groups at once, `+` separated; one group of two terms.
    assert_eq!(
        env.ok(&[
            "set",
            "sshd",
            "addjournalmatch",
            "_COMM=a",
            "+",
            "_COMM=b",
            "_PID=7"
        ]),
        "Current match filter:\n_SYSTEMD_UNIT=sshd.service + _COMM=sshd + _COMM=a + _COMM=b _PID=7"
    );
    assert_eq!(
        env.ok(&["set", "sshd", "deljournalmatch", "_COMM=b", "_PID=7"]),
        "Current match filter:\n_SYSTEMD_UNIT=sshd.service + _COMM=sshd + _COMM=a"
    );
}

/// The filter of the encoding test: `josé` written in the configuration (UTF-8).
const LATIN_FILTER: &str = "[Definition]\nfailregex = Failed password for josé from <HOST>\n\
     journalmatch = _COMM=sshd\n";

fn jose(ip: &str, latin1: bool) -> Vec<u8> {
    let mut v = b"Failed password for jos".to_vec();
    if latin1 {
        v.push(0xe9);
    } else {
        v.extend_from_slice("é".as_bytes());
    }
    v.extend_from_slice(format!(" from {ip} port 22 ssh2").as_bytes());
    v
}

#[test]
fn logencoding_applies_to_the_running_sources() {
    if !journal_tools("logencoding_applies_to_the_running_sources") {
        return;
    }
    let jails = "[jfile]\nenabled = true\nfilter = latin\nmaxretry = 1\nlogpath = @D@/auth.log\n\n\
                 [jjournal]\nenabled = true\nfilter = latin\nmaxretry = 1\n\
                 backend = systemd[journalfiles=@D@/journal/x.journal]\n";
    let mut env = Env::new(jails, &[("latin", LATIN_FILTER)]);
    std::fs::write(env.path("auth.log"), "").unwrap();
    write_journal(&env.jfile(), -3600, &[cron("boot")]);
    env.start();
    let append = |text: &[u8]| {
        let stamp = jiff::Zoned::now().strftime("%Y-%m-%d %H:%M:%S").to_string();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(env.path("auth.log"))
            .unwrap();
        let mut line = format!("{stamp} web1 sshd[1]: ").into_bytes();
        line.extend_from_slice(text);
        line.push(b'\n');
        f.write_all(&line).unwrap();
    };
    assert_eq!(
        env.ok(&["get", "jfile", "logencoding"]),
        "Current log encoding is set to:\nauto"
    );
    // UTF-8 (auto here): the Latin-1 line has a replacement character, no match; the
    // UTF-8 line after it bans.
    append(&jose("192.0.2.20", true));
    append(&jose("192.0.2.21", false));
    write_journal(&env.jfile(), 0, &[sshd(jose("192.0.2.30", true))]);
    write_journal(&env.jfile(), 0, &[sshd(jose("192.0.2.31", false))]);
    wait_for("the UTF-8 bans", Duration::from_secs(15), || {
        env.count("ban jfile 192.0.2.21 0") == 1 && env.count("ban jjournal 192.0.2.31 0") == 1
    });
    assert_eq!(env.banned("jfile"), vec!["192.0.2.21"]);
    assert_eq!(env.banned("jjournal"), vec!["192.0.2.31"]);

    // Latin-1 from now on, in both running sources.
    for jail in ["jfile", "jjournal"] {
        assert_eq!(
            env.ok(&["set", jail, "logencoding", "latin-1"]),
            "Current log encoding is set to:\nlatin-1"
        );
    }
    append(&jose("192.0.2.22", true));
    write_journal(&env.jfile(), 0, &[sshd(jose("192.0.2.32", true))]);
    wait_for("the Latin-1 bans", Duration::from_secs(15), || {
        env.count("ban jfile 192.0.2.22 0") == 1 && env.count("ban jjournal 192.0.2.32 0") == 1
    });
    assert_eq!(env.banned("jfile"), vec!["192.0.2.21", "192.0.2.22"]);
    assert_eq!(env.banned("jjournal"), vec!["192.0.2.31", "192.0.2.32"]);
    assert_eq!(
        env.ok(&["get", "jjournal", "logencoding"]),
        "Current log encoding is set to:\nlatin-1"
    );
    assert!(env.client(&["set", "jfile", "logencoding", "klingon"]).0 != 0);
    // A file jail has no journal matches (fail2ban answers the same).
    assert_eq!(
        env.ok(&["get", "jfile", "journalmatch"]),
        "No journal match filter set"
    );
}

/// `backend = auto` with no log file reads the system journal. The daemon runs in its
/// own mount namespace where the journal directories are ours (root and unshare(1)).
#[test]
fn auto_backend_without_log_file_reads_the_journal() {
    let test = "auto_backend_without_log_file_reads_the_journal";
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !journal_tools(test)
        || !require(
            test,
            root,
            "needs root (a mount namespace over the journal directories)",
        )
        || !require(
            test,
            Command::new("unshare").arg("--version").output().is_ok(),
            "needs unshare(1) (util-linux)",
        )
    {
        return;
    }
    let mut env = Env::new(
        "[sshd]\nenabled = true\nfilter = sshd\nbackend = auto\nlogpath = @D@/no-such.log\n",
        &[],
    );
    // /run/log/journal/system.journal inside the namespace (flags SYSTEM, as fail2ban
    // opens the local journal); the persistent journal directory is hidden.
    let root_dir = env.path("runlog");
    std::fs::create_dir_all(root_dir.join("journal")).unwrap();
    let jfile = root_dir.join("journal/system.journal");
    write_journal(&jfile, -3600, &[cron("boot")]);
    let script = format!(
        "mount -t tmpfs none /run && mkdir -p /run/log && mount --bind {} /run/log && \
         if [ -d /var/log/journal ]; then mount -t tmpfs none /var/log/journal; fi && exec \"$0\" \"$@\"",
        root_dir.display()
    );
    env.start_with(&[
        "unshare",
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        &script,
    ]);
    assert!(
        env.log()
            .contains("using the systemd journal (backend = auto)"),
        "{}",
        env.log()
    );
    write_journal(
        &jfile,
        0,
        &[cron(failed("192.0.2.99")), cron(failed("192.0.2.99"))],
    );
    write_journal(
        &jfile,
        0,
        &[sshd(failed("192.0.2.7")), sshd(failed("192.0.2.7"))],
    );
    wait_for("the ban from the journal", Duration::from_secs(15), || {
        env.count("ban sshd 192.0.2.7 0") == 1
    });
    assert_eq!(env.banned("sshd"), vec!["192.0.2.7"]);
    assert_eq!(env.num("sshd", "Total failed"), 2);
    let text = env.ok(&["status", "sshd"]);
    assert!(text.contains("Journal matches:\t"), "{text}");
}

/// The real fail2ban-server on a configuration, stopped when dropped.
struct Fail2ban<'a> {
    env: &'a Env,
}

impl Fail2ban<'_> {
    fn client(&self, args: &[&str]) -> (i32, String) {
        fail2ban_client(&self.env.path("conf"), None, args)
    }
}

impl Drop for Fail2ban<'_> {
    fn drop(&mut self) {
        let _ = self.client(&["stop"]);
    }
}

/// The real `fail2ban-client -c CONF [-s SOCK] ARGS...`: exit code and stdout.
fn fail2ban_client(conf: &Path, sock: Option<&Path>, args: &[&str]) -> (i32, String) {
    let mut c = Command::new("fail2ban-client");
    c.arg("-c").arg(conf);
    if let Some(s) = sock {
        c.arg("-s").arg(s);
    }
    let out = c.args(args).stderr(Stdio::null()).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim_end().to_string(),
    )
}

/// `status JAIL [FLAVOR]`, `get JAIL journalmatch` and the journal-match errors,
/// printed by the real fail2ban-client for the real fail2ban-server and for bailiff on
/// the same configuration (a file jail and a journal jail, the same bans), and by
/// bailiff's own client.
#[test]
fn status_flavours_and_journal_matches_answer_as_fail2ban() {
    let test = "status_flavours_and_journal_matches_answer_as_fail2ban";
    let dnspython = Command::new("/usr/bin/python3")
        .args(["-c", "import dns.resolver"])
        .output()
        .is_ok_and(|o| o.status.success());
    let f2b_systemd = Command::new("/usr/bin/python3")
        .args(["-c", "import fail2ban.server.filtersystemd"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !journal_tools(test)
        || !require(
            test,
            Command::new("fail2ban-client").arg("-V").output().is_ok() && f2b_systemd,
            "needs fail2ban and python3-systemd (scripts/install-deps.sh)",
        )
    {
        return;
    }
    let jails =
        format!("[files]\nenabled = true\nfilter = sshd\nlogpath = @D@/auth.log\n\n{SSHD_JOURNAL}");
    let mut ours = Env::new(&jails, &[]);
    let theirs_env = Env::new(&jails, &[]);
    for env in [&ours, &theirs_env] {
        std::fs::write(env.path("auth.log"), "").unwrap();
        write_journal(&env.jfile(), -3600, &[cron("boot")]);
    }
    ours.start();
    let (code, out) = fail2ban_client(&theirs_env.path("conf"), None, &["start"]);
    assert_eq!(code, 0, "fail2ban-client start: {out}");
    let theirs = Fail2ban { env: &theirs_env };
    for (jail, ips) in [
        ("files", &["192.0.2.1", "192.0.2.2"][..]),
        ("sshd", &["192.0.2.3"][..]),
    ] {
        let mut args = vec!["set", jail, "banip"];
        args.extend_from_slice(ips);
        assert_eq!(theirs.client(&args).0, 0);
        assert_eq!(ours.client(&args).0, 0);
    }
    // The same text once each server's directory is named alike.
    let norm = |env: &Env, s: String| s.replace(&env.dir.path().display().to_string(), "@D@");
    let ours_by_f2b = |args: &[&str]| fail2ban_client(&ours.path("conf"), Some(&ours.sock()), args);
    let mut flavours: Vec<&str> = vec!["basic", "short", "bogus"];
    if dnspython {
        eprintln!(
            "SKIPPED (part): dnspython is installed, so fail2ban's cymru answer depends on DNS"
        );
    } else {
        flavours.push("cymru");
    }
    for jail in ["files", "sshd"] {
        for flavour in &flavours {
            let args = ["status", jail, flavour];
            let (tc, want) = theirs.client(&args);
            assert_eq!(tc, 0, "{args:?}: {want}");
            let want = norm(&theirs_env, want);
            let (oc, got) = ours_by_f2b(&args);
            assert_eq!(oc, 0, "{args:?}: {got}");
            assert_eq!(norm(&ours, got), want, "{args:?} through fail2ban-client");
            let (oc, got) = ours.client(&args);
            assert_eq!(oc, 0, "{args:?}: {got}");
            assert_eq!(
                norm(&ours, got.trim_end().to_string()),
                want,
                "{args:?} through bailiff client"
            );
        }
        // No flavour: fail2ban's basic answer, then bailiff's own branches.
        let want = norm(&theirs_env, theirs.client(&["status", jail]).1);
        let got = norm(&ours, ours_by_f2b(&["status", jail]).1);
        let cut = want.find("`- Actions").unwrap();
        assert_eq!(got[..cut], want[..cut], "status {jail}");
        assert!(
            got.contains("|- Ambiguous") && got.contains("`- Health"),
            "{got}"
        );

        for args in [
            &["get", jail, "journalmatch"][..],
            &[
                "set",
                jail,
                "addjournalmatch",
                "_COMM=x",
                "+",
                "_COMM=y",
                "_PID=1",
            ],
            &["set", jail, "deljournalmatch", "_COMM=y", "_PID=1"],
            &["set", jail, "deljournalmatch", "_COMM=x"],
            &["set", jail, "deljournalmatch", "_COMM=nothing"],
            &["set", jail, "deljournalmatch"],
        ] {
            let (tc, want) = theirs.client(args);
            let (oc, got) = ours_by_f2b(args);
            assert_eq!((oc == 0, got), (tc == 0, want), "{args:?}");
        }
    }
}

/// `reload` after the journal matches, the log encoding and a log path changed: as
/// fail2ban, the jails are kept with their counters and the running sources take the
/// new settings.
#[test]
fn reload_applies_source_changes_and_keeps_counters() {
    if !journal_tools("reload_applies_source_changes_and_keeps_counters") {
        return;
    }
    let jails = "[files]\nenabled = true\nfilter = sshd\nlogpath = @D@/a.log\n\n\
                 [sshd]\nenabled = true\nfilter = sshd\nmaxretry = 3\n\
                 backend = systemd[journalfiles=@D@/journal/x.journal]\n";
    let mut env = Env::new(jails, &[]);
    for f in ["a.log", "b.log"] {
        std::fs::write(env.path(f), "").unwrap();
    }
    write_journal(&env.jfile(), -3600, &[cron("boot")]);
    env.start();
    let line = |ip: &str| {
        format!(
            "{} web1 sshd[1]: {}\n",
            jiff::Zoned::now().strftime("%Y-%m-%d %H:%M:%S"),
            failed(ip)
        )
    };
    let append = |f: &str, text: &str| {
        std::fs::OpenOptions::new()
            .append(true)
            .open(env.path(f))
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    };
    append("a.log", &line("192.0.2.9"));
    write_journal(
        &env.jfile(),
        0,
        &[sshd(failed("192.0.2.7")), sshd(failed("192.0.2.7"))],
    );
    wait_for(
        "the failures before the reload",
        Duration::from_secs(15),
        || env.num("files", "Total failed") == 1 && env.num("sshd", "Total failed") == 2,
    );

    // The filter's journalmatch now takes cron's entries too; the file jail follows
    // b.log instead of a.log.
    std::fs::write(
        env.path("conf/filter.d/sshd.local"),
        "[Definition]\njournalmatch = _SYSTEMD_UNIT=sshd.service + _COMM=sshd + _SYSTEMD_UNIT=cron.service\n",
    )
    .unwrap();
    let jail_conf = env.path("conf/jail.conf");
    let text = std::fs::read_to_string(&jail_conf).unwrap();
    std::fs::write(&jail_conf, text.replace("/a.log", "/b.log")).unwrap();
    assert_eq!(env.ok(&["reload"]), "OK");
    assert_eq!(
        env.ok(&["get", "sshd", "journalmatch"]),
        "Current match filter:\n_SYSTEMD_UNIT=sshd.service + _COMM=sshd + _SYSTEMD_UNIT=cron.service"
    );
    assert!(env.ok(&["get", "files", "logpath"]).ends_with("/b.log"));
    // Counters kept: one more failure each bans.
    assert_eq!(env.num("files", "Total failed"), 1);
    assert_eq!(env.num("sshd", "Total failed"), 2);
    // Still selective: a third unit's entries are not read.
    let other = || Entry {
        unit: "other.service",
        comm: "other",
        message: failed("192.0.2.77").into_bytes(),
    };
    write_journal(&env.jfile(), 0, &[other(), other(), other()]);
    write_journal(&env.jfile(), 0, &[cron(failed("192.0.2.7"))]);
    append("a.log", &line("192.0.2.10"));
    append("a.log", &line("192.0.2.10"));
    append("b.log", &line("192.0.2.9"));
    wait_for("the bans after the reload", Duration::from_secs(15), || {
        env.count("ban sshd 192.0.2.7 0") == 1 && env.count("ban files 192.0.2.9 0") == 1
    });
    assert_eq!(env.banned("sshd"), vec!["192.0.2.7"]);
    // a.log is no longer followed.
    assert_eq!(env.banned("files"), vec!["192.0.2.9"]);
    assert_eq!(env.num("files", "Total failed"), 2);
}

/// After a restart the journal is read from the stored cursor, but never from further
/// back than `now - findtime` (as fail2ban: max(stored time, now - findtime)):
/// entries written while the daemon was down and already older than that are not
/// even read (they could not count; after a long stop they would be many).
#[test]
fn journal_restart_does_not_go_back_beyond_findtime() {
    if !journal_tools("journal_restart_does_not_go_back_beyond_findtime") {
        return;
    }
    let mut env = Env::new(
        &format!(
            "{SSHD_JOURNAL}findtime = 5
"
        ),
        &[],
    );
    write_journal(&env.jfile(), -3600, &[cron("boot")]);
    env.start();
    let t_w = now_usec();
    write_journal_at(&env.jfile(), t_w - 1_000_000, &[sshd(failed("192.0.2.7"))]);
    wait_for("the cursor stored", Duration::from_secs(10), || {
        env.stored_cursor("sshd").is_some()
    });
    env.kill9();
    // Written while down, dated just after the stored entry: older than findtime
    // once the daemon is back, five seconds later.
    write_journal_at(
        &env.jfile(),
        t_w - 999_000,
        &[sshd(failed("192.0.2.8")), sshd(failed("192.0.2.8"))],
    );
    while now_usec() < t_w + 5_500_000 {
        std::thread::sleep(Duration::from_millis(100));
    }
    write_journal(&env.jfile(), 0, &[sshd(failed("192.0.2.9"))]);
    env.start();
    write_journal(&env.jfile(), 0, &[sshd(failed("192.0.2.10"))]);
    wait_for("the recent entries", Duration::from_secs(15), || {
        env.num("sshd", "Total failed") >= 2
    });
    assert_eq!(env.num("sshd", "Total failed"), 2);
    let s = env.status("sshd");
    let read = find(&s, "Lines read/matched/missed")
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("no line counts in {s}"));
    assert!(read.starts_with("2 /"), "{read}");
    assert!(env.banned("sshd").is_empty());
}
