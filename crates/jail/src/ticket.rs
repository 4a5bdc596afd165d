//! Tickets: what the jail knows about one failure id.

use std::collections::BTreeMap;

use crate::id::FailId;

/// Seconds since the Unix epoch (fractions allowed), as fail2ban's `MyTime.time()`.
pub type Time = f64;

/// Ticket data under fail2ban's names (`ip`, `user`, `F-*` captures...), JSON-typed.
pub type TicketData = BTreeMap<String, serde_json::Value>;

/// fail2ban's `Ticket.MAX_TIME`: the end of a permanent ban.
pub const MAX_TIME: Time = 0x7FFF_FFFF_FFFF_u64 as f64;

/// One failure report, a ticket being counted, or a ban. fail2ban uses one ticket
/// type for all three; so do we, which keeps the hand-over between the steps free.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    pub id: FailId,
    /// Time of the (last) failure; for a ban, the time the ban counts from.
    pub time: Time,
    /// Start of the counting interval (rescaled when failures span more than `findtime`).
    pub first_time: Time,
    /// Retry count compared with `maxretry` (may exceed `failures` for known bad ids).
    pub retry: u32,
    /// Failures really seen (fail2ban's `data['failures']`, the `<failures>` tag).
    pub failures: u32,
    /// Matched log lines, at most `maxmatches` once counted.
    pub matches: Vec<String>,
    /// Other captured data.
    pub data: TicketData,
    /// Ban duration in seconds; `None` means the jail's `bantime`; negative is permanent.
    pub ban_time: Option<f64>,
    /// How many times this id was banned (the `<bancount>` tag).
    pub ban_count: u32,
    /// Restored from the store at start (actions with `norestored` skip it).
    pub restored: bool,
}

impl Ticket {
    /// A ticket for one failure of `id` at `time`.
    pub fn new(id: FailId, time: Time) -> Ticket {
        Ticket {
            id,
            time,
            first_time: time,
            retry: 1,
            failures: 0,
            matches: Vec::new(),
            data: TicketData::new(),
            ban_time: None,
            ban_count: 0,
            restored: false,
        }
    }

    pub fn with_matches<I, S>(mut self, matches: I) -> Ticket
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.matches = matches.into_iter().map(Into::into).collect();
        self
    }

    pub fn with_data(mut self, data: TicketData) -> Ticket {
        self.data = data;
        self
    }

    /// The ban duration, the jail's default when unset.
    pub fn ban_time_or(&self, default: f64) -> f64 {
        self.ban_time.unwrap_or(default)
    }

    /// When the ban ends ([`MAX_TIME`] for a permanent one).
    pub fn end_of_ban(&self, default_ban_time: f64) -> Time {
        let bt = self.ban_time_or(default_ban_time);
        if bt < 0.0 {
            MAX_TIME
        } else {
            self.time + bt
        }
    }

    /// Whether the ban is over at `now` (strictly after its end, as fail2ban).
    pub fn is_timed_out(&self, now: Time, default_ban_time: f64) -> bool {
        let bt = self.ban_time_or(default_ban_time);
        bt >= 0.0 && now > self.time + bt
    }

    /// The address an action sees as `<ip>`: `data["ip"]` when the filter captured one
    /// besides an `<F-ID>`, otherwise the id.
    pub fn ip_text(&self) -> String {
        match self.data.get("ip") {
            Some(serde_json::Value::String(s)) => s.clone(),
            _ => self.id.to_string(),
        }
    }
}

/// Substitutes `<ip>`, `<fid>`, `<family>`, `<F-NAME>` and other ticket-data tags in
/// `template` (used for the `ignorecache` key). Unknown tags are left as they are.
pub fn render_tags(template: &str, ticket: &Ticket) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('>') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = &after[..end];
        let value = match name {
            "ip" => Some(ticket.ip_text()),
            "fid" => Some(ticket.id.to_string()),
            "family" => Some(ticket.id.family().to_string()),
            "failures" => Some(ticket.failures.to_string()),
            "bancount" => Some(ticket.ban_count.to_string()),
            _ => {
                let key = name
                    .strip_prefix("F-")
                    .map(str::to_ascii_lowercase)
                    .unwrap_or_else(|| name.to_string());
                ticket.data.get(&key).map(|v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
            }
        };
        match value {
            Some(v) => out.push_str(&v),
            None => {
                out.push('<');
                out.push_str(name);
                out.push('>');
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}
