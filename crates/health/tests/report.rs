//! Rendering: the status tree through the control crate's real beautifier, the
//! JSON report, and `client health`'s exit code.

use bailiff_control::format::beautify;
use bailiff_control::Value;
use bailiff_health::*;

const T0: f64 = 1_700_000_000.0;

fn standard_status() -> Vec<Value> {
    vec![
        Value::pair(
            "Filter",
            Value::List(vec![
                Value::pair("Currently failed", Value::Int(1)),
                Value::pair("Total failed", Value::Int(7)),
                Value::pair("File list", Value::str_list(["/var/log/auth.log"])),
            ]),
        ),
        Value::pair(
            "Actions",
            Value::List(vec![
                Value::pair("Currently banned", Value::Int(1)),
                Value::pair("Total banned", Value::Int(2)),
                Value::pair("Banned IP list", Value::str_list(["192.0.2.1"])),
            ]),
        ),
    ]
}

fn broken() -> JailHealth {
    let mut h = JailHealth::new();
    h.on_source_state("/var/log/auth.log", SourceState::Open, T0);
    h.on_lines_read("/var/log/auth.log", 5, 400, T0);
    h.on_enforcement_check("nftables", 2, true, T0);
    for (addr, n) in [("192.0.2.7", 1), ("192.0.2.8", 3)] {
        for _ in 0..n {
            h.on_line(
                &LineSummary {
                    source: "/var/log/auth.log",
                    line_time: Some(T0),
                    ambiguous: vec![AmbiguousMatch {
                        regex: 0,
                        address: addr.into(),
                    }],
                    ..Default::default()
                },
                T0,
            );
        }
    }
    h
}

#[test]
fn status_keeps_standard_fields_and_appends_health() {
    let th = Thresholds::default();
    let plain = beautify(&["status", "sshd"], &Value::List(standard_status()));
    let mut with = standard_status();
    with.push(JailReport::new("sshd", &broken(), T0 + 1.0, &th).status_value());
    let text = beautify(&["status", "sshd"], &Value::List(with));
    eprintln!("{text}");
    // Every standard `name:\tvalue` line is still there, value unchanged.
    for line in plain.lines().filter(|l| l.contains(":\t")) {
        let field = line.trim_start_matches(['|', '`', '-', ' ']);
        assert!(
            text.lines().any(|l| l.ends_with(field)),
            "standard field {field:?} lost in\n{text}"
        );
    }
    // The health branch comes after them, last, in tree style.
    let health = text.find("`- Health").expect("health branch");
    assert!(health > text.find("Banned IP list").expect("banned list"));
    assert!(text.contains("State:\tUNHEALTHY"));
    assert!(text.contains("Warnings:\t1"));
    assert!(text.contains("`- bans-not-enforced:\t[critical] 2 banned addresses"));
    assert!(text.contains("/var/log/auth.log (open)"));
    assert!(
        text.contains("Ambiguous senders:\t192.0.2.8 (3) 192.0.2.7 (1)"),
        "{text}"
    );
}

#[test]
fn health_exit_code_and_json() {
    let th = Thresholds::default();
    let good = JailHealth::new();
    let ok = HealthReport::new(vec![JailReport::new("sshd", &good, T0, &th)]);
    let (text, code) = ok.render(false);
    assert_eq!(code, 0);
    assert!(text.contains("healthy"), "{text}");

    let bad = HealthReport::new(vec![
        JailReport::new("sshd", &good, T0, &th),
        JailReport::new("nginx", &broken(), T0, &th),
    ]);
    let (text, code) = bad.render(false);
    assert_eq!(code, 1);
    assert!(text.contains("1 of 2 jails are unhealthy"), "{text}");
    assert!(text.contains("nginx: UNHEALTHY"), "{text}");
    assert!(text.contains("fix: "), "{text}");

    let (json, code) = bad.render(true);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(v["healthy"], false);
    assert_eq!(v["jails"][1]["jail"], "nginx");
    assert_eq!(v["jails"][1]["warnings"][0]["code"], "bans-not-enforced");
    assert_eq!(v["jails"][1]["warnings"][0]["severity"], "critical");
    assert_eq!(
        v["jails"][1]["sources"]["/var/log/auth.log"]["state"],
        "open"
    );
    assert_eq!(v["jails"][1]["actions"]["nftables"]["missing"], 2);
    assert_eq!(v["jails"][1]["lines"]["read"], 5);
}
