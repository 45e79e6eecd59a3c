//! Why an address is or is not announced: what status, logs and Events say.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;

use super::input::{EXCLUDE_LABEL, ServiceKey};

/// The decision for one address of one Service on this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub service: ServiceKey,
    pub address: IpAddr,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Announced to these peers (by BGPPeer name).
    Announced {
        peers: BTreeSet<String>,
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
    /// BGPAdvertisements select the pool, but none selects this node.
    NodeNotSelected { pool: String },
    /// The advertisements that select this node name no peer that applies
    /// to this node.
    NoPeer { pool: String },
    /// The peers selected are all of the other address family, and none has
    /// `dualStackAddressFamily`.
    NoPeerOfFamily { pool: String, ipv6: bool },
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
            Reason::NodeNotSelected { pool } => write!(
                f,
                "the BGPAdvertisements of pool {pool} do not select this node"
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
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Announced { peers } => {
                let peers: Vec<&str> = peers.iter().map(String::as_str).collect();
                write!(f, "announced to {}", peers.join(", "))
            }
            Verdict::NotAnnounced(reason) => write!(f, "not announced: {reason}"),
        }
    }
}
