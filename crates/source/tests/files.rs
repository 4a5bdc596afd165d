//! FileSource against real files in temporary directories, for both backends.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bailiff_source::{
    ActiveBackend, Backend, FileSource, FileSourceOptions, FileState, LineEvent, LogPath,
    StoredPosition,
};

const BACKENDS: [Backend; 2] = [Backend::Inotify, Backend::Polling];

fn opts(backend: Backend) -> FileSourceOptions {
    FileSourceOptions {
        backend,
        poll_interval: Duration::from_millis(20),
        // With inotify, only events may drive the tests (no safety-net rescan).
        rescan_interval: Duration::from_secs(3600),
        ..FileSourceOptions::default()
    }
}

fn source(paths: &[LogPath], backend: Backend) -> FileSource {
    let src = FileSource::new(paths.to_vec(), opts(backend)).unwrap();
    match backend {
        Backend::Polling => assert_eq!(src.backend(), ActiveBackend::Polling),
        _ => assert_eq!(
            src.backend(),
            ActiveBackend::Inotify,
            "{:?}",
            src.fallback_reason()
        ),
    }
    src
}

fn p(path: &Path) -> String {
    path.to_str().unwrap().to_string()
}

fn append(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
}

/// Collects lines until `n` have arrived (or 10 s pass), then keeps
/// listening a little longer so that duplicates would show.
fn collect(src: &mut FileSource, n: usize) -> Vec<LineEvent> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    while got.len() < n && Instant::now() < deadline {
        got.extend(src.wait(Duration::from_millis(100)));
    }
    let settle = Instant::now() + Duration::from_millis(250);
    while Instant::now() < settle {
        got.extend(src.wait(Duration::from_millis(50)));
    }
    got
}

fn texts(ev: &[LineEvent]) -> Vec<String> {
    ev.iter().map(|e| e.text.clone()).collect()
}

fn assert_exactly_once(got: &[LineEvent], expected: &[String]) {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for e in got {
        *counts.entry(e.text.as_str()).or_default() += 1;
    }
    let missing: Vec<&String> = expected
        .iter()
        .filter(|l| !counts.contains_key(l.as_str()))
        .collect();
    let dup: Vec<(&&str, &usize)> = counts.iter().filter(|(_, c)| **c > 1).collect();
    assert!(
        missing.is_empty(),
        "missing {} lines, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(dup.is_empty(), "duplicated: {:?}", &dup[..dup.len().min(5)]);
    assert_eq!(got.len(), expected.len(), "unexpected extra lines");
}

#[test]
fn append_then_lines_arrive_with_offsets() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("auth.log");
        fs::write(&log, "old 1\nold 2\n").unwrap();
        let mut src = source(&[LogPath::head(p(&log))], backend);
        let first = collect(&mut src, 2);
        assert_eq!(texts(&first), ["old 1", "old 2"], "{backend:?}");
        assert!(
            first.iter().all(|e| e.initial),
            "{backend:?}: catch-up lines are initial"
        );
        assert_eq!(first[1].offset, 12);
        let mut f = append(&log);
        write!(f, "new 1\nnew 2\r\nnew 3\n").unwrap();
        let got = collect(&mut src, 3);
        assert_eq!(texts(&got), ["new 1", "new 2", "new 3"], "{backend:?}");
        assert_eq!(
            got.iter().map(|e| e.offset).collect::<Vec<_>>(),
            [18, 25, 31]
        );
        assert!(got.iter().all(|e| !e.initial && !e.rotated));
        assert_eq!(&*got[0].path, log.as_path());
        let h = &src.health()[0];
        assert_eq!(h.state, FileState::Open);
        assert_eq!(h.lines_read, 5);
        assert_eq!(h.bytes_read, 31);
        assert_eq!(h.offset, 31);
        assert!(h.last_read.is_some());
        assert_eq!(src.positions()[0].offset, 31);
    }
}

