//! Configuration check for `bailiff check` / `bailiff client -t`: read everything as
//! [`crate::load`] does, but keep going after a problem and report each one with its
//! file, line, section and option.
//!
//! Reported: syntax errors, unknown filters and actions, missing includes,
//! interpolation loops and broken `%(` references, tag loops, bad durations, regexes
//! that do not compile (tags such as `<HOST>` replaced by simple groups first), bad
//! log levels, and jails whose log paths match no file.

use std::collections::BTreeSet;
use std::path::Path;

use crate::defreader::Val;
use crate::fs::Loader;
use crate::jail::{read_all_with, JailReading, JailSpec};
use crate::time::parse_time;
use crate::ConfigError;

/// What a successful check found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CheckSummary {
    pub jails: usize,
    pub filters: usize,
    pub actions: usize,
    pub regexes: usize,
    /// Findings that do not stop fail2ban (e.g. a jail without actions).
    pub warnings: Vec<String>,
}

/// Replace fail2ban's regex tags by plain groups so the regex syntax can be checked
/// without the filter crate.
pub fn neutralize_tags(re: &str) -> String {
    let mut out = String::with_capacity(re.len());
    let mut open: std::collections::HashSet<String> = Default::default();
    let mut rest = re;
    let ftag = |n: &str| -> Option<String> {
        let body = n.strip_prefix("F-")?;
        if body.is_empty()
            || !body
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '-')
        {
            return None;
        }
        Some(body.to_string())
    };
    while let Some(p) = rest.find('<') {
        out.push_str(&rest[..p]);
        let tail = &rest[p..];
        let body_len = tail[1..].find([' ', '<', '>']).unwrap_or(tail.len() - 1);
        let closed = tail[1 + body_len..].starts_with('>');
        let name = &tail[1..1 + body_len];
        let simple = matches!(
            name,
            "HOST" | "ADDR" | "IP4" | "IP6" | "DNS" | "CIDR" | "SUBNET" | "SKIPLINES"
        ) || (name.starts_with("F-") && name.ends_with('/'));
        if closed && !name.is_empty() {
            let after = &tail[body_len + 2..];
            if simple {
                out.push_str("(?:\\S+)");
                rest = after;
                continue;
            }
            if let Some(t) = name.strip_prefix('/').and_then(ftag) {
                if open.contains(&t) {
                    out.push(')');
                    rest = after;
                    continue;
                }
            } else if let Some(t) = ftag(name) {
                let lower = t.to_lowercase();
                let group = match lower.as_str() {
                    "id" => "fid".to_string(),
                    "port" => "fport".to_string(),
                    _ => lower,
                };
                out.push_str(&format!("(?P<{group}>"));
                open.insert(t);
                rest = after;
                continue;
            }
        }
        out.push('<');
        rest = &tail[1..];
    }
    out.push_str(rest);
    out
}

/// Compile a (tag-neutralized) regex with PCRE2; the error text on failure.
pub fn regex_syntax_error(re: &str) -> Option<String> {
    let pat = neutralize_tags(re);
    match pcre2::bytes::RegexBuilder::new().utf(true).build(&pat) {
        Ok(_) => None,
        Err(e) => Some(e.to_string()),
    }
}

fn origin_of(spec: &JailSpec, opt: &str) -> (String, usize) {
    spec.origins
        .get(opt)
        .cloned()
        .unwrap_or_else(|| (String::new(), 0))
}

