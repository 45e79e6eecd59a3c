//! FerroLB's BGP-4 speaker core.
//!
//! This crate never depends on Kubernetes: the speaker drives it. It will hold
//! the message codec, the sans-I/O session state machine (RFC 4271 §8), the
//! tokio session driver and the packed Adj-RIB-Out.

pub mod adj_rib_out;
pub mod fsm;
pub mod transport;