#[test]
fn partial_line_is_held_until_its_newline() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("x.log");
        let mut f = append(&log);
        let mut src = source(&[LogPath::head(p(&log))], backend);
        assert!(src.wait(Duration::from_millis(50)).is_empty());
        write!(f, "Failed password for ro").unwrap();
        f.flush().unwrap();
        assert!(
            src.wait(Duration::from_millis(200)).is_empty(),
            "{backend:?}: partial line emitted"
        );
        assert_eq!(
            src.positions()[0].offset,
            0,
            "position must not pass a partial line"
        );
        write!(f, "ot from 192.0.2.7\nnext").unwrap();
        let got = collect(&mut src, 1);
        assert_eq!(
            texts(&got),
            ["Failed password for root from 192.0.2.7"],
            "{backend:?}"
        );
        assert_eq!(src.positions()[0].offset, 40);
    }
}

#[test]
fn long_lines_crlf_and_bad_bytes() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("x.log");
        let mut o = opts(backend);
        o.max_line_bytes = 100;
        let mut src = FileSource::new(vec![LogPath::head(p(&log))], o).unwrap();
        let mut f = append(&log);
        src.wait(Duration::ZERO);
        let long = "A".repeat(5000);
        f.write_all(format!("{long}\r\nbad ").as_bytes()).unwrap();
        f.write_all(b"\xe9\xff\xfe end\r\nok\n").unwrap();
        let got = collect(&mut src, 3);
        assert_eq!(got.len(), 3, "{backend:?}");
        assert_eq!(got[0].text, "A".repeat(100));
        assert!(got[0].truncated);
        assert_eq!(got[0].offset, 5002);
        assert_eq!(got[1].text, "bad \u{FFFD}\u{FFFD}\u{FFFD} end");
        assert_eq!(got[2].text, "ok");
        let h = &src.health()[0];
        assert_eq!(h.lines_truncated, 1);
        assert_eq!(h.lines_replaced, 1);
        // logencoding changed at run time.
        src.set_encoding(bailiff_source::Encoding::Latin1);
        f.write_all(b"\xe9t\xe9\n").unwrap();
        assert_eq!(texts(&collect(&mut src, 1)), ["\u{e9}t\u{e9}"]);
    }
}

/// Rename rotation done by a writer thread while the source reads: lines go
/// to the old file right before and right after the rename, and to the new
/// file right after it is created.
#[test]
fn rename_rotation_loses_and_repeats_nothing() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        fs::write(&log, "").unwrap();
        let mut src = source(&[LogPath::head(p(&log))], backend);
        assert!(src.wait(Duration::ZERO).is_empty());
        let total = 3000;
        let log2 = log.clone();
        let writer = std::thread::spawn(move || {
            let mut f = append(&log2);
            for i in 0..total {
                if i > 0 && i % 700 == 0 {
                    // logrotate's rename, then a few late lines from a writer
                    // that has not reopened yet, then the new file.
                    let rotated = log2.with_extension(format!("log.{i}"));
                    fs::rename(&log2, &rotated).unwrap();
                    for k in 0..5 {
                        writeln!(f, "late {i}-{k} after rename").unwrap();
                    }
                    f = append(&log2);
                }
                writeln!(f, "line {i} {}", "x".repeat(i % 37)).unwrap();
                if i % 100 == 0 {
                    std::thread::sleep(Duration::from_millis(3));
                }
            }
        });
        let mut expected: Vec<String> = (0..total)
            .map(|i| format!("line {i} {}", "x".repeat(i % 37)))
            .collect();
        for i in (700..total).step_by(700) {
            for k in 0..5 {
                expected.push(format!("late {i}-{k} after rename"));
            }
        }
        let got = collect(&mut src, expected.len());
        writer.join().unwrap();
        assert_exactly_once(&got, &expected);
        // Within each file the order is kept.
        let nums: Vec<usize> = got
            .iter()
            .filter_map(|e| e.text.strip_prefix("line "))
            .map(|t| t.split(' ').next().unwrap().parse().unwrap())
            .collect();
        assert!(
            nums.windows(2).all(|w| w[0] < w[1]),
            "{backend:?}: out of order"
        );
        let h = &src.health()[0];
        assert_eq!(h.rotations, 4, "{backend:?}");
        assert!(got.iter().any(|e| e.rotated));
    }
}

