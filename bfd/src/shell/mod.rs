//! The tokio shell: UDP sockets, the clock, and one task that runs every
//! session's state machine.
//!
//! Received packets all arrive on the well-known ports (3784 single-hop,
//! RFC 5881; 4784 multihop, RFC 5883), one socket per port and family,
//! and are demultiplexed by Your Discriminator, or by source address while
//! the peer does not know ours yet (§6.8.6). Each session sends from a
//! socket of its own with a source port in 49152–65535 (RFC 5881 §4),
//! TTL 255 and DSCP CS6. A single-hop packet whose TTL is not 255 was forwarded by a
//! router and is dropped (RFC 5881 §5); a multihop packet must arrive with
//! at least the profile's minimum TTL.
//!
//! A session may be bound to a device (a VRF's, or a link-local peer's
//! interface): its send socket is, and its packets are read from a
//! receiver bound to the same device, so that they take that device's
//! routes and a packet from the same address elsewhere is not its peer's.

mod device;
mod driver;
mod error;
mod socket;
mod status;

pub use device::Device;
pub use driver::{Bfd, SessionHandle, SessionKey, SessionSpec};
pub use error::ShellError;
pub use status::{Counters, SessionStatus};

/// The single-hop destination port (RFC 5881 §4).
pub const SINGLE_HOP_PORT: u16 = 3784;
/// The multihop destination port (RFC 5883 §5).
pub const MULTIHOP_PORT: u16 = 4784;
