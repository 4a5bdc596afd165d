//! Every filter of the installed fail2ban, read with several argument sets, must
//! resolve to the same options as fail2ban's own filter reader gives.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};

const ARGSETS: &str = r#"[{}, {"mode": "aggressive"}, {"mode": "ddos"}, {"mode": "extra"},
 {"mode": "normal"}, {"mode": "more"}, {"mode": "auth"}, {"logtype": "journal"},
 {"logtype": "short"}, {"logtype": "rfc5424"}, {"logging": "syslog"},
 {"mode": "aggressive", "logtype": "journal"}]"#;

fn ours(confdir: &Path, name: &str, args: &BTreeMap<String, String>, explicit: bool) -> Value {
    let a: Vec<(String, String)> = args.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let res = if explicit {
        bailiff_config::read_filter_file(&confdir.join(format!("{name}.conf")), &a)
    } else {
        bailiff_config::read_filter(confdir, name, &a)
    };
    match res {
        Err(e) => json!({"error": e.to_string()}),
        Ok(f) => {
            let mut m = serde_json::Map::new();
            if let Some(p) = f.prefregex {
                m.insert("prefregex".into(), json!(p));
            }
            if f.options.contains_key("__has_failregex") || !f.failregex.is_empty() {
                m.insert("failregex".into(), json!(f.failregex));
            }
            m.insert("ignoreregex".into(), json!(f.ignoreregex));
            if let Some(x) = f.maxlines {
                m.insert("maxlines".into(), json!(x));
            }
            if let Some(d) = f.datepattern {
                m.insert("datepattern".into(), json!(d));
            }
            if !f.journalmatch.is_empty() {
                m.insert("journalmatch".into(), json!(f.journalmatch));
            }
            if let Some(u) = f.usedns {
                m.insert("usedns".into(), json!(u));
            }
            Value::Object(m)
        }
    }
}

fn normalize(mut v: Value) -> Value {
    // presence of empty lists is not part of the contract: drop empty arrays
    if let Value::Object(m) = &mut v {
        m.retain(|_, x| !matches!(x, Value::Array(a) if a.is_empty()));
    }
    v
}

#[test]
fn every_stock_filter_matches_fail2ban() {
    if !common::oracle_available() {
        return;
    }
    compare_all(Path::new("/etc/fail2ban"), false);
}

/// A filter given as a file outside any `filter.d` (fail2ban-regex's "foreign file"):
/// the file and its includes, without the `.d` directories.
#[test]
fn every_stock_filter_as_explicit_file() {
    if !common::oracle_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("foreign");
    common::copy_tree(Path::new("/etc/fail2ban/filter.d"), &dir);
    compare_all(&dir, true);
}

fn compare_all(confdir: &Path, explicit: bool) {
    let mode = if explicit { "explicit" } else { "filters" };
    let oracle: BTreeMap<String, Value> = serde_json::from_str(&common::run_oracle(&[
        mode,
        confdir.to_str().unwrap(),
        ARGSETS,
    ]))
    .unwrap();
    let mut compared = 0;
    let mut errors_both = 0;
    let mut diffs = Vec::new();
    for (key, want) in &oracle {
        let (name, args) = key.split_once('|').unwrap();
        let args: BTreeMap<String, String> = serde_json::from_str(args).unwrap();
        let got = ours(confdir, name, &args, explicit);
        compared += 1;
        let want_err = want.get("error").is_some();
        let got_err = got.get("error").is_some();
        if want_err || got_err {
            if want_err && got_err {
                errors_both += 1;
            } else {
                diffs.push(format!("{key}: fail2ban {want} / ours {got}"));
            }
            continue;
        }
        if normalize(want.clone()) != normalize(got.clone()) {
            diffs.push(format!("{key}:\n  fail2ban {want}\n  ours     {got}"));
        }
    }
    eprintln!(
        "{mode}: compared {compared} (filter, args) pairs, {errors_both} fail in both, {} differ",
        diffs.len()
    );
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    assert!(compared > 500);
}
