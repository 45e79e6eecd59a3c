//! Whether this node's ARP/NDP responder may answer now, by the
//! membership thread's own account, without waiting for a new plan.
//!
//! A speaker stopped for long enough that the others may have declared it
//! dead and moved its addresses resumes with every thread at once: its
//! responder finds the requests that queued up meanwhile and would answer
//! them from its old plan, moving clients back to it, while the fence
//! closure travels from the membership thread through the main runtime to
//! the announcer (40 ms in a loaded lab). The gate is the short way: the
//! membership thread ticks it on every turn and holds it shut after such
//! a stall; the responder looks at it before every answer.
//!
//! The same short way serves two moves of the membership that a loaded
//! node's main runtime can take tens of milliseconds to apply, while the
//! fence's bound counts on `react` (5 ms) (docs/l2-mode.md, "The answer
//! gate"):
//!
//! - this node losing its quorum: it must fall silent before the others
//!   declare it dead and take over;
//! - a member that outranks this node for an address it answers for
//!   coming back (alive and no longer fenced): it opens its own fence
//!   `settle` after it regained its quorum, counting on this node to have
//!   let go by then.
//!
//! The membership thread tells the gate its quorum and its candidates on
//! every turn; the plan tells it, for each address this node answers for,
//! the members that would win it were they candidates. A responder about
//! to answer for an address asks whether the plan still has it (a plan
//! that let it go reaches the responder later) and whether any of those
//! members is a candidate now.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use super::MembershipTiming;

/// Shared between the membership thread and the responders; cheap to
/// clone.
#[derive(Debug, Clone)]
pub struct AnswerGate {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    base: Instant,
    /// Microseconds after `base` of the membership thread's last turn; 0:
    /// none yet (no membership: nothing to wait for).
    tick: AtomicU64,
    /// Shut until then (microseconds after `base`).
    shut_until: AtomicU64,
    /// A tick older than this means the membership thread was not running
    /// (the process was stopped): answer nothing until it has run.
    stale_after: Duration,
    /// Whether this node counts a quorum, by the membership thread's last
    /// turn (true without a membership).
    quorate: AtomicBool,
    /// Who may own addresses now, and who would take this node's.
    owners: Mutex<Owners>,
}

#[derive(Debug, Default)]
struct Owners {
    /// The membership's candidates (alive and not fenced); `None` without
    /// a membership.
    candidates: Option<BTreeSet<String>>,
    /// Every address the last plan has this node answer for, with the
    /// members that were not candidates when it was made and would own it
    /// if they were (empty: nobody outranks this node). An address absent
    /// was let go, even if a responder has not heard so yet. `None`: no
    /// plan yet (a responder answers for nothing before one).
    plan: Option<BTreeMap<IpAddr, Vec<String>>>,
}

impl AnswerGate {
    /// A gate that opens when the membership thread has run within
    /// `stale_after`.
    pub fn new(stale_after: Duration) -> AnswerGate {
        AnswerGate {
            inner: Arc::new(Inner {
                base: Instant::now(),
                tick: AtomicU64::new(0),
                shut_until: AtomicU64::new(0),
                stale_after,
                quorate: AtomicBool::new(true),
                owners: Mutex::new(Owners::default()),
            }),
        }
    }

    fn micros(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.inner.base).as_micros())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// How long after the membership thread's last turn the gate shuts.
    pub fn stale_after(&self) -> Duration {
        self.inner.stale_after
    }

    /// The membership thread ran at `now`.
    pub fn tick(&self, now: Instant) {
        self.inner.tick.store(self.micros(now), Ordering::Release);
    }

    /// Shuts the gate until `until` (the membership found it was stalled
    /// long enough to have been declared dead).
    pub fn shut_until(&self, until: Instant) {
        self.inner
            .shut_until
            .fetch_max(self.micros(until), Ordering::AcqRel);
    }

    /// The membership's turn found this node with (or without) a quorum,
    /// and these candidates for addresses. Never waits: the membership
    /// thread runs at real-time priority, and a responder descheduled
    /// while it holds the lock would hold it back (no priority
    /// inheritance). Returns whether the candidates were taken; if not,
    /// the caller gives them again on its next turn.
    #[must_use]
    pub fn membership(&self, quorate: bool, candidates: Option<&BTreeSet<String>>) -> bool {
        self.inner.quorate.store(quorate, Ordering::Release);
        let Some(candidates) = candidates else {
            return true;
        };
        let mut owners = match self.inner.owners.try_lock() {
            Ok(owners) => owners,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return false,
        };
        if owners.candidates.as_ref() != Some(candidates) {
            owners.candidates = Some(candidates.clone());
        }
        true
    }

    /// A new plan: every address it has this node answer for, with the
    /// members, no candidates now, that would take it from this node.
    /// Given before the plan reaches the responders, so that the
    /// addresses it lets go are held back from this moment on.
    pub fn set_plan(&self, answering: BTreeMap<IpAddr, Vec<String>>) {
        self.owners().plan = Some(answering);
    }

    fn owners(&self) -> MutexGuard<'_, Owners> {
        // The data is two plain sets: a writer that panicked left them
        // whole, and the next turn replaces them anyway.
        self.inner
            .owners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The membership stopped (the node is alone, or it is shutting
    /// down): nothing to wait for any more.
    pub fn release(&self) {
        self.inner.tick.store(0, Ordering::Release);
        self.inner.shut_until.store(0, Ordering::Release);
        self.inner.quorate.store(true, Ordering::Release);
        self.owners().candidates = None;
    }

    /// Whether a responder may answer at `now`.
    pub fn may_answer(&self, now: Instant) -> bool {
        let now = self.micros(now);
        let tick = self.inner.tick.load(Ordering::Acquire);
        let stale = u64::try_from(self.inner.stale_after.as_micros()).unwrap_or(u64::MAX);
        let ran = tick == 0 || now.saturating_sub(tick) <= stale;
        ran && now >= self.inner.shut_until.load(Ordering::Acquire)
            && self.inner.quorate.load(Ordering::Acquire)
    }

    /// Whether a responder may answer for `ip` at `now`: [`may_answer`],
    /// the last plan has `ip`, and no member that outranks this node for
    /// `ip` is a candidate.
    ///
    /// [`may_answer`]: AnswerGate::may_answer
    pub fn may_answer_for(&self, ip: IpAddr, now: Instant) -> bool {
        if !self.may_answer(now) {
            return false;
        }
        let owners = self.owners();
        let Some(plan) = &owners.plan else {
            return true;
        };
        let Some(above) = plan.get(&ip) else {
            return false;
        };
        match &owners.candidates {
            Some(candidates) => !above.iter().any(|m| candidates.contains(m)),
            None => true,
        }
    }
}

