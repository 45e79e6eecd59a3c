//! TCP for BGP sessions: connecting from a chosen source address with the
//! TTL the session needs, TCP MD5 signatures (RFC 2385) on outgoing and
//! listening sockets, for IPv4 and IPv6 peers.
//!
//! Everything here happens before the first BGP byte: the session driver
//! hands the resulting streams to the codec and the state machine.

mod keys;
mod md5;
mod socket;

pub use keys::{InstalledKeys, KeyError, KeyOp, ListenerFamily, NotReceived, canonical_ip};
pub use md5::{MAX_KEY_LEN, Password, PasswordError};
pub use socket::{ConnectOptions, Listener, TTL_DIRECT, TTL_MULTIHOP, connect};
