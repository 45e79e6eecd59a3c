//! FerroLB's BFD: Bidirectional Forwarding Detection (RFC 5880) over UDP,
//! single-hop (RFC 5881) and multihop (RFC 5883), in asynchronous mode.
//!
//! Like the BGP core, it is split in layers: the control packet codec
//! ([`wire`]), a pure session state machine with time as an input
//! ([`fsm`]), and a thin tokio shell that owns the sockets ([`shell`]).
//! This crate never depends on Kubernetes or on BGP: the speaker ties a
//! BFD session to a BGP session.

#![warn(missing_docs)]

pub mod fsm;
pub mod shell;
pub mod wire;
