//! The edge: configuration loading (with an overlay directory for `--jail` and
//! `--set`), jail selection, and turning [`JailSpec`]s into [`JailPlan`]s.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;

use bailiff_config::{Config, JailSpec};
use bailiff_date::Zone;
use bailiff_filter::{FailureKind, Filter, FilterConfig, UseDns};
use bailiff_jail::{parse_net, BanTimeIncrement, BanTimeOptions, JailConfig};

use crate::engine::JailPlan;
use crate::Error;

/// Lines of each log tried when deciding whether a jail's filter reads it.
pub const SAMPLE_LINES: usize = 2000;

/// Name of the file the overlay adds under `jail.d` (sorted last among `*.local`).
const OVERLAY_FILE: &str = "zzzz-bailiff-replay.local";

/// Option lines to add to jail sections, on top of the configuration.
#[derive(Debug, Clone, Default)]
pub struct Overlay {
    pub sections: Vec<(String, Vec<(String, String)>)>,
}

impl Overlay {
    pub fn set(&mut self, section: &str, key: &str, value: &str) {
        let idx = match self.sections.iter().position(|(s, _)| s == section) {
            Some(i) => i,
            None => {
                self.sections.push((section.to_string(), Vec::new()));
                self.sections.len() - 1
            }
        };
        let opts = &mut self.sections[idx].1;
        opts.retain(|(k, _)| k != key);
        opts.push((key.to_string(), value.to_string()));
    }

    fn render(&self) -> String {
        let mut out = String::from("# written by bailiff replay\n");
        for (section, opts) in &self.sections {
            out.push_str(&format!("\n[{section}]\n"));
            for (k, v) in opts {
                let v = v.replace('%', "%%").replace('\n', "\n    ");
                out.push_str(&format!("{k} = {v}\n"));
            }
        }
        out
    }
}

/// Loads the configuration under `conf`; with a non-empty overlay, from a temporary
/// directory that mirrors `conf` (symbolic links) plus one more `jail.d/*.local`.
pub fn load_config(conf: &Path, overlay: &Overlay) -> Result<Config, Error> {
    if overlay.sections.is_empty() {
        return bailiff_config::load(conf).map_err(|e| Error::Config(Box::new(e)));
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    let conf_abs = conf.canonicalize().map_err(io(conf))?;
    let tmp = tempfile::Builder::new()
        .prefix("bailiff-replay-")
        .tempdir()
        .map_err(io(Path::new("temporary directory")))?;
    for entry in std::fs::read_dir(&conf_abs).map_err(io(&conf_abs))? {
        let entry = entry.map_err(io(&conf_abs))?;
        let name = entry.file_name();
        if name == "jail.d" {
            continue;
        }
        let to = tmp.path().join(&name);
        std::os::unix::fs::symlink(entry.path(), &to).map_err(io(&to))?;
    }
    let jd = tmp.path().join("jail.d");
    std::fs::create_dir(&jd).map_err(io(&jd))?;
    let src_jd = conf_abs.join("jail.d");
    if src_jd.is_dir() {
        for entry in std::fs::read_dir(&src_jd).map_err(io(&src_jd))? {
            let entry = entry.map_err(io(&src_jd))?;
            let to = jd.join(entry.file_name());
            std::os::unix::fs::symlink(entry.path(), &to).map_err(io(&to))?;
        }
    }
    let file = jd.join(OVERLAY_FILE);
    std::fs::write(&file, overlay.render()).map_err(io(&file))?;
    let mut cfg = bailiff_config::load(tmp.path()).map_err(|e| Error::Config(Box::new(e)))?;
    cfg.confdir = conf.to_string_lossy().to_string();
    Ok(cfg)
}

/// Whether a `logpath` line of `spec` names `log` (its glob matches the path as given or
/// made absolute, or one of the files it found is the same file).
pub fn logpath_matches(spec: &JailSpec, log: &Path) -> bool {
    let abs = log.canonicalize().unwrap_or_else(|_| log.to_path_buf());
    spec.logpaths.iter().any(|lp| {
        let pat_hit = glob::Pattern::new(&lp.pattern)
            .is_ok_and(|p| p.matches_path(log) || p.matches_path(&abs));
        pat_hit
            || lp
                .files
                .iter()
                .any(|f| Path::new(f).canonicalize().is_ok_and(|p| p == abs))
    })
}

/// The filter settings a replay uses for `spec`: never DNS.
pub fn filter_config(spec: &JailSpec) -> Result<FilterConfig, Error> {
    let f = spec.filter.clone().ok_or_else(|| Error::Jail {
        jail: spec.name.clone(),
        message: "the jail has no filter".into(),
    })?;
    Ok(FilterConfig {
        prefregex: f.prefregex,
        failregex: f.failregex,
        ignoreregex: f.ignoreregex,
        maxlines: f.maxlines.unwrap_or(1).max(1),
        datepattern: f.datepattern,
        usedns: UseDns::Raw,
        logtimezone: spec.logtimezone.clone(),
        raw_host: true,
        ..FilterConfig::default()
    })
}

pub fn zone_of(spec: &JailSpec) -> Result<Zone, Error> {
    match spec.logtimezone.as_deref().filter(|z| !z.trim().is_empty()) {
        Some(tz) => Zone::parse_logtimezone(tz).map_err(|e| Error::Jail {
            jail: spec.name.clone(),
            message: format!("logtimezone {tz:?}: {e}"),
        }),
        None => Ok(Zone::system()),
    }
}

/// Whether `spec`'s filter finds a failure in the first [`SAMPLE_LINES`] lines of `log`.
pub fn filter_matches(spec: &JailSpec, log: &Path, now: f64) -> Result<bool, Error> {
    let fcfg = filter_config(spec)?;
    let mut filter = Filter::new(&fcfg, zone_of(spec)?, now).map_err(|source| Error::Filter {
        jail: spec.name.clone(),
        source,
    })?;
    let io = |source| Error::Io {
        path: log.to_path_buf(),
        source,
    };
    let mut r = crate::input::LogReader::open(log).map_err(io)?;
    let mut raw = Vec::new();
    let mut found = false;
    for _ in 0..SAMPLE_LINES {
        if !r.next_line(&mut raw).map_err(io)? {
            break;
        }
        let res = filter.process_line(&String::from_utf8_lossy(&raw), now);
        if res
            .failures
            .iter()
            .any(|f| f.kind == FailureKind::Fail && !f.pending && !f.fid.is_empty())
        {
            found = true;
            break;
        }
    }
    r.abandon();
    Ok(found)
}

/// Whether `spec` is fail2ban's `recidive` jail (by name or by filter).
pub fn is_recidive(spec: &JailSpec) -> bool {
    spec.name == "recidive" || spec.filter.as_ref().is_some_and(|f| f.name == "recidive")
}

/// One `--set`: for every selected jail (`jail: None`) or one jail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetOpt {
    pub jail: Option<String>,
    pub key: String,
    pub value: String,
}

