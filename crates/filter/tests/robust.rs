//! Attacker-written lines and odd configurations must never panic the filter.

use bailiff_filter::{DateHit, Filter, FilterConfig, Zone};
use proptest::prelude::*;

fn sshd_like() -> Filter {
    let cfg = FilterConfig {
        prefregex: Some(r"^<F-MLFID>\S+\[\d+\]:</F-MLFID> <F-CONTENT>.+</F-CONTENT>$".into()),
        failregex: vec![
            r"^Failed \S+ for (?:invalid user )?<F-USER>\S+</F-USER> from <HOST>".into(),
            r"^<F-NOFAIL>Connection from</F-NOFAIL> <HOST>".into(),
            r"^<F-MLFFORGET>Disconnected</F-MLFFORGET>".into(),
            r"^x(?P<fid>.*)<SKIPLINES>y<SUBNET>".into(),
        ],
        ignoreregex: vec![r"ignored$".into()],
        maxlines: 1,
        check_all: true,
        ..FilterConfig::default()
    };
    Filter::new(&cfg, Zone::parse_logtimezone("UTC").unwrap(), 1.7e9).unwrap()
}

proptest! {
    #[test]
    fn any_line_any_date_span(line in "\\PC{0,200}", s in 0usize..250, e in 0usize..250, t in any::<f64>()) {
        let mut f = sshd_like();
        let hit = DateHit { start: s, end: e, time: t, template: 0 };
        let _ = f.process_dated(&line, Some(hit), 1.7e9);
        let _ = f.process_line(&line, 1.7e9);
        let _ = f.process_entry(&line, t, 1.7e9);
    }

    #[test]
    fn sshd_shaped_lines(pid in 0u32..5, user in "[a-zé ]{0,12}", ip in "[0-9a-f:.\\[\\]]{0,20}", tail in "\\PC{0,30}") {
        let mut f = sshd_like();
        for msg in [
            format!("Connection from {ip}{tail}"),
            format!("Failed password for {user} from {ip}{tail}"),
            format!("Disconnected{tail}"),
        ] {
            let _ = f.process_entry(&format!("sshd[{pid}]: {msg}"), 1.7e9, 1.7e9);
        }
    }

    #[test]
    fn any_regex_compiles_or_errs(re in "\\PC{0,40}") {
        let cfg = FilterConfig {
            failregex: vec![format!("{re}<HOST>")],
            prefregex: Some(re.clone()),
            ignoreregex: vec![re],
            maxlines: 3,
            ..FilterConfig::default()
        };
        if let Ok(mut f) = Filter::new(&cfg, Zone::parse_logtimezone("UTC").unwrap(), 1.7e9) {
            let _ = f.process_entry("x 192.0.2.1", 1.7e9, 1.7e9);
        }
    }
}

#[test]
fn multi_line_buffer_with_odd_lines() {
    let cfg = FilterConfig {
        failregex: vec![
            r"^a<SKIPLINES>b (?P<fid>\S+)$".into(),
            r"(?m)^c <HOST>$".into(),
        ],
        maxlines: 4,
        check_all: true,
        ..FilterConfig::default()
    };
    let mut f = Filter::new(&cfg, Zone::parse_logtimezone("UTC").unwrap(), 1.7e9).unwrap();
    for line in [
        "a",
        "",
        "\n",
        "b x",
        "c 192.0.2.1",
        "é",
        "a",
        "b y\r",
        "c ::1",
    ] {
        let _ = f.process_entry(line, 1.7e9, 1.7e9);
    }
}
