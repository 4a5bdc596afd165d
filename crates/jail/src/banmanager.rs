//! Active bans of one jail: end times, due unbans, "already banned", prolonging.

use std::collections::HashMap;

use crate::id::{FailId, IpNet};
use crate::ticket::{Ticket, Time, MAX_TIME};

/// What [`BanManager::add`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum AddBan {
    /// Newly banned; the ticket's `ban_count` was raised by one.
    Added,
    /// The ban would already be over at `now`: nothing was done.
    Expired,
    /// The id is already banned. `prolonged` carries the new ban duration when the
    /// new ticket ended later than the active ban (fail2ban's prolong).
    AlreadyBanned { prolonged: Option<f64> },
}

#[derive(Debug)]
struct Slot {
    seq: u64,
    ticket: Ticket,
}

/// The active bans of a jail.
#[derive(Debug)]
pub struct BanManager {
    list: HashMap<FailId, Slot>,
    ban_time: f64,
    ban_total: u64,
    next_unban: Time,
    seq: u64,
}

impl BanManager {
    /// `ban_time`: the jail's `bantime` in seconds (negative: permanent).
    pub fn new(ban_time: f64) -> BanManager {
        BanManager {
            list: HashMap::new(),
            ban_time,
            ban_total: 0,
            next_unban: MAX_TIME,
            seq: 0,
        }
    }

    pub fn ban_time(&self) -> f64 {
        self.ban_time
    }
    /// Changes the jail's `bantime`. Active bans without a ban time of their own follow
    /// it (they may become due earlier).
    pub fn set_ban_time(&mut self, v: f64) {
        self.ban_time = v;
        self.next_unban = self.next_unban_time().unwrap_or(MAX_TIME);
    }
    /// "Total banned" in `status`.
    pub fn ban_total(&self) -> u64 {
        self.ban_total
    }
    pub fn set_ban_total(&mut self, v: u64) {
        self.ban_total = v;
    }
    /// "Currently banned" in `status`.
    pub fn size(&self) -> usize {
        self.list.len()
    }
    pub fn contains(&self, id: &FailId) -> bool {
        self.list.contains_key(id)
    }
    pub fn get(&self, id: &FailId) -> Option<&Ticket> {
        self.list.get(id).map(|s| &s.ticket)
    }

    /// Bans `ticket` unless it is already banned or its ban is over at `now`.
    pub fn add(&mut self, mut ticket: Ticket, now: Time) -> AddBan {
        let eob = ticket.end_of_ban(self.ban_time);
        if eob < now {
            return AddBan::Expired;
        }
        if let Some(old) = self.list.get_mut(&ticket.id) {
            let mut prolonged = None;
            if eob > old.ticket.end_of_ban(self.ban_time) {
                let mut btm = ticket.ban_time_or(self.ban_time);
                if btm >= 0.0 {
                    let dif = ticket.time - old.ticket.time;
                    if dif > 0.0 {
                        btm += dif;
                    }
                }
                old.ticket.ban_time = Some(btm);
                prolonged = Some(btm);
            }
            return AddBan::AlreadyBanned { prolonged };
        }
        ticket.ban_count = ticket.ban_count.saturating_add(1);
        self.ban_total += 1;
        if eob < self.next_unban {
            self.next_unban = eob;
        }
        self.seq += 1;
        self.list.insert(
            ticket.id.clone(),
            Slot {
                seq: self.seq,
                ticket,
            },
        );
        AddBan::Added
    }

    /// Changes the duration (when `ban_time` is given), ban count and restored flag of an
    /// active ban, e.g. after the increment was computed. Returns false when the id is
    /// not banned.
    pub fn update_ban(
        &mut self,
        id: &FailId,
        ban_time: Option<f64>,
        ban_count: u32,
        restored: bool,
    ) -> bool {
        let Some(slot) = self.list.get_mut(id) else {
            return false;
        };
        if ban_time.is_some() {
            slot.ticket.ban_time = ban_time;
        }
        slot.ticket.ban_count = ban_count;
        slot.ticket.restored = restored;
        let eob = slot.ticket.end_of_ban(self.ban_time);
        if eob < self.next_unban {
            self.next_unban = eob;
        }
        true
    }

