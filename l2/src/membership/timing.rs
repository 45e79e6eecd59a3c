//! Every timing number of the membership layer, and the guarantees they
//! give the fence ([`Timing`]): one place to tune, one place to check.

use std::time::Duration;

use crate::fence::{Timing, TimingError};

/// The membership layer's timers. `J` below is [`MembershipTiming::jitter`]:
/// how late a timer may fire or a datagram may arrive on a loaded node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MembershipTiming {
    /// `H`: how often a node heart-beats each of its ring successors.
    pub heartbeat: Duration,
    /// `K`: how many ring successors each node heart-beats (and how many
    /// predecessors it watches).
    pub watchers: usize,
    /// `S`: a watched predecessor silent this long is suspected.
    pub silence: Duration,
    /// How long a node that suspected someone waits for every member it
    /// still reaches to acknowledge its notice; the silent ones are
    /// suspected too (this is what cuts off a partitioned minority).
    pub ack_timeout: Duration,
    /// `J`: allowance for timer lateness and delivery on a loaded LAN.
    pub jitter: Duration,
    /// `R`: how often a suspected member is told so (to refute it).
    pub reprobe: Duration,
    /// How long a member stays suspected, counted from the latest instant
    /// it can have failed, before it is declared dead and its addresses
    /// move: the fence's `dead_not_before`.
    pub dead_after: Duration,
    /// How long a suspected member whose host still completes a TCP
    /// handshake on the membership port stays suspected before it is
    /// declared dead: its kernel runs and its speaker's socket is open,
    /// so its speaker is descheduled (CPU starvation, SIGSTOP), not gone,
    /// and the node still carries the traffic its clients' ARP/NDP caches
    /// send it. A crash (the port refuses) or a cut (no answer) keeps
    /// `dead_after`.
    pub stalled_dead_after: Duration,
    /// The announcer's budget to apply a new plan (`react_within`).
    pub react: Duration,
    /// The fence's settle time.
    pub settle: Duration,
    /// SWIM (foca): how often one random member is probed.
    pub swim_probe_period: Duration,
    /// SWIM: how long a direct probe may take before indirect ones go out.
    pub swim_probe_rtt: Duration,
    /// SWIM: how long a member stays SWIM-suspect before SWIM says down.
    pub swim_suspect_to_down: Duration,
    /// How many copies of a graceful leave go to each member: a lost
    /// datagram would otherwise send the others down the crash path.
    pub leave_copies: u8,
    /// Between two copies of a leave: a loss on a LAN comes in bursts
    /// (a full queue, a flapping port), which back-to-back copies share.
    pub leave_spacing: Duration,
}

impl Default for MembershipTiming {
    fn default() -> MembershipTiming {
        let ms = Duration::from_millis;
        MembershipTiming {
            heartbeat: ms(5),
            watchers: 2,
            silence: ms(20),
            ack_timeout: ms(8),
            jitter: ms(4),
            reprobe: ms(25),
            dead_after: ms(50),
            stalled_dead_after: ms(500),
            react: ms(5),
            settle: ms(100),
            swim_probe_period: ms(500),
            swim_probe_rtt: ms(150),
            swim_suspect_to_down: ms(1500),
            leave_copies: 3,
            leave_spacing: ms(2),
        }
    }
}

/// The slowest heartbeat [`MembershipTiming::with_heartbeat`] takes: a
/// failover of some 12 s, slower than MetalLB's memberlist; beyond it
/// nothing is gained.
pub const SLOWEST_HEARTBEAT: Duration = Duration::from_secs(1);

/// A [`MembershipTiming`] that breaks the fence's rules or its own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MembershipTimingError {
    #[error(transparent)]
    Fence(#[from] TimingError),
    #[error("membership timing: {0}")]
    Invalid(&'static str),
    #[error(
        "membership heartbeat {heartbeat:?}: must be between {fastest:?} (the default) and {slowest:?}"
    )]
    Heartbeat {
        heartbeat: Duration,
        fastest: Duration,
        slowest: Duration,
    },
}

