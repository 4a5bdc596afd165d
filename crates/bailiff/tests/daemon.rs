//! End-to-end tests of `bailiff server`: the real binary on a temp configuration
//! (its own jail.conf, filter.d and an action.d file that appends `ban <ip> <restored>`
//! / `unban <ip>` to a file), driven through real log files, signals and the control
//! socket.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{find, wait_for};

const BIN: &str = env!("CARGO_BIN_EXE_bailiff");

struct Env {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

fn stamp(offset_secs: i64) -> String {
    let t = jiff::Zoned::now()
        .checked_add(jiff::SignedDuration::from_secs(offset_secs))
        .unwrap();
    t.strftime("%Y-%m-%d %H:%M:%S").to_string()
}

fn fail_line(ip: &str) -> String {
    format!(
        "{} sshd[1]: Failed password for root from {ip} port 22\n",
        stamp(0)
    )
}

impl Env {
    /// A configuration with one jail `test` over `auth.log` (extra jail options in
    /// `jail_opts`, one per line).
    fn new(jail_opts: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        let conf = p.join("conf");
        std::fs::create_dir_all(conf.join("filter.d")).unwrap();
        std::fs::create_dir_all(conf.join("action.d")).unwrap();
        let d = p.display();
        std::fs::write(
            conf.join("fail2ban.conf"),
            format!(
                "[Definition]\nloglevel = INFO\nlogtarget = {d}/bailiff.log\nsocket = {d}/b.sock\n\
                 pidfile = {d}/b.pid\ndbfile = {d}/b.sqlite3\ndbpurgeage = 1d\n"
            ),
        )
        .unwrap();
        std::fs::write(
            conf.join("filter.d/test.conf"),
            "[Definition]\nfailregex = Failed password for \\S+ from <HOST>\nignoreregex =\n",
        )
        .unwrap();
        std::fs::write(
            conf.join("action.d/record.conf"),
            format!(
                "[Definition]\nactionstart = echo start >> {d}/actions.txt\n\
                 actionstop = echo stop >> {d}/actions.txt\n\
                 actionban = echo ban <ip> <restored> >> {d}/actions.txt\n\
                 actionunban = echo unban <ip> >> {d}/actions.txt\n"
            ),
        )
        .unwrap();
        std::fs::write(
            conf.join("jail.conf"),
            format!(
                "[DEFAULT]\nbantime = 600\nfindtime = 600\nmaxretry = 2\nbackend = auto\n\n\
                 [test]\nenabled = true\nfilter = test\nlogpath = {d}/auth.log\naction = record\n{jail_opts}\n"
            ),
        )
        .unwrap();
        Env { dir, child: None }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn sock(&self) -> PathBuf {
        self.path("b.sock")
    }

    fn start(&mut self) {
        self.start_with(&[]);
    }

    /// Start the server under a command prefix (`ip netns exec NS`).
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
        let sock = self.sock();
        wait_for("the socket answers", Duration::from_secs(20), || {
            self.client(&["ping"]).0 == 0
        });
        assert!(sock.exists());
    }

    fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    fn signal(&self, sig: i32) {
        // SAFETY: sending a signal to our own child.
        unsafe {
            libc::kill(self.pid(), sig);
        }
    }

