//! The sample-log harness shared by the compat suite (stock filters) and the library suite
//! (bailiff's own `config/filter.d`): reads `# failJSON:` logs the way fail2ban's
//! `samplestestcase` does and checks every line against a filter built by bailiff-config
//! and bailiff-filter.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use bailiff_filter::{Failure, FailureKind, Filter, FilterConfig, UseDns, Zone};
use serde_json::Value;

pub const FILTER_D: &str = "/etc/fail2ban/filter.d";
pub const F2B_TESTS: &str = "/usr/lib/python3/dist-packages/fail2ban/tests";
pub const TEST_NOW: f64 = 1_124_013_600.0;
pub const TZ: &str = "CET-01CEST-02,M3.5.0,M10.5.0";

/// `filter.d` with the stock filters and the test-only `zzz-*` filters, their
/// `common.conf` include pointed at the copy beside them; then the `*.conf` files of
/// `overlay` (if any) copied over them.
pub fn build_confdir(root: &Path, overlay: Option<&Path>) -> PathBuf {
    let fd = root.join("filter.d");
    copy_dir(Path::new(FILTER_D), &fd);
    let tdir = Path::new(F2B_TESTS).join("config/filter.d");
    for e in std::fs::read_dir(&tdir).expect("test filter.d") {
        let p = e.expect("entry").path();
        let n = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        if n.starts_with("zzz-") && n.ends_with(".conf") {
            let text = std::fs::read_to_string(&p).expect("read zzz filter");
            let fixed: String = text
                .lines()
                .map(|l| {
                    let t = l.trim_start();
                    if t.starts_with("before") && t.contains("common.conf") {
                        "before = common.conf".to_string()
                    } else {
                        l.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
            std::fs::write(fd.join(&n), fixed).expect("write zzz filter");
        }
    }
    if let Some(dir) = overlay {
        for e in std::fs::read_dir(dir).expect("overlay filter.d") {
            let p = e.expect("entry").path();
            if p.extension().is_some_and(|x| x == "conf") {
                if let Some(n) = p.file_name() {
                    std::fs::copy(&p, fd.join(n)).expect("copy overlay filter");
                }
            }
        }
    }
    root.to_path_buf()
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let p = e.path();
        let dest = to.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).expect("copy");
        }
    }
}

/// The `name == '...'` / `opts.get('k') == '...'` expressions the sample logs use.
pub fn eval_cond(expr: &str, name: &str, opts: &BTreeMap<String, Value>) -> bool {
    let (lhs, rhs, eq) = if let Some((l, r)) = expr.split_once("==") {
        (l, r, true)
    } else if let Some((l, r)) = expr.split_once("!=") {
        (l, r, false)
    } else {
        panic!("unsupported condition {expr:?}");
    };
    let lit = |s: &str| {
        let s = s.trim();
        s.trim_matches(|c| c == '\'' || c == '"').to_string()
    };
    let lhs = lhs.trim();
    let left: Option<String> = if lhs == "name" {
        Some(name.to_string())
    } else if let Some(k) = lhs
        .strip_prefix("opts.get(")
        .and_then(|r| r.strip_suffix(')'))
    {
        opts.get(&lit(k))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    } else {
        panic!("unsupported condition {expr:?}");
    };
    (left.as_deref() == Some(lit(rhs).as_str())) == eq
}

pub fn local_to_unix(t: &str) -> f64 {
    let tz = jiff::tz::TimeZone::posix(TZ).expect("posix tz");
    let (whole, frac) = match t.split_once('.') {
        Some((w, f)) => (w, format!("0.{f}").parse::<f64>().unwrap_or(0.0)),
        None => (t, 0.0),
    };
    // strptime("%Y-%m-%dT%H:%M:%S") also takes one-digit fields.
    let nums: Vec<i64> = whole
        .split(['-', 'T', ':'])
        .map(|n| n.parse().expect("failJSON time field"))
        .collect();
    assert_eq!(nums.len(), 6, "failJSON time {t:?}");
    let dt = jiff::civil::date(nums[0] as i16, nums[1] as i8, nums[2] as i8).at(
        nums[3] as i8,
        nums[4] as i8,
        nums[5] as i8,
        0,
    );
    let z = dt.to_zoned(tz).expect("zoned");
    z.timestamp().as_second() as f64 + frac
}