    /// The earliest end of an active ban: the scheduler sleeps until just after it (or
    /// until a new ban), then calls [`BanManager::unban_due`], which releases bans whose
    /// end lies strictly before its `now`. `None` when nothing is banned or only
    /// permanent bans remain.
    pub fn next_unban_time(&self) -> Option<Time> {
        if self.list.is_empty() {
            return None;
        }
        let t = self
            .list
            .values()
            .map(|s| s.ticket.end_of_ban(self.ban_time))
            .fold(MAX_TIME, f64::min);
        (t < MAX_TIME).then_some(t)
    }

    /// Removes and returns up to `max_count` bans that are over at `now` (strictly past
    /// their end), in ban order.
    pub fn unban_due(&mut self, now: Time, max_count: usize) -> Vec<Ticket> {
        if self.next_unban > now {
            return Vec::new();
        }
        let bt = self.ban_time;
        let mut due: Vec<(u64, FailId)> = Vec::new();
        let mut next = MAX_TIME;
        for (id, s) in &self.list {
            let eob = s.ticket.end_of_ban(bt);
            if now > eob {
                due.push((s.seq, id.clone()));
            } else if eob < next {
                next = eob;
            }
        }
        due.sort_unstable_by_key(|d| d.0);
        if due.len() > max_count {
            // The rest stays due: check again at once next time.
            for (_, id) in &due[max_count..] {
                if let Some(s) = self.list.get(id) {
                    next = next.min(s.ticket.end_of_ban(bt));
                }
            }
            due.truncate(max_count);
        }
        self.next_unban = next;
        due.into_iter()
            .filter_map(|(_, id)| self.list.remove(&id).map(|s| s.ticket))
            .collect()
    }

    /// Removes every ban (stop, `unban --all`), in ban order.
    pub fn flush(&mut self) -> Vec<Ticket> {
        let mut all: Vec<Slot> = self.list.drain().map(|(_, s)| s).collect();
        all.sort_unstable_by_key(|s| s.seq);
        self.next_unban = MAX_TIME;
        all.into_iter().map(|s| s.ticket).collect()
    }

    /// Removes one ban (`unbanip`).
    pub fn remove(&mut self, id: &FailId) -> Option<Ticket> {
        self.list.remove(id).map(|s| s.ticket)
    }

    /// Removes every banned address inside `net` (`unbanip 10.0.0.0/8`), in ban order.
    pub fn remove_in(&mut self, net: &IpNet) -> Vec<Ticket> {
        let mut hits: Vec<(u64, FailId)> = self
            .list
            .iter()
            .filter(|(id, _)| id.net().is_some_and(|n| net.contains_net(&n)))
            .map(|(id, s)| (s.seq, id.clone()))
            .collect();
        hits.sort_unstable_by_key(|h| h.0);
        hits.into_iter()
            .filter_map(|(_, id)| self.list.remove(&id).map(|s| s.ticket))
            .collect()
    }

    /// The banned ids in ban order ("Banned IP list" of `status`).
    pub fn banned(&self) -> Vec<&Ticket> {
        let mut v: Vec<&Slot> = self.list.values().collect();
        v.sort_unstable_by_key(|s| s.seq);
        v.into_iter().map(|s| &s.ticket).collect()
    }

