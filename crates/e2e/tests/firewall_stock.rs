//! The stock `iptables-ipset-*` and `firewallcmd-*` action files, run by bailiff's
//! action.d runner inside the real daemon, with real traffic: an attacker namespace
//! connects to TCP listeners in the server namespace where the daemon runs on a copy
//! of `/etc/fail2ban`. A ban counts only when the banned address's connections stop
//! while the other address of the same family still connects.
//!
//! The firewalld cases start a private D-Bus and firewalld inside the server
//! namespace ([`bailiff_e2e::firewalld::Firewalld`]); the daemon reaches it through
//! `DBUS_SYSTEM_BUS_ADDRESS`, which its actions inherit.
//!
//! Needs root, `ip netns`, `iptables`, `ipset` (and `firewalld`, `dbus-daemon` for
//! the firewalld cases): runs for real with CI=true, skips loudly elsewhere.

use std::time::{Duration, Instant};

use bailiff_e2e::firewalld::Firewalld;
use bailiff_e2e::{skip_or_fail, Daemon, Lab, ATK4, ATK6, OTHER_PORT, PORT};

/// The lab with working iptables and ipset in it, or None after a loud skip.
fn lab() -> Option<Lab> {
    let lab = match Lab::new() {
        Ok(l) => l,
        Err(e) => {
            skip_or_fail(&format!("network namespaces unavailable: {e}"));
            return None;
        }
    };
    for (prog, args) in [
        ("iptables", &["-w", "-n", "-L"][..]),
        ("ip6tables", &["-w", "-n", "-L"][..]),
        ("ipset", &["list"][..]),
    ] {
        if let Err(e) = lab.run_srv(prog, args) {
            skip_or_fail(&format!("{prog} does not work in a network namespace: {e}"));
            return None;
        }
    }
    Some(lab)
}

/// The lab and a private firewalld in its server namespace, or None after a loud
/// skip (the reason is firewalld's own error).
fn lab_with_firewalld() -> Option<(Lab, Firewalld)> {
    if let Err(e) = Firewalld::installed() {
        skip_or_fail(&e);
        return None;
    }
    let lab = lab()?;
    let fw = match Firewalld::start(&lab) {
        Ok(f) => f,
        Err(e) => {
            skip_or_fail(&format!("firewalld cannot run here: {e}"));
            return None;
        }
    };
    // The default zone (public) rejects what it does not allow: open both listener
    // ports, so that only the jail's rules decide (permanently too, so that a
    // `firewall-cmd --reload` keeps them).
    for port in [PORT, OTHER_PORT] {
        for args in [vec![], vec!["--permanent"]] {
            let mut args: Vec<String> = args.into_iter().map(String::from).collect();
            args.push(format!("--add-port={port}/tcp"));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            fw.cmd(&args)
                .unwrap_or_else(|e| panic!("{e}\n{}", fw.logs()));
        }
    }
    for src in ATK4.iter().chain(ATK6.iter()) {
        assert!(
            lab.wait_connects(src, true, Duration::from_secs(5)),
            "{src} cannot reach the server under firewalld before any ban\n{}",
            lab.firewall()
        );
    }
    Some((lab, fw))
}

/// `jail.local`: the stock sshd jail on our port and log with `banaction`.
fn jail_local(banaction: &str, bantime: u64) -> String {
    format!(
        "[DEFAULT]\nbanaction = {banaction}\nbantime = {bantime}\nfindtime = 600\nmaxretry = 3\n\n\
         [sshd]\nenabled = true\nport = {PORT}\nlogpath = {{dir}}/auth.log\nbackend = polling\n"
    )
}

fn start(lab: &Lab, banaction: &str, bantime: u64, fw: Option<&Firewalld>) -> Daemon {
    start_with(lab, banaction, bantime, fw, "")
}

/// [`start`] with `fail2ban_local` appended to the daemon's `fail2ban.local`.
fn start_with(
    lab: &Lab,
    banaction: &str,
    bantime: u64,
    fw: Option<&Firewalld>,
    fail2ban_local: &str,
) -> Daemon {
    let mut d = Daemon::new(lab, &jail_local(banaction, bantime)).unwrap_or_else(|e| panic!("{e}"));
    d.fail2ban_local(fail2ban_local)
        .unwrap_or_else(|e| panic!("{e}"));
    if let Some(fw) = fw {
        d.env("DBUS_SYSTEM_BUS_ADDRESS", &fw.bus_address());
    }
    d.start().unwrap_or_else(|e| panic!("{e}"));
    d
}

