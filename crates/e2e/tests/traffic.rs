//! Real traffic against `bailiff server`: an attacker namespace connects to a TCP
//! listener in the server namespace where the daemon runs on the stock fail2ban
//! configuration; a ban counts only when the attacker's connections stop, and only
//! for the attacker (the other address of the same family still connects).
//!
//! Needs root, `ip netns`, `nft` (and `iptables` for the runner case): runs for real
//! with CI=true, skips loudly elsewhere when the lab cannot be built.

use std::time::{Duration, Instant};

use bailiff_e2e::{skip_or_fail, Daemon, Lab, ATK4, ATK6, OTHER_PORT, PORT};

/// The lab, or None after a loud skip (a failure under CI).
fn lab() -> Option<Lab> {
    let have = |prog: &str| {
        std::process::Command::new(prog)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !have("nft") {
        skip_or_fail("nft is not installed");
        return None;
    }
    match Lab::new() {
        Ok(l) => Some(l),
        Err(e) => {
            skip_or_fail(&format!("network namespaces unavailable: {e}"));
            None
        }
    }
}

/// `jail.local`: the stock sshd jail on our port and log, with `banaction` and
/// `backend` (`polling`, or `auto` = inotify).
fn jail_local(banaction: &str, bantime: u64, backend: &str) -> String {
    format!(
        "[DEFAULT]\nbanaction = {banaction}\nbantime = {bantime}\nfindtime = 600\nmaxretry = 3\n\n\
         [sshd]\nenabled = true\nport = {PORT}\nlogpath = {{dir}}/auth.log\nbackend = {backend}\n"
    )
}

fn start(lab: &Lab, banaction: &str, bantime: u64, backend: &str) -> Daemon {
    let mut d = Daemon::new(lab, &jail_local(banaction, bantime, backend))
        .unwrap_or_else(|e| panic!("{e}"));
    d.start().unwrap_or_else(|e| panic!("{e}"));
    d
}

/// Is `addr` in the kernel state the action keeps for jail sshd?
fn in_kernel(lab: &Lab, banaction: &str, addr: &str) -> bool {
    if banaction.starts_with("iptables") {
        let prog = if addr.contains(':') {
            "ip6tables"
        } else {
            "iptables"
        };
        let out = lab
            .in_srv(prog)
            .args(["-w", "-n", "-L", "f2b-sshd"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        out.contains(addr)
    } else {
        let set = if addr.contains(':') {
            "addr6-set-sshd"
        } else {
            "addr-set-sshd"
        };
        lab.nft(&["list", "set", "inet", "f2b-table", set])
            .is_ok_and(|s| s.contains(addr))
    }
}

/// Failures below maxretry leave `banned` alone; the third one blocks it (only it,
/// only on the jail's port); after bantime it connects again.
fn ban_and_expire(lab: &Lab, d: &mut Daemon, banaction: &str, pair: [&str; 2], bantime: u64) {
    let [banned, other] = pair;
    d.fail(banned, 2);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        lab.connects(banned, PORT),
        "{banaction}: {banned} blocked after 2 failures (maxretry = 3)\n{}",
        lab.firewall()
    );
    d.fail(banned, 1);
    let written_at = Instant::now();
    assert!(
        lab.wait_connects(banned, false, Duration::from_secs(15)),
        "{banaction}: {banned} still connects 15 s after its third failure\n{}\n--- bailiff log\n{}",
        lab.firewall(),
        d.log()
    );
    assert!(
        in_kernel(lab, banaction, banned),
        "{banaction}: {banned} is blocked but not in the action's set/chain\n{}",
        lab.firewall()
    );
    assert!(
        lab.connects(other, PORT),
        "{banaction}: {other} (not banned) is blocked too\n{}",
        lab.firewall()
    );
    if banaction.ends_with("allports") {
        assert!(
            !lab.connects(banned, OTHER_PORT),
            "{banaction}: the ban must cover every port, {OTHER_PORT} too\n{}",
            lab.firewall()
        );
    } else {
        assert!(
            lab.connects(banned, OTHER_PORT),
            "{banaction}: the ban must cover only the jail's port {PORT}\n{}",
            lab.firewall()
        );
    }
    assert!(
        lab.wait_connects(banned, true, Duration::from_secs(bantime + 6)),
        "{banaction}: {banned} still blocked {} s after a {bantime} s ban\n{}\n--- bailiff log\n{}",
        bantime + 6,
        lab.firewall(),
        d.log()
    );
    let took = written_at.elapsed();
    // The ban cannot start before the line was written, but its time is the line's
    // time stamp, which has whole seconds: up to 1 s earlier.
    assert!(
        took + Duration::from_millis(1100) >= Duration::from_secs(bantime),
        "{banaction}: {banned} unblocked {took:?} after its third failure was written, \
         bantime is {bantime} s"
    );
    assert!(
        !in_kernel(lab, banaction, banned),
        "{banaction}: {banned} left in the kernel after the unban\n{}",
        lab.firewall()
    );
    let log = d.log();
    assert!(
        log.contains(&format!("[sshd] Ban {banned}")),
        "no Ban line for {banned}:\n{log}"
    );
    assert!(
        log.contains(&format!("[sshd] Unban {banned}")),
        "no Unban line for {banned}:\n{log}"
    );
}

fn full_cycle(banaction: &str, backend: &str) {
    let Some(lab) = lab() else { return };
    if banaction.starts_with("iptables")
        && lab
            .in_srv("iptables")
            .args(["-w", "-n", "-L"])
            .output()
            .map_or(true, |o| !o.status.success())
    {
        skip_or_fail("iptables does not work in a network namespace here");
        return;
    }
    let bantime = 5;
    let mut d = start(&lab, banaction, bantime, backend);
    ban_and_expire(&lab, &mut d, banaction, ATK4, bantime);
    ban_and_expire(&lab, &mut d, banaction, ATK6, bantime);
    assert!(d.stop(), "bailiff server did not stop on SIGTERM");
    if banaction.starts_with("nftables") {
        let rs = lab.nft(&["list", "ruleset"]).unwrap_or_default();
        assert!(
            !rs.contains("addr-set-sshd"),
            "actionstop left the set:\n{rs}"
        );
    }
}

/// `banaction = nftables`: the stock base file, applied by the native backend; the
/// log followed with inotify (`backend = auto`).
#[test]
fn nftables_native_bans_and_expires_ipv4_and_ipv6() {
    full_cycle("nftables", "auto");
}

/// `banaction = nftables-multiport`: the stock file, applied natively.
#[test]
fn nftables_multiport_bans_and_expires_ipv4_and_ipv6() {
    full_cycle("nftables-multiport", "polling");
}

/// `banaction = nftables-allports`: the stock file, applied natively; every port.
#[test]
fn nftables_allports_bans_every_port() {
    full_cycle("nftables-allports", "polling");
}

/// `banaction = iptables-multiport`: the stock file through the action.d runner
/// (`/bin/sh`, iptables and ip6tables).
#[test]
fn iptables_multiport_through_the_runner_bans_and_expires() {
    full_cycle("iptables-multiport", "polling");
}

/// A ban outlives `kill -9` (the kernel keeps it) and a lost ruleset (the restarted
/// daemon restores it from its database); `bailiff client unban` and the real
/// `fail2ban-client unban` lift bans at once.
#[test]
fn ban_survives_kill9_and_restart_and_unban_lifts_it() {
    let Some(lab) = lab() else { return };
    let banaction = "nftables-multiport";
    let mut d = start(&lab, banaction, 600, "polling");
    for a in [ATK4[0], ATK6[0]] {
        d.fail(a, 3);
    }
    for a in [ATK4[0], ATK6[0]] {
        assert!(
            lab.wait_connects(a, false, Duration::from_secs(15)),
            "{a} still connects after 3 failures\n{}\n{}",
            lab.firewall(),
            d.log()
        );
    }
    // Positions and bans reach the database within a second of the ban.
    std::thread::sleep(Duration::from_millis(1500));
    d.kill9();
    assert!(!lab.connects(ATK4[0], PORT), "kill -9 lifted the ban");
    // Restart over the kernel state left behind.
    d.start().unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(1000));
    for a in [ATK4[0], ATK6[0]] {
        assert!(
            !lab.connects(a, PORT),
            "{a} connects after a restart over the old ruleset\n{}\n{}",
            lab.firewall(),
            d.log()
        );
    }
    assert!(lab.connects(ATK4[1], PORT), "{} blocked", ATK4[1]);
    let chain = lab
        .nft(&["list", "chain", "inet", "f2b-table", "f2b-chain"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        chain.matches("@addr-set-sshd ").count(),
        1,
        "the restart over the old ruleset must not duplicate the rule:\n{chain}"
    );
    // Crash again and lose the ruleset (as a reboot would): the restart restores
    // both bans from the database.
    d.kill9();
    lab.nft(&["flush", "ruleset"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        lab.connects(ATK4[0], PORT) && lab.connects(ATK6[0], PORT),
        "flush ruleset did not lift the bans (the test proves nothing)"
    );
    d.start().unwrap_or_else(|e| panic!("{e}"));
    for a in [ATK4[0], ATK6[0]] {
        assert!(
            lab.wait_connects(a, false, Duration::from_secs(15)),
            "{a}: ban not restored from the database after kill -9 and a lost ruleset\n{}\n{}",
            lab.firewall(),
            d.log()
        );
    }
    assert!(lab.connects(ATK4[1], PORT), "{} blocked", ATK4[1]);
    assert!(lab.connects(ATK6[1], PORT), "{} blocked", ATK6[1]);

    // Our client lifts the IPv4 ban at once.
    let (code, out) = d.client(&["unban", ATK4[0]]);
    assert_eq!(code, 0, "bailiff client unban {}: {out}", ATK4[0]);
    assert!(
        lab.wait_connects(ATK4[0], true, Duration::from_secs(2)),
        "bailiff client unban did not lift the ban within 2 s\n{}",
        lab.firewall()
    );
    assert!(
        !lab.connects(ATK6[0], PORT),
        "unban of one address lifted both"
    );
    // The real fail2ban-client lifts the IPv6 one.
    match d.fail2ban_client(&["unban", ATK6[0]]) {
        Some((code, out)) => {
            assert_eq!(code, 0, "fail2ban-client unban {}: {out}", ATK6[0]);
            assert!(
                lab.wait_connects(ATK6[0], true, Duration::from_secs(2)),
                "fail2ban-client unban did not lift the ban within 2 s\n{}",
                lab.firewall()
            );
        }
        None => skip_or_fail("fail2ban-client is not installed (the bailiff client part ran)"),
    }
    // And they stay unbanned over a restart.
    assert!(d.stop(), "bailiff server did not stop on SIGTERM");
    d.start().unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(2000));
    assert!(lab.connects(ATK4[0], PORT), "an unbanned address came back");
    assert!(lab.connects(ATK6[0], PORT), "an unbanned address came back");
    assert!(d.stop(), "bailiff server did not stop on SIGTERM");
}
