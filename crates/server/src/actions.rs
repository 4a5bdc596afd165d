//! A jail's actions: `action.d` files run through [`CommandAction`], the stock
//! `nftables*` files applied natively through [`NftBackend`], and actions that cannot
//! run (Python actions, broken files), which are reported once and skipped.

use std::time::Duration;

use bailiff_action::nft::{Ban, NftBackend, NftJail};
use bailiff_action::{CommandAction, HostNames, Target, Ticket as ActTicket};
use bailiff_config::ActionSpec;
use bailiff_jail::{FailId, Ticket};

use crate::queue::Batch;

use bailiff_health::ActionOutcome;

use crate::log::Level;

/// At most this many results wait for the jail to take them.
const MAX_OUTCOMES: usize = 64;

/// What runs an action.
#[derive(Debug)]
pub enum Runner {
    Command(Box<CommandAction>),
    Nft(Box<NftBackend>),
    /// The action could not be set up; the reason was logged at start.
    Broken(String),
}

/// One action of a running jail.
#[derive(Debug)]
pub struct ActionRt {
    pub name: String,
    pub spec: ActionSpec,
    pub runner: Runner,
    /// Results of the calls since the jail last took them (for its health).
    pub outcomes: Vec<ActionOutcome>,
}

/// The property list of an action as strings (fail2ban's `multi-set` pairs).
pub fn properties(spec: &ActionSpec) -> Vec<(String, String)> {
    spec.properties
        .iter()
        .filter_map(|(k, v)| v.py_str().map(|s| (k.clone(), s)))
        .collect()
}

impl ActionRt {
    /// Build an action of jail `jail`. Never fails: an action that cannot run becomes
    /// [`Runner::Broken`] and the error is logged, so the jail still runs.
    pub fn new(jail: &str, spec: &ActionSpec, host: &HostNames) -> ActionRt {
        let name = spec.actname.clone();
        let runner = if spec.python.is_some() || spec.file.ends_with(".py") {
            let msg = format!(
                "action {name}: Python actions are not supported by bailiff; this action is skipped"
            );
            crate::log!(Level::Error, "fail2ban.actions", "[{jail}] {msg}");
            Runner::Broken(msg)
        } else {
            let props = properties(spec);
            match NftJail::from_action(jail, &spec.file, &props, host) {
                Ok(Some(nj)) => Runner::Nft(Box::new(NftBackend::new(nj))),
                Ok(None) | Err(_) => match CommandAction::new(jail, &name, props, host.clone()) {
                    Ok(a) => Runner::Command(Box::new(a)),
                    Err(e) => {
                        crate::log!(Level::Error, "fail2ban.actions", "[{jail}] {e}");
                        Runner::Broken(e.to_string())
                    }
                },
            }
        };
        ActionRt {
            name,
            spec: spec.clone(),
            runner,
            outcomes: Vec::new(),
        }
    }

    fn note<T, E: std::fmt::Display>(&mut self, r: &Result<T, E>) {
        note(&mut self.outcomes, r);
    }

    fn note_broken(&mut self) {
        if let Runner::Broken(msg) = &self.runner {
            let r: Result<(), String> = Err(msg.clone());
            self.note(&r);
        }
    }

    /// The results since the last call.
    pub fn take_outcomes(&mut self) -> Vec<ActionOutcome> {
        std::mem::take(&mut self.outcomes)
    }

    /// `actionstart` (unless on demand).
    pub fn start(&mut self, jail: &str) {
        let r = match &mut self.runner {
            Runner::Command(a) => a.start(),
            Runner::Nft(n) => n.start(&[]).map(|_| ()),
            Runner::Broken(_) => Ok(()),
        };
        self.note(&r);
        self.note_broken();
        if let Err(e) = r {
            crate::log!(
                Level::Error,
                "fail2ban.actions",
                "[{jail}] Failed to start action {}: {e}",
                self.name
            );
        }
    }

    /// `actionstop` (after flushing: fail2ban's stop unbans everything first).
    pub fn stop(&mut self, jail: &str, banned: &[ActTicket]) {
        let r = match &mut self.runner {
            Runner::Command(a) => {
                let flushed = match a.flush() {
                    Ok(f) => f,
                    Err(e) => {
                        crate::log!(Level::Error, "fail2ban.actions", "[{jail}] {e}");
                        false
                    }
                };
                if !flushed {
                    for t in banned {
                        if let Err(e) = a.unban(t) {
                            crate::log!(Level::Error, "fail2ban.actions", "[{jail}] {e}");
                        }
                    }
                }
                a.stop()
            }
            Runner::Nft(n) => n.stop(),
            Runner::Broken(_) => Ok(()),
        };
        self.note(&r);
        if let Err(e) = r {
            crate::log!(
                Level::Error,
                "fail2ban.actions",
                "[{jail}] Failed to stop action {}: {e}",
                self.name
            );
        }
    }

