//! bailiff-store: the persistent state of the daemon, in SQLite.
//!
//! A [`Store`] is one SQLite connection (WAL journal, `synchronous=NORMAL` by default,
//! a busy timeout) over a versioned schema of our own (see [`schema`]). It keeps:
//!
//! - jails ([`Store::add_jail`], [`Store::del_jail`]), so that purge can drop stopped ones;
//! - bans: the latest ban per (jail, ip) as a [`BanRecord`], used to restore bans at
//!   start ([`Store::current_bans`]) and as ban history for `bantime.increment`
//!   ([`Store::ban_history`], per jail or over all jails); and every ban event, kept for
//!   `dbpurgeage` ([`Store::ban_events`]) for the `<ipmatches>`-style action tags;
//! - log positions with the file identity ([`LogPosition`]: device, inode, hash of the
//!   first line, offset) and journal cursors.
//!
//! Writes come in batches, one transaction each ([`Store::add_bans`],
//! [`Store::set_log_positions`]); a crash loses at most the batch being written.
//! `dbfile` values map through [`DbFile`]: `None` means no store at all, `:memory:` an
//! in-memory database. An existing fail2ban database (schema v4, the
//! `fail2banDb`/`bips`/`bans`/`logs`/`jails` tables) can be imported with
//! [`Store::import_fail2ban`]; our tables carry a `bailiff_` prefix, so both can live in
//! fail2ban's own `fail2ban.sqlite3`, and opening such a file imports it once.
//!
//! Conversions to and from [`bailiff_jail::Ticket`] ([`BanRecord::from_ticket`],
//! [`BanRecord::to_ticket`]) let the daemon pass bans between the jail and the store,
//! and [`StoreHooks`] answers the jail's questions (ban history for
//! `bantime.increment`) from the store.
//!
//! ```
//! use bailiff_store::{BanRecord, Store};
//!
//! let mut store = Store::open_in_memory().unwrap();
//! store.add_jail("sshd").unwrap();
//! let ban = BanRecord::new("sshd", "192.0.2.1", 1_700_000_000, 600.0);
//! store.add_bans(&[ban]).unwrap();
//! let active = store.current_bans("sshd", 1_700_000_100, None).unwrap();
//! assert_eq!(active.len(), 1);
//! assert!(store.current_bans("sshd", 1_700_000_601, None).unwrap().is_empty());
//! ```

pub mod schema;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bailiff_jail::{BanHistory, FailId, JailHooks, Ticket, TicketData};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction};
use serde_json::{Map, Value};

/// Errors name the database file and what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {file}: {doing}: {source}")]
    Sqlite {
        file: String,
        doing: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "database {file}: schema version {found} is newer than this bailiff understands ({known})"
    )]
    TooNew {
        file: String,
        found: i64,
        known: i64,
    },
    #[error("database {file}: {message}")]
    Invalid { file: String, message: String },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The `dbfile` option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbFile {
    /// `None`: no persistent state; bans are not restored, increment has no history.
    Disabled,
    /// `:memory:`
    Memory,
    Path(PathBuf),
}

impl DbFile {
    /// Reads fail2ban's `dbfile` value (`None` in any case means disabled).
    pub fn parse(value: &str) -> DbFile {
        let v = value.trim();
        if v.eq_ignore_ascii_case("none") || v.is_empty() {
            DbFile::Disabled
        } else if v == ":memory:" {
            DbFile::Memory
        } else {
            DbFile::Path(PathBuf::from(v))
        }
    }

    /// Opens the store it names, or `Ok(None)` when disabled.
    pub fn open(&self, opts: &StoreOptions) -> Result<Option<Store>> {
        Ok(match self {
            DbFile::Disabled => None,
            DbFile::Memory => Some(Store::open_in_memory_with(opts)?),
            DbFile::Path(p) => Some(Store::open_with(p, opts)?),
        })
    }
}

/// `synchronous` setting: `Normal` survives a crash of the process (WAL); `Full` also
/// survives a power loss at some cost per commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    #[default]
    Normal,
    Full,
}

/// Store settings from `fail2ban.conf`.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `dbmaxmatches`: matched lines kept per stored ban.
    pub max_matches: usize,
    /// `dbpurgeage` in seconds.
    pub purge_age: i64,
    pub sync: Synchronous,
    /// Import a fail2ban database found in the same file on first open.
    pub import_fail2ban: bool,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            max_matches: 10,
            purge_age: 86400,
            sync: Synchronous::Normal,
            import_fail2ban: true,
        }
    }
}

