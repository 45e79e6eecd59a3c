//! NOTIFICATION (RFC 4271 §4.5) and the RFC 9003 shutdown communication.

use bytes::{BufMut, Bytes, BytesMut};

use super::capability::Capability;
use super::error::EncodeError;

/// NOTIFICATION error codes (RFC 4271 §4.5, RFC 7313).
pub mod code {
    /// Message Header Error.
    pub const HEADER: u8 = 1;
    /// OPEN Message Error.
    pub const OPEN: u8 = 2;
    /// UPDATE Message Error.
    pub const UPDATE: u8 = 3;
    /// Hold Timer Expired.
    pub const HOLD_TIMER_EXPIRED: u8 = 4;
    /// Finite State Machine Error.
    pub const FSM: u8 = 5;
    /// Cease.
    pub const CEASE: u8 = 6;
    /// ROUTE-REFRESH Message Error (RFC 7313).
    pub const ROUTE_REFRESH: u8 = 7;
}

/// NOTIFICATION error subcodes, per error code.
pub mod subcode {
    /// "Unspecific" for any code.
    pub const UNSPECIFIC: u8 = 0;

    /// Message Header Error subcodes.
    pub mod header {
        /// Connection Not Synchronized.
        pub const NOT_SYNCHRONIZED: u8 = 1;
        /// Bad Message Length.
        pub const BAD_LENGTH: u8 = 2;
        /// Bad Message Type.
        pub const BAD_TYPE: u8 = 3;
    }

    /// OPEN Message Error subcodes.
    pub mod open {
        /// Unsupported Version Number.
        pub const UNSUPPORTED_VERSION: u8 = 1;
        /// Bad Peer AS.
        pub const BAD_PEER_AS: u8 = 2;
        /// Bad BGP Identifier.
        pub const BAD_BGP_ID: u8 = 3;
        /// Unsupported Optional Parameter.
        pub const UNSUPPORTED_OPTIONAL_PARAMETER: u8 = 4;
        /// Unacceptable Hold Time.
        pub const UNACCEPTABLE_HOLD_TIME: u8 = 6;
        /// Unsupported Capability (RFC 5492).
        pub const UNSUPPORTED_CAPABILITY: u8 = 7;
    }

    /// UPDATE Message Error subcodes.
    pub mod update {
        /// Malformed Attribute List.
        pub const MALFORMED_ATTRIBUTE_LIST: u8 = 1;
        /// Unrecognized Well-known Attribute.
        pub const UNRECOGNIZED_WELL_KNOWN: u8 = 2;
        /// Missing Well-known Attribute.
        pub const MISSING_WELL_KNOWN: u8 = 3;
        /// Attribute Flags Error.
        pub const ATTRIBUTE_FLAGS: u8 = 4;
        /// Attribute Length Error.
        pub const ATTRIBUTE_LENGTH: u8 = 5;
        /// Invalid ORIGIN Attribute.
        pub const INVALID_ORIGIN: u8 = 6;
        /// Invalid NEXT_HOP Attribute.
        pub const INVALID_NEXT_HOP: u8 = 8;
        /// Optional Attribute Error.
        pub const OPTIONAL_ATTRIBUTE: u8 = 9;
        /// Invalid Network Field.
        pub const INVALID_NETWORK_FIELD: u8 = 10;
        /// Malformed AS_PATH.
        pub const MALFORMED_AS_PATH: u8 = 11;
    }

    /// Cease subcodes (RFC 4486, RFC 8538).
    pub mod cease {
        /// Maximum Number of Prefixes Reached.
        pub const MAX_PREFIXES: u8 = 1;
        /// Administrative Shutdown.
        pub const ADMIN_SHUTDOWN: u8 = 2;
        /// Peer De-configured.
        pub const PEER_DECONFIGURED: u8 = 3;
        /// Administrative Reset.
        pub const ADMIN_RESET: u8 = 4;
        /// Connection Rejected.
        pub const CONNECTION_REJECTED: u8 = 5;
        /// Other Configuration Change.
        pub const OTHER_CONFIG_CHANGE: u8 = 6;
        /// Connection Collision Resolution.
        pub const CONNECTION_COLLISION: u8 = 7;
        /// Out of Resources.
        pub const OUT_OF_RESOURCES: u8 = 8;
        /// Hard Reset (RFC 8538).
        pub const HARD_RESET: u8 = 9;
    }

