//! Every way a frame can be wrong gives its own error, at the byte where
//! the problem sits.

mod l2_vectors;

use std::net::Ipv6Addr;

use ferrolb_l2::wire::{
    ErrorKind, Frame, MacAddr, NdpMessage, ParseError, Payload, dad_solicit, parse_frame,
    unsolicited_advert,
};
use l2_vectors::captured;
use l2_vectors::lab::*;

fn error(bytes: &[u8]) -> ParseError {
    match parse_frame(bytes) {
        Ok(frame) => panic!("parsed {frame:?}"),
        Err(e) => e,
    }
}

fn assert_error(bytes: &[u8], offset: usize, kind: ErrorKind) {
    let e = error(bytes);
    assert_eq!((e.offset, e.kind), (offset, kind), "{e}");
}

/// Edits the typed frame (its bytes get a right checksum).
fn edited(frame: Frame, edit: impl FnOnce(&mut Frame)) -> Vec<u8> {
    let mut frame = frame;
    edit(&mut frame);
    frame.to_bytes()
}

#[test]
fn ethernet_and_arp() {
    let truncated = |what, needed, available| ErrorKind::Truncated {
        what,
        needed,
        available,
    };
    assert_error(&[], 0, truncated("destination MAC", 6, 0));
    let arp = captured("ping-0-arp-request");
    assert_error(&arp[..13], 12, truncated("EtherType", 2, 1));
    assert_error(&arp[..41], 14, truncated("ARP packet", 28, 27));

    let mut other = arp.clone();
    other[12..14].copy_from_slice(&0x88ccu16.to_be_bytes());
    assert_error(&other, 12, ErrorKind::OtherEtherType { ether_type: 0x88cc });
    assert!(error(&other).is_unrelated());

    for (at, bytes, what, value) in [
        (14, &[0, 6][..], "hardware type", 6),
        (16, &[0x86, 0xdd][..], "protocol type", 0x86dd),
        (18, &[8][..], "hardware length", 8),
        (19, &[16][..], "protocol length", 16),
    ] {
        let mut bad = arp.clone();
        bad[at..at + bytes.len()].copy_from_slice(bytes);
        assert_error(&bad, at, ErrorKind::ArpNotEthernetIpv4 { what, value });
        assert!(!error(&bad).is_unrelated());
    }
    let mut rarp = arp.clone();
    rarp[21] = 3;
    assert_error(&rarp, 20, ErrorKind::ArpOpcode { op: 3 });

    // A truncated 802.1Q tag.
    let tagged = captured("arping-vlan-0-arp-request");
    assert_error(&tagged[..15], 14, truncated("802.1Q tag", 2, 1));
}

#[test]
fn ipv6_header() {
    let ns = captured("ping6-0-ns");
    let mut v4 = ns.clone();
    v4[14] = 0x45;
    assert_error(&v4, 14, ErrorKind::Ipv6Version { version: 4 });
    assert_error(
        &ns[..50],
        14,
        ErrorKind::Truncated {
            what: "IPv6 header",
            needed: 40,
            available: 36,
        },
    );
    let mut long = ns.clone();
    long[19] = 33;
    assert_error(
        &long,
        54,
        ErrorKind::Ipv6PayloadLength {
            declared: 33,
            available: 32,
        },
    );
    let mut udp = ns.clone();
    udp[20] = 17;
    assert_error(&udp, 20, ErrorKind::OtherNextHeader { next_header: 17 });
    assert!(error(&udp).is_unrelated());
    let mut from_group = ns.clone();
    from_group[22] = 0xff;
    let e = error(&from_group);
    assert_eq!(e.offset, 22);
    assert!(matches!(e.kind, ErrorKind::MulticastSource { .. }), "{e}");
}

