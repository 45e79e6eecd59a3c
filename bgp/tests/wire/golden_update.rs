//! UPDATE vectors: every attribute we know (RFC 4271, 1997, 4360, 8092,
//! 4760, 6793), End-of-RIB (RFC 4724), ADD-PATH (RFC 7911), extended length.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use ferrolb_bgp::wire::{
    AddPath, Aggregator, AsPath, Asn, Codec, Community, ExtendedCommunity, Family, Ipv6NextHop,
    LargeCommunity, Message, MpReach, MpUnreach, NextHop, Nlri, Origin, PathAttribute,
    RawAttribute, Segment, SegmentType, Update, add_as4_attributes,
};
use ipnet::{Ipv4Net, Ipv6Net};

use super::{MARKER, both_ways, decode, four_octet, golden, hex};

fn v4(s: &str) -> Nlri<Ipv4Net> {
    Nlri::new(s.parse().unwrap())
}

fn v6(s: &str) -> Nlri<Ipv6Net> {
    Nlri::new(s.parse().unwrap())
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn ip6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

#[test]
fn ipv4_update_with_every_classic_attribute() {
    let bytes = hex(&[
        MARKER,
        "0076",                                 // length 118
        "02",                                   // type UPDATE
        "0003",                                 // withdrawn routes length 3
        "10 0a01",                              // withdrawn 10.1.0.0/16
        "0053",                                 // total path attribute length 83
        "40 01 01  00",                         // ORIGIN (well-known transitive) IGP
        "40 02 06  02 02 fde9 fdea",            // AS_PATH: AS_SEQUENCE of 2: 65001 65002
        "40 03 04  c0000201",                   // NEXT_HOP 192.0.2.1
        "80 04 04  00000064",                   // MED (optional non-transitive) 100
        "40 05 04  000000c8",                   // LOCAL_PREF 200
        "40 06 00",                             // ATOMIC_AGGREGATE
        "c0 07 06  fde9 c0000201", // AGGREGATOR (optional transitive) AS 65001, 192.0.2.1
        "c0 08 08  fde90064 ffffff01", // COMMUNITIES 65001:100 NO_EXPORT
        "c0 10 08  0002fde900000064", // EXTENDED COMMUNITIES route target 65001:100
        "c0 20 0c  0000fde9 00000001 00000002", // LARGE_COMMUNITY 65001:1:2
        "20 c0000264",             // NLRI 192.0.2.100/32
        "18 c63364",               // NLRI 198.51.100.0/24
    ]);
    let update = Update {
        withdrawn: vec![v4("10.1.0.0/16")],
        attributes: vec![
            PathAttribute::Origin(Origin::Igp),
            PathAttribute::AsPath(AsPath::sequence([Asn(65001), Asn(65002)])),
            PathAttribute::NextHop(ip("192.0.2.1")),
            PathAttribute::Med(100),
            PathAttribute::LocalPref(200),
            PathAttribute::AtomicAggregate,
            PathAttribute::Aggregator(Aggregator {
                asn: Asn(65001),
                address: ip("192.0.2.1"),
            }),
            PathAttribute::Communities(vec![Community::new(65001, 100), Community::NO_EXPORT]),
            PathAttribute::ExtendedCommunities(vec![ExtendedCommunity([
                0, 2, 0xfd, 0xe9, 0, 0, 0, 0x64,
            ])]),
            PathAttribute::LargeCommunities(vec![LargeCommunity {
                global: 65001,
                local1: 1,
                local2: 2,
            }]),
        ],
        nlri: vec![v4("192.0.2.100/32"), v4("198.51.100.0/24")],
    };
    golden(&bytes, &Codec::default(), &Message::Update(update));
}

#[test]
fn four_octet_as_path_and_aggregator() {
    let codec = four_octet();
    let bytes = hex(&[
        MARKER,
        "0032",                                     // length 50
        "02",                                       // type UPDATE
        "0000",                                     // no withdrawn routes
        "001a",                                     // total path attribute length 26
        "40 02 0c  01 01 00010000  02 01 fa56ea00", // AS_PATH: AS_SET {65536}, AS_SEQUENCE 4200000000
        "c0 07 08  00010000 c0000201",              // AGGREGATOR AS 65536, 192.0.2.1
        "00",                                       // NLRI 0.0.0.0/0
    ]);
    let update = Update {
        attributes: vec![
            PathAttribute::AsPath(AsPath {
                segments: vec![
                    Segment {
                        kind: SegmentType::Set,
                        asns: vec![Asn(65536)],
                    },
                    Segment {
                        kind: SegmentType::Sequence,
                        asns: vec![Asn(4_200_000_000)],
                    },
                ],
            }),
            PathAttribute::Aggregator(Aggregator {
                asn: Asn(65536),
                address: ip("192.0.2.1"),
            }),
        ],
        nlri: vec![v4("0.0.0.0/0")],
        ..Update::default()
    };
    // Missing ORIGIN and NEXT_HOP make the routes withdrawn; the bytes still
    // round-trip.
    let outcome = both_ways(&bytes, &codec, &Message::Update(update));
    assert_eq!(outcome.errors().len(), 2);
}

#[test]
fn as4_path_and_as4_aggregator_for_a_two_octet_peer() {
    let bytes = hex(&[
        MARKER,
        "003b",                        // length 59
        "02",                          // type UPDATE
        "0000",                        // no withdrawn routes
        "0024",                        // total path attribute length 36
        "40 02 04  02 01 5ba0",        // AS_PATH: AS_SEQUENCE of AS_TRANS
        "c0 07 06  5ba0 c0000201",     // AGGREGATOR AS_TRANS, 192.0.2.1
        "c0 11 06  02 01 00010000",    // AS4_PATH: AS_SEQUENCE 65536
        "c0 12 08  00010000 c0000201", // AS4_AGGREGATOR 65536, 192.0.2.1
    ]);
    let update = Update {
        attributes: vec![
            PathAttribute::AsPath(AsPath::sequence([Asn::TRANS])),
            PathAttribute::Aggregator(Aggregator {
                asn: Asn::TRANS,
                address: ip("192.0.2.1"),
            }),
            PathAttribute::As4Path(AsPath::sequence([Asn(65536)])),
            PathAttribute::As4Aggregator(Aggregator {
                asn: Asn(65536),
                address: ip("192.0.2.1"),
            }),
        ],
        ..Update::default()
    };
    golden(&bytes, &Codec::default(), &Message::Update(update.clone()));
    // A 4-octet AS encoded for a 2-octet peer becomes AS_TRANS.
    let wide = Update {
        attributes: vec![
            PathAttribute::AsPath(AsPath::sequence([Asn(65536)])),
            PathAttribute::Aggregator(Aggregator {
                asn: Asn(65536),
                address: ip("192.0.2.1"),
            }),
            update.attributes[2].clone(),
            update.attributes[3].clone(),
        ],
        ..Update::default()
    };
    assert_eq!(
        Message::Update(wide)
            .to_bytes(&Codec::default())
            .unwrap()
            .as_ref(),
        bytes
    );
}

#[test]
fn ipv6_mp_reach_with_link_local_next_hop() {
    let bytes = hex(&[
        MARKER,
        "0064",                                // length 100
        "02",                                  // type UPDATE
        "0000",                                // no withdrawn routes
        "004d",                                // total path attribute length 77
        "40 01 01  02",                        // ORIGIN INCOMPLETE
        "40 02 06  02 01 0000fde9",            // AS_PATH (4-octet session): AS_SEQUENCE 65001
        "80 0e 3d",                            // MP_REACH_NLRI, length 61
        "0002 01",                             // AFI IPv6, SAFI unicast
        "20",                                  // next hop length 32
        "20010db8000000000000000000000001",    // global 2001:db8::1
        "fe800000000000000000000000000001",    // link-local fe80::1
        "00",                                  // reserved
        "30 20010db80001",                     // 2001:db8:1::/48
        "80 20010db8000000000000000000000064", // 2001:db8::64/128
    ]);
    let codec = four_octet();
    let update = Update {
        attributes: vec![
            PathAttribute::Origin(Origin::Incomplete),
            PathAttribute::AsPath(AsPath::sequence([Asn(65001)])),
            PathAttribute::MpReach(MpReach::Ipv6Unicast {
                next_hop: Ipv6NextHop {
                    global: ip6("2001:db8::1"),
                    link_local: Some(ip6("fe80::1")),
                },
                nlri: vec![v6("2001:db8:1::/48"), v6("2001:db8::64/128")],
            }),
        ],
        ..Update::default()
    };
    golden(&bytes, &codec, &Message::Update(update));
}

#[test]
fn ipv4_mp_reach_with_ipv4_and_ipv6_next_hops() {
    let bytes = hex(&[
        MARKER,
        "0027",        // length 39
        "02",          // type UPDATE
        "0000",        // no withdrawn routes
        "0010",        // total path attribute length 16
        "80 0e 0d",    // MP_REACH_NLRI, length 13
        "0001 01",     // AFI IPv4, SAFI unicast
        "04 c0000201", // next hop 192.0.2.1
        "00",          // reserved
        "18 c00002",   // 192.0.2.0/24
    ]);
    let reach = |next_hop| {
        Message::Update(Update {
            attributes: vec![PathAttribute::MpReach(MpReach::Ipv4Unicast {
                next_hop,
                nlri: vec![v4("192.0.2.0/24")],
            })],
            ..Update::default()
        })
    };
    let msg = reach(NextHop::V4(ip("192.0.2.1")));
    assert_eq!(decode(&bytes, &Codec::default()).message, msg);
    assert_eq!(msg.to_bytes(&Codec::default()).unwrap().as_ref(), bytes);
    // RFC 8950: an IPv6 next hop for IPv4 NLRI.
    let v6nh = reach(NextHop::V6(Ipv6NextHop {
        global: ip6("2001:db8::1"),
        link_local: None,
    }));
    let encoded = v6nh.to_bytes(&Codec::default()).unwrap();
    assert_eq!(encoded[29], 16, "next hop length");
    assert_eq!(decode(&encoded, &Codec::default()).message, v6nh);
}

/// RFC 8950 §4 byte for byte: a service /32 carried in MP_REACH_NLRI with
/// an IPv6 next hop, global and link-local (32 bytes) as on a shared link,
/// and link-local alone (16 bytes) as on an unnumbered one.
#[test]
fn ipv4_routes_with_an_ipv6_next_hop() {
    // The same UPDATE around next hops of 32 and 16 bytes: every length
    // field follows from the next hop's.
    let update = |next_hop: &[&str]| {
        let nh_len = next_hop.concat().len() / 2;
        let attr_len = 2 + 1 + 1 + nh_len + 1 + 5;
        let mut parts = vec![
            MARKER.to_string(),
            format!("{:04x}", 19 + 2 + 2 + 3 + attr_len), // message length
            "02".into(),                                  // type UPDATE
            "0000".into(),                                // no withdrawn routes
            format!("{:04x}", 3 + attr_len),              // total path attribute length
            format!("80 0e {attr_len:02x}"),              // MP_REACH_NLRI
            "0001 01".into(),                             // AFI IPv4, SAFI unicast
            format!("{nh_len:02x}"),                      // next hop length
        ];
        parts.extend(next_hop.iter().map(|s| s.to_string()));
        parts.push("00".into()); // reserved
        parts.push("20 c6336410".into()); // 198.51.100.16/32
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        hex(&parts)
    };
    let both = update(&[
        "20010db8000000000000000000000001", // global 2001:db8::1
        "fe800000000000000000000000000001", // link-local fe80::1
    ]);
    assert_eq!(both.len(), 68);
    let link_local_only = update(&["fe800000000000000000000000000011"]); // fe80::11
    assert_eq!(link_local_only.len(), 52);
    let reach = |global, link_local| {
        Message::Update(Update {
            attributes: vec![PathAttribute::MpReach(MpReach::Ipv4Unicast {
                next_hop: NextHop::V6(Ipv6NextHop { global, link_local }),
                nlri: vec![v4("198.51.100.16/32")],
            })],
            ..Update::default()
        })
    };
    // Only the attribute is under test: without ORIGIN and AS_PATH the
    // routes decode as RFC 7606 treat-as-withdraw, so compare messages.
    for (bytes, msg) in [
        (both, reach(ip6("2001:db8::1"), Some(ip6("fe80::1")))),
        (link_local_only, reach(ip6("fe80::11"), None)),
    ] {
        assert_eq!(decode(&bytes, &Codec::default()).message, msg);
        assert_eq!(msg.to_bytes(&Codec::default()).unwrap().as_ref(), bytes);
    }
}

#[test]
fn ipv6_mp_unreach() {
    let bytes = hex(&[
        MARKER,
        "0028",            // length 40
        "02",              // type UPDATE
        "0000",            // no withdrawn routes
        "0011",            // total path attribute length 17
        "80 0f 0e",        // MP_UNREACH_NLRI, length 14
        "0002 01",         // AFI IPv6, SAFI unicast
        "30 20010db80001", // 2001:db8:1::/48
        "00",              // ::/0
        "10 2001",         // 2001::/16
    ]);
    let update = Update {
        attributes: vec![PathAttribute::MpUnreach(MpUnreach::Ipv6Unicast(vec![
            v6("2001:db8:1::/48"),
            v6("::/0"),
            v6("2001::/16"),
        ]))],
        ..Update::default()
    };
    golden(&bytes, &Codec::default(), &Message::Update(update));
}

#[test]
fn end_of_rib_markers() {
    let ipv4 = hex(&[
        MARKER, "0017", // length 23
        "02",   // type UPDATE
        "0000", // no withdrawn routes
        "0000", // no attributes, no NLRI
    ]);
    let ipv6 = hex(&[
        MARKER,
        "001d",              // length 29
        "02",                // type UPDATE
        "0000",              // no withdrawn routes
        "0006",              // total path attribute length 6
        "80 0f 03  0002 01", // MP_UNREACH_NLRI IPv6 unicast, nothing withdrawn
    ]);
    for (bytes, family) in [(ipv4, Family::Ipv4Unicast), (ipv6, Family::Ipv6Unicast)] {
        let eor = Update::end_of_rib(family);
        assert_eq!(eor.end_of_rib_family(), Some(family));
        golden(&bytes, &Codec::default(), &Message::Update(eor));
    }
    let not_eor = Update {
        nlri: vec![v4("10.0.0.0/8")],
        ..Update::default()
    };
    assert_eq!(not_eor.end_of_rib_family(), None);
}

#[test]
fn add_path_identifiers() {
    let codec = Codec {
        add_path: AddPath {
            ipv4_unicast: true,
            ipv6_unicast: true,
        },
        ..Codec::default()
    };
    let bytes = hex(&[
        MARKER,
        "0043",                                         // length 67
        "02",                                           // type UPDATE
        "0008",                                         // withdrawn routes length 8
        "00000007 18 0a0000",                           // path 7, 10.0.0.0/24
        "001b",                                         // total path attribute length 27
        "80 0f 18",                                     // MP_UNREACH_NLRI, length 24
        "0002 01",                                      // AFI IPv6, SAFI unicast
        "00000002 80 20010db8000000000000000000000001", // path 2, 2001:db8::1/128
        "00000001 20 c0000201",                         // NLRI: path 1, 192.0.2.1/32
    ]);
    fn with_id<P>(id: u32, nlri: Nlri<P>) -> Nlri<P> {
        Nlri {
            path_id: Some(id),
            ..nlri
        }
    }
    let update = Update {
        withdrawn: vec![with_id(7, v4("10.0.0.0/24"))],
        attributes: vec![PathAttribute::MpUnreach(MpUnreach::Ipv6Unicast(vec![
            with_id(2, v6("2001:db8::1/128")),
        ]))],
        nlri: vec![with_id(1, v4("192.0.2.1/32"))],
    };
    both_ways(&bytes, &codec, &Message::Update(update));
}

#[test]
fn unknown_attribute_with_extended_length_and_partial_bit() {
    let value = vec![0xab; 300];
    let mut bytes = hex(&[
        MARKER,
        "0147",       // length 327
        "02",         // type UPDATE
        "0000",       // no withdrawn routes
        "0130",       // total path attribute length 304
        "f0 63 012c", // optional transitive partial, extended length; type 99; length 300
    ]);
    bytes.extend(&value);
    let raw = RawAttribute {
        flags: 0xe0,
        type_code: 99,
        value: Bytes::from(value),
    };
    let update = Update {
        attributes: vec![PathAttribute::Unknown(raw.clone())],
        ..Update::default()
    };
    golden(&bytes, &Codec::default(), &Message::Update(update));
    // Received without Partial: re-emitted with it (RFC 4271 §5).
    let without_partial = Update {
        attributes: vec![PathAttribute::Unknown(RawAttribute { flags: 0xc0, ..raw })],
        ..Update::default()
    };
    let encoded = Message::Update(without_partial)
        .to_bytes(&Codec::default())
        .unwrap();
    assert_eq!(encoded.as_ref(), bytes);
}

#[test]
fn long_as_path_segments_are_split() {
    let asns: Vec<Asn> = (1..=300).map(Asn).collect();
    let update = Update {
        attributes: vec![PathAttribute::AsPath(AsPath::sequence(asns.clone()))],
        ..Update::default()
    };
    let codec = four_octet();
    let bytes = Message::Update(update).to_bytes(&codec).unwrap();
    // AS_PATH value: 2 + 255×4 + 2 + 45×4 = 1204 bytes, so extended length.
    assert_eq!(&bytes[23..27], &[0x50, 0x02, 0x04, 0xb4]);
    assert_eq!(
        &bytes[27..29],
        &[2, 255],
        "first segment: AS_SEQUENCE of 255"
    );
    assert_eq!(
        &bytes[29 + 255 * 4..29 + 255 * 4 + 2],
        &[2, 45],
        "second segment: the other 45"
    );
    let Message::Update(back) = decode(&bytes, &codec).message else {
        panic!("not an UPDATE");
    };
    let PathAttribute::AsPath(path) = &back.attributes[0] else {
        panic!("not an AS_PATH");
    };
    let flat: Vec<Asn> = path.segments.iter().flat_map(|s| s.asns.clone()).collect();
    assert_eq!(flat, asns);
}

#[test]
fn as4_attributes_are_added_for_two_octet_peers() {
    let agg = Aggregator {
        asn: Asn(65536),
        address: ip("192.0.2.1"),
    };
    let mut attrs = vec![
        PathAttribute::AsPath(AsPath {
            segments: vec![
                Segment {
                    kind: SegmentType::ConfedSequence,
                    asns: vec![Asn(64512)],
                },
                Segment {
                    kind: SegmentType::Sequence,
                    asns: vec![Asn(65536), Asn(65001)],
                },
            ],
        }),
        PathAttribute::Aggregator(agg),
    ];
    add_as4_attributes(&mut attrs);
    assert_eq!(
        attrs[2..],
        [
            PathAttribute::As4Path(AsPath::sequence([Asn(65536), Asn(65001)])),
            PathAttribute::As4Aggregator(agg),
        ]
    );
    // Idempotent, and nothing to add for 2-octet ASes.
    add_as4_attributes(&mut attrs);
    assert_eq!(attrs.len(), 4);
    let mut small = vec![PathAttribute::AsPath(AsPath::sequence([Asn(65001)]))];
    add_as4_attributes(&mut small);
    assert_eq!(small.len(), 1);
}

#[test]
fn host_bits_never_reach_the_wire() {
    let sloppy = Update {
        withdrawn: vec![Nlri::new(Ipv4Net::new(ip("10.1.2.3"), 20).unwrap())],
        ..Update::default()
    };
    let bytes = Message::Update(sloppy).to_bytes(&Codec::default()).unwrap();
    assert_eq!(&bytes[21..25], &[20, 10, 1, 0], "10.1.0.0/20");
}
