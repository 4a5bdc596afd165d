//! `check()`: every problem named with file, line, section and option; never a panic.

mod common;

use std::fmt::Write as _;
use std::path::Path;

use proptest::prelude::*;

fn write(root: &Path, p: &str, text: &str) {
    let path = root.join(p);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn minimal(root: &Path, log: &Path, jail_extra: &str) {
    write(
        root,
        "filter.d/f.conf",
        "[Definition]\nfailregex = ^fail <HOST>$\n",
    );
    write(
        root,
        "action.d/a.conf",
        "[Definition]\nactionban = echo <ip>\n",
    );
    write(
        root,
        "jail.conf",
        &format!(
            "[DEFAULT]\nbantime = 10m\nfindtime = 10m\naction = a\n[j]\nenabled = true\nfilter = f\nlogpath = {}\n{jail_extra}",
            log.display()
        ),
    );
}

fn errors_for(jail_extra: &str, extra_files: &[(&str, &str)]) -> Vec<bailiff_config::ConfigError> {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("x.log");
    std::fs::write(&log, "").unwrap();
    minimal(tmp.path(), &log, jail_extra);
    for (p, t) in extra_files {
        write(tmp.path(), p, t);
    }
    match bailiff_config::check(tmp.path()) {
        Ok(s) => panic!("expected errors, got {s:?}"),
        Err(e) => e,
    }
}

#[test]
fn minimal_config_passes() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("x.log");
    std::fs::write(&log, "").unwrap();
    minimal(tmp.path(), &log, "");
    let s = bailiff_config::check(tmp.path()).unwrap();
    assert_eq!((s.jails, s.filters, s.actions, s.regexes), (1, 1, 1, 1));
}

#[test]
fn bad_duration_names_line_and_option() {
    let e = errors_for("bantime = 10x\n", &[]);
    let e = e
        .iter()
        .find(|e| e.option == "bantime")
        .expect("bantime error");
    assert_eq!(e.section, "j");
    assert_eq!(e.line, 9);
    assert!(e.file.ends_with("jail.conf"));
}

#[test]
fn bad_regex_is_reported() {
    let e = errors_for("failregex = ^(unclosed <HOST>\n", &[]);
    let e = e
        .iter()
        .find(|e| e.option == "failregex")
        .expect("regex error");
    assert_eq!(e.line, 9);
    assert!(e.message.contains("does not compile"), "{e}");
}

#[test]
fn bad_regex_in_filter_file_points_there() {
    let e = errors_for(
        "",
        &[("filter.d/f.local", "[Definition]\nfailregex = ^a[ <HOST>\n")],
    );
    let e = e
        .iter()
        .find(|e| e.option == "failregex")
        .expect("regex error");
    assert!(e.file.ends_with("filter.d/f.local"), "{e}");
    assert_eq!(e.line, 2);
}

#[test]
fn interpolation_loop_and_unterminated_reference() {
    let e = errors_for("a = %(b)s\nb = %(a)s\nignorecommand = %(a)s\n", &[]);
    assert!(
        e.iter()
            .any(|e| e.option == "ignorecommand" && e.line == 11),
        "{e:?}"
    );
    let e = errors_for("ignorecommand = x %(oops\n", &[]);
    assert!(
        e.iter().any(|e| e.option == "ignorecommand" && e.line == 9),
        "{e:?}"
    );
}

#[test]
fn missing_include_and_missing_log() {
    let e = errors_for(
        "",
        &[(
            "jail.local",
            "[INCLUDES]\nbefore = nope.conf\n[j]\nlogpath = /nonexistent/bailiff-*.log\n",
        )],
    );
    assert!(
        e.iter()
            .any(|e| e.section == "INCLUDES" && e.message.contains("nope.conf")),
        "{e:?}"
    );
    assert!(
        e.iter().any(|e| e.option == "logpath" && e.line == 4),
        "{e:?}"
    );
}