    /// The banned tickets ordered by end of ban (`get <jail> banip --with-time`), with
    /// each end time.
    pub fn banned_by_end(&self) -> Vec<(&Ticket, Time)> {
        let mut v: Vec<(&Slot, Time)> = self
            .list
            .values()
            .map(|s| (s, s.ticket.end_of_ban(self.ban_time)))
            .collect();
        v.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.seq.cmp(&b.0.seq)));
        v.into_iter().map(|(s, e)| (&s.ticket, e)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ip: &str, time: f64) -> Ticket {
        Ticket::new(FailId::parse(ip), time)
    }

    #[test]
    fn ban_unban_cycle() {
        let mut bm = BanManager::new(600.0);
        assert_eq!(bm.add(t("10.0.0.1", 100.0), 100.0), AddBan::Added);
        assert_eq!(bm.add(t("10.0.0.2", 200.0), 200.0), AddBan::Added);
        let mut perm = t("10.0.0.3", 200.0);
        perm.ban_time = Some(-1.0);
        assert_eq!(bm.add(perm, 200.0), AddBan::Added);
        assert_eq!(bm.size(), 3);
        assert_eq!(bm.ban_total(), 3);
        assert_eq!(bm.get(&FailId::parse("10.0.0.1")).unwrap().ban_count, 1);
        assert_eq!(bm.next_unban_time(), Some(700.0));
        // Not due at exactly the end: fail2ban unbans strictly after it.
        assert!(bm.unban_due(700.0, 100).is_empty());
        let due = bm.unban_due(700.5, 100);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].id.to_string(), "10.0.0.1");
        assert_eq!(bm.next_unban_time(), Some(800.0));
        let due = bm.unban_due(1e12, 100);
        assert_eq!(due.len(), 1);
        assert_eq!(bm.size(), 1, "permanent ban stays");
        assert_eq!(bm.next_unban_time(), None);
        assert_eq!(bm.ban_total(), 3);
    }

    #[test]
    fn expired_and_already_banned() {
        let mut bm = BanManager::new(600.0);
        assert_eq!(bm.add(t("10.0.0.1", 0.0), 601.0), AddBan::Expired);
        assert_eq!(bm.add(t("10.0.0.1", 100.0), 100.0), AddBan::Added);
        // Same end: not prolonged.
        assert_eq!(
            bm.add(t("10.0.0.1", 100.0), 101.0),
            AddBan::AlreadyBanned { prolonged: None }
        );
        // Later failure: prolonged by the difference.
        assert_eq!(
            bm.add(t("10.0.0.1", 150.0), 150.0),
            AddBan::AlreadyBanned {
                prolonged: Some(650.0)
            }
        );
        assert_eq!(bm.next_unban_time(), Some(750.0));
        assert_eq!(bm.ban_total(), 1);
        assert_eq!(bm.unban_due(749.0, 10).len(), 0);
        assert_eq!(bm.unban_due(751.0, 10).len(), 1);
    }

    #[test]
    fn order_flush_and_subnet_removal() {
        let mut bm = BanManager::new(600.0);
        for (i, ip) in ["10.0.0.9", "192.0.2.1", "10.0.0.1", "2001:db8::1"]
            .iter()
            .enumerate()
        {
            bm.add(t(ip, i as f64), 0.0);
        }
        let order: Vec<String> = bm.banned().iter().map(|t| t.id.to_string()).collect();
        assert_eq!(order, ["10.0.0.9", "192.0.2.1", "10.0.0.1", "2001:db8::1"]);
        let gone = bm.remove_in(&"10.0.0.0/8".parse().unwrap());
        let gone: Vec<String> = gone.iter().map(|t| t.id.to_string()).collect();
        assert_eq!(gone, ["10.0.0.9", "10.0.0.1"]);
        let rest: Vec<String> = bm.flush().iter().map(|t| t.id.to_string()).collect();
        assert_eq!(rest, ["192.0.2.1", "2001:db8::1"]);
        assert_eq!(bm.size(), 0);
    }

    #[test]
    fn unban_max_count() {
        let mut bm = BanManager::new(10.0);
        for i in 0..5 {
            bm.add(t(&format!("10.0.0.{i}"), 0.0), 0.0);
        }
        assert_eq!(bm.unban_due(11.0, 2).len(), 2);
        assert_eq!(bm.unban_due(11.0, 2).len(), 2);
        assert_eq!(bm.unban_due(11.0, 2).len(), 1);
        assert_eq!(bm.size(), 0);
    }
}
