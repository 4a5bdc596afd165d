//! Differential test: stock files mutated at random, read by fail2ban
//! (`fail2ban-client -d`) and by us. Either both reject the configuration, or both
//! produce the same command stream.

mod common;

use std::fmt::Write as _;
use std::path::Path;

use proptest::prelude::*;
use serde_json::Value;

const TARGETS: &[&str] = &[
    "jail.conf",
    "filter.d/sshd.conf",
    "filter.d/common.conf",
    "action.d/iptables.conf",
    "action.d/iptables-multiport.conf",
    "paths-common.conf",
    "fail2ban.conf",
    "filter.d/apache-common.conf",
];

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::String(y)) | (Value::String(y), Value::Number(x)) => {
            x.to_string() == *y
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        _ => a == b,
    }
}

fn mutate(text: &str, edits: &[(usize, u8, String)]) -> String {
    let mut s: Vec<char> = text.chars().collect();
    for (pos, kind, ins) in edits {
        if s.is_empty() {
            break;
        }
        let p = pos % s.len();
        // edits land near line starts and option values, where they matter most
        match kind % 4 {
            0 | 3 => {
                for (i, c) in ins.chars().enumerate() {
                    s.insert((p + i).min(s.len()), c);
                }
            }
            1 => {
                let end = (p + ins.len().max(1)).min(s.len());
                s.drain(p..end);
            }
            _ => s[p] = ins.chars().next().unwrap_or(' '),
        }
    }
    s.into_iter().collect()
}

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("%(".to_string()),
        Just("%(known/failregex)s".to_string()),
        Just("%(__name__)s".to_string()),
        Just("%(default/port)s".to_string()),
        Just("%%".to_string()),
        Just("<".to_string()),
        Just(">".to_string()),
        Just("<known/chain>".to_string()),
        Just("<HOST>".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("\n".to_string()),
        Just("\n  ".to_string()),
        Just("\n ; c\n".to_string()),
        Just(" ;".to_string()),
        Just("#".to_string()),
        Just("=".to_string()),
        Just(":".to_string()),
        Just("\"".to_string()),
        Just(",".to_string()),
        Just("\n[Init]\nport = 1\n".to_string()),
        Just("\n[Init?family=inet6]\nchain = X\n".to_string()),
        Just("\nmaxretry = 7x\n".to_string()),
        Just("\nenabled = true\n".to_string()),
        Just("\nLogType = short\n".to_string()),
        "[a-z_ ]{1,6}",
    ]
}

fn check_case(base: &Path, target: &str, edits: &[(usize, u8, String)]) -> Result<(), String> {
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("conf");
    common::copy_tree(base, &conf);
    let text = std::fs::read_to_string(conf.join(target)).unwrap_or_default();
    std::fs::write(conf.join(target), mutate(&text, edits)).unwrap();
    let lines: Vec<Value> = common::run_oracle(&["dump", conf.to_str().unwrap()])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let failed = lines.iter().any(|l| l.get("nonlist").is_some());
    let ours = bailiff_config::dump_stream(&conf);
    match (failed, ours) {
        (true, Err(_)) => Ok(()),
        (true, Ok(_)) => Err(format!("fail2ban rejects, we accept: {lines:?}")),
        (false, Err(e)) => Err(format!("fail2ban accepts, we reject: {e}")),
        (false, Ok(got)) => {
            let n = lines.len().max(got.len());
            let mut diffs = String::new();
            for i in 0..n {
                let (w, g) = (lines.get(i), got.get(i));
                if !matches!((w, g), (Some(w), Some(g)) if same(w, g)) {
                    let _ = writeln!(diffs, "line {i}:\n  fail2ban {w:?}\n  ours     {g:?}");
                    break;
                }
            }
            if diffs.is_empty() {
                Ok(())
            } else {
                Err(diffs)
            }
        }
    }
}

fn base_dir(tmp: &Path) -> std::path::PathBuf {
    let conf = tmp.join("base");
    common::copy_tree(Path::new("/etc/fail2ban"), &conf);
    let logs = tmp.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let mut local = String::new();
    for j in [
        "sshd",
        "recidive",
        "apache-auth",
        "postfix",
        "dovecot",
        "nginx-http-auth",
    ] {
        let log = logs.join(format!("{j}.log"));
        std::fs::write(&log, "").unwrap();
        let _ = writeln!(
            local,
            "[{j}]\nenabled = true\nlogpath = {}\n",
            log.display()
        );
    }
    std::fs::write(conf.join("jail.local"), local).unwrap();
    conf
}

fn cases() -> u32 {
    std::env::var("BAILIFF_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, .. ProptestConfig::default() })]
    #[test]
    fn mutated_stock_config_reads_like_fail2ban(
        which in 0..TARGETS.len(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), fragment()), 1..5),
    ) {
        if !Path::new(common::PYTHON).exists() || !Path::new("/etc/fail2ban/jail.conf").exists() {
            eprintln!("SKIPPED: fail2ban oracle not installed");
            return Ok(());
        }
        let tmp = tempfile::tempdir().unwrap();
        let base = base_dir(tmp.path());
        let r = check_case(&base, TARGETS[which], &edits);
        prop_assert!(r.is_ok(), "{}: {}", TARGETS[which], r.unwrap_err());
    }
}