/// Is `addr` in the ipset the stock files keep for jail sshd (`f2b-sshd`,
/// `f2b-sshd6`)?
fn in_ipset(lab: &Lab, addr: &str) -> bool {
    let set = if addr.contains(':') {
        "f2b-sshd6"
    } else {
        "f2b-sshd"
    };
    lab.run_srv("ipset", &["test", set, addr]).is_ok()
}

/// How the kernel (or firewalld) holds a ban of jail sshd for one action file.
type InKernel<'a> = &'a dyn Fn(&str) -> bool;

/// Failures below maxretry leave `banned` alone; the third one blocks it (only it;
/// only on the jail's port unless `allports`); after bantime it connects again.
fn ban_and_expire(
    lab: &Lab,
    d: &mut Daemon,
    what: &str,
    pair: [&str; 2],
    bantime: u64,
    allports: bool,
    in_kernel: InKernel,
) {
    let [banned, other] = pair;
    d.fail(banned, 2);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        lab.connects(banned, PORT),
        "{what}: {banned} blocked after 2 failures (maxretry = 3)\n{}",
        lab.firewall()
    );
    d.fail(banned, 1);
    let written_at = Instant::now();
    assert!(
        lab.wait_connects(banned, false, Duration::from_secs(20)),
        "{what}: {banned} still connects 20 s after its third failure\n{}\n--- bailiff log\n{}",
        lab.firewall(),
        d.log()
    );
    assert!(
        in_kernel(banned),
        "{what}: {banned} is blocked but not in the action's set/chain\n{}",
        lab.firewall()
    );
    assert!(
        lab.connects(other, PORT),
        "{what}: {other} (not banned) is blocked too\n{}",
        lab.firewall()
    );
    assert_eq!(
        lab.connects(banned, OTHER_PORT),
        !allports,
        "{what}: a ban on {banned} must {} port {OTHER_PORT}\n{}",
        if allports { "cover" } else { "leave alone" },
        lab.firewall()
    );
    assert!(
        lab.wait_connects(banned, true, Duration::from_secs(bantime + 10)),
        "{what}: {banned} still blocked {} s after a {bantime} s ban\n{}\n--- bailiff log\n{}",
        bantime + 10,
        lab.firewall(),
        d.log()
    );
    let took = written_at.elapsed();
    // The ban's time is the line's whole-second time stamp: up to 1 s earlier.
    assert!(
        took + Duration::from_millis(1100) >= Duration::from_secs(bantime),
        "{what}: {banned} unblocked {took:?} after its third failure, bantime {bantime} s"
    );
    assert!(
        !in_kernel(banned),
        "{what}: {banned} left behind after the unban\n{}",
        lab.firewall()
    );
    let log = d.log();
    assert!(
        log.contains(&format!("[sshd] Ban {banned}"))
            && log.contains(&format!("[sshd] Unban {banned}")),
        "{what}: no Ban/Unban lines for {banned}:\n{log}"
    );
}

/// IPv4 then IPv6: ban, the other address unaffected, expiry; then SIGTERM runs
/// `actionstop`. The ban must last long enough for the checks after it: each
/// `firewall-cmd` is a Python start-up (about a second, more on a busy machine).
fn full_cycle(lab: &Lab, banaction: &str, fw: Option<&Firewalld>, in_kernel: InKernel) {
    let bantime = if fw.is_some() { 15 } else { 8 };
    let allports = banaction.contains("allports");
    let mut d = start(lab, banaction, bantime, fw);
    ban_and_expire(lab, &mut d, banaction, ATK4, bantime, allports, in_kernel);
    ban_and_expire(lab, &mut d, banaction, ATK6, bantime, allports, in_kernel);
    assert!(d.stop(), "bailiff server did not stop on SIGTERM");
    let log = d.log();
    assert!(
        !log.contains("ERROR") && !log.contains("CRITICAL"),
        "{banaction}: errors in the daemon's log:\n{log}"
    );
}

