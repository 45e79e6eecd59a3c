//! The BGP convergence benchmark (issue 3, `make bench`): a speaker
//! announces N distinct /32s to a router; how long until the router has
//! them all in its BGP RIB and in its kernel, and what did the speaker
//! spend doing it?
//!
//! Speakers: FerroLB (`bgp-announce`, the session driver in its own
//! process), GoBGP, BIRD, ExaBGP and the replay limit (`bgp-announce
//! --replay`: pre-encoded UPDATEs packed to the negotiated maximum, written
//! as fast as TCP takes them). Routers: FRR and BIRD. Every measurement gets
//! a fresh lab (router `r`, speaker node `n`), torn down afterwards.
//!
//! Method and results: docs/benchmarks.md ("BGP convergence").

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use interop_tests::daemon::{Daemon, DaemonSpec};
use interop_tests::{
    Bird, Frr, Gobgp, Host, Lab, LabError, Router, RouterConfig, SessionState, kernel,
};
use ipnet::Ipv4Net;

const ROUTER_AS: u32 = 64500;
const NODE_AS: u32 = 64512;
/// Between two polls of the router; on 2 cores faster polling slows the
/// daemons under test (shared/LAB.md).
const POLL: Duration = Duration::from_millis(25);

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

#[derive(Parser, Debug)]
#[command(about = "BGP convergence: speakers x routers x route counts")]
struct Args {
    /// Route counts, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    routes: Vec<u32>,
    /// Speakers: ferrolb, gobgp, bird, exabgp, replay.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "ferrolb,gobgp,bird,exabgp,replay"
    )]
    speakers: Vec<SpeakerKind>,
    /// Routers: frr, bird.
    #[arg(long, value_delimiter = ',', default_value = "frr,bird")]
    routers: Vec<RouterKind>,
    /// Runs per cell; the table shows medians.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Longest wait for any one step, in seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SpeakerKind {
    Ferrolb,
    Gobgp,
    Bird,
    Exabgp,
    Replay,
}

