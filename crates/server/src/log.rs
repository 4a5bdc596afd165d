//! bailiff's own log, in fail2ban's line format so that tools reading
//! `fail2ban.log` (the stock `recidive` jail, log watchers) read ours unchanged:
//!
//! ```text
//! 2026-11-23 11:06:30,283 fail2ban.actions        [1234]: NOTICE  [sshd] Ban 192.0.2.1
//! ```
//!
//! (`%(asctime)s %(name)-24s[%(process)d]: %(levelname)-7s %(message)s`.) The target is
//! a file, `STDOUT`, `STDERR` or `SYSLOG` (`/dev/log`, without the time prefix);
//! [`Logger::reopen`] serves `flushlogs` after a rotation.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

/// Log levels, fail2ban's names (NOTICE sits between INFO and WARNING).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    Debug = 10,
    Info = 20,
    Notice = 25,
    Warning = 30,
    Error = 40,
    Critical = 50,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Notice => "NOTICE",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        }
    }

    /// fail2ban's `loglevel` values: names (any case, `WARN` too) or numbers.
    pub fn parse(s: &str) -> Option<Level> {
        let s = s.trim();
        if let Ok(n) = s.parse::<i64>() {
            return Some(match n {
                i64::MIN..=10 => Level::Debug,
                11..=20 => Level::Info,
                21..=25 => Level::Notice,
                26..=30 => Level::Warning,
                31..=40 => Level::Error,
                _ => Level::Critical,
            });
        }
        Some(match s.to_ascii_uppercase().as_str() {
            "DEBUG" | "TRACEDEBUG" | "HEAVYDEBUG" => Level::Debug,
            "INFO" => Level::Info,
            "NOTICE" | "MSG" => Level::Notice,
            "WARNING" | "WARN" => Level::Warning,
            "ERROR" => Level::Error,
            "CRITICAL" | "FATAL" => Level::Critical,
            _ => return None,
        })
    }

    fn from_u8(v: u8) -> Level {
        match v {
            0..=10 => Level::Debug,
            11..=20 => Level::Info,
            21..=25 => Level::Notice,
            26..=30 => Level::Warning,
            31..=40 => Level::Error,
            _ => Level::Critical,
        }
    }
}

/// Where log lines go.
#[derive(Debug)]
enum Sink {
    Stdout,
    Stderr,
    Syslog(Option<UnixDatagram>),
    File(String, Option<File>),
}

/// The process-wide logger (see [`logger`]).
#[derive(Debug)]
pub struct Logger {
    level: AtomicU8,
    sink: Mutex<(String, Sink)>,
}

static LOGGER: Logger = Logger {
    level: AtomicU8::new(Level::Info as u8),
    sink: Mutex::new((String::new(), Sink::Stderr)),
};

/// The process-wide logger.
pub fn logger() -> &'static Logger {
    &LOGGER
}

impl Logger {
    pub fn level(&self) -> Level {
        Level::from_u8(self.level.load(Ordering::Relaxed))
    }

    pub fn set_level(&self, l: Level) {
        self.level.store(l as u8, Ordering::Relaxed);
    }

    pub fn enabled(&self, l: Level) -> bool {
        l >= self.level()
    }

    /// The `logtarget` as set (`STDERR` before any is set).
    pub fn target(&self) -> String {
        let g = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        if g.0.is_empty() {
            "STDERR".into()
        } else {
            g.0.clone()
        }
    }

    /// Set `logtarget`: `STDOUT`, `STDERR`, `SYSLOG` or a file path (opened for append,
    /// created 0600 if missing).
    pub fn set_target(&self, target: &str) -> std::io::Result<()> {
        let t = target.trim();
        let sink = match t.to_ascii_uppercase().as_str() {
            "STDOUT" => Sink::Stdout,
            "STDERR" | "" => Sink::Stderr,
            // The journal reads /dev/log too.
            "SYSLOG" | "SYSTEMD-JOURNAL" => Sink::Syslog(open_syslog()),
            _ => Sink::File(t.to_string(), Some(open_log(t)?)),
        };
        let mut g = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        *g = (t.to_string(), sink);
        Ok(())
    }

