//! The only place that touches the disk: reading and caching files, `exists` checks
//! and globbing. Everything else in the crate works on what this returns.
//!
//! A [`Loader`] may carry an overlay: bailiff's embedded configuration tree
//! ([`crate::embedded`]) seen under a root directory. Files of the directory on disk
//! are read first; a path under the root that is not on disk is answered from the
//! embedded tree, and globs list both. So `jail.conf` comes from the binary while
//! `jail.local`, `jail.d/*.local`, `filter.d/X.local` and whole new files come from
//! the directory, the way fail2ban layers `.local` files over `.conf` files.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::ini::{self, IniFile};
use crate::ConfigError;

/// A cached read: `None` when the file could not be opened.
type Cached = Option<Result<Arc<IniFile>, ConfigError>>;

/// Reads configuration files once and keeps them parsed.
#[derive(Debug, Default)]
pub struct Loader {
    cache: RefCell<HashMap<String, Cached>>,
    overlay: Option<Overlay>,
}

/// The embedded tree seen under `root`.
#[derive(Debug)]
struct Overlay {
    root: String,
    /// Whether the disk is consulted for paths under `root` (false for the embedded
    /// tree alone, whose root is a name, not a directory).
    disk: bool,
    files: &'static [(&'static str, &'static str)],
}

impl Overlay {
    fn rel<'a>(&self, path: &'a str) -> Option<&'a str> {
        let rest = path.strip_prefix(self.root.as_str())?;
        if rest.is_empty() {
            return Some("");
        }
        rest.strip_prefix('/').map(|r| r.trim_start_matches('/'))
    }

    fn file(&self, path: &str) -> Option<&'static str> {
        let rel = self.rel(path)?;
        self.files.iter().find(|(n, _)| *n == rel).map(|(_, t)| *t)
    }

    /// `path` is the root or a directory holding embedded files.
    fn is_dir(&self, path: &str) -> bool {
        match self.rel(path) {
            Some("") => true,
            Some(rel) => {
                let rel = rel.trim_end_matches('/');
                self.files
                    .iter()
                    .any(|(n, _)| n.strip_prefix(rel).is_some_and(|r| r.starts_with('/')))
            }
            None => false,
        }
    }

    fn disk_allowed(&self, path: &str) -> bool {
        self.disk || self.rel(path).is_none()
    }
}

impl Loader {
    pub fn new() -> Self {
        Self::default()
    }

    /// A loader that sees `files` (relative names such as `filter.d/sshd.conf`) under
    /// `root`, beneath the files of the directory `root` on disk.
    pub fn with_overlay(root: &Path, files: &'static [(&'static str, &'static str)]) -> Self {
        Self::overlay_at(root, files, true)
    }

    /// A loader that sees `files` under `root` and nothing of the disk there.
    pub fn embedded_only(root: &Path, files: &'static [(&'static str, &'static str)]) -> Self {
        Self::overlay_at(root, files, false)
    }

    fn overlay_at(root: &Path, files: &'static [(&'static str, &'static str)], disk: bool) -> Self {
        let root = root.to_string_lossy().trim_end_matches('/').to_string();
        Loader {
            cache: RefCell::default(),
            overlay: Some(Overlay {
                root: if root.is_empty() { "/".into() } else { root },
                disk,
                files,
            }),
        }
    }

    fn disk_allowed(&self, path: &str) -> bool {
        match &self.overlay {
            Some(o) => o.disk_allowed(path),
            None => true,
        }
    }