#[test]
fn copytruncate_loses_and_repeats_nothing() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        fs::write(&log, "").unwrap();
        let mut src = source(&[LogPath::head(p(&log))], backend);
        assert!(src.wait(Duration::ZERO).is_empty());
        let total = 3000;
        let log2 = log.clone();
        let writer = std::thread::spawn(move || {
            let f = append(&log2);
            let mut f = f;
            for i in 0..total {
                if i > 0 && i % 700 == 0 {
                    // logrotate copytruncate: copy, then truncate in place; the
                    // writer keeps its O_APPEND descriptor.
                    fs::copy(&log2, log2.with_extension(format!("log.{i}"))).unwrap();
                    f.set_len(0).unwrap();
                }
                writeln!(f, "line {i} {}", "y".repeat(i % 41)).unwrap();
                if i % 700 == 0 {
                    // The copy is found by the file's first line: recovery
                    // needs the reader to have seen it (in real life the
                    // reader is milliseconds behind, logrotate runs daily).
                    std::thread::sleep(Duration::from_millis(100));
                } else if i % 100 == 0 {
                    std::thread::sleep(Duration::from_millis(3));
                }
            }
            f.flush().unwrap();
        });
        let expected: Vec<String> = (0..total)
            .map(|i| format!("line {i} {}", "y".repeat(i % 41)))
            .collect();
        let got = collect(&mut src, expected.len());
        writer.join().unwrap();
        assert_exactly_once(&got, &expected);
        assert_eq!(src.health()[0].rotations, 4, "{backend:?}");
    }
}

#[test]
fn copytruncate_without_the_copy_starts_over_at_zero() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        fs::write(&log, "first line that is long\nsecond\n").unwrap();
        let mut src = source(&[LogPath::head(p(&log))], backend);
        assert_eq!(collect(&mut src, 2).len(), 2);
        // Truncate and write more than was there before: size alone does not tell.
        fs::write(&log, "after truncation, a longer first line\nand more\n").unwrap();
        let got = collect(&mut src, 2);
        assert_eq!(
            texts(&got),
            ["after truncation, a longer first line", "and more"],
            "{backend:?}"
        );
    }
}

#[test]
fn delete_and_recreate() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        let mut f = append(&log);
        writeln!(f, "before 1").unwrap();
        let mut src = source(&[LogPath::head(p(&log))], backend);
        assert_eq!(texts(&collect(&mut src, 1)), ["before 1"]);
        writeln!(f, "before 2").unwrap();
        fs::remove_file(&log).unwrap();
        drop(f);
        let got = collect(&mut src, 1);
        assert_eq!(
            texts(&got),
            ["before 2"],
            "{backend:?}: line written just before delete"
        );
        assert_eq!(src.health()[0].state, FileState::Missing);
        let mut f = append(&log);
        writeln!(f, "after 1").unwrap();
        writeln!(f, "after 2").unwrap();
        let got = collect(&mut src, 2);
        assert_eq!(texts(&got), ["after 1", "after 2"], "{backend:?}");
        assert!(got.iter().all(|e| !e.initial));
        let h = &src.health()[0];
        assert_eq!(h.state, FileState::Open);
        assert_eq!(h.rotations, 1);
    }
}

