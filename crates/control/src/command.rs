//! The request list, typed: [`Command`] and its parser [`Command::parse`].
//!
//! Every command fail2ban 1.0's server understands is here, including the
//! undocumented ones the client itself sends (`multi-set`, `server-stream`,
//! `server-status`, `sleep`, `config-error`, `set allowipv6`, `set thread`,
//! `set|get <JAIL> prefregex|logtimezone|bantime.<opt>`, `get <JAIL> ignorecache`).
//!
//! Arguments arrive as Python values; the client sends numbers as `int`
//! (`['set', 'sshd', 'maxretry', 5]`), so scalar arguments are read through
//! Python's `str()`.

use crate::error::CommandError;
use crate::value::Value;

/// Options of `reload` (and `restart <JAIL>`, which the client turns into
/// `reload --restart <JAIL>`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadOptions {
    /// `--restart`: stop and start the affected jails.
    pub restart: bool,
    /// `--unban`: also unban their IPs.
    pub unban: bool,
    /// `--if-exists`: do not fail when the jail is not configured.
    pub if_exists: bool,
}

/// A server command, as sent by `fail2ban-client` (or `bailiff client`).
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `ping` → `"pong"`
    Ping,
    /// `version`
    Version,
    /// `help` (the real server has no reply for it; kept for completeness)
    Help,
    /// `echo ...` → the arguments back
    Echo(Vec<String>),
    /// `stop` with no jail: stop every jail and the server.
    Shutdown,
    /// `stop --all`: stop every jail, keep the server.
    StopAll,
    /// `stop <JAIL>`: stop and remove the jail.
    StopJail(String),
    /// `start <JAIL>`
    StartJail(String),
    /// `add <JAIL> [<BACKEND>]` (backend defaults to `auto`)
    Add {
        /// jail name
        jail: String,
        /// backend, e.g. `auto`, `polling`, `systemd`
        backend: String,
    },
    /// `reload <JAIL>|--all <OPTIONS> <STREAM>` as the client sends it: the
    /// jail (or `None` for `--all`), options, and the configuration stream.
    Reload {
        /// `None` means `--all`
        jail: Option<String>,
        /// `--restart`, `--unban`, `--if-exists`
        options: ReloadOptions,
        /// the commands that configure the reloaded jails
        stream: Vec<Command>,
    },
    /// `status`
    Status,
    /// `status <JAIL> [FLAVOR]` (flavors: `basic`, `short`, `cymru`, ...)
    JailStatus {
        /// jail name
        jail: String,
        /// optional flavor
        flavor: Option<String>,
    },
    /// `unban --all`
    UnbanAll,
    /// `unban <IP> ...` (all jails and the database)
    Unban(Vec<String>),
    /// `banned [<IP> ...]`
    Banned(Vec<String>),
    /// `flushlogs`
    FlushLogs,
    /// `server-status` (hidden; the client sends it after starting the server)
    ServerStatus,
    /// `server-stream <STREAM>` (hidden): a configuration stream to run
    ServerStream(Vec<Command>),
    /// `sleep <SECONDS>` (hidden)
    Sleep(f64),
    /// `config-error <MESSAGE>` (hidden): the client reports a config error to log
    ConfigError(String),
    /// `set ...`
    Set(Set),
    /// `multi-set ...` (hidden): a `set` whose value is a list (several
    /// regexes, or all properties of an action at once)
    MultiSet(Set),
    /// `get ...`
    Get(Get),
}

/// `set` commands.
#[derive(Debug, Clone, PartialEq)]
pub enum Set {
    /// `set loglevel <LEVEL>`
    LogLevel(String),
    /// `set logtarget <TARGET>`
    LogTarget(String),
    /// `set syslogsocket auto|<SOCKET>`
    SyslogSocket(String),
    /// `set allowipv6 <auto|yes|no>` (hidden)
    AllowIpv6(String),
    /// `set thread <OPTIONS>` (hidden; a dict such as `{'stacksize': 0}`)
    Thread(Value),
    /// `set dbfile <FILE>` (`None` disables)
    DbFile(String),
    /// `set dbmaxmatches <INT>`
    DbMaxMatches(i64),
    /// `set dbpurgeage <TIME>`
    DbPurgeAge(String),
    /// `set <JAIL> ...`
    Jail {
        /// jail name
        jail: String,
        /// what to set
        op: JailSet,
    },
}

