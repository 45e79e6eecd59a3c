//! FerroLB's BGP stack against FRR, BIRD and GoBGP: every behaviour runs
//! against each router in turn. eBGP IPv4 and IPv6 with attributes and
//! withdrawals, iBGP with LOCAL_PREF, 4-octet AS numbers, TCP MD5, a frozen
//! router caught by the hold timer, a router restart, a passive session
//! reached through our listener; then extended messages (FRR against BIRD)
//! and ECMP from two FerroLB nodes.

mod common;

use std::net::IpAddr;
use std::num::NonZeroU16;
use std::time::Duration;

use common::{CONVERGE, NODE_AS, Node, many_v4, net, peer, routes, wait_count, wait_status};
use ferrolb_bgp::fsm::{HoldTime, State};
use ferrolb_bgp::transport::Password;
use interop_tests::routers::{LabRouter, RouterKind};
use interop_tests::{
    Bird, Family, Frr, Host, Lab, Neighbor, Router, RouterConfig, wait_established,
    wait_kernel_route, wait_paths,
};
use nix::sys::signal::Signal;

/// A router `r` and a FerroLB node `n` on a fresh lab, the router peering
/// with `neighbors` built from the node.
fn lab_with(
    kind: RouterKind,
    tag: &str,
    neighbors: impl Fn(&Host) -> Vec<Neighbor>,
) -> interop_tests::Result<(Lab, Host, Host, Box<dyn LabRouter>)> {
    let mut lab = Lab::new(&format!("{tag}{kind:?}"))?;
    let r = lab.add_host("r")?;
    let n = lab.add_host("n")?;
    let config = neighbors(&n)
        .into_iter()
        .fold(RouterConfig::new(64500, r.ipv4), RouterConfig::neighbor);
    let router = kind.start(&lab, &r, &config)?;
    Ok((lab, r, n, router))
}

/// Runs `scenario` against every router, naming the router on failure.
fn each_router(
    scenario: impl Fn(RouterKind) -> interop_tests::Result<()>,
) -> interop_tests::Result<()> {
    for kind in RouterKind::ALL {
        scenario(kind).map_err(|e| interop_tests::LabError::Invalid(format!("{kind:?}: {e}")))?;
    }
    Ok(())
}

#[test]
fn every_router_gets_our_ipv4_and_ipv6_routes_with_attributes_and_withdrawals()
-> interop_tests::Result<()> {
    each_router(|kind| {
        let (lab, r, n, router) = lab_with(kind, "ebgp", |n| {
            vec![
                Neighbor::new(n.ipv4.into(), NODE_AS).no_export(),
                Neighbor::new(n.ipv6.into(), NODE_AS)
                    .no_export()
                    .families(&[Family::Ipv6]),
            ]
        })?;
        let node = Node::new(&n)?;
        let v4 = node.spawn(peer("v4", &n, r.ipv4.into(), NODE_AS, 64500));
        let v6 = node.spawn(peer("v6", &n, r.ipv6.into(), NODE_AS, 64500));
        let (a, b, c) = (
            net("198.51.100.10/32"),
            net("198.51.100.11/32"),
            net("2001:db8:100::10/128"),
        );
        node.announce(&v4, routes([a, b], None));
        node.announce(&v6, routes([c], None));
        for (prefix, hop) in [(a, IpAddr::from(n.ipv4)), (c, IpAddr::from(n.ipv6))] {
            let paths = wait_paths(&lab, router.as_ref(), prefix, 1, CONVERGE)?;
            let p = &paths[0];
            assert_eq!(p.as_sequence(), [NODE_AS], "{kind:?} {prefix}");
            assert!(p.next_hops.contains(&hop), "{kind:?} {prefix}: {p:?}");
            assert_eq!(p.communities[0].to_string(), "64512:100", "{kind:?}");
            assert_eq!(p.large_communities[0].to_string(), "64512:1:2", "{kind:?}");
            if router.installs_routes() {
                wait_kernel_route(&lab, &r, prefix, &[hop], CONVERGE)?;
            }
        }
        let established = v4.status().established_count;
        node.announce(&v4, routes([b], None));
        wait_paths(&lab, router.as_ref(), a, 0, CONVERGE)?;
        wait_paths(&lab, router.as_ref(), b, 1, CONVERGE)?;
        assert_eq!(
            v4.status().established_count,
            established,
            "{kind:?}: a withdrawal reset the session"
        );
        Ok(())
    })
}

#[test]
fn ibgp_carries_local_pref_and_an_empty_as_path() -> interop_tests::Result<()> {
    each_router(|kind| {
        let mut lab = Lab::new(&format!("ibgp{kind:?}"))?;
        let r = lab.add_host("r")?;
        let n = lab.add_host("n")?;
        let router = kind.start(
            &lab,
            &r,
            &RouterConfig::new(NODE_AS, r.ipv4).neighbor(Neighbor::new(n.ipv4.into(), NODE_AS)),
        )?;
        let node = Node::new(&n)?;
        let speaker = node.spawn(peer("r", &n, r.ipv4.into(), NODE_AS, NODE_AS));
        node.announce(&speaker, routes([net("198.51.100.10/32")], Some(150)));
        let paths = wait_paths(&lab, router.as_ref(), net("198.51.100.10/32"), 1, CONVERGE)?;
        assert_eq!(paths[0].local_pref, Some(150), "{kind:?}");
        assert!(
            paths[0].as_sequence().is_empty(),
            "{kind:?}: {:?}",
            paths[0]
        );
        Ok(())
    })
}

