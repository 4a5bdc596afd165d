//! Shared test pieces: a small in-memory jail table as a `Handler`, and
//! helpers to start a server on a temp socket and run the real
//! `fail2ban-client`.
#![allow(dead_code)]

use bailiff_control::{
    Command, CommandError, Get, JailGet, JailSet, Server, ServerConfig, Set, Shutdown, Value,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::sync::{Arc, Mutex};

/// One jail of the in-memory table.
#[derive(Debug, Clone, Default)]
pub struct Jail {
    pub banned: Vec<String>,
    pub total_banned: i64,
    pub failed: i64,
    pub total_failed: i64,
    pub files: Vec<String>,
    pub bantime: i64,
    pub findtime: i64,
    pub maxretry: i64,
    pub failregex: Vec<String>,
    pub ignoreip: Vec<String>,
    pub actions: Vec<String>,
}

/// A tiny daemon: jails in a map; `fixed` overrides the next reply.
#[derive(Default)]
pub struct MemHandler {
    pub jails: Mutex<BTreeMap<String, Jail>>,
    /// When set, every command gets this reply (for formatting tests).
    pub fixed: Mutex<Option<Result<Value, CommandError>>>,
    pub shutdown: Shutdown,
    /// The last `reload` received: (jail, options, number of stream commands).
    pub reloaded: Mutex<Option<(Option<String>, bailiff_control::ReloadOptions, usize)>>,
}

impl MemHandler {
    pub fn with_sshd() -> Self {
        let h = MemHandler::default();
        h.jails.lock().unwrap().insert(
            "sshd".into(),
            Jail {
                files: vec!["/var/log/auth.log".into()],
                bantime: 600,
                findtime: 600,
                maxretry: 5,
                failregex: vec!["^Failed password for .* from <HOST>".into()],
                actions: vec!["nftables".into()],
                ..Jail::default()
            },
        );
        h
    }

    fn jail<T>(&self, name: &str, f: impl FnOnce(&mut Jail) -> T) -> Result<T, CommandError> {
        let mut jails = self.jails.lock().unwrap();
        let jail = jails
            .get_mut(name)
            .ok_or_else(|| CommandError::unknown_jail(name))?;
        Ok(f(jail))
    }
}

fn pairs(items: Vec<(&str, Value)>) -> Value {
    Value::List(items.into_iter().map(|(k, v)| Value::pair(k, v)).collect())
}

impl bailiff_control::Handler for MemHandler {
    fn handle(&self, cmd: Command) -> Result<Value, CommandError> {
        if let Some(fixed) = self.fixed.lock().unwrap().clone() {
            return fixed;
        }
        match cmd {
            Command::Ping => Ok(Value::str("pong")),
            Command::Version => Ok(Value::str("1.0.2")),
            Command::Echo(words) => Ok(Value::str_list(words)),
            Command::Reload {
                jail,
                options,
                stream,
            } => {
                *self.reloaded.lock().unwrap() = Some((jail, options, stream.len()));
                Ok(Value::str("OK"))
            }
            Command::Shutdown => {
                self.shutdown.trigger();
                Ok(Value::None)
            }
            Command::Status => {
                let jails = self.jails.lock().unwrap();
                let names: Vec<&str> = jails.keys().map(String::as_str).collect();
                Ok(Value::List(vec![
                    Value::pair("Number of jail", Value::Int(jails.len() as i64)),
                    Value::pair("Jail list", Value::str(names.join(", "))),
                ]))
            }
            Command::JailStatus { jail, .. } => self.jail(&jail, |j| {
                pairs(vec![
                    (
                        "Filter",
                        pairs(vec![
                            ("Currently failed", Value::Int(j.failed)),
                            ("Total failed", Value::Int(j.total_failed)),
                            ("File list", Value::str_list(j.files.clone())),
                        ]),
                    ),
                    (
                        "Actions",
                        pairs(vec![
                            ("Currently banned", Value::Int(j.banned.len() as i64)),
                            ("Total banned", Value::Int(j.total_banned)),
                            ("Banned IP list", Value::str_list(j.banned.clone())),
                        ]),
                    ),
                ])
            }),
            Command::Set(Set::Jail { jail, op }) => match op {
                JailSet::BanIp(ips) => self.jail(&jail, |j| {
                    let mut n = 0;
                    for ip in ips {
                        if !j.banned.contains(&ip) {
                            j.banned.push(ip);
                            j.total_banned += 1;
                            n += 1;
                        }
                    }
                    Value::Int(n)
                }),
                JailSet::UnbanIp { ips, report_absent } => {
                    let mut jails = self.jails.lock().unwrap();
                    let j = jails
                        .get_mut(&jail)
                        .ok_or_else(|| CommandError::unknown_jail(&jail))?;
                    let mut n = 0;
                    for ip in ips {
                        match j.banned.iter().position(|b| *b == ip) {
                            Some(p) => {
                                j.banned.remove(p);
                                n += 1;
                            }
                            None if report_absent => {
                                return Err(CommandError::value(format!("{ip} is not banned")));
                            }
                            None => {}
                        }
                    }
                    Ok(Value::Int(n))
                }
                JailSet::BanTime(t) => {
                    let secs: i64 = t
                        .parse()
                        .map_err(|_| CommandError::value(format!("bad time {t:?}")))?;
                    self.jail(&jail, |j| {
                        j.bantime = secs;
                        Value::Int(secs)
                    })
                }
                JailSet::AddIgnoreIp(ips) => self.jail(&jail, |j| {
                    j.ignoreip.extend(ips);
                    Value::str_list(j.ignoreip.clone())
                }),
                other => Err(CommandError::other(format!(
                    "not supported by the test handler: {other:?}"
                ))),
            },
            Command::Get(Get::Jail { jail, op }) => self.jail(&jail, |j| match op {
                JailGet::BanTime => Ok(Value::Int(j.bantime)),
                JailGet::FindTime => Ok(Value::Int(j.findtime)),
                JailGet::MaxRetry => Ok(Value::Int(j.maxretry)),
                JailGet::LogPath => Ok(Value::str_list(j.files.clone())),
                JailGet::FailRegex => Ok(Value::str_list(j.failregex.clone())),
                JailGet::IgnoreIp => Ok(Value::str_list(j.ignoreip.clone())),
                JailGet::Actions => Ok(Value::str_list(j.actions.clone())),
                JailGet::BanIp { .. } => Ok(Value::str_list(j.banned.clone())),
                JailGet::Banned(ips) if ips.is_empty() => Ok(Value::str_list(j.banned.clone())),
                other => Err(CommandError::other(format!(
                    "not supported by the test handler: {other:?}"
                ))),
            })?,
            Command::UnbanAll => {
                let mut jails = self.jails.lock().unwrap();
                let mut n = 0;
                for j in jails.values_mut() {
                    n += j.banned.len() as i64;
                    j.banned.clear();
                }
                Ok(Value::Int(n))
            }
            Command::Unban(ips) => {
                let mut jails = self.jails.lock().unwrap();
                let mut n = 0;
                for j in jails.values_mut() {
                    let before = j.banned.len();
                    j.banned.retain(|b| !ips.contains(b));
                    n += (before - j.banned.len()) as i64;
                }
                Ok(Value::Int(n))
            }
            Command::Banned(ips) => {
                let jails = self.jails.lock().unwrap();
                if ips.is_empty() {
                    Ok(Value::List(
                        jails
                            .iter()
                            .map(|(name, j)| {
                                Value::Dict(vec![(
                                    Value::str(name.clone()),
                                    Value::str_list(j.banned.clone()),
                                )])
                            })
                            .collect(),
                    ))
                } else {
                    Ok(Value::List(
                        ips.iter()
                            .map(|ip| {
                                Value::str_list(
                                    jails
                                        .iter()
                                        .filter(|(_, j)| j.banned.contains(ip))
                                        .map(|(n, _)| n.clone()),
                                )
                            })
                            .collect(),
                    ))
                }
            }
            _ => Err(CommandError::other("Invalid command")),
        }
    }
}

/// A server with `handler` on a socket in a fresh temp dir.
pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub sock: PathBuf,
    pub server: Option<Server>,
}

impl TestServer {
    pub fn start(handler: Arc<MemHandler>, config: ServerConfig) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("f2b.sock");
        let shutdown = handler.shutdown.clone();
        let server = Server::bind(&sock, config, handler, shutdown).unwrap();
        TestServer {
            dir,
            sock,
            server: Some(server),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown();
        }
    }
}

/// Whether an external tool exists; outside CI a missing tool skips loudly,
/// in CI it fails.
pub fn have_tool(tool: &str) -> bool {
    let found = Process::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{tool} is required in CI but not installed");
        }
        eprintln!("SKIPPED: {tool} not installed; install fail2ban to run this test");
    }
    found
}

/// Run the real `fail2ban-client -s SOCK ARGS...`: (exit code, stdout, stderr).
pub fn f2b_client(sock: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Process::new("fail2ban-client")
        .arg("-s")
        .arg(sock)
        .args(args)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("run fail2ban-client");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
