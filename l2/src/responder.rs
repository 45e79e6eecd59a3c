//! The pure ARP/NDP responder of one interface: a received frame in, the
//! reply (if any) out, answering only for the addresses this node owns.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::wire::{
    ArpOp, ArpPacket, EthernetHeader, Frame, Ipv6Header, MacAddr, NdpMessage, NeighborSolicit,
    ParseError, Payload, arp_reply, multicast_mac, parse_frame, solicited_advert, solicited_node,
    solicited_node_mac, unsolicited_advert,
};

/// What the responder made of a received frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A who-has / solicitation for an owned address, and its answer.
    Answer {
        /// The owned address asked for.
        ip: IpAddr,
        /// The frame to send back.
        reply: Frame,
    },
    /// Another host says an owned address is its own (a gratuitous ARP,
    /// an ARP from that address, an NA for it): a conflict to report. No
    /// reply: arguing on the wire would make the address flap.
    ClaimedByOther {
        /// The owned address.
        ip: IpAddr,
        /// The other host's MAC.
        mac: MacAddr,
    },
    /// Nothing to do.
    Ignored(Ignored),
    /// The frame is broken (see [`ParseError::is_unrelated`] for frames
    /// that are merely not ARP or NDP: those come back as
    /// [`Ignored::Unrelated`]).
    Malformed(ParseError),
}

/// Why a frame needs no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ignored {
    /// Neither ARP nor NS/NA.
    Unrelated,
    /// We sent it (AF_PACKET loops our own frames back).
    OwnFrame,
    /// It asks about an address we do not own.
    NotOwned,
    /// An ARP reply or an NA that does not concern an owned address.
    NotARequest,
    /// Sent to another host's MAC, or to a group or address that does not
    /// match its target (seen only in promiscuous mode or on a bad link).
    NotForUs,
}

/// A MetalLB metric the outcome counts towards, per address
/// (`metallb_layer2_requests_received`, `metallb_layer2_responses_sent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Counter {
    /// A request for an owned address arrived.
    RequestsReceived,
    /// A response went out.
    ResponsesSent,
}

impl Outcome {
    /// The metrics to increment for this outcome, with the address label.
    pub fn counters(&self) -> Option<(IpAddr, &'static [Counter])> {
        match self {
            Outcome::Answer { ip, .. } => {
                Some((*ip, &[Counter::RequestsReceived, Counter::ResponsesSent]))
            }
            _ => None,
        }
    }
}

/// The responder of one interface: its MAC and the addresses it owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Responder {
    mac: MacAddr,
    ipv4: BTreeSet<Ipv4Addr>,
    ipv6: BTreeSet<Ipv6Addr>,
}

impl Responder {
    /// A responder for an interface with hardware address `mac`, owning
    /// nothing yet.
    pub fn new(mac: MacAddr) -> Self {
        Self {
            mac,
            ipv4: BTreeSet::new(),
            ipv6: BTreeSet::new(),
        }
    }

    /// The interface MAC every answer carries.
    pub fn mac(&self) -> MacAddr {
        self.mac
    }

