//! The pure replay core: lines in, bans out. No clock, no disk: "now" (for year-less
//! dates) is a value, every other time comes from the lines themselves.
//!
//! An [`Engine`] is built from [`JailPlan`]s, one per jail and policy. Jails whose
//! filter and files are the same share one compiled filter (the expensive part), so
//! replaying a second policy that only changes counting or ban times costs little.
//! For every line of input file `f`, each date detector reading `f` finds the date
//! once; each filter reading `f` then matches the line (`Filter::process_dated`) with
//! "now" set to the line's own time, and every failure goes to the jails of that
//! filter: unban what is due, drop it if the address is banned there (the firewall
//! would have blocked it), count it (`Jail::on_failure`), ban what reaches
//! `maxretry` (`Jail::ban`, with `bantime.increment` fed from this run's own ban
//! history). [`Engine::finish`] then feeds each policy's bans, in time order, to its
//! `recidive` jail as the `fail2ban.actions ... NOTICE [jail] Ban IP` lines the
//! daemon logs, and returns the [`Outcome`].

use std::collections::HashMap;
use std::net::IpAddr;

use bailiff_date::{DateDetector, DateHit, DateOptions, Zone};
use bailiff_filter::{civil_year, FailureKind, Filter, FilterConfig, FilterError};
use bailiff_jail::{
    BanHistory, BanOutcome, FailId, FailureOutcome, Jail, JailConfig, JailHooks, Ticket,
};

/// One jail of one policy, resolved and ready to run.
#[derive(Debug, Clone)]
pub struct JailPlan {
    pub name: String,
    /// 0: the current policy; 1: the changed one (`--set`).
    pub policy: usize,
    pub jail: JailConfig,
    /// `ignoreip` entries (addresses, blocks; host names are skipped).
    pub ignoreip: Vec<String>,
    /// `ignoreself` with these addresses as "self"; `None`: off.
    pub ignoreself: Option<Vec<IpAddr>>,
    pub filter: FilterConfig,
    /// The zone zone-less dates are read in (`logtimezone` applied).
    pub zone: Zone,
    /// Which input files this jail reads (indices into the engine's files).
    pub files: Vec<usize>,
    /// A `recidive` jail: also fed the bans of the other jails of its policy.
    pub recidive: bool,
}

/// Options of a whole run.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// "Now": year-less dates resolve against it; `%ExY` centres on its year.
    pub now: f64,
    /// Number of input files.
    pub files: usize,
    /// fail2ban's `dbpurgeage` in seconds: ban history older than that (and older than
    /// 3 × its ban time) is forgotten, as the database purge does. `None`: the
    /// database is off (`dbfile = None`), so `bantime.increment` has no history.
    pub purge_age: Option<f64>,
    /// Count failures of an address while it is banned in that jail.
    pub count_while_banned: bool,
}

/// One ban in the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct BanEvent {
    /// When the ban starts (the time of the failure that triggered it).
    pub time: f64,
    pub jail: String,
    pub policy: usize,
    pub id: String,
    /// How many times this id has been banned in this jail (with increment: from
    /// the history), this ban included.
    pub ban_count: u32,
    /// Ban length in seconds; negative: permanent.
    pub ban_time: f64,
    /// Failures counted for the ticket.
    pub failures: u32,
    /// `bantime.increment` made it longer than `bantime`.
    pub increased: bool,
}

/// Per-address counters within one jail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddrStat {
    pub failures: u64,
    pub bans: u32,
}

/// What one jail of one policy did.
#[derive(Debug, Clone)]
pub struct JailResult {
    pub name: String,
    pub policy: usize,
    pub recidive: bool,
    pub max_retry: u32,
    pub find_time: f64,
    pub ban_time: f64,
    pub increment: bool,
    /// Lines the jail's filter read (for `recidive`: the ban lines fed to it).
    pub lines: u64,
    /// Lines that gave at least one failure.
    pub matched: u64,
    pub failures: u64,
    /// Failures of ignored addresses (`ignoreip`, `ignoreself`).
    pub ignored: u64,
    /// Failures of addresses banned in this jail at the time (dropped).
    pub while_banned: u64,
    pub bans: u64,
    /// Tickets that reached `maxretry` while the address was banned.
    pub already_banned: u64,
    pub unbans: u64,
    /// Regex errors (match limits) on some lines.
    pub regex_errors: u64,
    pub addresses: HashMap<FailId, AddrStat>,
}

/// The whole result.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Jails in plan order.
    pub jails: Vec<JailResult>,
    /// Every ban of every policy, by time.
    pub timeline: Vec<BanEvent>,
    /// Physical lines fed.
    pub lines: u64,
}

struct Run {
    jail: Jail,
    res: JailResult,
    /// When the failure list is purged next (fail2ban's `performSvc`, every 5 s).
    next_svc: f64,
}

