//! Whole-jail scenarios in the fail2ban style: a table of events with times, and the
//! expected decisions. Ban history (what the store would answer) is a plain map here.

use std::collections::HashMap;

use bailiff_jail::{
    BanHistory, BanOutcome, BanTimeIncrement, BanTimeOptions, FailId, IgnoreCache, IgnoreSource,
    Jail, JailConfig, JailError, JailHooks, NoHooks, Ticket,
};

const T0: f64 = 1_700_000_000.0;

#[derive(Default)]
struct Hooks {
    history: HashMap<FailId, BanHistory>,
    overall: HashMap<FailId, BanHistory>,
    ignore_cmd_hits: Vec<String>,
    ignore_cmd_answer: bool,
    random: f64,
}

impl JailHooks for Hooks {
    fn ignore_command(&mut self, t: &Ticket) -> bool {
        self.ignore_cmd_hits.push(t.id.to_string());
        self.ignore_cmd_answer
    }
    fn ban_history(&mut self, id: &FailId, overall: bool) -> Option<BanHistory> {
        if overall {
            self.overall.get(id).copied()
        } else {
            self.history.get(id).copied()
        }
    }
    fn random(&mut self) -> f64 {
        self.random
    }
}

fn id(s: &str) -> FailId {
    FailId::parse(s)
}

fn failure(ip: &str, t: f64, line: &str) -> Ticket {
    Ticket::new(id(ip), T0 + t).with_matches([line])
}

fn banned(o: &BanOutcome) -> &Ticket {
    match o {
        BanOutcome::Banned { ticket, .. } => ticket,
        other => panic!("expected a ban, got {other:?}"),
    }
}

/// (ip, offset seconds) events through a jail with maxretry 3, findtime 600; expected
/// retry after each, and which events produce a ban.
#[test]
fn counting_table() {
    struct Ev {
        ip: &'static str,
        t: f64,
        retry: u32,
        ban: bool,
    }
    let evs = [
        Ev {
            ip: "192.0.2.1",
            t: 0.0,
            retry: 1,
            ban: false,
        },
        Ev {
            ip: "192.0.2.2",
            t: 1.0,
            retry: 1,
            ban: false,
        },
        Ev {
            ip: "192.0.2.1",
            t: 10.0,
            retry: 2,
            ban: false,
        },
        Ev {
            ip: "::ffff:192.0.2.1",
            t: 20.0,
            retry: 0,
            ban: true,
        },
        // after the ban the id starts over
        Ev {
            ip: "192.0.2.1",
            t: 30.0,
            retry: 1,
            ban: false,
        },
        // 192.0.2.2: second failure 1000 s later: round(1/999*600)=1, +1 -> 2
        Ev {
            ip: "192.0.2.2",
            t: 1000.0,
            retry: 2,
            ban: false,
        },
        Ev {
            ip: "192.0.2.2",
            t: 1001.0,
            retry: 0,
            ban: true,
        },
    ];
    let mut cfg = JailConfig::new("sshd");
    cfg.max_retry = 3;
    let mut jail = Jail::new(cfg);
    let mut bans = Vec::new();
    for (n, e) in evs.iter().enumerate() {
        let out = jail.on_failure(failure(e.ip, e.t, "line"), T0 + e.t, &mut NoHooks);
        assert_eq!(out.retry, e.retry, "event {n}");
        assert_eq!(!out.to_ban.is_empty(), e.ban, "event {n}");
        for t in out.to_ban {
            bans.push(t.id.to_string());
            let o = jail.ban(t, T0 + e.t, &mut NoHooks);
            assert_eq!(banned(&o).ban_count, 1);
        }
    }
    assert_eq!(bans, ["192.0.2.1", "192.0.2.2"]);
    let st = jail.status();
    assert_eq!(
        st.currently_failed, 1,
        "192.0.2.1 counted again after its ban"
    );
    assert_eq!(st.total_failed, evs.len() as u64);
    assert_eq!(st.currently_banned, 2);
    assert_eq!(st.total_banned, 2);
    assert_eq!(st.banned, ["192.0.2.1", "192.0.2.2"]);
    // Bans end 600 s after the ticket time of the last failure.
    assert_eq!(jail.next_unban_time(), Some(T0 + 20.0 + 600.0));
    assert!(jail.unban_due(T0 + 620.0, 10).is_empty());
    assert_eq!(jail.unban_due(T0 + 621.0, 10).len(), 1);
    // 192.0.2.1's leftover failure (t=30) is purged after findtime.
    jail.service(T0 + 630.0);
    assert_eq!(jail.status().currently_failed, 0);
}

