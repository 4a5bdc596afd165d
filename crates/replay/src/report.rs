//! The replay's findings: per-jail totals, top addresses and networks, the policy
//! comparison, as text or as one JSON document.
//!
//! The JSON document (`--json`) has these keys:
//!
//! - `files` (in replay order), `lines`, `seconds`, `lines_per_second`;
//! - `policies`: `[{policy, name, set}]`, policy 0 the current one, 1 the changed one;
//! - `jails`: one object per jail and policy: `jail`, `policy`, `recidive`, the
//!   settings (`maxretry`, `findtime`, `bantime` in seconds, `increment`), the
//!   counters (`lines`, `matched`, `failures`, `ignored`, `while_banned`, `bans`,
//!   `already_banned`, `unbans`, `regex_errors`, `distinct_addresses`,
//!   `banned_addresses`) and `addresses`: `{address: {failures, bans}}`;
//! - `timeline`: every ban, by time: `time` (Unix), `time_text` (UTC), `policy`,
//!   `jail`, `id`, `ban_count`, `ban_time` (seconds, negative: permanent),
//!   `failures`, `increased`;
//! - `top_addresses`, `top_networks` (/24, /64): `[{key, failures, bans, addresses}]`
//!   for policy 0;
//! - `comparison` (with `--set` only): `bans_before`, `bans_after`, `bans_added`, and
//!   per jail the same plus `newly_banned` and `no_longer_banned` (address lists);
//! - `notes`: what the replay could not do as the daemon would (skipped jails,
//!   `ignorecommand`, host names in `ignoreip`, ...).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::net::IpAddr;

use bailiff_jail::FailId;
use serde_json::{json, Value};

use crate::engine::{BanEvent, JailResult, Outcome};

/// What a policy is.
#[derive(Debug, Clone)]
pub struct PolicyInfo {
    pub name: String,
    /// The `--set` options that define it (empty for the current policy).
    pub set: Vec<String>,
}

/// An address or network with its counters.
#[derive(Debug, Clone, PartialEq)]
pub struct Offender {
    pub key: String,
    pub failures: u64,
    pub bans: u64,
    /// Distinct addresses (networks only).
    pub addresses: u64,
}

/// The comparison of one jail between the current and the changed policy.
#[derive(Debug, Clone, PartialEq)]
pub struct JailDiff {
    pub jail: String,
    pub bans_before: u64,
    pub bans_after: u64,
    pub newly_banned: Vec<String>,
    pub no_longer_banned: Vec<String>,
}

/// Everything reported.
#[derive(Debug, Clone)]
pub struct Report {
    pub policies: Vec<PolicyInfo>,
    pub outcome: Outcome,
    pub files: Vec<String>,
    pub seconds: f64,
    pub top_addresses: Vec<Offender>,
    pub top_networks: Vec<Offender>,
    pub diffs: Vec<JailDiff>,
    pub notes: Vec<String>,
}

fn network_of(id: &FailId) -> Option<String> {
    match id.ip()? {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            Some(format!("{}.{}.{}.0/24", o[0], o[1], o[2]))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            Some(format!("{net}/64"))
        }
    }
}

fn top(mut v: Vec<Offender>, n: usize) -> Vec<Offender> {
    v.sort_by(|a, b| {
        b.failures
            .cmp(&a.failures)
            .then(b.bans.cmp(&a.bans))
            .then_with(|| a.key.cmp(&b.key))
    });
    v.truncate(n);
    v
}

fn banned_set<'a>(timeline: &'a [BanEvent], jail: &str, policy: usize) -> BTreeSet<&'a str> {
    timeline
        .iter()
        .filter(|e| e.policy == policy && e.jail == jail)
        .map(|e| e.id.as_str())
        .collect()
}

