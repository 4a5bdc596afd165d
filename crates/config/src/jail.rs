//! Jails: `jail.conf` & co. resolved into typed specs, and the command stream that
//! `fail2ban-client -d` prints for the same reading.
//!
//! The reading follows fail2ban's order: server options from `fail2ban.*`; then, for
//! every section of `jail.*`, the first options (`enabled`, `backend`, `filter`); for an
//! enabled jail its filter (whose options become `known/...` values of the jail), all
//! jail options, the filter again with the jail's options, and each action.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::rc::Rc;

use serde_json::{json, Value};

use crate::defreader::{
    convert, DefReader, OptType, Val, ACTION_OPTS, ACTION_RUNTIME_TAGS, FILTER_OPTS,
};
use crate::embedded::ConfSource;
use crate::filter::filter_def;
use crate::fs::Loader;
use crate::omap::OMap;
use crate::options::{extract_options, split_with_options};
use crate::reader::{path_join, strip_ext, ConfigSet, GetError, Vars};
use crate::{ConfigError, FilterDef, FAIL2BAN_VERSION};

/// Options fail2ban reads first for every jail section.
const JAIL_OPTS_FIRST: &[(&str, OptType, Option<&str>)] = &[
    ("enabled", OptType::Bool, Some("false")),
    ("backend", OptType::Str, Some("auto")),
    ("filter", OptType::Str, Some("")),
];

/// Every jail option fail2ban 1.0 accepts, in its order, with the fallback used when
/// the option is absent everywhere (`None`: the option is simply not set).
pub const JAIL_OPTS: &[(&str, OptType, Option<&str>)] = &[
    ("enabled", OptType::Bool, Some("false")),
    ("backend", OptType::Str, Some("auto")),
    ("maxretry", OptType::Int, None),
    ("maxmatches", OptType::Int, None),
    ("findtime", OptType::Str, None),
    ("bantime", OptType::Str, None),
    ("bantime.increment", OptType::Bool, None),
    ("bantime.factor", OptType::Str, None),
    ("bantime.formula", OptType::Str, None),
    ("bantime.multipliers", OptType::Str, None),
    ("bantime.maxtime", OptType::Str, None),
    ("bantime.rndtime", OptType::Str, None),
    ("bantime.overalljails", OptType::Bool, None),
    ("ignorecommand", OptType::Str, None),
    ("ignoreself", OptType::Bool, None),
    ("ignoreip", OptType::Str, None),
    ("ignorecache", OptType::Str, None),
    ("filter", OptType::Str, Some("")),
    ("logtimezone", OptType::Str, None),
    ("logencoding", OptType::Str, None),
    ("logpath", OptType::Str, None),
    ("action", OptType::Str, Some("")),
    ("usedns", OptType::Str, None),
    ("prefregex", OptType::Str, None),
    ("ignoreregex", OptType::Str, None),
    ("failregex", OptType::Str, None),
    ("maxlines", OptType::Int, None),
    ("datepattern", OptType::Str, None),
    ("journalmatch", OptType::Str, None),
];

/// Jail options that are not sent as `set <jail> <opt>` lines.
fn ignored_in_stream(opt: &str) -> bool {
    matches!(opt, "action" | "filter" | "enabled") || FILTER_OPTS.iter().any(|(n, _)| *n == opt)
}

/// Server options (`fail2ban.conf` `[Definition]`, `[Thread]`).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerOptions {
    pub loglevel: String,
    pub logtarget: String,
    pub syslogsocket: String,
    pub socket: String,
    pub pidfile: String,
    pub allowipv6: String,
    pub dbfile: String,
    /// `None` when not set (the server default, 10, applies).
    pub dbmaxmatches: Option<i64>,
    pub dbpurgeage: String,
    pub stacksize: Option<i64>,
}

impl ServerOptions {
    /// `dbpurgeage` in seconds.
    pub fn dbpurgeage_secs(&self) -> Result<f64, crate::TimeError> {
        crate::parse_time(&self.dbpurgeage)
    }
}

/// One `logpath` line: the glob, `head` or `tail`, and the files it matched now.
#[derive(Debug, Clone, PartialEq)]
pub struct LogPath {
    pub pattern: String,
    /// `head` (default) or `tail`: where to start reading a file seen first.
    pub position: String,
    pub files: Vec<String>,
}

/// One action of a jail.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionSpec {
    /// File name under `action.d` (without `.conf`), or `NAME.py`.
    pub file: String,
    /// Unique name of the action within the jail.
    pub actname: String,
    /// Call arguments as written in the jail (`name[k=v]`).
    pub args: Vec<(String, String)>,
    /// For a Python action: the script path (bailiff cannot run it).
    pub python: Option<String>,
    /// Resolved hooks and properties, in fail2ban's order (hooks substituted; other
    /// properties as given; run-time tags such as `<ip>` left in place).
    pub properties: Vec<(String, Val)>,
}

