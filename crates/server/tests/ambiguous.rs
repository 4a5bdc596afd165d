//! A hostile line whose address attacker text could have supplied: nobody is banned,
//! the daemon logs a warning, and `status JAIL` shows the count and the candidates.

mod common;

use std::time::Duration;

use common::{stamp, wait_for, Env};

#[test]
fn hostile_line_bans_nobody_warns_and_shows_in_status() {
    // A lazy user field: the line reads with either address as the host.
    let mut env = Env::new(
        r"Failed password for (?:invalid user )?<F-USER>.*?</F-USER> from <HOST> port \d+",
        "",
    );
    env.start();
    let hostile =
        "Failed password for invalid user x from 192.0.2.9 port 1 from 203.0.113.5 port 22 ssh2";
    // maxretry = 2: three times would ban either address if the match were trusted.
    for _ in 0..3 {
        env.append(&format!("{} sshd[1]: {hostile}\n", stamp()));
    }
    wait_for("the ambiguity warning", Duration::from_secs(20), || {
        env.log().matches("Ambiguous match").count() >= 3
    });
    // An ordinary failure afterwards is still counted (the jail processed past them).
    env.append(&format!(
        "{} sshd[1]: Failed password for root from 198.51.100.1 port 22 ssh2\n",
        stamp()
    ));
    wait_for("the ordinary failure", Duration::from_secs(20), || {
        env.log().contains("Found 198.51.100.1")
    });

    let log = env.log();
    let warn = log
        .lines()
        .find(|l| l.contains("Ambiguous match"))
        .unwrap()
        .to_string();
    assert!(warn.contains("WARNING"), "{warn}");
    assert!(warn.contains("[test]"), "{warn}");
    assert!(warn.contains("Readings"), "{warn}");
    assert!(warn.contains("192.0.2.9, 203.0.113.5"), "{warn}");
    assert!(warn.contains(hostile), "{warn}");
    assert!(!log.contains("Found 192.0.2.9"), "{log}");
    assert!(!log.contains("Found 203.0.113.5"), "{log}");
    assert!(!log.contains("Ban "), "{log}");
    assert!(env.actions().is_empty(), "{}", env.actions());

    let status = env.status_text();
    eprintln!("{warn}\n{status}");
    // fail2ban's fields come first and are unchanged.
    let filter_at = status.find("|- Filter").expect(&status);
    let actions_at = status.find("|- Actions").expect(&status);
    let amb_at = status.find("Ambiguous").expect(&status);
    assert!(filter_at < actions_at && actions_at < amb_at, "{status}");
    assert!(status.contains("Currently banned:\t0"), "{status}");
    assert!(status.contains("Lines:\t3"), "{status}");
    assert!(status.contains("192.0.2.9 (3)"), "{status}");
    assert!(status.contains("203.0.113.5 (3)"), "{status}");
    env.stop();
}
