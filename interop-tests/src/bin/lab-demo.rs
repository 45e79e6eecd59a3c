//! The lab demo (`make demo`): two routers (FRR and BIRD), two nodes that
//! announce a service address with BGP, and a client. Shows the sessions,
//! the routes with their ECMP next hops, traffic spreading over both nodes,
//! and a withdrawal; then tears everything down.
//!
//! The nodes run GoBGP for now; FerroLB's own speaker replaces it as soon as
//! it exists.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use interop_tests::traffic::{HttpServer, http_get};
use interop_tests::{
    Announcement, Bird, Community, Frr, Gobgp, Host, Lab, Neighbor, Router, RouterConfig,
    wait_established, wait_kernel_route, wait_paths,
};

const NODE_AS: u32 = 64512;
const TIMEOUT: Duration = Duration::from_secs(30);

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\ndemo failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn step(n: u32, what: &str) {
    println!("\n[{n}/5] {what}");
}

fn run() -> interop_tests::Result<()> {
    let started = Instant::now();
    println!("FerroLB lab demo: BGP routers FRR (r1, AS 64500) and BIRD (r2, AS 64501),");
    println!("nodes n1 and n2 (AS {NODE_AS}) announcing service 198.51.100.10/32, and a client.");

    step(1, "building the lab in network namespaces");
    let mut lab = Lab::new("demo")?;
    let r1 = lab.add_host("r1")?;
    let r2 = lab.add_host("r2")?;
    let client = lab.add_host_at("client", 100)?;
    let nodes = [lab.add_host_at("n1", 11)?, lab.add_host_at("n2", 12)?];
    for h in lab.hosts() {
        println!("  {:<7} {:<15} {}", h.name, h.ipv4, h.ipv6);
    }
    let vip: ipnet::IpNet = "198.51.100.10/32"
        .parse()
        .map_err(|e| interop_tests::LabError::Invalid(format!("{e}")))?;

    let node_refs: Vec<&Host> = nodes.iter().collect();
    lab.make_router(&r1)?;
    lab.make_router(&r2)?;
    let frr = Frr::start(
        &lab,
        &r1,
        &RouterConfig::facing_speakers(64500, &r1, &node_refs, NODE_AS),
    )?;
    let bird = Bird::start(
        &lab,
        &r2,
        &RouterConfig::facing_speakers(64501, &r2, &node_refs, NODE_AS),
    )?;
    let mut speakers = Vec::new();
    for node in &nodes {
        node.netns
            .ip(["addr", "add", &vip.to_string(), "dev", "lo"])?;
        HttpServer::start(&lab, node, vip.addr(), 80)?;
        let config = RouterConfig::new(NODE_AS, node.ipv4)
            .neighbor(Neighbor::new(r1.ipv4.into(), 64500))
            .neighbor(Neighbor::new(r2.ipv4.into(), 64501));
        let speaker = Gobgp::start(&lab, node, &config)?;
        let mut route = Announcement::new(vip);
        route.communities.push(Community::new(NODE_AS as u16, 100));
        speaker.announce(&route)?;
        speakers.push(speaker);
    }

    step(2, "BGP sessions");
    let routers: [(&dyn Router, &Host); 2] = [(&frr, &r1), (&bird, &r2)];
    for (router, _) in routers {
        for node in &nodes {
            wait_established(&lab, router, node.ipv4.into())?;
            println!(
                "  {:<8} <-> {:<3} {:<14} Established",
                router.describe(),
                node.name,
                node.ipv4
            );
        }
    }

    step(3, "routes to the service address");
    let node_addrs: Vec<IpAddr> = nodes.iter().map(|n| n.ipv4.into()).collect();
    for (router, host) in routers {
        let paths = wait_paths(&lab, router, vip, 2, TIMEOUT)?;
        for p in &paths {
            let communities: Vec<String> = p.communities.iter().map(ToString::to_string).collect();
            println!(
                "  {:<8} BGP     {vip} via {:<14} AS path {:?} communities {}{}",
                router.describe(),
                p.next_hops
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
                p.as_sequence(),
                communities.join(" "),
                if p.best { "  (best)" } else { "" }
            );
        }
        let route = wait_kernel_route(&lab, host, vip, &node_addrs, TIMEOUT)?;
        println!(
            "  {:<8} kernel  {} via {} (ECMP, installed by {:?})",
            router.describe(),
            route.prefix,
            route
                .next_hops
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" and "),
            route.protocol
        );
    }

    step(4, "30 HTTP requests from the client, routed through r1");
    lab.route_via(&client, &vip.to_string(), r1.ipv4.into())?;
    let mut served: BTreeMap<String, u32> = BTreeMap::new();
    for _ in 0..30 {
        let body = http_get(&client, vip.addr(), 80, Duration::from_secs(5))?;
        *served.entry(body.trim().to_string()).or_default() += 1;
    }
    for (node, count) in &served {
        println!("  answered by {node}: {count}");
    }

    step(5, "n1 withdraws the route");
    let withdrawn = Instant::now();
    speakers[0].withdraw(vip)?;
    let n2: IpAddr = nodes[1].ipv4.into();
    for (router, host) in routers {
        wait_kernel_route(&lab, host, vip, &[n2], TIMEOUT)?;
        println!(
            "  {:<8} kernel  {vip} via {n2} only, {} ms after the withdrawal",
            router.describe(),
            withdrawn.elapsed().as_millis()
        );
    }
    let body = http_get(&client, vip.addr(), 80, Duration::from_secs(5))?;
    println!("  the client is still served, by {}", body.trim());
    println!("\ntearing down (daemons stopped, namespaces deleted)");
    drop(speakers);
    drop(lab);
    println!("done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
