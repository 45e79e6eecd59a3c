//! The membership's cost per node as docs/l2-mode.md ("Cost per node")
//! models it, from the speakers' own timing, to set against what the lab
//! counts:
//!
//! - heartbeats: `K / H` out (to the `K` ring successors; fewer when the
//!   cluster has fewer other members) and as many in;
//! - SWIM (foca): one probe per `swim_probe_period` out and, on average,
//!   one acknowledgement of another member's probe, plus gossip to three
//!   members every 200 ms (`l2/src/membership/swim.rs`);
//! - hardware: each speaker's MACs to every other member every
//!   `hardware::REFRESH` (10 s), the one term that grows with the cluster.
//!
//! No failure, no suspicion, no leave: the steady state the lab measures.

use ferrolb_l2::membership::MembershipTiming;
use ferrolb_l2::membership::hardware::REFRESH;

/// foca's periodic gossip in `membership::swim`: three members every
/// 200 ms.
const SWIM_GOSSIP_PER_S: f64 = 3.0 / 0.2;

/// Datagrams per second one node of an `n`-node cluster sends in the
/// steady state (and, the traffic being symmetric on average, receives).
pub fn datagrams_per_s(n: usize, timing: &MembershipTiming) -> f64 {
    let others = n.saturating_sub(1);
    if others == 0 {
        return 0.0;
    }
    heartbeats_per_s(n, timing) + swim_per_s(timing) + others as f64 / REFRESH.as_secs_f64()
}

/// The ring's share: `min(K, n - 1) / H`.
pub fn heartbeats_per_s(n: usize, timing: &MembershipTiming) -> f64 {
    let successors = timing.watchers.min(n.saturating_sub(1));
    successors as f64 / timing.heartbeat.as_secs_f64()
}

/// SWIM's share: a probe and an acknowledgement per probe period, and
/// the periodic gossip.
pub fn swim_per_s(timing: &MembershipTiming) -> f64 {
    2.0 / timing.swim_probe_period.as_secs_f64() + SWIM_GOSSIP_PER_S
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_figures() {
        let t = MembershipTiming::default();
        // docs/l2-mode.md: K/H = 400 heartbeats per second, ~20 SWIM
        // datagrams, n/10 for the MACs (10 per second at 100 nodes).
        assert_eq!(heartbeats_per_s(50, &t), 400.0);
        assert_eq!(swim_per_s(&t), 19.0);
        assert!((datagrams_per_s(101, &t) - 429.0).abs() < 1e-9);
        // Two nodes: one successor only.
        assert_eq!(heartbeats_per_s(2, &t), 200.0);
        assert_eq!(datagrams_per_s(1, &t), 0.0);
        // Nearly flat from 3 to 50: the MACs add 4.7 datagrams per second.
        let growth = datagrams_per_s(50, &t) - datagrams_per_s(3, &t);
        assert!((growth - 4.7).abs() < 1e-9, "{growth}");
    }
}
