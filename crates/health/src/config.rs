//! The `metrics` option: where the `/metrics` endpoint listens, if anywhere.
//!
//! Proposed place: `[Definition] metrics = 127.0.0.1:9191` in `bailiff.conf` /
//! `fail2ban.local` (fail2ban itself has no such option, so fail2ban ignores it).
//! Off by default: empty, `off`, `no`, `false`, `none`, `0` disable it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The option's section and name, for messages.
pub const METRICS_OPTION: &str = "[Definition] metrics";

/// A bad `metrics` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{METRICS_OPTION} = {value:?}: {why} (expected ADDRESS:PORT such as 127.0.0.1:9191, a port alone for 127.0.0.1, or off)")]
pub struct MetricsOptionError {
    pub value: String,
    pub why: &'static str,
}

/// Parse the `metrics` value: `None` when the endpoint is off.
///
/// A port alone (`9191`, `:9191`) and `localhost:PORT` listen on 127.0.0.1 only;
/// IPv6 is written `[::1]:9191`. Host names other than `localhost` are refused (no
/// resolver at start-up).
pub fn parse_metrics_listen(value: &str) -> Result<Option<SocketAddr>, MetricsOptionError> {
    let v = value.trim();
    let err = |why| MetricsOptionError {
        value: value.to_string(),
        why,
    };
    if matches!(
        v.to_ascii_lowercase().as_str(),
        "" | "off" | "no" | "false" | "none" | "0"
    ) {
        return Ok(None);
    }
    let local = |port: &str| {
        port.parse::<u16>()
            .map(|p| Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), p)))
            .map_err(|_| err("the port is not a number from 0 to 65535"))
    };
    if v.bytes().all(|b| b.is_ascii_digit()) {
        return local(v);
    }
    if let Some(port) = v.strip_prefix(':') {
        return local(port);
    }
    if let Some(port) = v.strip_prefix("localhost:") {
        return local(port);
    }
    v.parse::<SocketAddr>().map(Some).map_err(|_| {
        if v.contains(':') {
            err("not an IP address and port")
        } else {
            err("the port is missing")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        let lo = |p| Some(SocketAddr::from(([127, 0, 0, 1], p)));
        let table: &[(&str, Option<Option<SocketAddr>>)] = &[
            ("", Some(None)),
            ("off", Some(None)),
            (" No ", Some(None)),
            ("9191", Some(lo(9191))),
            (":9191", Some(lo(9191))),
            ("localhost:9191", Some(lo(9191))),
            ("127.0.0.1:9191", Some(lo(9191))),
            (
                "0.0.0.0:9100",
                Some(Some(SocketAddr::from(([0, 0, 0, 0], 9100)))),
            ),
            ("[::1]:9191", Some(Some("[::1]:9191".parse().unwrap()))),
            ("127.0.0.1", None),
            ("127.0.0.1:99999", None),
            ("example.org:9191", None),
            ("70000", None),
        ];
        for (v, want) in table {
            match (parse_metrics_listen(v), want) {
                (Ok(got), Some(w)) => assert_eq!(&got, w, "{v:?}"),
                (Err(e), None) => {
                    let m = e.to_string();
                    assert!(m.contains("[Definition] metrics") && m.contains(v), "{m}");
                }
                (got, want) => panic!("{v:?}: got {got:?}, want {want:?}"),
            }
        }
    }
}
