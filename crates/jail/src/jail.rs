//! A jail: ignore lists, failure counting, the observer's increment, and bans.

use crate::banmanager::{AddBan, BanManager};
use crate::bantime::BanTimeIncrement;
use crate::failmanager::{AddMode, FailManager};
use crate::formula::FormulaError;
use crate::id::{parse_net, FailId};
use crate::ignore::{IgnoreCache, IgnoreList, IgnoreSource};
use crate::ticket::{render_tags, Ticket, Time};
use crate::JailError;

/// The latest ban of an id as the store remembers it (fail2ban's `bips` row; with
/// `overalljails`, the sum of the counts and the latest time over all jails).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BanHistory {
    pub ban_count: u32,
    pub time_of_ban: Time,
    pub ban_time: f64,
}

/// What the jail asks its caller. The defaults answer "no command, no history".
pub trait JailHooks {
    /// Runs `ignorecommand` for `ticket` (only called when the jail has one):
    /// true means ignore. Errors count as "do not ignore", as in fail2ban.
    fn ignore_command(&mut self, _ticket: &Ticket) -> bool {
        false
    }
    /// The id's ban history from the store: this jail only, or every jail when
    /// `overall_jails`.
    fn ban_history(&mut self, _id: &FailId, _overall_jails: bool) -> Option<BanHistory> {
        None
    }
    /// A random value in `[0, 1)` for `bantime.rndtime`.
    fn random(&mut self) -> f64 {
        0.0
    }
}

/// Hooks that answer nothing (no store, no ignore command).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHooks;
impl JailHooks for NoHooks {}

/// A jail's counting and banning settings (time strings already in seconds).
#[derive(Debug, Clone)]
pub struct JailConfig {
    pub name: String,
    pub max_retry: u32,
    pub find_time: f64,
    /// `maxmatches`: matched lines kept per ticket.
    pub max_matches: usize,
    /// `bantime`; negative means permanent.
    pub ban_time: f64,
    /// `bantime.increment` settings when it is on.
    pub increment: Option<BanTimeIncrement>,
    /// Whether `ignorecommand` is set (the caller runs it through [`JailHooks`]).
    pub has_ignore_command: bool,
    pub ignore_cache: Option<IgnoreCache>,
}

impl JailConfig {
    /// jail.conf's defaults: maxretry 5, findtime 10m, bantime 10m, maxmatches = maxretry.
    pub fn new(name: &str) -> JailConfig {
        JailConfig {
            name: name.to_string(),
            max_retry: 5,
            find_time: 600.0,
            max_matches: 5,
            ban_time: 600.0,
            increment: None,
            has_ignore_command: false,
            ignore_cache: None,
        }
    }
}

/// What one failure led to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FailureOutcome {
    /// The id is ignored; nothing was counted.
    pub ignored: Option<IgnoreSource>,
    /// The id's retry count after this failure (0 when ignored or banned at once).
    pub retry: u32,
    /// Known bad id (increment on): its earlier ban count and the retry count it was
    /// raised to.
    pub bad: Option<(u32, u32)>,
    /// The failure is not newer than the id's last ban, so the observer left it alone.
    pub before_last_ban: bool,
    /// Tickets that reached `maxretry`: hand them to [`Jail::ban`].
    pub to_ban: Vec<Ticket>,
}

/// What [`Jail::ban`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum BanOutcome {
    /// Newly banned: run the ban actions with `ticket`; write it to the store when `record`.
    Banned {
        ticket: Ticket,
        /// The ban time was raised by `bantime.increment` (fail2ban's "Increase Ban").
        increased: bool,
        /// Store this ban (false for restored tickets and bans already over).
        record: bool,
        /// The formula failed; the plain `bantime` was used.
        formula_error: Option<FormulaError>,
    },
    /// The id was already banned; `ticket` is the active ban. When `prolonged` is set the
    /// active ban now lasts that long (run `actionprolong`).
    AlreadyBanned {
        ticket: Ticket,
        prolonged: Option<f64>,
    },
    /// The ban would already be over: nothing done.
    Expired,
    /// A restored ban skipped because its id is now ignored.
    Ignored(IgnoreSource),
}

