//! What this node announces, decided purely from its inputs (MetalLB's
//! semantics), with a reason for every address that is or is not announced.
//!
//! The same function runs in the Kubernetes speaker and in standalone mode,
//! and every speaker of a cluster computes its own share from the same
//! inputs.

mod bgp;
mod endpoints;
mod input;
mod verdict;

pub use bgp::{BgpPlan, RouteAttributes, bgp_plan};
pub use endpoints::{Endpoint, TrafficPolicy};
pub use input::{EXCLUDE_LABEL, NodeState, ServiceKey, ServiceState};
pub use verdict::{Explanation, Reason, Verdict};
