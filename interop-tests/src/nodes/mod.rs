//! The cost of Layer 2 and BGP as the cluster grows (issue 18, "Nodes";
//! `make bench-nodes`, binary `nodes-scale`): N `ferrolb run` nodes on one
//! LAN, each in its own namespace, and for each N
//!
//! 1. every speaker's membership datagrams and bytes per second, in and
//!    out, its CPU (utime + stime over the window) and RSS, with nothing
//!    else on the LAN ([`counters`]; the model to compare with: [`model`]);
//! 2. failovers: the owner of one Service's address killed (SIGKILL), the
//!    time until another node answers a client that asks who has it every
//!    5 ms ([`failover`]);
//! 3. BGP: the BGPPeer written into the speakers' configuration, the time
//!    until BIRD routes every Service over all N nodes, then every
//!    speaker's CPU and BIRD's over a window.
//!
//! The lab ([`lan`]) removes every namespace and process on every exit
//! path (its destructor; the daemons' `timeout` if the benchmark itself is
//! killed).

pub mod counters;
pub mod failover;
pub mod lan;
pub mod model;
pub mod report;

use std::time::Duration;

use crate::error::{LabError, Result};
use crate::l2::harness::Jitter;
pub use lan::{NodesLan, Options};
pub use report::{Measured, Row};

/// What to do at each cluster size.
#[derive(Debug, Clone)]
pub struct Plan {
    pub options: Options,
    /// After every speaker sees every other, before the first window.
    pub settle: Duration,
    /// The length of each measuring window.
    pub window: Duration,
    pub failovers: usize,
}

/// Runs the plan with `n` nodes; the lab is gone when this returns.
///
/// A cluster whose speakers never all see each other (the membership
/// keeps declaring members dead and alive again) is measured all the
/// same: its window shows what that costs; it has no failovers (there is
/// no steady owner to kill) and `settled` is false.
pub fn measure(n: usize, plan: &Plan, jitter: &mut Jitter) -> Result<Measured> {
    let mut lan = NodesLan::start(n, plan.options.clone())?;
    let settled = match lan.wait_settled(settle_timeout(n)) {
        Ok(()) => true,
        Err(LabError::Timeout { seen, .. }) => {
            eprintln!("{n} nodes: the speakers did not all see each other: {seen}");
            false
        }
        Err(e) => return Err(e),
    };
    std::thread::sleep(plan.settle);
    let l2 = lan.measure(plan.window)?;
    let failovers = if settled {
        lan.failovers(plan.failovers, jitter)?
    } else {
        Vec::new()
    };
    let mut measured = Measured {
        nodes: n,
        settled,
        l2: l2.nodes,
        rss_kib: l2.rss_kib,
        failovers,
        load: l2.load,
        model: model::datagrams_per_s(n, &plan.options.timing),
        ..Measured::default()
    };
    if plan.options.bgp {
        // A size whose BIRD never routes over all N still has its Layer-2
        // figures: the ECMP time is "never" and BGP's window is skipped.
        match lan.add_bgp(Duration::from_secs(120)) {
            Ok(ecmp) => {
                measured.ecmp = Some(ecmp);
                std::thread::sleep(plan.settle);
                let bgp = lan.measure(plan.window)?;
                measured.bgp = bgp.nodes;
                measured.bird = bgp.bird;
            }
            Err(LabError::Invalid(why)) => eprintln!("{n} nodes, BGP: {why}"),
            Err(e) => return Err(e),
        }
    }
    Ok(measured)
}

/// How long `n` speakers get to see each other: ten nodes take a few
/// seconds on the loaded 2-core machine.
fn settle_timeout(n: usize) -> Duration {
    Duration::from_secs(20 + n as u64)
}