#[test]
fn glob_picks_up_files_created_later() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.log"), "a1\n").unwrap();
        fs::write(dir.path().join("ignored.txt"), "nope\n").unwrap();
        fs::write(dir.path().join(".hidden.log"), "nope\n").unwrap();
        let pattern = format!("{}/*.log", p(dir.path()));
        let mut src = source(&[LogPath::tail(pattern)], backend);
        // tail: the existing line is not read.
        assert!(collect(&mut src, 1).is_empty(), "{backend:?}");
        let b = dir.path().join("b.log");
        let mut f = append(&b);
        writeln!(f, "b1").unwrap();
        writeln!(f, "b2").unwrap();
        let got = collect(&mut src, 2);
        assert_eq!(
            texts(&got),
            ["b1", "b2"],
            "{backend:?}: a file created later is read from 0"
        );
        assert_eq!(&*got[0].path, b.as_path());
        let mut a = append(&dir.path().join("a.log"));
        writeln!(a, "a2").unwrap();
        assert_eq!(texts(&collect(&mut src, 1)), ["a2"]);
        let mut paths: Vec<PathBuf> = src.health().into_iter().map(|h| h.path).collect();
        paths.sort();
        assert_eq!(paths, [dir.path().join("a.log"), b]);
    }
}

#[test]
fn missing_literal_path_is_followed_when_it_appears() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("later.log");
        // Even with `tail`, a file that appears after start is read from 0.
        let mut src = source(&[LogPath::tail(p(&log))], backend);
        assert!(src.wait(Duration::from_millis(30)).is_empty());
        assert_eq!(src.health()[0].state, FileState::Missing);
        fs::write(&log, "hello\n").unwrap();
        assert_eq!(texts(&collect(&mut src, 1)), ["hello"], "{backend:?}");
    }
}

#[test]
fn tail_starts_at_the_end_and_waits_for_the_partial_line() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("x.log");
        fs::write(&log, "old\nhalf a li").unwrap();
        let mut src = source(&[LogPath::tail(p(&log))], backend);
        assert!(src.wait(Duration::from_millis(50)).is_empty());
        let mut f = append(&log);
        writeln!(f, "ne").unwrap();
        writeln!(f, "new").unwrap();
        assert_eq!(
            texts(&collect(&mut src, 2)),
            ["half a line", "new"],
            "{backend:?}"
        );
    }
}

fn stored_from(src: &FileSource) -> HashMap<PathBuf, StoredPosition> {
    src.positions()
        .into_iter()
        .map(|fp| {
            (
                fp.path,
                StoredPosition {
                    first_line_md5: fp.identity.first_line_md5.unwrap_or_default(),
                    offset: fp.offset,
                    dev_ino: None,
                },
            )
        })
        .collect()
}

#[test]
fn restart_resumes_only_on_the_same_file() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("auth.log");
        fs::write(&log, "one\ntwo\n").unwrap();
        let paths = [LogPath::head(p(&log))];
        let mut src = source(&paths, backend);
        assert_eq!(collect(&mut src, 2).len(), 2);
        let stored = stored_from(&src);
        assert_eq!(stored[&log].offset, 8);
        assert_eq!(
            stored[&log].first_line_md5,
            bailiff_source::first_line_md5(&File::open(&log).unwrap())
                .unwrap()
                .unwrap()
                .0
        );
        drop(src);

        // Same file, grown while we were down: continue where we stopped.
        writeln!(append(&log), "three").unwrap();
        let mut o = opts(backend);
        o.stored = stored.clone();
        let mut src = FileSource::new(paths.to_vec(), o).unwrap();
        let got = collect(&mut src, 1);
        assert_eq!(texts(&got), ["three"], "{backend:?}");
        assert!(got[0].initial);
        let stored = stored_from(&src);
        drop(src);

        // Rotated while we were down (new file, longer than the old
        // position): the unread end of the old file is read from its new
        // name, then the new file from 0.
        writeln!(append(&log), "four, written before the rotation").unwrap();
        fs::rename(&log, dir.path().join("auth.log.1")).unwrap();
        fs::write(&log, "fresh first line\nfresh second line\n").unwrap();
        let mut o = opts(backend);
        o.stored = stored;
        let mut src = FileSource::new(paths.to_vec(), o).unwrap();
        let got = collect(&mut src, 3);
        assert_eq!(
            texts(&got),
            [
                "four, written before the rotation",
                "fresh first line",
                "fresh second line"
            ],
            "{backend:?}"
        );
        assert!(got[0].rotated && got[0].initial);
        assert!(!got[1].rotated && got[1].initial);

        // With dev/ino stored too, a mismatch on them alone restarts at 0.
        let mut stored = stored_from(&src);
        drop(src);
        for sp in stored.values_mut() {
            sp.dev_ino = Some((u64::MAX, u64::MAX));
        }
        let mut o = opts(backend);
        o.stored = stored;
        let mut src = FileSource::new(paths.to_vec(), o).unwrap();
        assert_eq!(collect(&mut src, 2).len(), 2);
    }
}

