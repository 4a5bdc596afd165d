//! The hostile corpus (`tests/hostile/corpus.jsonl` at the repository root): log lines
//! whose attacker-written fields carry other addresses. Through every stock filter
//! named there, no address that only attacker text supplied may ever come out as a
//! failure: the filter bans the daemon's address or reports the line ambiguous.
//!
//! Also runs the same corpus through the real `fail2ban-regex` (script
//! `tests/hostile/fail2ban_measure.py`) and prints how many lines it gets wrong.
//!
//! Needs fail2ban's `/etc/fail2ban/filter.d`; without it the tests are skipped, loudly
//! (and fail under `CI=true`).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use bailiff_filter::{FailureKind, Filter, FilterConfig, UseDns, Zone};
use serde_json::Value;

const CONFDIR: &str = "/etc/fail2ban";
const NOW: f64 = 1_795_428_000.0; // 2026-11-23 (the corpus dates)

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn have_fail2ban() -> bool {
    if Path::new(CONFDIR).join("filter.d/sshd.conf").exists() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "fail2ban's filter.d is required under CI"
    );
    eprintln!("SKIPPED: {CONFDIR}/filter.d not found (install fail2ban to run the hostile corpus)");
    false
}

struct Record {
    n: usize,
    filter: String,
    opts: Vec<(String, String)>,
    before: Vec<String>,
    line: String,
    attacker: String,
    bystanders: Vec<String>,
    vector: String,
}

fn load() -> Vec<Record> {
    let path = repo_root().join("tests/hostile/corpus.jsonl");
    let text = std::fs::read_to_string(&path).expect("read corpus");
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let v: Value = serde_json::from_str(l).expect("corpus line is JSON");
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            let list = |k: &str| -> Vec<String> {
                v[k].as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let opts = v["opts"]
                .as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            Record {
                n: i + 1,
                filter: s("filter"),
                opts,
                before: list("before"),
                line: s("line"),
                attacker: s("attacker"),
                bystanders: list("bystanders"),
                vector: s("vector"),
            }
        })
        .collect()
}

/// Address identity: IPv4-mapped IPv6 as IPv4; numbers as the address a resolver makes.
fn canon(text: &str) -> String {
    let t = text.trim_matches(|c| c == '[' || c == ']');
    if let Ok(a) = t.parse::<IpAddr>() {
        return a.to_canonical().to_string();
    }
    if let Some(a) = bailiff_filter::ambiguity::inet_aton(t) {
        return a.to_string();
    }
    t.to_ascii_lowercase()
}

fn filter_for(r: &Record, usedns: UseDns, check_all: bool) -> Filter {
    let def = bailiff_config::read_filter(Path::new(CONFDIR), &r.filter, &r.opts)
        .unwrap_or_else(|e| panic!("corpus line {}: filter {}: {e}", r.n, r.filter));
    let cfg = FilterConfig {
        prefregex: def.prefregex,
        failregex: def.failregex,
        ignoreregex: def.ignoreregex,
        maxlines: def.maxlines.unwrap_or(1),
        datepattern: def.datepattern,
        usedns,
        check_all,
        ..FilterConfig::default()
    };
    Filter::new(&cfg, Zone::utc(), NOW)
        .unwrap_or_else(|e| panic!("corpus line {}: filter {}: {e}", r.n, r.filter))
}

#[derive(Default, Debug)]
struct Tally {
    attacker: usize,
    ambiguous: usize,
    none: usize,
    bystander: Vec<String>,
}

/// Every record through its filter; what came out.
fn run(recs: &[Record], usedns: UseDns, check_all: bool) -> Tally {
    let mut t = Tally::default();
    for r in recs {
        let mut f = filter_for(r, usedns, check_all);
        for b in &r.before {
            f.process_line(b, NOW);
        }
        let res = f.process_line(&r.line, NOW);
        let bys: Vec<String> = r.bystanders.iter().map(|b| canon(b)).collect();
        let fails: Vec<String> = res
            .failures
            .iter()
            .filter(|x| x.kind == FailureKind::Fail && !x.fid.is_empty())
            .map(|x| canon(&x.fid))
            .collect();
        if let Some(b) = fails.iter().find(|x| bys.contains(x)) {
            t.bystander.push(format!(
                "corpus line {} ({} {:?}, {}): banned bystander {b}: {}",
                r.n, r.filter, r.opts, r.vector, r.line
            ));
        } else if fails.contains(&canon(&r.attacker)) {
            t.attacker += 1;
        } else if !res.ambiguous.is_empty() {
            t.ambiguous += 1;
        } else {
            t.none += 1;
        }
        // An ambiguity always names its candidates, the captured one first.
        for a in &res.ambiguous {
            assert!(!a.candidates.is_empty(), "corpus line {}: {a:?}", r.n);
        }
    }
    t
}

