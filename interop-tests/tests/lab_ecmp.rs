//! A /32 announced by GoBGP from two node namespaces lands in FRR's and
//! BIRD's RIB and kernel as one route with two next hops, and TCP traffic
//! from a client reaches both nodes. Withdrawing it from one node leaves one
//! next hop.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use interop_tests::traffic::{HttpServer, http_get};
use interop_tests::{
    Announcement, Bird, Community, Frr, Gobgp, Lab, Neighbor, Router, RouterConfig,
    wait_kernel_route, wait_paths,
};

const NODE_AS: u32 = 64512;
const CONVERGE: Duration = Duration::from_secs(30);

#[test]
fn gobgp_on_two_nodes_gives_frr_and_bird_an_ecmp_route_and_traffic_reaches_both()
-> interop_tests::Result<()> {
    let mut lab = Lab::new("ecmp")?;
    let r1 = lab.add_host("r1")?;
    let r2 = lab.add_host("r2")?;
    let client = lab.add_host_at("c", 100)?;
    let n1 = lab.add_host_at("n1", 11)?;
    let n2 = lab.add_host_at("n2", 12)?;
    let nodes = [&n1, &n2];
    let vip: ipnet::IpNet = "198.51.100.10/32".parse().expect("literal");
    let vip_addr = vip.addr();

    lab.make_router(&r1)?;
    lab.make_router(&r2)?;
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

    let mut speakers = Vec::new();
    for node in nodes {
        node.netns
            .ip(["addr", "add", &vip.to_string(), "dev", "lo"])?;
        HttpServer::start(&lab, node, vip_addr, 80)?;
        let config = RouterConfig::new(NODE_AS, node.ipv4)
            .neighbor(Neighbor::new(r1.ipv4.into(), 64500))
            .neighbor(Neighbor::new(r2.ipv4.into(), 64501));
        let speaker = Gobgp::start(&lab, node, &config)?;
        let mut route = Announcement::new(vip);
        route.communities.push(Community::new(64512, 100));
        route
            .large_communities
            .push("64512:1:2".parse().expect("literal"));
        speaker.announce(&route)?;
        speakers.push(speaker);
    }

    let node_addrs: Vec<IpAddr> = nodes.iter().map(|n| n.ipv4.into()).collect();
    for router in [&frr as &dyn Router, &bird] {
        let paths = wait_paths(&lab, router, vip, 2, CONVERGE)?;
        let mut hops: Vec<IpAddr> = paths.iter().flat_map(|p| p.next_hops.clone()).collect();
        hops.sort();
        assert_eq!(hops, node_addrs, "{}", router.describe());
        for p in &paths {
            assert_eq!(p.as_sequence(), [NODE_AS]);
            assert_eq!(p.communities, [Community::new(64512, 100)]);
            assert_eq!(p.large_communities[0].to_string(), "64512:1:2");
        }
    }
    for router in [&r1, &r2] {
        wait_kernel_route(&lab, router, vip, &node_addrs, CONVERGE)?;
    }

    // Connections from one client spread over both next hops (the routers
    // hash on ports). 64 connections all landing on one node would happen
    // with probability 2^-63.
    lab.route_via(&client, &vip.to_string(), r1.ipv4.into())?;
    let mut served = BTreeSet::new();
    for _ in 0..64 {
        served.insert(
            http_get(&client, vip_addr, 80, Duration::from_secs(5))?
                .trim()
                .to_string(),
        );
    }
    assert_eq!(served, BTreeSet::from(["n1".to_string(), "n2".to_string()]));

    // Withdrawal from one node leaves exactly the other next hop.
    speakers[0].withdraw(vip)?;
    let n2_addr: IpAddr = n2.ipv4.into();
    wait_paths(&lab, &frr, vip, 1, CONVERGE)?;
    wait_paths(&lab, &bird, vip, 1, CONVERGE)?;
    wait_kernel_route(&lab, &r1, vip, &[n2_addr], CONVERGE)?;
    wait_kernel_route(&lab, &r2, vip, &[n2_addr], CONVERGE)?;
    Ok(())
}