impl Report {
    pub fn new(
        policies: Vec<PolicyInfo>,
        outcome: Outcome,
        files: Vec<String>,
        seconds: f64,
        top_n: usize,
        notes: Vec<String>,
    ) -> Report {
        // Offenders of the current policy; recidive's "failures" are other jails' bans.
        let mut addrs: HashMap<&FailId, (u64, u64)> = HashMap::new();
        let mut nets: HashMap<String, (u64, u64, BTreeSet<&FailId>)> = HashMap::new();
        for j in outcome.jails.iter().filter(|j| j.policy == 0) {
            for (id, st) in &j.addresses {
                let e = addrs.entry(id).or_default();
                if !j.recidive {
                    e.0 += st.failures;
                }
                e.1 += u64::from(st.bans);
                if let Some(net) = network_of(id) {
                    let n = nets.entry(net).or_default();
                    if !j.recidive {
                        n.0 += st.failures;
                    }
                    n.1 += u64::from(st.bans);
                    n.2.insert(id);
                }
            }
        }
        let top_addresses = top(
            addrs
                .into_iter()
                .map(|(id, (f, b))| Offender {
                    key: id.to_string(),
                    failures: f,
                    bans: b,
                    addresses: 1,
                })
                .collect(),
            top_n,
        );
        let top_networks = top(
            nets.into_iter()
                .map(|(k, (f, b, set))| Offender {
                    key: k,
                    failures: f,
                    bans: b,
                    addresses: set.len() as u64,
                })
                .collect(),
            top_n,
        );
        let mut diffs = Vec::new();
        if policies.len() > 1 {
            for j in outcome.jails.iter().filter(|j| j.policy == 0) {
                let after = outcome
                    .jails
                    .iter()
                    .find(|o| o.policy == 1 && o.name == j.name);
                let before_set = banned_set(&outcome.timeline, &j.name, 0);
                let after_set = banned_set(&outcome.timeline, &j.name, 1);
                diffs.push(JailDiff {
                    jail: j.name.clone(),
                    bans_before: j.bans,
                    bans_after: after.map_or(0, |a| a.bans),
                    newly_banned: after_set
                        .difference(&before_set)
                        .map(|s| s.to_string())
                        .collect(),
                    no_longer_banned: before_set
                        .difference(&after_set)
                        .map(|s| s.to_string())
                        .collect(),
                });
            }
        }
        Report {
            policies,
            outcome,
            files,
            seconds,
            top_addresses,
            top_networks,
            diffs,
            notes,
        }
    }

