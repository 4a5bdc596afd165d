//! Every warning, table-driven: a healthy jail shows nothing; the fault is injected
//! and (after its delay) the warning appears; the fix is applied and it clears.
//! Times are values; nothing sleeps.

use bailiff_health::*;

const T0: f64 = 1_700_000_000.0;
const AUTH: &str = "/var/log/auth.log";

fn missed(h: &mut JailHealth, t: f64) {
    h.on_lines_read(AUTH, 1, 80, t);
    h.on_line(
        &LineSummary {
            source: AUTH,
            line_time: Some(t),
            ..Default::default()
        },
        t,
    );
}

fn matched(h: &mut JailHealth, t: f64, line_time: f64, fid: &str, user: Option<&str>) {
    h.on_lines_read(AUTH, 1, 80, t);
    h.on_line(
        &LineSummary {
            source: AUTH,
            line_time: Some(line_time),
            matched: vec![Matched {
                regex: 0,
                fid: fid.into(),
                user: user.map(str::to_string),
                ignoreip: false,
            }],
            ..Default::default()
        },
        t,
    );
}

/// A jail that has been working: its log open, a few matches, all dates right.
fn working_jail() -> JailHealth {
    let mut h = JailHealth::new();
    h.on_source_state(AUTH, SourceState::Open, T0);
    for i in 0..10 {
        let t = T0 + i as f64;
        matched(&mut h, t, t, "192.0.2.1", Some("root"));
        missed(&mut h, t);
    }
    h.on_action_result("nftables", ActionOutcome::Ok, T0 + 10.0);
    h.on_enforcement_check("nftables", 0, true, T0 + 10.0);
    h
}