impl MembershipTiming {
    /// The defaults with every timer of the fast layer scaled by
    /// `heartbeat / H` (5 ms): silence, acknowledgements, jitter, reprobe,
    /// the death verdicts, the announcer's budget and the settle time, the
    /// leave's spacing. Every rule of [`MembershipTiming::check`] and of
    /// the fence compares sums of these timers with no constant term, so a
    /// scaled timing keeps every guarantee, and its bounds scale with it:
    /// at 20 ms a crash fails over within about 240 ms instead of 60, a
    /// node tolerates 16 ms of lateness instead of 4, and each node sends
    /// a quarter of the datagrams. SWIM's timers are seconds already and
    /// stay. Refused below the default (the jitter allowance would shrink
    /// below what a loaded node needs) and above [`SLOWEST_HEARTBEAT`].
    pub fn with_heartbeat(heartbeat: Duration) -> Result<MembershipTiming, MembershipTimingError> {
        let default = MembershipTiming::default();
        if heartbeat < default.heartbeat || heartbeat > SLOWEST_HEARTBEAT {
            return Err(MembershipTimingError::Heartbeat {
                heartbeat,
                fastest: default.heartbeat,
                slowest: SLOWEST_HEARTBEAT,
            });
        }
        let scale = |d: Duration| -> Duration {
            let nanos = d.as_nanos() * heartbeat.as_nanos() / default.heartbeat.as_nanos();
            Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
        };
        let timing = MembershipTiming {
            heartbeat,
            silence: scale(default.silence),
            ack_timeout: scale(default.ack_timeout),
            jitter: scale(default.jitter),
            reprobe: scale(default.reprobe),
            dead_after: scale(default.dead_after),
            stalled_dead_after: scale(default.stalled_dead_after),
            react: scale(default.react),
            settle: scale(default.settle),
            leave_spacing: scale(default.leave_spacing),
            ..default
        };
        timing.check()?;
        Ok(timing)
    }

    /// What the membership layer guarantees, measured from the instant
    /// connectivity changes:
    ///
    /// - `suspect_within = S + ack_timeout + 4J`: a watcher's silence
    ///   timer fires by `S + 2J` (the last heartbeat may still be in
    ///   flight, the timer may be late); its notice's acknowledgements
    ///   are collected by `+ ack_timeout + J`; the resulting notice
    ///   reaches the rest of the side by `+ J`.
    /// - `dead_not_before = dead_after`: a member is declared dead
    ///   `dead_after` after the *latest* instant it can have failed.
    /// - `alive_within = R + 3J`: a suspecter tells the suspect within
    ///   `R`, the notice arrives, the refutation reaches everyone.
    pub fn fence_timing(&self) -> Timing {
        Timing {
            suspect_within: self.silence + self.ack_timeout + 4 * self.jitter,
            dead_not_before: self.dead_after,
            alive_within: self.reprobe + 3 * self.jitter,
            react_within: self.react,
            settle: self.settle,
        }
    }

