//! Small hand-written configurations, one rule each, compared with fail2ban's own
//! reading (`fail2ban-client -d`) and checked through `load()`.

mod common;

use std::path::Path;

use bailiff_config::defreader::Val;
use serde_json::Value;

fn write_tree(root: &Path, files: &[(&str, &str)]) {
    for (p, text) in files {
        let path = root.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

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

/// Assert that our stream equals fail2ban's for `dir` (when the oracle exists).
fn assert_same_as_fail2ban(dir: &Path) {
    let got = bailiff_config::dump_stream(dir).expect("dump_stream");
    if !common::oracle_available() {
        return;
    }
    let want: Vec<Value> = common::run_oracle(&["dump", dir.to_str().unwrap()])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let n = want.len().max(got.len());
    for i in 0..n {
        let (w, g) = (want.get(i), got.get(i));
        assert!(
            matches!((w, g), (Some(w), Some(g)) if same(w, g)),
            "line {i} differs:\n  fail2ban {w:?}\n  ours     {g:?}\nfull ours: {got:#?}"
        );
    }
}

const COMMON: &str = "[DEFAULT]\nlogtype = file\n_daemon = \\S*\n[Definition]\n";

fn base_tree(log: &Path) -> Vec<(String, String)> {
    let log = log.display().to_string();
    vec![
        ("fail2ban.conf".into(), "[Definition]\nloglevel = INFO\nlogtarget = STDERR\ndbfile = :memory:\ndbpurgeage = 2d\n".into()),
        ("filter.d/common.conf".into(), COMMON.into()),
        (
            "filter.d/test.conf".into(),
            "[INCLUDES]\nbefore = common.conf\n\n[Definition]\nfailregex = ^fail from <HOST>$\n            ^bad <HOST> x=<myarg>\nignoreregex =\ndatepattern = ^%%Y-%%m-%%d\n[Init]\nmyarg = def\n".into(),
        ),
        (
            "filter.d/test.local".into(),
            "[Definition]\nfailregex = %(known/failregex)s\n            ^local <HOST> (<_daemon>)$\n".into(),
        ),
        (
            "action.d/act.conf".into(),
            "[Definition]\nactionstart = start <known/chain> <chain>\nactionban = echo <ip> <port> <chain> <name> <matches>\nnorestored = yes\n[Init]\nchain = INPUT\nport = 1\n[Init?family=inet6]\nchain = INPUT6\n".into(),
        ),
        (
            "paths.conf".into(),
            format!("[DEFAULT]\nmylog = {log}\n"),
        ),
        (
            "jail.conf".into(),
            "[INCLUDES]\nbefore = paths.conf\n[DEFAULT]\nbantime = 1h\nmaxretry = 3\nusedns = no\naction = act[port=\"1, 2\", extra='a b']\n         act[name=other, port=3]\n[j1]\nenabled = false\nfilter = test[myarg=zz]\nlogpath = %(mylog)s\n".into(),
        ),
        ("jail.d/a.conf".into(), "[j1]\nenabled = true\n".into()),
        (
            "jail.local".into(),
            "[j1]\nfindtime = 1h 30m ; inline comment\nignoreip = 127.0.0.1/8 ::1, 10.0.0.1\nmaxlines = 2\n".into(),
        ),
        (
            "jail.d/b.local".into(),
            "[j2]\nenabled = true\nfilter = test\nfailregex = ^jail override <HOST>$\nbackend = systemd\njournalmatch = _COMM=x + \"_X=a b\"\naction = act[chain=\"<known/chain>-x\"][port=9]\n".into(),
        ),
    ]
}

#[test]
fn overrides_includes_known_and_arguments() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("conf");
    let log = tmp.path().join("x.log");
    std::fs::write(&log, "").unwrap();
    let files = base_tree(&log);
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    write_tree(&root, &refs);
    assert_same_as_fail2ban(&root);

    let cfg = bailiff_config::load(&root).unwrap();
    assert_eq!(cfg.server.dbpurgeage, "2d");
    assert_eq!(cfg.jails.len(), 2);
    let j1 = &cfg.jails[0];
    assert_eq!(j1.name, "j1");
    // jail.local over jail.conf, inline comment stripped
    assert_eq!(j1.findtime, "1h 30m");
    assert_eq!(bailiff_config::parse_time(&j1.findtime).unwrap(), 5400.0);
    assert_eq!(j1.ignoreip, vec!["127.0.0.1/8", "::1", "10.0.0.1"]);
    let f = j1.filter.as_ref().unwrap();
    // .local extends the .conf value through known/, [Init] argument from the call
    assert_eq!(
        f.failregex,
        vec![
            "^fail from <HOST>$",
            "^bad <HOST> x=zz",
            "^local <HOST> (\\S*)$"
        ]
    );
    assert_eq!(f.maxlines, Some(2));
    assert_eq!(f.datepattern.as_deref(), Some("^%Y-%m-%d"));
    assert_eq!(j1.logpaths[0].files, vec![log.display().to_string()]);
    // two actions of one file: actname made unique from name=
    let names: Vec<&str> = j1.actions.iter().map(|a| a.actname.as_str()).collect();
    assert_eq!(names, vec!["act", "act-other"]);
    let a = &j1.actions[0];
    assert_eq!(a.get("port"), Some(&Val::Str("1, 2".into())));
    assert_eq!(a.get("extra"), Some(&Val::Str("a b".into())));
    assert_eq!(a.get("norestored"), Some(&Val::Bool(true)));
    // conditional [Init?family=inet6] keys are kept apart and their base left as a tag
    assert_eq!(
        a.get("chain?family=inet6"),
        Some(&Val::Str("INPUT6".into()))
    );
    let ban = a.get("actionban").and_then(|v| v.as_str()).unwrap();
    assert_eq!(ban, "echo <ip> 1, 2 <chain> j1 <matches>");

    let j2 = &cfg.jails[1];
    assert_eq!(j2.backend, "systemd");
    let f2 = j2.filter.as_ref().unwrap();
    // a jail failregex replaces the filter's
    assert_eq!(f2.failregex, vec!["^jail override <HOST>$"]);
    assert_eq!(f2.journalmatch, vec!["_COMM=x + \"_X=a b\""]);
    assert!(j2.logpaths.is_empty());
    assert_eq!(j2.actions.len(), 1);
    assert_eq!(j2.actions[0].get("port"), Some(&Val::Str("9".into())));
}

#[test]
fn unknown_filter_and_action_skip_the_jail() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("conf");
    let log = tmp.path().join("x.log");
    std::fs::write(&log, "").unwrap();
    let files = base_tree(&log);
    let mut refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let bad = format!(
        "[j3]\nenabled = true\nfilter = nosuchfilter\nlogpath = {0}\n[j4]\nenabled = true\nfilter = test\naction = nosuchaction\nlogpath = {0}\n[j5]\nenabled = true\nfilter = test\naction = smtp.py[host=\"a, b\", actname=mail]\nlogpath = {0}\n",
        log.display()
    );
    refs.push(("jail.d/c.local", &bad));
    write_tree(&root, &refs);
    assert_same_as_fail2ban(&root);
    let cfg = bailiff_config::load(&root).unwrap();
    let skipped: Vec<&str> = cfg.skipped.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(skipped, vec!["j3", "j4"]);
    let j5 = cfg.jails.iter().find(|j| j.name == "j5").unwrap();
    assert_eq!(j5.actions[0].actname, "mail");
    assert!(j5.actions[0]
        .python
        .as_deref()
        .unwrap()
        .ends_with("action.d/smtp.py"));
    let errs = bailiff_config::check(&root).unwrap_err();
    assert!(errs
        .iter()
        .any(|e| e.section == "j3" && e.message.contains("nosuchfilter")));
    assert!(errs
        .iter()
        .any(|e| e.section == "j4" && e.message.contains("nosuchaction")));
}

