//! Reading a filter or action file for one use: `[Definition]` + `[Init]` + call
//! arguments + the caller's (jail's) options, as fail2ban's definition readers do.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use crate::omap::OMap;
use crate::reader::{conditional_base, ConfigSet, GetError, Vars};
use crate::tags::substitute_recursive_tags;
use crate::ConfigError;

/// Value types of recognised options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptType {
    Str,
    Int,
    Bool,
}

/// A resolved option value, typed the way fail2ban converts it.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Str(String),
    Int(i64),
    Bool(bool),
    /// Present but unusable (a failed conversion); fail2ban sends `None`.
    Null,
}

impl Val {
    /// Python `str()` of the value, as used when it becomes an interpolation variable.
    pub fn py_str(&self) -> Option<String> {
        match self {
            Val::Str(s) => Some(s.clone()),
            Val::Int(i) => Some(i.to_string()),
            Val::Bool(b) => Some(if *b { "True" } else { "False" }.to_string()),
            Val::Null => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Val::Str(s) => serde_json::Value::String(s.clone()),
            Val::Int(i) => serde_json::Value::from(*i),
            Val::Bool(b) => serde_json::Value::Bool(*b),
            Val::Null => serde_json::Value::Null,
        }
    }
}

/// Python `int(str)`: optional sign, digits, single underscores between digits,
/// surrounding whitespace.
pub fn py_int(s: &str) -> Option<i64> {
    let t = s.trim();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    let v: i64 = clean.parse().ok()?;
    Some(if neg { -v } else { v })
}

/// fail2ban's boolean reading: `1`, `on`, `true`, `yes` (any case) are true.
pub fn py_bool(s: &str) -> bool {
    matches!(s.to_lowercase().as_str(), "1" | "on" | "true" | "yes")
}

pub fn convert(v: &str, t: OptType) -> Val {
    match t {
        OptType::Str => Val::Str(v.to_string()),
        OptType::Int => py_int(v).map(Val::Int).unwrap_or(Val::Null),
        OptType::Bool => Val::Bool(py_bool(v)),
    }
}

pub const FILTER_OPTS: &[(&str, OptType)] = &[
    ("usedns", OptType::Str),
    ("prefregex", OptType::Str),
    ("ignoreregex", OptType::Str),
    ("failregex", OptType::Str),
    ("maxlines", OptType::Int),
    ("datepattern", OptType::Str),
    ("journalmatch", OptType::Str),
];

pub const ACTION_OPTS: &[(&str, OptType)] = &[
    ("actionstart", OptType::Str),
    ("actionstart_on_demand", OptType::Bool),
    ("actionstop", OptType::Str),
    ("actionflush", OptType::Str),
    ("actionreload", OptType::Str),
    ("actioncheck", OptType::Str),
    ("actionrepair", OptType::Str),
    ("actionrepair_on_unban", OptType::Bool),
    ("actionban", OptType::Str),
    ("actionprolong", OptType::Str),
    ("actionreban", OptType::Str),
    ("actionunban", OptType::Str),
    ("norestored", OptType::Bool),
];

/// Tags an action leaves for run time.
pub const ACTION_RUNTIME_TAGS: &[&str] = &[
    "matches",
    "ipmatches",
    "ipjailmatches",
    "timeout",
    "bantime",
];

/// One filter or action file read for one caller.
pub struct DefReader {
    pub cfg: Rc<ConfigSet>,
    /// The file's display path (for errors).
    pub file: String,
    pub config_opts: &'static [(&'static str, OptType)],
    /// Call arguments, then `[Init]` values and `known/...` copies.
    pub init_opts: OMap<String>,
    opts: OMap<Option<String>>,
    p_opts: Vars,
    def_cache: RefCell<HashMap<String, Option<String>>>,
}