/// One ban as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct BanRecord {
    pub jail: String,
    pub ip: String,
    /// Unix time the ban counts from (whole seconds).
    pub time_of_ban: i64,
    /// Seconds; negative means permanent (-1), -2 means unknown (old fail2ban rows).
    pub ban_time: f64,
    pub ban_count: u32,
    /// Ticket data as a JSON object: `matches`, `failures`, captured values.
    pub data: Map<String, Value>,
}

impl BanRecord {
    pub fn new(jail: &str, ip: &str, time_of_ban: i64, ban_time: f64) -> BanRecord {
        BanRecord {
            jail: jail.to_string(),
            ip: ip.to_string(),
            time_of_ban,
            ban_time,
            ban_count: 1,
            data: Map::new(),
        }
    }

    /// A record for a ban made by the jail. `default_ban_time` fills in a ticket without
    /// its own ban time; matches are trimmed to the last `max_matches`.
    pub fn from_ticket(
        jail: &str,
        t: &Ticket,
        default_ban_time: f64,
        max_matches: usize,
    ) -> BanRecord {
        let mut data: Map<String, Value> = t.data.clone().into_iter().collect();
        if max_matches > 0 && !t.matches.is_empty() {
            let skip = t.matches.len().saturating_sub(max_matches);
            data.insert(
                "matches".into(),
                Value::Array(
                    t.matches[skip..]
                        .iter()
                        .map(|m| Value::String(m.clone()))
                        .collect(),
                ),
            );
        } else {
            data.remove("matches");
        }
        data.insert("failures".into(), Value::from(t.failures));
        BanRecord {
            jail: jail.to_string(),
            ip: t.id.to_string(),
            time_of_ban: t.time.round_ties_even() as i64,
            ban_time: t.ban_time_or(default_ban_time),
            ban_count: t.ban_count,
            data,
        }
    }

    /// A ticket to hand to [`bailiff_jail::Jail::restore`].
    pub fn to_ticket(&self) -> Ticket {
        let mut data: TicketData = self.data.clone().into_iter().collect();
        let matches = match data.remove("matches") {
            Some(Value::Array(a)) => a
                .into_iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let failures = match data.remove("failures") {
            Some(v) => v
                .as_u64()
                .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)),
            None => 0,
        };
        let mut t = Ticket::new(FailId::parse(&self.ip), self.time_of_ban as f64)
            .with_matches(matches)
            .with_data(data);
        t.failures = failures;
        t.ban_time = Some(self.ban_time);
        t.ban_count = self.ban_count;
        t
    }
}

/// Where a jail stopped reading a log file, with the file's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPosition {
    pub path: String,
    pub dev: u64,
    pub inode: u64,
    /// A hash of the first line (fail2ban uses an MD5 hex digest), to detect rotation.
    pub first_line_hash: Option<String>,
    pub offset: u64,
}

/// What [`Store::purge`] removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PurgeStats {
    pub ban_events: usize,
    pub bans: usize,
    pub jails: usize,
}

/// What [`Store::import_fail2ban`] brought over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportStats {
    pub jails: usize,
    pub bans: usize,
    pub ban_events: usize,
    pub logs: usize,
    pub journal: usize,
}

/// The SQLite store.
pub struct Store {
    conn: Connection,
    file: String,
    opts: StoreOptions,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("file", &self.file).finish()
    }
}

fn data_to_text(d: &Map<String, Value>) -> String {
    serde_json::to_string(d).unwrap_or_else(|_| "{}".to_string())
}

