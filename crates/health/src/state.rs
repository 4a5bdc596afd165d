//! [`JailHealth`]: what the daemon tells us about one jail, kept in bounded memory.
//!
//! Every method takes the time (`now`, Unix seconds) as a value; nothing here reads
//! the clock or the disk.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::hash::{Hash, Hasher};

use serde::Serialize;

/// Unix time in seconds, as fail2ban and the filter count it.
pub type Time = f64;

/// What a log source looks like right now.
///
/// Serialized as its word (`open`, `missing`, `unreadable`, `rotated`); the reason
/// an unreadable source gave is in [`SourceHealth::reason`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceState {
    /// Open and followed.
    Open,
    /// The path does not exist (yet, or any more).
    Missing,
    /// The path exists but cannot be opened or read: the reason.
    Unreadable(String),
    /// Just rotated (renamed, recreated or truncated); the new file is followed.
    Rotated,
}

impl SourceState {
    /// Lines can be read from the source.
    pub fn is_up(&self) -> bool {
        matches!(self, SourceState::Open | SourceState::Rotated)
    }

    fn word(&self) -> &'static str {
        match self {
            SourceState::Open => "open",
            SourceState::Missing => "missing",
            SourceState::Unreadable(_) => "unreadable",
            SourceState::Rotated => "rotated",
        }
    }
}

impl Serialize for SourceState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.word())
    }
}

impl std::fmt::Display for SourceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceState::Unreadable(why) => write!(f, "unreadable ({why})"),
            s => f.write_str(s.word()),
        }
    }
}

/// One log source of a jail (a file path, or `journal`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceHealth {
    pub state: SourceState,
    /// Why it is unreadable (the error), when it is.
    pub reason: Option<String>,
    /// When the source entered `state`.
    pub since: Time,
    /// Lines and bytes read.
    pub lines_read: u64,
    pub bytes_read: u64,
    /// When lines were last read.
    pub last_read: Option<Time>,
    /// Lines in which no date was recognised.
    pub lines_nodate: u64,
    /// Rotations seen.
    pub rotations: u64,
}

impl SourceHealth {
    fn new(state: SourceState, now: Time) -> Self {
        SourceHealth {
            reason: match &state {
                SourceState::Unreadable(why) => Some(why.clone()),
                _ => None,
            },
            state,
            since: now,
            lines_read: 0,
            bytes_read: 0,
            last_read: None,
            lines_nodate: 0,
            rotations: 0,
        }
    }
}

/// Counts events in fixed-width time slots over a bounded span (a ring of slots).
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets {
    width: u64,
    /// (slot number = time / width, count), at most `slots` of them, oldest first.
    ring: VecDeque<(u64, u64)>,
    slots: usize,
}

impl Buckets {
    /// `slots` slots of `width` seconds each (memory: `slots` pairs at most).
    pub fn new(width: u64, slots: usize) -> Self {
        Buckets {
            width: width.max(1),
            ring: VecDeque::with_capacity(slots),
            slots: slots.max(1),
        }
    }

    fn slot(&self, t: Time) -> u64 {
        if t.is_finite() && t > 0.0 {
            (t as u64) / self.width
        } else {
            0
        }
    }

    /// Count `n` events at time `t`.
    pub fn add(&mut self, t: Time, n: u64) {
        let s = self.slot(t);
        match self.ring.back_mut() {
            Some((last, c)) if *last == s => *c += n,
            Some((last, _)) if *last > s => {
                // Out-of-order time (clock stepped back): count it in the newest slot.
                if let Some((_, c)) = self.ring.back_mut() {
                    *c += n;
                }
            }
            _ => {
                self.ring.push_back((s, n));
                while self.ring.len() > self.slots {
                    self.ring.pop_front();
                }
            }
        }
    }

    /// Events counted within the last `span` seconds before `now` (slot resolution).
    pub fn since(&self, now: Time, span: u64) -> u64 {
        let cur = self.slot(now);
        let n = span.div_ceil(self.width);
        let first = cur.saturating_sub(n.saturating_sub(1));
        self.ring
            .iter()
            .filter(|(s, _)| *s >= first && *s <= cur)
            .map(|(_, c)| c)
            .sum()
    }
}