/// `set <JAIL> ...` commands.
#[derive(Debug, Clone, PartialEq)]
pub enum JailSet {
    /// `idle on|off`
    Idle(bool),
    /// `ignoreself true|false`
    IgnoreSelf(String),
    /// `addignoreip <IP> ...`
    AddIgnoreIp(Vec<String>),
    /// `delignoreip <IP>`
    DelIgnoreIp(String),
    /// `ignorecommand <VALUE>`
    IgnoreCommand(String),
    /// `ignorecache <VALUE>`
    IgnoreCache(String),
    /// `addlogpath <FILE> [tail|head]`
    AddLogPath {
        /// file path
        path: String,
        /// start at the end of the file
        tail: bool,
    },
    /// `dellogpath <FILE>`
    DelLogPath(String),
    /// `logencoding <ENCODING>`
    LogEncoding(String),
    /// `addjournalmatch <MATCH> ...` (terms, `+` separates alternatives)
    AddJournalMatch(Vec<String>),
    /// `deljournalmatch <MATCH> ...`
    DelJournalMatch(Vec<String>),
    /// `prefregex <REGEX>` (hidden)
    PrefRegex(String),
    /// `addfailregex <REGEX>`; with `multi-set`, several at once
    AddFailRegex(Vec<String>),
    /// `delfailregex <INDEX>`
    DelFailRegex(i64),
    /// `addignoreregex <REGEX>`; with `multi-set`, several at once
    AddIgnoreRegex(Vec<String>),
    /// `delignoreregex <INDEX>`
    DelIgnoreRegex(i64),
    /// `usedns <VALUE>`
    UseDns(String),
    /// `findtime <TIME>`
    FindTime(String),
    /// `bantime <TIME>`
    BanTime(String),
    /// `bantime.<OPTION> <VALUE>` (hidden; `increment`, `factor`, `maxtime`, ...)
    BanTimeExtra {
        /// the part after `bantime.`
        option: String,
        /// its value
        value: String,
    },
    /// `datepattern <PATTERN>`
    DatePattern(String),
    /// `logtimezone <TZ>` (hidden)
    LogTimeZone(String),
    /// `maxretry <INT>`
    MaxRetry(i64),
    /// `maxmatches <INT>`
    MaxMatches(i64),
    /// `maxlines <INT>`
    MaxLines(i64),
    /// `attempt <IP> [<failure> ...]`
    Attempt {
        /// the IP
        ip: String,
        /// matched lines to record
        failures: Vec<String>,
    },
    /// `banip <IP> ...`
    BanIp(Vec<String>),
    /// `unbanip [--report-absent] <IP> ...`
    UnbanIp {
        /// the IPs
        ips: Vec<String>,
        /// fail for IPs that are not banned
        report_absent: bool,
    },
    /// `addaction <ACT> [<PYTHONFILE> <JSONKWARGS>]`
    AddAction {
        /// action name
        name: String,
        /// Python action file and its JSON keyword arguments
        python: Option<(String, String)>,
    },
    /// `delaction <ACT>`
    DelAction(String),
    /// `action <ACT> <PROPERTY|METHOD> [<VALUE>|<JSONKWARGS>]`: set a property
    /// (`actionban`, `timeout`, any tag) or call a method with JSON kwargs.
    Action {
        /// action name
        action: String,
        /// property or method
        key: String,
        /// value or JSON kwargs
        value: Option<String>,
    },
    /// `multi-set <JAIL> action <ACT> [[<KEY>, <VALUE>], ...]`: all properties at once.
    ActionMulti {
        /// action name
        action: String,
        /// `(key, value)`, values as sent (mostly `str`, but e.g.
        /// `actionstart_on_demand` comes as a `bool`); a method call may come
        /// without a value.
        items: Vec<(String, Option<Value>)>,
    },
}

/// `get` commands.
#[derive(Debug, Clone, PartialEq)]
pub enum Get {
    /// `get loglevel`
    LogLevel,
    /// `get logtarget`
    LogTarget,
    /// `get syslogsocket`
    SyslogSocket,
    /// `get thread` (hidden)
    Thread,
    /// `get dbfile`
    DbFile,
    /// `get dbmaxmatches`
    DbMaxMatches,
    /// `get dbpurgeage`
    DbPurgeAge,
    /// `get <JAIL> ...`
    Jail {
        /// jail name
        jail: String,
        /// what to get
        op: JailGet,
    },
}

