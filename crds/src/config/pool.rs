//! `IPAddressPool` -> [`Pool`].

use std::collections::BTreeSet;
use std::net::IpAddr;

use super::diagnostic::{Kind, ObjectRef, Problem, Sink};
use super::selectors;
use crate::address::IpRange;
use crate::api::IPAddressPool;
use crate::selector::{LabelSelector, Labels};

/// A validated address pool: the allocator's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (FerroLB's namespace in a cluster).
    pub namespace: String,
    /// `metadata.labels`, for advertisement pool selectors.
    pub labels: Labels,
    /// Address ranges in the order written; no two ranges of any pools
    /// overlap (the compiler rejects that).
    pub ranges: Vec<IpRange>,
    /// `spec.autoAssign` (default true).
    pub auto_assign: bool,
    /// `spec.avoidBuggyIPs`: skip IPv4 addresses ending in `.0` / `.255`.
    pub avoid_buggy_ips: bool,
    /// `spec.serviceAllocation`; `None` means any service may use the pool.
    pub service_allocation: Option<ServiceAllocation>,
}

/// Which services may take addresses from a pool, and with what priority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAllocation {
    /// Lower is preferred; `None` ranks after every priority.
    pub priority: Option<i32>,
    /// Namespaces by name.
    pub namespaces: BTreeSet<String>,
    /// Namespaces by label (any one matching is enough).
    pub namespace_selectors: Vec<LabelSelector>,
    /// Services by label (any one matching is enough).
    pub service_selectors: Vec<LabelSelector>,
}

impl ServiceAllocation {
    /// Whether a service may take addresses from the pool: its namespace
    /// is named or selected (when the pool names or selects namespaces at
    /// all), and one service selector matches it (when there are any).
    ///
    /// MetalLB difference: MetalLB resolves namespace selectors to names
    /// when the configuration loads, so a selector matching no namespace
    /// yet leaves the pool open to every namespace; here such a pool is
    /// open to no namespace until one matches.
    pub fn allows(
        &self,
        namespace: &str,
        namespace_labels: &Labels,
        service_labels: &Labels,
    ) -> bool {
        let namespace_restricted =
            !self.namespaces.is_empty() || !self.namespace_selectors.is_empty();
        let namespace_ok = !namespace_restricted
            || self.namespaces.contains(namespace)
            || self
                .namespace_selectors
                .iter()
                .any(|s| s.matches(namespace_labels));
        let service_ok = self.service_selectors.is_empty()
            || self
                .service_selectors
                .iter()
                .any(|s| s.matches(service_labels));
        namespace_ok && service_ok
    }
}

impl Pool {
    /// The `IPAddressPool` this was compiled from, for diagnostics.
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef::new(
            Kind::IPAddressPool,
            self.namespace.clone(),
            self.name.clone(),
        )
    }

    /// IPv4 ranges, in order.
    pub fn ipv4_ranges(
        &self,
    ) -> impl Iterator<Item = &std::ops::RangeInclusive<std::net::Ipv4Addr>> {
        self.ranges.iter().filter_map(|r| match r {
            IpRange::V4(r) => Some(r),
            IpRange::V6(_) => None,
        })
    }

    /// IPv6 ranges, in order.
    pub fn ipv6_ranges(
        &self,
    ) -> impl Iterator<Item = &std::ops::RangeInclusive<std::net::Ipv6Addr>> {
        self.ranges.iter().filter_map(|r| match r {
            IpRange::V6(r) => Some(r),
            IpRange::V4(_) => None,
        })
    }

    /// Whether `ip` belongs to the pool (buggy IPs included: the allocator
    /// decides about those).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.ranges.iter().any(|r| r.contains(ip))
    }

    /// Whether the pool has addresses of both families.
    pub fn is_dual_stack(&self) -> bool {
        self.ranges.iter().any(IpRange::is_ipv4) && self.ranges.iter().any(|r| !r.is_ipv4())
    }
}

