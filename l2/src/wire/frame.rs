//! A whole Ethernet frame carrying ARP, NS or NA: parsing and encoding.

use super::arp::{ARP_LEN, ArpPacket, parse_arp};
use super::cursor::Cursor;
use super::error::{ErrorKind, ParseError};
use super::ethernet::{ETHERTYPE_ARP, ETHERTYPE_IPV6, EthernetHeader, parse_ethernet};
use super::ipv6::{IPV6_HEADER_LEN, Ipv6Header, parse_ipv6};
use super::ndp::{NdpMessage, parse_ndp};

/// A frame the Layer-2 responder understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Frame {
    /// The Ethernet header. Its EtherType always matches `payload` once
    /// parsed; [`Frame::to_bytes`] writes the payload's.
    pub ethernet: EthernetHeader,
    /// What the frame carries.
    pub payload: Payload,
}

/// The payload of a [`Frame`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Payload {
    /// ARP for IPv4.
    Arp(ArpPacket),
    /// NS or NA, with the IPv6 header that carried it.
    Ndp(Ipv6Header, NdpMessage),
}

impl Payload {
    fn ether_type(&self) -> u16 {
        match self {
            Payload::Arp(_) => ETHERTYPE_ARP,
            Payload::Ndp(..) => ETHERTYPE_IPV6,
        }
    }

    fn len(&self) -> usize {
        match self {
            Payload::Arp(_) => ARP_LEN,
            Payload::Ndp(_, message) => IPV6_HEADER_LEN + message.len(),
        }
    }
}

impl Frame {
    /// The frame's bytes, ready for an AF_PACKET socket. Short frames are
    /// not padded to 60 bytes: the NIC (or its driver) pads, as it does for
    /// the kernel's own ARP.
    pub fn to_bytes(&self) -> Vec<u8> {
        let ethernet = EthernetHeader {
            ether_type: self.payload.ether_type(),
            ..self.ethernet
        };
        let mut out = Vec::with_capacity(ethernet.len() + self.payload.len());
        ethernet.write(&mut out);
        match &self.payload {
            Payload::Arp(arp) => arp.write(&mut out),
            Payload::Ndp(ip, message) => {
                // NS and NA are under 100 bytes: the length always fits.
                let length = u16::try_from(message.len()).unwrap_or(u16::MAX);
                ip.write(length, &mut out);
                message.write(ip, &mut out);
            }
        }
        out
    }
}

/// Parses an Ethernet frame as received from an AF_PACKET socket.
///
/// Never panics and never allocates. Frames that are well-formed but of no
/// interest (other EtherTypes, other ICMPv6 messages) come back as errors
/// for which [`ParseError::is_unrelated`] holds; trailing bytes (Ethernet
/// padding) are ignored.
pub fn parse_frame(bytes: &[u8]) -> Result<Frame, ParseError> {
    let mut cur = Cursor::new(bytes);
    let ethernet = parse_ethernet(&mut cur)?;
    let payload = match ethernet.ether_type {
        ETHERTYPE_ARP => Payload::Arp(parse_arp(&mut cur)?),
        ETHERTYPE_IPV6 => {
            let (ip, mut icmp) = parse_ipv6(&mut cur)?;
            Payload::Ndp(ip, parse_ndp(&ip, &mut icmp)?)
        }
        ether_type => {
            return Err(ParseError::new(
                ethernet.len() - 2,
                ErrorKind::OtherEtherType { ether_type },
            ));
        }
    };
    Ok(Frame { ethernet, payload })
}