    /// Refuses a configuration that allows two owners, or that the
    /// detector cannot run.
    pub fn check(&self) -> Result<(), MembershipTimingError> {
        use MembershipTimingError::Invalid;
        if self.heartbeat.is_zero() {
            return Err(Invalid("heartbeat must be above zero"));
        }
        if self.watchers == 0 {
            return Err(Invalid("at least one watcher per node"));
        }
        // One late heartbeat must not be a suspicion.
        if self.silence < 2 * self.heartbeat + self.jitter {
            return Err(Invalid("silence must cover two heartbeats and the jitter"));
        }
        if self.ack_timeout < 2 * self.jitter {
            return Err(Invalid("ack_timeout must cover a round trip (2 jitter)"));
        }
        if self.reprobe < self.heartbeat {
            return Err(Invalid("reprobe must not be shorter than the heartbeat"));
        }
        // Waiting longer is always safe; shorter would make a live host
        // die sooner than a cut one.
        if self.stalled_dead_after < self.dead_after {
            return Err(Invalid("stalled_dead_after must not be below dead_after"));
        }
        if self.swim_probe_rtt.is_zero() || self.swim_probe_period <= self.swim_probe_rtt {
            return Err(Invalid("swim_probe_period must exceed swim_probe_rtt > 0"));
        }
        if self.swim_suspect_to_down.is_zero() {
            return Err(Invalid("swim_suspect_to_down must be above zero"));
        }
        if self.leave_copies == 0 {
            return Err(Invalid("a leave needs at least one copy"));
        }
        // Copies later than that come after the crash path has begun: they
        // add nothing but a longer stop.
        if self.leave_span() > self.silence {
            return Err(Invalid(
                "the copies of a leave must all go within the silence",
            ));
        }
        self.fence_timing().check()?;
        // A fenced member tells everyone every `R`; a hold shorter than
        // one telling plus its delivery and a late timer would put it
        // back among the candidates between two tellings, and its
        // addresses would go back and forth while it stays fenced.
        if self.fenced_hold() < self.reprobe + 2 * self.jitter {
            return Err(Invalid(
                "settle must cover a fence announcement's hold (R + 2J) plus 2J and the reaction",
            ));
        }
        // A suspicion's first sweep goes out at most `S + 2J` after the
        // last heartbeat, `S + J - H` after the failure instant it names
        // (a suspicion taken from another at most `S` after): no later
        // than the ask `ask_after` would schedule, or a member that cannot
        // vouch might not finish its probe before the verdict.
        if self.ask_after() + self.heartbeat < self.silence + self.jitter {
            return Err(Invalid(
                "dead_after must leave room for a probe after the first sweep (S + J - H + ack_timeout + 4J + react)",
            ));
        }
        Ok(())
    }

    /// How long the answer gate stays open after the membership thread's
    /// last turn ([`super::AnswerGate`]): four fifths of
    /// `stalled_dead_after` (400 ms by default), so that a node whose
    /// membership thread stopped stops answering before the others may
    /// declare it dead, and far above the heartbeat, which turns the
    /// thread at least every `H`.
    pub fn gate_stale_after(&self) -> Duration {
        self.stalled_dead_after * 4 / 5
    }

    /// The longest time a watcher may wait before it may suspect a
    /// predecessor it just started watching: every node's ring must have
    /// caught up (dead members leave it) before silence means anything.
    pub(super) fn watch_grace(&self) -> Duration {
        self.fence_timing().suspect_within
    }

    /// From the first copy of a leave to the last.
    pub fn leave_span(&self) -> Duration {
        self.leave_spacing * u32::from(self.leave_copies.saturating_sub(1))
    }

    /// How long a stopping node waits for its leave to be on the wire:
    /// the span of the copies, and `4J` for late timers and a slow socket
    /// (20 ms by default). Past it the node stops anyway: the others then
    /// fall back on the crash path, which is slower, never unsafe.
    pub fn leave_within(&self) -> Duration {
        self.leave_span() + 4 * self.jitter
    }

    /// A stall of this node this long means the others may have declared
    /// it dead meanwhile (from its last heartbeat, `H + J + dead_after`,
    /// less the announcer's reaction): it fences itself at once and
    /// settles again rather than answer from a view that may be stale.
    pub(super) fn stall_fence(&self) -> Duration {
        (self.dead_after + self.heartbeat).saturating_sub(self.react + 2 * self.jitter)
    }

    /// How long a member that told this node it suspects it stops counting
    /// for this node's quorum: until its next telling (every `R`) could
    /// have arrived.
    pub(super) fn suspected_by_hold(&self) -> Duration {
        self.reprobe + 2 * self.jitter
    }

