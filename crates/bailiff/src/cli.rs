//! Command-line definition and dispatch.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use std::time::Duration;

use bailiff_control::{format, Client, Command as BCommand, Value};
use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "bailiff",
    version,
    about = "Intrusion prevention that reads fail2ban's configuration unchanged"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Talk to the server (fail2ban-client's interface); `-d` dumps, `-t` tests the configuration.
    Client(ClientArgs),
    /// Run the daemon (fail2ban-server's interface).
    Server(ServerArgs),
    /// Validate the configuration (same as `client -t`).
    Check(CheckArgs),
    /// Test a filter against a log (fail2ban-regex's interface).
    Regex(bailiff_tester::RegexArgs),
    /// Replay historical logs through the jails and report the bans (nothing is enforced).
    Replay(bailiff_replay::ReplayArgs),
    /// Write a commented /etc/bailiff/jail.local to start from.
    Init(crate::setup::InitArgs),
    /// Write man pages or shell completions (for packaging).
    #[command(hide = true)]
    Generate(crate::setup::GenerateArgs),
}

#[derive(Debug, Args)]
pub struct ClientArgs {
    /// Configuration directory.
    #[arg(short = 'c', long = "conf", value_name = "DIR")]
    pub conf: Option<PathBuf>,
    /// Socket path.
    #[arg(short = 's', long = "socket", value_name = "FILE")]
    pub socket: Option<PathBuf>,
    /// Dump the configuration as the command stream, one JSON array per line.
    #[arg(short = 'd')]
    pub dump: bool,
    /// Test the configuration and exit.
    #[arg(short = 't', long = "test")]
    pub test: bool,
    /// Print replies as JSON.
    #[arg(long)]
    pub json: bool,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Configuration directory.
    #[arg(short = 'c', long = "conf", value_name = "DIR")]
    pub conf: Option<PathBuf>,
    /// Socket path (default: `socket` of fail2ban.conf).
    #[arg(short = 's', long = "socket", value_name = "FILE")]
    pub socket: Option<PathBuf>,
    /// Pidfile path (default: `pidfile` of fail2ban.conf).
    #[arg(short = 'p', long = "pidfile", value_name = "FILE")]
    pub pidfile: Option<PathBuf>,
    /// Stay in the foreground.
    #[arg(short = 'f', conflicts_with = "background")]
    pub foreground: bool,
    /// Detach and run in the background (the default, as fail2ban-server).
    #[arg(short = 'b')]
    pub background: bool,
    /// Replace a stale socket.
    #[arg(short = 'x')]
    pub force: bool,
    /// Log target: a file, STDOUT, STDERR or SYSLOG.
    #[arg(long = "logtarget", value_name = "TARGET")]
    pub logtarget: Option<String>,
    /// Log level (CRITICAL, ERROR, WARNING, NOTICE, INFO, DEBUG).
    #[arg(long = "loglevel", value_name = "LEVEL")]
    pub loglevel: Option<String>,
    /// Accepted for compatibility (process name).
    #[arg(long = "pname", value_name = "NAME")]
    pub pname: Option<String>,
    /// Accepted for compatibility.
    #[arg(long = "syslogsocket", value_name = "SOCK")]
    pub syslogsocket: Option<String>,
    /// Accepted for compatibility.
    #[arg(long = "async")]
    pub async_: bool,
    /// `start` (as in the stock unit's `fail2ban-server -xf start`); the server always
    /// starts the jails of its configuration.
    #[arg(value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Configuration directory.
    #[arg(short = 'c', long = "conf", value_name = "DIR")]
    pub conf: Option<PathBuf>,
}

/// Rewrite `fail2ban-client ARGS` into `bailiff client ARGS` (likewise -server, -regex).
pub fn multicall(mut args: Vec<OsString>) -> Vec<OsString> {
    let prog = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let sub = match prog.as_str() {
        "fail2ban-client" => "client",
        "fail2ban-server" => "server",
        "fail2ban-regex" => "regex",
        _ => return args,
    };
    args[0] = OsString::from("bailiff");
    args.insert(1, OsString::from(sub));
    args
}

/// `-c DIR`, else /etc/bailiff over the built-in configuration, else /etc/fail2ban,
/// else the built-in configuration (`bailiff_config::resolve_confdir`), as a path the
/// config readers accept.
fn conf_dir(conf: &Option<PathBuf>) -> PathBuf {
    bailiff_config::resolve_confdir(conf.as_deref()).to_path()
}

