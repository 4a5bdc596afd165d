//! The opt-in Prometheus endpoint (`metrics = 127.0.0.1:0` in fail2ban.conf) scraped
//! over real HTTP from the running daemon.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{stamp, wait_for, Env};

fn scrape(addr: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn metrics_endpoint_serves_the_jails_counters() {
    let mut env = Env::new(
        r"Failed password for \S+ from <HOST>",
        "metrics = 127.0.0.1:0",
    );
    env.start();
    let log = env.log();
    let addr = log
        .lines()
        .find_map(|l| l.split("Metrics on http://").nth(1))
        .and_then(|r| r.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("no metrics address in the log:\n{log}"))
        .to_string();
    for _ in 0..2 {
        env.append(&format!(
            "{} sshd[1]: Failed password for root from 192.0.2.7 port 22\n",
            stamp()
        ));
    }
    env.append("no date, no match\n");
    wait_for("the ban", Duration::from_secs(20), || {
        env.actions().contains("ban 192.0.2.7")
    });
    let page = scrape(&addr);
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("# TYPE bailiff_bans_total counter"), "{page}");
    assert!(
        page.contains("bailiff_bans_total{jail=\"test\"} 1"),
        "{page}"
    );
    assert!(
        page.contains("bailiff_failures_total{jail=\"test\"} 2"),
        "{page}"
    );
    assert!(
        page.contains("bailiff_bans_active{jail=\"test\"} 1"),
        "{page}"
    );
    let src = env.path("auth.log").display().to_string();
    assert!(
        page.contains(&format!(
            "bailiff_lines_read_total{{jail=\"test\",source=\"{src}\"}} 3"
        )),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "bailiff_source_up{{jail=\"test\",source=\"{src}\"}} 1"
        )),
        "{page}"
    );
    env.stop();
    // The endpoint goes with the daemon.
    assert!(TcpStream::connect(&addr).is_err());
}
