//! `ferrolb run` with an unnumbered BGPPeer (`interface`, RFC 8950): the
//! node and the router share a link with no IPv4 address and only fixed
//! IPv6 link-local ones. The speaker finds the router on the link (FRR by
//! its router advertisements, BIRD by its answer to an echo to all nodes),
//! peers with it over link-local addresses, and sends its IPv4 /32 with an
//! IPv6 next hop. Proven in the router's kernel (`198.51.100.30 via inet6
//! fe80::11 dev unnum0`, and the IPv6 /128 via the same next hop) and by
//! HTTP from a client on the LAN behind the router, whose only way to the
//! service address is that route. Each router also runs listening on
//! another port than 179, so that the node cannot dial it: the session
//! is then the one the router opened to the node's listener, from its
//! link-local address on the link.
//!
//! With a `bfdProfile`, BFD runs over the link too (bound to it, to the
//! router's link-local address): a silent cut takes the routes out of the
//! router's kernel within BFD's detection time, not the 90 s hold time.

use std::net::{IpAddr, Ipv6Addr};
use std::path::Path;
use std::time::Duration;

use interop_tests::ferrolb::FerroLb;
use interop_tests::traffic::{HttpServer, http_get};
use interop_tests::{
    Bird, Frr, Host, Lab, Neighbor, RouterConfig, wait_kernel_route, wait_kernel_route_gone,
};
use ipnet::IpNet;

const NODE_AS: u32 = 64512;
const ROUTER_AS: u32 = 64500;
const CONVERGE: Duration = Duration::from_secs(45);
const LINK: &str = "unnum0";
const NODE_LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x11);
const ROUTER_LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
const VIP4: &str = "198.51.100.30/32";
const VIP6: &str = "2001:db8:100::30/128";
/// Where the routers listen in the inbound cases: the node dials 179.
const ROUTER_PORT: u16 = 1179;
/// Far above BFD's detection time with the routers' default 300 ms x 3,
/// far below the 90 s hold time of the BFD cases.
const DETECT: Duration = Duration::from_secs(10);

/// What the BGPPeer asks for beyond the link.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Liveness {
    /// The hold timer alone (9 s).
    Hold,
    /// BFD (profile `fast`, 100 ms) with a 90 s hold time.
    Bfd,
}

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

/// The node `n`, the router `r` and a client `c` on the LAN; the node and
/// the router also on a link of their own, with link-local addresses only.
struct Topology {
    lab: Lab,
    r: Host,
    n: Host,
    c: Host,
}

fn topology(tag: &str) -> interop_tests::Result<Topology> {
    let mut lab = Lab::new(tag)?;
    let r = lab.add_host("r")?;
    let n = lab.add_host_at("n", 11)?;
    let c = lab.add_host("c")?;
    interop_tests::lab::link(&n, LINK, &r, LINK)?;
    for (host, ll) in [(&n, NODE_LL), (&r, ROUTER_LL)] {
        // The routers' configurations name these fixed addresses.
        host.fixed_link_local(LINK, ll)?;
        host.up(LINK)?;
    }
    // The router forwards the client's traffic to the service address,
    // which it knows only from the unnumbered session.
    r.netns.exec(
        "sysctl",
        [
            "-qw",
            "net.ipv4.ip_forward=1",
            "net.ipv6.conf.all.forwarding=1",
        ],
    )?;
    c.netns.ip([
        "route",
        "add",
        "198.51.100.0/24",
        "via",
        &r.ipv4.to_string(),
    ])?;
    Ok(Topology { lab, r, n, c })
}

/// A dual-stack Service at 198.51.100.30 and 2001:db8:100::30, announced
/// to one BGPPeer that names the link instead of an address.
fn write_config(dir: &Path, liveness: Liveness) {
    let peer_liveness = match liveness {
        Liveness::Hold => "holdTime: 9s",
        Liveness::Bfd => "holdTime: 90s, bfdProfile: fast",
    };
    let text = format!(
        r#"apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {{name: pool, namespace: metallb-system}}
spec: {{addresses: [198.51.100.10-198.51.100.99, "2001:db8:100::10-2001:db8:100::99"]}}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {{name: adv, namespace: metallb-system}}
spec: {{ipAddressPools: [pool]}}
---
apiVersion: v1
kind: Service
metadata: {{name: dual, namespace: default, annotations: {{metallb.io/loadBalancerIPs: "198.51.100.30,2001:db8:100::30"}}}}
spec: {{type: LoadBalancer, ipFamilyPolicy: RequireDualStack, ipFamilies: [IPv4, IPv6], ports: [{{port: 80}}]}}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {{name: unnumbered, namespace: metallb-system}}
spec: {{myASN: {NODE_AS}, peerASN: {ROUTER_AS}, interface: {LINK}, {peer_liveness}}}
---
apiVersion: metallb.io/v1beta1
kind: BFDProfile
metadata: {{name: fast, namespace: metallb-system}}
spec: {{receiveInterval: 100, transmitInterval: 100}}
"#
    );
    std::fs::create_dir_all(dir).expect("config dir");
    std::fs::write(dir.join("config.yaml"), text).expect("write config");
}