/// Failures or bans over the last hour and the last day.
#[derive(Debug, Clone, PartialEq)]
pub struct RecentCounts {
    /// One-minute slots over an hour.
    hour: Buckets,
    /// Five-minute slots over a day.
    day: Buckets,
}

impl Default for RecentCounts {
    fn default() -> Self {
        RecentCounts {
            hour: Buckets::new(60, 60),
            day: Buckets::new(300, 288),
        }
    }
}

impl RecentCounts {
    pub fn add(&mut self, now: Time) {
        self.hour.add(now, 1);
        self.day.add(now, 1);
    }
    pub fn last_hour(&self, now: Time) -> u64 {
        self.hour.since(now, 3600)
    }
    pub fn last_day(&self, now: Time) -> u64 {
        self.day.since(now, 86400)
    }
}

/// The outcome of running one action command (ban, unban, start, check...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionOutcome {
    Ok,
    /// Failed: the message (exit status, stderr, nft error).
    Err(String),
}

/// Enforcement state of one action of a jail.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ActionHealth {
    /// Commands run and commands that failed.
    pub runs: u64,
    pub errors: u64,
    /// The last failure and when; cleared by the next success.
    pub last_error: Option<String>,
    pub last_error_at: Option<Time>,
    /// Last enforcement check (the kernel set compared with the recorded bans).
    pub last_check: Option<Time>,
    /// Recorded bans missing from the kernel set at the last check.
    pub missing: usize,
    /// The set (or chain) existed at the last check.
    pub set_present: bool,
    /// Times the firewall was found broken and repaired, and the last time.
    pub repairs: u64,
    pub last_repair: Option<Time>,
}

/// What the filter made of one line, as the daemon hands it over.
///
/// Built from `bailiff_filter::LineResult`: `line_time` = `date.map(|d| d.time)`,
/// one [`Matched`] per failure, `ignored`, and one [`AmbiguousMatch`] per ambiguity.
///
/// Borrowed and allocation-free for the common line that matches nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LineSummary<'a> {
    /// The source the line came from (path, or `journal`).
    pub source: &'a str,
    /// The line's date (None: no date recognised).
    pub line_time: Option<Time>,
    /// Read while catching up after start: its date says nothing about the clock.
    pub catching_up: bool,
    pub matched: Vec<Matched>,
    /// An ignoreregex dropped a match.
    pub ignored: bool,
    pub ambiguous: Vec<AmbiguousMatch>,
}

/// One failure found on a line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matched {
    /// Index of the failregex.
    pub regex: usize,
    /// The failure id (address).
    pub fid: String,
    /// The `<F-USER>` value, if the regex captures one.
    pub user: Option<String>,
    /// The address is in `ignoreip` (or `ignorecommand` said so): not a NAT suspect.
    pub ignoreip: bool,
}

/// A match the filter would not trust (no ban).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AmbiguousMatch {
    pub regex: usize,
    /// fail2ban's pick: the first candidate address.
    pub address: String,
}

/// What the journal cross-check found: in the last `window` seconds the journal
/// held `journal_entries` entries selected by the jail's `journalmatch` (of
/// `unit`), while the jail's log files gave `file_lines` lines.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JournalMismatch {
    /// The unit or identifier the `journalmatch` names (`sshd.service`).
    pub unit: String,
    pub journal_entries: u64,
    pub file_lines: u64,
    /// Length of the compared window (seconds).
    pub window: f64,
}

/// Distinct users seen failing from one address (users kept as hashes: the names
/// are attacker-written and may be long).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AddressUsers {
    pub users: BTreeSet<u64>,
    pub failures: u64,
    pub first_seen: Time,
    pub last_seen: Time,
}

/// Limits on the memory one jail's health may take: addresses tracked for the
/// NAT check.
pub const MAX_TRACKED_ADDRESSES: usize = 2048;
/// Distinct users remembered per address (a `nat_users` threshold above this
/// never fires).
pub const MAX_USERS_PER_ADDRESS: usize = 32;
/// Failure ids and addresses are kept to this many bytes (an `<F-ID>` can be any
/// attacker text).
pub const MAX_ID_BYTES: usize = 256;

