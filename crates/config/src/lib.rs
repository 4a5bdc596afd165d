//! bailiff-config: fail2ban's configuration language, read from the files as they are.
//!
//! Data flows through these pieces:
//!
//! * [`fs::Loader`] is the only part that touches the disk: it reads and caches files
//!   and globs paths.
//! * [`ini`] parses one file with Python `configparser` rules into an [`ini::IniFile`].
//! * [`reader::ConfigSet`] merges the file set of a resource (`X.conf`, `X.d/*.conf`,
//!   `X.local`, `X.d/*.local`, plus `[INCLUDES]`), keeps `KNOWN/` values and answers
//!   `get` with `%(name)s` interpolation.
//! * [`defreader::DefReader`] reads a filter or action file for one use: `[Definition]`,
//!   `[Init]`, call arguments (`name[k=v]`, parsed by [`parse_call`]) and the jail's
//!   options, then substitutes `<tags>` ([`tags`]).
//! * [`jail`] resolves `jail.conf` & co. into [`Config`]: server options
//!   ([`ServerOptions`]) and enabled [`JailSpec`]s, each with its [`FilterDef`] and
//!   [`ActionSpec`]s. [`dump_stream`] turns the same reading into the command stream
//!   `fail2ban-client -d` prints, and [`check`] collects every problem found.
//! * [`embedded`] holds bailiff's built-in configuration tree and the lookup order
//!   ([`resolve_confdir`] → [`ConfSource`]); [`load_source`], [`dump_stream_source`],
//!   [`check_source`] and [`read_filter_source`] read from a [`ConfSource`], whose
//!   [`ConfSource::loader`] lays a directory over the embedded files.
//! * [`time::parse_time`] reads fail2ban time strings (`10m`, `1h 30m`, `-1`).
//!
//! The oracle for every rule is fail2ban 1.0.2 itself: the tests compare
//! [`read_filter`] with its filter reader for every stock filter and argument set, and
//! [`dump_stream`] with `fail2ban-client -d` line by line, also on randomly mutated
//! stock files.
//!
//! Deliberate differences, all in cases where fail2ban crashes or is unordered:
//! glob results are sorted (Python returns directory order); include nesting stops at
//! 64 levels (Python recurses until `RecursionError`); a file that is not UTF-8 is an
//! error (fail2ban logs and skips it); a `<tag>` substitution that grows a value past
//! 4 MiB is an error.
//!
//! ```no_run
//! let cfg = bailiff_config::load(std::path::Path::new("/etc/fail2ban")).unwrap();
//! for jail in &cfg.jails {
//!     println!("{}: {} failregexes", jail.name, jail.filter.as_ref().map_or(0, |f| f.failregex.len()));
//! }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub mod check;
pub mod defreader;
pub mod embedded;
pub mod filter;
pub mod fs;
pub mod ini;
pub mod jail;
pub mod omap;
pub mod options;
pub mod reader;
pub mod tags;
pub mod time;

pub use check::{check, check_source, CheckSummary};
pub use defreader::Val;
pub use embedded::{resolve_confdir, resolve_confdir_in, ConfSource};
pub use filter::{read_filter_file_with, read_filter_with};
pub use jail::{
    dump_stream, dump_stream_source, load, load_source, ActionSpec, BantimeIncrement, Config,
    JailSpec, LogPath, ServerOptions, JAIL_OPTS,
};
pub use time::{parse_time, TimeError};

/// The fail2ban version whose behaviour this crate follows (`%(fail2ban_version)s`).
pub const FAIL2BAN_VERSION: &str = "1.0.2";

/// A configuration error; always names where it happened.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}: [{section}] {option}: {message}")]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub section: String,
    pub option: String,
    pub message: String,
}

impl ConfigError {
    pub fn at(file: &str, line: usize, section: &str, option: &str, message: String) -> Self {
        ConfigError {
            file: PathBuf::from(file),
            line,
            section: section.to_string(),
            option: option.to_string(),
            message,
        }
    }
}

/// A filter resolved for one set of arguments: fail2ban `[Definition]` + `[Init]` +
/// call arguments merged, `%(x)s` and static `<tags>` substituted. Regexes still
/// contain `<HOST>`, `<F-USER>`, ... (the filter crate expands those).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FilterDef {
    pub name: String,
    pub prefregex: Option<String>,
    /// One regex per element, empty lines dropped.
    pub failregex: Vec<String>,
    pub ignoreregex: Vec<String>,
    pub maxlines: Option<usize>,
    pub datepattern: Option<String>,
    pub journalmatch: Vec<String>,
    pub usedns: Option<String>,
    /// Every other resolved option of the filter, for diagnostics.
    pub options: BTreeMap<String, String>,
}

/// Split `name[k=v, k2="a, b"][k3=v]` into the name and its arguments (in order; a
/// repeated key keeps its first place and its last value).
pub fn parse_call(spec: &str) -> Result<(String, Vec<(String, String)>), ConfigError> {
    let (name, args) =
        options::extract_options(spec).map_err(|m| ConfigError::at("<call>", 0, "", spec, m))?;
    Ok((
        name,
        args.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
    ))
}

/// Read `filter.d/NAME` (`.conf`, `.d/*.conf`, `.local`, `.d/*.local`) under `confdir`
/// with the given `[Init]` arguments (e.g. `mode=aggressive`, `logtype=journal`).
/// Without a `logtype` argument the filter is read for a file backend. `confdir` may
/// also be a [`ConfSource::to_path`] form (`<embedded>`, `<embedded>+DIR`).
pub fn read_filter(
    confdir: &Path,
    name: &str,
    args: &[(String, String)],
) -> Result<FilterDef, ConfigError> {
    read_filter_source(&ConfSource::from_path(confdir), name, args)
}

/// [`read_filter`] from a [`ConfSource`] (e.g. the embedded default).
pub fn read_filter_source(
    src: &ConfSource,
    name: &str,
    args: &[(String, String)],
) -> Result<FilterDef, ConfigError> {
    filter::read_filter_with(&src.loader(), &src.root(), name, args, "auto")
}

/// Read a filter from an explicit file path (fail2ban-regex accepts one).
pub fn read_filter_file(path: &Path, args: &[(String, String)]) -> Result<FilterDef, ConfigError> {
    filter::read_filter_file_with(&fs::Loader::new(), path, args, "auto")
}