/// `get <JAIL> ...` commands.
#[derive(Debug, Clone, PartialEq)]
pub enum JailGet {
    /// `banned [<IP> ...]`
    Banned(Vec<String>),
    /// `banip [<SEP>|--with-time]`; the separator only matters to the client
    BanIp {
        /// `--with-time`
        with_time: bool,
    },
    /// `logpath`
    LogPath,
    /// `logencoding`
    LogEncoding,
    /// `journalmatch`
    JournalMatch,
    /// `ignoreself`
    IgnoreSelf,
    /// `ignoreip`
    IgnoreIp,
    /// `ignorecommand`
    IgnoreCommand,
    /// `ignorecache` (hidden)
    IgnoreCache,
    /// `prefregex` (hidden)
    PrefRegex,
    /// `failregex`
    FailRegex,
    /// `ignoreregex`
    IgnoreRegex,
    /// `datepattern`
    DatePattern,
    /// `logtimezone` (hidden)
    LogTimeZone,
    /// `usedns`
    UseDns,
    /// `findtime`
    FindTime,
    /// `bantime`
    BanTime,
    /// `bantime.<OPTION>` (hidden)
    BanTimeExtra(String),
    /// `maxretry`
    MaxRetry,
    /// `maxmatches`
    MaxMatches,
    /// `maxlines`
    MaxLines,
    /// `actions`
    Actions,
    /// `action <ACT> <PROPERTY>`
    Action {
        /// action name
        action: String,
        /// property
        property: String,
    },
    /// `actionproperties <ACT>`
    ActionProperties(String),
    /// `actionmethods <ACT>`
    ActionMethods(String),
}

/// Cursor over the request list.
struct Args<'a> {
    items: &'a [Value],
    pos: usize,
    /// the command so far, for error messages
    context: String,
}

impl<'a> Args<'a> {
    fn new(items: &'a [Value]) -> Self {
        Args {
            items,
            pos: 0,
            context: String::new(),
        }
    }

    fn missing(&self, what: &str) -> CommandError {
        CommandError::invalid(format!("missing {what} after {:?}", self.context.trim()))
    }

    fn next_value(&mut self, what: &str) -> Result<&'a Value, CommandError> {
        let v = self.items.get(self.pos).ok_or_else(|| self.missing(what))?;
        self.pos += 1;
        Ok(v)
    }

    fn next(&mut self, what: &str) -> Result<String, CommandError> {
        let v = self.next_value(what)?;
        let s = scalar(v).ok_or_else(|| {
            CommandError::value(format!("{what} must be a string, got {}", v.py_repr()))
        })?;
        self.context.push(' ');
        self.context.push_str(&s);
        Ok(s)
    }

    fn peek(&self) -> Option<String> {
        self.items.get(self.pos).and_then(scalar)
    }

    fn rest(&mut self, what: &str) -> Result<Vec<String>, CommandError> {
        let mut out = Vec::new();
        while self.pos < self.items.len() {
            out.push(self.next(what)?);
        }
        Ok(out)
    }

    fn int(&mut self, what: &str) -> Result<i64, CommandError> {
        let v = self.next_value(what)?;
        match v {
            Value::Int(i) => Ok(*i),
            Value::Bool(b) => Ok(i64::from(*b)),
            Value::Str(s) => s.trim().parse().map_err(|_| {
                CommandError::value(format!("invalid literal for int() with base 10: {s:?}"))
            }),
            other => Err(CommandError::value(format!(
                "{what} must be an integer, got {}",
                other.py_repr()
            ))),
        }
    }

    fn done(&self) -> Result<(), CommandError> {
        if self.pos < self.items.len() {
            let extra: Vec<String> = self.items[self.pos..].iter().map(Value::py_repr).collect();
            return Err(CommandError::invalid(format!(
                "unexpected argument(s) after {:?}: {}",
                self.context.trim(),
                extra.join(", ")
            )));
        }
        Ok(())
    }

    /// A nested list (a stream, the regex list of `multi-set`).
    fn list(&mut self, what: &str) -> Result<&'a [Value], CommandError> {
        match self.next_value(what)? {
            Value::List(v) | Value::Tuple(v) => Ok(v),
            other => Err(CommandError::value(format!(
                "{what} must be a list, got {}",
                other.py_repr()
            ))),
        }
    }
}

/// Python's `str()` of a scalar argument; `None` for containers.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => Some(s.clone()),
        Value::Int(_) | Value::BigInt(_) | Value::Float(_) | Value::Bool(_) | Value::None => {
            Some(v.py_str())
        }
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

fn parse_stream(items: &[Value]) -> Result<Vec<Command>, CommandError> {
    items
        .iter()
        .enumerate()
        .map(|(n, item)| match item {
            Value::List(v) | Value::Tuple(v) => {
                Command::parse(v).map_err(|e| e.context(format!("stream command {n}")))
            }
            other => Err(CommandError::value(format!(
                "stream command {n} is not a list: {}",
                other.py_repr()
            ))),
        })
        .collect()
}