fn clip(s: &str) -> &str {
    if s.len() <= MAX_ID_BYTES {
        return s;
    }
    let mut end = MAX_ID_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
/// Ambiguous-line senders remembered.
pub const MAX_AMBIGUOUS_ADDRESSES: usize = 256;
/// Date offsets remembered for the skew check.
pub const SKEW_SAMPLES: usize = 32;
/// How long an address's user list is kept after its last failure.
pub const USER_MEMORY: f64 = 86400.0;

/// Health of one jail: updated by the daemon, read by [`crate::evaluate`],
/// rendering and metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct JailHealth {
    /// Per source (path or `journal`), sorted.
    pub sources: BTreeMap<String, SourceHealth>,
    /// Lines matched per failregex index.
    pub matched_per_regex: BTreeMap<usize, u64>,
    pub lines_read: u64,
    pub lines_matched: u64,
    pub lines_missed: u64,
    pub lines_ignored: u64,
    pub lines_nodate: u64,
    pub lines_ambiguous: u64,
    /// Last time a line matched, and lines read since then.
    pub last_match: Option<Time>,
    pub lines_since_match: u64,
    /// When the current run of non-matching lines began to be read.
    pub drift_since: Option<Time>,
    pub failures_total: u64,
    pub bans_total: u64,
    pub unbans_total: u64,
    pub bans_active: u64,
    pub failures: RecentCounts,
    pub bans: RecentCounts,
    /// Per action name.
    pub actions: BTreeMap<String, ActionHealth>,
    /// Addresses that sent ambiguous lines, with their counts (bounded).
    pub ambiguous_addresses: BTreeMap<String, u64>,
    /// `backend` reads files while the journal holds the service's entries (the
    /// daemon's periodic cross-check computes it).
    pub journal_mismatch: Option<JournalMismatch>,
    /// Recent `line_time - now` offsets of dated live lines (ring).
    pub(crate) skew: VecDeque<f64>,
    pub(crate) users: HashMap<String, AddressUsers>,
}

impl Default for JailHealth {
    fn default() -> Self {
        Self::new()
    }
}

impl JailHealth {
    pub fn new() -> Self {
        JailHealth {
            sources: BTreeMap::new(),
            matched_per_regex: BTreeMap::new(),
            lines_read: 0,
            lines_matched: 0,
            lines_missed: 0,
            lines_ignored: 0,
            lines_nodate: 0,
            lines_ambiguous: 0,
            last_match: None,
            lines_since_match: 0,
            drift_since: None,
            failures_total: 0,
            bans_total: 0,
            unbans_total: 0,
            bans_active: 0,
            failures: RecentCounts::default(),
            bans: RecentCounts::default(),
            actions: BTreeMap::new(),
            ambiguous_addresses: BTreeMap::new(),
            journal_mismatch: None,
            skew: VecDeque::with_capacity(SKEW_SAMPLES),
            users: HashMap::new(),
        }
    }

    fn source(&mut self, source: &str, now: Time) -> &mut SourceHealth {
        // No allocation on the per-line path once the source is known.
        if !self.sources.contains_key(source) {
            self.sources.insert(
                source.to_string(),
                SourceHealth::new(SourceState::Open, now),
            );
        }
        self.sources.get_mut(source).expect("inserted just above")
    }

    /// A source's state changed (or was looked at: same state keeps its `since`).
    pub fn on_source_state(&mut self, source: &str, state: SourceState, now: Time) {
        let s = self.source(source, now);
        if state == SourceState::Rotated {
            s.rotations += 1;
        }
        if s.state != state {
            // Open <-> Rotated is not a change of availability.
            let keep_since = s.state.is_up() && state.is_up();
            s.reason = match &state {
                SourceState::Unreadable(why) => Some(why.clone()),
                _ => None,
            };
            s.state = state;
            if !keep_since {
                s.since = now;
            }
        }
    }

