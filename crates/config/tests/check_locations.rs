//! `check` names the option and its own line for an unknown filter or action.

use std::fs;

fn check_one(jail_local: &str) -> bailiff_config::ConfigError {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("filter.d")).unwrap();
    fs::create_dir_all(root.join("action.d")).unwrap();
    fs::write(
        root.join("filter.d/ok.conf"),
        "[Definition]\nfailregex = ^fail from <HOST>$\n",
    )
    .unwrap();
    fs::write(
        root.join("action.d/ok.conf"),
        "[Definition]\nactionban = true\n",
    )
    .unwrap();
    let log = root.join("x.log");
    fs::write(&log, "").unwrap();
    fs::write(
        root.join("jail.conf"),
        format!(
            "[DEFAULT]\nbackend = polling\nlogpath = {}\n",
            log.display()
        ),
    )
    .unwrap();
    fs::write(root.join("jail.local"), jail_local).unwrap();
    let errs = bailiff_config::check::check(root).expect_err("check must fail");
    assert_eq!(errs.len(), 1, "{errs:?}");
    errs.into_iter().next().unwrap()
}

#[test]
fn unknown_filter_names_option_and_line() {
    let e = check_one("[j]\nenabled = true\naction = ok\nfilter = nosuch\n");
    assert!(e.file.to_string_lossy().ends_with("jail.local"), "{e}");
    assert_eq!(
        (e.line, e.section.as_str(), e.option.as_str()),
        (4, "j", "filter"),
        "{e}"
    );
    assert!(e.message.contains("nosuch"), "{e}");
}

#[test]
fn unknown_action_names_option_and_line() {
    let e = check_one("[j]\nenabled = true\nfilter = ok\naction = nosuch[name=x]\n");
    assert_eq!(
        (e.line, e.section.as_str(), e.option.as_str()),
        (4, "j", "action"),
        "{e}"
    );
    assert!(e.message.contains("nosuch"), "{e}");
}
