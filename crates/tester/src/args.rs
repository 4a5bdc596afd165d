//! Command-line options of `bailiff regex`, spelled as fail2ban-regex spells them.

use std::path::PathBuf;

/// Default configuration directory, as fail2ban-regex's `-c`.
pub const DEFAULT_CONFIG_DIR: &str = "/etc/fail2ban";

/// `bailiff regex [OPTIONS] LOG REGEX [IGNOREREGEX]`: test a filter against a log.
///
/// LOG is a file, `-` for standard input, a literal line (several lines joined by
/// newlines are multi-line input) or `systemd-journal[...]`. REGEX is a literal
/// failregex, a filter name with options (`sshd[mode=aggressive]`, looked up in
/// `CONFIG/filter.d`) or a filter file. IGNOREREGEX is a literal ignoreregex or a
/// filter file whose `ignoreregex` is used.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "bailiff-regex",
    about = "Test failregexes against a log, as fail2ban-regex does",
    disable_version_flag = true
)]
pub struct RegexArgs {
    /// Log file, `-` (stdin), a literal log line, or `systemd-journal[...]`.
    #[arg(value_name = "LOG", allow_hyphen_values = true)]
    pub log: String,
    /// A failregex, a filter name with options (`sshd[mode=aggressive]`) or a filter file.
    #[arg(value_name = "REGEX")]
    pub regex: String,
    /// An ignoreregex, or a filter file whose ignoreregex is used.
    #[arg(value_name = "IGNOREREGEX")]
    pub ignoreregex: Option<String>,

    /// Configuration directory. Default: `bailiff`'s lookup order (/etc/bailiff over the
    /// built-in configuration, else /etc/fail2ban, else the built-in configuration).
    #[arg(
        short = 'c',
        long = "config",
        value_name = "DIR",
        default_value = DEFAULT_CONFIG_DIR,
        hide_default_value = true
    )]
    pub config: PathBuf,
    /// Date pattern to use instead of the filter's (fail2ban `datepattern` syntax).
    #[arg(short = 'd', long = "datepattern", value_name = "PATTERN")]
    pub datepattern: Option<String>,
    /// Time zone of zone-less dates in the log (fail2ban `logtimezone` syntax).
    #[arg(long = "timezone", visible_alias = "TZ", value_name = "ZONE")]
    pub timezone: Option<String>,
    /// Log encoding: utf-8 (default; invalid bytes are replaced) or latin-1.
    #[arg(short = 'e', long = "encoding", value_name = "ENC")]
    pub encoding: Option<String>,
    /// Raw hosts: never resolve DNS names (usedns = raw).
    #[arg(short = 'r', long = "raw")]
    pub raw: bool,
    /// How `<HOST>` treats names: yes, no, warn or raw.
    #[arg(long = "usedns", value_name = "MODE")]
    pub usedns: Option<String>,
    /// Multi-line buffer size (overrides the filter's maxlines).
    #[arg(short = 'L', long = "maxlines", value_name = "N")]
    pub maxlines: Option<usize>,
    /// Journal matches (systemd-journal only), journalctl style.
    #[arg(short = 'm', long = "journalmatch", value_name = "MATCH")]
    pub journalmatch: Option<String>,
    /// Log level (accepted for compatibility).
    #[arg(
        short = 'l',
        long = "log-level",
        value_name = "LEVEL",
        default_value = "critical"
    )]
    pub log_level: String,
    /// Print the version and exit.
    #[arg(short = 'V')]
    pub version: bool,
    /// More detail: matched ids and times per regex, prefregex groups (repeatable).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Numeric verbosity (0..4); overrides -v.
    #[arg(long = "verbosity", value_name = "N")]
    pub verbosity: Option<u8>,
    /// Show the date templates' patterns in the report.
    #[arg(long = "verbose-date", visible_alias = "VD")]
    pub verbose_date: bool,
    /// Produce debuggex.com links for the listed lines, one per line and regex.
    #[arg(short = 'D', long = "debuggex")]
    pub debuggex: bool,
    /// Stop at the first failregex that matches a line.
    #[arg(long = "no-check-all")]
    pub no_check_all: bool,
    /// Print only failures: `id`/`fid`, `ip`, `msg`, `row`, a ticket key, or a
    /// template with action tags (`<ip> <F-USER> <time>`); implies --no-check-all.
    #[arg(short = 'o', long = "out", value_name = "FORMAT")]
    pub out: Option<String>,
    /// Do not list missed lines.
    #[arg(long = "print-no-missed", conflicts_with = "print_all_missed")]
    pub print_no_missed: bool,
    /// Do not list ignored lines.
    #[arg(long = "print-no-ignored", conflicts_with = "print_all_ignored")]
    pub print_no_ignored: bool,
    /// List all matched lines.
    #[arg(long = "print-all-matched")]
    pub print_all_matched: bool,
    /// List all missed lines, however many.
    #[arg(long = "print-all-missed")]
    pub print_all_missed: bool,
    /// List all ignored lines, however many.
    #[arg(long = "print-all-ignored")]
    pub print_all_ignored: bool,
    /// Accepted for compatibility.
    #[arg(short = 't', long = "log-traceback")]
    pub log_traceback: bool,
    /// Accepted for compatibility.
    #[arg(long = "full-traceback")]
    pub full_traceback: bool,
    /// One JSON object per result on stdout (each failure or NOFAIL match, and each
    /// line an ignoreregex dropped): line, kind (fail, nofail, ignored), id, time,
    /// regex (0-based index), fields, matches, pending. The report goes to stderr.
    #[arg(long = "json", conflicts_with = "out")]
    pub json: bool,
    /// Reference time (Unix seconds) for year-less dates instead of the clock.
    #[arg(long = "now", value_name = "EPOCH")]
    pub now: Option<f64>,
}