    /// Ban a job's tickets (the native backend in one transaction, built straight
    /// from the jail's tickets). Other actions get the full action tickets, built
    /// once per job for all of them in `full`.
    pub fn ban(&mut self, jail: &str, batches: &[Batch], full: &mut Option<Vec<ActTicket>>) {
        match &mut self.runner {
            Runner::Command(a) => {
                for t in full_tickets(batches, full) {
                    let r = a.ban(t);
                    note(&mut self.outcomes, &r);
                    if let Err(e) = r {
                        crate::log!(
                            Level::Error,
                            "fail2ban.actions",
                            "[{jail}] Failed to execute ban jail '{jail}' action '{}': {e}",
                            self.name
                        );
                    }
                }
            }
            Runner::Nft(n) => {
                let now = crate::now() as i64;
                let bans: Vec<Ban> = Batch::iter(batches)
                    .filter_map(|(t, default_bt)| {
                        let target = native_target(t)?;
                        let bantime = ban_seconds(t, default_bt);
                        let timeout = (bantime > 0).then(|| {
                            let left = t.time as i64 + bantime - now;
                            Duration::from_secs(left.max(1) as u64)
                        });
                        Some(Ban::new(target, timeout))
                    })
                    .collect();
                if !bans.is_empty() {
                    let r = n.ban(&bans);
                    note(&mut self.outcomes, &r);
                    if let Err(e) = r {
                        crate::log!(Level::Error, "fail2ban.actions", "[{jail}] {e}");
                    }
                }
            }
            Runner::Broken(_) => {}
        }
        self.note_broken();
    }

    /// Unban a job's tickets (see [`ActionRt::ban`]).
    pub fn unban(&mut self, jail: &str, batches: &[Batch], full: &mut Option<Vec<ActTicket>>) {
        match &mut self.runner {
            Runner::Command(a) => {
                for t in full_tickets(batches, full) {
                    let r = a.unban(t);
                    note(&mut self.outcomes, &r);
                    if let Err(e) = r {
                        crate::log!(
                            Level::Error,
                            "fail2ban.actions",
                            "[{jail}] Failed to execute unban jail '{jail}' action '{}': {e}",
                            self.name
                        );
                    }
                }
            }
            Runner::Nft(n) => {
                let targets: Vec<Target> = Batch::iter(batches)
                    .filter_map(|(t, _)| native_target(t))
                    .collect();
                if !targets.is_empty() {
                    let r = n.unban(&targets);
                    note(&mut self.outcomes, &r);
                    if let Err(e) = r {
                        crate::log!(Level::Error, "fail2ban.actions", "[{jail}] {e}");
                    }
                }
            }
            Runner::Broken(_) => {}
        }
    }

    /// `actionprolong` for bans made longer.
    pub fn prolong(&mut self, jail: &str, batches: &[Batch], full: &mut Option<Vec<ActTicket>>) {
        if let Runner::Command(a) = &mut self.runner {
            for t in full_tickets(batches, full) {
                if let Err(e) = a.prolong(t) {
                    crate::log!(Level::Error, "fail2ban.actions", "[{jail}] {e}");
                }
            }
        }
    }
}

/// The native backend's bans for `tickets` (addresses and networks only), each
/// with the time it has left as the kernel element's timeout (none when permanent).
pub fn nft_bans(tickets: &[ActTicket]) -> Vec<Ban> {
    tickets
        .iter()
        .filter_map(|t| {
            t.ip.map(|ip| {
                let timeout = (t.bantime > 0).then(|| {
                    let left = t.time + t.bantime - crate::now() as i64;
                    Duration::from_secs(left.max(1) as u64)
                });
                Ban::new(ip, timeout)
            })
        })
        .collect()
}

/// The action tickets of a job, built on first use.
fn full_tickets<'a>(batches: &[Batch], full: &'a mut Option<Vec<ActTicket>>) -> &'a [ActTicket] {
    full.get_or_insert_with(|| {
        Batch::iter(batches)
            .map(|(t, default_bt)| action_ticket(t, default_bt))
            .collect()
    })
}

/// The address or network a ticket bans (`None` for other failure ids).
fn native_target(t: &Ticket) -> Option<Target> {
    match &t.id {
        FailId::Ip(ip) => Some(Target::from(*ip)),
        other => other.to_string().parse().ok(),
    }
}

/// `<bantime>` of a ticket in whole seconds, `-1` for a permanent ban.
fn ban_seconds(t: &Ticket, default_ban_time: f64) -> i64 {
    let bt = t.ban_time_or(default_ban_time);
    if bt < 0.0 {
        -1
    } else {
        bt.round() as i64
    }
}

/// The action crate's view of a jail ticket (`<ip>`, `<failures>`, `<F-*>` ...).
pub fn action_ticket(t: &Ticket, default_ban_time: f64) -> ActTicket {
    let id = t.id.to_string();
    let mut a = ActTicket::default();
    match id.parse::<Target>() {
        Ok(tg) => a.ip = Some(tg),
        Err(_) => a.fid = Some(id),
    }
    a.failures = u64::from(t.failures.max(t.retry));
    a.time = t.time as i64;
    a.bantime = ban_seconds(t, default_ban_time);
    a.bancount = u64::from(t.ban_count);
    a.matches = t.matches.clone();
    a.restored = t.restored;
    for (k, v) in &t.data {
        if matches!(k.as_str(), "matches" | "failures" | "ip") {
            continue;
        }
        let s = match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Array(items) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| i.to_string())
                })
                .collect::<Vec<_>>()
                .join(", "),
            other => other.to_string(),
        };
        a.fields.push((k.clone(), s));
    }
    a
}

/// Keep an action call's result for the health report (bounded: the jail drains
/// them on every round). A free function so it can be called while the runner is
/// borrowed.
fn note<T, E: std::fmt::Display>(outcomes: &mut Vec<ActionOutcome>, r: &Result<T, E>) {
    if outcomes.len() < MAX_OUTCOMES {
        outcomes.push(ActionOutcome::from_result(r));
    }
}