impl SpeakerKind {
    fn name(self) -> &'static str {
        match self {
            SpeakerKind::Ferrolb => "FerroLB",
            SpeakerKind::Gobgp => "GoBGP",
            SpeakerKind::Bird => "BIRD",
            SpeakerKind::Exabgp => "ExaBGP",
            SpeakerKind::Replay => "replay limit",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum RouterKind {
    Frr,
    Bird,
}

impl RouterKind {
    fn name(self) -> &'static str {
        match self {
            RouterKind::Frr => "FRR",
            RouterKind::Bird => "BIRD",
        }
    }
}

/// One measurement.
#[derive(Debug, Clone, Default)]
struct Sample {
    /// Speaker told to connect -> router Established.
    established: Option<Duration>,
    /// Established -> all N in the router's BGP RIB.
    rib: Option<Duration>,
    /// Established -> all N in the router's kernel FIB.
    kernel: Option<Duration>,
    /// Speaker peak RSS (VmHWM), kB.
    rss_kb: Option<u64>,
    /// Speaker CPU time (user + system), whole life until measured.
    cpu: Option<Duration>,
    /// UPDATE messages (router's count; the speaker's where the router has
    /// none).
    updates: Option<u64>,
    /// TCP payload bytes the router received on the session.
    bytes: Option<u64>,
    /// GoBGP: loading the routes through its API, before connecting.
    api_load: Option<Duration>,
    /// Anything worth saying (failures).
    note: String,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    // SIGTERM/SIGINT end the run between steps: the lab of the current
    // measurement is torn down and the table so far printed.
    interop_tests::on_signal::stop_gracefully(&INTERRUPTED);
    match run(&args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bgp-convergence: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn interrupted() -> Result<(), LabError> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        Err(LabError::Invalid("interrupted".into()))
    } else {
        Ok(())
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn run(args: &Args) -> interop_tests::Result<()> {
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(PathBuf::from))
        .ok_or_else(|| LabError::Invalid("cannot find our own directory".into()))?;
    let announce = exe_dir.join("bgp-announce");
    if args
        .speakers
        .iter()
        .any(|s| matches!(s, SpeakerKind::Ferrolb | SpeakerKind::Replay))
        && !announce.exists()
    {
        return Err(LabError::Invalid(format!(
            "{} is missing: cargo build --release -p interop-tests --bins",
            announce.display()
        )));
    }
    let started = Instant::now();
    println!(
        "BGP convergence: routes {:?}, speakers {:?}, routers {:?}, {} run(s) each",
        args.routes, args.speakers, args.routers, args.runs
    );
    println!("load average at start: {}", loadavg());
    let timeout = Duration::from_secs(args.timeout);
    let mut table: Vec<(u32, RouterKind, SpeakerKind, Vec<Sample>)> = Vec::new();
    for &n in &args.routes {
        for &router in &args.routers {
            for &speaker in &args.speakers {
                table.push((n, router, speaker, Vec::new()));
            }
        }
    }
    // Runs outermost: load on a shared machine drifts, and every speaker
    // should see the same drift.
    let mut stopped = Ok(());
    'runs: for run in 0..args.runs {
        for (n, router, speaker, samples) in &mut table {
            if let Err(e) = interrupted() {
                stopped = Err(e);
                break 'runs;
            }
            let sample = match measure(*router, *speaker, *n, &announce, timeout) {
                Ok(s) => s,
                Err(e) if INTERRUPTED.load(Ordering::SeqCst) => {
                    stopped = Err(e);
                    break 'runs;
                }
                Err(e) => {
                    let first: String = e
                        .to_string()
                        .lines()
                        .next()
                        .unwrap_or("")
                        .chars()
                        .take(160)
                        .collect();
                    eprintln!("    failed: {e}");
                    Sample {
                        note: format!("failed: {first}"),
                        ..Sample::default()
                    }
                }
            };
            println!(
                "  {} -> {}, N={n}, run {}: {}  [load {}]",
                speaker.name(),
                router.name(),
                run + 1,
                describe(&sample),
                loadavg()
            );
            samples.push(sample);
        }
    }
    println!(
        "\nload average at end: {} (run took {:.0?})\n",
        loadavg(),
        started.elapsed()
    );
    print!("{}", markdown(&table));
    stopped
}

fn ms(d: Option<Duration>) -> String {
    d.map(|d| format!("{}", d.as_millis()))
        .unwrap_or_else(|| "—".into())
}

fn describe(s: &Sample) -> String {
    format!(
        "est {} ms, rib {} ms, kernel {} ms, rss {} kB, cpu {} ms, updates {}, bytes {}, api load {} ms {}",
        ms(s.established),
        ms(s.rib),
        ms(s.kernel),
        s.rss_kb.map_or("—".into(), |v| v.to_string()),
        ms(s.cpu),
        s.updates.map_or("—".into(), |v| v.to_string()),
        s.bytes.map_or("—".into(), |v| v.to_string()),
        ms(s.api_load),
        s.note
    )
}

fn median<T: Copy + Ord>(values: impl Iterator<Item = Option<T>>) -> Option<T> {
    let mut v: Vec<T> = values.flatten().collect();
    if v.is_empty() {
        return None;
    }
    v.sort();
    Some(v[(v.len() - 1) / 2])
}

fn markdown(table: &[(u32, RouterKind, SpeakerKind, Vec<Sample>)]) -> String {
    let med =
        |samples: &[Sample], f: fn(&Sample) -> Option<Duration>| median(samples.iter().map(f));
    let mut out = String::new();
    out.push_str("| N | router | speaker | Established | → RIB | → kernel | RIB vs best other | RIB vs replay | kernel vs replay | peak RSS | CPU | UPDATEs | bytes | runs |\n");
    out.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (n, router, speaker, samples) in table {
        let rib = med(samples, |s| s.rib);
        // The best speaker that is neither FerroLB nor the replay limit.
        let best_other = table
            .iter()
            .filter(|(n2, r2, s2, _)| {
                n2 == n
                    && r2 == router
                    && !matches!(s2, SpeakerKind::Ferrolb | SpeakerKind::Replay)
                    && s2 != speaker
            })
            .filter_map(|(_, _, _, s)| med(s, |x| x.rib))
            .min();
        let replay_samples = table
            .iter()
            .find(|(n2, r2, s2, _)| n2 == n && r2 == router && *s2 == SpeakerKind::Replay)
            .map(|(_, _, _, s)| s.as_slice());
        let replay = replay_samples.and_then(|s| med(s, |x| x.rib));
        let replay_kernel = replay_samples.and_then(|s| med(s, |x| x.kernel));
        let kernel = med(samples, |s| s.kernel);
        let ratio_of = |ours: Option<Duration>, other: Option<Duration>| match (ours, other) {
            (Some(a), Some(b)) if !b.is_zero() => {
                format!("{:.2}", a.as_secs_f64() / b.as_secs_f64())
            }
            _ => "—".into(),
        };
        let ratio = |other: Option<Duration>| ratio_of(rib, other);
        let ok = samples.iter().filter(|s| s.rib.is_some()).count();
        let mut notes: Vec<String> = samples
            .iter()
            .map(|s| s.note.clone())
            .filter(|s| !s.is_empty())
            .collect();
        if let Some(load) = med(samples, |s| s.api_load) {
            notes.insert(0, format!("API load {} ms", load.as_millis()));
        }
        let _ = writeln!(
            out,
            "| {n} | {} | {} | {} ms | {} ms | {} ms | {} | {} | {} | {} | {} ms | {} | {} | {ok}/{}{} |",
            router.name(),
            speaker.name(),
            ms(med(samples, |s| s.established)),
            ms(rib),
            ms(kernel),
            if *speaker == SpeakerKind::Replay {
                "—".into()
            } else {
                ratio(best_other)
            },
            if *speaker == SpeakerKind::Replay {
                "1.00".into()
            } else {
                ratio(replay)
            },
            ratio_of(kernel, replay_kernel),
            median(samples.iter().map(|s| s.rss_kb))
                .map_or("—".into(), |kb| format!("{:.1} MB", kb as f64 / 1024.0)),
            ms(med(samples, |s| s.cpu)),
            median(samples.iter().map(|s| s.updates)).map_or("—".into(), |v| v.to_string()),
            median(samples.iter().map(|s| s.bytes)).map_or("—".into(), |v| v.to_string()),
            samples.len(),
            if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join("; "))
            },
        );
    }
    out
}