/// Bans survive `kill -9` (the kernel keeps them; the restart must not duplicate the
/// rule) and a clean stop (`actionstop` removes everything; the restart restores
/// them from the database); `unban` lifts them at once.
fn restart_and_unban(
    lab: &Lab,
    banaction: &str,
    fw: Option<&Firewalld>,
    in_kernel: InKernel,
    rule_count: &dyn Fn() -> usize,
) {
    let mut d = start(lab, banaction, 600, fw);
    let targets = [ATK4[0], ATK6[0]];
    for a in targets {
        d.fail(a, 3);
    }
    for a in targets {
        assert!(
            lab.wait_connects(a, false, Duration::from_secs(20)),
            "{banaction}: {a} still connects after 3 failures\n{}\n{}",
            lab.firewall(),
            d.log()
        );
    }
    let rules = rule_count();
    // Bans reach the database within a second.
    std::thread::sleep(Duration::from_millis(1500));
    d.kill9();
    assert!(
        !lab.connects(ATK4[0], PORT),
        "{banaction}: kill -9 lifted the ban"
    );
    d.start().unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(1500));
    for a in targets {
        assert!(
            !lab.connects(a, PORT) && in_kernel(a),
            "{banaction}: {a} connects after a restart over the old rules\n{}\n{}",
            lab.firewall(),
            d.log()
        );
    }
    assert_eq!(
        rule_count(),
        rules,
        "{banaction}: the restart over the old rules changed their number\n{}",
        lab.firewall()
    );
    assert!(lab.connects(ATK4[1], PORT), "{} blocked", ATK4[1]);
    assert!(lab.connects(ATK6[1], PORT), "{} blocked", ATK6[1]);

    // A clean stop runs actionstop: the bans are lifted ...
    assert!(d.stop(), "bailiff server did not stop on SIGTERM");
    for a in targets {
        assert!(
            lab.wait_connects(a, true, Duration::from_secs(5)),
            "{banaction}: actionstop left {a} blocked\n{}",
            lab.firewall()
        );
    }
    // ... and the next start restores them from the database.
    d.start().unwrap_or_else(|e| panic!("{e}"));
    for a in targets {
        assert!(
            lab.wait_connects(a, false, Duration::from_secs(20)),
            "{banaction}: {a} not restored after a clean restart\n{}\n{}",
            lab.firewall(),
            d.log()
        );
    }
    assert!(
        d.log().contains(&format!("[sshd] Restore Ban {}", ATK4[0])),
        "no Restore Ban line:\n{}",
        d.log()
    );

    for (i, a) in targets.iter().enumerate() {
        let (code, out) = d.client(&["unban", a]);
        assert_eq!(code, 0, "bailiff client unban {a}: {out}");
        assert!(
            lab.wait_connects(a, true, Duration::from_secs(5)),
            "{banaction}: unban did not lift {a} within 5 s\n{}",
            lab.firewall()
        );
        assert!(!in_kernel(a), "{banaction}: {a} left after unban");
        if i == 0 {
            assert!(
                !lab.connects(targets[1], PORT),
                "{banaction}: unban of one address lifted both"
            );
        }
    }
    assert!(d.stop(), "bailiff server did not stop on SIGTERM");
}

/// Rules that send to the ipset of jail sshd (`--match-set f2b-sshd`), both
/// families.
fn ipset_rules(lab: &Lab) -> usize {
    ["iptables-save", "ip6tables-save"]
        .iter()
        .map(|p| {
            lab.run_srv(p, &[])
                .unwrap_or_default()
                .lines()
                .filter(|l| l.starts_with("-A") && l.contains("--match-set f2b-sshd"))
                .count()
        })
        .sum()
}

#[test]
fn iptables_ipset_proto6_bans_and_expires_ipv4_and_ipv6() {
    let Some(lab) = lab() else { return };
    full_cycle(&lab, "iptables-ipset-proto6", None, &|a| in_ipset(&lab, a));
    assert_eq!(
        ipset_rules(&lab),
        0,
        "actionstop left rules\n{}",
        lab.firewall()
    );
    assert!(
        lab.run_srv("ipset", &["list", "f2b-sshd"]).is_err(),
        "actionstop left the set\n{}",
        lab.firewall()
    );
}

#[test]
fn iptables_ipset_proto6_allports_bans_every_port() {
    let Some(lab) = lab() else { return };
    full_cycle(&lab, "iptables-ipset-proto6-allports", None, &|a| {
        in_ipset(&lab, a)
    });
}