    /// Forget a source no longer configured (`set JAIL dellogpath`).
    pub fn remove_source(&mut self, source: &str) {
        self.sources.remove(source);
    }

    /// A batch of `n_lines` lines / `n_bytes` bytes was read from `source`.
    pub fn on_lines_read(&mut self, source: &str, n_lines: u64, n_bytes: u64, now: Time) {
        let s = self.source(source, now);
        s.lines_read += n_lines;
        s.bytes_read += n_bytes;
        if n_lines > 0 || n_bytes > 0 {
            s.last_read = Some(now);
            if !s.state.is_up() {
                s.state = SourceState::Open;
                s.reason = None;
                s.since = now;
            }
        }
        self.lines_read += n_lines;
    }

    /// The filter's verdict on one line.
    pub fn on_line(&mut self, line: &LineSummary<'_>, now: Time) {
        match line.line_time {
            None => {
                self.lines_nodate += 1;
                self.source(line.source, now).lines_nodate += 1;
            }
            Some(t) if !line.catching_up && t.is_finite() => {
                if self.skew.len() == SKEW_SAMPLES {
                    self.skew.pop_front();
                }
                self.skew.push_back(t - now);
            }
            Some(_) => {}
        }
        if !line.ambiguous.is_empty() {
            self.lines_ambiguous += 1;
            for a in &line.ambiguous {
                self.note_ambiguous(&a.address);
            }
        }
        if !line.matched.is_empty() {
            self.lines_matched += 1;
            self.last_match = Some(now);
            self.lines_since_match = 0;
            self.drift_since = None;
            for m in &line.matched {
                *self.matched_per_regex.entry(m.regex).or_default() += 1;
                self.failures_total += 1;
                self.failures.add(now);
                if !m.ignoreip {
                    if let Some(user) = &m.user {
                        self.note_user(&m.fid, user, now);
                    }
                }
            }
        } else if line.ignored {
            self.lines_ignored += 1;
        } else if line.ambiguous.is_empty() {
            self.lines_missed += 1;
            self.lines_since_match += 1;
            if self.drift_since.is_none() {
                self.drift_since = Some(now);
            }
        }
    }

    fn note_ambiguous(&mut self, address: &str) {
        let address = clip(address);
        if let Some(c) = self.ambiguous_addresses.get_mut(address) {
            *c += 1;
        } else if self.ambiguous_addresses.len() < MAX_AMBIGUOUS_ADDRESSES {
            self.ambiguous_addresses.insert(address.to_string(), 1);
        }
    }

    fn note_user(&mut self, fid: &str, user: &str, now: Time) {
        let fid = clip(fid);
        if !self.users.contains_key(fid) && self.users.len() >= MAX_TRACKED_ADDRESSES {
            self.users.retain(|_, a| now - a.last_seen < USER_MEMORY);
            if self.users.len() >= MAX_TRACKED_ADDRESSES {
                // Still full (many attackers at once): drop the stalest half, so the
                // cost is paid once per MAX/2 new addresses, not on each failure.
                let mut seen: Vec<f64> = self.users.values().map(|a| a.last_seen).collect();
                let mid = seen.len() / 2;
                let (_, cut, _) = seen.select_nth_unstable_by(mid, f64::total_cmp);
                let cut = *cut;
                self.users.retain(|_, a| a.last_seen > cut);
            }
        }
        let e = self
            .users
            .entry(fid.to_string())
            .or_insert_with(|| AddressUsers {
                users: BTreeSet::new(),
                failures: 0,
                first_seen: now,
                last_seen: now,
            });
        e.failures += 1;
        e.last_seen = now;
        if e.users.len() < MAX_USERS_PER_ADDRESS {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            user.hash(&mut hasher);
            e.users.insert(hasher.finish());
        }
    }

    /// The address was added to `ignoreip`: stop suspecting it.
    pub fn forget_address(&mut self, fid: &str) {
        self.users.remove(clip(fid));
    }

