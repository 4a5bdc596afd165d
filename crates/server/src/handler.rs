//! The control commands: [`Control`] implements `bailiff_control::Handler` over the
//! running [`Daemon`], with the reply shapes fail2ban 1.0 uses.

use std::sync::Arc;

use bailiff_control::{Command, CommandError, Get, Handler, JailGet, JailSet, Set, Value};
use bailiff_filter::UseDns;
use bailiff_jail::{FailId, IgnoreCache, Ticket};

use crate::actions::{properties, ActionRt, Runner};
use crate::jail::{increment_of, JailRt, PathChange};
use crate::log::{logger, Level};
use crate::{lock, now, time2str, Daemon};

/// The daemon's command handler.
pub struct Control {
    d: Arc<Daemon>,
}

impl Control {
    pub fn new(d: Arc<Daemon>) -> Control {
        Control { d }
    }

    fn jail(&self, name: &str) -> Result<Arc<JailRt>, CommandError> {
        self.d
            .jail(name)
            .ok_or_else(|| CommandError::unknown_jail(name))
    }
}

fn pairs(items: Vec<(&str, Value)>) -> Value {
    Value::List(items.into_iter().map(|(k, v)| Value::pair(k, v)).collect())
}

fn int(n: impl TryInto<i64>) -> Value {
    Value::Int(n.try_into().unwrap_or(i64::MAX))
}

fn secs(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9e15 {
        Value::Int(v as i64)
    } else {
        Value::Float(v)
    }
}

fn parse_bool(s: &str) -> Result<bool, CommandError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(CommandError::value(format!("Invalid boolean value {s:?}"))),
    }
}

fn parse_secs(s: &str) -> Result<f64, CommandError> {
    bailiff_config::parse_time(s).map_err(|e| CommandError::value(e.to_string()))
}

fn opt_str(s: &Option<String>) -> Value {
    match s {
        Some(v) => Value::str(v.clone()),
        None => Value::None,
    }
}

/// The health report of one jail, now.
pub fn health_report(rt: &JailRt, th: &bailiff_health::Thresholds) -> bailiff_health::JailReport {
    let mut core = rt.core();
    crate::health::refresh(&mut core);
    bailiff_health::JailReport::new(&rt.name, &core.health, crate::now(), th)
}

/// `status <jail|--all> health[-json]` (bailiff only; fail2ban-client never sends
/// it): `[("healthy", 0|1), ("text", report)]` for `bailiff client health`.
fn health_reply(reports: Vec<bailiff_health::JailReport>, json: bool) -> Value {
    let (text, code) = bailiff_health::HealthReport::new(reports).render(json);
    pairs(vec![("code", int(code)), ("text", Value::str(text))])
}

/// The `status <jail> [FLAVOR]` flavours of fail2ban 1.0, and bailiff's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    /// No flavour given: fail2ban's `basic` fields, then bailiff's own branches
    /// (`Ambiguous`, `Health`).
    Default,
    /// `basic` (and any flavour fail2ban does not know, after a warning): exactly
    /// fail2ban's fields.
    Basic,
    /// `short`: no `Banned IP list`.
    Short,
    /// `cymru`: `basic` plus the ASN, country and RIR lists. fail2ban fills them
    /// from DNS lookups when dnspython is installed and with `error` when it is not;
    /// bailiff does no such lookups and answers as fail2ban without dnspython.
    Cymru,
}

impl Flavor {
    fn parse(jail: &str, flavor: Option<&str>) -> Flavor {
        match flavor {
            None => Flavor::Default,
            Some("basic") => Flavor::Basic,
            Some("short") => Flavor::Short,
            Some("cymru") => Flavor::Cymru,
            Some(other) => {
                crate::log!(
                    Level::Warning,
                    "fail2ban.actions",
                    "[{jail}] Unsupported extended jail status flavor {}. Supported: ['short', 'basic', 'cymru']",
                    Value::str(other).py_repr()
                );
                Flavor::Basic
            }
        }
    }
}

