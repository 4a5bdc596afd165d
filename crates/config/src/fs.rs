//! The only place that touches the disk: reading and caching files, `exists` checks
//! and globbing. Everything else in the crate works on what this returns.

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
}

impl Loader {
    pub fn new() -> Self {
        Self::default()
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
        let res = match std::fs::read(path) {
            Err(_) => None,
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
        Path::new(path).exists()
    }

    pub fn is_file(&self, path: &str) -> bool {
        Path::new(path).is_file()
    }

    /// Python `glob.glob`: no hidden files for `*`; a pattern without magic characters
    /// yields itself when it exists (also as a dangling link). Results sorted.
    pub fn glob(&self, pattern: &str) -> Vec<String> {
        if !pattern.contains(['*', '?', '[']) {
            let p = Path::new(pattern);
            return if p.symlink_metadata().is_ok() {
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
        // an unbalanced `[` is a literal character for Python's fnmatch
        let mut out = run(&pattern)
            .or_else(|| run(&pattern.replace('[', "[[]")))
            .unwrap_or_default();
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
}
