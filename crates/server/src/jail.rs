//! One running jail: its [`Core`] (the pure [`Jail`] and the compiled [`Filter`]) under
//! a lock, its actions under another, and the thread that follows its log source.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bailiff_action::HostNames;
use bailiff_config::JailSpec;
use bailiff_date::{DateDetector, DateOptions};
use bailiff_filter::{FailureKind, Filter, FilterConfig, UseDns, Zone};
use bailiff_jail::{
    BanOutcome, BanTimeIncrement, BanTimeOptions, FailId, IgnoreCache, Jail, JailConfig, Ticket,
};
use bailiff_source::journal::{JournalOptions, JournalSource};
use bailiff_source::{
    Backend, Encoding, FileSource, FileSourceOptions, LogPath, StartAt, StoredPosition, TimeCutoff,
    Waker,
};
use bailiff_store::{BanRecord, LogPosition, StoreHooks};

use crate::actions::{action_ticket, ActionRt};
use crate::log::Level;
use crate::queue::{ActionQueue, Batch, Job, Taken};
use crate::{lock, now, Daemon};

/// How often a source thread saves its positions when it has read lines (fail2ban
/// saves after every read), and how often anyway.
const SAVE_DIRTY: Duration = Duration::from_secs(1);
const SAVE_EVERY: Duration = Duration::from_secs(60);

/// Lines of one read handed to the filter at a time (see [`JailRt::process_from`]).
const CHUNK_LINES: usize = 1024;

/// Bans handed to the actions and not yet written to the store and the log: the
/// batch and, per ticket, whether it goes to the store.
type Decided = (Batch, Vec<bool>);

/// How long a control command (`banip`, `unbanip`, `unban`) waits for its job to
/// run before it answers anyway (the job still runs, in order).
const CONTROL_WAIT: Duration = Duration::from_secs(15);

/// A change of the running source requested over the socket (`addlogpath`,
/// `dellogpath`, `logencoding`, `addjournalmatch`/`deljournalmatch`), applied by the
/// source thread (see [`JailRt::change_source`]).
#[derive(Debug, Clone)]
pub enum PathChange {
    Add(LogPath),
    Del(String),
    Encoding(Encoding),
    /// The journal match groups now in force (ignored by a file source).
    JournalMatch(Vec<Vec<String>>),
}

/// The mutable state of a jail.
pub struct Core {
    pub jail: Jail,
    pub fcfg: FilterConfig,
    pub filter: Filter,
    pub zone: Zone,
    pub logpaths: Vec<LogPath>,
    pub path_changes: Vec<PathChange>,
    pub journal: bool,
    /// The `journalmatch` groups (OR-ed; the terms of a group AND-ed).
    pub journalmatch: Vec<Vec<String>>,
    /// Source changes queued and applied so far (the handler waits for its own).
    pub changes_queued: u64,
    pub changes_applied: u64,
    /// Files currently followed (for `status` and `get logpath`).
    pub files: Vec<String>,
    pub logencoding: String,
    pub usedns: String,
    pub ignorecommand: Option<String>,
    pub ignorecache: Option<String>,
    pub bantime_extra: BTreeMap<String, String>,
    pub idle: bool,
    /// Lines the filter did not trust, and who they named.
    pub ambiguous: crate::ambiguous::AmbiguousLog,
    /// Quiet failures made loud (`bailiff_health`): fed by the source thread, the
    /// filter's verdicts and the bans.
    pub health: bailiff_health::JailHealth,
}

/// A running jail.
pub struct JailRt {
    pub name: String,
    /// The configuration it runs (reload keeps jails whose spec is unchanged and
    /// updates in place those whose sources and actions are unchanged).
    pub spec: Mutex<JailSpec>,
    pub core: Mutex<Core>,
    pub actions: Mutex<Vec<ActionRt>>,
    /// Ban, unban and prolong jobs for the action worker (see [`crate::queue`]).
    pub queue: ActionQueue,
    worker: Mutex<Option<JoinHandle<()>>>,
    stop: AtomicBool,
    waker: Mutex<Option<Waker>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

enum Source {
    Files(Box<FileSource>),
    Journal(JournalSource),
}

/// Build the `bantime.increment` settings of a jail.
pub fn increment_of(
    spec_inc: bool,
    extra: &BTreeMap<String, String>,
) -> Result<Option<BanTimeIncrement>, String> {
    if !spec_inc {
        return Ok(None);
    }
    let secs = |k: &str| -> Result<Option<f64>, String> {
        match extra.get(k).map(|s| s.trim()).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(v) => bailiff_config::parse_time(v)
                .map(Some)
                .map_err(|e| format!("bantime.{k}: {e}")),
        }
    };
    let o = BanTimeOptions {
        factor: extra.get("factor").map(String::as_str),
        formula: extra.get("formula").map(String::as_str),
        multipliers: extra.get("multipliers").map(String::as_str),
        max_time: secs("maxtime")?,
        rnd_time: secs("rndtime")?,
        overall_jails: extra.get("overalljails").is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "true" | "yes" | "1" | "on"
            )
        }),
    };
    BanTimeIncrement::from_options(&o)
        .map(Some)
        .map_err(|e| e.to_string())
}

fn filter_config(spec: &JailSpec) -> FilterConfig {
    let f = spec.filter.clone().unwrap_or_default();
    FilterConfig {
        prefregex: f.prefregex,
        failregex: f.failregex,
        ignoreregex: f.ignoreregex,
        maxlines: f.maxlines.unwrap_or(1).max(1),
        datepattern: f.datepattern,
        usedns: UseDns::parse(f.usedns.as_deref().unwrap_or(&spec.usedns)),
        logtimezone: spec.logtimezone.clone(),
        ..FilterConfig::default()
    }
}

/// The host's own addresses for `ignoreself`: loopback and what the host name resolves to.
pub fn self_ips() -> Vec<IpAddr> {
    use std::net::ToSocketAddrs;
    let mut v: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap_or(IpAddr::from([127, 0, 0, 1]))];
    v.push(IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]));
    let host = HostNames::local();
    for name in [host.short.as_str(), host.fq.as_str()] {
        if let Ok(addrs) = (name, 0u16).to_socket_addrs() {
            v.extend(addrs.map(|a| a.ip()));
        }
    }
    v.sort();
    v.dedup();
    v
}

