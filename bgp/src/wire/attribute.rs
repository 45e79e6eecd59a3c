//! Path attributes (RFC 4271 §4.3, §5): their values, flags and encoding.

use std::net::Ipv4Addr;

use bytes::{BufMut, Bytes, BytesMut};

use super::as_path::AsPath;
use super::codec::Codec;
use super::community::{
    Community, ExtendedCommunity, LargeCommunity, parse_communities, parse_extended, parse_large,
    put_communities, put_extended, put_large,
};
use super::error::EncodeError;
use super::mp::{MpReach, MpUnreach};
use super::types::{Asn, Origin};

/// Attribute flag bits.
pub mod flags {
    /// Optional (else well-known).
    pub const OPTIONAL: u8 = 0x80;
    /// Transitive.
    pub const TRANSITIVE: u8 = 0x40;
    /// Partial: an optional transitive attribute passed on by a speaker that
    /// did not recognise it.
    pub const PARTIAL: u8 = 0x20;
    /// The length field is two octets.
    pub const EXTENDED_LENGTH: u8 = 0x10;
}

/// Attribute type codes (IANA).
pub mod type_code {
    /// ORIGIN (RFC 4271).
    pub const ORIGIN: u8 = 1;
    /// AS_PATH (RFC 4271).
    pub const AS_PATH: u8 = 2;
    /// NEXT_HOP (RFC 4271).
    pub const NEXT_HOP: u8 = 3;
    /// MULTI_EXIT_DISC (RFC 4271).
    pub const MED: u8 = 4;
    /// LOCAL_PREF (RFC 4271).
    pub const LOCAL_PREF: u8 = 5;
    /// ATOMIC_AGGREGATE (RFC 4271).
    pub const ATOMIC_AGGREGATE: u8 = 6;
    /// AGGREGATOR (RFC 4271, RFC 6793).
    pub const AGGREGATOR: u8 = 7;
    /// COMMUNITIES (RFC 1997).
    pub const COMMUNITIES: u8 = 8;
    /// MP_REACH_NLRI (RFC 4760).
    pub const MP_REACH_NLRI: u8 = 14;
    /// MP_UNREACH_NLRI (RFC 4760).
    pub const MP_UNREACH_NLRI: u8 = 15;
    /// EXTENDED COMMUNITIES (RFC 4360).
    pub const EXTENDED_COMMUNITIES: u8 = 16;
    /// AS4_PATH (RFC 6793).
    pub const AS4_PATH: u8 = 17;
    /// AS4_AGGREGATOR (RFC 6793).
    pub const AS4_AGGREGATOR: u8 = 18;
    /// LARGE_COMMUNITY (RFC 8092).
    pub const LARGE_COMMUNITIES: u8 = 32;
}

/// AGGREGATOR / AS4_AGGREGATOR value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Aggregator {
    /// AS of the aggregating speaker.
    pub asn: Asn,
    /// Its BGP identifier / address.
    pub address: Ipv4Addr,
}

/// An attribute this codec does not interpret, kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawAttribute {
    /// Flags as received (optional, transitive, partial; the length bit is
    /// recomputed on encode).
    pub flags: u8,
    /// Type code.
    pub type_code: u8,
    /// Value.
    pub value: Bytes,
}

/// One path attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathAttribute {
    /// ORIGIN.
    Origin(Origin),
    /// AS_PATH; AS width follows the session.
    AsPath(AsPath),
    /// NEXT_HOP for classic IPv4 NLRI.
    NextHop(Ipv4Addr),
    /// MULTI_EXIT_DISC.
    Med(u32),
    /// LOCAL_PREF.
    LocalPref(u32),
    /// ATOMIC_AGGREGATE.
    AtomicAggregate,
    /// AGGREGATOR; AS width follows the session.
    Aggregator(Aggregator),
    /// COMMUNITIES.
    Communities(Vec<Community>),
    /// MP_REACH_NLRI.
    MpReach(MpReach),
    /// MP_UNREACH_NLRI.
    MpUnreach(MpUnreach),
    /// EXTENDED COMMUNITIES.
    ExtendedCommunities(Vec<ExtendedCommunity>),
    /// AS4_PATH (only between 2-octet and 4-octet speakers).
    As4Path(AsPath),
    /// AS4_AGGREGATOR.
    As4Aggregator(Aggregator),
    /// LARGE_COMMUNITY.
    LargeCommunities(Vec<LargeCommunity>),
    /// Anything else (always optional: unknown well-known attributes are an
    /// error).
    Unknown(RawAttribute),
}

