//! The store on real SQLite files in temporary directories.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bailiff_jail::{BanOutcome, FailId, Jail, JailConfig, NoHooks, Ticket};
use bailiff_jail::{BanTimeIncrement, BanTimeOptions};
use bailiff_store::{
    schema, BanRecord, DbFile, LogPosition, Store, StoreError, StoreHooks, StoreOptions,
};
use serde_json::json;

const T0: i64 = 1_700_000_000;

fn ban(jail: &str, ip: &str, t: i64, bt: f64, count: u32) -> BanRecord {
    let mut b = BanRecord::new(jail, ip, t, bt);
    b.ban_count = count;
    b
}

fn ips(v: &[BanRecord]) -> Vec<String> {
    v.iter().map(|b| b.ip.clone()).collect()
}

#[test]
fn reopen_after_close_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.sqlite3");
    {
        let mut s = Store::open(&path).unwrap();
        s.add_jail("sshd").unwrap();
        s.add_jail("nginx").unwrap();
        s.del_jail("nginx").unwrap();
        let mut b = ban("sshd", "192.0.2.1", T0, 600.0, 2);
        b.data.insert("matches".into(), json!(["l1", "l2"]));
        b.data.insert("failures".into(), json!(5));
        b.data.insert("user".into(), json!("root"));
        s.add_bans(&[b, ban("sshd", "2001:db8::1", T0, -1.0, 1)])
            .unwrap();
        s.set_log_positions(
            "sshd",
            &[LogPosition {
                path: "/var/log/auth.log".into(),
                dev: u64::MAX - 1,
                inode: 1234567,
                first_line_hash: Some("d41d8cd98f00b204e9800998ecf8427e".into()),
                offset: 98765,
            }],
        )
        .unwrap();
        s.set_journal_cursor("sshd", "s=abc;i=1f", 1.7e9).unwrap();
    }
    let s = Store::open(&path).unwrap();
    s.integrity_check().unwrap();
    assert_eq!(s.schema_version().unwrap(), schema::CURRENT);
    assert_eq!(s.jail_names(None).unwrap(), ["nginx", "sshd"]);
    assert_eq!(s.jail_names(Some(true)).unwrap(), ["sshd"]);
    let bans = s.current_bans("sshd", T0 + 10, None).unwrap();
    assert_eq!(ips(&bans), ["192.0.2.1", "2001:db8::1"]);
    assert_eq!(bans[0].ban_count, 2);
    assert_eq!(bans[0].data["user"], json!("root"));
    assert_eq!(bans[0].data["matches"], json!(["l1", "l2"]));
    let pos = s
        .log_position("sshd", "/var/log/auth.log")
        .unwrap()
        .unwrap();
    assert_eq!(
        (pos.dev, pos.inode, pos.offset),
        (u64::MAX - 1, 1234567, 98765)
    );
    assert_eq!(
        s.journal_cursor("sshd").unwrap(),
        Some(("s=abc;i=1f".to_string(), 1.7e9))
    );
    assert_eq!(s.log_position("sshd", "/nope").unwrap(), None);
}

#[test]
fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.sqlite3");
    drop(Store::open(&path).unwrap());
    let c = rusqlite_conn(&path);
    c.execute("UPDATE bailiff_schema_version SET version = 99", [])
        .unwrap();
    drop(c);
    match Store::open(&path) {
        Err(StoreError::TooNew {
            found: 99, file, ..
        }) => {
            assert!(file.contains("state.sqlite3"))
        }
        other => panic!("{other:?}"),
    }
}

