//! Community values: RFC 1997 communities, RFC 4360 extended communities,
//! RFC 8092 large communities.

use bytes::{BufMut, BytesMut};

use super::records::records;

/// An RFC 1997 community.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Community(pub u32);

impl Community {
    /// NO_EXPORT (RFC 1997).
    pub const NO_EXPORT: Community = Community(0xFFFF_FF01);
    /// NO_ADVERTISE (RFC 1997).
    pub const NO_ADVERTISE: Community = Community(0xFFFF_FF02);
    /// NO_EXPORT_SUBCONFED (RFC 1997).
    pub const NO_EXPORT_SUBCONFED: Community = Community(0xFFFF_FF03);

    /// The `asn:value` community.
    pub fn new(asn: u16, value: u16) -> Self {
        Community((u32::from(asn) << 16) | u32::from(value))
    }
}

/// An RFC 4360 extended community: 8 opaque octets (type, subtype, value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExtendedCommunity(pub [u8; 8]);

/// An RFC 8092 large community: `global:local1:local2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LargeCommunity {
    /// Global administrator (an AS number).
    pub global: u32,
    /// First local data part.
    pub local1: u32,
    /// Second local data part.
    pub local2: u32,
}

pub(crate) fn parse_communities(value: &[u8]) -> Option<Vec<Community>> {
    Some(
        records::<4>(value)?
            .map(|r| Community(u32::from_be_bytes(r)))
            .collect(),
    )
}

pub(crate) fn parse_extended(value: &[u8]) -> Option<Vec<ExtendedCommunity>> {
    Some(records::<8>(value)?.map(ExtendedCommunity).collect())
}

pub(crate) fn parse_large(value: &[u8]) -> Option<Vec<LargeCommunity>> {
    Some(
        records::<12>(value)?
            .map(|r| {
                let word = |i: usize| u32::from_be_bytes([r[i], r[i + 1], r[i + 2], r[i + 3]]);
                LargeCommunity {
                    global: word(0),
                    local1: word(4),
                    local2: word(8),
                }
            })
            .collect(),
    )
}

pub(crate) fn put_communities(buf: &mut BytesMut, values: &[Community]) {
    for c in values {
        buf.put_u32(c.0);
    }
}

pub(crate) fn put_extended(buf: &mut BytesMut, values: &[ExtendedCommunity]) {
    for c in values {
        buf.put_slice(&c.0);
    }
}

pub(crate) fn put_large(buf: &mut BytesMut, values: &[LargeCommunity]) {
    for c in values {
        buf.put_u32(c.global);
        buf.put_u32(c.local1);
        buf.put_u32(c.local2);
    }
}