/// Why an attribute value is malformed; [`super::rfc7606`] turns this into
/// an error kind and an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Malformed {
    /// Optional/transitive bits conflict with the type.
    Flags,
    /// Wrong length for the type.
    Length(&'static str),
    /// ORIGIN value undefined.
    Origin,
    /// AS_PATH does not parse.
    AsPath(&'static str),
    /// A value that does not parse.
    Value(&'static str),
    /// MP_REACH_NLRI next hop length wrong for the family.
    NextHopLength,
    /// NLRI inside an MP_* attribute does not parse.
    Nlri(&'static str),
}

/// The optional and transitive bits a known type must carry, or `None` for
/// a type this codec does not know.
pub(crate) fn expected_flags(code: u8) -> Option<u8> {
    use type_code as t;
    const WELL_KNOWN: u8 = flags::TRANSITIVE;
    const OPT_TRANS: u8 = flags::OPTIONAL | flags::TRANSITIVE;
    const OPT_NON_TRANS: u8 = flags::OPTIONAL;
    Some(match code {
        t::ORIGIN | t::AS_PATH | t::NEXT_HOP | t::LOCAL_PREF | t::ATOMIC_AGGREGATE => WELL_KNOWN,
        t::MED | t::MP_REACH_NLRI | t::MP_UNREACH_NLRI => OPT_NON_TRANS,
        t::AGGREGATOR
        | t::COMMUNITIES
        | t::EXTENDED_COMMUNITIES
        | t::AS4_PATH
        | t::AS4_AGGREGATOR
        | t::LARGE_COMMUNITIES => OPT_TRANS,
        _ => return None,
    })
}

fn u32_value(value: &[u8]) -> Result<u32, Malformed> {
    <[u8; 4]>::try_from(value)
        .map(u32::from_be_bytes)
        .map_err(|_| Malformed::Length("expected 4 bytes"))
}

fn aggregator(value: &[u8], four_octet: bool) -> Result<Aggregator, Malformed> {
    let (asn, addr) = match (four_octet, value.len()) {
        (true, 8) => (u32_value(&value[..4])?, &value[4..]),
        (false, 6) => (
            u32::from(u16::from_be_bytes([value[0], value[1]])),
            &value[2..],
        ),
        _ => {
            return Err(Malformed::Length(
                "AGGREGATOR must be 6 or 8 bytes per the AS width",
            ));
        }
    };
    Ok(Aggregator {
        asn: Asn(asn),
        address: Ipv4Addr::from(u32_value(addr)?),
    })
}

/// Decodes one attribute value of a known (or unknown optional) type.
/// Flags have already been checked against [`expected_flags`].
pub(crate) fn parse_value(
    attr_flags: u8,
    code: u8,
    value: &[u8],
    codec: &Codec,
) -> Result<PathAttribute, Malformed> {
    use type_code as t;
    Ok(match code {
        t::ORIGIN => match value {
            [v] => PathAttribute::Origin(Origin::from_u8(*v).ok_or(Malformed::Origin)?),
            _ => return Err(Malformed::Length("ORIGIN must be 1 byte")),
        },
        t::AS_PATH => PathAttribute::AsPath(
            AsPath::parse(value, codec.four_octet_as).map_err(Malformed::AsPath)?,
        ),
        t::NEXT_HOP => PathAttribute::NextHop(Ipv4Addr::from(u32_value(value)?)),
        t::MED => PathAttribute::Med(u32_value(value)?),
        t::LOCAL_PREF => PathAttribute::LocalPref(u32_value(value)?),
        t::ATOMIC_AGGREGATE if value.is_empty() => PathAttribute::AtomicAggregate,
        t::ATOMIC_AGGREGATE => return Err(Malformed::Length("ATOMIC_AGGREGATE must be empty")),
        t::AGGREGATOR => PathAttribute::Aggregator(aggregator(value, codec.four_octet_as)?),
        t::COMMUNITIES => PathAttribute::Communities(
            parse_communities(value).ok_or(Malformed::Length("not a non-zero multiple of 4"))?,
        ),
        t::EXTENDED_COMMUNITIES => PathAttribute::ExtendedCommunities(
            parse_extended(value).ok_or(Malformed::Length("not a non-zero multiple of 8"))?,
        ),
        t::LARGE_COMMUNITIES => PathAttribute::LargeCommunities(
            parse_large(value).ok_or(Malformed::Length("not a non-zero multiple of 12"))?,
        ),
        t::MP_REACH_NLRI => PathAttribute::MpReach(MpReach::parse(value, codec)?),
        t::MP_UNREACH_NLRI => PathAttribute::MpUnreach(MpUnreach::parse(value, codec)?),
        t::AS4_PATH => {
            let path = AsPath::parse(value, true).map_err(Malformed::AsPath)?;
            // RFC 6793 §6: confederation segments have no place in AS4_PATH.
            if path.segments.iter().any(|s| {
                matches!(
                    s.kind,
                    super::as_path::SegmentType::ConfedSequence
                        | super::as_path::SegmentType::ConfedSet
                )
            }) {
                return Err(Malformed::AsPath("confederation segment in AS4_PATH"));
            }
            PathAttribute::As4Path(path)
        }
        t::AS4_AGGREGATOR => PathAttribute::As4Aggregator(aggregator(value, true)?),
        _ => PathAttribute::Unknown(RawAttribute {
            flags: attr_flags & (flags::OPTIONAL | flags::TRANSITIVE | flags::PARTIAL),
            type_code: code,
            value: Bytes::copy_from_slice(value),
        }),
    })
}

impl PathAttribute {
    /// The type code.
    pub fn type_code(&self) -> u8 {
        use type_code as t;
        match self {
            PathAttribute::Origin(_) => t::ORIGIN,
            PathAttribute::AsPath(_) => t::AS_PATH,
            PathAttribute::NextHop(_) => t::NEXT_HOP,
            PathAttribute::Med(_) => t::MED,
            PathAttribute::LocalPref(_) => t::LOCAL_PREF,
            PathAttribute::AtomicAggregate => t::ATOMIC_AGGREGATE,
            PathAttribute::Aggregator(_) => t::AGGREGATOR,
            PathAttribute::Communities(_) => t::COMMUNITIES,
            PathAttribute::MpReach(_) => t::MP_REACH_NLRI,
            PathAttribute::MpUnreach(_) => t::MP_UNREACH_NLRI,
            PathAttribute::ExtendedCommunities(_) => t::EXTENDED_COMMUNITIES,
            PathAttribute::As4Path(_) => t::AS4_PATH,
            PathAttribute::As4Aggregator(_) => t::AS4_AGGREGATOR,
            PathAttribute::LargeCommunities(_) => t::LARGE_COMMUNITIES,
            PathAttribute::Unknown(raw) => raw.type_code,
        }
    }

    /// Flags to send, without the extended-length bit. An unknown optional
    /// transitive attribute goes out with Partial set, as RFC 4271 §5
    /// requires of a speaker passing on what it does not recognise.
    fn wire_flags(&self) -> u8 {
        match self {
            PathAttribute::Unknown(raw) => {
                let f = raw.flags & (flags::OPTIONAL | flags::TRANSITIVE | flags::PARTIAL);
                if f & flags::OPTIONAL != 0 && f & flags::TRANSITIVE != 0 {
                    f | flags::PARTIAL
                } else {
                    f
                }
            }
            known => expected_flags(known.type_code()).unwrap_or(flags::OPTIONAL),
        }
    }

    fn encode_value(&self, buf: &mut BytesMut, codec: &Codec) {
        match self {
            PathAttribute::Origin(o) => buf.put_u8(*o as u8),
            PathAttribute::AsPath(p) => p.encode(buf, codec.four_octet_as),
            PathAttribute::NextHop(a) => buf.put_slice(&a.octets()),
            PathAttribute::Med(v) | PathAttribute::LocalPref(v) => buf.put_u32(*v),
            PathAttribute::AtomicAggregate => {}
            PathAttribute::Aggregator(a) => {
                if codec.four_octet_as {
                    buf.put_u32(a.asn.0);
                } else {
                    buf.put_u16(a.asn.to_u16_or_trans());
                }
                buf.put_slice(&a.address.octets());
            }
            PathAttribute::Communities(c) => put_communities(buf, c),
            PathAttribute::MpReach(m) => m.encode(buf, codec),
            PathAttribute::MpUnreach(m) => m.encode(buf, codec),
            PathAttribute::ExtendedCommunities(c) => put_extended(buf, c),
            PathAttribute::As4Path(p) => p.encode(buf, true),
            PathAttribute::As4Aggregator(a) => {
                buf.put_u32(a.asn.0);
                buf.put_slice(&a.address.octets());
            }
            PathAttribute::LargeCommunities(c) => put_large(buf, c),
            PathAttribute::Unknown(raw) => buf.put_slice(&raw.value),
        }
    }

    /// Appends flags, type, length and value. The length is one octet unless
    /// the value exceeds 255 bytes.
    pub(crate) fn encode(&self, buf: &mut BytesMut, codec: &Codec) -> Result<(), EncodeError> {
        let mut value = BytesMut::new();
        self.encode_value(&mut value, codec);
        put_attribute(buf, self.wire_flags(), self.type_code(), &value)
    }
}

/// Appends one attribute TLV.
pub(crate) fn put_attribute(
    buf: &mut BytesMut,
    attr_flags: u8,
    code: u8,
    value: &[u8],
) -> Result<(), EncodeError> {
    match u8::try_from(value.len()) {
        Ok(len) => {
            buf.put_u8(attr_flags & !flags::EXTENDED_LENGTH);
            buf.put_u8(code);
            buf.put_u8(len);
        }
        Err(_) => {
            let len = u16::try_from(value.len()).map_err(|_| EncodeError::FieldTooLong {
                what: "attribute value",
                length: value.len(),
            })?;
            buf.put_u8(attr_flags | flags::EXTENDED_LENGTH);
            buf.put_u8(code);
            buf.put_u16(len);
        }
    }
    buf.put_slice(value);
    Ok(())
}
