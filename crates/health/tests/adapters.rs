//! The adapters fed by the real producers: a real `FileSource` on real files (a
//! log that is missing, appears, is rotated), and action results.

use std::io::Write;
use std::time::Duration;

use bailiff_action::nft::CheckReport;
use bailiff_health::*;
use bailiff_source::{FileSource, FileSourceOptions, LogPath};

const T0: f64 = 1_700_000_000.0;

fn feed(src: &mut FileSource, h: &mut JailHealth, wait: Duration, now: f64) -> usize {
    let events = src.wait(wait);
    for e in &events {
        h.on_lines_read(
            &e.path.display().to_string(),
            1,
            e.text.len() as u64 + 1,
            now,
        );
    }
    for f in src.health() {
        h.on_file_health(&f, now);
    }
    events.len()
}

#[test]
fn real_file_source_missing_then_present_then_rotated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("auth.log");
    let name = log.display().to_string();
    let mut src = FileSource::new(
        vec![LogPath::head(log.to_str().expect("utf-8 path"))],
        FileSourceOptions {
            poll_interval: Duration::from_millis(50),
            rescan_interval: Duration::from_millis(50),
            ..FileSourceOptions::default()
        },
    )
    .expect("file source");
    let mut h = JailHealth::new();
    let th = Thresholds::default();

    feed(&mut src, &mut h, Duration::ZERO, T0);
    assert_eq!(
        h.sources[&name].state,
        SourceState::Missing,
        "{:?}",
        h.sources
    );
    assert!(is_healthy(&evaluate(&h, T0 + 60.0, &th)));
    let ws = evaluate(&h, T0 + 600.0, &th);
    assert_eq!(ws.len(), 1, "{ws:?}");
    assert_eq!(ws[0].code, Code::SourceDown);
    assert_eq!(ws[0].subject.as_deref(), Some(name.as_str()));

    // The log appears and is read: the warning clears.
    let mut f = std::fs::File::create(&log).expect("create log");
    writeln!(f, "Failed password for root from 192.0.2.1").expect("write");
    let mut got = 0;
    for i in 0..100 {
        got += feed(
            &mut src,
            &mut h,
            Duration::from_millis(100),
            T0 + 601.0 + i as f64,
        );
        if got > 0 && h.sources[&name].state == SourceState::Open {
            break;
        }
    }
    assert_eq!(got, 1);
    assert_eq!(h.sources[&name].state, SourceState::Open);
    assert_eq!(h.sources[&name].lines_read, 1);
    assert!(is_healthy(&evaluate(&h, T0 + 800.0, &th)));

    // Rotation: rename away, recreate, write.
    std::fs::rename(&log, dir.path().join("auth.log.1")).expect("rotate");
    let mut f = std::fs::File::create(&log).expect("recreate");
    writeln!(f, "Failed password for admin from 192.0.2.2").expect("write");
    for i in 0..100 {
        feed(
            &mut src,
            &mut h,
            Duration::from_millis(100),
            T0 + 900.0 + i as f64,
        );
        if h.sources[&name].rotations > 0 && h.sources[&name].lines_read >= 2 {
            break;
        }
    }
    assert!(h.sources[&name].rotations >= 1, "{:?}", h.sources[&name]);
    assert_eq!(h.sources[&name].lines_read, 2);
    assert!(h.sources[&name].state.is_up());
    // A rotation is not an outage.
    assert!(is_healthy(&evaluate(&h, T0 + 2000.0, &th)));
}

#[test]
fn check_reports_and_repairs() {
    let th = Thresholds::default();
    let mut h = JailHealth::new();
    let report = CheckReport {
        table: true,
        chain: true,
        sets: false,
        rules: true,
        missing: Vec::new(),
    };
    h.on_check_report("nftables", &report, T0);
    assert_eq!(evaluate(&h, T0, &th)[0].code, Code::BansNotEnforced);

    // check_and_repair found it broken and fixed it: healthy, but said (info).
    h.on_check_and_repair::<std::io::Error>("nftables", &Ok(true), T0 + 60.0);
    let ws = evaluate(&h, T0 + 61.0, &th);
    assert!(is_healthy(&ws), "{ws:?}");
    assert_eq!(ws.len(), 1);
    assert_eq!(
        (ws[0].code, ws[0].severity),
        (Code::FirewallRepaired, Severity::Info)
    );
    assert!(ws[0].message.contains("1 repairs"), "{}", ws[0].message);
    // A day later the note is gone.
    assert!(evaluate(&h, T0 + 60.0 + 86400.0, &th).is_empty());

    // The repair itself failing is an action failure.
    let err: Result<bool, std::io::Error> = Err(std::io::Error::new(
        std::io::ErrorKind::PermissionDenied,
        "nft: Operation not permitted",
    ));
    h.on_check_and_repair("nftables", &err, T0 + 90_000.0);
    let ws = evaluate(&h, T0 + 90_000.0, &th);
    assert_eq!(ws[0].code, Code::ActionFailing);
    assert!(ws[0].message.contains("Operation not permitted"));
    h.on_check_and_repair::<std::io::Error>("nftables", &Ok(false), T0 + 90_060.0);
    assert!(evaluate(&h, T0 + 90_060.0, &th).is_empty());

    assert_eq!(
        ActionOutcome::from_result(&Err::<(), _>("exit status 1")),
        ActionOutcome::Err("exit status 1".into())
    );
}
