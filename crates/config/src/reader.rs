//! A merged set of configuration files and `%(name)s` interpolation.
//!
//! [`ConfigSet::read_resource`] reads a resource such as `jail` or `filter.d/sshd`:
//! `X.conf`, `X.d/*.conf`, `X.local`, `X.d/*.local`, each expanded with its
//! `[INCLUDES] before/after` files (and their `.local` siblings), merged option by
//! option. The value an option had before a later file replaced it is kept in a
//! hidden section `KNOWN/<section>` for `%(known/opt)s`.

use std::collections::HashMap;
use std::sync::Arc;

use crate::fs::Loader;
use crate::ini::{IniFile, Raw};
use crate::omap::OMap;
use crate::ConfigError;

/// Interpolation depth limit (Python's `MAX_INTERPOLATION_DEPTH`).
const MAX_DEPTH: usize = 10;

/// Include nesting limit (fail2ban has none and recurses until Python gives up).
const MAX_INCLUDE_DEPTH: usize = 64;

/// Why [`ConfigSet::get`] found nothing.
#[derive(Debug, Clone)]
pub enum GetError {
    NoSection(String),
    NoOption(String, String),
    /// A broken `%(...)s` reference: missing key, syntax, depth.
    Interp(ConfigError),
}

impl GetError {
    pub fn into_config_error(self, file: &str) -> ConfigError {
        match self {
            GetError::NoSection(s) => ConfigError::at(file, 0, &s, "", "no such section".into()),
            GetError::NoOption(s, o) => ConfigError::at(file, 0, &s, &o, "no such option".into()),
            GetError::Interp(e) => e,
        }
    }
}

/// Caller-supplied interpolation variables (lowercased keys).
pub type Vars = OMap<String>;

/// Sections and defaults merged from a list of files.
#[derive(Debug, Clone, Default)]
pub struct ConfigSet {
    pub basedir: String,
    /// The files merged, in order (a file may appear twice, as in fail2ban).
    pub files: Vec<String>,
    pub defaults: OMap<Raw>,
    pub sections: OMap<OMap<Raw>>,
    /// Files named in `[INCLUDES]` that do not exist (for `check`).
    pub missing_includes: Vec<(String, String)>,
}

pub(crate) fn dirname(p: &str) -> &str {
    match p.rfind('/') {
        None => "",
        Some(i) => {
            let head = &p[..=i];
            let trimmed = head.trim_end_matches('/');
            if trimmed.is_empty() {
                head
            } else {
                trimmed
            }
        }
    }
}

pub(crate) fn path_join(dir: &str, rel: &str) -> String {
    if rel.starts_with('/') || dir.is_empty() {
        rel.to_string()
    } else if dir.ends_with('/') {
        format!("{dir}{rel}")
    } else {
        format!("{dir}/{rel}")
    }
}

/// `os.path.splitext(p)[0]`.
pub(crate) fn strip_ext(p: &str) -> &str {
    let base_start = p.rfind('/').map(|i| i + 1).unwrap_or(0);
    let base = &p[base_start..];
    let lead = base.len() - base.trim_start_matches('.').len();
    match base[lead..].rfind('.') {
        Some(i) => &p[..base_start + lead + i],
        None => p,
    }
}

fn internal_raw(value: String) -> Raw {
    Raw {
        value,
        file: Arc::from("<internal>"),
        line: 0,
    }
}

fn conditional_split(name: &str) -> Option<(&str, &str)> {
    let q = name.find('?')?;
    let (base, cond) = name.split_at(q);
    if base.is_empty() || cond.len() < 2 || !base.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return None;
    }
    if cond.contains('\n') {
        return None;
    }
    Some((base, cond))
}

/// `name?cond` split as fail2ban's conditional-key pattern does.
pub fn conditional_base(name: &str) -> Option<&str> {
    conditional_split(name).map(|(b, _)| b)
}

