//! What the REGEX argument names: a filter in `CONFIG/filter.d`, a filter file,
//! or (when neither) a literal failregex, decided as fail2ban-regex decides.

use std::path::{Path, PathBuf};

use bailiff_config::FilterDef;

use crate::Error;

/// A REGEX argument found to name a filter.
pub(crate) struct FoundFilter {
    pub(crate) header: String,
    pub(crate) args: Vec<(String, String)>,
    /// Standard load: (config dir, filter name); foreign file: its path.
    kind: FilterKind,
}

pub(crate) enum FilterKind {
    Named { confdir: PathBuf, name: String },
    File(PathBuf),
}

impl FoundFilter {
    pub(crate) fn load(&self, spec: &str) -> Result<FilterDef, Error> {
        let r = match &self.kind {
            FilterKind::Named { confdir, name } => {
                bailiff_config::read_filter(confdir, name, &self.args)
            }
            FilterKind::File(p) => bailiff_config::read_filter_file(p, &self.args),
        };
        r.map_err(|source| Error::Config {
            spec: spec.to_string(),
            source: Box::new(source),
        })
    }
}

/// Does `value` look like `name` or `name[opts]` (word characters, `/`, `-`, `.`)?
pub(crate) fn looks_like_filter(value: &str) -> bool {
    let n = value
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || matches!(c, '_' | '/' | '-' | '.')))
        .map(|(i, _)| i)
        .unwrap_or(value.len());
    if n == 0 {
        return false;
    }
    let rest = &value[n..];
    rest.is_empty() || (rest.starts_with('[') && rest.ends_with(']'))
}

/// fail2ban-regex's lookup of a REGEX argument: `NAME`, `NAME.conf`, `NAME.local`
/// under `CONFIG/filter.d`, or a path. `None`: it is a literal regex.
pub(crate) fn find_filter(value: &str, config: &Path) -> Result<Option<FoundFilter>, Error> {
    if !looks_like_filter(value) {
        return Ok(None);
    }
    let (name, opts) = bailiff_config::parse_call(value).map_err(|source| Error::FilterName {
        spec: value.to_string(),
        source: Box::new(source),
    })?;
    let tail: String = {
        let chars: Vec<char> = name.chars().collect();
        chars[chars.len().saturating_sub(6)..].iter().collect()
    };
    let has_ext = tail.contains('.');
    let tries: Vec<String> = if has_ext {
        vec![name.clone()]
    } else {
        vec![
            name.clone(),
            format!("{name}.conf"),
            format!("{name}.local"),
        ]
    };
    let config_is_filterd = config.file_name().is_some_and(|n| n == "filter.d");
    let mut basedir = config.to_path_buf();
    let mut found = None;
    for t in tries {
        let file = if !t.contains('/') {
            if config_is_filterd {
                config.join(&t)
            } else {
                config.join("filter.d").join(&t)
            }
        } else {
            basedir = Path::new(&t)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            PathBuf::from(&t)
        };
        if file.is_file() {
            found = Some(file);
            break;
        }
    }
    let Some(file) = found else {
        return Ok(None);
    };
    let basedir_is_filterd = basedir.file_name().is_some_and(|n| n == "filter.d");
    if basedir == config || basedir_is_filterd || (!has_ext && !name.contains('/')) {
        let confdir = if basedir_is_filterd {
            basedir.parent().map(Path::to_path_buf).unwrap_or_default()
        } else {
            basedir
        };
        let stem = Path::new(&name)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| name.clone());
        Ok(Some(FoundFilter {
            header: format!(
                "Use   failregex filter file : {stem}, basedir: {}",
                confdir.display()
            ),
            args: opts,
            kind: FilterKind::Named {
                confdir,
                name: stem,
            },
        }))
    } else {
        Ok(Some(FoundFilter {
            header: format!("Use   failregex file : {name}"),
            args: opts,
            kind: FilterKind::File(absolute(&file)),
        }))
    }
}

pub(crate) fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_name_shapes() {
        assert!(looks_like_filter("sshd"));
        assert!(looks_like_filter("sshd[mode=aggressive]"));
        assert!(looks_like_filter("/etc/fail2ban/filter.d/sshd.conf"));
        assert!(looks_like_filter("./my-filter.local"));
        assert!(!looks_like_filter("^Failed .* from <HOST>$"));
        assert!(!looks_like_filter("fail from <HOST>"));
        assert!(!looks_like_filter(""));
    }
}
