//! Issue 18's BGP fault scenarios 1-3, for any shell that runs FerroLB's
//! speaker on lab nodes: `ferrolb run` (standalone_faults.rs) and
//! `ferrolb-speaker` against the test API server (faults_apiserver.rs).
//! FRR (r1, AS 64500) and BIRD (r2, AS 64501) face the nodes; every node
//! announces the same [`SERVICES`] /32s. Each scenario asserts what must
//! never happen and returns the figures recorded in docs/reliability.md:
//! - [`router_restart`]: a router crashes (SIGKILL) and comes back: the
//!   speaker's connection attempts while it is gone are spaced by the
//!   backoff (never a hot loop), and the router gets the full table again,
//!   no route missing, none twice, none extra;
//! - [`link_flaps`]: the link between a node and the routers flaps at
//!   random: the speaker neither crashes nor leaks a descriptor or a
//!   socket, and the routers hold the right table soon after the last flap;
//! - [`speaker_kill`]: one of three speakers announcing the same addresses
//!   (ECMP) is killed, or its node dies with it: the routers stop routing
//!   to it (at once, within the hold time, within the BFD detection time),
//!   and the restarted speaker announces exactly what it should: what it
//!   did before, less a Service deleted while it was down.
//!
//! After each scenario the shell checks its own account of what it
//! announces ([`Shell::settled`]): on Kubernetes, the status objects the
//! speakers write.
//!
//! `FERROLB_FAULTS_LONG=1` (`make faults-long`) runs the long variants:
//! routers down 30 s, link flaps for 2 minutes.

#![allow(dead_code)]

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use interop_tests::ferrolb::FerroLb;
use interop_tests::l2::harness::Jitter;
use interop_tests::procfs::{self, TcpState};
use interop_tests::routers::{LabRouter, RouterKind};
use interop_tests::syns::{self, SynCapture};
use interop_tests::{Host, Lab, Neighbor, Probe, RouterConfig, kernel};
use ipnet::IpNet;
use nix::sys::signal::Signal;

pub type Outcome<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

pub const NODE_AS: u32 = 64512;
pub const CONVERGE: Duration = Duration::from_secs(30);
/// Services every node announces (one /32 each).
pub const SERVICES: usize = 40;
/// The pool the service addresses come from.
pub const POOL: &str = "198.51.100.0/24";
/// The BGPPeer names of the two routers, in [`Rig::routers`]' order, and
/// their AS numbers.
pub const PEERS: [(&str, u32); 2] = [("frr", 64500), ("bird", 64501)];

pub fn long() -> bool {
    std::env::var_os("FERROLB_FAULTS_LONG").is_some_and(|v| v != "0")
}

/// The service addresses: 198.51.100.10, .11, ...
pub fn service_prefixes(count: usize) -> Vec<IpNet> {
    (0..count)
        .map(|i| format!("198.51.100.{}/32", 10 + i).parse().expect("prefix"))
        .collect()
}

/// How each speaker talks to the routers.
#[derive(Clone, Copy)]
pub struct Timers {
    /// The BGPPeers' holdTime, in seconds (the routers are given the same).
    pub hold: u16,
    /// A BFDProfile of 100 ms x 3 on every BGPPeer.
    pub bfd: bool,
}

/// [`speaker_kill`] with a 3 s hold time.
pub const HOLD_3S: Timers = Timers {
    hold: 3,
    bfd: false,
};
/// [`speaker_kill`] with a 90 s hold time and BFD: only BFD can be that
/// quick.
pub const BFD_HOLD_90S: Timers = Timers {
    hold: 90,
    bfd: true,
};

