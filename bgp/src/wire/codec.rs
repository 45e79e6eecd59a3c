//! What the decoder and encoder must know about the session: the
//! parameters negotiated in the OPEN exchange.

use super::types::Family;

/// Largest message before RFC 8654 is negotiated (and always for OPEN and
/// KEEPALIVE).
pub const MAX_MESSAGE_LEN: usize = 4096;
/// Largest message with RFC 8654 extended messages.
pub const MAX_EXTENDED_MESSAGE_LEN: usize = 65535;

/// Per-family switch: whether NLRI of a family carries RFC 7911 path
/// identifiers in the direction this codec is used for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AddPath {
    /// IPv4 unicast NLRI carries path identifiers.
    pub ipv4_unicast: bool,
    /// IPv6 unicast NLRI carries path identifiers.
    pub ipv6_unicast: bool,
}

impl AddPath {
    /// Whether `family` carries path identifiers.
    pub fn get(self, family: Family) -> bool {
        match family {
            Family::Ipv4Unicast => self.ipv4_unicast,
            Family::Ipv6Unicast => self.ipv6_unicast,
        }
    }

    /// Turns path identifiers for `family` on or off.
    pub fn set(&mut self, family: Family, on: bool) {
        match family {
            Family::Ipv4Unicast => self.ipv4_unicast = on,
            Family::Ipv6Unicast => self.ipv6_unicast = on,
        }
    }
}

/// Session parameters the wire format depends on. The default is a fresh
/// session before any OPEN: 2-octet AS, no add-path, 4096-byte messages.
///
/// One value describes one direction: decode received messages with the
/// receive-side value and encode with the send-side one, since add-path may
/// be negotiated in one direction only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Codec {
    /// Both sides advertised the 4-octet AS capability (RFC 6793): AS_PATH
    /// and AGGREGATOR carry 4-octet AS numbers.
    pub four_octet_as: bool,
    /// Families whose NLRI carries path identifiers (RFC 7911).
    pub add_path: AddPath,
    /// Both sides advertised extended messages (RFC 8654).
    pub extended_message: bool,
}

impl Codec {
    /// The largest UPDATE, NOTIFICATION or ROUTE-REFRESH this session allows.
    pub fn max_message_len(&self) -> usize {
        if self.extended_message {
            MAX_EXTENDED_MESSAGE_LEN
        } else {
            MAX_MESSAGE_LEN
        }
    }
}