impl Command {
    /// Parse a request list (`['status', 'sshd']`) into a command.
    pub fn parse(request: &[Value]) -> Result<Command, CommandError> {
        let mut a = Args::new(request);
        let name = match a.peek() {
            Some(n) => n,
            None if request.is_empty() => return Err(CommandError::invalid("empty command")),
            None => return Err(CommandError::value("command name must be a string")),
        };
        a.next("command")?;
        let cmd = match name.as_str() {
            "ping" => {
                // `fail2ban-client ping <TIMEOUT>` passes the timeout along.
                a.rest("argument")?;
                Command::Ping
            }
            "version" => Command::Version,
            "help" => Command::Help,
            "echo" => Command::Echo(a.rest("argument")?),
            "server-status" => Command::ServerStatus,
            "flushlogs" => Command::FlushLogs,
            "status" => match a.peek() {
                None if request.len() == 1 => Command::Status,
                _ => {
                    let jail = a.next("jail")?;
                    let flavor = if a.pos < request.len() {
                        Some(a.next("flavor")?)
                    } else {
                        None
                    };
                    Command::JailStatus { jail, flavor }
                }
            },
            "start" => Command::StartJail(a.next("jail")?),
            "stop" => match request.len() {
                1 => Command::Shutdown,
                _ => {
                    let jail = a.next("jail")?;
                    if jail == "--all" {
                        Command::StopAll
                    } else {
                        Command::StopJail(jail)
                    }
                }
            },
            "add" => {
                let jail = a.next("jail")?;
                if jail == "--all" {
                    return Err(CommandError::other(format!("Reserved name {jail:?}")));
                }
                let backend = if a.pos < request.len() {
                    a.next("backend")?
                } else {
                    "auto".into()
                };
                Command::Add { jail, backend }
            }
            "reload" => {
                let target = a.next("jail or --all")?;
                let mut options = ReloadOptions::default();
                for opt in a.list("reload options")? {
                    match scalar(opt).as_deref() {
                        Some("--restart") => options.restart = true,
                        Some("--unban") => options.unban = true,
                        Some("--if-exists") => options.if_exists = true,
                        _ => {
                            return Err(CommandError::value(format!(
                                "unknown reload option {}",
                                opt.py_repr()
                            )))
                        }
                    }
                }
                let stream = parse_stream(a.list("configuration stream")?)?;
                let jail = if target == "--all" {
                    None
                } else {
                    Some(target)
                };
                Command::Reload {
                    jail,
                    options,
                    stream,
                }
            }
            "unban" => {
                let ips = a.rest("IP")?;
                match ips.as_slice() {
                    [] => return Err(CommandError::other("Invalid command")),
                    [all] if all == "--all" => Command::UnbanAll,
                    _ => Command::Unban(ips),
                }
            }
            "banned" => Command::Banned(a.rest("IP")?),
            "server-stream" => {
                Command::ServerStream(parse_stream(a.list("configuration stream")?)?)
            }
            "sleep" => {
                let s = a.next("seconds")?;
                let secs: f64 = s.trim().parse().map_err(|_| {
                    CommandError::value(format!("could not convert string to float: {s:?}"))
                })?;
                if !secs.is_finite() || secs < 0.0 {
                    return Err(CommandError::value(format!("invalid sleep time {s:?}")));
                }
                Command::Sleep(secs)
            }
            "config-error" => Command::ConfigError(a.next("message")?),
            "set" => Command::Set(parse_set(&mut a, false)?),
            "multi-set" => Command::MultiSet(parse_set(&mut a, true)?),
            "get" => Command::Get(parse_get(&mut a)?),
            _ => return Err(CommandError::other("Invalid command")),
        };
        a.done()?;
        Ok(cmd)
    }
}

fn parse_set(a: &mut Args<'_>, multi: bool) -> Result<Set, CommandError> {
    let name = a.next("setting or jail")?;
    Ok(match name.as_str() {
        "loglevel" => Set::LogLevel(a.next("level")?),
        "logtarget" => Set::LogTarget(a.next("target")?),
        "syslogsocket" => Set::SyslogSocket(a.next("socket")?),
        "allowipv6" => Set::AllowIpv6(a.next("value")?),
        "thread" => Set::Thread(a.next_value("thread options")?.clone()),
        "dbfile" => Set::DbFile(a.next("file")?),
        "dbmaxmatches" => Set::DbMaxMatches(a.int("dbmaxmatches")?),
        "dbpurgeage" => Set::DbPurgeAge(a.next("age")?),
        _ => Set::Jail {
            op: parse_jail_set(a, multi)?,
            jail: name,
        },
    })
}