impl ActionSpec {
    pub fn get(&self, key: &str) -> Option<&Val> {
        self.properties
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

/// `bantime.*` options.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BantimeIncrement {
    pub increment: bool,
    pub factor: Option<String>,
    pub formula: Option<String>,
    pub multipliers: Option<String>,
    pub maxtime: Option<String>,
    pub rndtime: Option<String>,
    pub overalljails: bool,
}

/// An enabled jail.
#[derive(Debug, Clone, PartialEq)]
pub struct JailSpec {
    pub name: String,
    pub backend: String,
    /// `filter = NAME[args]` as written (after interpolation).
    pub filter_spec: String,
    /// The filter with the jail's own filter options applied (a jail `failregex`
    /// replaces the filter's). `None` when the jail has no filter.
    pub filter: Option<FilterDef>,
    pub logpaths: Vec<LogPath>,
    pub actions: Vec<ActionSpec>,
    pub maxretry: i64,
    pub maxmatches: i64,
    /// Time strings as written; see [`crate::parse_time`].
    pub findtime: String,
    pub bantime: String,
    pub bantime_increment: BantimeIncrement,
    pub usedns: String,
    pub ignoreip: Vec<String>,
    pub ignoreself: bool,
    pub ignorecommand: Option<String>,
    pub ignorecache: Option<String>,
    pub logencoding: String,
    pub logtimezone: Option<String>,
    /// All recognised jail options, typed, in fail2ban's order.
    pub options: Vec<(String, Val)>,
    /// Where each option was written (file, line); filter options set in the filter
    /// file point there.
    pub origins: BTreeMap<String, (String, usize)>,
}

impl JailSpec {
    /// `findtime` in seconds.
    pub fn findtime_secs(&self) -> Result<f64, crate::TimeError> {
        crate::parse_time(&self.findtime)
    }

    /// `bantime` in seconds (negative: permanent).
    pub fn bantime_secs(&self) -> Result<f64, crate::TimeError> {
        crate::parse_time(&self.bantime)
    }