/// p50/p99 from write to receipt over 1,000 lines.
#[test]
fn latency_inotify() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("lat.log");
    fs::write(&log, "").unwrap();
    let mut src = source(&[LogPath::head(p(&log))], Backend::Inotify);
    assert!(src.wait(Duration::ZERO).is_empty());
    let base = Instant::now();
    let n = 1000;
    let log2 = log.clone();
    let writer = std::thread::spawn(move || {
        let mut f = append(&log2);
        for i in 0..n {
            let t = base.elapsed().as_nanos();
            writeln!(f, "{i} {t}").unwrap();
            std::thread::sleep(Duration::from_micros(500));
        }
    });
    let mut lat = Vec::with_capacity(n);
    let deadline = Instant::now() + Duration::from_secs(30);
    while lat.len() < n && Instant::now() < deadline {
        for e in src.wait(Duration::from_millis(100)) {
            let now = base.elapsed().as_nanos();
            let sent: u128 = e.text.split(' ').nth(1).unwrap().parse().unwrap();
            lat.push(Duration::from_nanos((now - sent) as u64));
        }
    }
    writer.join().unwrap();
    assert_eq!(lat.len(), n);
    lat.sort();
    let p50 = lat[n / 2];
    let p99 = lat[n * 99 / 100];
    let max = lat[n - 1];
    eprintln!(
        "LATENCY inotify write->receipt over {n} lines: p50 {p50:?}, p99 {p99:?}, max {max:?}"
    );
    assert!(p50 < Duration::from_millis(20), "p50 {p50:?}");
}

#[test]
fn glob_in_a_directory_created_later() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("nginx");
        let pattern = format!("{}/*.log", p(&sub));
        let mut src = source(&[LogPath::head(pattern)], backend);
        assert!(src.wait(Duration::from_millis(30)).is_empty());
        fs::create_dir(&sub).unwrap();
        assert!(src.wait(Duration::from_millis(30)).is_empty());
        fs::write(sub.join("access.log"), "GET /\n").unwrap();
        assert_eq!(texts(&collect(&mut src, 1)), ["GET /"], "{backend:?}");
    }
}

#[test]
fn add_and_remove_logpaths_at_run_time() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.log");
        let b = dir.path().join("b.log");
        fs::write(&a, "a1\n").unwrap();
        fs::write(&b, "b1\n").unwrap();
        let mut src = source(&[LogPath::head(p(&a))], backend);
        assert_eq!(texts(&collect(&mut src, 1)), ["a1"]);
        src.add_path(LogPath::parse(&format!("{} tail", p(&b))));
        assert!(
            collect(&mut src, 1).is_empty(),
            "{backend:?}: tail skips b's old line"
        );
        writeln!(append(&b), "b2").unwrap();
        assert_eq!(texts(&collect(&mut src, 1)), ["b2"], "{backend:?}");
        assert!(src.remove_path(&p(&a)));
        assert!(!src.remove_path("/nonexistent"));
        writeln!(append(&a), "a2").unwrap();
        writeln!(append(&b), "b3").unwrap();
        assert_eq!(texts(&collect(&mut src, 1)), ["b3"], "{backend:?}");
        assert_eq!(src.health().len(), 1);
    }
}