impl SetOpt {
    pub fn text(&self) -> String {
        match &self.jail {
            Some(j) => format!("{j}.{}={}", self.key, self.value),
            None => format!("{}={}", self.key, self.value),
        }
    }
}

fn known_option(key: &str) -> bool {
    bailiff_config::jail::JAIL_OPTS
        .iter()
        .any(|(n, _, _)| *n == key && !matches!(*n, "enabled" | "backend" | "logpath" | "action"))
}

/// Parses `--set KEY=VALUE` / `JAIL.KEY=VALUE`. `jails` are the names a `JAIL.` prefix
/// may take.
pub fn parse_set(text: &str, jails: &BTreeSet<String>) -> Result<SetOpt, Error> {
    let bad = |message: String| Error::Option {
        option: "--set",
        message,
    };
    let (lhs, value) = text
        .split_once('=')
        .ok_or_else(|| bad(format!("{text:?} is not KEY=VALUE")))?;
    let lhs = lhs.trim();
    let value = value.trim().to_string();
    if known_option(&lhs.to_ascii_lowercase()) {
        return Ok(SetOpt {
            jail: None,
            key: lhs.to_ascii_lowercase(),
            value,
        });
    }
    if let Some((jail, key)) = lhs.split_once('.') {
        let key = key.to_ascii_lowercase();
        if !jails.contains(jail) {
            return Err(bad(format!("{text:?}: no jail {jail:?} is replayed")));
        }
        if known_option(&key) {
            return Ok(SetOpt {
                jail: Some(jail.to_string()),
                key,
                value,
            });
        }
        return Err(bad(format!("{text:?}: {key:?} is not a jail option")));
    }
    Err(bad(format!("{text:?}: {lhs:?} is not a jail option")))
}

