//! FerroLB's BGP-4 speaker core.
//!
//! This crate never depends on Kubernetes: the speaker drives it. It holds
//! the message codec ([`wire`]); the sans-I/O session state machine (RFC 4271
//! §8), the tokio session driver and the packed Adj-RIB-Out come next.

#![warn(missing_docs)]

pub mod wire;
