//! A failing ban command makes the jail unhealthy (action-failing) and shows in the
//! metrics of the action; a working one does not.

mod common;

use std::time::Duration;

use common::{stamp, wait_for, Env};

#[test]
fn failing_ban_command_is_reported() {
    let mut env = Env::new(r"Failed password for \S+ from <HOST>", "");
    // The ban command exits 1.
    std::fs::write(
        env.path("conf/action.d/record.conf"),
        "[Definition]\nactionban = exit 1\nactionunban = true\n",
    )
    .unwrap();
    env.start();
    assert_eq!(env.health("test").0, 0, "{}", env.health("test").1);
    for _ in 0..2 {
        env.append(&format!(
            "{} sshd[1]: Failed password for root from 192.0.2.8 port 22\n",
            stamp()
        ));
    }
    wait_for("the ban", Duration::from_secs(20), || {
        env.log().contains("Ban 192.0.2.8")
    });
    wait_for("action-failing", Duration::from_secs(20), || {
        env.health("test").0 == 1
    });
    let (_, text) = env.health("test");
    assert!(text.contains("action-failing"), "{text}");
    assert!(text.contains("record"), "{text}");
    eprintln!("{text}");
    env.stop();
}