/// The router under test.
enum TheRouter {
    Frr(Frr),
    Bird(Bird),
}

impl TheRouter {
    /// Whether the session with `peer` is Established and, where the router
    /// tells the instant with ms precision (BIRD), since when. FRR's
    /// `bgpTimerUpMsec` counts whole seconds, so for FRR the caller takes
    /// the instant from its polls.
    fn established(&self, peer: IpAddr) -> interop_tests::Result<Option<Option<Instant>>> {
        match self {
            TheRouter::Frr(frr) => {
                Ok((frr.session_state(peer)? == Some(SessionState::Established)).then_some(None))
            }
            TheRouter::Bird(bird) => {
                if bird.session_state(peer)? != Some(SessionState::Established) {
                    return Ok(None);
                }
                let Some(name) = bird.protocol(peer) else {
                    return Ok(Some(None));
                };
                let out = bird.birdc(&["show", "protocols", name])?;
                // `peer_x  BGP  ---  up  16:50:01.123  Established`
                let since = out
                    .lines()
                    .find(|l| l.starts_with(name))
                    .and_then(|l| l.split_whitespace().nth(4))
                    .and_then(time_of_day);
                // BIRD's own clock now, so no time zone is involved:
                // `Current server time is 2026-11-22 16:50:02.456`. BIRD
                // answers from its event loop, after whatever it was busy
                // with: its "now" is when the answer comes back.
                let status = bird.birdc(&["show", "status"])?;
                let answered = Instant::now();
                let now = status
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("Current server time is "))
                    .and_then(|t| t.split_whitespace().nth(1))
                    .and_then(time_of_day);
                Ok(Some(match (since, now) {
                    (Some(since), Some(now)) => {
                        let ago = Duration::from_secs_f64((now - since).rem_euclid(86_400.0));
                        answered.checked_sub(ago)
                    }
                    _ => None,
                }))
            }
        }
    }

    fn prefixes(&self, peer: IpAddr) -> interop_tests::Result<u64> {
        match self {
            TheRouter::Frr(frr) => frr.prefixes_received(peer),
            TheRouter::Bird(bird) => bird.prefixes_received(peer),
        }
    }

    /// UPDATE messages received from `peer`, where the router counts them
    /// (FRR does; BIRD does not).
    fn updates(&self, peer: IpAddr) -> Option<u64> {
        match self {
            TheRouter::Frr(frr) => frr.neighbor(peer).ok()?["messageStats"]["updatesRecv"].as_u64(),
            TheRouter::Bird(_) => None,
        }
    }
}

fn midpoint(a: Instant, b: Instant) -> Instant {
    a + b.saturating_duration_since(a) / 2
}