fn rusqlite_conn(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

#[test]
fn dbfile_values() {
    assert_eq!(DbFile::parse("None"), DbFile::Disabled);
    assert_eq!(DbFile::parse("none"), DbFile::Disabled);
    assert_eq!(DbFile::parse(":memory:"), DbFile::Memory);
    assert_eq!(
        DbFile::parse("/var/lib/fail2ban/fail2ban.sqlite3"),
        DbFile::Path("/var/lib/fail2ban/fail2ban.sqlite3".into())
    );
    let opts = StoreOptions::default();
    assert!(DbFile::Disabled.open(&opts).unwrap().is_none());
    let mut mem = DbFile::Memory.open(&opts).unwrap().expect("memory store");
    mem.add_bans(&[ban("j", "192.0.2.1", T0, 600.0, 1)])
        .unwrap();
    assert_eq!(mem.current_bans("j", T0, None).unwrap().len(), 1);
}

#[test]
fn restore_query_table() {
    let mut s = Store::open_in_memory().unwrap();
    // (ip, time offset, bantime)
    let rows: &[(&str, i64, f64)] = &[
        ("10.0.0.1", -100, 600.0),   // active
        ("10.0.0.2", -600, 600.0),   // ends exactly now: not active
        ("10.0.0.3", -5000, -1.0),   // permanent
        ("10.0.0.4", -5000, 3600.0), // over
        ("10.0.0.5", -3000, 3600.0), // active, but older than a 600 s bantime
    ];
    let batch: Vec<BanRecord> = rows
        .iter()
        .map(|(ip, dt, bt)| ban("sshd", ip, T0 + dt, *bt, 1))
        .collect();
    s.add_bans(&batch).unwrap();
    s.add_bans(&[ban("other", "10.0.0.9", T0, 600.0, 1)])
        .unwrap();
    assert_eq!(
        ips(&s.current_bans("sshd", T0, None).unwrap()),
        ["10.0.0.1", "10.0.0.3", "10.0.0.5"]
    );
    assert_eq!(
        ips(&s.current_bans("sshd", T0, Some(600.0)).unwrap()),
        ["10.0.0.1"]
    );
    assert_eq!(
        ips(&s.current_bans("sshd", T0, Some(-1.0)).unwrap()),
        ["10.0.0.1", "10.0.0.3", "10.0.0.5"]
    );
}

#[test]
fn history_for_increment() {
    let mut s = Store::open_in_memory().unwrap();
    s.add_bans(&[
        ban("sshd", "192.0.2.1", T0, 600.0, 1),
        ban("recidive", "192.0.2.1", T0 + 50, 3600.0, 2),
    ])
    .unwrap();
    // A second ban in sshd replaces the latest row.
    s.add_bans(&[ban("sshd", "192.0.2.1", T0 + 100, 1200.0, 2)])
        .unwrap();
    let h = s.ban_history("192.0.2.1", "sshd", false).unwrap().unwrap();
    assert_eq!(
        (h.ban_count, h.time_of_ban, h.ban_time),
        (2, (T0 + 100) as f64, 1200.0)
    );
    let h = s.ban_history("192.0.2.1", "sshd", true).unwrap().unwrap();
    assert_eq!((h.ban_count, h.time_of_ban), (4, (T0 + 100) as f64));
    assert!(s.ban_history("192.0.2.2", "sshd", true).unwrap().is_none());
    // Every ban is an event, newest first.
    let ev = s.ban_events("192.0.2.1", None).unwrap();
    assert_eq!(
        ev.iter()
            .map(|b| (b.jail.as_str(), b.time_of_ban))
            .collect::<Vec<_>>(),
        [("sshd", T0 + 100), ("recidive", T0 + 50), ("sshd", T0)]
    );
    assert_eq!(s.ban_events("192.0.2.1", Some("sshd")).unwrap().len(), 2);
}

#[test]
fn matches_trimmed_to_dbmaxmatches() {
    let opts = StoreOptions {
        max_matches: 2,
        ..Default::default()
    };
    let mut s = Store::open_in_memory_with(&opts).unwrap();
    let mut b = ban("sshd", "192.0.2.1", T0, 600.0, 1);
    b.data.insert("matches".into(), json!(["a", "b", "c"]));
    s.add_ban(&b).unwrap();
    let got = s.current_bans("sshd", T0, None).unwrap();
    assert_eq!(got[0].data["matches"], json!(["b", "c"]));
    s.set_max_matches(0);
    s.add_ban(&b).unwrap();
    let got = s.current_bans("sshd", T0, None).unwrap();
    assert!(!got[0].data.contains_key("matches"));
}

#[test]
fn unban_deletes_rows() {
    let mut s = Store::open_in_memory().unwrap();
    s.add_bans(&[
        ban("sshd", "10.0.0.1", T0, 600.0, 1),
        ban("sshd", "10.0.0.2", T0, 600.0, 1),
        ban("sshd", "10.0.0.3", T0, 600.0, 1),
        ban("web", "10.0.0.1", T0, 600.0, 1),
    ])
    .unwrap();
    assert_eq!(s.del_bans("sshd", &["10.0.0.1"]).unwrap(), 1);
    assert_eq!(
        ips(&s.current_bans("sshd", T0, None).unwrap()),
        ["10.0.0.2", "10.0.0.3"]
    );
    assert_eq!(
        s.ban_events("10.0.0.1", None).unwrap().len(),
        1,
        "web's stays"
    );
    assert_eq!(s.del_bans_everywhere(&["10.0.0.1"]).unwrap(), 1);
    assert_eq!(s.del_bans("sshd", &[]).unwrap(), 2);
    s.add_ban(&ban("web", "10.0.0.7", T0, 600.0, 1)).unwrap();
    assert_eq!(s.del_all_bans().unwrap(), 1);
    assert!(s.all_bans().unwrap().is_empty());
}

#[test]
fn purge_rules() {
    let opts = StoreOptions {
        purge_age: 86400,
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open_with(&dir.path().join("p.sqlite3"), &opts).unwrap();
    let now = T0;
    let day = 86400;
    // (ip, time offset, bantime, survives purge of latest bans)
    let rows: &[(&str, i64, f64, bool)] = &[
        ("10.0.0.1", -100, 600.0, true),       // recent
        ("10.0.0.2", -2 * day, 600.0, false),  // old and short
        ("10.0.0.3", -2 * day, 86400.0, true), // old, but 3 * bantime reaches past the limit
        ("10.0.0.4", -10 * day, -1.0, true),   // permanent never goes
        ("10.0.0.5", -(day + 10), 3.0, false),
        ("10.0.0.6", -day + 10, 3.0, true), // younger than purge age
    ];
    let batch: Vec<BanRecord> = rows
        .iter()
        .map(|(ip, dt, bt, _)| ban("sshd", ip, now + dt, *bt, 1))
        .collect();
    s.add_bans(&batch).unwrap();
    s.add_jail("gone").unwrap();
    s.del_jail("gone").unwrap();
    s.add_jail("old").unwrap();
    s.add_ban(&ban("old", "10.9.9.9", now - 3 * day, 60.0, 1))
        .unwrap();
    s.del_jail("old").unwrap();
    let st = s.purge(now).unwrap();
    let want: Vec<&str> = rows.iter().filter(|r| r.3).map(|r| r.0).collect();
    // Still active at `now`: 10.0.0.1 and the permanent 10.0.0.4.
    assert_eq!(
        ips(&s.current_bans("sshd", now, Some(-1.0)).unwrap()),
        ["10.0.0.1", "10.0.0.4"]
    );
    let left: Vec<String> = s
        .all_bans()
        .unwrap()
        .into_iter()
        .filter(|b| b.jail == "sshd")
        .map(|b| b.ip)
        .collect();
    assert_eq!(left, want);
    // events: only those younger than a day remain (10.0.0.1 and 10.0.0.6)
    assert_eq!(st.ban_events, 5);
    assert_eq!(st.bans, 3, "10.0.0.2, 10.0.0.5 and old's 10.9.9.9");
    assert_eq!(st.jails, 2, "disabled jails without bans: gone, old");
    assert_eq!(s.jail_names(None).unwrap(), ["sshd"]);
}

#[test]
fn bulk_insert_20k_in_one_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("bulk.sqlite3")).unwrap();
    let batch: Vec<BanRecord> = (0..20_000u32)
        .map(|i| {
            let mut b = ban(
                "sshd",
                &std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string(),
                T0,
                600.0,
                1,
            );
            b.data.insert(
                "matches".into(),
                json!([format!(
                    "Failed password for root from 10.0.0.{i} port 22 ssh2"
                )]),
            );
            b.data.insert("failures".into(), json!(5));
            b
        })
        .collect();
    let start = Instant::now();
    s.add_bans(&batch).unwrap();
    let took = start.elapsed();
    eprintln!("20000 bans in one transaction: {:.3} s", took.as_secs_f64());
    let start = Instant::now();
    let back = s.current_bans("sshd", T0 + 1, None).unwrap();
    eprintln!(
        "restore query of 20000 bans: {:.3} s",
        start.elapsed().as_secs_f64()
    );
    assert_eq!(back.len(), 20_000);
    // Debug builds compile SQLite without optimisation; keep a generous bound here and
    // report the measured time.
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn tickets_round_trip_through_the_store_into_a_jail() {
    let mut s = Store::open_in_memory().unwrap();
    let mut jail = Jail::new(JailConfig::new("sshd"));
    let now = T0 as f64;
    let t = Ticket::new(FailId::parse("192.0.2.44"), now).with_matches(["m1", "m2"]);
    let BanOutcome::Banned { ticket, record, .. } = jail.ban(t, now, &mut NoHooks) else {
        panic!("not banned");
    };
    assert!(record);
    s.add_ban(&BanRecord::from_ticket("sshd", &ticket, 600.0, 10))
        .unwrap();
    // Restart: a fresh jail restores from the store 100 s later.
    let mut jail = Jail::new(JailConfig::new("sshd"));
    let later = now + 100.0;
    for rec in s.current_bans("sshd", later as i64, Some(600.0)).unwrap() {
        match jail.restore(rec.to_ticket(), later, &mut NoHooks) {
            BanOutcome::Banned { ticket, record, .. } => {
                assert!(ticket.restored);
                assert!(!record);
                assert_eq!(ticket.matches, ["m1", "m2"]);
                assert_eq!(ticket.end_of_ban(600.0), now + 600.0);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(jail.status().banned, ["192.0.2.44"]);
}

#[test]
fn reader_sees_whole_batches_while_a_writer_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("conc.sqlite3");
    drop(Store::open(&path).unwrap());
    const BATCH: u32 = 500;
    const BATCHES: u32 = 20;
    let wpath = path.clone();
    let writer = std::thread::spawn(move || {
        let mut w = Store::open(&wpath).unwrap();
        for k in 0..BATCHES {
            let batch: Vec<BanRecord> = (0..BATCH)
                .map(|i| {
                    ban(
                        "sshd",
                        &format!("10.{k}.{}.{}", i / 256, i % 256),
                        T0,
                        600.0,
                        1,
                    )
                })
                .collect();
            w.add_bans(&batch).unwrap();
        }
    });
    let r = Store::open(&path).unwrap();
    let mut seen = Vec::new();
    loop {
        let n = r.current_bans("sshd", T0, None).unwrap().len() as u32;
        assert_eq!(n % BATCH, 0, "reader saw a partial batch: {n}");
        seen.push(n);
        if n == BATCH * BATCHES {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    writer.join().unwrap();
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "counts never go back"
    );
    eprintln!("reader polled {} times while writing", seen.len());
}

/// Child half of the crash test: writes batches forever, reporting each commit, and
/// pauses in the middle of a batch so that the parent's SIGKILL lands mid-transaction.
#[test]
fn crash_child_writer() {
    let Ok(path) = std::env::var("BAILIFF_STORE_CRASH_CHILD") else {
        return; // only runs when spawned by `crash_mid_batch_keeps_committed_batches`
    };
    let mut s = Store::open(Path::new(&path)).unwrap();
    for k in 0u32.. {
        let batch: Vec<BanRecord> = (0..1000u32)
            .map(|i| ban("sshd", &format!("k{k}-{i}"), T0, 600.0, 1))
            .collect();
        if k == 5 {
            // Begin a batch by hand and stop half way.
            let c = rusqlite_conn(Path::new(&path));
            c.execute_batch("BEGIN IMMEDIATE").unwrap();
            for i in 0..500 {
                c.execute(
                    "INSERT INTO bailiff_bans(jail, ip, timeofban, bantime, bancount, data)
                     VALUES('sshd', ?1, 0, 600, 1, '{}')",
                    [format!("partial-{i}")],
                )
                .unwrap();
            }
            println!("MID-BATCH");
            std::thread::sleep(Duration::from_secs(60));
        }
        s.add_bans(&batch).unwrap();
        println!("COMMITTED {k}");
    }
}

#[test]
fn crash_mid_batch_keeps_committed_batches() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.sqlite3");
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "crash_child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("BAILIFF_STORE_CRASH_CHILD", &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let mut committed = Vec::new();
    for line in BufReader::new(out).lines() {
        let line = line.unwrap();
        if let Some(at) = line.find("COMMITTED ") {
            committed.push(line[at + 10..].trim().parse::<u32>().unwrap());
        }
        if line.contains("MID-BATCH") {
            break;
        }
    }
    // SIGKILL while the batch is open.
    let pid = child.id() as libc::pid_t;
    // SAFETY: plain syscall on the child we spawned.
    let rc = unsafe { libc::kill(pid, libc::SIGKILL) };
    assert_eq!(rc, 0);
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert_eq!(committed, [0, 1, 2, 3, 4]);
    // Reopen: consistent, every committed batch whole, nothing of the open one.
    let s = Store::open(&path).unwrap();
    s.integrity_check().unwrap();
    let all = s.all_bans().unwrap();
    assert_eq!(all.len(), 5000);
    assert!(all.iter().all(|b| !b.ip.starts_with("partial-")));
    for k in committed {
        let n = all
            .iter()
            .filter(|b| b.ip.starts_with(&format!("k{k}-")))
            .count();
        assert_eq!(n, 1000, "batch {k}");
    }
}

/// Child for the second crash test: large batches through `add_bans`, back to back.
#[test]
fn crash_child_bulk_writer() {
    let Ok(path) = std::env::var("BAILIFF_STORE_CRASH_BULK") else {
        return; // only runs when spawned by `crash_during_add_bans_is_all_or_nothing`
    };
    let mut s = Store::open(Path::new(&path)).unwrap();
    for k in 0u32.. {
        let batch: Vec<BanRecord> = (0..20_000u32)
            .map(|i| ban("sshd", &format!("b{k}-{i}"), T0, 600.0, 1))
            .collect();
        println!("START {k}");
        s.add_bans(&batch).unwrap();
        println!("COMMITTED {k}");
    }
}

#[test]
fn crash_during_add_bans_is_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash2.sqlite3");
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "crash_child_bulk_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("BAILIFF_STORE_CRASH_BULK", &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let mut committed = Vec::new();
    let mut lines = BufReader::new(out).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(at) = line.find("COMMITTED ") {
            committed.push(line[at + 10..].trim().parse::<u32>().unwrap());
        }
        if line.contains("START 3") {
            break;
        }
    }
    // Kill a little after batch 3 started: most likely inside its transaction.
    std::thread::sleep(Duration::from_millis(40));
    // SAFETY: plain syscall on the child we spawned.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
    assert_eq!(rc, 0);
    child.wait().unwrap();
    // Anything printed before the kill counts as committed.
    for line in lines.map_while(Result::ok) {
        if let Some(at) = line.find("COMMITTED ") {
            committed.push(line[at + 10..].trim().parse::<u32>().unwrap());
        }
    }
    assert!(committed.starts_with(&[0, 1, 2]), "{committed:?}");
    let s = Store::open(&path).unwrap();
    s.integrity_check().unwrap();
    let all = s.all_bans().unwrap();
    let mut per_batch = std::collections::BTreeMap::<u32, usize>::new();
    for b in &all {
        let k: u32 = b.ip[1..b.ip.find('-').unwrap()].parse().unwrap();
        *per_batch.entry(k).or_default() += 1;
    }
    for (k, n) in &per_batch {
        assert_eq!(*n, 20_000, "batch {k} is partial");
    }
    for k in &committed {
        assert!(per_batch.contains_key(k), "committed batch {k} lost");
    }
    eprintln!(
        "killed during batch 3: committed {committed:?}, found batches {:?}",
        per_batch.keys().collect::<Vec<_>>()
    );
}

#[test]
fn imports_a_real_fail2ban_database() {
    let py = Path::new("/usr/bin/python3");
    let has_f2b = py.exists()
        && Command::new(py)
            .args(["-c", "import fail2ban.server.database"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
    if !has_f2b {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("fail2ban's Python modules are needed for this test in CI");
        }
        eprintln!("SKIPPED: fail2ban (python3) not installed, cannot build a reference database");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let f2b = dir.path().join("fail2ban.sqlite3");
    // fail2ban itself writes the database (its own code, run as an oracle).
    let script = r#"
import sys
from fail2ban.server.database import Fail2BanDb
from fail2ban.server.ticket import FailTicket
class A:
    def getBanTime(s): return 600
class J:
    def __init__(s, n): s.name = n; s.actions = A()
db = Fail2BanDb(sys.argv[1])
sshd = J("sshd"); db.addJail(sshd)
t = FailTicket("192.0.2.1", 1700000000, matches=["line a", "line b"])
t.setBanCount(2); t.setBanTime(1200); t.setAttempt(3)
db.addBan(sshd, t)
t = FailTicket("2001:db8::7", 1700000100, matches=["x"]); t.setBanCount(1)
db.addBan(sshd, t)
rec = J("recidive"); db.addJail(rec)
t = FailTicket("192.0.2.1", 1700000200); t.setBanCount(1); t.setBanTime(-1)
db.addBan(rec, t)
db._addLog(db._db.cursor(), sshd, "/var/log/auth.log", 4321, "abcdef")
db._db.commit()
"#;
    let st = Command::new(py)
        .args(["-c", script, f2b.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(st.success());

    // 1) Import into a separate store.
    let mut s = Store::open(&dir.path().join("ours.sqlite3")).unwrap();
    let stats = s.import_fail2ban(&f2b).unwrap();
    assert_eq!(
        (stats.jails, stats.bans, stats.ban_events, stats.logs),
        (2, 3, 3, 1)
    );
    let bans = s.current_bans("sshd", 1_700_000_150, None).unwrap();
    assert_eq!(ips(&bans), ["192.0.2.1", "2001:db8::7"]);
    assert_eq!((bans[0].ban_time, bans[0].ban_count), (1200.0, 2));
    assert_eq!(bans[0].data["matches"], json!(["line a", "line b"]));
    let t = bans[0].to_ticket();
    assert_eq!(t.failures, 3);
    let h = s.ban_history("192.0.2.1", "sshd", true).unwrap().unwrap();
    assert_eq!(h.ban_count, 3);
    let perm = s.current_bans("recidive", 2_000_000_000, None).unwrap();
    assert_eq!(ips(&perm), ["192.0.2.1"]);
    let pos = s
        .log_position("sshd", "/var/log/auth.log")
        .unwrap()
        .unwrap();
    assert_eq!(
        (pos.offset, pos.first_line_hash.as_deref()),
        (4321, Some("abcdef"))
    );

    // 2) Open fail2ban's file itself: our tables are added beside its own and it is
    //    imported once.
    let s = Store::open(&f2b).unwrap();
    assert_eq!(s.all_bans().unwrap().len(), 3);
    drop(s);
    let s = Store::open(&f2b).unwrap();
    assert_eq!(s.all_bans().unwrap().len(), 3, "not imported twice");
    // fail2ban can still read its tables.
    let check = Command::new(py)
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute('select count(*) from bips').fetchone()[0])",
            f2b.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&check.stdout).trim(), "3");
}

#[test]
fn increment_with_history_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("inc.sqlite3")).unwrap();
    let mut cfg = JailConfig::new("sshd");
    cfg.max_retry = 1;
    cfg.increment = Some(BanTimeIncrement::from_options(&BanTimeOptions::default()).unwrap());
    let mut jail = Jail::new(cfg);
    // Ban the same address three times; each ban is stored, unbanned when over, and the
    // next one doubles.
    let mut now = T0 as f64;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let t = Ticket::new(FailId::parse("198.51.100.1"), now);
        let out = {
            let mut hooks = StoreHooks::new(Some(&s), "sshd");
            let out = jail.on_failure(t, now, &mut hooks);
            let t = out.to_ban.into_iter().next().expect("maxretry 1");
            let o = jail.ban(t, now, &mut hooks);
            assert!(hooks.error.is_none());
            o
        };
        let BanOutcome::Banned { ticket, record, .. } = out else {
            panic!("{out:?}");
        };
        assert!(record);
        seen.push((ticket.ban_time_or(600.0), ticket.ban_count));
        s.add_ban(&BanRecord::from_ticket("sshd", &ticket, 600.0, 10))
            .unwrap();
        now += ticket.ban_time_or(600.0) + 1.0;
        assert_eq!(jail.unban_due(now, 10).len(), 1);
    }
    assert_eq!(seen, [(600.0, 1), (1200.0, 2), (2400.0, 3)]);
}

