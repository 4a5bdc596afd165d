//! Setting a host up: `bailiff init` (a commented `jail.local` to start from), the
//! hidden `bailiff generate man|completions DIR` used by packaging, and the
//! configuration lookup for `bailiff regex` (see `bailiff_config::embedded`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory, ValueEnum};

/// `bailiff init [--force] [DIR]`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Overwrite an existing jail.local.
    #[arg(long)]
    pub force: bool,
    /// Configuration directory to write jail.local into.
    #[arg(value_name = "DIR", default_value = bailiff_config::embedded::BAILIFF_DIR)]
    pub dir: PathBuf,
}

/// What `bailiff generate` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Generated {
    /// Man pages: bailiff.1 and bailiff-SUBCOMMAND.1.
    Man,
    /// Shell completions for bash, zsh and fish.
    Completions,
}

/// `bailiff generate man|completions DIR` (for packaging).
#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[arg(value_enum)]
    pub what: Generated,
    /// Output directory (created).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// The `jail.local` that `bailiff init` writes.
pub const JAIL_LOCAL: &str = r##"# /etc/bailiff/jail.local: your changes to bailiff's built-in configuration.
#
# bailiff carries a complete default configuration (print it with `bailiff client -d`).
# Files in this directory are read over it, in fail2ban's format:
#   jail.local, jail.d/*.local     change jails and their defaults (this file)
#   fail2ban.local                 change server settings (log level, database, socket)
#   filter.d/NAME.local            change a filter; failregex = %(known/failregex)s
#                                  followed by more lines adds regexes to it
#   filter.d/NAME.conf, action.d/NAME.conf
#                                  your own filters and actions
# After a change: `bailiff check`, then `systemctl reload bailiff`.
#
# Every line below is commented out: remove the leading "#" of the settings you want.

[DEFAULT]

# Never ban these: addresses, CIDR networks or host names, separated by spaces.
# Add your own network and the addresses you administer the host from.
#ignoreip = 127.0.0.0/8 ::1 192.0.2.0/24

# How long a ban lasts: 10m, 1h, 1d, 1w, or -1 for ever.
#bantime = 1h

# An address is banned once it has `maxretry` failures within `findtime`.
#findtime = 10m
#maxretry = 5

# Bans grow for addresses that come back: each new ban lasts longer, up to maxtime.
#bantime.increment = true
#bantime.factor = 2
#bantime.maxtime = 1w

# How addresses are blocked. The default is bailiff's built-in nftables backend:
#   nftables-multiport   the jail's ports (default)
#   nftables-allports    every port
# Shell actions from action.d: iptables-multiport, iptables-allports, iptables-ipset,
# firewallcmd-ipset (firewalld hosts), route, hostsdeny.
#banaction = nftables-multiport
#banaction_allports = nftables-allports

# Also mail a report for every ban (needs a working sendmail):
#destemail = admin@example.org
#action = %(action_mw)s

# Where logs are read: auto (the log files; the systemd journal when none exists),
# systemd (always the journal), polling.
#backend = auto


# Jails: sshd and recidive are enabled by default. Enable others by name:
#
#[nginx-http-auth]
#enabled = true
#
#[postfix]
#enabled = true
#
# A jail's own settings override the ones in [DEFAULT]:
#
#[sshd]
#port = 2222
#maxretry = 3
#mode = aggressive
#
# Turn a jail off:
#
#[recidive]
#enabled = false
"##;

/// `bailiff init`: write `DIR/jail.local` (and create `DIR/jail.d`); refuse to
/// overwrite an existing file unless `--force`.
pub fn init(a: &InitArgs) -> Result<u8, String> {
    let file = a.dir.join("jail.local");
    if file.exists() && !a.force {
        return Err(format!(
            "{} exists; not overwriting it (use --force to replace it)",
            file.display()
        ));
    }
    std::fs::create_dir_all(a.dir.join("jail.d"))
        .map_err(|e| format!("{}: {e}", a.dir.join("jail.d").display()))?;
    std::fs::write(&file, JAIL_LOCAL).map_err(|e| format!("{}: {e}", file.display()))?;
    println!("wrote {}", file.display());
    Ok(0)
}

/// `bailiff generate`.
pub fn generate(a: &GenerateArgs) -> Result<u8, String> {
    let io = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    std::fs::create_dir_all(&a.dir).map_err(|e| io(&a.dir, e))?;
    let mut cmd = crate::cli::Cli::command();
    cmd.build();
    match a.what {
        Generated::Man => {
            let mut pages = vec![("bailiff".to_string(), cmd.clone())];
            for sub in cmd.get_subcommands() {
                if sub.is_hide_set() {
                    continue;
                }
                let name = format!("bailiff-{}", sub.get_name());
                pages.push((name, sub.clone()));
            }
            for (name, page) in pages {
                let path = a.dir.join(format!("{name}.1"));
                let mut buf = Vec::new();
                clap_mangen::Man::new(page)
                    .title(name.to_uppercase())
                    .render(&mut buf)
                    .map_err(|e| io(&path, e))?;
                std::fs::write(&path, buf).map_err(|e| io(&path, e))?;
            }
        }
        Generated::Completions => {
            use clap_complete::Shell;
            for (shell, file) in [
                (Shell::Bash, "bailiff"),
                (Shell::Zsh, "_bailiff"),
                (Shell::Fish, "bailiff.fish"),
            ] {
                let path = a.dir.join(file);
                let mut buf = Vec::new();
                clap_complete::generate(shell, &mut cmd, "bailiff", &mut buf);
                std::fs::write(&path, buf).map_err(|e| io(&path, e))?;
            }
        }
    }
    Ok(0)
}

