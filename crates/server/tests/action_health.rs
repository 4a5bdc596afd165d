//! A failing ban command makes the jail unhealthy (action-failing) and shows in the
//! metrics of the action; a working one does not.

mod common;

use std::time::Duration;

use bailiff_control::Value;
use common::{stamp, wait_for, Env};

fn health(env: &Env) -> (i64, String) {
    let v = env.ok(&["status", "test", "health"]);
    let Value::List(items) = &v else {
        panic!("not a list: {v:?}")
    };
    let field = |name: &str| {
        items
            .iter()
            .find_map(|p| match p {
                Value::Tuple(kv) if kv[0].as_str() == Some(name) => Some(kv[1].clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no {name} in {v:?}"))
    };
    (
        field("code").as_i64().unwrap(),
        field("text").as_str().unwrap().to_string(),
    )
}

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
    assert_eq!(health(&env).0, 0, "{}", health(&env).1);
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
        health(&env).0 == 1
    });
    let (_, text) = health(&env);
    assert!(text.contains("action-failing"), "{text}");
    assert!(text.contains("record"), "{text}");
    eprintln!("{text}");
    env.stop();
}
