//! `ferrolb run` reached by routers that dial the node, as MetalLB's FRR
//! mode is: FRR, BIRD and GoBGP listen on another port than 179, so the
//! node's own connections are refused and every session is one the router
//! opened to the node's listener. Peers without a password over IPv4 and
//! IPv6, on a dual-stack listener (`[::]:179`, the default) and on
//! single-family ones (`0.0.0.0:179`, one IPv6 address); then a password
//! removed and added again while `ferrolb run` runs.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use interop_tests::ferrolb::FerroLb;
use interop_tests::routers::{LabRouter, RouterKind};
use interop_tests::{
    Family, Host, Lab, Neighbor, Probe, RouterConfig, SessionState, wait_established, wait_paths,
};
use ipnet::IpNet;

const NODE_AS: u32 = 64512;
const CONVERGE: Duration = Duration::from_secs(45);
/// Where the routers listen: not 179, so that the node cannot dial them.
const ROUTER_PORT: u16 = 1179;
const VIP4: &str = "198.51.100.30/32";
const VIP6: &str = "2001:db8:100::30/128";

/// Runs this build's `ferrolb`, unless `FERROLB_BIN` names another (to run
/// the same lab against an older build).
fn use_this_build() {
    if std::env::var_os("FERROLB_BIN").is_none() {
        // SAFETY: read by FerroLb::start in this process only, and every
        // test sets the same value.
        unsafe { std::env::set_var("FERROLB_BIN", env!("CARGO_BIN_EXE_ferrolb")) };
    }
}

fn net(s: &str) -> IpNet {
    s.parse().expect("prefix literal")
}

/// A router of the lab with its AS.
struct LabPeer {
    kind: RouterKind,
    host: Host,
    asn: u32,
}

/// FRR, BIRD and GoBGP on hosts r1, r2, r3 (ASes 64500, 64501, 64502).
fn peers(lab: &mut Lab) -> interop_tests::Result<Vec<LabPeer>> {
    RouterKind::ALL
        .iter()
        .zip(64500..)
        .enumerate()
        .map(|(i, (kind, asn))| {
            Ok(LabPeer {
                kind: *kind,
                host: lab.add_host(&format!("r{}", i + 1))?,
                asn,
            })
        })
        .collect()
}

/// The router's side: it dials `neighbors` and listens on [`ROUTER_PORT`].
fn router_config(peer: &LabPeer, neighbors: &[(IpAddr, Option<&str>)]) -> RouterConfig {
    neighbors.iter().fold(
        RouterConfig::new(peer.asn, peer.host.ipv4).listen_port(ROUTER_PORT),
        |c, (addr, password)| {
            let n = Neighbor::new(*addr, NODE_AS)
                .no_export()
                .families(&[Family::of(*addr)]);
            c.neighbor(match password {
                Some(p) => n.password(p),
                None => n,
            })
        },
    )
}

/// FerroLB's side: a dual-stack pool and Service, and one BGPPeer per
/// `(name, router address, router AS, password)`.
fn ferrolb_config(peers: &[(String, IpAddr, u32, Option<&str>)]) -> String {
    let mut c = String::from(
        r#"apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: pool, namespace: metallb-system}
spec: {addresses: [198.51.100.10-198.51.100.99, "2001:db8:100::10-2001:db8:100::99"]}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: adv, namespace: metallb-system}
spec: {ipAddressPools: [pool]}
---
apiVersion: v1
kind: Service
metadata: {name: dual, namespace: default, annotations: {metallb.io/loadBalancerIPs: "198.51.100.30,2001:db8:100::30"}}
spec: {type: LoadBalancer, ipFamilyPolicy: RequireDualStack, ipFamilies: [IPv4, IPv6], ports: [{port: 80}]}
"#,
    );
    for (name, address, asn, password) in peers {
        let password = password.map_or(String::new(), |p| format!(", password: {p}"));
        let _ = write!(
            c,
            "---\napiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {{name: {name}, namespace: metallb-system}}\nspec: {{myASN: {NODE_AS}, peerASN: {asn}, peerAddress: \"{address}\", holdTime: 9s{password}}}\n"
        );
    }
    c
}

/// Writes `config.yaml` (write then rename: `ferrolb run` never reads half
/// a file).
fn write_config(dir: &Path, text: &str) {
    std::fs::create_dir_all(dir).expect("config dir");
    let tmp = dir.join(".config.yaml.tmp");
    std::fs::write(&tmp, text).expect("write config");
    std::fs::rename(&tmp, dir.join("config.yaml")).expect("rename config");
}

fn config_dir(lab: &Lab, node: &Host) -> PathBuf {
    lab.dir().join(format!("ferrolb-{}", node.name))
}

