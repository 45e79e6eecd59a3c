//! BFD in `ferrolb run` against FRR (bgpd + bfdd) and BIRD (`bfd on`), over
//! IPv4 and IPv6: the sessions come up, a profile change reaches them
//! without resetting BGP, a silent link cut takes the routes out of the
//! routers' kernels long before the 90 s hold timer could, a frozen
//! router is noticed by the speaker, which closes its BGP session, and a
//! frozen speaker is noticed by the routers.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::{Duration, Instant};

use interop_tests::ferrolb::FerroLb;
use interop_tests::kernel;
use interop_tests::{Bird, Frr, Host, Lab, Neighbor, Probe, RouterConfig, wait_established};
use ipnet::IpNet;
use nix::sys::signal::Signal;

const NODE_AS: u32 = 64512;
const CONVERGE: Duration = Duration::from_secs(30);
/// Far above every detection time here, far below the 90 s hold time.
const DETECT: Duration = Duration::from_secs(10);
const SERVICE: &str = "198.51.100.10/32";

/// A BGPPeer with a 90 s hold time (BFD must do the detecting) and `extra`
/// spec fields.
fn bgp_peer(name: &str, asn: u32, addr: &str, extra: &str) -> String {
    format!(
        "---\napiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {{name: {name}, namespace: metallb-system}}\nspec: {{myASN: {NODE_AS}, peerASN: {asn}, peerAddress: \"{addr}\", holdTime: 90s, {extra}}}\n"
    )
}

/// A pool of `addresses` (YAML flow items) advertised to every peer, and
/// the document separator after it.
fn pool(addresses: &str) -> String {
    format!(
        r#"apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {{name: pool, namespace: metallb-system}}
spec: {{addresses: [{addresses}]}}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {{name: adv, namespace: metallb-system}}
spec: {{ipAddressPools: [pool]}}
---
"#
    )
}

fn config(transmit_ms: u32) -> String {
    let peer = |name: &str, asn: u32, addr: &str| bgp_peer(name, asn, addr, "bfdProfile: fast");
    format!(
        r#"
{}apiVersion: metallb.io/v1beta1
kind: BFDProfile
metadata: {{name: fast, namespace: metallb-system}}
spec: {{receiveInterval: 100, transmitInterval: {transmit_ms}, detectMultiplier: 3}}
{}{}{}{}"#,
        pool(r#"198.51.100.10-198.51.100.19, "2001:db8:100::10-2001:db8:100::19""#),
        peer("frr", 64500, "172.31.255.1"),
        peer("frr6", 64500, "fd00:31:255::1"),
        peer("bird", 64501, "172.31.255.2"),
        peer("bird6", 64501, "fd00:31:255::2"),
    )
}

const SERVICES: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default, annotations: {metallb.io/loadBalancerIPs: "198.51.100.10,2001:db8:100::10"}}
spec: {type: LoadBalancer, ipFamilyPolicy: RequireDualStack, ipFamilies: [IPv4, IPv6], ports: [{port: 80}]}
"#;

fn write(dir: &Path, file: &str, text: &str) {
    let tmp = dir.join(format!(".{file}.tmp"));
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, dir.join(file)).expect("rename");
}

fn router(asn: u32, me: &Host, node: &Host) -> RouterConfig {
    RouterConfig::new(asn, me.ipv4)
        .neighbor(Neighbor::new(node.ipv4.into(), NODE_AS).no_export().bfd())
        .neighbor(Neighbor::new(node.ipv6.into(), NODE_AS).no_export().bfd())
}

/// FRR's bfdd entry for `peer`.
fn frr_bfd_peer(frr: &Frr, peer: IpAddr) -> interop_tests::Result<Option<serde_json::Value>> {
    let json = frr.vtysh("show bfd peers json")?;
    let peers: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap_or_default();
    Ok(peers
        .into_iter()
        .find(|p| p["peer"].as_str() == Some(&peer.to_string())))
}

fn wait_frr_bfd(
    lab: &Lab,
    frr: &Frr,
    peer: IpAddr,
    ok: impl Fn(&serde_json::Value) -> bool,
    what: &str,
) -> interop_tests::Result<()> {
    lab.wait_for(&format!("FRR's BFD peer {peer}: {what}"), CONVERGE, || {
        Ok(match frr_bfd_peer(frr, peer)? {
            Some(p) if ok(&p) => Probe::Done(()),
            other => Probe::Pending(format!("{other:?}")),
        })
    })
}

