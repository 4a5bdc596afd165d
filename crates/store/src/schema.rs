//! Our schema and its migrations.
//!
//! `bailiff_schema_version` holds one row with the version; [`MIGRATIONS`] lists the
//! steps, the version being the number of steps applied. Each step runs in its own
//! transaction with the version bump, so a crash mid-migration leaves the previous
//! version intact. Table names carry a `bailiff_` prefix so that they can share a file
//! with fail2ban's own tables (`fail2banDb`, `jails`, `logs`, `bans`, `bips`).

use rusqlite::{Connection, OptionalExtension};

use crate::{Result, StoreError};

/// Migration steps, oldest first. Never edit a released step: append a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: initial layout
    "CREATE TABLE bailiff_jails (
        name TEXT PRIMARY KEY NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1
     );
     -- Latest ban per (jail, ip): restore at start and history for bantime.increment.
     CREATE TABLE bailiff_bans (
        jail TEXT NOT NULL,
        ip TEXT NOT NULL,
        timeofban INTEGER NOT NULL,
        bantime REAL NOT NULL,
        bancount INTEGER NOT NULL DEFAULT 1,
        data TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (jail, ip)
     ) WITHOUT ROWID;
     CREATE INDEX bailiff_bans_ip ON bailiff_bans(ip);
     CREATE INDEX bailiff_bans_time ON bailiff_bans(timeofban);
     -- One row per ban, kept for dbpurgeage (the <ipmatches>-style tags).
     CREATE TABLE bailiff_ban_events (
        id INTEGER PRIMARY KEY,
        jail TEXT NOT NULL,
        ip TEXT NOT NULL,
        timeofban INTEGER NOT NULL,
        bantime REAL NOT NULL,
        bancount INTEGER NOT NULL DEFAULT 1,
        data TEXT NOT NULL DEFAULT '{}'
     );
     CREATE INDEX bailiff_ban_events_ip ON bailiff_ban_events(ip, jail);
     CREATE INDEX bailiff_ban_events_jail ON bailiff_ban_events(jail);
     CREATE INDEX bailiff_ban_events_time ON bailiff_ban_events(timeofban);
     CREATE TABLE bailiff_log_positions (
        jail TEXT NOT NULL,
        path TEXT NOT NULL,
        dev INTEGER NOT NULL DEFAULT 0,
        inode INTEGER NOT NULL DEFAULT 0,
        firstline_hash TEXT,
        pos INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (jail, path)
     );
     CREATE TABLE bailiff_journal_cursors (
        jail TEXT PRIMARY KEY NOT NULL,
        cursor TEXT NOT NULL,
        time REAL
     );",
];

/// The version this build writes.
pub const CURRENT: i64 = MIGRATIONS.len() as i64;

/// The version recorded in the database (0 when it has no schema yet).
pub fn version(conn: &Connection) -> rusqlite::Result<i64> {
    let exists: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'
             AND name = 'bailiff_schema_version'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)?;
    if !exists {
        return Ok(0);
    }
    Ok(conn
        .query_row("SELECT version FROM bailiff_schema_version", [], |r| {
            r.get(0)
        })
        .optional()?
        .unwrap_or(0))
}

/// Brings the schema up to [`CURRENT`]. Returns true when the database was new.
pub fn migrate(conn: &mut Connection, file: &str) -> Result<bool> {
    let sqlerr = |doing: &'static str| {
        move |source: rusqlite::Error| StoreError::Sqlite {
            file: file.to_string(),
            doing,
            source,
        }
    };
    let found = version(conn).map_err(sqlerr("reading the schema version"))?;
    if found > CURRENT {
        return Err(StoreError::TooNew {
            file: file.to_string(),
            found,
            known: CURRENT,
        });
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sqlerr("starting a migration"))?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS bailiff_schema_version (version INTEGER NOT NULL);",
        )
        .map_err(sqlerr("creating the version table"))?;
        tx.execute_batch(step)
            .map_err(sqlerr("migrating the schema"))?;
        tx.execute("DELETE FROM bailiff_schema_version", [])
            .map_err(sqlerr("recording the schema version"))?;
        tx.execute(
            "INSERT INTO bailiff_schema_version(version) VALUES(?1)",
            [i as i64 + 1],
        )
        .map_err(sqlerr("recording the schema version"))?;
        tx.commit().map_err(sqlerr("committing a migration"))?;
    }
    Ok(found == 0)
}
