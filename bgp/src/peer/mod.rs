//! The session driver: one tokio task per peer runs the state machine
//! ([`crate::fsm`]) over real TCP connections ([`crate::transport`]),
//! speaking the wire codec ([`crate::wire`]), and keeps the peer's
//! Adj-RIB-Out ([`crate::adj_rib_out`]) in step with the routes it is given.
//!
//! The speaker only announces. UPDATEs from the peer are decoded, validated
//! and counted per address family, never stored, so memory stays flat however
//! many routes a router sends back.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::collections::BTreeMap;
//! use ferrolb_bgp::fsm::PeerAs;
//! use ferrolb_bgp::peer::{Peer, PeerConfig, RouteAttributes};
//!
//! use ferrolb_bgp::wire::BgpId;
//! let router_id = BgpId::new(u32::from(std::net::Ipv4Addr::new(10, 0, 0, 11))).ok_or("zero id")?;
//! let config = PeerConfig::new("tor-a", "10.0.0.1".parse()?, 64512, router_id, PeerAs::Exact(64500));
//! let peer = Peer::spawn(config);
//! peer.set_routes(BTreeMap::from([("198.51.100.10/32".parse()?, RouteAttributes::default())])).await;
//! // ... later, on SIGTERM:
//! peer.shutdown("node draining").await;
//! # Ok(()) }
//! ```

mod acceptor;
mod attributes;
mod config;
mod connection;
mod driver;
mod outbound;
mod status;
mod translate;

pub use acceptor::{Acceptor, RegisterError};
pub use attributes::RouteAttributes;
pub use config::{GracefulRestartConfig, PeerConfig};
pub use driver::{BfdDownTrigger, Peer};
pub use outbound::Outbound;
pub use status::PeerStatus;