fn one_or_list(a: &mut Args<'_>, multi: bool, what: &str) -> Result<Vec<String>, CommandError> {
    if multi {
        if let Some(Value::List(_) | Value::Tuple(_)) = a.items.get(a.pos) {
            let items = a.list(what)?;
            return items
                .iter()
                .map(|v| {
                    scalar(v).ok_or_else(|| CommandError::value(format!("{what} must be a string")))
                })
                .collect();
        }
    }
    Ok(vec![a.next(what)?])
}

fn parse_jail_set(a: &mut Args<'_>, multi: bool) -> Result<JailSet, CommandError> {
    let what = a.next("jail setting")?;
    Ok(match what.as_str() {
        "idle" => match a.next("on|off")?.as_str() {
            "on" => JailSet::Idle(true),
            "off" => JailSet::Idle(false),
            _ => {
                return Err(CommandError::other(
                    "Invalid idle option, must be 'on' or 'off'",
                ))
            }
        },
        "ignoreself" => JailSet::IgnoreSelf(a.next("value")?),
        "addignoreip" => {
            let ips = a.rest("IP")?;
            if ips.is_empty() {
                return Err(a.missing("IP"));
            }
            JailSet::AddIgnoreIp(ips)
        }
        "delignoreip" => JailSet::DelIgnoreIp(a.next("IP")?),
        "ignorecommand" => JailSet::IgnoreCommand(a.next("command")?),
        "ignorecache" => JailSet::IgnoreCache(a.next("value")?),
        "addlogpath" => {
            let path = a.next("file")?;
            let tail = match a.items.len() - a.pos {
                0 => false,
                1 => match a.next("head|tail")?.to_lowercase().as_str() {
                    "tail" => true,
                    "head" => false,
                    _ => return Err(CommandError::value("File option must be 'head' or 'tail'")),
                },
                _ => return Err(CommandError::value("Only one file can be added at a time")),
            };
            JailSet::AddLogPath { path, tail }
        }
        "dellogpath" => JailSet::DelLogPath(a.next("file")?),
        "logencoding" => JailSet::LogEncoding(a.next("encoding")?),
        "addjournalmatch" => JailSet::AddJournalMatch(a.rest("match")?),
        "deljournalmatch" => JailSet::DelJournalMatch(a.rest("match")?),
        "prefregex" => JailSet::PrefRegex(a.next("regex")?),
        "addfailregex" => JailSet::AddFailRegex(one_or_list(a, multi, "regex")?),
        "delfailregex" => JailSet::DelFailRegex(a.int("index")?),
        "addignoreregex" => JailSet::AddIgnoreRegex(one_or_list(a, multi, "regex")?),
        "delignoreregex" => JailSet::DelIgnoreRegex(a.int("index")?),
        "usedns" => JailSet::UseDns(a.next("value")?),
        "findtime" => JailSet::FindTime(a.next("time")?),
        "bantime" => JailSet::BanTime(a.next("time")?),
        "datepattern" => JailSet::DatePattern(a.next("pattern")?),
        "logtimezone" => JailSet::LogTimeZone(a.next("time zone")?),
        "maxretry" => JailSet::MaxRetry(a.int("maxretry")?),
        "maxmatches" => JailSet::MaxMatches(a.int("maxmatches")?),
        "maxlines" => JailSet::MaxLines(a.int("maxlines")?),
        "attempt" => {
            let ip = a.next("IP")?;
            JailSet::Attempt {
                ip,
                failures: a.rest("failure")?,
            }
        }
        "banip" => JailSet::BanIp(a.rest("IP")?),
        "unbanip" => {
            let first = a.next("IP")?;
            if first == "--report-absent" {
                JailSet::UnbanIp {
                    ips: a.rest("IP")?,
                    report_absent: true,
                }
            } else {
                let mut ips = vec![first];
                ips.extend(a.rest("IP")?);
                JailSet::UnbanIp {
                    ips,
                    report_absent: false,
                }
            }
        }
        "addaction" => {
            let name = a.next("action")?;
            let python = if a.pos < a.items.len() {
                let file = a.next("python file")?;
                let kwargs = a.next("JSON kwargs")?;
                Some((file, kwargs))
            } else {
                None
            };
            JailSet::AddAction { name, python }
        }
        "delaction" => JailSet::DelAction(a.next("action")?),
        "action" => {
            let action = a.next("action")?;
            if multi {
                let mut items = Vec::new();
                for item in a.list("action properties")? {
                    let pair = item.as_seq().ok_or_else(|| {
                        CommandError::value("action property must be a [key, value] list")
                    })?;
                    let key = pair
                        .first()
                        .and_then(scalar)
                        .ok_or_else(|| CommandError::value("action property without a name"))?;
                    let value = pair.get(1).cloned();
                    items.push((key, value));
                }
                JailSet::ActionMulti { action, items }
            } else {
                let key = a.next("property or method")?;
                let value = if a.pos < a.items.len() {
                    Some(a.next("value")?)
                } else {
                    None
                };
                JailSet::Action { action, key, value }
            }
        }
        other => {
            if let Some(option) = other.strip_prefix("bantime.") {
                JailSet::BanTimeExtra {
                    option: option.to_owned(),
                    value: a.next("value")?,
                }
            } else {
                return Err(CommandError::other(format!(
                    "Invalid command {other:?} (no set action or not yet implemented)"
                )));
            }
        }
    })
}