#[test]
fn duplicate_option_in_one_file_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write_tree(
        root,
        &[(
            "jail.conf",
            "[DEFAULT]\nx = 1\n[j]\nenabled = false\nbantime = 1\nBanTime = 2\n",
        )],
    );
    let e = bailiff_config::load(root).unwrap_err();
    assert_eq!(e.line, 6);
    assert_eq!(e.option, "bantime");
    assert!(e.file.ends_with("jail.conf"));
}

/// A typical administrator's `jail.local` on top of the stock files.
#[test]
fn typical_admin_jail_local_on_stock_files() {
    if !Path::new("/etc/fail2ban/jail.conf").exists() {
        eprintln!("SKIPPED: /etc/fail2ban not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("conf");
    common::copy_tree(Path::new("/etc/fail2ban"), &root);
    let log = tmp.path().join("auth.log");
    std::fs::write(&log, "").unwrap();
    let local = format!(
        "[DEFAULT]\nignoreip = 127.0.0.1/8 ::1 192.0.2.0/24\nbantime = 1h\nbantime.increment = true\nbantime.factor = 2\nbantime.maxtime = 1w\nfindtime = 30m\nmaxretry = 4\nbanaction = nftables-multiport\nbanaction_allports = nftables-allports\naction = %(action_mwl)s\ndestemail = admin@example.org\n\n[sshd]\nenabled = true\nmode = aggressive\nport = ssh,2222\nlogpath = {0}\n\n[recidive]\nenabled = true\nlogpath = {0}\nbantime = -1\n",
        log.display()
    );
    write_tree(
        &root,
        &[
            ("jail.local", &local),
            (
                "fail2ban.local",
                "[Definition]\nloglevel = DEBUG\ndbpurgeage = 7d\n",
            ),
        ],
    );
    assert_same_as_fail2ban(&root);
    let cfg = bailiff_config::load(&root).unwrap();
    assert_eq!(cfg.server.loglevel, "DEBUG");
    assert_eq!(cfg.server.dbpurgeage_secs().unwrap(), 7.0 * 86400.0);
    let sshd = cfg.jail("sshd").unwrap();
    assert_eq!(sshd.maxretry, 4);
    assert!(sshd.bantime_increment.increment);
    assert_eq!(sshd.bantime_increment.maxtime.as_deref(), Some("1w"));
    assert_eq!(sshd.findtime_secs().unwrap(), 1800.0);
    let files: Vec<&str> = sshd.actions.iter().map(|a| a.file.as_str()).collect();
    assert_eq!(files, vec!["nftables-multiport", "sendmail-whois-lines"]);
    let recidive = cfg.jail("recidive").unwrap();
    assert_eq!(recidive.bantime_secs().unwrap(), -1.0);
    assert_eq!(recidive.actions[0].file, "nftables-allports");
}
