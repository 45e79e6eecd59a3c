//! Speaker memory per Service (issue 18, "Scale"): the resident memory of
//! the speaker holding N Services, in both shells, release builds.
//!
//! - **standalone**: `ferrolb run` on a lab node, its files holding the
//!   configuration and N Services (each asking for its own address; the
//!   allocator assigns them).
//! - **kubernetes**: the `ferrolb-speaker` binary on a lab node against the
//!   real test kube-apiserver (the chart's speaker RBAC), with N Services,
//!   their recorded addresses and one EndpointSlice each (an endpoint ready
//!   on the node).
//!
//! Both peer with one BIRD router. For each N a fresh speaker starts, and
//! the figure is taken at steady state: every route in BIRD (and, on
//! Kubernetes, every ServiceBGPStatus written), then a few seconds more;
//! VmRSS and VmHWM from /proc. The table gives the slope per Service
//! between consecutive N; the curve goes to an SVG (docs/img/), with the
//! run recorded in `--before` (a TSV this benchmark wrote) drawn dashed.
//!
//! With `--changes C`, the Kubernetes shell also times C changes of one
//! Service at each N (issue 18, "Service change -> route"): its
//! EndpointSlice's endpoint turns not ready, then ready again, and so on;
//! each time from the API write to the route's removal or arrival in
//! BIRD's kernel (a netlink notification in BIRD's namespace), while the
//! speaker holds N Services. `make bench-speaker-change`.
//!
//! `make bench-speaker-memory` (release build, root). The binaries are the
//! workspace's (next to this one), or `FERROLB_BIN` and
//! `FERROLB_SPEAKER_BIN` (to measure an older build).

#[path = "../tests/cluster_support/mod.rs"]
mod cluster;

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Parser;
use cluster::lab_nodes::{NODE_AS, ROUTER_AS, bird_facing_one_node, create_node};
use cluster::{APPS, Cluster, NS, TestResult, lb_service, services};
use ferrolb_crds::api::ServiceBGPStatus;
use futures::{StreamExt, TryStreamExt};
use interop_tests::daemon::{Daemon, DaemonSpec};
use interop_tests::ferrolb::{FerroLb, workspace_binary};
use interop_tests::forward::Forward;
use interop_tests::kernel::RouteMonitor;
use interop_tests::{Bird, Host, Lab, LabError, Probe};
use ipnet::IpNet;
use kube::Client;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams,
};
use plotters::prelude::*;
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// Service counts, ascending.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,50000")]
    services: Vec<usize>,
    /// Which shells to measure: standalone, kubernetes.
    #[arg(long, value_delimiter = ',', default_value = "standalone,kubernetes")]
    shells: Vec<Shell>,
    /// Where the figures go (TSV); the SVG is written next to it.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/img/speaker-memory.tsv"))]
    out: PathBuf,
    /// An earlier run's TSV, drawn dashed as "before".
    #[arg(long)]
    before: Option<PathBuf>,
    /// Only draw the SVG from `--out` (and `--before`), measure nothing.
    #[arg(long)]
    plot_only: bool,
    /// Changes of one Service timed to BIRD's kernel at each N (Kubernetes
    /// shell only); 0 for none.
    #[arg(long, default_value_t = 0)]
    changes: usize,
    /// Another `ferrolb-speaker` binary (an older build) whose changes are
    /// timed too, on the same API server right after this build's.
    #[arg(long)]
    changes_before: Option<PathBuf>,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Shell {
    Standalone,
    Kubernetes,
}

impl Shell {
    fn name(self) -> &'static str {
        match self {
            Shell::Standalone => "standalone",
            Shell::Kubernetes => "kubernetes",
        }
    }
}

/// One figure.
#[derive(Debug, Clone)]
struct Sample {
    shell: String,
    services: usize,
    /// VmRSS at steady state, KiB.
    rss_kib: u64,
    /// VmHWM, KiB.
    peak_kib: u64,
    /// From the speaker's start to every route in BIRD.
    converged: Duration,
}

/// Every address in one pool, wide enough for any N here.
const POOL: &str = "100.64.0.0/10";

fn address(i: usize) -> Ipv4Addr {
    Ipv4Addr::from(0x6440_0000u32 + 1 + i as u32)
}