pub struct Instance {
    filter: Filter,
    used: BTreeSet<usize>,
    regexes: Vec<String>,
}

pub struct Suite {
    confdir: PathBuf,
    pub checks: usize,
    /// Lines evaluated, over all option sets (the rest are per-regex checks).
    pub line_checks: usize,
    pub failures: Vec<String>,
    /// Sample lines reported ambiguous instead of matched, all listed in
    /// [`KNOWN_AMBIGUOUS`] (the only place bailiff and fail2ban may differ).
    pub ambiguous: Vec<String>,
    zone: Zone,
    real_year: i32,
    wrong_greed: pcre2::bytes::Regex,
}

/// fail2ban's own injection samples that the regex can read with two addresses, so
/// bailiff reports them ambiguous and bans nobody (fail2ban guesses, and these samples
/// record its guess). Each entry: (sample file, line number, why).
pub const KNOWN_AMBIGUOUS: &[(&str, usize, &str)] = &[
    (
        "pam-generic",
        23,
        "`ruser=(?:\\S*|.*?) rhost=<HOST>(?:\\s+user=(?:\\S*|.*?))?$`: a user field holding \
         ` rhost=ADDR` reads either address as the host",
    ),
    (
        "roundcube-auth",
        15,
        "`for .* from <HOST>(?:\\. (?:(?! from ).)* in ...)?$`: `from 127.0.0.1. from 1.2.3.4.` \
         reads either address (the lookahead only refuses ` from `)",
    ),
    (
        "sshd",
        144,
        "`Failed password for invalid user test from 127.0.0.1 port 58946 ssh2: from \
         10.10.1.2 port 55555 ssh2`: fail2ban reads an injected auth-info, but the client at \
         10.10.1.2 writes the same line with the invalid user name `test from 127.0.0.1 port \
         58946 ssh2:` (the ambiguity probe lets a user name hold any text)",
    ),
    ("sshd-journal", 145, "the journal form of sshd:144"),
];

pub fn same_host(fid: &str, want: &str) -> bool {
    if fid == want {
        return true;
    }
    let norm = |s: &str| {
        s.trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .ok()
            .map(|a| a.to_canonical())
    };
    matches!((norm(fid), norm(want)), (Some(a), Some(b)) if a == b)
}

pub fn sorted_json(v: &Value) -> Vec<String> {
    let mut items: Vec<String> = match v {
        Value::Array(a) => a.iter().map(|x| x.to_string()).collect(),
        Value::Object(o) => o.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        other => vec![other.to_string()],
    };
    items.sort();
    items
}

/// Compare one found failure with the failJSON expectation, as samplestestcase does.
pub fn check_fields(f: &Failure, want: &serde_json::Map<String, Value>) -> Result<(), String> {
    for (k, v) in want {
        if matches!(k.as_str(), "time" | "match" | "desc" | "constraint") {
            continue;
        }
        let mut got = f.data.get(k).cloned().filter(|x| !x.is_null());
        if got.is_none() {
            if k == "host" {
                got = Some(Value::String(f.fid.clone()));
            } else if k == "attempts" {
                got = Some(Value::from(f.matches.len()));
            }
        }
        let ok = match (&got, v) {
            (None, Value::Null) => true,
            (None, _) => false,
            (Some(g), _) if k == "host" => match (g.as_str(), v.as_str()) {
                (Some(a), Some(b)) => same_host(a, b),
                _ => g == v,
            },
            (Some(g @ Value::Array(_)), _) | (Some(g @ Value::Object(_)), _) => {
                sorted_json(g) == sorted_json(v)
            }
            (Some(g), _) => g == v,
        };
        if !ok {
            return Err(format!("{k}: got {got:?}, want {v}"));
        }
    }
    if let Some(t) = want.get("time").and_then(|t| t.as_str()) {
        let wt = local_to_unix(t);
        if f.time != wt {
            return Err(format!("time: got {}, want {wt} ({t})", f.time));
        }
    }
    Ok(())
}

