//! The `action.d` runner against real files and real processes.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bailiff_action::{ActionError, CommandAction, Family, HostNames, Target, Ticket};

fn host() -> HostNames {
    HostNames {
        fq: "gate.example.org".into(),
        short: "gate".into(),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn ticket(ip: &str) -> Ticket {
    let mut t = Ticket::new(ip.parse::<Target>().unwrap());
    t.failures = 3;
    t.time = 1_700_000_123;
    t.bantime = 600;
    t.bancount = 1;
    t
}

/// Hostile values: every shell metacharacter that could start a command.
fn hostile(marker: &Path) -> Vec<String> {
    let m = marker.display();
    vec![
        format!("$(touch {m}.a)"),
        format!("`touch {m}.b`"),
        format!("x'; touch {m}.c; echo '"),
        format!("x\"; touch {m}.d; echo \""),
        format!("a; touch {m}.e"),
        format!("a | touch {m}.f"),
        format!("a & touch {m}.g"),
        format!("a\ntouch {m}.h"),
        format!("${{IFS}}$(touch {m}.i)*?~[x]{{y}}<z>#"),
        "EOF".to_string(),
    ]
}

const ECHO_ACTION: &str = "\
[Definition]
actionban = echo <F-USER> >> <out>
            echo \"u=<F-USER>\" >> <out>
            echo 'u=<F-USER>' >> <out>
            printf '%%s\\n' \"<matches>\" >> <out>
            printf '%%s\\n' '<matches>' >> <out>
            echo <fid> <ip-host> >> <out>
            cat >> <out> <<EOF
            <matches>
            EOF
            cat >> <out> <<'EOF'
            <F-USER>
            EOF
[Init]
out = OUT
";

#[test]
fn log_values_never_run_commands() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.txt");
    let marker = dir.path().join("pwned");
    let file = write(
        dir.path(),
        "echo.conf",
        &ECHO_ACTION.replace("OUT", &out.display().to_string()),
    );
    let props = common::read_action(&file, &[]);
    let mut act = CommandAction::new("sshd", "echo", props, host()).unwrap();
    act.start().unwrap();
    for (n, value) in hostile(&marker).iter().enumerate() {
        let _ = std::fs::remove_file(&out);
        let mut t = ticket("192.0.2.10");
        t.fields = vec![("user".into(), value.clone())];
        t.matches = vec![format!("line one {value}"), value.clone()];
        t.fid = Some(value.clone());
        t.ip_host = Some(value.clone());
        assert!(act.ban(&t).unwrap(), "case {n}");
        let got = std::fs::read_to_string(&out).unwrap();
        let matches = t.matches.join("\n");
        // a quoted here-document keeps a line equal to its terminator apart with a space
        let literal_user = if value == "EOF" {
            "EOF ".to_string()
        } else {
            value.clone()
        };
        let want = format!(
            "{value}\nu={value}\nu={value}\n{matches}\n{matches}\n{value} {value}\n{matches}\n{literal_user}\n"
        );
        assert_eq!(got, want, "case {n}: {value:?}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("pwned"))
        .collect();
    assert!(leftovers.is_empty(), "commands ran: {leftovers:?}");
}

#[test]
fn stock_dummy_action_runs() {
    let stock = Path::new("/etc/fail2ban/action.d/dummy.conf");
    if !stock.exists() {
        common::skip("/etc/fail2ban/action.d/dummy.conf is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("dummy.state");
    let t = target.display().to_string();
    let props = common::read_action(stock, &[("target", &t)]);
    let mut act = CommandAction::new("sshd", "dummy", props, host()).unwrap();
    act.start().unwrap();
    assert!(target.exists());
    act.ban(&ticket("192.0.2.1")).unwrap();
    act.ban(&ticket("2001:db8::7")).unwrap();
    act.unban(&ticket("192.0.2.1")).unwrap();
    assert!(act.flush().unwrap());
    let text = std::fs::read_to_string(&target).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        ["123", "+192.0.2.1", "+2001:db8::7", "-192.0.2.1", "-*"]
    );
    act.stop().unwrap();
    assert!(!target.exists(), "actionstop removes the target");
}

#[test]
fn check_and_repair_after_a_failed_ban() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let out = dir.path().join("out");
    let (s, o) = (state.display().to_string(), out.display().to_string());
    let with_repair = |repair: bool| {
        let mut p = vec![
            (
                "actionstart".to_string(),
                format!("touch {s} && echo start >> {o}"),
            ),
            (
                "actionstop".to_string(),
                format!("rm -f {s} && echo stop >> {o}"),
            ),
            ("actioncheck".to_string(), format!("test -f {s}")),
            (
                "actionban".to_string(),
                format!("test -f {s} && echo ban <ip> >> {o}"),
            ),
            (
                "actionunban".to_string(),
                format!("test -f {s} && echo unban <ip> >> {o}"),
            ),
        ];
        if repair {
            p.push((
                "actionrepair".to_string(),
                format!("touch {s} && echo repair >> {o}"),
            ));
        }
        p
    };
    let read = || std::fs::read_to_string(&out).unwrap_or_default();

    let mut act = CommandAction::new("j", "a", with_repair(true), host()).unwrap();
    act.start().unwrap();
    std::fs::remove_file(&state).unwrap();
    act.ban(&ticket("192.0.2.5")).unwrap();
    assert_eq!(read(), "start\nrepair\nban 192.0.2.5\n");
    assert_eq!(act.epoch(), 1);

    // unban without actionrepair_on_unban: no repair, an error
    std::fs::remove_file(&state).unwrap();
    let err = act.unban(&ticket("192.0.2.5")).unwrap_err();
    assert!(
        matches!(
            err,
            ActionError::HookFailed {
                hook: "actionunban",
                ..
            }
        ),
        "{err}"
    );
    assert!(!state.exists());

    // without actionrepair: stop + start
    std::fs::remove_file(&out).unwrap();
    let mut act = CommandAction::new("j", "b", with_repair(false), host()).unwrap();
    act.start().unwrap();
    std::fs::remove_file(&state).unwrap();
    act.ban(&ticket("192.0.2.6")).unwrap();
    assert_eq!(read(), "start\nstop\nstart\nban 192.0.2.6\n");
}

/// The periodic consistency check and fail2ban's ban epoch: a repair loses what
/// the firewall held, so the bans from before it are re-applied once, and the
/// ones banned after it are not applied twice.
#[test]
fn consistency_check_repairs_and_rebans_older_bans_once() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let out = dir.path().join("out");
    let (s, o) = (state.display().to_string(), out.display().to_string());
    // The "firewall" is the state file: start creates it empty, a ban appends
    // the address, check looks for it, stop deletes it (so its bans are lost).
    let props = vec![
        ("actionstart".to_string(), format!("touch {s}")),
        ("actionstop".to_string(), format!("rm -f {s}")),
        ("actioncheck".to_string(), format!("test -f {s}")),
        (
            "actionban".to_string(),
            format!("test -f {s} && echo <ip> >> {s} && echo ban <ip> >> {o}"),
        ),
        ("actionunban".to_string(), format!("echo unban <ip> >> {o}")),
    ];
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let mut act = CommandAction::new("j", "a", props, host()).unwrap();
    act.start().unwrap();
    let (a, b, c) = (
        ticket("192.0.2.1"),
        ticket("192.0.2.2"),
        ticket("2001:db8::3"),
    );
    for t in [&a, &b, &c] {
        act.ban(t).unwrap();
    }
    assert_eq!(act.started_slots(), vec![Family::Inet4]);
    // Intact: nothing repaired, nothing re-applied.
    act.consistency_check().unwrap();
    assert!(act
        .reban_after_repair(&[a.clone(), b.clone(), c.clone()])
        .is_none());
    assert_eq!(act.epoch(), 0);

    // Someone wipes the firewall: the periodic check repairs (stop + start) and
    // all three bans come back, once each.
    std::fs::remove_file(&state).unwrap();
    act.consistency_check().unwrap();
    assert_eq!(act.epoch(), 1);
    assert_eq!(read(&state), "");
    let (n, r) = act
        .reban_after_repair(&[a.clone(), b.clone(), c.clone()])
        .expect("a repair happened");
    r.unwrap();
    assert_eq!(n, 3);
    assert_eq!(read(&state), "192.0.2.1\n192.0.2.2\n2001:db8::3\n");
    assert!(act
        .reban_after_repair(&[a.clone(), b.clone(), c.clone()])
        .is_none());

    // Wiped again, and this time the next ban notices (its hook fails, the
    // check fails, repair, retry): that ticket is in the new epoch already, so
    // the re-ban afterwards applies only the older ones.
    std::fs::remove_file(&state).unwrap();
    let d = ticket("192.0.2.4");
    act.ban(&d).unwrap();
    assert_eq!(act.epoch(), 2);
    assert_eq!(read(&state), "192.0.2.4\n");
    let (n, r) = act
        .reban_after_repair(&[a.clone(), b.clone(), c.clone(), d.clone()])
        .unwrap();
    r.unwrap();
    assert_eq!(n, 3);
    let mut held: Vec<String> = read(&state).lines().map(str::to_string).collect();
    held.sort();
    assert_eq!(held, ["192.0.2.1", "192.0.2.2", "192.0.2.4", "2001:db8::3"]);
}

#[test]
fn hook_timeout_kills_the_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let late = dir.path().join("late");
    let props = vec![
        (
            "actionban".to_string(),
            format!("(sleep 2; touch {}) & sleep 30", late.display()),
        ),
        ("timeout".to_string(), "1".to_string()),
    ];
    let mut act = CommandAction::new("j", "slow", props, host()).unwrap();
    let t0 = Instant::now();
    let err = act.ban(&ticket("192.0.2.9")).unwrap_err();
    // one run plus fail2ban's single retry, each cut at 1 s
    assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
    assert!(
        matches!(
            err,
            ActionError::HookFailed {
                timed_out: true,
                ..
            }
        ),
        "{err}"
    );
    std::thread::sleep(Duration::from_millis(2500));
    assert!(!late.exists(), "a child of the timed-out hook survived");
}

#[test]
fn start_on_demand_per_family_and_norestored() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = out.display().to_string();
    let props = vec![
        (
            "actionstart".to_string(),
            format!("echo start <cmd> <family> >> {o}"),
        ),
        (
            "actionban".to_string(),
            format!("echo ban <cmd> <ip> >> {o}"),
        ),
        (
            "actionunban".to_string(),
            format!("echo unban <cmd> <ip> >> {o}"),
        ),
        ("actionstop".to_string(), format!("echo stop <cmd> >> {o}")),
        ("cmd".to_string(), "v4".to_string()),
        ("cmd?family=inet6".to_string(), "v6".to_string()),
        ("norestored".to_string(), "true".to_string()),
    ];
    let mut act = CommandAction::new("j", "fam", props, host()).unwrap();
    assert!(act.start_on_demand());
    act.start().unwrap();
    assert!(!out.exists(), "on-demand start must wait for a ban");
    act.unban(&ticket("192.0.2.1")).unwrap(); // family never started: nothing runs
    act.ban(&ticket("192.0.2.1")).unwrap();
    act.ban(&ticket("192.0.2.2")).unwrap();
    let mut restored = ticket("2001:db8::1");
    restored.restored = true;
    assert!(!act.ban(&restored).unwrap());
    act.ban(&ticket("2001:db8::2")).unwrap();
    assert!(act.started(Family::Inet4) && act.started(Family::Inet6));
    act.stop().unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        text,
        "start v4 inet4\nban v4 192.0.2.1\nban v4 192.0.2.2\nstart v6 inet6\nban v6 2001:db8::2\nstop v4\nstop v6\n"
    );
}