/// `status <jail> [FLAVOR]`.
fn jail_status(rt: &JailRt, th: &bailiff_health::Thresholds, flavor: Flavor) -> Value {
    let report = (flavor == Flavor::Default).then(|| health_report(rt, th));
    let core = rt.core();
    let st = core.jail.status();
    let files = if core.journal {
        // fail2ban: one string, the groups joined by " + ".
        let joined = core
            .journalmatch
            .iter()
            .map(|g| g.join(" "))
            .collect::<Vec<_>>()
            .join(" + ");
        ("Journal matches", Value::str_list([joined]))
    } else {
        ("File list", Value::str_list(core.files.iter().cloned()))
    };
    let mut actions = vec![
        ("Currently banned", int(st.currently_banned)),
        ("Total banned", int(st.total_banned)),
    ];
    if flavor != Flavor::Short {
        actions.push(("Banned IP list", Value::str_list(st.banned)));
    }
    if flavor == Flavor::Cymru {
        crate::log!(
            Level::Error,
            "fail2ban.banmanager",
            "[{}] status cymru: bailiff does not query Team Cymru (as fail2ban without dnspython); the lists say error",
            rt.name
        );
        for k in ["Banned ASN list", "Banned Country list", "Banned RIR list"] {
            actions.push((k, Value::str_list(["error"])));
        }
    }
    let mut v = vec![
        (
            "Filter",
            pairs(vec![
                ("Currently failed", int(st.currently_failed)),
                ("Total failed", int(st.total_failed)),
                files,
            ]),
        ),
        ("Actions", pairs(actions)),
    ];
    let Some(report) = report else {
        return pairs(v);
    };
    // bailiff's own branches, after fail2ban's fields (scripts parsing those keep
    // working): lines nobody was banned for because the address was ambiguous, and
    // the health report.
    v.push((
        "Ambiguous",
        pairs(vec![
            ("Lines", int(core.ambiguous.lines)),
            (
                "Top candidates",
                Value::str_list(core.ambiguous.top(crate::ambiguous::TOP)),
            ),
        ]),
    ));
    pairs(v).push_health(report.status_value())
}

trait PushHealth {
    fn push_health(self, v: Value) -> Value;
}

impl PushHealth for Value {
    fn push_health(self, v: Value) -> Value {
        match self {
            Value::List(mut items) => {
                items.push(v);
                Value::List(items)
            }
            other => other,
        }
    }
}

