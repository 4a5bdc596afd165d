//! One INI file, parsed the way Python's `configparser` reads fail2ban files.
//!
//! Rules kept here: `[Section]` headers (case-sensitive), option names lowercased,
//! `=` or `:` between name and value, whole-line comments starting with `#` or `;`,
//! inline comments only with `;` after whitespace, values continued on lines indented
//! deeper than the option line, blank lines kept inside a value but trailing ones
//! dropped, and a repeated section or option inside one file is an error.

use std::sync::Arc;

use crate::omap::OMap;
use crate::ConfigError;

/// One option value with the place it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Raw {
    pub value: String,
    pub file: Arc<str>,
    pub line: usize,
}

/// The sections of one file, in file order. `[DEFAULT]` is kept apart.
#[derive(Debug, Clone, Default)]
pub struct IniFile {
    pub path: String,
    pub defaults: OMap<Raw>,
    pub sections: OMap<OMap<Raw>>,
    /// Line of each section header.
    pub section_lines: OMap<usize>,
}

fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// Where an inline `;` comment starts: a `;` at the line start or after whitespace.
fn inline_comment_start(line: &str) -> Option<usize> {
    let mut prev: Option<char> = None;
    for (i, c) in line.char_indices() {
        if c == ';' && (i == 0 || prev.is_some_and(is_py_space)) {
            return Some(i);
        }
        prev = Some(c);
    }
    None
}

struct Pending {
    section: Option<String>, // None = DEFAULT
    key: String,
    lines: Vec<String>,
    line: usize,
}

/// Parse the text of one file. `path` is used for error messages and value origins.
pub fn parse(path: &str, text: &str) -> Result<IniFile, ConfigError> {
    let file: Arc<str> = Arc::from(path);
    let mut out = IniFile {
        path: path.to_string(),
        ..Default::default()
    };
    let err = |line: usize, section: &str, option: &str, message: String| ConfigError {
        file: path.into(),
        line,
        section: section.to_string(),
        option: option.to_string(),
        message,
    };
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    // current section: None before any header, Some(None) = DEFAULT, Some(Some(name))
    let mut cursect: Option<Option<String>> = None;
    let mut pending: Option<Pending> = None;
    let mut indent_level: usize = 0;
    let mut seen_options: std::collections::HashSet<(String, String)> = Default::default();

    let flush = |out: &mut IniFile, p: Pending| {
        let value = p.lines.join("\n");
        let value = value.trim_end_matches(is_py_space).to_string();
        let raw = Raw {
            value,
            file: file.clone(),
            line: p.line,
        };
        match p.section {
            None => out.defaults.insert(p.key, raw),
            Some(s) => {
                if let Some(sec) = out.sections.get_mut(&s) {
                    sec.insert(p.key, raw);
                }
            }
        }
    };

    for (idx, line) in text.split_inclusive('\n').enumerate() {
        let lineno = idx + 1;
        let line = line.strip_suffix('\n').unwrap_or(line);
        let mut comment_start = inline_comment_start(line);
        let stripped = py_strip(line);
        if stripped.starts_with('#') || stripped.starts_with(';') {
            comment_start = Some(0);
        }
        let value = py_strip(&line[..comment_start.unwrap_or(line.len())]);
        if value.is_empty() {
            if comment_start.is_none() && cursect.is_some() {
                if let Some(p) = pending.as_mut() {
                    p.lines.push(String::new());
                }
            }
            continue;
        }
        let cur_indent = line.find(|c: char| !is_py_space(c)).unwrap_or(0);
        if cursect.is_some() && pending.is_some() && cur_indent > indent_level {
            if let Some(p) = pending.as_mut() {
                p.lines.push(value.to_string());
            }
            continue;
        }
        indent_level = cur_indent;
        // a section header?
        if value.starts_with('[') {
            if let Some(close) = value.rfind(']') {
                if close >= 2 {
                    if let Some(p) = pending.take() {
                        flush(&mut out, p);
                    }
                    let name = &value[1..close];
                    if name == "DEFAULT" {
                        cursect = Some(None);
                    } else {
                        if out.sections.contains_key(name) {
                            return Err(err(
                                lineno,
                                name,
                                "",
                                format!("section {name:?} already exists in this file"),
                            ));
                        }
                        out.sections.insert(name, OMap::new());
                        out.section_lines.insert(name, lineno);
                        cursect = Some(Some(name.to_string()));
                    }
                    continue;
                }
            }
        }
        let Some(sect) = cursect.clone() else {
            return Err(err(
                lineno,
                "",
                "",
                format!("file contains no section headers: {line:?}"),
            ));
        };
        let sect_name = sect.clone().unwrap_or_else(|| "DEFAULT".to_string());
        let Some(delim) = value.find(['=', ':']) else {
            return Err(err(
                lineno,
                &sect_name,
                "",
                format!("parsing error, neither '=' nor ':' in line {line:?}"),
            ));
        };
        let name = value[..delim].trim_end_matches(is_py_space).to_lowercase();
        let val = py_strip(&value[delim + 1..]).to_string();
        if name.is_empty() {
            return Err(err(
                lineno,
                &sect_name,
                "",
                format!("parsing error, empty option name in line {line:?}"),
            ));
        }
        if !seen_options.insert((sect_name.clone(), name.clone())) {
            return Err(err(
                lineno,
                &sect_name,
                &name,
                "option already exists in this section of this file".to_string(),
            ));
        }
        if let Some(p) = pending.take() {
            flush(&mut out, p);
        }
        pending = Some(Pending {
            section: sect,
            key: name,
            lines: vec![val],
            line: lineno,
        });
    }
    if let Some(p) = pending.take() {
        flush(&mut out, p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn val(f: &IniFile, s: &str, k: &str) -> String {
        f.sections.get(s).unwrap().get(k).unwrap().value.clone()
    }

    #[test]
    fn syntax_rules() {
        let t = "[A]\nKey = v ; c\nk2: x;y\nmulti = a\n  b\n\n  c\n\n# c\nnext=1\n[DEFAULT]\nd=2\n";
        let f = parse("t", t).unwrap();
        assert_eq!(val(&f, "A", "key"), "v");
        assert_eq!(val(&f, "A", "k2"), "x;y");
        assert_eq!(val(&f, "A", "multi"), "a\nb\n\nc");
        assert_eq!(val(&f, "A", "next"), "1");
        assert_eq!(f.defaults.get("d").unwrap().value, "2");
    }

    #[test]
    fn duplicates_are_errors() {
        let e = parse("t", "[A]\na=1\nA=2\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert_eq!(e.option, "a");
        assert!(parse("t", "[A]\n[A]\n").is_err());
        assert!(parse("t", "a=1\n").is_err());
        assert!(parse("t", "[A]\njunk\n").is_err());
    }
}
