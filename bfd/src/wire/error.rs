//! Why a received packet is discarded. Every variant is a reception rule
//! of RFC 5880 §6.8.6 (or the form of the authentication section); BFD
//! answers none of them on the wire, the packet is only dropped and counted.

use super::auth::AuthType;

/// A Control packet that must be discarded, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes than the mandatory section.
    #[error("{got} bytes received, a BFD Control packet has at least 24")]
    Truncated {
        /// Bytes received.
        got: usize,
    },
    /// Version is not 1.
    #[error("version {0} (byte 0), only version 1 is spoken")]
    Version(u8),
    /// Length below the minimum for the A bit (24, or 26 with A set).
    #[error("Length {length} (byte 3) is below the minimum {minimum}")]
    LengthTooShort {
        /// The Length field.
        length: u8,
        /// 24, or 26 with the A bit.
        minimum: u8,
    },
    /// Length beyond the received payload.
    #[error("Length {length} (byte 3) exceeds the {payload} bytes received")]
    LengthBeyondPayload {
        /// The Length field.
        length: u8,
        /// Bytes received.
        payload: usize,
    },
    /// Detect Mult is zero.
    #[error("Detect Mult is zero (byte 2)")]
    ZeroDetectMult,
    /// The Multipoint bit is set.
    #[error("the Multipoint (M) bit is set (byte 1)")]
    Multipoint,
    /// My Discriminator is zero.
    #[error("My Discriminator is zero (bytes 4-7)")]
    ZeroMyDiscriminator,
    /// Your Discriminator is zero while the sender is neither Down nor AdminDown.
    #[error(
        "Your Discriminator is zero (bytes 8-11) in state {0:?}, only Down and AdminDown may send it"
    )]
    ZeroYourDiscriminator(super::SessionState),
    /// The authentication section is shorter than its type and length bytes.
    #[error(
        "the A bit is set but {available} byte(s) follow the mandatory section at byte {offset}"
    )]
    AuthTruncated {
        /// Where the section starts.
        offset: usize,
        /// Bytes left within Length.
        available: usize,
    },
    /// Auth Len does not fit the type or the packet's Length.
    #[error("authentication {auth:?} with Auth Len {auth_len} in a {section}-byte section")]
    AuthLength {
        /// The section's type.
        auth: AuthType,
        /// Its Auth Len.
        auth_len: u8,
        /// Bytes the packet's Length leaves for it.
        section: usize,
    },
    /// A well-formed authenticated packet: FerroLB runs no authentication,
    /// and a session without it must discard packets with the A bit (§6.8.6).
    #[error("authenticated packet ({0:?}); FerroLB's sessions run without BFD authentication")]
    AuthenticationNotSupported(AuthType),
}
