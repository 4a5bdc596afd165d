//! bailiff-replay: `bailiff replay`, whole jails run over historical logs, so that an
//! operator can measure and tune a policy before it bites.
//!
//! [`ReplayArgs`] go into [`run`], which
//!
//! 1. loads the configuration (`bailiff_config::load`; through a temporary overlay
//!    directory, [`setup::load_config`], when `--jail` forces a disabled jail, a jail
//!    reads the journal, or `--set` changes options),
//! 2. selects the jails: the enabled ones whose `logpath` names a LOG (they read those)
//!    or, failing that, whose filter finds failures in a LOG's first lines, plus an
//!    enabled `recidive`; or those of `--jail`,
//! 3. turns each into an [`engine::JailPlan`] per policy (the current one and, with
//!    `--set`, the changed one): counting settings for a `bailiff_jail::Jail`, a
//!    `bailiff_filter::FilterConfig` with `usedns = raw`,
//! 4. streams the LOGs ([`input`]: plain or `.gz`, merged line by line by time) into
//!    the pure [`engine::Engine`], which runs filter → jail on the lines' own timestamps (bans, unbans, `bantime.increment`
//!    from its own ban history, `recidive` fed with the bans' log lines) and returns an
//!    [`engine::Outcome`],
//! 5. sums it up in a [`report::Report`] (ban timeline, totals per jail, top addresses
//!    and /24, /64 networks, lines/s, the comparison of the two policies) written as
//!    text or as one JSON document.
//!
//! Nothing touches the firewall, no action or `ignorecommand` runs, no name is resolved.
//! [`synth`] generates auth.log files with known properties for tests and benchmarks.
//!
//! ```no_run
//! use clap::Parser;
//! let args = bailiff_replay::ReplayArgs::parse_from([
//!     "bailiff-replay", "--set", "maxretry=3", "/var/log/auth.log.1", "/var/log/auth.log",
//! ]);
//! let code = bailiff_replay::run(&args, &mut std::io::stdout(), &mut std::io::stderr())?;
//! # Ok::<(), bailiff_replay::Error>(())
//! ```

mod args;
pub mod engine;
pub mod input;
pub mod report;
pub mod setup;
pub mod synth;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

pub use args::{ReplayArgs, DEFAULT_CONFIG_DIR};
use engine::{Engine, EngineOptions};
use report::{PolicyInfo, Report};
use setup::{load_config, Overlay, SetOpt};

