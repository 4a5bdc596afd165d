//! Differential test: `bailiff replay --count-while-banned` against fail2ban 1.0.2's own
//! filter, failure manager and ban manager (tests/oracle.py, run with /usr/bin/python3)
//! on generated logs of an exposed host, for several policies. The bans (time,
//! address, failures) must be identical.

use std::path::Path;
use std::process::Command;

use clap::Parser;
use serde_json::Value;

const PY: &str = "/usr/bin/python3";
const FILTERS: &str = "/etc/fail2ban/filter.d";

fn oracle_available() -> bool {
    let ok = Path::new(FILTERS).join("sshd.conf").is_file()
        && Command::new(PY)
            .args([
                "-c",
                "import fail2ban.server.filter, fail2ban.tests.dummyjail",
            ])
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("fail2ban 1.0.2 ({PY}, {FILTERS}) is needed for the oracle test");
        }
        eprintln!("SKIPPED: fail2ban's Python modules or {FILTERS} not available");
    }
    ok
}

fn bans_of(v: &Value) -> Vec<(i64, String, u64)> {
    let mut out: Vec<(i64, String, u64)> = v
        .as_array()
        .expect("array")
        .iter()
        .map(|b| {
            (
                b[0].as_i64().expect("time"),
                b[1].as_str().expect("id").to_string(),
                b[2].as_u64().expect("failures"),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn bans_match_fail2ban() {
    if !oracle_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("auth.log");
    // 2026-11-01, two days, 300 attackers
    let start = 1_793_491_200.0;
    let spec = bailiff_replay::synth::exposed_host(start, 2.0 * 86_400.0, 300, 11);
    let mut f = std::io::BufWriter::new(std::fs::File::create(&log).expect("log"));
    bailiff_replay::synth::generate(&spec, &mut f).expect("generate");
    std::io::Write::flush(&mut f).expect("flush");
    drop(f);

    for (maxretry, findtime, bantime) in [(5, 600, 600), (3, 3600, 1800), (8, 300, 60)] {
        let conf = dir.path().join(format!("conf-{maxretry}"));
        std::fs::create_dir(&conf).expect("mkdir");
        std::os::unix::fs::symlink(FILTERS, conf.join("filter.d")).expect("symlink");
        std::fs::write(
            conf.join("jail.conf"),
            format!(
                "[sshd]\nenabled = true\nfilter = sshd\nlogpath = /var/log/auth.log\n\
                 maxretry = {maxretry}\nfindtime = {findtime}\nbantime = {bantime}\n"
            ),
        )
        .expect("jail.conf");
        let out = Command::new(PY)
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle.py"))
            .arg(&conf)
            .arg("sshd")
            .arg(&log)
            .args([
                maxretry.to_string(),
                findtime.to_string(),
                bantime.to_string(),
            ])
            .output()
            .expect("oracle runs");
        assert!(
            out.status.success(),
            "oracle: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let want = bans_of(&serde_json::from_slice(&out.stdout).expect("oracle JSON"));

        let args = bailiff_replay::ReplayArgs::try_parse_from([
            "bailiff-replay".to_string(),
            "--json".into(),
            "--count-while-banned".into(),
            "--now".into(),
            (start + 3.0 * 86_400.0).to_string(),
            "-c".into(),
            conf.display().to_string(),
            log.display().to_string(),
        ])
        .expect("args");
        let (mut o, mut e) = (Vec::new(), Vec::new());
        bailiff_replay::run(&args, &mut o, &mut e).expect("replay");
        let doc: Value = serde_json::from_slice(&o).expect("replay JSON");
        let got: Vec<Value> = doc["timeline"]
            .as_array()
            .expect("timeline")
            .iter()
            .map(|e| {
                serde_json::json!([e["time"].as_f64().map(|t| t as i64), e["id"], e["failures"]])
            })
            .collect();
        let got = bans_of(&Value::Array(got));
        assert!(
            want.len() > 50,
            "the log should give many bans: {}",
            want.len()
        );
        if got != want {
            let only_want: Vec<_> = want.iter().filter(|b| !got.contains(b)).take(10).collect();
            let only_got: Vec<_> = got.iter().filter(|b| !want.contains(b)).take(10).collect();
            panic!(
                "maxretry {maxretry} findtime {findtime} bantime {bantime}: fail2ban {} bans, replay {}\n\
                 only fail2ban: {only_want:?}\nonly replay: {only_got:?}",
                want.len(),
                got.len()
            );
        }
    }
}
