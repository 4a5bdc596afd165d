//! A deterministic auth.log generator with known properties, for tests and benchmarks.
//!
//! A [`LogSpec`] lists [`Actor`]s: attackers with a timing [`Pattern`] and normal
//! users. [`generate`] writes the log (sshd lines as OpenSSH writes them, rsyslog's
//! RFC 3339 time stamps in UTC, cron and logind noise in between) and returns, per
//! address, the times of the lines fail2ban's stock `sshd` filter (mode `normal`)
//! counts as failures, so a test can check the filter's side and derive the jail's
//! expected bans from the pattern's parameters.
//!
//! Failure lines per attempt: `Failed password for root from A port P ssh2` is one
//! failure ([`AttemptKind::Root`]); an unknown user (`Invalid user x from A port P`
//! followed by `Failed password for invalid user x from A ...`) is two
//! ([`AttemptKind::InvalidUser`]), as fail2ban counts them.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::IpAddr;

/// What one failed attempt writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptKind {
    /// A wrong password for `root`: one failure.
    Root,
    /// An unknown user name: two failures (`Invalid user`, `Failed password`).
    InvalidUser,
}

impl AttemptKind {
    pub fn failures(self) -> u32 {
        match self {
            AttemptKind::Root => 1,
            AttemptKind::InvalidUser => 2,
        }
    }
}

/// When an attacker tries.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// `count` attempts, `interval` seconds apart, from `start` (seconds after the log
    /// starts).
    Burst {
        start: f64,
        count: u32,
        interval: f64,
    },
    /// `bursts` bursts, one every `period` seconds from `start`; each burst is
    /// `per_burst` attempts `gap` seconds apart.
    Periodic {
        start: f64,
        bursts: u32,
        period: f64,
        per_burst: u32,
        gap: f64,
    },
}

impl Pattern {
    /// Attempt times, in seconds after the log start.
    pub fn times(&self) -> Vec<f64> {
        match *self {
            Pattern::Burst {
                start,
                count,
                interval,
            } => (0..count)
                .map(|i| start + f64::from(i) * interval)
                .collect(),
            Pattern::Periodic {
                start,
                bursts,
                period,
                per_burst,
                gap,
            } => (0..bursts)
                .flat_map(|b| {
                    (0..per_burst).map(move |i| start + f64::from(b) * period + f64::from(i) * gap)
                })
                .collect(),
        }
    }
}

/// Someone in the log.
#[derive(Debug, Clone, PartialEq)]
pub enum Actor {
    Attacker {
        addr: IpAddr,
        kind: AttemptKind,
        pattern: Pattern,
    },
    /// A normal user: `logins` successful logins spread over the log, each preceded by
    /// one mistyped password every `typo_every` logins (0: never).
    User {
        addr: IpAddr,
        name: String,
        logins: u32,
        typo_every: u32,
    },
}

/// The whole log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogSpec {
    /// Unix time of the first second of the log.
    pub start: f64,
    /// Length in seconds.
    pub duration: f64,
    pub host: String,
    pub seed: u64,
    /// Noise lines (cron sessions, logind) per hour.
    pub noise_per_hour: u32,
    pub format: TimeFormat,
    pub actors: Vec<Actor>,
}

/// How lines are stamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeFormat {
    /// `2026-11-01T00:00:01.000000+00:00` (rsyslog's high-precision format, Debian 12).
    #[default]
    Rfc3339,
    /// `Nov  1 00:00:01` in UTC, without a year (rsyslog's traditional format): read it
    /// with `logtimezone = UTC` and a "now" after the log.
    Syslog,
}

/// `Mon DD HH:MM:SS` (day padded with a space), UTC.
pub fn syslog_time(t: f64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let full = rfc3339(t);
    let month: usize = full[5..7].parse().unwrap_or(1);
    let day: u32 = full[8..10].parse().unwrap_or(1);
    format!(
        "{} {day:>2} {}",
        MONTHS[month.clamp(1, 12) - 1],
        &full[11..19]
    )
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Written {
    pub lines: u64,
    /// Per address: the times of the lines the sshd filter counts as failures.
    pub failures: BTreeMap<IpAddr, Vec<f64>>,
}

/// splitmix64: small, fast, deterministic.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Ev {
    Attempt(u32, AttemptKind),
    Typo(u32),
    Login(u32),
    Noise,
}

const INVALID_USERS: &[&str] = &[
    "admin", "test", "oracle", "ubuntu", "guest", "postgres", "git", "user",
];