    /// ROUTE-REFRESH Message Error subcodes (RFC 7313).
    pub mod route_refresh {
        /// Invalid Message Length.
        pub const INVALID_LENGTH: u8 = 1;
    }
}

/// Longest RFC 9003 shutdown communication, in bytes of UTF-8.
pub const MAX_SHUTDOWN_COMMUNICATION: usize = 255;

/// A NOTIFICATION message: error code, subcode and data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Notification {
    /// Error code ([`code`]).
    pub code: u8,
    /// Error subcode ([`subcode`]).
    pub subcode: u8,
    /// Data whose meaning depends on code and subcode.
    pub data: Bytes,
}

impl Notification {
    /// A NOTIFICATION with the given fields.
    pub fn new(code: u8, subcode: u8, data: Bytes) -> Self {
        Notification {
            code,
            subcode,
            data,
        }
    }

    /// Cease / Administrative Shutdown carrying an RFC 9003 shutdown
    /// communication. A message longer than 255 bytes is cut at the last
    /// character boundary that fits, since a shorter explanation beats none.
    pub fn admin_shutdown(message: &str) -> Self {
        Self::shutdown_communication(subcode::cease::ADMIN_SHUTDOWN, message)
    }

    /// Cease / Administrative Reset carrying an RFC 9003 shutdown
    /// communication (cut like [`Notification::admin_shutdown`]).
    pub fn admin_reset(message: &str) -> Self {
        Self::shutdown_communication(subcode::cease::ADMIN_RESET, message)
    }

    /// OPEN Message Error / Unsupported Capability (RFC 5492 §3) listing
    /// the capabilities the peer lacks, encoded as in an OPEN.
    pub fn unsupported_capability(missing: &[Capability]) -> Result<Self, EncodeError> {
        let mut data = BytesMut::new();
        for cap in missing {
            cap.encode(&mut data)?;
        }
        Ok(Notification::new(
            code::OPEN,
            subcode::open::UNSUPPORTED_CAPABILITY,
            data.freeze(),
        ))
    }

    fn shutdown_communication(subcode: u8, message: &str) -> Self {
        let mut end = message.len().min(MAX_SHUTDOWN_COMMUNICATION);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let text = &message.as_bytes()[..end];
        let mut data = BytesMut::with_capacity(1 + text.len());
        // `end` ≤ 255 by construction.
        data.put_u8(end as u8);
        data.put_slice(text);
        Notification::new(code::CEASE, subcode, data.freeze())
    }

    /// The RFC 9003 shutdown communication of a Cease / Administrative
    /// Shutdown or Reset: `None` for other notifications or an empty
    /// communication, `Some(Err(..))` for a length or UTF-8 error.
    pub fn shutdown_message(&self) -> Option<Result<&str, ShutdownCommunicationError>> {
        let is_shutdown = self.code == code::CEASE
            && matches!(
                self.subcode,
                subcode::cease::ADMIN_SHUTDOWN | subcode::cease::ADMIN_RESET
            );
        let (&len, rest) = self.data.split_first().filter(|_| is_shutdown)?;
        if len == 0 {
            return None;
        }
        Some(match rest.get(..usize::from(len)) {
            None => Err(ShutdownCommunicationError::Length),
            Some(text) => std::str::from_utf8(text).map_err(|_| ShutdownCommunicationError::Utf8),
        })
    }

    /// The body after the header: code, subcode, data.
    pub(crate) fn encode_body(&self, buf: &mut BytesMut) {
        buf.put_u8(self.code);
        buf.put_u8(self.subcode);
        buf.put_slice(&self.data);
    }

    /// Parses a NOTIFICATION body (the header has already checked that it
    /// is at least two bytes long).
    pub(crate) fn decode_body(body: &[u8]) -> Notification {
        match body {
            [code, subcode, data @ ..] => {
                Notification::new(*code, *subcode, Bytes::copy_from_slice(data))
            }
            // Unreachable after the header length check; an empty
            // notification is still better than a panic.
            _ => Notification::new(0, 0, Bytes::new()),
        }
    }
}

/// Why an RFC 9003 shutdown communication could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ShutdownCommunicationError {
    /// The length byte points past the data.
    #[error("shutdown communication length exceeds the data")]
    Length,
    /// The text is not UTF-8.
    #[error("shutdown communication is not UTF-8")]
    Utf8,
}
