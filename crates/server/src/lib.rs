//! bailiff-server: the daemon (`bailiff server`, fail2ban-server's job).
//!
//! Principal types and the flow between them:
//!
//! - [`ServerOptions`] are the command-line options (`-c`, `-s`, `-p`, `--logtarget`,
//!   ...); [`run`] reads the configuration (`bailiff_config::load`), opens the
//!   [`bailiff_store::Store`] named by `dbfile`, binds the control socket and starts
//!   every enabled jail, then waits for a signal or a `stop` command.
//! - A [`Daemon`] holds what the jails share: the store, the server settings, the map
//!   of running jails, and the scheduler's wake-up.
//! - A [`jail::JailRt`] is one running jail. Its source thread follows the logs
//!   (`bailiff_source::FileSource`, or the journal for `backend = systemd`, and for
//!   `auto` when no log file exists), passes each line through the jail's
//!   `bailiff_filter::Filter`, counts failures in the pure `bailiff_jail::Jail` and
//!   bans what reaches `maxretry`: the ban is written to the store, logged
//!   (`NOTICE [jail] Ban IP`, see [`mod@log`]) and queued in one batch
//!   ([`queue::ActionQueue`]) for the jail's action worker thread, which runs the
//!   jail's [`actions::ActionRt`]s (`action.d` commands, or native nftables) in
//!   order, merging batches when it is behind; a slow action never holds up reading
//!   and counting.
//! - The scheduler thread unbans what has expired, purges the store hourly and
//!   otherwise sleeps until the next ban ends.
//! - [`handler::Control`] answers fail2ban's control commands
//!   (`bailiff_control::Handler`), so `fail2ban-client` and `bailiff client` work.
//!   `status JAIL` appends bailiff's own branches after fail2ban's fields:
//!   `Ambiguous` (lines whose address attacker text could have supplied, see
//!   [`ambiguous`]: logged as WARNING, never counted) and `Health`; the flavours
//!   `basic`, `short` and `cymru` answer exactly fail2ban 1.0.2's fields.
//!   `addlogpath`/`dellogpath`, `logencoding` and `addjournalmatch`/`deljournalmatch`
//!   act on the running source before the reply ([`jail::JailRt::change_source`]).
//! - Each jail keeps a `bailiff_health::JailHealth` in its [`jail::Core`], fed by the
//!   source thread (`FileSource::health()` each round, lines read per path, every
//!   filter verdict), the bans, every action call's result and a periodic check of
//!   the native nftables sets; the `health-journal` thread ([`health`]) compares
//!   each jail reading files with the journal entries its `journalmatch` selects
//!   (`journal-not-read`). The hidden status flavours `health` / `health-json`
//!   (`status JAIL|--all health`) answer `bailiff client health`; with
//!   `metrics = ADDRESS:PORT` in fail2ban.conf a Prometheus endpoint serves them
//!   ([`BailiffOptions`]).
//!
//! Signals: SIGTERM/SIGINT stop (actions stopped, positions saved), SIGHUP reloads
//! ([`Daemon::reload`]: unchanged jails keep running untouched; a jail whose backend
//! and actions are unchanged is updated in place, keeping its counters and bans, with
//! changed log paths, log encoding and journal matches applied to its running source,
//! as fail2ban does; a jail whose backend or actions changed is restarted and gets its
//! bans back from the store, its failure counters start again),
//! SIGUSR1 reopens the log file.

pub mod actions;
pub mod ambiguous;
pub mod handler;
pub mod health;
pub mod jail;
pub mod log;
pub mod queue;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bailiff_action::HostNames;
use bailiff_control::{Server, ServerConfig, Shutdown};
use bailiff_store::{DbFile, Store, StoreOptions};

use crate::jail::JailRt;
use crate::log::{logger, Level};

/// The version reported over the socket.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Errors that stop the daemon from starting.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("logtarget {target}: {source}")]
    LogTarget {
        target: String,
        source: std::io::Error,
    },
    #[error("database {file}: {message}")]
    Store { file: String, message: String },
    #[error("control socket: {0}")]
    Socket(String),
    #[error("pidfile {path}: {source}")]
    PidFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

/// Command-line options of `bailiff server` (fail2ban-server's).
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    pub confdir: PathBuf,
    pub socket: Option<PathBuf>,
    pub pidfile: Option<PathBuf>,
    pub logtarget: Option<String>,
    pub loglevel: Option<String>,
    /// Replace a stale socket (`-x`); a stale socket is always replaced, a live one never.
    pub force: bool,
}

