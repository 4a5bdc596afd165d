//! Issue 7's "capability dropped": the real `bailiff server` runs in a network
//! namespace without CAP_NET_ADMIN (`setpriv` drops it from the bounding, the
//! inheritable and the ambient sets before exec, as a container or a unit without
//! `CapabilityBoundingSet=CAP_NET_ADMIN` would), with the native nftables backend.
//! The ban is recorded (status lists it) but the attacker still connects, and
//! `bailiff client health` (exit 1), `status sshd` and `--json status sshd` show
//! the failing action with the fix: grant NET_ADMIN. Restarted with the
//! capability, the daemon restores the recorded ban from its database, the
//! warning is gone and the attacker's connections stop.
//!
//! Needs root, `ip netns`, `nft` and `setpriv`: runs for real with CI=true,
//! skips loudly elsewhere.

use std::time::Duration;

use bailiff_e2e::{skip_or_fail, wait_until, Daemon, Lab, ATK4, PORT};

const DROP_NET_ADMIN: &[&str] = &[
    "setpriv",
    "--inh-caps=-net_admin",
    "--ambient-caps=-net_admin",
    "--bounding-set=-net_admin",
    "--",
];

fn have(prog: &str) -> bool {
    std::process::Command::new(prog)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn without_net_admin_bans_are_recorded_not_enforced_and_health_says_so() {
    for prog in ["nft", "setpriv"] {
        if !have(prog) {
            skip_or_fail(&format!("{prog} is not installed"));
            return;
        }
    }
    let lab = match Lab::new() {
        Ok(l) => l,
        Err(e) => {
            skip_or_fail(&format!("network namespaces unavailable: {e}"));
            return;
        }
    };
    let jail_local = format!(
        "[DEFAULT]\nbanaction = nftables\nbantime = 3600\nfindtime = 600\nmaxretry = 3\n\n\
         [sshd]\nenabled = true\nport = {PORT}\nlogpath = {{dir}}/auth.log\nbackend = polling\n"
    );
    let mut d = Daemon::new(&lab, &jail_local).unwrap_or_else(|e| panic!("{e}"));
    // Check the firewall every second rather than every minute.
    let local = d.path("conf/fail2ban.local");
    let mut text = std::fs::read_to_string(&local).unwrap();
    text.push_str("health_firewall_check = 1\n");
    std::fs::write(&local, text).unwrap();

    d.start_wrapped(DROP_NET_ADMIN)
        .unwrap_or_else(|e| panic!("{e}"));
    let attacker = ATK4[0];
    d.fail(attacker, 3);
    assert!(
        wait_until(Duration::from_secs(30), || d
            .log()
            .contains(&format!("Ban {attacker}"))),
        "no ban logged:\n{}",
        d.log()
    );
    // Recorded...
    let (_, status) = d.client(&["status", "sshd"]);
    assert!(status.contains(attacker), "{status}");
    // ...but not enforced, and the health report says why and what to do.
    assert!(
        lab.connects(attacker, PORT),
        "banned without NET_ADMIN?\n{}",
        lab.firewall()
    );
    assert!(
        wait_until(Duration::from_secs(30), || d.client(&["health"]).0 == 1),
        "health stayed 0: {}",
        d.client(&["health"]).1
    );
    let (_, text) = d.client(&["health"]);
    eprintln!("--- without NET_ADMIN\n{text}");
    assert!(text.contains("sshd: UNHEALTHY"), "{text}");
    assert!(text.contains("action-failing"), "{text}");
    assert!(text.contains("not enforced"), "{text}");
    assert!(text.contains("Operation not permitted"), "{text}");
    assert!(
        text.contains("grant the daemon the NET_ADMIN capability"),
        "{text}"
    );
    let (_, status) = d.client(&["status", "sshd"]);
    assert!(
        status.contains("UNHEALTHY")
            && status.contains("action-failing")
            && status.contains("NET_ADMIN"),
        "{status}"
    );
    let (rc, json) = d.client(&["--json", "status", "sshd"]);
    assert_eq!(rc, 0, "{json}");
    assert!(json.contains("action-failing"), "{json}");
    let (rc, json) = d.client(&["health", "--json"]);
    assert_eq!(rc, 1, "{json}");
    assert!(json.contains("\"code\": \"action-failing\""), "{json}");

    // Restart with the capability: the recorded ban is put in the kernel set.
    assert!(d.stop(), "the daemon did not stop on SIGTERM");
    d.start().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        lab.wait_connects(attacker, false, Duration::from_secs(30)),
        "the recorded ban was not enforced after the restart:\n{}\n{}",
        lab.firewall(),
        d.log()
    );
    assert!(
        lab.connects(ATK4[1], PORT),
        "the other address is blocked too"
    );
    assert!(
        wait_until(Duration::from_secs(30), || d.client(&["health"]).0 == 0),
        "still unhealthy with NET_ADMIN: {}",
        d.client(&["health"]).1
    );
    let (_, text) = d.client(&["health"]);
    assert!(!text.contains("action-failing"), "{text}");
    let (_, status) = d.client(&["status", "sshd"]);
    assert!(status.contains(attacker), "{status}");
    assert!(d.stop());
}
