//! Golden vectors both ways: each captured or RFC frame parses to exactly
//! the frame our builder makes for the same situation, and our builder's
//! bytes equal the vector's wherever the sender made the same choices
//! (Linux's kernel does, to the byte; arping pads to 60 bytes, ndisc6 sets
//! a flow label, the kernel's DAD adds an RFC 7527 nonce option).

mod l2_vectors;

use std::net::{Ipv4Addr, Ipv6Addr};

use ferrolb_l2::wire::{
    ArpOp, Frame, MacAddr, NdpMessage, Payload, VlanTag, arp_announcement, arp_probe, arp_reply,
    dad_solicit, neighbor_solicit, parse_frame, solicited_advert, unsolicited_advert,
};
use l2_vectors::lab::*;

/// How closely our builder's bytes match the vector.
#[derive(Debug, Clone, Copy)]
enum Match {
    /// Byte for byte.
    Exact,
    /// Byte for byte, then Ethernet padding (zeroes).
    Padded,
    /// Same parsed frame; the bytes differ where the sender chose
    /// differently (flow label, extra options).
    Parsed,
}

fn v4(s: &str) -> Ipv4Addr {
    s.parse().expect("IPv4")
}

fn v6(s: &str) -> Ipv6Addr {
    s.parse().expect("IPv6")
}

fn mac(s: &str) -> MacAddr {
    s.parse().expect("MAC")
}

/// What each captured frame is, in our builders' terms.
fn captured_expectations() -> Vec<(&'static str, Frame, Match)> {
    use Match::*;
    vec![
        (
            "arping-0-arp-request",
            arp_probe(CLIENT_MAC, NODE_V4).with_sender_ip(CLIENT_V4),
            Padded,
        ),
        (
            "arping-1-arp-reply",
            arp_reply(NODE_MAC, NODE_V4, CLIENT_MAC, CLIENT_V4),
            Exact,
        ),
        (
            "arping-probe-0-arp-probe",
            arp_probe(CLIENT_MAC, NODE_V4),
            Padded,
        ),
        (
            "arping-probe-1-arp-reply",
            arp_reply(NODE_MAC, NODE_V4, CLIENT_MAC, Ipv4Addr::UNSPECIFIED),
            Exact,
        ),
        (
            "arping-vlan-0-arp-request",
            arp_probe(CLIENT_MAC, NODE_V4)
                .with_sender_ip(CLIENT_V4)
                .with_vlan(Some(VlanTag(7))),
            Padded,
        ),
        (
            "kernel-dad-0-dad-ns",
            dad_solicit(NODE_MAC, NODE_V6),
            Parsed,
        ),
        (
            "kernel-notify-0-arp-announcement",
            arp_announcement(NODE_MAC, NODE_V4),
            Exact,
        ),
        (
            "kernel-notify-1-na-unsolicited",
            unsolicited_advert(NODE_MAC, NODE_V6),
            Exact,
        ),
        (
            "kernel-notify-2-na-unsolicited",
            unsolicited_advert(NODE_MAC, NODE_LL),
            Exact,
        ),
        (
            "ndisc6-0-ns",
            neighbor_solicit(CLIENT_MAC, CLIENT_LL, NODE_V6),
            Parsed,
        ),
        (
            "ndisc6-1-na",
            solicited_advert(NODE_MAC, NODE_V6, CLIENT_LL, CLIENT_MAC),
            Exact,
        ),
        (
            "ping-0-arp-request",
            arp_probe(CLIENT_MAC, NODE_V4).with_sender_ip(CLIENT_V4),
            Exact,
        ),
        (
            "ping-1-arp-reply",
            arp_reply(NODE_MAC, NODE_V4, CLIENT_MAC, CLIENT_V4),
            Exact,
        ),
        (
            "ping6-0-ns",
            neighbor_solicit(CLIENT_MAC, CLIENT_V6, NODE_V6),
            Exact,
        ),
        (
            "ping6-1-na",
            solicited_advert(NODE_MAC, NODE_V6, CLIENT_V6, CLIENT_MAC),
            Exact,
        ),
    ]
}

/// An ARP request is a probe with a sender address.
trait WithSenderIp {
    fn with_sender_ip(self, ip: Ipv4Addr) -> Frame;
}

