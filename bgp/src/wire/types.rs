//! Small value types shared by the messages: AS numbers, hold time, BGP
//! identifier, address families.

use std::fmt;
use std::net::Ipv4Addr;

/// An autonomous system number (4 octets, RFC 6793).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Asn(pub u32);

impl Asn {
    /// AS_TRANS (RFC 6793): stands in for a 4-octet AS in 2-octet fields.
    pub const TRANS: Asn = Asn(23456);

    /// The value for a 2-octet field: itself if it fits, else AS_TRANS.
    pub fn to_u16_or_trans(self) -> u16 {
        u16::try_from(self.0).unwrap_or(Self::TRANS.0 as u16)
    }
}

impl fmt::Display for Asn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AS{}", self.0)
    }
}

/// A hold time in seconds: 0 (no keepalives) or at least 3 (RFC 4271 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HoldTime(u16);

impl HoldTime {
    /// RFC 4271's suggested default, 90 seconds.
    pub const DEFAULT: HoldTime = HoldTime(90);
    /// Hold timer disabled.
    pub const NONE: HoldTime = HoldTime(0);

    /// `None` for 1 and 2 seconds, which RFC 4271 forbids.
    pub fn new(seconds: u16) -> Option<Self> {
        (seconds == 0 || seconds >= 3).then_some(HoldTime(seconds))
    }

    /// The hold time in seconds.
    pub fn seconds(self) -> u16 {
        self.0
    }
}

/// A BGP identifier: a non-zero 32-bit value (RFC 6286), written as an IPv4
/// address by convention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BgpId(u32);

impl BgpId {
    /// `None` for 0, which RFC 6286 forbids.
    pub fn new(id: u32) -> Option<Self> {
        (id != 0).then_some(BgpId(id))
    }

    /// The identifier as a number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl From<BgpId> for Ipv4Addr {
    fn from(id: BgpId) -> Self {
        Ipv4Addr::from(id.0)
    }
}

impl fmt::Display for BgpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Ipv4Addr::from(self.0).fmt(f)
    }
}

/// Address Family Identifier (IANA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Afi(pub u16);

impl Afi {
    /// IPv4.
    pub const IPV4: Afi = Afi(1);
    /// IPv6.
    pub const IPV6: Afi = Afi(2);
}

/// Subsequent Address Family Identifier (IANA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Safi(pub u8);

impl Safi {
    /// Unicast.
    pub const UNICAST: Safi = Safi(1);
}

/// The address families whose NLRI this codec understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// IPv4 unicast (AFI 1, SAFI 1).
    Ipv4Unicast,
    /// IPv6 unicast (AFI 2, SAFI 1).
    Ipv6Unicast,
}

impl Family {
    /// The AFI/SAFI pair of this family.
    pub fn afi_safi(self) -> (Afi, Safi) {
        match self {
            Family::Ipv4Unicast => (Afi::IPV4, Safi::UNICAST),
            Family::Ipv6Unicast => (Afi::IPV6, Safi::UNICAST),
        }
    }

    /// The family of an AFI/SAFI pair, if we understand it.
    pub fn from_afi_safi(afi: Afi, safi: Safi) -> Option<Self> {
        match (afi, safi) {
            (Afi::IPV4, Safi::UNICAST) => Some(Family::Ipv4Unicast),
            (Afi::IPV6, Safi::UNICAST) => Some(Family::Ipv6Unicast),
            _ => None,
        }
    }
}

/// The ORIGIN attribute's value (RFC 4271 §5.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    /// Learned from an interior protocol.
    Igp = 0,
    /// Learned by EGP.
    Egp = 1,
    /// Learned some other way (e.g. redistributed).
    Incomplete = 2,
}

impl Origin {
    /// The origin of a wire value, if defined.
    pub fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(Origin::Igp),
            1 => Some(Origin::Egp),
            2 => Some(Origin::Incomplete),
            _ => None,
        }
    }
}