/// `HH:MM:SS.mmm` as seconds since midnight.
fn time_of_day(s: &str) -> Option<f64> {
    let mut parts = s.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let sec: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + sec)
}

/// The speaker under test, kept alive until measured.
struct TheSpeaker {
    /// The process whose RSS and CPU are measured (GoBGP's is in `gobgp`).
    daemon: Option<Arc<Daemon>>,
    /// GoBGP, for its own counters.
    gobgp: Option<Gobgp>,
    /// Where `bgp-announce` prints its final status.
    log: Option<PathBuf>,
}

impl TheSpeaker {
    fn process(&self) -> Option<&Daemon> {
        self.daemon
            .as_deref()
            .or_else(|| self.gobgp.as_ref().map(Gobgp::daemon))
    }
}

fn start_process(
    lab: &Lab,
    node: &Host,
    name: &str,
    program: &str,
    args: Vec<String>,
    output: PathBuf,
) -> interop_tests::Result<Arc<Daemon>> {
    lab.start_daemon(DaemonSpec {
        name: format!("{}/{name}", node.name),
        netns: Some(&node.netns),
        program,
        args,
        output,
        logs: Vec::new(),
        lifetime: lab.lifetime(),
    })
}

fn measure(
    router_kind: RouterKind,
    speaker_kind: SpeakerKind,
    n: u32,
    announce: &std::path::Path,
    timeout: Duration,
) -> interop_tests::Result<Sample> {
    let mut lab = Lab::new("conv")?;
    lab.set_lifetime(timeout * 3 + Duration::from_secs(60));
    let r = lab.add_host("r")?;
    let node = lab.add_host("n")?;
    let mut config = RouterConfig::facing_speakers(ROUTER_AS, &r, &[&node], NODE_AS);
    for neighbor in &mut config.neighbors {
        // FRR always offers RFC 8654; BIRD is told to, so both routers take
        // 64 KiB UPDATEs from the speakers that can send them.
        *neighbor = neighbor.clone().extended_messages();
    }
    let router = match router_kind {
        RouterKind::Frr => TheRouter::Frr(Frr::start(&lab, &r, &config)?),
        RouterKind::Bird => TheRouter::Bird(Bird::start(&lab, &r, &config)?),
    };
    let baseline = kernel::ipv4_prefix_count(&r.netns)?;
    let prefixes: Vec<Ipv4Net> = (0..n)
        .map(|i| Ipv4Net::from(Ipv4Addr::from(0x6440_0000 + i)))
        .collect();
    let mut sample = Sample::default();
    let peer: IpAddr = node.ipv4.into();

    // Start the speaker; `t0` is when it is told to connect.
    let (speaker, t0) = start_speaker(
        &lab,
        speaker_kind,
        &node,
        &r,
        &prefixes,
        announce,
        &mut sample,
    )?;

    // Established: by the router's clock where it has one (BIRD), else
    // between the last poll that did not see it and the first that did.
    let deadline = Instant::now() + timeout;
    let mut last = t0;
    let established = loop {
        interrupted()?;
        let before = Instant::now();
        let state = router.established(peer).unwrap_or(None);
        let at = midpoint(before, Instant::now());
        match state {
            Some(Some(exact)) => break exact.max(t0),
            Some(None) => break midpoint(last, at),
            None => last = at,
        }
        let exited = speaker.process().is_none_or(Daemon::has_exited);
        if Instant::now() > deadline || exited {
            let tail = speaker.process().map(|d| d.log_tail(5)).unwrap_or_default();
            return Err(LabError::Invalid(format!(
                "no session: {}",
                tail.replace('\n', " | ")
            )));
        }
        std::thread::sleep(POLL);
    };
    sample.established = Some(established.saturating_duration_since(t0));

    // Poll the RIB counter and the kernel's prefix count until both hold N.
    // A poll's time is the middle of its query; a count reached N between
    // the last poll short of it and the first at it.
    let want = u64::from(n);
    let deadline = Instant::now() + timeout;
    let (mut rib_seen, mut kernel_seen) = (0, 0);
    let (mut rib_last, mut kernel_last) = (established, established);
    while sample.rib.is_none() || sample.kernel.is_none() {
        interrupted()?;
        if sample.rib.is_none() {
            let before = Instant::now();
            rib_seen = router.prefixes(peer).unwrap_or(rib_seen);
            let at = midpoint(before, Instant::now());
            if rib_seen >= want {
                sample.rib = Some(midpoint(rib_last, at).saturating_duration_since(established));
            }
            rib_last = at;
        }
        if sample.kernel.is_none() {
            let before = Instant::now();
            kernel_seen = kernel::ipv4_prefix_count(&r.netns)?.saturating_sub(baseline);
            let at = midpoint(before, Instant::now());
            if kernel_seen >= want {
                sample.kernel =
                    Some(midpoint(kernel_last, at).saturating_duration_since(established));
            }
            kernel_last = at;
        }
        if Instant::now() > deadline {
            sample.note = format!("timeout: RIB {rib_seen}, kernel {kernel_seen} of {want}");
            break;
        }
        std::thread::sleep(POLL);
    }

    // What the speaker spent, before anything stops it.
    if let Some(pid) = speaker.process().and_then(Daemon::pid) {
        let (rss, cpu) = process_stats(pid.as_raw());
        sample.rss_kb = rss;
        sample.cpu = cpu;
    }
    sample.bytes = bytes_received(&r, peer);
    sample.updates = router.updates(peer);
    if sample.updates.is_none() {
        sample.updates = match (&speaker.gobgp, &speaker.log) {
            (Some(g), _) => g
                .neighbor_json(r.ipv4.into())
                .ok()
                .and_then(|j| j["state"]["messages"]["sent"]["update"].as_u64()),
            (None, Some(log)) => {
                // bgp-announce prints its counters when stopped.
                if let Some(d) = speaker.process() {
                    d.stop(Duration::from_secs(2));
                }
                announced_updates(log)
            }
            _ => None,
        };
    }
    drop(speaker);
    drop(router);
    drop(lab);
    Ok(sample)
}

