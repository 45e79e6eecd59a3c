//! Property tests: every message round-trips; no input panics the decoder.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use ferrolb_bgp::wire::{
    AddPath, AddPathFamily, AddPathMode, Afi, Aggregator, AsPath, Asn, BgpId, Capability, Codec,
    Community, ExtendedCommunity, ExtendedNextHopFamily, GracefulRestart, GracefulRestartFamily,
    HoldTime, Ipv6NextHop, LargeCommunity, Message, MpReach, MpUnreach, NextHop, Nlri,
    Notification, Open, Origin, PathAttribute, RawAttribute, RefreshSubtype, RouteRefresh, Safi,
    Segment, SegmentType, Update, decode_message,
};
use ipnet::{Ipv4Net, Ipv6Net};
use proptest::collection::vec;
use proptest::prelude::*;

use super::{MARKER, hex};

fn codec() -> impl Strategy<Value = Codec> {
    (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(four, ap4, ap6, ext)| Codec {
            four_octet_as: four,
            add_path: AddPath {
                ipv4_unicast: ap4,
                ipv6_unicast: ap6,
            },
            extended_message: ext,
        },
    )
}

fn path_id(add_path: bool) -> BoxedStrategy<Option<u32>> {
    if add_path {
        any::<u32>().prop_map(Some).boxed()
    } else {
        Just(None).boxed()
    }
}

fn nlri4(add_path: bool) -> impl Strategy<Value = Nlri<Ipv4Net>> {
    (path_id(add_path), any::<u32>(), 0u8..=32).prop_map(|(path_id, a, l)| Nlri {
        path_id,
        prefix: Ipv4Net::new(Ipv4Addr::from(a), l).unwrap().trunc(),
    })
}

fn nlri6(add_path: bool) -> impl Strategy<Value = Nlri<Ipv6Net>> {
    (path_id(add_path), any::<u128>(), 0u8..=128).prop_map(|(path_id, a, l)| Nlri {
        path_id,
        prefix: Ipv6Net::new(Ipv6Addr::from(a), l).unwrap().trunc(),
    })
}

fn asn(four: bool) -> BoxedStrategy<Asn> {
    if four {
        any::<u32>().prop_map(Asn).boxed()
    } else {
        (0u32..=65535).prop_map(Asn).boxed()
    }
}

fn as_path(asn: BoxedStrategy<Asn>, confed: bool) -> impl Strategy<Value = AsPath> {
    let kinds = if confed {
        prop_oneof![
            Just(SegmentType::Set),
            Just(SegmentType::Sequence),
            Just(SegmentType::ConfedSequence),
            Just(SegmentType::ConfedSet)
        ]
        .boxed()
    } else {
        prop_oneof![Just(SegmentType::Set), Just(SegmentType::Sequence)].boxed()
    };
    vec(
        (kinds, vec(asn, 1..20)).prop_map(|(kind, asns)| Segment { kind, asns }),
        0..4,
    )
    .prop_map(|segments| AsPath { segments })
}

fn aggregator(asn: BoxedStrategy<Asn>) -> impl Strategy<Value = Aggregator> {
    (asn, any::<u32>()).prop_map(|(asn, a)| Aggregator {
        asn,
        address: Ipv4Addr::from(a),
    })
}

fn v6_next_hop() -> impl Strategy<Value = Ipv6NextHop> {
    (any::<u128>(), proptest::option::of(any::<u128>())).prop_map(|(g, ll)| Ipv6NextHop {
        global: Ipv6Addr::from(g),
        link_local: ll.map(Ipv6Addr::from),
    })
}

fn other_family() -> impl Strategy<Value = (Afi, Safi, Bytes)> {
    (3u16..100, any::<u8>(), vec(any::<u8>(), 0..30))
        .prop_map(|(a, s, v)| (Afi(a), Safi(s), Bytes::from(v)))
}

fn mp_reach(c: Codec) -> impl Strategy<Value = MpReach> {
    let nh4 = prop_oneof![
        any::<u32>().prop_map(|a| NextHop::V4(Ipv4Addr::from(a))),
        v6_next_hop().prop_map(NextHop::V6)
    ];
    prop_oneof![
        (nh4, vec(nlri4(c.add_path.ipv4_unicast), 0..20))
            .prop_map(|(next_hop, nlri)| MpReach::Ipv4Unicast { next_hop, nlri }),
        (v6_next_hop(), vec(nlri6(c.add_path.ipv6_unicast), 0..20))
            .prop_map(|(next_hop, nlri)| MpReach::Ipv6Unicast { next_hop, nlri }),
        other_family().prop_map(|(afi, safi, value)| MpReach::Other { afi, safi, value }),
    ]
}

