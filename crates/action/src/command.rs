//! [`CommandAction`]: one `action.d` file's hooks run through the shell, with
//! fail2ban's start-on-demand, family, check-and-repair and `norestored` rules.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::exec::{self, Outcome};
use crate::shell::{self, Dynamic, ShellScript};
use crate::tags::{HostNames, Properties};
use crate::ticket::{Family, Ticket};
use crate::ActionError;

/// The hooks of an action file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hook {
    Start,
    Stop,
    Check,
    Ban,
    Unban,
    Flush,
    Prolong,
    Reban,
    Repair,
}

impl Hook {
    /// The property name (`actionban` ...).
    pub fn key(self) -> &'static str {
        match self {
            Hook::Start => "actionstart",
            Hook::Stop => "actionstop",
            Hook::Check => "actioncheck",
            Hook::Ban => "actionban",
            Hook::Unban => "actionunban",
            Hook::Flush => "actionflush",
            Hook::Prolong => "actionprolong",
            Hook::Reban => "actionreban",
            Hook::Repair => "actionrepair",
        }
    }
}

/// Default hook timeout (fail2ban's `timeout = 60`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// An `action.d` action run through `/bin/sh -c`.
#[derive(Debug)]
pub struct CommandAction {
    jail: String,
    actname: String,
    props: Properties,
    host: HostNames,
    shell: Vec<String>,
    started: HashMap<Family, bool>,
    /// The last command that succeeded per hook and family (so an identical start or
    /// stop is not run twice when both families share it).
    executed: HashMap<(Hook, Family), String>,
    on_demand: bool,
    /// The action has `?family=` variants: each family starts and stops on its own.
    per_family: bool,
    repair_on_unban: bool,
    norestored: bool,
    timeout: Duration,
    /// Bumped by every repair; tickets banned in an older epoch get re-banned.
    epoch: u64,
    /// Family slots repaired since the last [`CommandAction::reban_after_repair`].
    repaired: HashSet<Family>,
    /// Tickets (by `<ip>`/`<fid>`) banned since the last repair: a repair does not
    /// lose them, so they are not re-banned.
    epoch_bans: HashSet<String>,
}

impl CommandAction {
    /// Build from the resolved property list of `fail2ban-client -d`
    /// (`multi-set <jail> action <actname> [[k, v] ...]`). `name` and `actname`
    /// are added when absent.
    pub fn new(
        jail: &str,
        actname: &str,
        props: Vec<(String, String)>,
        host: HostNames,
    ) -> Result<CommandAction, ActionError> {
        if actname.ends_with(".py") {
            return Err(ActionError::PythonUnsupported {
                action: actname.to_string(),
            });
        }
        let mut items = props;
        if !items.iter().any(|(k, _)| k == "name") {
            items.push(("name".into(), jail.into()));
        }
        if !items.iter().any(|(k, _)| k == "actname") {
            items.push(("actname".into(), actname.into()));
        }
        let props = Properties::new(items);
        let timeout =
            match props
                .resolved("timeout", None, &host)
                .map_err(|e| ActionError::Tags {
                    action: actname.to_string(),
                    source: e,
                })? {
                None => DEFAULT_TIMEOUT,
                Some(v) => {
                    let secs: f64 = v.trim().parse().map_err(|_| ActionError::BadOption {
                        action: actname.to_string(),
                        option: "timeout".into(),
                        value: v.clone(),
                    })?;
                    if !(secs.is_finite() && secs > 0.0) {
                        return Err(ActionError::BadOption {
                            action: actname.to_string(),
                            option: "timeout".into(),
                            value: v,
                        });
                    }
                    Duration::from_secs_f64(secs)
                }
            };
        let props_has_cond = props.has_family_variants();
        let on_demand = props
            .flag("actionstart_on_demand")
            .unwrap_or_else(|| props.has_family_variants());
        Ok(CommandAction {
            jail: jail.to_string(),
            actname: actname.to_string(),
            repair_on_unban: props.flag("actionrepair_on_unban").unwrap_or(false),
            norestored: props.flag("norestored").unwrap_or(false),
            props,
            host,
            shell: vec!["/bin/sh".into(), "-c".into()],
            started: HashMap::new(),
            executed: HashMap::new(),
            on_demand,
            per_family: props_has_cond,
            timeout,
            epoch: 0,
            repaired: HashSet::new(),
            epoch_bans: HashSet::new(),
        })
    }

    /// Run hooks through another command prefix instead of `/bin/sh -c` (for example
    /// `ip netns exec NS /bin/sh -c`). The script is appended as the last argument.
    pub fn with_shell(mut self, argv: Vec<String>) -> CommandAction {
        self.shell = argv;
        self
    }