#[test]
fn four_octet_as_numbers_reach_every_router_intact() -> interop_tests::Result<()> {
    const BIG_AS: u32 = 4_200_000_001;
    each_router(|kind| {
        let (lab, r, n, router) =
            lab_with(kind, "as4", |n| vec![Neighbor::new(n.ipv4.into(), BIG_AS)])?;
        let node = Node::new(&n)?;
        let speaker = node.spawn(peer("r", &n, r.ipv4.into(), BIG_AS, 64500));
        node.announce(&speaker, routes([net("198.51.100.10/32")], None));
        let paths = wait_paths(&lab, router.as_ref(), net("198.51.100.10/32"), 1, CONVERGE)?;
        assert_eq!(paths[0].as_sequence(), [BIG_AS], "{kind:?}");
        Ok(())
    })
}

#[test]
fn md5_the_right_password_connects_and_a_wrong_one_never_does() -> interop_tests::Result<()> {
    each_router(|kind| {
        let (lab, r, n, router) = lab_with(kind, "ourmd5", |n| {
            vec![Neighbor::new(n.ipv4.into(), NODE_AS).password("s3cret")]
        })?;
        let node = Node::new(&n)?;
        let mut wrong = peer("r", &n, r.ipv4.into(), NODE_AS, 64500);
        wrong.password = Some(Password::new("wrong").expect("short password"));
        wrong.connect_timeout = Duration::from_secs(1);
        let speaker = node.spawn(wrong.clone());
        // Several attempts fit in four seconds; none may succeed.
        std::thread::sleep(Duration::from_secs(4));
        let status = speaker.status();
        assert_eq!(status.established_count, 0, "{kind:?}: {status:?}");
        node.shutdown(speaker, "wrong password");
        let mut right = wrong;
        right.password = Some(Password::new("s3cret").expect("short password"));
        let speaker = node.spawn(right);
        wait_status(
            &lab,
            "our session with the right password",
            &speaker.watch(),
            |s| s.state == State::Established,
        )?;
        wait_established(&lab, router.as_ref(), n.ipv4.into())
    })
}

#[test]
fn a_frozen_router_is_caught_by_the_hold_timer_and_the_session_recovers()
-> interop_tests::Result<()> {
    each_router(|kind| {
        let (lab, r, n, router) = lab_with(kind, "hold", |n| {
            vec![Neighbor::new(n.ipv4.into(), NODE_AS).timers(1, 3)]
        })?;
        let node = Node::new(&n)?;
        let mut config = peer("r", &n, r.ipv4.into(), NODE_AS, 64500);
        config.hold_time = HoldTime::new(3).expect("valid hold time");
        config.keepalive = NonZeroU16::new(1);
        let speaker = node.spawn(config);
        node.announce(&speaker, routes([net("198.51.100.10/32")], None));
        let watch = speaker.watch();
        wait_status(&lab, "Established", &watch, |s| {
            s.state == State::Established
        })?;
        wait_paths(&lab, router.as_ref(), net("198.51.100.10/32"), 1, CONVERGE)?;

        router.bgp_daemon().signal(Signal::SIGSTOP)?;
        let frozen = std::time::Instant::now();
        wait_status(&lab, "the hold timer to end the session", &watch, |s| {
            s.state != State::Established
        })?;
        let detected = frozen.elapsed();
        assert!(
            detected >= Duration::from_secs(2),
            "{kind:?}: not before the hold time: {detected:?}"
        );
        router.bgp_daemon().signal(Signal::SIGCONT)?;
        wait_status(&lab, "the session to come back", &watch, |s| {
            s.state == State::Established && s.established_count >= 2
        })?;
        wait_paths(&lab, router.as_ref(), net("198.51.100.10/32"), 1, CONVERGE)?;
        Ok(())
    })
}

#[test]
fn a_restarted_router_gets_the_whole_table_again() -> interop_tests::Result<()> {
    each_router(|kind| {
        let (lab, r, n, mut router) = lab_with(kind, "restart", |n| {
            vec![Neighbor::new(n.ipv4.into(), NODE_AS)]
        })?;
        let node = Node::new(&n)?;
        let speaker = node.spawn(peer("r", &n, r.ipv4.into(), NODE_AS, 64500));
        node.announce(&speaker, routes(many_v4(100), None));
        wait_count(&lab, "the router's routes from us", 100, || {
            router.accepted_from(n.ipv4.into())
        })?;
        router.restart_bgp(&lab)?;
        let watch = speaker.watch();
        wait_status(&lab, "the session after the restart", &watch, |s| {
            s.established_count >= 2 && s.state == State::Established
        })?;
        wait_count(
            &lab,
            "the router's routes from us after its restart",
            100,
            || router.accepted_from(n.ipv4.into()),
        )
    })
}

