//! Messages captured from real FRR 8.4, BIRD 2.0.12 and GoBGP 3.10 in the
//! lab (`cargo run -p interop-tests --example capture_bgp_vectors`
//! regenerates them): each decodes, says what the router meant, and
//! re-encodes to a message that decodes to the same value (byte for byte
//! where the encoding is canonical).

use std::net::Ipv4Addr;

use ferrolb_bgp::wire::{
    self, Asn, Capability, Codec, Community, Family, LargeCommunity, Message, PathAttribute,
};

/// The capture session: 4-octet AS negotiated, no extended messages, no
/// ADD-PATH.
fn codec() -> Codec {
    Codec {
        four_octet_as: true,
        ..Codec::default()
    }
}

fn vector(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/vectors/captured/{name}.hex",
        env!("CARGO_MANIFEST_DIR")
    );
    let hex = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let hex = hex.trim();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn decode(name: &str) -> Message {
    let bytes = vector(name);
    let decoded = wire::decode_message(&bytes, &codec()).unwrap_or_else(|e| panic!("{name}: {e}"));
    // Whatever we decode, we encode back into something that means the same.
    let again = decoded.message.to_bytes(&codec()).unwrap();
    let redecoded = wire::decode_message(&again, &codec()).unwrap();
    assert_eq!(redecoded.message, decoded.message, "{name} round trip");
    decoded.message
}

fn assert_canonical(name: &str) {
    let bytes = vector(name);
    let message = decode(name);
    assert_eq!(
        message.to_bytes(&codec()).unwrap().as_ref(),
        &bytes[..],
        "{name} re-encodes to the same bytes"
    );
}

fn open(name: &str) -> wire::Open {
    match decode(name) {
        Message::Open(open) => open,
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn the_routers_opens_say_what_they_are() {
    for router in ["frr", "bird", "gobgp"] {
        let open = open(&format!("{router}-0-open"));
        assert_eq!(open.my_as, 64500, "{router}");
        assert_eq!(
            Ipv4Addr::from(open.bgp_id),
            Ipv4Addr::new(172, 31, 255, 1),
            "{router}"
        );
        assert!(
            open.capabilities
                .contains(&Capability::FourOctetAs(Asn(64500))),
            "{router}: {:?}",
            open.capabilities
        );
        assert!(
            open.capabilities.iter().any(|c| matches!(c, Capability::MultiProtocol { afi, safi } if afi.0 == 1 && safi.0 == 1)),
            "{router} offers IPv4 unicast"
        );
        assert!(
            open.capabilities.contains(&Capability::RouteRefresh),
            "{router}"
        );
    }
    // Only FRR offers RFC 8654 extended messages by default.
    assert!(
        open("frr-0-open")
            .capabilities
            .contains(&Capability::ExtendedMessage)
    );
    assert!(
        !open("gobgp-0-open")
            .capabilities
            .contains(&Capability::ExtendedMessage)
    );
}

#[test]
fn keepalives_are_canonical() {
    for router in ["frr", "bird", "gobgp"] {
        assert_canonical(&format!("{router}-1-keepalive"));
    }
}

#[test]
fn bird_ends_each_family_with_an_end_of_rib() {
    let families: Vec<Option<Family>> = ["bird-2-update", "bird-3-update"]
        .iter()
        .map(|n| match decode(n) {
            Message::Update(u) => u.end_of_rib_family(),
            other => panic!("{n}: {other:?}"),
        })
        .collect();
    assert!(
        families.contains(&Some(Family::Ipv4Unicast)),
        "{families:?}"
    );
    assert!(
        families.contains(&Some(Family::Ipv6Unicast)),
        "{families:?}"
    );
    assert_canonical("bird-2-update");
}

#[test]
fn gobgps_update_carries_every_attribute_it_was_given() {
    let Message::Update(update) = decode("gobgp-2-update") else {
        panic!("not an UPDATE");
    };
    let attrs = &update.attributes;
    assert!(attrs.contains(&PathAttribute::Med(10)), "{attrs:?}");
    assert!(
        attrs.contains(&PathAttribute::Communities(vec![Community(
            (65000 << 16) | 1
        )])),
        "{attrs:?}"
    );
    assert!(
        attrs.contains(&PathAttribute::LargeCommunities(vec![LargeCommunity {
            global: 64500,
            local1: 1,
            local2: 2
        }])),
        "{attrs:?}"
    );
    let as_path = attrs.iter().find_map(|a| match a {
        PathAttribute::AsPath(p) => Some(p.clone()),
        _ => None,
    });
    assert_eq!(as_path, Some(wire::AsPath::sequence([Asn(64500)])));
    let prefixes: Vec<String> = update.nlri.iter().map(|n| n.prefix.to_string()).collect();
    assert_eq!(prefixes, ["198.51.100.10/32"]);
    assert_canonical("gobgp-2-update");
}
