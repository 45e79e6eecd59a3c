//! Controller scale (issue 18, "Scale"): N LoadBalancer Services created at
//! once against the real test kube-apiserver; how long until every one has
//! an address, how many API writes each cost, and how that compares with
//! the API server's own write ceiling on the same machine, measured in the
//! same run.
//!
//! For each N and each round (`--rounds`), two phases, each on a fresh API
//! server and etcd, with the same creators (`--creators` concurrent
//! clients creating the N Services) and the same watch timing each Service
//! from the return of its `create` to the moment its status shows an
//! address:
//!
//! 1. **ceiling**: a trivial writer, under the controller's identity (same
//!    RBAC, same API priority and fairness flow), gives each Service as it
//!    is created the writes MetalLB requires, with the controller's
//!    in-flight window: the status with the `ip-allocated-from-pool`
//!    annotation in one request, then an `IPAllocated` Event. No watch, no
//!    cache, no allocator: the fastest any controller making these writes
//!    can be on this API server.
//! 2. **controller**: the `ferrolb-controller` binary (release build, a
//!    separate process, leader of its Lease) assigns them.
//!
//! API writes are counted by the API server (`apiserver_request_total`,
//! the mutating verbs), not by the writers, and split into the Services'
//! creations, the writes on Services and Events (per Service), and the
//! rest (Lease renewals, pool status). The ratio controller/ceiling of the
//! time until all are assigned is the figure the target (1.2×)
//! is about: per round, and its median over the rounds. The phases of one
//! round run one after the other, the ceiling first in the first round,
//! the controller first in the second, and so on, so that a machine whose
//! speed drifts during the run (a shared VM) favours neither. The table, a
//! TSV and an SVG curve (the medians) go to docs/img/.
//!
//! `make bench-controller` (release build; no root needed). A subset with
//! `make bench-controller BENCH_CONTROLLER_ARGS="--services 1000"`.

#[path = "../tests/cluster_support/mod.rs"]
mod cluster;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use cluster::{APPS, Cluster, NS, TestResult, configure, ingress, lb_service, pool};
use ferrolb_crds::api::ConfigurationState;
use futures::{StreamExt, TryStreamExt};
use interop_tests::apiserver::Identity;
use interop_tests::daemon::{Daemon, DaemonSpec};
use interop_tests::ferrolb::workspace_binary;
use k8s_openapi::api::core::v1::{ObjectReference, Service};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use kube::{Client, Resource};
use plotters::prelude::*;
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// Service counts, ascending.
    #[arg(long, value_delimiter = ',', default_value = "1000,5000,10000")]
    services: Vec<usize>,
    /// Concurrent clients creating the Services.
    #[arg(long, default_value_t = 16)]
    creators: usize,
    /// The trivial writer's in-flight window (default: the controller's).
    #[arg(long, default_value_t = ferrolb_controller::reconcile::run::WRITE_CONCURRENCY)]
    window: usize,
    /// Rounds of both phases per N; the ratio reported is their median.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
    /// Where the figures go (TSV); the SVG is written next to it.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/img/controller-scale.tsv"))]
    out: PathBuf,
    /// An earlier run's TSV, its controller drawn dashed as "before".
    #[arg(long)]
    before: Option<PathBuf>,
    /// Only draw the SVG from `--out` (and `--before`), measure nothing.
    #[arg(long)]
    plot_only: bool,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

/// One phase's figures.
#[derive(Debug, Clone)]
struct Sample {
    /// `ceiling` or `controller`.
    subject: String,
    services: usize,
    /// From the first creation to the last address seen.
    all_assigned: Duration,
    /// Creation returned → address seen, per Service.
    p50: Duration,
    p99: Duration,
    /// Mutating requests the API server served during the phase.
    api_writes: u64,
    /// Of those, writes on the Services (not their creation) and Events,
    /// per Service.
    per_service: f64,
    /// The 1-minute load average at the end of the phase.
    load: f64,
    /// The round (from 0); the ceiling of the same round is the
    /// controller's reference.
    round: u32,
}

/// Every address in one pool, wide enough for any N here.
const POOL: &str = "100.64.0.0/10";
const POOL_NAME: &str = "bench";
/// The annotation MetalLB records the pool in.
const POOL_ANNOTATION: &str = "metallb.io/ip-allocated-from-pool";

