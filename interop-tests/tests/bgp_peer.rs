//! FerroLB's own BGP stack (codec, state machine, session driver) against
//! real FRR and BIRD routers: sessions over IPv4 and IPv6, routes with their
//! attributes in the routers' RIBs and kernels, withdrawal, and a shutdown
//! that withdraws and says goodbye with Cease / Administrative Shutdown.

use std::net::IpAddr;

mod common;

use common::{CONVERGE, NODE_AS, Node, net, peer, routes};
use ferrolb_bgp::fsm::State;
use interop_tests::{
    Bird, Community, Family, Frr, Lab, LargeCommunity, Neighbor, Probe, Router, RouterConfig,
    SessionState, wait_established, wait_kernel_route, wait_paths, wait_session,
};
use ipnet::IpNet;

#[test]
fn ferrolb_announces_to_frr_and_bird_over_ipv4_and_ipv6() -> interop_tests::Result<()> {
    let mut lab = Lab::new("bgppeer")?;
    let r1 = lab.add_host("r1")?;
    let r2 = lab.add_host("r2")?;
    let n1 = lab.add_host_at("n1", 11)?;
    let v6 = [Family::Ipv6];
    let frr = Frr::start(
        &lab,
        &r1,
        &RouterConfig::new(64500, r1.ipv4)
            .neighbor(Neighbor::new(n1.ipv4.into(), NODE_AS).no_export())
            .neighbor(
                Neighbor::new(n1.ipv6.into(), NODE_AS)
                    .no_export()
                    .families(&v6),
            ),
    )?;
    let bird = Bird::start(
        &lab,
        &r2,
        &RouterConfig::new(64501, r2.ipv4)
            .neighbor(Neighbor::new(n1.ipv4.into(), NODE_AS))
            .neighbor(Neighbor::new(n1.ipv6.into(), NODE_AS).families(&v6)),
    )?;

    let node = Node::new(&n1)?;
    let peers = [
        node.spawn(peer("frr-v4", &n1, r1.ipv4.into(), NODE_AS, 64500)),
        node.spawn(peer("frr-v6", &n1, r1.ipv6.into(), NODE_AS, 64500)),
        node.spawn(peer("bird-v4", &n1, r2.ipv4.into(), NODE_AS, 64501)),
        node.spawn(peer("bird-v6", &n1, r2.ipv6.into(), NODE_AS, 64501)),
    ];
    let v4_routes = routes([net("198.51.100.10/32"), net("198.51.100.11/32")], None);
    let v6_routes = routes([net("2001:db8:100::10/128")], None);
    for (i, p) in peers.iter().enumerate() {
        let r = if i % 2 == 0 {
            v4_routes.clone()
        } else {
            v6_routes.clone()
        };
        node.announce(p, r);
    }

    for router in [&frr as &dyn Router, &bird] {
        for a in [IpAddr::from(n1.ipv4), IpAddr::from(n1.ipv6)] {
            wait_established(&lab, router, a)?;
        }
    }

    let vip: IpNet = "198.51.100.10/32".parse().expect("literal");
    let vip6: IpNet = "2001:db8:100::10/128".parse().expect("literal");
    for router in [&frr as &dyn Router, &bird] {
        let paths = wait_paths(&lab, router, vip, 1, CONVERGE)?;
        let p = &paths[0];
        assert_eq!(p.as_sequence(), [NODE_AS], "{}", router.describe());
        assert_eq!(
            p.next_hops,
            [IpAddr::from(n1.ipv4)],
            "{}",
            router.describe()
        );
        assert_eq!(
            p.communities,
            [Community::new(64512, 100)],
            "{}",
            router.describe()
        );
        assert_eq!(
            p.large_communities,
            [LargeCommunity {
                global: 64512,
                local1: 1,
                local2: 2
            }],
            "{}",
            router.describe()
        );
        assert_eq!(
            p.origin,
            Some(interop_tests::route::Origin::Igp),
            "{}",
            router.describe()
        );
        let paths6 = wait_paths(&lab, router, vip6, 1, CONVERGE)?;
        assert!(
            paths6[0].next_hops.contains(&IpAddr::from(n1.ipv6)),
            "{}: {:?}",
            router.describe(),
            paths6[0]
        );
    }
    for (router, host) in [(&frr as &dyn Router, &r1), (&bird, &r2)] {
        wait_kernel_route(&lab, host, vip, &[n1.ipv4.into()], CONVERGE)
            .map_err(|e| interop_tests::LabError::Invalid(format!("{}: {e}", router.describe())))?;
        wait_kernel_route(&lab, host, vip6, &[n1.ipv6.into()], CONVERGE)?;
    }

    // A diff: one route withdrawn, the other stays, the session stays up.
    let kept: IpNet = "198.51.100.11/32".parse().expect("literal");
    let established = peers[0].status().established_count;
    node.announce(&peers[0], routes([kept], None));
    node.announce(&peers[2], routes([kept], None));
    wait_paths(&lab, &frr, vip, 0, CONVERGE)?;
    wait_paths(&lab, &bird, vip, 0, CONVERGE)?;
    wait_paths(&lab, &frr, kept, 1, CONVERGE)?;
    assert_eq!(
        peers[0].status().established_count,
        established,
        "a route change never resets the session"
    );
    assert_eq!(peers[0].status().state, State::Established);

    // Shutdown: routes withdrawn, session closed with Cease / Administrative Shutdown.
    let [p0, p1, p2, p3] = peers;
    for p in [p0, p1, p2, p3] {
        node.shutdown(p, "maintenance");
    }
    wait_paths(&lab, &frr, kept, 0, CONVERGE)?;
    wait_session(&lab, &frr, n1.ipv4.into(), SessionState::Active, CONVERGE)
        .or_else(|_| wait_session(&lab, &frr, n1.ipv4.into(), SessionState::Idle, CONVERGE))?;
    let neighbor = lab.wait_for("FRR to record our NOTIFICATION", CONVERGE, || {
        let n = frr.neighbor(n1.ipv4.into())?;
        let received = n["lastResetDueTo"].as_str() == Some("BGP Notification received");
        Ok(if received {
            Probe::Done(n)
        } else {
            Probe::Pending(n.to_string())
        })
    })?;
    assert_eq!(
        neighbor["lastNotificationReason"], "Cease/Administrative Shutdown",
        "{neighbor}"
    );
    assert_eq!(
        neighbor["lastShutdownDescription"], "maintenance",
        "{neighbor}"
    );
    let bird_log = std::fs::read_to_string(lab.dir().join("r2-bird/bird.log")).unwrap_or_default();
    assert!(
        bird_log.contains("maintenance"),
        "BIRD logs the shutdown communication:\n{bird_log}"
    );
    Ok(())
}
