//! The pure responder, fed the frames Linux and the tools sent in the
//! captures: it answers exactly as the node's kernel did, and for nothing
//! it does not own.

mod l2_vectors;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ferrolb_l2::responder::{Counter, Ignored, Outcome, Responder};
use ferrolb_l2::wire::{
    self, ErrorKind, MacAddr, VlanTag, arp_announcement, arp_reply, parse_frame,
    solicited_node_mac, unsolicited_advert,
};
use l2_vectors::captured;
use l2_vectors::lab::*;

const OTHER_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x99]);

/// The node, as a responder that owns the node's addresses.
fn node() -> Responder {
    let mut responder = Responder::new(NODE_MAC);
    assert!(responder.add(NODE_V4.into()));
    assert!(responder.add(NODE_V6.into()));
    responder
}

fn answer(outcome: Outcome) -> (IpAddr, Vec<u8>) {
    match outcome {
        Outcome::Answer { ip, reply } => (ip, reply.to_bytes()),
        other => panic!("expected an answer, got {other:?}"),
    }
}

#[test]
fn answers_as_the_kernel_did() {
    for (request, kernel_reply, ip) in [
        (
            "arping-0-arp-request",
            "arping-1-arp-reply",
            IpAddr::from(NODE_V4),
        ),
        (
            "arping-probe-0-arp-probe",
            "arping-probe-1-arp-reply",
            NODE_V4.into(),
        ),
        ("ping-0-arp-request", "ping-1-arp-reply", NODE_V4.into()),
        ("ping6-0-ns", "ping6-1-na", NODE_V6.into()),
        ("ndisc6-0-ns", "ndisc6-1-na", NODE_V6.into()),
    ] {
        let (answered, reply) = answer(node().handle(&captured(request)));
        assert_eq!(answered, ip, "{request}");
        assert_eq!(
            reply,
            captured(kernel_reply),
            "{request}: our answer is the kernel's"
        );
    }
}

#[test]
fn answers_count_a_request_and_a_response() {
    let outcome = node().handle(&captured("ping6-0-ns"));
    assert_eq!(
        outcome.counters(),
        Some((
            NODE_V6.into(),
            &[Counter::RequestsReceived, Counter::ResponsesSent][..]
        ))
    );
    assert_eq!(node().handle(&[0; 3]).counters(), None);
}

#[test]
fn a_tagged_request_gets_a_tagged_answer() {
    let (_, reply) = answer(node().handle(&captured("arping-vlan-0-arp-request")));
    let reply = parse_frame(&reply).expect("parse");
    assert_eq!(reply.ethernet.vlan, Some(VlanTag(7)));
    assert_eq!(
        reply,
        arp_reply(NODE_MAC, NODE_V4, CLIENT_MAC, CLIENT_V4).with_vlan(Some(VlanTag(7)))
    );
}

#[test]
fn nothing_is_answered_for_addresses_not_owned() {
    let empty = Responder::new(NODE_MAC);
    for request in [
        "arping-0-arp-request",
        "arping-probe-0-arp-probe",
        "ping6-0-ns",
    ] {
        assert_eq!(
            empty.handle(&captured(request)),
            Outcome::Ignored(Ignored::NotOwned),
            "{request}"
        );
    }
    let mut other = node();
    assert!(other.remove(NODE_V4.into()));
    assert!(!other.remove(NODE_V4.into()));
    assert_eq!(
        other.handle(&captured("ping-0-arp-request")),
        Outcome::Ignored(Ignored::NotOwned)
    );
}

#[test]
fn our_own_frames_are_ignored() {
    for frame in [
        arp_announcement(NODE_MAC, NODE_V4),
        unsolicited_advert(NODE_MAC, NODE_V6),
        wire::dad_solicit(NODE_MAC, NODE_V6),
    ] {
        assert_eq!(
            node().handle(&frame.to_bytes()),
            Outcome::Ignored(Ignored::OwnFrame)
        );
    }
}

