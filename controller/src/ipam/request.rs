//! What the allocator needs to know about one Service: who it is, what it
//! asks for, and what decides whether it may share an address.

use std::fmt;
use std::net::IpAddr;

use ferrolb_crds::selector::Labels;

use super::range::Family;

pub use ferrolb_crds::service::{ServiceKey, is_ours};

/// A Service port protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        })
    }
}

/// One `(protocol, port)` a Service exposes; two Services sharing an address
/// may never expose the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Port {
    /// Protocol.
    pub protocol: Protocol,
    /// Port number.
    pub port: u16,
}

impl Port {
    /// `protocol/port`.
    pub fn new(protocol: Protocol, port: u16) -> Self {
        Port { protocol, port }
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.protocol, self.port)
    }
}

/// What a dual-stack Service settles for when only one family is available.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DualPolicy {
    /// `PreferDualStack`: one address of either family will do.
    Prefer,
    /// `RequireDualStack`: one address of each family, or nothing.
    Require,
}

/// The address families a Service wants, as Kubernetes resolved them into
/// `spec.ipFamilies` (a `SingleStack` Service, or a `PreferDualStack` one on a
/// single-stack cluster, has one family).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpFamilies {
    /// One address of this family.
    Single(Family),
    /// One address per family, from the same pool.
    Dual {
        /// `spec.ipFamilies[0]`: the family that wins when a
        /// `PreferDualStack` Service can only get one.
        primary: Family,
        /// What to do when only one family is available.
        policy: DualPolicy,
    },
}

impl IpFamilies {
    /// Whether a set of addresses of `families` fits this request exactly
    /// (MetalLB's "the family has not changed", which lets a `PreferDualStack`
    /// Service keep a single address).
    pub(crate) fn accepts(&self, families: &[Family]) -> bool {
        match (self, families) {
            (IpFamilies::Single(f), [g]) => f == g,
            (IpFamilies::Dual { .. }, [a, b]) => a != b,
            (
                IpFamilies::Dual {
                    policy: DualPolicy::Prefer,
                    ..
                },
                [_],
            ) => true,
            _ => false,
        }
    }
}

impl fmt::Display for IpFamilies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpFamilies::Single(family) => write!(f, "{family}"),
            IpFamilies::Dual {
                policy: DualPolicy::Require,
                ..
            } => f.write_str("IPv4 and IPv6 (RequireDualStack)"),
            IpFamilies::Dual {
                primary,
                policy: DualPolicy::Prefer,
            } => write!(
                f,
                "IPv4 and IPv6, or {primary} alone, or {} alone (PreferDualStack)",
                primary.other()
            ),
        }
    }
}

/// `spec.externalTrafficPolicy`, as far as sharing cares.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TrafficPolicy {
    /// `Cluster`: any node forwards to any backend, so the backends do not
    /// matter for sharing.
    Cluster,
    /// `Local`: only nodes with a local backend answer, so Services sharing an
    /// address must have the same backends. MetalLB compares the pod selectors
    /// rendered as `k1=v1,k2=v2` (sorted); see
    /// [`backend_key`](crate::ipam::backend_key).
    Local {
        /// The rendered pod selector.
        backend_key: String,
    },
}

/// Everything the allocator needs about one Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRequest {
    /// Which Service.
    pub key: ServiceKey,
    /// The Service's labels (for `serviceSelectors`).
    pub labels: Labels,
    /// Its namespace's labels (for `namespaceSelectors`).
    pub namespace_labels: Labels,
    /// The families it wants.
    pub families: IpFamilies,
    /// Addresses it asks for (`metallb.io/loadBalancerIPs` or
    /// `spec.loadBalancerIP`); empty for "any".
    pub requested: Vec<IpAddr>,
    /// The pool it asks for (`metallb.io/address-pool`).
    pub pool: Option<String>,
    /// Its sharing key (`metallb.io/allow-shared-ip`); `None` never shares.
    pub sharing_key: Option<String>,
    /// The ports it exposes.
    pub ports: Vec<Port>,
    /// Its external traffic policy.
    pub traffic_policy: TrafficPolicy,
}

impl ServiceRequest {
    /// A single-stack Service with no annotations and no ports: the starting
    /// point tests and callers refine with struct update syntax.
    pub fn new(key: ServiceKey, family: Family) -> Self {
        ServiceRequest {
            key,
            labels: Labels::new(),
            namespace_labels: Labels::new(),
            families: IpFamilies::Single(family),
            requested: Vec::new(),
            pool: None,
            sharing_key: None,
            ports: Vec::new(),
            traffic_policy: TrafficPolicy::Cluster,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_acceptance() {
        use Family::*;
        let prefer = IpFamilies::Dual {
            primary: V4,
            policy: DualPolicy::Prefer,
        };
        let require = IpFamilies::Dual {
            primary: V6,
            policy: DualPolicy::Require,
        };
        assert!(IpFamilies::Single(V4).accepts(&[V4]));
        assert!(!IpFamilies::Single(V4).accepts(&[V6]));
        assert!(!IpFamilies::Single(V4).accepts(&[V4, V6]));
        assert!(prefer.accepts(&[V6]) && prefer.accepts(&[V4, V6]));
        assert!(!require.accepts(&[V6]) && require.accepts(&[V6, V4]));
        assert!(!require.accepts(&[V4, V4]));
    }

    #[test]
    fn displays() {
        assert_eq!(ServiceKey::new("default", "web").to_string(), "default/web");
        assert_eq!(Port::new(Protocol::Udp, 53).to_string(), "UDP/53");
    }
}