    /// How long a member that told this node its fence is closed stays
    /// out of the candidates for addresses (the hold of a `Fenced`
    /// datagram): `settle - react - 2J` (87 ms by default). The fenced
    /// member stops telling the moment it counts a quorum again, and
    /// opens its fence `settle` after that; its last telling arrives
    /// within `J`, the hold ends, the receiver's timer fires within `J`
    /// and its announcer lets go within `react`: before the fence opens.
    /// As long as allowed, so that the interim owner answers until just
    /// before the returning one does (the dark after a heal is
    /// `settle - fenced_hold`, about `2J + react`, not `settle`).
    pub fn fenced_hold(&self) -> Duration {
        self.settle.saturating_sub(self.react + 2 * self.jitter)
    }

    /// How long this node's quorum must have been lacking before it tells
    /// the others its fence is closed: the announcer's budget to apply the
    /// closure, so that nobody takes its addresses over while it may
    /// still answer for them.
    pub(super) fn fenced_after(&self) -> Duration {
        self.react
    }

    /// How long after a suspect's failure instant this node asks everyone
    /// about it (again, if a vouch or a hearing moved that instant): an
    /// ask sent then (late by `J`) reaches every member by `J` later; one
    /// that cannot vouch probes the suspect, and if the probe and its
    /// resend go unanswered for `ack_timeout` (its timer late by `J`) it
    /// suspects the suspect and tells it, within `J`, which stops counting
    /// that member and stops answering within `react`: all before the
    /// verdict at `dead_after` past the failure instant.
    pub(super) fn ask_after(&self) -> Duration {
        self.dead_after
            .saturating_sub(self.ack_timeout + 4 * self.jitter + self.react)
    }