/// Reads the `data` column, text or blob (fail2ban's Python writes JSON as a blob);
/// anything that is not a JSON object reads as empty data.
fn column_to_data(v: rusqlite::types::ValueRef<'_>) -> Map<String, Value> {
    let bytes = match v {
        rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => b,
        _ => return Map::new(),
    };
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path` with default options.
    pub fn open(path: &Path) -> Result<Store> {
        Store::open_with(path, &StoreOptions::default())
    }

    pub fn open_with(path: &Path, opts: &StoreOptions) -> Result<Store> {
        let file = path.display().to_string();
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Sqlite {
            file: file.clone(),
            doing: "opening",
            source,
        })?;
        Store::init(conn, file, opts)
    }

    /// An in-memory store (`dbfile = :memory:`).
    pub fn open_in_memory() -> Result<Store> {
        Store::open_in_memory_with(&StoreOptions::default())
    }

    pub fn open_in_memory_with(opts: &StoreOptions) -> Result<Store> {
        let file = ":memory:".to_string();
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Sqlite {
            file: file.clone(),
            doing: "opening",
            source,
        })?;
        Store::init(conn, file, opts)
    }

    fn init(conn: Connection, file: String, opts: &StoreOptions) -> Result<Store> {
        let mut store = Store {
            conn,
            file,
            opts: opts.clone(),
        };
        let sync = match opts.sync {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        };
        store
            .conn
            .busy_timeout(Duration::from_secs(10))
            .map_err(|e| err(&store.file, "setting the busy timeout", e))?;
        // journal_mode answers with a row; read it rather than execute.
        let mode: String = store
            .conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(|e| err(&store.file, "switching to WAL", e))?;
        if store.file != ":memory:" && !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Invalid {
                file: store.file.clone(),
                message: format!("could not enable WAL (journal_mode is {mode})"),
            });
        }
        store
            .conn
            .execute_batch(&format!(
                "PRAGMA synchronous={sync}; PRAGMA foreign_keys=OFF; PRAGMA temp_store=MEMORY;"
            ))
            .map_err(|e| err(&store.file, "setting pragmas", e))?;
        let fresh = schema::migrate(&mut store.conn, &store.file)?;
        if fresh && opts.import_fail2ban && store.has_fail2ban_tables()? {
            store.import_fail2ban_tables("main")?;
        }
        Ok(store)
    }

    /// The database file name (`:memory:` for an in-memory store).
    pub fn file(&self) -> &str {
        &self.file
    }
    pub fn options(&self) -> &StoreOptions {
        &self.opts
    }
    pub fn set_max_matches(&mut self, n: usize) {
        self.opts.max_matches = n;
    }
    pub fn set_purge_age(&mut self, secs: i64) {
        self.opts.purge_age = secs;
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64> {
        schema::version(&self.conn).map_err(|e| err(&self.file, "reading the schema version", e))
    }

    /// `PRAGMA integrity_check` (and foreign/structure checks SQLite does with it).
    pub fn integrity_check(&self) -> Result<()> {
        let r: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|e| err(&self.file, "checking integrity", e))?;
        if r == "ok" {
            Ok(())
        } else {
            Err(StoreError::Invalid {
                file: self.file.clone(),
                message: format!("integrity check: {r}"),
            })
        }
    }

    // ---- jails ----

    /// Marks a jail enabled (creating it).
    pub fn add_jail(&mut self, name: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO bailiff_jails(name, enabled) VALUES(?1, 1)
                 ON CONFLICT(name) DO UPDATE SET enabled = 1",
                params![name],
            )
            .map_err(|e| err(&self.file, "adding a jail", e))?;
        Ok(())
    }

    /// Marks a jail disabled (purge removes it once it has no bans).
    pub fn del_jail(&mut self, name: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE bailiff_jails SET enabled = 0 WHERE name = ?1",
                params![name],
            )
            .map_err(|e| err(&self.file, "disabling a jail", e))?;
        Ok(())
    }

    /// Marks every jail disabled (server stop).
    pub fn del_all_jails(&mut self) -> Result<()> {
        self.conn
            .execute("UPDATE bailiff_jails SET enabled = 0", [])
            .map_err(|e| err(&self.file, "disabling jails", e))?;
        Ok(())
    }

    /// Jail names, all or only enabled/disabled ones, sorted.
    pub fn jail_names(&self, enabled: Option<bool>) -> Result<Vec<String>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT name FROM bailiff_jails WHERE ?1 IS NULL OR enabled = ?1 ORDER BY name",
            )
            .map_err(|e| err(&self.file, "listing jails", e))?;
        let rows = st
            .query_map(params![enabled.map(i64::from)], |r| r.get(0))
            .and_then(|r| r.collect::<rusqlite::Result<Vec<String>>>())
            .map_err(|e| err(&self.file, "listing jails", e))?;
        Ok(rows)
    }

    // ---- bans ----

    /// Stores one ban (see [`Store::add_bans`]).
    pub fn add_ban(&mut self, ban: &BanRecord) -> Result<()> {
        self.add_bans(std::slice::from_ref(ban))
    }

    /// Stores bans in one transaction: each becomes the latest ban of its (jail, ip) and
    /// a ban event. Matches are trimmed to `dbmaxmatches`.
    pub fn add_bans(&mut self, bans: &[BanRecord]) -> Result<()> {
        let max = self.opts.max_matches;
        let tx = begin(&mut self.conn, &self.file)?;
        {
            let mut latest = tx
                .prepare_cached(
                    "INSERT INTO bailiff_bans(jail, ip, timeofban, bantime, bancount, data)
                     VALUES(?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT(jail, ip) DO UPDATE SET timeofban = excluded.timeofban,
                        bantime = excluded.bantime, bancount = excluded.bancount,
                        data = excluded.data",
                )
                .map_err(|source| StoreError::Sqlite {
                    file: self.file.clone(),
                    doing: "preparing the ban insert",
                    source,
                })?;
            let mut event = tx
                .prepare_cached(
                    "INSERT INTO bailiff_ban_events(jail, ip, timeofban, bantime, bancount, data)
                     VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(|source| StoreError::Sqlite {
                    file: self.file.clone(),
                    doing: "preparing the ban insert",
                    source,
                })?;
            let mut jail = tx
                .prepare_cached("INSERT OR IGNORE INTO bailiff_jails(name, enabled) VALUES(?1, 1)")
                .map_err(|source| StoreError::Sqlite {
                    file: self.file.clone(),
                    doing: "preparing the ban insert",
                    source,
                })?;
            let mut last_jail: Option<&str> = None;
            for b in bans {
                let text = match trimmed_data(&b.data, max) {
                    Some(d) => data_to_text(&d),
                    None => data_to_text(&b.data),
                };
                let r = (|| -> rusqlite::Result<()> {
                    if last_jail != Some(b.jail.as_str()) {
                        jail.execute(params![b.jail])?;
                        last_jail = Some(b.jail.as_str());
                    }
                    let p = params![b.jail, b.ip, b.time_of_ban, b.ban_time, b.ban_count, text];
                    latest.execute(p)?;
                    event.execute(p)?;
                    Ok(())
                })();
                r.map_err(|source| StoreError::Sqlite {
                    file: self.file.clone(),
                    doing: "inserting bans",
                    source,
                })?;
            }
        }
        tx.commit()
            .map_err(|e| err(&self.file, "committing bans", e))
    }

    /// `unbanip` / jail flush: deletes the bans (latest and events) of `ips` in `jail`,
    /// or all of the jail's when `ips` is empty. Returns the number of latest-ban rows
    /// removed.
    pub fn del_bans(&mut self, jail: &str, ips: &[&str]) -> Result<usize> {
        let tx = begin(&mut self.conn, &self.file)?;
        let mut n = 0;
        let r = (|| -> rusqlite::Result<()> {
            if ips.is_empty() {
                n += tx.execute("DELETE FROM bailiff_bans WHERE jail = ?1", params![jail])?;
                tx.execute(
                    "DELETE FROM bailiff_ban_events WHERE jail = ?1",
                    params![jail],
                )?;
            } else {
                for ip in ips {
                    n += tx.execute(
                        "DELETE FROM bailiff_bans WHERE jail = ?1 AND ip = ?2",
                        params![jail, ip],
                    )?;
                    tx.execute(
                        "DELETE FROM bailiff_ban_events WHERE jail = ?1 AND ip = ?2",
                        params![jail, ip],
                    )?;
                }
            }
            Ok(())
        })();
        r.map_err(|e| err(&self.file, "deleting bans", e))?;
        tx.commit()
            .map_err(|e| err(&self.file, "committing the unban", e))?;
        Ok(n)
    }

    /// Deletes `ips` from every jail (`unban ip...` without a jail).
    pub fn del_bans_everywhere(&mut self, ips: &[&str]) -> Result<usize> {
        let tx = begin(&mut self.conn, &self.file)?;
        let mut n = 0;
        let r = (|| -> rusqlite::Result<()> {
            for ip in ips {
                n += tx.execute("DELETE FROM bailiff_bans WHERE ip = ?1", params![ip])?;
                tx.execute("DELETE FROM bailiff_ban_events WHERE ip = ?1", params![ip])?;
            }
            Ok(())
        })();
        r.map_err(|e| err(&self.file, "deleting bans", e))?;
        tx.commit()
            .map_err(|e| err(&self.file, "committing the unban", e))?;
        Ok(n)
    }

    /// `unban --all`: deletes every ban of every jail.
    pub fn del_all_bans(&mut self) -> Result<usize> {
        let tx = begin(&mut self.conn, &self.file)?;
        let n = tx
            .execute("DELETE FROM bailiff_bans", [])
            .and_then(|n| tx.execute("DELETE FROM bailiff_ban_events", []).map(|_| n))
            .map_err(|e| err(&self.file, "deleting all bans", e))?;
        tx.commit()
            .map_err(|e| err(&self.file, "committing the unban", e))?;
        Ok(n)
    }

    /// The bans of `jail` active at `now` (`timeofban + bantime > now`, or permanent),
    /// ordered by ip. With `for_ban_time` (the jail's `bantime` when increment is off),
    /// only bans younger than it qualify, as fail2ban restores.
    pub fn current_bans(
        &self,
        jail: &str,
        now: i64,
        for_ban_time: Option<f64>,
    ) -> Result<Vec<BanRecord>> {
        let since = match for_ban_time {
            Some(bt) if bt >= 0.0 => now as f64 - bt,
            _ => f64::NEG_INFINITY,
        };
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT jail, ip, timeofban, bantime, bancount, data FROM bailiff_bans
                 WHERE jail = ?1 AND (timeofban + bantime > ?2 OR bantime <= -1)
                   AND timeofban > ?3
                 ORDER BY ip",
            )
            .map_err(|e| err(&self.file, "reading current bans", e))?;
        let rows = st
            .query_map(params![jail, now, since], row_to_record)
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| err(&self.file, "reading current bans", e))?;
        Ok(rows)
    }

    /// Every latest-ban row (all jails), for `get <jail> banip`-style listings and tests.
    pub fn all_bans(&self) -> Result<Vec<BanRecord>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT jail, ip, timeofban, bantime, bancount, data FROM bailiff_bans
                 ORDER BY jail, ip",
            )
            .map_err(|e| err(&self.file, "reading bans", e))?;
        let rows = st
            .query_map([], row_to_record)
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| err(&self.file, "reading bans", e))?;
        Ok(rows)
    }

    /// Ban history of `ip` for `bantime.increment`: its latest ban in `jail`, or with
    /// `overall_jails` the sum of ban counts and the latest time over every jail.
    pub fn ban_history(
        &self,
        ip: &str,
        jail: &str,
        overall_jails: bool,
    ) -> Result<Option<BanHistory>> {
        let row = if overall_jails {
            self.conn
                .prepare_cached(
                    "SELECT sum(bancount), max(timeofban), sum(bantime) FROM bailiff_bans
                     WHERE ip = ?1 GROUP BY ip",
                )
                .and_then(|mut st| {
                    st.query_row(params![ip], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, f64>(2)?,
                        ))
                    })
                    .optional()
                })
        } else {
            self.conn
                .prepare_cached(
                    "SELECT bancount, timeofban, bantime FROM bailiff_bans
                     WHERE ip = ?1 AND jail = ?2",
                )
                .and_then(|mut st| {
                    st.query_row(params![ip, jail], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, f64>(2)?,
                        ))
                    })
                    .optional()
                })
        }
        .map_err(|e| err(&self.file, "reading ban history", e))?;
        Ok(row.map(|(count, time, bt)| BanHistory {
            ban_count: u32::try_from(count.max(0)).unwrap_or(u32::MAX),
            time_of_ban: time as f64,
            ban_time: bt,
        }))
    }

    /// Ban events (one per ban, newest first) for `ip`, in `jail` or in all jails: the
    /// source of `<ipmatches>`, `<ipjailmatches>`, `<ipfailures>`, `<ipjailfailures>`.
    pub fn ban_events(&self, ip: &str, jail: Option<&str>) -> Result<Vec<BanRecord>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT jail, ip, timeofban, bantime, bancount, data FROM bailiff_ban_events
                 WHERE ip = ?1 AND (?2 IS NULL OR jail = ?2)
                 ORDER BY timeofban DESC, id DESC",
            )
            .map_err(|e| err(&self.file, "reading ban events", e))?;
        let rows = st
            .query_map(params![ip, jail], row_to_record)
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| err(&self.file, "reading ban events", e))?;
        Ok(rows)
    }

    /// Matches and failure count of `ip` merged over its ban events (all jails, or one):
    /// the values of the `<ipmatches>`/`<ipfailures>` and `<ipjailmatches>`/
    /// `<ipjailfailures>` action tags. As fail2ban, at most `dbmaxmatches` lines are kept,
    /// the newest bans' lines winning, oldest first; a ban without a failure count
    /// counts one.
    pub fn merged_matches(&self, ip: &str, jail: Option<&str>) -> Result<(Vec<String>, u64)> {
        let max = self.opts.max_matches;
        let mut matches: Vec<String> = Vec::new();
        let mut failures = 0u64;
        for ev in self.ban_events(ip, jail)? {
            let room = max.saturating_sub(matches.len());
            if room > 0 {
                if let Some(Value::Array(m)) = ev.data.get("matches") {
                    let lines: Vec<String> = m
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect();
                    let skip = lines.len().saturating_sub(room);
                    let mut merged = lines[skip..].to_vec();
                    merged.append(&mut matches);
                    matches = merged;
                }
            }
            failures += ev.data.get("failures").and_then(Value::as_u64).unwrap_or(1);
        }
        Ok((matches, failures))
    }

    /// fail2ban's hourly purge at `now`: ban events older than `dbpurgeage`; latest bans
    /// whose time and three ban times are both older than that (never permanent ones);
    /// disabled jails left without bans.
    pub fn purge(&mut self, now: i64) -> Result<PurgeStats> {
        let limit = now - self.opts.purge_age;
        let tx = begin(&mut self.conn, &self.file)?;
        let stats = (|| -> rusqlite::Result<PurgeStats> {
            let ban_events = tx.execute(
                "DELETE FROM bailiff_ban_events WHERE timeofban < ?1",
                params![limit],
            )?;
            let bans = tx.execute(
                "DELETE FROM bailiff_bans
                 WHERE timeofban < ?1 AND bantime != -1 AND timeofban + bantime * 3 < ?1",
                params![limit],
            )?;
            let jails = tx.execute(
                "DELETE FROM bailiff_jails WHERE enabled = 0
                   AND NOT EXISTS(SELECT 1 FROM bailiff_bans b WHERE b.jail = bailiff_jails.name)
                   AND NOT EXISTS(SELECT 1 FROM bailiff_ban_events e
                                  WHERE e.jail = bailiff_jails.name)",
                [],
            )?;
            Ok(PurgeStats {
                ban_events,
                bans,
                jails,
            })
        })()
        .map_err(|e| err(&self.file, "purging", e))?;
        tx.commit()
            .map_err(|e| err(&self.file, "committing the purge", e))?;
        Ok(stats)
    }

    // ---- log positions ----

    /// The saved position of `path` in `jail`.
    pub fn log_position(&self, jail: &str, path: &str) -> Result<Option<LogPosition>> {
        self.conn
            .prepare_cached(
                "SELECT path, dev, inode, firstline_hash, pos FROM bailiff_log_positions
                 WHERE jail = ?1 AND path = ?2",
            )
            .and_then(|mut st| st.query_row(params![jail, path], row_to_pos).optional())
            .map_err(|e| err(&self.file, "reading a log position", e))
    }

    /// Every saved position of `jail`, by path.
    pub fn log_positions(&self, jail: &str) -> Result<Vec<LogPosition>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT path, dev, inode, firstline_hash, pos FROM bailiff_log_positions
                 WHERE jail = ?1 ORDER BY path",
            )
            .map_err(|e| err(&self.file, "reading log positions", e))?;
        let rows = st
            .query_map(params![jail], row_to_pos)
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| err(&self.file, "reading log positions", e))?;
        Ok(rows)
    }

    /// Saves positions of `jail` in one transaction.
    pub fn set_log_positions(&mut self, jail: &str, positions: &[LogPosition]) -> Result<()> {
        let tx = begin(&mut self.conn, &self.file)?;
        let r = (|| -> rusqlite::Result<()> {
            let mut st = tx.prepare_cached(
                "INSERT INTO bailiff_log_positions(jail, path, dev, inode, firstline_hash, pos)
                 VALUES(?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(jail, path) DO UPDATE SET dev = excluded.dev,
                    inode = excluded.inode, firstline_hash = excluded.firstline_hash,
                    pos = excluded.pos",
            )?;
            for p in positions {
                st.execute(params![
                    jail,
                    p.path,
                    p.dev as i64,
                    p.inode as i64,
                    p.first_line_hash,
                    p.offset as i64
                ])?;
            }
            Ok(())
        })();
        r.map_err(|e| err(&self.file, "saving log positions", e))?;
        tx.commit()
            .map_err(|e| err(&self.file, "committing log positions", e))
    }

    /// Forgets a log of `jail` (`dellogpath`).
    pub fn del_log_position(&mut self, jail: &str, path: &str) -> Result<()> {
        self.conn
            .execute(
                "DELETE FROM bailiff_log_positions WHERE jail = ?1 AND path = ?2",
                params![jail, path],
            )
            .map_err(|e| err(&self.file, "deleting a log position", e))?;
        Ok(())
    }

    // ---- journal ----

    /// The saved journal cursor of `jail` and the time of its entry.
    pub fn journal_cursor(&self, jail: &str) -> Result<Option<(String, f64)>> {
        self.conn
            .prepare_cached("SELECT cursor, time FROM bailiff_journal_cursors WHERE jail = ?1")
            .and_then(|mut st| {
                st.query_row(params![jail], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(|e| err(&self.file, "reading a journal cursor", e))
    }

    pub fn set_journal_cursor(&mut self, jail: &str, cursor: &str, time: f64) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO bailiff_journal_cursors(jail, cursor, time) VALUES(?1, ?2, ?3)
                 ON CONFLICT(jail) DO UPDATE SET cursor = excluded.cursor, time = excluded.time",
                params![jail, cursor, time],
            )
            .map_err(|e| err(&self.file, "saving a journal cursor", e))?;
        Ok(())
    }

    // ---- fail2ban import ----

    fn has_fail2ban_tables(&self) -> Result<bool> {
        let n: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'
                 AND name IN ('fail2banDb', 'bips', 'bans', 'jails', 'logs')",
                [],
                |r| r.get(0),
            )
            .map_err(|e| err(&self.file, "looking for fail2ban tables", e))?;
        Ok(n == 5)
    }

    /// Imports a fail2ban database (schema v4) from `path` into this store: jails,
    /// `bips` as latest bans, `bans` as ban events, `logs` as positions (no file identity
    /// beyond the first-line MD5; the journal row becomes a time-only cursor).
    pub fn import_fail2ban(&mut self, path: &Path) -> Result<ImportStats> {
        let p = path.display().to_string();
        self.conn
            .execute("ATTACH DATABASE ?1 AS f2b", params![p])
            .map_err(|e| err(&self.file, "attaching the fail2ban database", e))?;
        let r = self.import_fail2ban_tables("f2b");
        let d = self
            .conn
            .execute("DETACH DATABASE f2b", [])
            .map_err(|e| err(&self.file, "detaching the fail2ban database", e));
        let stats = r?;
        d?;
        Ok(stats)
    }

    fn import_fail2ban_tables(&mut self, schema: &str) -> Result<ImportStats> {
        let version: Option<i64> = self
            .conn
            .query_row(
                &format!("SELECT version FROM {schema}.fail2banDb"),
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| err(&self.file, "reading the fail2ban schema version", e))?;
        if version.is_some_and(|v| v > 4) {
            return Err(StoreError::Invalid {
                file: self.file.clone(),
                message: format!(
                    "fail2ban schema version {} is newer than 4",
                    version.unwrap_or(0)
                ),
            });
        }
        let tx = begin(&mut self.conn, &self.file)?;
        let s = schema;
        let stats = (|| -> rusqlite::Result<ImportStats> {
            let jails = tx.execute(
                &format!(
                    "INSERT OR IGNORE INTO bailiff_jails(name, enabled)
                     SELECT name, enabled FROM {s}.jails"
                ),
                [],
            )?;
            let bans = tx.execute(
                &format!(
                    "INSERT OR REPLACE INTO bailiff_bans(jail, ip, timeofban, bantime, bancount, data)
                     SELECT jail, ip, CAST(timeofban AS INTEGER), bantime, coalesce(bancount, 1),
                            CASE WHEN json_valid(CAST(data AS TEXT)) THEN CAST(data AS TEXT)
                                 ELSE '{{}}' END
                     FROM {s}.bips WHERE ip IS NOT NULL AND jail IS NOT NULL"
                ),
                [],
            )?;
            let ban_events = tx.execute(
                &format!(
                    "INSERT INTO bailiff_ban_events(jail, ip, timeofban, bantime, bancount, data)
                     SELECT jail, ip, CAST(timeofban AS INTEGER), coalesce(bantime, -2),
                            coalesce(bancount, 1),
                            CASE WHEN json_valid(CAST(data AS TEXT)) THEN CAST(data AS TEXT)
                                 ELSE '{{}}' END
                     FROM {s}.bans WHERE ip IS NOT NULL AND jail IS NOT NULL"
                ),
                [],
            )?;
            let logs = tx.execute(
                &format!(
                    "INSERT OR IGNORE INTO bailiff_log_positions(jail, path, dev, inode,
                        firstline_hash, pos)
                     SELECT jail, path, 0, 0, firstlinemd5, coalesce(lastfilepos, 0)
                     FROM {s}.logs WHERE path != 'systemd-journal'"
                ),
                [],
            )?;
            let journal = tx.execute(
                &format!(
                    "INSERT OR IGNORE INTO bailiff_journal_cursors(jail, cursor, time)
                     SELECT jail, '', lastfilepos FROM {s}.logs WHERE path = 'systemd-journal'"
                ),
                [],
            )?;
            Ok(ImportStats {
                jails,
                bans,
                ban_events,
                logs,
                journal,
            })
        })()
        .map_err(|e| err(&self.file, "importing the fail2ban database", e))?;
        tx.commit()
            .map_err(|e| err(&self.file, "committing the fail2ban import", e))?;
        Ok(stats)
    }
}

/// [`JailHooks`] backed by the store: ban history comes from [`Store::ban_history`];
/// `ignorecommand` and the random source are optional closures of the caller.
///
/// Store errors do not stop the jail (fail2ban logs them and goes on without history):
/// the first one is kept in `error` for the caller to log.
pub struct StoreHooks<'a> {
    pub store: Option<&'a Store>,
    pub jail: &'a str,
    pub ignore_command: Option<&'a mut dyn FnMut(&Ticket) -> bool>,
    pub random: Option<&'a mut dyn FnMut() -> f64>,
    pub error: Option<StoreError>,
}

impl<'a> StoreHooks<'a> {
    pub fn new(store: Option<&'a Store>, jail: &'a str) -> StoreHooks<'a> {
        StoreHooks {
            store,
            jail,
            ignore_command: None,
            random: None,
            error: None,
        }
    }
}

impl JailHooks for StoreHooks<'_> {
    fn ignore_command(&mut self, ticket: &Ticket) -> bool {
        match self.ignore_command.as_mut() {
            Some(f) => f(ticket),
            None => false,
        }
    }

    fn ban_history(&mut self, id: &FailId, overall_jails: bool) -> Option<BanHistory> {
        let store = self.store?;
        match store.ban_history(&id.to_string(), self.jail, overall_jails) {
            Ok(h) => h,
            Err(e) => {
                self.error.get_or_insert(e);
                None
            }
        }
    }

    fn random(&mut self) -> f64 {
        match self.random.as_mut() {
            Some(f) => f(),
            None => 0.0,
        }
    }
}

fn err(file: &str, doing: &'static str, source: rusqlite::Error) -> StoreError {
    StoreError::Sqlite {
        file: file.to_string(),
        doing,
        source,
    }
}

fn begin<'c>(conn: &'c mut Connection, file: &str) -> Result<Transaction<'c>> {
    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|e| err(file, "starting a transaction", e))
}

/// `d` with matches trimmed to `max`, or `None` when nothing needs trimming.
fn trimmed_data(d: &Map<String, Value>, max: usize) -> Option<Map<String, Value>> {
    match d.get("matches") {
        Some(Value::Array(m)) if max == 0 || m.len() > max => {
            let mut d = d.clone();
            if max == 0 {
                d.remove("matches");
            } else {
                let skip = m.len() - max;
                d.insert("matches".into(), Value::Array(m[skip..].to_vec()));
            }
            Some(d)
        }
        _ => None,
    }
}

fn row_to_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<BanRecord> {
    let count: i64 = r.get(4)?;
    Ok(BanRecord {
        jail: r.get(0)?,
        ip: r.get(1)?,
        time_of_ban: r.get(2)?,
        ban_time: r.get(3)?,
        ban_count: u32::try_from(count.max(0)).unwrap_or(u32::MAX),
        data: column_to_data(r.get_ref(5)?),
    })
}

fn row_to_pos(r: &rusqlite::Row<'_>) -> rusqlite::Result<LogPosition> {
    Ok(LogPosition {
        path: r.get(0)?,
        dev: r.get::<_, i64>(1)? as u64,
        inode: r.get::<_, i64>(2)? as u64,
        first_line_hash: r.get(3)?,
        offset: r.get::<_, i64>(4)? as u64,
    })
}
