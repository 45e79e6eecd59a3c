//! The demo (`make demo`): FerroLB in standalone mode on three nodes, with
//! real FRR and BIRD routers, in network namespaces.
//!
//! Every node runs `ferrolb run` with the same configuration (a pool, a
//! BGPPeer per router, a BGPAdvertisement, two services); each serves HTTP
//! on the service addresses. The demo shows the routers' three-way ECMP
//! routes, traffic from a client spreading over the nodes, and one node's
//! speaker stopping: its next hop disappears at once and traffic keeps
//! flowing. Then Layer-2 mode: three nodes and a client on one LAN with no
//! router; one node answers ARP for the service address; its speaker is
//! killed, then another is stopped gracefully, and the client's own probes
//! (one every 5 ms) show how long it went unanswered. Then everything is
//! torn down.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use interop_tests::ferrolb::FerroLb;
use interop_tests::l2::ferrolb::FerroLbL2;
use interop_tests::l2::{Failure, Jitter, L2Lan, L2Subject, NodeId, RunOptions, run_failovers};
use interop_tests::traffic::{HttpServer, http_get};
use interop_tests::{
    Bird, Family, Frr, Host, Lab, LabError, Probe, Router, RouterConfig, wait_established,
    wait_kernel_route, wait_paths,
};
use ipnet::IpNet;

const NODE_AS: u32 = 64512;
const TIMEOUT: Duration = Duration::from_secs(30);
/// The hold time of the example's BGPPeers.
const HOLD: Duration = Duration::from_secs(9);

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
    println!("\n[{n}/9] {what}");
}

fn prefix(s: &str) -> Result<IpNet, LabError> {
    s.parse()
        .map_err(|e| LabError::Invalid(format!("{s}: {e}")))
}

