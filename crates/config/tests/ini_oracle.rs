//! One-file INI parsing against Python's `configparser` configured as fail2ban
//! configures it, on generated texts.

mod common;

use std::process::Command;

use serde_json::{json, Value};

const SCRIPT: &str = r#"
import configparser, json, os, sys
d = sys.argv[1]
out = []
for name in sorted(os.listdir(d), key=int):
    p = configparser.ConfigParser(inline_comment_prefixes=";", interpolation=None)
    try:
        p.read(os.path.join(d, name), encoding="utf-8")
        secs = [["DEFAULT", list(map(list, p._defaults.items()))]]
        for s, opts in p._sections.items():
            secs.append([s, list(map(list, opts.items()))])
        out.append({"ok": secs})
    except configparser.Error as e:
        out.append({"err": type(e).__name__})
print(json.dumps(out))
"#;

fn samples() -> Vec<String> {
    // `§` becomes a number, so option names rarely repeat
    let pieces = [
        "[A]\n",
        "[B§]\n",
        "[DEFAULT]\n",
        "[A§] x\n",
        "key§ = v\n",
        "Key§: w\n",
        "k§=\n",
        "k§ = a ; c\n",
        "k§ = a;b\n",
        "  cont\n",
        "\tcont2\n",
        "\n",
        "# c\n",
        "; c\n",
        "  # indented comment\n",
        "k§ = \"q\"\n",
        "k§ = y\r\n",
        "k§ = y\r",
        "[C§]",
        "m§ = 1\n  2\n\n  3\n",
        "  k§ = indented\n",
        "k§ : x = y\n",
        "k§ ;c= 1\n",
        "[D§]\n",
        "k§ = v\n",
        "k§ = v\n",
        "k§ = v\n",
        "k§ = v\n",
        "junk\n",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    (0..1500)
        .map(|_| {
            let len = 1 + next(14);
            let head = if next(8) == 0 { "" } else { "[S]\n" };
            head.to_string()
                + &(0..len)
                    .map(|_| {
                        let p = pieces[next(pieces.len())];
                        p.replace('§', &next(40).to_string())
                    })
                    .collect::<String>()
        })
        .collect()
}

#[test]
fn ini_like_configparser() {
    if !common::oracle_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let texts = samples();
    for (i, t) in texts.iter().enumerate() {
        std::fs::write(tmp.path().join(i.to_string()), t).unwrap();
    }
    let out = Command::new(common::PYTHON)
        .args(["-c", SCRIPT, tmp.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut diffs = Vec::new();
    let mut errors = 0;
    for (t, w) in texts.iter().zip(&want) {
        let got = match bailiff_config::ini::parse("t", t) {
            Err(_) => json!({"err": true}),
            Ok(f) => {
                let mut secs = vec![json!([
                    "DEFAULT",
                    f.defaults
                        .iter()
                        .map(|(k, v)| json!([k, v.value]))
                        .collect::<Vec<_>>()
                ])];
                for (s, opts) in f.sections.iter() {
                    secs.push(json!([
                        s,
                        opts.iter()
                            .map(|(k, v)| json!([k, v.value]))
                            .collect::<Vec<_>>()
                    ]));
                }
                json!({ "ok": secs })
            }
        };
        let same = match (w.get("ok"), got.get("ok")) {
            (Some(a), Some(b)) => a == b,
            (None, None) => {
                errors += 1;
                true
            }
            _ => false,
        };
        if !same {
            diffs.push(format!("{t:?}:\n  python {w}\n  ours   {got}"));
        }
    }
    eprintln!(
        "{} texts, {errors} rejected by both, {} differ",
        texts.len(),
        diffs.len()
    );
    assert!(
        diffs.is_empty(),
        "{}",
        diffs[..diffs.len().min(10)].join("\n")
    );
}
