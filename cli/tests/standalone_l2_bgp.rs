//! One Service announced by Layer 2 and BGP at once: a pool with an
//! L2Advertisement and a BGPAdvertisement; the BIRD router on the LAN learns
//! the address from every node (ECMP), while exactly one node answers ARP
//! for hosts on the LAN.

use std::time::Duration;

use interop_tests::ferrolb::FerroLb;
use interop_tests::l2::L2Lan;
use interop_tests::l2::ferrolb::{cluster_config, service_config};
use interop_tests::{Bird, Family, Host, Probe, RouterConfig, wait_paths};

const NODE_AS: u32 = 64512;
const CONVERGE: Duration = Duration::from_secs(30);

#[test]
fn a_service_is_announced_by_layer2_and_bgp_at_once() -> interop_tests::Result<()> {
    // SAFETY-free: the variable is read by FerroLb::start in this process.
    unsafe { std::env::set_var("FERROLB_BIN", env!("CARGO_BIN_EXE_ferrolb")) };
    let mut lan = L2Lan::new("sl2bgp", Family::Ipv4, 3)?;
    let r1 = lan.lab_mut().add_host_at("r1", 2)?;
    let nodes: Vec<&Host> = lan.nodes().iter().collect();
    let bird = Bird::start(
        lan.lab(),
        &r1,
        &RouterConfig::facing_speakers(64500, &r1, &nodes, NODE_AS),
    )?;
    let bgp = format!(
        "---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {{name: r1, namespace: metallb-system}}
spec: {{myASN: {NODE_AS}, peerASN: 64500, peerAddress: {}, holdTime: 9s}}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {{name: lan, namespace: metallb-system}}
spec: {{ipAddressPools: [lan]}}
",
        r1.ipv4
    );
    let dir = lan.lab().dir().join("ferrolb-config");
    std::fs::create_dir_all(&dir).expect("config dir");
    let config = cluster_config(&lan) + &bgp + "---\n" + &service_config(&lan);
    std::fs::write(dir.join("config.yaml"), config).expect("config");
    let _speakers: Vec<FerroLb> = lan
        .nodes()
        .iter()
        .map(|n| FerroLb::start(lan.lab(), n, &dir))
        .collect::<interop_tests::Result<_>>()?;

    let vip = ipnet::IpNet::from(lan.vip());
    let paths = wait_paths(lan.lab(), &bird, vip, 3, CONVERGE)?;
    assert!(
        paths.iter().all(|p| p.as_sequence() == [NODE_AS]),
        "{paths:?}"
    );
    let answers = lan
        .lab()
        .wait_for("exactly one node to answer ARP", CONVERGE, || {
            let answers = lan.arp_answers()?;
            Ok(if answers.len() == 1 {
                Probe::Done(answers)
            } else {
                Probe::Pending(format!("{answers:?}"))
            })
        })?;
    assert_eq!(answers.len(), 1);
    Ok(())
}
