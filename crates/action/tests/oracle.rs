//! Differential test against fail2ban itself: every stock action file is read by
//! fail2ban's reader (the property list `fail2ban-client -d` sends) and substituted
//! by fail2ban's `CommandAction`; bailiff must produce the same script for the same
//! properties and ticket. The ticket's values have no shell-special characters, so
//! fail2ban pastes them; bailiff passes log values through variables, which the test
//! expands back before comparing.

mod common;

use std::path::Path;
use std::process::Command;

use bailiff_action::{CommandAction, Family, Hook, HostNames, Target, Ticket};
use serde_json::{json, Value};

fn hook_of(name: &str) -> Option<Hook> {
    Some(match name {
        "actionstart" => Hook::Start,
        "actionstop" => Hook::Stop,
        "actioncheck" => Hook::Check,
        "actionban" => Hook::Ban,
        "actionunban" => Hook::Unban,
        "actionflush" => Hook::Flush,
        "actionprolong" => Hook::Prolong,
        "actionreban" => Hook::Reban,
        "actionrepair" => Hook::Repair,
        _ => return None,
    })
}

/// Put variable values back where bailiff referenced them. bailiff quotes a
/// reference in plain code (`"${v}"`) where fail2ban pastes the bare value, so a
/// value in double quotes counts as the bare value on both sides.
fn devar(script: &str, env: &[(String, String)]) -> String {
    let mut s = script.to_string();
    for (k, v) in env {
        for form in [format!("'\"${{{k}}}\"'"), format!("${{{k}}}")] {
            s = s.replace(&form, v);
        }
    }
    unquote(&s, env)
}

fn unquote(s: &str, env: &[(String, String)]) -> String {
    let mut s = s.to_string();
    for (_, v) in env {
        s = s.replace(&format!("\"{v}\""), v);
    }
    s
}

#[test]
fn stock_actions_match_fail2ban_substitution() {
    let python = Path::new("/usr/bin/python3");
    let f2b = Path::new("/usr/lib/python3/dist-packages/fail2ban/server/action.py");
    if !python.exists() || !f2b.exists() {
        common::skip("fail2ban's Python modules (the oracle) are not installed");
        return;
    }
    let ip4: Target = "192.0.2.7".parse().unwrap();
    let ip6: Target = "2001:db8::7".parse().unwrap();
    let jail = json!({
        "port": "ssh", "protocol": "tcp", "chain": "INPUT", "dest": "root",
        "sender": "fail2ban@example.org", "logpath": "/var/log/auth.log"
    });
    let ticket = json!({
        "ip4": ip4.to_string(), "ip6": ip6.to_string(),
        "rev4": ip4.reversed(), "rev6": ip6.reversed(),
        "fields": {"user": "alice"},
        "info": {
            "fid": "alice", "failures": 4, "time": 1_700_000_000i64, "bantime": 600, "bancount": 2,
            "matches": "plain match", "ipmatches": "plain ip match", "ipjailmatches": "plain jail match",
            "ipfailures": 7, "ipjailfailures": 5, "restored": 0, "ip-host": "host.example.net"
        }
    });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/action_oracle.py");
    let out = Command::new(python)
        .arg(&script)
        .arg(jail.to_string())
        .arg(ticket.to_string())
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run the oracle");
    assert!(
        out.status.success(),
        "oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let actions: Vec<Value> = serde_json::from_slice(&out.stdout).expect("oracle JSON");
    assert!(actions.len() >= 60, "only {} actions", actions.len());

    let host = HostNames::local();
    let values: Vec<(String, String)> = [
        "alice",
        "plain match",
        "plain ip match",
        "plain jail match",
        "host.example.net",
    ]
    .iter()
    .map(|v| (String::new(), v.to_string()))
    .collect();
    let mut compared = 0;
    let mut diffs = Vec::new();
    for a in &actions {
        let name = a["name"].as_str().unwrap();
        assert!(a.get("error").is_none(), "{name}: {}", a["error"]);
        let props: Vec<(String, String)> = a["props"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p[0].as_str().unwrap().to_string(),
                    p[1].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let act = CommandAction::new("sshd", name, props, host.clone()).unwrap();
        for c in a["cases"].as_array().unwrap() {
            let hook_name = c["hook"].as_str().unwrap();
            assert!(
                c.get("error").is_none(),
                "{name} {hook_name}: {}",
                c["error"]
            );
            let hook = hook_of(hook_name).unwrap();
            let fam = match c["family"].as_str().unwrap() {
                "inet4" => Family::Inet4,
                _ => Family::Inet6,
            };
            let expected = c["expected"].as_str().unwrap();
            let got = if c["ticket"].as_bool().unwrap() {
                let mut t = Ticket::new(if fam == Family::Inet4 { ip4 } else { ip6 });
                t.fid = Some("alice".into());
                t.failures = 4;
                t.time = 1_700_000_000;
                t.bantime = 600;
                t.bancount = 2;
                t.matches = vec!["plain match".into()];
                t.ip_matches = vec!["plain ip match".into()];
                t.ip_jail_matches = vec!["plain jail match".into()];
                t.ip_failures = Some(7);
                t.ip_jail_failures = Some(5);
                t.ip_host = Some("host.example.net".into());
                t.fields = vec![("user".into(), "alice".into())];
                let s = act
                    .render(hook, Some(fam), Some(&t))
                    .unwrap()
                    .expect("hook present");
                devar(&s.script, &s.env)
            } else {
                act.properties()
                    .expand(&format!("<{hook_name}>"), Some(fam), &host)
                    .unwrap()
            };
            compared += 1;
            let expected = if c["ticket"].as_bool().unwrap() {
                unquote(expected, &values)
            } else {
                expected.to_string()
            };
            if got != expected {
                diffs.push(format!(
                    "{name} {hook_name} {fam}:\n  fail2ban: {expected:?}\n  bailiff:  {got:?}"
                ));
            }
        }
    }
    eprintln!("compared {compared} hook scripts with fail2ban's substitution");
    assert!(compared > 400, "only {compared} comparisons");
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}
