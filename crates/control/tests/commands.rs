//! The command parser against fail2ban's own lists: every usage line of
//! `protocol.py`, and the whole configuration stream `fail2ban-client -d`
//! produces for every stock jail.

mod common;

use bailiff_control::pickle::decode;
use bailiff_control::{
    Command, CommandError, ErrorKind, Get, JailGet, JailSet, ReloadOptions, Set, Value,
};
use std::process::Command as Process;

const PY: &str = "/usr/bin/python3";

fn words(ws: &[&str]) -> Vec<Value> {
    ws.iter().map(|w| Value::str(*w)).collect()
}

fn parse(ws: &[&str]) -> Result<Command, CommandError> {
    Command::parse(&words(ws))
}

/// Turn a usage line of protocol.py into one concrete request.
fn instantiate(usage: &str) -> Vec<String> {
    let mut out = Vec::new();
    for tok in usage.split_whitespace() {
        let tok = tok.trim_end_matches(']').trim_start_matches('[');
        let tok = tok.split('|').next().unwrap_or(tok);
        let w = match tok {
            "..." | "" => continue,
            "<JAIL>" => "sshd",
            "<IP>" => "192.0.2.1",
            "<BACKEND>" => "polling",
            "<ACT>" => "nftables",
            "<FILE>" | "'tail'" => {
                if tok == "'tail'" {
                    "tail"
                } else {
                    "/var/log/auth.log"
                }
            }
            "<INT>" | "<RETRY>" | "<INDEX>" | "<LINES>" | "<SECONDS>" | "<TIMEOUT>" | "<TIME>" => {
                "5"
            }
            "<JSONKWARGS>" => "{}",
            "<SEP>" => ",",
            "<failure1>" | "<failureN>" => "a failure line",
            t if t.starts_with('<') => "value",
            t => t,
        };
        out.push(w.to_owned());
    }
    out
}

