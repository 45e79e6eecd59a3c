//! BGPPeer objects become exactly the sessions they describe.

mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use ferrolb_bgp::fsm::{Family, PeerAs};
use ferrolb_bgp::peer::GracefulRestartConfig;
use ferrolb_bgp::transport::{TTL_DIRECT, TTL_MULTIHOP};
use ferrolb_speaker::announce::{LinkPeer, PeerConfigError, peer_config};

const NODE: Option<Ipv4Addr> = Some(Ipv4Addr::new(10, 0, 0, 11));
const RESTART: GracefulRestartConfig = GracefulRestartConfig {
    restart_time: 30,
    restarted_at: None,
};

fn peer(spec: &str) -> ferrolb_crds::config::Peer {
    let yaml = format!(
        "apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {{name: p, namespace: metallb-system}}\nspec: {spec}\n"
    );
    let config = common::compile_yaml(&yaml);
    config.peers.into_values().next().expect("one peer")
}

#[test]
fn an_ebgp_peer_gets_metallb_defaults_and_ttl_1() {
    let c = peer_config(
        &peer("{myASN: 64512, peerASN: 64500, peerAddress: 10.0.0.1}"),
        NODE,
        RESTART,
        None,
    )
    .unwrap();
    assert_eq!(c.address, "10.0.0.1:179".parse().unwrap());
    assert_eq!(c.local_as, 64512);
    assert_eq!(c.peer_as, PeerAs::Exact(64500));
    assert_eq!(c.hold_time.seconds(), 90);
    assert_eq!(c.keepalive.map(|k| k.get()), Some(30));
    assert_eq!(c.ttl, TTL_DIRECT);
    assert_eq!(c.router_id.get(), u32::from(Ipv4Addr::new(10, 0, 0, 11)));
    assert!(c.password.is_none());
}

#[test]
fn every_field_that_matters_reaches_the_session() {
    let c = peer_config(
        &peer(
            "{myASN: 64512, peerASN: 64500, peerAddress: 10.0.0.1, peerPort: 1179, sourceAddress: 10.0.0.11,
              holdTime: 9s, keepaliveTime: 3s, password: s3cret, ebgpMultiHop: true, routerID: 192.0.2.1,
              disableMP: true, connectTime: 5s, vrf: red}",
        ),
        NODE,
        RESTART,
        None,
    )
    .unwrap();
    assert_eq!(c.address, "10.0.0.1:1179".parse().unwrap());
    assert_eq!(c.source, Some("10.0.0.11".parse().unwrap()));
    assert_eq!(
        c.vrf.as_deref(),
        Some("red"),
        "sockets bound to the VRF device"
    );
    assert_eq!(c.hold_time.seconds(), 9);
    assert_eq!(c.keepalive.map(|k| k.get()), Some(3));
    assert_eq!(
        c.password.as_ref().map(|p| p.as_bytes()),
        Some(&b"s3cret"[..])
    );
    assert_eq!(c.ttl, TTL_MULTIHOP);
    assert_eq!(c.router_id.to_string(), "192.0.2.1");
    assert!(c.graceful_restart.is_none());
    assert_eq!(c.families, [Family::IPV4_UNICAST], "disableMP: IPv4 only");
    assert_eq!(
        (c.backoff.base, c.backoff.cap),
        (Duration::from_secs(5), Duration::from_secs(5)),
        "connectTime is the interval between attempts"
    );
}

#[test]
fn enable_graceful_restart_gives_the_session_the_nodes_restart_parameters() {
    let c = peer_config(
        &peer("{myASN: 64512, peerASN: 64500, peerAddress: 10.0.0.1, enableGracefulRestart: true}"),
        NODE,
        RESTART,
        None,
    )
    .unwrap();
    assert_eq!(c.graceful_restart, Some(RESTART));
}

#[test]
fn dynamic_asn_and_ibgp_map_to_the_fsm_rules() {
    let ibgp = peer_config(
        &peer("{myASN: 64512, dynamicASN: internal, peerAddress: 10.0.0.1}"),
        NODE,
        RESTART,
        None,
    )
    .unwrap();
    assert_eq!(ibgp.peer_as, PeerAs::Internal);
    assert_eq!(ibgp.ttl, TTL_MULTIHOP);
    let ebgp = peer_config(
        &peer("{myASN: 64512, dynamicASN: external, peerAddress: 10.0.0.1}"),
        NODE,
        RESTART,
        None,
    )
    .unwrap();
    assert_eq!(ebgp.peer_as, PeerAs::External);
}

#[test]
fn what_cannot_run_says_why() {
    let no_id = peer_config(
        &peer("{myASN: 64512, peerASN: 64500, peerAddress: 10.0.0.1}"),
        None,
        RESTART,
        None,
    );
    assert!(matches!(no_id, Err(PeerConfigError::NoRouterId { .. })));
    let unheard = peer_config(
        &peer("{myASN: 64512, peerASN: 64500, interface: eth1}"),
        NODE,
        RESTART,
        None,
    );
    assert!(
        matches!(&unheard, Err(PeerConfigError::NoLinkPeer { interface, .. }) if interface == "eth1"),
        "{unheard:?}"
    );
}

/// Unnumbered (`interface`): the session goes to the router found on the
/// link, at its link-local address scoped to the interface, offers IPv4
/// routes with an IPv6 next hop (RFC 8950), carries both families, and
/// takes the interface's global address as the global next hop.
#[test]
fn an_unnumbered_peer_runs_over_the_routers_link_local_address() {
    let found = LinkPeer {
        ifindex: 7,
        address: "fe80::1".parse().unwrap(),
        global: Some("fd00::11".parse().unwrap()),
    };
    let c = peer_config(
        &peer("{myASN: 64512, peerASN: 64500, interface: eth1}"),
        NODE,
        RESTART,
        Some(found),
    )
    .unwrap();
    assert_eq!(c.address, "[fe80::1%7]:179".parse().unwrap());
    let std::net::SocketAddr::V6(v6) = c.address else {
        panic!("IPv6");
    };
    assert_eq!(v6.scope_id(), 7);
    assert!(c.extended_next_hop);
    assert_eq!(c.next_hop_v6, found.global);
    assert_eq!(c.families, [Family::IPV4_UNICAST, Family::IPV6_UNICAST]);
    assert_eq!(c.ttl, TTL_DIRECT);
    let numbered = peer_config(
        &peer("{myASN: 64512, peerASN: 64500, peerAddress: 10.0.0.1}"),
        NODE,
        RESTART,
        Some(found),
    )
    .unwrap();
    assert!(
        !numbered.extended_next_hop,
        "only unnumbered sessions offer it"
    );
}

/// MetalLB v0.16's `localASN`: the session presents it instead of `myASN`
/// (FRR's `local-as no-prepend replace-as`), and iBGP follows it: a
/// multi-hop eBGP session by myASN is iBGP by localASN, which the
/// compiler refuses as it refuses any multi-hop iBGP peer.
#[test]
fn local_asn_is_the_sessions_own_as() {
    let c = peer_config(
        &peer("{myASN: 64512, localASN: 4200000000, peerASN: 64500, peerAddress: 10.0.0.1}"),
        NODE,
        RESTART,
        None,
    )
    .unwrap();
    assert_eq!(c.local_as, 4_200_000_000);
    assert_eq!(c.peer_as, PeerAs::Exact(64500));
    let ibgp = peer("{myASN: 64512, localASN: 64500, peerASN: 64500, peerAddress: 10.0.0.1}");
    assert!(ibgp.peer_asn.is_internal(ibgp.my_asn));
}
