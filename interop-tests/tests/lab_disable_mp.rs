//! BGPPeer `disableMP`, as MetalLB's FRR mode means it: the session
//! carries its own address family alone (no IPv6 unicast over an IPv4
//! session), so the router, though ready for both families on that
//! session, negotiates IPv4 unicast only. Without it, our OPEN offers both
//! and the router negotiates both. The BGPPeer goes through the real
//! compiler and the speaker's session configuration.

use std::net::IpAddr;

mod common;

use common::{CONVERGE, NODE_AS, Node, net, routes};
use ferrolb_crds::config::{Resources, compile};
use ferrolb_crds::manifest::read_yaml;
use ferrolb_speaker::announce::peer_config;
use interop_tests::{
    Bird, Family, Frr, Host, Lab, LabError, Neighbor, RouterConfig, wait_established, wait_paths,
};

/// The session the speaker runs for a BGPPeer from `n` to `router`.
fn session(n: &Host, router: IpAddr, disable_mp: bool) -> ferrolb_bgp::peer::PeerConfig {
    let yaml = format!(
        "apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {{name: r, namespace: metallb-system}}\n\
         spec: {{myASN: {NODE_AS}, peerASN: 64500, peerAddress: {router}, disableMP: {disable_mp}}}\n"
    );
    let mut resources = Resources::default();
    let (_, errors) = read_yaml(&yaml, &mut resources);
    assert!(errors.is_empty(), "{errors:?}");
    let compiled = compile(&resources).expect("a valid BGPPeer");
    let peer = compiled.config.peers.values().next().expect("one peer");
    let restart = ferrolb_bgp::peer::GracefulRestartConfig {
        restart_time: 120,
        restarted_at: None,
    };
    let mut config = peer_config(peer, Some(n.ipv4), restart, None).expect("a session");
    config.backoff.cap = std::time::Duration::from_secs(2);
    config
}

fn router_config(r: &Host, n: &Host) -> RouterConfig {
    RouterConfig::new(64500, r.ipv4).neighbor(
        Neighbor::new(n.ipv4.into(), NODE_AS)
            .no_export()
            .families(&[Family::Ipv4, Family::Ipv6]),
    )
}

/// A router `r` and a node `n` on one LAN.
fn lab(tag: &str) -> interop_tests::Result<(Lab, Host, Host)> {
    let mut lab = Lab::new(tag)?;
    let r = lab.add_host("r")?;
    let n = lab.add_host("n")?;
    Ok((lab, r, n))
}

/// Runs a session with and then without multiprotocol for the other
/// family; `ipv6_negotiated` asks the router whether IPv6 unicast was
/// negotiated with the node.
fn scenario(
    lab: &Lab,
    router: &dyn interop_tests::Router,
    n: &Host,
    r: &Host,
    ipv6_negotiated: &dyn Fn() -> interop_tests::Result<bool>,
) -> interop_tests::Result<()> {
    let node = Node::new(n)?;
    let vip = net("198.51.100.10/32");
    for disable_mp in [false, true] {
        let speaker = node.spawn(session(n, r.ipv4.into(), disable_mp));
        node.announce(&speaker, routes([vip], None));
        wait_established(lab, router, n.ipv4.into())?;
        wait_paths(lab, router, vip, 1, CONVERGE)?;
        let ipv6 = ipv6_negotiated()?;
        node.shutdown(speaker, "next case");
        if ipv6 == disable_mp {
            return Err(LabError::Invalid(format!(
                "disableMP {disable_mp}: IPv6 unicast negotiated: {ipv6} (want {})",
                !disable_mp
            )));
        }
        // The next session must be a new one, not the old one still seen.
        lab.wait_for("the router to see the session close", CONVERGE, || {
            Ok(match router.session_state(n.ipv4.into())? {
                Some(interop_tests::SessionState::Established) => {
                    interop_tests::Probe::Pending("Established".into())
                }
                _ => interop_tests::Probe::Done(()),
            })
        })?;
    }
    Ok(())
}

#[test]
fn disable_mp_negotiates_the_sessions_own_family_alone_with_frr() -> interop_tests::Result<()> {
    let (lab, r, n) = lab("nompfrr")?;
    let frr = Frr::start(&lab, &r, &router_config(&r, &n))?;
    let ipv6 = || {
        let neighbor = frr.neighbor(n.ipv4.into())?;
        Ok(
            neighbor["neighborCapabilities"]["multiprotocolExtensions"]["ipv6Unicast"]["advertisedAndReceived"]
                == serde_json::Value::Bool(true),
        )
    };
    scenario(&lab, &frr, &n, &r, &ipv6)
}

#[test]
fn disable_mp_negotiates_the_sessions_own_family_alone_with_bird() -> interop_tests::Result<()> {
    let (lab, r, n) = lab("nompbird")?;
    let bird = Bird::start(&lab, &r, &router_config(&r, &n))?;
    let name = bird
        .protocol(n.ipv4.into())
        .expect("the node's protocol")
        .to_string();
    let ipv6 = || {
        let out = bird.birdc(&["show", "protocols", "all", &name])?;
        // "Neighbor capabilities" lists what the node offered; its
        // "AF announced:" line names the families.
        let neighbor = out
            .split("Neighbor capabilities")
            .nth(1)
            .ok_or_else(|| LabError::Invalid(format!("no neighbor capabilities in:\n{out}")))?;
        let families = neighbor
            .lines()
            .find(|l| l.contains("AF announced:"))
            .ok_or_else(|| LabError::Invalid(format!("no AF announced in:\n{out}")))?;
        Ok(families.contains("ipv6"))
    };
    scenario(&lab, &bird, &n, &r, &ipv6)
}