    fn kill9(&mut self) {
        let mut c = self.child.take().unwrap();
        c.kill().unwrap();
        c.wait().unwrap();
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            self.signal_child(&c, libc::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if c.try_wait().unwrap().is_some() {
                    break;
                }
                if Instant::now() > deadline {
                    c.kill().unwrap();
                    c.wait().unwrap();
                    panic!("server did not stop on SIGTERM");
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    fn signal_child(&self, c: &Child, sig: i32) {
        // SAFETY: sending a signal to our own child.
        unsafe {
            libc::kill(c.id() as i32, sig);
        }
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

    fn status_json(&self) -> serde_json::Value {
        let (code, out) = self.client(&["--json", "status", "test"]);
        assert_eq!(code, 0, "{out}");
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    fn append(&self, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path("auth.log"))
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
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
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn banned_list(env: &Env) -> Vec<String> {
    let s = env.status_json();
    let v = find(&s, "Banned IP list").unwrap_or_else(|| panic!("no ban list in {s}"));
    match v {
        serde_json::Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
        serde_json::Value::String(s) => s.split_whitespace().map(String::from).collect(),
        _ => Vec::new(),
    }
}

fn num(env: &Env, key: &str) -> i64 {
    let s = env.status_json();
    find(&s, key)
        .and_then(|v| v.as_i64())
        .unwrap_or_else(|| panic!("no {key} in {s}"))
}

#[test]
fn lines_lead_to_ban_status_and_unban() {
    let mut env = Env::new("");
    std::fs::write(env.path("auth.log"), "").unwrap();
    env.start();
    env.append(&fail_line("192.0.2.1"));
    env.append(&fail_line("192.0.2.1"));
    env.append(&fail_line("192.0.2.9")); // one failure only: not banned
    wait_for("the ban action", Duration::from_secs(10), || {
        env.count("ban 192.0.2.1 0") == 1
    });
    assert_eq!(banned_list(&env), vec!["192.0.2.1"]);
    assert_eq!(num(&env, "Total failed"), 3);
    assert_eq!(num(&env, "Currently failed"), 1);

    // The text fail2ban-client prints, through our client.
    let (code, text) = env.client(&["status", "test"]);
    assert_eq!(code, 0);
    assert!(text.contains("Banned IP list:\t192.0.2.1"), "{text}");

    // The real fail2ban-client against our socket.
    match Command::new("fail2ban-client")
        .arg("-s")
        .arg(env.sock())
        .args(["status", "test"])
        .output()
    {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{text}");
            assert!(text.contains("192.0.2.1"), "{text}");
            assert!(text.contains("Total failed:\t3"), "{text}");
        }
        Err(e) => eprintln!("SKIPPED: the real fail2ban-client is not installed ({e})"),
    }

    // Our log speaks fail2ban's format: the stock recidive filter finds the ban.
    let log = env.log();
    assert!(log.contains("NOTICE  [test] Ban 192.0.2.1"), "{log}");
    match Command::new("fail2ban-regex")
        .arg(env.path("bailiff.log"))
        .arg("/etc/fail2ban/filter.d/recidive.conf")
        .output()
    {
        Ok(out) if Path::new("/etc/fail2ban/filter.d/recidive.conf").exists() => {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains("Failregex: 1 total"), "{text}");
        }
        _ => eprintln!("SKIPPED: fail2ban-regex or the stock recidive filter is missing"),
    }

    let (code, out) = env.client(&["set", "test", "unbanip", "192.0.2.1"]);
    assert_eq!(code, 0, "{out}");
    wait_for("the unban action", Duration::from_secs(10), || {
        env.count("unban 192.0.2.1") == 1
    });
    assert!(banned_list(&env).is_empty());

    // banip / unban over all jails / banned
    assert_eq!(env.client(&["set", "test", "banip", "198.51.100.7"]).0, 0);
    wait_for("banip", Duration::from_secs(5), || {
        env.count("ban 198.51.100.7 0") == 1
    });
    let (_, b) = env.client(&["--json", "banned", "198.51.100.7"]);
    assert!(b.contains("test"), "{b}");
    assert_eq!(env.client(&["unban", "198.51.100.7"]).0, 0);
    wait_for("unban", Duration::from_secs(5), || {
        env.count("unban 198.51.100.7") == 1
    });

    // get/set of jail options
    assert_eq!(env.client(&["set", "test", "maxretry", "7"]).0, 0);
    assert_eq!(env.client(&["get", "test", "maxretry"]).1.trim(), "7");
    assert_eq!(env.client(&["set", "test", "bantime", "1h"]).0, 0);
    assert_eq!(env.client(&["get", "test", "bantime"]).1.trim(), "3600");

    // stop: actions stopped, pidfile removed
    let (code, _) = env.client(&["stop"]);
    assert_eq!(code, 0);
    let mut c = env.child.take().unwrap();
    let st = c.wait().unwrap();
    assert!(st.success());
    assert_eq!(env.actions().last().map(String::as_str), Some("stop"));
    assert!(!env.path("b.pid").exists());
}

#[test]
fn kill9_restart_restores_bans_and_resumes_positions() {
    let mut env = Env::new("");
    std::fs::write(env.path("auth.log"), "").unwrap();
    env.start();
    env.append(&fail_line("192.0.2.1"));
    env.append(&fail_line("192.0.2.1"));
    env.append(&fail_line("192.0.2.5"));
    wait_for("the ban", Duration::from_secs(10), || {
        env.count("ban 192.0.2.1 0") == 1
    });
    // Positions are saved within a second of reading; then crash.
    std::thread::sleep(Duration::from_millis(1500));
    env.kill9();
    env.start();
    wait_for(
        "the restored ban after kill -9",
        Duration::from_secs(10),
        || env.count("ban 192.0.2.1 1") == 1,
    );
    assert_eq!(banned_list(&env), vec!["192.0.2.1"]);
    // and once more through a clean stop
    env.stop();
    env.start();
    wait_for(
        "the restored ban after a stop",
        Duration::from_secs(10),
        || env.count("ban 192.0.2.1 1") == 2,
    );
    // Old lines were not read again: nothing counted, no fresh ban.
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(num(&env, "Total failed"), 0);
    assert_eq!(env.count("ban 192.0.2.1 0"), 1);
    assert_eq!(banned_list(&env), vec!["192.0.2.1"]);
    // New lines are still read: 192.0.2.5's earlier failure is gone with the
    // restart, so it needs two new ones.
    env.append(&fail_line("192.0.2.5"));
    env.append(&fail_line("192.0.2.5"));
    wait_for("a new ban", Duration::from_secs(10), || {
        env.count("ban 192.0.2.5 0") == 1
    });
    env.stop();
}

#[test]
fn first_start_reads_only_lines_within_findtime() {
    let mut env = Env::new("");
    let mut text = String::new();
    for _ in 0..3 {
        // two hours old: outside findtime (600 s)
        text.push_str(&format!(
            "{} sshd[1]: Failed password for root from 192.0.2.50 port 22\n",
            stamp(-7200)
        ));
    }
    for _ in 0..2 {
        text.push_str(&format!(
            "{} sshd[1]: Failed password for root from 192.0.2.60 port 22\n",
            stamp(-60)
        ));
    }
    std::fs::write(env.path("auth.log"), text).unwrap();
    env.start();
    wait_for(
        "the ban of the recent address",
        Duration::from_secs(10),
        || env.count("ban 192.0.2.60 0") == 1,
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(env.count("ban 192.0.2.50 0"), 0);
    assert_eq!(banned_list(&env), vec!["192.0.2.60"]);
    env.stop();
}

#[test]
fn rotation_in_both_styles_loses_nothing() {
    let mut env = Env::new("maxretry = 1");
    std::fs::write(env.path("auth.log"), "").unwrap();
    env.start();
    let mut n = 0;
    let mut ip = || {
        n += 1;
        format!("10.0.{}.{}", n / 200, n % 200 + 1)
    };
    let mut all = Vec::new();
    for round in 0..2 {
        for _ in 0..20 {
            let a = ip();
            env.append(&fail_line(&a));
            all.push(a);
        }
        // The daemon follows the file, then more lines arrive right before the
        // rotation (the ones at risk).
        std::thread::sleep(Duration::from_millis(700));
        for _ in 0..5 {
            let a = ip();
            env.append(&fail_line(&a));
            all.push(a);
        }
        if round == 0 {
            // rename and create (logrotate's default)
            std::fs::rename(env.path("auth.log"), env.path("auth.log.1")).unwrap();
            let a = ip();
            // a writer still holding the old file
            let mut old = std::fs::OpenOptions::new()
                .append(true)
                .open(env.path("auth.log.1"))
                .unwrap();
            old.write_all(fail_line(&a).as_bytes()).unwrap();
            all.push(a);
            std::fs::write(env.path("auth.log"), "").unwrap();
        } else {
            // copytruncate, after logrotate shifted the older copy away
            std::fs::rename(env.path("auth.log.1"), env.path("auth.log.2")).unwrap();
            std::fs::copy(env.path("auth.log"), env.path("auth.log.1")).unwrap();
            std::fs::OpenOptions::new()
                .write(true)
                .open(env.path("auth.log"))
                .unwrap()
                .set_len(0)
                .unwrap();
        }
        for _ in 0..20 {
            let a = ip();
            env.append(&fail_line(&a));
            all.push(a);
        }
        std::thread::sleep(Duration::from_millis(700));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let missing: Vec<&String> = all
            .iter()
            .filter(|a| env.count(&format!("ban {a} 0")) != 1)
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "never banned: {missing:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    for a in &all {
        assert_eq!(env.count(&format!("ban {a} 0")), 1, "{a}");
    }
    env.stop();
}

#[test]
fn bans_expire_on_time() {
    let mut env = Env::new("bantime = 2\nmaxretry = 1");
    std::fs::write(env.path("auth.log"), "").unwrap();
    env.start();
    env.append(&fail_line("192.0.2.30"));
    wait_for("the ban", Duration::from_secs(10), || {
        env.count("ban 192.0.2.30 0") == 1
    });
    let banned_at = Instant::now();
    wait_for("the unban", Duration::from_secs(10), || {
        env.count("unban 192.0.2.30") == 1
    });
    let took = banned_at.elapsed();
    assert!(
        took >= Duration::from_millis(1000) && took <= Duration::from_millis(4500),
        "{took:?}"
    );
    assert!(banned_list(&env).is_empty());
    env.stop();
}

#[test]
fn sighup_reload_keeps_bans_of_unchanged_jail() {
    let mut env = Env::new("");
    std::fs::write(env.path("auth.log"), "").unwrap();
    env.start();
    env.append(&fail_line("192.0.2.77"));
    env.append(&fail_line("192.0.2.77"));
    env.append(&fail_line("192.0.2.78"));
    wait_for("the ban", Duration::from_secs(10), || {
        env.count("ban 192.0.2.77 0") == 1
    });
    env.signal(libc::SIGHUP);
    wait_for("the reload", Duration::from_secs(10), || {
        env.log().contains("Reload configuration")
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(banned_list(&env), vec!["192.0.2.77"]);
    assert_eq!(num(&env, "Total failed"), 3);
    assert_eq!(num(&env, "Currently failed"), 1);
    assert!(!env.actions().contains(&"stop".to_string()));
    // the counter of 192.0.2.78 survived: one more failure bans it
    env.append(&fail_line("192.0.2.78"));
    wait_for("the second ban", Duration::from_secs(10), || {
        env.count("ban 192.0.2.78 0") == 1
    });
    env.stop();
}

#[test]
fn jail_with_missing_log_and_backend_auto_still_starts() {
    let mut env = Env::new("");
    // no auth.log at all
    env.start();
    let (code, out) = env.client(&["status"]);
    assert_eq!(code, 0);
    assert!(out.contains("test"), "{out}");
    let (code, _) = env.client(&["status", "test"]);
    assert_eq!(code, 0);
    env.stop();
}

#[test]
fn broken_jail_is_skipped_others_run() {
    let mut env = Env::new("");
    let conf = env.path("conf");
    let mut jail = std::fs::read_to_string(conf.join("jail.conf")).unwrap();
    jail.push_str("\n[broken]\nenabled = true\nfilter = test\nlogpath = /nonexistent\nfindtime = soon\naction = record\n");
    std::fs::write(conf.join("jail.conf"), jail).unwrap();
    std::fs::write(env.path("auth.log"), "").unwrap();
    env.start();
    let (_, out) = env.client(&["status"]);
    assert!(out.contains("test"), "{out}");
    assert!(!out.contains("broken"), "{out}");
    env.append(&fail_line("192.0.2.90"));
    env.append(&fail_line("192.0.2.90"));
    wait_for("the ban", Duration::from_secs(10), || {
        env.count("ban 192.0.2.90 0") == 1
    });
    env.stop();
}

#[test]
fn client_start_runs_the_server_in_the_background_with_pidfile() {
    let env = Env::new("");
    std::fs::write(env.path("auth.log"), "").unwrap();
    let (code, _) = env.client(&["start"]);
    assert_eq!(code, 0);
    wait_for("the socket", Duration::from_secs(10), || {
        env.client(&["ping"]).0 == 0
    });
    let pid: i32 = std::fs::read_to_string(env.path("b.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    // a second start is refused
    assert_ne!(env.client(&["start"]).0, 0);
    env.append(&fail_line("192.0.2.44"));
    env.append(&fail_line("192.0.2.44"));
    wait_for("the ban", Duration::from_secs(10), || {
        env.count("ban 192.0.2.44 0") == 1
    });
    // `reload` builds the stream from the configuration, as fail2ban-client does
    let (code, out) = env.client(&["reload"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(banned_list(&env), vec!["192.0.2.44"]);
    let (code, _) = env.client(&["stop"]);
    assert_eq!(code, 0);
    wait_for("the daemon to exit", Duration::from_secs(20), || {
        !Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| s.contains(") Z "))
                .unwrap_or(true)
    });
    assert!(!env.path("b.pid").exists());
    assert!(!env.sock().exists());
}

#[test]
fn dbfile_none_and_memory_run_without_a_file() {
    for db in ["None", ":memory:"] {
        let mut env = Env::new("");
        let conf = env.path("conf").join("fail2ban.conf");
        let text = std::fs::read_to_string(&conf).unwrap();
        let text: String = text
            .lines()
            .map(|l| {
                if l.starts_with("dbfile") {
                    format!("dbfile = {db}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::write(&conf, text).unwrap();
        std::fs::write(env.path("auth.log"), "").unwrap();
        env.start();
        env.append(&fail_line("192.0.2.12"));
        env.append(&fail_line("192.0.2.12"));
        wait_for("the ban", Duration::from_secs(10), || {
            env.count("ban 192.0.2.12 0") == 1
        });
        let (_, out) = env.client(&["get", "dbfile"]);
        assert!(
            out.contains(if db == "None" { "disabled" } else { ":memory:" }),
            "{db}: {out}"
        );
        env.stop();
        assert!(!env.path("b.sqlite3").exists(), "{db}");
        // no state: a restart restores nothing (the file is read again from its
        // start, as fail2ban without a database does, so the lines ban afresh)
        env.start();
        wait_for(
            "the ban from re-read lines",
            Duration::from_secs(10),
            || env.count("ban 192.0.2.12 0") == 2,
        );
        assert_eq!(env.count("ban 192.0.2.12 1"), 0, "{db}");
        env.stop();
    }
}

#[test]
fn flushlogs_reopens_the_log_file() {
    let mut env = Env::new("maxretry = 1");
    std::fs::write(env.path("auth.log"), "").unwrap();
    env.start();
    std::fs::rename(env.path("bailiff.log"), env.path("bailiff.log.1")).unwrap();
    let (code, out) = env.client(&["flushlogs"]);
    assert_eq!(code, 0);
    assert!(out.contains("rolled over"), "{out}");
    env.append(&fail_line("192.0.2.66"));
    wait_for("the ban in the new log", Duration::from_secs(10), || {
        env.log().contains("Ban 192.0.2.66")
    });
    env.stop();
}

struct Netns(String);

impl Netns {
    fn new(name: &str) -> Option<Netns> {
        let _ = Command::new("ip").args(["netns", "del", name]).status();
        let ok = Command::new("ip")
            .args(["netns", "add", name])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        ok.then(|| Netns(name.to_string()))
    }

    fn nft(&self, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.0, "nft"])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// The stock `nftables-multiport` action file, applied by the native backend, in a
/// network namespace of its own.
#[test]
fn stock_nftables_action_bans_natively_in_a_netns() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let stock = Path::new("/etc/fail2ban/action.d");
    let have_nft = Command::new("nft").arg("--version").output().is_ok();
    if !stock.join("nftables.conf").exists() || !have_nft {
        assert!(!ci, "CI needs nft and the stock nftables action files");
        eprintln!("SKIPPED: nft or /etc/fail2ban/action.d/nftables*.conf missing");
        return;
    }
    let Some(ns) = Netns::new(&format!("bailiff-e2e-{}", std::process::id())) else {
        assert!(!ci, "CI must be able to create a network namespace");
        eprintln!("SKIPPED: cannot create a network namespace (not root?)");
        return;
    };
    let mut env = Env::new("");
    let conf = env.path("conf");
    for e in std::fs::read_dir(stock).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("nftables") {
            std::fs::copy(e.path(), conf.join("action.d").join(&name)).unwrap();
        }
    }
    let jail = std::fs::read_to_string(conf.join("jail.conf"))
        .unwrap()
        .replace(
            "action = record",
            "action = nftables-multiport[port=\"22,2222\"]\n         record",
        );
    std::fs::write(conf.join("jail.conf"), jail).unwrap();
    std::fs::write(env.path("auth.log"), "").unwrap();
    env.start_with(&["ip", "netns", "exec", &ns.0]);
    env.append(&fail_line("192.0.2.201"));
    env.append(&fail_line("192.0.2.201"));
    env.append(&fail_line("2001:db8::7"));
    env.append(&fail_line("2001:db8::7"));
    wait_for("the record action", Duration::from_secs(10), || {
        env.count("ban 192.0.2.201 0") == 1 && env.count("ban 2001:db8::7 0") == 1
    });
    let v4 = ns.nft(&["list", "set", "inet", "f2b-table", "addr-set-test"]);
    assert!(v4.contains("192.0.2.201"), "{v4}");
    let v6 = ns.nft(&["list", "set", "inet", "f2b-table", "addr6-set-test"]);
    assert!(v6.contains("2001:db8::7"), "{v6}");
    let chain = ns.nft(&["list", "chain", "inet", "f2b-table", "f2b-chain"]);
    assert!(chain.contains("@addr-set-test"), "{chain}");
    assert_eq!(env.client(&["set", "test", "unbanip", "192.0.2.201"]).0, 0);
    wait_for("the native unban", Duration::from_secs(10), || {
        !ns.nft(&["list", "set", "inet", "f2b-table", "addr-set-test"])
            .contains("192.0.2.201")
    });
    env.stop();
    // actionstop removed our rules
    let all = ns.nft(&["list", "ruleset"]);
    assert!(!all.contains("addr-set-test"), "{all}");
}

#[test]
fn bantime_increment_uses_the_stored_history() {
    let mut env = Env::new("bantime = 2\nmaxretry = 1\nbantime.increment = true");
    std::fs::write(env.path("auth.log"), "").unwrap();
    env.start();
    env.append(&fail_line("192.0.2.33"));
    wait_for("the first ban", Duration::from_secs(10), || {
        env.count("ban 192.0.2.33 0") == 1
    });
    let (_, first) = env.client(&["get", "test", "banip", "--with-time"]);
    assert!(first.contains("+ 2 ="), "{first}");
    wait_for("the first unban", Duration::from_secs(10), || {
        env.count("unban 192.0.2.33") == 1
    });
    // the history is in the store: it survives a restart
    env.stop();
    env.start();
    env.append(&fail_line("192.0.2.33"));
    wait_for("the second ban", Duration::from_secs(10), || {
        env.count("ban 192.0.2.33 0") == 2
    });
    let (_, second) = env.client(&["get", "test", "banip", "--with-time"]);
    assert!(second.contains("+ 4 ="), "{second}");
    env.stop();
}

#[test]
fn logpath_tail_reads_only_new_lines() {
    let mut env = Env::new("");
    let conf = env.path("conf").join("jail.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    let log = env.path("auth.log");
    std::fs::write(
        &conf,
        text.replace(
            &format!("logpath = {}", log.display()),
            &format!("logpath = {} tail", log.display()),
        ),
    )
    .unwrap();
    // recent failures already in the file: `tail` skips them
    std::fs::write(&log, fail_line("192.0.2.70").repeat(3)).unwrap();
    env.start();
    env.append(&fail_line("192.0.2.71"));
    env.append(&fail_line("192.0.2.71"));
    wait_for("the ban of the new lines", Duration::from_secs(10), || {
        env.count("ban 192.0.2.71 0") == 1
    });
    assert_eq!(env.count("ban 192.0.2.70 0"), 0);
    assert_eq!(num(&env, "Total failed"), 2);
    env.stop();
}

#[test]
fn python_action_is_reported_and_the_jail_still_bans() {
    let mut env = Env::new("");
    let conf = env.path("conf");
    std::fs::write(conf.join("action.d/custom.py"), "# a Python action\n").unwrap();
    let jail = std::fs::read_to_string(conf.join("jail.conf"))
        .unwrap()
        .replace("action = record", "action = custom.py\n         record");
    std::fs::write(conf.join("jail.conf"), jail).unwrap();
    std::fs::write(env.path("auth.log"), "").unwrap();
    env.start();
    env.append(&fail_line("192.0.2.99"));
    env.append(&fail_line("192.0.2.99"));
    wait_for(
        "the ban by the other action",
        Duration::from_secs(10),
        || env.count("ban 192.0.2.99 0") == 1,
    );
    let log = env.log();
    assert!(log.contains("Python actions are not supported"), "{log}");
    env.stop();
}

#[test]
fn unban_all_clears_actions_and_store() {
    let mut env = Env::new("maxretry = 1");
    std::fs::write(env.path("auth.log"), "").unwrap();
    env.start();
    env.append(&fail_line("192.0.2.101"));
    env.append(&fail_line("192.0.2.102"));
    wait_for("two bans", Duration::from_secs(10), || {
        env.count("ban 192.0.2.101 0") == 1 && env.count("ban 192.0.2.102 0") == 1
    });
    let (code, out) = env.client(&["unban", "--all"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), "2");
    wait_for("two unbans", Duration::from_secs(10), || {
        env.count("unban 192.0.2.101") == 1 && env.count("unban 192.0.2.102") == 1
    });
    env.stop();
    env.start();
    std::thread::sleep(Duration::from_millis(300));
    assert!(banned_list(&env).is_empty());
    assert_eq!(env.count("ban 192.0.2.101 1"), 0);
    env.stop();
}

#[test]
fn reload_of_a_changed_jail_updates_it_in_place() {
    let mut env = Env::new("");
    std::fs::write(env.path("auth.log"), "").unwrap();
    env.start();
    env.append(&fail_line("192.0.2.120"));
    env.append(&fail_line("192.0.2.120"));
    env.append(&fail_line("192.0.2.121"));
    wait_for("the ban", Duration::from_secs(10), || {
        env.count("ban 192.0.2.120 0") == 1
    });
    // maxretry 2 -> 3 in the jail
    let conf = env.path("conf").join("jail.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str("maxretry = 3\n");
    std::fs::write(&conf, text).unwrap();
    let (code, out) = env.client(&["reload"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(env.client(&["get", "test", "maxretry"]).1.trim(), "3");
    // ban and counter kept, actions not restarted
    assert_eq!(banned_list(&env), vec!["192.0.2.120"]);
    assert_eq!(num(&env, "Currently failed"), 1);
    assert!(!env.actions().contains(&"stop".to_string()));
    env.append(&fail_line("192.0.2.121"));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(env.count("ban 192.0.2.121 0"), 0, "banned at 2 of 3");
    env.append(&fail_line("192.0.2.121"));
    wait_for(
        "the ban at the new maxretry",
        Duration::from_secs(10),
        || env.count("ban 192.0.2.121 0") == 1,
    );
    env.stop();
}

#[test]
fn ignoreip_and_ignorecommand_are_honoured() {
    let mut env = Env::new(
        "maxretry = 1\nignoreip = 198.51.100.0/24\nignorecommand = test <ip> = 203.0.113.5",
    );
    std::fs::write(env.path("auth.log"), "").unwrap();
    env.start();
    env.append(&fail_line("198.51.100.20")); // ignoreip
    env.append(&fail_line("203.0.113.5")); // ignorecommand exits 0
    env.append(&fail_line("203.0.113.6")); // banned
    wait_for("the ban", Duration::from_secs(10), || {
        env.count("ban 203.0.113.6 0") == 1
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(banned_list(&env), vec!["203.0.113.6"]);
    let (_, ign) = env.client(&["get", "test", "ignoreip"]);
    assert!(ign.contains("198.51.100.0/24"), "{ign}");
    env.stop();
}
