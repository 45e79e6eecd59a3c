//! NOTIFICATION contents the FSM decides to send (RFC 4271 §4.5, §6).

use super::state::State;

/// Error codes (RFC 4271 §4.5).
pub mod code {
    /// Message Header Error.
    pub const MESSAGE_HEADER: u8 = 1;
    /// OPEN Message Error.
    pub const OPEN_MESSAGE: u8 = 2;
    /// UPDATE Message Error.
    pub const UPDATE_MESSAGE: u8 = 3;
    /// Hold Timer Expired.
    pub const HOLD_TIMER_EXPIRED: u8 = 4;
    /// Finite State Machine Error.
    pub const FSM: u8 = 5;
    /// Cease.
    pub const CEASE: u8 = 6;
}

/// OPEN Message Error subcodes (RFC 4271 §6.2, RFC 5492).
pub mod open_subcode {
    /// Unsupported Version Number.
    pub const UNSUPPORTED_VERSION: u8 = 1;
    /// Bad Peer AS.
    pub const BAD_PEER_AS: u8 = 2;
    /// Bad BGP Identifier.
    pub const BAD_BGP_IDENTIFIER: u8 = 3;
    /// Unacceptable Hold Time.
    pub const UNACCEPTABLE_HOLD_TIME: u8 = 6;
    /// Unsupported Capability (RFC 5492).
    pub const UNSUPPORTED_CAPABILITY: u8 = 7;
}

/// Cease subcodes (RFC 4486, RFC 9003).
pub mod cease_subcode {
    /// Administrative Shutdown.
    pub const ADMINISTRATIVE_SHUTDOWN: u8 = 2;
    /// Administrative Reset.
    pub const ADMINISTRATIVE_RESET: u8 = 4;
    /// Connection Collision Resolution.
    pub const CONNECTION_COLLISION_RESOLUTION: u8 = 7;
    /// BFD Down (RFC 9384).
    pub const BFD_DOWN: u8 = 10;
}

/// RFC 9003 limits the shutdown communication to 255 octets of UTF-8.
const SHUTDOWN_COMMUNICATION_MAX: usize = 255;

/// A NOTIFICATION to send: the driver encodes it and then closes the connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Notification {
    /// Error code.
    pub code: u8,
    /// Error subcode.
    pub subcode: u8,
    /// Data field, already laid out as it goes on the wire.
    pub data: Vec<u8>,
}

impl Notification {
    /// A NOTIFICATION without data.
    pub fn new(code: u8, subcode: u8) -> Self {
        Self {
            code,
            subcode,
            data: Vec::new(),
        }
    }

    /// Hold Timer Expired (code 4).
    pub fn hold_timer_expired() -> Self {
        Self::new(code::HOLD_TIMER_EXPIRED, 0)
    }

    /// FSM Error with the RFC 6608 subcode of the state the unexpected
    /// message arrived in (1 OpenSent, 2 OpenConfirm, 3 Established, else 0).
    pub fn fsm_error(state: State) -> Self {
        let subcode = match state {
            State::OpenSent => 1,
            State::OpenConfirm => 2,
            State::Established => 3,
            _ => 0,
        };
        Self::new(code::FSM, subcode)
    }

    /// Cease / Connection Collision Resolution (RFC 4271 §6.8).
    pub fn connection_collision() -> Self {
        Self::new(code::CEASE, cease_subcode::CONNECTION_COLLISION_RESOLUTION)
    }

    /// Cease / BFD Down (RFC 9384): the forwarding path failed.
    pub fn bfd_down() -> Self {
        Self::new(code::CEASE, cease_subcode::BFD_DOWN)
    }

    /// Cease / Administrative Shutdown with the RFC 9003 shutdown communication.
    pub fn administrative_shutdown(reason: &str) -> Self {
        Self::with_shutdown_communication(cease_subcode::ADMINISTRATIVE_SHUTDOWN, reason)
    }

    /// Cease / Administrative Reset with the RFC 9003 shutdown communication.
    pub fn administrative_reset(reason: &str) -> Self {
        Self::with_shutdown_communication(cease_subcode::ADMINISTRATIVE_RESET, reason)
    }

    /// A Cease whose data is an RFC 9003 shutdown communication: a length
    /// octet then UTF-8, cut to 255 octets on a character boundary. An empty
    /// reason sends no data at all, which older peers (RFC 4486 only) also
    /// understand.
    fn with_shutdown_communication(subcode: u8, reason: &str) -> Self {
        let mut n = Self::new(code::CEASE, subcode);
        if reason.is_empty() {
            return n;
        }
        let mut end = reason.len().min(SHUTDOWN_COMMUNICATION_MAX);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        let text = &reason.as_bytes()[..end];
        n.data.reserve(text.len() + 1);
        // `end` is at most 255, so it fits the length octet.
        n.data.push(u8::try_from(end).unwrap_or(u8::MAX));
        n.data.extend_from_slice(text);
        n
    }
}

impl std::fmt::Display for Notification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NOTIFICATION {}/{}", self.code, self.subcode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shutdown_communication_is_length_prefixed_utf8() {
        let n = Notification::administrative_shutdown("maintenance");
        assert_eq!((n.code, n.subcode), (6, 2));
        assert_eq!(n.data[0], 11);
        assert_eq!(&n.data[1..], b"maintenance");
        assert!(Notification::administrative_shutdown("").data.is_empty());
        let reset = Notification::administrative_reset("new hold time");
        assert_eq!((reset.code, reset.subcode, reset.data[0]), (6, 4, 13));
    }

    #[test]
    fn shutdown_communication_is_cut_on_a_char_boundary() {
        // 'é' is two octets: 200 of them are 400 octets, cut to 254 (not 255).
        let n = Notification::administrative_shutdown(&"é".repeat(200));
        assert_eq!(n.data[0], 254);
        assert_eq!(n.data.len(), 255);
        assert!(std::str::from_utf8(&n.data[1..]).is_ok());
        let ascii = Notification::administrative_shutdown(&"a".repeat(300));
        assert_eq!(ascii.data[0], 255);
        assert_eq!(ascii.data.len(), 256);
    }

    #[test]
    fn fsm_error_subcode_names_the_state() {
        assert_eq!(Notification::fsm_error(State::OpenSent).subcode, 1);
        assert_eq!(Notification::fsm_error(State::OpenConfirm).subcode, 2);
        assert_eq!(Notification::fsm_error(State::Established).subcode, 3);
    }
}