    pub fn lines_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.outcome.lines as f64 / self.seconds
        } else {
            0.0
        }
    }

    pub fn to_json(&self) -> Value {
        let jails: Vec<Value> = self.outcome.jails.iter().map(jail_json).collect();
        let timeline: Vec<Value> = self
            .outcome
            .timeline
            .iter()
            .map(|e| {
                json!({
                    "time": e.time,
                    "time_text": fmt_time(e.time),
                    "policy": e.policy,
                    "jail": e.jail,
                    "id": e.id,
                    "ban_count": e.ban_count,
                    "ban_time": e.ban_time,
                    "failures": e.failures,
                    "increased": e.increased,
                })
            })
            .collect();
        let off = |v: &[Offender]| -> Vec<Value> {
            v.iter()
                .map(|o| {
                    json!({"key": o.key, "failures": o.failures, "bans": o.bans,
                           "addresses": o.addresses})
                })
                .collect()
        };
        let mut doc = json!({
            "files": self.files,
            "lines": self.outcome.lines,
            "seconds": self.seconds,
            "lines_per_second": self.lines_per_second(),
            "policies": self.policies.iter().enumerate().map(|(i, p)| json!({
                "policy": i, "name": p.name, "set": p.set,
            })).collect::<Vec<_>>(),
            "jails": jails,
            "timeline": timeline,
            "top_addresses": off(&self.top_addresses),
            "top_networks": off(&self.top_networks),
            "notes": self.notes,
        });
        if !self.diffs.is_empty() {
            let total_before: u64 = self.diffs.iter().map(|d| d.bans_before).sum();
            let total_after: u64 = self.diffs.iter().map(|d| d.bans_after).sum();
            doc["comparison"] = json!({
                "bans_before": total_before,
                "bans_after": total_after,
                "bans_added": total_after as i64 - total_before as i64,
                "jails": self.diffs.iter().map(|d| json!({
                    "jail": d.jail,
                    "bans_before": d.bans_before,
                    "bans_after": d.bans_after,
                    "bans_added": d.bans_after as i64 - d.bans_before as i64,
                    "newly_banned": d.newly_banned,
                    "no_longer_banned": d.no_longer_banned,
                })).collect::<Vec<_>>(),
            });
        }
        doc
    }

    pub fn write_text(
        &self,
        out: &mut dyn Write,
        timeline_max: Option<usize>,
    ) -> std::io::Result<()> {
        writeln!(
            out,
            "Replayed {} line(s) of {} file(s) in {:.2} s ({:.0} lines/s)",
            self.outcome.lines,
            self.files.len(),
            self.seconds,
            self.lines_per_second()
        )?;
        for (pi, p) in self.policies.iter().enumerate() {
            writeln!(out)?;
            if p.set.is_empty() {
                writeln!(out, "== Policy {pi}: {}", p.name)?;
            } else {
                writeln!(
                    out,
                    "== Policy {pi}: {} (--set {})",
                    p.name,
                    p.set.join(" --set ")
                )?;
            }
            let events: Vec<&BanEvent> = self
                .outcome
                .timeline
                .iter()
                .filter(|e| e.policy == pi)
                .collect();
            let shown = timeline_max.unwrap_or(usize::MAX).min(events.len());
            writeln!(out, "Ban timeline ({} ban(s)):", events.len())?;
            if shown > 0 {
                writeln!(
                    out,
                    "  {:<19}  {:<12} {:<39} {:>5} {:>9} {:>8}",
                    "time (UTC)", "jail", "address", "count", "bantime", "failures"
                )?;
            }
            for e in events.iter().take(shown) {
                writeln!(
                    out,
                    "  {:<19}  {:<12} {:<39} {:>5} {:>9} {:>8}{}",
                    fmt_time(e.time),
                    e.jail,
                    e.id,
                    e.ban_count,
                    fmt_dur(e.ban_time),
                    e.failures,
                    if e.increased { "  (increased)" } else { "" }
                )?;
            }
            if shown < events.len() {
                writeln!(out, "  ... {} more", events.len() - shown)?;
            }
            writeln!(out, "Jails:")?;
            writeln!(
                out,
                "  {:<12} {:>10} {:>9} {:>9} {:>8} {:>12} {:>7} {:>9} {:>7}  settings",
                "jail",
                "lines",
                "matched",
                "failures",
                "ignored",
                "while-banned",
                "bans",
                "addresses",
                "banned"
            )?;
            for j in self.outcome.jails.iter().filter(|j| j.policy == pi) {
                let banned = j.addresses.values().filter(|a| a.bans > 0).count();
                writeln!(
                    out,
                    "  {:<12} {:>10} {:>9} {:>9} {:>8} {:>12} {:>7} {:>9} {:>7}  maxretry {} findtime {} bantime {}{}",
                    j.name,
                    j.lines,
                    j.matched,
                    j.failures,
                    j.ignored,
                    j.while_banned,
                    j.bans,
                    j.addresses.len(),
                    banned,
                    j.max_retry,
                    fmt_dur(j.find_time),
                    fmt_dur(j.ban_time),
                    if j.increment { " increment" } else { "" }
                )?;
            }
        }
        writeln!(out)?;
        writeln!(out, "Top offending addresses (policy 0):")?;
        for o in &self.top_addresses {
            writeln!(
                out,
                "  {:<39} {:>9} failures {:>5} bans",
                o.key, o.failures, o.bans
            )?;
        }
        writeln!(out, "Top offending networks (/24, /64; policy 0):")?;
        for o in &self.top_networks {
            writeln!(
                out,
                "  {:<39} {:>9} failures {:>5} bans {:>6} addresses",
                o.key, o.failures, o.bans, o.addresses
            )?;
        }
        if !self.diffs.is_empty() {
            writeln!(out)?;
            writeln!(
                out,
                "Policy change (--set {}):",
                self.policies
                    .get(1)
                    .map(|p| p.set.join(" --set "))
                    .unwrap_or_default()
            )?;
            if self.diffs.len() > 1 {
                let before: u64 = self.diffs.iter().map(|d| d.bans_before).sum();
                let after: u64 = self.diffs.iter().map(|d| d.bans_after).sum();
                let delta = after as i64 - before as i64;
                writeln!(out, "  all jails: {before} -> {after} ban(s) ({delta:+})")?;
            }
            for d in &self.diffs {
                let delta = d.bans_after as i64 - d.bans_before as i64;
                writeln!(
                    out,
                    "  {}: {} -> {} ban(s) ({delta:+}); {} address(es) newly banned, {} no longer banned",
                    d.jail,
                    d.bans_before,
                    d.bans_after,
                    d.newly_banned.len(),
                    d.no_longer_banned.len()
                )?;
                let list = |v: &[String]| {
                    let mut s = v.iter().take(20).cloned().collect::<Vec<_>>().join(" ");
                    if v.len() > 20 {
                        s.push_str(&format!(" ... ({} more)", v.len() - 20));
                    }
                    s
                };
                if !d.newly_banned.is_empty() {
                    writeln!(out, "    newly banned: {}", list(&d.newly_banned))?;
                }
                if !d.no_longer_banned.is_empty() {
                    writeln!(out, "    no longer banned: {}", list(&d.no_longer_banned))?;
                }
            }
        }
        Ok(())
    }
}

