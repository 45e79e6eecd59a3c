//! FerroLB's BGP stack against FRR, BIRD and GoBGP, one behaviour per test:
//! GoBGP as the router, iBGP with LOCAL_PREF, 4-octet AS numbers, TCP MD5,
//! a frozen router caught by the hold timer, a router restart, extended
//! messages, and ECMP from two FerroLB nodes.

mod common;

use std::net::IpAddr;
use std::num::NonZeroU16;
use std::time::Duration;

use common::{CONVERGE, NODE_AS, Node, many_v4, net, peer, routes, wait_count, wait_status};
use ferrolb_bgp::fsm::{HoldTime, State};
use ferrolb_bgp::transport::Password;
use interop_tests::{
    Bird, Frr, Gobgp, Lab, Neighbor, Router, RouterConfig, wait_established, wait_kernel_route,
    wait_paths,
};
use nix::sys::signal::Signal;

#[test]
fn gobgp_as_the_router_receives_our_routes() -> interop_tests::Result<()> {
    let mut lab = Lab::new("gobgprtr")?;
    let r = lab.add_host("r")?;
    let n = lab.add_host("n")?;
    let gobgp = Gobgp::start(
        &lab,
        &r,
        &RouterConfig::new(64500, r.ipv4).neighbor(Neighbor::new(n.ipv4.into(), NODE_AS)),
    )?;
    let node = Node::new(&n)?;
    let speaker = node.spawn(peer("gobgp", &n, r.ipv4.into(), NODE_AS, 64500));
    node.announce(&speaker, routes([net("198.51.100.10/32")], None));
    wait_established(&lab, &gobgp, n.ipv4.into())?;
    let paths = wait_paths(&lab, &gobgp, net("198.51.100.10/32"), 1, CONVERGE)?;
    assert_eq!(paths[0].as_sequence(), [NODE_AS]);
    assert_eq!(paths[0].next_hops, [IpAddr::from(n.ipv4)]);
    assert_eq!(paths[0].communities[0].to_string(), "64512:100");
    assert_eq!(paths[0].large_communities[0].to_string(), "64512:1:2");
    Ok(())
}

#[test]
fn ibgp_carries_local_pref_and_an_empty_as_path_to_frr_and_bird() -> interop_tests::Result<()> {
    let mut lab = Lab::new("ibgp")?;
    let r1 = lab.add_host("r1")?;
    let r2 = lab.add_host("r2")?;
    let n = lab.add_host("n")?;
    let ibgp = |me: &interop_tests::Host| {
        RouterConfig::new(NODE_AS, me.ipv4).neighbor(Neighbor::new(n.ipv4.into(), NODE_AS))
    };
    let frr = Frr::start(&lab, &r1, &ibgp(&r1))?;
    let bird = Bird::start(&lab, &r2, &ibgp(&r2))?;
    let node = Node::new(&n)?;
    let speakers = [
        node.spawn(peer("frr", &n, r1.ipv4.into(), NODE_AS, NODE_AS)),
        node.spawn(peer("bird", &n, r2.ipv4.into(), NODE_AS, NODE_AS)),
    ];
    for s in &speakers {
        node.announce(s, routes([net("198.51.100.10/32")], Some(150)));
    }
    for router in [&frr as &dyn Router, &bird] {
        let paths = wait_paths(&lab, router, net("198.51.100.10/32"), 1, CONVERGE)?;
        assert_eq!(paths[0].local_pref, Some(150), "{}", router.describe());
        assert!(
            paths[0].as_sequence().is_empty(),
            "{}: {:?}",
            router.describe(),
            paths[0]
        );
    }
    Ok(())
}

#[test]
fn four_octet_as_numbers_reach_frr_and_bird_intact() -> interop_tests::Result<()> {
    const BIG_AS: u32 = 4_200_000_001;
    let mut lab = Lab::new("as4")?;
    let r1 = lab.add_host("r1")?;
    let r2 = lab.add_host("r2")?;
    let n = lab.add_host("n")?;
    let frr = Frr::start(
        &lab,
        &r1,
        &RouterConfig::new(64500, r1.ipv4).neighbor(Neighbor::new(n.ipv4.into(), BIG_AS)),
    )?;
    let bird = Bird::start(
        &lab,
        &r2,
        &RouterConfig::new(64501, r2.ipv4).neighbor(Neighbor::new(n.ipv4.into(), BIG_AS)),
    )?;
    let node = Node::new(&n)?;
    let speakers = [
        node.spawn(peer("frr", &n, r1.ipv4.into(), BIG_AS, 64500)),
        node.spawn(peer("bird", &n, r2.ipv4.into(), BIG_AS, 64501)),
    ];
    for s in &speakers {
        node.announce(s, routes([net("198.51.100.10/32")], None));
    }
    for router in [&frr as &dyn Router, &bird] {
        let paths = wait_paths(&lab, router, net("198.51.100.10/32"), 1, CONVERGE)?;
        assert_eq!(paths[0].as_sequence(), [BIG_AS], "{}", router.describe());
    }
    Ok(())
}

