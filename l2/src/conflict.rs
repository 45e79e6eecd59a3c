//! What an interface does when another host claims an address this node is
//! entitled to answer for: RFC 5227 §2.4 for a host that must keep its
//! address, with a hold-down and a re-probe so that giving way is never
//! for good.
//!
//! # The rules
//!
//! - **A claim by another FerroLB speaker** (its MAC is a member's, as the
//!   membership says) is a membership event, not a conflict: which node
//!   answers is the plan's decision, made from the membership, and a claim
//!   on the wire never overrides it. The owner defends (one announcement,
//!   so clients that followed the claim come back) and never gives way; a
//!   claim within `member_defend_interval` of its last defense is answered
//!   when that interval ends, so the owner has the last word and two
//!   speakers whose views disagree for a moment exchange at most one
//!   announcement each per interval.
//! - **A first claim by a foreign host** is defended: one announcement,
//!   then a probe (RFC 5227 probes, IPv6 DAD solicitations) to learn
//!   whether the host really holds the address. A host that configured it
//!   answers the probe; a single stray gratuitous ARP does not.
//! - **A second conflicting frame from a foreign host within
//!   `defend_interval`** (a repeated claim, or an answer to our probe)
//!   means it keeps the address (RFC 5227 §2.4 (b)): the interface stops
//!   answering and reports it, and holds down for `hold_down`.
//! - **After the hold-down** the address is probed again: unanswered, the
//!   other host is gone and the address is answered again (with the
//!   takeover announcements); answered, it is held down again, silently.
//!
//! So an address this node should answer for is never left unanswered
//! while no foreign host answers for it for longer than `hold_down` plus
//! one probe, and a host that holds it is left alone while it holds it.

use std::time::Duration;

/// Conflict timings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConflictConfig {
    /// At most one defence per this long; a second conflicting frame from
    /// a foreign host within it makes the interface give way.
    pub defend_interval: Duration,
    /// How long the interface keeps off an address it gave way on before
    /// probing it again.
    pub hold_down: Duration,
    /// At most one defense against other speakers' claims per this long.
    pub member_defend_interval: Duration,
}

impl Default for ConflictConfig {
    /// `defend_interval` is RFC 5227's DEFEND_INTERVAL, 10 s (systemd's
    /// and NetworkManager's too): the window in which a host that claims
    /// again is taken to keep claiming. `hold_down` is 5 s: it bounds the
    /// outage after a foreign host that made us give way has left; it is
    /// longer than a host that is configuring the address takes to finish
    /// its own RFC 5227 announcements (two, 2 s apart), and re-probing a
    /// host that keeps the address costs three probes per hold-down.
    /// `member_defend_interval` is 1 s: clients that followed a speaker's
    /// claim (a burst of three over 200 ms on its takeover) come back
    /// within a second of its last one, for one frame per second.
    fn default() -> Self {
        ConflictConfig {
            defend_interval: Duration::from_secs(10),
            hold_down: Duration::from_secs(5),
            member_defend_interval: Duration::from_secs(1),
        }
    }
}

/// Who claimed an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Claimant {
    /// Another FerroLB speaker of this cluster.
    Member,
    /// Any other host.
    Foreign,
}
