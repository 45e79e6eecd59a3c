//! The FerroLB controller: IP address management for LoadBalancer Services and
//! the Kubernetes reconciler around it.

pub mod adapt;
pub mod ipam;
