//! Option errors are reported before anything is read, and `-V` prints the version.

use bailiff_tester::{run, Error, RegexArgs};
use clap::Parser;

fn run_args(v: &[&str]) -> (Result<i32, Error>, String) {
    let mut argv = vec!["bailiff-regex"];
    argv.extend_from_slice(v);
    let args = RegexArgs::try_parse_from(argv).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let r = run(&args, &mut out, &mut err);
    (r, String::from_utf8_lossy(&out).into_owned())
}

#[test]
fn bad_encoding_is_named() {
    let (r, _) = run_args(&["-e", "klingon", "line", "fail <HOST>"]);
    let e = r.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Option {
                option: "--encoding",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("klingon"), "{e}");
}

#[test]
fn bad_usedns_is_named() {
    let (r, _) = run_args(&["--usedns", "sometimes", "line", "fail <HOST>"]);
    let e = r.unwrap_err();
    assert!(e.to_string().starts_with("--usedns"), "{e}");
}

#[test]
fn short_version() {
    let (r, out) = run_args(&["-V", "x", "y"]);
    assert_eq!(r.unwrap(), 0);
    assert_eq!(out.trim(), env!("CARGO_PKG_VERSION"));
}