/// Counters as fail2ban's `status <jail>` shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JailStatus {
    pub currently_failed: usize,
    pub total_failed: u64,
    pub currently_banned: usize,
    pub total_banned: u64,
    /// Banned ids in ban order.
    pub banned: Vec<String>,
}

/// One jail's pure state.
#[derive(Debug)]
pub struct Jail {
    name: String,
    fail: FailManager,
    bans: BanManager,
    ignore: IgnoreList,
    cache: Option<IgnoreCache>,
    has_ignore_command: bool,
    increment: Option<BanTimeIncrement>,
}

impl Jail {
    pub fn new(cfg: JailConfig) -> Jail {
        Jail {
            name: cfg.name,
            fail: FailManager::new(cfg.max_retry, cfg.find_time, cfg.max_matches),
            bans: BanManager::new(cfg.ban_time),
            ignore: IgnoreList::new(),
            cache: cfg.ignore_cache,
            has_ignore_command: cfg.has_ignore_command,
            increment: cfg.increment,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn fail_manager(&self) -> &FailManager {
        &self.fail
    }
    pub fn fail_manager_mut(&mut self) -> &mut FailManager {
        &mut self.fail
    }
    pub fn ban_manager(&self) -> &BanManager {
        &self.bans
    }
    pub fn ban_manager_mut(&mut self) -> &mut BanManager {
        &mut self.bans
    }
    pub fn ignore_list(&self) -> &IgnoreList {
        &self.ignore
    }
    pub fn ignore_list_mut(&mut self) -> &mut IgnoreList {
        &mut self.ignore
    }
    pub fn increment(&self) -> Option<&BanTimeIncrement> {
        self.increment.as_ref()
    }
    pub fn set_increment(&mut self, inc: Option<BanTimeIncrement>) {
        self.increment = inc;
    }
    pub fn set_ignore_cache(&mut self, c: Option<IgnoreCache>) {
        self.cache = c;
    }
    pub fn set_has_ignore_command(&mut self, v: bool) {
        self.has_ignore_command = v;
    }

    /// fail2ban's `getMaxBanTime`: `bantime.maxtime` (or -1) with increment, else `bantime`.
    pub fn max_ban_time(&self) -> f64 {
        match &self.increment {
            Some(inc) => inc.max_ban_time(),
            None => self.bans.ban_time(),
        }
    }

    /// Runs the ignore checks in fail2ban's order: cache, `ignoreself`, `ignoreip`,
    /// `ignorecommand`; records the verdict in the cache.
    pub fn check_ignore(
        &mut self,
        ticket: &Ticket,
        now: Time,
        hooks: &mut dyn JailHooks,
    ) -> Option<IgnoreSource> {
        let key = self
            .cache
            .as_ref()
            .map(|c| render_tags(c.key_template(), ticket));
        if let (Some(c), Some(k)) = (self.cache.as_mut(), key.as_deref()) {
            if let Some(v) = c.get(k, now) {
                return v.then_some(IgnoreSource::Cache);
            }
        }
        let mut verdict = self.ignore.check(&ticket.id);
        if verdict.is_none() && self.has_ignore_command && hooks.ignore_command(ticket) {
            verdict = Some(IgnoreSource::Command);
        }
        if let (Some(c), Some(k)) = (self.cache.as_mut(), key.as_deref()) {
            c.set(k, verdict.is_some(), now);
        }
        verdict
    }

    /// A failure found by the filter: ignore checks, counting, the observer's increment
    /// for known bad ids (when `bantime.increment` is on), and the ban decision.
    pub fn on_failure(
        &mut self,
        mut ticket: Ticket,
        now: Time,
        hooks: &mut dyn JailHooks,
    ) -> FailureOutcome {
        let mut out = FailureOutcome::default();
        // A failure is never in the future (an estimated date may be).
        if ticket.time > now {
            ticket.time = now;
        }
        if ticket.first_time > ticket.time {
            ticket.first_time = ticket.time;
        }
        if let Some(src) = self.check_ignore(&ticket, now, hooks) {
            out.ignored = Some(src);
            return out;
        }
        let max_retry = self.fail.max_retry();
        let Some(added) = self.fail.add_failure(&ticket, 1, AddMode::Filter) else {
            return out;
        };
        out.retry = added.retry;
        if added.retry >= max_retry {
            out.to_ban.extend(self.fail.to_ban(Some(&ticket.id)));
        }
        if self.increment.is_some() {
            self.observe_failure(&ticket, added.created, hooks, &mut out);
        }
        if !out.to_ban.is_empty() {
            out.retry = 0;
        }
        out
    }

    /// fail2ban's observer `failureFound`: raise the retry count of a known bad id.
    fn observe_failure(
        &mut self,
        ticket: &Ticket,
        created: bool,
        hooks: &mut dyn JailHooks,
        out: &mut FailureOutcome,
    ) {
        let max_retry = self.fail.max_retry();
        let mut ban_count = 0u32;
        let mut retry_count = 1u32;
        let mut time_of_ban = None;
        if let Some(h) = hooks.ban_history(&ticket.id, false) {
            ban_count = h.ban_count.max(ticket.ban_count);
            if ban_count > 0 {
                retry_count = (1u32 << ban_count.min(20)) / 2 + 1;
            }
            time_of_ban = Some(h.time_of_ban);
        }
        retry_count = retry_count.min(max_retry);
        if time_of_ban.is_some_and(|tob| ticket.time <= tob) {
            out.before_last_ban = true;
            return;
        }
        if retry_count <= 1 {
            return;
        }
        out.bad = Some((ban_count, retry_count));
        let Some(added) = self.fail.add_failure(
            ticket,
            retry_count - 1,
            AddMode::Observer {
                same_ticket: created,
            },
        ) else {
            return;
        };
        self.fail.set_ban_count(&ticket.id, ban_count);
        out.retry = added.retry;
        if added.retry >= max_retry {
            out.to_ban.extend(self.fail.to_ban(Some(&ticket.id)));
        }
    }

    /// `set <jail> attempt <ip> [lines...]`: counts `max(lines, 1)` failures at `now`
    /// without ignore checks; returns the ticket to ban if `maxretry` is reached.
    pub fn attempt(&mut self, id: FailId, matches: Vec<String>, now: Time) -> Option<Ticket> {
        let count = u32::try_from(matches.len()).unwrap_or(u32::MAX).max(1);
        let ticket = Ticket::new(id, now).with_matches(matches);
        let added = self.fail.add_failure(&ticket, count, AddMode::Filter)?;
        if added.retry >= self.fail.max_retry() {
            return self.fail.to_ban(Some(&ticket.id));
        }
        None
    }

    /// Bans a ticket (from [`Jail::on_failure`], `banip`, or a restore). With
    /// `bantime.increment`, a new ban of a known bad id gets a longer ban time.
    pub fn ban(&mut self, ticket: Ticket, now: Time, hooks: &mut dyn JailHooks) -> BanOutcome {
        let default_bt = self.bans.ban_time();
        let btime = ticket.ban_time_or(default_bt);
        let explicit = ticket.ban_time.is_some();
        let id = ticket.id.clone();
        let ticket_time = ticket.time;
        let mut restored = ticket.restored;
        match self.bans.add(ticket, now) {
            AddBan::Expired => BanOutcome::Expired,
            AddBan::AlreadyBanned { prolonged } => match self.bans.get(&id) {
                Some(t) => BanOutcome::AlreadyBanned {
                    ticket: t.clone(),
                    prolonged,
                },
                None => BanOutcome::Expired,
            },
            AddBan::Added => {
                let mut ban_count = self.bans.get(&id).map_or(1, |t| t.ban_count);
                let mut bt = btime;
                let mut set_bt = false;
                let mut record = !restored;
                let mut formula_error = None;
                if !restored && btime >= 0.0 && !explicit {
                    if let Some(inc) = self.increment.as_ref().filter(|_| btime > 0.0) {
                        if let Some(h) = hooks.ban_history(&id, inc.overall_jails) {
                            if h.ban_count >= ban_count {
                                ban_count = h.ban_count + 1;
                            }
                            if h.ban_count > 0 {
                                match inc.calc(btime, h.ban_count, hooks.random()) {
                                    Ok(v) => bt = v,
                                    Err(e) => formula_error = Some(e),
                                }
                            }
                            // fail2ban fixes the ticket's ban time once history is known;
                            // otherwise it keeps following the jail's bantime.
                            set_bt = true;
                            if ticket_time <= h.time_of_ban {
                                restored = true;
                                record = false;
                            }
                        }
                    }
                }
                // A ban that is already over is kept (as fail2ban does) but not stored.
                if bt >= 0.0 && ticket_time + bt < now {
                    record = false;
                }
                let increased = bt != btime;
                self.bans
                    .update_ban(&id, set_bt.then_some(bt), ban_count, restored);
                let ticket = match self.bans.get(&id) {
                    Some(t) => t.clone(),
                    None => return BanOutcome::Expired,
                };
                BanOutcome::Banned {
                    ticket,
                    increased,
                    record,
                    formula_error,
                }
            }
        }
    }

    /// `banip`: bans `id` now.
    pub fn ban_ip(&mut self, id: FailId, now: Time, hooks: &mut dyn JailHooks) -> BanOutcome {
        self.ban(Ticket::new(id, now), now, hooks)
    }

    /// Restores a ban read from the store at jail start. `ticket.ban_time` is the stored
    /// ban time (-2: unknown). Applies fail2ban's corrections: without increment only bans
    /// younger than `bantime` count, capped to it; with increment the time is capped to
    /// `bantime.maxtime`. Ignored ids are skipped.
    pub fn restore(
        &mut self,
        mut ticket: Ticket,
        now: Time,
        hooks: &mut dyn JailHooks,
    ) -> BanOutcome {
        let jail_bt = self.bans.ban_time();
        let (for_ban_time, correct) = match &self.increment {
            Some(inc) => (None, inc.max_ban_time()),
            None => (Some(jail_bt), jail_bt),
        };
        let mut bt = ticket.ban_time.unwrap_or(jail_bt);
        if bt == -2.0 {
            bt = jail_bt;
        } else if correct >= 0.0 && (bt < 0.0 || bt > correct) {
            bt = correct;
        }
        if bt >= 0.0 && ticket.time + bt <= now {
            return BanOutcome::Expired;
        }
        if let Some(f) = for_ban_time.filter(|f| *f >= 0.0) {
            if ticket.time <= now - f {
                return BanOutcome::Expired;
            }
        }
        ticket.ban_time = Some(bt);
        let probe = Ticket::new(ticket.id.clone(), ticket.time);
        if let Some(src) = self.check_ignore(&probe, now, hooks) {
            return BanOutcome::Ignored(src);
        }
        ticket.restored = true;
        self.ban(ticket, now, hooks)
    }

    /// Removes the bans that are over at `now` (at most `max_count`): run the unban
    /// actions for each.
    pub fn unban_due(&mut self, now: Time, max_count: usize) -> Vec<Ticket> {
        self.bans.unban_due(now, max_count)
    }

    /// When the next unban may be due.
    pub fn next_unban_time(&self) -> Option<Time> {
        self.bans.next_unban_time()
    }

    /// `unbanip`: an address, or a block / host name matching banned ids. Errors with
    /// [`JailError::NotBanned`] when nothing matched.
    pub fn unban(&mut self, spec: &str) -> Result<Vec<Ticket>, JailError> {
        let id = FailId::parse(spec.trim());
        if let Some(t) = self.bans.remove(&id) {
            return Ok(vec![t]);
        }
        if let FailId::Net(_) = id {
            if let Some(net) = parse_net(spec) {
                let v = self.bans.remove_in(&net);
                if !v.is_empty() {
                    return Ok(v);
                }
            }
        }
        Err(JailError::NotBanned(spec.to_string()))
    }

    /// `unban --all` / jail stop: removes every ban.
    pub fn flush(&mut self) -> Vec<Ticket> {
        self.bans.flush()
    }

    /// Periodic service: purges ids whose last failure is older than `findtime`.
    pub fn service(&mut self, now: Time) {
        self.fail.cleanup(now);
    }

    /// Counters for `status`.
    pub fn status(&self) -> JailStatus {
        JailStatus {
            currently_failed: self.fail.size(),
            total_failed: self.fail.fail_total(),
            currently_banned: self.bans.size(),
            total_banned: self.bans.ban_total(),
            banned: self
                .bans
                .banned()
                .iter()
                .map(|t| t.id.to_string())
                .collect(),
        }
    }
}
