//! Services as the speaker's decision sees them, and the controller's
//! decisions written back onto them (in memory: standalone mode has no API
//! server to hold Service status).

use std::net::IpAddr;

use ferrolb_controller::adapt::recorded_addresses;
use ferrolb_controller::adapt::service::recorded_pool;
use ferrolb_controller::ipam::annotations::IP_ALLOCATED_FROM_POOL;
use ferrolb_controller::reconcile::plan::Desired;
use ferrolb_speaker::decide::{Endpoint, ServiceKey, ServiceState, TrafficPolicy};
use k8s_openapi::api::core::v1::{LoadBalancerIngress, LoadBalancerStatus, Service, ServiceStatus};
use k8s_openapi::api::discovery::v1::EndpointSlice;

/// Records `desired` on `svc`, as the controller writes it into a cluster.
pub fn record(svc: &mut Service, desired: &Desired) {
    let ingress: Vec<LoadBalancerIngress> = desired
        .addresses
        .iter()
        .map(|a| LoadBalancerIngress {
            ip: Some(a.to_string()),
            ..LoadBalancerIngress::default()
        })
        .collect();
    svc.status = Some(ServiceStatus {
        load_balancer: Some(LoadBalancerStatus {
            ingress: (!ingress.is_empty()).then_some(ingress),
        }),
        ..ServiceStatus::default()
    });
    let annotations = svc.metadata.annotations.get_or_insert_default();
    match &desired.pool {
        Some(pool) => {
            annotations.insert(IP_ALLOCATED_FROM_POOL.to_string(), pool.clone());
        }
        None => {
            annotations.remove(IP_ALLOCATED_FROM_POOL);
        }
    }
}

/// The speaker's view of a Service with an address. Without EndpointSlices
/// (a host serving the address itself), every node counts as having a ready
/// local endpoint.
pub fn state(
    key: &ServiceKey,
    svc: &Service,
    slices: Option<&Vec<EndpointSlice>>,
    node: &str,
) -> Option<ServiceState> {
    let addresses: Vec<IpAddr> = recorded_addresses(svc);
    if addresses.is_empty() {
        return None;
    }
    let spec = svc.spec.as_ref();
    let traffic_policy = match spec.and_then(|s| s.external_traffic_policy.as_deref()) {
        Some("Local") => TrafficPolicy::Local,
        _ => TrafficPolicy::Cluster,
    };
    let endpoints = match slices {
        Some(slices) => slices
            .iter()
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
            .collect(),
        None => vec![Endpoint::ready_on(node)],
    };
    Some(ServiceState {
        key: key.clone(),
        addresses,
        pool: recorded_pool(svc).map(str::to_string),
        traffic_policy,
        endpoints,
    })
}