    /// Distinct users per address seen within `window` seconds before `now`,
    /// most users first.
    pub fn users_per_address(&self, now: Time, window: f64) -> Vec<(String, usize, u64)> {
        let mut v: Vec<_> = self
            .users
            .iter()
            .filter(|(_, a)| now - a.last_seen <= window)
            .map(|(k, a)| (k.clone(), a.users.len(), a.failures))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }

    /// Median offset of recent dated live lines from the time they were read
    /// (negative: the dates are behind).
    pub fn date_offset(&self) -> Option<f64> {
        if self.skew.is_empty() {
            return None;
        }
        let mut v: Vec<f64> = self.skew.iter().copied().collect();
        v.sort_by(f64::total_cmp);
        Some(v[v.len() / 2])
    }

    /// Number of date samples behind [`JailHealth::date_offset`].
    pub fn date_samples(&self) -> usize {
        self.skew.len()
    }

    /// A ticket was banned.
    pub fn on_ban(&mut self, now: Time) {
        self.bans_total += 1;
        self.bans_active += 1;
        self.bans.add(now);
    }

    /// A ban ended.
    pub fn on_unban(&mut self, _now: Time) {
        self.unbans_total += 1;
        self.bans_active = self.bans_active.saturating_sub(1);
    }

    /// Set the active ban count (after restoring bans from the database, or from
    /// the ban manager's own count).
    pub fn set_bans_active(&mut self, n: u64) {
        self.bans_active = n;
    }

    /// An action command ran.
    pub fn on_action_result(&mut self, action: &str, outcome: ActionOutcome, now: Time) {
        let a = self.actions.entry(action.to_string()).or_default();
        a.runs += 1;
        match outcome {
            ActionOutcome::Ok => {
                a.last_error = None;
                a.last_error_at = None;
            }
            ActionOutcome::Err(msg) => {
                a.errors += 1;
                a.last_error = Some(msg);
                a.last_error_at = Some(now);
            }
        }
    }

    /// An enforcement check ran: `missing` recorded bans absent from the kernel set
    /// (`CheckReport::missing.len()`), `set_present` the table/chain/sets exist
    /// (`CheckReport { table && chain && sets && rules }`).
    pub fn on_enforcement_check(
        &mut self,
        action: &str,
        missing: usize,
        set_present: bool,
        now: Time,
    ) {
        let a = self.actions.entry(action.to_string()).or_default();
        a.last_check = Some(now);
        a.missing = missing;
        a.set_present = set_present;
    }

    /// The firewall of `action` was found broken (flushed set, missing bans) and
    /// repaired.
    pub fn on_repair(&mut self, action: &str, now: Time) {
        let a = self.actions.entry(action.to_string()).or_default();
        a.repairs += 1;
        a.last_repair = Some(now);
    }

    /// `backend` reads files while the journal holds the service's entries
    /// (None: no such mismatch, or it was fixed).
    pub fn set_journal_mismatch(&mut self, m: Option<JournalMismatch>) {
        self.journal_mismatch = m;
    }

    /// Lines read from log files (every source but the journal).
    pub fn file_lines_read(&self) -> u64 {
        self.sources
            .iter()
            .filter(|(name, _)| name.as_str() != "journal")
            .map(|(_, s)| s.lines_read)
            .sum()
    }

    /// The way dates are read changed (`logtimezone`, `datepattern` or the filter
    /// reloaded): forget the offsets measured the old way, so a fixed time zone
    /// clears the date-skew warning with the next lines instead of 17 lines later.
    pub fn reset_date_offsets(&mut self) {
        self.skew.clear();
    }

    /// Stop suspecting the addresses for which `ignored` says true (they are in
    /// `ignoreip` now). Returns how many were forgotten.
    pub fn forget_addresses_where(&mut self, mut ignored: impl FnMut(&str) -> bool) -> usize {
        let before = self.users.len();
        self.users.retain(|fid, _| !ignored(fid));
        before - self.users.len()
    }

