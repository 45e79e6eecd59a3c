//! The UPDATE packer: as few messages as fit, never one too large.

use std::net::{Ipv4Addr, Ipv6Addr};

use ferrolb_bgp::wire::pack::{announce_ipv4, announce_ipv6, withdraw_ipv4, withdraw_ipv6};
use ferrolb_bgp::wire::{
    AddPath, AsPath, Asn, Codec, Community, DecodedUpdate, Ipv6NextHop, Message, Nlri, Origin,
    PathAttribute, UpdateOutcome, decode_message,
};
use ipnet::{Ipv4Net, Ipv6Net};
use proptest::prelude::*;

fn attrs4() -> Vec<PathAttribute> {
    vec![
        PathAttribute::Origin(Origin::Igp),
        PathAttribute::AsPath(AsPath::sequence([Asn(65001)])),
        PathAttribute::NextHop(Ipv4Addr::new(192, 0, 2, 1)),
        PathAttribute::Communities(vec![Community::new(65001, 1)]),
    ]
}

fn attrs6() -> Vec<PathAttribute> {
    vec![
        PathAttribute::Origin(Origin::Igp),
        PathAttribute::AsPath(AsPath::sequence([Asn(65001)])),
        PathAttribute::Communities(vec![Community::new(65001, 1)]),
    ]
}

fn encoded_attrs_len(attrs: &[PathAttribute], codec: &Codec) -> usize {
    let m = Message::Update(ferrolb_bgp::wire::Update {
        attributes: attrs.to_vec(),
        ..Default::default()
    });
    m.to_bytes(codec).unwrap().len() - 23
}

fn hosts4(n: usize, add_path: bool) -> Vec<Nlri<Ipv4Net>> {
    (0..n as u32)
        .map(|i| Nlri {
            path_id: add_path.then_some(i),
            prefix: Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 + i), 32).unwrap(),
        })
        .collect()
}

fn hosts6(n: usize, add_path: bool) -> Vec<Nlri<Ipv6Net>> {
    (0..n as u128)
        .map(|i| Nlri {
            path_id: add_path.then_some(i as u32),
            prefix: Ipv6Net::new(Ipv6Addr::from(0x2001_0db8_u128 << 96 | i), 128).unwrap(),
        })
        .collect()
}

fn decode_all(messages: &[bytes::Bytes], codec: &Codec) -> Vec<DecodedUpdate> {
    messages
        .iter()
        .map(|m| {
            assert!(m.len() <= codec.max_message_len());
            let d = decode_message(m, codec).unwrap();
            assert_eq!(d.outcome, UpdateOutcome::Clean);
            d.into_update().unwrap()
        })
        .collect()
}

/// Largest `n` with `size(n) ≤ max`: the fit, computed from sizes alone.
fn fit(max: usize, size: impl Fn(usize) -> usize) -> usize {
    let mut n = 0;
    while size(n + 1) <= max {
        n += 1;
    }
    n
}

#[test]
fn seven_hundred_ipv4_hosts_fit_one_extended_message_or_split_in_4096() {
    let attrs = attrs4();
    let routes = hosts4(700, false);
    let plain = Codec::default();
    let messages = announce_ipv4(&plain, &attrs, &routes).unwrap();
    // 4096 - 23 - 25 bytes of attributes = 4048 = 809 × 5 + 3: one message.
    assert_eq!(messages.len(), 1);
    let routes = hosts4(2000, false);
    let messages = announce_ipv4(&plain, &attrs, &routes).unwrap();
    assert_eq!(messages.len(), 3);
    let back: Vec<_> = decode_all(&messages, &plain)
        .iter()
        .flat_map(|d| d.ipv4_unicast().announced)
        .collect();
    assert_eq!(back, routes);
}

#[test]
fn nothing_to_send_sends_nothing() {
    assert!(
        announce_ipv4(&Codec::default(), &attrs4(), &[])
            .unwrap()
            .is_empty()
    );
    assert!(withdraw_ipv6(&Codec::default(), &[]).unwrap().is_empty());
}