#[test]
fn banned_ticket_carries_matches_and_failures() {
    let mut cfg = JailConfig::new("sshd");
    cfg.max_retry = 3;
    cfg.max_matches = 2;
    let mut jail = Jail::new(cfg);
    let mut to_ban = Vec::new();
    for (i, line) in ["l1", "l2", "l3"].iter().enumerate() {
        to_ban = jail
            .on_failure(
                failure("198.51.100.4", i as f64, line),
                T0 + i as f64,
                &mut NoHooks,
            )
            .to_ban;
    }
    let t = &to_ban[0];
    assert_eq!(t.matches, ["l2", "l3"]);
    assert_eq!((t.failures, t.retry, t.time), (3, 3, T0 + 2.0));
}

#[test]
fn ignore_lists_and_command_with_cache() {
    let mut cfg = JailConfig::new("sshd");
    cfg.max_retry = 1;
    cfg.has_ignore_command = true;
    cfg.ignore_cache = Some(IgnoreCache::new("<ip>", 100, 300.0));
    let mut jail = Jail::new(cfg);
    jail.ignore_list_mut()
        .add_all("127.0.0.1/8 ::1 10.0.0.0/255.0.0.0");
    jail.ignore_list_mut()
        .set_self_ips(&["203.0.113.77".parse().unwrap()]);
    let mut hooks = Hooks {
        ignore_cmd_answer: true,
        ..Default::default()
    };
    let cases: &[(&str, Option<IgnoreSource>)] = &[
        ("127.0.0.2", Some(IgnoreSource::Ip)),
        ("127.0.0.2", Some(IgnoreSource::Cache)),
        ("10.9.8.7", Some(IgnoreSource::Ip)),
        ("203.0.113.77", Some(IgnoreSource::SelfIp)),
        ("192.0.2.50", Some(IgnoreSource::Command)),
        ("192.0.2.50", Some(IgnoreSource::Cache)),
    ];
    for (ip, want) in cases {
        let out = jail.on_failure(failure(ip, 0.0, "x"), T0, &mut hooks);
        assert_eq!(out.ignored, *want, "{ip}");
        assert!(out.to_ban.is_empty());
    }
    assert_eq!(
        hooks.ignore_cmd_hits,
        ["192.0.2.50"],
        "command run once, then cached"
    );
    // After max-time the command runs again.
    hooks.ignore_cmd_answer = false;
    let out = jail.on_failure(failure("192.0.2.50", 301.0, "x"), T0 + 301.0, &mut hooks);
    assert_eq!(out.ignored, None);
    assert_eq!(out.to_ban.len(), 1);
    assert_eq!(hooks.ignore_cmd_hits.len(), 2);
    assert_eq!(jail.status().total_failed, 1);
}

#[test]
fn future_failure_is_clamped_to_now() {
    let mut jail = Jail::new(JailConfig::new("j"));
    let out = jail.on_failure(failure("192.0.2.1", 5000.0, "x"), T0, &mut NoHooks);
    assert_eq!(out.retry, 1);
    assert_eq!(jail.fail_manager().get(&id("192.0.2.1")).unwrap().time, T0);
}

