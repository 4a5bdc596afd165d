//! The real endpoint: bound on 127.0.0.1:0, scraped over real HTTP, the exposition
//! parsed line by line (HELP/TYPE for every family, label escapes undone).

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bailiff_health::*;

const T0: f64 = 1_700_000_000.0;
/// A source name with every character the format must escape.
const NASTY: &str = "/var/log/we\"ird\\path\nx.log";

fn request(addr: SocketAddr, req: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(req.as_bytes()).expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read reply");
    let (head, body) = out.split_once("\r\n\r\n").expect("HTTP head");
    (head.to_string(), body.to_string())
}

fn get(addr: SocketAddr, path: &str) -> (String, String) {
    request(addr, &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"))
}

/// Undo label-value escapes; reject anything else after a backslash.
fn unescape(v: &str) -> String {
    let mut out = String::new();
    let mut it = v.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('\\') => out.push('\\'),
                Some('"') => out.push('"'),
                Some('n') => out.push('\n'),
                other => panic!("bad escape \\{other:?} in {v:?}"),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parse the text format strictly enough to catch encoder mistakes.
fn parse(text: &str) -> (HashMap<String, (String, String)>, Vec<Sample>) {
    let mut help: HashMap<String, String> = HashMap::new();
    let mut kind: HashMap<String, String> = HashMap::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (n, h) = rest.split_once(' ').expect("HELP name text");
            assert!(help.insert(n.into(), h.into()).is_none(), "HELP twice: {n}");
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (n, t) = rest.split_once(' ').expect("TYPE name type");
            assert!(["counter", "gauge"].contains(&t), "type {t}");
            assert!(help.contains_key(n), "TYPE before HELP for {n}");
            assert!(kind.insert(n.into(), t.into()).is_none(), "TYPE twice: {n}");
        } else {
            assert!(
                !line.starts_with('#') && !line.is_empty(),
                "stray line {line:?}"
            );
            let (name, labels, value) = match line.find('{') {
                Some(i) => {
                    let close = line.rfind('}').expect("closing brace");
                    (&line[..i], &line[i + 1..close], line[close + 1..].trim())
                }
                None => {
                    let (n, v) = line.split_once(' ').expect("name value");
                    (n, "", v)
                }
            };
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "metric name {name:?}"
            );
            assert!(kind.contains_key(name), "{name} sampled without TYPE");
            // Labels: k="v" separated by commas, v with escapes.
            let mut map = BTreeMap::new();
            let mut rest = labels;
            while !rest.is_empty() {
                let (k, after) = rest.split_once("=\"").expect("label k=\"");
                let mut end = None;
                let mut esc = false;
                for (i, c) in after.char_indices() {
                    match (esc, c) {
                        (true, _) => esc = false,
                        (false, '\\') => esc = true,
                        (false, '"') => {
                            end = Some(i);
                            break;
                        }
                        _ => {}
                    }
                }
                let end = end.expect("closing quote");
                map.insert(k.to_string(), unescape(&after[..end]));
                rest = after[end + 1..].trim_start_matches(',');
            }
            let value: f64 = value.parse().expect("numeric value");
            samples.push(Sample {
                name: name.into(),
                labels: map,
                value,
            });
        }
    }
    let fams = help
        .into_iter()
        .map(|(n, h)| {
            let t = kind
                .get(&n)
                .cloned()
                .unwrap_or_else(|| panic!("{n} has HELP but no TYPE"));
            (n, (h, t))
        })
        .collect();
    (fams, samples)
}

fn find<'a>(s: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    s.iter().find(|x| {
        x.name == name
            && labels
                .iter()
                .all(|(k, v)| x.labels.get(*k).map(String::as_str) == Some(*v))
    })
}

fn state() -> Arc<Mutex<BTreeMap<String, JailHealth>>> {
    let mut sshd = JailHealth::new();
    sshd.on_source_state("/var/log/auth.log", SourceState::Open, T0);
    sshd.on_lines_read("/var/log/auth.log", 3, 300, T0);
    for (i, user) in ["root", "admin"].iter().enumerate() {
        sshd.on_line(
            &LineSummary {
                source: "/var/log/auth.log",
                line_time: Some(T0),
                matched: vec![Matched {
                    regex: i,
                    fid: "192.0.2.1".into(),
                    user: Some(user.to_string()),
                    ignoreip: false,
                }],
                ..Default::default()
            },
            T0,
        );
    }
    sshd.on_line(&LineSummary::default(), T0);
    sshd.on_ban(T0);
    sshd.on_action_result("nftables", ActionOutcome::Err("boom".into()), T0);

    let mut odd = JailHealth::new();
    odd.on_source_state(NASTY, SourceState::Missing, T0 - 3600.0);

    let mut m = BTreeMap::new();
    m.insert("sshd".to_string(), sshd);
    m.insert("odd\"jail".to_string(), odd);
    Arc::new(Mutex::new(m))
}

fn serve() -> MetricsServer {
    let st = state();
    let render: Arc<RenderFn> = Arc::new(move || {
        let g = st.lock().expect("state lock");
        render_metrics(
            g.iter().map(|(k, v)| (k.as_str(), v)),
            T0 + 1.0,
            &Thresholds::default(),
        )
    });
    MetricsServer::bind("127.0.0.1:0", render).expect("bind 127.0.0.1:0")
}