impl DefReader {
    pub fn new(
        cfg: Rc<ConfigSet>,
        file: String,
        config_opts: &'static [(&'static str, OptType)],
        init_opts: OMap<String>,
    ) -> Self {
        DefReader {
            cfg,
            file,
            config_opts,
            init_opts,
            opts: OMap::new(),
            p_opts: Vars::new(),
            def_cache: RefCell::new(HashMap::new()),
        }
    }

    fn err(&self, e: GetError) -> ConfigError {
        e.into_config_error(&self.file)
    }

    /// Set `logtype` from the backend unless the caller or `[Definition]` sets it.
    pub fn apply_auto_options(&mut self, backend: &str) {
        let given = self.init_opts.get("logtype").is_some_and(|v| !v.is_empty());
        let in_def = self
            .cfg
            .sections
            .get("Definition")
            .is_some_and(|d| d.contains_key("logtype"));
        if !given && !in_def {
            let lt = if backend.starts_with("systemd") {
                "journal"
            } else {
                "file"
            };
            self.init_opts.insert("logtype", lt.to_string());
        }
    }

    /// Collect `[Definition]` options not overridden by the caller, and `[Init]`.
    /// `p_opts` are the caller's options (already as strings).
    pub fn get_options(&mut self, p_opts: &OMap<String>, all: bool) -> Result<(), ConfigError> {
        let mut p: Vars = Vars::new();
        for (k, v) in p_opts.iter() {
            p.insert(k.to_lowercase(), v.clone());
        }
        for (k, v) in self.init_opts.iter() {
            p.insert(k.to_lowercase(), v.clone());
        }
        let mut opts: OMap<Option<String>> = OMap::new();
        // a key present in the caller's options is skipped (case as given)
        let mut pkeys: HashSet<String> = p_opts.keys().cloned().collect();
        pkeys.extend(self.init_opts.keys().cloned());
        for (name, _) in self.config_opts {
            if pkeys.contains(*name) {
                continue;
            }
            match self.cfg.get("Definition", name, &p) {
                Ok(v) => opts.insert(*name, Some(v)),
                Err(GetError::NoSection(_)) => opts.insert(*name, None),
                Err(GetError::NoOption(..)) => {}
                Err(e) => return Err(self.err(e)),
            }
        }
        self.p_opts = p;
        if self.cfg.has_section("Init") {
            for opt in self.cfg.own_options("Init") {
                if opt == "__name__" {
                    continue;
                }
                let mut v: Option<String> = None;
                if !opt.starts_with("known/") {
                    let got = self
                        .cfg
                        .get("Init", &opt, &Vars::new())
                        .map_err(|e| self.err(e))?;
                    self.init_opts.insert(format!("known/{opt}"), got.clone());
                    v = Some(got);
                }
                if !self.init_opts.contains_key(&opt) {
                    let got = match v {
                        Some(v) => v,
                        None => self
                            .cfg
                            .get("Init", &opt, &Vars::new())
                            .map_err(|e| self.err(e))?,
                    };
                    self.init_opts.insert(opt.clone(), got);
                }
            }
        }
        if all && self.cfg.has_section("Definition") {
            for opt in self.cfg.own_options("Definition") {
                if opt == "__name__" || opts.contains_key(&opt) {
                    continue;
                }
                let v = self
                    .cfg
                    .get("Definition", &opt, &Vars::new())
                    .map_err(|e| self.err(e))?;
                opts.insert(opt, Some(v));
            }
        }
        self.opts = opts;
        Ok(())
    }

    fn comb_option(&self, name: &str) -> Result<Option<String>, ConfigError> {
        if let Some(v) = self.def_cache.borrow().get(name) {
            return Ok(v.clone());
        }
        let v = match self.cfg.get_ex("Definition", name, &self.p_opts) {
            Ok(v) => Some(v),
            Err(GetError::Interp(e)) => return Err(e),
            Err(_) => None,
        };
        self.def_cache
            .borrow_mut()
            .insert(name.to_string(), v.clone());
        Ok(v)
    }

    /// Definition options overlaid with `[Init]` and call arguments, tags substituted.
    /// Values are strings; see [`DefReader::typed`] for the converted view.
    pub fn combined(&self, ignore: &[&str]) -> Result<OMap<Option<String>>, ConfigError> {
        let mut comb = self.opts.clone();
        for (k, v) in self.init_opts.iter() {
            comb.insert(k.clone(), Some(v.clone()));
        }
        if comb.is_empty() {
            return Ok(comb);
        }
        let mut ign: HashSet<String> = ignore.iter().map(|s| s.to_string()).collect();
        for k in comb.keys() {
            if let Some(b) = conditional_base(k) {
                ign.insert(b.to_string());
            }
        }
        substitute_recursive_tags(&mut comb, "", &ign, &mut |t| self.comb_option(t)).map_err(
            |mut e| {
                e.file = self.file.clone().into();
                e.section = "Definition".into();
                e
            },
        )?;
        Ok(comb)
    }

    /// Convert the recognised options of a combined map to their types.
    pub fn typed(&self, comb: &OMap<Option<String>>) -> OMap<Option<Val>> {
        comb.iter()
            .map(|(k, v)| {
                let t = self
                    .config_opts
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, t)| *t)
                    .unwrap_or(OptType::Str);
                (k.clone(), v.as_ref().map(|v| convert(v, t)))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_int_and_bool() {
        assert_eq!(py_int(" 5 "), Some(5));
        assert_eq!(py_int("-1_000"), Some(-1000));
        assert_eq!(py_int("5x"), None);
        assert_eq!(py_int("_5"), None);
        assert!(py_bool("Yes"));
        assert!(!py_bool("y"));
    }
}