    /// `flushlogs`: reopen the log file (after logrotate moved it away). Returns
    /// `rolled over` for a file target, `flushed` otherwise, as fail2ban replies.
    pub fn reopen(&self) -> &'static str {
        let mut g = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        match &mut g.1 {
            Sink::File(path, f) => {
                *f = open_log(path).ok();
                "rolled over"
            }
            Sink::Syslog(s) => {
                *s = open_syslog();
                "flushed"
            }
            _ => "flushed",
        }
    }

    /// Write one record from logger `name` (`fail2ban.actions` ...).
    pub fn log(&self, name: &str, level: Level, msg: &str) {
        if !self.enabled(level) {
            return;
        }
        let pid = std::process::id();
        let body = format!("{name:<24}[{pid}]: {:<7} {msg}", level.name());
        let mut g = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        match &mut g.1 {
            Sink::Stdout => {
                let _ = writeln!(std::io::stdout().lock(), "{} {body}", timestamp());
            }
            Sink::Stderr => {
                let _ = writeln!(std::io::stderr().lock(), "{} {body}", timestamp());
            }
            Sink::File(_, Some(f)) => {
                let _ = f.write_all(format!("{} {body}\n", timestamp()).as_bytes());
            }
            Sink::File(_, None) => {
                let _ = writeln!(std::io::stderr().lock(), "{} {body}", timestamp());
            }
            Sink::Syslog(Some(s)) => {
                // facility daemon (3), severity from the level
                let sev = match level {
                    Level::Debug => 7,
                    Level::Info => 6,
                    Level::Notice => 5,
                    Level::Warning => 4,
                    Level::Error => 3,
                    Level::Critical => 2,
                };
                let _ = s.send(format!("<{}>{body}", 3 * 8 + sev).as_bytes());
            }
            Sink::Syslog(None) => {}
        }
    }
}

impl Logger {
    /// Several messages of one level and logger name at once: to a file in one
    /// write (a batch of bans logs thousands of lines), elsewhere one by one.
    pub fn log_many(&self, name: &str, level: Level, msgs: impl IntoIterator<Item = String>) {
        if !self.enabled(level) {
            return;
        }
        let mut g = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        if let Sink::File(_, Some(f)) = &mut g.1 {
            use std::fmt::Write as _;
            let head = format!(
                "{} {name:<24}[{}]: {:<7} ",
                timestamp(),
                std::process::id(),
                level.name()
            );
            let mut buf = String::new();
            for m in msgs {
                let _ = writeln!(buf, "{head}{m}");
            }
            let _ = f.write_all(buf.as_bytes());
            return;
        }
        drop(g);
        for m in msgs {
            self.log(name, level, &m);
        }
    }
}

fn open_log(path: &str) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

fn open_syslog() -> Option<UnixDatagram> {
    let s = UnixDatagram::unbound().ok()?;
    s.connect("/dev/log").ok()?;
    Some(s)
}

/// `2026-11-23 11:06:30,283` in the local zone (Python logging's `asctime`).
pub fn timestamp() -> String {
    let now = jiff::Zoned::now();
    format!(
        "{},{:03}",
        now.strftime("%Y-%m-%d %H:%M:%S"),
        now.millisecond()
    )
}

/// Log through the process-wide logger: `log!(Level::Notice, "fail2ban.actions", "...")`.
#[macro_export]
macro_rules! log {
    ($level:expr, $name:expr, $($arg:tt)+) => {{
        let l = $crate::log::logger();
        if l.enabled($level) {
            l.log($name, $level, &format!($($arg)+));
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        assert_eq!(Level::parse("notice"), Some(Level::Notice));
        assert_eq!(Level::parse("WARN"), Some(Level::Warning));
        assert_eq!(Level::parse("40"), Some(Level::Error));
        assert_eq!(Level::parse("bogus"), None);
        assert!(Level::Notice > Level::Info && Level::Notice < Level::Warning);
    }

    #[test]
    fn line_format_matches_fail2ban_columns() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.log");
        let l = Logger {
            level: AtomicU8::new(Level::Info as u8),
            sink: Mutex::new((String::new(), Sink::Stderr)),
        };
        l.set_target(p.to_str().unwrap()).unwrap();
        l.log("fail2ban.actions", Level::Notice, "[sshd] Ban 192.0.2.1");
        l.log("fail2ban.actions", Level::Debug, "hidden");
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1);
        let line = lines[0];
        // date, time with milliseconds, then the padded logger name
        assert_eq!(&line[4..5], "-");
        assert_eq!(&line[19..20], ",");
        let rest = &line[24..];
        let want = format!(
            "fail2ban.actions        [{}]: NOTICE  [sshd] Ban 192.0.2.1",
            std::process::id()
        );
        assert_eq!(rest, want);
    }
}
