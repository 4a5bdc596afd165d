//! Whole-file throughput of one filter, fail2ban-regex style (date detection included).
//!
//! ```text
//! cargo run --release -p bailiff-filter --example throughput -- [LOG] [FILTER] [CONFDIR]
//! ```
//!
//! LOG defaults to 200,000 generated sshd lines (or use `bench/regex-throughput-genlog.py
//! --kind sshd --lines 200000 --dates syslog`); FILTER to `sshd`; CONFDIR to
//! `/etc/fail2ban` (FILTER may carry options: `sshd[mode=aggressive]`). Prints date
//! detection alone, then the whole pipeline: thread CPU time, wall time, lines/s, heap
//! allocations per reported failure, failures found. `BENCH_PART=pref` runs the
//! prefregex only, `BENCH_PART=nopref` drops it; `BENCH_NO_AMBIGUITY=1` turns the
//! ambiguity check off; `BENCH_LITERALS=1` lists each failregex's prefilter literals.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Counts heap allocations, to show what the hot path allocates.
struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// CPU time of this thread, seconds (less disturbed by other processes than wall time).
fn cpu_time() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

use bailiff_filter::{Filter, FilterConfig, UseDns, Zone};

/// A deterministic sshd auth.log: failures, scanners, logins and noise.
fn generate(n: usize) -> Vec<String> {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let users = ["root", "admin", "test", "oracle", "ubuntu", "git", "pi"];
    let mut out = Vec::with_capacity(n);
    let mut t = 0u64;
    for _ in 0..n {
        let r = next();
        t += r % 3;
        let (h, m, s) = ((t / 3600) % 24, (t / 60) % 60, t % 60);
        let pid = 1000 + (r >> 8) % 5000;
        let ip = format!(
            "{}.{}.{}.{}",
            1 + (r >> 16) % 223,
            (r >> 24) % 256,
            (r >> 32) % 256,
            1 + (r >> 40) % 254
        );
        let user = users[((r >> 48) % users.len() as u64) as usize];
        let port = 1024 + (r >> 20) % 60000;
        let msg = match r % 10 {
            0 | 1 => format!("Failed password for {user} from {ip} port {port} ssh2"),
            2 => format!("Failed password for invalid user {user} from {ip} port {port} ssh2"),
            3 => format!("Invalid user {user} from {ip} port {port}"),
            4 => format!("Connection closed by {ip} port {port} [preauth]"),
            5 => format!("Received disconnect from {ip} port {port}:11: Bye Bye [preauth]"),
            6 => {
                format!("Accepted publickey for {user} from {ip} port {port} ssh2: RSA SHA256:abc")
            }
            7 => {
                format!("pam_unix(sshd:session): session opened for user {user}(uid=0) by (uid=0)")
            }
            8 => "error: kex_exchange_identification: Connection closed by remote host".to_string(),
            _ => format!("Disconnected from authenticating user {user} {ip} port {port} [preauth]"),
        };
        out.push(format!(
            "Nov 22 {h:02}:{m:02}:{s:02} web1 sshd[{pid}]: {msg}"
        ));
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let lines: Vec<String> = match args.first().filter(|a| a.as_str() != "-") {
        Some(path) => {
            let bytes = std::fs::read(path).expect("read log");
            String::from_utf8_lossy(&bytes)
                .lines()
                .map(str::to_string)
                .collect()
        }
        None => generate(200_000),
    };
    let name = args.get(1).map_or("sshd", String::as_str);
    let confdir = args.get(2).map_or("/etc/fail2ban", String::as_str);
    // `sshd[mode=aggressive]`: a filter name with options.
    let (name, opts) = match name.split_once('[') {
        Some((n, rest)) => {
            let opts: Vec<(String, String)> = rest
                .trim_end_matches(']')
                .split(',')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect();
            (n, opts)
        }
        None => (name, Vec::new()),
    };
    let def =
        bailiff_config::read_filter(std::path::Path::new(confdir), name, &opts).expect("filter");
    // BENCH_PART=pref: prefregex only; =nopref: failregexes without prefregex.
    let part = std::env::var("BENCH_PART").unwrap_or_default();
    let cfg = FilterConfig {
        prefregex: def.prefregex.filter(|_| part != "nopref"),
        failregex: if part == "pref" {
            Vec::new()
        } else {
            def.failregex
        },
        ignoreregex: def.ignoreregex,
        maxlines: def.maxlines.unwrap_or(1),
        datepattern: def.datepattern,
        usedns: UseDns::Raw,
        ..FilterConfig::default()
    };
    let now = 1_795_000_000.0;
    let mut filter = Filter::new(&cfg, Zone::system(), now).expect("compile");
    if std::env::var_os("BENCH_NO_AMBIGUITY").is_some() {
        // fail2ban's own behaviour: every match trusted (the check's cost left out).
        filter.set_ambiguity_check(false);
    }
    println!(
        "prefiltered failregexes: {:?}",
        filter.failregex_prefiltered()
    );
    println!("line prefilter: {}", filter.line_prefilter());
    if std::env::var_os("BENCH_LITERALS").is_some() {
        for (i, l) in filter.failregex_literals().iter().enumerate() {
            println!("  failregex #{i}: {l:?}");
        }
    }
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    {
        // Date detection alone, for comparison.
        let opts = bailiff_filter::DateOptions {
            reference_year: 2026,
            any_year: false,
        };
        let mut dd =
            bailiff_filter::DateDetector::new(cfg.datepattern.as_deref(), &opts).expect("dates");
        let zone = Zone::system();
        let start = Instant::now();
        let found = lines
            .iter()
            .filter(|l| dd.find(l, now, &zone).is_some())
            .count();
        let secs = start.elapsed().as_secs_f64();
        println!(
            "date detection alone: {found} dates in {secs:.3} s = {:.0} lines/s",
            lines.len() as f64 / secs
        );
    }
    let start = Instant::now();
    let cpu0 = cpu_time();
    let allocs0 = ALLOCS.load(Ordering::Relaxed);
    let mut failures = 0usize;
    let mut dated = 0usize;
    let mut matches = 0usize;
    for l in &lines {
        let r = filter.process_line(l, now);
        failures += r.failures.len();
        matches += r.failures.iter().map(|f| f.matches.len()).sum::<usize>();
        dated += usize::from(r.date.is_some());
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_time() - cpu0;
    let allocs = ALLOCS.load(Ordering::Relaxed) - allocs0;
    println!(
        "{name}: CPU {cpu:.3} s = {:.0} lines/s (wall below); {allocs} allocations ({:.1} per failure)",
        lines.len() as f64 / cpu,
        allocs as f64 / failures.max(1) as f64
    );
    println!(
        "{name}: {} lines ({:.1} MB) in {secs:.3} s = {:.0} lines/s, {:.1} MB/s; {failures} failures ({matches} matched lines), {dated} dated",
        lines.len(),
        bytes as f64 / 1e6,
        lines.len() as f64 / secs,
        bytes as f64 / 1e6 / secs
    );
}