#[test]
fn iptables_ipset_ban_survives_restart_and_unban_lifts_it() {
    let Some(lab) = lab() else { return };
    restart_and_unban(
        &lab,
        "iptables-ipset-proto6",
        None,
        &|a| in_ipset(&lab, a),
        &|| ipset_rules(&lab),
    );
}

/// The periodic check's pace in the repair tests (`health_firewall_check`).
const CHECK_EVERY: u64 = 2;

/// fail2ban's invariant check with a stock file: someone removed the jail's rule
/// and destroyed its ipset. The next ban's `ipset add` fails, `actioncheck` (the
/// rule check inherited from `iptables.conf`) fails, and as the file has no
/// `actionrepair` the runner runs `actionstop` + `actionstart`, checks again and
/// retries the ban: the new address is blocked. The ban from before the repair
/// was lost with the set; the periodic check applies it again (fail2ban would wait
/// until that address shows up in the log again).
#[test]
fn iptables_ipset_runner_repairs_a_broken_environment_on_the_next_ban() {
    let Some(lab) = lab() else { return };
    let banaction = "iptables-ipset-proto6";
    // A long check interval first: the repair below must be the ban's own.
    let mut d = start_with(&lab, banaction, 600, None, "health_firewall_check = 3600\n");
    d.fail(ATK4[0], 3);
    assert!(
        lab.wait_connects(ATK4[0], false, Duration::from_secs(20)),
        "{} not banned\n{}\n{}",
        ATK4[0],
        lab.firewall(),
        d.log()
    );
    // Break it behind the daemon's back.
    lab.run_srv("iptables", &["-w", "-F", "INPUT"])
        .unwrap_or_else(|e| panic!("{e}"));
    lab.run_srv("ipset", &["destroy", "f2b-sshd"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        lab.connects(ATK4[0], PORT),
        "the breakage did not lift the ban (the test proves nothing)\n{}",
        lab.firewall()
    );
    d.fail(ATK4[1], 3);
    assert!(
        lab.wait_connects(ATK4[1], false, Duration::from_secs(20)),
        "{}: not blocked after the runner's check and repair\n{}\n--- bailiff log\n{}",
        ATK4[1],
        lab.firewall(),
        d.log()
    );
    assert!(in_ipset(&lab, ATK4[1]));
    assert_eq!(
        ipset_rules(&lab),
        1,
        "one rule for IPv4\n{}",
        lab.firewall()
    );
    let log = d.log();
    assert!(
        !log.contains("Failed to execute ban"),
        "the repaired ban was logged as failed:\n{log}"
    );
    assert!(
        lab.connects(ATK4[0], PORT),
        "{} blocked without a periodic check (the test proves nothing)",
        ATK4[0]
    );
    d.kill9();

    // The same daemon state with a short check interval: the ban from before the
    // repair comes back at the next check.
    let mut d2 = Daemon::new(&lab, &jail_local(banaction, 600)).unwrap();
    d2.fail2ban_local(&format!("health_firewall_check = {CHECK_EVERY}\n"))
        .unwrap();
    for f in [
        "bailiff.sqlite3",
        "bailiff.sqlite3-wal",
        "bailiff.sqlite3-shm",
    ] {
        if d.path(f).exists() {
            std::fs::copy(d.path(f), d2.path(f)).unwrap();
        }
    }
    d2.start().unwrap_or_else(|e| panic!("{e}"));
    for a in [ATK4[0], ATK4[1]] {
        assert!(
            lab.wait_connects(a, false, Duration::from_secs(20)),
            "{a} not restored\n{}\n{}",
            lab.firewall(),
            d2.log()
        );
    }
    lab.run_srv("iptables", &["-w", "-F", "INPUT"])
        .unwrap_or_else(|e| panic!("{e}"));
    lab.run_srv("ipset", &["destroy", "f2b-sshd"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(lab.connects(ATK4[0], PORT) && lab.connects(ATK4[1], PORT));
    for a in [ATK4[0], ATK4[1]] {
        assert!(
            lab.wait_connects(a, false, Duration::from_secs(2 * CHECK_EVERY + 10)),
            "{a}: not blocked again by the periodic consistency check\n{}\n--- bailiff log\n{}",
            lab.firewall(),
            d2.log()
        );
    }
    assert_eq!(
        ipset_rules(&lab),
        1,
        "one rule for IPv4\n{}",
        lab.firewall()
    );
    let log = d2.log();
    assert!(
        log.contains("action was repaired; 2 earlier ban(s) applied again"),
        "no WARNING about the repair:\n{log}"
    );
    assert!(d2.stop(), "bailiff server did not stop on SIGTERM");
}

/// How many rules of chain f2b-sshd name `addr` (iptables or ip6tables)?
fn rules_for(lab: &Lab, addr: &str) -> usize {
    let prog = if addr.contains(':') {
        "ip6tables"
    } else {
        "iptables"
    };
    lab.run_srv(prog, &["-w", "-S", "f2b-sshd"])
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&format!("-s {addr}/")))
        .count()
}

/// The periodic consistency check with the stock `iptables-multiport`: someone
/// flushes INPUT (the jail's jump rule is gone, IPv4 only); within the check
/// interval `actioncheck` fails, the action is restarted and the IPv4 ban applied
/// again, once; the IPv6 side is left alone (no duplicate rule, so an unban
/// still lifts each ban).
#[test]
fn iptables_multiport_periodic_check_repairs_and_reapplies_bans() {
    let Some(lab) = lab() else { return };
    let banaction = "iptables-multiport";
    let mut d = start_with(
        &lab,
        banaction,
        600,
        None,
        &format!("health_firewall_check = {CHECK_EVERY}\n"),
    );
    let targets = [ATK4[0], ATK6[0]];
    for a in targets {
        d.fail(a, 3);
    }
    for a in targets {
        assert!(
            lab.wait_connects(a, false, Duration::from_secs(20)),
            "{a} not banned\n{}\n{}",
            lab.firewall(),
            d.log()
        );
    }
    lab.run_srv("iptables", &["-w", "-F", "INPUT"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        lab.connects(ATK4[0], PORT),
        "flushing INPUT did not lift the ban (the test proves nothing)"
    );
    assert!(
        lab.wait_connects(ATK4[0], false, Duration::from_secs(2 * CHECK_EVERY + 10)),
        "{}: not blocked again by the periodic check\n{}\n--- bailiff log\n{}",
        ATK4[0],
        lab.firewall(),
        d.log()
    );
    assert!(!lab.connects(ATK6[0], PORT), "the IPv6 ban was lost");
    assert!(lab.connects(ATK4[1], PORT) && lab.connects(ATK6[1], PORT));
    // A few more checks: nothing is applied twice.
    std::thread::sleep(Duration::from_secs(2 * CHECK_EVERY + 1));
    for a in targets {
        assert_eq!(rules_for(&lab, a), 1, "rules for {a}\n{}", lab.firewall());
    }
    let log = d.log();
    assert_eq!(
        log.matches("action was repaired; 1 earlier ban(s) applied again")
            .count(),
        1,
        "one repair, one re-applied ban:\n{log}"
    );
    let (code, status) = d.client(&["status", "sshd"]);
    assert_eq!(code, 0, "{status}");
    assert!(status.contains("firewall-repaired"), "{status}");
    for a in targets {
        let (code, out) = d.client(&["unban", a]);
        assert_eq!(code, 0, "{out}");
        assert!(
            lab.wait_connects(a, true, Duration::from_secs(5)),
            "{a} still blocked after unban (a duplicate rule?)\n{}",
            lab.firewall()
        );
    }
    assert!(d.stop(), "bailiff server did not stop on SIGTERM");
}

/// Is `addr` among the firewalld direct rules of chain `f2b-sshd`?
fn in_direct_chain(fw: &Firewalld, addr: &str) -> bool {
    let fam = if addr.contains(':') { "ipv6" } else { "ipv4" };
    fw.cmd(&["--direct", "--get-rules", fam, "filter", "f2b-sshd"])
        .is_ok_and(|s| s.contains(addr))
}

/// Is `addr` in a rich rule of the default zone?
fn in_rich_rules(fw: &Firewalld, addr: &str) -> bool {
    fw.cmd(&["--list-rich-rules"])
        .is_ok_and(|s| s.contains(&format!("address=\"{addr}\"")))
}

#[test]
fn firewallcmd_ipset_bans_and_expires_ipv4_and_ipv6() {
    let Some((lab, fw)) = lab_with_firewalld() else {
        return;
    };
    full_cycle(&lab, "firewallcmd-ipset", Some(&fw), &|a| in_ipset(&lab, a));
    let direct = fw
        .cmd(&["--direct", "--get-all-rules"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !direct.contains("f2b-sshd"),
        "actionstop left direct rules:\n{direct}"
    );
}

#[test]
fn firewallcmd_multiport_bans_and_expires_ipv4_and_ipv6() {
    let Some((lab, fw)) = lab_with_firewalld() else {
        return;
    };
    full_cycle(&lab, "firewallcmd-multiport", Some(&fw), &|a| {
        in_direct_chain(&fw, a)
    });
}

#[test]
fn firewallcmd_allports_bans_every_port() {
    let Some((lab, fw)) = lab_with_firewalld() else {
        return;
    };
    full_cycle(&lab, "firewallcmd-allports", Some(&fw), &|a| {
        in_direct_chain(&fw, a)
    });
}

#[test]
fn firewallcmd_new_bans_and_expires_ipv4_and_ipv6() {
    let Some((lab, fw)) = lab_with_firewalld() else {
        return;
    };
    full_cycle(&lab, "firewallcmd-new", Some(&fw), &|a| {
        in_direct_chain(&fw, a)
    });
}

#[test]
fn firewallcmd_rich_logging_bans_and_expires_ipv4_and_ipv6() {
    let Some((lab, fw)) = lab_with_firewalld() else {
        return;
    };
    full_cycle(&lab, "firewallcmd-rich-logging", Some(&fw), &|a| {
        in_rich_rules(&fw, a)
    });
}

/// `firewall-cmd --reload` drops the runtime direct rules (the classic way bans
/// silently stop working under firewalld): with the stock `firewallcmd-multiport`
/// the periodic consistency check sees its `actioncheck` fail, restarts the action
/// and applies both bans again within the check interval.
#[test]
fn firewallcmd_multiport_bans_come_back_after_firewalld_reload() {
    let Some((lab, fw)) = lab_with_firewalld() else {
        return;
    };
    let mut d = start_with(
        &lab,
        "firewallcmd-multiport",
        600,
        Some(&fw),
        &format!("health_firewall_check = {CHECK_EVERY}\n"),
    );
    let targets = [ATK4[0], ATK6[0]];
    for a in targets {
        d.fail(a, 3);
    }
    for a in targets {
        assert!(
            lab.wait_connects(a, false, Duration::from_secs(30)),
            "{a} not banned\n{}\n{}",
            lab.firewall(),
            d.log()
        );
    }
    fw.cmd(&["--reload"])
        .unwrap_or_else(|e| panic!("{e}\n{}", fw.logs()));
    assert!(
        lab.wait_connects(ATK4[0], true, Duration::from_secs(10)),
        "firewall-cmd --reload did not drop the ban (the test proves nothing)\n{}",
        lab.firewall()
    );
    for a in targets {
        assert!(
            lab.wait_connects(a, false, Duration::from_secs(2 * CHECK_EVERY + 30)),
            "{a}: not blocked again after firewall-cmd --reload\n{}\n--- bailiff log\n{}",
            lab.firewall(),
            d.log()
        );
        assert!(in_direct_chain(&fw, a), "{a} not in the direct chain");
    }
    assert!(lab.connects(ATK4[1], PORT) && lab.connects(ATK6[1], PORT));
    let log = d.log();
    assert!(
        log.contains("the action was repaired;") && log.contains("earlier ban(s) applied again"),
        "no WARNING about the repair:\n{log}"
    );
    assert!(d.stop(), "bailiff server did not stop on SIGTERM");
}

#[test]
fn firewallcmd_rich_rules_bans_and_expires_ipv4_and_ipv6() {
    let Some((lab, fw)) = lab_with_firewalld() else {
        return;
    };
    full_cycle(&lab, "firewallcmd-rich-rules", Some(&fw), &|a| {
        in_rich_rules(&fw, a)
    });
}

#[test]
fn firewallcmd_ipset_ban_survives_restart_and_unban_lifts_it() {
    let Some((lab, fw)) = lab_with_firewalld() else {
        return;
    };
    let count = || {
        fw.cmd(&["--direct", "--get-all-rules"])
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("--match-set f2b-sshd"))
            .count()
    };
    restart_and_unban(
        &lab,
        "firewallcmd-ipset",
        Some(&fw),
        &|a| in_ipset(&lab, a),
        &count,
    );
}