pub fn run(args: Vec<OsString>) -> Result<u8, String> {
    let regex_conf_given = crate::setup::regex_config_given(&args);
    let cli = Cli::parse_from(args);
    match cli.command {
        Command::Init(a) => crate::setup::init(&a),
        Command::Generate(a) => crate::setup::generate(&a),
        Command::Regex(a) if !regex_conf_given => crate::setup::regex(a, false),
        Command::Client(a) => client(a),
        Command::Server(a) => server(a),
        Command::Check(a) => check(&conf_dir(&a.conf)),
        Command::Replay(a) => {
            let code = bailiff_replay::run(
                &a,
                &mut std::io::stdout().lock(),
                &mut std::io::stderr().lock(),
            )
            .map_err(|e| e.to_string())?;
            Ok(code.clamp(0, 255) as u8)
        }
        Command::Regex(a) => {
            let stdout = std::io::stdout();
            let stderr = std::io::stderr();
            let code = bailiff_tester::run(&a, &mut stdout.lock(), &mut stderr.lock())
                .map_err(|e| e.to_string())?;
            Ok(code.clamp(0, 255) as u8)
        }
    }
}

fn client(a: ClientArgs) -> Result<u8, String> {
    let conf = conf_dir(&a.conf);
    if a.dump {
        return dump(&conf);
    }
    if a.test {
        return check(&conf);
    }
    if a.command.is_empty() {
        return Err("no command given (try `bailiff client status`)".into());
    }
    let socket = match &a.socket {
        Some(s) => s.clone(),
        None => bailiff_config::load(&conf)
            .map(|c| PathBuf::from(c.server.socket))
            .unwrap_or_else(|_| PathBuf::from("/var/run/fail2ban/fail2ban.sock")),
    };
    let words: Vec<String> = a.command.clone();
    let first = words[0].as_str();
    if first == "start" && words.len() == 1 {
        return client_start(&conf, &socket);
    }
    if first == "restart" && words.len() == 1 {
        // The server has no `restart`: stop it, wait for it to go, start it again.
        if let Ok(mut c) = Client::connect(&socket, Some(Duration::from_secs(60))) {
            c.command(&["stop"]).map_err(|e| e.to_string())?;
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while socket.exists() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        return client_start(&conf, &socket);
    }
    if first == "health" {
        // `client health [JAIL] [--json]`: after the command, --json is a word.
        let json = a.json || words[1..].iter().any(|w| w == "--json");
        let rest: Vec<&str> = words[1..]
            .iter()
            .map(String::as_str)
            .filter(|w| *w != "--json")
            .collect();
        if rest.len() <= 1 {
            return client_health(&socket, rest.first().copied(), json);
        }
    }
    let request: Vec<Value> = if matches!(first, "reload" | "restart") {
        reload_request(&conf, &words)?
    } else {
        words.iter().map(|w| Value::str(w.clone())).collect()
    };
    let mut c = match Client::connect(&socket, Some(Duration::from_secs(60))) {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "ERROR  Failed to access socket path: {}. Is fail2ban running?",
                socket.display()
            );
            return Err(e.to_string());
        }
    };
    let reply = c.send(&request).map_err(|e| e.to_string())?;
    let (text, code) = format::render(&words, &reply, a.json);
    if !text.is_empty() {
        println!("{text}");
    }
    Ok(code.clamp(0, 255) as u8)
}

/// `client health [JAIL]` (bailiff only): asks `status JAIL|--all health[-json]`, a
/// status flavour real fail2ban-client never sends; prints the report and exits 1
/// when a jail is unhealthy.
fn client_health(socket: &Path, jail: Option<&str>, json: bool) -> Result<u8, String> {
    let flavour = if json { "health-json" } else { "health" };
    let words = ["status", jail.unwrap_or("--all"), flavour];
    let mut c = Client::connect(socket, Some(Duration::from_secs(60))).map_err(|e| {
        eprintln!(
            "ERROR  Failed to access socket path: {}. Is fail2ban running?",
            socket.display()
        );
        e.to_string()
    })?;
    let v = match c.command(&words).map_err(|e| e.to_string())? {
        bailiff_control::Reply::Ok(v) => v,
        bailiff_control::Reply::Err(e) => {
            return Err(format::beautify_error(&e));
        }
    };
    let field = |name: &str| -> Option<Value> {
        let Value::List(items) = &v else { return None };
        items.iter().find_map(|p| match p {
            Value::Tuple(kv) if kv.len() == 2 && kv[0].as_str() == Some(name) => {
                Some(kv[1].clone())
            }
            _ => None,
        })
    };
    let code = field("code")
        .and_then(|c| c.as_i64())
        .ok_or("health: the server does not support health reports")?;
    if let Some(text) = field("text") {
        // A closed pipe (`| head`) is not an error worth a panic.
        use std::io::Write;
        let text = text.as_str().unwrap_or_default();
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        if !text.ends_with('\n') {
            let _ = out.write_all(b"\n");
        }
        let _ = out.flush();
    }
    Ok(code.clamp(0, 255) as u8)
}

