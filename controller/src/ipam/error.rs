//! Why an allocation is refused, in words a user can act on. The reconciler
//! puts these messages into Kubernetes Events as they are.

use std::net::IpAddr;

use super::pool::NotAllowed;
use super::range::Family;
use super::request::IpFamilies;
use super::sharing::SharingConflict;

/// A refused [`assign`](crate::ipam::Allocator::assign).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocationError {
    /// No pool is configured at all.
    #[error("no IPAddressPool is configured")]
    NoPools,
    /// Every pool has `autoAssign: false`.
    #[error(
        "no pool has autoAssign enabled: request a pool (metallb.io/address-pool) or addresses (metallb.io/loadBalancerIPs)"
    )]
    NoAutoAssignPool,
    /// No auto-assign pool may serve the Service.
    #[error(
        "no pool allows namespace {namespace} and these labels ({})",
        reasons(excluded)
    )]
    NoEligiblePool {
        /// The Service's namespace.
        namespace: String,
        /// Pools whose `serviceAllocation` excludes the Service.
        excluded: Vec<NotAllowed>,
    },
    /// The eligible pools have no free address of the wanted families.
    #[error("{} exhausted: no free {wanted} address", pool_list(pools))]
    Exhausted {
        /// The pools tried, in order.
        pools: Vec<String>,
        /// What was wanted.
        wanted: IpFamilies,
    },
    /// None of the eligible pools has a range of a wanted family.
    #[error("{} {} no {family} range", pool_list(pools), if pools.len() == 1 { "has" } else { "have" })]
    NoRangeForFamily {
        /// The pools tried.
        pools: Vec<String>,
        /// The missing family.
        family: Family,
    },
    /// `metallb.io/address-pool` names a pool that does not exist.
    #[error("requested pool {pool} does not exist")]
    UnknownPool {
        /// The name asked for.
        pool: String,
    },
    /// The pool the Service asks for (by name or by address) excludes it.
    #[error(transparent)]
    NotAllowed(#[from] NotAllowed),
    /// A requested address is in no pool.
    #[error("requested {addr} is not in any pool")]
    NotInAnyPool {
        /// The address.
        addr: IpAddr,
    },
    /// A requested address ends in .0 or .255 and its pool avoids those.
    #[error(
        "requested {addr} is in pool {pool}, which avoids .0 and .255 addresses (avoidBuggyIPs)"
    )]
    AvoidedAddress {
        /// The address.
        addr: IpAddr,
        /// Its pool.
        pool: String,
    },
    /// Requested addresses lie in different pools.
    #[error(
        "requested {first} (pool {first_pool}) and {second} (pool {second_pool}) must come from the same pool"
    )]
    RequestedAcrossPools {
        /// One address.
        first: IpAddr,
        /// Its pool.
        first_pool: String,
        /// The other.
        second: IpAddr,
        /// Its pool.
        second_pool: String,
    },
    /// Requested addresses do not match the Service's families.
    #[error(
        "requested {} does not match the service's IP families ({families})",
        addr_list(requested)
    )]
    RequestedFamilyMismatch {
        /// The requested addresses.
        requested: Vec<IpAddr>,
        /// What the Service is.
        families: IpFamilies,
    },
    /// Requested addresses and requested pool disagree.
    #[error(
        "requested {} is in pool {actual}, not in requested pool {requested}",
        addr_list(addrs)
    )]
    RequestedPoolMismatch {
        /// The requested addresses.
        addrs: Vec<IpAddr>,
        /// Their pool.
        actual: String,
        /// The requested pool.
        requested: String,
    },
    /// A requested address is held by a Service it may not be shared with.
    #[error(transparent)]
    Sharing(Box<SharingConflict>),
    /// The Service's own sharing settings (key, ports, backends) no longer
    /// fit the Services it shared an address with, so it gave the address up,
    /// and no other address could be found.
    #[error(
        "gave up {}: {conflict}; no other address: {then}",
        addr_list(previous)
    )]
    LostSharing {
        /// The addresses given up.
        previous: Vec<IpAddr>,
        /// Why.
        conflict: Box<SharingConflict>,
        /// Why no new address was found.
        then: Box<AllocationError>,
    },
}

impl From<SharingConflict> for AllocationError {
    fn from(c: SharingConflict) -> Self {
        AllocationError::Sharing(Box::new(c))
    }
}

fn reasons(excluded: &[NotAllowed]) -> String {
    let parts: Vec<String> = excluded.iter().map(ToString::to_string).collect();
    parts.join("; ")
}

fn pool_list(pools: &[String]) -> String {
    match pools {
        [one] => format!("pool {one}"),
        many => format!("pools {}", many.join(", ")),
    }
}

fn addr_list(addrs: &[IpAddr]) -> String {
    let parts: Vec<String> = addrs.iter().map(ToString::to_string).collect();
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_well() {
        let e = AllocationError::Exhausted {
            pools: vec!["x".into()],
            wanted: IpFamilies::Single(Family::V4),
        };
        assert_eq!(e.to_string(), "pool x exhausted: no free IPv4 address");
        let e = AllocationError::NotInAnyPool {
            addr: "10.0.0.5".parse().unwrap(),
        };
        assert_eq!(e.to_string(), "requested 10.0.0.5 is not in any pool");
        let e = AllocationError::NoEligiblePool {
            namespace: "ns".into(),
            excluded: vec![NotAllowed::Namespace {
                pool: "p".into(),
                namespace: "ns".into(),
            }],
        };
        assert_eq!(
            e.to_string(),
            "no pool allows namespace ns and these labels (pool p does not allow namespace ns)"
        );
    }
}
