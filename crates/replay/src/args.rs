//! Command-line options of `bailiff replay`.

use std::path::PathBuf;

/// Default configuration directory.
pub const DEFAULT_CONFIG_DIR: &str = "/etc/fail2ban";

/// `bailiff replay [OPTIONS] LOG...`: run whole jails over historical logs, on the
/// logs' own timestamps, and report the bans the policy implies. Nothing touches the
/// firewall: no action runs, no name is resolved.
///
/// Jails: by default every enabled jail whose `logpath` matches a LOG, or whose
/// filter finds failures in its first lines; `recidive`, when enabled, is fed the
/// bans of the others. `--jail` picks jails explicitly (also disabled ones).
///
/// Policy changes: each `--set KEY=VALUE` (any jail option, e.g. `maxretry=3`,
/// `findtime=1h`, `bantime.increment=true`, `filter=sshd[mode=aggressive]`) applies to
/// every replayed jail, `recidive` included; `--set JAIL.KEY=VALUE` to one jail. All
/// of them together make the changed policy; the current and the changed policy are
/// replayed in the same run and compared. Values are taken literally (`%` is not
/// interpolation).
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "bailiff-replay",
    about = "Replay historical logs through the configured jails and report the bans",
    disable_version_flag = true,
    args_override_self = true
)]
pub struct ReplayArgs {
    /// Log files to replay (several: oldest first, e.g. auth.log.1 auth.log).
    #[arg(value_name = "LOG", required = true)]
    pub logs: Vec<PathBuf>,
    /// Configuration directory.
    #[arg(short = 'c', long = "conf", value_name = "DIR", default_value = DEFAULT_CONFIG_DIR)]
    pub conf: PathBuf,
    /// Replay this jail (repeatable); it need not be enabled. Default: the enabled
    /// jails that read the given logs.
    #[arg(short = 'j', long = "jail", value_name = "NAME")]
    pub jails: Vec<String>,
    /// A policy change, `KEY=VALUE` or `JAIL.KEY=VALUE` (repeatable): replay the current
    /// and the changed policy and compare them.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// One JSON document on stdout instead of the text report.
    #[arg(long = "json")]
    pub json: bool,
    /// "Now" as a Unix time: year-less log dates resolve against it (default: the clock).
    #[arg(long = "now", value_name = "EPOCH")]
    pub now: Option<f64>,
    /// Apply `ignoreself` (this host's addresses are never banned). Off by default: the
    /// log usually comes from another host.
    #[arg(long = "ignoreself")]
    pub ignoreself: bool,
    /// Do not apply the jails' `ignoreip` lists.
    #[arg(long = "no-ignoreip")]
    pub no_ignoreip: bool,
    /// Count failures of an address while it is banned in that jail (by default they
    /// are dropped: the firewall would have blocked that traffic).
    #[arg(long = "count-while-banned")]
    pub count_while_banned: bool,
    /// How many addresses and networks the top lists show.
    #[arg(long = "top", value_name = "N", default_value_t = 10)]
    pub top: usize,
    /// Text report: print at most N ban timeline entries per policy (0: none).
    #[arg(long = "timeline", value_name = "N")]
    pub timeline: Option<usize>,
}
