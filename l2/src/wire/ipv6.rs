//! The IPv6 header as NDP uses it, and the multicast address mappings
//! NDP relies on (RFC 4291 §2.7.1, RFC 2464 §7).

use std::net::Ipv6Addr;

use super::cursor::Cursor;
use super::error::{ErrorKind, ParseError};
use super::mac::MacAddr;

/// Length of the fixed IPv6 header.
pub const IPV6_HEADER_LEN: usize = 40;
/// Next header value of ICMPv6.
pub const NEXT_HEADER_ICMPV6: u8 = 58;
/// ff02::1, all nodes on the link.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// The IPv6 header fields NDP cares about. Traffic class and flow label
/// are read past: NDP gives them no meaning, and we send zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Header {
    /// Source (:: in a DAD solicitation).
    pub source: Ipv6Addr,
    /// Destination.
    pub destination: Ipv6Addr,
    /// Hop limit (255 on every valid NDP message).
    pub hop_limit: u8,
}

impl Ipv6Header {
    /// Writes the header of an ICMPv6 packet whose payload is `payload_len`
    /// bytes long.
    pub fn write(&self, payload_len: u16, out: &mut Vec<u8>) {
        out.extend_from_slice(&[0x60, 0, 0, 0]);
        out.extend_from_slice(&payload_len.to_be_bytes());
        out.push(NEXT_HEADER_ICMPV6);
        out.push(self.hop_limit);
        out.extend_from_slice(&self.source.octets());
        out.extend_from_slice(&self.destination.octets());
    }
}

/// Reads the header and returns it with its payload, cut to the payload
/// length so Ethernet padding never reaches the ICMPv6 checksum.
pub(crate) fn parse_ipv6<'a>(cur: &mut Cursor<'a>) -> Result<(Ipv6Header, Cursor<'a>), ParseError> {
    let start = *cur;
    cur.need(IPV6_HEADER_LEN, "IPv6 header")?;
    let version = cur.u32("IPv6 version, class and flow")? >> 28;
    if version != 6 {
        return Err(start.error(ErrorKind::Ipv6Version {
            version: version as u8,
        }));
    }
    let declared = usize::from(cur.u16("IPv6 payload length")?);
    let next_header_at = *cur;
    let next_header = cur.u8("IPv6 next header")?;
    let hop_limit = cur.u8("IPv6 hop limit")?;
    let source_at = *cur;
    let source = Ipv6Addr::from(cur.array::<16>("IPv6 source")?);
    let destination = Ipv6Addr::from(cur.array::<16>("IPv6 destination")?);
    if source.is_multicast() {
        return Err(source_at.error(ErrorKind::MulticastSource { address: source }));
    }
    if next_header != NEXT_HEADER_ICMPV6 {
        return Err(next_header_at.error(ErrorKind::OtherNextHeader { next_header }));
    }
    let payload_at = cur.offset();
    let rest = cur.remaining();
    let Some(payload) = rest.get(..declared) else {
        return Err(ParseError::new(
            payload_at,
            ErrorKind::Ipv6PayloadLength {
                declared,
                available: rest.len(),
            },
        ));
    };
    let header = Ipv6Header {
        source,
        destination,
        hop_limit,
    };
    Ok((header, Cursor::at(payload, payload_at)))
}

/// The solicited-node multicast group of `address`: ff02::1:ffXX:XXXX
/// with its low 24 bits (RFC 4291 §2.7.1). NS for an address go there.
pub fn solicited_node(address: Ipv6Addr) -> Ipv6Addr {
    let o = address.octets();
    Ipv6Addr::from([
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, o[13], o[14], o[15],
    ])
}

/// Whether `address` is a solicited-node multicast group.
pub fn is_solicited_node(address: Ipv6Addr) -> bool {
    address == solicited_node(address)
}

/// The Ethernet address an IPv6 multicast group maps to: 33:33 and its
/// low 32 bits (RFC 2464 §7).
pub fn multicast_mac(group: Ipv6Addr) -> MacAddr {
    let o = group.octets();
    MacAddr([0x33, 0x33, o[12], o[13], o[14], o[15]])
}

/// The Ethernet address the solicited-node group of `address` maps to:
/// 33:33:ff:XX:XX:XX. A responder joins it to hear NS for `address`.
pub fn solicited_node_mac(address: Ipv6Addr) -> MacAddr {
    multicast_mac(solicited_node(address))
}