#[test]
fn a_passive_session_is_reached_through_the_listener_with_md5() -> interop_tests::Result<()> {
    each_router(|kind| {
        let (lab, r, n, router) = lab_with(kind, "listen", |n| {
            vec![Neighbor::new(n.ipv4.into(), NODE_AS).password("s3cret")]
        })?;
        let node = Node::new(&n)?;
        let acceptor = node
            .acceptor(std::net::SocketAddr::new(n.ipv4.into(), 179))
            .map_err(|e| interop_tests::LabError::io("listen on the node", e))?;
        let mut config = peer("r", &n, r.ipv4.into(), NODE_AS, 64500);
        config.passive = true;
        config.password = Some(Password::new("s3cret").expect("short password"));
        let speaker = node.spawn(config.clone());
        acceptor
            .register(&config, &speaker)
            .map_err(|e| interop_tests::LabError::Invalid(format!("register the peer: {e}")))?;
        node.announce(&speaker, routes([net("198.51.100.10/32")], None));
        // We never connect: the router's signed connection reaches the session.
        wait_status(&lab, "the passive session", &speaker.watch(), |s| {
            s.state == State::Established
        })?;
        wait_paths(&lab, router.as_ref(), net("198.51.100.10/32"), 1, CONVERGE)?;
        Ok(())
    })
}

#[test]
fn extended_messages_with_frr_carry_thousands_of_routes_in_one_update() -> interop_tests::Result<()>
{
    let mut lab = Lab::new("extmsg")?;
    let r1 = lab.add_host("r1")?;
    let r2 = lab.add_host("r2")?;
    let n = lab.add_host("n")?;
    let frr = Frr::start(
        &lab,
        &r1,
        &RouterConfig::new(64500, r1.ipv4)
            .neighbor(Neighbor::new(n.ipv4.into(), NODE_AS).no_export()),
    )?;
    // BIRD without extended messages: the same table needs 4096-byte UPDATEs.
    let bird = Bird::start(
        &lab,
        &r2,
        &RouterConfig::new(64501, r2.ipv4).neighbor(Neighbor::new(n.ipv4.into(), NODE_AS)),
    )?;
    let node = Node::new(&n)?;
    let to_frr = node.spawn(peer("frr", &n, r1.ipv4.into(), NODE_AS, 64500));
    let to_bird = node.spawn(peer("bird", &n, r2.ipv4.into(), NODE_AS, 64501));
    let table = routes(many_v4(3000), None);
    for (s, router) in [(&to_frr, "frr"), (&to_bird, "bird")] {
        wait_status(&lab, &format!("session with {router}"), &s.watch(), |st| {
            st.state == State::Established
        })?;
        node.announce(s, table.clone());
    }
    wait_count(&lab, "FRR's routes from us", 3000, || {
        frr.prefixes_received(n.ipv4.into())
    })?;
    wait_count(&lab, "BIRD's routes from us", 3000, || {
        bird.prefixes_received(n.ipv4.into())
    })?;
    // 3000 /32s are 15000 bytes of NLRI: one extended message, or four
    // 4096-byte UPDATEs.
    assert_eq!(to_frr.status().updates_sent, 1, "{:?}", to_frr.status());
    assert_eq!(to_bird.status().updates_sent, 4, "{:?}", to_bird.status());
    Ok(())
}

#[test]
fn two_ferrolb_nodes_give_frr_and_bird_an_ecmp_route() -> interop_tests::Result<()> {
    let mut lab = Lab::new("ourecmp")?;
    let r1 = lab.add_host("r1")?;
    let r2 = lab.add_host("r2")?;
    let n1 = lab.add_host_at("n1", 11)?;
    let n2 = lab.add_host_at("n2", 12)?;
    let nodes = [&n1, &n2];
    let frr = Frr::start(
        &lab,
        &r1,
        &RouterConfig::facing_speakers(64500, &r1, &nodes, NODE_AS),
    )?;
    let bird = Bird::start(
        &lab,
        &r2,
        &RouterConfig::facing_speakers(64501, &r2, &nodes, NODE_AS),
    )?;
    let vip = net("198.51.100.10/32");
    let mut keep = Vec::new();
    for host in nodes {
        let node = Node::new(host)?;
        let speakers = [
            node.spawn(peer("frr", host, r1.ipv4.into(), NODE_AS, 64500)),
            node.spawn(peer("bird", host, r2.ipv4.into(), NODE_AS, 64501)),
        ];
        for s in &speakers {
            node.announce(s, routes([vip], None));
        }
        keep.push((node, speakers));
    }
    let hops: Vec<IpAddr> = nodes.iter().map(|n| n.ipv4.into()).collect();
    for (router, host) in [(&frr as &dyn Router, &r1), (&bird, &r2)] {
        wait_paths(&lab, router, vip, 2, CONVERGE)?;
        wait_kernel_route(&lab, host, vip, &hops, CONVERGE)?;
    }
    // Sessions end before the runtimes they run on.
    for (node, speakers) in keep {
        for s in speakers {
            node.shutdown(s, "test over");
        }
    }
    Ok(())
}