struct Slot {
    filter: Filter,
    /// Per input file: the date group of that file this slot uses.
    group: Vec<Option<usize>>,
    consumers: Vec<usize>,
    /// Fed the bans of this policy (recidive).
    synthetic: Option<usize>,
    /// Lines processed (fail2ban's `procLines`).
    lines: u64,
}

struct Group {
    key: (Option<String>, Option<String>),
    det: DateDetector,
    zone: Zone,
    cur: Option<DateHit>,
    last: Option<f64>,
}

#[derive(Default)]
struct FileState {
    groups: Vec<Group>,
    slots: Vec<usize>,
}

/// Ban history per policy: the latest ban of each id in each jail (fail2ban's `bips`).
#[derive(Default)]
struct History {
    by_id: HashMap<FailId, Vec<(usize, BanHistory)>>,
}

struct Hooks<'a> {
    hist: Option<&'a History>,
    jail: usize,
    now: f64,
    purge_age: f64,
}

impl Hooks<'_> {
    fn visible(&self, h: &BanHistory) -> bool {
        let cut = self.now - self.purge_age;
        h.ban_time < 0.0 || !(h.time_of_ban < cut && h.time_of_ban + 3.0 * h.ban_time < cut)
    }
}

impl JailHooks for Hooks<'_> {
    fn ban_history(&mut self, id: &FailId, overall_jails: bool) -> Option<BanHistory> {
        let entries = self.hist?.by_id.get(id)?;
        let mut out: Option<BanHistory> = None;
        for (j, h) in entries {
            if (!overall_jails && *j != self.jail) || !self.visible(h) {
                continue;
            }
            out = Some(match out {
                None => *h,
                Some(o) => BanHistory {
                    ban_count: o.ban_count.saturating_add(h.ban_count),
                    time_of_ban: o.time_of_ban.max(h.time_of_ban),
                    ban_time: o.ban_time + h.ban_time,
                },
            });
        }
        out
    }

    /// `bantime.rndtime` is counted at its mean.
    fn random(&mut self) -> f64 {
        0.5
    }
}

/// The replay core; see the module documentation.
pub struct Engine {
    opts: EngineOptions,
    runs: Vec<Run>,
    slots: Vec<Slot>,
    files: Vec<FileState>,
    history: Vec<History>,
    timeline: Vec<BanEvent>,
    lines: u64,
}

/// A plan whose filter does not compile.
#[derive(Debug, thiserror::Error)]
#[error("jail {jail}: {source}")]
pub struct PlanError {
    pub jail: String,
    #[source]
    pub source: FilterError,
}

impl Engine {
    pub fn new(plans: Vec<JailPlan>, opts: EngineOptions) -> Result<Engine, PlanError> {
        let mut runs = Vec::with_capacity(plans.len());
        let mut slots: Vec<Slot> = Vec::new();
        let mut slot_keys: HashMap<String, usize> = HashMap::new();
        let mut files: Vec<FileState> = (0..opts.files).map(|_| FileState::default()).collect();
        let policies = plans.iter().map(|p| p.policy + 1).max().unwrap_or(1);
        let reference_year = civil_year(opts.now);
        for (idx, plan) in plans.into_iter().enumerate() {
            let key = format!(
                "{:?}|{:?}|{:?}",
                plan.filter,
                plan.files,
                plan.recidive.then_some(idx)
            );
            let slot_idx = match slot_keys.get(&key) {
                Some(&s) => s,
                None => {
                    let mut fcfg = plan.filter.clone();
                    fcfg.reference_year = Some(reference_year);
                    let filter =
                        Filter::new(&fcfg, plan.zone.clone(), opts.now).map_err(|source| {
                            PlanError {
                                jail: plan.name.clone(),
                                source,
                            }
                        })?;
                    let mut group = vec![None; opts.files];
                    let gkey = (fcfg.datepattern.clone(), fcfg.logtimezone.clone());
                    for &f in &plan.files {
                        let Some(fs) = files.get_mut(f) else { continue };
                        let g = match fs.groups.iter().position(|g| g.key == gkey) {
                            Some(g) => g,
                            None => {
                                let det = DateDetector::new(
                                    fcfg.datepattern.as_deref(),
                                    &DateOptions {
                                        reference_year,
                                        any_year: false,
                                    },
                                )
                                .map_err(|e| PlanError {
                                    jail: plan.name.clone(),
                                    source: FilterError::Date(e.to_string()),
                                })?;
                                fs.groups.push(Group {
                                    key: gkey.clone(),
                                    det,
                                    zone: plan.zone.clone(),
                                    cur: None,
                                    last: None,
                                });
                                fs.groups.len() - 1
                            }
                        };
                        group[f] = Some(g);
                        fs.slots.push(slots.len());
                    }
                    slots.push(Slot {
                        filter,
                        group,
                        consumers: Vec::new(),
                        synthetic: plan.recidive.then_some(plan.policy),
                        lines: 0,
                    });
                    slot_keys.insert(key, slots.len() - 1);
                    slots.len() - 1
                }
            };
            slots[slot_idx].consumers.push(idx);
            let mut jail = Jail::new(plan.jail.clone());
            {
                let il = jail.ignore_list_mut();
                il.set_ignore_self(plan.ignoreself.is_some());
                if let Some(ips) = &plan.ignoreself {
                    il.set_self_ips(ips);
                }
                for ip in &plan.ignoreip {
                    il.add(ip);
                }
            }
            runs.push(Run {
                res: JailResult {
                    name: plan.name,
                    policy: plan.policy,
                    recidive: plan.recidive,
                    max_retry: plan.jail.max_retry,
                    find_time: plan.jail.find_time,
                    ban_time: plan.jail.ban_time,
                    increment: plan.jail.increment.is_some(),
                    lines: 0,
                    matched: 0,
                    failures: 0,
                    ignored: 0,
                    while_banned: 0,
                    bans: 0,
                    already_banned: 0,
                    unbans: 0,
                    regex_errors: 0,
                    addresses: HashMap::new(),
                },
                jail,
                next_svc: f64::NEG_INFINITY,
            });
        }
        Ok(Engine {
            opts,
            runs,
            slots,
            files,
            history: (0..policies).map(|_| History::default()).collect(),
            timeline: Vec::new(),
            lines: 0,
        })
    }