    pub fn jail(&self) -> &str {
        &self.jail
    }

    pub fn actname(&self) -> &str {
        &self.actname
    }

    pub fn properties(&self) -> &Properties {
        &self.props
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// `norestored`: restored tickets are not passed to this action.
    pub fn norestored(&self) -> bool {
        self.norestored
    }

    pub fn start_on_demand(&self) -> bool {
        self.on_demand
    }

    /// Families whose `actionstart` has run.
    pub fn started(&self, family: Family) -> bool {
        self.started
            .get(&self.key(family))
            .copied()
            .unwrap_or(false)
    }

    /// The family slot used for start/stop bookkeeping: without `?family=` variants
    /// both families share one (fail2ban's single "" family).
    fn key(&self, family: Family) -> Family {
        if self.per_family {
            family
        } else {
            Family::Inet4
        }
    }

    /// The distinct family slots.
    fn slots(&self) -> &'static [Family] {
        if self.per_family {
            &Family::ALL
        } else {
            &[Family::Inet4]
        }
    }

    /// Incremented by each repair (fail2ban's ban epoch).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// True when some hook uses dynamic tag `tag` (e.g. `ip-host`, `ipmatches`), so
    /// the caller only looks up costly values (DNS, database) when they are needed.
    pub fn uses_tag(&self, tag: &str) -> bool {
        let needle = format!("<{tag}>");
        const HOOKS: [Hook; 9] = [
            Hook::Start,
            Hook::Stop,
            Hook::Check,
            Hook::Ban,
            Hook::Unban,
            Hook::Flush,
            Hook::Prolong,
            Hook::Reban,
            Hook::Repair,
        ];
        HOOKS.iter().any(|h| {
            Family::ALL.iter().any(|&f| {
                self.props
                    .get_for(h.key(), Some(f))
                    .and_then(|raw| self.props.expand(raw, Some(f), &self.host).ok())
                    .is_some_and(|text| text.contains(&needle))
            })
        })
    }

    /// The script a hook would run for `ticket` (or without one), after static and
    /// dynamic substitution. None when the hook is absent or empty.
    pub fn render(
        &self,
        hook: Hook,
        family: Option<Family>,
        ticket: Option<&Ticket>,
    ) -> Result<Option<ShellScript>, ActionError> {
        let Some(raw) = self.props.get_for(hook.key(), family) else {
            return Ok(None);
        };
        let text = self
            .props
            .expand(raw, family, &self.host)
            .map_err(|e| ActionError::Tags {
                action: self.actname.clone(),
                source: e,
            })?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        let dynamic = Dynamic {
            ticket,
            family,
            now: now(),
        };
        Ok(Some(shell::render(&text, &dynamic)))
    }

    /// Run `hook`; Ok(None) when the hook is empty.
    fn exec(
        &mut self,
        hook: Hook,
        family: Family,
        ticket: Option<&Ticket>,
    ) -> Result<Option<Outcome>, ActionError> {
        let Some(script) = self.render(hook, Some(family), ticket)? else {
            return Ok(None);
        };
        let out =
            exec::run(&self.shell, &script, self.timeout).map_err(|e| ActionError::Spawn {
                action: self.actname.clone(),
                hook: hook.key(),
                source: e,
            })?;
        Ok(Some(out))
    }

    fn failed(&self, hook: Hook, out: &Outcome) -> ActionError {
        ActionError::HookFailed {
            jail: self.jail.clone(),
            action: self.actname.clone(),
            hook: hook.key(),
            code: out.code,
            timed_out: out.timed_out,
            stderr: out.stderr.trim().to_string(),
        }
    }

    /// Run a start or stop hook for one family, skipping a command identical to one
    /// that already succeeded for the other family.
    fn run_family_hook(&mut self, hook: Hook, family: Family) -> Result<(), ActionError> {
        let Some(script) = self.render(hook, Some(family), None)? else {
            return Ok(());
        };
        let other = match family {
            Family::Inet4 => Family::Inet6,
            Family::Inet6 => Family::Inet4,
        };
        if self.executed.get(&(hook, other)) == Some(&script.script) {
            self.executed.insert((hook, family), script.script);
            return Ok(());
        }
        let out =
            exec::run(&self.shell, &script, self.timeout).map_err(|e| ActionError::Spawn {
                action: self.actname.clone(),
                hook: hook.key(),
                source: e,
            })?;
        if !out.success() {
            self.executed.remove(&(hook, family));
            return Err(self.failed(hook, &out));
        }
        self.executed.insert((hook, family), script.script);
        Ok(())
    }

