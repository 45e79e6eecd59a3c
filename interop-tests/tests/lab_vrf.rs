//! A BGPPeer's `vrf`: the session's sockets are bound to the VRF device
//! (SO_BINDTODEVICE) both ways. The lab kernel has no VRF device type, so an
//! ordinary interface stands in for one: the node reaches the router over
//! two links, the LAN (`eth0`, preferred by the node's main table) and a
//! second link (`vrf0`, the "VRF"). The session must use `vrf0` alone:
//! outbound, its source (our next hop) is the node's `vrf0` address; with
//! `vrf0` down it fails with an error naming the device instead of going
//! round through `eth0`; inbound, the router's connection is that peer's
//! session only when it arrives on `vrf0`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::thread::sleep;
use std::time::Duration;

mod common;

use common::{CONVERGE, NODE_AS, Node, net, peer, routes, wait_status};
use ferrolb_bgp::fsm::{HoldTime, State};
use interop_tests::routers::RouterKind;
use interop_tests::{Host, Lab, LabError, Neighbor, RouterConfig, wait_established, wait_paths};

const DEVICE: &str = "vrf0";
const ROUTER_ON_LINK: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const NODE_ON_LINK: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);

/// A second link `vrf0` between `n` and `r`, and a node main table that
/// prefers the LAN to reach the router's `vrf0` address.
fn second_link(n: &Host, r: &Host) -> interop_tests::Result<()> {
    interop_tests::lab::link(n, DEVICE, r, DEVICE)?;
    for (host, addr) in [(n, NODE_ON_LINK), (r, ROUTER_ON_LINK)] {
        host.netns
            .ip(["addr", "add", &format!("{addr}/24"), "dev", DEVICE])?;
        host.netns.ip(["link", "set", DEVICE, "up"])?;
    }
    // Longer than the link's /24: unbound, a connection to the router's
    // vrf0 address would leave through eth0.
    n.netns.ip([
        "route",
        "add",
        &format!("{ROUTER_ON_LINK}/32"),
        "via",
        &r.ipv4.to_string(),
        "dev",
        "eth0",
    ])?;
    Ok(())
}

fn scenario(kind: RouterKind) -> interop_tests::Result<()> {
    let mut lab = Lab::new(&format!("vrf{kind:?}"))?;
    let r = lab.add_host("r")?;
    let n = lab.add_host("n")?;
    second_link(&n, &r)?;
    let router_config = |multihop: bool| {
        let n = Neighbor::new(NODE_ON_LINK.into(), NODE_AS)
            .no_export()
            .timers(1, 3);
        RouterConfig::new(64500, r.ipv4).neighbor(if multihop { n.multihop(2) } else { n })
    };
    let mut router = kind.start(&lab, &r, &router_config(false))?;
    let node = Node::new(&n)?;
    let acceptor = node
        .acceptor(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 179))
        .map_err(|e| LabError::io("listen on the node", e))?;
    let mut config = peer("r", &n, ROUTER_ON_LINK.into(), NODE_AS, 64500);
    config.vrf = Some(DEVICE.to_string());
    config.hold_time = HoldTime::new(3).expect("3 s is a valid hold time");
    let vip = net("198.51.100.10/32");

    // Outbound: through vrf0, whatever the main table prefers.
    let speaker = node.spawn(config.clone());
    node.announce(&speaker, routes([vip], None));
    wait_established(&lab, router.as_ref(), NODE_ON_LINK.into())?;
    let paths = wait_paths(&lab, router.as_ref(), vip, 1, CONVERGE)?;
    assert_eq!(
        paths[0].next_hops,
        [IpAddr::from(NODE_ON_LINK)],
        "the next hop is our address in the VRF"
    );

    // vrf0 down: no way round through eth0, and an error that says why.
    n.netns.ip(["link", "set", DEVICE, "down"])?;
    let status = wait_status(&lab, "an error naming the device", &speaker.watch(), |s| {
        s.state != State::Established
            && s.last_error
                .as_deref()
                .is_some_and(|e| e.contains("bound to device vrf0"))
    })?;
    let error = status.last_error.unwrap_or_default();
    assert!(error.contains("unreachable"), "{error}");
    n.netns.ip(["link", "set", DEVICE, "up"])?;
    wait_status(&lab, "the session back over vrf0", &speaker.watch(), |s| {
        s.state == State::Established
    })?;
    node.shutdown(speaker, "inbound phase");

    // Inbound: the router's connections reach the node through eth0 first
    // (a route on the router with its vrf0 address as source): not this
    // peer's session, whose VRF is vrf0.
    r.netns.ip([
        "route",
        "add",
        &format!("{NODE_ON_LINK}/32"),
        "via",
        &n.ipv4.to_string(),
        "dev",
        "eth0",
        "src",
        &ROUTER_ON_LINK.to_string(),
    ])?;
    // BIRD binds a directly connected session's socket to the neighbour's
    // interface itself, so its connections would never take the route:
    // as a multihop session it leaves that to the routing table.
    if kind == RouterKind::Bird {
        router.reconfigure(&lab, &router_config(true))?;
    }
    config.passive = true;
    let speaker = node.spawn(config.clone());
    node.register(&acceptor, &config, &speaker)?;
    node.announce(&speaker, routes([vip], None));
    // The router retries every second: a few attempts arrive on eth0.
    sleep(Duration::from_secs(4));
    let status = speaker.status();
    assert_eq!(
        status.established_count, 0,
        "a connection that arrived on eth0 became the vrf0 peer's session: {status:?}"
    );
    r.netns
        .ip(["route", "del", &format!("{NODE_ON_LINK}/32")])?;
    wait_status(
        &lab,
        "the session accepted on vrf0",
        &speaker.watch(),
        |s| s.state == State::Established,
    )?;
    wait_established(&lab, router.as_ref(), NODE_ON_LINK.into())?;
    node.shutdown(speaker, "done");
    acceptor.unregister(&config);
    Ok(())
}

#[test]
fn a_vrf_session_uses_its_device_alone_with_frr() -> interop_tests::Result<()> {
    scenario(RouterKind::Frr)
}

#[test]
fn a_vrf_session_uses_its_device_alone_with_bird() -> interop_tests::Result<()> {
    scenario(RouterKind::Bird)
}
