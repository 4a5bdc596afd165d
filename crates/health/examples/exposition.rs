//! Print the `/metrics` page of one small jail (to eyeball the format):
//! `cargo run -p bailiff-health --example exposition`.

use bailiff_health::*;

fn main() {
    let t = 1_700_000_000.0;
    let mut h = JailHealth::new();
    h.on_source_state("/var/log/auth.log", SourceState::Open, t);
    h.on_lines_read("/var/log/auth.log", 2, 160, t);
    h.on_line(
        &LineSummary {
            source: "/var/log/auth.log",
            line_time: Some(t),
            matched: vec![Matched {
                regex: 0,
                fid: "192.0.2.1".into(),
                user: Some("root".into()),
                ignoreip: false,
            }],
            ..Default::default()
        },
        t,
    );
    h.on_ban(t);
    print!(
        "{}",
        render_metrics([("sshd", &h)], t, &Thresholds::default())
    );
}