fn increment_jail(max_retry: u32, opts: BanTimeOptions<'_>) -> Jail {
    let mut cfg = JailConfig::new("sshd");
    cfg.max_retry = max_retry;
    cfg.ban_time = 600.0;
    cfg.increment = Some(BanTimeIncrement::from_options(&opts).unwrap());
    Jail::new(cfg)
}

#[test]
fn increment_on_ban() {
    // (earlier bans in the store, expected ban time, expected ban count)
    let cases: &[(Option<u32>, f64, u32)] = &[
        (None, 600.0, 1),
        (Some(1), 1200.0, 2),
        (Some(2), 2400.0, 3),
        (Some(5), 19200.0, 6),
    ];
    for (prev, want_bt, want_count) in cases {
        let mut jail = increment_jail(1, BanTimeOptions::default());
        let mut hooks = Hooks::default();
        if let Some(n) = prev {
            hooks.history.insert(
                id("192.0.2.9"),
                BanHistory {
                    ban_count: *n,
                    time_of_ban: T0 - 5000.0,
                    ban_time: 600.0,
                },
            );
        }
        let out = jail.on_failure(failure("192.0.2.9", 0.0, "x"), T0, &mut hooks);
        let o = jail.ban(out.to_ban[0].clone(), T0, &mut hooks);
        let t = banned(&o);
        assert_eq!(t.ban_time_or(600.0), *want_bt, "prev {prev:?}");
        // Without history the ticket keeps following the jail's bantime.
        assert_eq!(t.ban_time.is_none(), prev.is_none());
        assert_eq!(t.ban_count, *want_count, "prev {prev:?}");
        match o {
            BanOutcome::Banned {
                increased, record, ..
            } => {
                assert_eq!(increased, prev.is_some());
                assert!(record);
            }
            _ => unreachable!(),
        }
        assert_eq!(jail.next_unban_time(), Some(T0 + want_bt));
    }
}

#[test]
fn increment_overall_jails_maxtime_rndtime() {
    let mut jail = increment_jail(
        1,
        BanTimeOptions {
            overall_jails: true,
            max_time: Some(3000.0),
            rnd_time: Some(100.0),
            ..Default::default()
        },
    );
    let mut hooks = Hooks {
        random: 0.5,
        ..Default::default()
    };
    hooks.overall.insert(
        id("192.0.2.9"),
        BanHistory {
            ban_count: 3,
            time_of_ban: T0 - 10.0,
            ban_time: 600.0,
        },
    );
    let out = jail.on_failure(failure("192.0.2.9", 0.0, "x"), T0, &mut hooks);
    let o = jail.ban(out.to_ban[0].clone(), T0, &mut hooks);
    // 600 * 2^3 = 4800, capped to 3000, plus 0.5 * 100
    assert_eq!(banned(&o).ban_time, Some(3050.0));
    assert_eq!(banned(&o).ban_count, 4);
}

#[test]
fn observer_raises_retry_of_known_bad_ids() {
    // maxretry 5. With n earlier bans, each failure counts 1 + min(2^n/2 + 1, 5) - 1.
    // (earlier bans, retry after 1st failure, failures until ban)
    let cases: &[(u32, u32, usize)] = &[(1, 2, 3), (2, 3, 2), (3, 0, 1), (10, 0, 1)];
    for (n, first_retry, until_ban) in cases {
        let mut jail = increment_jail(5, BanTimeOptions::default());
        let mut hooks = Hooks::default();
        hooks.history.insert(
            id("192.0.2.3"),
            BanHistory {
                ban_count: *n,
                time_of_ban: T0 - 3600.0,
                ban_time: 600.0,
            },
        );
        let mut count = 0;
        loop {
            count += 1;
            let out = jail.on_failure(
                failure("192.0.2.3", count as f64, "x"),
                T0 + count as f64,
                &mut hooks,
            );
            if count == 1 {
                assert_eq!(out.retry, *first_retry, "n={n}");
                assert_eq!(out.bad.map(|b| b.0), Some(*n));
            }
            if !out.to_ban.is_empty() {
                break;
            }
            assert!(count < 10);
        }
        assert_eq!(count, *until_ban, "n={n}");
    }
}