/// How a shell runs FerroLB on the rig's nodes. Each scenario makes its
/// shell with a function of the rig and the timers it needs, which
/// configures FerroLB with the pool
/// [`POOL`], the BGPPeers [`PEERS`] (holdTime and BFD from [`Timers`]) and
/// [`SERVICES`] Services, `svc-I` asking for the rig's prefix `I`.
pub trait Shell {
    /// The shell in the printed figures.
    fn name(&self) -> &'static str;
    /// Life `life` of node `i`'s speaker (each life logs to its own file),
    /// with the session driver's debug lines.
    fn start(&self, rig: &Rig, i: usize, life: u32) -> Outcome<FerroLb>;
    /// Called once the routers hold the right table from the nodes `live`,
    /// all of them running: waits until the shell's own account of what
    /// it announces is right, and returns a figure for the report.
    fn settled(&self, _rig: &Rig, _live: &[usize], _timers: Timers) -> Outcome<String> {
        Ok(String::new())
    }
    /// Deletes every Service but the first `count` (`svc-0`..): the
    /// nodes must withdraw the others.
    fn keep_services(&self, rig: &Rig, count: usize) -> Outcome;
    /// A TCP port whose connections come and go with something other
    /// than BGP (a client's connection pool to the API server): left out
    /// of the leak check.
    fn foreign_port(&self) -> Option<u16> {
        None
    }
}

/// A router and the host it runs on.
pub struct Routed {
    pub name: &'static str,
    pub host: Host,
    pub router: Box<dyn LabRouter>,
}

/// FRR (r1, AS 64500) and BIRD (r2, AS 64501) facing `count` nodes
/// `n1`.. (one path per prefix from each node).
pub struct Rig {
    pub lab: Lab,
    pub nodes: Vec<Host>,
    pub routers: Vec<Routed>,
    /// Every Service's prefix, `svc-I`'s at `I`.
    all: Vec<IpNet>,
    /// How many of them are configured (the first ones).
    configured: Cell<usize>,
}

impl Rig {
    pub fn new(tag: &str, count: u8, timers: Timers) -> Outcome<Rig> {
        let mut lab = Lab::new(tag)?;
        let r1 = lab.add_host("r1")?;
        let r2 = lab.add_host("r2")?;
        let nodes = lab.add_nodes(count)?;
        let mut routers = Vec::new();
        for (name, kind, (_, asn), host) in [
            ("FRR", RouterKind::Frr, PEERS[0], r1),
            ("BIRD", RouterKind::Bird, PEERS[1], r2),
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
        Ok(Rig {
            lab,
            nodes,
            routers,
            all: service_prefixes(SERVICES),
            configured: Cell::new(SERVICES),
        })
    }

    /// The prefixes of the Services configured now.
    pub fn prefixes(&self) -> &[IpNet] {
        &self.all[..self.configured.get()]
    }

    /// Deletes every Service but the first `count` through `shell`.
    pub fn keep_services(&self, shell: &impl Shell, count: usize) -> Outcome {
        shell.keep_services(self, count)?;
        self.configured.set(count.min(self.all.len()));
        Ok(())
    }

    /// Waits until router `r` holds exactly the service table from each
    /// node of `live` (one path per prefix per node, nothing else from
    /// them) and nothing from the other nodes, and its kernel routes every
    /// service address through exactly the live nodes. Returns how long.
    pub fn wait_table(&self, r: usize, live: &[usize], timeout: Duration) -> Outcome<Duration> {
        let start = Instant::now();
        let routed = &self.routers[r];
        let hops: BTreeSet<IpAddr> = live.iter().map(|&i| self.nodes[i].ipv4.into()).collect();
        let want_rib: BTreeMap<IpAddr, BTreeMap<IpNet, usize>> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let table = if live.contains(&i) {
                    self.prefixes().iter().map(|p| (*p, 1)).collect()
                } else {
                    BTreeMap::new()
                };
                (n.ipv4.into(), table)
            })
            .collect();
        Ok(self.lab.wait_for(
            &format!(
                "{} to hold exactly the {} service routes from nodes {live:?} and route them via {hops:?}",
                routed.name,
                self.prefixes().len()
            ),
            timeout,
            || {
                let seen = rib_by_node(routed.router.as_ref(), &self.nodes)?;
                if seen != want_rib {
                    return Ok(Probe::Pending(describe_rib(&seen)));
                }
                let routes = kernel::routes(&routed.host.netns)?;
                let wrong: Vec<String> = self
                    .prefixes()
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
        )?)
    }

