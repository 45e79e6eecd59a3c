//! Why an address is or is not announced: what status, logs and Events say.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use super::input::{EXCLUDE_LABEL, NodeState, ServiceKey};

/// The decision for one address of one Service on this node: a BGP
/// [`Verdict`] or an [`L2Verdict`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation<V = Verdict> {
    pub service: ServiceKey,
    pub address: IpAddr,
    pub verdict: V,
}

/// The names a verdict gives (BGPPeers, interfaces). Thousands of
/// verdicts name the same few sets, so a book shares one copy of each
/// ([`super::shared::Shared`]): a set of its own would cost each verdict
/// a B-tree node (some 300 bytes).
pub type Names = Arc<BTreeSet<String>>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Announced to these peers (by BGPPeer name).
    Announced {
        peers: Names,
    },
    NotAnnounced(Reason),
}

/// The layer-2 decision: whether this node answers ARP/NDP for an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum L2Verdict {
    /// Answered on these interfaces.
    Announced {
        interfaces: BTreeSet<String>,
    },
    NotAnnounced(Reason),
}

/// Why this node does not announce an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The node carries [`EXCLUDE_LABEL`].
    NodeExcluded,
    /// The node's `NetworkUnavailable` condition is true.
    NodeNetworkUnavailable,
    /// `Cluster` policy and no endpoint anywhere takes traffic.
    NoReadyEndpoint,
    /// `Local` policy and no endpoint on this node takes traffic.
    NoLocalReadyEndpoint,
    /// The address lies in no configured pool (e.g. the pool was deleted).
    NotInAnyPool,
    /// No BGPAdvertisement selects the pool.
    PoolNotAdvertised { pool: String },
    /// Advertisements of the protocol (`bgp`: BGPAdvertisements, else
    /// L2Advertisements) select the pool, but none selects this node.
    NodeNotSelected { pool: String, bgp: bool },
    /// The advertisements that select this node name no peer that applies
    /// to this node.
    NoPeer { pool: String },
    /// The pool's advertisements that apply here all have
    /// `serviceSelectors`, and none matches the Service's labels.
    ServiceNotSelected { pool: String, bgp: bool },
    /// Two BGPAdvertisements select the Service with different LOCAL_PREFs
    /// for the same routes.
    ConflictingLocalPref { first: String, second: String },
    /// The Service has `allow-shared-ip` and an L2Advertisement that
    /// selects it has `serviceSelectors` (MetalLB refuses the pair).
    SharedIpWithServiceSelectors,
    /// The peers selected are all of the other address family, and none has
    /// `dualStackAddressFamily`.
    NoPeerOfFamily { pool: String, ipv6: bool },
    /// No L2Advertisement selects the pool.
    PoolNotL2Advertised { pool: String },
    /// No node with a live speaker is selected by the pool's
    /// L2Advertisements and free of the exclusion label and
    /// `NetworkUnavailable`.
    NoCandidate { pool: String },
    /// `Local` policy: nodes may announce the pool, but none of them runs a
    /// ready endpoint.
    NoCandidateWithLocalEndpoint { pool: String },
    /// The address is shared by Services whose eligible nodes have none in
    /// common.
    NoCommonCandidate,
    /// Another node answers for the address.
    OwnedBy { node: String },
    /// This node would answer, but reaches too few of its cluster to be
    /// sure nobody else does.
    Fenced,
    /// This node would answer, but has no interface fit to: the ones the
    /// advertisements name are `missing`, or all are `excluded` (each with
    /// why, e.g. the `metallb-excludel2` pattern it matches).
    NoInterface {
        pool: String,
        missing: Vec<String>,
        excluded: Vec<String>,
    },
}