fn main() -> std::process::ExitCode {
    match run(Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("speaker-memory failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> TestResult {
    let svg = args.out.with_extension("svg");
    if args.plot_only {
        let samples = read_tsv(&args.out)?;
        return plot(&samples, &before(&args)?, &svg);
    }
    let mut sizes = args.services.clone();
    sizes.sort();
    println!("load average at start: {}", load_average());
    let mut samples = Vec::new();
    let mut changes = Vec::new();
    for shell in &args.shells {
        let got = match shell {
            Shell::Standalone => standalone(&sizes)?,
            Shell::Kubernetes => kubernetes(&sizes, &args, &mut changes)?,
        };
        samples.extend(got);
    }
    println!("load average at end: {}", load_average());
    print_table(&samples);
    print_changes(&mut changes);
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

/// VmRSS and VmHWM of a process, KiB.
fn memory(pid: i32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (kib("VmRSS:"), kib("VmHWM:"))
}

/// The steady state's figure: three readings a second apart after
/// convergence, the last one (the first are still settling).
fn settle(daemon: &Daemon) -> TestResult<(u64, u64)> {
    let pid = daemon.pid().ok_or("no speaker pid")?.as_raw();
    let mut last = (0, 0);
    for _ in 0..3 {
        std::thread::sleep(Duration::from_secs(1));
        last = memory(pid);
    }
    Ok(last)
}

/// Waits until BIRD holds `n` routes from `node`.
fn wait_routes(lab: &Lab, bird: &Bird, node: &Host, n: usize) -> TestResult {
    let limit = Duration::from_secs(120 + n as u64 / 100);
    lab.wait_for(&format!("BIRD to hold {n} routes"), limit, || {
        Ok(match bird.prefixes_received(node.ipv4.into())? {
            c if c == n as u64 => Probe::Done(()),
            c => Probe::Pending(c.to_string()),
        })
    })?;
    Ok(())
}

/// The configuration of the standalone shell (ROUTER, the AS numbers and
/// POOL filled in).
const STANDALONE_CONFIG: &str = r#"
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: bench, namespace: metallb-system}
spec: {addresses: [POOL]}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: r1, namespace: metallb-system}
spec: {myASN: NODE_AS, peerASN: ROUTER_AS, peerAddress: ROUTER}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: bench, namespace: metallb-system}
spec: {ipAddressPools: [bench]}
"#;

/// `count` Services, each asking for its own address.
fn service_files(count: usize) -> String {
    let mut s = String::with_capacity(count * 200);
    for i in 0..count {
        let _ = write!(
            s,
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: s{i}, namespace: default, annotations: {{metallb.io/loadBalancerIPs: {}}}}}\nspec: {{type: LoadBalancer, ports: [{{port: 80}}]}}\n",
            address(i)
        );
    }
    s
}

fn standalone(sizes: &[usize]) -> TestResult<Vec<Sample>> {
    let (lab, r1, n1, bird) = bird_facing_one_node("spkmems")?;
    let dir = lab.dir().join("ferrolb-config");
    std::fs::create_dir_all(&dir).map_err(|e| LabError::io("config dir", e))?;
    let config = STANDALONE_CONFIG
        .replace("ROUTER_AS", &ROUTER_AS.to_string())
        .replace("NODE_AS", &NODE_AS.to_string())
        .replace("ROUTER", &r1.ipv4.to_string())
        .replace("POOL", POOL);
    std::fs::write(dir.join("config.yaml"), config).map_err(|e| LabError::io("write config", e))?;
    let mut samples = Vec::new();
    for &n in sizes {
        std::fs::write(dir.join("services.yaml"), service_files(n))
            .map_err(|e| LabError::io("write services", e))?;
        let start = Instant::now();
        let speaker = FerroLb::start_with(&lab, &n1, &dir, &format!("ferrolb-{n}.log"), None, &[])?;
        wait_routes(&lab, &bird, &n1, n)?;
        let converged = start.elapsed();
        let (rss_kib, peak_kib) = settle(speaker.daemon())?;
        samples.push(Sample {
            shell: Shell::Standalone.name().into(),
            services: n,
            rss_kib,
            peak_kib,
            converged,
        });
        print_sample(samples.last());
        speaker.daemon().stop(Duration::from_secs(10));
        wait_routes(&lab, &bird, &n1, 0)?;
    }
    Ok(samples)
}

