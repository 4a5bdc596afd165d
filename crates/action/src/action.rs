//! [`Action`]: the command runner and the native nftables backend behind one
//! interface for the ban manager, with batch entry points.

use std::time::Duration;

use crate::command::CommandAction;
use crate::nft::{Ban, NftBackend, NftJail};
use crate::tags::HostNames;
use crate::ticket::{Family, Target, Ticket};
use crate::ActionError;

/// How actions are built.
#[derive(Debug, Clone)]
pub struct ActionOptions {
    pub host: HostNames,
    /// Apply the stock `nftables*` files natively (batched); default true.
    pub native_nft: bool,
    /// Command prefix for nft (default `nft`).
    pub nft_command: Vec<String>,
    /// Shell for `action.d` hooks (default `/bin/sh -c`).
    pub shell: Vec<String>,
    /// Added to each ban's remaining time for the kernel element timeout, so the
    /// kernel only expires a ban bailiff failed to lift itself.
    pub kernel_grace: Duration,
}

impl ActionOptions {
    pub fn new(host: HostNames) -> ActionOptions {
        ActionOptions {
            host,
            native_nft: true,
            nft_command: vec!["nft".into()],
            shell: vec!["/bin/sh".into(), "-c".into()],
            kernel_grace: Duration::from_secs(60),
        }
    }
}

/// One action of a jail.
#[derive(Debug)]
pub enum Action {
    Command(CommandAction),
    Nft {
        actname: String,
        backend: NftBackend,
        grace: Duration,
    },
}

impl Action {
    /// Build an action from its resolved property list (`fail2ban-client -d`'s
    /// `multi-set <jail> action <actname> [[k, v] ...]`). Python actions (`*.py`)
    /// are refused; the stock nftables files become the native backend.
    pub fn from_properties(
        jail: &str,
        actname: &str,
        props: Vec<(String, String)>,
        opts: &ActionOptions,
    ) -> Result<Action, ActionError> {
        if actname.ends_with(".py") {
            return Err(ActionError::PythonUnsupported {
                action: actname.to_string(),
            });
        }
        if opts.native_nft {
            if let Some(j) = NftJail::from_action(jail, actname, &props, &opts.host)? {
                let backend = NftBackend::new(j).with_command(opts.nft_command.clone());
                return Ok(Action::Nft {
                    actname: actname.to_string(),
                    backend,
                    grace: opts.kernel_grace,
                });
            }
        }
        let cmd = CommandAction::new(jail, actname, props, opts.host.clone())?
            .with_shell(opts.shell.clone());
        Ok(Action::Command(cmd))
    }

    /// bailiff's own native action for a jail (`table inet bailiff`).
    pub fn native(jail: NftJail, opts: &ActionOptions) -> Action {
        let actname = "bailiff-nft".to_string();
        let backend = NftBackend::new(jail).with_command(opts.nft_command.clone());
        Action::Nft {
            actname,
            backend,
            grace: opts.kernel_grace,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Action::Command(c) => c.actname(),
            Action::Nft { actname, .. } => actname,
        }
    }

    /// Kernel element for a ticket: remaining ban time plus grace; None if permanent.
    fn to_ban(t: &Ticket, now: i64, grace: Duration) -> Option<Ban> {
        let ip = t.ip?;
        let timeout = if t.bantime < 0 {
            None
        } else {
            let left = (t.time + t.bantime - now).max(1) as u64;
            Some(Duration::from_secs(left) + grace)
        };
        Some(Ban::new(ip, timeout))
    }

    /// Start the action and re-apply `restored` tickets (bans from the database).
    /// For the native backend this is one transaction.
    pub fn start(&mut self, now: i64, restored: &[Ticket]) -> Result<(), ActionError> {
        match self {
            Action::Nft { backend, grace, .. } => {
                let bans: Vec<Ban> = restored
                    .iter()
                    .filter_map(|t| Self::to_ban(t, now, *grace))
                    .collect();
                backend.start(&bans).map(|_| ())
            }
            Action::Command(c) => {
                c.start()?;
                first_error(restored.iter().map(|t| c.ban(t).map(|_| ())))
            }
        }
    }

    /// Ban a batch of tickets (one transaction for the native backend). The command
    /// runner tries every ticket and returns the first error.
    pub fn ban(&mut self, now: i64, tickets: &[Ticket]) -> Result<(), ActionError> {
        match self {
            Action::Nft { backend, grace, .. } => {
                let bans: Vec<Ban> = tickets
                    .iter()
                    .filter_map(|t| Self::to_ban(t, now, *grace))
                    .collect();
                backend.ban(&bans)
            }
            Action::Command(c) => first_error(tickets.iter().map(|t| c.ban(t).map(|_| ()))),
        }
    }

    /// Unban a batch of tickets.
    pub fn unban(&mut self, tickets: &[Ticket]) -> Result<(), ActionError> {
        match self {
            Action::Nft { backend, .. } => {
                let targets: Vec<Target> = tickets.iter().filter_map(|t| t.ip).collect();
                backend.unban(&targets)
            }
            Action::Command(c) => first_error(tickets.iter().map(|t| c.unban(t))),
        }
    }

    /// The ban time of these tickets grew (`bantime.increment`).
    pub fn prolong(&mut self, now: i64, tickets: &[Ticket]) -> Result<(), ActionError> {
        match self {
            Action::Nft { backend, grace, .. } => {
                let bans: Vec<Ban> = tickets
                    .iter()
                    .filter_map(|t| Self::to_ban(t, now, *grace))
                    .collect();
                backend.prolong(&bans)
            }
            Action::Command(c) => first_error(tickets.iter().map(|t| c.prolong(t))),
        }
    }

    /// Remove every ban (`actionflush`, or unbanning `active` one by one when the
    /// action has no flush hook).
    pub fn flush(&mut self, active: &[Ticket]) -> Result<(), ActionError> {
        match self {
            Action::Nft { backend, .. } => backend.flush(),
            Action::Command(c) => {
                if c.flush()? {
                    Ok(())
                } else {
                    first_error(active.iter().map(|t| c.unban(t)))
                }
            }
        }
    }

    /// Stop the action (after flushing, as fail2ban does).
    pub fn stop(&mut self, active: &[Ticket]) -> Result<(), ActionError> {
        let flushed = self.flush(active);
        let stopped = match self {
            Action::Nft { backend, .. } => backend.stop(),
            Action::Command(c) => c.stop(),
        };
        flushed.and(stopped)
    }

    /// Check the firewall against `active` and repair it when needed. Returns true
    /// when a repair was done.
    pub fn check_and_repair(&mut self, now: i64, active: &[Ticket]) -> Result<bool, ActionError> {
        match self {
            Action::Nft { backend, grace, .. } => {
                let recorded: Vec<Target> = active.iter().filter_map(|t| t.ip).collect();
                let report = backend.check(&recorded)?;
                if report.is_sane() {
                    return Ok(false);
                }
                let bans: Vec<Ban> = active
                    .iter()
                    .filter_map(|t| Self::to_ban(t, now, *grace))
                    .collect();
                backend.repair(&bans)?;
                Ok(true)
            }
            Action::Command(c) => {
                let before = c.epoch();
                for f in Family::ALL {
                    if c.started(f) {
                        c.check_and_repair(f)?;
                    }
                }
                Ok(c.epoch() != before)
            }
        }
    }
}

fn first_error(results: impl Iterator<Item = Result<(), ActionError>>) -> Result<(), ActionError> {
    let mut first = None;
    for r in results {
        if let Err(e) = r {
            first.get_or_insert(e);
        }
    }
    first.map_or(Ok(()), Err)
}