    fn start_family(&mut self, family: Family) -> Result<(), ActionError> {
        let family = self.key(family);
        self.executed.remove(&(Hook::Stop, family));
        self.run_family_hook(Hook::Start, family)?;
        self.started.insert(family, true);
        Ok(())
    }

    /// `actionstart` for both families, unless the action starts on demand (then it
    /// runs before the first ban of each family).
    pub fn start(&mut self) -> Result<(), ActionError> {
        if self.on_demand {
            return Ok(());
        }
        for &f in self.slots() {
            if !self.started(f) {
                self.start_family(f)?;
            }
        }
        Ok(())
    }

    /// `actionstop` for every started family.
    pub fn stop(&mut self) -> Result<(), ActionError> {
        let mut first_err = None;
        for &f in self.slots() {
            if self.started(f) {
                self.executed.remove(&(Hook::Start, f));
                if let Err(e) = self.run_family_hook(Hook::Stop, f) {
                    first_err.get_or_insert(e);
                }
                self.started.insert(f, false);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// `actionban` for one ticket. Returns false when the ticket was skipped
    /// (`norestored` and a restored ticket).
    pub fn ban(&mut self, ticket: &Ticket) -> Result<bool, ActionError> {
        self.ban_with(Hook::Ban, ticket)
    }

    /// `actionreban` (falls back to `actionban` when the file has none).
    pub fn reban(&mut self, ticket: &Ticket) -> Result<bool, ActionError> {
        let fam = Some(ticket.family());
        let hook = if self.props.get_for(Hook::Reban.key(), fam).is_some() {
            Hook::Reban
        } else {
            Hook::Ban
        };
        self.ban_with(hook, ticket)
    }

    fn ban_with(&mut self, hook: Hook, ticket: &Ticket) -> Result<bool, ActionError> {
        if self.norestored && ticket.restored {
            return Ok(false);
        }
        let fam = ticket.family();
        if !self.started(fam) {
            self.start_family(fam)?;
        }
        self.process(hook, ticket)?;
        self.epoch_bans.insert(ticket_key(ticket));
        Ok(true)
    }

    /// `actionunban`; only for families that were started (had bans).
    pub fn unban(&mut self, ticket: &Ticket) -> Result<(), ActionError> {
        if self.norestored && ticket.restored {
            return Ok(());
        }
        if !self.started(ticket.family()) {
            return Ok(());
        }
        self.epoch_bans.remove(&ticket_key(ticket));
        self.process(Hook::Unban, ticket)
    }

    /// `actionprolong`, when the file has one.
    pub fn prolong(&mut self, ticket: &Ticket) -> Result<(), ActionError> {
        if !self.started(ticket.family()) {
            return Ok(());
        }
        self.process(Hook::Prolong, ticket)
    }

    /// `actionflush` for every started family. Returns false when the action has no
    /// flush hook: the caller must then unban each ticket.
    pub fn flush(&mut self) -> Result<bool, ActionError> {
        let has_flush = self
            .props
            .get(Hook::Flush.key())
            .is_some_and(|v| !v.trim().is_empty());
        if !has_flush {
            return Ok(false);
        }
        let mut done: Vec<String> = Vec::new();
        for &f in self.slots() {
            if !self.started(f) {
                continue;
            }
            let Some(script) = self.render(Hook::Flush, Some(f), None)? else {
                continue;
            };
            if done.contains(&script.script) {
                continue;
            }
            let out =
                exec::run(&self.shell, &script, self.timeout).map_err(|e| ActionError::Spawn {
                    action: self.actname.clone(),
                    hook: Hook::Flush.key(),
                    source: e,
                })?;
            if !out.success() {
                return Err(self.failed(Hook::Flush, &out));
            }
            done.push(script.script);
        }
        Ok(true)
    }

    /// Run `actioncheck` for `family`; true when it passes or is empty.
    pub fn check(&mut self, family: Family) -> Result<bool, ActionError> {
        Ok(match self.exec(Hook::Check, family, None)? {
            None => true,
            Some(out) => out.success(),
        })
    }

    /// fail2ban's invariant check: when `actioncheck` fails, run `actionrepair`
    /// (or stop + start when there is none) and check again.
    pub fn check_and_repair(&mut self, family: Family) -> Result<(), ActionError> {
        if self.check(family)? {
            return Ok(());
        }
        self.epoch += 1;
        // Whatever the repair does (actionrepair, or actionstop + actionstart), the
        // bans this family slot held before it are to be re-applied.
        let slot = self.key(family);
        self.repaired.insert(slot);
        let per_family = self.per_family;
        self.epoch_bans
            .retain(|k| per_family && key_family(k) != slot);
        let has_repair = self
            .props
            .get_for(Hook::Repair.key(), Some(family))
            .is_some_and(|v| !v.trim().is_empty());
        if has_repair {
            match self.exec(Hook::Repair, family, None)? {
                Some(out) if !out.success() => {
                    self.started.insert(slot, false);
                    return Err(self.failed(Hook::Repair, &out));
                }
                _ => {
                    self.started.insert(slot, true);
                }
            }
        } else {
            if self.started(slot) {
                self.executed.remove(&(Hook::Start, slot));
                let _ = self.run_family_hook(Hook::Stop, slot);
                self.started.insert(slot, false);
            }
            self.executed.remove(&(Hook::Stop, slot));
            self.start_family(family)?;
        }
        if !self.check(family)? {
            return Err(ActionError::RepairFailed {
                jail: self.jail.clone(),
                action: self.actname.clone(),
                family,
            });
        }
        Ok(())
    }

    /// The family slots whose `actionstart` has run (one slot, `inet4`, for an
    /// action without `?family=` variants): what a periodic check looks at.
    pub fn started_slots(&self) -> Vec<Family> {
        self.slots()
            .iter()
            .copied()
            .filter(|&f| self.started(f))
            .collect()
    }

    /// fail2ban's consistency check, run periodically rather than only when an
    /// address shows up again: [`CommandAction::check_and_repair`] for every
    /// started family slot. The first error is returned; every slot is tried.
    pub fn consistency_check(&mut self) -> Result<(), ActionError> {
        let mut first = None;
        for f in self.started_slots() {
            if let Err(e) = self.check_and_repair(f) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// After a repair (here, or on a failed ban), the bans the repaired family
    /// slots held are gone: re-apply those of `active` (the jail's current bans)
    /// that were banned before the repair (fail2ban re-bans tickets of an older ban
    /// epoch), through `actionreban` or `actionban`. Tickets banned since the
    /// repair are left alone, so no rule is added twice. Returns None when nothing
    /// was repaired since the last call, else how many tickets were re-applied and
    /// the first error.
    pub fn reban_after_repair(
        &mut self,
        active: &[Ticket],
    ) -> Option<(usize, Result<(), ActionError>)> {
        if self.repaired.is_empty() {
            return None;
        }
        let repaired = std::mem::take(&mut self.repaired);
        let mut done = 0;
        let mut first = None;
        for t in active {
            if !repaired.contains(&self.key(t.family())) || self.epoch_bans.contains(&ticket_key(t))
            {
                continue;
            }
            match self.reban(t) {
                Ok(true) => done += 1,
                Ok(false) => {}
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        Some((done, first.map_or(Ok(()), Err)))
    }

    /// Run a per-ticket hook; on failure check (and repair) and retry once.
    fn process(&mut self, hook: Hook, ticket: &Ticket) -> Result<(), ActionError> {
        let fam = ticket.family();
        let Some(out) = self.exec(hook, fam, Some(ticket))? else {
            return Ok(());
        };
        if out.success() {
            return Ok(());
        }
        let first = self.failed(hook, &out);
        let has_check = self
            .props
            .get_for(Hook::Check.key(), Some(fam))
            .is_some_and(|v| !v.trim().is_empty());
        if !has_check {
            // fail2ban retries once even without a check
            return match self.exec(hook, fam, Some(ticket))? {
                Some(o) if !o.success() => Err(self.failed(hook, &o)),
                _ => Ok(()),
            };
        }
        if hook == Hook::Unban && !self.repair_on_unban {
            if self.check(fam)? {
                // environment is fine; retry once
                return match self.exec(hook, fam, Some(ticket))? {
                    Some(o) if !o.success() => Err(self.failed(hook, &o)),
                    _ => Ok(()),
                };
            }
            return Err(first);
        }
        self.check_and_repair(fam)?;
        match self.exec(hook, fam, Some(ticket))? {
            Some(o) if !o.success() => Err(self.failed(hook, &o)),
            _ => Ok(()),
        }
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A ticket's identity for the ban-epoch bookkeeping: its `<ip>` (or `<fid>`).
fn ticket_key(t: &Ticket) -> String {
    match (&t.ip, &t.fid) {
        (Some(ip), _) => ip.to_string(),
        (None, Some(fid)) => fid.clone(),
        (None, None) => String::new(),
    }
}

/// The family of a [`ticket_key`] (`inet4` for a failure id that is no address,
/// as [`Ticket::family`]).
fn key_family(k: &str) -> Family {
    k.parse::<crate::ticket::Target>()
        .map(|t| t.family())
        .unwrap_or(Family::Inet4)
}