fn wait_bird_bfd_up(lab: &Lab, bird: &Bird, peer: IpAddr) -> interop_tests::Result<()> {
    lab.wait_for(
        &format!("BIRD's BFD session with {peer} Up"),
        CONVERGE,
        || {
            let out = bird.birdc(&["show", "bfd", "sessions"])?;
            let up = out.lines().any(|l| {
                l.split_whitespace().next() == Some(&peer.to_string()) && l.contains("Up")
            });
            Ok(if up {
                Probe::Done(())
            } else {
                Probe::Pending(out)
            })
        },
    )
}

/// Waits until `host`'s kernel routes `prefix` (or no longer does); returns how long it took.
fn wait_kernel(
    lab: &Lab,
    host: &Host,
    prefix: IpNet,
    present: bool,
    limit: Duration,
) -> interop_tests::Result<Duration> {
    let start = Instant::now();
    lab.wait_for(
        &format!(
            "{}'s kernel route for {prefix} present={present}",
            host.name
        ),
        limit,
        || {
            let route = kernel::route(&host.netns, prefix)?;
            Ok(if route.is_some() == present {
                Probe::Done(start.elapsed())
            } else {
                Probe::Pending(format!("{route:?}"))
            })
        },
    )
}

fn connections(frr: &Frr, node: IpAddr) -> interop_tests::Result<u64> {
    Ok(frr.neighbor(node)?["connectionsEstablished"]
        .as_u64()
        .unwrap_or(0))
}

