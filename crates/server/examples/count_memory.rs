//! Memory of counting N distinct failing addresses in one jail, with and without the
//! filter in front (`cargo run --release -p bailiff-server --example count_memory -- N`,
//! add `filter` to go through the filter). Prints the process's RSS growth and the
//! part of it the jail's own tables account for.

use bailiff_filter::{Filter, FilterConfig, Zone};
use bailiff_jail::{FailId, Jail, JailConfig, NoHooks, Ticket};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let mode = std::env::args().nth(2).unwrap_or_default();
    let with_filter = mode == "filter";
    if mode == "filter-only" {
        // the filter alone, one address over and over: should not grow
        let mut filter = Filter::new(
            &FilterConfig {
                failregex: vec![r"Failed password for \S+ from <HOST>".into()],
                maxlines: 1,
                ..FilterConfig::default()
            },
            Zone::system(),
            1_800_000_000.0,
        )
        .unwrap();
        let before = rss_kib();
        let mut keys = String::new();
        for i in 1..=n {
            let ip = format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
            let line = format!("sshd[1]: Failed password for root from {ip} port 22");
            let res = filter.process_entry(&line, 1.8e9, 1.8e9);
            if i == 1 {
                keys = format!("{:?}", res.failures[0].data);
            }
        }
        println!(
            "filter alone, {n} lines: RSS +{:.1} MiB; data of one failure: {keys}",
            (rss_kib() - before) as f64 / 1024.0
        );
        return;
    }
    let now = 1_800_000_000.0;
    let mut cfg = JailConfig::new("bench");
    cfg.find_time = 86400.0;
    let mut jail = Jail::new(cfg);
    let mut filter = Filter::new(
        &FilterConfig {
            failregex: vec![r"Failed password for \S+ from <HOST>".into()],
            maxlines: 1,
            ..FilterConfig::default()
        },
        Zone::system(),
        now,
    )
    .unwrap();
    let before = rss_kib();
    for i in 1..=n {
        let ip = format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        let t = if with_filter {
            let line = format!("sshd[1]: Failed password for root from {ip} port 22");
            let res = filter.process_entry(&line, now, now);
            let f = res.failures.into_iter().next().unwrap();
            let mut data = f.data;
            for k in ["ip", "ip4", "ip6"] {
                data.remove(k);
            }
            Ticket::new(FailId::parse(&f.fid), now)
                .with_matches(f.matches)
                .with_data(data)
        } else {
            Ticket::new(FailId::parse(&ip), now).with_matches([format!(
                "2026-11-23 12:00:00 sshd[1]: Failed password for root from {ip} port 22"
            )])
        };
        jail.on_failure(t, now, &mut NoHooks);
    }
    let after = rss_kib();
    println!(
        "{n} ids counted{}: RSS +{:.1} MiB ({:.0} bytes per id)",
        if with_filter {
            " (through the filter)"
        } else {
            ""
        },
        (after - before) as f64 / 1024.0,
        (after - before) as f64 * 1024.0 / f64::from(n)
    );
    let heap = jail.fail_manager().heap_bytes();
    println!(
        "reserved by the jail's tables (slots, index, line arena, side table): {:.1} MiB ({:.0} bytes per id)",
        heap as f64 / 1048576.0,
        heap as f64 / f64::from(n)
    );
}
