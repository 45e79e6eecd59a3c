//! Faults (issue 18) with `ferrolb run` speakers and real FRR and BIRD,
//! each test naming what must never happen; the figures they print are
//! recorded in docs/reliability.md:
//! - a router crashes (SIGKILL) and comes back: the speaker's connection
//!   attempts while it is gone are spaced by the backoff (never a hot
//!   loop), and the router gets the full table again, no route missing,
//!   none twice, none extra;
//! - the link between a node and the routers flaps at random: the speaker
//!   neither crashes nor leaks a descriptor or a socket, and the routers
//!   hold the right table soon after the last flap;
//! - one of three speakers announcing the same addresses (ECMP) is killed,
//!   or its node dies with it: the routers stop routing to it (at once,
//!   within the hold time, within the BFD detection time), and the
//!   restarted speaker announces exactly what it did before.
//!
//! `FERROLB_FAULTS_LONG=1` (`make faults-long`) runs the long variants:
//! routers down 30 s, link flaps for 2 minutes.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use interop_tests::ferrolb::FerroLb;
use interop_tests::l2::harness::Jitter;
use interop_tests::procfs::{self, TcpState};
use interop_tests::routers::{LabRouter, RouterKind};
use interop_tests::syns::{self, SynCapture};
use interop_tests::{Host, Lab, Neighbor, Probe, RouterConfig, kernel};
use ipnet::IpNet;
use nix::sys::signal::Signal;

const NODE_AS: u32 = 64512;
const CONVERGE: Duration = Duration::from_secs(30);
/// Services every node announces (one /32 each).
const SERVICES: usize = 40;

fn long() -> bool {
    std::env::var_os("FERROLB_FAULTS_LONG").is_some_and(|v| v != "0")
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The service addresses: 198.51.100.10, .11, ...
fn service_prefixes(count: usize) -> Vec<IpNet> {
    (0..count)
        .map(|i| format!("198.51.100.{}/32", 10 + i).parse().expect("prefix"))
        .collect()
}

fn write(dir: &Path, file: &str, text: &str) {
    let tmp = dir.join(format!(".{file}.tmp"));
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, dir.join(file)).expect("rename");
}

/// How each speaker talks to the routers.
#[derive(Clone, Copy)]
struct Timers {
    /// The BGPPeers' holdTime, in seconds (the routers are given the same).
    hold: u16,
    /// A BFDProfile of 100 ms x 3 on every BGPPeer.
    bfd: bool,
}

/// The configuration directory every node reads: one pool, the BGPPeers
/// of both routers, and `SERVICES` Services, each asking for its address.
fn write_config(dir: &Path, routers: &[(&str, u32, &Host)], timers: Timers) -> Vec<IpNet> {
    std::fs::create_dir_all(dir).expect("config dir");
    let mut config = String::from(
        "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: pool, namespace: metallb-system}\nspec: {addresses: [198.51.100.0/24]}\n---\napiVersion: metallb.io/v1beta1\nkind: BGPAdvertisement\nmetadata: {name: adv, namespace: metallb-system}\nspec: {ipAddressPools: [pool]}\n",
    );
    let bfd = if timers.bfd {
        config.push_str("---\napiVersion: metallb.io/v1beta1\nkind: BFDProfile\nmetadata: {name: fast, namespace: metallb-system}\nspec: {receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3}\n");
        ", bfdProfile: fast"
    } else {
        ""
    };
    for (name, asn, host) in routers {
        config.push_str(&format!(
            "---\napiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {{name: {name}, namespace: metallb-system}}\nspec: {{myASN: {NODE_AS}, peerASN: {asn}, peerAddress: \"{}\", holdTime: {}s{bfd}}}\n",
            host.ipv4, timers.hold
        ));
    }
    write(dir, "config.yaml", &config);
    let prefixes = service_prefixes(SERVICES);
    let services: Vec<String> = prefixes
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                "apiVersion: v1\nkind: Service\nmetadata: {{name: svc-{i}, namespace: default, annotations: {{metallb.io/loadBalancerIPs: \"{}\"}}}}\nspec: {{type: LoadBalancer, ports: [{{port: 80}}]}}\n",
                p.addr()
            )
        })
        .collect();
    write(dir, "services.yaml", &services.join("---\n"));
    prefixes
}

/// A router and the host it runs on.
struct Routed {
    name: &'static str,
    host: Host,
    router: Box<dyn LabRouter>,
}

