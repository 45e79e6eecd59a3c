//! The BFD Control packet (RFC 5880 §4.1): encoding, and decoding with
//! every packet-level reception check of §6.8.6.
//!
//! The checks that need a session (is the Your Discriminator ours, is
//! authentication in use on it) belong to the demultiplexer and the state
//! machine; FerroLB runs no authentication, so a packet with the A bit set
//! is parsed far enough to name its type and then refused.

mod auth;
mod error;
mod packet;

pub use auth::AuthType;
pub use error::DecodeError;
pub use packet::{ControlPacket, Diagnostic, MANDATORY_LEN, SessionState, VERSION, decode};