/// The host's own addresses for `--ignoreself`: loopback and what the host name
/// resolves to (through the system resolver; only with `--ignoreself`).
pub fn self_ips() -> Vec<IpAddr> {
    use std::net::ToSocketAddrs;
    let mut v: Vec<IpAddr> = vec![
        IpAddr::from([127, 0, 0, 1]),
        IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
    ];
    if let Ok(name) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        if let Ok(addrs) = (name.trim(), 0u16).to_socket_addrs() {
            v.extend(addrs.map(|a| a.ip()));
        }
    }
    v.sort();
    v.dedup();
    v
}

/// Turns a jail spec into a plan for `policy`.
pub fn plan(
    spec: &JailSpec,
    policy: usize,
    files: Vec<usize>,
    ignoreself: Option<Vec<IpAddr>>,
    use_ignoreip: bool,
    notes: &mut Vec<String>,
) -> Result<JailPlan, Error> {
    let name = spec.name.clone();
    let opt_err = |option: &str, message: String| Error::Jail {
        jail: name.clone(),
        message: format!("{option}: {message}"),
    };
    let find_time = spec
        .findtime_secs()
        .map_err(|e| opt_err("findtime", e.to_string()))?;
    let ban_time = spec
        .bantime_secs()
        .map_err(|e| opt_err("bantime", e.to_string()))?;
    let bi = &spec.bantime_increment;
    let increment = if bi.increment {
        let secs = |k: &str, v: &Option<String>| -> Result<Option<f64>, Error> {
            match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(s) => bailiff_config::parse_time(s)
                    .map(Some)
                    .map_err(|e| opt_err(k, e.to_string())),
            }
        };
        let o = BanTimeOptions {
            factor: bi.factor.as_deref(),
            formula: bi.formula.as_deref(),
            multipliers: bi.multipliers.as_deref(),
            max_time: secs("bantime.maxtime", &bi.maxtime)?,
            rnd_time: secs("bantime.rndtime", &bi.rndtime)?,
            overall_jails: bi.overalljails,
        };
        Some(BanTimeIncrement::from_options(&o).map_err(|e| Error::Jail {
            jail: name.clone(),
            message: e.to_string(),
        })?)
    } else {
        None
    };
    let mut jc = JailConfig::new(&name);
    jc.max_retry = u32::try_from(spec.maxretry.max(0)).unwrap_or(u32::MAX);
    jc.find_time = find_time;
    jc.max_matches = usize::try_from(spec.maxmatches.max(0)).unwrap_or(0);
    jc.ban_time = ban_time;
    jc.increment = increment;
    if spec.ignorecommand.is_some() && policy == 0 {
        notes.push(format!(
            "jail {name}: ignorecommand is not run in a replay (treated as \"do not ignore\")"
        ));
    }
    let mut ignoreip = Vec::new();
    if use_ignoreip {
        for ip in &spec.ignoreip {
            if parse_net(ip).is_some() {
                ignoreip.push(ip.clone());
            } else if policy == 0 {
                notes.push(format!(
                    "jail {name}: ignoreip {ip:?} is not an address or block; not resolved in a replay"
                ));
            }
        }
    }
    Ok(JailPlan {
        name: name.clone(),
        policy,
        jail: jc,
        ignoreip,
        ignoreself,
        filter: filter_config(spec)?,
        zone: zone_of(spec)?,
        files,
        recidive: is_recidive(spec),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_options() {
        let jails: BTreeSet<String> = ["sshd".to_string(), "recidive".to_string()].into();
        let ok = |s: &str| parse_set(s, &jails).expect(s);
        assert_eq!(ok("maxretry=3").jail, None);
        assert_eq!(ok("bantime.increment = true").key, "bantime.increment");
        let j = ok("sshd.bantime.increment=true");
        assert_eq!(
            (j.jail.as_deref(), j.key.as_str()),
            (Some("sshd"), "bantime.increment")
        );
        assert_eq!(ok("recidive.BanTime=2w").text(), "recidive.bantime=2w");
        for bad in [
            "maxretry",
            "foo=1",
            "nginx.maxretry=1",
            "sshd.foo=1",
            "enabled=true",
        ] {
            assert!(parse_set(bad, &jails).is_err(), "{bad}");
        }
    }

    #[test]
    fn overlay_text() {
        let mut o = Overlay::default();
        o.set("sshd", "maxretry", "3");
        o.set("sshd", "maxretry", "4");
        o.set("sshd", "datepattern", "%Y\nx");
        assert_eq!(
            o.render(),
            "# written by bailiff replay\n\n[sshd]\nmaxretry = 4\ndatepattern = %%Y\n    x\n"
        );
    }
}