impl JailRt {
    /// Set up a jail from its spec: counting, filter, actions (started), bans restored
    /// from the store, and its source thread. Errors name what is broken; the caller
    /// reports them and goes on with the other jails.
    pub fn start(d: &Arc<Daemon>, spec: JailSpec) -> Result<Arc<JailRt>, String> {
        let name = spec.name.clone();
        let t0 = now();
        let Built {
            jc,
            extra,
            fcfg,
            zone,
            filter,
        } = Built::new(&spec, t0)?;
        let find_time = jc.find_time;
        let mut jail = Jail::new(jc);
        apply_ignore(&mut jail, &spec, d);
        let logpaths = log_paths(&spec);
        let journalmatch = spec
            .filter
            .as_ref()
            .map(|f| f.journalmatch.clone())
            .unwrap_or_default();

        // The source.
        let (bname, bargs) = bailiff_config::parse_call(&spec.backend)
            .map_err(|e| format!("backend {:?}: {e}", spec.backend))?;
        let bname = bname.trim().to_ascii_lowercase();
        let no_files = spec.logpaths.iter().all(|l| l.files.is_empty());
        let use_journal = match bname.as_str() {
            "systemd" => true,
            "auto" if no_files && bailiff_source::journal::available() => {
                crate::log!(
                    Level::Info,
                    "fail2ban.jail",
                    "Jail '{name}': no log file found for {:?}, using the systemd journal (backend = auto)",
                    spec.logpaths.iter().map(|l| l.pattern.as_str()).collect::<Vec<_>>()
                );
                true
            }
            _ => false,
        };
        let encoding = Encoding::parse(&spec.logencoding).unwrap_or(Encoding::Utf8);
        let journal = if use_journal {
            match open_journal(d, &name, &bargs, &journalmatch, encoding, t0, find_time) {
                Ok(j) => Some(j),
                Err(e) if bname == "auto" => {
                    crate::log!(
                        Level::Warning,
                        "fail2ban.jail",
                        "Jail '{name}': {e}; following the log files instead"
                    );
                    None
                }
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        let use_journal = journal.is_some();
        let journal_groups: Vec<Vec<String>> = match &journal {
            Some(j) => j.matches().to_vec(),
            None => journalmatch
                .iter()
                .filter_map(|l| bailiff_source::journal::parse_journalmatch(l).ok())
                .flatten()
                .collect(),
        };
        let source =
            if let Some(j) = journal {
                Source::Journal(j)
            } else {
                if no_files && !spec.logpaths.is_empty() {
                    crate::log!(
                    Level::Warning,
                    "fail2ban.jail",
                    "Jail '{name}': have not found any log file for {}; waiting for it to appear",
                    spec.logpaths.iter().map(|l| l.pattern.as_str()).collect::<Vec<_>>().join(", ")
                );
                }
                let backend = match bname.as_str() {
                    "polling" => Backend::Polling,
                    "pyinotify" | "inotify" => Backend::Inotify,
                    _ => Backend::Auto,
                };
                let mut stored = HashMap::new();
                if let Some(s) = lock(&d.store).as_ref() {
                    if let Ok(ps) = s.log_positions(&name) {
                        for p in ps {
                            stored.insert(
                                PathBuf::from(&p.path),
                                StoredPosition {
                                    first_line_md5: p.first_line_hash.clone().unwrap_or_default(),
                                    offset: p.offset,
                                    dev_ino: (p.dev != 0 || p.inode != 0)
                                        .then_some((p.dev, p.inode)),
                                },
                            );
                        }
                    }
                }
                let det = DateDetector::new(
                    fcfg.datepattern.as_deref(),
                    &DateOptions {
                        reference_year: jiff::Zoned::now().year().into(),
                        any_year: false,
                    },
                )
                .map_err(|e| format!("datepattern: {e}"))?;
                let det = Mutex::new(det);
                let z = zone.clone();
                let line_time = Arc::new(move |line: &str| {
                    let hit = lock(&det).find(line, now(), &z)?;
                    (hit.time >= 0.0).then(|| UNIX_EPOCH + Duration::from_secs_f64(hit.time))
                });
                let opts = FileSourceOptions {
                    backend,
                    encoding,
                    stored,
                    initial_cutoff: Some(TimeCutoff {
                        not_before: SystemTime::now()
                            .checked_sub(Duration::from_secs_f64(find_time.max(0.0)))
                            .unwrap_or(UNIX_EPOCH),
                        line_time,
                    }),
                    ..FileSourceOptions::default()
                };
                Source::Files(Box::new(
                    FileSource::new(logpaths.clone(), opts).map_err(|e| format!("logpath: {e}"))?,
                ))
            };

        let files: Vec<String> = spec
            .logpaths
            .iter()
            .flat_map(|l| {
                if l.files.is_empty() {
                    vec![l.pattern.clone()]
                } else {
                    l.files.clone()
                }
            })
            .collect();
        let core = Core {
            jail,
            fcfg,
            filter,
            zone,
            logpaths,
            path_changes: Vec::new(),
            journal: use_journal,
            journalmatch: journal_groups,
            changes_queued: 0,
            changes_applied: 0,
            files,
            logencoding: spec.logencoding.clone(),
            usedns: spec.usedns.clone(),
            ignorecommand: spec.ignorecommand.clone(),
            ignorecache: spec.ignorecache.clone(),
            bantime_extra: extra,
            idle: false,
            ambiguous: Default::default(),
            health: bailiff_health::JailHealth::new(),
        };
        let actions: Vec<ActionRt> = spec
            .actions
            .iter()
            .map(|a| ActionRt::new(&name, a, &d.host))
            .collect();
        let rt = Arc::new(JailRt {
            name: name.clone(),
            spec: Mutex::new(spec),
            core: Mutex::new(core),
            actions: Mutex::new(actions),
            queue: ActionQueue::new(),
            worker: Mutex::new(None),
            stop: AtomicBool::new(false),
            waker: Mutex::new(None),
            thread: Mutex::new(None),
        });
        crate::log!(Level::Info, "fail2ban.jail", "Creating new jail '{name}'");
        if let Some(s) = lock(&d.store).as_mut() {
            if let Err(e) = s.add_jail(&name) {
                crate::log!(Level::Error, "fail2ban.database", "{e}");
            }
        }
        for a in lock(&rt.actions).iter_mut() {
            a.start(&name);
        }
        rt.feed_action_outcomes();
        {
            let (d2, rt2) = (Arc::clone(d), Arc::clone(&rt));
            let th = std::thread::Builder::new()
                .name(format!("f2b/a/{name}"))
                .spawn(move || rt2.action_worker(&d2))
                .map_err(|e| format!("cannot start the action thread: {e}"))?;
            *lock(&rt.worker) = Some(th);
        }
        rt.restore_bans(d);
        let mut source = source;
        let waker = match &mut source {
            Source::Files(f) => f.waker().ok(),
            Source::Journal(j) => j.waker().ok(),
        };
        *lock(&rt.waker) = waker;
        let (d2, rt2) = (Arc::clone(d), Arc::clone(&rt));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let th = std::thread::Builder::new()
            .name(format!("f2b/{name}"))
            .spawn(move || rt2.source_loop(&d2, source, ready_tx));
        let th = match th {
            Ok(th) => th,
            Err(e) => {
                rt.stop_worker();
                return Err(format!("cannot start the source thread: {e}"));
            }
        };
        *lock(&rt.thread) = Some(th);
        // The files present now are the ones "found at start" (`tail` starts at their
        // end): wait for the first look so that lines written after start count.
        let _ = ready_rx.recv_timeout(Duration::from_secs(10));
        crate::log!(Level::Info, "fail2ban.jail", "Jail '{name}' started");
        Ok(rt)
    }

    /// Whether `new` differs from the running spec only in what [`JailRt::reconfigure`]
    /// can change in place: everything but the backend and the actions (fail2ban keeps
    /// a reloaded jail, counters included, unless its backend changes; bailiff also
    /// restarts a jail whose actions changed, its bans coming back from the store). A
    /// jail that `backend = auto` put on the journal for want of a log file is
    /// restarted once one of its files exists.
    pub fn can_reconfigure(&self, new: &JailSpec) -> bool {
        let old = lock(&self.spec);
        let auto_on_journal = lock(&self.core).journal
            && !old
                .backend
                .trim()
                .to_ascii_lowercase()
                .starts_with("systemd");
        old.backend == new.backend
            && old.actions == new.actions
            && !(auto_on_journal && new.logpaths.iter().any(|l| !l.files.is_empty()))
    }

    /// Apply a changed spec in place (reload): counters, bans, the source position and
    /// the running actions stay.
    pub fn reconfigure(&self, d: &Daemon, spec: JailSpec) -> Result<(), String> {
        let b = Built::new(&spec, now())?;
        {
            let mut core = lock(&self.core);
            let j = &mut core.jail;
            j.fail_manager_mut().set_max_retry(b.jc.max_retry);
            j.fail_manager_mut().set_find_time(b.jc.find_time);
            j.fail_manager_mut().set_max_matches(b.jc.max_matches);
            j.ban_manager_mut().set_ban_time(b.jc.ban_time);
            j.set_increment(b.jc.increment);
            j.set_has_ignore_command(b.jc.has_ignore_command);
            j.set_ignore_cache(b.jc.ignore_cache);
            apply_ignore(j, &spec, d);
            core.fcfg = b.fcfg;
            core.filter = b.filter;
            core.zone = b.zone;
            core.bantime_extra = b.extra;
            core.usedns = spec.usedns.clone();
            core.ignorecommand = spec.ignorecommand.clone();
            core.ignorecache = spec.ignorecache.clone();
            // Dates may be read differently now (logtimezone, datepattern).
            core.health.reset_date_offsets();
        }
        let old = lock(&self.spec).clone();
        self.reconfigure_source(&old, &spec);
        *lock(&self.spec) = spec;
        d.wake_scheduler();
        crate::log!(
            Level::Info,
            "fail2ban.jail",
            "Jail '{}' reloaded",
            self.name
        );
        Ok(())
    }

    /// The source part of a reload in place: log paths added and removed, the log
    /// encoding and the journal matches applied to the running source.
    fn reconfigure_source(&self, old: &JailSpec, new: &JailSpec) {
        let key = |l: &bailiff_config::LogPath| (l.pattern.clone(), l.position.clone());
        let (before, after): (Vec<_>, Vec<_>) = (
            old.logpaths.iter().map(key).collect(),
            new.logpaths.iter().map(key).collect(),
        );
        if before != after {
            let mut changes = Vec::new();
            for (pattern, position) in &before {
                if !after.contains(&(pattern.clone(), position.clone())) {
                    changes.push(PathChange::Del(pattern.clone()));
                }
            }
            for (pattern, position) in &after {
                if !before.contains(&(pattern.clone(), position.clone())) {
                    changes.push(PathChange::Add(if position == "tail" {
                        LogPath::tail(pattern.clone())
                    } else {
                        LogPath::head(pattern.clone())
                    }));
                }
            }
            {
                let mut core = lock(&self.core);
                core.logpaths = log_paths(new);
                core.files = new
                    .logpaths
                    .iter()
                    .flat_map(|l| {
                        if l.files.is_empty() {
                            vec![l.pattern.clone()]
                        } else {
                            l.files.clone()
                        }
                    })
                    .collect();
            }
            for c in changes {
                self.change_source(c);
            }
        }
        if old.logencoding != new.logencoding {
            let enc = Encoding::parse(&new.logencoding).unwrap_or(Encoding::Utf8);
            lock(&self.core).logencoding = new.logencoding.clone();
            self.change_source(PathChange::Encoding(enc));
        }
        let jm = |s: &JailSpec| {
            s.filter
                .as_ref()
                .map(|f| f.journalmatch.clone())
                .unwrap_or_default()
        };
        if jm(old) != jm(new) {
            let groups: Vec<Vec<String>> = jm(new)
                .iter()
                .filter_map(|l| bailiff_source::journal::parse_journalmatch(l).ok())
                .flatten()
                .collect();
            lock(&self.core).journalmatch = groups.clone();
            self.change_source(PathChange::JournalMatch(groups));
        }
    }

    /// Queue a change of the running source, wake the source thread and wait (at most
    /// two seconds) until it has applied it, so that what the log holds after the
    /// reply is read with the change. Returns whether it was applied in time.
    pub fn change_source(&self, c: PathChange) -> bool {
        let ticket = {
            let mut core = lock(&self.core);
            core.path_changes.push(c);
            core.changes_queued += 1;
            core.changes_queued
        };
        if let Some(w) = lock(&self.waker).as_ref() {
            w.wake();
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if lock(&self.core).changes_applied >= ticket {
                return true;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        false
    }

    /// Restore the active bans of this jail from the store, as one batch per action.
    fn restore_bans(&self, d: &Daemon) {
        let t0 = now();
        let records = {
            let store = lock(&d.store);
            let Some(s) = store.as_ref() else { return };
            let for_bt = {
                let core = lock(&self.core);
                match core.jail.increment() {
                    Some(_) => None,
                    None => Some(core.jail.ban_manager().ban_time()),
                }
            };
            match s.current_bans(&self.name, t0 as i64, for_bt) {
                Ok(r) => r,
                Err(e) => {
                    crate::log!(Level::Error, "fail2ban.database", "{e}");
                    return;
                }
            }
        };
        let mut restored = Vec::new();
        let default_bt;
        {
            let mut core = lock(&self.core);
            default_bt = core.jail.ban_manager().ban_time();
            let store = lock(&d.store);
            let mut hooks = StoreHooks::new(store.as_ref(), &self.name);
            for r in records {
                if let BanOutcome::Banned { ticket, .. } =
                    core.jail.restore(r.to_ticket(), t0, &mut hooks)
                {
                    restored.push(ticket);
                }
            }
        }
        if restored.is_empty() {
            return;
        }
        // To the actions first (one batch: one nft transaction), then the log.
        let batch = Batch::new(restored, default_bt);
        self.submit(Job::Ban(vec![batch.clone()]), false);
        d.wake_scheduler();
        crate::log::logger().log_many(
            "fail2ban.actions",
            Level::Notice,
            batch
                .tickets
                .iter()
                .map(|t| format!("[{}] Restore Ban {}", self.name, t.id)),
        );
    }

    /// Hand a job to the action worker; with `wait`, return only once it has run
    /// (or after [`CONTROL_WAIT`]). After the worker has gone (the jail stopped) the
    /// job runs here.
    fn submit(&self, job: Job, wait: bool) {
        if job.is_empty() {
            return;
        }
        match self.queue.push(job) {
            Ok(seq) => {
                if wait && !self.queue.wait_done(seq, CONTROL_WAIT) {
                    let (jobs, tickets) = self.queue.backlog();
                    crate::log!(
                        Level::Warning,
                        "fail2ban.actions",
                        "[{}] actions are behind ({jobs} job(s), {tickets} address(es) queued); the command's action runs later",
                        self.name
                    );
                }
            }
            Err(job) => {
                self.run_job(job);
                self.feed_action_outcomes();
            }
        }
    }

    /// Run one job on every action of the jail.
    fn run_job(&self, job: Job) {
        // The action tickets for command actions, built once for all of them.
        let mut full = None;
        let mut acts = lock(&self.actions);
        for a in acts.iter_mut() {
            match &job {
                Job::Ban(b) => a.ban(&self.name, b, &mut full),
                Job::Unban(b) => a.unban(&self.name, b, &mut full),
                Job::Prolong(b) => a.prolong(&self.name, b, &mut full),
            }
        }
    }

    /// The action worker: runs queued jobs in order, hands their results to the
    /// jail's health, and when idle compares the native nftables sets with the bans
    /// (every `health_firewall_check`; only then are all decided bans applied, so
    /// the comparison sees no ban still waiting in the queue). Ends when the queue
    /// is closed and empty.
    fn action_worker(self: Arc<Self>, d: &Daemon) {
        let mut last_check = Instant::now();
        // Results not yet handed to the health, which lives under the core's lock:
        // the source thread holds it while it matches a chunk, and the worker does
        // not wait for it between two jobs.
        let mut unfed: Vec<Outcomes> = Vec::new();
        loop {
            let until_check = d.health_check_every().saturating_sub(last_check.elapsed());
            match self.queue.take(until_check) {
                Taken::Jobs(jobs) => {
                    for (seq, job) in jobs {
                        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            self.run_job(job)
                        }));
                        if r.is_err() {
                            crate::log!(
                                Level::Error,
                                "fail2ban.actions",
                                "[{}] internal error while running actions (job skipped); the jail goes on",
                                self.name
                            );
                        }
                        unfed.extend(self.take_action_outcomes());
                        if unfed.len() > MAX_UNFED {
                            unfed.drain(..unfed.len() - MAX_UNFED);
                        }
                        if let Some(mut core) = try_lock(&self.core) {
                            give_outcomes(&mut core, std::mem::take(&mut unfed));
                        }
                        self.queue.finished(seq);
                    }
                    if !unfed.is_empty() && self.queue.is_idle() {
                        give_outcomes(&mut lock(&self.core), std::mem::take(&mut unfed));
                    }
                }
                Taken::Idle => {
                    last_check = Instant::now();
                    self.check_firewall();
                }
                Taken::Closed => {
                    if !unfed.is_empty() {
                        give_outcomes(&mut lock(&self.core), unfed);
                    }
                    return;
                }
            }
        }
    }

    /// Let the action worker run what is queued, then end it.
    fn stop_worker(&self) {
        self.queue.close();
        let th = lock(&self.worker).take();
        if let Some(th) = th {
            let _ = th.join();
        }
    }

    /// Ask the source thread to stop, wait for it (it saves its positions), then stop
    /// the actions (unbanning what they banned, as fail2ban's `actionstop`).
    pub fn stop(&self, d: &Daemon) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(w) = lock(&self.waker).as_ref() {
            w.wake();
        }
        let th = lock(&self.thread).take();
        if let Some(th) = th {
            let _ = th.join();
        }
        // Bans and unbans already decided reach the actions before they stop.
        self.stop_worker();
        let banned: Vec<_> = {
            let core = lock(&self.core);
            let bt = core.jail.ban_manager().ban_time();
            core.jail
                .ban_manager()
                .banned()
                .into_iter()
                .map(|t| action_ticket(t, bt))
                .collect()
        };
        for a in lock(&self.actions).iter_mut() {
            a.stop(&self.name, &banned);
        }
        self.feed_action_outcomes();
        if let Some(s) = lock(&d.store).as_mut() {
            let _ = s.del_jail(&self.name);
        }
        crate::log!(Level::Info, "fail2ban.jail", "Jail '{}' stopped", self.name);
    }