impl Handler for Control {
    fn handle(&self, cmd: Command) -> Result<Value, CommandError> {
        let d = &self.d;
        match cmd {
            Command::Ping => Ok(Value::str("pong")),
            Command::Version => Ok(Value::str(crate::VERSION)),
            Command::Help => Ok(Value::str(
                "bailiff speaks fail2ban 1.0's protocol; see `fail2ban-client -h`",
            )),
            Command::Echo(words) => Ok(Value::str_list(words)),
            Command::Sleep(s) => {
                std::thread::sleep(std::time::Duration::from_secs_f64(s.clamp(0.0, 60.0)));
                Ok(Value::None)
            }
            Command::ConfigError(msg) => {
                crate::log!(Level::Error, "fail2ban.server", "{msg}");
                Ok(Value::None)
            }
            Command::Shutdown => {
                d.request_quit();
                Ok(Value::None)
            }
            Command::StopAll => {
                // `stop --all`: every jail stops, the server stays.
                let names: Vec<String> = lock(&d.jails).keys().cloned().collect();
                for n in names {
                    d.stop_jail(&n);
                }
                Ok(Value::None)
            }
            Command::Status | Command::ServerStatus => {
                let jails = lock(&d.jails);
                let names: Vec<&str> = jails.keys().map(String::as_str).collect();
                Ok(pairs(vec![
                    ("Number of jail", int(names.len())),
                    ("Jail list", Value::str(names.join(", "))),
                ]))
            }
            Command::JailStatus { jail, flavor } => {
                if let Some(f @ ("health" | "health-json")) = flavor.as_deref() {
                    let json = f == "health-json";
                    let reports = if jail == "--all" {
                        let rts: Vec<Arc<JailRt>> = lock(&d.jails).values().cloned().collect();
                        rts.iter()
                            .map(|r| health_report(r, &d.health_thresholds()))
                            .collect()
                    } else {
                        vec![health_report(&*self.jail(&jail)?, &d.health_thresholds())]
                    };
                    return Ok(health_reply(reports, json));
                }
                let rt = self.jail(&jail)?;
                let flavor = Flavor::parse(&jail, flavor.as_deref());
                Ok(jail_status(&rt, &d.health_thresholds(), flavor))
            }
            Command::Reload {
                jail,
                options,
                stream: _,
            } => {
                if let Some(j) = &jail {
                    if options.if_exists && d.jail(j).is_none() {
                        return Ok(Value::str("OK"));
                    }
                }
                d.reload(jail.as_deref(), options.restart, options.unban)
                    .map_err(CommandError::other)?;
                Ok(Value::str("OK"))
            }
            Command::StartJail(name) => {
                if d.jail(&name).is_some() {
                    return Ok(Value::None);
                }
                let cfg = bailiff_config::load(&d.confdir)
                    .map_err(|e| CommandError::other(e.to_string()))?;
                let spec = cfg
                    .jail(&name)
                    .cloned()
                    .ok_or_else(|| CommandError::unknown_jail(&name))?;
                d.start_jail(spec).map_err(CommandError::other)?;
                Ok(Value::None)
            }
            Command::StopJail(name) => {
                if d.stop_jail(&name) {
                    Ok(Value::None)
                } else {
                    Err(CommandError::unknown_jail(&name))
                }
            }
            Command::Add { jail, .. } => {
                // The stream's jail definitions: bailiff reads the configuration itself.
                if d.jail(&jail).is_some() {
                    return Err(CommandError::duplicate_jail(&jail));
                }
                Ok(Value::None)
            }
            Command::ServerStream(_) | Command::MultiSet(_) => Ok(Value::None),
            Command::FlushLogs => Ok(Value::str(logger().reopen())),
            Command::UnbanAll => {
                let jails: Vec<_> = lock(&d.jails).values().cloned().collect();
                let mut n = 0;
                for rt in jails {
                    let flushed = lock(&rt.core).jail.flush();
                    n += flushed.len();
                    rt.unban_tickets(&flushed);
                }
                if let Some(s) = lock(&d.store).as_mut() {
                    let _ = s.del_all_bans();
                }
                Ok(int(n))
            }
            Command::Unban(ips) => {
                let jails: Vec<_> = lock(&d.jails).values().cloned().collect();
                let mut n = 0;
                for rt in &jails {
                    let mut removed = Vec::new();
                    {
                        let mut core = rt.core();
                        for ip in &ips {
                            if let Ok(v) = core.jail.unban(ip) {
                                removed.extend(v);
                            }
                        }
                    }
                    n += removed.len();
                    rt.unban_tickets(&removed);
                }
                if let Some(s) = lock(&d.store).as_mut() {
                    let refs: Vec<&str> = ips.iter().map(String::as_str).collect();
                    let _ = s.del_bans_everywhere(&refs);
                }
                Ok(int(n))
            }
            Command::Banned(ips) => {
                let jails: Vec<_> = lock(&d.jails).values().cloned().collect();
                if ips.is_empty() {
                    Ok(Value::List(
                        jails
                            .iter()
                            .map(|rt| {
                                Value::Dict(vec![(
                                    Value::str(rt.name.clone()),
                                    Value::str_list(rt.core().jail.status().banned),
                                )])
                            })
                            .collect(),
                    ))
                } else {
                    Ok(Value::List(
                        ips.iter()
                            .map(|ip| {
                                let id = FailId::parse(ip);
                                Value::str_list(
                                    jails
                                        .iter()
                                        .filter(|rt| rt.core().jail.ban_manager().contains(&id))
                                        .map(|rt| rt.name.clone()),
                                )
                            })
                            .collect(),
                    ))
                }
            }
            Command::Set(s) => self.set(s),
            Command::Get(g) => self.get(g),
        }
    }
}

