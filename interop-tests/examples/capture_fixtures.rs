//! Regenerates the parser fixtures in `interop-tests/fixtures/` from real
//! daemons: GoBGP on two nodes announces one /32 with communities to FRR and
//! BIRD, and the routers' answers are saved verbatim.
//!
//! `cargo run -p interop-tests --example capture_fixtures` (as root).

use std::time::Duration;

use interop_tests::{Announcement, Bird, Community, Frr, Gobgp, Lab, Neighbor, RouterConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut lab = Lab::new("fixtures")?;
    let r1 = lab.add_host("r1")?;
    let r2 = lab.add_host("r2")?;
    let n1 = lab.add_host_at("n1", 11)?;
    let n2 = lab.add_host_at("n2", 12)?;
    let nodes = [&n1, &n2];
    let frr = Frr::start(
        &lab,
        &r1,
        &RouterConfig::facing_speakers(64500, &r1, &nodes, 64512),
    )?;
    let bird = Bird::start(
        &lab,
        &r2,
        &RouterConfig::facing_speakers(64501, &r2, &nodes, 64512),
    )?;
    let mut speakers = Vec::new();
    for n in nodes {
        let config = RouterConfig::new(64512, n.ipv4)
            .neighbor(Neighbor::new(r1.ipv4.into(), 64500))
            .neighbor(Neighbor::new(r2.ipv4.into(), 64501));
        let g = Gobgp::start(&lab, n, &config)?;
        let mut route = Announcement::new("198.51.100.10/32".parse()?);
        route.communities.push(Community::new(65000, 1));
        route.large_communities.push("64512:1:2".parse()?);
        route.med = Some(10);
        g.announce(&route)?;
        speakers.push(g);
    }
    let prefix = "198.51.100.10/32".parse()?;
    interop_tests::wait_paths(&lab, &frr, prefix, 2, Duration::from_secs(30))?;
    interop_tests::wait_paths(&lab, &bird, prefix, 2, Duration::from_secs(30))?;
    std::fs::write(
        out.join("frr-ipv4-detail.json"),
        frr.vtysh("show bgp ipv4 unicast json detail")?,
    )?;
    std::fs::write(
        out.join("bird-show-route-all.txt"),
        bird.birdc(&["show", "route", "all", "table", "master4"])?,
    )?;
    std::fs::write(
        out.join("gobgp-global-rib.json"),
        speakers[0].cli(&["-j", "global", "rib", "-a", "ipv4"])?,
    )?;
    println!("fixtures written to {}", out.display());
    Ok(())
}