#[test]
fn standalone_bfd_with_frr_and_bird_link_cut_and_frozen_router() -> interop_tests::Result<()> {
    // The variable is read by FerroLb::start in this process only.
    unsafe { std::env::set_var("FERROLB_BIN", env!("CARGO_BIN_EXE_ferrolb")) };
    let mut lab = Lab::new("bfd")?;
    let r1 = lab.add_host("r1")?;
    let r2 = lab.add_host("r2")?;
    let n1 = lab.add_host_at("n1", 11)?;
    let frr = Frr::start(&lab, &r1, &router(64500, &r1, &n1))?;
    let bird = Bird::start(&lab, &r2, &router(64501, &r2, &n1))?;
    let dir = lab.dir().join("ferrolb-config");
    std::fs::create_dir_all(&dir).expect("config dir");
    write(&dir, "config.yaml", &config(100));
    write(&dir, "services.yaml", SERVICES);
    let speaker = FerroLb::start(&lab, &n1, &dir)?;
    let (v4, v6): (IpAddr, IpAddr) = (n1.ipv4.into(), n1.ipv6.into());

    // Up with both routers, both families; the routes reach their kernels.
    for addr in [v4, v6] {
        wait_established(&lab, &frr, addr)?;
        wait_established(&lab, &bird, addr)?;
        wait_frr_bfd(&lab, &frr, addr, |p| p["status"] == "up", "up")?;
        wait_bird_bfd_up(&lab, &bird, addr)?;
    }
    let service: IpNet = SERVICE.parse().expect("prefix");
    let service6: IpNet = "2001:db8:100::10/128".parse().expect("prefix");
    for host in [&r1, &r2] {
        wait_kernel(&lab, host, service, true, CONVERGE)?;
        wait_kernel(&lab, host, service6, true, CONVERGE)?;
    }
    // Our timers as bfdd sees them.
    wait_frr_bfd(
        &lab,
        &frr,
        v4,
        |p| p["remote-transmit-interval"] == 100 && p["remote-receive-interval"] == 100,
        "our 100 ms timers",
    )?;

    // A profile change reaches the running session: no BGP reset.
    let before = connections(&frr, v4)?;
    write(&dir, "config.yaml", &config(200));
    wait_frr_bfd(
        &lab,
        &frr,
        v4,
        |p| p["remote-transmit-interval"] == 200 && p["status"] == "up",
        "our new 200 ms transmit interval",
    )?;
    assert_eq!(connections(&frr, v4)?, before, "the BGP session was reset");
    assert_eq!(
        frr.neighbor(v4)?["bgpState"].as_str(),
        Some("Established"),
        "BGP went down on a profile change"
    );

    // A silent cut: the routers' kernels stop routing via the node within
    // the detection time, not the 90 s hold time.
    lab.cut(&n1)?;
    let frr_gone = wait_kernel(&lab, &r1, service, false, DETECT)?;
    let bird_gone = wait_kernel(&lab, &r2, service, false, DETECT)?;
    eprintln!("link cut -> route gone: FRR {frr_gone:?}, BIRD {bird_gone:?} (hold time 90 s)");
    // Our side tore its BGP sessions down with BFD.
    lab.wait_for(
        "the speaker to close its sessions on BFD Down",
        DETECT,
        || {
            let log = speaker.log();
            let closed = log
                .lines()
                .filter(|l| l.contains("BFD session down: closing the BGP session"))
                .count();
            Ok(if closed >= 4 {
                Probe::Done(())
            } else {
                Probe::Pending(format!("{closed} sessions closed"))
            })
        },
    )?;
    lab.mend(&n1)?;
    for host in [&r1, &r2] {
        wait_kernel(&lab, host, service, true, CONVERGE)?;
    }
    for addr in [v4, v6] {
        wait_frr_bfd(&lab, &frr, addr, |p| p["status"] == "up", "up again")?;
        wait_bird_bfd_up(&lab, &bird, addr)?;
        // The log line below is written only for an Established session.
        wait_established(&lab, &bird, addr)?;
    }

    // A frozen router: the speaker's BFD session with it goes down and the
    // BGP session is closed at once.
    let closed_before = speaker
        .log()
        .lines()
        .filter(|l| l.contains("BFD session down: closing the BGP session"))
        .count();
    bird.daemon().signal(Signal::SIGSTOP)?;
    let frozen = lab.wait_for("the speaker to notice the frozen BIRD", DETECT, || {
        let closed = speaker
            .log()
            .lines()
            .filter(|l| l.contains("BFD session down: closing the BGP session"))
            .count();
        Ok(if closed >= closed_before + 2 {
            Probe::Done(())
        } else {
            Probe::Pending(format!("{} new", closed - closed_before))
        })
    });
    bird.daemon().signal(Signal::SIGCONT)?;
    frozen?;
    // FRR's sessions did not move.
    for addr in [v4, v6] {
        wait_frr_bfd(&lab, &frr, addr, |p| p["status"] == "up", "still up")?;
    }
    wait_bird_bfd_up(&lab, &bird, v4)?;
    for host in [&r1, &r2] {
        wait_kernel(&lab, host, service, true, CONVERGE)?;
    }

    // A frozen speaker: both routers stop routing via the node within
    // their detection time (the hold time is 90 s).
    speaker.daemon().signal(Signal::SIGSTOP)?;
    let gone = [&r1, &r2].map(|host| wait_kernel(&lab, host, service, false, DETECT));
    speaker.daemon().signal(Signal::SIGCONT)?;
    let [frr_gone, bird_gone] = gone;
    eprintln!(
        "frozen speaker -> route gone: FRR {:?}, BIRD {:?}",
        frr_gone?, bird_gone?
    );
    for host in [&r1, &r2] {
        wait_kernel(&lab, host, service, true, CONVERGE)?;
    }
    Ok(())
}

/// Multihop BFD (RFC 5883, port 4784) for `ebgpMultiHop` peers, with the
/// profile's `minimumTtl`: FRR and BIRD run it for their `ebgp-multihop` /
/// `multihop` neighbours on the same LAN. FRR sends TTL 255; BIRD sends its
/// multihop packets with the system's default TTL / hop limit (64), so a
/// profile asking for 250 keeps BIRD's session from coming up until it asks
/// for less.
#[test]
fn standalone_multihop_bfd_with_frr_and_bird() -> interop_tests::Result<()> {
    multihop_bfd("bfdmh", false)
}

/// The same over IPv6: sessions to the routers' IPv6 addresses, the hop
/// limit checked against `minimumTtl`, an IPv6 service.
#[test]
fn standalone_multihop_bfd_over_ipv6_with_frr_and_bird() -> interop_tests::Result<()> {
    multihop_bfd("bfdmh6", true)
}

