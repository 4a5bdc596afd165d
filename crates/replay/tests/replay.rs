//! `bailiff replay` end to end: a generated auth.log with known properties, the stock
//! sshd and recidive filters, a real configuration directory, the JSON report.
//!
//! Every expectation is derived from the generator's parameters and the policy
//! (maxretry / findtime / bantime), not from an earlier run.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use bailiff_replay::synth::{self, Actor, AttemptKind, LogSpec, Pattern, TimeFormat, Written};
use clap::Parser;
use serde_json::Value;

const STOCK: &str = "/etc/fail2ban";
/// 2026-11-01 00:00:00 UTC.
const START: f64 = 1_793_491_200.0;
const DURATION: f64 = 86_400.0;

const MAXRETRY: u32 = 5;
const FINDTIME: f64 = 600.0;
const BANTIME: f64 = 600.0;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

/// Brute forcer: 6 root attempts 50 s apart (6 failures in 250 s).
fn fast() -> (IpAddr, Pattern) {
    (
        ip("203.0.113.10"),
        Pattern::Burst {
            start: 600.0,
            count: 6,
            interval: 50.0,
        },
    )
}
/// Slow attacker: 4 attempts 30 s apart, once an hour, 6 times.
fn slow() -> (IpAddr, Pattern) {
    (
        ip("203.0.113.20"),
        Pattern::Periodic {
            start: 1_000.0,
            bursts: 6,
            period: 3_600.0,
            per_burst: 4,
            gap: 30.0,
        },
    )
}
/// Repeat offender: 6 attempts 10 s apart, every 2 h, 3 times.
fn repeat() -> (IpAddr, Pattern) {
    (
        ip("203.0.113.30"),
        Pattern::Periodic {
            start: 3_000.0,
            bursts: 3,
            period: 7_200.0,
            per_burst: 6,
            gap: 10.0,
        },
    )
}
/// Recidivist: 6 attempts 5 s apart, every hour, 5 times (5 sshd bans in a day).
fn recidivist() -> (IpAddr, Pattern) {
    (
        ip("203.0.113.40"),
        Pattern::Periodic {
            start: 500.0,
            bursts: 5,
            period: 3_600.0,
            per_burst: 6,
            gap: 5.0,
        },
    )
}
/// Unknown user names: 3 attempts a minute apart, two failure lines each.
fn invalid_users() -> (IpAddr, Pattern) {
    (
        ip("203.0.113.50"),
        Pattern::Burst {
            start: 20_000.0,
            count: 3,
            interval: 60.0,
        },
    )
}
const USER: &str = "198.51.100.5";
/// This host itself (loopback): like `fast`, later in the day.
fn local() -> (IpAddr, Pattern) {
    (
        ip("127.0.0.1"),
        Pattern::Burst {
            start: 40_000.0,
            count: 6,
            interval: 20.0,
        },
    )
}

fn spec() -> LogSpec {
    let att = |(addr, pattern): (IpAddr, Pattern), kind| Actor::Attacker {
        addr,
        kind,
        pattern,
    };
    LogSpec {
        start: START,
        duration: DURATION,
        host: "web1".into(),
        seed: 42,
        noise_per_hour: 200,
        format: TimeFormat::Rfc3339,
        actors: vec![
            att(fast(), AttemptKind::Root),
            att(slow(), AttemptKind::Root),
            att(repeat(), AttemptKind::Root),
            att(recidivist(), AttemptKind::Root),
            att(invalid_users(), AttemptKind::InvalidUser),
            att(local(), AttemptKind::Root),
            Actor::User {
                addr: ip(USER),
                name: "alice".into(),
                logins: 48,
                typo_every: 3,
            },
        ],
    }
}

