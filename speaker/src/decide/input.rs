//! What the decision reads about the node and the services.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use ferrolb_crds::selector::Labels;

use super::endpoints::{Endpoints, TrafficPolicy};

/// Nodes with this label never announce (as in MetalLB and Kubernetes'
/// service controller), whatever its value.
pub const EXCLUDE_LABEL: &str = "node.kubernetes.io/exclude-from-external-load-balancers";

/// The node this speaker runs on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeState {
    pub name: String,
    pub labels: Labels,
    /// The node's `NetworkUnavailable` condition is `True`.
    pub network_unavailable: bool,
}

impl NodeState {
    pub fn new(name: impl Into<String>) -> NodeState {
        NodeState {
            name: name.into(),
            ..NodeState::default()
        }
    }
}

pub use ferrolb_crds::service::ServiceKey;

/// A LoadBalancer Service as the speaker sees it. Every speaker holds one
/// per Service of the cluster, so what is also in the shell's record of
/// the Service (addresses, pool, labels) or in its EndpointSlice
/// (endpoints) is shared with it, not copied (docs/benchmarks.md, speaker
/// memory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceState {
    pub key: ServiceKey,
    /// The addresses in `status.loadBalancer.ingress`.
    pub addresses: Arc<[IpAddr]>,
    /// `metallb.io/ip-allocated-from-pool`, when the controller wrote it.
    /// Without it, the pool is the one containing the address.
    pub pool: Option<Arc<str>>,
    pub traffic_policy: TrafficPolicy,
    /// From the Service's EndpointSlices.
    pub endpoints: Endpoints,
    /// `metadata.labels`: what advertisements' `serviceSelectors` match.
    pub labels: Arc<Labels>,
    /// Carries `allow-shared-ip`, which layer-2 advertisements with
    /// `serviceSelectors` refuse (MetalLB's rule).
    pub shares_ip: bool,
}

/// A shared empty label set: most Services' labels are one of a few, and
/// no labels at all costs no allocation.
pub fn no_labels() -> Arc<Labels> {
    static EMPTY: OnceLock<Arc<Labels>> = OnceLock::new();
    Arc::clone(EMPTY.get_or_init(Arc::default))
}