impl Control {
    fn set(&self, s: Set) -> Result<Value, CommandError> {
        let d = &self.d;
        match s {
            Set::LogLevel(l) => {
                let lv = Level::parse(&l)
                    .ok_or_else(|| CommandError::value(format!("Invalid log level {l:?}")))?;
                logger().set_level(lv);
                Ok(Value::str(lv.name()))
            }
            Set::LogTarget(t) => {
                logger()
                    .set_target(&t)
                    .map_err(|e| CommandError::other(format!("{t}: {e}")))?;
                Ok(Value::str(logger().target()))
            }
            Set::SyslogSocket(v) => {
                lock(&d.settings).syslogsocket = v.clone();
                Ok(Value::str(v))
            }
            Set::AllowIpv6(v) => {
                lock(&d.settings).allowipv6 = v.clone();
                Ok(Value::str(v))
            }
            Set::Thread(_) => Ok(Value::None),
            Set::DbFile(f) => {
                let cur = lock(&d.settings).dbfile.clone();
                if f != cur {
                    return Err(CommandError::other(
                        "dbfile can only be changed in fail2ban.conf (restart the server)",
                    ));
                }
                Ok(Value::str(cur))
            }
            Set::DbMaxMatches(n) => {
                let n = usize::try_from(n.max(0)).unwrap_or(0);
                lock(&d.settings).dbmaxmatches = n;
                if let Some(st) = lock(&d.store).as_mut() {
                    st.set_max_matches(n);
                }
                Ok(int(n))
            }
            Set::DbPurgeAge(v) => {
                let secs_v = parse_secs(&v)?;
                {
                    let mut s = lock(&d.settings);
                    s.dbpurgeage = secs_v;
                    s.dbpurgeage_text = v;
                }
                if let Some(st) = lock(&d.store).as_mut() {
                    st.set_purge_age(secs_v as i64);
                }
                Ok(secs(secs_v))
            }
            Set::Jail { jail, op } => {
                let rt = self.jail(&jail)?;
                self.set_jail(&rt, op)
            }
        }
    }