/// `YYYY-MM-DDTHH:MM:SS.ffffff+00:00` (rsyslog's RFC 3339 format, UTC).
pub fn rfc3339(t: f64) -> String {
    let secs = t.floor() as i64;
    let micros = ((t - t.floor()) * 1e6).round().min(999_999.0) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // civil from days (H. Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}+00:00",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Writes the log described by `spec` to `out`, lines in time order.
pub fn generate(spec: &LogSpec, out: &mut dyn Write) -> io::Result<Written> {
    let mut rng = Rng::new(spec.seed);
    let mut events: Vec<(f64, Ev)> = Vec::new();
    for (i, a) in spec.actors.iter().enumerate() {
        let i = i as u32;
        match a {
            Actor::Attacker { kind, pattern, .. } => {
                for t in pattern.times() {
                    if t >= 0.0 && t < spec.duration {
                        events.push((spec.start + t, Ev::Attempt(i, *kind)));
                    }
                }
            }
            Actor::User {
                logins, typo_every, ..
            } => {
                for k in 0..*logins {
                    // spread evenly with jitter, never at the very end
                    let slot = spec.duration / f64::from((*logins).max(1));
                    let t = spec.start + f64::from(k) * slot + rng.unit() * slot * 0.5;
                    if *typo_every > 0 && k % typo_every == 0 {
                        events.push((t, Ev::Typo(i)));
                        events.push((t + 4.0, Ev::Login(i)));
                    } else {
                        events.push((t, Ev::Login(i)));
                    }
                }
            }
        }
    }
    let noise = (spec.duration / 3600.0 * f64::from(spec.noise_per_hour)) as u64;
    for _ in 0..noise {
        events.push((spec.start + rng.unit() * spec.duration, Ev::Noise));
    }
    events.sort_by(|a, b| a.0.total_cmp(&b.0));

    let mut w = Written::default();
    let mut pid: u32 = 1000;
    let host = &spec.host;
    let mut line = |out: &mut dyn Write, t: f64, text: &str| -> io::Result<()> {
        w.lines += 1;
        let stamp = match spec.format {
            TimeFormat::Rfc3339 => rfc3339(t),
            TimeFormat::Syslog => syslog_time(t),
        };
        writeln!(out, "{stamp} {host} {text}")
    };
    let mut failures: BTreeMap<IpAddr, Vec<f64>> = BTreeMap::new();
    for (t, ev) in events {
        pid = if pid >= 60_000 {
            1000
        } else {
            pid + 1 + rng.below(7) as u32
        };
        let port = 1024 + rng.below(64_000);
        match ev {
            Ev::Attempt(i, kind) => {
                let Some(Actor::Attacker { addr, .. }) = spec.actors.get(i as usize) else {
                    continue;
                };
                match kind {
                    AttemptKind::Root => {
                        line(out, t, &format!("sshd[{pid}]: Failed password for root from {addr} port {port} ssh2"))?;
                        failures.entry(*addr).or_default().push(t.floor());
                        line(out, t + 0.4, &format!("sshd[{pid}]: Connection closed by authenticating user root {addr} port {port} [preauth]"))?;
                    }
                    AttemptKind::InvalidUser => {
                        let user = INVALID_USERS[rng.below(INVALID_USERS.len() as u64) as usize];
                        line(
                            out,
                            t,
                            &format!("sshd[{pid}]: Invalid user {user} from {addr} port {port}"),
                        )?;
                        failures.entry(*addr).or_default().push(t.floor());
                        line(out, t + 0.3, &format!("sshd[{pid}]: Failed password for invalid user {user} from {addr} port {port} ssh2"))?;
                        failures.entry(*addr).or_default().push((t + 0.3).floor());
                        line(out, t + 0.5, &format!("sshd[{pid}]: Connection closed by invalid user {user} {addr} port {port} [preauth]"))?;
                    }
                }
            }
            Ev::Typo(i) => {
                let Some(Actor::User { addr, name, .. }) = spec.actors.get(i as usize) else {
                    continue;
                };
                line(
                    out,
                    t,
                    &format!(
                        "sshd[{pid}]: Failed password for {name} from {addr} port {port} ssh2"
                    ),
                )?;
                failures.entry(*addr).or_default().push(t.floor());
            }
            Ev::Login(i) => {
                let Some(Actor::User { addr, name, .. }) = spec.actors.get(i as usize) else {
                    continue;
                };
                line(
                    out,
                    t,
                    &format!(
                        "sshd[{pid}]: Accepted password for {name} from {addr} port {port} ssh2"
                    ),
                )?;
                line(out, t + 0.1, &format!("sshd[{pid}]: pam_unix(sshd:session): session opened for user {name}(uid=1000) by (uid=0)"))?;
            }
            Ev::Noise => {
                if rng.below(4) == 0 {
                    line(
                        out,
                        t,
                        &format!(
                            "systemd-logind[412]: New session {} of user www-data.",
                            rng.below(100_000)
                        ),
                    )?;
                } else {
                    line(out, t, &format!("CRON[{pid}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"))?;
                    line(
                        out,
                        t + 0.2,
                        &format!(
                            "CRON[{pid}]: pam_unix(cron:session): session closed for user root"
                        ),
                    )?;
                }
            }
        }
    }
    w.failures = failures;
    Ok(w)
}

/// A month-like log for an exposed host: `attackers` brute forcers from random
/// networks (bursts of a few to a few hundred attempts), slow attackers, users and
/// noise. Roughly `attackers * 60` lines plus noise.
pub fn exposed_host(start: f64, duration: f64, attackers: u32, seed: u64) -> LogSpec {
    let mut rng = Rng::new(seed ^ 0x5eed);
    let mut actors = Vec::new();
    let addr = |rng: &mut Rng| -> IpAddr {
        // a few crowded networks, many scattered ones
        if rng.below(5) == 0 {
            IpAddr::from([45, 155, 205, 1 + rng.below(250) as u8])
        } else {
            // public-looking: no 10/8, 127/8 (a replay's ignoreip often covers them)
            let mut first = 1 + rng.below(222) as u8;
            if first == 10 || first == 127 {
                first += 1;
            }
            IpAddr::from([
                first,
                rng.below(256) as u8,
                rng.below(256) as u8,
                1 + rng.below(254) as u8,
            ])
        }
    };
    for _ in 0..attackers {
        let start = rng.unit() * duration;
        let kind = if rng.below(3) == 0 {
            AttemptKind::Root
        } else {
            AttemptKind::InvalidUser
        };
        let pattern = match rng.below(10) {
            0..=6 => Pattern::Burst {
                start,
                count: 2 + rng.below(40) as u32,
                interval: 1.0 + rng.unit() * 20.0,
            },
            7 | 8 => Pattern::Periodic {
                start,
                bursts: 2 + rng.below(20) as u32,
                period: 1800.0 + rng.unit() * 7200.0,
                per_burst: 1 + rng.below(6) as u32,
                gap: 5.0 + rng.unit() * 30.0,
            },
            _ => Pattern::Burst {
                start,
                count: 100 + rng.below(400) as u32,
                interval: 0.5 + rng.unit() * 3.0,
            },
        };
        actors.push(Actor::Attacker {
            addr: addr(&mut rng),
            kind,
            pattern,
        });
    }
    for (i, name) in ["alice", "bob", "carol", "deploy"].iter().enumerate() {
        actors.push(Actor::User {
            addr: IpAddr::from([198, 51, 100, 10 + i as u8]),
            name: name.to_string(),
            logins: (duration / 3600.0) as u32,
            typo_every: 7,
        });
    }
    LogSpec {
        start,
        duration,
        host: "web1".into(),
        seed,
        noise_per_hour: 120,
        format: TimeFormat::Rfc3339,
        actors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_agrees_with_jiff() {
        let mut rng = Rng::new(3);
        for _ in 0..2000 {
            let t = (rng.unit() * 4.0e9).floor() + 0.25;
            let ts = jiff::Timestamp::from_second(t as i64).expect("in range");
            let want = format!("{}.250000+00:00", ts.strftime("%Y-%m-%dT%H:%M:%S"));
            assert_eq!(rfc3339(t), want);
        }
    }

    #[test]
    fn syslog_stamps() {
        assert_eq!(syslog_time(1_793_491_201.0), "Nov  1 00:00:01");
        assert_eq!(syslog_time(1_795_435_189.0), "Nov 23 11:59:49");
    }

    #[test]
    fn same_seed_same_log() {
        let spec = exposed_host(1.7e9, 86_400.0, 50, 9);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let wa = generate(&spec, &mut a).expect("write");
        let wb = generate(&spec, &mut b).expect("write");
        assert_eq!(a, b);
        assert_eq!(wa, wb);
        assert_eq!(wa.lines as usize, a.split(|&c| c == b'\n').count() - 1);
    }

    #[test]
    fn pattern_times() {
        let p = Pattern::Periodic {
            start: 10.0,
            bursts: 2,
            period: 100.0,
            per_burst: 3,
            gap: 5.0,
        };
        assert_eq!(p.times(), vec![10.0, 15.0, 20.0, 110.0, 115.0, 120.0]);
    }
}
