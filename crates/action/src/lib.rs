//! bailiff-action: what happens when a jail bans or unbans an address.
//!
//! The ban manager hands each ban over as a [`Ticket`] (the address as a [`Target`],
//! failures, times, matches, captured `F-*` groups ...). Actions turn tickets into
//! effects:
//!
//! - [`CommandAction`] runs an `action.d` file's hooks (`actionstart`, `actionban`,
//!   ...). Its input is the action's resolved property list, the
//!   `multi-set <jail> action <act> [[k, v] ...]` pairs of `fail2ban-client -d`.
//!   [`Properties`] substitutes the static tags (recursively, with `?family=inet6`
//!   variants, `<known/...>`, `<br>`, `<sp>`, host names); [`shell::render`] then
//!   substitutes the per-ticket tags so that nothing read from a log can become
//!   shell syntax (log values travel as environment variables); [`exec::run`] runs
//!   the script with `/bin/sh -c` in its own process group under the hook timeout.
//! - [`nft::NftBackend`] is the native nftables backend: one table, per jail and
//!   family a set of addresses (`flags timeout`) and a set of networks (`flags
//!   interval, timeout`), rules in a chain at the input hook, and every batch of
//!   bans or unbans applied as one `nft -f -` transaction (start-up restores all
//!   active bans in one). The stock `nftables`, `nftables-multiport` and
//!   `nftables-allports` files are recognised ([`nft::NftJail::from_action`]) and
//!   applied natively with the same table, chain and set names.
//! - [`webhook::Webhook`] posts JSON over HTTP (timeout, retries); [`mail::Mailer`]
//!   pipes a message to `sendmail` without a shell.
//!
//! [`Action`] puts the command runner and the native backend behind one interface
//! for the ban manager, with batch entry points.
//!
//! ```
//! use bailiff_action::{HostNames, Properties, Ticket, Target, shell};
//! let props = Properties::new(vec![
//!     ("actionban".into(), "echo ban <ip> for <name> user <F-USER>".into()),
//!     ("name".into(), "sshd".into()),
//! ]);
//! let host = HostNames { fq: "h.example".into(), short: "h".into() };
//! let text = props.expand(props.get("actionban").unwrap(), None, &host).unwrap();
//! let mut t = Ticket::new("192.0.2.1".parse::<Target>().unwrap());
//! t.fields.push(("user".into(), "$(reboot)".into()));
//! let s = shell::render(&text, &shell::Dynamic { ticket: Some(&t), family: None, now: 0 });
//! assert_eq!(s.script, "echo ban 192.0.2.1 for sshd user \"${f2bV_F_USER}\"");
//! assert_eq!(s.env, vec![("f2bV_F_USER".to_string(), "$(reboot)".to_string())]);
//! ```

pub mod action;
pub mod command;
pub mod exec;
pub mod mail;
pub mod nft;
pub mod shell;
pub mod tags;
pub mod ticket;
pub mod webhook;

pub use action::{Action, ActionOptions};
pub use command::{CommandAction, Hook};
pub use tags::{HostNames, Properties, TagError};
pub use ticket::{BadTarget, Family, Target, Ticket};

/// Everything that can go wrong in an action; each names the action (and jail or hook).
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("action {action}: {source}")]
    Tags {
        action: String,
        #[source]
        source: TagError,
    },
    #[error("action {action}: Python actions are not supported by bailiff (use an action.d .conf file or a native action)")]
    PythonUnsupported { action: String },
    #[error("action {action}: option {option} has a bad value {value:?}")]
    BadOption {
        action: String,
        option: String,
        value: String,
    },
    #[error("action {action}: cannot run {hook}: {source}")]
    Spawn {
        action: String,
        hook: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("jail {jail}, action {action}: {hook} {}: {stderr}", describe(*.code, *.timed_out))]
    HookFailed {
        jail: String,
        action: String,
        hook: &'static str,
        code: Option<i32>,
        timed_out: bool,
        stderr: String,
    },
    #[error("jail {jail}, action {action}: actioncheck still fails for {family} after repair")]
    RepairFailed {
        jail: String,
        action: String,
        family: Family,
    },
    #[error("nftables ({what}): {message}")]
    Nft { what: String, message: String },
    #[error("webhook {url}: {message}")]
    Webhook { url: String, message: String },
    #[error("mail via {program}: {message}")]
    Mail { program: String, message: String },
}

fn describe(code: Option<i32>, timed_out: bool) -> String {
    if timed_out {
        "timed out (process group killed)".to_string()
    } else {
        match code {
            Some(c) => format!("exited with {c}"),
            None => "killed by a signal".to_string(),
        }
    }
}
