//! Helpers shared by the integration tests: the fail2ban oracle.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub const PYTHON: &str = "/usr/bin/python3";

pub fn oracle_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle.py")
}

/// Whether fail2ban (the reference) is installed; outside CI a missing oracle skips.
pub fn oracle_available() -> bool {
    let ok = Path::new(PYTHON).exists()
        && Command::new(PYTHON)
            .args(["-c", "import fail2ban.client.filterreader"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("fail2ban oracle (/usr/bin/python3 + fail2ban) missing in CI");
        }
        eprintln!("SKIPPED: fail2ban oracle (/usr/bin/python3 with fail2ban) not installed");
    }
    ok
}

pub fn run_oracle(args: &[&str]) -> String {
    let out = Command::new(PYTHON)
        .arg(oracle_script())
        .args(args)
        .output()
        .expect("run oracle");
    assert!(
        out.status.success(),
        "oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

/// Copy a directory tree.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        let t = to.join(e.file_name());
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            copy_tree(&p, &t);
        } else if ft.is_file() {
            std::fs::copy(&p, &t).unwrap();
        }
    }
}