impl ConfigSet {
    /// Read a resource (`jail`, `fail2ban`, `filter.d/sshd`, ...) under `basedir`.
    /// `Ok(None)` when none of its files exists.
    pub fn read_resource(
        loader: &Loader,
        basedir: &str,
        name: &str,
    ) -> Result<Option<ConfigSet>, ConfigError> {
        let basedir = basedir.trim_end_matches('/');
        let basedir = if basedir.is_empty() { "/" } else { basedir };
        let base = path_join(basedir, name);
        let mut files = vec![format!("{base}.conf")];
        let dir = format!("{base}.d");
        files.extend(loader.glob_in(&dir, "*.conf"));
        files.push(format!("{base}.local"));
        files.extend(loader.glob_in(&dir, "*.local"));
        let files: Vec<String> = files.into_iter().filter(|f| loader.exists(f)).collect();
        if files.is_empty() {
            return Ok(None);
        }
        let mut set = ConfigSet {
            basedir: basedir.to_string(),
            ..Default::default()
        };
        let all = set.get_includes(loader, &files, &[])?;
        set.merge_files(loader, &all)?;
        if set.files.is_empty() {
            return Ok(None);
        }
        Ok(Some(set))
    }

    /// Read one explicit file with its includes (fail2ban-regex with a file path).
    pub fn read_explicit(loader: &Loader, file: &str) -> Result<Option<ConfigSet>, ConfigError> {
        let mut set = ConfigSet {
            basedir: dirname(file).to_string(),
            ..Default::default()
        };
        let all = set.get_includes(loader, &[file.to_string()], &[])?;
        set.merge_files(loader, &all)?;
        if set.files.is_empty() {
            return Ok(None);
        }
        Ok(Some(set))
    }

    fn merge_files(&mut self, loader: &Loader, all: &[String]) -> Result<(), ConfigError> {
        for f in all {
            if let Some(ini) = loader.load(f)? {
                self.merge_file(&ini);
                self.files.push(f.clone());
            }
        }
        Ok(())
    }

    fn get_includes(
        &mut self,
        loader: &Loader,
        filenames: &[String],
        seen: &[String],
    ) -> Result<Vec<String>, ConfigError> {
        let mut expanded: Vec<String> = Vec::new();
        for f in filenames {
            expanded.push(f.clone());
            let local = format!("{}.local", strip_ext(f));
            if !filenames.contains(&local) && loader.is_file(&local) {
                expanded.push(local);
            }
        }
        let mut out = Vec::new();
        for f in &expanded {
            out.extend(self.get_includes_uncached(loader, f, seen)?);
        }
        Ok(out)
    }

    fn get_includes_uncached(
        &mut self,
        loader: &Loader,
        resource: &str,
        seen: &[String],
    ) -> Result<Vec<String>, ConfigError> {
        if seen.len() > MAX_INCLUDE_DEPTH {
            return Err(ConfigError::at(
                resource,
                0,
                "INCLUDES",
                "",
                format!("includes nested deeper than {MAX_INCLUDE_DEPTH} levels (a cycle?)"),
            ));
        }
        let Some(ini) = loader.load(resource)? else {
            return Ok(Vec::new());
        };
        let dir = dirname(resource).to_string();
        let mut before = Vec::new();
        let mut after = Vec::new();
        if ini.sections.contains_key("INCLUDES") {
            let single = ConfigSet::from_single(&ini);
            for (opt, list) in [("before", &mut before), ("after", &mut after)] {
                let present = single
                    .sections
                    .get("INCLUDES")
                    .is_some_and(|s| s.contains_key(opt))
                    || single.defaults.contains_key(opt);
                if !present {
                    continue;
                }
                let value = single
                    .get("INCLUDES", opt, &Vars::new())
                    .map_err(|e| e.into_config_error(resource))?;
                for item in value.split('\n') {
                    let r = path_join(&dir, item);
                    if seen.iter().any(|s| s == &r) {
                        continue;
                    }
                    if !loader.exists(&r) {
                        self.missing_includes
                            .push((resource.to_string(), r.clone()));
                    }
                    let mut s: Vec<String> = seen.to_vec();
                    s.push(resource.to_string());
                    let got = self.get_includes(loader, &[r], &s)?;
                    list.extend(got);
                }
            }
        }
        let mut res = before;
        res.push(resource.to_string());
        res.extend(after);
        Ok(res)
    }

    fn from_single(ini: &IniFile) -> ConfigSet {
        let mut s = ConfigSet::default();
        s.merge_file(ini);
        s
    }