/// `reload [--restart] [--unban] [--if-exists] [JAIL|--all]` and `restart [--unban]
/// [--if-exists] JAIL` carry the configuration stream, as fail2ban-client builds it.
fn reload_request(conf: &Path, words: &[String]) -> Result<Vec<Value>, String> {
    let mut options = bailiff_control::ReloadOptions {
        restart: words[0] == "restart",
        ..Default::default()
    };
    let mut jail = None;
    for w in &words[1..] {
        match w.as_str() {
            "--restart" => options.restart = true,
            "--unban" => options.unban = true,
            "--if-exists" => options.if_exists = true,
            "--all" => jail = None,
            other if other.starts_with("--") => return Err(format!("unknown option {other}")),
            other => jail = Some(other.to_string()),
        }
    }
    if words[0] == "restart" && jail.is_none() {
        // `restart` alone restarts the server: stop it, then start it again.
        return Ok(vec![Value::str("restart")]);
    }
    let stream = bailiff_config::jail::dump_stream(conf).map_err(|e| e.to_string())?;
    let mut cmds = Vec::new();
    for v in stream {
        if let Some(items) = v.as_array() {
            let vals: Vec<Value> = items.iter().map(json_to_value).collect();
            if let Ok(c) = BCommand::parse(&vals) {
                cmds.push(c);
            }
        }
    }
    Ok(BCommand::Reload {
        jail,
        options,
        stream: cmds,
    }
    .to_request())
}

fn json_to_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::None,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => Value::str(s.clone()),
        serde_json::Value::Array(a) => Value::List(a.iter().map(json_to_value).collect()),
        serde_json::Value::Object(o) => Value::Dict(
            o.iter()
                .map(|(k, v)| (Value::str(k.clone()), json_to_value(v)))
                .collect(),
        ),
    }
}

/// `client start`: launch `bailiff server -b` (which reads the configuration itself).
fn client_start(conf: &Path, socket: &Path) -> Result<u8, String> {
    if let Ok(mut c) = Client::connect(socket, Some(Duration::from_secs(5))) {
        if c.command(&["ping"]).is_ok() {
            eprintln!("ERROR  Server already running");
            return Ok(255);
        }
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let status = std::process::Command::new(exe)
        .arg("server")
        .arg("-b")
        .arg("-x")
        .arg("-c")
        .arg(conf)
        .arg("-s")
        .arg(socket)
        .status()
        .map_err(|e| e.to_string())?;
    Ok(if status.success() { 0 } else { 255 })
}

fn server(a: ServerArgs) -> Result<u8, String> {
    if let Some(c) = a.command.iter().find(|c| c.as_str() != "start") {
        return Err(format!(
            "server: unsupported command {c:?} (only `start`; talk to a running server with `bailiff client`)"
        ));
    }
    let opts = bailiff_server::ServerOptions {
        confdir: conf_dir(&a.conf),
        socket: a.socket,
        pidfile: a.pidfile,
        logtarget: a.logtarget,
        loglevel: a.loglevel,
        force: a.force,
    };
    if !a.foreground {
        let sock = bailiff_server::socket_path(&opts);
        bailiff_server::daemonize(&sock).map_err(|e| e.to_string())?;
    }
    bailiff_server::run(opts).map_err(|e| e.to_string())?;
    Ok(0)
}

/// `client -d`: the command stream `fail2ban-client -d` prints, one JSON array per line.
fn dump(conf: &Path) -> Result<u8, String> {
    let stream = bailiff_config::jail::dump_stream(conf).map_err(|e| e.to_string())?;
    let mut out = String::new();
    for cmd in &stream {
        out.push_str(&serde_json::to_string(cmd).map_err(|e| e.to_string())?);
        out.push('\n');
    }
    print!("{out}");
    Ok(0)
}

/// `client -t` / `check`: every error with its file, line, section and option.
fn check(conf: &Path) -> Result<u8, String> {
    match bailiff_config::check::check(conf) {
        Ok(summary) => {
            for w in &summary.warnings {
                eprintln!("WARNING: {w}");
            }
            println!(
                "OK: configuration test is successful ({} jails, {} filters, {} actions, {} regexes)",
                summary.jails, summary.filters, summary.actions, summary.regexes
            );
            Ok(0)
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("ERROR: {e}");
            }
            eprintln!(
                "ERROR: configuration test failed: {} error(s)",
                errors.len()
            );
            Ok(255)
        }
    }
}