fn parse_get(a: &mut Args<'_>) -> Result<Get, CommandError> {
    let name = a.next("setting or jail")?;
    Ok(match name.as_str() {
        "loglevel" => Get::LogLevel,
        "logtarget" => Get::LogTarget,
        "syslogsocket" => Get::SyslogSocket,
        "thread" => Get::Thread,
        "dbfile" => Get::DbFile,
        "dbmaxmatches" => Get::DbMaxMatches,
        "dbpurgeage" => Get::DbPurgeAge,
        _ => {
            let what = a.next("jail setting")?;
            let op = match what.as_str() {
                "banned" => JailGet::Banned(a.rest("IP")?),
                "banip" => {
                    // The optional separator is the client's business.
                    let with_time = a
                        .rest("separator")?
                        .first()
                        .is_some_and(|s| s == "--with-time");
                    JailGet::BanIp { with_time }
                }
                "logpath" => JailGet::LogPath,
                "logencoding" => JailGet::LogEncoding,
                "journalmatch" => JailGet::JournalMatch,
                "ignoreself" => JailGet::IgnoreSelf,
                "ignoreip" => JailGet::IgnoreIp,
                "ignorecommand" => JailGet::IgnoreCommand,
                "ignorecache" => JailGet::IgnoreCache,
                "prefregex" => JailGet::PrefRegex,
                "failregex" => JailGet::FailRegex,
                "ignoreregex" => JailGet::IgnoreRegex,
                "datepattern" => JailGet::DatePattern,
                "logtimezone" => JailGet::LogTimeZone,
                "usedns" => JailGet::UseDns,
                "findtime" => JailGet::FindTime,
                "bantime" => JailGet::BanTime,
                "maxretry" => JailGet::MaxRetry,
                "maxmatches" => JailGet::MaxMatches,
                "maxlines" => JailGet::MaxLines,
                "actions" => JailGet::Actions,
                "action" => {
                    let action = a.next("action")?;
                    let property = a.next("property")?;
                    JailGet::Action { action, property }
                }
                "actionproperties" => JailGet::ActionProperties(a.next("action")?),
                "actionmethods" => JailGet::ActionMethods(a.next("action")?),
                other => match other.strip_prefix("bantime.") {
                    Some(opt) => JailGet::BanTimeExtra(opt.to_owned()),
                    None => {
                        return Err(CommandError::other(
                            "Invalid command (no get action or not yet implemented)",
                        ))
                    }
                },
            };
            Get::Jail { jail: name, op }
        }
    })
}

fn s(x: &str) -> Value {
    Value::Str(x.to_owned())
}

fn words(items: &[&str]) -> Vec<Value> {
    items.iter().map(|w| s(w)).collect()
}