#[test]
fn logpath_parsing_and_bad_globs() {
    assert_eq!(
        LogPath::parse("/var/log/auth.log  tail"),
        LogPath::tail("/var/log/auth.log")
    );
    assert_eq!(
        LogPath::parse(" /var/log/auth.log head "),
        LogPath::head("/var/log/auth.log")
    );
    assert_eq!(
        LogPath::parse("/var/log/*.log"),
        LogPath::head("/var/log/*.log")
    );
    let err = FileSource::new(
        vec![LogPath::head("/var/log/[.log")],
        FileSourceOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("/var/log/[.log"), "{err}");
}

/// A large backlog comes in slices of about `max_batch_bytes`, all of it.
#[test]
fn backlog_comes_in_slices() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("big.log");
    let mut f = std::io::BufWriter::new(File::create(&log).unwrap());
    let n = 200_000;
    for i in 0..n {
        writeln!(
            f,
            "2024-01-01 00:00:00 sshd[1]: Failed password for user{i} from 192.0.2.{}",
            i % 250
        )
        .unwrap();
    }
    f.flush().unwrap();
    let size = fs::metadata(&log).unwrap().len();
    let mut o = opts(Backend::Inotify);
    o.max_batch_bytes = 1 << 20;
    let mut src = FileSource::new(vec![LogPath::head(p(&log))], o).unwrap();
    let t = Instant::now();
    let mut batches = 0;
    let mut total = 0;
    let mut last = 0;
    while total < n {
        let b = src.wait(Duration::from_secs(1));
        assert!(!b.is_empty(), "backlog stalled at {total}");
        assert!(b.len() < n, "one batch took everything");
        assert!(b[0].offset > last);
        last = b[b.len() - 1].offset;
        batches += 1;
        total += b.len();
    }
    let el = t.elapsed();
    assert_eq!(total, n);
    assert_eq!(last, size);
    eprintln!(
        "BACKLOG {n} lines / {size} bytes in {batches} batches, {el:?} ({:.0} MB/s, {} build)",
        size as f64 / el.as_secs_f64() / 1e6,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
}

#[test]
fn symlinked_log_rotated_in_the_target_directory() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        fs::create_dir(&real).unwrap();
        let target = real.join("app.log");
        fs::write(&target, "t1\n").unwrap();
        let link = dir.path().join("app.log");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let mut src = source(&[LogPath::head(p(&link))], backend);
        assert_eq!(texts(&collect(&mut src, 1)), ["t1"]);
        fs::rename(&target, real.join("app.log.1")).unwrap();
        // Let the source see the rename alone first.
        assert!(src.wait(Duration::from_millis(200)).is_empty());
        fs::write(&target, "t2\n").unwrap();
        let got = collect(&mut src, 1);
        assert_eq!(texts(&got), ["t2"], "{backend:?}");
        assert_eq!(&*got[0].path, link.as_path());
    }
}

#[test]
fn waker_interrupts_a_blocked_wait() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("x.log");
        fs::write(&log, "").unwrap();
        let mut src = source(&[LogPath::head(p(&log))], backend);
        let waker = src.waker().unwrap();
        assert!(src.wait(Duration::ZERO).is_empty());
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            waker.wake();
        });
        let start = Instant::now();
        assert!(src.wait(Duration::MAX).is_empty());
        let el = start.elapsed();
        t.join().unwrap();
        assert!(
            el < Duration::from_secs(5),
            "{backend:?}: wait not interrupted ({el:?})"
        );
        // And the source still works afterwards.
        writeln!(append(&log), "after wake").unwrap();
        assert_eq!(texts(&collect(&mut src, 1)), ["after wake"]);
    }
}

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// An idle source with 50 files costs next to no CPU with inotify.
#[test]
fn idle_cpu_with_inotify() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..50 {
        fs::write(dir.path().join(format!("f{i}.log")), "x\n").unwrap();
    }
    let pattern = format!("{}/*.log", p(dir.path()));
    let mut o = opts(Backend::Inotify);
    o.rescan_interval = Duration::from_secs(5);
    let mut src = FileSource::new(vec![LogPath::tail(pattern)], o).unwrap();
    assert!(src.wait(Duration::ZERO).is_empty());
    let (c0, t0) = (thread_cpu(), Instant::now());
    assert!(src.wait(Duration::from_secs(2)).is_empty());
    let (cpu, wall) = (thread_cpu() - c0, t0.elapsed());
    eprintln!("IDLE inotify, 50 files: {cpu:?} CPU over {wall:?}");
    assert!(cpu < Duration::from_millis(20), "{cpu:?}");
}

