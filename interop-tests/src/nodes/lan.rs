//! N `ferrolb run` nodes on one LAN, with a client and a BIRD router:
//!
//! ```text
//!                 namespace <prefix>-sw, bridge br0
//!     ┌──────────┬──────────┬──────────┬─ … ─┬──────────┐
//!     c (.1)     r (.2)     n1 (.11)   n2    …      nN (.10+N)
//!     who-has    BIRD       ferrolb run (Layer 2; BGP once asked)
//! ```
//!
//! Every node reads one configuration directory: the Nodes, MetalLB's
//! `memberlist` key, a pool of `services` addresses from .200 up with an
//! L2Advertisement, and one Service per address. [`NodesLan::add_bgp`]
//! adds a BGPPeer (the router) and a BGPAdvertisement of the same pool.
//! BIRD is passive: every session is one a speaker opened once its
//! configuration asked for it.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ferrolb_l2::membership::MembershipTiming;
use ferrolb_l2::wire::MacAddr;
use nix::sys::signal::{Signal, kill};

use super::counters::{self, Rates, Reading};
use super::failover::{Failover, first_answer_by_another, judge_after};
use crate::config::{Neighbor, RouterConfig};
use crate::error::{LabError, Result};
use crate::ferrolb::FerroLb;
use crate::l2::ferrolb::{FENCE_OPEN, members_of};
use crate::l2::harness::{Jitter, check_interrupted};
use crate::l2::who_has::{Seen, WhoHas};
use crate::lab::{Host, LAN_IFACE, Lab};
use crate::scrape::{self, METRICS_ARGS};
use crate::wait::Probe;
use crate::{Bird, kernel, procfs};

/// The speakers' AS and the router's.
pub const NODE_AS: u32 = 64512;
pub const ROUTER_AS: u32 = 64500;
/// The first Service address: `.200` of the LAN, then up.
pub const FIRST_VIP: u8 = 200;
/// Nodes are `.11` and up, below the Service addresses.
pub const FIRST_NODE: u8 = 11;
/// The most nodes the LAN's /24 holds below the Service addresses.
pub const MAX_NODES: usize = (FIRST_VIP - FIRST_NODE) as usize;
/// The most Services: `.200` to `.254`.
pub const MAX_SERVICES: usize = (255 - FIRST_VIP) as usize;

/// What the speakers log when their view of the living members changes.
const VIEW_CHANGED: &str = "members alive changed";
/// How long a killed speaker's successor may take to answer for the VIP.
const FAILOVER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a killed speaker, started again, and the others get to see
/// all nodes again.
const REJOIN_TIMEOUT: Duration = Duration::from_secs(60);
/// After the first answer from another node, how long double answers are
/// still looked for.
const HOLD: Duration = Duration::from_millis(500);
/// The client must have heard one node alone for this long before a kill.
const QUIET: Duration = Duration::from_millis(400);

/// How the lab runs its speakers.
#[derive(Debug, Clone)]
pub struct Options {
    /// Services, each with its own address on the LAN.
    pub services: usize,
    /// `--ml-thread-priority` of every speaker (`auto`, `normal`); `None`
    /// passes nothing (the speaker's default, `auto`).
    pub ml_thread_priority: Option<String>,
    /// `--ml-heartbeat` of every speaker; every timer of the membership
    /// scales with it ([`MembershipTiming::with_heartbeat`]).
    pub timing: MembershipTiming,
    /// The speakers' tracing filter (`RUST_LOG`; default `info`).
    pub log_filter: Option<String>,
    /// Start BIRD, peering with every node once [`NodesLan::add_bgp`].
    pub bgp: bool,
    /// How long the daemons may live (a killed benchmark leaves none).
    pub lifetime: Duration,
}

/// The lab. Field order is drop order: BIRD and the speakers stop before
/// the lab removes their namespaces (the lab stops them too).
pub struct NodesLan {
    bird: Option<Bird>,
    speakers: Vec<FerroLb>,
    /// Speakers started so far: each life logs to its own file.
    starts: usize,
    nodes: Vec<Host>,
    macs: Vec<MacAddr>,
    client: Host,
    router: Host,
    config: PathBuf,
    options: Options,
    lab: Lab,
}

