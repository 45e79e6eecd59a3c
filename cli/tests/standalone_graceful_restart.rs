//! Graceful restart (RFC 4724) with `ferrolb run` as the restarting
//! speaker, against real FRR and BIRD, counted by a netlink route monitor
//! in each router's namespace (RTM_DELROUTE for the service prefixes):
//! - killed (SIGKILL) and started again within the restart time: the
//!   routers' kernels never drop the service route; a service deleted while
//!   the speaker was down is withdrawn by the End-of-RIB that follows the
//!   restarted speaker's table;
//! - SIGTERM with --graceful-restart-on-shutdown: routes kept, and kept
//!   through the next start;
//! - killed and never back: the routers drop the stale route after the
//!   (short) restart time;
//! - SIGTERM without the flag: withdrawn at once, with Cease;
//! - and, for contrast, without graceful restart a kill costs a removal.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use interop_tests::ferrolb::FerroLb;
use interop_tests::kernel::RouteMonitor;
use interop_tests::{
    Bird, Family, Frr, Host, Lab, Neighbor, Probe, RouterConfig, kernel, wait_kernel_route,
};
use ipnet::IpNet;
use nix::sys::signal::Signal;

const NODE_AS: u32 = 64512;
const CONVERGE: Duration = Duration::from_secs(30);
/// Long enough for a kill and a start on a loaded machine.
const LONG_RESTART: &str = "60s";
/// Short enough to wait for the routers to give up on us.
const SHORT_RESTART: &str = "4s";

fn net(s: &str) -> IpNet {
    s.parse().expect("prefix literal")
}

/// One router and what its kernel went through.
struct Watched {
    name: &'static str,
    host: Host,
    monitor: RouteMonitor,
}

impl Watched {
    fn removals(&self, prefix: IpNet) -> u32 {
        self.monitor.events(prefix).removals
    }
}

fn wait_gone(
    lab: &Lab,
    host: &Host,
    prefix: IpNet,
    timeout: Duration,
) -> interop_tests::Result<()> {
    lab.wait_for(
        &format!("{prefix} to leave the kernel of {}", host.name),
        timeout,
        || {
            Ok(match kernel::route(&host.netns, prefix)? {
                None => Probe::Done(()),
                Some(r) => Probe::Pending(format!("via {:?}", r.next_hops)),
            })
        },
    )
}

/// FRR (r1) and BIRD (r2), both with graceful restart on and their kernels
/// watched, facing `count` lab nodes that run the standalone example, with
/// `enableGracefulRestart: true` on its BGPPeers when `gr`.
struct Rig {
    lab: Lab,
    nodes: Vec<Host>,
    frr: Frr,
    _bird: Bird,
    routers: Vec<Watched>,
    config: PathBuf,
}

impl Rig {
    fn new(tag: &str, count: u8, gr: bool) -> interop_tests::Result<Rig> {
        Rig::with_family(tag, count, gr, Family::Ipv4)
    }

    /// With the sessions over `family`: for IPv6, the BGPPeers name the
    /// routers' IPv6 addresses and the one service, `web`, is IPv6 only.
    fn with_family(tag: &str, count: u8, gr: bool, family: Family) -> interop_tests::Result<Rig> {
        // SAFETY-free: the variable is read by FerroLb::start in this process.
        unsafe { std::env::set_var("FERROLB_BIN", env!("CARGO_BIN_EXE_ferrolb")) };
        let mut lab = Lab::new(tag)?;
        let r1 = lab.add_host("r1")?;
        let r2 = lab.add_host("r2")?;
        let nodes = lab.add_nodes(count)?;
        let refs: Vec<&Host> = nodes.iter().collect();
        let facing = |asn: u32, me: &Host| match family {
            Family::Ipv4 => RouterConfig::facing_speakers(asn, me, &refs, NODE_AS),
            Family::Ipv6 => refs.iter().fold(RouterConfig::new(asn, me.ipv4), |c, n| {
                c.neighbor(Neighbor::new(n.ipv6.into(), NODE_AS).no_export())
            }),
        };
        let frr = Frr::start(&lab, &r1, &facing(64500, &r1).graceful_restart())?;
        let bird = Bird::start(&lab, &r2, &facing(64501, &r2).graceful_restart())?;
        let routers = vec![
            Watched {
                name: "FRR",
                monitor: RouteMonitor::start(&r1.netns)?,
                host: r1,
            },
            Watched {
                name: "BIRD",
                monitor: RouteMonitor::start(&r2.netns)?,
                host: r2,
            },
        ];
        let config = lab.dir().join("ferrolb-config");
        interop_tests::ferrolb::copy_example(&config)?;
        if family == Family::Ipv6 {
            let peers = config.join("config.yaml");
            let mut yaml = std::fs::read_to_string(&peers).expect("read config");
            for r in &routers {
                let r = &r.host;
                yaml = yaml.replace(
                    &format!("peerAddress: {}", r.ipv4),
                    &format!("peerAddress: \"{}\"", r.ipv6),
                );
            }
            std::fs::write(&peers, yaml).expect("IPv6 peers");
            std::fs::write(config.join("services.yaml"), WEB6).expect("IPv6 service");
        }
        if gr {
            let peers = config.join("config.yaml");
            let yaml = std::fs::read_to_string(&peers).expect("read config");
            std::fs::write(
                &peers,
                yaml.replace(
                    "holdTime: 9s",
                    "holdTime: 9s\n  enableGracefulRestart: true",
                ),
            )
            .expect("enable graceful restart");
        }
        Ok(Rig {
            lab,
            nodes,
            frr,
            _bird: bird,
            routers,
            config,
        })
    }