    fn set_jail(&self, rt: &Arc<JailRt>, op: JailSet) -> Result<Value, CommandError> {
        let d = &self.d;
        let t = now();
        let filter_change = |f: &dyn Fn(
            &mut bailiff_filter::FilterConfig,
        ) -> Result<(), CommandError>|
         -> Result<RegexLists, CommandError> {
            let mut core = rt.core();
            let mut cfg = core.fcfg.clone();
            f(&mut cfg)?;
            JailRt::rebuild_filter(&mut core, cfg).map_err(CommandError::value)?;
            Ok(RegexLists {
                failregex: core.fcfg.failregex.clone(),
                ignoreregex: core.fcfg.ignoreregex.clone(),
            })
        };
        match op {
            JailSet::Idle(b) => {
                rt.core().idle = b;
                Ok(Value::None)
            }
            JailSet::IgnoreSelf(v) => {
                let b = parse_bool(&v)?;
                rt.core().jail.ignore_list_mut().set_ignore_self(b);
                Ok(Value::Bool(b))
            }
            JailSet::AddIgnoreIp(ips) => {
                let mut core = rt.core();
                for ip in &ips {
                    core.jail.ignore_list_mut().add_all(ip);
                }
                Ok(Value::str_list(core.jail.ignore_list().entries()))
            }
            JailSet::DelIgnoreIp(ip) => {
                let mut core = rt.core();
                core.jail.ignore_list_mut().remove(&ip);
                Ok(Value::str_list(core.jail.ignore_list().entries()))
            }
            JailSet::IgnoreCommand(c) => {
                let mut core = rt.core();
                let has = !c.trim().is_empty();
                core.jail.set_has_ignore_command(has);
                core.ignorecommand = has.then_some(c.clone());
                Ok(Value::str(c))
            }
            JailSet::IgnoreCache(c) => {
                let mut core = rt.core();
                if c.trim().is_empty() {
                    core.jail.set_ignore_cache(None);
                    core.ignorecache = None;
                } else {
                    let cache = IgnoreCache::parse(&c, |s| bailiff_config::parse_time(s).ok())
                        .map_err(|e| CommandError::value(e.to_string()))?;
                    core.jail.set_ignore_cache(Some(cache));
                    core.ignorecache = Some(c.clone());
                }
                Ok(Value::str(c))
            }
            JailSet::AddLogPath { path, tail } => {
                let lp = if tail {
                    bailiff_source::LogPath::tail(path.clone())
                } else {
                    bailiff_source::LogPath::head(path.clone())
                };
                {
                    let mut core = rt.core();
                    if !core.files.contains(&path) {
                        core.files.push(path.clone());
                    }
                    core.logpaths.push(lp.clone());
                }
                rt.change_source(PathChange::Add(lp));
                Ok(Value::str_list(rt.core().files.clone()))
            }
            JailSet::DelLogPath(path) => {
                {
                    let mut core = rt.core();
                    core.files.retain(|f| *f != path);
                    core.logpaths.retain(|l| l.pattern != path);
                }
                rt.change_source(PathChange::Del(path));
                Ok(Value::str_list(rt.core().files.clone()))
            }
            JailSet::LogEncoding(e) => {
                let enc = bailiff_source::Encoding::parse(&e)
                    .map_err(|err| CommandError::value(err.to_string()))?;
                rt.core().logencoding = e.clone();
                // Applied to the open files (or the journal reader) for what is read
                // from now on, as fail2ban's filter does.
                rt.change_source(PathChange::Encoding(enc));
                Ok(Value::str(e))
            }
            JailSet::AddJournalMatch(m) => {
                // As fail2ban: only a journal jail has matches; elsewhere a no-op.
                if !rt.core().journal {
                    return Ok(Value::List(Vec::new()));
                }
                let add = bailiff_source::journal::journalmatch_groups(&m).map_err(|e| {
                    CommandError::value(format!(
                        "Error adding journal match for: {}: {e}",
                        Value::str(m.join(" ")).py_repr()
                    ))
                })?;
                let groups = {
                    let mut core = rt.core();
                    core.journalmatch.extend(add);
                    core.journalmatch.clone()
                };
                rt.change_source(PathChange::JournalMatch(groups.clone()));
                crate::log!(
                    Level::Info,
                    "fail2ban.filtersystemd",
                    "[{}] Added journal match for: {}",
                    rt.name,
                    Value::str(m.join(" ")).py_repr()
                );
                Ok(journal_groups(&groups))
            }
            JailSet::DelJournalMatch(m) => {
                if !rt.core().journal {
                    return Ok(Value::List(Vec::new()));
                }
                // fail2ban removes the one group equal to the words given.
                let groups = {
                    let mut core = rt.core();
                    let Some(i) = core.journalmatch.iter().position(|g| *g == m) else {
                        return Err(CommandError::value(format!(
                            "Match {} not found",
                            Value::str_list(m.iter().cloned()).py_repr()
                        )));
                    };
                    core.journalmatch.remove(i);
                    core.journalmatch.clone()
                };
                rt.change_source(PathChange::JournalMatch(groups.clone()));
                crate::log!(
                    Level::Info,
                    "fail2ban.filtersystemd",
                    "[{}] Removed journal match for: {}",
                    rt.name,
                    Value::str_list(m.iter().cloned()).py_repr()
                );
                Ok(journal_groups(&groups))
            }
            JailSet::PrefRegex(r) => {
                filter_change(&|c| {
                    c.prefregex = (!r.trim().is_empty()).then(|| r.clone());
                    Ok(())
                })?;
                Ok(Value::str(r))
            }
            JailSet::AddFailRegex(rs) => Ok(Value::str_list(
                filter_change(&|c| {
                    c.failregex.extend(rs.iter().cloned());
                    Ok(())
                })?
                .failregex,
            )),
            JailSet::DelFailRegex(i) => Ok(Value::str_list(
                filter_change(&|c| remove_index(&mut c.failregex, i))?.failregex,
            )),
            JailSet::AddIgnoreRegex(rs) => Ok(Value::str_list(
                filter_change(&|c| {
                    c.ignoreregex.extend(rs.iter().cloned());
                    Ok(())
                })?
                .ignoreregex,
            )),
            JailSet::DelIgnoreRegex(i) => Ok(Value::str_list(
                filter_change(&|c| remove_index(&mut c.ignoreregex, i))?.ignoreregex,
            )),
            JailSet::UseDns(v) => {
                filter_change(&|c| {
                    c.usedns = UseDns::parse(&v);
                    Ok(())
                })?;
                rt.core().usedns = v.clone();
                Ok(Value::str(v))
            }
            JailSet::DatePattern(p) => {
                filter_change(&|c| {
                    c.datepattern = (!p.trim().is_empty()).then(|| p.clone());
                    Ok(())
                })?;
                Ok(Value::str(p))
            }
            JailSet::LogTimeZone(z) => {
                let zone = if z.trim().is_empty() {
                    bailiff_filter::Zone::system()
                } else {
                    bailiff_filter::Zone::parse_logtimezone(&z)
                        .map_err(|e| CommandError::value(e.to_string()))?
                };
                rt.core().zone = zone;
                filter_change(&|c| {
                    c.logtimezone = (!z.trim().is_empty()).then(|| z.clone());
                    Ok(())
                })?;
                Ok(Value::str(z))
            }
            JailSet::MaxLines(n) => {
                filter_change(&|c| {
                    c.maxlines = usize::try_from(n.max(1)).unwrap_or(1);
                    Ok(())
                })?;
                Ok(int(n.max(1)))
            }
            JailSet::FindTime(v) => {
                let s = parse_secs(&v)?;
                rt.core().jail.fail_manager_mut().set_find_time(s);
                Ok(secs(s))
            }
            JailSet::BanTime(v) => {
                let s = parse_secs(&v)?;
                rt.core().jail.ban_manager_mut().set_ban_time(s);
                d.wake_scheduler();
                Ok(secs(s))
            }
            JailSet::BanTimeExtra { option, value } => {
                let mut core = rt.core();
                let mut extra = core.bantime_extra.clone();
                extra.insert(option.clone(), value.clone());
                let on = extra
                    .get("increment")
                    .is_some_and(|v| parse_bool(v).unwrap_or(false));
                let inc = increment_of(on, &extra).map_err(CommandError::value)?;
                core.jail.set_increment(inc);
                core.bantime_extra = extra;
                Ok(Value::str(value))
            }
            JailSet::MaxRetry(n) => {
                let n = u32::try_from(n.max(0)).unwrap_or(u32::MAX);
                rt.core().jail.fail_manager_mut().set_max_retry(n);
                Ok(int(n))
            }
            JailSet::MaxMatches(n) => {
                let n = usize::try_from(n.max(0)).unwrap_or(0);
                rt.core().jail.fail_manager_mut().set_max_matches(n);
                Ok(int(n))
            }
            JailSet::Attempt { ip, failures } => {
                let id = FailId::parse(&ip);
                let ticket = rt.core().jail.attempt(id, failures, t);
                let banned = match ticket {
                    Some(tk) => rt.ban_tickets(d, vec![tk], t),
                    None => 0,
                };
                let _ = banned;
                Ok(Value::Int(1))
            }
            JailSet::BanIp(ips) => {
                let tickets: Vec<Ticket> = ips
                    .iter()
                    .map(|ip| Ticket::new(FailId::parse(ip), t))
                    .collect();
                Ok(int(rt.ban_tickets(d, tickets, t)))
            }
            JailSet::UnbanIp { ips, report_absent } => {
                let mut removed = Vec::new();
                {
                    let mut core = rt.core();
                    for ip in &ips {
                        match core.jail.unban(ip) {
                            Ok(v) => removed.extend(v),
                            Err(_) if report_absent => {
                                return Err(CommandError::value(format!("{ip} is not banned")));
                            }
                            Err(_) => {}
                        }
                    }
                }
                if let Some(s) = lock(&d.store).as_mut() {
                    let refs: Vec<&str> = ips.iter().map(String::as_str).collect();
                    let _ = s.del_bans(&rt.name, &refs);
                }
                rt.unban_tickets(&removed);
                Ok(int(removed.len()))
            }
            JailSet::AddAction { name, python } => {
                if python.is_some() || name.ends_with(".py") {
                    return Err(CommandError::other(format!(
                        "action {name}: Python actions are not supported by bailiff"
                    )));
                }
                let spec = bailiff_config::ActionSpec {
                    file: name.clone(),
                    actname: name.clone(),
                    args: Vec::new(),
                    python: None,
                    properties: Vec::new(),
                };
                let a = ActionRt::new(&rt.name, &spec, &d.host);
                lock(&rt.actions).push(a);
                Ok(Value::None)
            }
            JailSet::DelAction(name) => {
                let mut acts = lock(&rt.actions);
                let Some(pos) = acts.iter().position(|a| a.name == name) else {
                    return Err(CommandError::value(format!("Invalid Action name: {name}")));
                };
                let mut a = acts.remove(pos);
                drop(acts);
                let banned: Vec<_> = {
                    let core = rt.core();
                    let bt = core.jail.ban_manager().ban_time();
                    core.jail
                        .ban_manager()
                        .banned()
                        .into_iter()
                        .map(|t| crate::actions::action_ticket(t, bt))
                        .collect()
                };
                a.stop(&rt.name, &banned);
                Ok(Value::None)
            }
            JailSet::Action { action, key, value } => {
                let v = value.clone().unwrap_or_default();
                self.set_action_props(rt, &action, vec![(key, v.clone())])?;
                Ok(Value::str(v))
            }
            JailSet::ActionMulti { action, items } => {
                let kv = items
                    .into_iter()
                    .map(|(k, v)| {
                        let s = match v {
                            None | Some(Value::None) => String::new(),
                            Some(v) => v.py_str(),
                        };
                        (k, s)
                    })
                    .collect();
                self.set_action_props(rt, &action, kv)?;
                Ok(Value::None)
            }
        }
    }