    /// The latest instant a member may have failed, relative to the last
    /// heartbeat received from it: it would have sent the next one by
    /// `H + J` later.
    pub(super) fn failed_by_after_last_heartbeat(&self) -> Duration {
        self.heartbeat + self.jitter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_and_never_let_two_nodes_answer() {
        let timing = MembershipTiming::default();
        assert_eq!(timing.check(), Ok(()));
        assert_eq!(
            timing.fence_timing().dual_announcement_bound(),
            Duration::ZERO
        );
    }

    #[test]
    fn a_slower_heartbeat_scales_every_bound_and_keeps_them_safe() {
        let ms = Duration::from_millis;
        let default = MembershipTiming::default();
        for h in [5, 7, 10, 20, 50, 333, 1000] {
            let t = MembershipTiming::with_heartbeat(ms(h)).unwrap();
            assert_eq!(t.check(), Ok(()), "{h} ms");
            let k = h as f64 / 5.0;
            let scaled =
                |d: Duration, of: Duration| (d.as_secs_f64() - of.as_secs_f64() * k).abs() < 1e-6;
            assert!(scaled(t.dead_after, default.dead_after), "{h} ms: {t:?}");
            assert!(scaled(t.jitter, default.jitter), "{h} ms: {t:?}");
            assert!(scaled(t.settle, default.settle), "{h} ms: {t:?}");
            assert_eq!(t.fence_timing().dual_announcement_bound(), Duration::ZERO);
            assert_eq!(t.swim_probe_period, default.swim_probe_period);
            assert_eq!((t.watchers, t.leave_copies), (2, 3));
        }
        for h in [5, 20, 333, 1000] {
            // The gate must not shut between two turns of a quiet thread.
            let t = MembershipTiming::with_heartbeat(ms(h)).unwrap();
            assert!(
                t.gate_stale_after() > 10 * (t.heartbeat + t.jitter),
                "{h} ms"
            );
            assert!(t.gate_stale_after() < t.stalled_dead_after, "{h} ms");
        }
        assert_eq!(default.gate_stale_after(), ms(400));
        let t = MembershipTiming::with_heartbeat(ms(20)).unwrap();
        // A crash: dead for its watchers within H + J + dead_after.
        assert_eq!(t.heartbeat + t.jitter + t.dead_after, ms(236));
        assert_eq!(MembershipTiming::with_heartbeat(ms(5)), Ok(default));
        for refused in [ms(0), ms(4), ms(1001)] {
            assert!(matches!(
                MembershipTiming::with_heartbeat(refused),
                Err(MembershipTimingError::Heartbeat { .. })
            ));
        }
    }

    #[test]
    fn defaults_detect_within_the_l2_budget() {
        let fence = MembershipTiming::default().fence_timing();
        // A crash: dead at most `H + J` after the failure plus
        // `dead_after`, inside the 80 ms failover budget with room for
        // the takeover and the gratuitous ARP.
        let t = MembershipTiming::default();
        assert!(t.heartbeat + t.jitter + fence.dead_not_before <= Duration::from_millis(60));
        assert!(fence.suspect_within <= Duration::from_millis(45));
    }

    #[test]
    fn a_takeover_before_the_minority_stops_is_refused() {
        let timing = MembershipTiming {
            dead_after: Duration::from_millis(30),
            ..MembershipTiming::default()
        };
        assert!(matches!(
            timing.check(),
            Err(MembershipTimingError::Fence(
                TimingError::TakeoverBeforeFence { .. }
            ))
        ));
    }

    #[test]
    fn a_rejoin_before_release_is_refused() {
        let timing = MembershipTiming {
            settle: Duration::from_millis(20),
            ..MembershipTiming::default()
        };
        assert!(matches!(
            timing.check(),
            Err(MembershipTimingError::Fence(
                TimingError::RejoinBeforeRelease { .. }
            ))
        ));
    }

    #[test]
    fn a_leave_is_on_the_wire_within_20_ms_by_default() {
        let timing = MembershipTiming::default();
        assert_eq!(timing.leave_span(), Duration::from_millis(4));
        assert_eq!(timing.leave_within(), Duration::from_millis(20));
        for bad in [
            MembershipTiming {
                leave_copies: 0,
                ..timing
            },
            MembershipTiming {
                leave_copies: 12,
                ..timing
            },
        ] {
            assert!(matches!(
                bad.check(),
                Err(MembershipTimingError::Invalid(_))
            ));
        }
    }

    #[test]
    fn an_ask_too_late_for_a_probe_before_the_verdict_is_refused() {
        let timing = MembershipTiming::default();
        assert_eq!(timing.ask_after(), Duration::from_millis(21));
        // A 2 ms heartbeat: a suspicion's first sweep may go out
        // `S + J - H` = 22 ms after the failure instant it names, later
        // than the ask at 21 ms; a member asked then could not finish its
        // probe before the verdict. Every other check passes.
        let fast = MembershipTiming {
            heartbeat: Duration::from_millis(2),
            ..timing
        };
        assert!(matches!(
            fast.check(),
            Err(MembershipTimingError::Invalid(_))
        ));
        assert_eq!(fast.fence_timing().check(), Ok(()));
    }

    #[test]
    fn a_fence_announcement_is_held_until_just_before_the_fence_can_open() {
        let t = MembershipTiming::default();
        assert_eq!(t.fenced_hold(), Duration::from_millis(87));
        // The hand-back: held from the last telling's arrival (`J`), the
        // timer (`J`), the reaction: within `settle`.
        assert!(t.fenced_hold() + 2 * t.jitter + t.react <= t.settle);
        // A settle too short for a hold that outlasts one telling (`R`)
        // is refused, though the fence's own rules pass.
        let short = MembershipTiming {
            settle: Duration::from_millis(45),
            ..t
        };
        assert_eq!(short.fence_timing().check(), Ok(()));
        assert!(matches!(
            short.check(),
            Err(MembershipTimingError::Invalid(_))
        ));
    }

    #[test]
    fn a_silence_of_one_heartbeat_is_refused() {
        let timing = MembershipTiming {
            silence: Duration::from_millis(5),
            ..MembershipTiming::default()
        };
        assert!(matches!(
            timing.check(),
            Err(MembershipTimingError::Invalid(_))
        ));
    }
}
