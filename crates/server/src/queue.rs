//! The queue between a jail and its action worker.
//!
//! A jail decides bans and unbans on its source thread (or a control connection, or
//! the scheduler) and hands them to its actions through an [`ActionQueue`]; one
//! worker thread per jail (`f2b/a/<jail>`, see `jail::JailRt`) takes the queued
//! [`Job`]s and runs them, so a slow action (a `/bin/sh` to fork, a firewall
//! command that hangs until its `timeout`) never delays reading the log or the
//! detection of the next address. fail2ban also runs each jail's actions in a
//! thread of their own.
//!
//! Order: jobs run in the order they were queued. When the worker is behind, it
//! takes everything waiting at once and [`merge`]s neighbouring jobs of the same
//! kind into one batch (ban + ban → one ban batch, so the native nftables backend
//! applies them in one transaction), never moving a job past one of another kind:
//! a ban and a later unban of the same address run in that order.
//!
//! A caller that must see the result before it answers (`banip`, `unbanip` over the
//! socket, as fail2ban's do) waits for its job with [`ActionQueue::wait_done`].

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use bailiff_jail::Ticket;

use crate::lock;

/// Tickets decided together, shared with the thread that decided them (which writes
/// them to the store and the log meanwhile: nothing is copied), and the jail's
/// `bantime` then (for tickets without a ban time of their own).
#[derive(Debug, Clone)]
pub struct Batch {
    pub tickets: Arc<Vec<Ticket>>,
    pub default_ban_time: f64,
}

impl Batch {
    pub fn new(tickets: Vec<Ticket>, default_ban_time: f64) -> Batch {
        Batch {
            tickets: Arc::new(tickets),
            default_ban_time,
        }
    }

    /// Every ticket with its default ban time.
    pub fn iter(batches: &[Batch]) -> impl Iterator<Item = (&Ticket, f64)> {
        batches
            .iter()
            .flat_map(|b| b.tickets.iter().map(move |t| (t, b.default_ban_time)))
    }
}

/// One unit of work for a jail's actions. The action worker turns the tickets into
/// what each action needs (the native backend only the address and time left).
#[derive(Debug, Clone)]
pub enum Job {
    /// `actionban` for each ticket (the native backend: one transaction).
    Ban(Vec<Batch>),
    /// `actionunban` for each ticket.
    Unban(Vec<Batch>),
    /// `actionprolong` for bans made longer.
    Prolong(Vec<Batch>),
}

impl Job {
    pub fn batches(&self) -> &[Batch] {
        match self {
            Job::Ban(v) | Job::Unban(v) | Job::Prolong(v) => v,
        }
    }

    fn batches_mut(&mut self) -> &mut Vec<Batch> {
        match self {
            Job::Ban(v) | Job::Unban(v) | Job::Prolong(v) => v,
        }
    }