/// Starts `ferrolb run` on the node, then checks the router's kernel and
/// the client's traffic; with BFD, once `router_bfd_up` says the router's
/// BFD session is Up, a silent cut of the link.
fn scenario(
    t: &Topology,
    liveness: Liveness,
    router_bfd_up: &dyn Fn() -> interop_tests::Result<bool>,
) -> interop_tests::Result<()> {
    let vip4 = net(VIP4);
    let vip6 = net(VIP6);
    // The node serves the address (kube-proxy would, on a cluster).
    t.n.netns.ip(["addr", "add", VIP4, "dev", "lo"])?;
    HttpServer::start(&t.lab, &t.n, vip4.addr(), 80)?;
    let config = t.lab.dir().join("ferrolb-config");
    write_config(&config, liveness);
    let speaker = FerroLb::start(&t.lab, &t.n, &config)?;
    let via_node = [IpAddr::V6(NODE_LL)];
    let ipv4 = wait_kernel_route(&t.lab, &t.r, vip4, &via_node, CONVERGE);
    let ipv6 = ipv4
        .as_ref()
        .map_err(|_| ())
        .ok()
        .map(|_| wait_kernel_route(&t.lab, &t.r, vip6, &via_node, CONVERGE));
    if ipv4.is_err() || !matches!(ipv6, Some(Ok(_))) {
        eprintln!("ferrolb log:\n{}", speaker.log());
    }
    ipv4?;
    if let Some(ipv6) = ipv6 {
        ipv6?;
    }
    let body = http_get(&t.c, vip4.addr(), 80, Duration::from_secs(5))?;
    assert_eq!(body.trim(), t.n.name, "the node served the client");
    let log = speaker.log();
    assert!(
        log.contains("router found on the unnumbered interface"),
        "{log}"
    );
    if liveness == Liveness::Bfd {
        // Up from the slow start (1 s packets) before the cut, or there
        // is nothing to detect.
        t.lab
            .wait_for("the router's BFD session Up", CONVERGE, || {
                Ok(if router_bfd_up()? {
                    interop_tests::Probe::Done(())
                } else {
                    interop_tests::Probe::Pending("not Up".into())
                })
            })?;
        silent_cut(t, &speaker)?;
    }
    Ok(())
}

/// Drops everything the node sends on the link, carrier kept: only the
/// router's BFD can notice within seconds. Then lets it through again.
fn silent_cut(t: &Topology, speaker: &FerroLb) -> interop_tests::Result<()> {
    let rule = ["OUTPUT", "-o", LINK, "-j", "DROP"];
    let ip6tables = |op: &str| {
        let mut args = vec![op];
        args.extend(rule);
        t.n.netns.exec("ip6tables", args)
    };
    ip6tables("-A")?;
    let gone = wait_kernel_route_gone(&t.lab, &t.r, net(VIP4), DETECT);
    // Our side hears the router's Down (or its silence): whichever closes
    // the BGP session first, the router's NOTIFICATION or our BFD.
    let closed = t
        .lab
        .wait_for("the speaker's BFD session to go Down", DETECT, || {
            Ok(if speaker.log().contains("BFD session down from=up") {
                interop_tests::Probe::Done(())
            } else {
                interop_tests::Probe::Pending("still Up".into())
            })
        });
    ip6tables("-D")?;
    eprintln!(
        "silent cut of the unnumbered link -> route gone from the router: {:?}",
        gone?
    );
    closed?;
    wait_kernel_route(&t.lab, &t.r, net(VIP4), &[IpAddr::V6(NODE_LL)], CONVERGE)?;
    Ok(())
}