    fn source_loop(
        self: Arc<Self>,
        d: &Daemon,
        mut source: Source,
        ready: std::sync::mpsc::Sender<()>,
    ) {
        if let Source::Files(fs) = &mut source {
            let first = fs.wait(Duration::ZERO);
            let _ = ready.send(());
            if !first.is_empty() {
                let t = now();
                self.process_events(d, first, t);
            }
        } else {
            let _ = ready.send(());
            lock(&self.core).health.on_source_state(
                "journal",
                bailiff_health::SourceState::Open,
                now(),
            );
        }
        let mut last_save = Instant::now();
        let mut dirty = false;
        let mut last_cursor: Option<(String, f64)> = None;
        // The journal's backlog (first batch, then full ones) is old by nature: its
        // dates must not count as date skew.
        let mut journal_backlog = true;
        while !self.stop.load(Ordering::SeqCst) && !d.quitting() {
            self.apply_source_changes(&mut source);
            match &mut source {
                Source::Files(fs) => {
                    let lines = fs.wait(Duration::from_millis(500));
                    if !lines.is_empty() {
                        dirty = true;
                        let t = now();
                        self.process_events(d, lines, t);
                    }
                    {
                        let t = now();
                        let hs = fs.health();
                        let mut core = lock(&self.core);
                        for h in &hs {
                            core.health.on_file_health(h, t);
                        }
                    }
                    let since = last_save.elapsed();
                    if (dirty && since >= SAVE_DIRTY) || since >= SAVE_EVERY {
                        dirty = false;
                        self.save_positions(d, fs);
                        let files: Vec<String> = fs
                            .health()
                            .into_iter()
                            .map(|h| h.path.to_string_lossy().into_owned())
                            .collect();
                        if !files.is_empty() {
                            lock(&self.core).files = files;
                        }
                        last_save = Instant::now();
                    }
                }
                Source::Journal(j) => match j.wait(Duration::from_millis(500), 1000) {
                    Ok(entries) => {
                        lock(&self.core).health.on_source_state(
                            "journal",
                            bailiff_health::SourceState::Open,
                            now(),
                        );
                        if let Some(e) = entries.last() {
                            let t = e
                                .time
                                .duration_since(UNIX_EPOCH)
                                .map(|d| d.as_secs_f64())
                                .unwrap_or(0.0);
                            last_cursor = Some((e.cursor.clone(), t));
                        }
                        if !entries.is_empty() {
                            dirty = true;
                            let t = now();
                            let items: Vec<(String, Option<f64>)> = entries
                                .into_iter()
                                .map(|e| {
                                    let time = e
                                        .time
                                        .duration_since(UNIX_EPOCH)
                                        .map(|d| d.as_secs_f64())
                                        .unwrap_or(t);
                                    (e.line, Some(time))
                                })
                                .collect();
                            let n = items.len() as u64;
                            let bytes = items.iter().map(|(l, _)| l.len() as u64 + 1).sum();
                            lock(&self.core)
                                .health
                                .on_lines_read("journal", n, bytes, t);
                            self.process_from(d, "journal", journal_backlog, items, t);
                            journal_backlog = n >= 1000;
                        }
                        let since = last_save.elapsed();
                        if (dirty && since >= SAVE_DIRTY) || since >= SAVE_EVERY {
                            dirty = false;
                            self.save_cursor(d, &last_cursor);
                            last_save = Instant::now();
                        }
                    }
                    Err(e) => {
                        crate::log!(Level::Error, "fail2ban.filter", "[{}] {e}", self.name);
                        lock(&self.core).health.on_source_state(
                            "journal",
                            bailiff_health::SourceState::Unreadable(e.to_string()),
                            now(),
                        );
                        std::thread::sleep(Duration::from_secs(1));
                    }
                },
            }
        }
        match &source {
            Source::Files(fs) => self.save_positions(d, fs),
            Source::Journal(_) => self.save_cursor(d, &last_cursor),
        }
    }

