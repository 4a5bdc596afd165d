//! The real `fail2ban-client` against our server with an in-memory handler.

mod common;

use bailiff_control::format::{beautify, beautify_error};
use bailiff_control::{CommandError, ServerConfig, Value};
use common::{f2b_client, have_tool, MemHandler, TestServer};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::sync::Arc;

#[test]
fn real_fail2ban_client_drives_our_server() {
    if !have_tool("fail2ban-client") {
        return;
    }
    let handler = Arc::new(MemHandler::with_sshd());
    let ts = TestServer::start(Arc::clone(&handler), ServerConfig::default());

    // The socket exists, is a socket, and only root/owner can use it.
    let md = std::fs::symlink_metadata(&ts.sock).unwrap();
    assert!(md.file_type().is_socket());
    assert_eq!(md.permissions().mode() & 0o777, 0o600, "socket mode");

    let (code, out, err) = f2b_client(&ts.sock, &["ping"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "Server replied: pong\n"),
        "stderr: {err}"
    );

    let (code, out, err) = f2b_client(&ts.sock, &["status"]);
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(out, "Status\n|- Number of jail:\t1\n`- Jail list:\tsshd\n");

    let (code, out, err) = f2b_client(&ts.sock, &["set", "sshd", "banip", "192.0.2.1"]);
    assert_eq!((code, out.as_str()), (0, "1\n"), "stderr: {err}");
    assert_eq!(
        handler.jails.lock().unwrap()["sshd"].banned,
        vec!["192.0.2.1".to_string()]
    );

    let (code, out, err) = f2b_client(&ts.sock, &["status", "sshd"]);
    assert_eq!(code, 0, "stderr: {err}");
    let want = "Status for the jail: sshd\n\
                |- Filter\n\
                |  |- Currently failed:\t0\n\
                |  |- Total failed:\t0\n\
                |  `- File list:\t/var/log/auth.log\n\
                `- Actions\n   \
                |- Currently banned:\t1\n   \
                |- Total banned:\t1\n   \
                `- Banned IP list:\t192.0.2.1\n";
    assert_eq!(out, want);

    let (code, out, err) = f2b_client(&ts.sock, &["get", "sshd", "bantime"]);
    assert_eq!((code, out.as_str()), (0, "600\n"), "stderr: {err}");

    let (code, out, err) = f2b_client(&ts.sock, &["banned"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "[{'sshd': ['192.0.2.1']}]\n"),
        "stderr: {err}"
    );

    let (code, out, err) = f2b_client(&ts.sock, &["banned", "192.0.2.1", "198.51.100.7"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "[['sshd'], []]\n"),
        "stderr: {err}"
    );

    let (code, out, err) = f2b_client(&ts.sock, &["unban", "--all"]);
    assert_eq!((code, out.as_str()), (0, "1\n"), "stderr: {err}");
    assert!(handler.jails.lock().unwrap()["sshd"].banned.is_empty());

    // Errors: an unknown jail is printed the way fail2ban prints it, and the
    // client exits non-zero.
    let (code, out, err) = f2b_client(&ts.sock, &["status", "nope"]);
    assert_ne!(code, 0);
    assert_eq!(
        out, "Sorry but the jail 'nope' does not exist\n",
        "stderr: {err}"
    );

    // Too few arguments: IndexError, "the command is invalid".
    let (code, out, _) = f2b_client(&ts.sock, &["get", "sshd"]);
    assert_ne!(code, 0);
    assert_eq!(out, "Sorry but the command is invalid\n");

    // Unknown command: a plain Exception with fail2ban's message.
    let (code, out, _) = f2b_client(&ts.sock, &["frobnicate"]);
    assert_ne!(code, 0);
    assert_eq!(out, "Invalid command\n");

    // `reload`: fail2ban-client reads the configuration itself and sends
    // the whole stream, which must parse.
    let conf = ts.dir.path().join("conf");
    assert!(std::process::Command::new("cp")
        .arg("-r")
        .arg("/etc/fail2ban")
        .arg(&conf)
        .status()
        .unwrap()
        .success());
    let log = ts.dir.path().join("auth.log");
    std::fs::write(&log, b"").unwrap();
    std::fs::write(
        conf.join("jail.local"),
        format!(
            "[sshd]\nenabled = true\nbackend = polling\nlogpath = {}\n",
            log.display()
        ),
    )
    .unwrap();
    let conf_s = conf.to_str().unwrap();
    let (code, _, err) = f2b_client(&ts.sock, &["-c", conf_s, "reload", "--unban"]);
    assert_eq!(code, 0, "stderr: {err}");
    let (jail, opts, n) = handler
        .reloaded
        .lock()
        .unwrap()
        .clone()
        .expect("reload reached the handler");
    assert_eq!(jail, None);
    assert!(opts.unban && !opts.restart);
    assert!(n > 10, "stream of {n} commands");
    let (code, _, err) = f2b_client(&ts.sock, &["-c", conf_s, "restart", "sshd"]);
    assert_eq!(code, 0, "stderr: {err}");
    let (jail, opts, _) = handler.reloaded.lock().unwrap().clone().unwrap();
    assert_eq!(jail.as_deref(), Some("sshd"));
    assert!(opts.restart);

    // `stop` shuts the server down through the handler.
    let (code, out, err) = f2b_client(&ts.sock, &["stop"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "Shutdown successful\n"),
        "stderr: {err}"
    );
    assert!(handler.shutdown.is_triggered());
}