    /// Starts life `life` of node `i`'s speaker, logging to its own file
    /// (with the session driver's debug lines: End-of-RIB sent).
    fn start(&self, i: usize, life: u32, extra: &[&str]) -> interop_tests::Result<FerroLb> {
        FerroLb::start_with(
            &self.lab,
            &self.nodes[i],
            &self.config,
            &format!("ferrolb-{life}.log"),
            Some("info,ferrolb_bgp=debug"),
            extra,
        )
    }

    /// Node `i`'s restart marker, where the lab keeps it.
    fn marker(&self, i: usize) -> interop_tests::Result<PathBuf> {
        Ok(self
            .lab
            .state_dir(&self.nodes[i], "ferrolb")?
            .join("restart-marker"))
    }

    /// Waits until every router's kernel routes `prefix` via exactly `via`.
    fn wait_routed(&self, prefix: IpNet, via: &[IpAddr]) -> interop_tests::Result<()> {
        for r in &self.routers {
            wait_kernel_route(&self.lab, &r.host, prefix, via, CONVERGE)?;
        }
        Ok(())
    }
}

/// The IPv6 rig's one service.
const WEB6: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default, annotations: {metallb.io/loadBalancerIPs: \"2001:db8:100::10\"}}\nspec: {type: LoadBalancer, ipFamilies: [IPv6], ports: [{port: 80}]}\n";

fn kill(lab: &Lab, speaker: &FerroLb) -> interop_tests::Result<()> {
    speaker.daemon().signal(Signal::SIGKILL)?;
    lab.wait_exited(speaker.daemon(), CONVERGE)
}

#[test]
fn frr_and_bird_keep_routing_through_a_speaker_restart() -> interop_tests::Result<()> {
    let rig = Rig::new("gr", 1, true)?;
    let (lab, frr, routers, config) = (&rig.lab, &rig.frr, &rig.routers, &rig.config);
    let n1 = &rig.nodes[0];
    let marker = rig.marker(0)?;
    let web = net("198.51.100.10/32");
    let api = net("198.51.100.50/32");
    let via: Vec<IpAddr> = vec![n1.ipv4.into()];
    let keep = [
        "--graceful-restart-time",
        LONG_RESTART,
        "--graceful-restart-on-shutdown",
    ];

    // Life 1: a first start.
    let life1 = rig.start(0, 1, &keep)?;
    for r in routers {
        for vip in [web, api] {
            wait_kernel_route(lab, &r.host, vip, &via, CONVERGE)?;
        }
    }
    let n = frr.neighbor(n1.ipv4.into())?;
    let gr = &n["gracefulRestartInfo"];
    assert_eq!(gr["remoteGrMode"], "Restart", "{gr}");
    assert_eq!(gr["rBit"], false, "a first start: {gr}");
    assert_eq!(gr["timers"]["receivedRestartTimer"], 60, "{gr}");
    assert_eq!(gr["ipv4Unicast"]["fBit"], true, "{gr}");

    // 1. SIGKILL, then back within the restart time, with `api` deleted
    //    while it was down.
    let t = Instant::now();
    kill(lab, &life1)?;
    let services = config.join("services.yaml");
    let text = std::fs::read_to_string(&services).expect("read services");
    let web_only = text.split("\n---\n").next().expect("web first").to_string();
    assert!(web_only.contains("name: web") && !web_only.contains("name: api"));
    std::fs::write(&services, web_only).expect("delete api");
    let life2 = rig.start(0, 2, &keep)?;
    for r in routers {
        wait_gone(lab, &r.host, api, CONVERGE)?;
        wait_kernel_route(lab, &r.host, web, &via, CONVERGE)?;
    }
    let killed_to_clean = t.elapsed();
    let n = frr.neighbor(n1.ipv4.into())?;
    assert_eq!(
        n["gracefulRestartInfo"]["rBit"], true,
        "the restarted speaker says so: {n}"
    );
    for r in routers {
        assert_eq!(
            r.removals(web),
            0,
            "{}: {web} never left the kernel while the speaker restarted",
            r.name
        );
        assert_eq!(
            r.removals(api),
            1,
            "{}: {api}, deleted while the speaker was down, went after its End-of-RIB",
            r.name
        );
    }
    assert!(life2.log().contains("End-of-RIB sent"), "{}", life2.log());

    // 2. SIGTERM with --graceful-restart-on-shutdown: the routers keep the
    //    route while the speaker is away, and through its next start.
    life2.daemon().stop(Duration::from_secs(10));
    assert!(
        life2.log().contains("stopping for a restart"),
        "{}",
        life2.log()
    );
    // Enough for a withdrawal to have reached both kernels, had one been sent.
    std::thread::sleep(Duration::from_secs(2));
    for r in routers {
        assert!(
            kernel::route(&r.host.netns, web)?.is_some(),
            "{}: kept after SIGTERM",
            r.name
        );
    }
    let n = frr.neighbor(n1.ipv4.into())?;
    assert_ne!(
        n["lastNotificationReason"], "Cease/Administrative Shutdown",
        "closed without NOTIFICATION: {n}"
    );
    let life3 = rig.start(0, 3, &["--graceful-restart-time", SHORT_RESTART])?;
    lab.wait_for("life 3 to send its End-of-RIB", CONVERGE, || {
        Ok(if life3.log().matches("End-of-RIB sent").count() >= 2 {
            Probe::Done(())
        } else {
            Probe::Pending("not yet".into())
        })
    })?;
    for r in routers {
        wait_kernel_route(lab, &r.host, web, &via, CONVERGE)?;
        assert_eq!(r.removals(web), 0, "{}: kept across SIGTERM", r.name);
    }

    // 3. SIGKILL and never back: the routers drop the stale route after
    //    the 4 s restart time.
    let t = Instant::now();
    kill(lab, &life3)?;
    let mut gave_up = Vec::new();
    for r in routers {
        wait_gone(lab, &r.host, web, CONVERGE)?;
        gave_up.push((r.name, t.elapsed()));
        assert_eq!(r.removals(web), 1, "{}: dropped once", r.name);
    }

    // 4. SIGTERM without --graceful-restart-on-shutdown: withdrawn at once,
    //    with a goodbye, long before the 60 s restart time.
    let life4 = rig.start(0, 4, &["--graceful-restart-time", LONG_RESTART])?;
    for r in routers {
        wait_kernel_route(lab, &r.host, web, &via, CONVERGE)?;
    }
    let t = Instant::now();
    life4.daemon().stop(Duration::from_secs(10));
    let mut withdrawn = Vec::new();
    for r in routers {
        wait_gone(lab, &r.host, web, CONVERGE)?;
        withdrawn.push((r.name, t.elapsed()));
        assert_eq!(r.removals(web), 2, "{}", r.name);
    }
    let n = frr.neighbor(n1.ipv4.into())?;
    assert_eq!(
        n["lastNotificationReason"], "Cease/Administrative Shutdown",
        "{n}"
    );
    assert!(!marker.exists(), "a stop that withdrew clears the marker");
    println!(
        "graceful restart: kill-to-clean {killed_to_clean:?}; stale dropped after {gave_up:?} (restart time {SHORT_RESTART}); plain SIGTERM withdrawn after {withdrawn:?}; load {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    Ok(())
}

#[test]
fn without_graceful_restart_a_killed_speaker_costs_each_router_a_removal()
-> interop_tests::Result<()> {
    // The routers are willing; the BGPPeers do not ask for it.
    let rig = Rig::new("nogr", 1, false)?;
    let web = net("198.51.100.10/32");
    let via: Vec<IpAddr> = vec![rig.nodes[0].ipv4.into()];
    let life1 = rig.start(0, 1, &[])?;
    rig.wait_routed(web, &via)?;
    kill(&rig.lab, &life1)?;
    // Nothing kept: each router drops the route as soon as the session goes.
    for r in &rig.routers {
        wait_gone(&rig.lab, &r.host, web, CONVERGE)?;
    }
    let _life2 = rig.start(0, 2, &[])?;
    rig.wait_routed(web, &via)?;
    for r in &rig.routers {
        assert_eq!(r.removals(web), 1, "{}", r.name);
    }
    Ok(())
}

#[test]
fn a_rolling_restart_of_two_nodes_keeps_both_next_hops() -> interop_tests::Result<()> {
    let rig = Rig::new("grroll", 2, true)?;
    let web = net("198.51.100.10/32");
    let via: Vec<IpAddr> = rig.nodes.iter().map(|n| n.ipv4.into()).collect();
    let keep = [
        "--graceful-restart-time",
        LONG_RESTART,
        "--graceful-restart-on-shutdown",
    ];
    let mut speakers: Vec<FerroLb> = (0..2)
        .map(|i| rig.start(i, 1, &keep))
        .collect::<Result<_, _>>()?;
    rig.wait_routed(web, &via)?;
    // One node at a time, as a DaemonSet rollout does: SIGTERM, start the
    // new version, wait until it is back (its End-of-RIB sent to both
    // routers), then the next node.
    for (i, speaker) in speakers.iter_mut().enumerate() {
        speaker.daemon().stop(Duration::from_secs(10));
        *speaker = rig.start(i, 2, &keep)?;
        let new = &*speaker;
        rig.lab.wait_for(&format!("node {i} back"), CONVERGE, || {
            Ok(if new.log().matches("End-of-RIB sent").count() >= 2 {
                Probe::Done(())
            } else {
                Probe::Pending("not yet".into())
            })
        })?;
        rig.wait_routed(web, &via)?;
    }
    for r in &rig.routers {
        assert_eq!(
            r.removals(web),
            0,
            "{}: {web} never left the kernel during the rollout",
            r.name
        );
    }
    Ok(())
}

/// Graceful restart over IPv6 sessions with an IPv6 service: killed and
/// back within the restart time, the routers' kernels never drop the route;
/// FRR saw the F bit for IPv6 unicast and, after the restart, the R bit.
#[test]
fn frr_and_bird_keep_ipv6_routes_through_a_speaker_restart() -> interop_tests::Result<()> {
    let rig = Rig::with_family("gr6", 1, true, Family::Ipv6)?;
    let n1 = &rig.nodes[0];
    let web6 = net("2001:db8:100::10/128");
    let via: Vec<IpAddr> = vec![n1.ipv6.into()];
    let keep = ["--graceful-restart-time", LONG_RESTART];
    let life1 = rig.start(0, 1, &keep)?;
    rig.wait_routed(web6, &via)?;
    let gr = rig.frr.neighbor(n1.ipv6.into())?["gracefulRestartInfo"].take();
    assert_eq!(gr["remoteGrMode"], "Restart", "{gr}");
    assert_eq!(gr["ipv6Unicast"]["fBit"], true, "{gr}");
    kill(&rig.lab, &life1)?;
    let life2 = rig.start(0, 2, &keep)?;
    rig.lab
        .wait_for("life 2 to send its End-of-RIB", CONVERGE, || {
            Ok(if life2.log().contains("End-of-RIB sent") {
                Probe::Done(())
            } else {
                Probe::Pending("not yet".into())
            })
        })?;
    rig.wait_routed(web6, &via)?;
    let n = rig.frr.neighbor(n1.ipv6.into())?;
    assert_eq!(n["gracefulRestartInfo"]["rBit"], true, "{n}");
    for r in &rig.routers {
        assert_eq!(
            r.removals(web6),
            0,
            "{}: {web6} never left the kernel while the speaker restarted",
            r.name
        );
    }
    Ok(())
}