/// Why `bailiff replay` could not run; the binary prints it and exits with
/// [`EXIT_FAILURE`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing output: {0}")]
    Output(#[source] std::io::Error),
    #[error("configuration: {0}")]
    Config(#[source] Box<bailiff_config::ConfigError>),
    #[error("jail {jail}: {message}")]
    Jail { jail: String, message: String },
    #[error("jail {jail}: {source}")]
    Filter {
        jail: String,
        #[source]
        source: bailiff_filter::FilterError,
    },
    #[error("{option}: {message}")]
    Option {
        option: &'static str,
        message: String,
    },
    #[error("no jail to replay: {0}")]
    NoJail(String),
}

/// Exit status for a failed run.
pub const EXIT_FAILURE: i32 = 255;

/// One log being read: its next line, already dated by the engine.
struct Cursor {
    file: usize,
    path: PathBuf,
    reader: Option<input::LogReader>,
    raw: Vec<u8>,
    line: String,
    /// Time of `line` (the last date of the file for an undated line).
    key: f64,
}

impl Cursor {
    /// Reads and dates the next line; false at the end (the reader is then closed).
    fn advance(&mut self, engine: &mut Engine) -> Result<bool, Error> {
        let io = |source| Error::Io {
            path: self.path.clone(),
            source,
        };
        let Some(r) = self.reader.as_mut() else {
            return Ok(false);
        };
        if !r.next_line(&mut self.raw).map_err(io)? {
            if let Some(r) = self.reader.take() {
                r.finish().map_err(io)?;
            }
            return Ok(false);
        }
        self.line.clear();
        match std::str::from_utf8(&self.raw) {
            Ok(l) => self.line.push_str(l),
            Err(_) => self.line.push_str(&String::from_utf8_lossy(&self.raw)),
        }
        if let Some(t) = engine.date(self.file, &self.line) {
            self.key = t;
        }
        Ok(true)
    }
}

fn wall_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Runs `bailiff replay`. Returns the exit status (0) or the reason it could not run.
/// Notes (skipped jails, unsupported settings) go to `stderr`.
pub fn run(
    args: &ReplayArgs,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<i32, Error> {
    let now = args.now.unwrap_or_else(wall_now);
    let mut notes: Vec<String> = Vec::new();
    // the logs, oldest first
    let mut first = Vec::with_capacity(args.logs.len());
    for log in &args.logs {
        let year = bailiff_filter::civil_year(now);
        first.push(
            input::first_date(log, now, year).map_err(|source| Error::Io {
                path: log.clone(),
                source,
            })?,
        );
    }
    let order = input::order(&first);
    let logs: Vec<PathBuf> = order.iter().map(|&i| args.logs[i].clone()).collect();
    if logs != args.logs {
        notes.push(format!(
            "logs replayed in time order: {}",
            logs.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }

    // 1. the configuration as it is (journal jails re-read for files, forced jails enabled)
    let mut base_overlay = Overlay::default();
    let mut cfg = load_config(&args.conf, &base_overlay)?;
    for _ in 0..2 {
        let mut changed = false;
        for name in &args.jails {
            if cfg.jail(name).is_none() && !base_overlay.sections.iter().any(|(s, _)| s == name) {
                base_overlay.set(name, "enabled", "true");
                changed = true;
            }
        }
        for j in &cfg.jails {
            let wanted = args.jails.is_empty() || args.jails.contains(&j.name);
            if wanted && j.backend.trim().to_ascii_lowercase().starts_with("systemd") {
                base_overlay.set(&j.name, "backend", "auto");
                changed = true;
            }
        }
        if !changed {
            break;
        }
        cfg = load_config(&args.conf, &base_overlay)?;
    }
    for (name, e) in &cfg.skipped {
        if args.jails.is_empty() || args.jails.contains(name) {
            notes.push(format!("jail {name} skipped: {e}"));
        }
    }

    // 2. selection: jail name -> files it reads
    let mut selected: Vec<(String, Vec<usize>)> = Vec::new();
    // A jail reads the logs its logpath names; when it names none of them, the logs
    // in which its filter finds failures.
    let reads = |spec: &bailiff_config::JailSpec| -> Result<Vec<usize>, Error> {
        let by_path: Vec<usize> = (0..logs.len())
            .filter(|&i| setup::logpath_matches(spec, &logs[i]))
            .collect();
        if !by_path.is_empty() || setup::is_recidive(spec) {
            return Ok(by_path);
        }
        let mut files = Vec::new();
        for (i, log) in logs.iter().enumerate() {
            if setup::filter_matches(spec, log, now)? {
                files.push(i);
            }
        }
        Ok(files)
    };
    if args.jails.is_empty() {
        for spec in cfg.jails.iter().filter(|j| !setup::is_recidive(j)) {
            if spec.filter.is_none() {
                continue;
            }
            let files = reads(spec)?;
            if !files.is_empty() {
                selected.push((spec.name.clone(), files));
            }
        }
        if !selected.is_empty() {
            for spec in cfg.jails.iter().filter(|j| setup::is_recidive(j)) {
                selected.push((spec.name.clone(), reads(spec)?));
            }
        }
        if selected.is_empty() {
            return Err(Error::NoJail(format!(
                "no enabled jail reads {} (give --jail NAME)",
                logs.iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    } else {
        for name in &args.jails {
            let spec = cfg.jail(name).ok_or_else(|| {
                let why = cfg
                    .skipped
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or_else(|| "no such jail".to_string(), |(_, e)| e.to_string());
                Error::NoJail(format!("{name}: {why}"))
            })?;
            let mut files = reads(spec)?;
            if files.is_empty() && !setup::is_recidive(spec) {
                notes.push(format!(
                    "jail {name}: neither its logpath nor its filter matches the logs; it reads all of them"
                ));
                files = (0..logs.len()).collect();
            }
            if !selected.iter().any(|(n, _)| n == name) {
                selected.push((name.clone(), files));
            }
        }
    }
    let names: BTreeSet<String> = selected.iter().map(|(n, _)| n.clone()).collect();

    // 3. policies
    let sets: Vec<SetOpt> = args
        .set
        .iter()
        .map(|s| setup::parse_set(s, &names))
        .collect::<Result<_, _>>()?;
    let mut configs = vec![cfg];
    let mut policies = vec![PolicyInfo {
        name: "current".into(),
        set: Vec::new(),
    }];
    if !sets.is_empty() {
        let mut ov = base_overlay.clone();
        for n in &names {
            ov.set(n, "enabled", "true");
        }
        for s in &sets {
            match &s.jail {
                Some(j) => ov.set(j, &s.key, &s.value),
                None => {
                    for n in &names {
                        ov.set(n, &s.key, &s.value);
                    }
                }
            }
        }
        configs.push(load_config(&args.conf, &ov)?);
        policies.push(PolicyInfo {
            name: "changed".into(),
            set: sets.iter().map(SetOpt::text).collect(),
        });
    }
    let self_ips = args.ignoreself.then(setup::self_ips);
    let mut plans = Vec::new();
    for (p, c) in configs.iter().enumerate() {
        for (name, files) in &selected {
            let spec = c.jail(name).ok_or_else(|| {
                let why = c
                    .skipped
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or_else(|| "missing".to_string(), |(_, e)| e.to_string());
                Error::Jail {
                    jail: name.clone(),
                    message: format!("policy {p}: {why}"),
                }
            })?;
            plans.push(setup::plan(
                spec,
                p,
                files.clone(),
                self_ips.clone(),
                !args.no_ignoreip,
                &mut notes,
            )?);
        }
    }
    let purge_age = {
        let srv = &configs[0].server;
        if srv.dbfile.trim().eq_ignore_ascii_case("none") {
            if plans.iter().any(|p| p.jail.increment.is_some()) {
                notes.push("dbfile = None: bantime.increment has no ban history".into());
            }
            None
        } else {
            Some(bailiff_config::parse_time(&srv.dbpurgeage).unwrap_or(86_400.0))
        }
    };

    // 4. the replay
    let mut engine = Engine::new(
        plans,
        EngineOptions {
            now,
            files: logs.len(),
            purge_age,
            count_while_banned: args.count_while_banned,
        },
    )
    .map_err(|e| Error::Filter {
        jail: e.jail,
        source: e.source,
    })?;
    let started = Instant::now();
    // Several logs are merged by time, line by line (a line without a date stays
    // behind its predecessor), so jails on different logs see one time line.
    let mut open: Vec<Cursor> = Vec::new();
    for (i, log) in logs.iter().enumerate() {
        if !engine.reads(i) {
            notes.push(format!("{}: no replayed jail reads it", log.display()));
            continue;
        }
        let reader = input::LogReader::open(log).map_err(|source| Error::Io {
            path: log.clone(),
            source,
        })?;
        let mut c = Cursor {
            file: i,
            path: log.clone(),
            reader: Some(reader),
            raw: Vec::with_capacity(4096),
            line: String::new(),
            key: f64::NEG_INFINITY,
        };
        if c.advance(&mut engine)? {
            open.push(c);
        }
    }
    while !open.is_empty() {
        let mut k = 0;
        for (j, c) in open.iter().enumerate().skip(1) {
            if c.key < open[k].key {
                k = j;
            }
        }
        let c = &mut open[k];
        engine.process(c.file, &c.line);
        if !c.advance(&mut engine)? {
            open.remove(k);
        }
    }
    let outcome = engine.finish();
    let seconds = started.elapsed().as_secs_f64();

    // 5. the report
    for n in &notes {
        writeln!(stderr, "NOTE: {n}").map_err(Error::Output)?;
    }
    let report = Report::new(
        policies,
        outcome,
        logs.iter().map(|p| p.display().to_string()).collect(),
        seconds,
        args.top,
        notes,
    );
    if args.json {
        let text = serde_json::to_string_pretty(&report.to_json())
            .map_err(|e| Error::Output(std::io::Error::other(e)))?;
        writeln!(stdout, "{text}").map_err(Error::Output)?;
    } else {
        report
            .write_text(stdout, args.timeline)
            .map_err(Error::Output)?;
    }
    Ok(0)
}
