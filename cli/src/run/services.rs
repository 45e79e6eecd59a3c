//! The controller's decisions written back onto Services (in memory:
//! standalone mode has no API server to hold Service status).

use ferrolb_controller::reconcile::plan::Desired;
use ferrolb_crds::service::IP_ALLOCATED_FROM_POOL;
use k8s_openapi::api::core::v1::{LoadBalancerIngress, LoadBalancerStatus, Service, ServiceStatus};

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