fn mp_unreach(c: Codec) -> impl Strategy<Value = MpUnreach> {
    prop_oneof![
        vec(nlri4(c.add_path.ipv4_unicast), 0..20).prop_map(MpUnreach::Ipv4Unicast),
        vec(nlri6(c.add_path.ipv6_unicast), 0..20).prop_map(MpUnreach::Ipv6Unicast),
        other_family().prop_map(|(afi, safi, value)| MpUnreach::Other { afi, safi, value }),
    ]
}

fn unknown_attribute() -> impl Strategy<Value = RawAttribute> {
    (
        prop_oneof![Just(0x80u8), Just(0xa0), Just(0xe0)],
        100u8..=250,
        vec(any::<u8>(), 0..300),
    )
        .prop_map(|(flags, type_code, value)| RawAttribute {
            flags,
            type_code,
            value: Bytes::from(value),
        })
}

fn attributes(c: Codec) -> impl Strategy<Value = Vec<PathAttribute>> {
    use proptest::option::of;
    let four = c.four_octet_as;
    let origin = prop_oneof![
        Just(Origin::Igp),
        Just(Origin::Egp),
        Just(Origin::Incomplete)
    ];
    let classic = (
        of(origin.prop_map(PathAttribute::Origin)),
        of(as_path(asn(four), true).prop_map(PathAttribute::AsPath)),
        of(any::<u32>().prop_map(|a| PathAttribute::NextHop(Ipv4Addr::from(a)))),
        of(any::<u32>().prop_map(PathAttribute::Med)),
        of(any::<u32>().prop_map(PathAttribute::LocalPref)),
        of(Just(PathAttribute::AtomicAggregate)),
        of(aggregator(asn(four)).prop_map(PathAttribute::Aggregator)),
    );
    let optional = (
        of(vec(any::<u32>().prop_map(Community), 1..10).prop_map(PathAttribute::Communities)),
        of(mp_reach(c).prop_map(PathAttribute::MpReach)),
        of(mp_unreach(c).prop_map(PathAttribute::MpUnreach)),
        of(vec(any::<[u8; 8]>().prop_map(ExtendedCommunity), 1..5)
            .prop_map(PathAttribute::ExtendedCommunities)),
        of(vec(any::<(u32, u32, u32)>(), 1..5).prop_map(|v| {
            PathAttribute::LargeCommunities(
                v.into_iter()
                    .map(|(global, local1, local2)| LargeCommunity {
                        global,
                        local1,
                        local2,
                    })
                    .collect(),
            )
        })),
        of(unknown_attribute().prop_map(PathAttribute::Unknown)),
    );
    // AS4_* only travel to 2-octet peers.
    let as4 = if four {
        Just((None, None)).boxed()
    } else {
        (
            of(as_path(asn(true), false).prop_map(PathAttribute::As4Path)),
            of(aggregator(asn(true)).prop_map(PathAttribute::As4Aggregator)),
        )
            .boxed()
    };
    (classic, optional, as4).prop_map(|((a, b, c, d, e, f, g), (h, i, j, k, l, m), (n, o))| {
        [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o]
            .into_iter()
            .flatten()
            .collect()
    })
}

fn update(c: Codec) -> impl Strategy<Value = Update> {
    (
        vec(nlri4(c.add_path.ipv4_unicast), 0..20),
        attributes(c),
        vec(nlri4(c.add_path.ipv4_unicast), 0..20),
    )
        .prop_map(|(withdrawn, attributes, nlri)| Update {
            withdrawn,
            attributes,
            nlri,
        })
}

fn family_fields() -> impl Strategy<Value = (Afi, Safi)> {
    (any::<u16>(), any::<u8>()).prop_map(|(a, s)| (Afi(a), Safi(s)))
}

