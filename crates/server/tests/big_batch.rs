//! A big read (thousands of lines appended at once) is matched in chunks whose bans
//! reach the actions as soon as they are decided, and the store and the log get
//! every ban at the end: each address is banned once, also when its two failures
//! fall in different chunks, its action runs once, and a restart restores them all
//! from the store.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{stamp, wait_for, Env};

const N: usize = 1500;

fn ip(i: usize) -> String {
    format!("10.9.{}.{}", i / 250, i % 250 + 1)
}

/// `Currently banned:` of `status test`.
fn banned(env: &Env) -> usize {
    let status = env.status_text();
    status
        .lines()
        .find(|l| l.contains("Currently banned:"))
        .and_then(|l| l.rsplit(':').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no ban count in {status}"))
}

fn count(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn thousands_of_lines_at_once_ban_each_address_once_and_all_are_stored() {
    let mut env = Env::new(r"Failed password for \S+ from <HOST>", "");
    env.start();
    // Two failures per address (maxretry 2), the second N lines after the first, so
    // that they are matched in different chunks; one write.
    let s = stamp();
    let mut text = String::new();
    for round in 0..2 {
        for i in 0..N {
            text.push_str(&format!(
                "{s} sshd[{round}]: Failed password for root from {} port 22\n",
                ip(i)
            ));
        }
    }
    env.append(&text);
    let long = Duration::from_secs(60);
    wait_for("every ban in the log", long, || {
        count(&env.log(), "] Ban 10.9.") == N
    });
    wait_for("every ban action", long, || {
        count(&env.actions(), "ban 10.9.") == N
    });
    let acted: BTreeSet<String> = env
        .actions()
        .lines()
        .filter_map(|l| l.strip_prefix("ban ").map(str::to_string))
        .collect();
    assert_eq!(acted, (0..N).map(ip).collect::<BTreeSet<_>>());
    assert_eq!(banned(&env), N);

    // Restart: every ban comes back from the store.
    env.stop();
    env.start();
    wait_for("every ban restored", long, || {
        count(&env.log(), "Restore Ban 10.9.") == N
    });
    assert_eq!(banned(&env), N);
    env.stop();
}
