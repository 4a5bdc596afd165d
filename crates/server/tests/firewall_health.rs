//! The periodic firewall check repairs: a ban deleted from the native nftables set
//! behind the daemon's back is put back at the next check (a WARNING names it, the
//! health report says firewall-repaired); a repair that cannot work (a foreign
//! chain in the way) leaves the jail unhealthy (bans-not-enforced, with the error)
//! until it can. Runs in a network namespace of its own (the test thread unshares;
//! the daemon's threads and the nft processes inherit it).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{stamp, wait_for, Env};

fn nft(args: &[&str]) -> (bool, String) {
    let out = Command::new("nft").args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn ban_removed_from_the_kernel_set_is_repaired() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let stock = Path::new("/etc/fail2ban/action.d");
    let have_nft = Command::new("nft").arg("--version").output().is_ok();
    if !stock.join("nftables.conf").exists() || !have_nft {
        assert!(!ci, "CI needs nft and the stock nftables action files");
        eprintln!("SKIPPED: nft or /etc/fail2ban/action.d/nftables*.conf missing");
        return;
    }
    // SAFETY: unshare only changes this thread's network namespace.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        assert!(!ci, "CI must be able to create a network namespace");
        eprintln!("SKIPPED: cannot unshare the network namespace (not root?)");
        return;
    }
    let mut env = Env::new(
        r"Failed password for \S+ from <HOST>",
        "health_firewall_check = 1",
    );
    let conf = env.path("conf");
    for e in std::fs::read_dir(stock).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("nftables") {
            std::fs::copy(e.path(), conf.join("action.d").join(&name)).unwrap();
        }
    }
    let jail = std::fs::read_to_string(conf.join("jail.conf"))
        .unwrap()
        .replace(
            "action = record",
            "action = nftables-multiport[port=\"22\"]",
        );
    std::fs::write(conf.join("jail.conf"), jail).unwrap();
    env.start();
    for _ in 0..2 {
        env.append(&format!(
            "{} sshd[1]: Failed password for root from 192.0.2.201 port 22\n",
            stamp()
        ));
    }
    wait_for("the native ban", Duration::from_secs(20), || {
        nft(&["list", "set", "inet", "f2b-table", "addr-set-test"])
            .1
            .contains("192.0.2.201")
    });
    // A check runs every second: still healthy with the ban in place.
    std::thread::sleep(Duration::from_millis(2500));
    let (code, text) = env.health("test");
    assert_eq!(code, 0, "{text}");
    let (ok, _) = nft(&[
        "delete",
        "element",
        "inet",
        "f2b-table",
        "addr-set-test",
        "{ 192.0.2.201 }",
    ]);
    assert!(ok);
    wait_for("the repaired ban", Duration::from_secs(20), || {
        nft(&["list", "set", "inet", "f2b-table", "addr-set-test"])
            .1
            .contains("192.0.2.201")
    });
    wait_for("the repair's WARNING", Duration::from_secs(5), || {
        env.log().contains(
            "firewall check: 1 recorded ban(s) missing (192.0.2.201); repaired: 1 ban(s) restored",
        )
    });
    let (code, text) = env.health("test");
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("firewall-repaired"), "{text}");

    // A chain of another tool where ours goes: the repair refuses to delete it.
    assert!(nft(&["flush", "ruleset"]).0);
    assert!(
        nft(&["add table inet f2b-table ; \
             add chain inet f2b-table f2b-chain { type filter hook input priority 10 ; } ; \
             add rule inet f2b-table f2b-chain tcp dport 9999 counter"])
        .0
    );
    wait_for("bans-not-enforced", Duration::from_secs(20), || {
        env.health("test").0 == 1
    });
    let (_, text) = env.health("test");
    assert!(text.contains("bans-not-enforced"), "{text}");
    assert!(text.contains("firewall repair failed"), "{text}");
    assert!(env.log().contains("repair failed"), "{}", env.log());
    // Gone again: the next check repairs and the jail is healthy.
    assert!(nft(&["delete", "table", "inet", "f2b-table"]).0);
    wait_for("healthy after the repair", Duration::from_secs(20), || {
        env.health("test").0 == 0
    });
    assert!(nft(&["list", "set", "inet", "f2b-table", "addr-set-test"])
        .1
        .contains("192.0.2.201"));
    env.stop();
}