#[test]
fn rfc_4861_validation() {
    let ns = captured("ping6-0-ns");
    let mut echo = ns.clone();
    echo[54] = 128;
    assert_error(&echo, 54, ErrorKind::OtherIcmpv6Type { icmp_type: 128 });
    assert!(error(&echo).is_unrelated());

    let mut routed = ns.clone();
    routed[21] = 254;
    assert_error(&routed, 54, ErrorKind::HopLimit { hop_limit: 254 });

    let mut corrupt = ns.clone();
    corrupt[70] ^= 1;
    let e = error(&corrupt);
    assert_eq!(e.offset, 56);
    assert!(
        matches!(e.kind, ErrorKind::Checksum { found: 0x1e9e, .. }),
        "{e}"
    );

    let mut coded = ns.clone();
    coded[55] = 1;
    l2_vectors::fix_checksum(&mut coded);
    assert_error(&coded, 54, ErrorKind::IcmpCode { code: 1 });

    // 16 bytes of ICMPv6: no room for the target.
    let mut short = ns[..70].to_vec();
    short[18..20].copy_from_slice(&16u16.to_be_bytes());
    l2_vectors::fix_checksum(&mut short);
    assert_error(&short, 54, ErrorKind::NdpLength { length: 16 });

    let mut zero_option = ns.clone();
    zero_option[79] = 0;
    l2_vectors::fix_checksum(&mut zero_option);
    assert_error(&zero_option, 78, ErrorKind::ZeroLengthOption);

    let mut overrun = ns.clone();
    overrun[79] = 2;
    l2_vectors::fix_checksum(&mut overrun);
    assert_error(
        &overrun,
        78,
        ErrorKind::OptionOverrun {
            length: 16,
            available: 8,
        },
    );
}

#[test]
fn typed_violations() {
    let group = "ff02::1".parse::<Ipv6Addr>().expect("ip");
    let bytes = edited(dad_solicit(NODE_MAC, NODE_V6), |f| {
        if let Payload::Ndp(_, NdpMessage::Solicit(ns)) = &mut f.payload {
            ns.target = "ff02::2".parse().expect("ip");
        }
    });
    let e = error(&bytes);
    assert_eq!(e.offset, 62);
    assert!(matches!(e.kind, ErrorKind::MulticastTarget { .. }), "{e}");

    let bytes = edited(dad_solicit(NODE_MAC, NODE_V6), |f| {
        if let Payload::Ndp(ip, _) = &mut f.payload {
            ip.destination = group;
        }
    });
    assert_error(
        &bytes,
        54,
        ErrorKind::DadNotToSolicitedNode { destination: group },
    );

    let bytes = edited(dad_solicit(NODE_MAC, NODE_V6), |f| {
        if let Payload::Ndp(_, NdpMessage::Solicit(ns)) = &mut f.payload {
            ns.source_mac = Some(MacAddr([2, 0, 0, 0, 0, 1]));
        }
    });
    assert_error(&bytes, 78, ErrorKind::DadWithSourceLinkLayer);

    let bytes = edited(unsolicited_advert(NODE_MAC, NODE_V6), |f| {
        if let Payload::Ndp(_, NdpMessage::Advert(na)) = &mut f.payload {
            na.solicited = true;
        }
    });
    assert_error(&bytes, 54, ErrorKind::SolicitedToMulticast);
}

#[test]
fn options_of_other_types_and_lengths_are_skipped() {
    // The kernel's DAD carries a nonce (type 14) we skip; a longer
    // link-layer option still gives its first six bytes.
    let mut ns = captured("ping6-0-ns");
    ns.extend_from_slice(&[14, 1, 1, 2, 3, 4, 5, 6]);
    ns[18..20].copy_from_slice(&40u16.to_be_bytes());
    l2_vectors::fix_checksum(&mut ns);
    let frame = parse_frame(&ns).expect("parse");
    let Payload::Ndp(_, NdpMessage::Solicit(solicit)) = frame.payload else {
        panic!("NS")
    };
    assert_eq!(solicit.source_mac, Some(CLIENT_MAC));

    let mut long = captured("ping6-0-ns");
    long[79] = 2;
    long.extend_from_slice(&[0; 8]);
    long[18..20].copy_from_slice(&40u16.to_be_bytes());
    l2_vectors::fix_checksum(&mut long);
    assert!(parse_frame(&long).is_ok());
}

#[test]
fn errors_print_offset_and_cause() {
    let e = error(&[0; 20]);
    assert_eq!(
        e.to_string(),
        "at byte 12: EtherType 0x0000 is neither ARP nor IPv6"
    );
}