/// For fixed replies, our formatter prints exactly what `fail2ban-client`
/// prints for the same command and reply.
#[test]
fn formatter_matches_fail2ban_client() {
    if !have_tool("fail2ban-client") {
        return;
    }
    let handler = Arc::new(MemHandler::with_sshd());
    let ts = TestServer::start(Arc::clone(&handler), ServerConfig::default());
    let s = Value::str;
    let l = |v: &[&str]| Value::str_list(v.iter().copied());
    let jail_status = Value::List(vec![
        Value::pair(
            "Filter",
            Value::List(vec![
                Value::pair("Currently failed", Value::Int(3)),
                Value::pair("Total failed", Value::Int(1234)),
                Value::pair(
                    "Journal matches",
                    l(&["_SYSTEMD_UNIT=sshd.service", "+", "_COMM=sshd"]),
                ),
            ]),
        ),
        Value::pair(
            "Actions",
            Value::List(vec![
                Value::pair("Currently banned", Value::Int(2)),
                Value::pair("Total banned", Value::Int(17)),
                Value::pair("Banned IP list", l(&["192.0.2.1", "2001:db8::1"])),
            ]),
        ),
    ]);
    let cases: Vec<(Vec<&str>, Result<Value, CommandError>)> = vec![
        (vec!["ping"], Ok(s("pong"))),
        // A reply of the wrong type: the beautifier falls back to reprs.
        (vec!["ping"], Ok(Value::Int(1))),
        (vec!["get", "sshd", "logpath"], Ok(Value::Int(7))),
        (vec!["version"], Ok(s("1.0.2"))),
        (vec!["echo", "a", "b"], Ok(l(&["a", "b"]))),
        (
            vec!["status"],
            Ok(Value::List(vec![
                Value::pair("Number of jail", Value::Int(2)),
                Value::pair("Jail list", s("nginx-http-auth, sshd")),
            ])),
        ),
        (vec!["status", "sshd"], Ok(jail_status.clone())),
        (vec!["status", "sshd", "short"], Ok(jail_status)),
        (vec!["status", "empty"], Ok(Value::List(vec![]))),
        (vec!["stop", "sshd"], Ok(Value::None)),
        (vec!["add", "web", "polling"], Ok(s("web"))),
        (vec!["flushlogs"], Ok(s("rolled over"))),
        (vec!["get", "loglevel"], Ok(Value::Int(20))),
        (vec!["get", "loglevel"], Ok(s("INFO"))),
        (vec!["set", "loglevel", "7"], Ok(Value::Int(7))),
        (vec!["get", "logtarget"], Ok(s("/var/log/fail2ban.log"))),
        (vec!["get", "syslogsocket"], Ok(s("auto"))),
        (
            vec!["get", "dbfile"],
            Ok(s("/var/lib/fail2ban/fail2ban.sqlite3")),
        ),
        (vec!["get", "dbfile"], Ok(Value::None)),
        (vec!["get", "dbpurgeage"], Ok(Value::Int(86400))),
        (vec!["get", "dbpurgeage"], Ok(Value::None)),
        (vec!["get", "dbmaxmatches"], Ok(Value::Int(10))),
        (
            vec!["get", "sshd", "logpath"],
            Ok(l(&["/var/log/auth.log", "/var/log/secure"])),
        ),
        (vec!["get", "sshd", "logpath"], Ok(l(&[]))),
        (vec!["set", "sshd", "addlogpath", "/x"], Ok(l(&["/x"]))),
        (vec!["get", "sshd", "logencoding"], Ok(s("auto"))),
        (
            vec!["get", "sshd", "journalmatch"],
            Ok(Value::List(vec![
                l(&["_SYSTEMD_UNIT=sshd.service"]),
                l(&["_COMM=sshd", "PRIORITY=3"]),
            ])),
        ),
        (vec!["get", "sshd", "journalmatch"], Ok(l(&[]))),
        (vec!["get", "sshd", "datepattern"], Ok(Value::None)),
        (
            vec!["get", "sshd", "datepattern"],
            Ok(Value::Tuple(vec![s("{^LN-BEG}"), s("^(?:DATE)")])),
        ),
        (
            vec!["get", "sshd", "datepattern"],
            Ok(Value::Tuple(vec![Value::None, s("Default Detectors")])),
        ),
        (
            vec!["get", "sshd", "ignoreip"],
            Ok(l(&["127.0.0.1/8", "::1"])),
        ),
        (vec!["get", "sshd", "ignoreip"], Ok(l(&[]))),
        (
            vec!["get", "sshd", "failregex"],
            Ok(l(&["^a <HOST>$", "^b <HOST>$", "^c"])),
        ),
        (vec!["get", "sshd", "ignoreregex"], Ok(l(&[]))),
        (
            vec!["get", "sshd", "actions"],
            Ok(l(&["nftables", "sendmail"])),
        ),
        (vec!["get", "sshd", "actions"], Ok(l(&[]))),
        (
            vec!["get", "sshd", "actionproperties", "nftables"],
            Ok(l(&["actionban", "actionunban", "timeout"])),
        ),
        (vec!["get", "sshd", "actionmethods", "nftables"], Ok(l(&[]))),
        (
            vec!["get", "sshd", "banip"],
            Ok(l(&["192.0.2.1", "192.0.2.2"])),
        ),
        (
            vec!["get", "sshd", "banip", ","],
            Ok(l(&["192.0.2.1", "192.0.2.2"])),
        ),
        (
            vec!["get", "sshd", "banip", "--with-time"],
            Ok(l(&[
                "192.0.2.1 \t2026-01-01 10:00:00 + 600 = 2026-01-01 10:10:00",
                "192.0.2.2 \t2026-01-01 10:01:00 + 600 = 2026-01-01 10:11:00",
            ])),
        ),
        (vec!["get", "sshd", "bantime"], Ok(Value::Int(600))),
        (vec!["get", "sshd", "bantime.factor"], Ok(Value::Float(1.5))),
        (vec!["get", "sshd", "maxretry"], Ok(Value::Int(5))),
        (vec!["get", "sshd", "usedns"], Ok(s("warn"))),
        (vec!["get", "sshd", "ignoreself"], Ok(Value::Bool(true))),
        (vec!["get", "sshd", "banned"], Ok(l(&["192.0.2.1"]))),
        (
            vec!["get", "sshd", "banned", "192.0.2.1", "192.0.2.9"],
            Ok(Value::List(vec![Value::Int(1), Value::Int(0)])),
        ),
        (
            vec!["banned"],
            Ok(Value::List(vec![
                Value::Dict(vec![(s("sshd"), l(&["192.0.2.1"]))]),
                Value::Dict(vec![(s("web"), l(&[]))]),
            ])),
        ),
        (vec!["unban", "--all"], Ok(Value::Int(4))),
        (vec!["set", "sshd", "idle", "on"], Ok(Value::Bool(true))),
        (
            vec!["get", "sshd", "action", "nftables", "actionban"],
            Ok(s("nft add element <table> <ip>\nsecond line")),
        ),
        (
            vec!["get", "thread"],
            Ok(Value::Dict(vec![(s("stacksize"), Value::Int(0))])),
        ),
        (vec!["get", "sshd", "bantime.rndtime"], Ok(Value::None)),
        (
            vec!["get", "sshd", "findtime"],
            Ok(Value::Set(vec![Value::Int(1)])),
        ),
        (
            vec!["get", "sshd", "findtime"],
            Ok(Value::Tuple(vec![
                s("it's"),
                Value::Bytes(b"\x00b".to_vec()),
            ])),
        ),
        (
            vec!["status", "sshd"],
            Err(CommandError::unknown_jail("sshd")),
        ),
        (
            vec!["add", "sshd"],
            Err(CommandError::duplicate_jail("sshd")),
        ),
        (
            vec!["get", "sshd", "maxretry"],
            Err(CommandError::invalid("list index out of range")),
        ),
        (
            vec!["set", "sshd", "bantime", "x"],
            Err(CommandError::value("invalid literal for int()")),
        ),
        (
            vec!["set", "sshd", "banip", "x"],
            Err(CommandError::other("Failed to ban x: not an IP")),
        ),
    ];
    let mut failures = Vec::new();
    for (cmd, reply) in &cases {
        *handler.fixed.lock().unwrap() = Some(reply.clone());
        let (code, out, err) = f2b_client(&ts.sock, cmd);
        let ours = match reply {
            Ok(v) => beautify(cmd, v),
            Err(e) => beautify_error(&e.to_value()),
        };
        let want_code = if reply.is_ok() { 0 } else { 255 };
        if out != format!("{ours}\n") || code != want_code {
            failures.push(format!(
                "{cmd:?} -> {reply:?}\n  fail2ban-client (exit {code}): {out:?}\n  ours: {ours:?}\n  stderr: {err}"
            ));
        }
    }
    *handler.fixed.lock().unwrap() = None;
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