/// FRR (r1, AS 64500) and BIRD (r2, AS 64501) facing `count` nodes that
/// run `ferrolb run` on one configuration directory.
struct Rig {
    lab: Lab,
    nodes: Vec<Host>,
    routers: Vec<Routed>,
    config: PathBuf,
    prefixes: Vec<IpNet>,
}

impl Rig {
    fn new(tag: &str, count: u8, timers: Timers) -> interop_tests::Result<Rig> {
        // The variable is read by FerroLb::start in this process only.
        unsafe { std::env::set_var("FERROLB_BIN", env!("CARGO_BIN_EXE_ferrolb")) };
        let mut lab = Lab::new(tag)?;
        let r1 = lab.add_host("r1")?;
        let r2 = lab.add_host("r2")?;
        let nodes: Vec<Host> = (1..=count)
            .map(|i| lab.add_host_at(&format!("n{i}"), 10 + i))
            .collect::<Result<_, _>>()?;
        let mut routers = Vec::new();
        for (name, kind, asn, host) in [
            ("FRR", RouterKind::Frr, 64500, r1),
            ("BIRD", RouterKind::Bird, 64501, r2),
        ] {
            let config = nodes
                .iter()
                .fold(RouterConfig::new(asn, host.ipv4), |c, n| {
                    let mut neighbor = Neighbor::new(n.ipv4.into(), NODE_AS)
                        .no_export()
                        .timers((timers.hold / 3).max(1), timers.hold);
                    if timers.bfd {
                        neighbor = neighbor.bfd();
                    }
                    c.neighbor(neighbor)
                });
            routers.push(Routed {
                name,
                router: kind.start(&lab, &host, &config)?,
                host,
            });
        }
        let config = lab.dir().join("ferrolb-config");
        let prefixes = write_config(
            &config,
            &[
                ("frr", 64500, &routers[0].host),
                ("bird", 64501, &routers[1].host),
            ],
            timers,
        );
        Ok(Rig {
            lab,
            nodes,
            routers,
            config,
            prefixes,
        })
    }

    /// Life `life` of node `i`'s speaker, with the session driver's debug
    /// lines in its own log.
    fn start(&self, i: usize, life: u32) -> interop_tests::Result<FerroLb> {
        FerroLb::start_with(
            &self.lab,
            &self.nodes[i],
            &self.config,
            &format!("ferrolb-{life}.log"),
            Some("info,ferrolb_bgp=debug"),
            &[],
        )
    }

    /// Waits until router `r` holds exactly the service table from each
    /// node of `live` (one path per prefix per node, nothing else from
    /// them) and nothing from the other nodes, and its kernel routes every
    /// service address through exactly the live nodes. Returns how long.
    fn wait_table(
        &self,
        r: usize,
        live: &[usize],
        timeout: Duration,
    ) -> interop_tests::Result<Duration> {
        let start = Instant::now();
        let routed = &self.routers[r];
        let hops: BTreeSet<IpAddr> = live.iter().map(|&i| self.nodes[i].ipv4.into()).collect();
        let want_rib: BTreeMap<IpAddr, BTreeMap<IpNet, usize>> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let table = if live.contains(&i) {
                    self.prefixes.iter().map(|p| (*p, 1)).collect()
                } else {
                    BTreeMap::new()
                };
                (n.ipv4.into(), table)
            })
            .collect();
        self.lab.wait_for(
            &format!(
                "{} to hold exactly the {} service routes from nodes {live:?} and route them via {hops:?}",
                routed.name, SERVICES
            ),
            timeout,
            || {
                let seen = rib_by_node(routed.router.as_ref(), &self.nodes)?;
                if seen != want_rib {
                    return Ok(Probe::Pending(describe_rib(&seen)));
                }
                let routes = kernel::routes(&routed.host.netns)?;
                let wrong: Vec<String> = self
                    .prefixes
                    .iter()
                    .filter_map(|p| {
                        let got: BTreeSet<IpAddr> = routes
                            .iter()
                            .find(|r| r.prefix == *p)
                            .map(|r| r.next_hops.iter().copied().collect())
                            .unwrap_or_default();
                        (got != hops).then(|| format!("{p} via {got:?}"))
                    })
                    .collect();
                Ok(if wrong.is_empty() {
                    Probe::Done(start.elapsed())
                } else {
                    Probe::Pending(format!("RIB right; kernel: {} wrong, e.g. {:?}", wrong.len(), wrong.first()))
                })
            },
        )
    }

    fn wait_all_tables(
        &self,
        live: &[usize],
        timeout: Duration,
    ) -> interop_tests::Result<Vec<Duration>> {
        (0..self.routers.len())
            .map(|r| self.wait_table(r, live, timeout))
            .collect()
    }
}