#[test]
fn md5_the_right_password_connects_and_a_wrong_one_never_does() -> interop_tests::Result<()> {
    let mut lab = Lab::new("ourmd5")?;
    let r = lab.add_host("r")?;
    let n = lab.add_host("n")?;
    let frr = Frr::start(
        &lab,
        &r,
        &RouterConfig::new(64500, r.ipv4)
            .neighbor(Neighbor::new(n.ipv4.into(), NODE_AS).password("s3cret")),
    )?;
    let node = Node::new(&n)?;
    let mut wrong = peer("frr", &n, r.ipv4.into(), NODE_AS, 64500);
    wrong.password = Some(Password::new("wrong").expect("short password"));
    wrong.connect_timeout = Duration::from_secs(1);
    let speaker = node.spawn(wrong.clone());
    // Several connection attempts fit in five seconds; none may succeed.
    std::thread::sleep(Duration::from_secs(5));
    let status = speaker.status();
    assert_eq!(status.established_count, 0, "{status:?}");
    assert!(
        status
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("connect")),
        "{status:?}"
    );
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
    wait_established(&lab, &frr, n.ipv4.into())?;
    Ok(())
}

#[test]
fn a_frozen_router_is_caught_by_the_hold_timer_and_the_session_recovers()
-> interop_tests::Result<()> {
    let mut lab = Lab::new("hold")?;
    let r = lab.add_host("r")?;
    let n = lab.add_host("n")?;
    let frr = Frr::start(
        &lab,
        &r,
        &RouterConfig::new(64500, r.ipv4)
            .neighbor(Neighbor::new(n.ipv4.into(), NODE_AS).timers(1, 3)),
    )?;
    let node = Node::new(&n)?;
    let mut config = peer("frr", &n, r.ipv4.into(), NODE_AS, 64500);
    config.hold_time = HoldTime::new(3).expect("valid hold time");
    config.keepalive = NonZeroU16::new(1);
    let speaker = node.spawn(config);
    node.announce(&speaker, routes([net("198.51.100.10/32")], None));
    let watch = speaker.watch();
    wait_status(&lab, "Established", &watch, |s| {
        s.state == State::Established
    })?;
    wait_paths(&lab, &frr, net("198.51.100.10/32"), 1, CONVERGE)?;

    frr.bgpd().signal(Signal::SIGSTOP)?;
    let frozen = std::time::Instant::now();
    let down = wait_status(&lab, "the hold timer to end the session", &watch, |s| {
        s.state != State::Established
    })?;
    let detected = frozen.elapsed();
    assert!(
        detected >= Duration::from_secs(2),
        "not before the hold time: {detected:?}"
    );
    assert!(down.last_error.is_some() || down.state != State::Established);

    frr.bgpd().signal(Signal::SIGCONT)?;
    wait_status(&lab, "the session to come back", &watch, |s| {
        s.state == State::Established && s.established_count == 2
    })?;
    wait_paths(&lab, &frr, net("198.51.100.10/32"), 1, CONVERGE)?;
    Ok(())
}

#[test]
fn a_restarted_router_gets_the_whole_table_again() -> interop_tests::Result<()> {
    let mut lab = Lab::new("restart")?;
    let r = lab.add_host("r")?;
    let n = lab.add_host("n")?;
    let mut bird = Bird::start(
        &lab,
        &r,
        &RouterConfig::new(64500, r.ipv4).neighbor(Neighbor::new(n.ipv4.into(), NODE_AS)),
    )?;
    let node = Node::new(&n)?;
    let speaker = node.spawn(peer("bird", &n, r.ipv4.into(), NODE_AS, 64500));
    node.announce(&speaker, routes(many_v4(100), None));
    wait_count(&lab, "BIRD's routes from us", 100, || {
        bird.prefixes_received(n.ipv4.into())
    })?;
    bird.restart(&lab)?;
    let watch = speaker.watch();
    wait_status(&lab, "the session after the restart", &watch, |s| {
        s.established_count >= 2 && s.state == State::Established
    })?;
    wait_count(&lab, "BIRD's routes from us after its restart", 100, || {
        bird.prefixes_received(n.ipv4.into())
    })?;
    Ok(())
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

#[test]
fn a_passive_session_is_reached_through_the_listener_with_md5() -> interop_tests::Result<()> {
    let mut lab = Lab::new("listen")?;
    let r = lab.add_host("r")?;
    let n = lab.add_host("n")?;
    let frr = Frr::start(
        &lab,
        &r,
        &RouterConfig::new(64500, r.ipv4)
            .neighbor(Neighbor::new(n.ipv4.into(), NODE_AS).password("s3cret")),
    )?;
    let node = Node::new(&n)?;
    let acceptor = node
        .acceptor(std::net::SocketAddr::new(n.ipv4.into(), 179))
        .map_err(|e| interop_tests::LabError::io("listen on the node", e))?;
    let mut config = peer("frr", &n, r.ipv4.into(), NODE_AS, 64500);
    config.passive = true;
    config.password = Some(Password::new("s3cret").expect("short password"));
    let speaker = node.spawn(config.clone());
    acceptor
        .register(&config, &speaker)
        .map_err(|e| interop_tests::LabError::io("register the peer", e))?;
    node.announce(&speaker, routes([net("198.51.100.10/32")], None));
    // We never connect: FRR's connection, signed, reaches the session.
    wait_status(&lab, "the passive session", &speaker.watch(), |s| {
        s.state == State::Established
    })?;
    wait_paths(&lab, &frr, net("198.51.100.10/32"), 1, CONVERGE)?;
    Ok(())
}
