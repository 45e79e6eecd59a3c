//! OPEN vectors (RFC 4271 §4.2) with every capability we know (RFC 4760,
//! 2918, 6793, 4724, 8654, 7911, 7313) and RFC 9072 extended parameters.

use bytes::Bytes;
use ferrolb_bgp::wire::{
    AddPathFamily, AddPathMode, Afi, Asn, BgpId, Capability, Codec, ExtendedNextHopFamily,
    GracefulRestart, GracefulRestartFamily, HoldTime, Message, Open, Safi, decode_open,
};

use super::{MARKER, decode, golden, hex, open_capabilities};

fn id(a: u8, b: u8, c: u8, d: u8) -> BgpId {
    BgpId::new(u32::from_be_bytes([a, b, c, d])).unwrap()
}

#[test]
fn open_without_parameters() {
    let bytes = hex(&[
        MARKER, "001d",     // length 29
        "01",       // type OPEN
        "04",       // version 4
        "fde9",     // my AS 65001
        "00b4",     // hold time 180
        "c0000201", // BGP identifier 192.0.2.1
        "00",       // optional parameters length
    ]);
    let open = Open::new(
        Asn(65001),
        HoldTime::new(180).unwrap(),
        id(192, 0, 2, 1),
        vec![],
    );
    golden(&bytes, &Codec::default(), &Message::Open(open));
}

#[test]
fn open_with_every_capability() {
    let bytes = hex(&[
        MARKER,
        "0057",     // length 87
        "01",       // type OPEN
        "04",       // version 4
        "5ba0",     // my AS: AS_TRANS (real AS in the 4-octet capability)
        "005a",     // hold time 90
        "0a000001", // BGP identifier 10.0.0.1
        "3a",       // optional parameters length 58
        // param 2 (capabilities), length 6: multiprotocol IPv4 unicast
        "02 06  01 04  0001 00 01",
        // multiprotocol IPv6 unicast
        "02 06  01 04  0002 00 01",
        // route refresh
        "02 02  02 00",
        // 4-octet AS 4200000000
        "02 06  41 04  fa56ea00",
        // extended message
        "02 02  06 00",
        // graceful restart: R bit, restart time 120; IPv4 unicast with F bit
        "02 08  40 06  8078  0001 01 80",
        // add-path: IPv4 unicast, send and receive
        "02 06  45 04  0001 01 03",
        // enhanced route refresh
        "02 02  46 00",
        // an unknown capability (Cisco's pre-standard route refresh)
        "02 02  80 00",
    ]);
    let open = Open::new(
        Asn(4_200_000_000),
        HoldTime::DEFAULT,
        id(10, 0, 0, 1),
        vec![
            Capability::MultiProtocol {
                afi: Afi::IPV4,
                safi: Safi::UNICAST,
            },
            Capability::MultiProtocol {
                afi: Afi::IPV6,
                safi: Safi::UNICAST,
            },
            Capability::RouteRefresh,
            Capability::FourOctetAs(Asn(4_200_000_000)),
            Capability::ExtendedMessage,
            Capability::GracefulRestart(GracefulRestart {
                restart_state: true,
                notification: false,
                restart_time: 120,
                families: vec![GracefulRestartFamily {
                    afi: Afi::IPV4,
                    safi: Safi::UNICAST,
                    forwarding_state: true,
                }],
            }),
            Capability::AddPath(vec![AddPathFamily {
                afi: Afi::IPV4,
                safi: Safi::UNICAST,
                mode: AddPathMode::Both,
            }]),
            Capability::EnhancedRouteRefresh,
            Capability::Unknown {
                code: 128,
                value: Bytes::new(),
            },
        ],
    );
    assert_eq!(open.my_as, 23456);
    assert_eq!(open.asn(), Asn(4_200_000_000));
    golden(&bytes, &Codec::default(), &Message::Open(open.clone()));
    assert_eq!(decode_open(&bytes).unwrap(), Some(open));
}