fn start_speaker(
    lab: &Lab,
    kind: SpeakerKind,
    node: &Host,
    r: &Host,
    prefixes: &[Ipv4Net],
    announce: &std::path::Path,
    sample: &mut Sample,
) -> interop_tests::Result<(TheSpeaker, Instant)> {
    let dir = lab.state_dir(node, "speaker")?;
    let n = prefixes.len();
    let write = |name: &str, text: &str| -> interop_tests::Result<PathBuf> {
        let path = dir.join(name);
        std::fs::write(&path, text)
            .map_err(|e| LabError::Invalid(format!("cannot write {}: {e}", path.display())))?;
        Ok(path)
    };
    let (name, program, args, output, log): (&str, String, Vec<String>, PathBuf, Option<PathBuf>) =
        match kind {
            SpeakerKind::Ferrolb | SpeakerKind::Replay => {
                let mut args = vec![
                    "--peer".to_string(),
                    r.ipv4.to_string(),
                    "--peer-as".into(),
                    ROUTER_AS.to_string(),
                    "--local-as".into(),
                    NODE_AS.to_string(),
                    "--router-id".into(),
                    node.ipv4.to_string(),
                    "--routes".into(),
                    n.to_string(),
                ];
                if kind == SpeakerKind::Replay {
                    args.push("--replay".into());
                }
                let log = dir.join("bgp-announce.log");
                let program = announce.display().to_string();
                ("bgp-announce", program, args, log.clone(), Some(log))
            }
            SpeakerKind::Bird => {
                let mut c = String::new();
                let _ = writeln!(
                    c,
                    "log \"{}\" {{ warning, error, fatal }};",
                    dir.join("bird.log").display()
                );
                let _ = writeln!(c, "router id {};", node.ipv4);
                c.push_str("protocol device {}\nprotocol static bench {\n  ipv4;\n");
                for p in prefixes {
                    let _ = writeln!(c, "  route {p} blackhole;");
                }
                c.push_str("}\n");
                let _ = writeln!(
                    c,
                    "protocol bgp uplink {{\n  local {} as {NODE_AS};\n  neighbor {} as {ROUTER_AS};\n  connect delay time 1; connect retry time 1; error wait time 1,5;\n  enable extended messages on;\n  ipv4 {{ import none; export all; }};\n}}",
                    node.ipv4, r.ipv4
                );
                let conf = write("bird.conf", &c)?;
                let args = [
                    "-f".to_string(),
                    "-c".into(),
                    conf.display().to_string(),
                    "-s".into(),
                    dir.join("bird.ctl").display().to_string(),
                    "-P".into(),
                    dir.join("bird.pid").display().to_string(),
                ]
                .to_vec();
                ("bird", "bird".into(), args, dir.join("bird.out"), None)
            }
            SpeakerKind::Exabgp => {
                let mut c = String::new();
                let _ = writeln!(
                    c,
                    "neighbor {} {{\n  router-id {};\n  local-address {};\n  local-as {NODE_AS};\n  peer-as {ROUTER_AS};\n  static {{",
                    r.ipv4, node.ipv4, node.ipv4
                );
                for p in prefixes {
                    let _ = writeln!(c, "    route {p} next-hop {};", node.ipv4);
                }
                c.push_str("  }\n}\n");
                let conf = write("exabgp.conf", &c)?;
                // `env` execs exabgp, so the daemon's PID is exabgp's.
                let args = [
                    "exabgp.daemon.daemonize=false",
                    "exabgp.daemon.drop=false",
                    "exabgp.daemon.user=root",
                    "exabgp.api.cli=false",
                    "exabgp.log.level=WARNING",
                    "exabgp.log.destination=stdout",
                    "exabgp",
                ]
                .iter()
                .map(|s| s.to_string())
                .chain([conf.display().to_string()])
                .collect();
                ("exabgp", "env".into(), args, dir.join("exabgp.out"), None)
            }
            SpeakerKind::Gobgp => {
                // Loaded first through the API, then connected: the session
                // starts with the whole table ready, as for the other speakers.
                let gobgp = Gobgp::start(lab, node, &RouterConfig::new(NODE_AS, node.ipv4))?;
                let loading = Instant::now();
                gobgp.announce_ipv4_bulk(prefixes, node.ipv4)?;
                let loaded = gobgp.global_ipv4_destinations()?;
                if loaded != n as u64 {
                    return Err(LabError::Invalid(format!(
                        "gobgp holds {loaded} of {n} routes after AddPathStream"
                    )));
                }
                sample.api_load = Some(loading.elapsed());
                let t0 = Instant::now();
                gobgp.add_neighbor(r.ipv4.into(), ROUTER_AS)?;
                let speaker = TheSpeaker {
                    daemon: None,
                    gobgp: Some(gobgp),
                    log: None,
                };
                return Ok((speaker, t0));
            }
        };
    let t0 = Instant::now();
    let daemon = start_process(lab, node, name, &program, args, output)?;
    let speaker = TheSpeaker {
        daemon: Some(daemon),
        gobgp: None,
        log,
    };
    Ok((speaker, t0))
}