fn multihop_bfd(tag: &str, ipv6: bool) -> interop_tests::Result<()> {
    unsafe { std::env::set_var("FERROLB_BIN", env!("CARGO_BIN_EXE_ferrolb")) };
    let mut lab = Lab::new(tag)?;
    let r1 = lab.add_host("r1")?;
    let r2 = lab.add_host("r2")?;
    let n1 = lab.add_host_at("n1", 11)?;
    let ip = |h: &Host| -> IpAddr { if ipv6 { h.ipv6.into() } else { h.ipv4.into() } };
    let node = ip(&n1);
    let multihop = |asn, me: &Host| {
        let neighbor = Neighbor::new(node, NODE_AS).no_export().bfd().multihop(2);
        let neighbor = if ipv6 {
            neighbor.local(ip(me))
        } else {
            neighbor
        };
        RouterConfig::new(asn, me.ipv4).neighbor(neighbor)
    };
    let frr = Frr::start(&lab, &r1, &multihop(64500, &r1))?;
    let bird = Bird::start(&lab, &r2, &multihop(64501, &r2))?;
    let dir = lab.dir().join("ferrolb-config");
    std::fs::create_dir_all(&dir).expect("config dir");
    let peer = |name: &str, asn: u32, addr: IpAddr, profile: &str| {
        bgp_peer(
            name,
            asn,
            &addr.to_string(),
            &format!("ebgpMultiHop: true, bfdProfile: {profile}"),
        )
    };
    let (frr_addr, bird_addr) = (ip(&r1), ip(&r2));
    let (range, vip) = if ipv6 {
        ("\"2001:db8:100::10-2001:db8:100::19\"", "2001:db8:100::10")
    } else {
        ("198.51.100.10-198.51.100.19", "198.51.100.10")
    };
    let pool = pool(range);
    let config = |bird_profile: &str| {
        format!(
            r#"
{pool}apiVersion: metallb.io/v1beta1
kind: BFDProfile
metadata: {{name: mh, namespace: metallb-system}}
spec: {{receiveInterval: 100, transmitInterval: 100, minimumTtl: 250}}
---
apiVersion: metallb.io/v1beta1
kind: BFDProfile
metadata: {{name: mh-loose, namespace: metallb-system}}
spec: {{receiveInterval: 100, transmitInterval: 100, minimumTtl: 60}}
{}{}"#,
            peer("frr", 64500, frr_addr, "mh"),
            peer("bird", 64501, bird_addr, bird_profile),
        )
    };
    write(&dir, "config.yaml", &config("mh"));
    let family = if ipv6 { "IPv6" } else { "IPv4" };
    write(
        &dir,
        "services.yaml",
        &format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: default, annotations: {{metallb.io/loadBalancerIPs: \"{vip}\"}}}}\nspec: {{type: LoadBalancer, ipFamilies: [{family}], ports: [{{port: 80}}]}}\n"
        ),
    );
    let _speaker = FerroLb::start(&lab, &n1, &dir)?;
    wait_established(&lab, &frr, node)?;
    wait_established(&lab, &bird, node)?;
    wait_frr_bfd(
        &lab,
        &frr,
        node,
        |p| p["status"] == "up" && p["multihop"] == true,
        "up, multihop",
    )?;
    // BIRD's TTL-64 packets are below minimumTtl 250: dropped, never Up.
    std::thread::sleep(Duration::from_secs(3));
    let out = bird.birdc(&["show", "bfd", "sessions"])?;
    assert!(!out.contains("Up"), "BIRD's session came up: {out}");
    write(&dir, "config.yaml", &config("mh-loose"));
    wait_bird_bfd_up(&lab, &bird, node)?;
    let service: IpNet = IpNet::from(vip.parse::<IpAddr>().expect("address literal"));
    for host in [&r1, &r2] {
        wait_kernel(&lab, host, service, true, CONVERGE)?;
    }
    lab.cut(&n1)?;
    let frr_gone = wait_kernel(&lab, &r1, service, false, DETECT)?;
    let bird_gone = wait_kernel(&lab, &r2, service, false, DETECT)?;
    eprintln!("multihop {family}: link cut -> route gone: FRR {frr_gone:?}, BIRD {bird_gone:?}");
    Ok(())
}

/// BFD in a VRF: each BGPPeer names a device (`vrf`) on a link of its own
/// to its router, while the node's main table prefers the LAN for the
/// router's address there. The lab kernel has no VRF device type, so
/// ordinary interfaces stand in, as in `interop-tests/tests/lab_vrf.rs`.
/// FRR and BIRD bring BFD Up with the node's address on that link (an
/// unbound BFD socket would send through the LAN, from the LAN address,
/// and no router would know the session), and a silent cut of the links
/// takes the routes out of both kernels within the detection time, not
/// the 90 s hold time.
#[test]
fn standalone_bfd_in_a_vrf_with_frr_and_bird() -> interop_tests::Result<()> {
    unsafe { std::env::set_var("FERROLB_BIN", env!("CARGO_BIN_EXE_ferrolb")) };
    let mut lab = Lab::new("bfdvrf")?;
    let r1 = lab.add_host("r1")?;
    let r2 = lab.add_host("r2")?;
    let n1 = lab.add_host_at("n1", 11)?;
    // (router, its AS, the device, the router's and the node's address on it)
    let links = [
        (&r1, 64500, "vrfa", [10, 77, 1, 1], [10, 77, 1, 2]),
        (&r2, 64501, "vrfb", [10, 77, 2, 1], [10, 77, 2, 2]),
    ];
    let mut peers = String::new();
    for (router, asn, device, theirs, ours) in links {
        let (theirs, ours) = (Ipv4Addr::from(theirs), Ipv4Addr::from(ours));
        interop_tests::lab::link(&n1, device, router, device)?;
        for (host, addr) in [(&n1, ours), (router, theirs)] {
            host.netns
                .ip(["addr", "add", &format!("{addr}/24"), "dev", device])?;
            host.up(device)?;
        }
        // Unbound, packets to the router's address there would take the LAN.
        n1.netns.ip([
            "route",
            "add",
            &format!("{theirs}/32"),
            "via",
            &router.ipv4.to_string(),
            "dev",
            "eth0",
        ])?;
        peers.push_str(&bgp_peer(
            device,
            asn,
            &theirs.to_string(),
            &format!("bfdProfile: fast, vrf: {device}"),
        ));
    }
    let on_link = |i: usize| IpAddr::from(Ipv4Addr::from(links[i].4));
    let router_for = |i: usize| {
        RouterConfig::new(links[i].1, links[i].0.ipv4)
            .neighbor(Neighbor::new(on_link(i), NODE_AS).no_export().bfd())
    };
    let frr = Frr::start(&lab, &r1, &router_for(0))?;
    let bird = Bird::start(&lab, &r2, &router_for(1))?;
    let dir = lab.dir().join("ferrolb-config");
    std::fs::create_dir_all(&dir).expect("config dir");
    let pool = pool("198.51.100.10-198.51.100.19");
    let config = format!(
        r#"
{pool}apiVersion: metallb.io/v1beta1
kind: BFDProfile
metadata: {{name: fast, namespace: metallb-system}}
spec: {{receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3}}
{peers}"#
    );
    write(&dir, "config.yaml", &config);
    write(
        &dir,
        "services.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default, annotations: {metallb.io/loadBalancerIPs: \"198.51.100.10\"}}\nspec: {type: LoadBalancer, ports: [{port: 80}]}\n",
    );
    let speaker = FerroLb::start(&lab, &n1, &dir)?;
    wait_established(&lab, &frr, on_link(0))?;
    wait_established(&lab, &bird, on_link(1))?;
    wait_frr_bfd(&lab, &frr, on_link(0), |p| p["status"] == "up", "up")?;
    wait_bird_bfd_up(&lab, &bird, on_link(1))?;
    let service: IpNet = SERVICE.parse().expect("prefix");
    for host in [&r1, &r2] {
        wait_kernel(&lab, host, service, true, CONVERGE)?;
    }

    // A silent cut of both links (the node's packets dropped, carriers
    // kept): each router's BFD notices.
    let iptables = |op: &str, device: &str| {
        n1.netns
            .exec("iptables", [op, "OUTPUT", "-o", device, "-j", "DROP"])
    };
    for (_, _, device, _, _) in links {
        iptables("-A", device)?;
    }
    // Both timed from the cut (the second one an upper bound).
    let cut = Instant::now();
    let gone = [&r1, &r2]
        .map(|host| wait_kernel(&lab, host, service, false, DETECT).map(|_| cut.elapsed()));
    for (_, _, device, _, _) in links {
        iptables("-D", device)?;
    }
    let [frr_gone, bird_gone] = gone;
    let (frr_gone, bird_gone) = match (frr_gone, bird_gone) {
        (Ok(f), Ok(b)) => (f, b),
        (f, b) => {
            eprintln!("ferrolb log:\n{}", speaker.log());
            return f.and(b).map(|_| ());
        }
    };
    eprintln!(
        "BFD in a VRF: silent cut -> route gone: FRR {frr_gone:?}, BIRD within {bird_gone:?} (hold time 90 s)"
    );
    for host in [&r1, &r2] {
        wait_kernel(&lab, host, service, true, CONVERGE)?;
    }
    Ok(())
}