fn kubernetes(
    sizes: &[usize],
    args: &Args,
    timed: &mut Vec<(String, usize, Vec<Duration>)>,
) -> TestResult<Vec<Sample>> {
    let program = match std::env::var_os("FERROLB_SPEAKER_BIN") {
        Some(path) => PathBuf::from(path),
        None => workspace_binary("ferrolb-speaker", "ferrolb-speaker")?,
    };
    let (lab, r1, n1, bird) = bird_facing_one_node("spkmemk")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    // A LoadBalancer Service takes a node port: the default range (2,768
    // ports) is too small for tens of thousands.
    let cluster = runtime.block_on(Cluster::start_with(&[
        "--service-node-port-range=1024-65535",
    ]))?;
    let admin = cluster.admin.clone();
    runtime.block_on(async {
        configure_bgp(&admin, &r1).await?;
        create_node(&admin, &n1).await
    })?;
    let _forward = Forward::start(
        &n1.netns,
        format!("127.0.0.1:{}", cluster.server.port()).parse()?,
    )?;
    let log_dir = lab.state_dir(&n1, "speaker")?;
    let mut samples = Vec::new();
    let mut created = 0;
    for &n in sizes {
        let t = Instant::now();
        runtime.block_on(create_services(&admin, created, n))?;
        println!(
            "  created Services {created}..{n} with their status and EndpointSlice in {:.0} s",
            t.elapsed().as_secs_f64()
        );
        created = n;
        // What the last speaker left: each start writes every status anew.
        runtime.block_on(clear_statuses(&admin))?;
        let start = Instant::now();
        let speaker = start_speaker(
            &lab,
            &n1,
            &cluster,
            &program,
            &log_dir.join(format!("speaker-{n}.log")),
        )?;
        wait_routes(&lab, &bird, &n1, n)?;
        let converged = start.elapsed();
        runtime.block_on(wait_statuses(&admin, n))?;
        let (rss_kib, peak_kib) = settle(&speaker)?;
        samples.push(Sample {
            shell: Shell::Kubernetes.name().into(),
            services: n,
            rss_kib,
            peak_kib,
            converged,
        });
        print_sample(samples.last());
        if args.changes > 0 {
            let got = change_to_route(&lab, &runtime, &admin, &r1, args.changes)?;
            timed.push(("this build".into(), n, got));
        }
        speaker.stop(Duration::from_secs(10));
        wait_routes(&lab, &bird, &n1, 0)?;
        if let (Some(before), true) = (&args.changes_before, args.changes > 0) {
            runtime.block_on(clear_statuses(&admin))?;
            let log = log_dir.join(format!("speaker-before-{n}.log"));
            let speaker = start_speaker(&lab, &n1, &cluster, before, &log)?;
            wait_routes(&lab, &bird, &n1, n)?;
            runtime.block_on(wait_statuses(&admin, n))?;
            let got = change_to_route(&lab, &runtime, &admin, &r1, args.changes)?;
            timed.push((before.display().to_string(), n, got));
            speaker.stop(Duration::from_secs(10));
            wait_routes(&lab, &bird, &n1, 0)?;
        }
    }
    Ok(samples)
}

/// The EndpointSlice of Service `s{i}`, its endpoint ready or not.
fn endpoint_slice(i: usize, ready: bool) -> serde_json::Value {
    let name = format!("s{i}");
    json!({
        "apiVersion": "discovery.k8s.io/v1beta1", "kind": "EndpointSlice",
        "metadata": {"name": format!("{name}-1"), "namespace": APPS,
                     "labels": {"kubernetes.io/service-name": name}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": ready},
                       "topology": {"kubernetes.io/hostname": "n1"}}],
        "ports": [{"port": 80, "protocol": "TCP"}]
    })
}

fn slices_api(admin: &Client) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("discovery.k8s.io", "v1beta1", "EndpointSlice");
    Api::namespaced_with(admin.clone(), APPS, &ApiResource::from_gvk(&gvk))
}