    /// Failures in the last hour / day.
    pub fn failures_last_hour(&self, now: Time) -> u64 {
        self.failures.last_hour(now)
    }
    pub fn failures_last_day(&self, now: Time) -> u64 {
        self.failures.last_day(now)
    }
    pub fn bans_last_hour(&self, now: Time) -> u64 {
        self.bans.last_hour(now)
    }
    pub fn bans_last_day(&self, now: Time) -> u64 {
        self.bans.last_day(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_forget_old_events() {
        let mut r = RecentCounts::default();
        let t0 = 1_700_000_000.0;
        for i in 0..10 {
            r.add(t0 + i as f64 * 600.0); // one every 10 min
        }
        let now = t0 + 9.0 * 600.0;
        assert_eq!(r.last_hour(now), 6);
        assert_eq!(r.last_day(now), 10);
        assert_eq!(r.last_hour(now + 7200.0), 0);
        assert_eq!(r.last_day(now + 2.0 * 86400.0), 0);
        // Memory stays bounded.
        for i in 0..100_000 {
            r.add(t0 + i as f64 * 7.0);
        }
        assert!(r.hour.ring.len() <= 60 && r.day.ring.len() <= 288);
    }

    #[test]
    fn attacker_text_takes_bounded_memory() {
        let mut h = JailHealth::new();
        let long = "x".repeat(10_000);
        for i in 0..20_000u32 {
            let t = 1_700_000_000.0 + f64::from(i);
            h.on_line(
                &LineSummary {
                    source: "s",
                    line_time: Some(t),
                    matched: vec![Matched {
                        regex: 0,
                        fid: format!("{long}{i}"),
                        user: Some(format!("{long}{i}")),
                        ignoreip: false,
                    }],
                    ambiguous: vec![AmbiguousMatch {
                        regex: 0,
                        address: format!("{i}{long}"),
                    }],
                    ..Default::default()
                },
                t,
            );
        }
        assert!(h.users.len() <= MAX_TRACKED_ADDRESSES);
        assert!(h.users.keys().all(|k| k.len() <= MAX_ID_BYTES));
        assert!(h.ambiguous_addresses.len() <= MAX_AMBIGUOUS_ADDRESSES);
        assert!(h
            .ambiguous_addresses
            .keys()
            .all(|k| k.len() <= MAX_ID_BYTES));
        // One address, many users: capped per address.
        for i in 0..1000u32 {
            let t = 1_800_000_000.0 + f64::from(i);
            h.on_line(
                &LineSummary {
                    matched: vec![Matched {
                        fid: "203.0.113.1".into(),
                        user: Some(format!("u{i}")),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                t,
            );
        }
        assert_eq!(h.users["203.0.113.1"].users.len(), MAX_USERS_PER_ADDRESS);
        assert_eq!(h.users["203.0.113.1"].failures, 1000);
    }

    #[test]
    fn rotation_keeps_availability_time() {
        let mut h = JailHealth::new();
        h.on_source_state("/var/log/auth.log", SourceState::Open, 100.0);
        h.on_source_state("/var/log/auth.log", SourceState::Rotated, 200.0);
        let s = &h.sources["/var/log/auth.log"];
        assert_eq!((s.since, s.rotations), (100.0, 1));
        h.on_source_state("/var/log/auth.log", SourceState::Missing, 300.0);
        assert_eq!(h.sources["/var/log/auth.log"].since, 300.0);
    }

    #[test]
    fn reload_forgets_old_date_offsets_and_ignored_addresses() {
        let mut h = JailHealth::new();
        for i in 0..20u32 {
            let t = 1_700_000_000.0 + f64::from(i);
            h.on_line(
                &LineSummary {
                    source: "s",
                    line_time: Some(t - 18_000.0),
                    matched: vec![Matched {
                        fid: format!("192.0.2.{}", i % 2),
                        user: Some(format!("u{i}")),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                t,
            );
        }
        assert_eq!(h.date_offset(), Some(-18_000.0));
        h.reset_date_offsets();
        assert_eq!((h.date_offset(), h.date_samples()), (None, 0));
        assert_eq!(h.forget_addresses_where(|a| a == "192.0.2.1"), 1);
        let left: Vec<String> = h
            .users_per_address(1_700_000_100.0, 3600.0)
            .into_iter()
            .map(|(a, _, _)| a)
            .collect();
        assert_eq!(left, ["192.0.2.0"]);
    }
}