/// The cost of every speaker over one window, and what the machine did.
#[derive(Debug, Clone)]
pub struct Window {
    pub nodes: Vec<Rates>,
    pub rss_kib: Vec<u64>,
    /// BIRD's, when it runs.
    pub bird: Option<(Rates, u64)>,
    pub load: String,
}

impl NodesLan {
    /// Builds the LAN with `n` nodes and starts a speaker on each; see
    /// [`NodesLan::wait_settled`] for when they agree.
    pub fn start(n: usize, options: Options) -> Result<NodesLan> {
        if !(2..=MAX_NODES).contains(&n) {
            return Err(LabError::Invalid(format!(
                "the nodes lab holds 2 to {MAX_NODES} nodes, not {n}"
            )));
        }
        if !(1..=MAX_SERVICES).contains(&options.services) {
            return Err(LabError::Invalid(format!(
                "the nodes lab holds 1 to {MAX_SERVICES} Services, not {}",
                options.services
            )));
        }
        let mut lab = Lab::new(&format!("nodes{n}"))?;
        lab.set_lifetime(options.lifetime);
        let client = lab.add_host_at("c", 1)?;
        let router = lab.add_host_at("r", 2)?;
        let nodes = (1..=n)
            .map(|i| {
                let index = u8::try_from(usize::from(FIRST_NODE) + i - 1)
                    .map_err(|_| LabError::Invalid(format!("node {i} is off the LAN")))?;
                lab.add_host_at(&format!("n{i}"), index)
            })
            .collect::<Result<Vec<_>>>()?;
        let macs = nodes
            .iter()
            .map(|h| {
                h.mac()?
                    .parse::<MacAddr>()
                    .map_err(|e| LabError::Invalid(format!("{}'s MAC: {e:?}", h.name)))
            })
            .collect::<Result<Vec<_>>>()?;
        let config = lab.dir().join("config");
        std::fs::create_dir_all(&config)
            .map_err(|e| LabError::io(format!("cannot create {}", config.display()), e))?;
        pin_neighbours(&nodes, &macs, &config)?;
        let mut lan = NodesLan {
            bird: None,
            speakers: Vec::with_capacity(n),
            starts: 0,
            nodes,
            macs,
            client,
            router,
            config,
            options,
            lab,
        };
        write(
            &lan.config.join("cluster.yaml"),
            &cluster_yaml(&lan.nodes, lan.options.services),
        )?;
        if lan.options.bgp {
            let hosts: Vec<&Host> = lan.nodes.iter().collect();
            let neighbours = RouterConfig::facing_speakers(ROUTER_AS, &lan.router, &hosts, NODE_AS)
                .maximum_paths(u16::try_from(n).unwrap_or(u16::MAX));
            let passive = RouterConfig {
                neighbors: neighbours
                    .neighbors
                    .into_iter()
                    .map(Neighbor::passive)
                    .collect(),
                ..neighbours
            };
            lan.bird = Some(Bird::start(&lan.lab, &lan.router, &passive)?);
        }
        for id in 0..n {
            lan.start_speaker(id)?;
        }
        Ok(lan)
    }

    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    pub fn nodes(&self) -> &[Host] {
        &self.nodes
    }

    /// The address of Service `i`.
    pub fn vip(&self, i: usize) -> IpAddr {
        vip(&self.lab, i)
    }

    fn start_speaker(&mut self, id: usize) -> Result<()> {
        let host = self
            .nodes
            .get(id)
            .ok_or_else(|| LabError::Invalid(format!("no node {id}")))?;
        self.starts += 1;
        let mut extra = Vec::from(METRICS_ARGS);
        if let Some(p) = &self.options.ml_thread_priority {
            extra.extend(["--ml-thread-priority", p.as_str()]);
        }
        let heartbeat = format!("{}us", self.options.timing.heartbeat.as_micros());
        extra.extend(["--ml-heartbeat", heartbeat.as_str()]);
        let speaker = FerroLb::start_logged_args(
            &self.lab,
            host,
            &self.config,
            &format!("ferrolb-{}.log", self.starts),
            self.options.log_filter.as_deref(),
            &extra,
        )?;
        if id < self.speakers.len() {
            self.speakers[id] = speaker;
        } else {
            self.speakers.push(speaker);
        }
        Ok(())
    }

