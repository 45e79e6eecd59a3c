//! MetalLB's `metallb-excludel2` list in `ferrolb run`'s files: an
//! interface it names never answers ARP for a service address, while the
//! LAN interface does; without the list the same interface answers (so the
//! exclusion, not the topology, kept it quiet).
//!
//! Each node has a second link, `side0`, straight to the client (`sideN`
//! there). The L2Advertisement names no interface, so every suitable link
//! of the owner would answer.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use interop_tests::ferrolb::FerroLb;
use interop_tests::l2::L2Lan;
use interop_tests::l2::ferrolb::{cluster_config, service_config};
use interop_tests::traffic::{arp_who_has, arp_who_has_on};
use interop_tests::{Family, Host, LabError, Probe};

const CONVERGE: Duration = Duration::from_secs(30);
const NODE_SIDE: &str = "side0";

/// The exclusion list as MetalLB's chart ships it, plus the side links.
const EXCLUDE_SIDE: &str = "apiVersion: v1
kind: ConfigMap
metadata: {name: metallb-excludel2, namespace: metallb-system}
data:
  excludel2.yaml: |
    announcedInterfacesToExclude: ['^docker.*', '^cbr.*', '^dummy.*', '^virbr.*', '^lxcbr.*', '^veth.*', '^lo$', '^side.*']
";

fn client_side(node: &Host) -> String {
    format!("side{}", node.index)
}

/// A veth from `node` (`side0`) to the client, on a /30 of its own.
fn side_link(client: &Host, node: &Host) -> interop_tests::Result<()> {
    let peer = client_side(node);
    interop_tests::lab::link(node, NODE_SIDE, client, &peer)?;
    for (host, iface, last) in [(node, NODE_SIDE, 2u8), (client, peer.as_str(), 1)] {
        let addr = Ipv4Addr::new(198, 18, node.index, last);
        host.netns
            .ip(["addr", "add", &format!("{addr}/30"), "dev", iface])?;
        host.netns.ip(["link", "set", iface, "up"])?;
    }
    Ok(())
}

fn start_all(lan: &L2Lan, dir: &Path, yaml: &str) -> interop_tests::Result<Vec<FerroLb>> {
    std::fs::write(dir.join("config.yaml"), yaml)
        .map_err(|e| LabError::io("cannot write the configuration", e))?;
    lan.nodes()
        .iter()
        .map(|n| FerroLb::start(lan.lab(), n, dir))
        .collect()
}

fn logs(lan: &L2Lan, speakers: &[FerroLb]) -> String {
    lan.nodes()
        .iter()
        .zip(speakers)
        .map(|(n, s)| format!("--- {} ---\n{}", n.name, s.log()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The node that answers ARP for the VIP on the LAN.
fn wait_owner(lan: &L2Lan, vip: Ipv4Addr, speakers: &[FerroLb]) -> interop_tests::Result<Host> {
    let owner = lan
        .lab()
        .wait_for("one node to answer ARP on the LAN", CONVERGE, || {
            let Some(line) = arp_who_has(lan.client(), vip)? else {
                return Ok(Probe::Pending("no answer".into()));
            };
            for n in lan.nodes() {
                if line.contains(&n.mac()?.to_lowercase()) {
                    return Ok(Probe::Done(n.clone()));
                }
            }
            Ok(Probe::Pending(format!("answered by a stranger: {line}")))
        });
    owner.map_err(|e| LabError::Invalid(format!("{e}\n{}", logs(lan, speakers))))
}

#[test]
fn an_excluded_interface_never_answers_arp() -> interop_tests::Result<()> {
    // SAFETY-free: the variable is read by FerroLb::start in this process.
    unsafe { std::env::set_var("FERROLB_BIN", env!("CARGO_BIN_EXE_ferrolb")) };
    let lan = L2Lan::new("sx2", Family::Ipv4, 2)?;
    let IpAddr::V4(vip) = lan.vip() else {
        return Err(LabError::Invalid("an IPv4 LAN".into()));
    };
    for n in lan.nodes() {
        side_link(lan.client(), n)?;
    }
    let dir = lan.lab().dir().join("ferrolb-config");
    std::fs::create_dir_all(&dir).map_err(|e| LabError::io("config dir", e))?;
    let base = cluster_config(&lan) + "---\n" + &service_config(&lan);

    // With the list: the owner answers on the LAN, never on its side link.
    let speakers = start_all(&lan, &dir, &format!("{base}---\n{EXCLUDE_SIDE}"))?;
    let owner = wait_owner(&lan, vip, &speakers)?;
    for attempt in 0..5 {
        let side = arp_who_has_on(lan.client(), &client_side(&owner), vip)?;
        assert_eq!(
            side,
            None,
            "attempt {attempt}: {} answered on its excluded {NODE_SIDE}\n{}",
            owner.name,
            logs(&lan, &speakers)
        );
        assert!(
            arp_who_has(lan.client(), vip)?.is_some(),
            "attempt {attempt}: the LAN answer stopped\n{}",
            logs(&lan, &speakers)
        );
    }
    for s in &speakers {
        s.daemon().stop(Duration::from_secs(2));
    }

    // Without it (the list is read at start), the same link answers.
    let speakers = start_all(&lan, &dir, &base)?;
    let owner = wait_owner(&lan, vip, &speakers)?;
    let mac = owner
        .netns
        .exec("cat", [format!("/sys/class/net/{NODE_SIDE}/address")])?;
    let answered = lan
        .lab()
        .wait_for("the owner to answer on its side link", CONVERGE, || {
            Ok(
                match arp_who_has_on(lan.client(), &client_side(&owner), vip)? {
                    Some(line) => Probe::Done(line),
                    None => Probe::Pending("no answer".into()),
                },
            )
        })
        .map_err(|e| LabError::Invalid(format!("{e}\n{}", logs(&lan, &speakers))))?;
    assert!(
        answered.contains(mac.trim()),
        "answered by {answered}, not {}'s {NODE_SIDE} ({})",
        owner.name,
        mac.trim()
    );
    Ok(())
}
