//! Capability negotiation (RFC 5492, 6793, 7911, 8654, 4760).

use ferrolb_bgp::wire::{
    AddPathFamily, AddPathMode, Afi, Asn, BgpId, Capability, Family, HoldTime, Open, Safi,
    negotiate,
};

fn open(asn: u32, hold: u16, caps: Vec<Capability>) -> Open {
    Open::new(
        Asn(asn),
        HoldTime::new(hold).unwrap(),
        BgpId::new(asn).unwrap(),
        caps,
    )
}

fn mp(afi: Afi) -> Capability {
    Capability::MultiProtocol {
        afi,
        safi: Safi::UNICAST,
    }
}

fn add_path(afi: Afi, mode: AddPathMode) -> Capability {
    Capability::AddPath(vec![AddPathFamily {
        afi,
        safi: Safi::UNICAST,
        mode,
    }])
}

#[test]
fn common_capabilities_switch_the_codec() {
    let local = open(
        4_200_000_000,
        90,
        vec![
            mp(Afi::IPV4),
            mp(Afi::IPV6),
            Capability::FourOctetAs(Asn(4_200_000_000)),
            Capability::ExtendedMessage,
            Capability::RouteRefresh,
            add_path(Afi::IPV4, AddPathMode::Send),
            add_path(Afi::IPV6, AddPathMode::Both),
        ],
    );
    let remote = open(
        65002,
        30,
        vec![
            mp(Afi::IPV6),
            Capability::FourOctetAs(Asn(65002)),
            Capability::ExtendedMessage,
            add_path(Afi::IPV6, AddPathMode::Receive),
        ],
    );
    let n = negotiate(&local, &remote);
    assert_eq!(n.peer_asn, Asn(65002));
    assert_eq!(n.hold_time, HoldTime::new(30).unwrap());
    assert_eq!(n.families, vec![Family::Ipv6Unicast]);
    assert!(n.receive.four_octet_as && n.send.four_octet_as);
    assert_eq!(n.send.max_message_len(), 65535);
    assert!(!n.route_refresh);
    // We send IPv6 path ids (we send, they receive); they send none.
    assert!(n.send.add_path.ipv6_unicast);
    assert!(!n.receive.add_path.ipv6_unicast);
    // IPv4 is not a common family, so its add-path is off.
    assert!(!n.send.add_path.ipv4_unicast);
}

#[test]
fn a_plain_peer_gets_plain_ipv4() {
    let local = open(
        65001,
        90,
        vec![mp(Afi::IPV4), Capability::FourOctetAs(Asn(65001))],
    );
    let remote = open(65002, 90, vec![]);
    let n = negotiate(&local, &remote);
    assert_eq!(n.families, vec![Family::Ipv4Unicast]);
    assert!(!n.receive.four_octet_as);
    assert_eq!(n.receive.max_message_len(), 4096);
    assert_eq!(n.peer_graceful_restart, None);
}