#[test]
fn another_host_claiming_an_owned_address_is_reported() {
    // The captures' node now is "another host" to a responder with its own MAC.
    let mut us = Responder::new(OTHER_MAC);
    us.add(NODE_V4.into());
    us.add(NODE_V6.into());
    for frame in [
        "kernel-notify-0-arp-announcement",
        "arping-1-arp-reply",
        "kernel-notify-1-na-unsolicited",
        "ping6-1-na",
    ] {
        let outcome = us.handle(&captured(frame));
        assert!(
            matches!(outcome, Outcome::ClaimedByOther { mac: NODE_MAC, .. }),
            "{frame}: {outcome:?}"
        );
    }
}

#[test]
fn replies_and_advertisements_about_others_need_nothing() {
    assert_eq!(
        node().handle(
            &arp_reply(OTHER_MAC, Ipv4Addr::new(10, 78, 0, 9), NODE_MAC, NODE_V4).to_bytes()
        ),
        Outcome::Ignored(Ignored::NotARequest)
    );
    let other_v6 = Ipv6Addr::new(0xfd00, 0x78, 0, 0, 0, 0, 0, 9);
    assert_eq!(
        node().handle(&unsolicited_advert(OTHER_MAC, other_v6).to_bytes()),
        Outcome::Ignored(Ignored::NotARequest)
    );
}

#[test]
fn requests_addressed_elsewhere_are_not_for_us() {
    // An ARP request unicast to another host's MAC (promiscuous capture).
    let mut request = captured("ping-0-arp-request");
    request[..6].copy_from_slice(&OTHER_MAC.0);
    assert_eq!(node().handle(&request), Outcome::Ignored(Ignored::NotForUs));

    // An NS for our address sent to another address's solicited-node group.
    let mut frame = parse_frame(&captured("ping6-0-ns")).expect("parse");
    if let wire::Payload::Ndp(ip, _) = &mut frame.payload {
        ip.destination = wire::solicited_node(CLIENT_V6);
    }
    frame.ethernet.destination = solicited_node_mac(CLIENT_V6);
    assert_eq!(
        node().handle(&frame.to_bytes()),
        Outcome::Ignored(Ignored::NotForUs)
    );
}

#[test]
fn a_unicast_solicitation_to_the_address_is_answered() {
    // Neighbour unreachability detection: NS sent to the address itself, at our MAC.
    let mut frame = parse_frame(&captured("ping6-0-ns")).expect("parse");
    if let wire::Payload::Ndp(ip, _) = &mut frame.payload {
        ip.destination = NODE_V6;
    }
    frame.ethernet.destination = NODE_MAC;
    let (_, reply) = answer(node().handle(&frame.to_bytes()));
    assert_eq!(reply, captured("ping6-1-na"));
}

#[test]
fn a_rival_dad_is_answered_to_all_nodes() {
    let (ip, reply) = answer(node().handle(&wire::dad_solicit(OTHER_MAC, NODE_V6).to_bytes()));
    assert_eq!(ip, IpAddr::from(NODE_V6));
    assert_eq!(reply, unsolicited_advert(NODE_MAC, NODE_V6).to_bytes());
}

#[test]
fn broken_and_unrelated_frames_are_told_apart() {
    let mut bad = captured("ping6-0-ns");
    bad[21] = 64; // hop limit
    assert!(matches!(
        node().handle(&bad),
        Outcome::Malformed(e) if e.kind == ErrorKind::HopLimit { hop_limit: 64 }
    ));
    let mut ipv4 = captured("ping-0-arp-request");
    ipv4[12..14].copy_from_slice(&[0x08, 0x00]);
    assert_eq!(node().handle(&ipv4), Outcome::Ignored(Ignored::Unrelated));
}

#[test]
fn owned_addresses_and_their_groups() {
    let mut responder = node();
    let second = Ipv6Addr::new(0xfd00, 0x99, 0, 0, 0, 0, 0, 1);
    assert!(responder.add(second.into()));
    assert!(!responder.add(second.into()));
    assert!(responder.owns(NODE_V4.into()));
    assert_eq!(responder.addresses().count(), 3);
    // fd00:78::1 and fd00:99::1 share the group ff02::1:ff00:1.
    assert_eq!(
        responder.multicast_macs().into_iter().collect::<Vec<_>>(),
        vec![MacAddr([0x33, 0x33, 0xff, 0, 0, 1])]
    );
    assert_eq!(responder.mac(), NODE_MAC);
}
