//! Properties of the wire layer and the responder: every builder's frame
//! parses back to itself; no input, arbitrary or a mutation of a valid
//! frame, makes the parser or the responder panic; whatever parses
//! re-encodes to a frame that parses the same; the responder answers only
//! for owned addresses, from its own MAC.

mod l2_vectors;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ferrolb_l2::responder::{Outcome, Responder};
use ferrolb_l2::wire::{
    Frame, MacAddr, VlanTag, arp_announcement, arp_probe, arp_reply, dad_solicit, neighbor_solicit,
    parse_frame, solicited_advert, unsolicited_advert,
};
use proptest::prelude::*;

fn mac() -> impl Strategy<Value = MacAddr> {
    any::<[u8; 6]>().prop_map(MacAddr)
}

fn ipv4() -> impl Strategy<Value = Ipv4Addr> {
    any::<[u8; 4]>().prop_map(Ipv4Addr::from)
}

/// Unicast (or unspecified) IPv6: NDP never has a multicast source or target.
fn unicast_v6() -> impl Strategy<Value = Ipv6Addr> {
    any::<[u8; 16]>()
        .prop_map(Ipv6Addr::from)
        .prop_filter("not multicast", |ip| !ip.is_multicast())
}

fn vlan() -> impl Strategy<Value = Option<VlanTag>> {
    proptest::option::of(any::<u16>().prop_map(VlanTag))
}

/// Any frame one of our builders makes.
fn built() -> impl Strategy<Value = Frame> {
    let frames = prop_oneof![
        (mac(), ipv4(), mac(), ipv4()).prop_map(|(m, ip, to, to_ip)| arp_reply(m, ip, to, to_ip)),
        (mac(), ipv4()).prop_map(|(m, ip)| arp_announcement(m, ip)),
        (mac(), ipv4()).prop_map(|(m, ip)| arp_probe(m, ip)),
        (mac(), unicast_v6(), unicast_v6(), mac())
            .prop_map(|(m, target, to, to_mac)| solicited_advert(m, target, to, to_mac)),
        (mac(), unicast_v6()).prop_map(|(m, target)| unsolicited_advert(m, target)),
        (mac(), unicast_v6()).prop_map(|(m, target)| dad_solicit(m, target)),
        (
            mac(),
            unicast_v6().prop_filter("a source", |ip| !ip.is_unspecified()),
            unicast_v6()
        )
            .prop_map(|(m, source, target)| neighbor_solicit(m, source, target)),
    ];
    (frames, vlan()).prop_map(|(frame, vlan)| frame.with_vlan(vlan))
}

/// A frame to mutate: one of ours, or one Linux sent.
fn valid_bytes() -> impl Strategy<Value = Vec<u8>> {
    let vectors: Vec<Vec<u8>> = l2_vectors::all().into_iter().map(|(_, b)| b).collect();
    prop_oneof![
        built().prop_map(|f| f.to_bytes()),
        proptest::sample::select(vectors),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Truncate(usize),
    Append(Vec<u8>),
    Insert(usize, u8),
    Remove(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Set(at, b)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        1 => proptest::collection::vec(any::<u8>(), 1..24).prop_map(Mutation::Append),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Insert(at, b)),
        1 => any::<usize>().prop_map(Mutation::Remove),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let len = bytes.len().max(1);
    match mutation {
        Mutation::Set(at, b) => {
            if let Some(x) = bytes.get_mut(at % len) {
                *x = *b;
            }
        }
        Mutation::Truncate(at) => bytes.truncate(at % len),
        Mutation::Append(more) => bytes.extend_from_slice(more),
        Mutation::Insert(at, b) => bytes.insert(at % len, *b),
        Mutation::Remove(at) => {
            if at % len < bytes.len() {
                bytes.remove(at % len);
            }
        }
    }
}

/// Parses, and if that works, checks the re-encoding is a fixed point.
fn parse_is_stable(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(frame) = parse_frame(bytes) {
        let again = parse_frame(&frame.to_bytes());
        prop_assert_eq!(again, Ok(frame));
    }
    Ok(())
}

/// The responder answers only for what it owns, from its MAC, with a
/// frame that parses.
fn responder_is_sound(responder: &Responder, bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Outcome::Answer { ip, reply } = responder.handle(bytes) {
        prop_assert!(responder.owns(ip));
        prop_assert_eq!(reply.ethernet.source, responder.mac());
        prop_assert_eq!(parse_frame(&reply.to_bytes()), Ok(reply));
    }
    Ok(())
}

/// A responder that owns the addresses the vectors ask about.
fn lab_responder(mac: MacAddr) -> Responder {
    let mut responder = Responder::new(mac);
    for ip in [
        IpAddr::from(l2_vectors::lab::NODE_V4),
        l2_vectors::lab::NODE_V6.into(),
        l2_vectors::lab::NODE_LL.into(),
    ] {
        responder.add(ip);
    }
    responder
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_builder_round_trips(frame in built()) {
        prop_assert_eq!(parse_frame(&frame.to_bytes()), Ok(frame));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..160)) {
        parse_is_stable(&bytes)?;
        responder_is_sound(&lab_responder(l2_vectors::lab::NODE_MAC), &bytes)?;
    }

    #[test]
    fn arbitrary_payloads_behind_valid_headers_never_panic(
        header in proptest::sample::select(vec![
            // Ethernet + ARP; Ethernet + IPv6/ICMPv6 up to the payload length;
            // the same behind an 802.1Q tag.
            l2_vectors::captured("ping-0-arp-request")[..14].to_vec(),
            l2_vectors::captured("ping6-0-ns")[..18].to_vec(),
            l2_vectors::captured("arping-vlan-0-arp-request")[..18].to_vec(),
        ]),
        tail in proptest::collection::vec(any::<u8>(), 0..120),
        fix in any::<bool>(),
    ) {
        let mut bytes = header;
        bytes.extend_from_slice(&tail);
        if fix {
            l2_vectors::fix_checksum(&mut bytes);
        }
        parse_is_stable(&bytes)?;
    }

    #[test]
    fn mutated_frames_never_panic(
        mut bytes in valid_bytes(),
        mutations in proptest::collection::vec(mutation(), 1..4),
        fix in any::<bool>(),
        mac in mac(),
    ) {
        for m in &mutations {
            apply(&mut bytes, m);
        }
        if fix {
            l2_vectors::fix_checksum(&mut bytes);
        }
        parse_is_stable(&bytes)?;
        responder_is_sound(&lab_responder(mac), &bytes)?;
        responder_is_sound(&lab_responder(l2_vectors::lab::NODE_MAC), &bytes)?;
    }

    #[test]
    fn nothing_is_answered_for_an_address_not_owned(frame in built(), owned in ipv4()) {
        let mut responder = Responder::new(MacAddr([2, 0, 0, 0, 0, 1]));
        responder.add(owned.into());
        if let Outcome::Answer { ip, .. } = responder.handle(&frame.to_bytes()) {
            prop_assert_eq!(ip, IpAddr::from(owned));
        }
    }
}