    /// Apply the changes queued by [`JailRt::change_source`] to the running source.
    fn apply_source_changes(&self, source: &mut Source) {
        let (changes, queued) = {
            let mut core = lock(&self.core);
            (std::mem::take(&mut core.path_changes), core.changes_queued)
        };
        for c in changes {
            match (&mut *source, c) {
                (Source::Files(fs), PathChange::Add(p)) => fs.add_path(p),
                (Source::Files(fs), PathChange::Del(p)) => {
                    fs.remove_path(&p);
                    lock(&self.core).health.remove_source(&p);
                }
                (Source::Files(fs), PathChange::Encoding(e)) => fs.set_encoding(e),
                (Source::Journal(j), PathChange::Encoding(e)) => j.set_encoding(e),
                (Source::Journal(j), PathChange::JournalMatch(groups)) => {
                    if let Err(e) = j.set_matches(&groups) {
                        crate::log!(Level::Error, "fail2ban.filter", "[{}] {e}", self.name);
                    }
                }
                (Source::Files(_), PathChange::JournalMatch(_))
                | (Source::Journal(_), PathChange::Add(_) | PathChange::Del(_)) => {}
            }
        }
        lock(&self.core).changes_applied = queued;
    }

    fn save_positions(&self, d: &Daemon, fs: &FileSource) {
        let ps: Vec<LogPosition> = fs
            .positions()
            .into_iter()
            .map(|p| LogPosition {
                path: p.path.to_string_lossy().into_owned(),
                dev: p.identity.dev,
                inode: p.identity.ino,
                first_line_hash: p.identity.first_line_md5.clone(),
                offset: p.offset,
            })
            .collect();
        if ps.is_empty() {
            return;
        }
        if let Some(s) = lock(&d.store).as_mut() {
            if let Err(e) = s.set_log_positions(&self.name, &ps) {
                crate::log!(Level::Error, "fail2ban.database", "{e}");
            }
        }
    }

    fn save_cursor(&self, d: &Daemon, c: &Option<(String, f64)>) {
        if let (Some((cursor, t)), Some(s)) = (c, lock(&d.store).as_mut()) {
            if let Err(e) = s.set_journal_cursor(&self.name, cursor, *t) {
                crate::log!(Level::Error, "fail2ban.database", "{e}");
            }
        }
    }

    /// Lines (with the journal's time, if any) through the filter and the jail; new
    /// bans go to the store and the actions. A panic while doing so is logged and the
    /// jail goes on with the next lines.
    pub fn process(&self, d: &Daemon, lines: Vec<(String, Option<f64>)>, t: f64) {
        self.process_from(d, "", false, lines, t)
    }

    /// File lines: grouped by path (and catch-up), counted as read, then processed.
    fn process_events(&self, d: &Daemon, events: Vec<bailiff_source::LineEvent>, t: f64) {
        let mut group: Vec<(String, Option<f64>)> = Vec::new();
        let mut key: Option<(std::sync::Arc<std::path::Path>, bool)> = None;
        let mut bytes = 0u64;
        let flush = |key: &Option<(std::sync::Arc<std::path::Path>, bool)>,
                     group: &mut Vec<(String, Option<f64>)>,
                     bytes: &mut u64| {
            if let Some((p, initial)) = key {
                if !group.is_empty() {
                    let name = p.display().to_string();
                    lock(&self.core)
                        .health
                        .on_lines_read(&name, group.len() as u64, *bytes, t);
                    self.process_from(d, &name, *initial, std::mem::take(group), t);
                }
            }
            *bytes = 0;
        };
        for e in events {
            let same = key
                .as_ref()
                .is_some_and(|(p, i)| *p == e.path && *i == e.initial);
            if !same {
                flush(&key, &mut group, &mut bytes);
                key = Some((e.path.clone(), e.initial));
            }
            bytes += e.text.len() as u64 + 1;
            group.push((e.text, None));
        }
        flush(&key, &mut group, &mut bytes);
    }

