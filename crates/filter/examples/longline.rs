//! How the sshd filter copes with very long lines (time per line, regex errors).
use bailiff_filter::{Filter, FilterConfig, UseDns, Zone};
use std::time::Instant;

fn main() {
    let def = bailiff_config::read_filter(
        std::path::Path::new("/etc/fail2ban"),
        "sshd",
        &[("mode".into(), "aggressive".into())],
    )
    .expect("filter");
    let cfg = FilterConfig {
        prefregex: def.prefregex,
        failregex: def.failregex,
        ignoreregex: def.ignoreregex,
        maxlines: def.maxlines.unwrap_or(1),
        datepattern: def.datepattern,
        usedns: UseDns::Raw,
        ..FilterConfig::default()
    };
    let now = 1_795_000_000.0;
    let mut f = Filter::new(&cfg, Zone::system(), now).expect("compile");
    for n in [1_000usize, 10_000, 100_000, 1_000_000] {
        for (what, line) in [
            ("user", format!("Nov 22 10:00:00 web1 sshd[1]: Failed password for invalid user {} from 192.0.2.1 port 22 ssh2", "a ".repeat(n / 2))),
            ("from", format!("Nov 22 10:00:00 web1 sshd[1]: Failed password for invalid user x{} port 22 ssh2", " from x".repeat(n / 7))),
            ("noise", format!("Nov 22 10:00:00 web1 sshd[1]: {}", "x".repeat(n))),
        ] {
            let t = Instant::now();
            let r = f.process_line(&line, now);
            println!("{n:>8} {what:5}: {:>10.3} ms, {} failures, errors {:?}", t.elapsed().as_secs_f64() * 1e3, r.failures.len(), r.errors.iter().map(|e| e.chars().take(60).collect::<String>()).collect::<Vec<_>>());
        }
    }
}
