//! Every stock `action.d/*.conf` through the runner's substitution: each hook renders
//! for IPv4 and IPv6 tickets, parses as shell (`sh -n`), and never contains a log
//! value as text.

mod common;

use std::path::Path;
use std::process::Command;

use bailiff_action::{CommandAction, Family, Hook, HostNames, Target, Ticket};

const HOOKS: [Hook; 9] = [
    Hook::Start,
    Hook::Stop,
    Hook::Check,
    Hook::Ban,
    Hook::Unban,
    Hook::Flush,
    Hook::Prolong,
    Hook::Reban,
    Hook::Repair,
];

/// Jail-level values the files expect from jail.conf.
const JAIL: &[(&str, &str)] = &[
    ("name", "sshd"),
    ("port", "ssh"),
    ("protocol", "tcp"),
    ("chain", "INPUT"),
    ("dest", "root"),
    ("sender", "fail2ban@example.org"),
    ("logpath", "/var/log/auth.log"),
    ("bantime", "600"),
];

fn sh_syntax_ok(script: &str) -> Result<(), String> {
    let out = Command::new("/bin/sh")
        .arg("-n")
        .arg("-c")
        .arg(script)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn every_stock_action_renders_to_valid_shell() {
    let dir = Path::new("/etc/fail2ban/action.d");
    let Ok(entries) = std::fs::read_dir(dir) else {
        common::skip("/etc/fail2ban/action.d is not installed");
        return;
    };
    let mut files: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 60,
        "expected the stock action.d, found {}",
        files.len()
    );
    let host = HostNames {
        fq: "gate.example.org".into(),
        short: "gate".into(),
    };
    let hostile = "$(touch /tmp/bailiff-stock-pwned)`id`;|&'\"\nx";
    let mut rendered = 0;
    let mut failures = Vec::new();
    for f in &files {
        let stem = f.file_stem().unwrap().to_string_lossy().into_owned();
        let props = common::read_action(f, JAIL);
        let act = match CommandAction::new("sshd", &stem, props, host.clone()) {
            Ok(a) => a,
            Err(e) => {
                failures.push(format!("{stem}: {e}"));
                continue;
            }
        };
        for ip in ["192.0.2.7", "2001:db8::7"] {
            let mut t = Ticket::new(ip.parse::<Target>().unwrap());
            t.failures = 4;
            t.time = 1_700_000_000;
            t.bantime = 600;
            t.matches = vec![hostile.to_string()];
            t.ip_matches = vec![hostile.to_string()];
            t.ip_jail_matches = vec![hostile.to_string()];
            t.fields = vec![("user".into(), hostile.into())];
            t.fid = Some(hostile.to_string());
            let fam = Some(t.family());
            for hook in HOOKS {
                let ticket = matches!(hook, Hook::Ban | Hook::Unban | Hook::Prolong | Hook::Reban)
                    .then_some(&t);
                match act.render(hook, fam, ticket) {
                    Err(e) => failures.push(format!("{stem} {hook:?}: {e}")),
                    Ok(None) => {}
                    Ok(Some(s)) => {
                        rendered += 1;
                        if s.script.contains("touch /tmp/bailiff-stock-pwned") {
                            failures
                                .push(format!("{stem} {hook:?}: log value pasted into the script"));
                        }
                        if let Err(e) = sh_syntax_ok(&s.script) {
                            failures
                                .push(format!("{stem} {hook:?} {ip}: sh -n: {e}\n{}", s.script));
                        }
                        for (_, v) in &s.env {
                            assert!(!v.contains('\0'));
                        }
                    }
                }
            }
        }
        assert!(act.start_on_demand() || !act.started(Family::Inet4));
    }
    eprintln!(
        "rendered {rendered} hook scripts from {} files",
        files.len()
    );
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(!Path::new("/tmp/bailiff-stock-pwned").exists());
}