fn hops(list: &[IpAddr]) -> String {
    list.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn run() -> interop_tests::Result<()> {
    let started = Instant::now();
    println!("FerroLB demo: three nodes announce two LoadBalancer services with FerroLB's own");
    println!("BGP speaker to an FRR router (AS 64500) and a BIRD router (AS 64501).");

    step(1, "building the lab in network namespaces");
    let mut lab = Lab::new("demo")?;
    let r1 = lab.add_host("r1")?;
    let r2 = lab.add_host("r2")?;
    let client = lab.add_host_at("client", 100)?;
    let nodes = lab.add_nodes(3)?;
    for h in lab.hosts() {
        println!("  {:<7} {:<15} {}", h.name, h.ipv4, h.ipv6);
    }
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

    step(
        2,
        "starting `ferrolb run` on every node, one shared configuration",
    );
    let config = lab.dir().join("ferrolb-config");
    interop_tests::ferrolb::copy_example(&config)?;
    println!("  config: docs/examples/standalone/ (pool 198.51.100.10-99, BGPPeers frr and bird,");
    println!("          a BGPAdvertisement with community 64512:100, services web and api)");
    let services = [
        ("web", prefix("198.51.100.10/32")?),
        ("api", prefix("198.51.100.50/32")?),
    ];
    let mut speakers = Vec::new();
    for node in &nodes {
        for (_, vip) in &services {
            // The node accepts traffic for the service address, as kube-proxy would.
            node.netns
                .ip(["addr", "add", &vip.to_string(), "dev", "lo"])?;
            HttpServer::start(&lab, node, vip.addr(), 80)?;
        }
        speakers.push(FerroLb::start(&lab, node, &config)?);
    }
    let routers: [(&dyn Router, &Host); 2] = [(&frr, &r1), (&bird, &r2)];
    for (router, _) in routers {
        for node in &nodes {
            wait_established(&lab, router, node.ipv4.into())?;
        }
        println!("  {:<8} Established with n1, n2, n3", router.describe());
    }

    step(3, "each router's route to each service address");
    let all: Vec<IpAddr> = nodes.iter().map(|n| n.ipv4.into()).collect();
    for (name, vip) in &services {
        for (router, host) in routers {
            let paths = wait_paths(&lab, router, *vip, 3, TIMEOUT)?;
            let route = wait_kernel_route(&lab, host, *vip, &all, TIMEOUT)?;
            println!(
                "  {name:<4} {vip:<17} {:<8} {} BGP paths (AS {NODE_AS}, community {}), kernel: ECMP via {}",
                router.describe(),
                paths.len(),
                paths[0]
                    .communities
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" "),
                hops(&route.next_hops)
            );
        }
    }

    let web = services[0].1;
    lab.route_via(&client, "198.51.100.0/24", r1.ipv4.into())?;
    let mut served: BTreeMap<String, u32> = BTreeMap::new();
    let mut requests = |count: u32| -> interop_tests::Result<String> {
        served.clear();
        for _ in 0..count {
            let body = http_get(&client, web.addr(), 80, Duration::from_secs(5))?;
            *served.entry(body.trim().to_string()).or_default() += 1;
        }
        Ok(served
            .iter()
            .map(|(n, c)| format!("{n}: {c}"))
            .collect::<Vec<_>>()
            .join(", "))
    };
    step(4, "30 HTTP requests from the client to web, through r1");
    println!("  answered by {}", requests(30)?);

    step(5, "stopping n1's speaker (SIGTERM)");
    let stopping = Instant::now();
    speakers[0].daemon().stop(Duration::from_secs(5));
    let rest: Vec<IpAddr> = all[1..].to_vec();
    for (router, host) in routers {
        wait_kernel_route(&lab, host, web, &rest, TIMEOUT)?;
        println!(
            "  {:<8} kernel: web via {} after {} ms (hold time {} s: n1 withdrew, it did not wait to be timed out)",
            router.describe(),
            hops(&rest),
            stopping.elapsed().as_millis(),
            HOLD.as_secs()
        );
    }
    let goodbye = frr.neighbor(all[0])?;
    println!(
        "  FRR's last word from n1: {} \"{}\"",
        goodbye["lastNotificationReason"].as_str().unwrap_or("?"),
        goodbye["lastShutdownDescription"].as_str().unwrap_or("")
    );
    step(6, "30 more requests: traffic keeps flowing");
    println!("  answered by {}", requests(30)?);

    println!("\ntearing down the BGP lab (speakers stopped, routers stopped, namespaces deleted)");
    drop(speakers);
    drop(lab);
    layer2()?;
    println!("done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Layer-2 mode on a LAN: who answers, and failover seen by a client.
fn layer2() -> interop_tests::Result<()> {
    step(7, "Layer 2: three nodes and a client on one LAN, no router");
    let lan = L2Lan::new("demol2", Family::Ipv4, 3)?;
    let mut ferrolb = FerroLbL2::new();
    ferrolb.start(&lan)?;
    let owner = wait_one_owner(&lan, &ferrolb)?;
    println!(
        "  {} answers ARP for {} (the others stay silent); the client probes it every 5 ms",
        lan.name(owner),
        lan.vip()
    );
    let options = RunOptions {
        runs: 1,
        ..RunOptions::default()
    };
    for (n, failure, what) in [
        (
            8,
            Failure::Kill,
            "killing the owner's speaker (SIGKILL, a crash)",
        ),
        (
            9,
            Failure::Stop,
            "stopping the owner's speaker (SIGTERM, a drain)",
        ),
    ] {
        step(n, what);
        let runs = run_failovers(
            &lan,
            &mut ferrolb,
            failure,
            &options,
            &mut Jitter::new(n.into()),
        )?;
        for run in runs {
            let o = &run.outcome;
            println!(
                "  {} failed; {} answers; client unanswered for {} ms, {} dual answers",
                lan.name(run.failed),
                o.owner.map_or("nobody", |id| lan.name(id)),
                o.outage.map_or("?".into(), |d| d.as_millis().to_string()),
                o.dual_answers
            );
        }
    }
    println!("\ntearing down the LAN (speakers stopped, namespaces deleted)");
    Ok(())
}

/// The one node answering for the VIP, once there is exactly one.
fn wait_one_owner(lan: &L2Lan, ferrolb: &FerroLbL2) -> interop_tests::Result<NodeId> {
    lan.lab()
        .wait_for("one node to answer for the address", TIMEOUT, || {
            let claimants = ferrolb.claimants(lan)?;
            Ok(match claimants.as_slice() {
                [one] => Probe::Done(*one),
                other => Probe::Pending(format!("claimed by {other:?}")),
            })
        })
}
