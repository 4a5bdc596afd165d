//! Differential test on generated configurations: small trees built from the
//! language's features (includes, `.local`/`.d` overrides, `[DEFAULT]`, `%(x)s` with
//! `known/`, `default/`, `section/`, `__name__`, `<tags>`, `[Init]` and
//! `[Init?family=inet6]`, call arguments with quotes and commas, several actions)
//! are read by `fail2ban-client -d` and by us: both reject, or same stream.

mod common;

use std::fmt::Write as _;
use std::path::Path;

use proptest::prelude::*;
use serde_json::Value;

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

/// A value: a few tokens joined by spaces.
fn value() -> impl Strategy<Value = String> {
    let tok = prop_oneof![
        12 => "[a-z]{1,4}",
        1 => Just("%(port)s".to_string()),
        1 => Just("%(v0)s".to_string()),
        1 => Just("%(v1)s".to_string()),
        1 => Just("%(known/v0)s".to_string()),
        1 => Just("%(known/failregex)s".to_string()),
        1 => Just("%(default/v1)s".to_string()),
        1 => Just("%(Init/p0)s".to_string()),
        1 => Just("%(__name__)s".to_string()),

        1 => Just("%%".to_string()),
        1 => Just("<p0>".to_string()),
        1 => Just("<p1>".to_string()),
        1 => Just("<known/p0>".to_string()),
        1 => Just("<HOST>".to_string()),
        1 => Just("<ip>".to_string()),
        1 => Just("<v0>".to_string()),
        1 => Just("<lt_<p1>/x>".to_string()),
        1 => Just(";c".to_string()),
        1 => Just(" ; comment".to_string()),
        1 => Just("\n    more".to_string()),
        1 => Just("\"q, r\"".to_string()),
        1 => Just(",".to_string()),
        1 => Just("systemd".to_string()),
        1 => Just("LOG".to_string()),
        1 => Just("\n    LOGDIR/*.log tail".to_string()),
        1 => Just("LOGDIR/nothing*.log".to_string()),
        1 => Just("true".to_string()),
        1 => Just("7".to_string()),
        1 => Just("a0[p1=\"x\n     y\"]".to_string()),
        1 => Just("s.py[k=v, actname=pa]".to_string()),
    ];
    proptest::collection::vec(tok, 0..4).prop_map(|v| v.join(" "))
}

fn opt_block(names: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::collection::vec((proptest::sample::select(names), value()), 0..4).prop_map(|v| {
        let mut seen = std::collections::HashSet::new();
        let mut s = String::new();
        for (k, val) in v {
            if seen.insert(k) {
                let _ = writeln!(s, "{k} = {val}");
            }
        }
        s
    })
}

fn call_args() -> impl Strategy<Value = String> {
    let arg = prop_oneof![
        Just("p0=x".to_string()),
        Just("p1=\"a, b\"".to_string()),
        Just("p1='y'".to_string()),
        Just("port=9".to_string()),
        Just("name=other".to_string()),
        Just("actname=z".to_string()),
        Just("v0=%(v1)s".to_string()),
        Just("mode=m".to_string()),
        Just("logtype=short".to_string()),
    ];
    proptest::collection::vec(arg, 0..3).prop_map(|v| {
        if v.is_empty() {
            String::new()
        } else {
            format!("[{}]", v.join(", "))
        }
    })
}

#[derive(Debug, Clone)]
struct Tree {
    files: Vec<(String, String)>,
}