/// `changes` changes of Service `s0` (its endpoint not ready, then ready
/// again, ...), each timed from the API write to the route's removal or
/// arrival in BIRD's kernel.
fn change_to_route(
    lab: &Lab,
    runtime: &tokio::runtime::Runtime,
    admin: &Client,
    router: &Host,
    changes: usize,
) -> TestResult<Vec<Duration>> {
    let monitor = RouteMonitor::start(&router.netns)?;
    let prefix = IpNet::from(IpAddr::from(address(0)));
    let slices = slices_api(admin);
    let mut samples = Vec::with_capacity(changes);
    for k in 0..changes {
        let ready = k % 2 == 1;
        let before = monitor.events(prefix);
        let patch = json!({"endpoints": endpoint_slice(0, ready)["endpoints"]});
        let written = Instant::now();
        runtime.block_on(slices.patch("s0-1", &PatchParams::default(), &Patch::Merge(&patch)))?;
        let expected = if ready { "back in" } else { "gone from" };
        let at = lab.wait_for(
            &format!("{prefix} {expected} BIRD's kernel"),
            Duration::from_secs(30),
            || {
                let now = monitor.events(prefix);
                Ok(match (ready, now.added, now.removed) {
                    (true, Some(t), _) if now.additions > before.additions => Probe::Done(t),
                    (false, _, Some(t)) if now.removals > before.removals => Probe::Done(t),
                    _ => Probe::Pending(format!("{now:?}")),
                })
            },
        )?;
        samples.push(at.saturating_duration_since(written));
        // Changes a few tens of ms apart, as a busy cluster makes them.
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut sorted = samples.clone();
    sorted.sort();
    println!(
        "  {changes} changes -> BIRD's kernel: p50 {:.1} ms, p99 {:.1} ms (load average {})",
        percentile(&sorted, 0.5).as_secs_f64() * 1e3,
        percentile(&sorted, 0.99).as_secs_f64() * 1e3,
        load_average()
    );
    Ok(samples)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn print_changes(timed: &mut [(String, usize, Vec<Duration>)]) {
    if timed.is_empty() {
        return;
    }
    println!(
        "\nService change (API write) -> route in BIRD's kernel, Kubernetes shell\n\n| speaker | Services held | changes | p50 | p90 | p99 | max |"
    );
    println!("|---|---|---|---|---|---|---|");
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    for (speaker, n, samples) in timed {
        samples.sort();
        println!(
            "| {speaker} | {n} | {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |",
            samples.len(),
            ms(percentile(samples, 0.5)),
            ms(percentile(samples, 0.9)),
            ms(percentile(samples, 0.99)),
            ms(samples.last().copied().unwrap_or_default()),
        );
    }
}

async fn configure_bgp(admin: &Client, router: &Host) -> TestResult {
    for object in [
        json!({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
            "metadata": {"name": "bench", "namespace": NS},
            "spec": {"addresses": [POOL]}}),
        json!({"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
            "metadata": {"name": "r1", "namespace": NS},
            "spec": {"myASN": NODE_AS, "peerASN": ROUTER_AS,
                     "peerAddress": router.ipv4.to_string()}}),
        json!({"apiVersion": "metallb.io/v1beta1", "kind": "BGPAdvertisement",
            "metadata": {"name": "bench", "namespace": NS}, "spec": {}}),
    ] {
        cluster::lab_nodes::apply(admin, NS, &object).await?;
    }
    Ok(())
}

/// Services `from..to`: created, their address recorded as the controller
/// does, and one EndpointSlice each with an endpoint ready on `n1`.
async fn create_services(admin: &Client, from: usize, to: usize) -> TestResult {
    let slices = slices_api(admin);
    let api = services(admin);
    futures::stream::iter(from..to)
        .map(|i| {
            let (api, slices) = (api.clone(), slices.clone());
            async move {
                let name = format!("s{i}");
                api.create(&PostParams::default(), &lb_service(&name, &[], 80))
                    .await?;
                let status =
                    json!({"status": {"loadBalancer": {"ingress": [{"ip": address(i).to_string()}]}}});
                api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                    .await?;
                let slice: DynamicObject = serde_json::from_value(endpoint_slice(i, true))?;
                slices.create(&PostParams::default(), &slice).await?;
                TestResult::Ok(())
            }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

fn statuses(admin: &Client) -> Api<ServiceBGPStatus> {
    Api::namespaced(admin.clone(), NS)
}

async fn clear_statuses(admin: &Client) -> TestResult {
    statuses(admin)
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await?;
    Ok(())
}

/// Waits until the speaker has written `n` ServiceBGPStatus objects (a
/// list of one item says how many remain).
async fn wait_statuses(admin: &Client, n: usize) -> TestResult {
    let api = statuses(admin);
    let limit = Duration::from_secs(120 + n as u64 / 20);
    cluster::wait_for(&format!("{n} ServiceBGPStatus objects"), limit, || {
        let api = api.clone();
        async move {
            let page = api.list(&ListParams::default().limit(1)).await?;
            let count =
                page.items.len() as u64 + page.metadata.remaining_item_count.unwrap_or(0) as u64;
            Ok((count >= n as u64).then_some(()))
        }
    })
    .await
}

fn start_speaker(
    lab: &Lab,
    host: &Host,
    cluster: &Cluster,
    program: &Path,
    log: &Path,
) -> TestResult<std::sync::Arc<Daemon>> {
    Ok(lab.start_daemon(DaemonSpec {
        name: format!("{}/ferrolb-speaker", host.name),
        netns: Some(&host.netns),
        program: program.to_str().ok_or("non-UTF-8 path")?,
        args: cluster.speaker_args(&host.name),
        output: log.to_path_buf(),
        logs: Vec::new(),
        lifetime: lab.lifetime(),
    })?)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn print_sample(s: Option<&Sample>) {
    if let Some(s) = s {
        println!(
            "  {} {} Services: RSS {:.1} MiB, peak {:.1} MiB, all routes in BIRD after {:.1} s",
            s.shell,
            s.services,
            mib(s.rss_kib),
            mib(s.peak_kib),
            s.converged.as_secs_f64()
        );
    }
}

/// The table, with the slope per Service from the previous N of the same
/// shell.
fn print_table(samples: &[Sample]) {
    println!(
        "\n| shell | Services | RSS | peak RSS | per Service (slope from the previous row) | all routes in BIRD |"
    );
    println!("|---|---|---|---|---|---|");
    let mut previous: Option<&Sample> = None;
    for s in samples {
        let slope = previous
            .filter(|p| p.shell == s.shell && p.services < s.services)
            .map(|p| {
                let bytes = (s.rss_kib as f64 - p.rss_kib as f64) * 1024.0;
                format!(
                    "{:.2} KB",
                    bytes / (s.services - p.services) as f64 / 1000.0
                )
            })
            .unwrap_or_else(|| "—".into());
        println!(
            "| {} | {} | {:.1} MiB | {:.1} MiB | {slope} | {:.1} s |",
            s.shell,
            s.services,
            mib(s.rss_kib),
            mib(s.peak_kib),
            s.converged.as_secs_f64()
        );
        previous = Some(s);
    }
}

fn write_tsv(path: &Path, samples: &[Sample]) -> TestResult {
    let mut text = String::from("shell\tservices\trss_kib\tpeak_kib\tconverged_ms\n");
    for s in samples {
        let _ = writeln!(
            text,
            "{}\t{}\t{}\t{}\t{}",
            s.shell,
            s.services,
            s.rss_kib,
            s.peak_kib,
            s.converged.as_millis()
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
            let [shell, services, rss, peak, converged] = f[..] else {
                return Err(format!("{}: bad line {line:?}", path.display()).into());
            };
            Ok(Sample {
                shell: shell.to_string(),
                services: services.parse()?,
                rss_kib: rss.parse()?,
                peak_kib: peak.parse()?,
                converged: Duration::from_millis(converged.parse()?),
            })
        })
        .collect()
}

/// RSS against Services, one line per shell; `before` dashed; the target
/// (30 MiB at 10,000 Services, 1.5 KB per Service) dotted.
fn plot(samples: &[Sample], before: &[Sample], svg: &Path) -> TestResult {
    let all = || samples.iter().chain(before);
    let max_n = all().map(|s| s.services).max().unwrap_or(1) as f64;
    let max_mib = all().map(|s| mib(s.rss_kib)).fold(0.0, f64::max).max(40.0) * 1.1;
    let root = SVGBackend::new(svg, (800, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Speaker RSS against Services held", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_n * 1.05, 0.0..max_mib)?;
    chart
        .configure_mesh()
        .x_desc("Services")
        .y_desc("RSS (MiB)")
        .x_label_formatter(&|x| format!("{}k", (x / 1000.0).round()))
        .draw()?;
    let target = |n: f64| 30.0 + (n - 10_000.0) * 1500.0 / 1_048_576.0;
    chart
        .draw_series(DashedLineSeries::new(
            [(0.0, target(0.0)), (max_n, target(max_n))],
            2,
            4,
            BLACK.mix(0.5).stroke_width(1),
        ))?
        .label("target: 30 MiB at 10k, 1.5 KB per Service")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.mix(0.5)));
    let colours = [RED, BLUE, GREEN, MAGENTA];
    let mut shells: Vec<&str> = all().map(|s| s.shell.as_str()).collect();
    shells.sort();
    shells.dedup();
    for (i, shell) in shells.iter().enumerate() {
        let colour = colours[i % colours.len()];
        let points = |from: &[Sample]| -> Vec<(f64, f64)> {
            from.iter()
                .filter(|s| s.shell == *shell)
                .map(|s| (s.services as f64, mib(s.rss_kib)))
                .collect()
        };
        let now = points(samples);
        if !now.is_empty() {
            chart
                .draw_series(LineSeries::new(now.clone(), colour.stroke_width(2)))?
                .label(shell.to_string())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2))
                });
            chart.draw_series(now.iter().map(|p| Circle::new(*p, 3, colour.filled())))?;
        }
        let then = points(before);
        if !then.is_empty() {
            chart
                .draw_series(DashedLineSeries::new(
                    then.clone(),
                    6,
                    4,
                    colour.mix(0.6).stroke_width(2),
                ))?
                .label(format!("{shell}, before"))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.mix(0.6)));
            chart.draw_series(then.iter().map(|p| Circle::new(*p, 3, colour.mix(0.6))))?;
        }
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
