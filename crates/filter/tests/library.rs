//! The library suite: bailiff's own filters (`config/filter.d` at the repository root)
//! put in place of the stock ones, then checked with the compat suite's harness against
//! fail2ban's sample log for the same service and against our own sample logs
//! (`tests/samples/<filter>`, same `# failJSON:` format, written for current log formats).
//!
//! Prints `<filter>: N passed, M failed` per filter. Needs fail2ban's package files (the
//! stock `filter.d`, which some of our samples' stock neighbours include, and the sample
//! logs); without them it is skipped (and fails under `CI=true`).

mod common;

use std::path::{Path, PathBuf};

use common::{build_confdir, Suite, F2B_TESTS, FILTER_D, TZ};

fn repo_dir(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// Sample lines (file:line) a client can write itself by choosing a name, so that no
/// filter can read them one way; the ambiguity probe lets such names hold any text.
const INHERENTLY_AMBIGUOUS: &[&str] = &[
    // `ruser= rhost=192.0.2.2 user=test rhost=192.0.2.152`: a remote user name
    // ` rhost=192.0.2.2 user=test` (PAM_RUSER, client-supplied for rlogin-like services)
    // from 192.0.2.152 gives the same line.
    "pam-generic:23",
    // `invalid user test from 127.0.0.1 port 58946 ssh2: from 10.10.1.2 port 55555 ssh2`:
    // the invalid user name `test from 127.0.0.1 port 58946 ssh2:` sent from 10.10.1.2
    // gives the same line.
    "sshd:144",
    "sshd-journal:145",
];

/// Our filters: every `config/filter.d/*.conf` except the shared `*common.conf` includes.
fn library_filters(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("config/filter.d")
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let stem = n.strip_suffix(".conf")?;
            (!stem.ends_with("common") && !stem.starts_with('.')).then(|| stem.to_string())
        })
        .collect();
    names.sort();
    names
}

#[test]
fn library_sample_logs() {
    if !Path::new(FILTER_D).is_dir() || !Path::new(F2B_TESTS).is_dir() {
        let msg = "SKIPPED: fail2ban's filter.d or sample logs are not installed";
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{msg}");
        }
        eprintln!("{msg}");
        return;
    }
    std::env::set_var("TZ", TZ);
    let library = repo_dir("config/filter.d");
    let samples = repo_dir("tests/samples");
    let f2b_logs = Path::new(F2B_TESTS).join("files/logs");
    let tmp = tempfile::tempdir().expect("tempdir");
    let confdir = build_confdir(tmp.path(), Some(&library));
    let mut suite = Suite::new(confdir);
    let only = std::env::var("LIBRARY_ONLY").ok();
    let names = library_filters(&library);
    assert!(!names.is_empty(), "no filters in {}", library.display());
    let mut report = Vec::new();
    for name in &names {
        if only
            .as_deref()
            .is_some_and(|o| !o.split(',').any(|x| x == name))
        {
            continue;
        }
        let mut sources = Vec::new();
        for dir in [&f2b_logs, &samples] {
            if dir.join(name).is_file() {
                sources.push((dir.clone(), name.clone()));
            }
        }
        let (checks0, failed0) = (suite.checks, suite.failures.len());
        if sources.is_empty() {
            suite.failures.push(format!(
                "{name}: no sample log, neither fail2ban's nor ours"
            ));
        } else {
            suite.run_filter_logs(name, &sources);
        }
        let failed = suite.failures.len() - failed0;
        let passed = (suite.checks - checks0).saturating_sub(failed);
        let from: Vec<String> = sources
            .iter()
            .map(|(d, _)| if *d == samples { "ours" } else { "fail2ban's" }.to_string())
            .collect();
        report.push(format!(
            "{name}: {passed} passed, {failed} failed (samples: {})",
            from.join(" + ")
        ));
    }
    for f in &suite.failures {
        println!("FAIL {f}");
    }
    for r in &report {
        println!("{r}");
    }
    let failed = suite.failures.len();
    println!(
        "library: {} filters, {} passed, {} failed ({} checks: {} lines over all option sets, {} per-regex sample/lint checks)",
        report.len(),
        suite.checks.saturating_sub(failed),
        failed,
        suite.checks,
        suite.line_checks,
        suite.checks - suite.line_checks
    );
    assert_eq!(
        failed, 0,
        "{failed} library checks failed (see output above)"
    );
    // The stock filters leave a few sample lines readable with two addresses (the compat
    // suite tolerates those, KNOWN_AMBIGUOUS); ours must read every line one way, except
    // the samples whose very text a client can write with a name of its choice (see
    // INHERENTLY_AMBIGUOUS): no regex can tell those readings apart.
    let unexpected: Vec<&String> = suite
        .ambiguous
        .iter()
        .filter(|a| {
            let sample = a.rsplit(": ").next().unwrap_or(a);
            !INHERENTLY_AMBIGUOUS.contains(&sample)
        })
        .collect();
    println!(
        "library: sample lines reported ambiguous: {:?}",
        suite.ambiguous
    );
    assert!(
        unexpected.is_empty(),
        "our filters left sample lines ambiguous: {unexpected:?}"
    );
}