    /// Change properties of a command action (rebuilt with the new property list).
    fn set_action_props(
        &self,
        rt: &JailRt,
        action: &str,
        kv: Vec<(String, String)>,
    ) -> Result<(), CommandError> {
        let mut acts = lock(&rt.actions);
        let a = acts
            .iter_mut()
            .find(|a| a.name == action)
            .ok_or_else(|| CommandError::value(format!("Invalid Action name: {action}")))?;
        if matches!(a.runner, Runner::Broken(_)) && a.spec.python.is_some() {
            return Err(CommandError::other(format!(
                "action {action}: Python actions are not supported by bailiff"
            )));
        }
        let mut props = properties(&a.spec);
        for (k, v) in kv {
            match props.iter_mut().find(|(pk, _)| *pk == k) {
                Some(p) => p.1 = v,
                None => props.push((k, v)),
            }
        }
        a.spec.properties = props
            .into_iter()
            .map(|(k, v)| (k, bailiff_config::defreader::Val::Str(v)))
            .collect();
        let spec = a.spec.clone();
        *a = ActionRt::new(&rt.name, &spec, &self.d.host);
        Ok(())
    }

    fn get(&self, g: Get) -> Result<Value, CommandError> {
        let d = &self.d;
        match g {
            Get::LogLevel => Ok(Value::str(logger().level().name())),
            Get::LogTarget => Ok(Value::str(logger().target())),
            Get::SyslogSocket => Ok(Value::str(lock(&d.settings).syslogsocket.clone())),
            Get::Thread => Ok(Value::Dict(Vec::new())),
            Get::DbFile => {
                let f = lock(&d.settings).dbfile.clone();
                Ok(if f.eq_ignore_ascii_case("none") {
                    Value::None
                } else {
                    Value::str(f)
                })
            }
            Get::DbMaxMatches => Ok(int(lock(&d.settings).dbmaxmatches)),
            Get::DbPurgeAge => Ok(secs(lock(&d.settings).dbpurgeage)),
            Get::Jail { jail, op } => {
                let rt = self.jail(&jail)?;
                self.get_jail(&rt, op)
            }
        }
    }