    /// Lines read under `source` (a path, `journal`, or empty when not from a
    /// source: then health is not fed).
    pub fn process_from(
        &self,
        d: &Daemon,
        source: &str,
        catching_up: bool,
        lines: Vec<(String, Option<f64>)>,
        t: f64,
    ) {
        let big = lines.iter().map(|(l, _)| l.len()).sum::<usize>() >= RELEASE_AFTER_BYTES;
        // A big batch goes through in chunks: each chunk's bans reach the action
        // worker as soon as they are decided, so the firewall applies them while the
        // next chunk is matched; the store and the log get all of them at the end.
        let mut decided = Vec::new();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if lines.len() <= CHUNK_LINES {
                self.process_inner(d, source, catching_up, lines, t, &mut decided);
            } else {
                let mut rest = lines.into_iter();
                loop {
                    let chunk: Vec<_> = rest.by_ref().take(CHUNK_LINES).collect();
                    if chunk.is_empty() {
                        break;
                    }
                    self.process_inner(d, source, catching_up, chunk, t, &mut decided);
                }
            }
        }));
        self.record_bans(d, &decided);
        drop(decided);
        if big {
            release_freed_memory();
        }
        if r.is_err() {
            crate::log!(
                Level::Error,
                "fail2ban.filter",
                "[{}] internal error while processing lines (skipped); the jail goes on",
                self.name
            );
        }
    }

    fn process_inner(
        &self,
        d: &Daemon,
        source: &str,
        catching_up: bool,
        lines: Vec<(String, Option<f64>)>,
        t: f64,
        decided: &mut Vec<Decided>,
    ) {
        let mut tickets = Vec::new();
        let mut by_name = Vec::new();
        {
            let mut core = lock(&self.core);
            if core.idle {
                return;
            }
            let cutoff = t - core.jail.fail_manager().find_time();
            for (text, time) in lines {
                let res = match time {
                    Some(tm) => core.filter.process_entry(&text, tm, t),
                    None => core.filter.process_line(&text, t),
                };
                for e in &res.errors {
                    crate::log!(Level::Warning, "fail2ban.filter", "[{}] {e}", self.name);
                }
                for a in &res.ambiguous {
                    let line = a.matches.join("\n");
                    crate::log!(
                        Level::Warning,
                        "fail2ban.filter",
                        "[{}] Ambiguous match ({:?}) not counted, candidates {}: {}",
                        self.name,
                        a.kind,
                        a.candidates.join(", "),
                        line.escape_debug()
                    );
                }
                if !res.ambiguous.is_empty() {
                    let cands: Vec<&str> = res
                        .ambiguous
                        .iter()
                        .flat_map(|a| a.candidates.iter().map(String::as_str))
                        .collect::<std::collections::BTreeSet<_>>()
                        .into_iter()
                        .collect();
                    core.ambiguous.note(cands, t);
                }
                if !source.is_empty() {
                    let summary = bailiff_health::LineSummary {
                        source,
                        // A journal entry's time is its date (no date detection).
                        line_time: res.date.as_ref().map(|h| h.time).or(time),
                        catching_up,
                        matched: res
                            .failures
                            .iter()
                            .filter(|f| f.kind == FailureKind::Fail && !f.pending)
                            .map(|f| bailiff_health::Matched {
                                regex: f.regex,
                                fid: f.fid.clone(),
                                user: f
                                    .data
                                    .get("user")
                                    .and_then(|v| v.as_str())
                                    .map(str::to_string),
                                ignoreip: core
                                    .jail
                                    .ignore_list()
                                    .check(&FailId::parse(&f.fid))
                                    .is_some(),
                            })
                            .collect(),
                        ignored: res.ignored,
                        ambiguous: res
                            .ambiguous
                            .iter()
                            .map(|a| bailiff_health::AmbiguousMatch {
                                regex: a.regex,
                                address: a.candidates.first().cloned().unwrap_or_default(),
                            })
                            .collect(),
                    };
                    core.health.on_line(&summary, t);
                }
                for f in res.failures {
                    if f.kind != FailureKind::Fail || f.pending || f.fid.is_empty() {
                        continue;
                    }
                    if f.time < cutoff {
                        crate::log!(
                            Level::Debug,
                            "fail2ban.filter",
                            "[{}] Ignore line since time {} < {} - {}",
                            self.name,
                            f.time,
                            t,
                            t - cutoff
                        );
                        continue;
                    }
                    crate::log!(
                        Level::Info,
                        "fail2ban.filter",
                        "[{}] Found {} - {}",
                        self.name,
                        f.fid,
                        crate::time2str(f.time)
                    );
                    let mut data = f.data;
                    data.remove("matches");
                    // The id already is the address: no copy of it per counted id
                    // (a one-entry map costs a whole B-tree node, ~650 bytes per id).
                    for k in ["ip", "ip4", "ip6"] {
                        if data.get(k).and_then(|v| v.as_str()) == Some(f.fid.as_str()) {
                            data.remove(k);
                        }
                    }
                    if data.is_empty() {
                        // An emptied B-tree keeps its ~600-byte node: drop it now rather
                        // than hold one per ticket until the batch is counted.
                        data = Default::default();
                    }
                    if f.needs_dns {
                        // resolved below, without holding the jail
                        by_name.push((f.fid, f.time, f.matches, data));
                    } else {
                        tickets.push(
                            Ticket::new(FailId::parse(&f.fid), f.time)
                                .with_matches(f.matches)
                                .with_data(data),
                        );
                    }
                }
            }
        }
        for (host, time, matches, data) in by_name {
            for id in resolve(&self.name, &host) {
                tickets.push(
                    Ticket::new(id, time)
                        .with_matches(matches.clone())
                        .with_data(data.clone()),
                );
            }
        }
        if tickets.is_empty() {
            return;
        }
        self.add_failures(d, tickets, t, decided);
    }

    /// Count failures and ban what reaches `maxretry`: the bans go to the actions at
    /// once, and to `decided` for the store and the log ([`JailRt::record_bans`]).
    fn add_failures(&self, d: &Daemon, tickets: Vec<Ticket>, t: f64, decided: &mut Vec<Decided>) {
        let mut to_ban = Vec::new();
        {
            let mut core = lock(&self.core);
            let need_store = core.jail.increment().is_some();
            let store = if need_store {
                Some(lock(&d.store))
            } else {
                None
            };
            let mut hooks = StoreHooks::new(store.as_ref().and_then(|s| s.as_ref()), &self.name);
            let cmd = core.ignorecommand.clone();
            let mut ic = |tk: &Ticket| run_ignorecommand(cmd.as_deref(), tk);
            hooks.ignore_command = Some(&mut ic);
            for tk in tickets {
                let out = core.jail.on_failure(tk, t, &mut hooks);
                if let Some((count, retry)) = out.bad {
                    crate::log!(
                        Level::Info,
                        "fail2ban.observer",
                        "[{}] Found a known bad ip (ban count {count}), retry raised to {retry}",
                        self.name
                    );
                }
                to_ban.extend(out.to_ban);
            }
        }
        if !to_ban.is_empty() {
            if let Some((batch, stored, _)) = self.ban_decide(d, to_ban, t) {
                decided.push((batch, stored));
            }
        }
    }

    /// Ban tickets (from `banip` or `attempt`): store, log, and the actions, waiting
    /// until they have run (as fail2ban's `banip` answers after its actions). Returns
    /// how many were newly banned.
    pub fn ban_tickets(&self, d: &Daemon, tickets: Vec<Ticket>, t: f64) -> usize {
        self.ban_inner(d, tickets, t, true)
    }

    /// Ban tickets: counted in the jail, queued for the actions as one batch, then
    /// written to the store (one transaction) and logged (`wait`: until the actions
    /// ran).
    fn ban_inner(&self, d: &Daemon, tickets: Vec<Ticket>, t: f64, wait: bool) -> usize {
        let Some((batch, stored, last_seq)) = self.ban_decide(d, tickets, t) else {
            return 0;
        };
        let n = batch.tickets.len();
        self.record_bans(d, &[(batch, stored)]);
        if let (true, Some(seq)) = (wait, last_seq) {
            if !self.queue.wait_done(seq, CONTROL_WAIT) {
                crate::log!(
                    Level::Warning,
                    "fail2ban.actions",
                    "[{}] actions are behind; the ban's action runs later",
                    self.name
                );
            }
        }
        n
    }

    /// Ban tickets in the jail and queue them for the actions (one batch). Returns
    /// the batch, which of its tickets go to the store, and the last job queued;
    /// `None` when nothing was banned nor prolonged.
    fn ban_decide(
        &self,
        d: &Daemon,
        tickets: Vec<Ticket>,
        t: f64,
    ) -> Option<(Batch, Vec<bool>, Option<u64>)> {
        // (ticket, whether it goes to the store)
        let mut banned: Vec<(Ticket, bool)> = Vec::new();
        let mut prolong = Vec::new();
        let default_bt;
        {
            let mut core = lock(&self.core);
            default_bt = core.jail.ban_manager().ban_time();
            let need_store = core.jail.increment().is_some();
            let store = if need_store {
                Some(lock(&d.store))
            } else {
                None
            };
            let mut hooks = StoreHooks::new(store.as_ref().and_then(|s| s.as_ref()), &self.name);
            let mut rnd = crate::random;
            hooks.random = Some(&mut rnd);
            for tk in tickets {
                let id = tk.id.clone();
                match core.jail.ban(tk, t, &mut hooks) {
                    BanOutcome::Banned {
                        ticket,
                        record,
                        increased,
                        formula_error,
                    } => {
                        if let Some(e) = formula_error {
                            crate::log!(Level::Error, "fail2ban.observer", "[{}] {e}", self.name);
                        }
                        if increased {
                            crate::log!(
                                Level::Notice,
                                "fail2ban.observer",
                                "[{}] Increase Ban {} ({} # {} -> {})",
                                self.name,
                                ticket.id,
                                ticket.ban_count,
                                default_bt,
                                ticket.ban_time_or(default_bt)
                            );
                        }
                        core.health.on_ban(t);
                        banned.push((ticket, record));
                    }
                    BanOutcome::AlreadyBanned { ticket, prolonged } => {
                        crate::log!(
                            Level::Notice,
                            "fail2ban.actions",
                            "[{}] {} already banned",
                            self.name,
                            id
                        );
                        if prolonged.is_some() {
                            prolong.push(ticket);
                        }
                    }
                    BanOutcome::Expired | BanOutcome::Ignored(_) => {}
                }
            }
        }
        if banned.is_empty() && prolong.is_empty() {
            return None;
        }
        // The actions first: the worker applies the batch (the native backend: one
        // nft transaction) while the caller goes on, then writes the store and the
        // log (`record_bans`).
        let (banned, stored): (Vec<Ticket>, Vec<bool>) = banned.into_iter().unzip();
        let banned = Batch::new(banned, default_bt);
        let mut last_seq = None;
        for job in [
            Job::Ban(vec![banned.clone()]),
            Job::Prolong(vec![Batch::new(prolong, default_bt)]),
        ] {
            if job.is_empty() {
                continue;
            }
            match self.queue.push(job) {
                Ok(seq) => last_seq = Some(seq),
                Err(job) => {
                    self.run_job(job);
                    self.feed_action_outcomes();
                }
            }
        }
        d.wake_scheduler();
        Some((banned, stored, last_seq))
    }

    /// The store (one transaction) and the log for bans already handed to the
    /// actions. No ban is lost if the daemon dies before this: a log position is
    /// saved only after its lines were processed, so they are read and banned again
    /// at the next start.
    fn record_bans(&self, d: &Daemon, decided: &[Decided]) {
        if decided.is_empty() {
            return;
        }
        let max_matches = d.db_max_matches();
        let records: Vec<BanRecord> = decided
            .iter()
            .flat_map(|(b, stored)| {
                b.tickets
                    .iter()
                    .zip(stored)
                    .filter(|(_, s)| **s)
                    .map(|(x, _)| {
                        BanRecord::from_ticket(&self.name, x, b.default_ban_time, max_matches)
                    })
            })
            .collect();
        if !records.is_empty() {
            if let Some(s) = lock(&d.store).as_mut() {
                if let Err(e) = s.add_bans(&records) {
                    crate::log!(Level::Error, "fail2ban.database", "{e}");
                }
            }
        }
        drop(records);
        crate::log::logger().log_many(
            "fail2ban.actions",
            Level::Notice,
            decided
                .iter()
                .flat_map(|(b, _)| b.tickets.iter())
                .map(|tk| {
                    format!(
                        "[{}] {}Ban {}",
                        self.name,
                        if tk.restored { "Restore " } else { "" },
                        tk.id
                    )
                }),
        );
    }

    /// Unban tickets already removed from the ban manager: log and actions, waiting
    /// until the actions have run (the control commands' call).
    pub fn unban_tickets(&self, tickets: &[Ticket]) {
        self.unban_inner(tickets, true)
    }

    /// Unban tickets already removed from the ban manager: log, and queue for the
    /// actions (after any ban of the same address queued before).
    fn unban_inner(&self, tickets: &[Ticket], wait: bool) {
        if tickets.is_empty() {
            return;
        }
        let default_bt = {
            let mut core = lock(&self.core);
            let t = now();
            for _ in tickets {
                core.health.on_unban(t);
            }
            core.jail.ban_manager().ban_time()
        };
        for tk in tickets {
            crate::log!(
                Level::Notice,
                "fail2ban.actions",
                "[{}] Unban {}",
                self.name,
                tk.id
            );
        }
        self.submit(
            Job::Unban(vec![Batch::new(tickets.to_vec(), default_bt)]),
            wait,
        );
    }

    /// Compare the native nftables sets with the bans the jail holds and repair
    /// what is broken: when the table, chain, sets or rules are gone (someone
    /// flushed the ruleset) or recorded bans are missing from the sets, the action's
    /// table is re-created with every current ban in one transaction
    /// ([`NftBackend::repair`](bailiff_action::nft::NftBackend::repair)) and checked
    /// again. A WARNING names what was missing and whether the repair worked; the
    /// health report gets `firewall-repaired` after a repair, and keeps
    /// `bans-not-enforced` with the error while a repair fails (the next check
    /// tries again). A ban that found the table gone and re-created it itself
    /// since the last check is reported the same way.
    ///
    /// `action.d` actions get fail2ban's consistency check at the same pace: for
    /// every started family, `actioncheck`, and when it fails `actionrepair` (or
    /// `actionstop` + `actionstart`); after any repair (this one, or one a failed
    /// ban ran) the bans from before it are applied again (fail2ban's ban epoch,
    /// which it only acts on when an address shows up again).
    ///
    /// Runs on the action worker every `health_firewall_check` when its queue is
    /// empty; the actions' lock is released before the core's is taken.
    pub fn check_firewall(&self) {
        let tickets: Vec<_> = {
            let core = lock(&self.core);
            let bt = core.jail.ban_manager().ban_time();
            core.jail
                .ban_manager()
                .banned()
                .into_iter()
                .map(|t| action_ticket(t, bt))
                .collect()
        };
        let bans = crate::actions::nft_bans(&tickets);
        let recorded: Vec<bailiff_action::Target> = bans.iter().map(|b| b.target).collect();
        let mut found: Vec<FirewallCheck> = Vec::new();
        for a in lock(&self.actions).iter_mut() {
            let name = a.name.clone();
            match &mut a.runner {
                crate::actions::Runner::Nft(n) => {
                    found.push(check_native(name, n, &bans, &recorded));
                }
                crate::actions::Runner::Command(c) => {
                    let check = c.consistency_check().map_err(|e| e.to_string());
                    let rebanned = c
                        .reban_after_repair(&tickets)
                        .map(|(n, r)| (n, r.map_err(|e| e.to_string())));
                    found.push(FirewallCheck::Command {
                        name,
                        check,
                        rebanned,
                    });
                }
                crate::actions::Runner::Broken(_) => {}
            }
        }
        if found.is_empty() {
            return;
        }
        let t = now();
        let mut core = lock(&self.core);
        for f in found {
            self.report_check(&mut core.health, f, t);
        }
    }

    /// Log what a firewall check found and hand it to the jail's health.
    fn report_check(&self, h: &mut bailiff_health::JailHealth, f: FirewallCheck, t: f64) {
        use bailiff_health::ActionOutcome::{Err as Failed, Ok as Fine};
        let jail = &self.name;
        match f {
            FirewallCheck::Native {
                name,
                rebuilt,
                first,
                repair,
            } => {
                if rebuilt {
                    crate::log!(
                        Level::Warning,
                        "fail2ban.actions",
                        "[{jail}] action {name}: a ban found the nftables table, chain or sets gone (flushed ruleset?) and re-created them with every ban"
                    );
                    h.on_repair(&name, t);
                }
                let rep = match first {
                    Ok(rep) => rep,
                    Err(e) => return h.on_action_result(&name, Failed(e), t),
                };
                let Some(repair) = repair else {
                    return h.on_check_report(&name, &rep, t);
                };
                let what = describe_broken(&rep);
                match repair {
                    Ok((restored, took, after)) if after.is_sane() => {
                        crate::log!(
                            Level::Warning,
                            "fail2ban.actions",
                            "[{jail}] action {name}: firewall check: {what}; repaired: {restored} ban(s) restored in {} ms",
                            took.as_millis()
                        );
                        h.on_repair(&name, t);
                        h.on_check_report(&name, &after, t);
                        h.on_action_result(&name, Fine, t);
                    }
                    Ok((_, _, after)) => {
                        let err =
                            format!("firewall repair did not hold: {}", describe_broken(&after));
                        crate::log!(
                            Level::Warning,
                            "fail2ban.actions",
                            "[{jail}] action {name}: firewall check: {what}; {err}"
                        );
                        h.on_check_report(&name, &after, t);
                        h.on_action_result(&name, Failed(err), t);
                    }
                    Err(e) => {
                        crate::log!(
                            Level::Warning,
                            "fail2ban.actions",
                            "[{jail}] action {name}: firewall check: {what}; repair failed: {e}"
                        );
                        h.on_check_report(&name, &rep, t);
                        h.on_action_result(
                            &name,
                            Failed(format!("firewall repair failed: {e}")),
                            t,
                        );
                    }
                }
            }
            FirewallCheck::Command {
                name,
                check,
                rebanned,
            } => {
                if let Err(e) = &check {
                    crate::log!(
                        Level::Warning,
                        "fail2ban.actions",
                        "[{jail}] action {name}: consistency check failed and the repair did not work: {e}"
                    );
                    h.on_action_result(&name, Failed(format!("consistency check: {e}")), t);
                }
                let Some((n, r)) = rebanned else { return };
                h.on_repair(&name, t);
                match r {
                    Ok(()) => {
                        crate::log!(
                            Level::Warning,
                            "fail2ban.actions",
                            "[{jail}] action {name}: actioncheck failed, the action was repaired; {n} earlier ban(s) applied again"
                        );
                        if check.is_ok() {
                            h.on_action_result(&name, Fine, t);
                        }
                    }
                    Err(e) => {
                        crate::log!(
                            Level::Warning,
                            "fail2ban.actions",
                            "[{jail}] action {name}: actioncheck failed, the action was repaired; applying the earlier bans again failed: {e}"
                        );
                        h.on_action_result(&name, Failed(format!("re-ban after repair: {e}")), t);
                    }
                }
            }
        }
    }

    /// Hand the actions' latest results to the jail's health (the actions' lock is
    /// released before the core's is taken).
    pub fn feed_action_outcomes(&self) {
        let done = self.take_action_outcomes();
        if done.is_empty() {
            return;
        }
        give_outcomes(&mut lock(&self.core), done);
    }

    /// The actions' results since the last call, per action.
    fn take_action_outcomes(&self) -> Vec<Outcomes> {
        lock(&self.actions)
            .iter_mut()
            .map(|a| (a.name.clone(), a.take_outcomes()))
            .filter(|(_, o)| !o.is_empty())
            .collect()
    }

    /// Bans that ended by `t` (the scheduler's call).
    pub fn unban_due(&self, t: f64) -> Option<f64> {
        loop {
            let due = lock(&self.core).jail.unban_due(t, 1000);
            if due.is_empty() {
                break;
            }
            self.unban_inner(&due, false);
        }
        lock(&self.core).jail.next_unban_time()
    }

    pub fn core(&self) -> MutexGuard<'_, Core> {
        lock(&self.core)
    }

    /// Rebuild the filter after a change of its settings; on error the old one stays.
    pub fn rebuild_filter(core: &mut Core, new: FilterConfig) -> Result<(), String> {
        let f = Filter::new(&new, core.zone.clone(), now()).map_err(|e| e.to_string())?;
        core.filter = f;
        core.fcfg = new;
        Ok(())
    }
}

