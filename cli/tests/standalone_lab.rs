//! `ferrolb run` on three lab nodes with one shared configuration: the
//! routers learn each service address with three ECMP next hops; a bad edit
//! is refused and nothing moves; a node stopped with SIGTERM withdraws at
//! once and says goodbye.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use interop_tests::ferrolb::FerroLb;
use interop_tests::{Bird, Frr, Host, Lab, Router, RouterConfig, wait_kernel_route, wait_paths};
use ipnet::IpNet;

const NODE_AS: u32 = 64512;
const CONVERGE: Duration = Duration::from_secs(30);

fn net(s: &str) -> IpNet {
    s.parse().expect("prefix literal")
}

#[test]
fn three_nodes_give_both_routers_three_way_ecmp_and_survive_a_bad_edit_and_a_stop()
-> interop_tests::Result<()> {
    // SAFETY-free: the variable is read by FerroLb::start in this process.
    unsafe { std::env::set_var("FERROLB_BIN", env!("CARGO_BIN_EXE_ferrolb")) };
    let mut lab = Lab::new("standalone")?;
    let r1 = lab.add_host("r1")?;
    let r2 = lab.add_host("r2")?;
    let nodes = lab.add_nodes(3)?;
    let node_refs: Vec<&Host> = nodes.iter().collect();
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
    let config = lab.dir().join("ferrolb-config");
    interop_tests::ferrolb::copy_example(&config)?;
    let mut speakers: Vec<FerroLb> = nodes
        .iter()
        .map(|n| FerroLb::start(&lab, n, &config))
        .collect::<Result<_, _>>()?;

    // web gets the lowest address of the pool, api the one it asked for.
    let web = net("198.51.100.10/32");
    let api = net("198.51.100.50/32");
    let hops: Vec<IpAddr> = nodes.iter().map(|n| n.ipv4.into()).collect();
    for (router, host) in [(&frr as &dyn Router, &r1), (&bird, &r2)] {
        for vip in [web, api] {
            let paths = wait_paths(&lab, router, vip, 3, CONVERGE)?;
            assert!(
                paths.iter().all(|p| p.as_sequence() == [NODE_AS]),
                "{paths:?}"
            );
            assert!(
                paths
                    .iter()
                    .all(|p| p.communities.iter().any(|c| c.to_string() == "64512:100"))
            );
            wait_kernel_route(&lab, host, vip, &hops, CONVERGE)?;
        }
    }

    // A bad edit: refused, the last good configuration stays, nothing moves.
    let pool = config.join("config.yaml");
    let good = std::fs::read_to_string(&pool).expect("read config");
    std::fs::write(
        &pool,
        good.replace("198.51.100.10-198.51.100.99", "198.51.100.300/32"),
    )
    .expect("edit");
    let refused = lab.wait_for("every node to refuse the bad edit", CONVERGE, || {
        let all = speakers
            .iter()
            .all(|s| s.log().contains("configuration refused"));
        Ok(if all {
            interop_tests::Probe::Done(())
        } else {
            interop_tests::Probe::Pending("not yet".into())
        })
    });
    refused?;
    assert!(
        speakers[0].log().contains("198.51.100.300/32"),
        "the error names the bad value:\n{}",
        speakers[0].log()
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        wait_paths(&lab, &frr, web, 3, CONVERGE)?.len(),
        3,
        "nothing moved"
    );
    std::fs::write(&pool, good).expect("restore");

    // SIGTERM on one node: its routes are withdrawn at once (not after the
    // 9 s hold time), traffic keeps its two other next hops.
    let stopped = speakers.remove(0);
    let t = Instant::now();
    stopped.daemon().stop(Duration::from_secs(5));
    let rest: Vec<IpAddr> = hops[1..].to_vec();
    wait_kernel_route(&lab, &r1, web, &rest, CONVERGE)?;
    wait_kernel_route(&lab, &r2, web, &rest, CONVERGE)?;
    let took = t.elapsed();
    assert!(
        took < Duration::from_secs(9),
        "withdrawn before the hold time would expire: {took:?}"
    );
    assert!(
        stopped.log().contains("withdrawing every route"),
        "{}",
        stopped.log()
    );
    let n = frr.neighbor(hops[0])?;
    assert_eq!(
        n["lastNotificationReason"], "Cease/Administrative Shutdown",
        "{n}"
    );
    Ok(())
}