    /// Starts answering for `ip`. Returns whether it was new.
    pub fn add(&mut self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(ip) => self.ipv4.insert(ip),
            IpAddr::V6(ip) => self.ipv6.insert(ip),
        }
    }

    /// Stops answering for `ip`. Returns whether it was owned.
    pub fn remove(&mut self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(ip) => self.ipv4.remove(&ip),
            IpAddr::V6(ip) => self.ipv6.remove(&ip),
        }
    }

    /// Whether `ip` is owned.
    pub fn owns(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(ip) => self.ipv4.contains(&ip),
            IpAddr::V6(ip) => self.ipv6.contains(&ip),
        }
    }

    /// Every owned address.
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        let v4 = self.ipv4.iter().copied().map(IpAddr::V4);
        v4.chain(self.ipv6.iter().copied().map(IpAddr::V6))
    }

    /// The multicast MACs the interface must accept for the solicitations
    /// of the owned IPv6 addresses (their solicited-node groups; several
    /// addresses may share one).
    pub fn multicast_macs(&self) -> BTreeSet<MacAddr> {
        self.ipv6.iter().map(|ip| solicited_node_mac(*ip)).collect()
    }

    /// Handles a received frame.
    pub fn handle(&self, bytes: &[u8]) -> Outcome {
        match parse_frame(bytes) {
            Ok(frame) => self.handle_frame(&frame),
            Err(e) if e.is_unrelated() => Outcome::Ignored(Ignored::Unrelated),
            Err(e) => Outcome::Malformed(e),
        }
    }

    /// Handles a parsed frame.
    pub fn handle_frame(&self, frame: &Frame) -> Outcome {
        if frame.ethernet.source == self.mac {
            return Outcome::Ignored(Ignored::OwnFrame);
        }
        let outcome = match &frame.payload {
            Payload::Arp(arp) => self.arp(&frame.ethernet, arp),
            Payload::Ndp(ip, NdpMessage::Solicit(ns)) => self.solicit(&frame.ethernet, ip, ns),
            Payload::Ndp(_, NdpMessage::Advert(na)) => {
                let mac = na.target_mac.unwrap_or(frame.ethernet.source);
                self.claim(IpAddr::V6(na.target), mac)
                    .unwrap_or(Outcome::Ignored(Ignored::NotARequest))
            }
        };
        match outcome {
            // A reply goes back on the VLAN the request came from.
            Outcome::Answer { ip, reply } => Outcome::Answer {
                ip,
                reply: reply.with_vlan(frame.ethernet.vlan),
            },
            other => other,
        }
    }

    /// A conflict if another host (`mac`) speaks for an owned `ip`.
    fn claim(&self, ip: IpAddr, mac: MacAddr) -> Option<Outcome> {
        (self.owns(ip) && mac != self.mac).then_some(Outcome::ClaimedByOther { ip, mac })
    }

    fn arp(&self, ethernet: &EthernetHeader, arp: &ArpPacket) -> Outcome {
        if arp.sender_mac == self.mac {
            return Outcome::Ignored(Ignored::OwnFrame);
        }
        if let Some(conflict) = self.claim(IpAddr::V4(arp.sender_ip), arp.sender_mac) {
            return conflict;
        }
        if arp.op != ArpOp::Request {
            return Outcome::Ignored(Ignored::NotARequest);
        }
        if !self.ipv4.contains(&arp.target_ip) {
            return Outcome::Ignored(Ignored::NotOwned);
        }
        // Broadcast normally; unicast to us when a neighbour re-checks a
        // stale entry.
        let to = ethernet.destination;
        if to != MacAddr::BROADCAST && to != self.mac {
            return Outcome::Ignored(Ignored::NotForUs);
        }
        Outcome::Answer {
            ip: IpAddr::V4(arp.target_ip),
            reply: arp_reply(self.mac, arp.target_ip, arp.sender_mac, arp.sender_ip),
        }
    }

    fn solicit(&self, ethernet: &EthernetHeader, ip: &Ipv6Header, ns: &NeighborSolicit) -> Outcome {
        if !self.ipv6.contains(&ns.target) {
            return Outcome::Ignored(Ignored::NotOwned);
        }
        let to_group = ip.destination == solicited_node(ns.target)
            && ethernet.destination == multicast_mac(ip.destination);
        let to_us = ip.destination == ns.target && ethernet.destination == self.mac;
        if !(to_group || to_us) {
            return Outcome::Ignored(Ignored::NotForUs);
        }
        let reply = if ip.source.is_unspecified() {
            // Someone runs DAD for our address: defend it to all nodes
            // (RFC 4861 §7.2.4), which also tells them who holds it.
            unsolicited_advert(self.mac, ns.target)
        } else {
            let to_mac = ns.source_mac.unwrap_or(ethernet.source);
            solicited_advert(self.mac, ns.target, ip.source, to_mac)
        };
        Outcome::Answer {
            ip: IpAddr::V6(ns.target),
            reply,
        }
    }
}