/// Bans one burst-shaped pattern gets from a plain (no increment) jail, derived from
/// the parameters: each burst is shorter than findtime, so it is banned once when it
/// holds at least maxretry failures; bursts are further apart than bantime +
/// findtime, so nothing carries over from one to the next.
fn expected_bans(p: &Pattern, per_attempt: u32, maxretry: u32) -> u32 {
    let (bursts, per_burst, gap, period) = match *p {
        Pattern::Burst {
            count, interval, ..
        } => (1, count, interval, f64::INFINITY),
        Pattern::Periodic {
            bursts,
            period,
            per_burst,
            gap,
            ..
        } => (bursts, per_burst, gap, period),
    };
    let span = gap * f64::from(per_burst.saturating_sub(1));
    assert!(span < FINDTIME, "burst must fit in findtime");
    assert!(
        period > span + BANTIME + FINDTIME,
        "bursts must not interact"
    );
    if per_burst * per_attempt >= maxretry {
        bursts
    } else {
        0
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    conf: PathBuf,
    log: PathBuf,
    written: Written,
}

/// A configuration directory using the stock filters, with our own jail.conf.
fn fixture(recidive_enabled: bool) -> Option<Fixture> {
    fixture_with(recidive_enabled, "")
}

/// [`fixture`] with more option lines for `[sshd]`.
fn fixture_with(recidive_enabled: bool, sshd_extra: &str) -> Option<Fixture> {
    fixture_fmt(recidive_enabled, sshd_extra, TimeFormat::Rfc3339)
}

/// [`fixture_with`], stamping the log in `format`.
fn fixture_fmt(recidive_enabled: bool, sshd_extra: &str, format: TimeFormat) -> Option<Fixture> {
    let mut spec = spec();
    spec.format = format;
    fixture_spec(recidive_enabled, sshd_extra, &spec)
}

/// [`fixture_with`] with another log.
fn fixture_spec(recidive_enabled: bool, sshd_extra: &str, spec: &LogSpec) -> Option<Fixture> {
    if !Path::new(STOCK).join("filter.d/sshd.conf").is_file() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{STOCK}/filter.d is needed (fail2ban's stock filters)");
        }
        eprintln!("SKIPPED: {STOCK}/filter.d/sshd.conf not found (install fail2ban)");
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("conf");
    std::fs::create_dir(&conf).expect("mkdir");
    std::os::unix::fs::symlink(Path::new(STOCK).join("filter.d"), conf.join("filter.d"))
        .expect("symlink");
    std::fs::write(
        conf.join("jail.conf"),
        format!(
            "[DEFAULT]\nmode = normal\nfilter = %(__name__)s[mode=%(mode)s]\nmaxretry = {MAXRETRY}\nfindtime = {FINDTIME}\nbantime = {BANTIME}\n\n\
             [sshd]\nenabled = true\nlogpath = /var/log/auth.log\n{sshd_extra}\n\n\
             [recidive]\nenabled = {recidive_enabled}\nlogpath = /var/log/fail2ban.log\n\
             bantime = 1w\nfindtime = 1d\n"
        ),
    )
    .expect("jail.conf");
    let log = dir.path().join("auth.log");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&log).expect("log"));
    let written = synth::generate(spec, &mut f).expect("generate");
    std::io::Write::flush(&mut f).expect("flush");
    Some(Fixture {
        _dir: dir,
        conf,
        log,
        written,
    })
}

fn replay(fx: &Fixture, extra: &[&str]) -> Value {
    let now = (START + DURATION + 3_600.0).to_string();
    let mut argv: Vec<String> = vec![
        "bailiff-replay".into(),
        "--json".into(),
        "--now".into(),
        now,
        "-c".into(),
        fx.conf.display().to_string(),
    ];
    argv.extend(extra.iter().map(|s| s.to_string()));
    argv.push(fx.log.display().to_string());
    let args = bailiff_replay::ReplayArgs::try_parse_from(&argv).expect("arguments");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = bailiff_replay::run(&args, &mut out, &mut err).expect("replay runs");
    assert_eq!(code, 0, "stderr: {}", String::from_utf8_lossy(&err));
    serde_json::from_slice(&out).expect("--json prints one JSON document")
}

