//! A jail's actions run on a worker thread of their own: a ban action that does not
//! finish (it waits for a "gate" file) does not stop the jail from reading its log,
//! detecting and banning the next address, nor `status` from answering; the actions
//! run in the order the bans and unbans were decided (a ban, then its unban); the
//! unban command answers only after its action ran; and a stop runs what is queued
//! before `actionstop`.

mod common;

use std::time::Duration;

use common::{stamp, wait_for, Env};

fn fail(env: &Env, ip: &str) {
    for _ in 0..2 {
        env.append(&format!(
            "{} sshd[1]: Failed password for root from {ip} port 22\n",
            stamp()
        ));
    }
}

fn action_lines(env: &Env) -> Vec<String> {
    env.actions().lines().map(str::to_string).collect()
}

#[test]
fn slow_action_does_not_hold_up_detection_and_order_holds() {
    let mut env = Env::new(r"Failed password for \S+ from <HOST>", "");
    let d = env.dir.path().display().to_string();
    std::fs::write(
        env.path("conf/action.d/record.conf"),
        format!(
            "[Definition]\n\
             actionban = while [ ! -e {d}/gate ]; do sleep 0.02; done; echo ban <ip> >> {d}/actions.txt\n\
             actionunban = echo unban <ip> >> {d}/actions.txt\n"
        ),
    )
    .unwrap();
    env.start();
    let long = Duration::from_secs(30);

    // A's ban action starts and waits at the gate.
    fail(&env, "192.0.2.1");
    wait_for("Ban 192.0.2.1", long, || {
        env.log().contains("Ban 192.0.2.1")
    });
    // B is still read, counted and banned, and status answers, while A's action waits.
    fail(&env, "192.0.2.2");
    wait_for("Ban 192.0.2.2", long, || {
        env.log().contains("Ban 192.0.2.2")
    });
    let status = env.status_text();
    assert!(
        status.contains("192.0.2.1") && status.contains("192.0.2.2"),
        "{status}"
    );
    assert!(!env.path("gate").exists());
    assert_eq!(
        action_lines(&env),
        Vec::<String>::new(),
        "the gate is closed"
    );

    // Unban A over the socket while its ban action still waits: the unban is
    // decided at once but its action may not overtake the ban's.
    std::thread::scope(|s| {
        let unban = s.spawn(|| env.ok(&["set", "test", "unbanip", "192.0.2.1"]));
        wait_for("Unban 192.0.2.1", long, || {
            env.log().contains("Unban 192.0.2.1")
        });
        assert_eq!(
            action_lines(&env),
            Vec::<String>::new(),
            "the gate is closed"
        );
        std::fs::write(env.path("gate"), "").unwrap();
        unban.join().unwrap();
        // The command answered after its action ran.
        let lines = action_lines(&env);
        assert!(lines.contains(&"unban 192.0.2.1".to_string()), "{lines:?}");
    });
    assert_eq!(
        action_lines(&env),
        ["ban 192.0.2.1", "ban 192.0.2.2", "unban 192.0.2.1"]
    );

    // Stop with a ban still queued: it runs before the jail's actions stop (which
    // unbans what is banned).
    std::fs::remove_file(env.path("gate")).unwrap();
    fail(&env, "192.0.2.3");
    wait_for("Ban 192.0.2.3", long, || {
        env.log().contains("Ban 192.0.2.3")
    });
    std::thread::scope(|s| {
        let stopper = s.spawn(|| env.command(&["stop"]));
        wait_for("the shutdown", long, || {
            env.log().contains("Shutdown in progress")
        });
        std::fs::write(env.path("gate"), "").unwrap();
        let _ = stopper.join();
    });
    env.stop();
    let lines = action_lines(&env);
    let pos = |l: &str| {
        lines
            .iter()
            .position(|x| x == l)
            .unwrap_or_else(|| panic!("no {l:?} in {lines:?}"))
    };
    assert!(pos("ban 192.0.2.3") < pos("unban 192.0.2.3"), "{lines:?}");
    assert!(pos("ban 192.0.2.2") < pos("unban 192.0.2.2"), "{lines:?}");
    assert_eq!(lines.len(), 6, "{lines:?}");
}