impl Reason {
    /// A stable name for programs (`NodeAnnouncementState`'s `reason`):
    /// the variant's name.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::NodeExcluded => "NodeExcluded",
            Reason::NodeNetworkUnavailable => "NodeNetworkUnavailable",
            Reason::NoReadyEndpoint => "NoReadyEndpoint",
            Reason::NoLocalReadyEndpoint => "NoLocalReadyEndpoint",
            Reason::NotInAnyPool => "NotInAnyPool",
            Reason::PoolNotAdvertised { .. } => "PoolNotAdvertised",
            Reason::NodeNotSelected { .. } => "NodeNotSelected",
            Reason::NoPeer { .. } => "NoPeer",
            Reason::ServiceNotSelected { .. } => "ServiceNotSelected",
            Reason::ConflictingLocalPref { .. } => "ConflictingLocalPref",
            Reason::SharedIpWithServiceSelectors => "SharedIpWithServiceSelectors",
            Reason::NoPeerOfFamily { .. } => "NoPeerOfFamily",
            Reason::PoolNotL2Advertised { .. } => "PoolNotL2Advertised",
            Reason::NoCandidate { .. } => "NoCandidate",
            Reason::NoCandidateWithLocalEndpoint { .. } => "NoCandidateWithLocalEndpoint",
            Reason::NoCommonCandidate => "NoCommonCandidate",
            Reason::OwnedBy { .. } => "OwnedBy",
            Reason::Fenced => "Fenced",
            Reason::NoInterface { .. } => "NoInterface",
        }
    }

    /// Whether a healthy cluster shows this every day, by design or by the
    /// user's choice: a Service scaled to zero, a `Local` Service on a node
    /// without its Pods, a node or Service the selectors leave out, the
    /// layer-2 address another node answers for. These are logged at info;
    /// the rest (a configuration that cannot be honoured, a node cut off)
    /// needs someone's attention and is logged at warn. On a cluster of
    /// thousands of Services the routine ones would otherwise bury the
    /// warnings that matter.
    pub fn is_routine(&self) -> bool {
        match self {
            Reason::NodeExcluded
            | Reason::NoReadyEndpoint
            | Reason::NoLocalReadyEndpoint
            | Reason::NodeNotSelected { .. }
            | Reason::ServiceNotSelected { .. }
            | Reason::OwnedBy { .. } => true,
            Reason::NodeNetworkUnavailable
            | Reason::NotInAnyPool
            | Reason::PoolNotAdvertised { .. }
            | Reason::NoPeer { .. }
            | Reason::ConflictingLocalPref { .. }
            | Reason::SharedIpWithServiceSelectors
            | Reason::NoPeerOfFamily { .. }
            | Reason::PoolNotL2Advertised { .. }
            | Reason::NoCandidate { .. }
            | Reason::NoCandidateWithLocalEndpoint { .. }
            | Reason::NoCommonCandidate
            | Reason::Fenced
            | Reason::NoInterface { .. } => false,
        }
    }

    /// Why `node` announces nothing at all, if it does not.
    pub(super) fn node_blocked(node: &NodeState) -> Option<Reason> {
        if node.labels.contains_key(EXCLUDE_LABEL) {
            Some(Reason::NodeExcluded)
        } else if node.network_unavailable {
            Some(Reason::NodeNetworkUnavailable)
        } else {
            None
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NodeExcluded => write!(f, "the node is labelled {EXCLUDE_LABEL}"),
            Reason::NodeNetworkUnavailable => write!(f, "the node's network is unavailable"),
            Reason::NoReadyEndpoint => write!(f, "the service has no ready endpoint"),
            Reason::NoLocalReadyEndpoint => write!(
                f,
                "externalTrafficPolicy is Local and no ready endpoint runs on this node"
            ),
            Reason::NotInAnyPool => write!(f, "the address is in no IPAddressPool"),
            Reason::PoolNotAdvertised { pool } => {
                write!(f, "no BGPAdvertisement announces pool {pool}")
            }
            Reason::NodeNotSelected { pool, bgp } => write!(
                f,
                "the nodeSelectors of the {} of pool {pool} do not select this node",
                if *bgp {
                    "BGPAdvertisements"
                } else {
                    "L2Advertisements"
                }
            ),
            Reason::ServiceNotSelected { pool, bgp } => {
                let kind = if *bgp {
                    "BGPAdvertisements"
                } else {
                    "L2Advertisements"
                };
                write!(
                    f,
                    "the serviceSelectors of the {kind} of pool {pool} do not select this service"
                )
            }
            Reason::ConflictingLocalPref { first, second } => write!(
                f,
                "BGPAdvertisements {first} and {second} both select this service with different localPref"
            ),
            Reason::SharedIpWithServiceSelectors => write!(
                f,
                "the service has allow-shared-ip, which L2Advertisements with serviceSelectors do not announce"
            ),
            Reason::NoPeerOfFamily { pool, ipv6 } => {
                let (mine, other) = if *ipv6 {
                    ("IPv6", "IPv4")
                } else {
                    ("IPv4", "IPv6")
                };
                write!(
                    f,
                    "the BGPPeers selected for pool {pool} are {other} sessions; peer over {mine}, or set dualStackAddressFamily"
                )
            }
            Reason::NoPeer { pool } => write!(
                f,
                "no BGPPeer for this node is selected by the BGPAdvertisements of pool {pool}"
            ),
            Reason::PoolNotL2Advertised { pool } => {
                write!(f, "no L2Advertisement announces pool {pool}")
            }
            Reason::NoCandidate { pool } => write!(
                f,
                "no node can announce it: none with a running speaker is selected by the L2Advertisements of pool {pool} without being excluded or network-unavailable"
            ),
            Reason::NoCandidateWithLocalEndpoint { pool } => write!(
                f,
                "externalTrafficPolicy is Local and no node that may announce pool {pool} runs a ready endpoint"
            ),
            Reason::NoCommonCandidate => write!(
                f,
                "the address is shared by services that no single node may announce together"
            ),
            Reason::OwnedBy { node } => write!(f, "node {node} announces it"),
            Reason::Fenced => write!(
                f,
                "this node should announce it but reaches too few speakers of its cluster to be sure no other node does"
            ),
            Reason::NoInterface { pool, missing, .. } if !missing.is_empty() => write!(
                f,
                "this node should announce it but lacks the interfaces the L2Advertisements of pool {pool} name: {}",
                missing.join(", ")
            ),
            Reason::NoInterface { pool, excluded, .. } if !excluded.is_empty() => write!(
                f,
                "this node should announce it but none of its interfaces may answer for the L2Advertisements of pool {pool}: {}",
                excluded.join("; ")
            ),
            Reason::NoInterface { pool, .. } => write!(
                f,
                "this node should announce it but has no interface to answer on for the L2Advertisements of pool {pool}"
            ),
        }
    }
}