fn jail<'a>(doc: &'a Value, name: &str, policy: u64) -> &'a Value {
    doc["jails"]
        .as_array()
        .expect("jails")
        .iter()
        .find(|j| j["jail"] == name && j["policy"] == policy)
        .unwrap_or_else(|| panic!("jail {name} policy {policy} in {doc}"))
}

/// Timeline events of one jail, policy and address.
fn bans<'a>(doc: &'a Value, name: &str, policy: u64, addr: IpAddr) -> Vec<&'a Value> {
    doc["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["jail"] == name && e["policy"] == policy && e["id"] == addr.to_string())
        .collect()
}

fn addr_bans(doc: &Value, name: &str, policy: u64, addr: IpAddr) -> u64 {
    jail(doc, name, policy)["addresses"][addr.to_string()]["bans"]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn the_filter_sees_the_failures_the_generator_wrote() {
    let Some(fx) = fixture(false) else { return };
    let doc = replay(&fx, &[]);
    let sshd = jail(&doc, "sshd", 0);
    let total: usize = fx.written.failures.values().map(Vec::len).sum();
    assert_eq!(sshd["failures"].as_u64(), Some(total as u64));
    assert_eq!(doc["lines"].as_u64(), Some(fx.written.lines));
    let mut seen = BTreeMap::new();
    for (addr, times) in &fx.written.failures {
        seen.insert(
            addr.to_string(),
            sshd["addresses"][addr.to_string()]["failures"].as_u64(),
        );
        assert_eq!(
            sshd["addresses"][addr.to_string()]["failures"].as_u64(),
            Some(times.len() as u64),
            "failures of {addr}"
        );
    }
    assert_eq!(
        sshd["distinct_addresses"].as_u64(),
        Some(fx.written.failures.len() as u64)
    );
    assert!(doc["lines_per_second"].as_f64().is_some_and(|v| v > 0.0));
}

#[test]
fn bans_follow_maxretry_and_findtime() {
    let Some(fx) = fixture(false) else { return };
    let doc = replay(&fx, &[]);
    let cases = [
        (fast(), 1),
        (slow(), 1),
        (repeat(), 1),
        (recidivist(), 1),
        (invalid_users(), 2),
    ];
    for ((addr, pattern), per_attempt) in &cases {
        let want = expected_bans(pattern, *per_attempt, MAXRETRY);
        assert_eq!(
            addr_bans(&doc, "sshd", 0, *addr),
            u64::from(want),
            "{addr}: {pattern:?}"
        );
    }
    // the normal user's single typos never add up
    assert_eq!(addr_bans(&doc, "sshd", 0, ip(USER)), 0);
    // fast's ban starts at its 5th failure and lasts bantime
    let (addr, p) = fast();
    let ev = bans(&doc, "sshd", 0, addr);
    assert_eq!(ev.len(), 1);
    let fifth = START + p.times()[MAXRETRY as usize - 1];
    assert_eq!(ev[0]["time"].as_f64(), Some(fifth.floor()));
    assert_eq!(ev[0]["ban_time"].as_f64(), Some(BANTIME));
    assert_eq!(ev[0]["failures"].as_u64(), Some(u64::from(MAXRETRY)));
    // its 6th failure came while it was banned: dropped, as the firewall would
    assert!(jail(&doc, "sshd", 0)["while_banned"].as_u64() >= Some(1));
}

#[test]
fn set_maxretry_3_bans_the_slow_attacker() {
    let Some(fx) = fixture(false) else { return };
    let doc = replay(&fx, &["--set", "maxretry=3"]);
    let (slow_addr, slow_p) = slow();
    let before = expected_bans(&slow_p, 1, MAXRETRY);
    let after = expected_bans(&slow_p, 1, 3);
    assert_eq!(before, 0);
    assert_eq!(addr_bans(&doc, "sshd", 0, slow_addr), u64::from(before));
    assert_eq!(addr_bans(&doc, "sshd", 1, slow_addr), u64::from(after));
    assert_eq!(jail(&doc, "sshd", 1)["maxretry"].as_u64(), Some(3));
    // the comparison: every other actor is banned as often under both policies
    let mut added = 0i64;
    for ((addr, p), per) in [
        (fast(), 1),
        (slow(), 1),
        (repeat(), 1),
        (recidivist(), 1),
        (invalid_users(), 2),
    ] {
        added += i64::from(expected_bans(&p, per, 3)) - i64::from(expected_bans(&p, per, 5));
        let _ = addr;
    }
    let cmp = &doc["comparison"];
    assert_eq!(cmp["bans_added"].as_i64(), Some(added));
    let sshd = cmp["jails"]
        .as_array()
        .and_then(|a| a.iter().find(|j| j["jail"] == "sshd"))
        .expect("sshd comparison");
    assert_eq!(
        sshd["newly_banned"],
        serde_json::json!([slow_addr.to_string()])
    );
    assert_eq!(sshd["no_longer_banned"], serde_json::json!([]));
    assert_eq!(addr_bans(&doc, "sshd", 1, ip(USER)), 0);
}

#[test]
fn set_ignoreip_stops_banning_that_address() {
    let Some(fx) = fixture(false) else { return };
    let (addr, p) = fast();
    let doc = replay(&fx, &["--set", &format!("sshd.ignoreip={addr}")]);
    assert_eq!(addr_bans(&doc, "sshd", 0, addr), 1);
    assert_eq!(addr_bans(&doc, "sshd", 1, addr), 0);
    assert_eq!(
        jail(&doc, "sshd", 1)["ignored"].as_u64(),
        Some(p.times().len() as u64)
    );
    let sshd = &doc["comparison"]["jails"][0];
    assert_eq!(
        sshd["no_longer_banned"],
        serde_json::json!([addr.to_string()])
    );
}

#[test]
fn increment_makes_a_repeat_offenders_next_ban_longer() {
    let Some(fx) = fixture(false) else { return };
    let doc = replay(&fx, &["--set", "bantime.increment=true"]);
    let (addr, p) = repeat();
    let Pattern::Periodic {
        start,
        bursts,
        period,
        gap,
        ..
    } = p
    else {
        unreachable!()
    };
    let plain = bans(&doc, "sshd", 0, addr);
    let inc = bans(&doc, "sshd", 1, addr);
    assert_eq!(plain.len(), bursts as usize);
    assert_eq!(inc.len(), bursts as usize);
    for e in &plain {
        assert_eq!(e["ban_time"].as_f64(), Some(BANTIME));
    }
    let times: Vec<f64> = inc.iter().filter_map(|e| e["ban_time"].as_f64()).collect();
    // the default formula: bantime * 2^(earlier bans)
    for (k, t) in times.iter().enumerate() {
        assert_eq!(*t, BANTIME * f64::from(1u32 << k), "ban #{}", k + 1);
        assert_eq!(inc[k]["ban_count"].as_u64(), Some(k as u64 + 1));
    }
    assert!(times[1] > times[0]);
    // fail2ban's observer counts every failure of a known bad address as
    // min(2^n/2 + 1, maxretry) failures (n: its earlier bans): after one earlier ban,
    // 2 per failure, so the second burst is banned at its 3rd failure, not its 5th
    let per_failure = ((1u32 << 1) / 2 + 1).min(MAXRETRY);
    let nth = MAXRETRY.div_ceil(per_failure) as usize;
    let burst2 = START + start + period;
    assert_eq!(
        inc[1]["time"].as_f64(),
        Some((burst2 + gap * (nth as f64 - 1.0)).floor())
    );
    assert_eq!(
        plain[1]["time"].as_f64(),
        Some((burst2 + gap * (MAXRETRY as f64 - 1.0)).floor())
    );
}

#[test]
fn recidive_bans_an_address_banned_five_times_in_a_day() {
    let Some(fx) = fixture(true) else { return };
    // also: maxretry 3 for sshd alone makes the slow attacker a recidivist
    let doc = replay(&fx, &["--set", "sshd.maxretry=3"]);
    let (addr, _) = recidivist();
    let sshd_bans = bans(&doc, "sshd", 0, addr);
    assert_eq!(sshd_bans.len(), 5);
    let rec = bans(&doc, "recidive", 0, addr);
    assert_eq!(rec.len(), 1, "{doc}");
    // recidive's maxretry (5) is reached with the 5th sshd ban, within its findtime (1d)
    assert_eq!(rec[0]["time"], sshd_bans[4]["time"]);
    assert_eq!(rec[0]["ban_time"].as_f64(), Some(7.0 * 86_400.0));
    // fewer than 5 sshd bans: no recidive ban
    for (a, _) in [fast(), repeat(), invalid_users(), slow()] {
        assert!(bans(&doc, "recidive", 0, a).is_empty(), "{a}");
    }
    assert_eq!(jail(&doc, "recidive", 1)["maxretry"].as_u64(), Some(5));
    let (slow_addr, slow_p) = slow();
    let slow_bans = expected_bans(&slow_p, 1, 3);
    assert!(slow_bans >= 5);
    assert_eq!(bans(&doc, "recidive", 1, slow_addr).len(), 1);
    let recj = &doc["comparison"]["jails"]
        .as_array()
        .and_then(|a| a.iter().find(|j| j["jail"] == "recidive").cloned())
        .expect("recidive comparison");
    assert_eq!(
        recj["newly_banned"],
        serde_json::json!([slow_addr.to_string()])
    );
}

#[test]
fn jail_option_forces_a_disabled_jail() {
    let Some(fx) = fixture(false) else { return };
    let doc = replay(&fx, &["--jail", "sshd", "--jail", "recidive"]);
    let (addr, _) = recidivist();
    assert_eq!(bans(&doc, "recidive", 0, addr).len(), 1);
    // by default a disabled recidive is not replayed
    let doc = replay(&fx, &[]);
    assert!(doc["jails"]
        .as_array()
        .is_some_and(|a| a.iter().all(|j| j["jail"] != "recidive")));
}

#[test]
fn stock_debian_configuration_selects_sshd_by_its_filter() {
    let Some(mut fx) = fixture(false) else { return };
    if !Path::new(STOCK).join("jail.conf").is_file() {
        eprintln!("SKIPPED: no {STOCK}/jail.conf");
        return;
    }
    fx.conf = PathBuf::from(STOCK);
    let doc = replay(&fx, &[]);
    let sshd = jail(&doc, "sshd", 0);
    // Debian: maxretry 5, findtime 10m, bantime 10m, as our fixture
    if sshd["maxretry"] != MAXRETRY || sshd["findtime"] != FINDTIME {
        eprintln!("SKIPPED: {STOCK} is not Debian's stock configuration");
        return;
    }
    let (addr, p) = fast();
    assert_eq!(
        addr_bans(&doc, "sshd", 0, addr),
        u64::from(expected_bans(&p, 1, 5))
    );
    let (addr, p) = slow();
    assert_eq!(
        addr_bans(&doc, "sshd", 0, addr),
        u64::from(expected_bans(&p, 1, 5))
    );
}

#[test]
fn text_report_and_bad_options() {
    let Some(fx) = fixture(false) else { return };
    let args = bailiff_replay::ReplayArgs::try_parse_from([
        "bailiff-replay",
        "--now",
        &(START + DURATION).to_string(),
        "-c",
        &fx.conf.display().to_string(),
        "--set",
        "findtime=1h",
        &fx.log.display().to_string(),
    ])
    .expect("args");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    bailiff_replay::run(&args, &mut out, &mut err).expect("runs");
    let text = String::from_utf8(out).expect("utf-8");
    for want in [
        "Ban timeline",
        "Top offending addresses",
        "/24",
        "lines/s",
        "Policy change (--set findtime=1h)",
    ] {
        assert!(text.contains(want), "{want:?} missing in:\n{text}");
    }
    for bad in ["nokey=1", "maxretry", "nojail.maxretry=3"] {
        let args = bailiff_replay::ReplayArgs::try_parse_from([
            "bailiff-replay",
            "-c",
            &fx.conf.display().to_string(),
            "--set",
            bad,
            &fx.log.display().to_string(),
        ])
        .expect("args");
        let e = bailiff_replay::run(&args, &mut Vec::new(), &mut Vec::new());
        assert!(
            matches!(e, Err(bailiff_replay::Error::Option { .. })),
            "{bad}: {e:?}"
        );
    }
    let args = bailiff_replay::ReplayArgs::try_parse_from([
        "bailiff-replay",
        "-c",
        &fx.conf.display().to_string(),
        "--jail",
        "nosuchjail",
        &fx.log.display().to_string(),
    ])
    .expect("args");
    let e = bailiff_replay::run(&args, &mut Vec::new(), &mut Vec::new());
    assert!(matches!(e, Err(bailiff_replay::Error::NoJail(_))), "{e:?}");
}

#[test]
fn rotated_and_gzipped_logs_given_newest_first_replay_like_one_log() {
    let Some(fx) = fixture(false) else { return };
    let whole = replay(&fx, &[]);
    // split at the middle of the day: older half to auth.log.1.gz, newer to auth.log
    let text = std::fs::read_to_string(&fx.log).expect("log");
    let lines: Vec<&str> = text.lines().collect();
    let mid = lines.len() / 2;
    let dir = fx.log.parent().expect("dir").join("rotated");
    std::fs::create_dir(&dir).expect("mkdir");
    let old = dir.join("auth.log.1");
    std::fs::write(&old, lines[..mid].join("\n") + "\n").expect("old half");
    std::fs::write(dir.join("auth.log"), lines[mid..].join("\n") + "\n").expect("new half");
    let st = std::process::Command::new("gzip")
        .arg(&old)
        .status()
        .expect("gzip runs");
    assert!(st.success());
    let now = (START + DURATION + 3_600.0).to_string();
    let args = bailiff_replay::ReplayArgs::try_parse_from([
        "bailiff-replay".to_string(),
        "--json".into(),
        "--now".into(),
        now,
        "-c".into(),
        fx.conf.display().to_string(),
        dir.join("auth.log").display().to_string(),
        dir.join("auth.log.1.gz").display().to_string(),
    ])
    .expect("args");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    bailiff_replay::run(&args, &mut out, &mut err).expect("runs");
    let split: Value = serde_json::from_slice(&out).expect("json");
    assert_eq!(split["lines"], whole["lines"]);
    assert_eq!(split["timeline"], whole["timeline"]);
    assert!(split["files"][0]
        .as_str()
        .is_some_and(|f| f.ends_with("auth.log.1.gz")));
    assert!(String::from_utf8_lossy(&err).contains("time order"));
}

#[test]
fn ignoreself_is_off_unless_asked() {
    let Some(fx) = fixture(false) else { return };
    let (addr, p) = local();
    let doc = replay(&fx, &[]);
    assert_eq!(
        addr_bans(&doc, "sshd", 0, addr),
        u64::from(expected_bans(&p, 1, MAXRETRY))
    );
    assert_eq!(jail(&doc, "sshd", 0)["ignored"].as_u64(), Some(0));
    let doc = replay(&fx, &["--ignoreself"]);
    assert_eq!(addr_bans(&doc, "sshd", 0, addr), 0);
    assert_eq!(
        jail(&doc, "sshd", 0)["ignored"].as_u64(),
        Some(p.times().len() as u64)
    );
}

#[test]
fn a_journal_jail_replays_files_as_a_file_jail() {
    // backend = systemd: the filter is re-read with logtype = file (an overlay sets
    // backend = auto), and the logpath, unused by the journal, still selects the file
    let Some(fx) = fixture_with(false, "backend = systemd") else {
        return;
    };
    let doc = replay(&fx, &["--jail", "sshd"]);
    let total: usize = fx.written.failures.values().map(Vec::len).sum();
    assert_eq!(
        jail(&doc, "sshd", 0)["failures"].as_u64(),
        Some(total as u64)
    );
    let (addr, p) = fast();
    assert_eq!(
        addr_bans(&doc, "sshd", 0, addr),
        u64::from(expected_bans(&p, 1, MAXRETRY))
    );
}

#[test]
fn year_less_syslog_dates_resolve_against_now() {
    let Some(iso) = fixture(false) else { return };
    let Some(fx) = fixture_fmt(false, "logtimezone = UTC", TimeFormat::Syslog) else {
        return;
    };
    let want = replay(&iso, &[]);
    // replay() passes --now one hour after the log: the same year, the same bans
    let got = replay(&fx, &[]);
    assert_eq!(got["timeline"], want["timeline"]);
    // a year later, "Nov 1" is read as that year's: every ban moves by 365 days
    let later = (START + 400.0 * 86_400.0).to_string();
    let moved = replay(&fx, &["--now", &later]);
    let a = want["timeline"].as_array().expect("timeline");
    let b = moved["timeline"].as_array().expect("timeline");
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(
            y["time"]
                .as_f64()
                .zip(x["time"].as_f64())
                .map(|(y, x)| y - x),
            Some(365.0 * 86_400.0)
        );
    }
}

