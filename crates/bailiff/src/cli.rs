//! Command-line definition and dispatch.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

/// Default configuration directory, as fail2ban's.
pub const DEFAULT_CONF: &str = "/etc/fail2ban";

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
    /// Validate the configuration (same as `client -t`).
    Check(CheckArgs),
    /// Test a filter against a log (fail2ban-regex's interface).
    Regex(bailiff_tester::RegexArgs),
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

fn conf_dir(conf: &Option<PathBuf>) -> PathBuf {
    conf.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_CONF))
}

pub fn run(args: Vec<OsString>) -> Result<u8, String> {
    let cli = Cli::parse_from(args);
    match cli.command {
        Command::Client(a) => client(a),
        Command::Check(a) => check(&conf_dir(&a.conf)),
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
    let _ = (a.socket, a.json, a.command);
    Err("talking to a server is not wired into this build yet".into())
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
        Ok(_summary) => {
            println!("OK: configuration test is successful");
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
