//! Micro benchmark: ns per line for date detection on common shapes.
//!
//! `cargo test -p bailiff-date --release --test bench -- --ignored --nocapture`

use std::hint::black_box;
use std::time::Instant;

use bailiff_date::{DateDetector, DateOptions, Zone};

const NOW: f64 = 1_124_013_600.0;

fn lines(make: impl Fn(u32) -> String) -> Vec<String> {
    (0..10_000).map(make).collect()
}

fn bench(label: &str, datepattern: Option<&str>, lines: &[String], zone: &Zone) {
    let opts = DateOptions {
        reference_year: 2026,
        any_year: false,
    };
    let mut dd = DateDetector::new(datepattern, &opts).expect("detector");
    // warm up, and check every line has a date
    for l in lines {
        assert!(dd.find(l, NOW, zone).is_some(), "no date in {l:?}");
    }
    // best of several runs: the machine is shared, the minimum is the signal
    let mut best = f64::MAX;
    for _ in 0..15 {
        let start = Instant::now();
        let mut sum = 0.0;
        for _ in 0..3 {
            for l in lines {
                if let Some(h) = dd.find(black_box(l), NOW, zone) {
                    sum += h.time;
                }
            }
        }
        let ns = start.elapsed().as_nanos() as f64 / (3 * lines.len()) as f64;
        black_box(sum);
        best = best.min(ns);
    }
    println!("{label:<40} {best:>8.1} ns/line (best of 15)");
}

#[test]
#[ignore = "benchmark: run with --release -- --ignored --nocapture"]
fn ns_per_line() {
    let zone = Zone::from_tz_string("CET-01CEST-02,M3.5.0,M10.5.0").expect("zone");
    let syslog = lines(|i| {
        format!(
            "Aug {:>2} {:02}:{:02}:{:02} host sshd[{}]: Failed password for root from 192.0.2.{} port 22 ssh2",
            1 + i % 28,
            i / 3600 % 24,
            i / 60 % 60,
            i % 60,
            1000 + i,
            i % 250
        )
    });
    let iso = lines(|i| {
        format!(
            "2005-08-{:02} {:02}:{:02}:{:02} host app: login failed for user x from 192.0.2.{}",
            1 + i % 28,
            i / 3600 % 24,
            i / 60 % 60,
            i % 60,
            i % 250
        )
    });
    let apache = lines(|i| {
        format!(
            "192.0.2.{} - - [{:02}/Aug/2005:{:02}:{:02}:{:02} +0200] \"GET / HTTP/1.1\" 401 381",
            i % 250,
            1 + i % 28,
            i / 3600 % 24,
            i / 60 % 60,
            i % 60
        )
    });
    bench("syslog, default templates", None, &syslog, &zone);
    bench("ISO 8601, default templates", None, &iso, &zone);
    bench("syslog, {^LN-BEG}", Some("{^LN-BEG}"), &syslog, &zone);
    bench("ISO 8601, {^LN-BEG}", Some("{^LN-BEG}"), &iso, &zone);
    bench(
        "apache access, ^[^\\[]*\\[({DATE})",
        Some(r"^[^\[]*\[({DATE})"),
        &apache,
        &zone,
    );
    let utc = zone.with_logtimezone("UTC").expect("utc");
    bench("syslog, logtimezone=UTC", None, &syslog, &utc);
    let opts = DateOptions {
        reference_year: 2026,
        any_year: false,
    };
    let start = Instant::now();
    for _ in 0..20 {
        black_box(DateDetector::new(None, &opts).expect("detector"));
    }
    let us = start.elapsed().as_micros() as f64 / 20.0;
    println!(
        "{:<40} {us:>8.0} µs per detector",
        "building the 31 default templates"
    );
}