    /// Waits until every speaker has opened its fence and its latest view
    /// holds every node.
    pub fn wait_settled(&self, timeout: Duration) -> Result<()> {
        let n = self.nodes.len();
        self.lab
            .wait_for(&format!("all {n} speakers to see all {n}"), timeout, || {
                if check_interrupted().is_err() {
                    return Ok(Probe::Fail("interrupted".into()));
                }
                let mut behind = Vec::new();
                for (host, speaker) in self.nodes.iter().zip(&self.speakers) {
                    if speaker.daemon().has_exited() {
                        return Ok(Probe::Fail(format!("{}'s speaker exited", host.name)));
                    }
                    let log = speaker.log();
                    let alive = alive_members(&log);
                    if !log.contains(FENCE_OPEN) || alive != Some(n) {
                        behind.push(format!("{} ({alive:?})", host.name));
                    }
                }
                Ok(if behind.is_empty() {
                    Probe::Done(())
                } else {
                    Probe::Pending(format!("not yet: {}", behind.join(", ")))
                })
            })
    }

    /// Reads every speaker's counters (and BIRD's) now and after `window`.
    pub fn measure(&self, window: Duration) -> Result<Window> {
        let load = procfs::load_average();
        let everyone: Vec<usize> = (0..self.nodes.len()).collect();
        let sent_before = self.membership_sent(&everyone);
        // The scrapes take time of their own: the mix says how long it spans.
        let scraped_at = Instant::now();
        let before = self.readings()?;
        let deadline = Instant::now() + window;
        while Instant::now() < deadline {
            check_interrupted()?;
            std::thread::sleep(Duration::from_millis(200).min(window));
            if let Some((host, _)) = self
                .nodes
                .iter()
                .zip(&self.speakers)
                .find(|(_, s)| s.daemon().has_exited())
            {
                return Err(LabError::Invalid(format!(
                    "{}'s speaker exited while measured",
                    host.name
                )));
            }
        }
        let after = self.readings()?;
        let sent_after = self.membership_sent(&everyone);
        print_mix(
            self.nodes.len(),
            "window: everyone",
            scraped_at.elapsed(),
            &sent_before,
            &sent_after,
        );
        let rates = |a: &Reading, b: &Reading, who: &str| {
            Rates::between(a, b).ok_or_else(|| {
                LabError::Invalid(format!("{who}'s counters went backwards: restarted?"))
            })
        };
        let nodes = before
            .nodes
            .iter()
            .zip(&after.nodes)
            .zip(&self.nodes)
            .map(|((a, b), h)| rates(a, b, &h.name))
            .collect::<Result<Vec<_>>>()?;
        let bird = match (before.bird, after.bird) {
            (Some((a, _)), Some((b, rss))) => Some((rates(&a, &b, "BIRD")?, rss)),
            _ => None,
        };
        Ok(Window {
            nodes,
            rss_kib: after.rss_kib,
            bird,
            load,
        })
    }

    fn readings(&self) -> Result<Readings> {
        let mut nodes = Vec::with_capacity(self.speakers.len());
        let mut rss_kib = Vec::with_capacity(self.speakers.len());
        for speaker in &self.speakers {
            let pid = pid_of(speaker)?;
            nodes.push(counters::read(pid)?);
            rss_kib.push(procfs::rss_kib(pid)?);
        }
        let bird = match &self.bird {
            Some(bird) => {
                let pid = bird
                    .daemon()
                    .pid()
                    .ok_or_else(|| LabError::Invalid("BIRD has no pid".into()))?;
                Some((counters::read(pid)?, procfs::rss_kib(pid)?))
            }
            None => None,
        };
        Ok(Readings {
            nodes,
            rss_kib,
            bird,
        })
    }

