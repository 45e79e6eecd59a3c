//! IP address management: which LoadBalancer addresses each Service gets,
//! following MetalLB's rules. Pure: pools and Service requests in,
//! assignments and reasons out; no Kubernetes client, no I/O.
//!
//! - [`range`]: families, address ranges, `avoidBuggyIPs` arithmetic;
//! - [`pool`]: pools and `serviceAllocation`, validated into a [`PoolSet`];
//! - [`request`]: what the allocator needs to know about a Service;
//! - [`annotations`]: Service annotations and spec fields into a request;
//! - [`sharing`]: the `allow-shared-ip` rules;
//! - [`Allocator`]: the books and the policy (keep, move, orphan);
//! - [`stats`]: pool usage.
//!
//! See `docs/ipam.md` for the rules and where FerroLB departs from MetalLB.

#![warn(missing_docs)]

mod allocator;
pub mod annotations;
mod assignment;
mod error;
mod interval;
pub mod pool;
pub mod range;
pub mod request;
mod select;
pub mod sharing;
pub mod stats;

pub use allocator::Allocator;
pub use annotations::{
    AnnotationError, AnnotationWarning, ParsedService, ServiceFields, backend_key,
};
pub use assignment::{
    Assignment, Change, MoveReason, OrphanReason, Placement, PoolChange, RebuildRejection,
};
pub use error::AllocationError;
pub use pool::{NotAllowed, Pool, PoolError, PoolSet, ServiceAllocation};
pub use range::{AddressRange, Family, RangeError};
pub use request::{
    DualPolicy, IpFamilies, Port, Protocol, ServiceKey, ServiceRequest, TrafficPolicy, is_ours,
};
pub use sharing::SharingConflict;
pub use stats::{FamilyStats, PoolStats};
