//! Webhook against a real loopback HTTP server; mail through a fake sendmail script.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bailiff_action::mail::{ban_notice, Mailer};
use bailiff_action::webhook::{ticket_body, Webhook};
use bailiff_action::{ActionError, Target, Ticket};

/// A server answering each connection with the next status from `statuses`
/// (None: accept and never answer), reporting each request (head, body).
fn server(statuses: Vec<Option<u16>>) -> (String, mpsc::Receiver<(String, String)>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}/hook", l.local_addr().unwrap().port());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for status in statuses {
            let Ok((mut c, _)) = l.accept() else { return };
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut head = String::new();
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0u8; len];
            let _ = r.read_exact(&mut body);
            let _ = tx.send((head, String::from_utf8_lossy(&body).into_owned()));
            match status {
                Some(code) => {
                    let _ = write!(
                        c,
                        "HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                }
                None => std::thread::sleep(Duration::from_secs(3)),
            }
        }
    });
    (url, rx)
}

fn ticket() -> Ticket {
    let mut t = Ticket::new("192.0.2.44".parse::<Target>().unwrap());
    t.failures = 5;
    t.time = 1_700_000_000;
    t.bantime = 600;
    t.matches = vec![
        "Failed password for \"x\" from 192.0.2.44".into(),
        "$(touch /tmp/nope)".into(),
    ];
    t.fields = vec![("user".into(), "root\r\nX-Evil: 1".into())];
    t
}

#[test]
fn webhook_posts_json() {
    let (url, rx) = server(vec![Some(204)]);
    let hook = Webhook::new(&url)
        .unwrap()
        .header("Authorization", "Bearer t0k")
        .unwrap();
    let body = ticket_body("ban", "sshd", &ticket());
    assert_eq!(hook.post(&body).unwrap(), 204);
    let (head, got) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(head.starts_with("POST /hook HTTP/1.1\r\n"), "{head}");
    assert!(head.contains("Content-Type: application/json"), "{head}");
    assert!(head.contains("Authorization: Bearer t0k"), "{head}");
    let v: serde_json::Value = serde_json::from_str(&got).unwrap();
    assert_eq!(v, body);
    assert_eq!(v["ip"], "192.0.2.44");
    assert_eq!(v["fields"]["user"], "root\r\nX-Evil: 1");
}

#[test]
fn webhook_retries_server_errors_then_succeeds() {
    let (url, rx) = server(vec![Some(503), Some(500), Some(200)]);
    let hook = Webhook::new(&url)
        .unwrap()
        .retries(2)
        .backoff(Duration::from_millis(10));
    assert_eq!(hook.post(&serde_json::json!({"n": 1})).unwrap(), 200);
    assert_eq!(rx.try_iter().count(), 3);
}

#[test]
fn webhook_gives_up_after_retries_and_on_client_errors() {
    let (url, rx) = server(vec![Some(502), Some(502)]);
    let hook = Webhook::new(&url)
        .unwrap()
        .retries(1)
        .backoff(Duration::from_millis(10));
    let e = hook.post(&serde_json::json!({})).unwrap_err();
    assert!(e.to_string().contains("HTTP 502"), "{e}");
    assert_eq!(rx.try_iter().count(), 2);

    let (url, rx) = server(vec![Some(404), Some(200)]);
    let hook = Webhook::new(&url).unwrap().retries(3);
    assert!(hook.post(&serde_json::json!({})).is_err());
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(rx.try_iter().count(), 1, "4xx must not be retried");
}

#[test]
fn webhook_times_out() {
    let (url, _rx) = server(vec![None, None]);
    let hook = Webhook::new(&url)
        .unwrap()
        .timeout(Duration::from_millis(300))
        .retries(1)
        .backoff(Duration::from_millis(10));
    let t0 = Instant::now();
    let e = hook.post(&serde_json::json!({})).unwrap_err();
    assert!(matches!(e, ActionError::Webhook { .. }));
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    // nothing listening at all
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let hook = Webhook::new(&format!("http://127.0.0.1:{port}/"))
        .unwrap()
        .retries(0);
    assert!(hook
        .post(&serde_json::json!({}))
        .unwrap_err()
        .to_string()
        .contains("connect"));
}

#[test]
fn mail_goes_through_sendmail_without_a_shell() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("sendmail");
    let record = dir.path().join("record");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > {r}.args\ncat > {r}.stdin\n",
            r = record.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let marker = dir.path().join("pwned");
    let mut t = ticket();
    t.matches.push(format!(
        "$(touch {})`touch {}`",
        marker.display(),
        marker.display()
    ));
    let mailer = Mailer::new(
        "bailiff@example.org",
        &["root@example.org", "ops@example.org"],
    )
    .unwrap()
    .program(&fake);
    let (subject, body) = ban_notice("sshd", "gate.example.org", &t);
    let subject = format!("{subject} user {}", t.field("user").unwrap());
    mailer.send(&subject, &body).unwrap();

    let args = std::fs::read_to_string(format!("{}.args", record.display())).unwrap();
    assert_eq!(
        args,
        "-i\n-f\nbailiff@example.org\n--\nroot@example.org\nops@example.org\n"
    );
    let msg = std::fs::read_to_string(format!("{}.stdin", record.display())).unwrap();
    assert_eq!(msg, mailer.message(&subject, &body));
    let headers: Vec<&str> = msg.split("\n\n").next().unwrap().lines().collect();
    assert!(headers
        .iter()
        .any(|h| h.starts_with("Subject: [bailiff] sshd: banned 192.0.2.44")));
    assert!(
        !headers.iter().any(|h| h.starts_with("X-Evil")),
        "header injected: {headers:?}"
    );
    for m in &t.matches {
        assert!(msg.contains(m.as_str()), "match missing: {m}");
    }
    assert!(!marker.exists(), "a command ran");
    assert!(Mailer::new("-oQ/tmp", &["x@y"]).is_err());
    assert!(Mailer::new("a@b", &["x@y, evil@z"]).is_err());

    let failing = Mailer::new("a@b", &["c@d"])
        .unwrap()
        .program(dir.path().join("missing"));
    assert!(failing.send("s", "b").is_err());
}