fn tree() -> impl Strategy<Value = Tree> {
    const DEF: &[&str] = &["v0", "v1", "port", "failregex", "maxretry", "findtime"];
    const JAIL: &[&str] = &[
        "v0",
        "v1",
        "port",
        "failregex",
        "maxretry",
        "findtime",
        "ignoreip",
        "usedns",
        "datepattern",
    ];
    const FDEF: &[&str] = &[
        "failregex",
        "ignoreregex",
        "prefregex",
        "datepattern",
        "v0",
        "maxlines",
    ];
    const INIT: &[&str] = &["p0", "p1", "v0", "mode"];
    const ADEF: &[&str] = &["actionban", "actionstart", "norestored", "p1", "v0"];
    (
        opt_block(DEF),
        proptest::collection::vec((proptest::bool::weighted(0.85), opt_block(JAIL), call_args(), proptest::collection::vec((0..3usize, call_args()), 0..3)), 1..3),
        opt_block(JAIL),
        (opt_block(FDEF), opt_block(INIT), opt_block(FDEF), any::<bool>()),
        (opt_block(ADEF), opt_block(INIT), opt_block(INIT), opt_block(ADEF)),
        any::<bool>(),
    )
        .prop_map(|(def, jails, local, (fdef, finit, flocal, finc), (adef, ainit, ainit6, alocal), inc)| {
            let mut files = Vec::new();
            let mut jail = String::new();
            if inc {
                jail.push_str("[INCLUDES]\nbefore = paths.conf\n\n");
            }
            files.push(("jail.d/00-base.conf".to_string(), "[DEFAULT]\nv0 = d0\nv1 = d1\nport = 22\n".to_string()));
            let _ = writeln!(jail, "[DEFAULT]\nbantime = 1h\nlogpath = LOG\n{def}");
            let mut jl = String::new();
            for (i, (enabled, opts, fargs, acts)) in jails.iter().enumerate() {
                let actions: Vec<String> = acts.iter().map(|(a, args)| format!("a{a}{args}")).collect();
                let _ = writeln!(
                    jail,
                    "[j{i}]\nenabled = {enabled}\nfilter = f0{fargs}\naction = {}\n{opts}",
                    actions.join("\n         ")
                );
                let _ = writeln!(jl, "[j{i}]\n{local}");
            }
            files.push(("jail.conf".to_string(), jail));
            files.push(("jail.d/x.local".to_string(), jl));
            files.push(("paths.conf".to_string(), "[DEFAULT]\nv1 = from-paths\n".to_string()));
            let mut f0 = String::new();
            if finc {
                f0.push_str("[INCLUDES]\nbefore = common.conf\n\n");
            }
            let _ = writeln!(f0, "[Definition]\n{fdef}\n[Init]\n{finit}");
            files.push(("filter.d/f0.conf".to_string(), f0));
            files.push(("filter.d/f0.d/00.conf".to_string(), "[DEFAULT]\nv0 = fd0\nv1 = fd1\nport = 1\n[Definition]\nfailregex = ^x <HOST> <p0>$\n[Init]\np0 = i0\n".to_string()));
            files.push(("action.d/a0.d/00.conf".to_string(), "[DEFAULT]\nv0 = ad0\nv1 = ad1\nport = 2\np0 = ap0\n[Definition]\nactionban = ban <ip> <p0> <p1> <name>\n".to_string()));
            files.push(("filter.d/f0.local".to_string(), format!("[Definition]\n{flocal}")));
            files.push((
                "filter.d/common.conf".to_string(),
                "[DEFAULT]\nlogtype = file\n[lt_file]\nx = LTF\n[lt_short]\nx = LTS\n".to_string(),
            ));
            files.push((
                "action.d/a0.conf".to_string(),
                format!("[Definition]\n{adef}\n[Init]\n{ainit}\n[Init?family=inet6]\n{ainit6}"),
            ));
            files.push(("action.d/a0.local".to_string(), format!("[Definition]\n{alocal}")));
            files.push(("action.d/a1.conf".to_string(), "[Definition]\nactionban = one <ip> <port>\n[Init]\nport = 1\n".to_string()));
            Tree { files }
        })
}

fn cases() -> u32 {
    std::env::var("BAILIFF_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, .. ProptestConfig::default() })]
    #[test]
    fn generated_configs_read_like_fail2ban(t in tree()) {
        if !Path::new(common::PYTHON).exists() || !Path::new("/usr/bin/fail2ban-client").exists() {
            eprintln!("SKIPPED: fail2ban oracle not installed");
            return Ok(());
        }
        let tmp = tempfile::tempdir().unwrap();
        let conf = tmp.path().join("conf");
        let log = tmp.path().join("x.log");
        std::fs::write(&log, "").unwrap();
        for (p, text) in &t.files {
            let path = conf.join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let text = text
                .replace("LOGDIR", tmp.path().to_str().unwrap())
                .replace("LOG", log.to_str().unwrap());
            std::fs::write(path, text).unwrap();
        }
        let lines: Vec<Value> = common::run_oracle(&["dump", conf.to_str().unwrap()])
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let failed = lines.iter().any(|l| l.get("nonlist").is_some());
        let ours = bailiff_config::dump_stream(&conf);
        if std::env::var("BAILIFF_DIFF_VERBOSE").is_ok() {
            eprintln!("case: fail2ban {} ({} lines); ours: {:?}", if failed { "rejects" } else { "accepts" }, lines.len(), ours.as_ref().err().map(|e| &e.message));
        }
        match (failed, ours) {
            (true, Err(_)) => {}
            (true, Ok(_)) => prop_assert!(false, "fail2ban rejects, we accept: {:?}\n{:#?}", lines, t.files),
            (false, Err(e)) => prop_assert!(false, "fail2ban accepts, we reject: {}\n{:#?}", e, t.files),
            (false, Ok(got)) => {
                let n = lines.len().max(got.len());
                for i in 0..n {
                    let (w, g) = (lines.get(i), got.get(i));
                    prop_assert!(
                        matches!((w, g), (Some(w), Some(g)) if same(w, g)),
                        "line {}:\n  fail2ban {:?}\n  ours     {:?}\n{:#?}", i, w, g, t.files
                    );
                }
            }
        }
    }
}