fn codec_strategy() -> impl Strategy<Value = Codec> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(four, ap, ext)| Codec {
        four_octet_as: four,
        add_path: AddPath {
            ipv4_unicast: ap,
            ipv6_unicast: ap,
        },
        extended_message: ext,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn ipv4_packing_is_tight_and_bounded(n in 0usize..30_000, codec in codec_strategy()) {
        let attrs = attrs4();
        let ap = codec.add_path.ipv4_unicast;
        let per = if ap { 9 } else { 5 };
        let max = codec.max_message_len();

        let routes = hosts4(n, ap);
        let announced = announce_ipv4(&codec, &attrs, &routes).unwrap();
        let base = 23 + encoded_attrs_len(&attrs, &codec);
        let fit_a = fit(max, |k| base + k * per);
        prop_assert_eq!(announced.len(), n.div_ceil(fit_a));
        let back: Vec<_> = decode_all(&announced, &codec).iter().flat_map(|d| d.ipv4_unicast().announced).collect();
        prop_assert_eq!(&back, &routes);

        let withdrawn = withdraw_ipv4(&codec, &routes).unwrap();
        let fit_w = fit(max, |k| 23 + k * per);
        prop_assert_eq!(withdrawn.len(), n.div_ceil(fit_w));
        let back: Vec<_> = decode_all(&withdrawn, &codec).iter().flat_map(|d| d.ipv4_unicast().withdrawn).collect();
        prop_assert_eq!(&back, &routes);
    }

    #[test]
    fn ipv6_packing_is_tight_and_bounded(n in 0usize..10_000, codec in codec_strategy(), link_local in any::<bool>()) {
        let attrs = attrs6();
        let ap = codec.add_path.ipv6_unicast;
        let per = if ap { 21 } else { 17 };
        let max = codec.max_message_len();
        let next_hop = Ipv6NextHop {
            global: "2001:db8::1".parse().unwrap(),
            link_local: link_local.then(|| "fe80::1".parse().unwrap()),
        };
        let attr_header = |value: usize| if value > 255 { 4 } else { 3 };

        let routes = hosts6(n, ap);
        let announced = announce_ipv6(&codec, &attrs, &next_hop, &routes).unwrap();
        let base = 23 + encoded_attrs_len(&attrs, &codec);
        let lead = 3 + 1 + if link_local { 32 } else { 16 } + 1;
        let fit_a = fit(max, |k| base + attr_header(lead + k * per) + lead + k * per);
        prop_assert_eq!(announced.len(), n.div_ceil(fit_a));
        let back: Vec<_> = decode_all(&announced, &codec).iter().flat_map(|d| d.ipv6_unicast().announced).collect();
        prop_assert_eq!(&back, &routes);

        let withdrawn = withdraw_ipv6(&codec, &routes).unwrap();
        let fit_w = fit(max, |k| 23 + attr_header(3 + k * per) + 3 + k * per);
        prop_assert_eq!(withdrawn.len(), n.div_ceil(fit_w));
        let back: Vec<_> = decode_all(&withdrawn, &codec).iter().flat_map(|d| d.ipv6_unicast().withdrawn).collect();
        prop_assert_eq!(&back, &routes);
    }
}

#[test]
fn caller_mp_attributes_are_not_duplicated() {
    let mut attrs = attrs6();
    attrs.push(PathAttribute::MpUnreach(
        ferrolb_bgp::wire::MpUnreach::Ipv6Unicast(vec![]),
    ));
    let next_hop = Ipv6NextHop {
        global: "2001:db8::1".parse().unwrap(),
        link_local: None,
    };
    let messages = announce_ipv6(&Codec::default(), &attrs, &next_hop, &hosts6(3, false)).unwrap();
    let decoded = decode_all(&messages, &Codec::default());
    assert_eq!(decoded[0].ipv6_unicast().announced.len(), 3);
    assert_eq!(decoded[0].update.attributes.len(), attrs6().len() + 1);
}
