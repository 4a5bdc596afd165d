//! A real daemon (`bailiff_server::run`) on a temp configuration, in a thread of the
//! test process, driven through its real control socket and real log files. The
//! daemon's logger is process-wide, so each test file runs one daemon at a time.

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bailiff_control::{Client, Reply, Value};

pub struct Env {
    pub dir: tempfile::TempDir,
    thread: Option<JoinHandle<Result<(), bailiff_server::ServerError>>>,
}

pub fn stamp() -> String {
    jiff::Zoned::now().strftime("%Y-%m-%d %H:%M:%S").to_string()
}

impl Env {
    /// One jail `test` over `auth.log` with `failregex`, recording actions to
    /// `actions.txt`; `definition` goes into fail2ban.conf's `[Definition]`.
    pub fn new(failregex: &str, definition: &str) -> Env {
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
                 pidfile = {d}/b.pid\ndbfile = {d}/b.sqlite3\ndbpurgeage = 1d\n{definition}\n"
            ),
        )
        .unwrap();
        std::fs::write(
            conf.join("filter.d/test.conf"),
            format!("[Definition]\nfailregex = {failregex}\nignoreregex =\n"),
        )
        .unwrap();
        std::fs::write(
            conf.join("action.d/record.conf"),
            format!(
                "[Definition]\nactionban = echo ban <ip> >> {d}/actions.txt\n\
                 actionunban = echo unban <ip> >> {d}/actions.txt\n"
            ),
        )
        .unwrap();
        std::fs::write(
            conf.join("jail.conf"),
            format!(
                "[DEFAULT]\nbantime = 600\nfindtime = 600\nmaxretry = 2\nbackend = polling\n\n\
                 [test]\nenabled = true\nfilter = test\nlogpath = {d}/auth.log\naction = record\n"
            ),
        )
        .unwrap();
        std::fs::write(p.join("auth.log"), "").unwrap();
        Env { dir, thread: None }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn start(&mut self) {
        let opts = bailiff_server::ServerOptions {
            confdir: self.path("conf"),
            force: true,
            ..Default::default()
        };
        self.thread = Some(std::thread::spawn(move || bailiff_server::run(opts)));
        wait_for("the socket answers", Duration::from_secs(20), || {
            matches!(self.command(&["ping"]), Some(Reply::Ok(_)))
        });
    }

    /// One command over the real socket (None: no connection).
    pub fn command(&self, words: &[&str]) -> Option<Reply> {
        let mut c = Client::connect(self.path("b.sock"), Some(Duration::from_secs(10))).ok()?;
        c.command(words).ok()
    }

    pub fn ok(&self, words: &[&str]) -> Value {
        match self.command(words) {
            Some(Reply::Ok(v)) => v,
            r => panic!("{words:?}: {r:?}"),
        }
    }

    /// `(code, text)` of `status JAIL health` (JAIL: a name or `--all`), the request
    /// behind `bailiff client health`.
    pub fn health(&self, jail: &str) -> (i64, String) {
        let v = self.ok(&["status", jail, "health"]);
        let Value::List(items) = &v else {
            panic!("not a list: {v:?}")
        };
        let field = |name: &str| {
            items
                .iter()
                .find_map(|p| match p {
                    Value::Tuple(kv) if kv[0].as_str() == Some(name) => Some(kv[1].clone()),
                    _ => None,
                })
                .unwrap_or_else(|| panic!("no {name} in {v:?}"))
        };
        (
            field("code").as_i64().unwrap(),
            field("text").as_str().unwrap().to_string(),
        )
    }

    /// `status test` as the client prints it.
    pub fn status_text(&self) -> String {
        let v = self.ok(&["status", "test"]);
        bailiff_control::format::beautify(&["status", "test"], &v)
    }

    pub fn append(&self, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path("auth.log"))
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    pub fn actions(&self) -> String {
        std::fs::read_to_string(self.path("actions.txt")).unwrap_or_default()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("bailiff.log")).unwrap_or_default()
    }

    pub fn stop(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = self.command(&["stop"]);
            let r = t.join().expect("daemon thread panicked");
            assert!(r.is_ok(), "{r:?}");
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if self.thread.is_some() && !std::thread::panicking() {
            self.stop();
        } else if self.thread.is_some() {
            let _ = self.command(&["stop"]);
        }
    }
}

pub fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}
