//! bailiff-jail: fail2ban's counting, ignoring and ban-time logic, pure.
//!
//! Nothing here reads the clock, the disk or the network: every call takes "now" as a
//! value, and what needs the outside world (running `ignorecommand`, the ban history
//! kept in the store, a random number for `bantime.rndtime`) is asked of the caller
//! through [`JailHooks`].
//!
//! Principal types and the flow through them:
//!
//! - A [`Ticket`] carries one failure (id, time, matched lines, captured data) from the
//!   filter into a [`Jail`].
//! - [`Jail::on_failure`] runs the ignore checks ([`IgnoreList`]: `ignoreself`,
//!   `ignoreip`; `ignorecommand` via the hooks; [`IgnoreCache`]), then counts the failure
//!   in the [`FailManager`] (fail2ban's `findtime`/`maxretry` with its rescaling rule,
//!   `maxmatches`), then, with `bantime.increment`, raises the count of known bad ids
//!   (fail2ban's observer). Tickets that reach `maxretry` come back in
//!   [`FailureOutcome::to_ban`].
//! - [`Jail::ban`] puts a ticket into the [`BanManager`] (active bans, end times,
//!   "already banned", prolonging), computing the ban time with
//!   [`BanTimeIncrement`] (factor, [`Formula`], multipliers, maxtime, rndtime,
//!   overalljails). The [`BanOutcome`] tells the caller which actions to run and whether
//!   to write the ban to the store.
//! - [`Jail::unban_due`] and [`Jail::next_unban_time`] drive the unban scheduler;
//!   [`Jail::status`] gives the counters of `fail2ban-client status <jail>`.
//!
//! ```
//! use bailiff_jail::{BanOutcome, FailId, Jail, JailConfig, NoHooks, Ticket};
//!
//! let mut cfg = JailConfig::new("sshd");
//! cfg.max_retry = 2;
//! let mut jail = Jail::new(cfg);
//! jail.ignore_list_mut().add_all("127.0.0.1/8");
//! let ip = FailId::parse("192.0.2.10");
//! let now = 1_700_000_000.0;
//! assert!(jail.on_failure(Ticket::new(ip.clone(), now), now, &mut NoHooks).to_ban.is_empty());
//! let out = jail.on_failure(Ticket::new(ip.clone(), now + 1.0), now + 1.0, &mut NoHooks);
//! for t in out.to_ban {
//!     assert!(matches!(jail.ban(t, now + 1.0, &mut NoHooks), BanOutcome::Banned { .. }));
//! }
//! assert_eq!(jail.status().banned, vec!["192.0.2.10".to_string()]);
//! assert_eq!(jail.unban_due(now + 602.0, 10).len(), 1);
//! ```

mod arena;
pub mod banmanager;
pub mod bantime;
pub mod failmanager;
pub mod formula;
pub mod id;
pub mod ignore;
pub mod jail;
pub mod ticket;

pub use banmanager::{AddBan, BanManager};
pub use bantime::{BanTimeIncrement, BanTimeOptions};
pub use failmanager::{AddMode, FailManager};
pub use formula::{Formula, FormulaError, DEFAULT_FORMULA};
pub use id::{normalize, parse_ip, parse_net, FailId, IpNet};
pub use ignore::{IgnoreCache, IgnoreList, IgnoreSource};
pub use jail::{
    BanHistory, BanOutcome, FailureOutcome, Jail, JailConfig, JailHooks, JailStatus, NoHooks,
};
pub use ticket::{render_tags, Ticket, TicketData, Time, MAX_TIME};

/// Errors of this crate; each names the option or value at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JailError {
    #[error("not an address or block: {0:?}")]
    BadAddress(String),
    #[error("{0} is not banned")]
    NotBanned(String),
    #[error("option {option} = {value:?}: {message}")]
    BadOption {
        option: String,
        value: String,
        message: String,
    },
    #[error(transparent)]
    Formula(#[from] FormulaError),
}
