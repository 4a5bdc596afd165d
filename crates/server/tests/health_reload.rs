//! bailiff's own health options (fail2ban.conf's `health_*`) through the real
//! daemon: `reload --all` applies changed ones, and refuses a bad one while the
//! options in force stay. (Its own test binary: the daemon's log target is
//! process-wide.)

mod common;

use std::time::Duration;

use bailiff_control::Value;
use common::{wait_for, Env};

/// `reload --all` as fail2ban-client sends it (no options, no configuration stream).
fn reload_all(env: &Env) -> Option<bailiff_control::Reply> {
    let mut c =
        bailiff_control::Client::connect(env.path("b.sock"), Some(Duration::from_secs(30))).ok()?;
    c.send(&[
        Value::str("reload"),
        Value::str("--all"),
        Value::List(Vec::new()),
        Value::List(Vec::new()),
    ])
    .ok()
}

/// bailiff's own health options are re-read by `reload`: a shorter
/// `health_source_down` makes a missing log count at once, and a bad value fails the
/// reload and keeps the options in force.
#[test]
fn reload_applies_new_health_options_and_keeps_them_on_a_bad_value() {
    let mut env = Env::new(
        r"Failed password for \S+ from <HOST>",
        "health_source_down = 1h",
    );
    env.start();
    std::fs::remove_file(env.path("auth.log")).unwrap();
    // Missing for longer than the new threshold, far less than the old one.
    std::thread::sleep(Duration::from_secs(3));
    let (code, text) = env.health("--all");
    assert_eq!(code, 0, "an hour's threshold, yet: {text}");

    let conf = env.path("conf/fail2ban.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(
        &conf,
        text.replace("health_source_down = 1h", "health_source_down = 1"),
    )
    .unwrap();
    assert!(
        matches!(reload_all(&env), Some(bailiff_control::Reply::Ok(_))),
        "reload"
    );
    wait_for(
        "source-down under the reloaded threshold",
        Duration::from_secs(30),
        || env.health("--all").0 == 1,
    );

    // A value that is no time: the reload is refused, naming the option, and the
    // one-second threshold stays (with the 5-minute default the jail would be ok).
    let text = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(
        &conf,
        text.replace("health_source_down = 1", "health_source_down = soon"),
    )
    .unwrap();
    match reload_all(&env) {
        Some(bailiff_control::Reply::Err(e)) => {
            assert!(format!("{e:?}").contains("health_source_down"), "{e:?}")
        }
        r => panic!("reload with a bad health_source_down: {r:?}"),
    }
    let (code, text) = env.health("--all");
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("source-down"), "{text}");
    env.stop();
}
