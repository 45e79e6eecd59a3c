//! The FerroLB speaker: decides what each node announces and announces it, over
//! BGP or, in Layer-2 mode, over ARP/NDP.
//!
//! [`decide`] is the pure core: from the compiled configuration, the
//! services with their assigned addresses and endpoints, and this node, it
//! computes what to announce to each peer and why. [`announce`] makes it
//! true over the BGP stack ([`ferrolb_bgp`]) and the Layer-2 stack
//! ([`ferrolb_l2`]: ARP/NDP, and the membership that says which speakers
//! are reachable and alive).

pub mod adapt;
pub mod announce;
pub mod command;
pub mod decide;
pub mod files;
pub mod k8s;
pub mod memory;
pub mod metrics;
pub mod pass;
pub mod report;