fn jail_json(j: &JailResult) -> Value {
    let mut addrs: BTreeMap<String, Value> = BTreeMap::new();
    for (id, st) in &j.addresses {
        addrs.insert(
            id.to_string(),
            json!({"failures": st.failures, "bans": st.bans}),
        );
    }
    json!({
        "jail": j.name,
        "policy": j.policy,
        "recidive": j.recidive,
        "maxretry": j.max_retry,
        "findtime": j.find_time,
        "bantime": j.ban_time,
        "increment": j.increment,
        "lines": j.lines,
        "matched": j.matched,
        "failures": j.failures,
        "ignored": j.ignored,
        "while_banned": j.while_banned,
        "bans": j.bans,
        "already_banned": j.already_banned,
        "unbans": j.unbans,
        "regex_errors": j.regex_errors,
        "distinct_addresses": j.addresses.len(),
        "banned_addresses": j.addresses.values().filter(|a| a.bans > 0).count(),
        "addresses": addrs,
    })
}

/// `YYYY-MM-DD HH:MM:SS` in UTC.
pub fn fmt_time(t: f64) -> String {
    match jiff::Timestamp::from_second(t.floor() as i64) {
        Ok(ts) => ts.strftime("%Y-%m-%d %H:%M:%S").to_string(),
        Err(_) => format!("{t}"),
    }
}

/// A duration as fail2ban users write it (`10m`, `1d`, `1w 2d`), `permanent` when negative.
pub fn fmt_dur(secs: f64) -> String {
    if secs < 0.0 {
        return "permanent".into();
    }
    let mut s = secs.round() as u64;
    if s == 0 {
        return "0s".into();
    }
    let mut parts = Vec::new();
    for (unit, len) in [
        ("w", 604_800u64),
        ("d", 86_400),
        ("h", 3_600),
        ("m", 60),
        ("s", 1),
    ] {
        if s >= len {
            parts.push(format!("{}{unit}", s / len));
            s %= len;
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for (s, want) in [
            (600.0, "10m"),
            (-1.0, "permanent"),
            (0.0, "0s"),
            (90_061.0, "1d 1h 1m 1s"),
            (604_800.0, "1w"),
        ] {
            assert_eq!(fmt_dur(s), want);
        }
    }

    #[test]
    fn networks() {
        assert_eq!(
            network_of(&FailId::parse("192.0.2.77")).as_deref(),
            Some("192.0.2.0/24")
        );
        assert_eq!(
            network_of(&FailId::parse("2001:db8:1:2:3::4")).as_deref(),
            Some("2001:db8:1:2::/64")
        );
        assert_eq!(network_of(&FailId::parse("some-user")), None);
    }
}
