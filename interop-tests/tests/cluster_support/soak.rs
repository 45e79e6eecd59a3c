//! Issue 18's soak: the real `ferrolb-controller` and three real
//! `ferrolb-speaker`s against the test kube-apiserver, announcing to BIRD
//! (and FRR), under churn for a long while: Services created, updated and
//! deleted at a steady rate around a bounded live set, their
//! EndpointSlices flipping (ready or not, moved between nodes), and one
//! BGPPeer's hold time edited every so often.
//!
//! Measured: RSS and open descriptors of the controller and each speaker
//! (from /proc, every few seconds), every BGP session reset as the routers
//! see it (BIRD's Established TCP connection replaced or gone, FRR's
//! `connectionsDropped`), each attributed to a peer edit or not, and at the
//! end each router's table against the table the API's final state calls
//! for (every assigned Service with a usable endpoint, through the nodes
//! its traffic policy allows).
//!
//! Shared by the soak benchmark (`make soak`, interop-tests' `soak` bench)
//! and its short variant in the API-server tests (cli's `soak_apiserver`),
//! which include this file next to `cluster_support/mod.rs` as `cluster`.

// Each binary that includes this uses a part of it.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use interop_tests::daemon::Daemon;
use interop_tests::forward::Forward;
use interop_tests::{Bird, Family, Frr, Host, Lab, Probe, Router, RouterConfig, procfs};
use k8s_openapi::api::core::v1::Service;
use kube::Client;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
};
use serde_json::json;
use tokio::sync::Semaphore;

use crate::cluster::lab_nodes::{
    NODE_AS, ROUTER_AS, apply, configure_bgp, create_node, log_tails, multicall_programs,
    start_program,
};
use crate::cluster::{APPS, Cluster, NS, TestResult, ingress, lb_service, services, set_endpoint};

/// The pool every Service takes its address from: room for any live set
/// here, with freed addresses reused.
const POOL: &str = "100.66.0.0/20";
/// A reset this long after an edit of its router's BGPPeer is the edit's:
/// the speakers see the edit through a watch, then restart the session.
pub const ATTRIBUTION: Duration = Duration::from_secs(45);
/// Service operations and flips in flight at once (more waits: the rate
/// achieved is reported).
const IN_FLIGHT: usize = 32;
/// Hold times an edit alternates between (each restarts the session:
/// hold time is negotiated in OPEN).
const HOLD_TIMES: [&str; 2] = ["12s", "9s"];

/// Where the FerroLB programs come from.
pub enum Programs {
    /// A directory holding `ferrolb-controller` and `ferrolb-speaker`
    /// (the workspace's target directory).
    Dir(PathBuf),
    /// The multi-call `ferrolb` binary, linked under both names.
    Multicall(PathBuf),
}

pub struct Config {
    /// Names the lab.
    pub tag: &'static str,
    /// How long the churn lasts.
    pub duration: Duration,
    /// Samples before this are left out of the trends.
    pub warmup: Duration,
    /// Service operations (create, update, delete) per second.
    pub rate: f64,
    /// EndpointSlice flips per second.
    pub flip_rate: f64,
    /// Live Services the churn keeps (between this and 10 % more).
    pub live: usize,
    /// One BGPPeer edited this often (alternating between the routers).
    pub edit_every: Duration,
    pub sample_every: Duration,
    /// FRR too (BIRD always).
    pub frr: bool,
    pub programs: Programs,
    /// How long the routers may take to reach the expected table at the end.
    pub converge: Duration,
}

/// One reading of one process.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Since the churn started.
    pub at: Duration,
    /// Index into [`Report::processes`].
    pub process: usize,
    pub rss_kib: u64,
    pub fds: usize,
}

#[derive(Debug, Clone)]
pub struct Edit {
    pub at: Duration,
    pub router: String,
    pub hold: String,
}

#[derive(Debug, Clone)]
pub struct Reset {
    pub at: Duration,
    pub router: String,
    pub node: String,
    /// When the edit it is attributed to happened.
    pub edit: Option<Duration>,
    /// What the router said of it (BIRD's last error, FRR's reset reason).
    pub reason: String,
}

/// One router's table against the expected one.
#[derive(Debug, Clone, Default)]
pub struct TableDiff {
    pub router: String,
    pub expected: usize,
    pub held: usize,
    /// `prefix: expected via [...], held via [...]` for every difference.
    pub differences: Vec<String>,
}

#[derive(Debug, Default)]
struct Counters {
    created: AtomicU64,
    updated: AtomicU64,
    deleted: AtomicU64,
    flipped: AtomicU64,
    failed: AtomicU64,
}