impl Default for AnswerGate {
    /// For the default timing: stale after 400 ms, below
    /// `stalled_dead_after` (500 ms), the soonest the others declare a
    /// node with a running host dead
    /// ([`MembershipTiming::gate_stale_after`]).
    fn default() -> AnswerGate {
        AnswerGate::new(MembershipTiming::default().gate_stale_after())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_until_a_stale_tick_or_a_hold() {
        let gate = AnswerGate::new(Duration::from_millis(400));
        let t = Instant::now() + Duration::from_secs(1);
        assert!(gate.may_answer(t), "no membership yet: nothing to wait for");
        gate.tick(t);
        assert!(gate.may_answer(t + Duration::from_millis(300)));
        assert!(!gate.may_answer(t + Duration::from_millis(900)), "stopped");
        gate.tick(t + Duration::from_millis(900));
        gate.shut_until(t + Duration::from_millis(1000));
        assert!(!gate.may_answer(t + Duration::from_millis(950)));
        gate.tick(t + Duration::from_millis(1000));
        assert!(gate.may_answer(t + Duration::from_millis(1000)));
        // A membership that stopped (this node alone) holds nothing back.
        gate.shut_until(t + Duration::from_secs(5));
        gate.release();
        assert!(gate.may_answer(t + Duration::from_secs(9)));
    }

    #[test]
    fn shut_without_a_quorum() {
        let gate = AnswerGate::new(Duration::from_millis(400));
        let t = Instant::now();
        gate.tick(t);
        assert!(gate.membership(false, None));
        assert!(!gate.may_answer(t));
        assert!(!gate.may_answer_for(v4(10), t));
        assert!(gate.membership(true, None));
        assert!(gate.may_answer(t));
        assert!(gate.membership(false, None));
        gate.release();
        assert!(gate.may_answer(t), "alone: always a quorum");
    }

    fn v4(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    fn names(n: &[&str]) -> BTreeSet<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    fn plan(entries: &[(IpAddr, &[&str])]) -> BTreeMap<IpAddr, Vec<String>> {
        entries
            .iter()
            .map(|(ip, above)| (*ip, above.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn an_address_is_let_go_the_moment_a_member_outranking_this_node_is_a_candidate() {
        let gate = AnswerGate::new(Duration::from_millis(400));
        let t = Instant::now();
        gate.tick(t);
        assert!(
            gate.may_answer_for(v4(1), t),
            "no plan yet: nothing to hold"
        );
        assert!(gate.membership(true, Some(&names(&["a", "c"]))));
        gate.set_plan(plan(&[(v4(1), &["b"]), (v4(2), &[])]));
        assert!(gate.may_answer_for(v4(1), t), "b is no candidate");
        assert!(gate.may_answer_for(v4(2), t), "nobody outranks this node");
        assert!(!gate.may_answer_for(v4(3), t), "not in the plan");
        // b comes back: only the address it would win is held back.
        assert!(gate.membership(true, Some(&names(&["a", "b", "c"]))));
        assert!(!gate.may_answer_for(v4(1), t));
        assert!(gate.may_answer_for(v4(2), t));
        // Held by a responder: the membership thread does not wait, and
        // gives the candidates again on its next turn.
        {
            let _reading = gate.owners();
            assert!(!gate.membership(true, Some(&names(&["a", "c"]))));
        }
        assert!(
            !gate.may_answer_for(v4(1), t),
            "the last candidates taken stand"
        );
        // The next plan gave b its address: it stays held back while the
        // responders still have it (the CI failure of stop 25: a plan
        // that dropped it opened the gate for it again, and the
        // responder answered beside b until the plan reached it).
        gate.set_plan(plan(&[(v4(2), &[])]));
        assert!(!gate.may_answer_for(v4(1), t));
        assert!(gate.may_answer_for(v4(2), t));
        // Without a membership, nobody is a candidate but this node; the
        // plan still says what this node answers for.
        gate.set_plan(plan(&[(v4(1), &["b"])]));
        gate.release();
        assert!(gate.may_answer_for(v4(1), t));
        assert!(!gate.may_answer_for(v4(2), t));
    }
}
