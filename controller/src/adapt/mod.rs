//! Adapters from the API's shapes to the allocator's: compiled pools into a
//! [`PoolSet`](crate::ipam::PoolSet), Kubernetes Services into
//! [`ServiceRequest`](crate::ipam::ServiceRequest)s and recorded addresses.
//! Pure functions; the reconciler calls them on every pass.

pub mod pools;
pub mod service;

pub use pools::{PoolsError, pool_set};
pub use service::{LbView, ServiceData, lb_view, recorded_addresses, service_key};