/// Peak RSS (kB) and CPU time (user + system) of a process, from /proc.
/// CPU is the larger of `stat`'s utime + stime (every thread, dead ones too,
/// in 10 ms ticks) and the sum of the live threads' `schedstat` run time
/// (nanoseconds), so short runs are not rounded to zero.
fn process_stats(pid: i32) -> (Option<u64>, Option<Duration>) {
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        });
    let ticks = interop_tests::procfs::cpu_time(nix::unistd::Pid::from_raw(pid)).ok();
    let sched: Option<Duration> =
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .ok()
            .map(|tasks| {
                tasks
                    .flatten()
                    .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
                    .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
                    .map(Duration::from_nanos)
                    .sum()
            });
    let cpu = match (ticks, sched) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    (rss, cpu)
}

/// TCP payload bytes the router received from `peer` on port 179
/// (`ss -tin`'s `bytes_received`).
fn bytes_received(router: &Host, peer: IpAddr) -> Option<u64> {
    let out = router
        .netns
        .exec("ss", ["-tinH", "state", "established"])
        .ok()?;
    let mut lines = out.lines();
    let mut total = None;
    while let Some(line) = lines.next() {
        let is_session = line.contains(&format!("{peer}:")) && line.contains(":179");
        let info = lines.next().unwrap_or("");
        if is_session {
            total = info
                .split_whitespace()
                .find_map(|w| w.strip_prefix("bytes_received:"))
                .and_then(|v| v.parse().ok());
        }
    }
    total
}

/// `updates_sent: N` from bgp-announce's final status line, or the number
/// of UPDATEs the replay wrote.
fn announced_updates(log: &std::path::Path) -> Option<u64> {
    let text = std::fs::read_to_string(log).ok()?;
    for key in ["updates_sent: ", "replayed_updates: "] {
        if let Some(v) = text
            .split(key)
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|v| v.parse().ok())
        {
            return Some(v);
        }
    }
    None
}