#[test]
fn corpus_is_big_and_varied() {
    let recs = load();
    let filters: std::collections::BTreeSet<&str> =
        recs.iter().map(|r| r.filter.as_str()).collect();
    assert!(recs.len() >= 150, "{} records", recs.len());
    assert!(filters.len() >= 15, "{} filters", filters.len());
    for r in &recs {
        assert!(
            !r.bystanders.is_empty(),
            "corpus line {}: no bystanders",
            r.n
        );
        assert!(
            !r.bystanders.iter().any(|b| canon(b) == canon(&r.attacker)),
            "corpus line {}: attacker among bystanders",
            r.n
        );
        assert!(!r.line.contains('\n'));
    }
}

#[test]
fn no_bystander_is_ever_reported() {
    if !have_fail2ban() {
        return;
    }
    let recs = load();
    let mut summary = BTreeMap::new();
    for (dns, all) in [
        (UseDns::Warn, false),
        (UseDns::Yes, false),
        (UseDns::No, false),
        (UseDns::Raw, false),
        (UseDns::Warn, true),
    ] {
        let t = run(&recs, dns, all);
        println!(
            "hostile corpus, usedns={dns:?} check_all={all}: {} lines: {} ban the attacker, {} ambiguous, {} no failure, {} ban a bystander",
            recs.len(),
            t.attacker,
            t.ambiguous,
            t.none,
            t.bystander.len()
        );
        for b in &t.bystander {
            println!("  {b}");
        }
        summary.insert(format!("{dns:?}/{all}"), t.bystander.len());
    }
    assert!(
        summary.values().all(|&n| n == 0),
        "bystanders reported: {summary:?} (see output above)"
    );
}

/// The same corpus through the real fail2ban-regex: the measurement the guarantee is
/// compared with. It must find fail2ban banning bystanders (else the corpus has no
/// teeth); our own count is the test above (zero).
#[test]
fn fail2ban_regex_gets_some_wrong() {
    if !have_fail2ban() {
        return;
    }
    let script = repo_root().join("tests/hostile/fail2ban_measure.py");
    if Path::new("/usr/bin/fail2ban-regex").exists() || which("fail2ban-regex") {
        let out = std::process::Command::new("/usr/bin/python3")
            .arg(&script)
            .output()
            .expect("run fail2ban_measure.py");
        let err = String::from_utf8_lossy(&out.stderr);
        println!("{err}");
        let line = err
            .lines()
            .find(|l| l.starts_with("fail2ban-regex on"))
            .expect("summary line");
        let n: usize = line
            .split(": ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .expect("bystander count");
        assert!(n > 0, "fail2ban-regex banned no bystander: {line}");
    } else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "fail2ban-regex is required under CI"
        );
        eprintln!("SKIPPED: fail2ban-regex not found");
    }
}

/// The same corpus through `bailiff regex --json` (the tester, as users run it): no
/// "fail" result names a bystander. Needs a built `bailiff` binary: `BAILIFF_BIN`, or
/// `bailiff` in this build's target directory; skipped loudly without one.
#[test]
fn bailiff_regex_json_reports_no_bystander() {
    if !have_fail2ban() {
        return;
    }
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/hostile-XXXX -> target/<profile>/bailiff
    let beside = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("bailiff"));
    let bin = std::env::var_os("BAILIFF_BIN")
        .map(PathBuf::from)
        .or(beside)
        .filter(|p| p.exists());
    let Some(bin) = bin else {
        eprintln!("SKIPPED: no bailiff binary (build it with `cargo build -p bailiff` or set BAILIFF_BIN)");
        return;
    };
    let script = repo_root().join("tests/hostile/fail2ban_measure.py");
    let out = std::process::Command::new("/usr/bin/python3")
        .arg(&script)
        .arg("--bailiff")
        .arg(&bin)
        .output()
        .expect("run fail2ban_measure.py --bailiff");
    let err = String::from_utf8_lossy(&out.stderr);
    println!("{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("bailiff regex on"))
        .expect("summary line");
    let n: usize = line
        .split(": ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .expect("bystander count");
    assert_eq!(n, 0, "bailiff regex banned bystanders: {err}");
    assert!(
        !line.contains(" 0 ambiguous"),
        "bailiff regex reported no ambiguous line: {line}"
    );
}

fn which(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(cmd).exists()))
        .unwrap_or(false)
}
