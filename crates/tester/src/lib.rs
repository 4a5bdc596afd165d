//! bailiff-tester: `bailiff regex`, the fail2ban-regex-compatible filter tester.
//!
//! [`RegexArgs`] (the options, spelled as fail2ban-regex's) go into [`run`], which
//! resolves the REGEX argument into a filter through `bailiff_config`
//! (`read_filter`, `read_filter_file`, `parse_call`), builds a
//! [`bailiff_filter::Filter`], streams the LOG (a file or stdin through a
//! [`reader::LineReader`], which hands out 256 KiB blocks of whole lines checked as
//! UTF-8 once ([`reader::LineReader::next_chunk`], split by [`reader::chunk_lines`]),
//! a literal, or `systemd-journal[...]` through `bailiff_source::journal`), feeds
//! the filter one line at a time, resolves `<HOST>` names the
//! filter leaves to its caller, and hands each line's
//! [`bailiff_filter::LineResult`] to one of three sinks:
//!
//! - the summary ([`report::Report`]): per-regex hit table, date template hits
//!   (from the filter's date detector), `Lines: T lines, I ignored, M matched,
//!   X missed`, missed/ignored line lists;
//! - `-o FORMAT` ([`out::OutFormat`]): one line per failure, ids, keys or
//!   action-style templates such as `<time> <ip> <F-USER>`
//!   ([`out::Template`], compiled once);
//! - `--json`: one JSON object per result on stdout, summary on stderr.
//!
//! The output is meant to equal fail2ban-regex's byte for byte (except the
//! elapsed time); `tests/differential.rs` and `tests/journal.rs` check that
//! against the installed reference. By design, a match the filter declines because
//! its host could be another address (attacker-written text, see
//! `bailiff_filter::Ambiguity`) is no failure here either: the line counts as
//! missed, is listed under "Ambiguous line(s)" with its addresses after the
//! missed lines, `-o` prints a warning on stderr instead of a result, and
//! `--json` reports it with kind `ambiguous`. Known differences: `-o row` lists ticket
//! data sorted by key (the filter keeps it in a sorted map); with `-L N` > 1 the
//! `Prefregex: N total` count is estimated from the lines that reached a
//! failregex; `--no-check-all` without `-o` misses pending multi-line failures
//! (the filter drops them whenever it stops at the first failregex);
//! `-vv` prints fewer "Real filter options"; `-l LEVEL` adds no log messages;
//! `-D` prints no debuggex links.
//!
//! ```no_run
//! use clap::Parser;
//! let args = bailiff_tester::RegexArgs::parse_from([
//!     "bailiff-regex", "-o", "<ip> <F-USER>", "/var/log/auth.log", "sshd[mode=aggressive]",
//! ]);
//! let code = bailiff_tester::run(&args, &mut std::io::stdout(), &mut std::io::stderr())?;
//! # Ok::<(), bailiff_tester::Error>(())
//! ```

mod args;
mod display;
mod dns;
mod lookup;
pub mod out;
mod probe;
mod progress;
pub mod reader;
pub mod report;
mod run;

pub use args::{RegexArgs, DEFAULT_CONFIG_DIR};
pub use run::run;

use std::path::PathBuf;

/// Why `bailiff regex` could not run; the binary prints it and exits with 255.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing output: {0}")]
    Output(#[source] std::io::Error),
    #[error("wrong filter name or options {spec:?}: {source}")]
    FilterName {
        spec: String,
        #[source]
        source: Box<bailiff_config::ConfigError>,
    },
    #[error("failed to load filter {spec:?}: {source}")]
    Config {
        spec: String,
        #[source]
        source: Box<bailiff_config::ConfigError>,
    },
    #[error("{0}")]
    Filter(#[from] bailiff_filter::FilterError),
    #[error("{what}: {source}")]
    Date {
        what: String,
        #[source]
        source: bailiff_date::DateError,
    },
    #[error("{option}: {message}")]
    Option {
        option: &'static str,
        message: String,
    },
    #[error("{0}")]
    Unsupported(String),
    #[error("systemd journal: {0}")]
    Journal(String),
}

/// Exit status for a failed run, as fail2ban-regex's.
pub const EXIT_FAILURE: i32 = 255;
