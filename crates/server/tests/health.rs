//! Health through the real daemon: a jail whose log file is deleted is reported
//! unhealthy (source-down) by `status --all health`, the request behind
//! `bailiff client health`, and becomes healthy again when the file is back.

mod common;

use std::time::Duration;

use common::{stamp, wait_for, Env};

#[test]
fn deleted_log_makes_the_jail_unhealthy_until_it_is_back() {
    // Two seconds instead of five minutes before a missing log counts.
    let mut env = Env::new(
        r"Failed password for \S+ from <HOST>",
        "health_source_down = 2",
    );
    env.start();
    let (code, text) = env.health("--all");
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("test: ok"), "{text}");

    std::fs::remove_file(env.path("auth.log")).unwrap();
    wait_for("source-down", Duration::from_secs(30), || {
        env.health("--all").0 == 1
    });
    let (_, text) = env.health("--all");
    assert!(text.contains("test: UNHEALTHY"), "{text}");
    assert!(text.contains("source-down"), "{text}");
    assert!(text.contains("auth.log"), "{text}");
    // One jail by name says the same.
    let (code, one) = env.health("test");
    assert_eq!(code, 1, "{one}");
    // status JAIL carries the Health branch after fail2ban's fields.
    let status = env.status_text();
    let health_at = status.find("Health").expect(&status);
    assert!(status.find("|- Actions").unwrap() < health_at, "{status}");
    assert!(status.contains("UNHEALTHY"), "{status}");
    assert!(status.contains("source-down"), "{status}");
    eprintln!("{text}\n{status}");

    // The file comes back: the warning clears, and its lines are read.
    env.append(&format!(
        "{} sshd[1]: Failed password for root from 192.0.2.1 port 22\n",
        stamp()
    ));
    wait_for("healthy again", Duration::from_secs(30), || {
        env.health("--all").0 == 0
    });
    wait_for("the new file read", Duration::from_secs(30), || {
        env.log().contains("Found 192.0.2.1")
    });
    let (_, text) = env.health("--all");
    assert!(!text.contains("source-down"), "{text}");

    // A log path added over the socket that does not exist counts too; removing it
    // again forgets it.
    let gone = env.path("gone.log").display().to_string();
    env.ok(&["set", "test", "addlogpath", &gone]);
    wait_for(
        "source-down of the added path",
        Duration::from_secs(30),
        || {
            let (code, text) = env.health("--all");
            code == 1 && text.contains("gone.log")
        },
    );
    env.ok(&["set", "test", "dellogpath", &gone]);
    wait_for("healthy after dellogpath", Duration::from_secs(30), || {
        env.health("--all").0 == 0
    });
    env.stop();
}
