//! bailiff's built-in configuration and where a configuration is looked up.
//!
//! The binary carries a whole configuration tree ([`FILES`]): bailiff's own filter and
//! action library, `jail.conf` (sshd and recidive enabled, banned through the
//! built-in nftables backend), `fail2ban.conf` (state in
//! `/var/lib/bailiff/bailiff.sqlite3`, socket `/run/bailiff/bailiff.sock`, log
//! `/var/log/bailiff.log`) and `paths-*.conf`. So a fresh host needs no file at all.
//!
//! # Lookup order
//!
//! [`resolve_confdir`] picks the configuration, first match wins:
//!
//! 1. `-c DIR` given: `DIR` as it is, a complete fail2ban-style directory; the
//!    embedded tree is not used.
//! 2. `/etc/bailiff` exists: the embedded tree with `/etc/bailiff` laid over it. Its
//!    `jail.local`, `jail.d/*.conf|local`, `fail2ban.local`, `filter.d/X.local`,
//!    `action.d/X.local` extend the embedded files the fail2ban way, and any other
//!    file it holds (a new `filter.d/myapp.conf`, or a file with an embedded name,
//!    which then replaces the embedded one) is read from it.
//! 3. `/etc/fail2ban/jail.conf` exists: `/etc/fail2ban` as it is (fail2ban's own
//!    configuration, unchanged).
//! 4. Otherwise the embedded tree alone.

use std::path::{Path, PathBuf};

use crate::fs::Loader;

mod generated {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// The embedded tree: (path relative to the configuration directory, text), sorted.
pub static FILES: &[(&str, &str)] = generated::FILES;

/// The name the embedded tree alone is seen under (in file names of messages and in
/// [`crate::Config::confdir`]). It is never looked up on disk.
pub const EMBEDDED_ROOT: &str = "<embedded>";

/// bailiff's own configuration directory.
pub const BAILIFF_DIR: &str = "/etc/bailiff";
/// fail2ban's configuration directory.
pub const FAIL2BAN_DIR: &str = "/etc/fail2ban";

/// The text of an embedded file, e.g. `file("jail.conf")`.
pub fn file(rel: &str) -> Option<&'static str> {
    FILES.iter().find(|(n, _)| *n == rel).map(|(_, t)| *t)
}

/// Where a configuration is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfSource {
    /// A complete fail2ban-style directory, read as it is.
    Dir(PathBuf),
    /// The embedded tree with this directory's files on top.
    Overlay(PathBuf),
    /// The embedded tree alone.
    Embedded,
}

/// The prefix of [`ConfSource::to_path`] for an overlay: `<embedded>+/etc/bailiff`.
pub const OVERLAY_PREFIX: &str = "<embedded>+";

impl ConfSource {
    /// The source as one path, for code that keeps a configuration directory as a
    /// path (the server's `confdir`, `-c` handed to a child process): a directory is
    /// itself, the embedded tree is `<embedded>`, an overlay `<embedded>+DIR`. The
    /// path-based readers ([`crate::load`], [`crate::dump_stream`], [`crate::check`],
    /// [`crate::read_filter`]) accept these forms ([`ConfSource::from_path`]).
    pub fn to_path(&self) -> PathBuf {
        match self {
            ConfSource::Dir(d) => d.clone(),
            ConfSource::Overlay(d) => {
                let mut s = std::ffi::OsString::from(OVERLAY_PREFIX);
                s.push(d.as_os_str());
                PathBuf::from(s)
            }
            ConfSource::Embedded => PathBuf::from(EMBEDDED_ROOT),
        }
    }

    /// The inverse of [`ConfSource::to_path`]; any other path is a [`ConfSource::Dir`].
    pub fn from_path(p: &Path) -> ConfSource {
        match p.to_str() {
            Some(EMBEDDED_ROOT) => ConfSource::Embedded,
            Some(s) if s.starts_with(OVERLAY_PREFIX) => {
                ConfSource::Overlay(PathBuf::from(&s[OVERLAY_PREFIX.len()..]))
            }
            _ => ConfSource::Dir(p.to_path_buf()),
        }
    }

    /// The configuration directory as the readers see it (the overlay directory, or
    /// [`EMBEDDED_ROOT`]).
    pub fn root(&self) -> PathBuf {
        match self {
            ConfSource::Dir(d) | ConfSource::Overlay(d) => d.clone(),
            ConfSource::Embedded => PathBuf::from(EMBEDDED_ROOT),
        }
    }

    /// A fresh [`Loader`] that reads this source.
    pub fn loader(&self) -> Loader {
        match self {
            ConfSource::Dir(_) => Loader::new(),
            ConfSource::Overlay(d) => Loader::with_overlay(d, FILES),
            ConfSource::Embedded => Loader::embedded_only(Path::new(EMBEDDED_ROOT), FILES),
        }
    }

    /// Write the files this source reads into the directory `dest` (created): the
    /// embedded tree (unless a plain directory), then the directory's own files over
    /// it. For tools that only read real directories; `dest` then reads as `self`.
    pub fn materialize(&self, dest: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dest)?;
        if !matches!(self, ConfSource::Dir(_)) {
            for (rel, text) in FILES {
                let p = dest.join(rel);
                if let Some(parent) = p.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(p, text)?;
            }
        }
        match self {
            ConfSource::Dir(d) | ConfSource::Overlay(d) => copy_tree(d, dest),
            ConfSource::Embedded => Ok(()),
        }
    }

    /// For messages: `/etc/fail2ban`, `/etc/bailiff (over the built-in defaults)`,
    /// `built-in defaults`.
    pub fn describe(&self) -> String {
        match self {
            ConfSource::Dir(d) => d.display().to_string(),
            ConfSource::Overlay(d) => format!("{} (over the built-in defaults)", d.display()),
            ConfSource::Embedded => "built-in defaults".to_string(),
        }
    }
}

impl std::fmt::Display for ConfSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// The configuration to use: `-c DIR` when given, else `/etc/bailiff` over the
/// embedded tree, else `/etc/fail2ban` when it has a `jail.conf`, else the embedded
/// tree alone (see the [module docs](self)).
pub fn resolve_confdir(explicit: Option<&Path>) -> ConfSource {
    resolve_confdir_in(explicit, Path::new(BAILIFF_DIR), Path::new(FAIL2BAN_DIR))
}

/// [`resolve_confdir`] with the two candidate directories given.
pub fn resolve_confdir_in(explicit: Option<&Path>, bailiff: &Path, fail2ban: &Path) -> ConfSource {
    if let Some(d) = explicit {
        return ConfSource::Dir(d.to_path_buf());
    }
    if bailiff.is_dir() {
        return ConfSource::Overlay(bailiff.to_path_buf());
    }
    if fail2ban.join("jail.conf").is_file() {
        return ConfSource::Dir(fail2ban.to_path_buf());
    }
    ConfSource::Embedded
}

/// Copy the regular files (followed through links) below `from` into `to`.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    let Ok(entries) = std::fs::read_dir(from) else {
        return Ok(());
    };
    for e in entries {
        let e = e?;
        let src = e.path();
        let dst = to.join(e.file_name());
        if src.is_dir() {
            std::fs::create_dir_all(&dst)?;
            copy_tree(&src, &dst)?;
        } else if src.is_file() {
            std::fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}