#[test]
fn scrape_over_http_and_parse() {
    let server = serve();
    let addr = server.local_addr();
    let (head, body) = get(addr, "/metrics");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    let (fams, samples) = parse(&body);

    for name in [
        "bailiff_lines_read_total",
        "bailiff_lines_matched_total",
        "bailiff_lines_ignored_total",
        "bailiff_lines_missed_total",
        "bailiff_lines_nodate_total",
        "bailiff_lines_ambiguous_total",
        "bailiff_failures_total",
        "bailiff_bans_total",
        "bailiff_unbans_total",
        "bailiff_bans_active",
        "bailiff_action_errors_total",
        "bailiff_source_up",
        "bailiff_jail_healthy",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        let (_, t) = fams.get(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(t == "counter", name.ends_with("_total"), "{name} is a {t}");
    }

    // Every family, not only the required ones, is typed by its name and helped.
    for (name, (help, t)) in &fams {
        assert_eq!(t == "counter", name.ends_with("_total"), "{name} is a {t}");
        assert!(help.len() > 10 && help != name, "{name}: HELP {help:?}");
    }
    assert!(fams.contains_key("bailiff_action_repairs_total"));
    let last = find(
        &samples,
        "bailiff_source_last_read_timestamp_seconds",
        &[("source", "/var/log/auth.log")],
    )
    .expect("last read time");
    assert_eq!(last.value, T0);

    let j = |v| [("jail", v)];
    assert_eq!(
        find(&samples, "bailiff_failures_total", &j("sshd"))
            .unwrap()
            .value,
        2.0
    );
    assert_eq!(
        find(
            &samples,
            "bailiff_lines_matched_total",
            &[("jail", "sshd"), ("regex", "1")]
        )
        .unwrap()
        .value,
        1.0
    );
    assert_eq!(
        find(&samples, "bailiff_lines_missed_total", &j("sshd"))
            .unwrap()
            .value,
        1.0
    );
    assert_eq!(
        find(&samples, "bailiff_bans_active", &j("sshd"))
            .unwrap()
            .value,
        1.0
    );
    assert_eq!(
        find(
            &samples,
            "bailiff_action_errors_total",
            &[("jail", "sshd"), ("action", "nftables")]
        )
        .unwrap()
        .value,
        1.0
    );
    // The failing action makes sshd unhealthy; the missing log makes the odd one so.
    assert_eq!(
        find(&samples, "bailiff_jail_healthy", &j("sshd"))
            .unwrap()
            .value,
        0.0
    );
    // Escaped labels come back exactly.
    let up = find(
        &samples,
        "bailiff_source_up",
        &[("jail", "odd\"jail"), ("source", NASTY)],
    )
    .expect("the nasty source, unescaped");
    assert_eq!(up.value, 0.0);
    assert_eq!(
        find(
            &samples,
            "bailiff_source_up",
            &[("source", "/var/log/auth.log")]
        )
        .unwrap()
        .value,
        1.0
    );
    assert!(find(&samples, "process_open_fds", &[]).unwrap().value >= 3.0);
    assert!(
        find(&samples, "process_start_time_seconds", &[])
            .unwrap()
            .value
            > 1.0e9
    );

    // Query strings are fine; other paths and methods are refused.
    assert!(get(addr, "/metrics?x=1").0.starts_with("HTTP/1.1 200"));
    assert!(get(addr, "/").0.starts_with("HTTP/1.1 404"));
    assert!(get(addr, "/metricsx").0.starts_with("HTTP/1.1 404"));
    let (h, _) = request(addr, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert!(h.starts_with("HTTP/1.1 405"), "{h}");
    let big = format!(
        "GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n",
        "a".repeat(MAX_REQUEST * 2)
    );
    assert!(request(addr, &big).0.starts_with("HTTP/1.1 431"));

    server.shutdown();
    // Stopped: nobody answers any more.
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_millis(500))
            .map(|mut s| {
                let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
                let _ = s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n");
                let mut b = [0u8; 16];
                matches!(s.read(&mut b), Ok(0) | Err(_))
            })
            .unwrap_or(true)
    );
}

#[test]
fn connections_are_bounded() {
    let server = serve();
    let addr = server.local_addr();
    // Idle clients that never send a request hold every slot...
    let idle: Vec<TcpStream> = (0..MAX_CONNECTIONS)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect();
    // ...so the next one waits in the backlog: no reply yet.
    let mut waiting = TcpStream::connect(addr).expect("connect");
    waiting
        .write_all(b"GET /metrics HTTP/1.1\r\n\r\n")
        .expect("send");
    waiting
        .set_read_timeout(Some(Duration::from_millis(800)))
        .unwrap();
    let mut b = [0u8; 64];
    match waiting.read(&mut b) {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) => {}
        other => panic!("served beyond the limit: {other:?}"),
    }
    drop(idle);
    // Slots free up when the idle clients go away, and the waiting one is served.
    let start = Instant::now();
    waiting
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reply = String::new();
    waiting
        .read_to_string(&mut reply)
        .expect("reply once a slot is free");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(get(addr, "/metrics").0.starts_with("HTTP/1.1 200"));
    // Shutting down with every slot held by idle clients does not hang.
    let idle: Vec<TcpStream> = (0..MAX_CONNECTIONS)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    server.shutdown();
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "shutdown took {:?}",
        t.elapsed()
    );
    drop(idle);
}

#[test]
fn bind_error_names_the_address() {
    let server = serve();
    let taken = server.local_addr();
    let err = MetricsServer::bind(taken, Arc::new(String::new)).expect_err("port taken");
    assert!(err.to_string().contains(&taken.to_string()), "{err}");
}