struct Case {
    name: &'static str,
    code: Code,
    /// Inject the fault; return the time at which the warning must be present.
    /// When `Some(t)` is also returned, the warning must NOT yet be there at `t`.
    fault: fn(&mut JailHealth) -> (Option<f64>, f64),
    /// Apply the fix at time `t` (the time the warning was seen); return the time
    /// at which it must be gone.
    fix: fn(&mut JailHealth, f64) -> f64,
    /// Words the message or fix must contain.
    words: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "log missing after a move",
        code: Code::SourceDown,
        fault: |h| {
            h.on_source_state(AUTH, SourceState::Missing, T0 + 100.0);
            (Some(T0 + 200.0), T0 + 100.0 + 600.0)
        },
        fix: |h, t| {
            h.on_source_state(AUTH, SourceState::Open, t + 1.0);
            t + 1.0
        },
        words: &["missing", "logpath", AUTH],
    },
    Case {
        name: "log unreadable, fixed by reading again",
        code: Code::SourceDown,
        fault: |h| {
            h.on_source_state(
                AUTH,
                SourceState::Unreadable("Permission denied".into()),
                T0 + 100.0,
            );
            (Some(T0 + 399.0), T0 + 400.0)
        },
        fix: |h, t| {
            h.on_lines_read(AUTH, 3, 240, t + 5.0);
            t + 5.0
        },
        words: &["unreadable", "Permission denied"],
    },
    Case {
        name: "format drift: log grows, nothing matches any more",
        code: Code::FormatDrift,
        fault: |h| {
            // 2000 lines over 7 hours, none matching.
            for i in 0..2000 {
                missed(h, T0 + 100.0 + i as f64 * 12.6);
            }
            let end = T0 + 100.0 + 1999.0 * 12.6;
            (Some(T0 + 3600.0), end)
        },
        fix: |h, t| {
            matched(h, t + 1.0, t + 1.0, "198.51.100.9", None);
            t + 1.0
        },
        words: &[
            "2001 lines were read since the filter last matched 7 h ago",
            "none matched",
            "failregex",
        ],
    },
    Case {
        name: "dates one hour behind: time zone",
        code: Code::DateSkew,
        fault: |h| {
            for i in 0..20 {
                let t = T0 + 100.0 + i as f64;
                matched(h, t, t - 3600.0, "192.0.2.3", None);
            }
            (None, T0 + 120.0)
        },
        fix: |h, t| {
            for i in 0..40 {
                let t = t + i as f64;
                matched(h, t, t, "192.0.2.3", None);
            }
            t + 40.0
        },
        words: &["1 h behind", "logtimezone = UTC-0100"],
    },
    Case {
        name: "dates 5 h 30 min ahead: time zone",
        code: Code::DateSkew,
        fault: |h| {
            for i in 0..20 {
                let t = T0 + 100.0 + i as f64;
                missed(h, t);
                matched(h, t, t + 5.5 * 3600.0, "192.0.2.3", None);
            }
            (None, T0 + 120.0)
        },
        fix: |h, t| {
            for i in 0..40 {
                let t = t + i as f64;
                missed(h, t);
            }
            t + 40.0
        },
        words: &["5 h 30 min ahead", "logtimezone = UTC+0530"],
    },
    Case {
        name: "dates 40 days behind: date template",
        code: Code::DateSkew,
        fault: |h| {
            for i in 0..20 {
                let t = T0 + 100.0 + i as f64;
                matched(h, t, t - 40.0 * 86400.0, "192.0.2.3", None);
            }
            (None, T0 + 120.0)
        },
        fix: |h, t| {
            for i in 0..40 {
                let t = t + i as f64;
                missed(h, t);
            }
            t + 40.0
        },
        words: &["40 days behind", "datepattern"],
    },
    Case {
        name: "action fails (no NET_ADMIN)",
        code: Code::ActionFailing,
        fault: |h| {
            h.on_action_result(
                "nftables",
                ActionOutcome::Err("nft: Operation not permitted".into()),
                T0 + 50.0,
            );
            (None, T0 + 50.0)
        },
        fix: |h, t| {
            h.on_action_result("nftables", ActionOutcome::Ok, t + 1.0);
            t + 1.0
        },
        words: &[
            "Operation not permitted",
            "grant the daemon the NET_ADMIN",
            "nftables",
        ],
    },
    Case {
        name: "bans recorded but missing from the set",
        code: Code::BansNotEnforced,
        fault: |h| {
            h.on_enforcement_check("nftables", 3, true, T0 + 50.0);
            (None, T0 + 50.0)
        },
        fix: |h, t| {
            h.on_enforcement_check("nftables", 0, true, t + 60.0);
            t + 60.0
        },
        words: &["3 banned addresses", "repairs"],
    },
    Case {
        name: "ruleset flushed: the set is gone",
        code: Code::BansNotEnforced,
        fault: |h| {
            h.on_enforcement_check("nftables", 0, false, T0 + 50.0);
            (None, T0 + 50.0)
        },
        fix: |h, t| {
            h.on_enforcement_check("nftables", 0, true, t + 60.0);
            t + 60.0
        },
        words: &["is gone", "not enforced"],
    },
    Case {
        name: "NAT: many users from one address, forgotten after ignoreip",
        code: Code::PossibleNat,
        fault: |h| {
            for i in 0..9 {
                matched(
                    h,
                    T0 + 100.0 + i as f64,
                    T0 + 100.0 + i as f64,
                    "203.0.113.7",
                    Some(&format!("user{i}")),
                );
            }
            // 9 users are not enough (see `nine_users_are_not_a_nat`); the 10th is.
            matched(h, T0 + 111.0, T0 + 111.0, "203.0.113.7", Some("user9"));
            (None, T0 + 112.0)
        },
        fix: |h, t| {
            h.forget_address("203.0.113.7");
            t
        },
        words: &["203.0.113.7", "10 distinct users", "ignoreip"],
    },
    Case {
        name: "NAT: warning ages out when the address goes quiet",
        code: Code::PossibleNat,
        fault: |h| {
            for i in 0..12 {
                let t = T0 + 100.0 + i as f64;
                matched(h, t, t, "203.0.113.8", Some(&format!("u{i}")));
            }
            (None, T0 + 200.0)
        },
        fix: |_h, t| t + 3601.0,
        words: &["203.0.113.8", "12 distinct users"],
    },
    Case {
        name: "backend reads files, the journal has the entries",
        code: Code::JournalNotRead,
        fault: |h| {
            h.set_journal_mismatch(Some(JournalMismatch {
                unit: "sshd.service".into(),
                journal_entries: 40,
                file_lines: 0,
                window: 300.0,
            }));
            (None, T0 + 20.0)
        },
        fix: |h, t| {
            h.set_journal_mismatch(None);
            t
        },
        words: &[
            "sshd.service",
            "40 entries",
            "5 min",
            "0 lines",
            "backend = systemd",
        ],
    },
];

fn codes(h: &JailHealth, t: f64) -> Vec<Code> {
    evaluate(h, t, &Thresholds::default())
        .into_iter()
        .map(|w| w.code)
        .collect()
}

#[test]
fn every_warning_appears_then_clears() {
    let th = Thresholds::default();
    for c in CASES {
        let mut h = working_jail();
        assert!(
            codes(&h, T0 + 20.0).is_empty(),
            "{}: the working jail already warns: {:?}",
            c.name,
            evaluate(&h, T0 + 20.0, &th)
        );
        let (not_yet, at) = (c.fault)(&mut h);
        if let Some(t) = not_yet {
            assert!(
                !codes(&h, t).contains(&c.code),
                "{}: warned too early (at +{}s)",
                c.name,
                t - T0
            );
        }
        let ws = evaluate(&h, at, &th);
        let w = ws
            .iter()
            .find(|w| w.code == c.code)
            .unwrap_or_else(|| panic!("{}: no {:?} warning; got {ws:?}", c.name, c.code));
        let text = format!("{} {}", w.message, w.fix);
        for word in c.words {
            assert!(text.contains(word), "{}: {word:?} not in {text:?}", c.name);
        }
        assert!(!is_healthy(&ws), "{}: still called healthy", c.name);
        assert!(!w.fix.is_empty());

        let later = (c.fix)(&mut h, at);
        let ws = evaluate(&h, later, &th);
        assert!(
            !ws.iter().any(|w| w.code == c.code),
            "{}: did not clear: {ws:?}",
            c.name
        );
        assert!(
            is_healthy(&ws),
            "{}: unhealthy after the fix: {ws:?}",
            c.name
        );
    }
}