/// Whether `-c/--config` was given to `bailiff regex` on this command line.
pub fn regex_config_given(args: &[OsString]) -> bool {
    let Ok(m) = crate::cli::Cli::command().try_get_matches_from(args) else {
        return true;
    };
    m.subcommand_matches("regex")
        .and_then(|r| r.value_source("config"))
        .is_some_and(|s| s != clap::parser::ValueSource::DefaultValue)
}

/// `bailiff regex` without `-c`: the configuration of the lookup order. The tester
/// reads real directories, so the embedded tree (with `/etc/bailiff` over it) is
/// written to a private temporary directory for the run.
pub fn regex(mut a: bailiff_tester::RegexArgs, config_given: bool) -> Result<u8, String> {
    let run = |a: &bailiff_tester::RegexArgs| -> Result<u8, String> {
        let code = bailiff_tester::run(
            a,
            &mut std::io::stdout().lock(),
            &mut std::io::stderr().lock(),
        )
        .map_err(|e| e.to_string())?;
        Ok(code.clamp(0, 255) as u8)
    };
    if config_given {
        return run(&a);
    }
    let src = bailiff_config::resolve_confdir(None);
    if let bailiff_config::ConfSource::Dir(d) = &src {
        a.config = d.clone();
        return run(&a);
    }
    let tmp = std::env::temp_dir().join(format!("bailiff-regex-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    src.materialize(&tmp)
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    a.config = tmp.clone();
    let r = run(&a);
    let _ = std::fs::remove_dir_all(&tmp);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_writes_once_and_refuses_to_overwrite() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("etc-bailiff");
        let args = |force| InitArgs {
            force,
            dir: dir.clone(),
        };
        assert_eq!(init(&args(false)).unwrap(), 0);
        let file = dir.join("jail.local");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), JAIL_LOCAL);
        assert!(dir.join("jail.d").is_dir());

        std::fs::write(&file, "[DEFAULT]\nbantime = 1h\n").unwrap();
        let err = init(&args(false)).unwrap_err();
        assert!(err.contains("--force"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "[DEFAULT]\nbantime = 1h\n"
        );
        assert_eq!(init(&args(true)).unwrap(), 0);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), JAIL_LOCAL);
    }

    #[test]
    fn the_skeleton_reads_like_the_default() {
        // all settings commented out: the overlay reads as the embedded default
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("jail.local"), JAIL_LOCAL).unwrap();
        let over = bailiff_config::ConfSource::Overlay(tmp.path().to_path_buf());
        assert_eq!(
            bailiff_config::dump_stream_source(&over).unwrap(),
            bailiff_config::dump_stream_source(&bailiff_config::ConfSource::Embedded).unwrap()
        );
        // and uncommenting a jail enables it
        let enabled =
            JAIL_LOCAL.replace("#[postfix]\n#enabled = true", "[postfix]\nenabled = true");
        std::fs::write(tmp.path().join("jail.local"), enabled).unwrap();
        let cfg = bailiff_config::load_source(&over).unwrap();
        let names: Vec<&str> = cfg.jails.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["sshd", "postfix", "recidive"]);
    }

    #[test]
    fn generate_writes_man_pages_and_completions() {
        let tmp = tempfile::tempdir().unwrap();
        for what in [Generated::Man, Generated::Completions] {
            generate(&GenerateArgs {
                what,
                dir: tmp.path().to_path_buf(),
            })
            .unwrap();
        }
        let man = std::fs::read_to_string(tmp.path().join("bailiff.1")).unwrap();
        assert!(man.contains(".TH BAILIFF 1"), "{man}");
        let client = std::fs::read_to_string(tmp.path().join("bailiff-client.1")).unwrap();
        assert!(client.contains(".TH BAILIFF-CLIENT 1"), "{client}");
        assert!(client.contains("socket"), "{client}");
        assert!(!tmp.path().join("bailiff-generate.1").exists());
        let bash = std::fs::read_to_string(tmp.path().join("bailiff")).unwrap();
        assert!(bash.contains("init"));
        assert!(tmp.path().join("_bailiff").is_file());
        assert!(tmp.path().join("bailiff.fish").is_file());
    }

    #[test]
    fn regex_config_given_sees_the_flag() {
        let v = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(!regex_config_given(&v(&[
            "bailiff", "regex", "/x.log", "sshd"
        ])));
        assert!(regex_config_given(&v(&[
            "bailiff",
            "regex",
            "-c",
            "/etc/fail2ban",
            "/x.log",
            "sshd"
        ])));
    }
}