#[test]
fn a_filter_change_is_replayed_with_its_own_filter() {
    let Some(fx) = fixture(false) else { return };
    let doc = replay(&fx, &["--set", "filter=sshd[mode=aggressive]"]);
    // policy 0 still uses the normal mode
    let total: usize = fx.written.failures.values().map(Vec::len).sum();
    assert_eq!(
        jail(&doc, "sshd", 0)["failures"].as_u64(),
        Some(total as u64)
    );
    // policy 1, against the oracle: fail2ban-regex with the same filter, one id per
    // failure
    let out = std::process::Command::new("/usr/bin/fail2ban-regex")
        .args(["-o", "id"])
        .arg(&fx.log)
        .arg("sshd[mode=aggressive]")
        .output();
    let Ok(out) = out.map_err(|e| eprintln!("SKIPPED: fail2ban-regex: {e}")) else {
        return;
    };
    assert!(out.status.success());
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        *want.entry(l.trim().to_string()).or_default() += 1;
    }
    let agg = jail(&doc, "sshd", 1);
    let got: BTreeMap<String, u64> = agg["addresses"]
        .as_object()
        .expect("addresses")
        .iter()
        .map(|(k, v)| (k.clone(), v["failures"].as_u64().unwrap_or(0)))
        .collect();
    assert_eq!(got, want);
    assert!(
        agg["failures"].as_u64() > Some(total as u64),
        "aggressive counts more"
    );
}