#[test]
fn a_silent_source_gets_an_info_note_that_clears_on_reading() {
    let th = Thresholds::default();
    let mut h = working_jail();
    let later = T0 + 86400.0 + 100.0;
    let ws = evaluate(&h, later, &th);
    assert_eq!(ws.len(), 1, "{ws:?}");
    assert_eq!(
        (ws[0].code, ws[0].severity),
        (Code::SourceStale, Severity::Info)
    );
    assert!(ws[0].message.contains("24 h") && ws[0].fix.contains("logpath"));
    assert!(is_healthy(&ws), "info only");
    missed(&mut h, later);
    assert!(evaluate(&h, later + 1.0, &th).is_empty());
    // Off when the threshold is 0.
    let off = Thresholds {
        source_stale_after: 0.0,
        ..Thresholds::default()
    };
    assert!(evaluate(&h, later + 10.0 * 86400.0, &off).is_empty());
}

#[test]
fn nine_users_are_not_a_nat() {
    let mut h = working_jail();
    for i in 0..9 {
        let t = T0 + 100.0 + i as f64;
        matched(&mut h, t, t, "203.0.113.7", Some(&format!("user{i}")));
    }
    // The same user many times does not count either.
    for i in 0..50 {
        let t = T0 + 200.0 + i as f64;
        matched(&mut h, t, t, "198.51.100.1", Some("root"));
    }
    assert!(codes(&h, T0 + 300.0).is_empty());
}

#[test]
fn ignoreip_addresses_are_not_nat_suspects() {
    let mut h = working_jail();
    for i in 0..30 {
        let t = T0 + 100.0 + i as f64;
        h.on_line(
            &LineSummary {
                source: AUTH,
                line_time: Some(t),
                matched: vec![Matched {
                    regex: 1,
                    fid: "10.0.0.1".into(),
                    user: Some(format!("u{i}")),
                    ignoreip: true,
                }],
                ..Default::default()
            },
            t,
        );
    }
    assert!(codes(&h, T0 + 200.0).is_empty());
}

#[test]
fn a_jail_that_never_matched_is_not_drifting() {
    let mut h = JailHealth::new();
    h.on_source_state(AUTH, SourceState::Open, T0);
    for i in 0..5000 {
        missed(&mut h, T0 + i as f64 * 10.0);
    }
    assert!(codes(&h, T0 + 50_000.0).is_empty());
}

#[test]
fn a_quiet_log_is_not_drifting() {
    // No match for a day, but only a few lines were written: nothing to say.
    let mut h = working_jail();
    for i in 0..20 {
        missed(&mut h, T0 + 100.0 + i as f64 * 3600.0);
    }
    assert!(codes(&h, T0 + 100.0 + 20.0 * 3600.0).is_empty());
}

#[test]
fn old_lines_read_while_catching_up_do_not_count_as_skew() {
    let mut h = working_jail();
    for i in 0..50 {
        let t = T0 + 100.0 + i as f64;
        h.on_line(
            &LineSummary {
                source: AUTH,
                line_time: Some(t - 5.0 * 86400.0),
                catching_up: true,
                ..Default::default()
            },
            t,
        );
    }
    assert!(codes(&h, T0 + 200.0).is_empty());
}

#[test]
fn no_date_and_ambiguous_lines_are_counted() {
    let mut h = JailHealth::new();
    h.on_line(
        &LineSummary {
            source: AUTH,
            line_time: None,
            ..Default::default()
        },
        T0,
    );
    for _ in 0..3 {
        h.on_line(
            &LineSummary {
                source: AUTH,
                line_time: Some(T0),
                ambiguous: vec![AmbiguousMatch {
                    regex: 2,
                    address: "192.0.2.66".into(),
                }],
                ..Default::default()
            },
            T0,
        );
    }
    assert_eq!(h.lines_nodate, 1);
    assert_eq!(h.sources[AUTH].lines_nodate, 1);
    assert_eq!(h.lines_ambiguous, 3);
    assert_eq!(h.ambiguous_addresses["192.0.2.66"], 3);
    // Ambiguous lines are neither matches nor misses.
    assert_eq!((h.lines_matched, h.lines_missed), (0, 1));
}

#[test]
fn failures_and_bans_per_hour_and_day() {
    let mut h = JailHealth::new();
    for i in 0..30 {
        let t = T0 + i as f64 * 600.0; // every 10 minutes, 5 hours
        matched(&mut h, t, t, "192.0.2.1", None);
        if i % 10 == 0 {
            h.on_ban(t);
        }
    }
    let now = T0 + 29.0 * 600.0;
    assert_eq!(h.failures_total, 30);
    assert_eq!(h.failures_last_hour(now), 6);
    assert_eq!(h.failures_last_day(now), 30);
    assert_eq!((h.bans_last_day(now), h.bans_active), (3, 3));
    h.on_unban(now);
    assert_eq!((h.bans_total, h.unbans_total, h.bans_active), (3, 1, 2));
    assert_eq!(h.failures_last_day(now + 2.0 * 86400.0), 0);
}