/// The peers of the node's established connections to its port 179: the
/// sessions routers opened.
fn inbound_peers(node: &Host) -> interop_tests::Result<BTreeSet<IpAddr>> {
    let out = node
        .netns
        .exec("ss", ["-Htn", "state", "established", "( sport = :179 )"])?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .filter_map(|peer| peer.rsplit_once(':').map(|(ip, _)| ip))
        .filter_map(|ip| ip.trim_matches(['[', ']']).parse::<IpAddr>().ok())
        .map(canonical)
        .collect())
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Waits until the node holds inbound connections from exactly `want`.
fn wait_inbound(lab: &Lab, node: &Host, want: &BTreeSet<IpAddr>) -> interop_tests::Result<()> {
    lab.wait_for(
        &format!(
            "{} to hold connections from {want:?} on port 179",
            node.name
        ),
        CONVERGE,
        || {
            let have = inbound_peers(node)?;
            Ok(if &have == want {
                Probe::Done(())
            } else {
                Probe::Pending(format!("{have:?}"))
            })
        },
    )
}

/// Every router has both the node's routes, learnt over the sessions it
/// opened to `node_addrs`.
fn wait_routes(
    lab: &Lab,
    routers: &[Box<dyn LabRouter>],
    node_addrs: &[IpAddr],
) -> interop_tests::Result<()> {
    for router in routers {
        for a in node_addrs {
            wait_established(lab, router.as_ref(), *a)?;
        }
        for a in node_addrs {
            let vip = if a.is_ipv4() { net(VIP4) } else { net(VIP6) };
            wait_paths(lab, router.as_ref(), vip, 1, CONVERGE).map_err(|e| {
                interop_tests::LabError::Invalid(format!("{}: {e}", router.describe()))
            })?;
        }
    }
    Ok(())
}

fn assert_no_refusal(speaker: &FerroLb) {
    let log = speaker.log();
    assert!(
        !log.contains("cannot accept this peer's connections"),
        "every peer's connections are accepted:\n{log}"
    );
}

#[test]
fn routers_reach_a_dual_stack_listener_without_md5_over_ipv4_and_ipv6() -> interop_tests::Result<()>
{
    use_this_build();
    let mut lab = Lab::new("inbound")?;
    let lab_peers = peers(&mut lab)?;
    let n = lab.add_host_at("n", 11)?;
    let node_addrs = [IpAddr::from(n.ipv4), IpAddr::from(n.ipv6)];
    let routers: Vec<Box<dyn LabRouter>> = lab_peers
        .iter()
        .map(|p| {
            p.kind.start(
                &lab,
                &p.host,
                &router_config(p, &[(node_addrs[0], None), (node_addrs[1], None)]),
            )
        })
        .collect::<Result<_, _>>()?;
    let bgp_peers: Vec<_> = lab_peers
        .iter()
        .flat_map(|p| {
            [
                (
                    format!("{}-v4", p.host.name),
                    p.host.ipv4.into(),
                    p.asn,
                    None,
                ),
                (
                    format!("{}-v6", p.host.name),
                    p.host.ipv6.into(),
                    p.asn,
                    None,
                ),
            ]
        })
        .collect();
    let dir = config_dir(&lab, &n);
    write_config(&dir, &ferrolb_config(&bgp_peers));
    let speaker = FerroLb::start_args(&lab, &n, &dir, &["--bgp-listen", "[::]:179"])?;

    wait_routes(&lab, &routers, &node_addrs)?;
    let every_router: BTreeSet<IpAddr> = bgp_peers.iter().map(|p| p.1).collect();
    wait_inbound(&lab, &n, &every_router)?;
    assert_no_refusal(&speaker);
    Ok(())
}

