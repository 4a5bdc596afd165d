//! Test helpers: a small reader for action files (enough for the stock files the
//! tests use: sections, continuation lines, `%(x)s`, `%%`, `[Init?family=inet6]`,
//! `before`/`after` includes), and a loud skip.
#![allow(dead_code)]

use std::path::Path;

/// Read an action file the way fail2ban's reader would present it: `[Definition]`
/// pairs, then `[Init]` pairs (overriding), then `[Init?family=X]` pairs as
/// `key?family=X`, then `overrides`.
pub fn read_action(path: &Path, overrides: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut sections: Vec<(String, Vec<(String, String)>)> = Vec::new();
    load(path, &mut sections, 0);
    let get = |name: &str| -> Vec<(String, String)> {
        sections
            .iter()
            .filter(|(s, _)| s == name)
            .flat_map(|(_, kv)| kv.clone())
            .collect()
    };
    // [DEFAULT] keys are visible in every section
    let mut def = get("DEFAULT");
    def.extend(get("Definition"));
    let init = get("Init");
    let mut merged: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: &str| {
        if let Some(e) = merged.iter_mut().find(|(kk, _)| kk == k) {
            e.1 = v.to_string();
        } else {
            merged.push((k.to_string(), v.to_string()));
        }
    };
    for (k, v) in def.iter().chain(init.iter()) {
        put(k, v);
    }
    for (k, v) in overrides {
        put(k, v);
    }
    // %(x)s interpolation against the merged values
    let snapshot = merged.clone();
    let mut out: Vec<(String, String)> = merged
        .into_iter()
        .map(|(k, v)| {
            let v = interpolate(&v, &snapshot, 0);
            (k, v)
        })
        .collect();
    for (s, kv) in &sections {
        if !matches!(s.as_str(), "INCLUDES" | "DEFAULT" | "Definition" | "Init")
            && !s.starts_with("Init?")
        {
            // helper sections, reachable as <section/option>
            for (k, v) in kv {
                out.push((format!("{s}/{k}"), interpolate(v, &snapshot, 0)));
            }
        }
        if let Some(cond) = s.strip_prefix("Init?") {
            for (k, v) in kv {
                out.push((format!("{k}?{cond}"), interpolate(v, &snapshot, 0)));
            }
        }
    }
    out
}

fn interpolate(v: &str, all: &[(String, String)], depth: usize) -> String {
    let mut out = String::new();
    let mut rest = v;
    while let Some(p) = rest.find('%') {
        out.push_str(&rest[..p]);
        let r = &rest[p..];
        if let Some(r2) = r.strip_prefix("%%") {
            out.push('%');
            rest = r2;
        } else if let Some(r2) = r.strip_prefix("%(") {
            let end = r2.find(")s").expect("unterminated %(");
            let key = &r2[..end];
            let plain = key.strip_prefix("known/").unwrap_or(key);
            // a missing key stays empty, as an unset jail option would
            let val = all
                .iter()
                .rev()
                .find(|(k, _)| k == key || k == plain)
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            assert!(depth < 10, "interpolation too deep");
            out.push_str(&interpolate(&val, all, depth + 1));
            rest = &r2[end + 2..];
        } else {
            out.push('%');
            rest = &r[1..];
        }
    }
    out.push_str(rest);
    out
}

fn load(path: &Path, sections: &mut Vec<(String, Vec<(String, String)>)>, depth: usize) {
    assert!(depth < 5, "include loop");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut own: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut cur: Option<usize> = None;
    let mut last_key: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim_end();
        if trimmed.trim_start().starts_with('#') || trimmed.trim_start().starts_with(';') {
            continue;
        }
        if trimmed.is_empty() {
            last_key = None;
            continue;
        }
        if trimmed.starts_with('[') && trimmed.ends_with(']') {
            let name = trimmed[1..trimmed.len() - 1].to_string();
            own.push((name, Vec::new()));
            cur = Some(own.len() - 1);
            last_key = None;
            continue;
        }
        let Some(ci) = cur else { continue };
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(k) = &last_key {
                let kv = &mut own[ci].1;
                if let Some(e) = kv.iter_mut().rev().find(|(kk, _)| kk == k) {
                    e.1.push('\n');
                    e.1.push_str(trimmed.trim_start());
                }
            }
            continue;
        }
        if let Some((k, v)) = trimmed.split_once('=') {
            let k = k.trim().to_string();
            own[ci].1.push((k.clone(), v.trim().to_string()));
            last_key = Some(k);
        }
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let inc = |key: &str| -> Vec<String> {
        own.iter()
            .filter(|(s, _)| s == "INCLUDES")
            .flat_map(|(_, kv)| kv.iter().filter(|(k, _)| k == key).map(|(_, v)| v.clone()))
            .flat_map(|v| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .collect()
    };
    for b in inc("before") {
        let p = dir.join(&b);
        if p.exists() {
            load(&p, sections, depth + 1);
        }
    }
    let after = inc("after");
    sections.extend(own);
    for a in after {
        let p = dir.join(&a);
        if p.exists() {
            load(&p, sections, depth + 1);
        }
    }
}

/// True when tests that need root, network namespaces or tools must run for real.
pub fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
}

/// Print a loud skip message; panics instead when running in CI.
pub fn skip(why: &str) {
    if in_ci() {
        panic!("CI=true but this test cannot run: {why}");
    }
    eprintln!("SKIPPED: {why}");
}
