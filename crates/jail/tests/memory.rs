//! Memory check: one million distinct failing addresses, counted.
//!
//! Measures the resident set size growth of this process (Linux `/proc/self/statm`)
//! while a jail counts one failure for each of 1,000,000 distinct IPv4 addresses, each
//! with one realistic ~100-byte matched line kept (`maxmatches` 5). The daemon's whole
//! RSS must stay under 200 MB with a million counted ids, so the jail's own share is
//! held well below: a 52-byte slot and ~10 bytes of index per id (about 63 MB in
//! all), plus the line rounded up to 8 bytes (about 171 MB). The numbers are printed
//! for the report.

use bailiff_jail::{FailId, Jail, JailConfig, NoHooks, Ticket};
use std::net::{IpAddr, Ipv4Addr};

fn rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = s.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY-free: the page size on Linux x86-64/aarch64 here is 4 KiB.
    Some(pages * 4096)
}

fn run(max_matches: usize, with_line: bool) -> Option<(f64, f64)> {
    const N: u32 = 1_000_000;
    let before = rss_bytes()?;
    let mut cfg = JailConfig::new("sshd");
    cfg.max_matches = max_matches;
    let mut jail = Jail::new(cfg);
    let now = 1_700_000_000.0;
    for i in 0..N {
        let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000u32 + i));
        let mut t = Ticket::new(FailId::Ip(ip), now);
        if with_line {
            t = t.with_matches([format!(
                "Nov 23 11:10:56 host sshd[12345]: Failed password for invalid user admin from {ip} port 22 ssh2"
            )]);
        }
        let out = jail.on_failure(t, now, &mut NoHooks);
        assert_eq!(out.retry, 1);
    }
    let after = rss_bytes()?;
    assert_eq!(jail.status().currently_failed, N as usize);
    assert_eq!(jail.status().total_failed, u64::from(N));
    let mb = (after.saturating_sub(before)) as f64 / 1e6;
    let per = (after.saturating_sub(before)) as f64 / f64::from(N);
    drop(jail);
    Some((mb, per))
}

#[test]
fn one_million_failing_addresses() {
    let Some((mb, per)) = run(0, false) else {
        eprintln!("SKIPPED: /proc/self/statm not readable, cannot measure RSS");
        return;
    };
    eprintln!("1M ids, no matches kept: RSS +{mb:.1} MB, {per:.0} bytes/id");
    assert!(mb < 80.0, "counting 1M ids took {mb:.1} MB");
    let Some((mb, per)) = run(5, true) else {
        return;
    };
    eprintln!("1M ids, one ~100-byte match kept each: RSS +{mb:.1} MB, {per:.0} bytes/id");
    assert!(mb < 200.0, "1M ids with matches took {mb:.1} MB");
}