/// Every filter of the library must come with a sample log of ours or fail2ban's, and
/// every shared include must be used by some filter.
#[test]
fn library_is_complete() {
    let library = repo_dir("config/filter.d");
    let names = library_filters(&library);
    let f2b_logs = Path::new(F2B_TESTS).join("files/logs");
    let samples = repo_dir("tests/samples");
    for name in &names {
        assert!(
            samples.join(name).is_file() || f2b_logs.join(name).is_file(),
            "{name}: no sample log"
        );
    }
    let texts: Vec<String> = names
        .iter()
        .map(|n| std::fs::read_to_string(library.join(format!("{n}.conf"))).expect("read filter"))
        .chain(
            std::fs::read_dir(&library)
                .expect("config/filter.d")
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with("common.conf"))
                .map(|e| std::fs::read_to_string(e.path()).expect("read include")),
        )
        .collect();
    for e in std::fs::read_dir(&library)
        .expect("config/filter.d")
        .flatten()
    {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.ends_with("common.conf") {
            assert!(
                texts.iter().any(|t| t.contains(&format!("before = {n}"))),
                "{n} is included by no filter"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// The action library (config/action.d): every file loads through bailiff-config as a jail
// action, every hook is valid shell, and the actions run for real where that is safe:
// hostsdeny on a scratch file, sendmail into a fake sendmail, webhook against a local
// listener, iptables/ipset/route inside a fresh network namespace (root only).

/// A confdir with fail2ban's stock files, our filters and actions over them, and a
/// `jail.conf` that enables one jail per `(jail, action call)`.
fn action_confdir(root: &Path, jails: &[(String, String)]) -> PathBuf {
    let conf = root.join("conf");
    for sub in ["filter.d", "action.d"] {
        common::copy_dir(&Path::new("/etc/fail2ban").join(sub), &conf.join(sub));
        for e in std::fs::read_dir(repo_dir("config").join(sub))
            .expect("config dir")
            .flatten()
        {
            std::fs::copy(e.path(), conf.join(sub).join(e.file_name())).expect("copy");
        }
    }
    let log = root.join("auth.log");
    std::fs::write(&log, "").expect("log");
    let mut jail = String::from("[DEFAULT]\nbackend = polling\nbanaction = iptables\n\n");
    for (name, call) in jails {
        jail.push_str(&format!(
            "[{name}]\nenabled = true\nfilter = sshd\nlogpath = {}\naction = {call}\n\n",
            log.display()
        ));
    }
    std::fs::write(conf.join("jail.conf"), jail).expect("jail.conf");
    std::fs::write(
        conf.join("fail2ban.conf"),
        "[Definition]\nloglevel = INFO\n",
    )
    .expect("f2b");
    conf
}

fn library_actions() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(repo_dir("config/action.d"))
        .expect("config/action.d")
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.strip_suffix(".conf").map(str::to_string)
        })
        .collect();
    v.sort();
    v
}

