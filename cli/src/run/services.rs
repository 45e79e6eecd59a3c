//! Services as the speaker's decision sees them, and the controller's
//! decisions written back onto them (in memory: standalone mode has no API
//! server to hold Service status).

use ferrolb_controller::ipam::annotations::IP_ALLOCATED_FROM_POOL;
use ferrolb_controller::reconcile::plan::Desired;
use ferrolb_speaker::adapt;
use ferrolb_speaker::decide::{Endpoint, ServiceKey, ServiceState};
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
/// (hosts serving the address themselves), every one of `nodes` counts as
/// having a ready local endpoint.
pub fn state(
    key: &ServiceKey,
    svc: &Service,
    slices: Option<&Vec<EndpointSlice>>,
    nodes: &[&str],
) -> Option<ServiceState> {
    let endpoints = match slices {
        Some(slices) => adapt::endpoints(slices),
        None => nodes.iter().map(|n| Endpoint::ready_on(n)).collect(),
    };
    adapt::service_state(key, svc, endpoints)
}
