//! What the allocator answers: where a Service's addresses come from, what
//! changed, and what a configuration change did to running Services.

use std::fmt;
use std::net::IpAddr;

use super::pool::NotAllowed;
use super::request::ServiceKey;
use super::sharing::SharingConflict;

/// Where a Service's addresses stand under the current pools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// In this pool, which may serve the Service.
    InPool(String),
    /// The Service keeps addresses the configuration no longer gives it.
    /// FerroLB never moves a running Service because pools changed: it is
    /// reported here until a person acts (requests other addresses or
    /// another pool, or deletes the Service).
    Orphaned(OrphanReason),
}

/// Why a kept address is no longer backed by the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrphanReason {
    /// An address is in no pool (the pool shrank or was deleted).
    NotInAnyPool,
    /// An address ends in .0/.255 and its pool now avoids those.
    AvoidedAddress {
        /// The pool.
        pool: String,
    },
    /// The two addresses of a dual-stack Service are now in different pools.
    SplitAcrossPools {
        /// Their pools.
        pools: Vec<String>,
    },
    /// The pool's `serviceAllocation` no longer allows the Service.
    NotAllowed(NotAllowed),
}

impl fmt::Display for OrphanReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrphanReason::NotInAnyPool => f.write_str("address is in no pool any more"),
            OrphanReason::AvoidedAddress { pool } => {
                write!(f, "pool {pool} now avoids .0 and .255 addresses")
            }
            OrphanReason::SplitAcrossPools { pools } => {
                write!(
                    f,
                    "addresses are now in different pools ({})",
                    pools.join(", ")
                )
            }
            OrphanReason::NotAllowed(why) => write!(f, "{why}"),
        }
    }
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Placement::InPool(pool) => write!(f, "pool {pool}"),
            Placement::Orphaned(why) => {
                write!(f, "orphaned: {why}; kept, never moved automatically")
            }
        }
    }
}

/// Why [`assign`](crate::ipam::Allocator::assign) gave a Service new addresses.
/// Every reason is a change to the Service itself, never to the pools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveReason {
    /// `spec.ipFamilies`/`ipFamilyPolicy` no longer fit the addresses.
    FamiliesChanged,
    /// The Service requests other addresses.
    RequestedAddresses,
    /// The Service requests a pool its addresses are not in.
    RequestedPool,
    /// The Service's sharing key, ports or backends no longer fit the other
    /// Services on its address.
    SharingConflict(SharingConflict),
}

impl fmt::Display for MoveReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MoveReason::FamiliesChanged => f.write_str("the service's IP families changed"),
            MoveReason::RequestedAddresses => f.write_str("the service requests other addresses"),
            MoveReason::RequestedPool => f.write_str("the service requests another pool"),
            MoveReason::SharingConflict(c) => write!(f, "{c}"),
        }
    }
}

/// What one `assign` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Nothing: the Service keeps what it had.
    Unchanged,
    /// First addresses for this Service.
    New,
    /// A `PreferDualStack` Service that had one family got the other.
    Extended {
        /// The added address.
        added: IpAddr,
    },
    /// The Service's own spec made it change addresses.
    Moved {
        /// What it had before.
        previous: Vec<IpAddr>,
        /// Why.
        reason: MoveReason,
    },
}

/// A Service's addresses and where they stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The Service.
    pub key: ServiceKey,
    /// Its addresses, IPv4 first (the order MetalLB writes into
    /// `status.loadBalancer.ingress`).
    pub addresses: Vec<IpAddr>,
    /// Where they stand.
    pub placement: Placement,
    /// What the call that produced this did.
    pub change: Change,
}

impl Placement {
    /// The pool holding the addresses, when there is exactly one, even if
    /// its `serviceAllocation` or `avoidBuggyIPs` now orphans them.
    pub fn pool(&self) -> Option<&str> {
        match self {
            Placement::InPool(pool)
            | Placement::Orphaned(OrphanReason::AvoidedAddress { pool })
            | Placement::Orphaned(OrphanReason::NotAllowed(
                NotAllowed::Namespace { pool, .. } | NotAllowed::ServiceLabels { pool },
            )) => Some(pool),
            Placement::Orphaned(_) => None,
        }
    }
}

impl Assignment {
    /// The pool holding the addresses (for the
    /// `metallb.io/ip-allocated-from-pool` annotation); see [`Placement::pool`].
    pub fn pool(&self) -> Option<&str> {
        self.placement.pool()
    }

    /// Whether the configuration still backs these addresses.
    pub fn is_orphaned(&self) -> bool {
        matches!(self.placement, Placement::Orphaned(_))
    }
}

/// A running Service whose standing changed with a new pool configuration.
/// Its addresses did not change: see [`Placement::Orphaned`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolChange {
    /// The Service.
    pub key: ServiceKey,
    /// Its (unchanged) addresses.
    pub addresses: Vec<IpAddr>,
    /// Before the change.
    pub before: Placement,
    /// After the change.
    pub after: Placement,
}

/// A recorded assignment [`rebuild`](crate::ipam::Allocator::rebuild) could
/// not adopt; the caller should clear that Service's status and `assign` it
/// again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RebuildRejection {
    /// The same Service was recorded twice; the first record was adopted.
    #[error("{key} is recorded twice; kept the first record")]
    Duplicate {
        /// The Service.
        key: ServiceKey,
    },
    /// More than two addresses, or two of one family.
    #[error("{key} records {addresses:?}: at most one address per family")]
    Malformed {
        /// The Service.
        key: ServiceKey,
        /// What was recorded.
        addresses: Vec<IpAddr>,
    },
    /// Its address is held by an earlier Service (in key order) it may not
    /// share with.
    #[error("{key} cannot keep its recorded address: {conflict}")]
    Conflict {
        /// The Service.
        key: ServiceKey,
        /// The conflict.
        conflict: SharingConflict,
    },
}
