//! bailiff-config: fail2ban's configuration language, read from the files as they are.
//!
//! CONTRACT STUB (skeleton). The owner of this crate replaces the bodies; the
//! signatures of [`read_filter`], [`read_filter_file`], [`parse_call`] and the
//! fields of [`FilterDef`] are used by `bailiff-tester` and must stay compatible
//! (extend, don't break).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A configuration error; always names where it happened.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: [{section}] {option}: {message}")]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub section: String,
    pub option: String,
    pub message: String,
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

/// Split `name[k=v, k2="a, b"][k3=v]` into the name and its arguments.
pub fn parse_call(spec: &str) -> Result<(String, Vec<(String, String)>), ConfigError> {
    let _ = spec;
    unimplemented!("contract stub")
}

/// Read `filter.d/NAME` (`.conf`, `.d/*.conf`, `.local`, `.d/*.local`) under `confdir`
/// with the given `[Init]` arguments (e.g. `mode=aggressive`, `logtype=journal`).
pub fn read_filter(
    confdir: &Path,
    name: &str,
    args: &[(String, String)],
) -> Result<FilterDef, ConfigError> {
    let _ = (confdir, name, args);
    unimplemented!("contract stub")
}

/// Read a filter from an explicit file path (fail2ban-regex accepts one).
pub fn read_filter_file(path: &Path, args: &[(String, String)]) -> Result<FilterDef, ConfigError> {
    let _ = (path, args);
    unimplemented!("contract stub")
}
