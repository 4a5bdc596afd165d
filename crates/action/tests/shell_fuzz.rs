//! Property test: whatever a log value holds, every quoting context of a hook
//! prints it back verbatim through a real `/bin/sh`, and nothing in it runs.

use std::time::Duration;

use bailiff_action::exec;
use bailiff_action::shell::{render, Dynamic};
use bailiff_action::{Target, Ticket};
use proptest::prelude::*;

/// A template fragment: shell text with `<T>`, and the output expected for a value.
type Fragment = (&'static str, fn(&str) -> String);

fn fragments() -> Vec<Fragment> {
    vec![
        ("printf '%s\\n' <T>", |v| format!("{v}\n")),
        ("printf '%s\\n' \"<T>\"", |v| format!("{v}\n")),
        ("printf '%s\\n' \"a <T> b\"", |v| format!("a {v} b\n")),
        ("printf '%s\\n' 'pre<T>post'", |v| format!("pre{v}post\n")),
        ("printf '%s\\n' \"$(printf '%s|' <T>)\"", |v| {
            format!("{v}|\n")
        }),
        ("printf '%s\\n' \"$(printf '%s|' '<T>')\"", |v| {
            format!("{v}|\n")
        }),
        ("x=`printf '%s|' '<T>'`; printf '%s\\n' \"$x\"", |v| {
            format!("{v}|\n")
        }),
        ("x=$(printf '%s|' \"<T>\"); printf '%s\\n' \"$x\"", |v| {
            format!("{v}|\n")
        }),
        ("cat <<EOF\n<T>\nEOF", |v| format!("{v}\n")),
        ("cat <<'EOF'\n[<T>]\nEOF", |v| format!("[{v}]\n")),
        ("# a comment, it's here\nprintf '%s\\n' <T>", |v| {
            format!("{v}\n")
        }),
        (
            "if [ -n \"<T>\" ]; then printf '%s\\n' <T>; else printf '%s\\n' ''; fi",
            |v| format!("{v}\n"),
        ),
    ]
}

fn value_strategy() -> impl Strategy<Value = String> {
    let chars = prop::collection::vec(
        prop::sample::select(vec![
            "a", "Z", "0", " ", "\t", "\n", "$", "(", ")", "`", ";", "|", "&", "<", ">", "*", "?",
            "~", "[", "]", "{", "}", "#", "!", "\\", "'", "\"", "=", "%", "touch ", "MARK",
            "${IFS}", "$(", "EOF", "\nEOF\n",
        ]),
        0..24,
    );
    chars.prop_map(|parts| {
        let v: String = parts.concat();
        // `$(...)` in the template drops trailing newlines; keep values comparable
        v.trim_end_matches('\n').to_string()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn every_context_prints_the_value_and_runs_nothing(
        value in value_strategy(),
        picks in prop::collection::vec(0usize..12, 1..5),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("MARK");
        let value = value.replace("MARK", &marker.display().to_string());
        let frags = fragments();
        let mut template = String::new();
        let mut expected = String::new();
        for &p in &picks {
            let (text, want) = frags[p];
            // a value line equal to the quoted here-document's terminator is kept
            // apart with a space; the expected text follows that rule
            let shown = if p == 9 {
                value.split('\n').map(|l| if l == "EOF" { "EOF ".to_string() } else { l.to_string() }).collect::<Vec<_>>().join("\n")
            } else {
                value.clone()
            };
            template.push_str(&text.replace("<T>", "<F-USER>"));
            template.push('\n');
            expected.push_str(&want(&shown));
        }
        let mut t = Ticket::new("192.0.2.1".parse::<Target>().unwrap());
        t.fields = vec![("user".into(), value.clone())];
        let script = render(&template, &Dynamic { ticket: Some(&t), family: None, now: 0 });
        let shell = vec!["/bin/sh".to_string(), "-c".to_string()];
        let out = exec::run(&shell, &script, Duration::from_secs(10)).unwrap();
        prop_assert!(out.success(), "script failed: {:?}\n{}", out.stderr, script.script);
        prop_assert_eq!(out.stdout, expected, "script:\n{}", script.script);
        prop_assert!(!marker.exists(), "a command in the value ran");
    }
}
