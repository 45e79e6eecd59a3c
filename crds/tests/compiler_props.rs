//! Properties of the compiler on arbitrary input: it never panics, every
//! error names an object of the input, and accepted pools never overlap.

use ferrolb_crds::api::{
    BGPAdvertisement, BGPAdvertisementSpec, BGPPeer, BGPPeerSpec, IPAddressPool, IPAddressPoolSpec,
};
use ferrolb_crds::config::{Resources, compile};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use proptest::prelude::*;

fn meta(name: String) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some("ns".into()),
        ..Default::default()
    }
}

fn address() -> impl Strategy<Value = String> {
    prop_oneof![
        (any::<[u8; 4]>(), 16u8..=34)
            .prop_map(|(a, p)| format!("{}.{}.{}.{}/{p}", a[0], a[1], a[2], a[3])),
        (any::<u16>(), any::<u16>()).prop_map(|(a, b)| format!(
            "10.{}.{}.0-10.{}.{}.255",
            a >> 8,
            a & 0xff,
            b >> 8,
            b & 0xff
        )),
        (any::<u16>(), 100u8..=130).prop_map(|(a, p)| format!("fc00::{a:x}/{p}")),
        "\\PC{0,20}",
    ]
}

fn duration() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        (0u32..200).prop_map(|s| Some(format!("{s}s"))),
        "\\PC{0,6}".prop_map(Some),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn compile_never_panics_and_errors_name_input_objects(
        pools in prop::collection::vec(prop::collection::vec(address(), 0..4), 0..4),
        agg in -1i32..140,
        hold in duration(),
        keepalive in duration(),
        my_asn in 0u32..3,
        communities in prop::collection::vec("\\PC{0,12}", 0..3),
    ) {
        let mut r = Resources::default();
        for (i, addresses) in pools.into_iter().enumerate() {
            r.pools.push(IPAddressPool::new(&format!("p{i}"), IPAddressPoolSpec { addresses, ..Default::default() }));
        }
        for p in &mut r.pools {
            p.metadata = meta(p.metadata.name.clone().unwrap_or_default());
        }
        let mut adv = BGPAdvertisement::new("adv", BGPAdvertisementSpec {
            aggregation_length: agg,
            aggregation_length_v6: agg,
            communities,
            ..Default::default()
        });
        adv.metadata = meta("adv".into());
        r.bgp_advertisements.push(adv);
        let mut peer = BGPPeer::new("peer", BGPPeerSpec {
            my_asn,
            peer_asn: 1,
            peer_address: "192.0.2.1".into(),
            hold_time: hold,
            keepalive_time: keepalive,
            ..Default::default()
        });
        peer.metadata = meta("peer".into());
        r.peers.push(peer);

        let names: Vec<_> = r.object_refs();
        match compile(&r) {
            Ok(compiled) => {
                let ranges: Vec<_> = compiled.config.pools.values().flat_map(|p| p.ranges.iter()).collect();
                for (i, a) in ranges.iter().enumerate() {
                    for b in &ranges[..i] {
                        prop_assert!(!a.overlaps(b), "{a} overlaps {b}");
                    }
                }
                let t = compiled.config.peers["peer"].timers;
                prop_assert!(t.keepalive_time() <= t.hold_time());
            }
            Err(e) => {
                prop_assert!(!e.errors.is_empty());
                for d in &e.errors {
                    prop_assert!(names.contains(&d.object), "{d}");
                }
            }
        }
    }
}
