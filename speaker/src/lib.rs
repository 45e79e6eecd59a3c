//! The FerroLB speaker: decides what each node announces and announces it, over
//! BGP or, in Layer-2 mode, over ARP/NDP.
//!
//! [`decide`] is the pure core: from the compiled configuration, the
//! services with their assigned addresses and endpoints, and this node, it
//! computes what to announce to each peer and why. [`membership`] says which
//! speakers are reachable and alive, for layer-2 mode's fence and owners.

pub mod adapt;
pub mod announce;
pub mod command;
pub mod decide;
pub mod files;
pub mod k8s;
pub mod l2;
pub mod membership;
pub mod metrics;
pub mod pass;
pub mod report;