/// An action's properties as strings (the `multi-set ... action` pairs).
fn props_of(spec: &bailiff_config::ActionSpec) -> Vec<(String, String)> {
    spec.properties
        .iter()
        .map(|(k, v)| (k.clone(), v.py_str().unwrap_or_default()))
        .collect()
}

/// Test-side tag substitution: the ticket's values, then the action's properties (the
/// `?family=inet6` variant first for IPv6), innermost tag first, until nothing changes.
/// (The real runner, bailiff-action, also passes log-derived values through the
/// environment; the values used here are plain.)
fn render(props: &[(String, String)], text: &str, ip: &str) -> String {
    let v6 = ip.contains(':');
    let dynamic = [
        ("ip", ip.to_string()),
        ("failures", "5".to_string()),
        ("bantime", "600".to_string()),
        ("time", "1700000000".to_string()),
        (
            "matches",
            "Failed password for root from ADDR port 22 ssh2".to_string(),
        ),
        ("fq-hostname", "host.example.org".to_string()),
        ("sh-hostname", "host".to_string()),
        ("br", "\n".to_string()),
        ("sp", " ".to_string()),
    ];
    let lookup = |tag: &str| -> Option<String> {
        if let Some((_, v)) = dynamic.iter().find(|(k, _)| *k == tag) {
            return Some(v.clone());
        }
        let fam = format!("{tag}?family=inet6");
        if v6 {
            if let Some((_, v)) = props.iter().find(|(k, _)| *k == fam) {
                return Some(v.clone());
            }
        }
        props.iter().find(|(k, _)| k == tag).map(|(_, v)| v.clone())
    };
    let mut s = text.to_string();
    for _ in 0..64 {
        let mut out = String::with_capacity(s.len());
        let mut changed = false;
        let mut rest = s.as_str();
        while let Some(open) = rest.find('<') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let end = after.find(|c: char| c == '>' || c == '<' || c.is_whitespace());
            match end {
                Some(e) if after.as_bytes()[e] == b'>' && e > 0 => {
                    let tag = &after[..e];
                    match lookup(tag) {
                        Some(v) => {
                            out.push_str(&v);
                            changed = true;
                        }
                        None => out.push_str(&rest[open..open + e + 2]),
                    }
                    rest = &after[e + 1..];
                }
                _ => {
                    out.push('<');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        s = out;
        if !changed {
            break;
        }
    }
    s
}

const HOOKS: [&str; 6] = [
    "actionstart",
    "actionstop",
    "actioncheck",
    "actionflush",
    "actionban",
    "actionunban",
];

fn sh(script: &str) -> std::process::Output {
    std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .output()
        .expect("run /bin/sh")
}

fn load_actions(tmp: &Path, jails: &[(String, String)]) -> bailiff_config::Config {
    let conf = action_confdir(tmp, jails);
    let cfg = bailiff_config::load(&conf).expect("configuration with our actions loads");
    assert!(
        cfg.skipped.is_empty(),
        "jails skipped (action or filter not loadable): {:?}",
        cfg.skipped
    );
    cfg
}

fn action_props(cfg: &bailiff_config::Config, jail: &str) -> Vec<(String, String)> {
    let j = cfg
        .jail(jail)
        .unwrap_or_else(|| panic!("jail {jail} loaded"));
    assert_eq!(j.actions.len(), 1, "{jail}: one action");
    props_of(&j.actions[0])
}

#[test]
fn library_actions_load_and_are_valid_shell() {
    if !Path::new("/etc/fail2ban/action.d").is_dir() {
        eprintln!(
            "SKIPPED: /etc/fail2ban (stock action.d for fail2ban's helpers) is not installed"
        );
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "needed under CI"
        );
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let names = library_actions();
    assert!(!names.is_empty());
    let jails: Vec<(String, String)> = names
        .iter()
        .map(|n| (format!("t-{n}"), n.clone()))
        .collect();
    let cfg = load_actions(tmp.path(), &jails);
    for n in &names {
        let props = action_props(&cfg, &format!("t-{n}"));
        let mut hooks = 0;
        for hook in HOOKS {
            let Some((_, text)) = props.iter().find(|(k, _)| k == hook) else {
                continue;
            };
            hooks += 1;
            for ip in ["192.0.2.1", "2001:db8::1"] {
                let script = render(&props, text, ip);
                assert!(
                    !script.contains("<_") && !script.contains("<ip>"),
                    "{n} {hook}: tag left unresolved: {script}"
                );
                let out = std::process::Command::new("/bin/sh")
                    .arg("-n")
                    .arg("-c")
                    .arg(&script)
                    .output()
                    .expect("sh -n");
                assert!(
                    out.status.success(),
                    "{n} {hook} ({ip}): not valid shell: {}\n{script}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        assert!(
            props.iter().any(|(k, _)| k == "actionban"),
            "{n}: no actionban"
        );
        println!("action {n}: {hooks} hooks load and parse");
    }
}

#[test]
fn hostsdeny_bans_and_unbans_lines() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("hosts.deny");
    let before = "# local rules\nsshd: 198.51.100.9\n";
    std::fs::write(&file, before).expect("write");
    let call = format!(
        "hostsdeny[file=\"{}\", daemon_list=\"sshd, vsftpd\"]",
        file.display()
    );
    let cfg = load_actions(tmp.path(), &[("t-hd".to_string(), call)]);
    let props = action_props(&cfg, "t-hd");
    let get = |k: &str| {
        props
            .iter()
            .find(|(p, _)| p == k)
            .map(|(_, v)| v.clone())
            .expect(k)
    };
    for ip in ["192.0.2.1", "2001:db8::1"] {
        let out = sh(&render(&props, &get("actionban"), ip));
        assert!(out.status.success(), "ban {ip}: {:?}", out);
    }
    let banned = std::fs::read_to_string(&file).expect("read");
    assert_eq!(
        banned,
        format!("{before}sshd, vsftpd: 192.0.2.1\nsshd, vsftpd: [2001:db8::1]\n")
    );
    for ip in ["192.0.2.1", "2001:db8::1"] {
        let out = sh(&render(&props, &get("actionunban"), ip));
        assert!(out.status.success(), "unban {ip}: {:?}", out);
    }
    assert_eq!(std::fs::read_to_string(&file).expect("read"), before);
    // No scratch file left behind.
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("hosts.deny."))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

#[test]
fn sendmail_pipes_a_report_to_the_mailer() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out_file = tmp.path().join("mail.out");
    let fake = tmp.path().join("fake-sendmail");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nprintf 'ARGS:%s\\n' \"$*\" > '{0}'\ncat >> '{0}'\n",
            out_file.display()
        ),
    )
    .expect("write fake");
    std::process::Command::new("chmod")
        .arg("755")
        .arg(&fake)
        .status()
        .expect("chmod");
    let call = format!(
        "sendmail[mailcmd=\"{}\", dest=\"admin@example.org\", sender=\"bailiff@example.org\"]",
        fake.display()
    );
    let cfg = load_actions(tmp.path(), &[("t-mail".to_string(), call)]);
    let props = action_props(&cfg, "t-mail");
    let ban = props
        .iter()
        .find(|(k, _)| k == "actionban")
        .expect("actionban")
        .1
        .clone();
    assert!(
        props
            .iter()
            .any(|(k, v)| k == "norestored" && v.eq_ignore_ascii_case("true")),
        "restored bans are not mailed"
    );
    let out = sh(&render(&props, &ban, "192.0.2.7"));
    assert!(out.status.success(), "{out:?}");
    let mail = std::fs::read_to_string(&out_file).expect("mail written");
    assert!(
        mail.starts_with("ARGS:-f bailiff@example.org admin@example.org\n"),
        "{mail}"
    );
    assert!(
        mail.contains("\nSubject: [bailiff] t-mail: banned 192.0.2.7 on host.example.org\n"),
        "{mail}"
    );
    assert!(mail.contains("\nTo: admin@example.org\n\n"), "{mail}");
    assert!(mail.contains("after 5 failures"), "{mail}");
    assert!(
        mail.contains("Failed password for root from ADDR port 22 ssh2"),
        "{mail}"
    );
}

