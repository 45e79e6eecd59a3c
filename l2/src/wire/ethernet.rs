//! Ethernet II framing, with one 802.1Q tag tolerated.
//!
//! The kernel usually strips VLAN tags before AF_PACKET sees a frame, but
//! a frame that still carries one (no offload, QinQ-free trunks) parses, and
//! replies carry the same tag back.

use super::cursor::Cursor;
use super::error::ParseError;
use super::mac::MacAddr;

/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// EtherType (TPID) of an 802.1Q tag.
pub const ETHERTYPE_VLAN: u16 = 0x8100;

/// Length of an untagged Ethernet header.
pub const ETHERNET_HEADER_LEN: usize = 14;
/// Length of an 802.1Q tag.
pub const VLAN_TAG_LEN: usize = 4;

/// An 802.1Q tag control field: priority, drop eligibility and VLAN id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VlanTag(pub u16);

impl VlanTag {
    /// The 12-bit VLAN identifier.
    pub fn id(&self) -> u16 {
        self.0 & 0x0fff
    }
}

/// An Ethernet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EthernetHeader {
    /// Destination.
    pub destination: MacAddr,
    /// Source.
    pub source: MacAddr,
    /// The 802.1Q tag, if the frame had one.
    pub vlan: Option<VlanTag>,
    /// The EtherType of the payload (after the tag).
    pub ether_type: u16,
}

impl EthernetHeader {
    /// Bytes this header takes on the wire.
    pub fn len(&self) -> usize {
        ETHERNET_HEADER_LEN + if self.vlan.is_some() { VLAN_TAG_LEN } else { 0 }
    }

    /// Never empty: the header is at least 14 bytes.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Writes the header.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.destination.0);
        out.extend_from_slice(&self.source.0);
        if let Some(tag) = self.vlan {
            out.extend_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
            out.extend_from_slice(&tag.0.to_be_bytes());
        }
        out.extend_from_slice(&self.ether_type.to_be_bytes());
    }
}

/// Reads the header and leaves the cursor at the payload.
pub(crate) fn parse_ethernet(cur: &mut Cursor<'_>) -> Result<EthernetHeader, ParseError> {
    let destination = MacAddr(cur.array("destination MAC")?);
    let source = MacAddr(cur.array("source MAC")?);
    let mut ether_type = cur.u16("EtherType")?;
    let mut vlan = None;
    if ether_type == ETHERTYPE_VLAN {
        vlan = Some(VlanTag(cur.u16("802.1Q tag")?));
        ether_type = cur.u16("inner EtherType")?;
    }
    Ok(EthernetHeader {
        destination,
        source,
        vlan,
        ether_type,
    })
}
