//! Attacker-written log text and odd configuration must never make the detector
//! panic, and every span it returns must be a valid slice of the line.

use bailiff_date::{DateDetector, DateOptions, Zone};
use proptest::prelude::*;

fn opts() -> DateOptions {
    DateOptions {
        reference_year: 2026,
        any_year: true,
    }
}

const PATTERNS: &[Option<&str>] = &[
    None,
    Some("{^LN-BEG}"),
    Some(r"^[^\[]*\[({DATE})"),
    Some("EPOCH"),
    Some("LEPOCH"),
    Some("TAI64N"),
    Some("%Y-%m-%d %H:%M:%S %Z"),
    Some("%j %U %W %a %w %Y %I %p"),
    Some("{NONE}"),
];

/// Lines built from date-like fragments, so that templates actually match.
fn datey_line() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("Aug 14 ".to_string()),
        Just("2005-08-14 ".to_string()),
        Just("10:00:00".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("1124013600".to_string()),
        Just("@4000000042ff1b6a00000000".to_string()),
        Just(" +0200".to_string()),
        Just(" CEST".to_string()),
        Just("ü".to_string()),
        Just("é".to_string()),
        Just("/Aug/2005:".to_string()),
        "[ -~]{0,6}",
        "\\PC{0,3}",
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

fn check(dd: &mut DateDetector, line: &str, now: f64, zone: &Zone) {
    if let Some(m) = dd.locate(line, now, zone) {
        assert!(m.start <= m.end && m.end <= line.len(), "{m:?} in {line:?}");
        assert!(line.is_char_boundary(m.start) && line.is_char_boundary(m.end));
        assert!(m.template < dd.template_names().len());
        if let Some(t) = m.time {
            assert!(t.is_finite());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn any_line_any_now(
        lines in proptest::collection::vec(prop_oneof![datey_line(), "\\PC{0,40}"], 1..8),
        now in prop_oneof![Just(1_124_013_600.0), any::<f64>()],
    ) {
        let zone = Zone::from_tz_string("CET-01CEST-02,M3.5.0,M10.5.0").unwrap();
        let log = zone.with_logtimezone("UTC+0200").unwrap();
        for p in PATTERNS {
            let mut dd = DateDetector::new(*p, &opts()).unwrap();
            for l in &lines {
                check(&mut dd, l, now, &zone);
                check(&mut dd, l, now, &log);
            }
        }
    }

    #[test]
    fn any_datepattern(p in prop_oneof![
        "\\PC{0,30}",
        proptest::collection::vec(
            prop_oneof![
                Just("%Y"), Just("%m"), Just("%d"), Just("%H"), Just("%M"), Just("%S"),
                Just("%b"), Just("%z"), Just("%Exk"), Just("**"), Just("{^LN-BEG}"),
                Just("{UNB}"), Just("{DATE}"), Just("{EPOCH}"), Just("^"), Just("$"),
                Just("("), Just(")"), Just("(?i)"), Just("\\"), Just("%"), Just(" "),
                Just("-"), Just("\n"), Just("é"),
            ],
            0..10,
        ).prop_map(|v| v.concat()),
    ], line in datey_line()) {
        if let Ok(mut dd) = DateDetector::new(Some(&p), &opts()) {
            check(&mut dd, &line, 1_124_013_600.0, &Zone::utc());
        }
    }
}