#[test]
fn webhook_posts_json_to_a_listener() {
    if sh("command -v curl || command -v wget").stdout.is_empty() {
        eprintln!("SKIPPED: neither curl nor wget installed");
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "needed under CI"
        );
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut c, _) = listener.accept().expect("accept");
        c.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .ok();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = c.read(&mut chunk).unwrap_or(0);
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some(h) = text.find("\r\n\r\n") {
                let len = text[..h]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if buf.len() >= h + 4 + len {
                    break;
                }
            }
        }
        c.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            .ok();
        String::from_utf8_lossy(&buf).to_string()
    });
    let tmp = tempfile::tempdir().expect("tempdir");
    let call = format!("webhook[url=\"http://127.0.0.1:{port}/hook\"]");
    let cfg = load_actions(tmp.path(), &[("t-hook".to_string(), call)]);
    let props = action_props(&cfg, "t-hook");
    let ban = props
        .iter()
        .find(|(k, _)| k == "actionban")
        .expect("actionban")
        .1
        .clone();
    let out = sh(&render(&props, &ban, "2001:db8::5"));
    assert!(out.status.success(), "{out:?}");
    let req = server.join().expect("server");
    assert!(req.starts_with("POST /hook HTTP/1."), "{req}");
    let body = &req[req.find("\r\n\r\n").expect("body") + 4..];
    let json: serde_json::Value = serde_json::from_str(body).expect("JSON body");
    assert_eq!(json["event"], "ban");
    assert_eq!(json["ip"], "2001:db8::5");
    assert_eq!(json["jail"], "t-hook");
    assert_eq!(json["failures"], "5");
}