impl Suite {
    /// A suite reading filters from `confdir/filter.d`, in the system zone (set `TZ`
    /// first), with `%ExY` following the wall clock as in fail2ban.
    pub fn new(confdir: PathBuf) -> Suite {
        Suite {
            confdir,
            checks: 0,
            line_checks: 0,
            failures: Vec::new(),
            ambiguous: Vec::new(),
            zone: Zone::system(),
            wrong_greed: wrong_greed(),
            real_year: bailiff_filter::civil_year(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64()),
            ),
        }
    }

    fn read_filter(&self, name: &str, opts: &BTreeMap<String, Value>) -> Result<Instance, String> {
        let args: Vec<(String, String)> = opts
            .iter()
            .map(|(k, v)| {
                let s = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                (k.clone(), s)
            })
            .collect();
        let def = bailiff_config::read_filter(&self.confdir, name, &args)
            .map_err(|e| format!("read_filter {name} {args:?}: {e}"))?;
        let cfg = FilterConfig {
            prefregex: def.prefregex.clone(),
            failregex: def.failregex.clone(),
            ignoreregex: def.ignoreregex.clone(),
            maxlines: def.maxlines.unwrap_or(1),
            datepattern: def.datepattern.clone(),
            usedns: UseDns::Warn,
            check_all: true,
            raw_host: true,
            // fail2ban's `%ExY` follows the wall clock, not the frozen test time.
            reference_year: Some(self.real_year),
            ..FilterConfig::default()
        };
        let filter = Filter::new(&cfg, self.zone.clone(), TEST_NOW)
            .map_err(|e| format!("filter {name} {args:?}: {e}"))?;
        let regexes = filter
            .failregex_expanded()
            .iter()
            .map(|s| s.to_string())
            .collect();
        Ok(Instance {
            filter,
            used: BTreeSet::new(),
            regexes,
        })
    }

    fn fail(&mut self, msg: String) {
        self.failures.push(msg);
    }

    /// One filter's test: its log in fail2ban's sample logs plus `# addFILE:` logs.
    pub fn run_filter(&mut self, name: &str) {
        let logs = Path::new(F2B_TESTS).join("files/logs");
        self.run_filter_logs(name, &[(logs, name.to_string())]);
    }

    /// One filter's test over several sample logs, each `(directory, file)` read with its
    /// own option sets (and its `# addFILE:` logs from the same directory). "Regex has no
    /// samples" is judged over all of them together.
    pub fn run_filter_logs(&mut self, name: &str, sources: &[(PathBuf, String)]) {
        let mut instances: HashMap<String, Instance> = HashMap::new();
        let mut used_re: BTreeSet<String> = BTreeSet::new();
        for (logs, first) in sources {
            if !self.run_filter_source(name, logs, first, &mut instances, &mut used_re) {
                // A missing log or a filter that does not load: reported, no regex checks.
                return;
            }
        }
        self.check_regexes(&instances, &used_re);
    }

    fn run_filter_source(
        &mut self,
        name: &str,
        logs: &Path,
        first: &str,
        instances: &mut HashMap<String, Instance>,
        used_re: &mut BTreeSet<String>,
    ) -> bool {
        // Current option sets: (instance key, options).
        let mut sets: Option<Vec<(String, BTreeMap<String, Value>)>> = None;
        let mut common: BTreeMap<String, Value> = BTreeMap::new();
        let mut files = vec![first.to_string()];
        let mut i = 0;
        while i < files.len() {
            let file = files[i].clone();
            i += 1;
            let bytes = match std::fs::read(logs.join(&file)) {
                Ok(b) => b,
                Err(e) => {
                    self.fail(format!("{name}: no sample log {file}: {e}"));
                    return false;
                }
            };
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.split_inclusive('\n').collect();
            let mut ignore_block = false;
            let mut k = 0;
            while k < lines.len() {
                let lnnum = k + 1;
                let raw = lines[k];
                k += 1;
                let hdr = raw.trim_end_matches(['\r', '\n']);
                let mut faildata: serde_json::Map<String, Value> = serde_json::Map::new();
                let header = hdr
                    .strip_prefix('#')
                    .map(|r| r.trim_start_matches('#'))
                    .map(|r| r.strip_prefix(' ').unwrap_or(r))
                    .and_then(|r| {
                        ["failJSON", "fileOptions", "filterOptions", "addFILE"]
                            .iter()
                            .find_map(|kw| {
                                r.strip_prefix(kw)
                                    .and_then(|r| r.strip_prefix(':'))
                                    .filter(|p| !p.is_empty())
                                    .map(|p| (*kw, p))
                            })
                    });
                let line: &str;
                if let Some((kw, payload)) = header {
                    let json: Value = match serde_json::from_str(payload) {
                        Ok(j) => j,
                        Err(e) => {
                            self.fail(format!("{file}:{lnnum}: bad JSON: {e}"));
                            continue;
                        }
                    };
                    match kw {
                        "fileOptions" => {
                            common = json
                                .as_object()
                                .map(|o| o.clone().into_iter().collect())
                                .unwrap_or_default();
                            continue;
                        }
                        "filterOptions" => {
                            let mut new_sets = Vec::new();
                            ignore_block = false;
                            let list = match json {
                                Value::Array(a) => a,
                                other => vec![other],
                            };
                            for fo in list {
                                let mut opts = common.clone();
                                if let Some(o) = fo.as_object() {
                                    for (a, b) in o {
                                        opts.insert(a.clone(), b.clone());
                                    }
                                }
                                if let Some(c) = opts.get("test.condition").and_then(|c| c.as_str())
                                {
                                    ignore_block = !eval_cond(c, name, &opts);
                                }
                                if !ignore_block {
                                    let flt: BTreeMap<String, Value> = opts
                                        .iter()
                                        .filter(|(a, _)| !a.starts_with("test."))
                                        .map(|(a, b)| (a.clone(), b.clone()))
                                        .collect();
                                    let key =
                                        match opts.get("test.filter-name").and_then(|v| v.as_str())
                                        {
                                            Some(n) => format!("{name}{n}"),
                                            None if flt.is_empty() => name.to_string(),
                                            None => format!(
                                                "{name}{}",
                                                serde_json::to_string(&flt).unwrap_or_default()
                                            ),
                                        };
                                    if !instances.contains_key(&key) {
                                        match self.read_filter(name, &flt) {
                                            Ok(inst) => {
                                                instances.insert(key.clone(), inst);
                                            }
                                            Err(e) => {
                                                self.fail(format!("{name}: {e}"));
                                                continue;
                                            }
                                        }
                                    }
                                    new_sets.push((key, opts));
                                }
                            }
                            sets = Some(new_sets);
                            continue;
                        }
                        "addFILE" => {
                            if let Some(f) = json.as_str() {
                                files.push(f.to_string());
                            }
                            continue;
                        }
                        _ => {
                            faildata = json.as_object().cloned().unwrap_or_default();
                            if k >= lines.len() {
                                break;
                            }
                            line = lines[k];
                            k += 1;
                        }
                    }
                } else if ignore_block || raw.starts_with('#') || raw.trim().is_empty() {
                    continue;
                } else {
                    line = raw;
                }
                if ignore_block {
                    continue;
                }
                if sets.as_ref().is_none_or(|s| s.is_empty()) {
                    if !instances.contains_key(name) {
                        match self.read_filter(name, &BTreeMap::new()) {
                            Ok(inst) => {
                                instances.insert(name.to_string(), inst);
                            }
                            Err(e) => {
                                self.fail(format!("{name}: {e}"));
                                return false;
                            }
                        }
                    }
                    sets = Some(vec![(name.to_string(), BTreeMap::new())]);
                }
                let line = line.trim_end_matches(['\r', '\n']);
                let want_match = faildata
                    .get("match")
                    .and_then(|m| m.as_bool())
                    .unwrap_or(false);
                for (key, opts) in sets.clone().unwrap_or_default() {
                    if let Some(c) = faildata.get("constraint").and_then(|c| c.as_str()) {
                        if !eval_cond(c, name, &opts) {
                            continue;
                        }
                    }
                    let Some(inst) = instances.get_mut(&key) else {
                        continue;
                    };
                    self.checks += 1;
                    self.line_checks += 1;
                    let journal = opts.get("logtype").and_then(|v| v.as_str()) == Some("journal");
                    let res = if journal {
                        let prefix = opts
                            .get("test.prefix-line")
                            .and_then(|v| v.as_str())
                            .unwrap_or("");
                        inst.filter
                            .process_entry(&format!("{prefix}{line}"), TEST_NOW, TEST_NOW)
                    } else {
                        inst.filter.process_line(line, TEST_NOW)
                    };
                    let mut found = Vec::new();
                    for f in &res.failures {
                        if f.pending || f.kind == FailureKind::NoFail {
                            inst.used.insert(f.regex);
                            if let Some(r) = inst.regexes.get(f.regex) {
                                used_re.insert(r.clone());
                            }
                            continue;
                        }
                        found.push(f);
                    }
                    let where_ = format!("{key}: {file}:{}: {line}", k);
                    let want_host = faildata.get("host").and_then(|h| h.as_str());
                    let known = KNOWN_AMBIGUOUS
                        .iter()
                        .any(|(f, n, _)| *f == file && *n == k);
                    let err = if found.is_empty()
                        && want_match
                        && known
                        && res.ambiguous.iter().any(|a| {
                            want_host.is_some_and(|h| a.candidates.iter().any(|c| same_host(c, h)))
                        }) {
                        self.ambiguous.push(format!("{key}: {file}:{k}"));
                        None
                    } else if found.is_empty() {
                        want_match.then(|| "Line not matched when should have".to_string())
                    } else if !want_match {
                        Some(format!(
                            "Line matched when shouldn't have (regex {})",
                            found[0].regex
                        ))
                    } else if found.len() != 1 {
                        Some(format!(
                            "Multiple regexs matched {:?}",
                            found.iter().map(|f| f.regex).collect::<Vec<_>>()
                        ))
                    } else {
                        check_fields(found[0], &faildata).err()
                    };
                    for f in &found {
                        inst.used.insert(f.regex);
                        if let Some(r) = inst.regexes.get(f.regex) {
                            used_re.insert(r.clone());
                        }
                    }
                    if !res.errors.is_empty() {
                        self.fail(format!("{where_}\n    regex errors: {:?}", res.errors));
                    }
                    if let Some(e) = err {
                        let got: Vec<String> = found
                            .iter()
                            .map(|f| format!("#{} {} t={} {:?}", f.regex, f.fid, f.time, f.data))
                            .collect();
                        let date = res
                            .date
                            .as_ref()
                            .map(|d| (line.get(d.start..d.end).unwrap_or("?").to_string(), d.time));
                        self.fail(format!(
                            "{where_}\n    {e}\n    failJSON: {}\n    found: {got:?}\n    date: {date:?}\n    ambiguous: {:?}",
                            Value::Object(faildata.clone()),
                            res.ambiguous
                        ));
                    }
                }
            }
        }
        true
    }

    /// samplestestcase's per-regex checks: every failregex had a sample, and none has a
    /// greedy catch-all before `<HOST>`.
    fn check_regexes(&mut self, instances: &HashMap<String, Instance>, used_re: &BTreeSet<String>) {
        let mut keys: Vec<&String> = instances.keys().collect();
        keys.sort();
        let mut msgs = Vec::new();
        for key in keys {
            let inst = &instances[key];
            for (idx, re) in inst.regexes.iter().enumerate() {
                self.checks += 1;
                if !inst.used.contains(&idx) && !used_re.contains(re) {
                    msgs.push(format!("{key}: Regex has no samples: {idx}: {re:?}"));
                }
                self.checks += 1;
                if self.wrong_greed.is_match(re.as_bytes()).unwrap_or(true) {
                    msgs.push(format!(
                        "{key}: failregex {idx} has a greedy catch-all before <HOST> that is not hard-anchored: {re:?}"
                    ));
                }
            }
        }
        for m in msgs {
            self.fail(m);
        }
    }
}

/// samplestestcase's lint: a `.*`/`.+` (not lazy) before `<HOST>` with no anchor or
/// precise text after it lets a crafted line choose the address.
pub fn wrong_greed() -> pcre2::bytes::Regex {
    let host = bailiff_filter::tags::expand("<HOST>", true);
    let escaped: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect();
    let re = format!(r"\.[+*](?!\?)[^$^]*{escaped}.*(?:\.[+*].*|[^$])$");
    pcre2::bytes::Regex::new(&re).expect("lint regex")
}