    fn embedded_file(&self, path: &str) -> Option<&'static str> {
        self.overlay.as_ref().and_then(|o| o.file(path))
    }

    /// Parse `path`; `Ok(None)` when it cannot be opened (fail2ban skips such files).
    pub fn load(&self, path: &str) -> Result<Option<Arc<IniFile>>, ConfigError> {
        if let Some(hit) = self.cache.borrow().get(path) {
            return match hit {
                None => Ok(None),
                Some(Ok(f)) => Ok(Some(f.clone())),
                Some(Err(e)) => Err(e.clone()),
            };
        }
        let disk = if self.disk_allowed(path) {
            std::fs::read(path).ok()
        } else {
            None
        };
        let disk = disk.or_else(|| self.embedded_file(path).map(|t| t.as_bytes().to_vec()));
        let res = match disk.ok_or(()) {
            Err(()) => None,
            Ok(bytes) => Some(match String::from_utf8(bytes) {
                Ok(text) => ini::parse(path, &text).map(Arc::new),
                Err(e) => Err(ConfigError::at(
                    path,
                    0,
                    "",
                    "",
                    format!("file is not valid UTF-8: {e}"),
                )),
            }),
        };
        self.cache
            .borrow_mut()
            .insert(path.to_string(), res.clone());
        match res {
            None => Ok(None),
            Some(Ok(f)) => Ok(Some(f)),
            Some(Err(e)) => Err(e),
        }
    }

    pub fn exists(&self, path: &str) -> bool {
        (self.disk_allowed(path) && Path::new(path).exists())
            || self.embedded_file(path).is_some()
            || self.overlay.as_ref().is_some_and(|o| o.is_dir(path))
    }

    pub fn is_file(&self, path: &str) -> bool {
        (self.disk_allowed(path) && Path::new(path).is_file()) || self.embedded_file(path).is_some()
    }

    /// Python `glob.glob`: no hidden files for `*`; a pattern without magic characters
    /// yields itself when it exists (also as a dangling link). Results sorted.
    pub fn glob(&self, pattern: &str) -> Vec<String> {
        if !pattern.contains(['*', '?', '[']) {
            let p = Path::new(pattern);
            let on_disk = self.disk_allowed(pattern) && p.symlink_metadata().is_ok();
            return if on_disk
                || self.embedded_file(pattern).is_some()
                || self.overlay.as_ref().is_some_and(|o| o.is_dir(pattern))
            {
                vec![pattern.to_string()]
            } else {
                Vec::new()
            };
        }
        // Python's glob is not recursive: `**` is just `*`
        let mut pattern = pattern.to_string();
        while pattern.contains("**") {
            pattern = pattern.replace("**", "*");
        }
        let opts = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: true,
        };
        let run = |pat: &str| -> Option<Vec<String>> {
            glob::glob_with(pat, opts).ok().map(|paths| {
                paths
                    .filter_map(|p| p.ok())
                    .filter_map(|p| p.to_str().map(str::to_string))
                    .collect()
            })
        };
        let pattern = if glob::Pattern::new(&pattern).is_ok() {
            pattern
        } else {
            // an unbalanced `[` is a literal character for Python's fnmatch
            pattern.replace('[', "[[]")
        };
        let mut out = run(&pattern).unwrap_or_default();
        if let Some(o) = &self.overlay {
            if !o.disk {
                out.retain(|p| o.rel(p).is_none());
            }
            if let Ok(pat) = glob::Pattern::new(&pattern) {
                for (name, _) in o.files {
                    let full = if o.root == "/" {
                        format!("/{name}")
                    } else {
                        format!("{}/{name}", o.root)
                    };
                    if pat.matches_with(&full, opts) && !out.contains(&full) {
                        out.push(full);
                    }
                }
            }
        }
        out.sort();
        out
    }

    /// `glob` for a directory that may itself contain glob characters.
    pub fn glob_in(&self, dir: &str, suffix_pattern: &str) -> Vec<String> {
        let pat = format!("{}/{}", glob::Pattern::escape(dir), suffix_pattern);
        self.glob(&pat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_like_python() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().to_str().unwrap();
        for p in ["a/x.log", "a/b/x.log", ".h/x.log", "a/.x.log"] {
            let f = tmp.path().join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, "").unwrap();
        }
        let l = Loader::new();
        // not recursive, no hidden entries for `*`
        assert_eq!(
            l.glob(&format!("{d}/**/x.log")),
            vec![format!("{d}/a/x.log")]
        );
        assert_eq!(
            l.glob(&format!("{d}/a/*.log")),
            vec![format!("{d}/a/x.log")]
        );
        assert_eq!(
            l.glob(&format!("{d}/a/.x.log")),
            vec![format!("{d}/a/.x.log")]
        );
        assert!(l.glob(&format!("{d}/nope/*.log")).is_empty());
        std::fs::write(tmp.path().join("a/y[.log"), "").unwrap();
        assert_eq!(
            l.glob(&format!("{d}/a/y[.l*")),
            vec![format!("{d}/a/y[.log")]
        );
    }

    static FILES: &[(&str, &str)] = &[
        ("jail.conf", "[DEFAULT]\nx = embedded\n"),
        ("filter.d/a.conf", "[Definition]\n"),
        ("filter.d/b.conf", "[Definition]\n"),
    ];

    #[test]
    fn overlay_lists_and_reads_both_layers() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("etc");
        let r = root.to_str().unwrap();
        std::fs::create_dir_all(root.join("filter.d")).unwrap();
        std::fs::write(root.join("filter.d/b.conf"), "[Definition]\nmine = 1\n").unwrap();
        std::fs::write(root.join("filter.d/c.local"), "").unwrap();
        let l = Loader::with_overlay(&root, FILES);
        assert_eq!(
            l.glob(&format!("{r}/filter.d/*")),
            [
                format!("{r}/filter.d/a.conf"),
                format!("{r}/filter.d/b.conf"),
                format!("{r}/filter.d/c.local")
            ]
        );
        assert!(l.exists(&format!("{r}/jail.conf")) && l.is_file(&format!("{r}/jail.conf")));
        // the directory's file replaces the embedded one of the same name
        let b = l.load(&format!("{r}/filter.d/b.conf")).unwrap().unwrap();
        assert!(format!("{b:?}").contains("mine"));
        assert!(l.load(&format!("{r}/nope.conf")).unwrap().is_none());

        // the embedded tree alone never looks at the disk under its root
        let alone = Loader::embedded_only(&root, FILES);
        assert_eq!(
            alone.glob(&format!("{r}/filter.d/*")),
            [
                format!("{r}/filter.d/a.conf"),
                format!("{r}/filter.d/b.conf")
            ]
        );
        assert!(!alone.exists(&format!("{r}/filter.d/c.local")));
        assert!(alone.exists(r) && alone.exists(&format!("{r}/filter.d")));
        let b = alone
            .load(&format!("{r}/filter.d/b.conf"))
            .unwrap()
            .unwrap();
        assert!(!format!("{b:?}").contains("mine"));
    }
}