/// iptables, ipset and route actions, for real, in a new network namespace.
#[test]
fn firewall_actions_in_a_network_namespace() {
    let ok = sh("unshare -n true").status.success()
        && !sh("command -v iptables && command -v ipset && command -v ip")
            .stdout
            .is_empty();
    if !ok {
        eprintln!("SKIPPED: needs root (unshare -n), iptables, ipset and ip");
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "needed under CI"
        );
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let jails: Vec<(String, String)> = [
        ("t-ipt", "iptables[port=22]"),
        (
            "t-iptm",
            "iptables-multiport[port=\"80,443\", protocol=\"tcp,udp\"]",
        ),
        ("t-ipta", "iptables-allports"),
        (
            "t-ipset",
            "iptables-ipset[type=multiport, port=\"22,2222\"]",
        ),
        ("t-route", "route[blocktype=blackhole]"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    let cfg = load_actions(tmp.path(), &jails);
    // One script per family, run inside one namespace: start, ban, show, unban, show, stop.
    for ip in ["192.0.2.1", "2001:db8::1"] {
        let v6 = ip.contains(':');
        let mut script = String::from("set -e\nip link set lo up\n");
        for (jail, _) in &jails {
            let props = action_props(&cfg, jail);
            let hook = |h: &str| {
                props
                    .iter()
                    .find(|(k, _)| k == h)
                    .map(|(_, v)| render(&props, v, ip))
                    .unwrap_or_default()
            };
            let show = if jail == "t-route" {
                if v6 {
                    "ip -6 route show type blackhole"
                } else {
                    "ip route show type blackhole"
                }
                .to_string()
            } else if jail == "t-ipset" {
                format!(
                    "ipset list -o save; {} -S",
                    if v6 { "ip6tables" } else { "iptables" }
                )
            } else {
                format!("{} -S", if v6 { "ip6tables" } else { "iptables" })
            };
            script.push_str(&format!(
                "echo '== {jail} start'\n{start}\necho '== {jail} ban'\n{ban}\n{show}\necho '== {jail} check'\n{check}\necho '== {jail} unban'\n{unban}\n{show}\necho '== {jail} stop'\n{stop}\n{show}\necho '== {jail} end'\n",
                start = hook("actionstart"),
                ban = hook("actionban"),
                check = if hook("actioncheck").is_empty() { ":".to_string() } else { hook("actioncheck") },
                unban = hook("actionunban"),
                stop = hook("actionstop"),
            ));
        }
        let out = std::process::Command::new("unshare")
            .arg("-n")
            .arg("/bin/sh")
            .arg("-c")
            .arg(&script)
            .output()
            .expect("unshare");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{ip}: script failed: {}\n{text}\n--- script:\n{script}",
            String::from_utf8_lossy(&out.stderr)
        );
        let section = |jail: &str, from: &str, to: &str| -> String {
            let a = text
                .find(&format!("== {jail} {from}\n"))
                .expect("section start");
            let b = text
                .find(&format!("== {jail} {to}\n"))
                .expect("section end");
            text[a..b].to_string()
        };
        for jail in ["t-ipt", "t-iptm", "t-ipta"] {
            let banned = section(jail, "ban", "check");
            assert!(
                banned.contains(&format!("-N f2b-{jail}")),
                "{jail} {ip}: chain\n{banned}"
            );
            assert!(
                banned.contains(ip) && banned.contains("-j REJECT"),
                "{jail} {ip}: ban rule\n{banned}"
            );
            assert!(
                banned.contains(&format!("-j f2b-{jail}")),
                "{jail} {ip}: jump\n{banned}"
            );
            let unbanned = section(jail, "unban", "stop");
            assert!(
                !unbanned.contains(ip),
                "{jail} {ip}: still banned\n{unbanned}"
            );
            let stopped = section(jail, "stop", "end");
            assert!(
                !stopped.contains(&format!("f2b-{jail}")),
                "{jail} {ip}: chain left\n{stopped}"
            );
        }
        let banned = section("t-iptm", "ban", "check");
        assert!(
            banned.contains("-p udp -m multiport --dports 80,443"),
            "multiport udp\n{banned}"
        );
        let banned = section("t-ipset", "ban", "check");
        let set = if v6 { "f2b-t-ipset-v6" } else { "f2b-t-ipset" };
        assert!(
            banned.contains(&format!("add {set} {ip}")),
            "ipset member\n{banned}"
        );
        assert!(
            banned.contains(&format!("--match-set {set} src")),
            "ipset rule\n{banned}"
        );
        assert!(!section("t-ipset", "unban", "stop").contains(&format!("add {set} {ip}")));
        assert!(
            !section("t-ipset", "stop", "end").contains(set),
            "set left after stop"
        );
        assert!(section("t-route", "ban", "check").contains(ip), "route ban");
        assert!(
            !section("t-route", "unban", "stop").contains(ip),
            "route unban"
        );
        println!("firewall actions ({ip}): iptables, multiport, allports, ipset, route ok");
    }
}

// ---------------------------------------------------------------------------------------
// The hostile corpus (tests/hostile/corpus.jsonl, shared with the filter crate's own
// test): lines whose attacker-written fields carry other addresses. Through our filters no
// bystander may come out, and we count how many lines our regexes read one way (the
// attacker is banned) against the stock filters on the same lines.

const HOSTILE_NOW: f64 = 1_795_428_000.0; // 2026-11-23, the corpus dates

#[derive(Default, Debug, PartialEq)]
struct HostileTally {
    attacker: usize,
    ambiguous: usize,
    none: usize,
    bystanders: Vec<String>,
}

fn canon_addr(text: &str) -> String {
    let t = text.trim_matches(|c| c == '[' || c == ']');
    match t.parse::<std::net::IpAddr>() {
        Ok(a) => a.to_canonical().to_string(),
        Err(_) => t.to_ascii_lowercase(),
    }
}

/// `verbose` lists the lines that did not end in the attacker's ban.
fn hostile_run(confdir: &Path, records: &[serde_json::Value], verbose: bool) -> HostileTally {
    use bailiff_filter::{FailureKind, Filter, FilterConfig, UseDns, Zone};
    let mut t = HostileTally::default();
    for (i, r) in records.iter().enumerate() {
        let name = r["filter"].as_str().unwrap_or_default();
        let opts: Vec<(String, String)> = r["opts"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let def = bailiff_config::read_filter(confdir, name, &opts)
            .unwrap_or_else(|e| panic!("corpus record {}: {name}: {e}", i + 1));
        let cfg = FilterConfig {
            prefregex: def.prefregex,
            failregex: def.failregex,
            ignoreregex: def.ignoreregex,
            maxlines: def.maxlines.unwrap_or(1),
            datepattern: def.datepattern,
            usedns: UseDns::Warn,
            ..FilterConfig::default()
        };
        let mut f = Filter::new(&cfg, Zone::utc(), HOSTILE_NOW)
            .unwrap_or_else(|e| panic!("corpus record {}: {name}: {e}", i + 1));
        for b in r["before"].as_array().into_iter().flatten() {
            f.process_line(b.as_str().unwrap_or_default(), HOSTILE_NOW);
        }
        let line = r["line"].as_str().unwrap_or_default();
        let res = f.process_line(line, HOSTILE_NOW);
        let fails: Vec<String> = res
            .failures
            .iter()
            .filter(|x| x.kind == FailureKind::Fail && !x.fid.is_empty())
            .map(|x| canon_addr(&x.fid))
            .collect();
        let bystanders: Vec<String> = r["bystanders"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|b| b.as_str().map(canon_addr))
            .collect();
        let attacker = canon_addr(r["attacker"].as_str().unwrap_or_default());
        if let Some(b) = fails.iter().find(|x| bystanders.contains(x)) {
            t.bystanders.push(format!(
                "record {} ({name} {opts:?}): banned {b}: {line}",
                i + 1
            ));
        } else if fails.contains(&attacker) {
            t.attacker += 1;
        } else if !res.ambiguous.is_empty() {
            t.ambiguous += 1;
            if verbose {
                println!("  ambiguous: record {} ({name} {opts:?}): {line}", i + 1);
            }
        } else {
            t.none += 1;
            if verbose {
                println!("  no failure: record {} ({name} {opts:?}): {line}", i + 1);
            }
        }
    }
    t
}

#[test]
fn hostile_corpus_through_our_filters() {
    if !Path::new(FILTER_D).is_dir() {
        let msg =
            "SKIPPED: fail2ban's filter.d (the stock side of the comparison) is not installed";
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "{msg}");
        eprintln!("{msg}");
        return;
    }
    let text = std::fs::read_to_string(repo_dir("tests/hostile/corpus.jsonl")).expect("corpus");
    let ours = library_filters(&repo_dir("config/filter.d"));
    let records: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("corpus line is JSON"))
        .filter(|r: &serde_json::Value| {
            ours.iter()
                .any(|n| Some(n.as_str()) == r["filter"].as_str())
        })
        .collect();
    assert!(
        records.len() >= 100,
        "{} corpus records for our filters",
        records.len()
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let stock_dir = build_confdir(&tmp.path().join("stock"), None);
    let ours_dir = build_confdir(&tmp.path().join("ours"), Some(&repo_dir("config/filter.d")));
    let verbose = std::env::var("LIBRARY_HOSTILE_VERBOSE").is_ok();
    let stock = hostile_run(&stock_dir, &records, false);
    let mine = hostile_run(&ours_dir, &records, verbose);
    for (who, t) in [("stock filters", &stock), ("our filters", &mine)] {
        println!(
            "hostile corpus, {who}: {} lines: {} ban the attacker, {} ambiguous, {} no failure, {} ban a bystander",
            records.len(),
            t.attacker,
            t.ambiguous,
            t.none,
            t.bystanders.len()
        );
    }
    for b in &mine.bystanders {
        println!("  {b}");
    }
    assert!(mine.bystanders.is_empty(), "our filters banned bystanders");
    // Ours are written so that the daemon's address is the only reading: at least as many
    // lines end in the attacker's ban as with the stock filters.
    assert!(
        mine.attacker >= stock.attacker,
        "our filters ban the attacker on fewer lines ({}) than the stock ones ({})",
        mine.attacker,
        stock.attacker
    );
}