/// For every node: how many paths the router has per prefix with that
/// node as next hop (the speakers set themselves as next hop).
fn rib_by_node(
    router: &dyn LabRouter,
    nodes: &[Host],
) -> interop_tests::Result<BTreeMap<IpAddr, BTreeMap<IpNet, usize>>> {
    let rib = router.rib(interop_tests::Family::Ipv4)?;
    let mut out: BTreeMap<IpAddr, BTreeMap<IpNet, usize>> = nodes
        .iter()
        .map(|n| (n.ipv4.into(), BTreeMap::new()))
        .collect();
    for (prefix, paths) in rib {
        for path in paths {
            for hop in &path.next_hops {
                if let Some(table) = out.get_mut(hop) {
                    *table.entry(prefix).or_default() += 1;
                }
            }
        }
    }
    Ok(out)
}

fn describe_rib(rib: &BTreeMap<IpAddr, BTreeMap<IpNet, usize>>) -> String {
    rib.iter()
        .map(|(node, table)| {
            let twice = table.values().filter(|n| **n > 1).count();
            format!("{node}: {} prefixes ({twice} with >1 path)", table.len())
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The most connection attempts the speaker's backoff allows in `window`:
/// the first after its base delay, then doubling delays, each at least
/// 75 % of its nominal value (bgp/src/fsm/backoff.rs, 1 s base); one more
/// for an attempt already under way when the window opened.
fn max_attempts(window: Duration) -> usize {
    let mut at = 0.0;
    let mut delay = 0.75;
    let mut attempts = 1;
    loop {
        at += delay;
        if at > window.as_secs_f64() {
            return attempts;
        }
        attempts += 1;
        delay *= 2.0;
    }
}

#[test]
fn routers_killed_and_restarted_get_the_full_table_back_after_spaced_attempts()
-> interop_tests::Result<()> {
    let timers = Timers {
        hold: 9,
        bfd: false,
    };
    let mut rig = Rig::new("rtrkill", 1, timers)?;
    let speaker = rig.start(0, 1)?;
    rig.wait_all_tables(&[0], CONVERGE)?;
    let down = if long() {
        Duration::from_secs(30)
    } else {
        Duration::from_secs(8)
    };
    let node = rig.nodes[0].ipv4;
    let mut figures = Vec::new();
    for r in 0..rig.routers.len() {
        let capture = SynCapture::start(&rig.lab, &rig.routers[r].host, node.into(), 179)?;
        let killed = SystemTime::now();
        rig.routers[r].router.kill_bgp(&rig.lab)?;
        std::thread::sleep(down);
        let attempts = capture.attempts_since(killed)?;
        let restarted = Instant::now();
        rig.routers[r].router.start_bgp(&rig.lab)?;
        rig.wait_table(r, &[0], CONVERGE)?;
        let full = restarted.elapsed();
        let name = rig.routers[r].name;
        // The other router kept its table throughout (one look: no wait).
        rig.wait_table(1 - r, &[0], Duration::ZERO)?;

        let gaps = syns::gaps(&attempts);
        assert!(
            !attempts.is_empty(),
            "{name}: the speaker never tried to reconnect in {down:?}"
        );
        assert!(
            gaps.iter().all(|g| *g >= 0.5),
            "{name}: attempts closer than 0.5 s (a hot loop): gaps {gaps:?}"
        );
        assert!(
            attempts.len() <= max_attempts(down),
            "{name}: {} attempts in {down:?}, the backoff allows {}: gaps {gaps:?}",
            attempts.len(),
            max_attempts(down)
        );
        figures.push(format!(
            "{name}: down {down:?}, {} attempts, gaps {:?} s; restart to full table {:?}",
            attempts.len(),
            gaps.iter()
                .map(|g| (g * 100.0).round() / 100.0)
                .collect::<Vec<_>>(),
            full
        ));
    }
    assert!(!speaker.daemon().has_exited(), "the speaker survived");
    println!("router restart: {}; load {}", figures.join("; "), load());
    Ok(())
}

/// What the speaker holds: descriptors, and its TCP sockets by state.
#[derive(Debug, PartialEq, Eq)]
struct Held {
    fds: usize,
    tcp: BTreeMap<String, usize>,
}

fn held(speaker: &FerroLb) -> interop_tests::Result<Held> {
    let pid = speaker
        .daemon()
        .pid()
        .ok_or_else(|| interop_tests::LabError::Invalid("speaker without pid".into()))?;
    let mut tcp = BTreeMap::new();
    for socket in procfs::tcp_sockets(pid)? {
        *tcp.entry(format!("{:?}", socket.state)).or_default() += 1;
    }
    Ok(Held {
        fds: procfs::open_fds(pid)?,
        tcp,
    })
}

#[test]
fn link_flaps_leak_nothing_and_the_table_is_right_after_the_last_one() -> interop_tests::Result<()>
{
    let timers = Timers {
        hold: 3,
        bfd: false,
    };
    let rig = Rig::new("flap", 1, timers)?;
    let speaker = rig.start(0, 1)?;
    rig.wait_all_tables(&[0], CONVERGE)?;
    // Settled: both sessions up, nothing in flight.
    std::thread::sleep(Duration::from_secs(1));
    let before = held(&speaker)?;
    assert_eq!(
        before.tcp.get(&format!("{:?}", TcpState::Established)),
        Some(&2),
        "one session per router: {before:?}"
    );

    let seed = std::env::var("FERROLB_FAULTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("link flaps: seed {seed} (FERROLB_FAULTS_SEED={seed} repeats the run)");
    // The lab's seedable generator: the printed seed repeats the flaps.
    let mut rng = Jitter::new(seed);
    let period = if long() {
        Duration::from_secs(120)
    } else {
        Duration::from_secs(20)
    };
    let node = &rig.nodes[0];
    let (lo, hi) = (Duration::from_millis(500), Duration::from_secs(5));
    let start = Instant::now();
    let mut flaps = Vec::new();
    // Half the flaps cut the switch port (both ends keep their carrier:
    // only timers notice), half take the node's link down (its routes go,
    // connecting fails at once).
    let flap = |silent: bool,
                down: Duration,
                flaps: &mut Vec<(&str, u128)>|
     -> interop_tests::Result<()> {
        if silent {
            rig.lab.cut(node)?;
        } else {
            node.netns.ip(["link", "set", "eth0", "down"])?;
        }
        std::thread::sleep(down);
        if silent {
            rig.lab.mend(node)?;
        } else {
            node.netns.ip(["link", "set", "eth0", "up"])?;
        }
        flaps.push((if silent { "cut" } else { "carrier" }, down.as_millis()));
        Ok(())
    };
    while start.elapsed() < period {
        let silent = rng.within(Duration::from_secs(2)) < Duration::from_secs(1);
        flap(silent, lo + rng.within(hi - lo), &mut flaps)?;
        std::thread::sleep(lo + rng.within(hi - lo));
        assert!(!speaker.daemon().has_exited(), "the speaker crashed");
    }
    // The last flap outlasts the hold time: every session goes down and
    // has to come back.
    let hold = Duration::from_secs(timers.hold.into());
    let silent = rng.within(Duration::from_secs(2)) < Duration::from_secs(1);
    flap(silent, hold + Duration::from_secs(1), &mut flaps)?;
    let healed = Instant::now();
    let took = rig.wait_all_tables(&[0], CONVERGE)?;
    let converged = healed.elapsed();
    assert!(!speaker.daemon().has_exited(), "the speaker crashed");
    // The speaker accepts the routers' connections from its first failed
    // attempt on and dials again within its backoff; what may still wait
    // is a router's own damping: BIRD's `error wait time 1,5` in the lab
    // (FRR dials every second). One hold time, plus that, plus a second
    // for the reads under load.
    let bound = hold + Duration::from_secs(5 + 1);
    assert!(
        converged <= bound,
        "the right table only {converged:?} after the last heal (bound {bound:?}): FRR {:?}, BIRD {:?}",
        took[0],
        took[1]
    );

    // Whatever the flaps left half-open must be gone once both sessions
    // are back: the same descriptors, one socket per session, no other.
    let established = speaker.log().matches("session established").count();
    let after = rig.lab.wait_for(
        "the speaker to hold what it held before the flaps",
        Duration::from_secs(10),
        || {
            let now = held(&speaker)?;
            Ok(if now == before {
                Probe::Done(now)
            } else {
                Probe::Pending(format!("{now:?}, before {before:?}"))
            })
        },
    )?;
    println!(
        "link flaps: {} flaps in {period:?} ({flaps:?}), {established} sessions established in all; last heal to the right table on both routers {converged:?} (FRR {:?}, BIRD {:?}); speaker held {after:?} before and after; hold time {}s; load {}",
        flaps.len(),
        took[0],
        took[1],
        timers.hold,
        load()
    );
    Ok(())
}

/// One of three nodes announcing the same addresses: killed, restarted,
/// then its node dies with it (link cut and SIGKILL: no FIN reaches the
/// routers) and comes back. Returns the figures.
fn speaker_kill(tag: &str, timers: Timers) -> interop_tests::Result<String> {
    let rig = Rig::new(tag, 3, timers)?;
    let mut speakers: Vec<FerroLb> = (0..3).map(|i| rig.start(i, 1)).collect::<Result<_, _>>()?;
    rig.wait_all_tables(&[0, 1, 2], CONVERGE)?;
    let hold = Duration::from_secs(timers.hold.into());

    // 1. SIGKILL: the kernel closes its sessions, so the routers drop its
    //    paths at once.
    let t = Instant::now();
    speakers[0].daemon().signal(Signal::SIGKILL)?;
    rig.wait_all_tables(&[1, 2], hold)?;
    let kill_gone = t.elapsed();
    assert!(
        kill_gone <= hold,
        "the routers still routed to a killed speaker after {kill_gone:?}"
    );
    rig.lab.wait_exited(speakers[0].daemon(), CONVERGE)?;

    // 2. Restarted: exactly its table again.
    let t = Instant::now();
    speakers[0] = rig.start(0, 2)?;
    rig.wait_all_tables(&[0, 1, 2], CONVERGE)?;
    let back = t.elapsed();

    // 3. The node dies: nothing reaches the routers, the hold timer (or
    //    BFD) has to notice. The bound is the protocol's: the hold time,
    //    or BFD's detection time, 900 ms with FRR (its bfdd asks for 300 ms
    //    receive intervals, times our multiplier of 3), rounded up to 1 s.
    let bound = if timers.bfd {
        // Both BFD sessions of the restarted speaker up, and a second for
        // the Poll Sequence that leaves the 1 s slow-start intervals.
        rig.lab
            .wait_for("the restarted speaker's BFD sessions up", CONVERGE, || {
                let up = speakers[0].log().matches("BFD session up").count();
                Ok(if up >= 2 {
                    Probe::Done(())
                } else {
                    Probe::Pending(format!("{up} up"))
                })
            })?;
        std::thread::sleep(Duration::from_secs(1));
        Duration::from_secs(1)
    } else {
        hold
    };
    let t = Instant::now();
    rig.lab.cut(&rig.nodes[0])?;
    speakers[0].daemon().signal(Signal::SIGKILL)?;
    // The check itself reads two RIBs and a kernel table per round: give
    // it its own time on top of the bound.
    rig.wait_all_tables(&[1, 2], bound + Duration::from_secs(2))?;
    let crash_gone = t.elapsed();
    assert!(
        crash_gone <= bound + Duration::from_secs(1),
        "the routers still routed to a dead node after {crash_gone:?} (bound {bound:?})"
    );
    rig.lab.wait_exited(speakers[0].daemon(), CONVERGE)?;
    rig.lab.mend(&rig.nodes[0])?;
    let t = Instant::now();
    speakers[0] = rig.start(0, 3)?;
    rig.wait_all_tables(&[0, 1, 2], CONVERGE)?;
    let crash_back = t.elapsed();
    for (i, s) in speakers.iter().enumerate() {
        assert!(!s.daemon().has_exited(), "speaker {i} alive");
    }
    Ok(format!(
        "hold {}s bfd {}: SIGKILL to both routers off the node {kill_gone:?}, restart to exactly its table {back:?}; node death (cut + SIGKILL) to off {crash_gone:?} (bound {bound:?}), restart to exactly its table {crash_back:?}; load {}",
        timers.hold,
        timers.bfd,
        load()
    ))
}

#[test]
fn a_killed_speaker_of_three_leaves_ecmp_within_the_hold_time_and_comes_back_exactly()
-> interop_tests::Result<()> {
    let figures = speaker_kill(
        "spkill",
        Timers {
            hold: 3,
            bfd: false,
        },
    )?;
    println!("speaker kill: {figures}");
    Ok(())
}

#[test]
fn a_killed_speaker_of_three_with_bfd_leaves_ecmp_within_the_detection_time()
-> interop_tests::Result<()> {
    // A 90 s hold time: only BFD can be that quick.
    let figures = speaker_kill(
        "spkillbfd",
        Timers {
            hold: 90,
            bfd: true,
        },
    )?;
    println!("speaker kill with BFD: {figures}");
    Ok(())
}
