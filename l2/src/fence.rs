//! Whether this node may announce at all: a node cut off from most of its
//! cluster stops answering rather than risk a second owner.
//!
//! # The quorum rule
//!
//! `known` is the cluster this node belongs to: every node that should run
//! a speaker, read from a source all speakers agree on (the API server's
//! speaker Pods or Nodes, or the standalone configuration), *never* from the
//! failure detector. `reachable` is what the failure detector says now. The
//! node may announce when the known members it reaches, itself included,
//! are
//!
//! - a strict majority of `known`, or
//! - exactly half of it and include the known member with the lowest name
//!   (the tiebreaker, as Corosync's `auto_tie_breaker`), so that of two
//!   halves exactly one goes on.
//!
//! Two disjoint groups can never both pass: two majorities intersect, and
//! of two halves only one holds the lowest name. Hence:
//!
//! - **one node**: it is its own majority and always announces;
//! - **two nodes** (no strict majority is possible after a failure): the
//!   node with the lower name keeps announcing when it loses its peer; the
//!   other stops. If the lower one fails, nothing is announced until it
//!   returns or the cluster grows: an outage, never two owners.
//!
//! `known` taken from the failure detector would be unsafe: two sides that
//! each forgot the other could both be "majorities" of what they remember.
//! A `known` that changes one node at a time (a node added or deleted, a
//! DaemonSet rolling) stays safe, since majorities of `K` and of `K` plus
//! or minus one member always intersect; many nodes added at once, seen at
//! different moments by different speakers, are not covered.
//!
//! # Settling
//!
//! A node that (re)gains quorum, or starts, stays fenced for [`Fence`]'s
//! `settle` time before it announces: long enough for every other member to
//! see it alive (and release the addresses that move to it) and for it to
//! learn the whole view (and not announce an address whose owner it has not
//! heard of yet).
//!
//! # The bound on two owners
//!
//! The failure detector reports two things, both measured from the instant
//! connectivity changes: a member becomes *unreachable* (what the fence
//! counts) within `suspect_within`; it is declared *dead* (dropped from the
//! view that decides owners) no sooner than `dead_not_before`. The
//! announcer applies a new plan within `react_within`. After a partition,
//! the minority stops answering by `suspect_within + react_within`; the
//! majority starts answering for the minority's addresses at
//! `dead_not_before` at the earliest. After a heal, the old owner stops by
//! `alive_within + react_within`; the rejoining owner starts after
//! `settle`. So two nodes answer for one address for at most
//!
//! ```text
//! max(0, suspect_within + react_within - dead_not_before,
//!        alive_within   + react_within - settle)
//! ```
//!
//! and [`Timing::check`] holds the membership layer to making that zero:
//! `dead_not_before >= suspect_within + react_within` and
//! `settle >= alive_within + react_within`. Where reachability is not
//! transitive, the membership aims to keep the bound by counting for `reachable`
//! only members that also see this node, and by declaring a member dead
//! only when no member it reaches vouches for it (docs/l2-mode.md, "The
//! bound when views are not transitive"). It covers only the membership
//! view: speakers that
//! see a config, label or endpoint change at different moments disagree for
//! as long as the API server's watches lag between them.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Whether this node may announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FenceState {
    MayAnnounce,
    /// Announces nothing, since this instant.
    Fenced {
        since: Instant,
    },
}

impl FenceState {
    pub fn may_announce(self) -> bool {
        self == FenceState::MayAnnounce
    }
}

/// Whether the known members that `this_node` reaches may announce, by the
/// rule above. A node outside `known` is not a member and never may.
pub fn has_quorum(this_node: &str, reachable: &BTreeSet<String>, known: &BTreeSet<String>) -> bool {
    if !known.contains(this_node) {
        return false;
    }
    let reached: BTreeSet<&str> = known
        .iter()
        .map(String::as_str)
        .filter(|m| *m == this_node || reachable.contains(*m))
        .collect();
    let (twice, total) = (2 * reached.len(), known.len());
    twice > total
        || (twice == total
            && known
                .first()
                .is_some_and(|low| reached.contains(low.as_str())))
}

