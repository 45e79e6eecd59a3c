//! FerroLB's BGP-4 speaker core.
//!
//! This crate never depends on Kubernetes: the speaker drives it. It holds
//! the message codec ([`wire`]), the sans-I/O session state machine
//! ([`fsm`], RFC 4271 §8), the per-peer Adj-RIB-Out ([`adj_rib_out`]) and
//! the sockets sessions run on ([`transport`]).

#![warn(missing_docs)]

pub mod adj_rib_out;
pub mod fsm;
pub mod peer;
pub mod transport;
pub mod wire;
