//! Attacker- and user-written text never panics the jail: formulas from config,
//! failure ids and `ignoreip` entries from logs and commands.

use bailiff_jail::formula::Vars;
use bailiff_jail::{parse_net, FailId, Formula, IgnoreList, Jail, JailConfig, NoHooks, Ticket};
use proptest::prelude::*;

fn formula_chars() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("ban.Time".to_string()),
            Just("ban.Count".to_string()),
            Just("banFactor".to_string()),
            Just("math.exp(".to_string()),
            Just("min(".to_string()),
            Just("int(".to_string()),
            Just(" if ".to_string()),
            Just(" else ".to_string()),
            Just("<<".to_string()),
            Just("**".to_string()),
            Just("//".to_string()),
            "[-+*/%()<>=!, .0-9e]{1,3}",
            "[a-z_]{1,4}",
        ],
        0..24,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn formulas_never_panic(src in formula_chars(), t in 0.0f64..1e7, c in 0i64..100, f in -4.0f64..4.0) {
        if let Ok(fm) = Formula::parse(&src) {
            let _ = fm.eval(&Vars { ban_time: t, ban_count: c, ban_factor: f });
        } else {
            prop_assert!(Formula::parse(&src).unwrap_err().to_string().contains("bantime formula"));
        }
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,40}") {
        let _ = Formula::parse(&s);
        let _ = parse_net(&s);
        let id = FailId::parse(&s);
        let mut l = IgnoreList::new();
        l.add_all(&s);
        let _ = l.check(&id);
        let mut jail = Jail::new(JailConfig::new("j"));
        let out = jail.on_failure(Ticket::new(id, 1.0).with_matches([s.clone()]), 1.0, &mut NoHooks);
        prop_assert_eq!(out.retry, 1);
        let _ = jail.unban(&s);
    }
}