    pub fn wait_all_tables(&self, live: &[usize], timeout: Duration) -> Outcome<Vec<Duration>> {
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

/// Scenario 1: one node; each router in turn killed (SIGKILL), down 8 s
/// (30 s long), started again.
pub fn router_restart<S: Shell>(
    tag: &str,
    shell: impl FnOnce(&Rig, Timers) -> Outcome<S>,
) -> Outcome {
    let timers = Timers {
        hold: 9,
        bfd: false,
    };
    let mut rig = Rig::new(tag, 1, timers)?;
    let shell = shell(&rig, timers)?;
    let speaker = shell.start(&rig, 0, 1)?;
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
        let settled = shell.settled(&rig, &[0], timers)?;
        figures.push(format!(
            "{name}: down {down:?}, {} attempts, gaps {:?} s; restart to full table {:?}{settled}",
            attempts.len(),
            gaps.iter()
                .map(|g| (g * 100.0).round() / 100.0)
                .collect::<Vec<_>>(),
            full
        ));
    }
    assert!(!speaker.daemon().has_exited(), "the speaker survived");
    println!(
        "{}: router restart: {}; load {}",
        shell.name(),
        figures.join("; "),
        procfs::load_average()
    );
    Ok(())
}

/// What the speaker holds: descriptors, and its TCP sockets by state.
#[derive(Debug, PartialEq, Eq)]
struct Held {
    fds: usize,
    tcp: BTreeMap<String, usize>,
}

/// What `speaker` holds, leaving out the TCP connections to or from
/// `foreign` (descriptors and sockets both).
fn held(speaker: &FerroLb, foreign: Option<u16>) -> Outcome<Held> {
    let pid = speaker
        .daemon()
        .pid()
        .ok_or_else(|| interop_tests::LabError::Invalid("speaker without pid".into()))?;
    let mut tcp = BTreeMap::new();
    let mut left_out = 0;
    for socket in procfs::tcp_sockets(pid)? {
        if foreign.is_some_and(|p| socket.remote.port() == p || socket.local.port() == p) {
            left_out += 1;
            continue;
        }
        *tcp.entry(format!("{:?}", socket.state)).or_default() += 1;
    }
    Ok(Held {
        fds: procfs::open_fds(pid)?.saturating_sub(left_out),
        tcp,
    })
}

/// Scenario 2: one node, hold time 3 s; its link flaps at random for 20 s
/// (2 minutes long), the last flap outlasting the hold time.
pub fn link_flaps<S: Shell>(tag: &str, shell: impl FnOnce(&Rig, Timers) -> Outcome<S>) -> Outcome {
    let timers = Timers {
        hold: 3,
        bfd: false,
    };
    let rig = Rig::new(tag, 1, timers)?;
    let shell = shell(&rig, timers)?;
    let speaker = shell.start(&rig, 0, 1)?;
    rig.wait_all_tables(&[0], CONVERGE)?;
    shell.settled(&rig, &[0], timers)?;
    // Settled: both sessions up, nothing in flight.
    std::thread::sleep(Duration::from_secs(1));
    let foreign = shell.foreign_port();
    let before = held(&speaker, foreign)?;
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
    let settled = shell.settled(&rig, &[0], timers)?;

    // Whatever the flaps left half-open must be gone once both sessions
    // are back: the same descriptors, one socket per session, no other.
    let established = speaker.log().matches("session established").count();
    let after = rig.lab.wait_for(
        "the speaker to hold what it held before the flaps",
        Duration::from_secs(10),
        || {
            let now = held(&speaker, foreign).map_err(|e| {
                interop_tests::LabError::Invalid(format!("cannot read the speaker: {e}"))
            })?;
            Ok(if now == before {
                Probe::Done(now)
            } else {
                Probe::Pending(format!("{now:?}, before {before:?}"))
            })
        },
    )?;
    println!(
        "{}: link flaps: {} flaps in {period:?} ({flaps:?}), {established} sessions established in all; last heal to the right table on both routers {converged:?} (FRR {:?}, BIRD {:?}){settled}; speaker held {after:?} before and after; hold time {}s; load {}",
        shell.name(),
        flaps.len(),
        took[0],
        took[1],
        timers.hold,
        procfs::load_average()
    );
    Ok(())
}

/// Scenario 3: one of three nodes announcing the same addresses: killed,
/// restarted, then its node dies with it (link cut and SIGKILL: no FIN
/// reaches the routers) and comes back.
pub fn speaker_kill<S: Shell>(
    tag: &str,
    timers: Timers,
    shell: impl FnOnce(&Rig, Timers) -> Outcome<S>,
) -> Outcome {
    let rig = Rig::new(tag, 3, timers)?;
    let shell = shell(&rig, timers)?;
    let mut speakers: Vec<FerroLb> = (0..3)
        .map(|i| shell.start(&rig, i, 1))
        .collect::<Result<_, _>>()?;
    let all = [0, 1, 2];
    rig.wait_all_tables(&all, CONVERGE)?;
    shell.settled(&rig, &all, timers)?;
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

    // 2. While it is down, the last Service is deleted: the others
    //    withdraw it, and the restarted speaker must not announce it (on
    //    Kubernetes, nor keep its previous life's status object for it).
    rig.keep_services(&shell, SERVICES - 1)?;
    rig.wait_all_tables(&[1, 2], CONVERGE)?;
    //    Restarted: exactly its table again, and the shell's account.
    let t = Instant::now();
    speakers[0] = shell.start(&rig, 0, 2)?;
    rig.wait_all_tables(&all, CONVERGE)?;
    let back = t.elapsed();
    let settled_back = shell.settled(&rig, &all, timers)?;

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
    speakers[0] = shell.start(&rig, 0, 3)?;
    rig.wait_all_tables(&all, CONVERGE)?;
    let crash_back = t.elapsed();
    let settled_crash = shell.settled(&rig, &all, timers)?;
    for (i, s) in speakers.iter().enumerate() {
        assert!(!s.daemon().has_exited(), "speaker {i} alive");
    }
    println!(
        "{}: speaker kill: hold {}s bfd {}: SIGKILL to both routers off the node {kill_gone:?}, restart to exactly its table {back:?}{settled_back}; node death (cut + SIGKILL) to off {crash_gone:?} (bound {bound:?}), restart to exactly its table {crash_back:?}{settled_crash}; load {}",
        shell.name(),
        timers.hold,
        timers.bfd,
        procfs::load_average()
    );
    Ok(())
}

/// The four tests of scenarios 1-3 for a shell: `$make` (a function of the
/// rig and the timers) makes the shell, `$tag` starts the labs' names.
macro_rules! scenario_tests {
    ($make:path, $tag:literal) => {
        #[test]
        fn routers_killed_and_restarted_get_the_full_table_back_after_spaced_attempts()
        -> $crate::bgp_faults::Outcome {
            $crate::bgp_faults::router_restart(concat!($tag, "rtr"), $make)
        }

        #[test]
        fn link_flaps_leak_nothing_and_the_table_is_right_after_the_last_one()
        -> $crate::bgp_faults::Outcome {
            $crate::bgp_faults::link_flaps(concat!($tag, "flap"), $make)
        }

        #[test]
        fn a_killed_speaker_of_three_leaves_ecmp_within_the_hold_time_and_comes_back_exactly()
        -> $crate::bgp_faults::Outcome {
            let timers = $crate::bgp_faults::HOLD_3S;
            $crate::bgp_faults::speaker_kill(concat!($tag, "kill"), timers, $make)
        }

        #[test]
        fn a_killed_speaker_of_three_with_bfd_leaves_ecmp_within_the_detection_time()
        -> $crate::bgp_faults::Outcome {
            let timers = $crate::bgp_faults::BFD_HOLD_90S;
            $crate::bgp_faults::speaker_kill(concat!($tag, "killbfd"), timers, $make)
        }
    };
}
pub(crate) use scenario_tests;