/// Latency with the polling backend at its default 1 s interval, over a few
/// lines (it is bounded by the interval).
#[test]
fn latency_polling() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("lat.log");
    fs::write(&log, "").unwrap();
    let mut o = opts(Backend::Polling);
    o.poll_interval = Duration::from_millis(100);
    let mut src = FileSource::new(vec![LogPath::head(p(&log))], o).unwrap();
    assert!(src.wait(Duration::ZERO).is_empty());
    let mut f = append(&log);
    let mut lat = Vec::new();
    for i in 0..20 {
        std::thread::sleep(Duration::from_millis(7 * (i % 13)));
        writeln!(f, "line {i}").unwrap();
        let t = Instant::now();
        let got = collect_one(&mut src);
        lat.push(t.elapsed());
        assert_eq!(got, format!("line {i}"));
    }
    lat.sort();
    eprintln!(
        "LATENCY polling (interval 100 ms): p50 {:?}, max {:?}",
        lat[10], lat[19]
    );
    assert!(lat[19] < Duration::from_millis(1000));
}

fn collect_one(src: &mut FileSource) -> String {
    loop {
        let b = src.wait(Duration::from_secs(5));
        if let Some(e) = b.into_iter().next() {
            return e.text;
        }
    }
}

/// First start with a `now - findtime` cutoff: the reader bisects the file
/// instead of handing out the whole history, and loses no recent line.
#[test]
fn initial_cutoff_skips_old_history() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::UNIX_EPOCH;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    let mut f = std::io::BufWriter::new(File::create(&log).unwrap());
    let n = 100_000u64;
    for i in 0..n {
        // Every tenth line has no date, as multi-line logs do.
        if i % 10 == 5 {
            writeln!(f, "    continuation of {i}").unwrap();
        } else {
            writeln!(
                f,
                "T={} sshd: Failed password for u{i} from 192.0.2.1",
                1_000_000 + i
            )
            .unwrap();
        }
    }
    f.flush().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let c2 = calls.clone();
    let line_time = Arc::new(move |line: &str| {
        c2.fetch_add(1, Ordering::Relaxed);
        let secs: u64 = line.strip_prefix("T=")?.split(' ').next()?.parse().ok()?;
        Some(UNIX_EPOCH + Duration::from_secs(secs))
    });
    for backend in BACKENDS {
        calls.store(0, Ordering::Relaxed);
        let mut o = opts(backend);
        o.initial_cutoff = Some(bailiff_source::TimeCutoff {
            not_before: UNIX_EPOCH + Duration::from_secs(1_000_000 + 90_000),
            line_time: line_time.clone(),
        });
        let mut src = FileSource::new(vec![LogPath::head(p(&log))], o).unwrap();
        let mut got = Vec::new();
        loop {
            let b = src.wait(Duration::from_millis(200));
            if b.is_empty() {
                break;
            }
            got.extend(b);
        }
        let first: u64 = got[0]
            .text
            .split(['=', ' '])
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap_or(0);
        let recent = got.iter().filter(|e| e.text.contains("u9")).count();
        eprintln!(
            "CUTOFF {backend:?}: {} of {n} lines handed out, first {:?}, {} date parses",
            got.len(),
            got[0].text,
            calls.load(Ordering::Relaxed)
        );
        // Every line from the cutoff on is there, in order, once.
        let tail: Vec<&str> = got
            .iter()
            .map(|e| e.text.as_str())
            .skip_while(|t| !t.contains("u90000 "))
            .collect();
        assert_eq!(tail.len(), 10_000, "{backend:?}");
        assert!(recent >= 9_000);
        assert!(
            got.len() < 14_000,
            "{backend:?}: too much history: {}",
            got.len()
        );
        assert!(first == 0 || first <= 1_090_000);
        assert!(calls.load(Ordering::Relaxed) < 200);
        assert!(got.iter().all(|e| e.initial));
    }
}

