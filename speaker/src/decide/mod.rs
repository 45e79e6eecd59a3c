//! What this node announces, decided purely from its inputs (MetalLB's
//! semantics), with a reason for every address that is or is not announced.
//!
//! The same functions run in the Kubernetes speaker and in standalone mode,
//! and every speaker of a cluster computes its own share from the same
//! inputs: [`bgp_plan`] the routes for its BGP peers, [`l2_plan`] the
//! addresses it answers ARP/NDP for (one owner per address, chosen by
//! [`owner`], on interfaces chosen by [`interfaces`], while its [`fence`]
//! allows).

mod bgp;
pub use ferrolb_crds::compact;
mod endpoints;
pub mod incremental;
mod input;
pub mod interfaces;
mod l2;
pub mod owner;
pub mod shared;
mod verdict;

pub use bgp::{BgpPlan, bgp_plan};
pub use endpoints::{Endpoint, Endpoints, NodeName, TrafficPolicy};
pub use fence::{Fence, FenceState};
/// The quorum fence lives beside the membership that feeds it, in the
/// kube-free Layer-2 crate; the decision reads its state.
pub use ferrolb_l2::fence;
pub use incremental::{BgpBook, Changed, Delta, L2Book, Prefixes, ServiceBook};
pub use input::{EXCLUDE_LABEL, NodeState, ServiceKey, ServiceState, no_labels};
pub use interfaces::{InterfaceRules, Link};
pub use l2::{ClusterView, L2Plan, L2Status, LocalNode, l2_plan};
pub use verdict::{Explanation, L2Verdict, Names, Reason, Verdict};