#[test]
fn merged_matches_for_ip_tags() {
    let opts = StoreOptions {
        max_matches: 3,
        ..Default::default()
    };
    let mut s = Store::open_in_memory_with(&opts).unwrap();
    let mut a = ban("sshd", "192.0.2.1", T0, 600.0, 1);
    a.data.insert("matches".into(), json!(["a1", "a2"]));
    a.data.insert("failures".into(), json!(2));
    let mut b = ban("web", "192.0.2.1", T0 + 10, 600.0, 1);
    b.data.insert("matches".into(), json!(["b1", "b2"]));
    b.data.insert("failures".into(), json!(4));
    let c = ban("sshd", "192.0.2.1", T0 + 20, 600.0, 2); // no data: counts one failure
    s.add_bans(&[a, b, c]).unwrap();
    // Newest first: c (nothing), b (b1 b2), then one line of room for a's last.
    let (m, f) = s.merged_matches("192.0.2.1", None).unwrap();
    assert_eq!(
        (m, f),
        (vec!["a2".to_string(), "b1".into(), "b2".into()], 7)
    );
    let (m, f) = s.merged_matches("192.0.2.1", Some("sshd")).unwrap();
    assert_eq!((m, f), (vec!["a1".to_string(), "a2".into()], 3));
    assert_eq!(s.merged_matches("192.0.2.9", None).unwrap(), (vec![], 0));
}