#[test]
fn failures_not_newer_than_last_ban_are_left_alone() {
    let mut jail = increment_jail(5, BanTimeOptions::default());
    let mut hooks = Hooks::default();
    hooks.history.insert(
        id("192.0.2.3"),
        BanHistory {
            ban_count: 3,
            time_of_ban: T0,
            ban_time: 600.0,
        },
    );
    // Same time as the last ban (a re-read log line): only the filter's own count.
    let out = jail.on_failure(failure("192.0.2.3", 0.0, "x"), T0, &mut hooks);
    assert!(out.before_last_ban);
    assert_eq!(out.retry, 1);
    // A ban built from such an old failure is marked restored and not stored again.
    let mut t = Ticket::new(id("192.0.2.3"), T0 - 1.0);
    t.retry = 5;
    let o = jail.ban(t, T0, &mut hooks);
    match o {
        BanOutcome::Banned { ticket, record, .. } => {
            assert!(ticket.restored);
            assert!(!record);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn already_banned_and_prolong() {
    let mut jail = Jail::new(JailConfig::new("sshd"));
    let o = jail.ban_ip(id("192.0.2.8"), T0, &mut NoHooks);
    assert_eq!(banned(&o).ban_count, 1);
    let o = jail.ban_ip(id("192.0.2.8"), T0, &mut NoHooks);
    assert!(matches!(
        o,
        BanOutcome::AlreadyBanned {
            prolonged: None,
            ..
        }
    ));
    let o = jail.ban_ip(id("192.0.2.8"), T0 + 100.0, &mut NoHooks);
    match o {
        BanOutcome::AlreadyBanned { prolonged, ticket } => {
            assert_eq!(prolonged, Some(700.0));
            assert_eq!(ticket.end_of_ban(600.0), T0 + 700.0);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(jail.status().total_banned, 1);
    // An old ticket whose ban is already over is not banned.
    assert_eq!(
        jail.ban(Ticket::new(id("192.0.2.99"), T0 - 700.0), T0, &mut NoHooks),
        BanOutcome::Expired
    );
}

#[test]
fn bans_follow_a_changed_bantime() {
    let mut jail = Jail::new(JailConfig::new("sshd"));
    jail.ban_ip(id("192.0.2.8"), T0, &mut NoHooks);
    jail.ban_manager_mut().set_ban_time(60.0);
    assert_eq!(jail.next_unban_time(), Some(T0 + 60.0));
    assert_eq!(jail.unban_due(T0 + 61.0, 10).len(), 1);
}

#[test]
fn unban_forms() {
    let mut jail = Jail::new(JailConfig::new("sshd"));
    for ip in ["10.0.0.1", "10.0.0.2", "192.0.2.1", "2001:db8::5"] {
        jail.ban_ip(id(ip), T0, &mut NoHooks);
    }
    let gone = jail.unban("::ffff:192.0.2.1").unwrap();
    assert_eq!(gone[0].id.to_string(), "192.0.2.1");
    let gone = jail.unban("10.0.0.0/8").unwrap();
    assert_eq!(gone.len(), 2);
    assert_eq!(
        jail.unban("192.0.2.1"),
        Err(JailError::NotBanned("192.0.2.1".into()))
    );
    assert_eq!(jail.flush().len(), 1);
    assert_eq!(jail.status().currently_banned, 0);
}

#[test]
fn restore_rules() {
    // Without increment: only bans younger than bantime (600), capped to it.
    // (time offset, stored ban time, expected: Some(ban time) or None when skipped)
    let cases: &[(f64, f64, Option<f64>)] = &[
        (-100.0, 600.0, Some(600.0)),
        (-100.0, 3600.0, Some(600.0)),
        (-100.0, -1.0, Some(600.0)),
        (-700.0, 3600.0, None),
        (-100.0, -2.0, Some(600.0)),
        (-100.0, 50.0, None),
    ];
    for (dt, bt, want) in cases {
        let mut jail = Jail::new(JailConfig::new("sshd"));
        let mut t = Ticket::new(id("192.0.2.1"), T0 + dt);
        t.ban_time = Some(*bt);
        t.ban_count = 2;
        let o = jail.restore(t, T0, &mut NoHooks);
        match (want, &o) {
            (Some(w), BanOutcome::Banned { ticket, record, .. }) => {
                assert_eq!(ticket.ban_time, Some(*w), "{dt} {bt}");
                assert!(ticket.restored);
                assert!(!record, "restored bans are not stored again");
                assert_eq!(ticket.ban_count, 3);
            }
            (None, BanOutcome::Expired) => {}
            _ => panic!("{dt} {bt}: {o:?}"),
        }
    }
    // With increment: long bans stay, capped to maxtime; permanent stays permanent
    // when there is no maxtime.
    let mut jail = increment_jail(
        5,
        BanTimeOptions {
            max_time: Some(7200.0),
            ..Default::default()
        },
    );
    let mut t = Ticket::new(id("192.0.2.1"), T0 - 3000.0);
    t.ban_time = Some(86400.0);
    assert_eq!(
        banned(&jail.restore(t, T0, &mut NoHooks)).ban_time,
        Some(7200.0)
    );
    let mut jail = increment_jail(5, BanTimeOptions::default());
    let mut t = Ticket::new(id("192.0.2.1"), T0 - 1e6);
    t.ban_time = Some(-1.0);
    assert_eq!(
        banned(&jail.restore(t, T0, &mut NoHooks)).ban_time,
        Some(-1.0)
    );
    assert_eq!(jail.next_unban_time(), None);
    // Ignored ids are not restored.
    let mut jail = Jail::new(JailConfig::new("sshd"));
    jail.ignore_list_mut().add("192.0.2.0/24");
    let t = Ticket::new(id("192.0.2.1"), T0 - 10.0);
    assert_eq!(
        jail.restore(t, T0, &mut NoHooks),
        BanOutcome::Ignored(IgnoreSource::Ip)
    );
}

#[test]
fn formula_errors_fall_back_to_bantime() {
    let mut jail = increment_jail(
        1,
        BanTimeOptions {
            formula: Some("ban.Time * (1 << (ban.Count * 100))"),
            ..Default::default()
        },
    );
    let mut hooks = Hooks::default();
    hooks.history.insert(
        id("192.0.2.1"),
        BanHistory {
            ban_count: 1,
            time_of_ban: T0 - 5000.0,
            ban_time: 600.0,
        },
    );
    let out = jail.on_failure(failure("192.0.2.1", 0.0, "x"), T0, &mut hooks);
    match jail.ban(out.to_ban[0].clone(), T0, &mut hooks) {
        BanOutcome::Banned {
            ticket,
            formula_error,
            ..
        } => {
            assert_eq!(ticket.ban_time, Some(600.0));
            let e = formula_error.expect("error reported");
            assert!(e.to_string().contains("1 << (ban.Count * 100)"), "{e}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn attempt_command() {
    let mut cfg = JailConfig::new("sshd");
    cfg.max_retry = 3;
    let mut jail = Jail::new(cfg);
    assert!(jail
        .attempt(id("192.0.2.7"), vec!["a".into(), "b".into()], T0)
        .is_none());
    let t = jail
        .attempt(id("192.0.2.7"), vec![], T0 + 1.0)
        .expect("third attempt bans");
    assert_eq!(t.retry, 3);
    assert_eq!(t.matches, ["a", "b"]);
}
