//! Kubernetes objects as the decision reads them: Services with their
//! recorded addresses, EndpointSlices, and this node.

use ferrolb_crds::service::{recorded_addresses, recorded_pool};
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;

use crate::decide::{Endpoint, NodeState, ServiceKey, ServiceState, TrafficPolicy};

/// The speaker's view of a Service, `None` while it has no address.
pub fn service_state(
    key: &ServiceKey,
    svc: &Service,
    endpoints: Vec<Endpoint>,
) -> Option<ServiceState> {
    let addresses = recorded_addresses(svc);
    if addresses.is_empty() {
        return None;
    }
    let traffic_policy = match svc
        .spec
        .as_ref()
        .and_then(|s| s.external_traffic_policy.as_deref())
    {
        Some("Local") => TrafficPolicy::Local,
        _ => TrafficPolicy::Cluster,
    };
    Some(ServiceState {
        key: key.clone(),
        addresses,
        pool: recorded_pool(svc).map(str::to_string),
        traffic_policy,
        endpoints,
    })
}

/// Every endpoint of a Service's slices.
pub fn endpoints<'a>(slices: impl IntoIterator<Item = &'a EndpointSlice>) -> Vec<Endpoint> {
    slices
        .into_iter()
        .flat_map(|s| s.endpoints.iter().flatten())
        .map(|e| {
            let c = e.conditions.as_ref();
            Endpoint {
                node: e.node_name.clone(),
                ready: c.and_then(|c| c.ready),
                serving: c.and_then(|c| c.serving),
                terminating: c.and_then(|c| c.terminating),
            }
        })
        .collect()
}

/// The Service an EndpointSlice belongs to (its `kubernetes.io/service-name`
/// label), `None` for slices not managed for a Service.
pub fn slice_service(slice: &EndpointSlice) -> Option<ServiceKey> {
    let name = slice
        .metadata
        .labels
        .as_ref()?
        .get("kubernetes.io/service-name")?;
    Some(ServiceKey::new(
        slice.metadata.namespace.clone().unwrap_or_default(),
        name.clone(),
    ))
}

/// This node as the decision reads it.
pub fn node_state(name: &str, node: Option<&Node>) -> NodeState {
    let Some(node) = node else {
        return NodeState::new(name);
    };
    let network_unavailable = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == "NetworkUnavailable" && c.status == "True")
        });
    NodeState {
        name: name.to_string(),
        labels: node.metadata.labels.clone().unwrap_or_default(),
        network_unavailable,
    }
}