    /// Whether any jail reads input file `file`.
    pub fn reads(&self, file: usize) -> bool {
        self.files.get(file).is_some_and(|f| !f.slots.is_empty())
    }

    /// One line (without its newline) of input file `file`: [`Engine::date`], then
    /// [`Engine::process`].
    pub fn feed(&mut self, file: usize, line: &str) {
        self.date(file, line);
        self.process(file, line);
    }

    /// First half of [`Engine::feed`]: finds the line's date with each date detector
    /// reading `file` and returns the line's time (the first detector's; for a line
    /// without a date, the last date seen in `file`). Lets the caller merge several
    /// files by time; [`Engine::process`] must follow with the same line.
    pub fn date(&mut self, file: usize, line: &str) -> Option<f64> {
        let fs = self.files.get_mut(file)?;
        for g in fs.groups.iter_mut() {
            g.cur = g.det.locate(line, self.opts.now, &g.zone).map(|m| {
                if let Some(t) = m.time {
                    g.last = Some(t);
                }
                DateHit {
                    start: m.start,
                    end: m.end,
                    time: m.time.unwrap_or(f64::NAN),
                    template: m.template,
                }
            });
        }
        fs.groups.first().and_then(|g| g.last)
    }

    /// Second half of [`Engine::feed`]: the filters and jails reading `file`.
    pub fn process(&mut self, file: usize, line: &str) {
        self.lines += 1;
        let Some(fs) = self.files.get_mut(file) else {
            return;
        };
        for &s in &fs.slots {
            let slot = &mut self.slots[s];
            let Some(g) = slot.group[file].and_then(|g| fs.groups.get(g)) else {
                continue;
            };
            let now = g
                .cur
                .as_ref()
                .map(|h| h.time)
                .filter(|t| t.is_finite())
                .or(g.last)
                .unwrap_or(self.opts.now);
            let res = slot.filter.process_dated(line, g.cur.clone(), now);
            dispatch(
                slot,
                res,
                now,
                &mut self.runs,
                &mut self.history,
                &mut self.timeline,
                &self.opts,
            );
        }
    }

    /// Feeds the bans to the `recidive` jails and returns the result.
    pub fn finish(mut self) -> Outcome {
        for s in 0..self.slots.len() {
            let Some(policy) = self.slots[s].synthetic else {
                continue;
            };
            let mut bans: Vec<BanEvent> = self
                .timeline
                .iter()
                .filter(|e| {
                    e.policy == policy
                        && !self
                            .runs
                            .iter()
                            .any(|r| r.res.recidive && r.res.name == e.jail)
                })
                .cloned()
                .collect();
            bans.sort_by(|a, b| a.time.total_cmp(&b.time));
            for e in bans {
                // What the daemon writes to fail2ban.log, with the date already cut out.
                let line = format!(
                    " fail2ban.actions        [{}]: NOTICE  [{}] Ban {}",
                    std::process::id(),
                    e.jail,
                    e.id
                );
                let slot = &mut self.slots[s];
                let res = slot.filter.process_entry(&line, e.time, e.time);
                dispatch(
                    slot,
                    res,
                    e.time,
                    &mut self.runs,
                    &mut self.history,
                    &mut self.timeline,
                    &self.opts,
                );
            }
        }
        self.timeline.sort_by(|a, b| {
            a.time
                .total_cmp(&b.time)
                .then(a.policy.cmp(&b.policy))
                .then_with(|| a.jail.cmp(&b.jail))
        });
        Outcome {
            jails: self.runs.into_iter().map(|r| r.res).collect(),
            timeline: self.timeline,
            lines: self.lines,
        }
    }
}