#[test]
fn increment_forgets_bans_the_database_would_have_purged() {
    // dbpurgeage (1d by default) drops a ban from the history once it is older than
    // that and than 3 x its ban time: a second ban 2 days later starts over, one 12 h
    // later is doubled.
    let burst = |start, period| Pattern::Periodic {
        start,
        bursts: 2,
        period,
        per_burst: 6,
        gap: 10.0,
    };
    let late = ip("203.0.113.60");
    let soon = ip("203.0.113.61");
    let spec = LogSpec {
        start: START,
        duration: 3.0 * 86_400.0,
        host: "web1".into(),
        seed: 5,
        noise_per_hour: 10,
        format: TimeFormat::Rfc3339,
        actors: vec![
            Actor::Attacker {
                addr: late,
                kind: AttemptKind::Root,
                pattern: burst(1_000.0, 2.0 * 86_400.0),
            },
            Actor::Attacker {
                addr: soon,
                kind: AttemptKind::Root,
                pattern: burst(2_000.0, 12.0 * 3_600.0),
            },
        ],
    };
    let Some(fx) = fixture_spec(false, "", &spec) else {
        return;
    };
    let now = (START + 4.0 * 86_400.0).to_string();
    let doc = replay(&fx, &["--now", &now, "--set", "bantime.increment=true"]);
    let late_bans = bans(&doc, "sshd", 1, late);
    let soon_bans = bans(&doc, "sshd", 1, soon);
    assert_eq!(late_bans.len(), 2);
    assert_eq!(soon_bans.len(), 2);
    assert_eq!(late_bans[1]["ban_time"].as_f64(), Some(BANTIME));
    assert_eq!(late_bans[1]["ban_count"].as_u64(), Some(1));
    assert_eq!(soon_bans[1]["ban_time"].as_f64(), Some(2.0 * BANTIME));
    assert_eq!(soon_bans[1]["ban_count"].as_u64(), Some(2));
}

