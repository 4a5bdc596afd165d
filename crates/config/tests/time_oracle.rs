//! `parse_time` against fail2ban's own time-string reader.

mod common;

use std::process::Command;

const CASES: &[&str] = &[
    "600",
    "10m",
    "1h 30m",
    "2*1d",
    "-1",
    "1d12h",
    "1year-6mo",
    "6 months",
    "1w",
    "60minutes",
    "3 hours",
    "1.5h",
    "1hour+30min",
    "0d 1h 30m",
    "5 s",
    "1mo",
    "1y",
    "10mi",
    "2ww",
    "1d 2h 3m 4s",
    "(1h+1m)*2",
    "1 d",
    "7d",
    "1wee",
    "2yea",
    "1 second",
    "3 sec",
    "90",
    "1h/2",
    "10 20",
];

#[test]
fn time_strings_like_fail2ban() {
    if !common::oracle_available() {
        return;
    }
    let script = "import json,sys\nfrom fail2ban.server.mytime import MyTime\nout=[]\nfor s in json.loads(sys.argv[1]):\n  try: out.append(float(MyTime.str2seconds(s)))\n  except Exception as e: out.append(None)\nprint(json.dumps(out))";
    let arg = serde_json::to_string(CASES).unwrap();
    let out = Command::new(common::PYTHON)
        .args(["-c", script, &arg])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want: Vec<Option<f64>> = serde_json::from_slice(&out.stdout).unwrap();
    let mut bad = Vec::new();
    for (s, w) in CASES.iter().zip(&want) {
        let got = bailiff_config::parse_time(s).ok();
        let same = match (got, w) {
            (Some(g), Some(w)) => (g - w).abs() < 1e-6,
            (None, None) => true,
            _ => false,
        };
        if !same {
            bad.push(format!("{s:?}: fail2ban {w:?}, ours {got:?}"));
        }
    }
    eprintln!("{} time strings compared", CASES.len());
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
