//! What the ambiguity check costs on ordinary logs: the same lines through the same
//! filter with the check on and off (`Filter::set_ambiguity_check`), several rounds
//! interleaved, CPU time per round.
//!
//! ```text
//! cargo run --release -p bailiff-filter --example ambiguity_cost -- [FILTER [LOG]]
//! ```
//!
//! Without LOG: 200,000 generated sshd lines (failures, successes, disconnects, PAM,
//! session lines; one address each, a port and a pid as the other numbers).

use bailiff_filter::{Filter, FilterConfig, UseDns, Zone};
use std::time::Instant;

fn generate(n: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let ip = format!(
            "{}.{}.{}.{}",
            1 + x % 223,
            (x >> 8) % 256,
            (x >> 16) % 256,
            1 + (x >> 24) % 254
        );
        let pid = 1000 + (x >> 32) % 60000;
        let port = 1024 + (x >> 40) % 60000;
        let (h, m, s) = ((i / 3600) % 24, (i / 60) % 60, i % 60);
        let user = ["root", "admin", "oracle", "test", "ubuntu", "git"][(x % 6) as usize];
        let msg = match (x >> 48) % 8 {
            0 => format!("Failed password for {user} from {ip} port {port} ssh2"),
            1 => format!("Failed password for invalid user {user} from {ip} port {port} ssh2"),
            2 => format!("Invalid user {user} from {ip} port {port}"),
            3 => format!("Accepted publickey for {user} from {ip} port {port} ssh2: ED25519 SHA256:abc"),
            4 => format!("Connection closed by authenticating user {user} {ip} port {port} [preauth]"),
            5 => format!("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={user}"),
            6 => format!("Received disconnect from {ip} port {port}:11: Bye Bye [preauth]"),
            _ => format!("pam_unix(sshd:session): session opened for user {user}(uid=0) by (uid=0)"),
        };
        out.push(format!(
            "Nov 23 {h:02}:{m:02}:{s:02} web1 sshd[{pid}]: {msg}"
        ));
    }
    out
}

fn cpu_time() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.first().map_or("sshd", String::as_str);
    let lines: Vec<String> = match args.get(1) {
        Some(path) => {
            let text =
                String::from_utf8_lossy(&std::fs::read(path).expect("read log")).into_owned();
            let base: Vec<String> = text
                .lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                .map(str::to_string)
                .collect();
            // Repeat a short sample to a measurable size.
            base.iter()
                .cycle()
                .take(200_000.max(base.len()))
                .cloned()
                .collect()
        }
        None => generate(200_000),
    };
    let def = bailiff_config::read_filter(std::path::Path::new("/etc/fail2ban"), name, &[])
        .expect("filter");
    let cfg = FilterConfig {
        prefregex: def.prefregex,
        failregex: def.failregex,
        ignoreregex: def.ignoreregex,
        maxlines: def.maxlines.unwrap_or(1),
        datepattern: def.datepattern,
        usedns: UseDns::Warn,
        ..FilterConfig::default()
    };
    let now = 1_795_428_000.0;
    let mut best = [f64::MAX; 2];
    let mut counts = [(0usize, 0usize); 2];
    for round in 0..6 {
        for (k, on) in [(0usize, false), (1, true)] {
            let k = if round % 2 == 0 { k } else { 1 - k };
            let on = if round % 2 == 0 { on } else { !on };
            let mut f = Filter::new(&cfg, Zone::utc(), now).expect("compile");
            f.set_ambiguity_check(on);
            let (mut fails, mut amb) = (0, 0);
            let t = cpu_time();
            let w = Instant::now();
            for l in &lines {
                let r = f.process_line(l, now);
                fails += r.failures.len();
                amb += r.ambiguous.len();
            }
            let cpu = cpu_time() - t;
            let _ = w.elapsed();
            best[k] = best[k].min(cpu);
            counts[k] = (fails, amb);
        }
    }
    let over = (best[1] / best[0] - 1.0) * 100.0;
    println!(
        "{name}: {} lines; check off {:.3} s ({} failures), on {:.3} s ({} failures, {} ambiguous): {over:+.1}% CPU",
        lines.len(),
        best[0],
        counts[0].0,
        best[1],
        counts[1].0,
        counts[1].1
    );
}