#[test]
fn logs_are_merged_by_time_across_jails() {
    // [sshd] reads a.log, [sshd-b] reads b.log, both counting bans over all jails.
    // a.log starts first, but X is banned in b.log (at +2000 s) before a.log bans it
    // (at +5000 s): read in one time line, the second ban knows the first.
    let Some(fx) = fixture(false) else { return };
    let dir = fx.log.parent().expect("dir").join("merge");
    std::fs::create_dir(&dir).expect("mkdir");
    let x = ip("203.0.113.70");
    let y = ip("203.0.113.71");
    let burst = |start| Pattern::Burst {
        start,
        count: 6,
        interval: 10.0,
    };
    let write = |name: &str, start: f64, actors: Vec<Actor>| {
        let spec = LogSpec {
            start,
            duration: 86_400.0,
            host: "web1".into(),
            seed: 8,
            noise_per_hour: 30,
            format: TimeFormat::Rfc3339,
            actors,
        };
        let mut f = std::fs::File::create(dir.join(name)).expect("log");
        synth::generate(&spec, &mut f).expect("generate");
    };
    let att = |addr, start| Actor::Attacker {
        addr,
        kind: AttemptKind::Root,
        pattern: burst(start),
    };
    let once = Actor::Attacker {
        addr: y,
        kind: AttemptKind::Root,
        pattern: Pattern::Burst {
            start: 0.0,
            count: 1,
            interval: 1.0,
        },
    };
    write("a.log", START, vec![once, att(x, 5_000.0)]);
    write("b.log", START + 1_000.0, vec![att(x, 1_000.0)]);
    let conf = dir.join("conf");
    std::fs::create_dir(&conf).expect("mkdir");
    std::os::unix::fs::symlink(Path::new(STOCK).join("filter.d"), conf.join("filter.d"))
        .expect("symlink");
    std::fs::write(
        conf.join("jail.conf"),
        format!(
            "[DEFAULT]\nfilter = sshd\nmaxretry = 5\nfindtime = 600\nbantime = 600\n\
             bantime.increment = true\nbantime.overalljails = true\n\n\
             [sshd]\nenabled = true\nlogpath = {d}/a.log\n\n\
             [sshd-b]\nenabled = true\nlogpath = {d}/b.log\n",
            d = dir.display()
        ),
    )
    .expect("jail.conf");
    let args = bailiff_replay::ReplayArgs::try_parse_from([
        "bailiff-replay".to_string(),
        "--json".into(),
        "--now".into(),
        (START + 2.0 * 86_400.0).to_string(),
        "-c".into(),
        conf.display().to_string(),
        dir.join("b.log").display().to_string(),
        dir.join("a.log").display().to_string(),
    ])
    .expect("args");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    bailiff_replay::run(&args, &mut out, &mut err).expect("runs");
    let doc: Value = serde_json::from_slice(&out).expect("json");
    // each jail reads its own log only
    assert_eq!(jail(&doc, "sshd", 0)["failures"].as_u64(), Some(7));
    assert_eq!(jail(&doc, "sshd-b", 0)["failures"].as_u64(), Some(6));
    let first = bans(&doc, "sshd-b", 0, x);
    let second = bans(&doc, "sshd", 0, x);
    assert_eq!(first.len(), 1);
    assert_eq!(second.len(), 1);
    assert!(first[0]["time"].as_f64() < second[0]["time"].as_f64());
    assert_eq!(first[0]["ban_time"].as_f64(), Some(600.0));
    assert_eq!(second[0]["ban_count"].as_u64(), Some(2));
    assert_eq!(second[0]["ban_time"].as_f64(), Some(1_200.0));
}
