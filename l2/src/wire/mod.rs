//! The ARP and NDP wire format: Ethernet II (802.1Q tolerated), ARP for
//! IPv4 (RFC 826, RFC 5227), IPv6 with ICMPv6 Neighbor Solicitation and
//! Advertisement (RFC 4861), parsed without allocating and without
//! panicking on any input, and the frames the responder sends.
//!
//! Sans-I/O: bytes in, typed [`Frame`] out, and back with
//! [`Frame::to_bytes`].

mod arp;
mod build;
mod checksum;
mod cursor;
mod error;
mod ethernet;
mod frame;
mod ipv6;
mod mac;
mod ndp;

pub use arp::{ARP_LEN, ArpOp, ArpPacket};
pub use build::{
    arp_announcement, arp_probe, arp_reply, arp_request, dad_solicit, neighbor_solicit,
    solicited_advert, unsolicited_advert,
};
pub use checksum::{icmpv6_checksum, icmpv6_checksum_ok};
pub use error::{ErrorKind, ParseError};
pub use ethernet::{
    ETHERNET_HEADER_LEN, ETHERTYPE_ARP, ETHERTYPE_IPV6, ETHERTYPE_VLAN, EthernetHeader,
    VLAN_TAG_LEN, VlanTag,
};
pub use frame::{Frame, Payload, parse_frame};
pub use ipv6::{
    ALL_NODES, IPV6_HEADER_LEN, Ipv6Header, NEXT_HEADER_ICMPV6, is_solicited_node, multicast_mac,
    solicited_node, solicited_node_mac,
};
pub use mac::{MacAddr, MacParseError};
pub use ndp::{
    LINK_LAYER_OPTION_LEN, NDP_HOP_LIMIT, NDP_MIN_LEN, NdpMessage, NeighborAdvert, NeighborSolicit,
    TYPE_NEIGHBOR_ADVERT, TYPE_NEIGHBOR_SOLICIT,
};