#[test]
fn every_protocol_py_command_parses() {
    if !common::have_tool(PY) {
        return;
    }
    let out = Process::new(PY)
        .args([
            "-c",
            "import sys\nsys.path.insert(0, '/usr/lib/python3/dist-packages')\nfrom fail2ban.protocol import protocol\nfor p in protocol:\n    if p[0]: print(p[0])",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let usages: Vec<&str> = text.lines().collect();
    assert!(
        usages.len() >= 95,
        "protocol.py lists {} commands",
        usages.len()
    );
    let mut bad = Vec::new();
    let mut parsed = 0;
    for usage in &usages {
        // fail2ban-client runs these itself (start the server, re-read the
        // configuration); the server sees `reload` in the stream form, tested below.
        if usage.starts_with("start") && !usage.contains("<JAIL>")
            || usage.starts_with("restart")
            || usage.starts_with("reload")
        {
            continue;
        }
        let req = instantiate(usage);
        let refs: Vec<&str> = req.iter().map(String::as_str).collect();
        match parse(&refs) {
            Ok(cmd) => {
                parsed += 1;
                // Writing the command back gives a request that parses the same.
                assert_eq!(Command::parse(&cmd.to_request()).unwrap(), cmd, "{usage}");
            }
            Err(e) => bad.push(format!("{usage:?} as {req:?}: {e}")),
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert!(parsed >= 90, "{parsed}");
}

#[test]
fn the_whole_stock_configuration_stream_parses() {
    if !common::have_tool(PY) || !common::have_tool("fail2ban-client") {
        return;
    }
    // Every stock jail enabled, dumped by fail2ban-client, pickled by Python
    // as the server-stream request the client sends at start.
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf");
    let status = Process::new("cp")
        .arg("-r")
        .arg("/etc/fail2ban")
        .arg(&conf)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::write(
        conf.join("jail.d").join("zz-all.local"),
        "[DEFAULT]\nenabled = true\n",
    )
    .unwrap();
    let script = format!(
        "import subprocess, ast, pickle, sys\n\
         out = subprocess.run(['fail2ban-client', '-c', {conf:?}, '-d'], capture_output=True, text=True).stdout\n\
         stream = [ast.literal_eval(l) for l in out.splitlines() if l.startswith('[')]\n\
         sys.stdout.write(pickle.dumps(['server-stream', stream], pickle.HIGHEST_PROTOCOL).hex())\n\
         sys.stderr.write(str(len(stream)))\n",
        conf = conf.display().to_string()
    );
    let out = Process::new(PY).arg("-c").arg(&script).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let count: usize = String::from_utf8(out.stderr)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(count > 1000, "only {count} stream commands");
    let hex = String::from_utf8(out.stdout).unwrap();
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let request = decode(&bytes).unwrap();
    let items = request.as_seq().unwrap();
    let cmd = Command::parse(items).unwrap();
    assert_eq!(
        Command::parse(&cmd.to_request()).unwrap(),
        cmd,
        "round trip of the stream"
    );
    // to_request writes what fail2ban-client sent, item for item.
    let (Value::List(ours), Some(theirs)) = (
        &cmd.to_request()[1],
        request.as_seq().and_then(|r| r.get(1)),
    ) else {
        panic!("stream is not a list")
    };
    let theirs = theirs.as_seq().unwrap();
    assert_eq!(ours.len(), theirs.len());
    for (a, b) in ours.iter().zip(theirs) {
        assert_eq!(a.py_repr(), b.py_repr());
    }
    let Command::ServerStream(stream) = cmd else {
        panic!("not a stream")
    };
    assert_eq!(stream.len(), count);
    // Spot checks on typed content.
    assert!(stream.contains(&Command::Add {
        jail: "sshd".into(),
        backend: "auto".into()
    }));
    assert!(stream.contains(&Command::Set(Set::Jail {
        jail: "sshd".into(),
        op: JailSet::MaxRetry(5)
    })));
    assert!(stream.iter().any(|c| matches!(c,
        Command::MultiSet(Set::Jail { jail, op: JailSet::AddFailRegex(r) }) if jail == "sshd" && r.len() > 5)));
    assert!(stream.iter().any(|c| matches!(c,
        Command::MultiSet(Set::Jail { op: JailSet::ActionMulti { items, .. }, .. })
            if items.iter().any(|(k, v)| k == "actionban" && v.as_ref().and_then(Value::as_str).is_some()))));
    assert!(stream.iter().any(|c| matches!(c,
        Command::MultiSet(Set::Jail { op: JailSet::ActionMulti { items, .. }, .. })
            if items.contains(&("actionstart_on_demand".to_string(), Some(Value::Bool(false)))))));
    assert!(stream.contains(&Command::StartJail("sshd".into())));
}

#[test]
fn typed_parses() {
    assert_eq!(parse(&["ping"]).unwrap(), Command::Ping);
    assert_eq!(parse(&["ping", "0.5"]).unwrap(), Command::Ping);
    assert_eq!(parse(&["stop"]).unwrap(), Command::Shutdown);
    assert_eq!(parse(&["stop", "--all"]).unwrap(), Command::StopAll);
    assert_eq!(
        parse(&["stop", "sshd"]).unwrap(),
        Command::StopJail("sshd".into())
    );
    assert_eq!(
        parse(&["add", "web"]).unwrap(),
        Command::Add {
            jail: "web".into(),
            backend: "auto".into()
        }
    );
    assert_eq!(parse(&["unban", "--all"]).unwrap(), Command::UnbanAll);
    assert_eq!(
        parse(&["unban", "1.2.3.4", "::1"]).unwrap(),
        Command::Unban(vec!["1.2.3.4".into(), "::1".into()])
    );
    assert_eq!(parse(&["banned"]).unwrap(), Command::Banned(vec![]));
    assert_eq!(parse(&["status"]).unwrap(), Command::Status);
    assert_eq!(
        parse(&["status", "sshd", "cymru"]).unwrap(),
        Command::JailStatus {
            jail: "sshd".into(),
            flavor: Some("cymru".into())
        }
    );
    assert_eq!(
        parse(&["set", "sshd", "unbanip", "--report-absent", "1.2.3.4"]).unwrap(),
        Command::Set(Set::Jail {
            jail: "sshd".into(),
            op: JailSet::UnbanIp {
                ips: vec!["1.2.3.4".into()],
                report_absent: true
            }
        })
    );
    assert_eq!(
        parse(&["set", "sshd", "bantime.increment", "true"]).unwrap(),
        Command::Set(Set::Jail {
            jail: "sshd".into(),
            op: JailSet::BanTimeExtra {
                option: "increment".into(),
                value: "true".into()
            }
        })
    );
    assert_eq!(
        parse(&["set", "sshd", "addlogpath", "/x", "TAIL"]).unwrap(),
        Command::Set(Set::Jail {
            jail: "sshd".into(),
            op: JailSet::AddLogPath {
                path: "/x".into(),
                tail: true
            }
        })
    );
    assert_eq!(
        parse(&["set", "sshd", "action", "nft", "actionban", "echo <ip>"]).unwrap(),
        Command::Set(Set::Jail {
            jail: "sshd".into(),
            op: JailSet::Action {
                action: "nft".into(),
                key: "actionban".into(),
                value: Some("echo <ip>".into())
            }
        })
    );
    assert_eq!(
        parse(&["get", "sshd", "banip", "--with-time"]).unwrap(),
        Command::Get(Get::Jail {
            jail: "sshd".into(),
            op: JailGet::BanIp { with_time: true }
        })
    );
    assert_eq!(
        parse(&["get", "sshd", "bantime.maxtime"]).unwrap(),
        Command::Get(Get::Jail {
            jail: "sshd".into(),
            op: JailGet::BanTimeExtra("maxtime".into())
        })
    );
    assert_eq!(
        parse(&["get", "dbpurgeage"]).unwrap(),
        Command::Get(Get::DbPurgeAge)
    );
    assert_eq!(
        parse(&["status", "sshd"]).unwrap().to_string(),
        "['status', 'sshd']"
    );
    // Numbers arrive as ints from the client's stream.
    let req = vec![
        Value::str("set"),
        Value::str("sshd"),
        Value::str("maxretry"),
        Value::Int(3),
    ];
    assert_eq!(
        Command::parse(&req).unwrap(),
        Command::Set(Set::Jail {
            jail: "sshd".into(),
            op: JailSet::MaxRetry(3)
        })
    );
    // The reload request as fail2ban-client sends it.
    let req = vec![
        Value::str("reload"),
        Value::str("sshd"),
        Value::str_list(["--restart", "--unban"]),
        Value::List(vec![Value::str_list(["start", "sshd"])]),
    ];
    assert_eq!(
        Command::parse(&req).unwrap(),
        Command::Reload {
            jail: Some("sshd".into()),
            options: ReloadOptions {
                restart: true,
                unban: true,
                if_exists: false
            },
            stream: vec![Command::StartJail("sshd".into())],
        }
    );
}

#[test]
fn bad_commands_give_clear_errors() {
    let cases: &[(&[&str], ErrorKind, &str)] = &[
        (&[], ErrorKind::Invalid, "empty"),
        (&["frobnicate"], ErrorKind::Other, "Invalid command"),
        (&["get", "sshd"], ErrorKind::Invalid, "missing jail setting"),
        (
            &["get", "sshd", "nonsense"],
            ErrorKind::Other,
            "no get action",
        ),
        (
            &["set", "sshd", "nonsense", "x"],
            ErrorKind::Other,
            "no set action",
        ),
        (
            &["set", "sshd", "maxretry", "many"],
            ErrorKind::Value,
            "invalid literal for int()",
        ),
        (
            &["set", "sshd", "idle", "maybe"],
            ErrorKind::Other,
            "'on' or 'off'",
        ),
        (
            &["set", "sshd", "addlogpath", "/x", "middle"],
            ErrorKind::Value,
            "'head' or 'tail'",
        ),
        (
            &["set", "sshd", "addlogpath", "/x", "tail", "/y"],
            ErrorKind::Value,
            "one file",
        ),
        (&["start"], ErrorKind::Invalid, "missing jail"),
        (
            &["version", "extra"],
            ErrorKind::Invalid,
            "unexpected argument",
        ),
        (
            &["status", "sshd", "basic", "extra"],
            ErrorKind::Invalid,
            "unexpected argument",
        ),
        (&["add", "--all"], ErrorKind::Other, "Reserved name"),
        (&["sleep", "forever"], ErrorKind::Value, "float"),
        (&["unban"], ErrorKind::Other, "Invalid command"),
        (
            &["reload", "--all"],
            ErrorKind::Invalid,
            "missing reload options",
        ),
    ];
    for (req, kind, needle) in cases {
        let err = parse(req).unwrap_err();
        assert_eq!(&err.kind, kind, "{req:?}: {err}");
        assert!(err.to_string().contains(needle), "{req:?}: {err}");
    }
    // Non-string command names and containers where words are expected.
    assert!(Command::parse(&[Value::List(vec![])]).is_err());
    assert!(Command::parse(&[Value::str("echo"), Value::Dict(vec![])]).is_err());
}
