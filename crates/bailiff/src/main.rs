//! `bailiff`: the thin binary. It parses the command line and wires the libraries;
//! all behaviour lives in the `bailiff-*` crates (see docs/ARCHITECTURE.md).
//!
//! Invoked as `fail2ban-client`, `fail2ban-server` or `fail2ban-regex` (a symlink
//! to this binary), it behaves as that tool.

mod cli;
mod setup;

use std::ffi::OsString;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let args = cli::multicall(args);
    match cli::run(args) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("bailiff: {err:#}");
            ExitCode::from(255)
        }
    }
}
