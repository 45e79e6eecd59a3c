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

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

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
            }),
        }
    }

    fn micros(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.inner.base).as_micros())
            .unwrap_or(u64::MAX)
            .max(1)
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

    /// The membership stopped (the node is alone, or it is shutting
    /// down): nothing to wait for any more.
    pub fn release(&self) {
        self.inner.tick.store(0, Ordering::Release);
        self.inner.shut_until.store(0, Ordering::Release);
    }

    /// Whether a responder may answer at `now`.
    pub fn may_answer(&self, now: Instant) -> bool {
        let now = self.micros(now);
        let tick = self.inner.tick.load(Ordering::Acquire);
        let stale = u64::try_from(self.inner.stale_after.as_micros()).unwrap_or(u64::MAX);
        let ran = tick == 0 || now.saturating_sub(tick) <= stale;
        ran && now >= self.inner.shut_until.load(Ordering::Acquire)
    }
}

impl Default for AnswerGate {
    /// Stale after 400 ms: below `stalled_dead_after` (500 ms), the
    /// soonest the others declare a node with a running host dead.
    fn default() -> AnswerGate {
        AnswerGate::new(Duration::from_millis(400))
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
}
