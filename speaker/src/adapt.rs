//! Kubernetes objects as the decision reads them: Services with their
//! recorded addresses, EndpointSlices, and Nodes. Both shells, the
//! Kubernetes watches and standalone mode's files, hold these objects and
//! read them here only, so that the same objects always mean the same
//! inputs.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use ferrolb_crds::service::{LbView, asks_to_share_ip, lb_view, recorded_addresses, recorded_pool};
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;

use crate::decide::{Endpoint, NodeState, ServiceKey, ServiceState, TrafficPolicy};

/// Where a Service's endpoints come from when it has no EndpointSlice.
#[derive(Debug, Clone, Copy)]
pub enum WithoutSlices<'a> {
    /// It has none (a cluster: the EndpointSlice controller writes a slice
    /// for every Service with a selector).
    NoEndpoints,
    /// Every one of these nodes serves it (standalone hosts serving the
    /// address themselves).
    ReadyOn(&'a [String]),
}

/// The LoadBalancer Services of `lb_class` that have an address, as the
/// decision reads them, with the endpoints of their slices. A Service of
/// another class is not ours to announce whatever its status says (as
/// MetalLB's speaker filters it out before anything else).
pub fn service_states<'a>(
    services: impl IntoIterator<Item = (&'a ServiceKey, &'a Service)>,
    slices: impl IntoIterator<Item = &'a EndpointSlice>,
    lb_class: Option<&str>,
    without_slices: WithoutSlices<'_>,
) -> Vec<ServiceState> {
    let mut by_service: BTreeMap<ServiceKey, Vec<&EndpointSlice>> = BTreeMap::new();
    for slice in slices {
        if let Some(key) = slice_service(slice) {
            by_service.entry(key).or_default().push(slice);
        }
    }
    services
        .into_iter()
        .filter(|(_, svc)| lb_view(svc, lb_class) == LbView::Ours)
        .filter_map(|(key, svc)| {
            let endpoints = match (by_service.get(key), without_slices) {
                (Some(slices), _) => endpoints(slices.iter().copied()),
                (None, WithoutSlices::NoEndpoints) => Vec::new(),
                (None, WithoutSlices::ReadyOn(nodes)) => {
                    nodes.iter().map(|n| Endpoint::ready_on(n)).collect()
                }
            };
            service_state(key, svc, endpoints)
        })
        .collect()
}

/// The speaker's view of a Service, `None` while it has no address.
fn service_state(
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
        labels: svc.metadata.labels.clone().unwrap_or_default(),
        shares_ip: asks_to_share_ip(svc),
    })
}

/// Every endpoint of a Service's slices.
fn endpoints<'a>(slices: impl IntoIterator<Item = &'a EndpointSlice>) -> Vec<Endpoint> {
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

/// The Node's first IPv4 address, InternalIP first, then ExternalIP: the
/// default BGP router ID.
pub fn node_ipv4(node: &Node) -> Option<Ipv4Addr> {
    let addresses = node.status.as_ref()?.addresses.as_ref()?;
    let v4 = |kind: &str| {
        addresses
            .iter()
            .filter(|a| a.type_ == kind)
            .find_map(|a| match a.address.parse() {
                Ok(IpAddr::V4(v4)) => Some(v4),
                _ => None,
            })
    };
    v4("InternalIP").or_else(|| v4("ExternalIP"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `serviceSelectors` and the shared-IP rule read reaches the
    /// decision, from either annotation name.
    #[test]
    fn labels_and_the_shared_ip_annotation_reach_the_decision() {
        let svc: Service = serde_json::from_value(serde_json::json!({
            "metadata": {
                "name": "web", "namespace": "shop",
                "labels": {"tier": "frontend"},
                "annotations": {"metallb.universe.tf/allow-shared-ip": "k"}
            },
            "spec": {"type": "LoadBalancer"},
            "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.10"}]}}
        }))
        .expect("service");
        let key = ServiceKey::new("shop", "web");
        let states = service_states([(&key, &svc)], [], None, WithoutSlices::NoEndpoints);
        assert_eq!(
            states[0].labels.get("tier").map(String::as_str),
            Some("frontend")
        );
        assert!(states[0].shares_ip);
    }
}