impl WithSenderIp for Frame {
    fn with_sender_ip(mut self, ip: Ipv4Addr) -> Frame {
        if let Payload::Arp(arp) = &mut self.payload {
            arp.sender_ip = ip;
        }
        self
    }
}

fn check(name: &str, bytes: &[u8], expected: &Frame, how: Match) {
    let parsed = parse_frame(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(&parsed, expected, "{name} parses to what our builder makes");
    let ours = expected.to_bytes();
    match how {
        Match::Exact => assert_eq!(ours, bytes, "{name}: our bytes"),
        Match::Padded => {
            // arping pads its requests with zeroes (to 58 bytes here).
            assert!(bytes.len() > ours.len(), "{name}: padded");
            assert_eq!(&bytes[..ours.len()], &ours[..], "{name}: our bytes");
            assert!(
                bytes[ours.len()..].iter().all(|b| *b == 0),
                "{name}: padding"
            );
        }
        Match::Parsed => assert_ne!(ours, bytes, "{name}: now exact, say so"),
    }
}

#[test]
fn captured_frames_are_what_our_builders_make() {
    let expectations = captured_expectations();
    let names: Vec<&str> = expectations.iter().map(|(n, ..)| *n).collect();
    assert_eq!(
        l2_vectors::names("captured"),
        names,
        "every captured vector has an expectation (regenerated? update this table)"
    );
    for (name, expected, how) in expectations {
        check(name, &l2_vectors::captured(name), &expected, how);
    }
}

#[test]
fn kernel_dad_carries_a_nonce_option_we_skip() {
    // RFC 7527 enhanced DAD: option 14, one unit, six nonce bytes.
    let bytes = l2_vectors::captured("kernel-dad-0-dad-ns");
    assert_eq!(bytes.len(), 14 + 40 + 24 + 8);
    assert_eq!(bytes[78..80], [14, 1]);
}

#[test]
fn rfc_frames_are_what_our_builders_make() {
    let host = mac("00:00:5e:00:53:01");
    let asker = mac("00:00:5e:00:53:02");
    let (ip, asker_ip) = (v4("192.0.2.1"), v4("192.0.2.2"));
    let (ip6, asker_ip6) = (v6("2001:db8::1"), v6("2001:db8::2"));
    let cases = [
        ("arp-request", arp_probe(asker, ip).with_sender_ip(asker_ip)),
        ("arp-reply", arp_reply(host, ip, asker, asker_ip)),
        ("arp-probe", arp_probe(host, ip)),
        ("arp-announcement", arp_announcement(host, ip)),
        ("ns", neighbor_solicit(asker, asker_ip6, ip6)),
        ("dad-ns", dad_solicit(host, ip6)),
        (
            "na-solicited",
            solicited_advert(host, ip6, asker_ip6, asker),
        ),
        ("na-unsolicited", unsolicited_advert(host, ip6)),
    ];
    let names: Vec<&str> = cases.iter().map(|(n, _)| *n).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(l2_vectors::names("rfc"), sorted);
    for (name, expected) in cases {
        check(name, &l2_vectors::rfc(name), &expected, Match::Exact);
    }
}

#[test]
fn captured_fields_read_as_the_tools_meant_them() {
    let frame = parse_frame(&l2_vectors::captured("arping-vlan-0-arp-request")).expect("parse");
    assert_eq!(frame.ethernet.vlan.map(|t| t.id()), Some(7));
    let Payload::Arp(arp) = frame.payload else {
        panic!("ARP")
    };
    assert_eq!((arp.op, arp.target_ip), (ArpOp::Request, NODE_V4));

    let frame = parse_frame(&l2_vectors::captured("ping6-1-na")).expect("parse");
    let Payload::Ndp(ip, NdpMessage::Advert(na)) = frame.payload else {
        panic!("NA")
    };
    assert_eq!(ip.hop_limit, 255);
    assert!(na.solicited && na.override_flag && !na.router);
    assert_eq!(na.target_mac, Some(NODE_MAC));

    let frame = parse_frame(&l2_vectors::captured("kernel-dad-0-dad-ns")).expect("parse");
    let Payload::Ndp(ip, NdpMessage::Solicit(ns)) = frame.payload else {
        panic!("NS")
    };
    assert!(ip.source.is_unspecified());
    assert_eq!(ip.destination, v6("ff02::1:ff00:1"));
    assert_eq!(ns.source_mac, None);
}