#[test]
fn routers_reach_ipv4_only_and_ipv6_only_listeners_without_md5() -> interop_tests::Result<()> {
    use_this_build();
    let mut lab = Lab::new("inbound1f")?;
    let lab_peers = peers(&mut lab)?;
    // n4 listens on 0.0.0.0:179, n6 on its IPv6 address only.
    let n4 = lab.add_host_at("n4", 11)?;
    let n6 = lab.add_host_at("n6", 12)?;
    let (a4, a6) = (IpAddr::from(n4.ipv4), IpAddr::from(n6.ipv6));
    let routers: Vec<Box<dyn LabRouter>> = lab_peers
        .iter()
        .map(|p| {
            p.kind
                .start(&lab, &p.host, &router_config(p, &[(a4, None), (a6, None)]))
        })
        .collect::<Result<_, _>>()?;
    let mut v4_peers: Vec<_> = lab_peers
        .iter()
        .map(|p| {
            (
                format!("{}-v4", p.host.name),
                p.host.ipv4.into(),
                p.asn,
                None,
            )
        })
        .collect();
    let v6_peers: Vec<_> = lab_peers
        .iter()
        .map(|p| {
            (
                format!("{}-v6", p.host.name),
                p.host.ipv6.into(),
                p.asn,
                None,
            )
        })
        .collect();
    let v4_routers: BTreeSet<IpAddr> = v4_peers.iter().map(|p| p.1).collect();
    let v6_routers: BTreeSet<IpAddr> = v6_peers.iter().map(|p| p.1).collect();
    // An IPv6 peer of the IPv4-only node: its session connects out only,
    // and the log says why.
    v4_peers.push((
        "r1-v6".into(),
        lab_peers[0].host.ipv6.into(),
        lab_peers[0].asn,
        None,
    ));
    let (dir4, dir6) = (config_dir(&lab, &n4), config_dir(&lab, &n6));
    write_config(&dir4, &ferrolb_config(&v4_peers));
    write_config(&dir6, &ferrolb_config(&v6_peers));
    let speaker4 = FerroLb::start_args(&lab, &n4, &dir4, &["--bgp-listen", "0.0.0.0:179"])?;
    let listen6 = format!("[{}]:179", n6.ipv6);
    let speaker6 = FerroLb::start_args(&lab, &n6, &dir6, &["--bgp-listen", &listen6])?;

    wait_routes(&lab, &routers, &[a4])?;
    wait_routes(&lab, &routers, &[a6])?;
    wait_inbound(&lab, &n4, &v4_routers)?;
    wait_inbound(&lab, &n6, &v6_routers)?;
    assert_no_refusal(&speaker6);
    let log = speaker4.log();
    let refusals: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("cannot accept this peer's connections"))
        .collect();
    assert!(
        !refusals.is_empty()
            && refusals
                .iter()
                .all(|l| l.contains("r1-v6") && l.contains("takes only IPv4 connections")),
        "only the IPv6 peer is refused, with the reason:\n{log}"
    );
    Ok(())
}

/// Waits until `router`'s session with `node` is down.
fn wait_down(lab: &Lab, router: &dyn LabRouter, node: IpAddr) -> interop_tests::Result<()> {
    lab.wait_for(
        &format!("{} to lose its session with {node}", router.describe()),
        CONVERGE,
        || {
            Ok(match router.session_state(node)? {
                Some(SessionState::Established) => Probe::Pending("Established".into()),
                other => Probe::Done(other),
            })
        },
    )
    .map(|_| ())
}

#[test]
fn a_password_removed_and_added_again_brings_the_inbound_session_back_each_time()
-> interop_tests::Result<()> {
    use_this_build();
    let mut lab = Lab::new("inboundpw")?;
    let lab_peers = peers(&mut lab)?;
    let n = lab.add_host_at("n", 11)?;
    let a = IpAddr::from(n.ipv4);
    let router_side = |p: &LabPeer, password| router_config(p, &[(a, password)]);
    let node_side = |password| {
        ferrolb_config(
            &lab_peers
                .iter()
                .map(|p| (p.host.name.clone(), p.host.ipv4.into(), p.asn, password))
                .collect::<Vec<_>>(),
        )
    };
    let mut routers: Vec<Box<dyn LabRouter>> = lab_peers
        .iter()
        .map(|p| p.kind.start(&lab, &p.host, &router_side(p, Some("s3cret"))))
        .collect::<Result<_, _>>()?;
    let dir = config_dir(&lab, &n);
    write_config(&dir, &node_side(Some("s3cret")));
    // The default listener, [::]:179: IPv4 peers' keys are IPv4-mapped.
    let speaker = FerroLb::start(&lab, &n, &dir)?;
    wait_routes(&lab, &routers, &[a])?;
    let every_router: BTreeSet<IpAddr> = lab_peers.iter().map(|p| p.host.ipv4.into()).collect();
    wait_inbound(&lab, &n, &every_router)?;

    for (step, password) in [("removed", None), ("added again", Some("s3cret"))] {
        // The node first: the routers' connections, signed as before, are
        // now refused (a signed SYN to a listener without a key for it is
        // dropped, as is an unsigned one to a listener with a key).
        write_config(&dir, &node_side(password));
        for router in &routers {
            wait_down(&lab, router.as_ref(), a).map_err(|e| {
                interop_tests::LabError::Invalid(format!("password {step} on the node: {e}"))
            })?;
        }
        // Then the routers: the sessions come back, every one inbound.
        for (router, p) in routers.iter_mut().zip(&lab_peers) {
            router.reconfigure(&lab, &router_side(p, password))?;
        }
        wait_routes(&lab, &routers, &[a]).map_err(|e| {
            interop_tests::LabError::Invalid(format!("password {step} on both sides: {e}"))
        })?;
        wait_inbound(&lab, &n, &every_router)?;
    }
    assert_no_refusal(&speaker);
    Ok(())
}
