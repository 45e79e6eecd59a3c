//! One killed owner as the who-has client saw it: pure functions over its
//! requests and their answers, so the definitions are tested without a
//! lab.
//!
//! - outage: the kill → the first answer from another node (the same
//!   definition as `make bench-l2`'s, with ARP requests instead of UDP
//!   probes: nothing in between caches the answer);
//! - double answers: requests after the kill that two nodes answered.

use std::time::{Duration, Instant};

use crate::l2::NodeId;
use crate::l2::who_has::Asked;

/// One failover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failover {
    /// The node whose speaker was killed.
    pub owner: NodeId,
    /// `None`: nobody else answered within the timeout.
    pub outage: Option<Duration>,
    pub double_answers: usize,
    /// The killed speaker, started again, and every other saw all nodes
    /// again within the bound; `false` ends a size's failovers.
    pub rejoined: bool,
}

/// When a node other than `owner` first answered, among `asked`.
pub fn first_answer_by_another(asked: &[Asked], owner: NodeId) -> Option<Instant> {
    asked
        .iter()
        .flat_map(|a| &a.answers)
        .filter(|(node, _)| node.is_some_and(|n| n != owner))
        .map(|(_, at)| *at)
        .min()
}

/// The failover of `owner`, killed at `killed_at`, from the requests sent
/// since; `answered` is [`first_answer_by_another`]'s verdict.
pub fn judge_after(
    asked: &[Asked],
    owner: NodeId,
    killed_at: Instant,
    answered: Option<Instant>,
) -> Failover {
    Failover {
        owner,
        rejoined: true,
        outage: answered.map(|at| at.saturating_duration_since(killed_at)),
        double_answers: asked
            .iter()
            .filter(|a| a.sent >= killed_at && a.answerers().len() > 1)
            .count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn asked(t0: Instant, who: &[&[(NodeId, u64)]]) -> Vec<Asked> {
        who.iter()
            .enumerate()
            .map(|(i, answers)| {
                let sent = t0 + 5 * MS * i as u32;
                Asked {
                    sent,
                    answers: answers
                        .iter()
                        .map(|(n, after)| (Some(*n), sent + MS * *after as u32))
                        .collect(),
                }
            })
            .collect()
    }

    #[test]
    fn the_outage_ends_at_the_first_answer_of_another_node() {
        let t0 = Instant::now();
        // Node 0 answers a request sent just before the kill (late), then
        // nobody, then node 2.
        let a = asked(t0, &[&[(0, 2)], &[], &[], &[(2, 1)], &[(2, 1)]]);
        let killed = t0 + MS;
        let at = first_answer_by_another(&a, 0);
        assert_eq!(at, Some(t0 + 16 * MS));
        let f = judge_after(&a, 0, killed, at);
        assert_eq!(f.outage, Some(15 * MS));
        assert_eq!(f.double_answers, 0);
        assert_eq!(first_answer_by_another(&a[..3], 0), None);
        assert_eq!(judge_after(&a[..3], 0, killed, None).outage, None);
    }

    #[test]
    fn answers_of_no_node_do_not_end_the_outage_two_nodes_are_counted() {
        let t0 = Instant::now();
        let mut a = asked(t0, &[&[], &[(1, 1), (3, 2)], &[(1, 1)]]);
        a[0].answers.push((None, t0 + MS));
        assert_eq!(first_answer_by_another(&a, 0), Some(t0 + 6 * MS));
        let f = judge_after(&a, 0, t0, first_answer_by_another(&a, 0));
        assert_eq!(f.double_answers, 1);
    }
}