#[test]
fn sources_can_move_to_their_own_thread() {
    fn is_send<T: Send>() {}
    is_send::<FileSource>();
    is_send::<bailiff_source::journal::JournalSource>();
    is_send::<bailiff_source::Waker>();
    fn is_sync<T: Sync>() {}
    is_sync::<bailiff_source::Waker>();
}

/// Past `max_watches` the source switches to polling and keeps working.
#[test]
fn too_many_watches_fall_back_to_polling() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..5 {
        fs::write(dir.path().join(format!("f{i}.log")), "").unwrap();
    }
    let mut o = opts(Backend::Inotify);
    o.max_watches = 3;
    let mut src =
        FileSource::new(vec![LogPath::head(format!("{}/*.log", p(dir.path())))], o).unwrap();
    assert_eq!(src.backend(), ActiveBackend::Inotify);
    assert!(src.wait(Duration::ZERO).is_empty());
    assert_eq!(src.backend(), ActiveBackend::Polling);
    let reason = src.fallback_reason().unwrap_or_default().to_string();
    assert!(reason.contains("more than 3 inotify watches"), "{reason}");
    for i in 0..5 {
        writeln!(append(&dir.path().join(format!("f{i}.log"))), "line {i}").unwrap();
    }
    let mut got = texts(&collect(&mut src, 5));
    got.sort();
    assert_eq!(got, ["line 0", "line 1", "line 2", "line 3", "line 4"]);
}

/// A logpath that is a directory: reported unreadable, nothing breaks.
#[test]
fn a_directory_as_logpath_is_unreadable() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("not-a-file");
        fs::create_dir(&sub).unwrap();
        let mut src = source(&[LogPath::head(p(&sub))], backend);
        assert!(src.wait(Duration::from_millis(50)).is_empty());
        let h = &src.health()[0];
        assert!(
            matches!(&h.state, FileState::Unreadable(m) if !m.is_empty()),
            "{backend:?}: {:?}",
            h.state
        );
        assert!(src.positions().is_empty());
    }
}

/// A writer that keeps writing to the renamed file after the new one is
/// being read: those lines still come (flagged `rotated`), until the old
/// file has been quiet for `retire_grace`.
#[test]
fn late_writes_to_a_rotated_file_are_read_until_the_grace_ends() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        let mut old = append(&log);
        writeln!(old, "old 1").unwrap();
        let mut o = opts(backend);
        o.retire_grace = Duration::from_millis(300);
        o.rescan_interval = Duration::from_millis(100);
        let mut src = FileSource::new(vec![LogPath::head(p(&log))], o).unwrap();
        assert_eq!(texts(&collect(&mut src, 1)), ["old 1"]);
        fs::rename(&log, dir.path().join("app.log.1")).unwrap();
        writeln!(append(&log), "new 1").unwrap();
        assert_eq!(texts(&collect(&mut src, 1)), ["new 1"], "{backend:?}");
        assert_eq!(src.health()[0].rotated_open, 1);
        writeln!(old, "old 2, late").unwrap();
        let got = collect(&mut src, 1);
        assert_eq!(texts(&got), ["old 2, late"], "{backend:?}");
        assert!(got[0].rotated);
        std::thread::sleep(Duration::from_millis(400));
        src.wait(Duration::from_millis(250));
        assert_eq!(
            src.health()[0].rotated_open,
            0,
            "{backend:?}: old file not closed"
        );
        // Positions are those of the new file.
        assert_eq!(src.positions()[0].offset, 6);
    }
}