    /// A recognised option as fail2ban typed it.
    pub fn option(&self, name: &str) -> Option<&Val> {
        self.options.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// Log path globs that match no file (fail2ban refuses to start such a jail).
    pub fn missing_logs(&self) -> Vec<&str> {
        self.logpaths
            .iter()
            .filter(|l| l.files.is_empty())
            .map(|l| l.pattern.as_str())
            .collect()
    }
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub confdir: String,
    pub server: ServerOptions,
    pub jails: Vec<JailSpec>,
    /// Jails skipped because of a wrong definition (unknown filter or action, bad call
    /// syntax): jail name and the reason, as fail2ban reports them.
    pub skipped: Vec<(String, ConfigError)>,
    /// Non-fatal findings (missing log files, missing includes, ...).
    pub warnings: Vec<String>,
}

impl Config {
    /// The enabled jail called `name`.
    pub fn jail(&self, name: &str) -> Option<&JailSpec> {
        self.jails.iter().find(|j| j.name == name)
    }
}

/// Everything read, in the form both [`load`] and [`dump_stream`] need.
pub(crate) struct Reading {
    pub server: ServerOptions,
    pub general: Vec<Value>,
    pub jails: Vec<JailReading>,
    pub warnings: Vec<String>,
    pub missing_includes: Vec<(String, String)>,
}

pub(crate) enum JailReading {
    Ok(Box<JailSpec>, Vec<Value>),
    Skipped(String, ConfigError),
}

fn opt_get(
    cfg: &ConfigSet,
    section: &str,
    spec: &[(&str, OptType, Option<&str>)],
    vars: &Vars,
    should_exist: bool,
    file: &str,
) -> Result<OMap<Val>, ConfigError> {
    let mut out = OMap::new();
    for (name, t, default) in spec {
        if vars.contains_key(name) {
            continue;
        }
        match cfg.get(section, name, vars) {
            Ok(v) => {
                let val = convert(&v, *t);
                let val = match (&val, default) {
                    (Val::Null, Some(d)) => convert(d, *t),
                    _ => val,
                };
                out.insert(*name, val);
            }
            Err(GetError::NoSection(s)) => {
                if should_exist {
                    return Err(ConfigError::at(file, 0, &s, name, "no such section".into()));
                }
                out.insert(*name, default.map(|d| convert(d, *t)).unwrap_or(Val::Null));
            }
            Err(GetError::NoOption(..)) => {
                if let Some(d) = default {
                    out.insert(*name, convert(d, *t));
                }
            }
            Err(GetError::Interp(e)) => return Err(e),
        }
    }
    Ok(out)
}

fn as_vars(opts: &OMap<Val>) -> OMap<String> {
    opts.iter()
        .filter_map(|(k, v)| v.py_str().map(|s| (k.clone(), s)))
        .collect()
}

/// Python `shlex.split` (POSIX mode, no comments).
pub fn shlex_split(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(n) => cur.push(n),
                    None => return Err("No escaped character".into()),
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(n) => cur.push(n),
                        None => return Err("No closing quotation".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.peek() {
                            Some(&n) if n == '"' || n == '\\' => {
                                cur.push(n);
                                chars.next();
                            }
                            Some(_) => cur.push('\\'),
                            None => return Err("No closing quotation".into()),
                        },
                        Some(n) => cur.push(n),
                        None => return Err("No closing quotation".into()),
                    }
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// Append the filter-option commands of `opts` to `stream` (fail2ban's `_fillStream`).
fn fill_stream(
    stream: &mut Vec<Value>,
    opts: &OMap<Option<Val>>,
    jail: &str,
    file: &str,
) -> Result<(), ConfigError> {
    let mut prio = 0usize;
    for (opt, value) in opts.iter() {
        let Some(value) = value else { continue };
        if matches!(value, Val::Null) {
            continue;
        }
        let text = value.py_str().unwrap_or_default();
        match opt.as_str() {
            "failregex" | "ignoreregex" => {
                let multi: Vec<&str> = text.split('\n').filter(|l| !l.is_empty()).collect();
                if multi.len() > 1 {
                    stream.push(json!(["multi-set", jail, format!("add{opt}"), multi]));
                } else if let Some(one) = multi.first() {
                    stream.push(json!(["set", jail, format!("add{opt}"), one]));
                }
            }
            "usedns" | "maxlines" | "prefregex" => {
                let at = if opt == "usedns" { 0 } else { prio };
                let at = at.min(stream.len());
                stream.insert(at, json!(["set", jail, opt, value.to_json()]));
                prio += 1;
            }
            o if "datepattern".contains(o) => {
                stream.push(json!(["set", jail, opt, value.to_json()]));
            }
            "journalmatch" => {
                for m in text.split('\n').filter(|l| !l.is_empty()) {
                    let words = shlex_split(m).map_err(|e| {
                        ConfigError::at(file, 0, jail, "journalmatch", format!("{e} in {m:?}"))
                    })?;
                    let mut cmd = vec![json!("set"), json!(jail), json!("addjournalmatch")];
                    cmd.extend(words.into_iter().map(Value::String));
                    stream.push(Value::Array(cmd));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Python `json.dumps` of a string map (default separators, ASCII only).
fn py_json_dumps(m: &OMap<String>) -> String {
    fn esc(s: &str) -> String {
        let mut o = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => o.push_str("\\\""),
                '\\' => o.push_str("\\\\"),
                '\n' => o.push_str("\\n"),
                '\r' => o.push_str("\\r"),
                '\t' => o.push_str("\\t"),
                '\u{8}' => o.push_str("\\b"),
                '\u{c}' => o.push_str("\\f"),
                c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                    let mut buf = [0u16; 2];
                    for u in c.encode_utf16(&mut buf) {
                        o.push_str(&format!("\\u{:04x}", u));
                    }
                }
                c => o.push(c),
            }
        }
        o.push('"');
        o
    }
    let parts: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{}: {}", esc(k), esc(v)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

struct Reader<'l> {
    loader: &'l Loader,
    basedir: String,
    cache: HashMap<String, Option<Rc<ConfigSet>>>,
}

impl Reader<'_> {
    fn resource(&mut self, name: &str) -> Result<Option<Rc<ConfigSet>>, ConfigError> {
        if !self.cache.contains_key(name) {
            let set = ConfigSet::read_resource(self.loader, &self.basedir, name)?;
            self.cache.insert(name.to_string(), set.map(Rc::new));
        }
        Ok(self.cache.get(name).and_then(|s| s.clone()))
    }
}

fn server_options(
    reader: &mut Reader,
    file: &str,
) -> Result<(ServerOptions, Vec<Value>, Vec<String>), ConfigError> {
    let empty = ConfigSet::default();
    let cfg = reader
        .resource("fail2ban")?
        .map(|c| (*c).clone())
        .unwrap_or(empty);
    let mut warnings = Vec::new();
    let get = |opt: &str, default: Option<&str>| -> Result<Option<String>, ConfigError> {
        match cfg.get("Definition", opt, &Vars::new()) {
            Ok(v) => Ok(Some(v)),
            Err(GetError::Interp(e)) => Err(e),
            Err(_) => Ok(default.map(str::to_string)),
        }
    };
    let socket = get("socket", Some("/var/run/fail2ban/fail2ban.sock"))?.unwrap_or_default();
    let pidfile = get("pidfile", Some("/var/run/fail2ban/fail2ban.pid"))?.unwrap_or_default();
    let loglevel = get("loglevel", Some("INFO"))?.unwrap_or_default();
    let logtarget = get("logtarget", Some("/var/log/fail2ban.log"))?.unwrap_or_default();
    let syslogsocket = get("syslogsocket", Some("auto"))?.unwrap_or_default();
    let allowipv6 = get("allowipv6", Some("auto"))?.unwrap_or_default();
    let dbfile = get("dbfile", Some("/var/lib/fail2ban/fail2ban.sqlite3"))?.unwrap_or_default();
    let dbpurgeage = get("dbpurgeage", Some("1d"))?.unwrap_or_default();
    let valid_level = loglevel.chars().all(|c| c.is_ascii_digit()) && !loglevel.is_empty()
        || matches!(
            loglevel.to_uppercase().as_str(),
            "CRITICAL"
                | "FATAL"
                | "ERROR"
                | "WARNING"
                | "WARN"
                | "NOTICE"
                | "INFO"
                | "DEBUG"
                | "TRACEDEBUG"
                | "HEAVYDEBUG"
                | "MSG"
                | "NOTSET"
        );
    if !valid_level {
        let line = cfg.origin("Definition", "loglevel").map_or(0, |r| r.line);
        return Err(ConfigError::at(
            file,
            line,
            "Definition",
            "loglevel",
            format!("invalid log level {loglevel:?}"),
        ));
    }
    // without a [Definition] section fail2ban still sends `dbmaxmatches None`
    let dbmaxmatches = match cfg.get("Definition", "dbmaxmatches", &Vars::new()) {
        Ok(v) => Some(convert(&v, OptType::Int)),
        Err(GetError::NoSection(_)) => Some(Val::Null),
        Err(GetError::NoOption(..)) => None,
        Err(GetError::Interp(e)) => return Err(e),
    };
    if matches!(dbmaxmatches, Some(Val::Null)) {
        warnings.push(format!(
            "{file}: wrong int value for 'dbmaxmatches', using None"
        ));
    }
    let mut stacksize: Option<Option<Val>> = None;
    if cfg.has_section("Thread") {
        match cfg.get("Thread", "stacksize", &Vars::new()) {
            Ok(v) => stacksize = Some(Some(convert(&v, OptType::Int))),
            Err(GetError::Interp(e)) => return Err(e),
            Err(_) => {}
        }
    }
    let mut general = Vec::new();
    if let Some(Some(v)) = &stacksize {
        general.push(json!(["set", "thread", {"stacksize": v.to_json()}]));
    }
    general.push(json!(["set", "syslogsocket", syslogsocket]));
    general.push(json!(["set", "loglevel", loglevel]));
    general.push(json!(["set", "logtarget", logtarget]));
    general.push(json!(["set", "allowipv6", allowipv6]));
    general.push(json!(["set", "dbfile", dbfile]));
    if let Some(v) = &dbmaxmatches {
        general.push(json!(["set", "dbmaxmatches", v.to_json()]));
    }
    general.push(json!(["set", "dbpurgeage", dbpurgeage]));
    let as_int = |v: &Option<Val>| match v {
        Some(Val::Int(i)) => Some(*i),
        _ => None,
    };
    let server = ServerOptions {
        loglevel,
        logtarget,
        syslogsocket,
        socket,
        pidfile,
        allowipv6,
        dbfile,
        dbmaxmatches: as_int(&dbmaxmatches),
        dbpurgeage,
        stacksize: stacksize.and_then(|s| as_int(&s)),
    };
    Ok((server, general, warnings))
}

/// A jail-level definition error (the jail is skipped, others go on).
/// A jail definition error: the option it concerns (`filter`, `action`) and the message.
struct JailDefError(&'static str, String);

enum JailErr {
    Def(JailDefError),
    Hard(ConfigError),
}

impl From<ConfigError> for JailErr {
    fn from(e: ConfigError) -> Self {
        JailErr::Hard(e)
    }
}

fn read_jail(
    reader: &mut Reader,
    jailcfg: &mut ConfigSet,
    name: &str,
    jailfile: &str,
    warnings: &mut Vec<String>,
) -> Result<Option<(JailSpec, Vec<Value>)>, JailErr> {
    let basedir = reader.basedir.clone();
    jailcfg.merge_defaults(&[
        ("fail2ban_version", FAIL2BAN_VERSION),
        ("fail2ban_confpath", &basedir),
    ]);
    let opts1 = opt_get(jailcfg, name, JAIL_OPTS_FIRST, &Vars::new(), true, jailfile)?;
    if !matches!(opts1.get("enabled"), Some(Val::Bool(true))) {
        return Ok(None);
    }
    let backend1 = opts1
        .get("backend")
        .and_then(|v| v.py_str())
        .unwrap_or_default();
    let flt = opts1
        .get("filter")
        .and_then(|v| v.py_str())
        .unwrap_or_default();

    // the filter, read once with the first options
    let mut filter_cfg: Option<(String, String, Rc<ConfigSet>, OMap<String>)> = None;
    if !flt.is_empty() {
        let (fname, fargs) = extract_options(&flt).map_err(|e| {
            JailErr::Def(JailDefError(
                "filter",
                format!("Invalid filter definition {}: {e}", py_repr(&flt)),
            ))
        })?;
        let res = format!("filter.d/{fname}");
        let Some(fcfg) = reader.resource(&res)? else {
            return Err(JailErr::Def(JailDefError(
                "filter",
                format!("Unable to read the filter {}", py_repr(&fname)),
            )));
        };
        filter_cfg = Some((fname, res, fcfg, fargs));
    } else {
        warnings.push(format!("No filter set for jail {name}"));
    }

    let mut filter_reader: Option<(String, String, DefReader)> = None;
    if let Some((fname, res, fcfg, fargs)) = &filter_cfg {
        let mut fr = DefReader::new(
            fcfg.clone(),
            format!("{basedir}/{res}.conf"),
            FILTER_OPTS,
            fargs.clone(),
        );
        fr.apply_auto_options(&backend1);
        fr.get_options(&as_vars(&opts1), true)?;
        let comb = fr.combined(&[])?;
        let known: OMap<String> = fr
            .typed(&comb)
            .iter()
            .filter_map(|(k, v)| v.as_ref().and_then(|v| v.py_str()).map(|s| (k.clone(), s)))
            .collect();
        jailcfg.merge_section_prefixed(name, &known, "known/");
        filter_reader = Some((fname.clone(), res.clone(), fr));
    }

    let opts = opt_get(jailcfg, name, JAIL_OPTS, &Vars::new(), false, jailfile)?;
    let jvars = as_vars(&opts);
    let backend = opts
        .get("backend")
        .and_then(|v| v.py_str())
        .unwrap_or_else(|| "auto".into());

    // the filter again, with all jail options (converted after the actions are read)
    if let Some((_, _, fr)) = filter_reader.as_mut() {
        fr.get_options(&jvars, false)?;
    }

    // actions: read all first (a missing one skips the jail before anything is
    // converted), then convert
    enum Pending {
        Python(ActionSpec, Value),
        Conf {
            aname: String,
            actname: String,
            args: Vec<(String, String)>,
            reader: Box<DefReader>,
        },
    }
    let mut pending: Vec<Pending> = Vec::new();
    let action_value = opts
        .get("action")
        .and_then(|v| v.py_str())
        .unwrap_or_default();
    for item in split_with_options(&action_value) {
        let act = item.trim();
        if act.is_empty() {
            continue;
        }
        let (aname, mut aopts) = extract_options(act).map_err(|e| {
            JailErr::Def(JailDefError(
                "action",
                format!("Invalid action definition {}: {e}", py_repr(act)),
            ))
        })?;
        let call_args: Vec<(String, String)> =
            aopts.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        if aname.ends_with(".py") {
            let actname = aopts
                .remove("actname")
                .unwrap_or_else(|| strip_ext(&aname).to_string());
            let path = path_join(&path_join(&basedir, "action.d"), &aname);
            let js = py_json_dumps(&aopts);
            let cmd = json!(["set", name, "addaction", actname, path, js]);
            pending.push(Pending::Python(
                ActionSpec {
                    file: aname.clone(),
                    actname,
                    args: call_args,
                    python: Some(path),
                    properties: aopts
                        .iter()
                        .map(|(k, v)| (k.clone(), Val::Str(v.clone())))
                        .collect(),
                },
                cmd,
            ));
            continue;
        }
        // name and actname defaults
        let n = match aopts.get("name") {
            Some(n) => n.clone(),
            None => {
                aopts.insert("name", name.to_string());
                name.to_string()
            }
        };
        let actname = match aopts.get("actname") {
            Some(a) => a.clone(),
            None => {
                let mut a = aname.clone();
                if n != name {
                    match n.strip_prefix(name) {
                        Some(rest) => a.push_str(rest),
                        None => {
                            a.push('-');
                            a.push_str(&n);
                        }
                    }
                }
                aopts.insert("actname", a.clone());
                a
            }
        };
        let res = format!("action.d/{aname}");
        let Some(acfg) = reader.resource(&res)? else {
            return Err(JailErr::Def(JailDefError(
                "action",
                format!("Unable to read action {}", py_repr(&aname)),
            )));
        };
        let mut ar = DefReader::new(acfg, format!("{basedir}/{res}.conf"), ACTION_OPTS, aopts);
        ar.get_options(&jvars, false).map_err(|mut e| {
            e.message = format!("Error in action definition {}: {}", py_repr(act), e.message);
            JailErr::Hard(e)
        })?;
        pending.push(Pending::Conf {
            aname,
            actname,
            args: call_args,
            reader: Box::new(ar),
        });
    }

    // convert: the filter, the jail's own filter options
    let mut stream: Vec<Value> = Vec::new();
    let mut filter_def_out: Option<FilterDef> = None;
    if let Some((fname, res, fr)) = filter_reader.as_mut() {
        let comb = fr.combined(&[])?;
        let typed = fr.typed(&comb);
        fill_stream(&mut stream, &typed, name, res.as_str())?;
        // the effective filter: jail's filter options replace the filter's
        let mut eff = comb.clone();
        for (k, _) in FILTER_OPTS {
            if let Some(v) = opts.get(k) {
                eff.insert(*k, v.py_str());
            }
        }
        filter_def_out = Some(filter_def(fname, &eff));
    }
    let jail_typed: OMap<Option<Val>> = opts
        .iter()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    fill_stream(&mut stream, &jail_typed, name, jailfile)?;

    let mut actions: Vec<ActionSpec> = Vec::new();
    let mut action_streams: Vec<Value> = Vec::new();
    for p in pending {
        let (aname, actname, call_args, ar) = match p {
            Pending::Python(spec, cmd) => {
                action_streams.push(cmd);
                actions.push(spec);
                continue;
            }
            Pending::Conf {
                aname,
                actname,
                args,
                reader,
            } => (aname, actname, args, reader),
        };
        let comb = ar.combined(ACTION_RUNTIME_TAGS).map_err(|mut e| {
            e.message = format!("Error in action {}: {}", py_repr(&aname), e.message);
            JailErr::Hard(e)
        })?;
        let typed = ar.typed(&comb);
        let mut multi: Vec<(String, Val)> = Vec::new();
        for (k, v) in typed.iter() {
            if ACTION_OPTS.iter().any(|(n, _)| n == k) && !k.starts_with("known/") {
                multi.push((k.clone(), v.clone().unwrap_or(Val::Null)));
            }
        }
        for (k, v) in ar.init_opts.iter() {
            if !ACTION_OPTS.iter().any(|(n, _)| n == k) && !k.starts_with("known/") {
                multi.push((k.clone(), Val::Str(v.clone())));
            }
        }
        action_streams.push(json!(["set", name, "addaction", actname]));
        if multi.len() > 1 {
            let list: Vec<Value> = multi.iter().map(|(k, v)| json!([k, v.to_json()])).collect();
            action_streams.push(json!(["multi-set", name, "action", actname, list]));
        } else if let Some((k, v)) = multi.first() {
            action_streams.push(json!(["set", name, "action", actname, k, v.to_json()]));
        }
        actions.push(ActionSpec {
            file: aname,
            actname,
            args: call_args,
            python: None,
            properties: multi,
        });
    }
    if actions.is_empty() {
        warnings.push(format!("No actions were defined for {name}"));
    }

    // jail options and log paths
    let mut logpaths = Vec::new();
    let mut stream2 = Vec::new();
    for (opt, value) in opts.iter() {
        match opt.as_str() {
            "logpath" => {
                let text = value.py_str().unwrap_or_default();
                let systemd = backend.starts_with("systemd");
                for line in text.split('\n') {
                    let (path, pos) = match line.rsplit_once(' ') {
                        Some((p, t)) => (p, t),
                        None => (line, "head"),
                    };
                    let files: Vec<String> = if systemd {
                        Vec::new()
                    } else {
                        reader
                            .loader
                            .glob(path)
                            .into_iter()
                            .filter(|p| {
                                let ok = reader.loader.exists(p);
                                if !ok {
                                    warnings.push(format!(
                                        "File {p} is a dangling link, thus cannot be monitored"
                                    ));
                                }
                                ok
                            })
                            .collect()
                    };
                    if !systemd {
                        for f in &files {
                            stream2.push(json!(["set", name, "addlogpath", f, pos]));
                        }
                    }
                    logpaths.push(LogPath {
                        pattern: path.to_string(),
                        position: pos.to_string(),
                        files,
                    });
                }
                if !systemd && logpaths.iter().all(|l| l.files.is_empty()) {
                    warnings.push(format!("Have not found any log file for {name} jail"));
                }
            }
            "backend" => {}
            "ignoreip" => {
                let mut cmd = vec![json!("set"), json!(name), json!("addignoreip")];
                cmd.extend(
                    splitwords(&value.py_str().unwrap_or_default())
                        .into_iter()
                        .map(Value::String),
                );
                stream.push(Value::Array(cmd));
            }
            o if !ignored_in_stream(o) => {
                stream.push(json!(["set", name, opt, value.to_json()]));
            }
            _ => {}
        }
    }
    stream.extend(stream2);
    stream.extend(action_streams);
    stream.insert(0, json!(["add", name, backend]));

    let mut origins = BTreeMap::new();
    if let Some((_, _, fcfg, _)) = &filter_cfg {
        for (k, _) in FILTER_OPTS {
            if let Some(r) = fcfg.origin("Definition", k) {
                origins.insert(k.to_string(), (r.file.to_string(), r.line));
            }
        }
    }
    for (k, _) in opts.iter() {
        if let Some(r) = jailcfg.origin(name, k) {
            if r.line > 0 {
                origins.insert(k.clone(), (r.file.to_string(), r.line));
            }
        }
    }
    let s = |k: &str| opts.get(k).and_then(|v| v.py_str());
    let b = |k: &str, d: bool| match opts.get(k) {
        Some(Val::Bool(x)) => *x,
        _ => d,
    };
    let i = |k: &str| match opts.get(k) {
        Some(Val::Int(x)) => Some(*x),
        _ => None,
    };
    let maxretry = i("maxretry").unwrap_or(3);
    let spec = JailSpec {
        name: name.to_string(),
        backend: backend.clone(),
        filter_spec: flt,
        filter: filter_def_out,
        logpaths,
        actions,
        maxretry,
        maxmatches: i("maxmatches").unwrap_or(maxretry),
        findtime: s("findtime").unwrap_or_else(|| "600".into()),
        bantime: s("bantime").unwrap_or_else(|| "600".into()),
        bantime_increment: BantimeIncrement {
            increment: b("bantime.increment", false),
            factor: s("bantime.factor"),
            formula: s("bantime.formula"),
            multipliers: s("bantime.multipliers"),
            maxtime: s("bantime.maxtime"),
            rndtime: s("bantime.rndtime"),
            overalljails: b("bantime.overalljails", false),
        },
        usedns: s("usedns").unwrap_or_else(|| "warn".into()),
        ignoreip: splitwords(&s("ignoreip").unwrap_or_default()),
        ignoreself: b("ignoreself", true),
        ignorecommand: s("ignorecommand").filter(|c| !c.is_empty()),
        ignorecache: s("ignorecache").filter(|c| !c.is_empty()),
        logencoding: s("logencoding").unwrap_or_else(|| "auto".into()),
        logtimezone: s("logtimezone").filter(|c| !c.is_empty()),
        options: opts.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        origins,
    };
    Ok(Some((spec, stream)))
}

/// Python `repr()` of a string.
pub fn py_repr(s: &str) -> String {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut o = String::new();
    o.push(q);
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if c == q => {
                o.push('\\');
                o.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                o.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => o.push(c),
        }
    }
    o.push(q);
    o
}

/// Split on commas, spaces and newlines, dropping empty words.
pub fn splitwords(s: &str) -> Vec<String> {
    s.split([' ', ',', '\n'])
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

pub(crate) fn read_all(loader: &Loader, confdir: &Path) -> Result<Reading, ConfigError> {
    read_all_with(loader, confdir, None)
}

/// [`read_all`]; with `collect`, a jail-level hard error is recorded there and the
/// other jails are still read.
pub(crate) fn read_all_with(
    loader: &Loader,
    confdir: &Path,
    mut collect: Option<&mut Vec<ConfigError>>,
) -> Result<Reading, ConfigError> {
    let basedir = confdir.to_string_lossy().trim_end_matches('/').to_string();
    let basedir = if basedir.is_empty() {
        "/".to_string()
    } else {
        basedir
    };
    if !loader.exists(&basedir) {
        return Err(ConfigError::at(
            &basedir,
            0,
            "",
            "",
            "base configuration directory does not exist".into(),
        ));
    }
    let mut reader = Reader {
        loader,
        basedir: basedir.clone(),
        cache: HashMap::new(),
    };
    let f2b_file = format!("{basedir}/fail2ban.conf");
    let (server, general, mut warnings) = server_options(&mut reader, &f2b_file)?;
    let mut missing_includes = Vec::new();
    if let Some(c) = reader.cache.get("fail2ban").and_then(|c| c.as_ref()) {
        missing_includes.extend(c.missing_includes.iter().cloned());
    }
    let jailfile = format!("{basedir}/jail.conf");
    let mut jails = Vec::new();
    let jailcfg = ConfigSet::read_resource(loader, &basedir, "jail")?;
    if let Some(mut jailcfg) = jailcfg {
        missing_includes.extend(jailcfg.missing_includes.iter().cloned());
        let sections: Vec<String> = jailcfg
            .user_sections()
            .filter(|s| s.as_str() != "INCLUDES")
            .cloned()
            .collect();
        for sec in sections {
            match read_jail(&mut reader, &mut jailcfg, &sec, &jailfile, &mut warnings) {
                Ok(None) => {}
                Ok(Some((spec, stream))) => jails.push(JailReading::Ok(Box::new(spec), stream)),
                Err(JailErr::Def(JailDefError(opt, msg))) => {
                    let sect = jailcfg.sections.get(&sec);
                    let line = sect
                        .and_then(|s| s.get(opt))
                        .or_else(|| sect.and_then(|s| s.get("enabled")));
                    let (file, line) =
                        line.map_or((jailfile.clone(), 0), |r| (r.file.to_string(), r.line));
                    jails.push(JailReading::Skipped(
                        sec.clone(),
                        ConfigError::at(&file, line, &sec, opt, msg),
                    ))
                }
                Err(JailErr::Hard(mut e)) => {
                    if e.section.is_empty() {
                        e.section = sec.clone();
                    }
                    match collect.as_deref_mut() {
                        Some(c) => c.push(e),
                        None => return Err(e),
                    }
                }
            }
        }
    } else {
        warnings.push(format!("no jail configuration found under {basedir}"));
    }
    for c in reader.cache.values().flatten() {
        missing_includes.extend(c.missing_includes.iter().cloned());
    }
    missing_includes.sort();
    missing_includes.dedup();
    Ok(Reading {
        server,
        general,
        jails,
        warnings,
        missing_includes,
    })
}

/// Read the whole configuration under `confdir` (`/etc/fail2ban`): server options and
/// the enabled jails. A jail whose filter or action cannot be found is listed in
/// [`Config::skipped`]; errors that make fail2ban reject the whole configuration
/// (syntax, interpolation) are returned as `Err`.
///
/// `confdir` may also be a [`ConfSource::to_path`] form (`<embedded>`,
/// `<embedded>+/etc/bailiff`); [`Config::confdir`] keeps it as given.
pub fn load(confdir: &Path) -> Result<Config, ConfigError> {
    load_source(&ConfSource::from_path(confdir))
}

/// [`load`] from a [`ConfSource`] (see [`crate::resolve_confdir`]): a directory, the
/// embedded default with a directory over it, or the embedded default alone.
pub fn load_source(src: &ConfSource) -> Result<Config, ConfigError> {
    let mut cfg = load_with(&src.loader(), &src.root())?;
    cfg.confdir = src.to_path().to_string_lossy().to_string();
    Ok(cfg)
}

/// [`load`] through a given [`Loader`].
pub fn load_with(loader: &Loader, confdir: &Path) -> Result<Config, ConfigError> {
    let r = read_all(loader, confdir)?;
    let mut jails = Vec::new();
    let mut skipped = Vec::new();
    for j in r.jails {
        match j {
            JailReading::Ok(spec, _) => jails.push(*spec),
            JailReading::Skipped(n, e) => skipped.push((n, e)),
        }
    }
    let mut warnings = r.warnings;
    // A missing `.local` include is the normal case (they are optional overrides,
    // e.g. `paths-overrides.local`): fail2ban skips it silently, and so do we. A
    // missing `.conf` include is worth a warning (`check` reports it as an error).
    for (from, missing) in r.missing_includes {
        if !missing.ends_with(".local") {
            warnings.push(format!("{from}: included file {missing} does not exist"));
        }
    }
    Ok(Config {
        confdir: confdir.to_string_lossy().to_string(),
        server: r.server,
        jails,
        skipped,
        warnings,
    })
}

/// The command stream `fail2ban-client -d -c CONFDIR` prints, one JSON array per
/// line (Python `True`/`False`/`None` become JSON booleans/null).
/// `confdir` may also be a [`ConfSource::to_path`] form.
pub fn dump_stream(confdir: &Path) -> Result<Vec<Value>, ConfigError> {
    dump_stream_source(&ConfSource::from_path(confdir))
}

/// [`dump_stream`] from a [`ConfSource`].
pub fn dump_stream_source(src: &ConfSource) -> Result<Vec<Value>, ConfigError> {
    dump_stream_with(&src.loader(), &src.root())
}

/// [`dump_stream`] through a given [`Loader`].
pub fn dump_stream_with(loader: &Loader, confdir: &Path) -> Result<Vec<Value>, ConfigError> {
    let r = read_all(loader, confdir)?;
    let mut out = r.general;
    let mut started = Vec::new();
    for j in &r.jails {
        match j {
            JailReading::Ok(spec, stream) => {
                out.extend(stream.iter().cloned());
                started.push(spec.name.clone());
            }
            JailReading::Skipped(n, e) => out.push(json!([
                "config-error",
                format!(
                    "Jail '{n}' skipped, because of wrong configuration: {}",
                    e.message
                )
            ])),
        }
    }
    for n in started {
        out.push(json!(["start", n]));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shlex_like_python() {
        assert_eq!(
            shlex_split(r#"_SYSTEMD_UNIT=sshd.service + "_COMM=a b" 'x\y' a\ b"#).unwrap(),
            vec![
                "_SYSTEMD_UNIT=sshd.service",
                "+",
                "_COMM=a b",
                "x\\y",
                "a b"
            ]
        );
        assert!(shlex_split("\"open").is_err());
    }

    #[test]
    fn python_json() {
        let m: OMap<String> = [("a".to_string(), "x\"é".to_string())]
            .into_iter()
            .collect();
        assert_eq!(py_json_dumps(&m), r#"{"a": "x\"\u00e9"}"#);
    }
}