/// The fence of one node, fed with its membership view over time.
#[derive(Debug, Clone)]
pub struct Fence {
    this_node: String,
    settle: Duration,
    state: FenceState,
    /// Quorum held without a break since then.
    quorate_since: Option<Instant>,
}

impl Fence {
    /// A node starts fenced: it has not seen its cluster yet.
    pub fn new(this_node: impl Into<String>, settle: Duration, now: Instant) -> Fence {
        Fence {
            this_node: this_node.into(),
            settle,
            state: FenceState::Fenced { since: now },
            quorate_since: None,
        }
    }

    pub fn state(&self) -> FenceState {
        self.state
    }

    /// Takes in the membership view at `now` (on every change, and again at
    /// [`Fence::next_deadline`]).
    pub fn observe(
        &mut self,
        now: Instant,
        reachable: &BTreeSet<String>,
        known: &BTreeSet<String>,
    ) -> FenceState {
        if has_quorum(&self.this_node, reachable, known) {
            let since = *self.quorate_since.get_or_insert(now);
            if now.saturating_duration_since(since) >= self.settle {
                self.state = FenceState::MayAnnounce;
            }
        } else {
            self.quorate_since = None;
            if self.state.may_announce() {
                self.state = FenceState::Fenced { since: now };
            }
        }
        self.state
    }

    /// When settling ends and [`Fence::observe`] should be called again.
    pub fn next_deadline(&self) -> Option<Instant> {
        match (self.state, self.quorate_since) {
            (FenceState::Fenced { .. }, Some(since)) => Some(since + self.settle),
            _ => None,
        }
    }
}

/// What the membership layer and the announcer guarantee, each measured
/// from the instant connectivity changes; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Upper bound: an unreachable member stops counting for the fence.
    pub suspect_within: Duration,
    /// Lower bound: an unreachable member leaves the owners' view.
    pub dead_not_before: Duration,
    /// Upper bound: a member that became reachable is alive in every view.
    pub alive_within: Duration,
    /// Upper bound: from a new plan to the announcer answering by it.
    pub react_within: Duration,
    /// The fence's settle time.
    pub settle: Duration,
}

/// A [`Timing`] that lets two nodes answer for one address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimingError {
    #[error(
        "members are declared dead after {dead_not_before:?}, before a cut-off minority is sure to have stopped ({stopped_by:?}): two owners for up to {overlap:?}"
    )]
    TakeoverBeforeFence {
        dead_not_before: Duration,
        stopped_by: Duration,
        overlap: Duration,
    },
    #[error(
        "the fence settles in {settle:?}, before every member is sure to see a rejoining node ({released_by:?}): two owners for up to {overlap:?}"
    )]
    RejoinBeforeRelease {
        settle: Duration,
        released_by: Duration,
        overlap: Duration,
    },
}

impl Timing {
    /// The longest time two nodes may answer for one address.
    pub fn dual_announcement_bound(&self) -> Duration {
        self.takeover_overlap().max(self.rejoin_overlap())
    }

    /// Whether the bound is zero, and if not, which rule is broken.
    pub fn check(&self) -> Result<(), TimingError> {
        let stopped_by = self.suspect_within + self.react_within;
        if self.takeover_overlap() > Duration::ZERO {
            return Err(TimingError::TakeoverBeforeFence {
                dead_not_before: self.dead_not_before,
                stopped_by,
                overlap: self.takeover_overlap(),
            });
        }
        if self.rejoin_overlap() > Duration::ZERO {
            return Err(TimingError::RejoinBeforeRelease {
                settle: self.settle,
                released_by: self.alive_within + self.react_within,
                overlap: self.rejoin_overlap(),
            });
        }
        Ok(())
    }

    fn takeover_overlap(&self) -> Duration {
        (self.suspect_within + self.react_within).saturating_sub(self.dead_not_before)
    }

    fn rejoin_overlap(&self) -> Duration {
        (self.alive_within + self.react_within).saturating_sub(self.settle)
    }
}
