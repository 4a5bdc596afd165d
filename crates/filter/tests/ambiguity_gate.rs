//! The ambiguity check's shortcut (lead-ins, anchors and required literals decide
//! that a probe cannot read a token, so it is not run) changes no verdict: every
//! stock filter, with and without it, over fail2ban's sample logs, the hostile corpus
//! and lines with address-shaped text spliced in at every blank, reports the same
//! failures and the same ambiguous lines.
//!
//! Needs fail2ban's `/etc/fail2ban/filter.d` and its sample logs; skipped loudly
//! without them (fails under `CI=true`).

use std::path::{Path, PathBuf};

use bailiff_filter::{Filter, FilterConfig, LineResult, UseDns, Zone};

const CONFDIR: &str = "/etc/fail2ban";
const LOGS: &str = "/usr/lib/python3/dist-packages/fail2ban/tests/files/logs";
const NOW: f64 = 1_795_428_000.0;

fn have_fail2ban() -> bool {
    if Path::new(CONFDIR).join("filter.d/sshd.conf").exists() && Path::new(LOGS).is_dir() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "fail2ban's filter.d and sample logs are required under CI"
    );
    eprintln!("SKIPPED: {CONFDIR}/filter.d or {LOGS} not found (install fail2ban)");
    false
}

fn filter(name: &str, opts: &[(String, String)], usedns: UseDns) -> Option<Filter> {
    let def = bailiff_config::read_filter(Path::new(CONFDIR), name, opts).ok()?;
    if def.failregex.is_empty() {
        return None;
    }
    let cfg = FilterConfig {
        prefregex: def.prefregex,
        failregex: def.failregex,
        ignoreregex: def.ignoreregex,
        maxlines: def.maxlines.unwrap_or(1),
        datepattern: def.datepattern,
        usedns,
        ..FilterConfig::default()
    };
    Filter::new(&cfg, Zone::utc(), NOW).ok()
}

/// What a line came to: failures (regex, id) and ambiguities (kind, candidates).
fn verdict(r: &LineResult) -> String {
    let f: Vec<String> = r
        .failures
        .iter()
        .map(|x| format!("{}:{}:{:?}", x.regex, x.fid, x.kind))
        .collect();
    let a: Vec<String> = r
        .ambiguous
        .iter()
        .map(|x| format!("{}:{:?}:{:?}", x.regex, x.kind, x.candidates))
        .collect();
    format!("{f:?} {a:?}")
}

/// Address-shaped text spliced after a blank of a line.
const SPLICES: &[&str] = &[
    "from 203.0.113.7 port 22 ",
    "203.0.113.7 ",
    "[203.0.113.7] ",
    "client: 203.0.113.7, ",
    "rhost=203.0.113.7 ",
    "::ffff:203.0.113.7 ",
    "2001:db8:b::7 ",
    "host.example.org ",
    "ip=[203.0.113.7] ",
    "\"203.0.113.7\" ",
];

/// Sample lines plus spliced variants (a bounded number per line).
fn lines_of(log: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read(log) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&text);
    let mut out = Vec::new();
    for (k, l) in text.lines().filter(|l| !l.starts_with('#')).enumerate() {
        out.push(l.to_string());
        let blanks: Vec<usize> = l.match_indices(' ').map(|(i, _)| i + 1).collect();
        for (j, &b) in blanks.iter().enumerate().skip(k % 3).step_by(3) {
            let s = SPLICES[(k + j) % SPLICES.len()];
            out.push(format!("{}{s}{}", &l[..b], &l[b..]));
        }
    }
    out
}

fn corpus_lines() -> Vec<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(root.join("tests/hostile/corpus.jsonl")).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["line"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn shortcut_changes_no_verdict() {
    if !have_fail2ban() {
        return;
    }
    let corpus = corpus_lines();
    let mut names: Vec<String> = std::fs::read_dir(Path::new(CONFDIR).join("filter.d"))
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "conf").then(|| p.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    names.sort();
    let (mut lines, mut ambiguous, mut filters) = (0usize, 0usize, 0usize);
    let mut diffs = Vec::new();
    for name in &names {
        let mut input = lines_of(&Path::new(LOGS).join(name));
        input.extend(corpus.iter().cloned());
        for usedns in [UseDns::Warn, UseDns::No] {
            let (Some(mut on), Some(mut off)) =
                (filter(name, &[], usedns), filter(name, &[], usedns))
            else {
                continue;
            };
            filters += 1;
            off.set_ambiguity_shortcuts(false);
            for l in &input {
                let a = verdict(&on.process_line(l, NOW));
                let b = verdict(&off.process_line(l, NOW));
                lines += 1;
                if a != b && diffs.len() < 20 {
                    diffs.push(format!(
                        "{name} {usedns:?}: {l}\n  with: {a}\n  without: {b}"
                    ));
                }
            }
            assert_eq!(on.ambiguous_total(), off.ambiguous_total(), "{name}");
            ambiguous += off.ambiguous_total() as usize;
        }
    }
    println!(
        "ambiguity shortcut: {filters} filter instances, {lines} lines, {ambiguous} ambiguous, {} differences",
        diffs.len()
    );
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    assert!(filters > 150 && ambiguous > 100, "{filters} {ambiguous}");
}