impl Command {
    /// The request list that [`Command::parse`] reads back as this command
    /// (what a client sends for it). Numbers go as `int`, nested streams as
    /// lists, as `fail2ban-client` sends them.
    pub fn to_request(&self) -> Vec<Value> {
        let mut r: Vec<Value> = match self {
            Command::Ping => words(&["ping"]),
            Command::Version => words(&["version"]),
            Command::Help => words(&["help"]),
            Command::Echo(w) => std::iter::once(s("echo"))
                .chain(w.iter().map(|x| s(x)))
                .collect(),
            Command::Shutdown => words(&["stop"]),
            Command::StopAll => words(&["stop", "--all"]),
            Command::StopJail(j) => words(&["stop", j]),
            Command::StartJail(j) => words(&["start", j]),
            Command::Add { jail, backend } => words(&["add", jail, backend]),
            Command::Reload {
                jail,
                options,
                stream,
            } => {
                let mut opts = Vec::new();
                if options.restart {
                    opts.push(s("--restart"));
                }
                if options.unban {
                    opts.push(s("--unban"));
                }
                if options.if_exists {
                    opts.push(s("--if-exists"));
                }
                vec![
                    s("reload"),
                    s(jail.as_deref().unwrap_or("--all")),
                    Value::List(opts),
                    Value::List(stream.iter().map(|c| Value::List(c.to_request())).collect()),
                ]
            }
            Command::Status => words(&["status"]),
            Command::JailStatus { jail, flavor } => {
                let mut v = words(&["status", jail]);
                v.extend(flavor.iter().map(|f| s(f)));
                v
            }
            Command::UnbanAll => words(&["unban", "--all"]),
            Command::Unban(ips) => std::iter::once(s("unban"))
                .chain(ips.iter().map(|x| s(x)))
                .collect(),
            Command::Banned(ips) => std::iter::once(s("banned"))
                .chain(ips.iter().map(|x| s(x)))
                .collect(),
            Command::FlushLogs => words(&["flushlogs"]),
            Command::ServerStatus => words(&["server-status"]),
            Command::ServerStream(stream) => vec![
                s("server-stream"),
                Value::List(stream.iter().map(|c| Value::List(c.to_request())).collect()),
            ],
            Command::Sleep(secs) => vec![s("sleep"), Value::Float(*secs)],
            Command::ConfigError(m) => words(&["config-error", m]),
            Command::Set(set) => std::iter::once(s("set")).chain(set_request(set)).collect(),
            Command::MultiSet(set) => std::iter::once(s("multi-set"))
                .chain(set_request(set))
                .collect(),
            Command::Get(get) => std::iter::once(s("get")).chain(get_request(get)).collect(),
        };
        r.shrink_to_fit();
        r
    }
}

fn set_request(set: &Set) -> Vec<Value> {
    match set {
        Set::LogLevel(v) => words(&["loglevel", v]),
        Set::LogTarget(v) => words(&["logtarget", v]),
        Set::SyslogSocket(v) => words(&["syslogsocket", v]),
        Set::AllowIpv6(v) => words(&["allowipv6", v]),
        Set::Thread(v) => vec![s("thread"), v.clone()],
        Set::DbFile(v) => words(&["dbfile", v]),
        Set::DbMaxMatches(n) => vec![s("dbmaxmatches"), Value::Int(*n)],
        Set::DbPurgeAge(v) => words(&["dbpurgeage", v]),
        Set::Jail { jail, op } => {
            let mut v = vec![s(jail)];
            v.extend(jail_set_request(op));
            v
        }
    }
}