impl Verdict {
    pub fn is_announced(&self) -> bool {
        matches!(self, Verdict::Announced { .. })
    }

    /// Not announced for a reason someone should look at
    /// ([`Reason::is_routine`]).
    pub fn needs_attention(&self) -> bool {
        matches!(self, Verdict::NotAnnounced(r) if !r.is_routine())
    }
}

impl L2Verdict {
    pub fn is_announced(&self) -> bool {
        matches!(self, L2Verdict::Announced { .. })
    }

    /// Not answered for a reason someone should look at
    /// ([`Reason::is_routine`]).
    pub fn needs_attention(&self) -> bool {
        matches!(self, L2Verdict::NotAnnounced(r) if !r.is_routine())
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Announced { peers } => announced(f, "to", peers),
            Verdict::NotAnnounced(reason) => write!(f, "not announced: {reason}"),
        }
    }
}

impl fmt::Display for L2Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            L2Verdict::Announced { interfaces } => announced(f, "on", interfaces),
            L2Verdict::NotAnnounced(reason) => write!(f, "not announced: {reason}"),
        }
    }
}

fn announced(
    f: &mut fmt::Formatter<'_>,
    preposition: &str,
    names: &BTreeSet<String>,
) -> fmt::Result {
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    write!(f, "announced {preposition} {}", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn not(reason: Reason) -> Verdict {
        Verdict::NotAnnounced(reason)
    }

    #[test]
    fn everyday_states_are_not_warnings_and_unhonoured_configuration_is() {
        let pool = || "p".to_string();
        // A Service scaled to zero, a Local Service away from its Pods, a
        // layer-2 address another node holds: routine on every cluster.
        for reason in [
            Reason::NoReadyEndpoint,
            Reason::NoLocalReadyEndpoint,
            Reason::OwnedBy { node: "n2".into() },
            Reason::NodeNotSelected {
                pool: pool(),
                bgp: true,
            },
        ] {
            assert!(!not(reason.clone()).needs_attention(), "{reason}");
            assert!(!L2Verdict::NotAnnounced(reason.clone()).needs_attention());
        }
        for reason in [
            Reason::NoCandidate { pool: pool() },
            Reason::Fenced,
            Reason::ConflictingLocalPref {
                first: "a".into(),
                second: "b".into(),
            },
            Reason::PoolNotAdvertised { pool: pool() },
        ] {
            assert!(not(reason.clone()).needs_attention(), "{reason}");
        }
        let announced = Verdict::Announced {
            peers: Names::default(),
        };
        assert!(announced.is_announced() && !announced.needs_attention());
    }
}
