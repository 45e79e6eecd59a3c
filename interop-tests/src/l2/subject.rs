//! What the harness measures: anything that keeps a VIP answered on a LAN
//! of nodes and moves it when its owner fails. keepalived, the floor and
//! FerroLB's own L2 mode implement it.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::error::Result;
use crate::l2::lan::L2Lan;
use crate::l2::measure::NodeId;

/// How the owner fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Failure {
    /// The owner's LAN interface goes down (a pulled cable, a dead NIC).
    LinkCut,
    /// The subject's processes on the owner get SIGKILL (a crash).
    Kill,
    /// The subject on the owner gets SIGTERM (a rolling upgrade, a drain).
    Stop,
}

impl Failure {
    pub const ALL: [Failure; 3] = [Failure::LinkCut, Failure::Kill, Failure::Stop];

    pub fn name(self) -> &'static str {
        match self {
            Failure::LinkCut => "link cut",
            Failure::Kill => "SIGKILL",
            Failure::Stop => "SIGTERM",
        }
    }
}

/// An L2 announcer under test, running on every node of an [`L2Lan`].
///
/// The harness picks the owner from [`claimants`](L2Subject::claimants)
/// and the client's traffic, fails it, and calls
/// [`restore`](L2Subject::restore) once a new owner answers steadily.
pub trait L2Subject {
    /// The name in reports, e.g. `keepalived (advert 0.1 s)`.
    fn name(&self) -> String;

    /// The subject's own timer period (advertisement interval, heartbeat):
    /// failure instants are spread uniformly over one period so they do not
    /// phase-lock with it.
    fn period(&self) -> Duration;

    /// How long a failover may take before the run counts as failed.
    fn failover_timeout(&self) -> Duration;

    /// Starts the subject on every node, announcing `lan.vip()`.
    fn start(&mut self, lan: &L2Lan) -> Result<()>;

    /// The nodes that claim the VIP now, by the subject's own account
    /// (exactly one once settled).
    fn claimants(&self, lan: &L2Lan) -> Result<Vec<NodeId>>;

    /// Sends `signal` (SIGKILL: every process of the subject on the node at
    /// once; SIGTERM: a graceful stop) to the subject on `node`, and returns
    /// the instant the failure took effect.
    fn signal(&mut self, lan: &L2Lan, node: NodeId, signal: Signal) -> Result<Instant>;

    /// Called at once after the harness cut `node`'s link. Subjects that
    /// react to failures by themselves do nothing.
    fn link_cut(&mut self, _lan: &L2Lan, _node: NodeId) -> Result<()> {
        Ok(())
    }

    /// Brings the subject back on `node` after `failure` (after a link
    /// cut, the link is up again when this is called).
    fn restore(&mut self, lan: &L2Lan, node: NodeId, failure: Failure) -> Result<()>;
}
