//! Measure the native nftables backend in a throw-away network namespace (root):
//! restoring N bans at start, a batch ban and a batch unban on top, and a check.
//!
//! `cargo run --release -p bailiff-action --example nft_bench [N ...]`

use std::net::Ipv4Addr;
use std::process::Command;
use std::time::{Duration, Instant};

use bailiff_action::nft::{Ban, NftBackend, NftJail};
use bailiff_action::Target;

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn hosts(base: u32, n: usize, timeout: Option<Duration>) -> Vec<Ban> {
    (0..n as u32)
        .map(|i| {
            Ban::new(
                Target::host(Ipv4Addr::from(base + i * 3 + 1).into()),
                timeout,
            )
        })
        .collect()
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![20_000, 100_000]
    } else {
        sizes
    };
    let ns = format!("bench{}", std::process::id());
    if !ip(&["netns", "add", &ns]) {
        eprintln!("cannot create a network namespace (need root)");
        std::process::exit(2);
    }
    let nft_cmd = vec![
        "ip".into(),
        "netns".into(),
        "exec".into(),
        ns.clone(),
        "nft".into(),
    ];
    let jail = NftJail::new("bench", Some("ssh"), "tcp", "reject").expect("jail");
    let mut b = NftBackend::new(jail).with_command(nft_cmd);
    println!(
        "{:>8} {:>12} {:>14} {:>14} {:>12}",
        "bans", "start", "ban 10k more", "unban 10k", "check"
    );
    for n in sizes {
        let bans = hosts(0x6440_0000, n, Some(Duration::from_secs(3600)));
        let start = b.start(&bans).expect("start");
        let extra = hosts(0x0a40_0000, 10_000, None);
        let t = Instant::now();
        b.ban(&extra).expect("ban");
        let ban = t.elapsed();
        let t = Instant::now();
        b.unban(&extra.iter().map(|x| x.target).collect::<Vec<_>>())
            .expect("unban");
        let unban = t.elapsed();
        let recorded: Vec<Target> = bans.iter().map(|x| x.target).collect();
        let t = Instant::now();
        let report = b.check(&recorded).expect("check");
        let check = t.elapsed();
        assert!(report.is_sane(), "{} missing", report.missing.len());
        println!("{n:>8} {start:>12.2?} {ban:>14.2?} {unban:>14.2?} {check:>12.2?}");
    }
    let _ = b.stop();
    ip(&["netns", "del", &ns]);
}
