//! The frames the responder and the prober send. Each is untagged; a
//! reply to a tagged request takes the request's tag with
//! [`Frame::with_vlan`].

use std::net::{Ipv4Addr, Ipv6Addr};

use super::arp::{ArpOp, ArpPacket};
use super::ethernet::{ETHERTYPE_ARP, ETHERTYPE_IPV6, EthernetHeader, VlanTag};
use super::frame::{Frame, Payload};
use super::ipv6::{ALL_NODES, Ipv6Header, solicited_node, solicited_node_mac};
use super::mac::MacAddr;
use super::ndp::{NDP_HOP_LIMIT, NdpMessage, NeighborAdvert, NeighborSolicit};

impl Frame {
    /// The same frame with `vlan` as its 802.1Q tag (or none).
    pub fn with_vlan(mut self, vlan: Option<VlanTag>) -> Frame {
        self.ethernet.vlan = vlan;
        self
    }
}

fn arp(destination: MacAddr, arp: ArpPacket) -> Frame {
    Frame {
        ethernet: EthernetHeader {
            destination,
            source: arp.sender_mac,
            vlan: None,
            ether_type: ETHERTYPE_ARP,
        },
        payload: Payload::Arp(arp),
    }
}

fn ndp(source: MacAddr, destination: MacAddr, ip: Ipv6Header, message: NdpMessage) -> Frame {
    Frame {
        ethernet: EthernetHeader {
            destination,
            source,
            vlan: None,
            ether_type: ETHERTYPE_IPV6,
        },
        payload: Payload::Ndp(ip, message),
    }
}

/// "`ip` is at `mac`", unicast to the asker (`to_mac`, `to_ip`; `to_ip` is
/// 0.0.0.0 when answering an RFC 5227 probe).
pub fn arp_reply(mac: MacAddr, ip: Ipv4Addr, to_mac: MacAddr, to_ip: Ipv4Addr) -> Frame {
    arp(
        to_mac,
        ArpPacket {
            op: ArpOp::Reply,
            sender_mac: mac,
            sender_ip: ip,
            target_mac: to_mac,
            target_ip: to_ip,
        },
    )
}

/// A gratuitous ARP, in the form of an RFC 5227 announcement: a broadcast
/// *request* whose sender and target addresses are both `ip`.
///
/// A request rather than a reply because Linux lets a gratuitous request
/// replace a neighbour entry even within its 1 s `locktime`, while it
/// ignores replies then (and honours a gratuitous reply only when target
/// MAC equals sender MAC).
#[doc(alias = "gratuitous_arp")]
pub fn arp_announcement(mac: MacAddr, ip: Ipv4Addr) -> Frame {
    arp_request(mac, ip, ip)
}

/// An address-resolution request for `target` from `ip` at `mac`: a
/// broadcast request, answered unicast to us (what a host's kernel sends
/// to resolve a neighbour).
pub fn arp_request(mac: MacAddr, ip: Ipv4Addr, target: Ipv4Addr) -> Frame {
    arp(
        MacAddr::BROADCAST,
        ArpPacket {
            op: ArpOp::Request,
            sender_mac: mac,
            sender_ip: ip,
            target_mac: MacAddr::ZERO,
            target_ip: target,
        },
    )
}

/// An RFC 5227 probe for `ip`: a broadcast request from 0.0.0.0, which
/// the owner of `ip` answers without any cache learning our MAC for it.
pub fn arp_probe(mac: MacAddr, ip: Ipv4Addr) -> Frame {
    arp_request(mac, Ipv4Addr::UNSPECIFIED, ip)
}

/// The NA answering a solicitation for `target` from `to_ip` at `to_mac`
/// (RFC 4861 §7.2.4): Solicited and Override set, our MAC as the Target
/// Link-Layer Address. Override, because we speak for the address as its
/// owner, and after a takeover the asker must drop the old owner's MAC.
pub fn solicited_advert(mac: MacAddr, target: Ipv6Addr, to_ip: Ipv6Addr, to_mac: MacAddr) -> Frame {
    advert(mac, target, to_ip, to_mac, true)
}

/// An unsolicited NA for `target` to all nodes, with Override, so that
/// every neighbour cache on the link moves to `mac` (RFC 4861 §7.2.6).
/// This is also how a DAD solicitation for an owned address is defended.
pub fn unsolicited_advert(mac: MacAddr, target: Ipv6Addr) -> Frame {
    advert(mac, target, ALL_NODES, MacAddr::ALL_NODES, false)
}

fn advert(
    mac: MacAddr,
    target: Ipv6Addr,
    to_ip: Ipv6Addr,
    to_mac: MacAddr,
    solicited: bool,
) -> Frame {
    let ip = Ipv6Header {
        source: target,
        destination: to_ip,
        hop_limit: NDP_HOP_LIMIT,
    };
    let message = NdpMessage::Advert(NeighborAdvert {
        router: false,
        solicited,
        override_flag: true,
        target,
        target_mac: Some(mac),
    });
    ndp(mac, to_mac, ip, message)
}

/// A Duplicate Address Detection NS for `target` (RFC 4862 §5.4.2): from
/// ::, to the target's solicited-node group, without a Source Link-Layer
/// Address option.
pub fn dad_solicit(mac: MacAddr, target: Ipv6Addr) -> Frame {
    let ip = Ipv6Header {
        source: Ipv6Addr::UNSPECIFIED,
        destination: solicited_node(target),
        hop_limit: NDP_HOP_LIMIT,
    };
    let message = NdpMessage::Solicit(NeighborSolicit {
        target,
        source_mac: None,
    });
    ndp(mac, solicited_node_mac(target), ip, message)
}

/// An address-resolution NS for `target` from `source` at `mac`, to the
/// target's solicited-node group (what a client sends to find an owner).
pub fn neighbor_solicit(mac: MacAddr, source: Ipv6Addr, target: Ipv6Addr) -> Frame {
    let ip = Ipv6Header {
        source,
        destination: solicited_node(target),
        hop_limit: NDP_HOP_LIMIT,
    };
    let message = NdpMessage::Solicit(NeighborSolicit {
        target,
        source_mac: Some(mac),
    });
    ndp(mac, solicited_node_mac(target), ip, message)
}