#[test]
fn shared_start_runs_once_and_python_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let props = vec![(
        "actionstart".to_string(),
        format!("echo start >> {}", out.display()),
    )];
    let mut act = CommandAction::new("j", "plain", props, host()).unwrap();
    act.start().unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "start\n");
    let err = CommandAction::new("j", "smtp.py", vec![], host()).unwrap_err();
    assert!(matches!(err, ActionError::PythonUnsupported { .. }));
    assert!(err.to_string().contains("not supported"), "{err}");
}

#[test]
fn uses_tag_tells_which_lookups_are_needed() {
    let stock = Path::new("/etc/fail2ban/action.d/sendmail-whois-ipmatches.conf");
    if !stock.exists() {
        common::skip("/etc/fail2ban/action.d is not installed");
        return;
    }
    let props = common::read_action(stock, &[("name", "sshd")]);
    let act = CommandAction::new("sshd", "sendmail-whois-ipmatches", props, host()).unwrap();
    assert!(act.uses_tag("ipmatches"));
    assert!(!act.uses_tag("ipjailmatches"));
    let dummy = common::read_action(Path::new("/etc/fail2ban/action.d/dummy.conf"), &[]);
    let act = CommandAction::new("sshd", "dummy", dummy, host()).unwrap();
    assert!(act.uses_tag("ip") && act.uses_tag("family"));
    assert!(!act.uses_tag("ip-host") && !act.uses_tag("matches"));
}
