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

/// A writer that is closed after a few bytes, like `bailiff regex ... | head -c 10`.
struct ClosedAfter(usize);

impl std::io::Write for ClosedAfter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0 == 0 {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        }
        let n = buf.len().min(self.0);
        self.0 -= n;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_closed_pipe_ends_the_run_quietly() {
    let args = RegexArgs::try_parse_from(["bailiff-regex", "-V", "x", "y"]).unwrap();
    let (mut out, mut err) = (ClosedAfter(0), Vec::new());
    assert_eq!(run(&args, &mut out, &mut err).unwrap(), 0);
    let log = "2024-01-02 03:04:05 fail from 192.0.2.1\n2024-01-02 03:04:06 fail from 192.0.2.2";
    let args = RegexArgs::try_parse_from(["bailiff-regex", log, "fail from <HOST>"]).unwrap();
    let mut out = ClosedAfter(10);
    assert_eq!(run(&args, &mut out, &mut err).unwrap(), 0);
}