/// Compiles one pool. Overlaps between pools are checked by [`check_overlaps`].
pub(crate) fn compile(sink: &mut Sink, obj: &ObjectRef, cr: &IPAddressPool) -> Pool {
    let spec = &cr.spec;
    if spec.addresses.is_empty() {
        sink.error(obj, "spec.addresses", Problem::NoAddresses);
    }
    let mut ranges = Vec::new();
    for (i, text) in spec.addresses.iter().enumerate() {
        match IpRange::parse(text) {
            Ok(r) => ranges.push(r),
            Err(e) => sink.error(obj, format!("spec.addresses[{i}]"), e),
        }
    }
    let service_allocation = spec.service_allocation.as_ref().map(|a| {
        sink.duplicates(obj, "spec.serviceAllocation.namespaces", &a.namespaces);
        ServiceAllocation {
            priority: a.priority,
            namespaces: a.namespaces.iter().cloned().collect(),
            namespace_selectors: selectors::check(
                sink,
                obj,
                "spec.serviceAllocation.namespaceSelectors",
                &a.namespace_selectors,
            ),
            service_selectors: selectors::check(
                sink,
                obj,
                "spec.serviceAllocation.serviceSelectors",
                &a.service_selectors,
            ),
        }
    });
    Pool {
        name: obj.name.clone(),
        namespace: obj.namespace.clone(),
        labels: cr.metadata.labels.clone().unwrap_or_default(),
        ranges,
        auto_assign: spec.auto_assign,
        avoid_buggy_ips: spec.avoid_buggy_ips,
        service_allocation,
    }
}

/// Reports every range that overlaps an earlier one, in the same pool or
/// another: an address must belong to exactly one pool.
pub(crate) fn check_overlaps(sink: &mut Sink, pools: &[(ObjectRef, &IPAddressPool, Pool)]) {
    // (owner, index in spec.addresses, range): indices survive parse errors.
    let mut seen: Vec<(&ObjectRef, usize, IpRange)> = Vec::new();
    for (obj, cr, _) in pools {
        for (i, text) in cr.spec.addresses.iter().enumerate() {
            let Ok(range) = IpRange::parse(text) else {
                continue;
            };
            if let Some((other, j, _)) = seen.iter().find(|(_, _, r)| r.overlaps(&range)) {
                let other_cr = pools
                    .iter()
                    .find(|(o, _, _)| o == *other)
                    .map(|(_, c, _)| c);
                let other_range = other_cr
                    .and_then(|c| c.spec.addresses.get(*j))
                    .cloned()
                    .unwrap_or_default();
                sink.error(
                    obj,
                    format!("spec.addresses[{i}]"),
                    Problem::Overlap {
                        range: text.clone(),
                        other: (*other).clone(),
                        other_range,
                    },
                );
            }
            seen.push((obj, i, range));
        }
    }
}

/// MetalLB's rule: a pool must not hand out an address a node already has.
pub(crate) fn check_node_addresses(
    sink: &mut Sink,
    pools: &[(ObjectRef, &IPAddressPool, Pool)],
    nodes: &[super::Node],
) {
    for (obj, cr, _) in pools {
        for (i, text) in cr.spec.addresses.iter().enumerate() {
            let Ok(range) = IpRange::parse(text) else {
                continue;
            };
            let hit = nodes.iter().find_map(|n| {
                n.addresses
                    .iter()
                    .find(|a| range.contains(**a))
                    .map(|a| (n, a))
            });
            if let Some((node, address)) = hit {
                sink.error(
                    obj,
                    format!("spec.addresses[{i}]"),
                    Problem::ContainsNodeAddress {
                        range: text.clone(),
                        node: node.name.clone(),
                        address: *address,
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selector::labels;

    fn selector(key: &str, value: &str) -> LabelSelector {
        LabelSelector {
            match_labels: labels(&[(key, value)]),
            match_expressions: Vec::new(),
        }
    }

    #[test]
    fn service_allocation_restricts_namespaces_and_services() {
        let open = ServiceAllocation {
            priority: Some(1),
            namespaces: BTreeSet::new(),
            namespace_selectors: Vec::new(),
            service_selectors: Vec::new(),
        };
        assert!(open.allows("any", &labels(&[]), &labels(&[])));

        let by_namespace = ServiceAllocation {
            namespaces: ["web".to_string()].into(),
            namespace_selectors: vec![selector("team", "db")],
            ..open.clone()
        };
        assert!(by_namespace.allows("web", &labels(&[]), &labels(&[])));
        assert!(by_namespace.allows("pg", &labels(&[("team", "db")]), &labels(&[])));
        assert!(!by_namespace.allows("other", &labels(&[]), &labels(&[])));

        let by_service = ServiceAllocation {
            service_selectors: vec![selector("app", "a"), selector("app", "b")],
            ..by_namespace
        };
        assert!(by_service.allows("web", &labels(&[]), &labels(&[("app", "b")])));
        assert!(!by_service.allows("web", &labels(&[]), &labels(&[("app", "c")])));
        assert!(!by_service.allows("other", &labels(&[]), &labels(&[("app", "a")])));
    }
}