fn dispatch(
    slot: &mut Slot,
    res: bailiff_filter::LineResult,
    now: f64,
    runs: &mut [Run],
    history: &mut [History],
    timeline: &mut Vec<BanEvent>,
    opts: &EngineOptions,
) {
    let mut matched = false;
    slot.lines += 1;
    for &c in &slot.consumers {
        let r = &mut runs[c].res;
        r.lines += 1;
        r.regex_errors += res.errors.len() as u64;
    }
    let svc = slot.lines.is_multiple_of(100);
    for f in res.failures {
        if f.kind != FailureKind::Fail || f.pending || f.fid.is_empty() {
            continue;
        }
        matched = true;
        let id = FailId::parse(&f.fid);
        for &c in &slot.consumers {
            let ticket = Ticket::new(id.clone(), f.time);
            feed_jail(c, &mut runs[c], ticket, f.time, history, timeline, opts);
        }
    }
    if matched {
        for &c in &slot.consumers {
            runs[c].res.matched += 1;
        }
    }
    if svc {
        for &c in &slot.consumers {
            service(&mut runs[c], now);
        }
    }
}

fn feed_jail(
    idx: usize,
    run: &mut Run,
    ticket: Ticket,
    t: f64,
    history: &mut [History],
    timeline: &mut Vec<BanEvent>,
    opts: &EngineOptions,
) {
    let res = &mut run.res;
    res.failures += 1;
    res.addresses.entry(ticket.id.clone()).or_default().failures += 1;
    res.unbans += run.jail.unban_due(clock(t), usize::MAX).len() as u64;
    if !opts.count_while_banned && run.jail.ban_manager().get(&ticket.id).is_some() {
        res.while_banned += 1;
        return;
    }
    let policy = res.policy;
    let purge_age = opts.purge_age.unwrap_or(0.0);
    let out: FailureOutcome = {
        let mut hooks = Hooks {
            hist: opts.purge_age.and(history.get(policy)),
            jail: idx,
            now: t,
            purge_age,
        };
        run.jail.on_failure(ticket, t, &mut hooks)
    };
    if out.ignored.is_some() {
        res.ignored += 1;
    }
    for tk in out.to_ban {
        let outcome = {
            let mut hooks = Hooks {
                hist: opts.purge_age.and(history.get(policy)),
                jail: idx,
                now: t,
                purge_age,
            };
            run.jail.ban(tk, t, &mut hooks)
        };
        match outcome {
            BanOutcome::Banned {
                ticket, increased, ..
            } => {
                let ban_time = ticket.ban_time_or(run.jail.ban_manager().ban_time());
                res.bans += 1;
                res.addresses.entry(ticket.id.clone()).or_default().bans += 1;
                let h = BanHistory {
                    ban_count: ticket.ban_count,
                    time_of_ban: ticket.time,
                    ban_time,
                };
                if let Some(hist) = history.get_mut(policy) {
                    let v = hist.by_id.entry(ticket.id.clone()).or_default();
                    match v.iter_mut().find(|(j, _)| *j == idx) {
                        Some(e) => e.1 = h,
                        None => v.push((idx, h)),
                    }
                }
                timeline.push(BanEvent {
                    time: ticket.time,
                    jail: res.name.clone(),
                    policy,
                    id: ticket.id.to_string(),
                    ban_count: ticket.ban_count,
                    ban_time,
                    failures: ticket.failures,
                    increased,
                });
            }
            BanOutcome::AlreadyBanned { .. } => res.already_banned += 1,
            BanOutcome::Expired | BanOutcome::Ignored(_) => {}
        }
        let c = clock(t);
        if c >= run.next_svc {
            run.jail.service(c);
            run.next_svc = c + 5.0;
        }
    }
}

/// The daemon's clock when it handles a line stamped `t` (whole seconds: dates carry no
/// fractions): some time within that second, after it began. So a ban that ends at `t`
/// is over, and an id whose last failure is exactly `findtime` old is forgotten.
fn clock(t: f64) -> f64 {
    t + 0.5
}

/// fail2ban's `performSvc`: forget ids whose last failure is older than findtime, at
/// most every 5 s; run after a ban and every 100 lines of the filter.
fn service(run: &mut Run, t: f64) {
    let c = clock(t);
    if c >= run.next_svc {
        run.jail.service(c);
        run.next_svc = c + 5.0;
    }
}