impl RegexArgs {
    /// Effective verbosity (`--verbosity` wins over counted `-v`).
    pub fn verbosity(&self) -> u8 {
        self.verbosity.unwrap_or(self.verbose)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(v: &[&str]) -> Result<RegexArgs, clap::Error> {
        let mut argv = vec!["bailiff-regex"];
        argv.extend_from_slice(v);
        RegexArgs::try_parse_from(argv)
    }

    #[test]
    fn fail2ban_regex_spellings() {
        let a = parse(&[
            "--TZ",
            "UTC",
            "--VD",
            "-L",
            "3",
            "-r",
            "-vv",
            "-c",
            "/tmp/conf",
            "--no-check-all",
            "-o",
            "<ip> <F-USER>",
            "-d",
            "{^LN-BEG}%Y",
            "-e",
            "latin-1",
            "-m",
            "_COMM=sshd",
            "-l",
            "debug",
            "-D",
            "-t",
            "--full-traceback",
            "/var/log/auth.log",
            "sshd[mode=aggressive]",
            "^ignored$",
        ])
        .unwrap();
        assert_eq!(a.timezone.as_deref(), Some("UTC"));
        assert!(a.verbose_date && a.raw && a.no_check_all && a.debuggex);
        assert_eq!(a.maxlines, Some(3));
        assert_eq!(a.verbosity(), 2);
        assert_eq!(a.config, PathBuf::from("/tmp/conf"));
        assert_eq!(a.out.as_deref(), Some("<ip> <F-USER>"));
        assert_eq!(a.log, "/var/log/auth.log");
        assert_eq!(a.regex, "sshd[mode=aggressive]");
        assert_eq!(a.ignoreregex.as_deref(), Some("^ignored$"));
        let b = parse(&[
            "--timezone",
            "CET",
            "--verbose-date",
            "--verbosity",
            "4",
            "-v",
            "LOG",
            "RE",
        ])
        .unwrap();
        assert_eq!(b.timezone.as_deref(), Some("CET"));
        assert_eq!(b.verbosity(), 4);
        assert_eq!(b.config, PathBuf::from(DEFAULT_CONFIG_DIR));
    }

    #[test]
    fn options_after_positionals_and_stdin() {
        let a = parse(&["-", "sshd", "--print-all-missed", "--now", "1700000000"]).unwrap();
        assert_eq!(a.log, "-");
        assert!(a.print_all_missed);
        assert_eq!(a.now, Some(1_700_000_000.0));
    }

    #[test]
    fn contradictions_are_refused() {
        assert!(parse(&["--print-no-missed", "--print-all-missed", "L", "R"]).is_err());
        assert!(parse(&["--print-no-ignored", "--print-all-ignored", "L", "R"]).is_err());
        assert!(parse(&["--json", "-o", "id", "L", "R"]).is_err());
        assert!(parse(&["onlylog"]).is_err());
        assert!(parse(&["a", "b", "c", "d"]).is_err());
    }
}
