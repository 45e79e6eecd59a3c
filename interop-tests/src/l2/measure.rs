//! What one failover looked like from the client: pure functions over the
//! probes it sent, the replies it got and its neighbour-entry changes, so
//! the definitions are tested without a lab.
//!
//! - outage: failure → first reply from a node other than the failed one;
//! - steady: failure → first reply of the final stretch in which every probe
//!   is answered by that same new node, and by it alone;
//! - dual answers: probes answered by two different nodes;
//! - neighbour flips: changes of the client's ARP/NDP entry for the VIP
//!   beyond the one expected move to the new owner.

use std::time::{Duration, Instant};

/// A node, by its position in the LAN's node list.
pub type NodeId = usize;

/// One probe and every reply it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ping {
    pub seq: u64,
    pub sent: Instant,
    pub replies: Vec<(NodeId, Instant)>,
}

impl Ping {
    /// The one node that answered, if exactly one did.
    fn single_node(&self) -> Option<NodeId> {
        let first = self.replies.first()?.0;
        self.replies
            .iter()
            .all(|(n, _)| *n == first)
            .then_some(first)
    }

    fn is_dual(&self) -> bool {
        !self.replies.is_empty() && self.single_node().is_none()
    }
}

/// The client's neighbour entry for the VIP changed to a new MAC: the node
/// owning that MAC, or `None` for a MAC no node has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighbourChange {
    pub at: Instant,
    pub node: Option<NodeId>,
}

/// What one failover looked like, as far as it has been observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub outage: Option<Duration>,
    pub steady: Option<Duration>,
    /// How long the final stretch has lasted at the end of observation.
    pub steady_for: Duration,
    /// The node answering in the final stretch.
    pub owner: Option<NodeId>,
    pub dual_answers: usize,
    pub neighbour_flips: usize,
    /// Probes sent after the failure that got no reply.
    pub lost: usize,
}

/// Analyses the probes observed until `end`. Probes sent less than
/// `in_flight` before `end` are left out: their replies may be on the way.
pub fn analyze(
    pings: &[Ping],
    neighbour: &[NeighbourChange],
    failed: NodeId,
    failure: Instant,
    end: Instant,
    in_flight: Duration,
) -> Outcome {
    let outage = pings
        .iter()
        .flat_map(|p| &p.replies)
        .filter(|(node, at)| *node != failed && *at >= failure)
        .map(|(_, at)| *at - failure)
        .min();
    let considered: Vec<&Ping> = pings
        .iter()
        .filter(|p| p.sent >= failure && p.sent + in_flight <= end)
        .collect();
    let owner = considered.last().and_then(|p| p.single_node());
    let stretch_start = owner.and_then(|owner| {
        let broken = considered
            .iter()
            .rposition(|p| p.single_node() != Some(owner));
        let first = considered.get(broken.map_or(0, |i| i + 1))?;
        first.replies.iter().map(|(_, at)| *at).min()
    });
    let changes = neighbour.iter().filter(|c| c.at >= failure).count();
    Outcome {
        outage,
        steady: stretch_start.map(|at| at.saturating_duration_since(failure)),
        steady_for: stretch_start.map_or(Duration::ZERO, |at| end.saturating_duration_since(at)),
        owner,
        dual_answers: considered.iter().filter(|p| p.is_dual()).count(),
        neighbour_flips: changes.saturating_sub(1),
        lost: considered.iter().filter(|p| p.replies.is_empty()).count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Probes every 5 ms from t0; `who[i]` lists who answered probe i,
    /// 1 ms after it was sent.
    fn pings(t0: Instant, who: &[&[NodeId]]) -> Vec<Ping> {
        who.iter()
            .enumerate()
            .map(|(i, nodes)| {
                let sent = t0 + 5 * MS * i as u32;
                Ping {
                    seq: i as u64,
                    sent,
                    replies: nodes.iter().map(|n| (*n, sent + MS)).collect(),
                }
            })
            .collect()
    }

    #[test]
    fn a_clean_failover_has_equal_outage_and_steady() {
        let t0 = Instant::now();
        let p = pings(t0, &[&[0], &[0], &[], &[], &[1], &[1], &[1], &[1]]);
        let failure = t0 + 7 * MS;
        let end = t0 + 100 * MS;
        let o = analyze(&p, &[], 0, failure, end, 10 * MS);
        // Probe 4 (sent at 20 ms) answered at 21 ms.
        assert_eq!(o.outage, Some(14 * MS));
        assert_eq!(o.steady, Some(14 * MS));
        assert_eq!(o.steady_for, 79 * MS);
        assert_eq!(o.owner, Some(1));
        assert_eq!((o.dual_answers, o.neighbour_flips, o.lost), (0, 0, 2));
    }

    #[test]
    fn flapping_back_delays_steady_but_not_the_outage() {
        let t0 = Instant::now();
        let p = pings(t0, &[&[0], &[], &[2], &[0], &[2, 1], &[2], &[2], &[2]]);
        let o = analyze(&p, &[], 0, t0 + 2 * MS, t0 + 100 * MS, 10 * MS);
        assert_eq!(o.outage, Some(9 * MS));
        // Steady from probe 5 (sent 25 ms, answered 26 ms).
        assert_eq!(o.steady, Some(24 * MS));
        assert_eq!(o.owner, Some(2));
        assert_eq!(o.dual_answers, 1);
    }

    #[test]
    fn probes_still_in_flight_do_not_break_the_stretch() {
        let t0 = Instant::now();
        let p = pings(t0, &[&[0], &[1], &[1], &[]]);
        // The last probe was sent 2 ms before the end: not judged yet.
        let o = analyze(&p, &[], 0, t0 + MS, t0 + 17 * MS, 5 * MS);
        assert_eq!(o.owner, Some(1));
        assert_eq!(o.steady, Some(5 * MS));
        assert_eq!(o.lost, 0);
    }

    #[test]
    fn no_reply_from_another_node_means_no_outage_end() {
        let t0 = Instant::now();
        let p = pings(t0, &[&[0], &[], &[], &[0]]);
        let o = analyze(&p, &[], 0, t0 + MS, t0 + 100 * MS, 10 * MS);
        assert_eq!(o.outage, None);
        // The failed node answering again is a stretch, but of the old owner.
        assert_eq!(o.owner, Some(0));
    }

    #[test]
    fn nothing_observed_yet_is_no_steady_state() {
        let t0 = Instant::now();
        let o = analyze(&[], &[], 0, t0, t0, 10 * MS);
        assert_eq!((o.outage, o.steady, o.owner), (None, None, None));
        assert_eq!(o.steady_for, Duration::ZERO);
    }

    #[test]
    fn neighbour_changes_beyond_the_first_are_flips() {
        let t0 = Instant::now();
        let change = |ms: u32, node| NeighbourChange {
            at: t0 + ms * MS,
            node: Some(node),
        };
        // The change before the failure is the previous run's.
        let changes = [change(0, 0), change(20, 1), change(30, 2), change(40, 1)];
        let o = analyze(&[], &changes, 0, t0 + 10 * MS, t0 + 50 * MS, MS);
        assert_eq!(o.neighbour_flips, 2);
        let o = analyze(&[], &changes[..2], 0, t0 + 10 * MS, t0 + 50 * MS, MS);
        assert_eq!(o.neighbour_flips, 0);
    }
}