    fn same_kind(&self, other: &Job) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }

    /// How many tickets the job carries.
    pub fn len(&self) -> usize {
        self.batches().iter().map(|b| b.tickets.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Merge neighbouring jobs of the same kind, keeping the order of everything else.
/// Each merged job keeps the largest sequence number of its parts (it is done when
/// all of them are).
pub fn merge(jobs: impl IntoIterator<Item = (u64, Job)>) -> Vec<(u64, Job)> {
    let mut out: Vec<(u64, Job)> = Vec::new();
    for (seq, mut job) in jobs {
        match out.last_mut() {
            Some((last_seq, last)) if last.same_kind(&job) => {
                last.batches_mut().append(job.batches_mut());
                *last_seq = seq.max(*last_seq);
            }
            _ => out.push((seq, job)),
        }
    }
    out
}

#[derive(Debug, Default)]
struct State {
    jobs: VecDeque<(u64, Job)>,
    /// The sequence number of the last job queued.
    queued: u64,
    /// Every job up to this sequence number has run.
    done: u64,
    /// Stop after the queued jobs have run.
    closing: bool,
    /// The worker has gone: jobs can no longer be queued.
    gone: bool,
}

/// What the worker gets from [`ActionQueue::take`].
#[derive(Debug)]
pub enum Taken {
    /// Jobs to run, merged, in order.
    Jobs(Vec<(u64, Job)>),
    /// Nothing came within the wait.
    Idle,
    /// The queue is closed and empty: the worker ends.
    Closed,
}

/// The queue of one jail's action jobs. See the module documentation.
#[derive(Debug, Default)]
pub struct ActionQueue {
    st: Mutex<State>,
    work: Condvar,
    done: Condvar,
}

impl ActionQueue {
    pub fn new() -> ActionQueue {
        ActionQueue::default()
    }

    /// Queue a job; its sequence number, or the job back when the worker has gone
    /// (after the jail stopped: the caller runs it itself).
    pub fn push(&self, job: Job) -> Result<u64, Job> {
        let mut st = lock(&self.st);
        if st.gone {
            return Err(job);
        }
        st.queued += 1;
        let seq = st.queued;
        st.jobs.push_back((seq, job));
        drop(st);
        self.work.notify_one();
        Ok(seq)
    }

    /// Wait until the job `seq` has run, at most `timeout`; whether it has.
    pub fn wait_done(&self, seq: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = lock(&self.st);
        while st.done < seq && !st.gone {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = self
                .done
                .wait_timeout(st, left)
                .map(|r| r.0)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        st.done >= seq
    }

    /// Jobs queued and not yet taken by the worker, and the tickets they carry.
    pub fn backlog(&self) -> (usize, usize) {
        let st = lock(&self.st);
        (st.jobs.len(), st.jobs.iter().map(|(_, j)| j.len()).sum())
    }

    /// Whether every queued job has run.
    pub fn is_idle(&self) -> bool {
        let st = lock(&self.st);
        st.done == st.queued
    }

    /// Ask the worker to end once everything queued has run.
    pub fn close(&self) {
        lock(&self.st).closing = true;
        self.work.notify_all();
    }

    /// The worker's wait: everything queued (merged), or [`Taken::Idle`] after
    /// `timeout` without work, or [`Taken::Closed`] once closed and empty (then no
    /// job can be queued any more).
    pub fn take(&self, timeout: Duration) -> Taken {
        let deadline = Instant::now() + timeout;
        let mut st = lock(&self.st);
        loop {
            if !st.jobs.is_empty() {
                let jobs: Vec<(u64, Job)> = st.jobs.drain(..).collect();
                return Taken::Jobs(merge(jobs));
            }
            if st.closing {
                st.gone = true;
                drop(st);
                self.done.notify_all();
                return Taken::Closed;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Taken::Idle;
            }
            st = self
                .work
                .wait_timeout(st, left)
                .map(|r| r.0)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// The worker has run every job up to `seq`.
    pub fn finished(&self, seq: u64) {
        let mut st = lock(&self.st);
        st.done = st.done.max(seq);
        drop(st);
        self.done.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn t(ip: &str) -> Ticket {
        Ticket::new(bailiff_jail::FailId::parse(ip), 0.0)
    }

    fn b(tickets: Vec<Ticket>) -> Vec<Batch> {
        vec![Batch::new(tickets, 600.0)]
    }

    fn ips(j: &Job) -> Vec<String> {
        Batch::iter(j.batches())
            .map(|(t, _)| t.id.to_string())
            .collect()
    }

    #[test]
    fn neighbours_of_one_kind_merge_and_order_holds() {
        let jobs = vec![
            (1, Job::Ban(b(vec![t("192.0.2.1")]))),
            (2, Job::Ban(b(vec![t("192.0.2.2"), t("192.0.2.3")]))),
            (3, Job::Unban(b(vec![t("192.0.2.1")]))),
            (4, Job::Unban(b(vec![t("192.0.2.2")]))),
            (5, Job::Ban(b(vec![t("192.0.2.1")]))),
            (6, Job::Prolong(b(vec![t("192.0.2.3")]))),
        ];
        let m = merge(jobs);
        let shape: Vec<(u64, &str, Vec<String>)> = m
            .iter()
            .map(|(s, j)| {
                let k = match j {
                    Job::Ban(_) => "ban",
                    Job::Unban(_) => "unban",
                    Job::Prolong(_) => "prolong",
                };
                (*s, k, ips(j))
            })
            .collect();
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            shape,
            vec![
                (2, "ban", s(&["192.0.2.1", "192.0.2.2", "192.0.2.3"])),
                (4, "unban", s(&["192.0.2.1", "192.0.2.2"])),
                (5, "ban", s(&["192.0.2.1"])),
                (6, "prolong", s(&["192.0.2.3"])),
            ]
        );
    }

    #[test]
    fn take_waits_then_drains_and_close_ends_after_the_backlog() {
        let q = Arc::new(ActionQueue::new());
        assert!(matches!(q.take(Duration::from_millis(1)), Taken::Idle));
        let s1 = q.push(Job::Ban(b(vec![t("192.0.2.1")]))).unwrap();
        let s2 = q.push(Job::Ban(b(vec![t("192.0.2.2")]))).unwrap();
        assert!(s2 > s1);
        assert_eq!(q.backlog(), (2, 2));
        assert!(!q.is_idle());
        q.close();
        // Closing does not drop what is queued.
        let Taken::Jobs(jobs) = q.take(Duration::from_secs(1)) else {
            panic!("expected jobs")
        };
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].0, s2);
        // A waiter is released when the worker reports the job done.
        let q2 = Arc::clone(&q);
        let waiter = std::thread::spawn(move || q2.wait_done(s1, Duration::from_secs(30)));
        q.finished(s2);
        assert!(waiter.join().unwrap());
        assert!(q.is_idle());
        assert!(matches!(q.take(Duration::from_secs(1)), Taken::Closed));
        // After the worker has gone, jobs come back to the caller.
        assert!(q.push(Job::Unban(b(vec![t("192.0.2.1")]))).is_err());
    }

    #[test]
    fn a_waiter_gives_up_after_its_timeout() {
        let q = ActionQueue::new();
        let s = q.push(Job::Ban(b(vec![t("192.0.2.9")]))).unwrap();
        assert!(!q.wait_done(s, Duration::from_millis(20)));
    }
}