fn jail_set_request(op: &JailSet) -> Vec<Value> {
    let many = |name: &str, items: &[String]| -> Vec<Value> {
        std::iter::once(s(name))
            .chain(items.iter().map(|x| s(x)))
            .collect()
    };
    // `multi-set` sends several regexes as one list; one goes as a word.
    let regexes = |name: &str, items: &[String]| -> Vec<Value> {
        match items {
            [one] => words(&[name, one]),
            _ => vec![s(name), Value::str_list(items.iter().cloned())],
        }
    };
    match op {
        JailSet::Idle(on) => words(&["idle", if *on { "on" } else { "off" }]),
        JailSet::IgnoreSelf(v) => words(&["ignoreself", v]),
        JailSet::AddIgnoreIp(ips) => many("addignoreip", ips),
        JailSet::DelIgnoreIp(ip) => words(&["delignoreip", ip]),
        JailSet::IgnoreCommand(v) => words(&["ignorecommand", v]),
        JailSet::IgnoreCache(v) => words(&["ignorecache", v]),
        JailSet::AddLogPath { path, tail } => {
            words(&["addlogpath", path, if *tail { "tail" } else { "head" }])
        }
        JailSet::DelLogPath(p) => words(&["dellogpath", p]),
        JailSet::LogEncoding(v) => words(&["logencoding", v]),
        JailSet::AddJournalMatch(m) => many("addjournalmatch", m),
        JailSet::DelJournalMatch(m) => many("deljournalmatch", m),
        JailSet::PrefRegex(r) => words(&["prefregex", r]),
        JailSet::AddFailRegex(r) => regexes("addfailregex", r),
        JailSet::DelFailRegex(i) => vec![s("delfailregex"), Value::Int(*i)],
        JailSet::AddIgnoreRegex(r) => regexes("addignoreregex", r),
        JailSet::DelIgnoreRegex(i) => vec![s("delignoreregex"), Value::Int(*i)],
        JailSet::UseDns(v) => words(&["usedns", v]),
        JailSet::FindTime(v) => words(&["findtime", v]),
        JailSet::BanTime(v) => words(&["bantime", v]),
        JailSet::BanTimeExtra { option, value } => vec![s(&format!("bantime.{option}")), s(value)],
        JailSet::DatePattern(v) => words(&["datepattern", v]),
        JailSet::LogTimeZone(v) => words(&["logtimezone", v]),
        JailSet::MaxRetry(n) => vec![s("maxretry"), Value::Int(*n)],
        JailSet::MaxMatches(n) => vec![s("maxmatches"), Value::Int(*n)],
        JailSet::MaxLines(n) => vec![s("maxlines"), Value::Int(*n)],
        JailSet::Attempt { ip, failures } => {
            let mut v = words(&["attempt", ip]);
            v.extend(failures.iter().map(|f| s(f)));
            v
        }
        JailSet::BanIp(ips) => many("banip", ips),
        JailSet::UnbanIp { ips, report_absent } => {
            let mut v = vec![s("unbanip")];
            if *report_absent {
                v.push(s("--report-absent"));
            }
            v.extend(ips.iter().map(|x| s(x)));
            v
        }
        JailSet::AddAction { name, python } => match python {
            None => words(&["addaction", name]),
            Some((file, kwargs)) => words(&["addaction", name, file, kwargs]),
        },
        JailSet::DelAction(a) => words(&["delaction", a]),
        JailSet::Action { action, key, value } => {
            let mut v = words(&["action", action, key]);
            v.extend(value.iter().map(|x| s(x)));
            v
        }
        JailSet::ActionMulti { action, items } => vec![
            s("action"),
            s(action),
            Value::List(
                items
                    .iter()
                    .map(|(k, v)| {
                        let mut pair = vec![s(k)];
                        pair.extend(v.iter().cloned());
                        Value::List(pair)
                    })
                    .collect(),
            ),
        ],
    }
}

fn get_request(get: &Get) -> Vec<Value> {
    match get {
        Get::LogLevel => words(&["loglevel"]),
        Get::LogTarget => words(&["logtarget"]),
        Get::SyslogSocket => words(&["syslogsocket"]),
        Get::Thread => words(&["thread"]),
        Get::DbFile => words(&["dbfile"]),
        Get::DbMaxMatches => words(&["dbmaxmatches"]),
        Get::DbPurgeAge => words(&["dbpurgeage"]),
        Get::Jail { jail, op } => {
            let mut v = vec![s(jail)];
            v.extend(match op {
                JailGet::Banned(ips) => std::iter::once(s("banned"))
                    .chain(ips.iter().map(|x| s(x)))
                    .collect(),
                JailGet::BanIp { with_time: true } => words(&["banip", "--with-time"]),
                JailGet::BanIp { with_time: false } => words(&["banip"]),
                JailGet::LogPath => words(&["logpath"]),
                JailGet::LogEncoding => words(&["logencoding"]),
                JailGet::JournalMatch => words(&["journalmatch"]),
                JailGet::IgnoreSelf => words(&["ignoreself"]),
                JailGet::IgnoreIp => words(&["ignoreip"]),
                JailGet::IgnoreCommand => words(&["ignorecommand"]),
                JailGet::IgnoreCache => words(&["ignorecache"]),
                JailGet::PrefRegex => words(&["prefregex"]),
                JailGet::FailRegex => words(&["failregex"]),
                JailGet::IgnoreRegex => words(&["ignoreregex"]),
                JailGet::DatePattern => words(&["datepattern"]),
                JailGet::LogTimeZone => words(&["logtimezone"]),
                JailGet::UseDns => words(&["usedns"]),
                JailGet::FindTime => words(&["findtime"]),
                JailGet::BanTime => words(&["bantime"]),
                JailGet::BanTimeExtra(o) => vec![s(&format!("bantime.{o}"))],
                JailGet::MaxRetry => words(&["maxretry"]),
                JailGet::MaxMatches => words(&["maxmatches"]),
                JailGet::MaxLines => words(&["maxlines"]),
                JailGet::Actions => words(&["actions"]),
                JailGet::Action { action, property } => words(&["action", action, property]),
                JailGet::ActionProperties(a) => words(&["actionproperties", a]),
                JailGet::ActionMethods(a) => words(&["actionmethods", a]),
            });
            v
        }
    }
}

impl std::fmt::Display for Command {
    /// The command as words, the way fail2ban logs a request (`['status', 'sshd']`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&Value::List(self.to_request()).py_repr())
    }
}