/// RFC 8950 §3: IPv4 unicast and IPv4 VPN (SAFI 128, two octets here)
/// with IPv6 next hops, as FRR sends it for `neighbor IFACE interface`.
#[test]
fn extended_next_hop_capability() {
    let bytes = hex(&[
        MARKER,
        "002d",     // length 45
        "01",       // type OPEN
        "04",       // version
        "fde9",     // my AS 65001
        "005a",     // hold time 90
        "0a000001", // BGP identifier
        "10",       // optional parameters length 16
        // param 2, length 14: code 5, length 12, two entries of
        // NLRI AFI (2), NLRI SAFI (2), next hop AFI (2)
        "02 0e  05 0c  0001 0001 0002  0001 0080 0002",
    ]);
    let open = Open::new(
        Asn(65001),
        HoldTime::DEFAULT,
        id(10, 0, 0, 1),
        vec![Capability::ExtendedNextHop(vec![
            ExtendedNextHopFamily {
                afi: Afi::IPV4,
                safi: 1,
                next_hop_afi: Afi::IPV6,
            },
            ExtendedNextHopFamily {
                afi: Afi::IPV4,
                safi: 128,
                next_hop_afi: Afi::IPV6,
            },
        ])],
    );
    golden(&bytes, &Codec::default(), &Message::Open(open));
}

/// A value that is not whole 6-octet entries is not understood: kept as
/// unknown (never negotiated), not a reason to refuse the session.
#[test]
fn a_malformed_extended_next_hop_capability_is_kept_as_unknown() {
    for value in ["", "0001 0001 00"] {
        let len = value.replace(' ', "").len() / 2;
        let bytes = hex(&[
            MARKER,
            &format!("{:04x}", 29 + 4 + len),
            "01 04 fde9 005a 0a000001",
            &format!("{:02x} 02 {:02x} 05 {:02x}", 4 + len, 2 + len, len),
            value,
        ]);
        assert_eq!(
            open_capabilities(&bytes),
            vec![Capability::Unknown {
                code: 5,
                value: Bytes::from(hex(&[value])),
            }],
            "{value:?}"
        );
    }
}

#[test]
fn capabilities_grouped_in_one_parameter_decode_the_same() {
    // Some speakers (BIRD, GoBGP) put every capability in one parameter.
    let bytes = hex(&[
        MARKER,
        "0029",             // length 41
        "01",               // type OPEN
        "04",               // version
        "fde9",             // my AS 65001
        "005a",             // hold time 90
        "0a000001",         // BGP identifier
        "0c",               // optional parameters length 12
        "02 0a",            // one capabilities parameter, 10 bytes
        "01 04 0001 00 01", // multiprotocol IPv4 unicast
        "02 00",            // route refresh
        "06 00",            // extended message
    ]);
    assert_eq!(
        open_capabilities(&bytes),
        vec![
            Capability::MultiProtocol {
                afi: Afi::IPV4,
                safi: Safi::UNICAST
            },
            Capability::RouteRefresh,
            Capability::ExtendedMessage,
        ]
    );
}

#[test]
fn rfc9072_extended_parameters_decode() {
    let bytes = hex(&[
        MARKER,
        "0029",             // length 41
        "01",               // type OPEN
        "04",               // version
        "fde9",             // my AS 65001
        "005a",             // hold time 90
        "0a000001",         // BGP identifier
        "ff",               // non-extended parameters length: 255
        "ff",               // non-extended parameter type 255: extended format
        "0009",             // extended parameters length 9
        "02 0006",          // capabilities parameter with a 2-octet length, 6
        "01 04 0001 00 01", // multiprotocol IPv4 unicast
    ]);
    assert_eq!(
        open_capabilities(&bytes),
        vec![Capability::MultiProtocol {
            afi: Afi::IPV4,
            safi: Safi::UNICAST
        }]
    );
}

#[test]
fn rfc9072_extended_parameters_used_only_when_needed() {
    // 60 unknown capabilities of 3 value bytes: 60 × (2 + 5) = 420 bytes of
    // parameters, more than one octet can count; in the extended format each
    // parameter header is 3 bytes, so 60 × 8 = 480.
    let caps: Vec<Capability> = (0..60)
        .map(|i| Capability::Unknown {
            code: 200,
            value: Bytes::from(vec![i, i, i]),
        })
        .collect();
    let open = Open::new(Asn(65001), HoldTime::DEFAULT, id(10, 0, 0, 1), caps);
    let bytes = Message::Open(open.clone())
        .to_bytes(&Codec::default())
        .unwrap();
    assert_eq!(
        &bytes[28..32],
        &[0xff, 0xff, 0x01, 0xe0],
        "255, 255, then length 480"
    );
    assert_eq!(
        bytes[32..35],
        [0x02, 0x00, 0x05],
        "capabilities parameter, 2-octet length 5"
    );
    assert_eq!(
        decode(&bytes, &Codec::default()).message,
        Message::Open(open)
    );
}