fn address(i: usize) -> Ipv4Addr {
    Ipv4Addr::from(0x6440_0000u32 + 1 + i as u32)
}

fn main() -> std::process::ExitCode {
    match run(Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("controller-scale failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> TestResult {
    let svg = args.out.with_extension("svg");
    if args.plot_only {
        return plot(&read_tsv(&args.out)?, &before(&args)?, &svg);
    }
    let program = match std::env::var_os("FERROLB_CONTROLLER_BIN") {
        Some(path) => PathBuf::from(path),
        None => workspace_binary("ferrolb-controller", "ferrolb-controller")?,
    };
    let mut sizes = args.services.clone();
    sizes.sort();
    println!(
        "controller-scale: {sizes:?} Services, {} rounds, {} creators, window {}, controller {}",
        args.rounds,
        args.creators,
        args.window,
        program.display()
    );
    println!("load average at start: {}", load_average());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut samples = Vec::new();
    for &n in &sizes {
        samples.extend(runtime.block_on(one_size(&args, &program, n))?);
    }
    println!("load average at end: {}", load_average());
    print_table(&samples);
    write_tsv(&args.out, &samples)?;
    plot(&samples, &before(&args)?, &svg)?;
    println!("\nwrote {} and {}", args.out.display(), svg.display());
    Ok(())
}

fn before(args: &Args) -> TestResult<Vec<Sample>> {
    match &args.before {
        Some(path) => read_tsv(path),
        None => Ok(Vec::new()),
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn load_1m() -> f64 {
    load_average()
        .split_whitespace()
        .next()
        .and_then(|l| l.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Every round of both phases for `n` Services, each phase on a fresh API
/// server: on a shared one, the phase run second would find etcd holding
/// the first one's 2n writes and n deletions.
async fn one_size(args: &Args, program: &Path, n: usize) -> TestResult<Vec<Sample>> {
    let mut samples = Vec::new();
    for round in 0..args.rounds {
        let controller_first = round % 2 == 1;
        for controller in [controller_first, !controller_first] {
            let sample = if controller {
                controller_phase(program, n, args.creators).await?
            } else {
                ceiling_phase(n, args.creators, args.window).await?
            };
            samples.push(Sample { round, ..sample });
        }
    }
    Ok(samples)
}

/// A fresh API server with the bench's pool, and an identity that may read
/// its metrics.
async fn fresh_cluster() -> TestResult<(Cluster, Identity)> {
    let cluster = Cluster::start().await?;
    configure(&cluster.admin, vec![pool(POOL_NAME, &[POOL])]).await?;
    let metrics_reader = cluster
        .server
        .identity("bench-metrics", &["system:masters"])?;
    Ok((cluster, metrics_reader))
}

/// The trivial writer's phase.
async fn ceiling_phase(n: usize, creators: usize, window: usize) -> TestResult<Sample> {
    let (cluster, metrics_reader) = fresh_cluster().await?;
    let client = cluster.controller_client().await?;
    phase(
        &cluster,
        &metrics_reader,
        n,
        creators,
        Writer::Trivial { client, window },
    )
    .await
}

/// The `ferrolb-controller` process's phase.
async fn controller_phase(program: &Path, n: usize, creators: usize) -> TestResult<Sample> {
    let (cluster, metrics_reader) = fresh_cluster().await?;
    let log = std::env::temp_dir().join(format!("ferrolb-controller-scale-{n}.log"));
    let controller = Daemon::start(DaemonSpec {
        name: "ferrolb-controller".into(),
        // A client of the API server on loopback, its metrics on a free
        // loopback port: nothing leaves the host.
        netns: None,
        program: program.to_str().ok_or("non-UTF-8 path")?,
        args: cluster.controller_args(),
        output: log,
        logs: Vec::new(),
        lifetime: Duration::from_secs(1800),
    })?;
    let outcome = async {
        wait_controller_ready(&cluster.admin, &controller).await?;
        phase(
            &cluster,
            &metrics_reader,
            n,
            creators,
            Writer::Controller(controller.pid()),
        )
        .await
    }
    .await;
    controller.stop(Duration::from_secs(10));
    outcome.map_err(|e| format!("{e}\n{}", controller.log_tail(30)).into())
}

/// The controller holds its Lease and has finished its first pass: the
/// `ConfigurationState` it writes there exists. Then a moment for the pool
/// status write, so that the phase counts only what the Services cause.
async fn wait_controller_ready(admin: &Client, controller: &Daemon) -> TestResult {
    let api: Api<ConfigurationState> = Api::namespaced(admin.clone(), NS);
    cluster::wait_for(
        "the controller's first pass",
        Duration::from_secs(60),
        || async {
            if controller.has_exited() {
                return Err("the controller exited".into());
            }
            Ok(api.get_opt("controller").await?.map(drop))
        },
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok(())
}

/// Who gives the Services their addresses in a phase.
enum Writer {
    /// The trivial writer (the ceiling), under this client, with this many
    /// Services in flight.
    Trivial { client: Client, window: usize },
    /// The `ferrolb-controller` process already running, with its PID (its
    /// CPU is reported).
    Controller(Option<nix::unistd::Pid>),
}

impl Writer {
    fn subject(&self) -> &'static str {
        match self {
            Writer::Trivial { .. } => "ceiling",
            Writer::Controller(_) => "controller",
        }
    }
}

/// Creates `n` Services (`creators` at a time) while `writer` assigns
/// them, and measures until the watch has seen an address on every one.
async fn phase(
    cluster: &Cluster,
    metrics_reader: &Identity,
    n: usize,
    creators: usize,
    writer: Writer,
) -> TestResult<Sample> {
    let subject = writer.subject();
    let admin = cluster.admin.clone();
    let seen: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let (synced_tx, synced) = tokio::sync::oneshot::channel();
    let watch = tokio::spawn(watch_assigned(admin.clone(), seen.clone(), synced_tx));
    synced.await?;
    let writes_before = request_counts(cluster, metrics_reader)?;
    let cpu_before = cpu_ticks(cluster);
    let controller = match writer {
        Writer::Controller(pid) => pid,
        Writer::Trivial { .. } => None,
    };
    let controller_before = controller.map_or(0, process_ticks);
    // Each created Service's index goes to the trivial writer, which ends
    // when the creators are done and its queue is empty.
    let (tx, rx) = futures::channel::mpsc::unbounded::<usize>();
    let failed: Arc<Mutex<Option<String>>> = Arc::default();
    let assigning = match writer {
        Writer::Trivial { client, window } => {
            let failed = failed.clone();
            Some(tokio::spawn(async move {
                let outcome = rx
                    .map(|i| assign(&client, i))
                    .buffer_unordered(window)
                    .try_collect::<()>()
                    .await;
                if let (Err(e), Ok(mut failed)) = (outcome, failed.lock()) {
                    *failed = Some(e.to_string());
                }
            }))
        }
        Writer::Controller(_) => None,
    };
    let started = Instant::now();
    let api: Api<Service> = Api::namespaced(admin.clone(), APPS);
    let created: Vec<(String, Instant)> = futures::stream::iter(0..n)
        .map(|i| {
            let (api, tx) = (api.clone(), tx.clone());
            async move {
                let name = format!("svc-{i:05}");
                api.create(&PostParams::default(), &lb_service(&name, &[], 80))
                    .await?;
                let at = Instant::now();
                // Gone only when the trivial writer failed (reported below)
                // or for the controller's phase.
                let _ = tx.unbounded_send(i);
                TestResult::Ok((name, at))
            }
        })
        .buffer_unordered(creators)
        .try_collect()
        .await?;
    drop(tx);
    let limit = Duration::from_secs(120 + n as u64 / 10);
    let waited = cluster::wait_for(
        &format!("an address on all {n} Services ({subject})"),
        limit,
        || async {
            if let Some(e) = failed.lock().map_err(|_| "poisoned")?.clone() {
                return Err(format!("the trivial writer failed: {e}").into());
            }
            Ok((seen.lock().map_err(|_| "poisoned")?.len() >= n).then_some(()))
        },
    )
    .await;
    watch.abort();
    if let Some(task) = assigning {
        task.abort();
    }
    waited?;
    let seen = seen.lock().map_err(|_| "poisoned")?.clone();
    let all_assigned = seen
        .values()
        .max()
        .map_or(Duration::ZERO, |t| t.saturating_duration_since(started));
    // Late writes (Events after the last status) are part of the cost.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let writes = request_counts(cluster, metrics_reader)?.since(&writes_before);
    let cpu = cpu_ticks(cluster).saturating_sub(cpu_before);
    let controller_cpu = controller.map(|pid| {
        process_ticks(pid).saturating_sub(controller_before) as f64 / ticks_per_second()
    });
    let mut latency: Vec<Duration> = created
        .iter()
        .filter_map(|(name, at)| seen.get(name).map(|t| t.saturating_duration_since(*at)))
        .collect();
    latency.sort();
    let per_service = writes.on_services_and_events() as f64 / n as f64;
    let sample = Sample {
        subject: subject.into(),
        services: n,
        all_assigned,
        p50: percentile(&latency, 0.5),
        p99: percentile(&latency, 0.99),
        api_writes: writes.total(),
        per_service,
        load: load_1m(),
        round: 0,
    };
    println!(
        "  {subject} {n}: all assigned after {:.1} s (p50 {:.1} s, p99 {:.1} s); {} API writes ({:.0}/s), {per_service:.2} per Service; API server + etcd CPU {:.0}%; load {}",
        all_assigned.as_secs_f64(),
        sample.p50.as_secs_f64(),
        sample.p99.as_secs_f64(),
        writes.total(),
        writes.total() as f64 / all_assigned.as_secs_f64().max(0.001),
        cpu as f64 / ticks_per_second() / all_assigned.as_secs_f64().max(0.001) * 100.0,
        load_average()
    );
    println!("    writes: {}", writes.describe());
    if let Some(seconds) = controller_cpu {
        println!("    controller CPU: {seconds:.1} s");
    }
    Ok(sample)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Records when each Service in [`APPS`] first shows an address; says when
/// the initial list is done.
async fn watch_assigned(
    admin: Client,
    seen: Arc<Mutex<HashMap<String, Instant>>>,
    synced: tokio::sync::oneshot::Sender<()>,
) {
    let api: Api<Service> = Api::namespaced(admin, APPS);
    let mut synced = Some(synced);
    let mut stream = std::pin::pin!(watcher(api, watcher::Config::default()));
    while let Some(event) = stream.next().await {
        match event {
            Ok(watcher::Event::Apply(s) | watcher::Event::InitApply(s))
                if !ingress(&s).is_empty() =>
            {
                let name = s.metadata.name.clone().unwrap_or_default();
                if let Ok(mut seen) = seen.lock() {
                    seen.entry(name).or_insert_with(Instant::now);
                }
            }
            Ok(watcher::Event::InitDone) => {
                if let Some(tx) = synced.take() {
                    let _ = tx.send(());
                }
            }
            _ => {}
        }
    }
}

/// The ceiling's writes for Service `i`: its status with the pool
/// annotation (one request), then its `IPAllocated` Event.
async fn assign(client: &Client, i: usize) -> TestResult {
    let name = format!("svc-{i:05}");
    let api: Api<Service> = Api::namespaced(client.clone(), APPS);
    let patch = json!({
        "metadata": { "annotations": { POOL_ANNOTATION: POOL_NAME } },
        "status": { "loadBalancer": { "ingress": [{ "ip": address(i).to_string() }] } },
    });
    let svc = api
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    let regarding: ObjectReference = svc.object_ref(&());
    let now = k8s_openapi::jiff::Timestamp::now();
    let event = Event {
        metadata: ObjectMeta {
            name: Some(format!("{name}.{:x}", now.as_nanosecond())),
            namespace: Some(APPS.into()),
            ..Default::default()
        },
        action: Some("IPAllocated".into()),
        reason: Some("IPAllocated".into()),
        note: Some(format!("Assigned IP [\"{}\"]", address(i))),
        event_time: Some(MicroTime(now)),
        regarding: Some(regarding),
        reporting_controller: Some("ferrolb-bench".into()),
        reporting_instance: Some("ceiling".into()),
        type_: Some("Normal".into()),
        ..Default::default()
    };
    Api::<Event>::namespaced(client.clone(), APPS)
        .create(&PostParams::default(), &event)
        .await?;
    Ok(())
}

/// Mutating requests served, by `verb resource[/subresource]`.
struct Requests(BTreeMap<String, u64>);

impl Requests {
    fn since(&self, before: &Requests) -> Requests {
        Requests(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v.saturating_sub(*before.0.get(k).unwrap_or(&0))))
                .filter(|(_, v)| *v > 0)
                .collect(),
        )
    }

    fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// Writes on Services other than their creation, and on Events.
    fn on_services_and_events(&self) -> u64 {
        self.0
            .iter()
            .filter(|(k, _)| {
                (k.contains(" services") && !k.starts_with("POST ")) || k.contains(" events")
            })
            .map(|(_, v)| v)
            .sum()
    }

    fn describe(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `apiserver_request_total` for the mutating verbs, summed over codes.
fn request_counts(cluster: &Cluster, who: &Identity) -> TestResult<Requests> {
    let text = cluster.server.get("/metrics", who)?;
    let mut counts = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("apiserver_request_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let label = |key: &str| {
            labels
                .split(',')
                .find_map(|kv| kv.strip_prefix(&format!("{key}=\"")))
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or("")
                .to_string()
        };
        let verb = label("verb");
        if !matches!(verb.as_str(), "POST" | "PUT" | "PATCH" | "DELETE" | "APPLY") {
            continue;
        }
        let mut what = format!("{verb} {}", label("resource"));
        let sub = label("subresource");
        if !sub.is_empty() {
            let _ = write!(what, "/{sub}");
        }
        let v: f64 = value.trim().parse().unwrap_or(0.0);
        *counts.entry(what).or_insert(0) += v as u64;
    }
    Ok(Requests(counts))
}

/// utime + stime of kube-apiserver and etcd, in clock ticks.
fn cpu_ticks(cluster: &Cluster) -> u64 {
    cluster.server.pids().into_iter().map(process_ticks).sum()
}

/// utime + stime of one process, in clock ticks (0 once it is gone).
fn process_ticks(pid: nix::unistd::Pid) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the command's closing parenthesis; utime and stime are
    // the 14th and 15th of the line.
    let ticks = || {
        let rest = stat.rsplit_once(')')?.1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
    };
    ticks().unwrap_or(0)
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// The controller's time over its round's ceiling's, if both are in
/// `samples`.
fn ratio(samples: &[Sample], controller: &Sample) -> Option<f64> {
    let ceiling = samples.iter().find(|c| {
        c.subject == "ceiling" && c.services == controller.services && c.round == controller.round
    })?;
    (controller.subject == "controller").then(|| {
        controller.all_assigned.as_secs_f64() / ceiling.all_assigned.as_secs_f64().max(0.001)
    })
}

/// The median of `values` (of an even count, the mean of the middle two);
/// `None` if empty.
fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let upper = *values.get(values.len() / 2)?;
    let lower = *values.get(values.len().saturating_sub(1) / 2)?;
    Some((lower + upper) / 2.0)
}

/// The table: each round's ceiling and controller, and their ratio; then
/// each N's median ratio.
fn print_table(samples: &[Sample]) {
    println!(
        "\n| Services | round | writer | all assigned | p50 | p99 | API writes | writes per Service (status, annotation, Event) | load | controller / ceiling |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for s in samples {
        let ratio = ratio(samples, s).map_or_else(|| "—".into(), |r| format!("{r:.2}×"));
        println!(
            "| {} | {} | {} | {:.1} s | {:.1} s | {:.1} s | {} | {:.2} | {:.1} | {ratio} |",
            s.services,
            s.round + 1,
            s.subject,
            s.all_assigned.as_secs_f64(),
            s.p50.as_secs_f64(),
            s.p99.as_secs_f64(),
            s.api_writes,
            s.per_service,
            s.load
        );
    }
    let mut sizes: Vec<usize> = samples.iter().map(|s| s.services).collect();
    sizes.dedup();
    for n in sizes {
        let ratios: Vec<f64> = samples
            .iter()
            .filter(|s| s.services == n)
            .filter_map(|s| ratio(samples, s))
            .collect();
        let each: Vec<String> = ratios.iter().map(|r| format!("{r:.2}×")).collect();
        if let Some(m) = median(ratios.clone()) {
            println!(
                "\n{n} Services: controller / ceiling {} over {} rounds, median **{m:.2}×**",
                each.join(", "),
                ratios.len()
            );
        }
    }
}

fn write_tsv(path: &Path, samples: &[Sample]) -> TestResult {
    let mut text = String::from(
        "subject\tservices\tall_assigned_ms\tp50_ms\tp99_ms\tapi_writes\tper_service\tload\tround\n",
    );
    for s in samples {
        let _ = writeln!(
            text,
            "{}\t{}\t{}\t{}\t{}\t{}\t{:.3}\t{:.2}\t{}",
            s.subject,
            s.services,
            s.all_assigned.as_millis(),
            s.p50.as_millis(),
            s.p99.as_millis(),
            s.api_writes,
            s.per_service,
            s.load,
            s.round
        );
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)?;
    Ok(())
}

fn read_tsv(path: &Path) -> TestResult<Vec<Sample>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            // Files written before rounds have no round column: one round.
            let (row, round) = match &f[..] {
                [row @ .., round] if row.len() == 8 => (row, *round),
                row => (row, "0"),
            };
            let &[subject, services, all, p50, p99, writes, per, load] = row else {
                return Err(format!("{}: bad line {line:?}", path.display()).into());
            };
            let ms = |v: &str| -> TestResult<Duration> { Ok(Duration::from_millis(v.parse()?)) };
            Ok(Sample {
                subject: subject.to_string(),
                services: services.parse()?,
                all_assigned: ms(all)?,
                p50: ms(p50)?,
                p99: ms(p99)?,
                api_writes: writes.parse()?,
                per_service: per.parse()?,
                load: load.parse()?,
                round: round.parse()?,
            })
        })
        .collect()
}

/// Seconds until all are assigned against Services: the ceiling, the
/// controller, the target (1.2× the ceiling, dotted) and the controller of
/// `before` (dashed).
fn plot(samples: &[Sample], before: &[Sample], svg: &Path) -> TestResult {
    let all = || samples.iter().chain(before);
    let max_n = all().map(|s| s.services).max().unwrap_or(1) as f64;
    let max_s = all()
        .map(|s| s.all_assigned.as_secs_f64())
        .fold(1.0, f64::max)
        * 1.1;
    let root = SVGBackend::new(svg, (800, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Services created at once: time until every one has an address",
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_n * 1.05, 0.0..max_s)?;
    chart
        .configure_mesh()
        .x_desc("Services")
        .y_desc("seconds")
        .x_label_formatter(&|x| format!("{}k", x / 1000.0))
        .draw()?;
    // One point per N: the median over its rounds.
    let points = |from: &[Sample], subject: &str, scale: f64| -> Vec<(f64, f64)> {
        let mut by_n: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
        for s in from.iter().filter(|s| s.subject == subject) {
            by_n.entry(s.services)
                .or_default()
                .push(s.all_assigned.as_secs_f64());
        }
        by_n.into_iter()
            .filter_map(|(n, secs)| Some((n as f64, median(secs)? * scale)))
            .collect()
    };
    let ceiling = points(samples, "ceiling", 1.0);
    chart
        .draw_series(LineSeries::new(ceiling.clone(), BLUE.stroke_width(2)))?
        .label("trivial writer (the API server's ceiling)")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE.stroke_width(2)));
    chart.draw_series(ceiling.iter().map(|p| Circle::new(*p, 3, BLUE.filled())))?;
    chart
        .draw_series(DashedLineSeries::new(
            points(samples, "ceiling", 1.2),
            2,
            4,
            BLACK.mix(0.5).stroke_width(1),
        ))?
        .label("target: 1.2 × the ceiling")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.mix(0.5)));
    let controller = points(samples, "controller", 1.0);
    chart
        .draw_series(LineSeries::new(controller.clone(), RED.stroke_width(2)))?
        .label("ferrolb-controller")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED.stroke_width(2)));
    chart.draw_series(controller.iter().map(|p| Circle::new(*p, 3, RED.filled())))?;
    let then = points(before, "controller", 1.0);
    if !then.is_empty() {
        chart
            .draw_series(DashedLineSeries::new(
                then.clone(),
                6,
                4,
                RED.mix(0.5).stroke_width(2),
            ))?
            .label("ferrolb-controller, before")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED.mix(0.5)));
        chart.draw_series(then.iter().map(|p| Circle::new(*p, 3, RED.mix(0.5))))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .border_style(BLACK.mix(0.3))
        .background_style(WHITE.mix(0.9))
        .draw()?;
    root.present()?;
    Ok(())
}