#[test]
fn stock_config_with_every_jail_checks_clean() {
    if !Path::new("/etc/fail2ban/jail.conf").exists() {
        eprintln!("SKIPPED: /etc/fail2ban not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("conf");
    common::copy_tree(Path::new("/etc/fail2ban"), &conf);
    let text = std::fs::read_to_string(conf.join("jail.conf")).unwrap();
    let mut local = String::new();
    for j in text
        .lines()
        .filter_map(|l| l.strip_prefix('[').and_then(|r| r.strip_suffix(']')))
        .filter(|s| *s != "INCLUDES" && *s != "DEFAULT")
    {
        let log = tmp.path().join(format!("{j}.log"));
        std::fs::write(&log, "").unwrap();
        let _ = writeln!(
            local,
            "[{j}]\nenabled = true\nlogpath = {}\n",
            log.display()
        );
    }
    std::fs::write(conf.join("jail.local"), local).unwrap();
    let s = bailiff_config::check(&conf).unwrap_or_else(|e| panic!("{e:#?}"));
    eprintln!(
        "stock, all jails: {} jails, {} filters, {} actions, {} regexes compiled",
        s.jails, s.filters, s.actions, s.regexes
    );
    assert!(s.jails > 50 && s.regexes > 200);
}

/// Stock files truncated and mutated at random: `load`, `dump_stream` and `check`
/// must return (Ok or Err), never panic.
fn stock(name: &str) -> String {
    std::fs::read_to_string(Path::new("/etc/fail2ban").join(name)).unwrap_or_else(|_| {
        "[INCLUDES]\nbefore = common.conf\n[Definition]\nfailregex = ^x <HOST> %(a)s <b>\n[Init]\na = 1\n".into()
    })
}

fn mutate(text: &str, cut: usize, edits: &[(usize, u8, String)]) -> String {
    let mut s: Vec<char> = text.chars().collect();
    let cut = cut % (s.len() + 1);
    s.truncate(s.len() - cut / 4);
    for (pos, kind, ins) in edits {
        if s.is_empty() {
            break;
        }
        let p = pos % s.len();
        match kind % 3 {
            0 => {
                for (i, c) in ins.chars().enumerate() {
                    s.insert((p + i).min(s.len()), c);
                }
            }
            1 => {
                let end = (p + ins.len()).min(s.len());
                s.drain(p..end);
            }
            _ => {
                s[p] = ins.chars().next().unwrap_or(' ');
            }
        }
    }
    s.into_iter().collect()
}

fn cases() -> u32 {
    std::env::var("BAILIFF_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48)
}

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("%(".to_string()),
        Just("%(known/failregex)s".to_string()),
        Just("%(x)s".to_string()),
        Just("<".to_string()),
        Just(">".to_string()),
        Just("<known/chain>".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("\n".to_string()),
        Just("\n  ".to_string()),
        Just("=".to_string()),
        Just(";".to_string()),
        Just("\"".to_string()),
        Just("[INCLUDES]\nbefore = jail.conf\n".to_string()),
        Just("[Init?family=inet6]\n".to_string()),
        "[ -~]{0,12}",
        any::<String>().prop_map(|s| s.chars().take(6).collect()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, .. ProptestConfig::default() })]
    #[test]
    fn mutated_stock_files_never_panic(
        which in 0usize..5,
        cut in any::<usize>(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), fragment()), 0..8),
    ) {
        let files = ["jail.conf", "filter.d/sshd.conf", "action.d/iptables.conf",
                     "filter.d/common.conf", "fail2ban.conf"];
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let log = root.join("auth.log");
        std::fs::write(&log, "").unwrap();
        for f in files {
            write(root, f, &stock(f));
        }
        write(root, "action.d/iptables-multiport.conf", &stock("action.d/iptables-multiport.conf"));
        write(root, "paths-debian.conf", &format!("[DEFAULT]\nsyslog_authpriv = {}\nsshd_log = %(syslog_authpriv)s\nsshd_backend = auto\n", log.display()));
        write(root, "jail.d/on.conf", "[sshd]\nenabled = true\n[recidive]\nenabled = true\n");
        let target = files[which];
        let mutated = mutate(&stock(target), cut, &edits);
        write(root, target, &mutated);
        let _ = bailiff_config::load(root);
        let _ = bailiff_config::dump_stream(root);
        let _ = bailiff_config::check(root);
        let _ = bailiff_config::read_filter(root, "sshd", &[("mode".into(), "aggressive".into())]);
    }

    #[test]
    fn time_strings_never_panic(s in "[0-9a-z +*/().-]{0,24}") {
        let _ = bailiff_config::parse_time(&s);
    }

    #[test]
    fn call_syntax_never_panics(s in "[a-z\\[\\]=,\"' \n]{0,30}") {
        let _ = bailiff_config::parse_call(&s);
        let _ = bailiff_config::options::split_with_options(&s);
    }
}

#[test]
fn bad_int_backend_and_usedns() {
    let e = errors_for("maxretry = 7x\nbackend = inotify\nusedns = maybe\n", &[]);
    for (opt, line) in [("maxretry", 9), ("backend", 10), ("usedns", 11)] {
        assert!(
            e.iter()
                .any(|e| e.option == opt && e.line == line && e.section == "j"),
            "{opt}: {e:?}"
        );
    }
}
