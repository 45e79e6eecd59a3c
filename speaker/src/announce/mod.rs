//! Announcers: they make the plan of [`crate::decide`] true on the wire, as
//! diffs against what they announced before.

mod bfd;
mod bgp;
pub mod excludel2;
mod graceful_restart;
mod l2;
mod l2_args;
mod l2_runtime;
mod link_peer;
mod link_peer_finder;
mod links;
mod peer_config;

pub use bgp::{BgpAnnouncer, BgpChange};
pub use graceful_restart::{DEFAULT_STATE_FILE, GracefulRestartArgs, GracefulRestartSettings};
pub use l2::{InterfaceEvent, L2Announcer, L2Options};
pub use l2_args::{L2Args, L2ArgsError, L2Settings};
pub use l2_runtime::{L2Error, L2Runtime, L2Setup, address_book, memberlist_key};
pub use link_peer::LinkPeer;
pub use peer_config::{PeerConfigError, peer_config};
