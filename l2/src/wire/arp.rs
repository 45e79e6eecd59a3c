//! ARP for IPv4 over Ethernet (RFC 826), with the RFC 5227 probe and
//! announcement forms.

use std::net::Ipv4Addr;

use super::cursor::Cursor;
use super::error::{ErrorKind, ParseError};
use super::mac::MacAddr;

/// Length of an ARP packet for IPv4 over Ethernet.
pub const ARP_LEN: usize = 28;

const HTYPE_ETHERNET: u16 = 1;
const PTYPE_IPV4: u16 = 0x0800;

/// ARP operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArpOp {
    /// 1: who-has.
    Request,
    /// 2: is-at.
    Reply,
}

impl ArpOp {
    fn code(self) -> u16 {
        match self {
            ArpOp::Request => 1,
            ArpOp::Reply => 2,
        }
    }
}

/// An ARP packet for IPv4 over Ethernet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArpPacket {
    /// Request or reply.
    pub op: ArpOp,
    /// Sender hardware address.
    pub sender_mac: MacAddr,
    /// Sender protocol address (0.0.0.0 in an RFC 5227 probe).
    pub sender_ip: Ipv4Addr,
    /// Target hardware address (ignored in requests; zero by convention).
    pub target_mac: MacAddr,
    /// Target protocol address.
    pub target_ip: Ipv4Addr,
}

impl ArpPacket {
    /// An RFC 5227 probe: "who has `target_ip`?" asked from 0.0.0.0 so
    /// that no neighbour cache learns anything from it.
    pub fn is_probe(&self) -> bool {
        self.op == ArpOp::Request && self.sender_ip.is_unspecified()
    }

    /// A gratuitous ARP (an RFC 5227 announcement when it is a request):
    /// the sender announces its own address.
    pub fn is_gratuitous(&self) -> bool {
        self.sender_ip == self.target_ip
    }

    /// Writes the 28 bytes.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&HTYPE_ETHERNET.to_be_bytes());
        out.extend_from_slice(&PTYPE_IPV4.to_be_bytes());
        out.extend_from_slice(&[6, 4]);
        out.extend_from_slice(&self.op.code().to_be_bytes());
        out.extend_from_slice(&self.sender_mac.0);
        out.extend_from_slice(&self.sender_ip.octets());
        out.extend_from_slice(&self.target_mac.0);
        out.extend_from_slice(&self.target_ip.octets());
    }
}

/// Fails unless a fixed header field has the value IPv4 over Ethernet needs.
fn expect(offset: usize, what: &'static str, expected: u16, value: u16) -> Result<(), ParseError> {
    if value == expected {
        Ok(())
    } else {
        Err(ParseError::new(
            offset,
            ErrorKind::ArpNotEthernetIpv4 { what, value },
        ))
    }
}

/// Reads an ARP packet; bytes after it (Ethernet padding) are ignored.
pub(crate) fn parse_arp(cur: &mut Cursor<'_>) -> Result<ArpPacket, ParseError> {
    cur.need(ARP_LEN, "ARP packet")?;
    let at = cur.offset();
    expect(
        at,
        "hardware type",
        HTYPE_ETHERNET,
        cur.u16("ARP hardware type")?,
    )?;
    expect(
        at + 2,
        "protocol type",
        PTYPE_IPV4,
        cur.u16("ARP protocol type")?,
    )?;
    expect(
        at + 4,
        "hardware length",
        6,
        cur.u8("ARP hardware length")?.into(),
    )?;
    expect(
        at + 5,
        "protocol length",
        4,
        cur.u8("ARP protocol length")?.into(),
    )?;
    let op = match cur.u16("ARP opcode")? {
        1 => ArpOp::Request,
        2 => ArpOp::Reply,
        op => return Err(ParseError::new(at + 6, ErrorKind::ArpOpcode { op })),
    };
    Ok(ArpPacket {
        op,
        sender_mac: MacAddr(cur.array("ARP sender MAC")?),
        sender_ip: Ipv4Addr::from(cur.array::<4>("ARP sender IP")?),
        target_mac: MacAddr(cur.array("ARP target MAC")?),
        target_ip: Ipv4Addr::from(cur.array::<4>("ARP target IP")?),
    })
}