/// Server settings changeable over the socket.
#[derive(Debug, Clone)]
pub struct Settings {
    pub socket: PathBuf,
    pub pidfile: PathBuf,
    pub dbfile: String,
    pub dbpurgeage: f64,
    pub dbpurgeage_text: String,
    pub dbmaxmatches: usize,
    pub syslogsocket: String,
    pub allowipv6: String,
}

/// What the jails share.
pub struct Daemon {
    pub confdir: PathBuf,
    pub host: HostNames,
    pub self_ips: Vec<IpAddr>,
    pub store: Mutex<Option<Store>>,
    pub settings: Mutex<Settings>,
    pub jails: Mutex<BTreeMap<String, Arc<JailRt>>>,
    /// bailiff's own options from fail2ban.conf (`metrics`, `health_*`), as read at
    /// start and re-read by a full [`Daemon::reload`].
    options: Mutex<BailiffOptions>,
    sched: Mutex<bool>,
    sched_cv: Condvar,
    quit: AtomicBool,
    reload: AtomicBool,
    started: Instant,
}

/// Lock, shrugging off poisoning (a panicked thread must not stop the daemon).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Wall-clock time in seconds.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A random value in `[0, 1)` for `bantime.rndtime` (not for security).
pub fn random() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Local time as `2026-11-23 11:06:30` (fail2ban's `MyTime.time2str`).
pub fn time2str(t: f64) -> String {
    match jiff::Timestamp::from_second(t as i64) {
        Ok(ts) => ts
            .to_zoned(jiff::tz::TimeZone::system())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string(),
        Err(_) => t.to_string(),
    }
}

impl Daemon {
    pub fn quitting(&self) -> bool {
        self.quit.load(Ordering::SeqCst)
    }

    /// Ask the daemon to stop (as SIGTERM does).
    pub fn request_quit(&self) {
        self.quit.store(true, Ordering::SeqCst);
        self.wake_scheduler();
    }

    /// Ask the main loop to reload the configuration (as SIGHUP does).
    pub fn request_reload(&self) {
        self.reload.store(true, Ordering::SeqCst);
    }

    pub fn wake_scheduler(&self) {
        *lock(&self.sched) = true;
        self.sched_cv.notify_all();
    }

    pub fn db_max_matches(&self) -> usize {
        lock(&self.settings).dbmaxmatches
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn jail(&self, name: &str) -> Option<Arc<JailRt>> {
        lock(&self.jails).get(name).cloned()
    }

    /// Start one jail from the configuration; a broken jail is logged and skipped.
    pub fn start_jail(self: &Arc<Self>, spec: bailiff_config::JailSpec) -> Result<(), String> {
        let name = spec.name.clone();
        match JailRt::start(self, spec) {
            Ok(rt) => {
                lock(&self.jails).insert(name, rt);
                Ok(())
            }
            Err(e) => {
                crate::log!(
                    Level::Error,
                    "fail2ban.jail",
                    "Jail '{name}' skipped, because it cannot start: {e}"
                );
                Err(e)
            }
        }
    }

    /// Stop and remove a jail.
    pub fn stop_jail(&self, name: &str) -> bool {
        let rt = lock(&self.jails).remove(name);
        match rt {
            Some(rt) => {
                rt.stop(self);
                true
            }
            None => false,
        }
    }

    /// When health warnings fire (`health_source_down` and the other thresholds).
    pub fn health_thresholds(&self) -> bailiff_health::Thresholds {
        lock(&self.options).thresholds.clone()
    }

    /// How often each jail compares its native nftables sets with its bans
    /// (`health_firewall_check`, 60 s by default).
    pub fn health_check_every(&self) -> Duration {
        lock(&self.options).firewall_check
    }

    /// The journal cross-check of file jails (`health_journal_check`,
    /// `health_journal_files`), as read at start: its thread is started then.
    pub fn health_journal(&self) -> health::JournalCheck {
        lock(&self.options).journal_check.clone()
    }

    /// Apply options re-read on reload. The thresholds and the firewall-check
    /// interval take effect at once; the metrics address and the journal
    /// cross-check are set up at start only, so a change to them is logged as
    /// needing a restart and the running ones are kept.
    fn set_options(&self, new: BailiffOptions) {
        let mut cur = lock(&self.options);
        if new.metrics != cur.metrics {
            crate::log!(
                Level::Warning,
                "fail2ban.server",
                "metrics = {:?}: a changed metrics address takes effect after a restart",
                new.metrics.as_deref().unwrap_or("")
            );
        }
        if new.journal_check != cur.journal_check {
            crate::log!(
                Level::Warning,
                "fail2ban.server",
                "health_journal_check / health_journal_files: changes take effect after a restart"
            );
        }
        cur.thresholds = new.thresholds;
        cur.firewall_check = new.firewall_check;
    }

    /// Re-read the configuration. Jails whose configuration is unchanged keep running
    /// (counters and bans intact) unless `restart`; changed ones are updated in place
    /// when their log source and actions are the same, else restarted (their bans come
    /// back from the store); removed ones stop. With `only`, just that jail.
    pub fn reload(
        self: &Arc<Self>,
        only: Option<&str>,
        restart: bool,
        unban: bool,
    ) -> Result<(), String> {
        crate::log!(Level::Info, "fail2ban.server", "Reload configuration");
        if only.is_none() {
            // A bad value is an error of the whole reload; the old options stay.
            let new = BailiffOptions::read(&self.confdir).map_err(|e| e.to_string())?;
            self.set_options(new);
        }
        let cfg = bailiff_config::load(&self.confdir).map_err(|e| e.to_string())?;
        for (name, err) in &cfg.skipped {
            crate::log!(
                Level::Error,
                "fail2ban.jail",
                "Jail '{name}' skipped, because of wrong configuration: {}",
                err.message
            );
        }
        if let Some(only) = only {
            if cfg.jail(only).is_none() {
                return Err(format!("Sorry but the jail '{only}' does not exist"));
            }
        }
        let wanted: Vec<_> = cfg
            .jails
            .into_iter()
            .filter(|j| only.is_none_or(|o| o == j.name))
            .collect();
        if only.is_none() {
            let names: Vec<String> = lock(&self.jails).keys().cloned().collect();
            for n in names {
                if !wanted.iter().any(|j| j.name == n) {
                    self.stop_jail(&n);
                }
            }
        }
        for spec in wanted {
            let existing = self.jail(&spec.name);
            if let Some(rt) = existing {
                if unban {
                    let flushed = lock(&rt.core).jail.flush();
                    rt.unban_tickets(&flushed);
                    if let Some(s) = lock(&self.store).as_mut() {
                        let ips: Vec<String> = flushed.iter().map(|t| t.id.to_string()).collect();
                        let refs: Vec<&str> = ips.iter().map(String::as_str).collect();
                        let _ = s.del_bans(&rt.name, &refs);
                    }
                }
                if restart {
                    self.stop_jail(&spec.name);
                } else if *lock(&rt.spec) == spec {
                    continue;
                } else if rt.can_reconfigure(&spec) {
                    match rt.reconfigure(self, spec.clone()) {
                        Ok(()) => continue,
                        Err(e) => {
                            crate::log!(
                                Level::Error,
                                "fail2ban.jail",
                                "Jail '{}' not reloaded, its configuration is wrong: {e}; it keeps running as it was",
                                spec.name
                            );
                            continue;
                        }
                    }
                } else {
                    self.stop_jail(&spec.name);
                }
            }
            let _ = self.start_jail(spec);
        }
        Ok(())
    }

    /// The scheduler: unban what has expired, purge the store hourly.
    fn scheduler(self: Arc<Self>) {
        let mut last_purge = Instant::now();
        loop {
            if self.quitting() {
                return;
            }
            let t = now();
            let jails: Vec<Arc<JailRt>> = lock(&self.jails).values().cloned().collect();
            let mut next: Option<f64> = None;
            for j in jails {
                if let Some(n) = j.unban_due(t) {
                    next = Some(next.map_or(n, |m: f64| m.min(n)));
                }
            }
            if last_purge.elapsed() >= Duration::from_secs(3600) {
                last_purge = Instant::now();
                if let Some(s) = lock(&self.store).as_mut() {
                    match s.purge(t as i64) {
                        Ok(st) => crate::log!(
                            Level::Debug,
                            "fail2ban.database",
                            "Purge: {} ban events, {} bans, {} jails",
                            st.ban_events,
                            st.bans,
                            st.jails
                        ),
                        Err(e) => crate::log!(Level::Error, "fail2ban.database", "{e}"),
                    }
                }
            }
            let wait = match next {
                Some(n) => (n - now()).clamp(0.0, 1.0),
                None => 1.0,
            };
            let mut woken = lock(&self.sched);
            if !*woken && wait > 0.0 {
                woken = self
                    .sched_cv
                    .wait_timeout(woken, Duration::from_secs_f64(wait))
                    .map(|r| r.0)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
            *woken = false;
        }
    }
}

fn block_signals() -> libc::sigset_t {
    // SAFETY: plain libc calls on a local, initialised signal set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGUSR1] {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

fn signal_thread(d: Arc<Daemon>, set: libc::sigset_t) {
    loop {
        let mut sig: libc::c_int = 0;
        // SAFETY: `set` is a valid signal set blocked in every thread.
        let rc = unsafe { libc::sigwait(&set, &mut sig) };
        if rc != 0 {
            continue;
        }
        match sig {
            libc::SIGHUP => {
                crate::log!(
                    Level::Info,
                    "fail2ban.server",
                    "Caught signal SIGHUP: reloading"
                );
                d.request_reload();
            }
            libc::SIGUSR1 => {
                logger().reopen();
            }
            _ => {
                crate::log!(
                    Level::Info,
                    "fail2ban.server",
                    "Caught signal {sig}. Exiting"
                );
                d.request_quit();
            }
        }
        if d.quitting() {
            return;
        }
    }
}

/// Detach from the terminal (`-b`): fork, the parent waits until the socket answers
/// (or the child dies) and exits; the child starts a session and goes on.
///
/// Must be called before any thread is started.
pub fn daemonize(socket: &Path) -> Result<(), ServerError> {
    // SAFETY: fork in a single-threaded process; the child only continues in Rust.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(ServerError::Other(format!(
            "fork: {}",
            std::io::Error::last_os_error()
        )));
    }
    if pid > 0 {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if std::os::unix::net::UnixStream::connect(socket).is_ok() {
                std::process::exit(0);
            }
            let mut status = 0;
            // SAFETY: non-blocking wait for our own child.
            if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
                std::process::exit(255);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        std::process::exit(255);
    }
    // SAFETY: plain libc calls in the child.
    unsafe {
        libc::setsid();
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::dup2(null, 1);
            libc::dup2(null, 2);
            if null > 2 {
                libc::close(null);
            }
        }
    }
    Ok(())
}