    /// Merge one parsed file: defaults, then sections option by option, remembering
    /// replaced values under `KNOWN/<section>`; `[Name?cond]` merges into `[Name]` with
    /// every key suffixed by `?cond`.
    pub fn merge_file(&mut self, ini: &IniFile) {
        self.defaults.update(&ini.defaults);
        for (name, sec) in ini.sections.iter() {
            let (name, sec): (String, OMap<Raw>) = match conditional_split(name) {
                Some((base, cond)) => (
                    base.to_string(),
                    sec.iter()
                        .map(|(k, v)| (format!("{k}{cond}"), v.clone()))
                        .collect(),
                ),
                None => (name.clone(), sec.clone()),
            };
            match self.sections.get(&name) {
                Some(prev) => {
                    let known: OMap<Raw> = prev
                        .iter()
                        .filter(|(k, _)| sec.contains_key(k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    let kname = format!("KNOWN/{name}");
                    match self.sections.get_mut(&kname) {
                        Some(k) => k.update(&known),
                        None => self.sections.insert(kname, known),
                    }
                    if let Some(prev) = self.sections.get_mut(&name) {
                        prev.update(&sec);
                    }
                }
                None => self.sections.insert(name, sec),
            }
        }
    }

    pub fn merge_defaults(&mut self, kv: &[(&str, &str)]) {
        for (k, v) in kv {
            self.defaults.insert(*k, internal_raw(v.to_string()));
        }
    }

    /// Add `pref + key` options to a section (fail2ban merges a jail's filter options as
    /// `known/...`).
    pub fn merge_section_prefixed(&mut self, section: &str, opts: &OMap<String>, pref: &str) {
        if self.sections.get(section).is_none() {
            self.sections.insert(section, OMap::new());
        }
        if let Some(sec) = self.sections.get_mut(section) {
            for (k, v) in opts.iter() {
                if !k.starts_with(pref) && k != "__name__" {
                    sec.insert(format!("{pref}{k}"), internal_raw(v.clone()));
                }
            }
        }
    }

    pub fn has_section(&self, s: &str) -> bool {
        self.sections.contains_key(s)
    }

    /// Sections a user wrote (without the hidden `KNOWN/...`).
    pub fn user_sections(&self) -> impl Iterator<Item = &String> {
        self.sections.keys().filter(|s| !s.starts_with("KNOWN/"))
    }

    /// Own option names of a section (without `[DEFAULT]`).
    pub fn own_options(&self, s: &str) -> Vec<String> {
        self.sections
            .get(s)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Where an option was written (section, else defaults).
    pub fn origin(&self, section: &str, option: &str) -> Option<&Raw> {
        let o = option.to_lowercase();
        self.sections
            .get(section)
            .and_then(|s| s.get(&o))
            .or_else(|| self.defaults.get(&o))
    }

    /// The raw (uninterpolated) value, looked up like [`ConfigSet::get`].
    pub fn get_raw(&self, section: &str, option: &str, vars: &Vars) -> Option<String> {
        let o = option.to_lowercase();
        vars.get(&o).cloned().or_else(|| {
            self.sections
                .get(section)
                .and_then(|s| s.get(&o))
                .or_else(|| self.defaults.get(&o))
                .map(|r| r.value.clone())
        })
    }

    /// `configparser.get(section, option, vars=vars)`: look up `vars`, the section,
    /// then `[DEFAULT]`, and interpolate `%(name)s`.
    pub fn get(&self, section: &str, option: &str, vars: &Vars) -> Result<String, GetError> {
        let option = option.to_lowercase();
        let sec = match self.sections.get(section) {
            Some(s) => Some(s),
            None if section == "DEFAULT" => None,
            None => return Err(GetError::NoSection(section.to_string())),
        };
        let (value, origin) = if let Some(v) = vars.get(&option) {
            (v.clone(), None)
        } else if let Some(r) = sec.and_then(|s| s.get(&option)) {
            (r.value.clone(), Some(r))
        } else if let Some(r) = self.defaults.get(&option) {
            (r.value.clone(), Some(r))
        } else {
            return Err(GetError::NoOption(section.to_string(), option));
        };
        let ctx = Ctx {
            section,
            option: &option,
            vars,
            sec,
            origin,
        };
        let mut out = String::new();
        self.interpolate(&ctx, &value, &HashMap::new(), 1, &mut out)
            .map_err(GetError::Interp)?;
        Ok(out)
    }

    /// fail2ban's `get_ex`: `sec/opt`, `known/opt` and `default/opt` names first, then
    /// a plain [`ConfigSet::get`].
    pub fn get_ex(&self, section: &str, option: &str, vars: &Vars) -> Result<String, GetError> {
        if let Some((sec, opt)) = split_section_option(option) {
            let tries: Vec<String> = match sec.to_lowercase().as_str() {
                "known" => vec![format!("KNOWN/{section}"), section.to_string()],
                "default" => vec!["DEFAULT".to_string()],
                _ => vec![sec.to_string()],
            };
            for s in tries {
                match self.get(&s, opt, &Vars::new()) {
                    Ok(v) => return Ok(v),
                    Err(GetError::Interp(e)) => return Err(GetError::Interp(e)),
                    Err(_) => {}
                }
            }
        }
        self.get(section, option, vars)
    }

    fn interpolate(
        &self,
        ctx: &Ctx,
        rest: &str,
        parent: &HashMap<String, String>,
        depth: usize,
        out: &mut String,
    ) -> Result<(), ConfigError> {
        if depth > MAX_DEPTH {
            return Err(ctx.error(format!(
                "interpolation deeper than {MAX_DEPTH} levels (a reference loop?)"
            )));
        }
        let mut overlay = parent.clone();
        overlay.insert("__name__".into(), ctx.section.to_string());
        self.map_section_options(ctx, rest, &mut overlay);
        let mut rest = rest;
        loop {
            let Some(p) = rest.find('%') else {
                out.push_str(rest);
                return Ok(());
            };
            out.push_str(&rest[..p]);
            rest = &rest[p..];
            match rest[1..].chars().next() {
                Some('%') => {
                    out.push('%');
                    rest = &rest[2..];
                }
                Some('(') => {
                    let inner = &rest[2..];
                    let close = inner.find(')');
                    let ok = close.is_some_and(|c| c > 0 && inner[c + 1..].starts_with('s'));
                    let Some(c) = close.filter(|_| ok) else {
                        return Err(ctx.error(format!(
                            "bad interpolation variable reference {:?}",
                            truncate(rest, 40)
                        )));
                    };
                    let var = inner[..c].to_lowercase();
                    rest = &inner[c + 2..];
                    let v = overlay
                        .get(&var)
                        .or_else(|| ctx.vars.get(&var))
                        .or_else(|| ctx.sec.and_then(|s| s.get(&var)).map(|r| &r.value))
                        .or_else(|| self.defaults.get(&var).map(|r| &r.value));
                    let Some(v) = v else {
                        return Err(
                            ctx.error(format!("bad option reference: %({var})s is not defined"))
                        );
                    };
                    if v.contains('%') {
                        let v = v.clone();
                        self.interpolate(ctx, &v, &overlay, depth + 1, out)?;
                    } else {
                        out.push_str(v);
                    }
                }
                _ => {
                    return Err(ctx.error(format!(
                        "'%' must be followed by '%' or '(', found: {:?}",
                        truncate(rest, 40)
                    )))
                }
            }
        }
    }

    /// Put `%(section/opt)s`, `%(known/opt)s`, `%(default/opt)s` values into the map.
    fn map_section_options(&self, ctx: &Ctx, rest: &str, map: &mut HashMap<String, String>) {
        if !rest.contains('/') || !rest.contains("%(") {
            return;
        }
        let mut from = 0;
        while let Some(p) = rest[from..].find("%(") {
            let start = from + p;
            let body = &rest[start + 2..];
            let sec_len = body
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(body.len());
            let parsed = if sec_len > 0 && body[sec_len..].starts_with('/') {
                let after = &body[sec_len + 1..];
                match after.find(')') {
                    Some(c) if c > 0 && after[c + 1..].starts_with('s') => {
                        Some((&body[..sec_len], &after[..c], sec_len + 1 + c + 2))
                    }
                    _ => None,
                }
            } else {
                None
            };
            let Some((sec, opt, len)) = parsed else {
                from = start + 1;
                continue;
            };
            from = start + 2 + len;
            let sopt = format!("{sec}/{opt}");
            let known = map.contains_key(&sopt)
                || ctx.vars.contains_key(&sopt)
                || ctx.sec.is_some_and(|s| s.contains_key(&sopt))
                || self.defaults.contains_key(&sopt);
            if known {
                continue;
            }
            let lower = sec.to_lowercase();
            let mut value: Option<String> = None;
            let mut use_default = false;
            if lower == "default" {
                use_default = true;
            } else if lower == "known" {
                match self
                    .sections
                    .get(&format!("KNOWN/{}", ctx.section))
                    .and_then(|s| s.get(opt))
                {
                    Some(r) => value = Some(r.value.clone()),
                    None => use_default = true,
                }
            } else {
                let Some(s) = self.sections.get(sec) else {
                    continue;
                };
                match s.get(opt) {
                    Some(r) => value = Some(r.value.clone()),
                    None => use_default = true,
                }
            }
            if use_default {
                match self.defaults.get(opt) {
                    Some(r) => value = Some(r.value.clone()),
                    None => continue,
                }
            }
            if let Some(v) = value {
                map.insert(sopt, v);
            }
        }
    }
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// `^([\w\-]+)/([^\s>]+)$`
pub(crate) fn split_section_option(option: &str) -> Option<(&str, &str)> {
    let slash = option.find('/')?;
    let (sec, opt) = (&option[..slash], &option[slash + 1..]);
    if sec.is_empty()
        || !sec
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        return None;
    }
    if opt.is_empty() || opt.chars().any(|c| c.is_whitespace() || c == '>') {
        return None;
    }
    Some((sec, opt))
}

struct Ctx<'a> {
    section: &'a str,
    option: &'a str,
    vars: &'a Vars,
    sec: Option<&'a OMap<Raw>>,
    origin: Option<&'a Raw>,
}

impl Ctx<'_> {
    fn error(&self, message: String) -> ConfigError {
        let (file, line) = match self.origin {
            Some(r) => (r.file.to_string(), r.line),
            None => ("<arguments>".to_string(), 0),
        };
        ConfigError::at(&file, line, self.section, self.option, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ini;

    fn set(text: &str) -> ConfigSet {
        let mut s = ConfigSet::default();
        s.merge_file(&ini::parse("t.conf", text).unwrap());
        s
    }

    #[test]
    fn interpolation_rules() {
        let s = set("[DEFAULT]\nb = B\n[A]\na = %(b)s-%(__name__)s-%%\nl = %(l)s\nx = %(other/y)s\nd = %(default/b)s\nbad = %(nope\n[other]\ny = Y%(b)s\n");
        let v = Vars::new();
        assert_eq!(s.get("A", "a", &v).unwrap(), "B-A-%");
        assert_eq!(s.get("A", "x", &v).unwrap(), "YB");
        assert_eq!(s.get("A", "d", &v).unwrap(), "B");
        assert!(matches!(s.get("A", "l", &v), Err(GetError::Interp(_))));
        assert!(matches!(s.get("A", "bad", &v), Err(GetError::Interp(_))));
        assert!(matches!(s.get("A", "zz", &v), Err(GetError::NoOption(..))));
        assert!(matches!(s.get("Q", "a", &v), Err(GetError::NoSection(_))));
        let mut vars = Vars::new();
        vars.insert("b", "V".to_string());
        assert_eq!(s.get("A", "a", &vars).unwrap(), "V-A-%");
    }

    #[test]
    fn known_values() {
        let mut s = set("[A]\nf = one\n");
        s.merge_file(&ini::parse("t.local", "[A]\nf = %(known/f)s two\n").unwrap());
        assert_eq!(s.get("A", "f", &Vars::new()).unwrap(), "one two");
    }

    #[test]
    fn paths() {
        assert_eq!(dirname("/etc/x.conf"), "/etc");
        assert_eq!(dirname("x.conf"), "");
        assert_eq!(strip_ext("/a/b.c/d.conf"), "/a/b.c/d");
        assert_eq!(strip_ext("/a/b.c/d"), "/a/b.c/d");
        assert_eq!(strip_ext("/a/.hidden"), "/a/.hidden");
    }
}