/// An action's name and its call results.
type Outcomes = (String, Vec<bailiff_health::ActionOutcome>);

/// At most this many [`Outcomes`] wait in the action worker for the core's lock
/// (the oldest go first).
const MAX_UNFED: usize = 256;

/// Hand action results to the jail's health.
fn give_outcomes(core: &mut Core, done: Vec<Outcomes>) {
    let t = now();
    for (name, outcomes) in done {
        for o in outcomes {
            core.health.on_action_result(&name, o, t);
        }
    }
}

/// The lock if it is free now (poisoning shrugged off as in [`lock`]).
fn try_lock<T>(m: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match m.try_lock() {
        Ok(g) => Some(g),
        Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}

/// `ignorecommand`: exit 0 means ignore. The address is the only tag substituted
/// (it is a parsed address, never log text); other tags are left out.
fn run_ignorecommand(cmd: Option<&str>, t: &Ticket) -> bool {
    let Some(cmd) = cmd.filter(|c| !c.trim().is_empty()) else {
        return false;
    };
    let ip = match &t.id {
        FailId::Ip(ip) => ip.to_string(),
        FailId::Net(n) => format!("{}/{}", n.addr, n.prefix),
        FailId::Raw(_) => return false,
    };
    let script = cmd.replace("<ip>", &ip);
    match std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(&script)
        .stdin(std::process::Stdio::null())
        .status()
    {
        Ok(s) => s.code() == Some(0),
        Err(e) => {
            crate::log!(Level::Error, "fail2ban.filter", "ignorecommand: {e}");
            false
        }
    }
}

/// Open the journal for a jail and place it: after the stored cursor (or at its time)
/// when that is within `findtime`, else at `now - findtime`.
fn open_journal(
    d: &Daemon,
    name: &str,
    bargs: &[(String, String)],
    journalmatch: &[String],
    encoding: Encoding,
    t0: f64,
    find_time: f64,
) -> Result<JournalSource, String> {
    let args: Vec<(&str, &str)> = bargs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut o = JournalOptions::from_args(args, &journalmatch.join("\n"))
        .map_err(|e| format!("backend systemd: {e}"))?;
    o.encoding = encoding;
    let mut j = JournalSource::open(&o).map_err(|e| format!("journal: {e}"))?;
    let stored = lock(&d.store)
        .as_ref()
        .and_then(|s| s.journal_cursor(name).ok().flatten());
    // As fail2ban (max(stored time, now - findtime)): never further back than
    // `now - findtime`, where older entries could not count anyway.
    let floor = (t0 - find_time).max(0.0);
    let mut placed = false;
    if let Some((cursor, time)) = stored.filter(|(_, time)| *time >= floor) {
        if !cursor.is_empty() && j.seek_cursor(&cursor).unwrap_or(false) {
            placed = true;
        } else if time > 0.0 {
            placed = j
                .seek_time(UNIX_EPOCH + Duration::from_secs_f64(time))
                .is_ok();
        }
    }
    if !placed {
        j.seek_time(UNIX_EPOCH + Duration::from_secs_f64(floor))
            .map_err(|e| format!("journal: {e}"))?;
    }
    Ok(j)
}

/// `usedns = yes|warn`: the addresses a host name in a log line resolves to.
fn resolve(jail: &str, host: &str) -> Vec<FailId> {
    use std::net::ToSocketAddrs;
    let mut ips: Vec<IpAddr> = match (host, 0u16).to_socket_addrs() {
        Ok(a) => a.map(|a| a.ip()).collect(),
        Err(e) => {
            crate::log!(
                Level::Warning,
                "fail2ban.filter",
                "[{jail}] Unable to find a corresponding IP address for {host}: {e}"
            );
            return Vec::new();
        }
    };
    ips.sort();
    ips.dedup();
    crate::log!(
        Level::Warning,
        "fail2ban.filter",
        "[{jail}] Determined IP using DNS Lookup: {host} = {ips:?}"
    );
    ips.into_iter()
        .map(|ip| FailId::parse(&ip.to_string()))
        .collect()
}

/// The counting and matching settings of a jail spec, built (and checked) before use.
struct Built {
    jc: JailConfig,
    extra: BTreeMap<String, String>,
    fcfg: FilterConfig,
    zone: Zone,
    filter: Filter,
}

impl Built {
    fn new(spec: &JailSpec, t0: f64) -> Result<Built, String> {
        let name = spec.name.clone();
        let find_time = spec.findtime_secs().map_err(|e| format!("findtime: {e}"))?;
        let ban_time = spec.bantime_secs().map_err(|e| format!("bantime: {e}"))?;
        let mut extra = BTreeMap::new();
        let bi = &spec.bantime_increment;
        for (k, v) in [
            ("factor", &bi.factor),
            ("formula", &bi.formula),
            ("multipliers", &bi.multipliers),
            ("maxtime", &bi.maxtime),
            ("rndtime", &bi.rndtime),
        ] {
            if let Some(v) = v {
                extra.insert(k.to_string(), v.clone());
            }
        }
        extra.insert("overalljails".into(), bi.overalljails.to_string());
        extra.insert("increment".into(), bi.increment.to_string());
        let increment = increment_of(bi.increment, &extra)?;
        let mut jc = JailConfig::new(&name);
        jc.max_retry = u32::try_from(spec.maxretry.max(0)).unwrap_or(u32::MAX);
        jc.find_time = find_time;
        jc.max_matches = usize::try_from(spec.maxmatches.max(0)).unwrap_or(0);
        jc.ban_time = ban_time;
        jc.increment = increment;
        jc.has_ignore_command = spec
            .ignorecommand
            .as_deref()
            .is_some_and(|s| !s.trim().is_empty());
        if let Some(c) = spec.ignorecache.as_deref().filter(|s| !s.trim().is_empty()) {
            jc.ignore_cache = Some(
                IgnoreCache::parse(c, |s| bailiff_config::parse_time(s).ok())
                    .map_err(|e| e.to_string())?,
            );
        }
        let fcfg = filter_config(spec);
        let zone = match spec.logtimezone.as_deref() {
            Some(tz) if !tz.trim().is_empty() => {
                Zone::parse_logtimezone(tz).map_err(|e| format!("logtimezone: {e}"))?
            }
            _ => Zone::system(),
        };
        let filter = Filter::new(&fcfg, zone.clone(), t0).map_err(|e| format!("filter: {e}"))?;
        Ok(Built {
            jc,
            extra,
            fcfg,
            zone,
            filter,
        })
    }
}

/// `ignoreself`, the host's addresses and `ignoreip` of a spec, into a jail.
fn apply_ignore(jail: &mut Jail, spec: &JailSpec, d: &Daemon) {
    let il = jail.ignore_list_mut();
    il.clear();
    il.set_ignore_self(spec.ignoreself);
    il.set_self_ips(&d.self_ips);
    for ip in &spec.ignoreip {
        il.add_all(ip);
    }
}

/// What the periodic firewall check found for one action (see
/// [`JailRt::check_firewall`]).
enum FirewallCheck {
    Native {
        name: String,
        /// A ban re-created the table since the last check.
        rebuilt: bool,
        first: Result<bailiff_action::nft::CheckReport, String>,
        /// When something was broken: bans restored, how long the repair took and
        /// the check after it.
        repair: Option<Result<(usize, Duration, bailiff_action::nft::CheckReport), String>>,
    },
    Command {
        name: String,
        /// `actioncheck` (and the repair when it failed), every started family.
        check: Result<(), String>,
        /// After a repair: how many earlier bans were applied again, and the first
        /// error.
        rebanned: Option<(usize, Result<(), String>)>,
    },
}

/// Check one native action against the recorded `bans` and repair it when broken.
fn check_native(
    name: String,
    n: &mut bailiff_action::nft::NftBackend,
    bans: &[bailiff_action::nft::Ban],
    recorded: &[bailiff_action::Target],
) -> FirewallCheck {
    let rebuilt = n.take_self_repaired();
    let first = n.check(recorded).map_err(|e| e.to_string());
    let repair = match &first {
        Ok(rep) if !rep.is_sane() => {
            // Addresses the backend holds but the snapshot lacks (their unban is
            // still queued for the worker) stay until that unban runs, as they
            // would have without the repair.
            let known: std::collections::BTreeSet<_> = recorded.iter().collect();
            let mut all = bans.to_vec();
            all.extend(
                n.banned()
                    .filter(|t| !known.contains(t))
                    .map(|t| bailiff_action::nft::Ban::new(*t, None))
                    .collect::<Vec<_>>(),
            );
            Some(n.repair(&all).map_err(|e| e.to_string()).and_then(|took| {
                n.check(recorded)
                    .map(|after| (all.len(), took, after))
                    .map_err(|e| e.to_string())
            }))
        }
        _ => None,
    };
    FirewallCheck::Native {
        name,
        rebuilt,
        first,
        repair,
    }
}

/// What a firewall check found broken, for the log: the missing parts and up to ten
/// of the missing bans.
fn describe_broken(r: &bailiff_action::nft::CheckReport) -> String {
    let mut parts: Vec<String> = [
        (r.table, "table"),
        (r.chain, "chain"),
        (r.sets, "sets"),
        (r.rules, "rules"),
    ]
    .iter()
    .filter(|(present, _)| !present)
    .map(|(_, name)| format!("{name} missing"))
    .collect();
    if !r.missing.is_empty() {
        const SHOWN: usize = 10;
        let mut list: Vec<String> = r
            .missing
            .iter()
            .take(SHOWN)
            .map(|t| t.to_string())
            .collect();
        if r.missing.len() > SHOWN {
            list.push(format!("and {} more", r.missing.len() - SHOWN));
        }
        parts.push(format!(
            "{} recorded ban(s) missing ({})",
            r.missing.len(),
            list.join(", ")
        ));
    }
    if parts.is_empty() {
        "nothing missing".to_string()
    } else {
        parts.join(", ")
    }
}

/// The jail's `logpath` entries as the source reads them (`tail`: start at the end).
fn log_paths(spec: &JailSpec) -> Vec<LogPath> {
    spec.logpaths
        .iter()
        .map(|l| LogPath {
            pattern: l.pattern.clone(),
            start: if l.position == "tail" {
                StartAt::Tail
            } else {
                StartAt::Head
            },
        })
        .collect()
}

/// A batch of at least this much log text (a backlog: read at start, or after a
/// pause) leaves enough freed memory behind to be worth handing back.
const RELEASE_AFTER_BYTES: usize = 1 << 20;

/// Hands freed heap memory back to the system. A big batch allocates tens of MB of
/// short-lived line text, captures and tickets in the reader thread's malloc arena;
/// once freed, glibc keeps those pages (they lie between long-lived allocations,
/// and its trim threshold grows with every large block freed), so the RSS would stay
/// at the batch's peak for good. `malloc_trim` releases the free pages of every arena.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: no pointer is passed; glibc walks its own free lists under its locks.
    unsafe {
        libc::malloc_trim(0);
    }
}
