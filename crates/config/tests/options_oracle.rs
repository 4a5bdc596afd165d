//! `name[k=v]` parsing and the splitting of `action =` values, against fail2ban's
//! own helpers on generated strings.

mod common;

use std::process::Command;

use serde_json::{json, Value};

const SCRIPT: &str = r#"
import json, sys
from fail2ban.helpers import splitWithOptions, extractOptions
out = []
for s in json.loads(sys.stdin.read()):
    items = [x.strip() for x in splitWithOptions(s)]
    items = [x for x in items if x]
    ex = []
    for it in items:
        try:
            n, o = extractOptions(it)
            ex.append([n, [[k, v] for k, v in o.items()]])
        except Exception as e:
            ex.append(["ERR", str(e)])
    out.append([items, ex])
print(json.dumps(out))
"#;

/// Deterministic strings from call-syntax pieces.
fn samples() -> Vec<String> {
    let pieces = [
        "a",
        "b",
        "[",
        "]",
        "=",
        "\"",
        "'",
        ",",
        " ",
        "\n",
        "x=1",
        "p=\"q r\"",
        "k='v, w'",
        "  ",
        "][",
        "act[name=n]",
        "y=",
    ];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    (0..3000)
        .map(|_| {
            let len = 1 + next(12);
            (0..len).map(|_| pieces[next(pieces.len())]).collect()
        })
        .collect()
}

fn ours(s: &str) -> Value {
    let items: Vec<String> = bailiff_config::options::split_with_options(s)
        .into_iter()
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect();
    let ex: Vec<Value> = items
        .iter()
        .map(|it| match bailiff_config::parse_call(it) {
            Ok((n, args)) => json!([n, args]),
            Err(e) => json!(["ERR", e.message]),
        })
        .collect();
    json!([items, ex])
}

#[test]
fn call_syntax_like_fail2ban() {
    if !common::oracle_available() {
        return;
    }
    let input = samples();
    let mut child = Command::new(common::PYTHON)
        .args(["-c", SCRIPT])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(serde_json::to_string(&input).unwrap().as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let want: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut split_diff = Vec::new();
    let mut extract_diff = Vec::new();
    for (s, w) in input.iter().zip(&want) {
        let g = ours(s);
        if g[0] != w[0] {
            split_diff.push(format!("{s:?}: fail2ban {} / ours {}", w[0], g[0]));
        } else if g[1] != w[1] {
            extract_diff.push(format!("{s:?}: fail2ban {} / ours {}", w[1], g[1]));
        }
    }
    eprintln!(
        "{} strings: {} split differently, {} parsed differently",
        input.len(),
        split_diff.len(),
        extract_diff.len()
    );
    assert!(extract_diff.is_empty(), "{}", extract_diff.join("\n"));
    assert!(
        split_diff.is_empty(),
        "{}",
        split_diff[..split_diff.len().min(20)].join("\n")
    );
}