#[derive(Debug, Clone, Default)]
pub struct Ops {
    pub created: u64,
    pub updated: u64,
    pub deleted: u64,
    pub flipped: u64,
    pub failed: u64,
    /// The first few failures.
    pub errors: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Report {
    pub processes: Vec<String>,
    pub samples: Vec<Sample>,
    pub warmup: Duration,
    pub churn: Duration,
    pub ops: Ops,
    pub edits: Vec<Edit>,
    pub resets: Vec<Reset>,
    pub tables: Vec<TableDiff>,
    /// Live Services without an address at the end.
    pub unassigned: Vec<String>,
    pub live_at_end: usize,
    /// How long after the churn the tables matched (`None`: never within
    /// the limit).
    pub converged_after: Option<Duration>,
    /// Processes that exited during the run.
    pub exited: Vec<String>,
    pub load_start: String,
    pub load_end: String,
}

/// A process's trend after warm-up.
#[derive(Debug, Clone)]
pub struct Trend {
    pub process: String,
    pub rss_first_kib: u64,
    pub rss_last_kib: u64,
    pub rss_max_kib: u64,
    /// Least-squares slope, KiB per minute.
    pub rss_slope: f64,
    pub fds_first: usize,
    pub fds_last: usize,
    pub fds_min: usize,
    pub fds_max: usize,
    /// Least-squares slope, descriptors per minute.
    pub fds_slope: f64,
}

impl Report {
    pub fn trends(&self) -> Vec<Trend> {
        (0..self.processes.len())
            .filter_map(|i| {
                let s: Vec<&Sample> = self
                    .samples
                    .iter()
                    .filter(|s| s.process == i && s.at >= self.warmup)
                    .collect();
                let (first, last) = (s.first()?, s.last()?);
                let minutes = |x: &Sample| x.at.as_secs_f64() / 60.0;
                Some(Trend {
                    process: self.processes[i].clone(),
                    rss_first_kib: first.rss_kib,
                    rss_last_kib: last.rss_kib,
                    rss_max_kib: s.iter().map(|x| x.rss_kib).max()?,
                    rss_slope: slope(s.iter().map(|x| (minutes(x), x.rss_kib as f64))),
                    fds_first: first.fds,
                    fds_last: last.fds,
                    fds_min: s.iter().map(|x| x.fds).min()?,
                    fds_max: s.iter().map(|x| x.fds).max()?,
                    fds_slope: slope(s.iter().map(|x| (minutes(x), x.fds as f64))),
                })
            })
            .collect()
    }

    pub fn unexplained_resets(&self) -> Vec<&Reset> {
        self.resets.iter().filter(|r| r.edit.is_none()).collect()
    }

    /// Whether every table matched the expected one.
    pub fn tables_match(&self) -> bool {
        self.tables.iter().all(|t| t.differences.is_empty())
    }

