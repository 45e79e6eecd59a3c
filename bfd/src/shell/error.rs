//! What the shell cannot do, with the address it tried.

use std::net::SocketAddr;

use super::device::Device;

/// A socket the shell could not set up.
#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    /// The receive port is taken (another BFD daemon?) or not permitted.
    #[error("cannot receive BFD packets on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The kernel's reason.
        #[source]
        source: std::io::Error,
    },
    /// No send socket could be made for a session.
    #[error("cannot open a BFD send socket from {addr}: {source}")]
    Send {
        /// The local address (port 0: any of 49152–65535).
        addr: SocketAddr,
        /// The kernel's reason.
        #[source]
        source: std::io::Error,
    },
    /// A bound session's device is missing (or binding is not permitted).
    #[error("cannot bind BFD sockets to device {device}: {source}")]
    Device {
        /// The VRF device or interface.
        device: Device,
        /// The kernel's reason.
        #[source]
        source: std::io::Error,
    },
    /// The shell's task has ended.
    #[error("the BFD task has stopped")]
    Stopped,
}