fn capability() -> impl Strategy<Value = Capability> {
    prop_oneof![
        family_fields().prop_map(|(afi, safi)| Capability::MultiProtocol { afi, safi }),
        Just(Capability::RouteRefresh),
        Just(Capability::EnhancedRouteRefresh),
        Just(Capability::ExtendedMessage),
        (1u32..).prop_map(|a| Capability::FourOctetAs(Asn(a))),
        (
            any::<bool>(),
            any::<bool>(),
            0u16..4096,
            vec((family_fields(), any::<bool>()), 0..5)
        )
            .prop_map(|(restart_state, notification, restart_time, fams)| {
                Capability::GracefulRestart(GracefulRestart {
                    restart_state,
                    notification,
                    restart_time,
                    families: fams
                        .into_iter()
                        .map(|((afi, safi), forwarding_state)| GracefulRestartFamily {
                            afi,
                            safi,
                            forwarding_state,
                        })
                        .collect(),
                })
            }),
        vec(
            (
                family_fields(),
                prop_oneof![
                    Just(AddPathMode::Receive),
                    Just(AddPathMode::Send),
                    Just(AddPathMode::Both)
                ]
            ),
            1..5
        )
        .prop_map(|v| Capability::AddPath(
            v.into_iter()
                .map(|((afi, safi), mode)| AddPathFamily { afi, safi, mode })
                .collect()
        )),
        vec((any::<u16>(), any::<u16>(), any::<u16>()), 1..5).prop_map(|v| {
            Capability::ExtendedNextHop(
                v.into_iter()
                    .map(|(afi, safi, nh)| ExtendedNextHopFamily {
                        afi: Afi(afi),
                        safi,
                        next_hop_afi: Afi(nh),
                    })
                    .collect(),
            )
        }),
        (100u8..=250, vec(any::<u8>(), 0..40)).prop_map(|(code, v)| Capability::Unknown {
            code,
            value: Bytes::from(v)
        }),
    ]
}

fn open() -> impl Strategy<Value = Open> {
    (
        1u16..,
        prop_oneof![Just(0u16), 3u16..],
        1u32..,
        vec(capability(), 0..12),
    )
        .prop_map(|(my_as, hold, id, capabilities)| Open {
            my_as,
            hold_time: HoldTime::new(hold).unwrap(),
            bgp_id: BgpId::new(id).unwrap(),
            capabilities,
        })
}

fn message(c: Codec) -> impl Strategy<Value = Message> {
    prop_oneof![
        open().prop_map(Message::Open),
        update(c).prop_map(Message::Update),
        (any::<u8>(), any::<u8>(), vec(any::<u8>(), 0..100)).prop_map(|(code, sub, data)| {
            Message::Notification(Notification::new(code, sub, Bytes::from(data)))
        }),
        Just(Message::Keepalive),
        (
            family_fields(),
            prop_oneof![
                Just(RefreshSubtype::Request),
                Just(RefreshSubtype::Begin),
                Just(RefreshSubtype::End),
                (3u8..).prop_map(RefreshSubtype::Other)
            ]
        )
            .prop_map(
                |((afi, safi), subtype)| Message::RouteRefresh(RouteRefresh { afi, safi, subtype })
            ),
    ]
}

fn codec_and_message() -> impl Strategy<Value = (Codec, Message)> {
    codec().prop_flat_map(|c| (Just(c), message(c)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_message_round_trips((c, msg) in codec_and_message()) {
        let bytes = msg.to_bytes(&c).unwrap();
        prop_assert!(bytes.len() <= c.max_message_len());
        let decoded = decode_message(&bytes, &c).unwrap();
        prop_assert_eq!(decoded.message, msg);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..300), c in codec()) {
        let _ = decode_message(&bytes, &c);
    }

    #[test]
    fn arbitrary_bodies_never_panic(kind in 1u8..=5, body in vec(any::<u8>(), 0..300), c in codec()) {
        let mut m = hex(&[MARKER]);
        m.extend(((19 + body.len()) as u16).to_be_bytes());
        m.push(kind);
        m.extend(body);
        let _ = decode_message(&m, &c);
    }

    #[test]
    fn mutated_messages_never_panic(
        (c, msg) in codec_and_message(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = msg.to_bytes(&c).unwrap().to_vec();
        for (at, value) in edits {
            // Keep the marker so the mutation reaches the body.
            let i = 16 + at.index(bytes.len() - 16);
            bytes[i] = value;
        }
        let _ = decode_message(&bytes, &c);
    }
}