    pub fn print(&self) {
        let secs = self.churn.as_secs_f64().max(1.0);
        let o = &self.ops;
        let done = o.created + o.updated + o.deleted;
        println!(
            "churn {:.0} s: {} Services created, {} updated, {} deleted ({:.1} ops/s), {} EndpointSlice flips ({:.1}/s), {} failed; {} live at the end",
            secs,
            o.created,
            o.updated,
            o.deleted,
            done as f64 / secs,
            o.flipped,
            o.flipped as f64 / secs,
            o.failed,
            self.live_at_end
        );
        for e in &o.errors {
            println!("  failure: {e}");
        }
        println!(
            "\nafter {:.0} s of warm-up ({} samples per process):\n",
            self.warmup.as_secs_f64(),
            self.samples
                .iter()
                .filter(|s| s.process == 0 && s.at >= self.warmup)
                .count()
        );
        println!(
            "| process | RSS after warm-up | RSS at end | RSS max | RSS slope | fds after warm-up → end | fds min–max | fd slope |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        for t in self.trends() {
            println!(
                "| {} | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:+.1} KiB/min | {} → {} | {}–{} | {:+.2}/min |",
                t.process,
                mib(t.rss_first_kib),
                mib(t.rss_last_kib),
                mib(t.rss_max_kib),
                t.rss_slope,
                t.fds_first,
                t.fds_last,
                t.fds_min,
                t.fds_max,
                t.fds_slope
            );
        }
        let caused = self.resets.len() - self.unexplained_resets().len();
        println!(
            "\nBGPPeer edits: {}; session resets seen by the routers: {} ({} within {} s of an edit of that router's peer, {} not)",
            self.edits.len(),
            self.resets.len(),
            caused,
            ATTRIBUTION.as_secs(),
            self.unexplained_resets().len()
        );
        for r in self.unexplained_resets() {
            println!(
                "  unexplained: {} lost {} at {:.1} s ({})",
                r.router,
                r.node,
                r.at.as_secs_f64(),
                r.reason
            );
        }
        match self.converged_after {
            Some(d) => println!(
                "tables equal to the expected table {:.1} s after the churn",
                d.as_secs_f64()
            ),
            None => println!("tables NOT equal to the expected table at the end"),
        }
        for t in &self.tables {
            println!(
                "  {}: {} prefixes expected, {} held, {} differences",
                t.router,
                t.expected,
                t.held,
                t.differences.len()
            );
            for d in t.differences.iter().take(10) {
                println!("    {d}");
            }
        }
        if !self.unassigned.is_empty() {
            println!("unassigned at the end: {:?}", self.unassigned);
        }
        if !self.exited.is_empty() {
            println!("exited during the run: {:?}", self.exited);
        }
        println!(
            "load average: {} at the start, {} at the end",
            self.load_start, self.load_end
        );
    }
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Least-squares slope of `y` over `x` (0 for fewer than two points).
pub fn slope(points: impl Iterator<Item = (f64, f64)>) -> f64 {
    let p: Vec<(f64, f64)> = points.collect();
    let n = p.len() as f64;
    if p.len() < 2 {
        return 0.0;
    }
    let mx = p.iter().map(|q| q.0).sum::<f64>() / n;
    let my = p.iter().map(|q| q.1).sum::<f64>() / n;
    let sxx: f64 = p.iter().map(|q| (q.0 - mx).powi(2)).sum();
    let sxy: f64 = p.iter().map(|q| (q.0 - mx) * (q.1 - my)).sum();
    if sxx == 0.0 { 0.0 } else { sxy / sxx }
}

/// The lab: BIRD on r1, FRR on r2 (optional), speakers on n1..n3, the
/// controller on c1.
struct Setup {
    lab: Lab,
    r1: Host,
    r2: Option<Host>,
    nodes: Vec<Host>,
    c1: Host,
    bird: Bird,
    frr: Option<Frr>,
    logs: Vec<PathBuf>,
}

fn setup(config: &Config) -> TestResult<Setup> {
    let mut lab = Lab::new(config.tag)?;
    // Every daemon outlives the churn, the convergence and the teardown.
    lab.set_lifetime(lifetime(config));
    let r1 = lab.add_host("r1")?;
    let r2 = if config.frr {
        Some(lab.add_host("r2")?)
    } else {
        None
    };
    let nodes = (0..3)
        .map(|i| lab.add_host_at(&format!("n{}", i + 1), 11 + i))
        .collect::<Result<Vec<_>, _>>()?;
    let c1 = lab.add_host_at("c1", 20)?;
    let node_refs: Vec<&Host> = nodes.iter().collect();
    let bird = Bird::start(
        &lab,
        &r1,
        &RouterConfig::facing_speakers(ROUTER_AS, &r1, &node_refs, NODE_AS),
    )?;
    let frr = match &r2 {
        Some(r2) => Some(Frr::start(
            &lab,
            r2,
            &RouterConfig::facing_speakers(ROUTER_AS, r2, &node_refs, NODE_AS),
        )?),
        None => None,
    };
    let mut logs = vec![lab.dir().join("controller.log")];
    for n in &nodes {
        logs.push(lab.state_dir(n, "speaker")?.join("speaker.log"));
    }
    Ok(Setup {
        lab,
        r1,
        r2,
        nodes,
        c1,
        bird,
        frr,
        logs,
    })
}

fn lifetime(config: &Config) -> Duration {
    config.duration + config.converge + Duration::from_secs(600)
}

/// Runs the soak and reports; an error only when the run itself could not
/// go on (the report says what went wrong inside it).
pub fn run(config: &Config) -> TestResult<Report> {
    let s = setup(config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(start_all(config, &s)).and_then(|running| {
        let report = soak(config, &s, &runtime, &running);
        // The API server goes last, after the components' relays.
        drop(running);
        report
    });
    outcome.map_err(|e| format!("{e}\n{}", log_tails(&s.logs, 25)).into())
}

/// The cluster and FerroLB running in the lab.
struct Running {
    daemons: Vec<Arc<Daemon>>,
    processes: Vec<String>,
    relays: Vec<Forward>,
    cluster: Cluster,
}

async fn start_all(config: &Config, s: &Setup) -> TestResult<Running> {
    // Services take node ports and churn reallocates them: the whole range.
    let cluster =
        Cluster::start_for(&["--service-node-port-range=1024-65535"], lifetime(config)).await?;
    let admin = cluster.admin.clone();
    configure_bgp(&admin, &s.r1, POOL, Some("1s")).await?;
    if let Some(r2) = &s.r2 {
        apply(&admin, NS, &peer("r2", r2, HOLD_TIMES[1])).await?;
    }
    for n in &s.nodes {
        create_node(&admin, n).await?;
    }
    let bin = match &config.programs {
        Programs::Dir(d) => d.clone(),
        Programs::Multicall(ferrolb) => multicall_programs(&s.lab, ferrolb)?,
    };
    let api: std::net::SocketAddr = format!("127.0.0.1:{}", cluster.server.port()).parse()?;
    let mut relays = vec![Forward::start(&s.c1.netns, api)?];
    let kubeconfig = cluster.controller_kubeconfig.display().to_string();
    let mut daemons = vec![start_program(
        &s.lab,
        &bin,
        "ferrolb-controller",
        Some(&s.c1),
        &s.logs[0],
        &[
            "--kubeconfig",
            &kubeconfig,
            "--namespace",
            NS,
            "--identity",
            "controller-0",
            "--metrics-addr",
            "127.0.0.1:7472",
        ],
    )?];
    let mut processes = vec!["controller".to_string()];
    for (n, log) in s.nodes.iter().zip(&s.logs[1..]) {
        relays.push(Forward::start(&n.netns, api)?);
        let args = cluster.speaker_args(&n.name);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        daemons.push(start_program(
            &s.lab,
            &bin,
            "ferrolb-speaker",
            Some(n),
            log,
            &args,
        )?);
        processes.push(format!("speaker {}", n.name));
    }
    tokio::task::block_in_place(|| wait_established(s))?;
    Ok(Running {
        daemons,
        processes,
        relays,
        cluster,
    })
}

/// The churn on the runtime, the monitor on a thread beside it (birdc and
/// vtysh block), then the report.
fn soak(
    config: &Config,
    s: &Setup,
    runtime: &tokio::runtime::Runtime,
    running: &Running,
) -> TestResult<Report> {
    let load_start = procfs::load_average();
    let pids: Vec<nix::unistd::Pid> = running
        .daemons
        .iter()
        .map(|d| d.pid().ok_or("a daemon without a pid"))
        .collect::<Result<_, _>>()?;
    let started = Instant::now();
    let stop = AtomicBool::new(false);
    let (churned, monitored) = std::thread::scope(|scope| {
        let handle = scope.spawn(|| monitor(s, &pids, started, config.sample_every, &stop));
        let churned = runtime.block_on(churn(config, &running.cluster.admin, started, s));
        stop.store(true, Ordering::Relaxed);
        let monitored = handle
            .join()
            .unwrap_or_else(|_| Err("the monitor panicked".into()));
        (churned, monitored)
    });
    let mut report = churned?;
    let (samples, resets) = monitored?;
    report.samples = samples;
    report.resets = attribute(resets, &report.edits);
    report.processes = running.processes.clone();
    report.warmup = config.warmup;
    report.load_start = load_start;
    report.load_end = procfs::load_average();
    report.exited = running
        .daemons
        .iter()
        .zip(&running.processes)
        .filter(|(d, _)| d.has_exited())
        .map(|(_, p)| p.clone())
        .collect();
    Ok(report)
}

/// A BGPPeer towards `router` from every node, with hold time `hold`.
fn peer(name: &str, router: &Host, hold: &str) -> serde_json::Value {
    json!({"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"myASN": NODE_AS, "peerASN": ROUTER_AS,
                 "peerAddress": router.ipv4.to_string(),
                 "holdTime": hold, "connectTime": "1s"}})
}

/// Every session of every router Established.
fn wait_established(s: &Setup) -> TestResult {
    s.lab.wait_for(
        "every node's session Established at every router",
        Duration::from_secs(90),
        || {
            for n in &s.nodes {
                let address: IpAddr = n.ipv4.into();
                let mut routers: Vec<&dyn Router> = vec![&s.bird];
                if let Some(f) = &s.frr {
                    routers.push(f);
                }
                for r in routers {
                    let state = r.session_state(address)?;
                    if state != Some(interop_tests::SessionState::Established) {
                        return Ok(Probe::Pending(format!(
                            "{} with {}: {state:?}",
                            r.describe(),
                            n.name
                        )));
                    }
                }
            }
            Ok(Probe::Done(()))
        },
    )?;
    Ok(())
}

/// A session as a router last saw it.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    /// BIRD: the TCP connection of the session while it is Established
    /// (BIRD's end, the node's end). BIRD keeps no reset counter, and the
    /// time of last change `birdc show protocols` prints moved in a
    /// 30-minute run while no session went down (the speakers' logs and
    /// BIRD's own say so): the connection is what a reset replaces.
    Bird {
        connection: Option<(SocketAddr, SocketAddr)>,
    },
    /// FRR: how many times the session dropped so far.
    Frr { dropped: u64 },
}

impl Seen {
    /// How many resets happened between `self` and `now`.
    fn resets_until(&self, now: &Seen) -> u64 {
        match (self, now) {
            // An Established connection gone, or replaced by another, is a
            // reset (its recovery from down is not counted twice).
            (
                Seen::Bird {
                    connection: Some(was),
                },
                Seen::Bird { connection: now },
            ) => u64::from(now.as_ref() != Some(was)),
            (Seen::Frr { dropped }, Seen::Frr { dropped: now }) => now.saturating_sub(*dropped),
            _ => 0,
        }
    }
}

/// Every session's state: (router, node name) → what it saw.
fn sessions(s: &Setup) -> TestResult<BTreeMap<(String, String), Seen>> {
    let mut out = BTreeMap::new();
    let bird = s.bird.daemon().pid().ok_or("BIRD has no pid")?;
    let sockets = procfs::tcp_sockets(bird)?;
    for n in &s.nodes {
        let node: IpAddr = n.ipv4.into();
        let connection = sockets
            .iter()
            .find(|t| t.state == procfs::TcpState::Established && t.remote.ip() == node)
            .map(|t| (t.local, t.remote));
        out.insert(
            ("bird".to_string(), n.name.clone()),
            Seen::Bird { connection },
        );
    }
    if let Some(frr) = &s.frr {
        let text = frr.vtysh("show bgp neighbors json")?;
        let all: serde_json::Value = serde_json::from_str(&text)?;
        for n in &s.nodes {
            let dropped = all[n.ipv4.to_string()]["connectionsDropped"]
                .as_u64()
                .ok_or_else(|| format!("FRR shows no connectionsDropped for {}", n.name))?;
            out.insert(("frr".to_string(), n.name.clone()), Seen::Frr { dropped });
        }
    }
    Ok(out)
}

/// Why `router` last reset its session with `node`, as it says.
fn reset_reason(s: &Setup, router: &str, node: &str) -> String {
    let Some(n) = s.nodes.iter().find(|n| n.name == node) else {
        return String::new();
    };
    let address: IpAddr = n.ipv4.into();
    match (router, &s.frr) {
        ("frr", Some(frr)) => frr
            .neighbor(address)
            .map(|v| {
                format!(
                    "{} {}",
                    v["lastResetDueTo"].as_str().unwrap_or_default(),
                    v["lastNotificationReason"].as_str().unwrap_or_default()
                )
            })
            .unwrap_or_else(|e| e.to_string()),
        _ => {
            let Some(name) = s.bird.protocol(address) else {
                return String::new();
            };
            s.bird
                .birdc(&["show", "protocols", "all", name])
                .map(|out| {
                    out.lines()
                        .filter(|l| l.contains("Last error") || l.contains("BGP state"))
                        .map(str::trim)
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_else(|e| e.to_string())
        }
    }
}

/// Polls the routers' sessions every second and samples the processes
/// every `every`, until `stop`.
fn monitor(
    s: &Setup,
    pids: &[nix::unistd::Pid],
    started: Instant,
    every: Duration,
    stop: &AtomicBool,
) -> TestResult<(Vec<Sample>, Vec<Reset>)> {
    let mut samples = Vec::new();
    let mut resets = Vec::new();
    let mut seen = sessions(s)?;
    let mut next_sample = started;
    let mut failures = 0;
    while !stop.load(Ordering::Relaxed) {
        if Instant::now() >= next_sample {
            for (process, pid) in pids.iter().enumerate() {
                // A process that is gone has no figures: the report names
                // it among the exited.
                if let (Ok(rss_kib), Ok(fds)) = (procfs::rss_kib(*pid), procfs::open_fds(*pid)) {
                    samples.push(Sample {
                        at: started.elapsed(),
                        process,
                        rss_kib,
                        fds,
                    });
                }
            }
            next_sample += every;
        }
        match sessions(s) {
            Ok(now) => {
                failures = 0;
                for (key, state) in &now {
                    let count = seen.get(key).map_or(0, |was| was.resets_until(state));
                    let reason = match count {
                        0 => continue,
                        _ => reset_reason(s, &key.0, &key.1),
                    };
                    for _ in 0..count {
                        resets.push(Reset {
                            at: started.elapsed(),
                            router: key.0.clone(),
                            node: key.1.clone(),
                            edit: None,
                            reason: reason.clone(),
                        });
                    }
                }
                seen = now;
            }
            // A router busy for a moment answers the next poll; one that
            // never does ends the run.
            Err(e) => {
                failures += 1;
                if failures >= 30 {
                    return Err(format!("the routers did not answer for 30 polls: {e}").into());
                }
            }
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    Ok((samples, resets))
}

/// Each reset with the latest edit of its router's peer at most
/// [`ATTRIBUTION`] before it.
fn attribute(resets: Vec<Reset>, edits: &[Edit]) -> Vec<Reset> {
    resets
        .into_iter()
        .map(|mut r| {
            r.edit = edits
                .iter()
                .filter(|e| e.router == r.router && e.at <= r.at && r.at - e.at <= ATTRIBUTION)
                .map(|e| e.at)
                .next_back();
            r
        })
        .collect()
}

/// A live Service as the churn last wrote it.
#[derive(Debug, Clone, Copy)]
struct Live {
    local: bool,
    node: usize,
    ready: bool,
    rev: u32,
}

/// One write (or two) of the churn.
#[derive(Debug, Clone, Copy)]
enum Op {
    Create(u64, Live),
    Update(u64, u32),
    Delete(u64),
    Flip(u64, usize, bool),
}

impl Op {
    fn id(self) -> u64 {
        match self {
            Op::Create(id, _) | Op::Update(id, _) | Op::Delete(id) | Op::Flip(id, _, _) => id,
        }
    }
}

/// What the churn believes is live; a Service with a write in flight is
/// busy (no second write until the first is done).
struct Model {
    live: BTreeMap<u64, Live>,
    busy: BTreeSet<u64>,
    next: u64,
    rng: u64,
    nodes: usize,
}

impl Model {
    /// xorshift64: the churn needs variety, not quality.
    fn random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn pick_idle(&mut self) -> Option<u64> {
        let idle: Vec<u64> = self
            .live
            .keys()
            .filter(|k| !self.busy.contains(k))
            .copied()
            .collect();
        if idle.is_empty() {
            return None;
        }
        let i = (self.random() % idle.len() as u64) as usize;
        Some(idle[i])
    }

    /// Below `target` live Services, a creation; above 10 % more, a
    /// deletion; in between, any of the three.
    fn service_op(&mut self, target: usize) -> Option<Op> {
        let n = self.live.len();
        let roll = match n {
            n if n < target => 0,
            n if n > target + target / 10 => 2,
            _ => self.random() % 3,
        };
        let op = match roll {
            1 => self.pick_idle().map(|id| {
                let live = self.live.get_mut(&id)?;
                live.rev += 1;
                Some(Op::Update(id, live.rev))
            })?,
            2 => self.pick_idle().map(|id| {
                self.live.remove(&id);
                Op::Delete(id)
            }),
            _ => {
                let id = self.next;
                self.next += 1;
                let live = Live {
                    // Every fourth Service announces only through the
                    // node of its ready endpoint.
                    local: id.is_multiple_of(4),
                    node: (self.random() % self.nodes as u64) as usize,
                    ready: true,
                    rev: 0,
                };
                self.live.insert(id, live);
                Some(Op::Create(id, live))
            }
        }?;
        self.busy.insert(op.id());
        Some(op)
    }

    /// Half the flips toggle readiness, half move a ready endpoint to
    /// another node.
    fn flip_op(&mut self) -> Option<Op> {
        let id = self.pick_idle()?;
        let toss = self.random();
        let nodes = self.nodes;
        let live = self.live.get_mut(&id)?;
        if toss.is_multiple_of(2) {
            live.ready = !live.ready;
        } else {
            live.node = (live.node + 1 + (toss / 2) as usize % (nodes - 1)) % nodes;
            live.ready = true;
        }
        self.busy.insert(id);
        Some(Op::Flip(id, live.node, live.ready))
    }
}

fn lock(model: &Mutex<Model>) -> std::sync::MutexGuard<'_, Model> {
    // A panicking writer leaves a consistent enough model behind.
    model.lock().unwrap_or_else(|e| e.into_inner())
}

fn slices(admin: &Client) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("discovery.k8s.io", "v1beta1", "EndpointSlice");
    Api::namespaced_with(admin.clone(), APPS, &ApiResource::from_gvk(&gvk))
}

async fn execute(admin: &Client, op: Op, nodes: &[String]) -> TestResult {
    let name = format!("soak-{}", op.id());
    match op {
        Op::Create(_, live) => {
            let mut svc = lb_service(&name, &[], 80);
            if let (true, Some(spec)) = (live.local, svc.spec.as_mut()) {
                spec.external_traffic_policy = Some("Local".into());
            }
            services(admin)
                .create(&kube::api::PostParams::default(), &svc)
                .await?;
            set_endpoint(admin, &name, &nodes[live.node], live.ready).await?;
        }
        Op::Update(_, rev) => {
            // Labels, an annotation and the port: a Service update the
            // controller and the speakers must read and find unchanged
            // for their purposes.
            let patch = json!({
                "metadata": {"labels": {"soak-rev": rev.to_string()},
                             "annotations": {"soak.ferrolb.dev/rev": rev.to_string()}},
                "spec": {"ports": [{"port": 80 + (rev % 50) as i32, "protocol": "TCP"}]}
            });
            services(admin)
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
        }
        Op::Delete(_) => {
            services(admin)
                .delete(&name, &DeleteParams::default())
                .await?;
            // No garbage collector on the test server: the slice goes too.
            slices(admin)
                .delete(&format!("{name}-1"), &DeleteParams::default())
                .await?;
        }
        Op::Flip(_, node, ready) => set_endpoint(admin, &name, &nodes[node], ready).await?,
    }
    Ok(())
}

/// What the writers share.
#[derive(Clone)]
struct Writers {
    admin: Client,
    model: Arc<Mutex<Model>>,
    counters: Arc<Counters>,
    errors: Arc<Mutex<Vec<String>>>,
    in_flight: Arc<Semaphore>,
    nodes: Arc<Vec<String>>,
}

#[derive(Clone, Copy)]
enum Kind {
    Services { target: usize },
    Flips,
}

/// Issues `rate` writes of `kind` per second until `end`, each on a task
/// of its own (at most [`IN_FLIGHT`] in all: a slow server lowers the rate
/// achieved, which the report gives).
async fn drive(w: Writers, kind: Kind, rate: f64, end: Instant) -> TestResult {
    if rate <= 0.0 {
        return Ok(());
    }
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while Instant::now() < end {
        tick.tick().await;
        let permit = w.in_flight.clone().acquire_owned().await?;
        let op = {
            let mut m = lock(&w.model);
            match kind {
                Kind::Services { target } => m.service_op(target),
                Kind::Flips => m.flip_op(),
            }
        };
        let Some(op) = op else { continue };
        let w = w.clone();
        tokio::spawn(async move {
            let outcome = execute(&w.admin, op, &w.nodes).await;
            lock(&w.model).busy.remove(&op.id());
            let counter = match (&outcome, op) {
                (Err(_), _) => &w.counters.failed,
                (Ok(()), Op::Create(..)) => &w.counters.created,
                (Ok(()), Op::Update(..)) => &w.counters.updated,
                (Ok(()), Op::Delete(..)) => &w.counters.deleted,
                (Ok(()), Op::Flip(..)) => &w.counters.flipped,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = outcome {
                let mut errors = w.errors.lock().unwrap_or_else(|e| e.into_inner());
                if errors.len() < 5 {
                    errors.push(format!("{op:?}: {e}"));
                }
            }
            drop(permit);
        });
    }
    Ok(())
}

/// Edits one BGPPeer every `edit_every` (r1's, then r2's, ...), its hold
/// time alternating, until shortly before `end`.
async fn edit_peers(
    admin: &Client,
    config: &Config,
    s: &Setup,
    started: Instant,
    end: Instant,
) -> TestResult<Vec<Edit>> {
    let mut edits = Vec::new();
    let mut count = [0usize; 2];
    for k in 1u32.. {
        let at = started + config.edit_every * k;
        // The last edit's resets come before the churn ends.
        if at + Duration::from_secs(10) > end {
            break;
        }
        tokio::time::sleep_until(at.into()).await;
        let which = match &s.r2 {
            Some(_) => (k as usize + 1) % 2,
            None => 0,
        };
        let (name, host, router) = match (which, &s.r2) {
            (1, Some(r2)) => ("r2", r2, "frr"),
            _ => ("r1", &s.r1, "bird"),
        };
        let hold = HOLD_TIMES[count[which] % HOLD_TIMES.len()];
        count[which] += 1;
        apply(admin, NS, &peer(name, host, hold)).await?;
        edits.push(Edit {
            at: started.elapsed(),
            router: router.into(),
            hold: hold.into(),
        });
    }
    Ok(edits)
}

async fn churn(config: &Config, admin: &Client, started: Instant, s: &Setup) -> TestResult<Report> {
    let writers = Writers {
        admin: admin.clone(),
        model: Arc::new(Mutex::new(Model {
            live: BTreeMap::new(),
            busy: BTreeSet::new(),
            next: 0,
            rng: 0x9E37_79B9_7F4A_7C15,
            nodes: s.nodes.len(),
        })),
        counters: Arc::new(Counters::default()),
        errors: Arc::new(Mutex::new(Vec::new())),
        in_flight: Arc::new(Semaphore::new(IN_FLIGHT)),
        nodes: Arc::new(s.nodes.iter().map(|n| n.name.clone()).collect()),
    };
    let end = started + config.duration;
    let (services_done, flips_done, edits) = tokio::join!(
        drive(
            writers.clone(),
            Kind::Services {
                target: config.live
            },
            config.rate,
            end
        ),
        drive(writers.clone(), Kind::Flips, config.flip_rate, end),
        edit_peers(admin, config, s, started, end),
    );
    services_done?;
    flips_done?;
    let edits = edits?;
    // Every write in flight done.
    let all = writers.in_flight.acquire_many(IN_FLIGHT as u32).await?;
    drop(all);
    let churn = started.elapsed();
    // The last edit's resets happen before the tables are judged.
    if let Some(last) = edits.last() {
        tokio::time::sleep_until((started + last.at + Duration::from_secs(20)).into()).await;
    }

    let waiting = Instant::now();
    let (tables, unassigned, live_at_end, converged_after) = loop {
        let (expected, unassigned, live) = expected_table(admin, &s.nodes).await?;
        let tables = tokio::task::block_in_place(|| compare(s, &expected))?;
        if unassigned.is_empty() && tables.iter().all(|t| t.differences.is_empty()) {
            break (tables, unassigned, live, Some(waiting.elapsed()));
        }
        if waiting.elapsed() > config.converge {
            break (tables, unassigned, live, None);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    let c = &writers.counters;
    let ops = Ops {
        created: c.created.load(Ordering::Relaxed),
        updated: c.updated.load(Ordering::Relaxed),
        deleted: c.deleted.load(Ordering::Relaxed),
        flipped: c.flipped.load(Ordering::Relaxed),
        failed: c.failed.load(Ordering::Relaxed),
        errors: writers
            .errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone(),
    };
    Ok(Report {
        churn,
        ops,
        edits,
        tables,
        unassigned,
        live_at_end,
        converged_after,
        ..Report::default()
    })
}

/// The table the API's state calls for: each assigned Service with a ready
/// endpoint, through every node (Cluster) or the nodes of its ready
/// endpoints (Local); also the Services without an address, and how many
/// are live.
async fn expected_table(
    admin: &Client,
    nodes: &[Host],
) -> TestResult<(BTreeMap<ipnet::IpNet, BTreeSet<IpAddr>>, Vec<String>, usize)> {
    let all: Vec<Service> = services(admin).list(&ListParams::default()).await?.items;
    let mut ready: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for slice in slices(admin).list(&ListParams::default()).await?.items {
        let Some(service) = slice
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("kubernetes.io/service-name"))
        else {
            continue;
        };
        let entry = ready.entry(service.clone()).or_default();
        for e in slice.data["endpoints"].as_array().into_iter().flatten() {
            if e["conditions"]["ready"].as_bool() == Some(true)
                && let Some(node) = e["topology"]["kubernetes.io/hostname"].as_str()
            {
                entry.insert(node.to_string());
            }
        }
    }
    let mut expected = BTreeMap::new();
    let mut unassigned = Vec::new();
    for svc in &all {
        let name = svc.metadata.name.clone().unwrap_or_default();
        let addresses = ingress(svc);
        if addresses.is_empty() {
            unassigned.push(name);
            continue;
        }
        let local = svc
            .spec
            .as_ref()
            .and_then(|s| s.external_traffic_policy.as_deref())
            == Some("Local");
        let on = ready.get(&name).cloned().unwrap_or_default();
        let hops: BTreeSet<IpAddr> = nodes
            .iter()
            .filter(|n| {
                if local {
                    on.contains(&n.name)
                } else {
                    !on.is_empty()
                }
            })
            .map(|n| n.ipv4.into())
            .collect();
        if hops.is_empty() {
            continue;
        }
        for a in addresses {
            expected.insert(format!("{a}/32").parse()?, hops.clone());
        }
    }
    Ok((expected, unassigned, all.len()))
}

/// Each router's IPv4 table (prefix → the nodes it has a path from)
/// against `expected`.
fn compare(
    s: &Setup,
    expected: &BTreeMap<ipnet::IpNet, BTreeSet<IpAddr>>,
) -> TestResult<Vec<TableDiff>> {
    let mut routers: Vec<(&str, &dyn Router)> = vec![("bird", &s.bird)];
    if let Some(f) = &s.frr {
        routers.push(("frr", f));
    }
    let mut out = Vec::new();
    for (name, router) in routers {
        let held: BTreeMap<ipnet::IpNet, BTreeSet<IpAddr>> = router
            .rib(Family::Ipv4)?
            .into_iter()
            .map(|(p, paths)| (p, paths.iter().filter_map(|x| x.peer).collect()))
            .collect();
        let prefixes: BTreeSet<&ipnet::IpNet> = expected.keys().chain(held.keys()).collect();
        let differences = prefixes
            .into_iter()
            .filter_map(|p| {
                let (want, got) = (expected.get(p), held.get(p));
                (want != got).then(|| format!("{p}: expected via {want:?}, held via {got:?}"))
            })
            .collect();
        out.push(TableDiff {
            router: name.into(),
            expected: expected.len(),
            held: held.len(),
            differences,
        });
    }
    Ok(out)
}

/// The soak's samples as TSV (seconds, process, RSS KiB, descriptors).
pub fn samples_tsv(report: &Report) -> String {
    let mut text = String::from("seconds\tprocess\trss_kib\tfds\n");
    for s in &report.samples {
        text.push_str(&format!(
            "{:.1}\t{}\t{}\t{}\n",
            s.at.as_secs_f64(),
            report.processes[s.process],
            s.rss_kib,
            s.fds
        ));
    }
    text
}
