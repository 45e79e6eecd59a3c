//! The FerroLB speaker: decides what each node announces and announces it, over
//! BGP or, in Layer-2 mode, over ARP/NDP.
//!
//! [`decide`] is the pure core: from the compiled configuration, the
//! services with their assigned addresses and endpoints, and this node, it
//! computes what to announce to each peer and why. The Layer-2 stack
//! (ARP/NDP, the membership that says which speakers are reachable and
//! alive) lives in [`ferrolb_l2`], re-exported here as [`l2`].

pub mod adapt;
pub mod announce;
pub mod command;
pub mod decide;
pub mod files;
pub mod k8s;
pub mod metrics;
pub mod pass;
pub mod report;
