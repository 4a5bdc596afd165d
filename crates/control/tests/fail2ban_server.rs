//! Our client against a real `fail2ban-server` (minimal config in a temp
//! copy, no actions, in-memory database): what we read and print must be
//! what `fail2ban-client` prints for the same commands.

mod common;

use bailiff_control::format::{beautify, beautify_error};
use bailiff_control::{Client, CommandError, ErrorKind, Reply, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct RealServer {
    child: Child,
    _dir: tempfile::TempDir,
    sock: PathBuf,
}

impl Drop for RealServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn start_real_server() -> RealServer {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf");
    copy_dir(Path::new("/etc/fail2ban"), &conf);
    // Only our jail; no actions (nothing touches the firewall); no database file.
    let jail_d = conf.join("jail.d");
    if jail_d.exists() {
        std::fs::remove_dir_all(&jail_d).unwrap();
        std::fs::create_dir(&jail_d).unwrap();
    }
    let log = dir.path().join("auth.log");
    std::fs::write(&log, b"").unwrap();
    std::fs::write(
        conf.join("fail2ban.local"),
        "[Definition]\ndbfile = :memory:\n",
    )
    .unwrap();
    std::fs::write(
        conf.join("jail.local"),
        format!(
            "[DEFAULT]\naction =\n[sshd]\nenabled = true\nbackend = polling\nlogpath = {}\n",
            log.display()
        ),
    )
    .unwrap();
    let sock = dir.path().join("f2b.sock");
    let child = Command::new("fail2ban-server")
        .args(["-f", "-x", "--logtarget", "STDOUT", "-s"])
        .arg(&sock)
        .arg("-p")
        .arg(dir.path().join("f2b.pid"))
        .arg("-c")
        .arg(&conf)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start fail2ban-server");
    let server = RealServer {
        child,
        _dir: dir,
        sock,
    };
    // Wait until it answers and the jail is up.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut c) = Client::connect(&server.sock, Some(Duration::from_secs(5))) {
            if let Ok(Reply::Ok(v)) = c.command(&["status"]) {
                if beautify(&["status"], &v).contains("sshd") {
                    break;
                }
            }
        }
        assert!(Instant::now() < deadline, "fail2ban-server did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

#[test]
fn our_client_reads_a_real_fail2ban_server() {
    if !common::have_tool("fail2ban-server") || !common::have_tool("fail2ban-client") {
        return;
    }
    let server = start_real_server();
    let mut c = Client::connect(&server.sock, Some(Duration::from_secs(10))).unwrap();

    assert_eq!(c.command(&["ping"]).unwrap(), Reply::Ok(Value::str("pong")));

    // The version the installed fail2ban reports about itself.
    let out = Command::new("/usr/bin/python3")
        .args(["-c", "import fail2ban.version as v; print(v.version)"])
        .env("PYTHONPATH", "/usr/lib/python3/dist-packages")
        .output()
        .unwrap();
    let version = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(
        c.command(&["version"]).unwrap(),
        Reply::Ok(Value::str(version))
    );

    // Commands whose printed output must match fail2ban-client's.
    let commands: &[&[&str]] = &[
        &["ping"],
        &["status"],
        &["status", "sshd"],
        &["set", "sshd", "banip", "192.0.2.1", "192.0.2.2"],
        &["get", "sshd", "bantime"],
        &["get", "sshd", "banip"],
        &["get", "sshd", "banip", ","],
        &["get", "sshd", "logpath"],
        &["get", "sshd", "failregex"],
        &["get", "sshd", "ignoreip"],
        &["get", "sshd", "datepattern"],
        &["get", "sshd", "actions"],
        &["get", "sshd", "maxretry"],
        &["get", "sshd", "bantime.increment"],
        &["get", "loglevel"],
        &["get", "dbfile"],
        &["banned"],
        &["banned", "192.0.2.1"],
        &["status", "sshd"],
        &["status", "nope"],
        &["get", "sshd"],
        &["get", "nope", "bantime"],
        &["set", "sshd", "idle", "maybe"],
        &["frobnicate"],
        &["set", "sshd", "addfailregex", "("],
        &["get", "sshd", "action", "nope", "actionban"],
        &["set", "sshd", "delfailregex", "99"],
        &["unban", "192.0.2.2"],
        &["unban", "--all"],
        &["echo", "hello", "world"],
    ];
    let mut bad = Vec::new();
    for cmd in commands {
        let ours = match c.command(cmd).unwrap_or_else(|e| panic!("{cmd:?}: {e}")) {
            Reply::Ok(v) => beautify(cmd, &v),
            Reply::Err(e) => beautify_error(&e),
        };
        let (_, theirs, _) = common::f2b_client(&server.sock, cmd);
        // Bans and unbans change state, so fail2ban-client's repeat finds
        // nothing left to do: compare with how we print that.
        let mutating = matches!(cmd[0], "unban") || cmd.get(2) == Some(&"banip") && cmd[0] == "set";
        let ours = if mutating {
            let first = ours.clone();
            let want = match *cmd {
                ["set", ..] => cmd.len() - 3,
                ["unban", "--all"] => 1,
                _ => cmd.len() - 1,
            };
            assert_eq!(first, want.to_string(), "{cmd:?}");
            beautify(cmd, &Value::Int(0))
        } else {
            ours
        };
        if format!("{ours}\n") != theirs {
            bad.push(format!("{cmd:?}\n  ours:   {ours:?}\n  theirs: {theirs:?}"));
        }
    }
    assert!(
        bad.is_empty(),
        "{} differences:\n{}",
        bad.len(),
        bad.join("\n")
    );

    // Typed errors come back through CommandError.
    let err = c
        .command(&["status", "nope"])
        .unwrap()
        .into_result()
        .unwrap_err();
    assert_eq!(
        err,
        CommandError {
            kind: ErrorKind::UnknownJail,
            message: "nope".into()
        }
    );

    // stop: the server replies, then exits.
    assert_eq!(c.command(&["stop"]).unwrap(), Reply::Ok(Value::None));
    drop(c);
    let mut server = server;
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "fail2ban-server did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}