    fn get_jail(&self, rt: &Arc<JailRt>, op: JailGet) -> Result<Value, CommandError> {
        let core = rt.core();
        let j = &core.jail;
        Ok(match op {
            JailGet::Banned(ips) => {
                if ips.is_empty() {
                    Value::str_list(j.status().banned)
                } else {
                    Value::List(
                        ips.iter()
                            .map(|ip| int(i64::from(j.ban_manager().contains(&FailId::parse(ip)))))
                            .collect(),
                    )
                }
            }
            JailGet::BanIp { with_time } => {
                if with_time {
                    let bt = j.ban_manager().ban_time();
                    Value::str_list(j.ban_manager().banned_by_end().into_iter().map(|(t, end)| {
                        let b = t.ban_time_or(bt);
                        format!(
                            "{} \t{} + {} = {}",
                            t.id,
                            time2str(t.time),
                            b as i64,
                            if b < 0.0 {
                                "permanent".to_string()
                            } else {
                                time2str(end)
                            }
                        )
                    }))
                } else {
                    Value::str_list(j.status().banned)
                }
            }
            JailGet::LogPath => Value::str_list(core.files.clone()),
            JailGet::LogEncoding => Value::str(core.logencoding.clone()),
            JailGet::JournalMatch => {
                if core.journal {
                    journal_groups(&core.journalmatch)
                } else {
                    Value::List(Vec::new())
                }
            }
            JailGet::IgnoreSelf => Value::Bool(j.ignore_list().ignore_self()),
            JailGet::IgnoreIp => Value::str_list(j.ignore_list().entries()),
            JailGet::IgnoreCommand => opt_str(&core.ignorecommand),
            JailGet::IgnoreCache => opt_str(&core.ignorecache),
            JailGet::PrefRegex => opt_str(&core.fcfg.prefregex),
            JailGet::FailRegex => Value::str_list(core.fcfg.failregex.clone()),
            JailGet::IgnoreRegex => Value::str_list(core.fcfg.ignoreregex.clone()),
            JailGet::DatePattern => opt_str(&core.fcfg.datepattern),
            JailGet::LogTimeZone => opt_str(&core.fcfg.logtimezone),
            JailGet::UseDns => Value::str(core.usedns.clone()),
            JailGet::FindTime => secs(j.fail_manager().find_time()),
            JailGet::BanTime => secs(j.ban_manager().ban_time()),
            JailGet::BanTimeExtra(o) => opt_str(&core.bantime_extra.get(&o).cloned()),
            JailGet::MaxRetry => int(j.fail_manager().max_retry()),
            JailGet::MaxMatches => int(j.fail_manager().max_matches()),
            JailGet::MaxLines => int(core.fcfg.maxlines),
            JailGet::Actions => {
                drop(core);
                Value::str_list(lock(&rt.actions).iter().map(|a| a.name.clone()))
            }
            JailGet::Action { action, property } => {
                drop(core);
                let acts = lock(&rt.actions);
                let a = acts
                    .iter()
                    .find(|a| a.name == action)
                    .ok_or_else(|| CommandError::value(format!("Invalid Action name: {action}")))?;
                let props = properties(&a.spec);
                match props.iter().find(|(k, _)| *k == property) {
                    Some((_, v)) => Value::str(v.clone()),
                    None => {
                        return Err(CommandError::other(format!(
                            "action {action} has no property {property:?}"
                        )))
                    }
                }
            }
            JailGet::ActionProperties(action) => {
                drop(core);
                let acts = lock(&rt.actions);
                let a = acts
                    .iter()
                    .find(|a| a.name == action)
                    .ok_or_else(|| CommandError::value(format!("Invalid Action name: {action}")))?;
                Value::str_list(
                    properties(&a.spec)
                        .into_iter()
                        .map(|(k, _)| k)
                        .filter(|k| !k.starts_with("action")),
                )
            }
            JailGet::ActionMethods(action) => {
                drop(core);
                let acts = lock(&rt.actions);
                let a = acts
                    .iter()
                    .find(|a| a.name == action)
                    .ok_or_else(|| CommandError::value(format!("Invalid Action name: {action}")))?;
                Value::str_list(
                    properties(&a.spec)
                        .into_iter()
                        .map(|(k, _)| k)
                        .filter(|k| k.starts_with("action")),
                )
            }
        })
    }
}

/// The journal match groups as fail2ban answers them: a list of lists of terms.
fn journal_groups(groups: &[Vec<String>]) -> Value {
    Value::List(
        groups
            .iter()
            .map(|g| Value::str_list(g.iter().cloned()))
            .collect(),
    )
}

/// What a filter change returns to the caller.
struct RegexLists {
    failregex: Vec<String>,
    ignoreregex: Vec<String>,
}

fn remove_index(v: &mut Vec<String>, i: i64) -> Result<(), CommandError> {
    let idx = if i < 0 { v.len() as i64 + i } else { i };
    if idx < 0 || idx as usize >= v.len() {
        return Err(CommandError::value(format!("Invalid index {i}")));
    }
    v.remove(idx as usize);
    Ok(())
}
