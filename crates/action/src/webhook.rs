//! [`Webhook`]: POST a JSON body to an `http://` URL over a plain TCP connection,
//! with a timeout per attempt and a bounded number of retries.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};

use crate::ticket::Ticket;
use crate::ActionError;

/// A webhook target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    url: String,
    host: String,
    port: u16,
    path: String,
    timeout: Duration,
    retries: u32,
    backoff: Duration,
    headers: Vec<(String, String)>,
}

fn err(url: &str, message: impl Into<String>) -> ActionError {
    ActionError::Webhook {
        url: url.to_string(),
        message: message.into(),
    }
}

fn header_safe(s: &str) -> bool {
    !s.chars().any(|c| c == '\r' || c == '\n' || c == '\0')
}

impl Webhook {
    /// `http://host[:port][/path]`. HTTPS is not supported (put a local relay in front).
    pub fn new(url: &str) -> Result<Webhook, ActionError> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| err(url, "only http:// URLs are supported"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = if let Some(h) = authority.strip_prefix('[') {
            // [v6]:port
            let end = h.find(']').ok_or_else(|| err(url, "bad IPv6 host"))?;
            let port = match &h[end + 1..] {
                "" => 80,
                p => p
                    .strip_prefix(':')
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(|| err(url, "bad port"))?,
            };
            (h[..end].to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().map_err(|_| err(url, "bad port"))?),
                None => (authority.to_string(), 80),
            }
        };
        if host.is_empty() || !header_safe(&host) || !header_safe(path) || path.contains(' ') {
            return Err(err(url, "bad host or path"));
        }
        Ok(Webhook {
            url: url.to_string(),
            host,
            port,
            path: path.to_string(),
            timeout: Duration::from_secs(10),
            retries: 2,
            backoff: Duration::from_millis(200),
            headers: Vec::new(),
        })
    }

    /// Time limit of one attempt (connect + send + response status).
    pub fn timeout(mut self, t: Duration) -> Webhook {
        self.timeout = t;
        self
    }

    /// How many times a failed attempt is repeated (0: one attempt only).
    pub fn retries(mut self, n: u32) -> Webhook {
        self.retries = n;
        self
    }

    /// Pause before the first retry; doubled for each further one.
    pub fn backoff(mut self, d: Duration) -> Webhook {
        self.backoff = d;
        self
    }

    /// An extra request header (e.g. `Authorization`). Refuses CR/LF.
    pub fn header(mut self, name: &str, value: &str) -> Result<Webhook, ActionError> {
        if name.is_empty() || !header_safe(name) || name.contains(':') || !header_safe(value) {
            return Err(err(&self.url, format!("bad header {name:?}")));
        }
        self.headers.push((name.to_string(), value.to_string()));
        Ok(self)
    }

    /// POST `body`; returns the HTTP status of the successful (2xx) attempt. Connection
    /// errors, timeouts and 5xx answers are retried; other statuses are final.
    pub fn post(&self, body: &Json) -> Result<u16, ActionError> {
        let payload = body.to_string();
        let mut last = err(&self.url, "no attempt made");
        let mut pause = self.backoff;
        for attempt in 0..=self.retries {
            if attempt > 0 {
                std::thread::sleep(pause);
                pause *= 2;
            }
            match self.attempt(&payload) {
                Ok(code) if (200..300).contains(&code) => return Ok(code),
                Ok(code) if code >= 500 => last = err(&self.url, format!("HTTP {code}")),
                Ok(code) => return Err(err(&self.url, format!("HTTP {code}"))),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn attempt(&self, payload: &str) -> Result<u16, ActionError> {
        let start = Instant::now();
        let addrs: Vec<_> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| err(&self.url, format!("resolve: {e}")))?
            .collect();
        let mut stream = None;
        let mut cerr = String::from("no address");
        for a in addrs {
            match TcpStream::connect_timeout(&a, self.timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => cerr = e.to_string(),
            }
        }
        let mut s = stream.ok_or_else(|| err(&self.url, format!("connect: {cerr}")))?;
        let left = self
            .timeout
            .saturating_sub(start.elapsed())
            .max(Duration::from_millis(1));
        let _ = s.set_write_timeout(Some(left));
        let _ = s.set_read_timeout(Some(left));
        let host_hdr = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let mut req = format!(
            "POST {} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: bailiff/{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.path,
            host_hdr,
            self.port,
            env!("CARGO_PKG_VERSION"),
            payload.len()
        );
        for (k, v) in &self.headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(payload);
        s.write_all(req.as_bytes())
            .map_err(|e| err(&self.url, format!("send: {e}")))?;
        // read until the status line is complete
        let mut buf = Vec::with_capacity(256);
        let mut chunk = [0u8; 512];
        while !buf.contains(&b'\n') {
            if start.elapsed() >= self.timeout {
                return Err(err(&self.url, "timed out waiting for the response"));
            }
            match s.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(err(&self.url, format!("receive: {e}"))),
            }
            if buf.len() > 8192 {
                break;
            }
        }
        let line = String::from_utf8_lossy(&buf);
        let status = line
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("HTTP/1."))
            .and_then(|l| l.get(2..5))
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| err(&self.url, "no HTTP status in the response"))?;
        Ok(status)
    }
}

/// The JSON body bailiff sends for a ban or unban event.
pub fn ticket_body(event: &str, jail: &str, ticket: &Ticket) -> Json {
    let fields: serde_json::Map<String, Json> = ticket
        .fields
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), Json::String(v.clone())))
        .collect();
    json!({
        "event": event,
        "jail": jail,
        "ip": ticket.ip.map(|i| i.to_string()),
        "family": ticket.family().as_str(),
        "fid": ticket.fid,
        "failures": ticket.failures,
        "time": ticket.time,
        "bantime": ticket.bantime,
        "bancount": ticket.bancount,
        "restored": ticket.restored,
        "matches": ticket.matches,
        "fields": fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let w = Webhook::new("http://127.0.0.1:8080/hook?x=1").unwrap();
        assert_eq!(
            (w.host.as_str(), w.port, w.path.as_str()),
            ("127.0.0.1", 8080, "/hook?x=1")
        );
        let w = Webhook::new("http://example.org").unwrap();
        assert_eq!(
            (w.host.as_str(), w.port, w.path.as_str()),
            ("example.org", 80, "/")
        );
        let w = Webhook::new("http://[::1]:9/p").unwrap();
        assert_eq!((w.host.as_str(), w.port), ("::1", 9));
        for bad in [
            "https://x/",
            "http://:80/",
            "http://h:x/",
            "http://h/a b",
            "ftp://h",
        ] {
            assert!(Webhook::new(bad).is_err(), "{bad}");
        }
        assert!(Webhook::new("http://h/")
            .unwrap()
            .header("X-A", "b\r\nEvil: 1")
            .is_err());
    }
}
