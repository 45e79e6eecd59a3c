//! Adapters from the API's shapes to the allocator's: compiled pools into a
//! [`PoolSet`](crate::ipam::PoolSet), Kubernetes Services into
//! [`ServiceRequest`](crate::ipam::ServiceRequest)s. What a Service records
//! (its addresses, its pool, its class) is read by `ferrolb_crds::service`,
//! the one reader the controller and the speaker share.
//! Pure functions; the reconciler calls them on every pass.

pub mod pools;
pub mod service;

pub use pools::{PoolsError, pool_set};
pub use service::ServiceData;
