//! The FerroLB controller: IP address management for LoadBalancer Services and
//! the Kubernetes reconciler around it.

pub mod adapt;
pub mod command;
pub mod ipam;
pub mod leader;
pub mod metrics;
pub mod reconcile;
pub mod replica;