/// The socket path `bailiff server` uses with these options (for `-b`, before start).
pub fn socket_path(opts: &ServerOptions) -> PathBuf {
    if let Some(s) = &opts.socket {
        return s.clone();
    }
    bailiff_config::load(&opts.confdir)
        .map(|c| PathBuf::from(c.server.socket))
        .unwrap_or_else(|_| PathBuf::from("/var/run/fail2ban/fail2ban.sock"))
}

/// glibc gives each thread that allocates a malloc arena of its own, grown a page
/// at a time with `mprotect`: a jail's source thread banning 10,000 addresses at
/// once spent a tenth of its time there. The daemon's threads allocate little
/// concurrently, so one arena (grown with `brk` in large steps) serves them all,
/// faster and with less memory.
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before the
    // daemon's threads start.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Run the daemon until SIGTERM/SIGINT or `stop`.
pub fn run(opts: ServerOptions) -> Result<(), ServerError> {
    tune_malloc();
    let sigset = block_signals();
    let cfg =
        bailiff_config::load(&opts.confdir).map_err(|e| ServerError::Config(e.to_string()))?;
    let so = &cfg.server;
    let level_text = opts.loglevel.clone().unwrap_or_else(|| so.loglevel.clone());
    if let Some(l) = Level::parse(&level_text) {
        logger().set_level(l);
    }
    let target = opts
        .logtarget
        .clone()
        .unwrap_or_else(|| so.logtarget.clone());
    logger()
        .set_target(&target)
        .map_err(|source| ServerError::LogTarget {
            target: target.clone(),
            source,
        })?;
    crate::log!(Level::Info, "fail2ban.server", "{}", "-".repeat(50));
    crate::log!(
        Level::Info,
        "fail2ban.server",
        "Starting bailiff v{VERSION} (fail2ban 1.0.2 compatible)"
    );
    for w in &cfg.warnings {
        crate::log!(Level::Warning, "fail2ban.configreader", "{w}");
    }
    let socket = opts
        .socket
        .clone()
        .unwrap_or_else(|| PathBuf::from(&so.socket));
    let pidfile = opts
        .pidfile
        .clone()
        .unwrap_or_else(|| PathBuf::from(&so.pidfile));
    let purge_age = bailiff_config::parse_time(&so.dbpurgeage).unwrap_or(86400.0);
    let max_matches = so.dbmaxmatches.unwrap_or(10).max(0) as usize;
    let dbfile = DbFile::parse(&so.dbfile);
    let sopts = StoreOptions {
        max_matches,
        purge_age: purge_age as i64,
        ..StoreOptions::default()
    };
    if let DbFile::Path(p) = &dbfile {
        if let Some(dir) = p.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
    }
    let store = dbfile.open(&sopts).map_err(|e| ServerError::Store {
        file: so.dbfile.clone(),
        message: e.to_string(),
    })?;
    if store.is_some() {
        crate::log!(
            Level::Info,
            "fail2ban.database",
            "Connected to fail2ban persistent database '{}'",
            so.dbfile
        );
    }
    let extra = BailiffOptions::read(&opts.confdir)?;
    let d = Arc::new(Daemon {
        options: Mutex::new(extra.clone()),
        confdir: opts.confdir.clone(),
        host: HostNames::local(),
        self_ips: jail::self_ips(),
        store: Mutex::new(store),
        settings: Mutex::new(Settings {
            socket: socket.clone(),
            pidfile: pidfile.clone(),
            dbfile: so.dbfile.clone(),
            dbpurgeage: purge_age,
            dbpurgeage_text: so.dbpurgeage.clone(),
            dbmaxmatches: max_matches,
            syslogsocket: so.syslogsocket.clone(),
            allowipv6: so.allowipv6.clone(),
        }),
        jails: Mutex::new(BTreeMap::new()),
        sched: Mutex::new(false),
        sched_cv: Condvar::new(),
        quit: AtomicBool::new(false),
        reload: AtomicBool::new(false),
        started: Instant::now(),
    });
    {
        let d2 = Arc::clone(&d);
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || signal_thread(d2, sigset))
            .map_err(|e| ServerError::Other(e.to_string()))?;
    }
    if let Some(dir) = socket.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    // A live server on the socket: refuse before any jail starts its actions.
    if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
        return Err(ServerError::Socket(format!(
            "{}: a server is already listening on this socket",
            socket.display()
        )));
    }
    for (name, err) in &cfg.skipped {
        crate::log!(
            Level::Error,
            "fail2ban.jail",
            "Jail '{name}' skipped, because of wrong configuration: {}",
            err.message
        );
    }
    for spec in cfg.jails {
        let _ = d.start_jail(spec);
    }
    let shutdown = Shutdown::new();
    let stop_all = |d: &Arc<Daemon>| {
        d.request_quit();
        let names: Vec<String> = lock(&d.jails).keys().cloned().collect();
        for n in names {
            d.stop_jail(&n);
        }
    };
    let control = match Server::bind(
        &socket,
        ServerConfig::default(),
        Arc::new(handler::Control::new(Arc::clone(&d))),
        shutdown.clone(),
    ) {
        Ok(c) => c,
        Err(e) => {
            stop_all(&d);
            return Err(ServerError::Socket(e.to_string()));
        }
    };
    if let Some(dir) = pidfile.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(source) = std::fs::write(&pidfile, format!("{}\n", std::process::id())) {
        stop_all(&d);
        control.shutdown();
        return Err(ServerError::PidFile {
            path: pidfile.clone(),
            source,
        });
    }
    let metrics = match start_metrics(extra.metrics.as_deref(), &d) {
        Ok(m) => m,
        Err(e) => {
            stop_all(&d);
            control.shutdown();
            let _ = std::fs::remove_file(&pidfile);
            return Err(e);
        }
    };
    health::spawn_journal_check(&d);
    let sched = {
        let d2 = Arc::clone(&d);
        std::thread::Builder::new()
            .name("scheduler".into())
            .spawn(move || d2.scheduler())
            .map_err(|e| ServerError::Other(e.to_string()))?
    };
    while !d.quitting() {
        if shutdown.is_triggered() {
            d.request_quit();
            break;
        }
        if d.reload.swap(false, Ordering::SeqCst) {
            if let Err(e) = d.reload(None, false, false) {
                crate::log!(Level::Error, "fail2ban.server", "Reload failed: {e}");
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    crate::log!(Level::Info, "fail2ban.server", "Shutdown in progress...");
    d.wake_scheduler();
    let _ = sched.join();
    let names: Vec<String> = lock(&d.jails).keys().cloned().collect();
    for n in names {
        d.stop_jail(&n);
    }
    control.shutdown();
    if let Some(m) = metrics {
        m.shutdown();
    }
    let _ = std::fs::remove_file(&pidfile);
    crate::log!(Level::Info, "fail2ban.server", "Exiting bailiff");
    Ok(())
}

/// The opt-in Prometheus endpoint: `metrics = ADDRESS:PORT` in fail2ban.conf's
/// `[Definition]` (or a `.local`); off when absent. The page is rendered on each
/// scrape from every running jail's health.
fn start_metrics(
    value: Option<&str>,
    d: &Arc<Daemon>,
) -> Result<Option<bailiff_health::MetricsServer>, ServerError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let Some(addr) = bailiff_health::parse_metrics_listen(value)
        .map_err(|e| ServerError::Config(e.to_string()))?
    else {
        return Ok(None);
    };
    let weak = Arc::downgrade(d);
    let render = move || -> String {
        let Some(d) = weak.upgrade() else {
            return String::new();
        };
        let rts: Vec<Arc<JailRt>> = lock(&d.jails).values().cloned().collect();
        let healths: Vec<(String, bailiff_health::JailHealth)> = rts
            .iter()
            .map(|r| {
                let mut c = r.core();
                health::refresh(&mut c);
                (r.name.clone(), c.health.clone())
            })
            .collect();
        bailiff_health::render_metrics(
            healths.iter().map(|(n, h)| (n.as_str(), h)),
            now(),
            &d.health_thresholds(),
        )
    };
    let server = bailiff_health::MetricsServer::bind(addr, Arc::new(render))
        .map_err(|e| ServerError::Other(e.to_string()))?;
    crate::log!(
        Level::Info,
        "fail2ban.server",
        "Metrics on http://{}/metrics",
        server.local_addr()
    );
    Ok(Some(server))
}

/// bailiff's own options in fail2ban.conf's `[Definition]` (fail2ban ignores them):
/// `metrics = ADDRESS:PORT` (the Prometheus endpoint, off by default) and
/// `health_source_down = TIME` (how long a log may be missing or unreadable before
/// `client health` calls the jail unhealthy; 5 minutes by default) and
/// `health_firewall_check = TIME` (how often native nftables sets are compared with
/// the bans; 1 minute by default); the other `health_*` thresholds and the journal
/// cross-check's options are read by [`health::read_options`] (all of them are
/// listed, commented, in `config/fail2ban.conf`).
#[derive(Debug, Clone)]
pub struct BailiffOptions {
    pub metrics: Option<String>,
    pub thresholds: bailiff_health::Thresholds,
    pub firewall_check: Duration,
    /// The other `health_*` options (`crate::health::read_options`).
    pub journal_check: health::JournalCheck,
}

impl Default for BailiffOptions {
    fn default() -> Self {
        BailiffOptions {
            metrics: None,
            thresholds: bailiff_health::Thresholds::default(),
            firewall_check: Duration::from_secs(60),
            journal_check: health::JournalCheck::default(),
        }
    }
}

fn option_time(
    set: &bailiff_config::reader::ConfigSet,
    name: &str,
) -> Result<Option<f64>, ServerError> {
    let Some(v) = set.get_raw("Definition", name, &bailiff_config::reader::Vars::new()) else {
        return Ok(None);
    };
    bailiff_config::parse_time(&v)
        .ok()
        .filter(|t| t.is_finite() && *t >= 0.0)
        .map(Some)
        .ok_or_else(|| {
            ServerError::Config(format!(
                "[Definition] {name} = {v:?}: not a time (e.g. 300, 5m)"
            ))
        })
}

impl BailiffOptions {
    pub fn read(confdir: &Path) -> Result<BailiffOptions, ServerError> {
        use bailiff_config::reader::{ConfigSet, Vars};
        // Through the same loader as the jails: the embedded default and an
        // `/etc/bailiff` overlay hold `fail2ban.conf` too, not only a real directory.
        let src = bailiff_config::ConfSource::from_path(confdir);
        let loader = src.loader();
        let root = src.root();
        let dir = root.to_string_lossy();
        let mut o = BailiffOptions::default();
        let set = match ConfigSet::read_resource(&loader, &dir, "fail2ban") {
            Ok(Some(set)) => set,
            Ok(None) => return Ok(o),
            Err(e) => return Err(ServerError::Config(e.to_string())),
        };
        let vars = Vars::new();
        o.metrics = set.get_raw("Definition", "metrics", &vars);
        if let Some(t) = option_time(&set, "health_source_down")? {
            o.thresholds.source_down_after = t;
        }
        if let Some(t) = option_time(&set, "health_firewall_check")? {
            o.firewall_check = Duration::from_secs_f64(t.max(1.0));
        }
        health::read_options(&set, &mut o.thresholds, &mut o.journal_check)?;
        Ok(o)
    }
}