    /// `runs` times: waits until one node alone answers for Service 0's
    /// address, kills that node's speaker (SIGKILL) at a jittered instant,
    /// and times until another node answers; then starts it again and
    /// waits until everyone sees everyone.
    pub fn failovers(&mut self, runs: usize, jitter: &mut Jitter) -> Result<Vec<Failover>> {
        let vip = self.vip(0);
        let who = WhoHas::start_on(&self.client, self.macs.clone(), vip)?;
        let mut out: Vec<Failover> = Vec::with_capacity(runs);
        for _ in 0..runs {
            check_interrupted()?;
            let owner = match self.wait_one_owner(&who, Duration::from_secs(30)) {
                Ok(owner) => owner,
                Err(LabError::Timeout { seen, .. }) => {
                    apart(&mut out, self.nodes.len(), "no node answered alone", &seen);
                    break;
                }
                Err(e) => return Err(e),
            };
            // Heartbeats every 5 ms, reprobes every 25 ms: spread the kill
            // over many of each.
            std::thread::sleep(jitter.within(Duration::from_millis(100)));
            let survivors: Vec<usize> = (0..self.nodes.len()).filter(|i| *i != owner).collect();
            let sent_before = self.membership_sent(&survivors);
            let pid = pid_of(&self.speakers[owner])?;
            let killed_at = Instant::now();
            kill(pid, Signal::SIGKILL)
                .map_err(|e| LabError::io("cannot kill a speaker", e.into()))?;
            let deadline = killed_at + FAILOVER_TIMEOUT;
            let answered = loop {
                std::thread::sleep(Duration::from_millis(20));
                let asked = who.since(killed_at);
                if let Some(at) = first_answer_by_another(&asked, owner) {
                    break Some(at);
                }
                if Instant::now() >= deadline {
                    break None;
                }
            };
            if let Some(at) = answered {
                std::thread::sleep((at + HOLD).saturating_duration_since(Instant::now()));
            }
            out.push(judge_after(
                &who.since(killed_at),
                owner,
                killed_at,
                answered,
            ));
            self.lab
                .wait_exited(self.speakers[owner].daemon(), Duration::from_secs(10))?;
            self.start_speaker(owner)?;
            let settled = self.wait_settled(REJOIN_TIMEOUT);
            print_mix(
                self.nodes.len(),
                "failover: the survivors",
                killed_at.elapsed(),
                &sent_before,
                &self.membership_sent(&survivors),
            );
            match settled {
                Ok(()) => {}
                Err(LabError::Timeout { seen, .. }) => {
                    apart(
                        &mut out,
                        self.nodes.len(),
                        "not everyone saw everyone",
                        &seen,
                    );
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The membership datagrams `nodes` sent so far, by kind, summed (a
    /// node whose metrics cannot be read counts nothing: the mix is a
    /// diagnosis, not a figure of the table).
    fn membership_sent(&self, nodes: &[usize]) -> BTreeMap<String, f64> {
        let mut sum = BTreeMap::new();
        for host in nodes.iter().filter_map(|i| self.nodes.get(*i)) {
            let Ok(text) = scrape::metrics(host) else {
                continue;
            };
            let sent = scrape::by_label(&text, "ferrolb_membership_datagrams_sent_total", "kind");
            for (kind, n) in sent {
                *sum.entry(kind).or_insert(0.0) += n;
            }
        }
        sum
    }

    /// The node that alone answered every request for the last [`QUIET`].
    fn wait_one_owner(&self, who: &WhoHas, timeout: Duration) -> Result<usize> {
        self.lab.wait_for("one node to answer alone", timeout, || {
            check_interrupted()?;
            let now = Instant::now();
            let from = now - QUIET;
            let seen = Seen::of(&who.since(from), from, now);
            Ok(
                match (seen.owner, seen.unanswered, seen.dual, seen.moves.len()) {
                    (Some(owner), 0, 0, 1) if seen.asked >= 20 => Probe::Done(owner),
                    _ => Probe::Pending(format!(
                        "{} asked, {} unanswered, {} double, moves {:?}",
                        seen.asked, seen.unanswered, seen.dual, seen.moves
                    )),
                },
            )
        })
    }

    /// Adds the BGPPeer and the BGPAdvertisement to the configuration the
    /// speakers watch, and times until BIRD routes every Service address
    /// over every node (the kernel's ECMP route, as BIRD installs it).
    pub fn add_bgp(&self, timeout: Duration) -> Result<Duration> {
        if self.bird.is_none() {
            return Err(LabError::Invalid("the lab runs no BIRD".into()));
        }
        let want: Vec<ipnet::IpNet> = (0..self.options.services)
            .map(|i| ipnet::IpNet::from(self.vip(i)))
            .collect();
        let n = self.nodes.len();
        // Nothing may be routed before the speakers are told of the peer,
        // or the time below would measure nothing.
        let before = kernel::routes(&self.router.netns)?;
        if let Some(early) = before.iter().find(|r| want.contains(&r.prefix)) {
            return Err(LabError::Invalid(format!(
                "BIRD routes {} before any BGPPeer was configured",
                early.prefix
            )));
        }
        let written = Instant::now();
        write(&self.config.join("bgp.yaml"), &bgp_yaml(self.router.ipv4))?;
        loop {
            check_interrupted()?;
            let routes = kernel::routes(&self.router.netns)?;
            let full = want.iter().all(|prefix| {
                routes
                    .iter()
                    .any(|r| r.prefix == *prefix && r.next_hops.len() == n)
            });
            if full {
                return Ok(written.elapsed());
            }
            if written.elapsed() > timeout {
                let widths: Vec<usize> = want
                    .iter()
                    .map(|p| {
                        routes
                            .iter()
                            .find(|r| r.prefix == *p)
                            .map_or(0, |r| r.next_hops.len())
                    })
                    .collect();
                return Err(LabError::Invalid(format!(
                    "BIRD did not route every Service over {n} nodes within {timeout:?}: \
                     next hops per Service {widths:?}"
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every speaker's log, for a failure message (the tails only).
    pub fn log_tails(&self) -> String {
        self.lab.log_tails(10)
    }
}

/// What `who` sent over `over`, by kind: for the survivors of a
/// failover, from the kill until everyone saw everyone again (or gave
/// up); for everyone, a measuring window. The heartbeats are the floor,
/// the rest what failures cost.
fn print_mix(
    n: usize,
    who: &str,
    over: Duration,
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
) {
    let mix: Vec<String> = after
        .iter()
        .map(|(kind, n)| (kind, n - before.get(kind).copied().unwrap_or(0.0)))
        .filter(|(_, d)| *d > 0.0)
        .map(|(kind, d)| format!("{kind} {d}"))
        .collect();
    println!(
        "{n} nodes, {who} sent in {:.1} s: {}",
        over.as_secs_f64(),
        mix.join(", ")
    );
}

struct Readings {
    nodes: Vec<Reading>,
    rss_kib: Vec<u64>,
    bird: Option<(Reading, u64)>,
}

/// The cluster did not come together again after the last failover of
/// `out` (`what`, within the wait's bound): recorded, not fatal. The
/// size's figures stand, and a cluster that is not together has no steady
/// owner to kill next, so its failovers end.
fn apart(out: &mut [Failover], nodes: usize, what: &str, seen: &str) {
    eprintln!(
        "{nodes} nodes: after failover {}, {what} in time: {seen}",
        out.len()
    );
    if let Some(last) = out.last_mut() {
        last.rejoined = false;
    }
}

fn pid_of(speaker: &FerroLb) -> Result<nix::unistd::Pid> {
    speaker
        .daemon()
        .pid()
        .ok_or_else(|| LabError::Invalid(format!("{} has no pid", speaker.daemon().name())))
}

fn vip(lab: &Lab, i: usize) -> IpAddr {
    let [a, b, c, _] = lab.ipv4_lan().network().octets();
    let last = u8::try_from(usize::from(FIRST_VIP) + i).unwrap_or(u8::MAX);
    IpAddr::V4(Ipv4Addr::new(a, b, c, last))
}

/// How many members the latest "members alive changed" line of a
/// speaker's log names (`alive={"n1", "n2"}`).
pub fn alive_members(log: &str) -> Option<usize> {
    let line = log.lines().rev().find(|l| l.contains(VIEW_CHANGED))?;
    let set = line.split_once("alive={")?.1.split_once('}')?.0;
    Some(set.split(',').filter(|m| !m.trim().is_empty()).count())
}

/// Gives every node a permanent neighbour entry for every other node
/// (its LAN address and MAC), written before any speaker starts.
///
/// The kernel keeps one neighbour table for every network namespace,
/// and refuses new dynamic entries beyond `gc_thresh3` (1,024 by
/// default, a host sysctl the lab leaves alone): a LAN of `n` hosts
/// needs `n(n - 1)`, 1,190 at 35 nodes. The speakers started last could
/// not resolve each other ("neighbour: arp_cache: neighbor table
/// overflow!" in the kernel's log): their datagrams to each other were
/// dropped before the wire, they never heard each other, and the
/// cluster, half of it seeing what the other half did not, stormed
/// (docs/benchmarks.md, "The lab's 35: a full neighbour table").
/// Permanent entries are outside that count, as on real nodes, each of
/// which has a table of its own. The client's and the router's entries
/// (for the Services' addresses, which move) stay dynamic.
fn pin_neighbours(nodes: &[Host], macs: &[MacAddr], dir: &Path) -> Result<()> {
    for host in nodes {
        let batch: String = nodes
            .iter()
            .zip(macs)
            .filter(|(other, _)| other.ipv4 != host.ipv4)
            .map(|(other, mac)| {
                format!(
                    "neigh replace {} lladdr {mac} dev {LAN_IFACE} nud permanent\n",
                    other.ipv4
                )
            })
            .collect();
        let path = dir.join(format!("neighbours-{}", host.name));
        write(&path, &batch)?;
        host.netns
            .ip([std::ffi::OsStr::new("-batch"), path.as_os_str()])?;
    }
    Ok(())
}

/// The members, the key, the pool of `services` addresses from `.200`
/// with its L2Advertisement, and one Service per address.
pub fn cluster_yaml(nodes: &[Host], services: usize) -> String {
    let lan = |last: usize| -> String {
        let [a, b, c, _] = nodes.first().map_or([172, 31, 255, 0], |h| h.ipv4.octets());
        format!("{a}.{b}.{c}.{last}")
    };
    let first = usize::from(FIRST_VIP);
    let mut yaml = members_of(nodes);
    yaml += &format!(
        "apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {{name: lan, namespace: metallb-system}}
spec: {{addresses: [{}-{}]}}
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {{name: lan, namespace: metallb-system}}
spec: {{ipAddressPools: [lan]}}
",
        lan(first),
        lan(first + services - 1)
    );
    for i in 0..services {
        yaml += &format!(
            "---
apiVersion: v1
kind: Service
metadata: {{name: svc{i}, namespace: default, annotations: {{metallb.io/loadBalancerIPs: \"{}\"}}}}
spec: {{type: LoadBalancer, ipFamilies: [IPv4], ports: [{{port: 7007, protocol: UDP}}]}}
",
            lan(first + i)
        );
    }
    yaml
}

/// The router as every node's BGP peer, and the pool advertised to it.
pub fn bgp_yaml(router: Ipv4Addr) -> String {
    format!(
        "apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {{name: r, namespace: metallb-system}}
spec: {{myASN: {NODE_AS}, peerASN: {ROUTER_AS}, peerAddress: {router}, holdTime: 9s}}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {{name: lan, namespace: metallb-system}}
spec: {{ipAddressPools: [lan]}}
"
    )
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text)
        .map_err(|e| LabError::io(format!("cannot write {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_members_of_the_latest_view() {
        let log = "\
2026-12-05T17:00:00.000001Z  INFO l2{node=n1}: ferrolb_speaker::announce::l2_runtime: members alive changed alive={\"n1\"} reachable={\"n1\"}
2026-12-05T17:00:00.100001Z  INFO l2{node=n1}: ferrolb_speaker::announce::l2_runtime: fence open: announcing reachable=3 known=3
2026-12-05T17:00:00.200001Z  INFO l2{node=n1}: ferrolb_speaker::announce::l2_runtime: members alive changed alive={\"n1\", \"n2\", \"n3\"} reachable={\"n1\", \"n2\"}
";
        assert_eq!(alive_members(log), Some(3));
        assert_eq!(
            alive_members(log.lines().next().unwrap_or_default()),
            Some(1)
        );
        assert_eq!(alive_members("nothing yet"), None);
        assert_eq!(
            alive_members("members alive changed alive={} reachable={}"),
            Some(0)
        );
    }
}