fn with_frr(tag: &str, router_port: Option<u16>, liveness: Liveness) -> interop_tests::Result<()> {
    use_this_build();
    let t = topology(tag)?;
    let mut router = RouterConfig::new(ROUTER_AS, t.r.ipv4);
    if let Some(port) = router_port {
        router = router.listen_port(port);
    }
    let frr = Frr::start(&t.lab, &t.r, &router)?;
    let bfd = format!("neighbor {LINK} bfd");
    let bfd_up = || -> interop_tests::Result<bool> {
        let json = frr.vtysh("show bfd peers json")?;
        let peers: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap_or_default();
        Ok(peers
            .iter()
            .any(|p| p["peer"].as_str() == Some(&NODE_LL.to_string()) && p["status"] == "up"))
    };
    // As MetalLB's FRR mode configures it: the neighbour is the interface;
    // FRR offers the extended next hop capability by itself there.
    frr.configure(&[
        &format!("router bgp {ROUTER_AS}"),
        &format!("neighbor {LINK} interface remote-as external"),
        &format!("neighbor {LINK} timers connect 1"),
        if liveness == Liveness::Bfd { &bfd } else { "!" },
        "address-family ipv4 unicast",
        &format!("neighbor {LINK} activate"),
        &format!("neighbor {LINK} route-map LAB-DENY out"),
        "exit-address-family",
        "address-family ipv6 unicast",
        &format!("neighbor {LINK} activate"),
        &format!("neighbor {LINK} route-map LAB-DENY out"),
        "exit-address-family",
    ])?;
    let result = scenario(&t, liveness, &bfd_up);
    if result.is_err() {
        eprintln!(
            "FRR:\n{}",
            frr.vtysh(&format!("show bgp neighbors {LINK}"))
                .unwrap_or_default()
        );
        eprintln!(
            "FRR's BFD:\n{}",
            frr.vtysh("show bfd peers").unwrap_or_default()
        );
    }
    result
}

fn with_bird(tag: &str, router_port: Option<u16>, liveness: Liveness) -> interop_tests::Result<()> {
    use_this_build();
    let t = topology(tag)?;
    // BIRD names the node's link-local address on the link, and takes
    // IPv4 routes with an IPv6 next hop in its IPv4 channel.
    let neighbor = Neighbor::new(NODE_LL.into(), NODE_AS)
        .link_local(LINK)
        .families(&[interop_tests::Family::Ipv4, interop_tests::Family::Ipv6])
        .extended_next_hop();
    let neighbor = match liveness {
        Liveness::Hold => neighbor,
        Liveness::Bfd => neighbor.bfd(),
    };
    let mut router = RouterConfig::new(ROUTER_AS, t.r.ipv4).neighbor(neighbor);
    if let Some(port) = router_port {
        router = router.listen_port(port);
    }
    let bird = Bird::start(&t.lab, &t.r, &router)?;
    let bfd_up = || -> interop_tests::Result<bool> {
        let out = bird.birdc(&["show", "bfd", "sessions"])?;
        Ok(out
            .lines()
            .any(|l| l.starts_with(&NODE_LL.to_string()) && l.contains("Up")))
    };
    let result = scenario(&t, liveness, &bfd_up);
    if result.is_err() {
        eprintln!(
            "BIRD:\n{}",
            bird.birdc(&["show", "protocols", "all"])
                .unwrap_or_default()
        );
        eprintln!(
            "BIRD's BFD:\n{}",
            bird.birdc(&["show", "bfd", "sessions"]).unwrap_or_default()
        );
    }
    result
}

#[test]
fn an_unnumbered_session_with_frr_carries_ipv4_with_an_ipv6_next_hop() -> interop_tests::Result<()>
{
    with_frr("unnfrr", None, Liveness::Hold)
}

#[test]
fn an_unnumbered_session_with_bird_carries_ipv4_with_an_ipv6_next_hop() -> interop_tests::Result<()>
{
    with_bird("unnbird", None, Liveness::Hold)
}

#[test]
fn frr_dialling_the_node_over_the_link_gets_the_unnumbered_session() -> interop_tests::Result<()> {
    with_frr("unnfrrin", Some(ROUTER_PORT), Liveness::Hold)
}

#[test]
fn bird_dialling_the_node_over_the_link_gets_the_unnumbered_session() -> interop_tests::Result<()> {
    with_bird("unnbirdin", Some(ROUTER_PORT), Liveness::Hold)
}

#[test]
fn bfd_over_an_unnumbered_link_with_frr_notices_a_silent_cut() -> interop_tests::Result<()> {
    with_frr("unnfrrbfd", None, Liveness::Bfd)
}

#[test]
fn bfd_over_an_unnumbered_link_with_bird_notices_a_silent_cut() -> interop_tests::Result<()> {
    with_bird("unnbirdbfd", None, Liveness::Bfd)
}