fn check_jail(
    spec: &JailSpec,
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<String>,
    regexes: &mut usize,
) {
    let err = |opt: &str, msg: String| {
        let (file, line) = origin_of(spec, opt);
        ConfigError::at(&file, line, &spec.name, opt, msg)
    };
    for opt in ["findtime", "bantime", "bantime.maxtime", "bantime.rndtime"] {
        if let Some((_, v)) = spec.options.iter().find(|(k, _)| k == opt) {
            if let Some(s) = v.py_str() {
                if let Err(e) = parse_time(&s) {
                    errors.push(err(opt, e.to_string()));
                }
            }
        }
    }
    for (k, v) in &spec.options {
        if matches!(v, Val::Null) {
            errors.push(err(k, "not an integer (fail2ban would send None)".into()));
        }
    }
    let backend = spec.backend.split('[').next().unwrap_or("").trim();
    if !matches!(
        backend,
        "auto" | "pyinotify" | "gamin" | "polling" | "systemd"
    ) {
        errors.push(err(
            "backend",
            format!("unknown backend {:?}", spec.backend),
        ));
    }
    if !matches!(spec.usedns.as_str(), "yes" | "warn" | "no" | "raw") {
        errors.push(err(
            "usedns",
            format!("usedns must be yes, warn, no or raw, not {:?}", spec.usedns),
        ));
    }
    if let Some(f) = &spec.filter {
        let mut all: Vec<(&str, &String)> = Vec::new();
        if let Some(p) = &f.prefregex {
            all.push(("prefregex", p));
        }
        all.extend(f.failregex.iter().map(|r| ("failregex", r)));
        all.extend(f.ignoreregex.iter().map(|r| ("ignoreregex", r)));
        for (opt, re) in all {
            *regexes += 1;
            if let Some(msg) = regex_syntax_error(re) {
                let (file, line) = origin_of(spec, opt);
                let (file, line) = if file.is_empty() {
                    (format!("filter.d/{}", f.name), 0)
                } else {
                    (file, line)
                };
                errors.push(ConfigError::at(
                    &file,
                    line,
                    &spec.name,
                    opt,
                    format!("regex does not compile: {msg}: {re}"),
                ));
            }
        }
    }
    if !spec.backend.starts_with("systemd") {
        if spec.logpaths.is_empty() {
            errors.push(err("logpath", "no logpath set".into()));
        } else if spec.logpaths.iter().all(|l| l.files.is_empty()) {
            let pats: Vec<&str> = spec.logpaths.iter().map(|l| l.pattern.as_str()).collect();
            let journal = spec
                .filter
                .as_ref()
                .is_some_and(|f| !f.journalmatch.is_empty());
            if backend == "auto" && journal {
                // bailiff (unlike fail2ban) reads the journal then: not an error
                warnings.push(format!(
                    "{}: none of the log files exists ({}); backend = auto reads the systemd journal instead",
                    spec.name,
                    pats.join(", ")
                ));
                return;
            }
            errors.push(err(
                "logpath",
                format!(
                    "have not found any log file for this jail: {}",
                    pats.join(", ")
                ),
            ));
        }
    }
}

/// Check the configuration under `confdir`. `Ok` when fail2ban would start with it,
/// with one deliberate difference: a jail with `backend = auto` whose log files are
/// all missing but whose filter has a `journalmatch` is a warning, not an error,
/// because bailiff then reads the systemd journal (fail2ban refuses the jail).
///
/// `confdir` may also be a [`crate::ConfSource::to_path`] form.
pub fn check(confdir: &Path) -> Result<CheckSummary, Vec<ConfigError>> {
    check_source(&crate::ConfSource::from_path(confdir))
}

/// [`check`] from a [`crate::ConfSource`].
pub fn check_source(src: &crate::ConfSource) -> Result<CheckSummary, Vec<ConfigError>> {
    check_with(&src.loader(), &src.root())
}

/// [`check`] through a given [`Loader`].
pub fn check_with(loader: &Loader, confdir: &Path) -> Result<CheckSummary, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let reading = match read_all_with(loader, confdir, Some(&mut errors)) {
        Ok(r) => r,
        Err(e) => {
            errors.push(e);
            return Err(errors);
        }
    };
    let mut summary = CheckSummary {
        warnings: reading.warnings.clone(),
        ..Default::default()
    };
    if let Err(e) = parse_time(&reading.server.dbpurgeage) {
        errors.push(ConfigError::at(
            &format!("{}/fail2ban.conf", confdir.display()),
            0,
            "Definition",
            "dbpurgeage",
            e.to_string(),
        ));
    }
    // optional `.local` companions named in [INCLUDES] are normal; others are not
    for (from, missing) in reading
        .missing_includes
        .iter()
        .filter(|(_, m)| !m.ends_with(".local"))
    {
        errors.push(ConfigError::at(
            from,
            0,
            "INCLUDES",
            "before/after",
            format!("included file {missing} does not exist"),
        ));
    }
    let mut filters = BTreeSet::new();
    for j in &reading.jails {
        match j {
            JailReading::Ok(spec, _) => {
                summary.jails += 1;
                summary.actions += spec.actions.len();
                if let Some(f) = &spec.filter {
                    filters.insert(f.name.clone());
                }
                check_jail(
                    spec,
                    &mut errors,
                    &mut summary.warnings,
                    &mut summary.regexes,
                );
            }
            JailReading::Skipped(_, e) => errors.push(e.clone()),
        }
    }
    summary.filters = filters.len();
    if errors.is_empty() {
        Ok(summary)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_become_groups() {
        assert_eq!(
            neutralize_tags("^<F-USER>\\S+</F-USER> from <HOST> <ip>"),
            "^(?P<user>\\S+) from (?:\\S+) <ip>"
        );
        assert!(regex_syntax_error("^(?P<x>a)(?(x)b|c) <HOST>$").is_none());
        assert!(regex_syntax_error("^(unclosed <HOST>").is_some());
    }
}
