//! The BFD detection benchmark (issue 14, `make bench-bfd`): `ferrolb run`
//! on a lab node peers with FRR (bgpd + bfdd) and BIRD; the node's switch
//! port stops forwarding (a silent link cut: no carrier loss on either
//! side), and a netlink route monitor in each router's namespace says when
//! its kernel stopped routing the service via the node. Per detection mode
//! (BFD 50 ms × 3, BFD 300 ms × 3, the BGP hold timer alone at its 3 s
//! minimum), p50/p99/max over `--runs` cuts, each router asking for the
//! same BFD timers as the node.
//!
//! Each run then cuts two reference nodes in the same lab: an FRR node
//! (bgpd + bfdd) peering with the FRR router and a BIRD node peering with
//! the BIRD router, same timers, each originating a prefix of its own. The
//! router's own implementation as the speaker is the floor FerroLB is
//! reported against, as ratios.
//!
//! Then the CPU cost of 100 BFD sessions at 50 ms × 3: FerroLB's BFD
//! shell (in this process, on one runtime thread in the node's namespace)
//! against 100 sessions of FRR's bfdd, both sides measured over the same
//! window, as CPU time per wall-clock second.
//!
//! Each cut is also split along the routers' own paths, from their
//! daemons' debug logs: when the router's BFD declared the session Down
//! and, for FRR, when bgpd sent zebra the withdrawal and zebra sent the
//! kernel its RTM_DELROUTE.
//!
//! The `ferrolb` binary comes from FERROLB_BIN or next to this one: build
//! it with the same profile. Method and figures: docs/benchmarks.md.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use clap::Parser;
use ferrolb_bfd::fsm::{SessionConfig, Timers};
use ferrolb_bfd::shell::{Bfd, SessionKey, SessionSpec};
use ferrolb_bfd::wire::SessionState;
use interop_tests::ferrolb::FerroLb;
use interop_tests::kernel::{self, RouteMonitor};
use interop_tests::l2::report::{loadavg, machine, percentile};
use interop_tests::l2::{Jitter, check_interrupted, stop_on_signals};
use interop_tests::{Bird, Frr, Host, Lab, LabError, Neighbor, Probe, RouterConfig};
use ipnet::IpNet;

const NODE_AS: u32 = 64512;
const FRR_AS: u32 = 64500;
const BIRD_AS: u32 = 64501;
/// The service FerroLB's node announces.
const SERVICE: &str = "198.51.100.10/32";
/// What the reference nodes originate: the FRR node towards the FRR
/// router, the BIRD node towards the BIRD router.
const REF_FRR: &str = "198.51.100.20/32";
const REF_BIRD: &str = "198.51.100.30/32";
/// Longest wait for a session, a route or a recovery.
const CONVERGE: Duration = Duration::from_secs(60);

#[derive(Parser, Debug)]
#[command(about = "BFD detection: link cut -> route gone from FRR's and BIRD's kernels")]
struct Args {
    /// Link cuts per detection mode.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Detection modes: bfd-50ms, bfd-300ms, hold-3s.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "bfd-50ms,bfd-300ms,hold-3s"
    )]
    mode: Vec<Mode>,
    /// BFD sessions of the CPU measurement (0: skip it).
    #[arg(long, default_value_t = 100)]
    sessions: u32,
    /// Length of the CPU measurement window, in seconds.
    #[arg(long, default_value_t = 20)]
    cpu_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    #[value(name = "bfd-50ms")]
    Bfd50ms,
    #[value(name = "bfd-300ms")]
    Bfd300ms,
    #[value(name = "hold-3s")]
    Hold3s,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Bfd50ms => "BFD 50 ms × 3",
            Mode::Bfd300ms => "BFD 300 ms × 3",
            Mode::Hold3s => "hold timer 3 s",
        }
    }

    /// The BFD interval, none for the hold timer alone.
    fn bfd_ms(self) -> Option<u32> {
        match self {
            Mode::Bfd50ms => Some(50),
            Mode::Bfd300ms => Some(300),
            Mode::Hold3s => None,
        }
    }

    /// The target for p99: 3 × interval + 50 ms; the hold timer
    /// alone has none.
    fn target(self) -> Option<Duration> {
        self.bfd_ms()
            .map(|ms| Duration::from_millis(3 * u64::from(ms) + 50))
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bfd-detection: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> interop_tests::Result<()> {
    stop_on_signals()?;
    println!("BFD detection: {} cut(s) per mode", args.runs);
    println!("machine: {}", machine());
    let started = Instant::now();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let mut jitter = Jitter::new(seed);
    let mut rows = Vec::new();
    for &mode in &args.mode {
        let t = Instant::now();
        match measure_mode(mode, args.runs, &mut jitter) {
            Ok(cell) => {
                for row in cell {
                    eprintln!("{} ({:.0} s)", row.render(), t.elapsed().as_secs_f64());
                    rows.push(row);
                }
            }
            Err(e) => {
                eprintln!("bfd-detection: {}: {e}", mode.name());
                check_interrupted()?;
            }
        }
    }
    println!(
        "\n| detection | speaker | router | runs | p50 | p99 | max | target p99 |\n|---|---|---|---|---|---|---|---|"
    );
    for row in &rows {
        println!("{}", row.render());
    }
    println!("\n{STAGES_HEADER}");
    for row in &rows {
        println!("{}", row.render_stages());
    }
    println!("\n{RATIOS_HEADER}");
    for ours in rows.iter().filter(|r| r.speaker == "FerroLB") {
        if let Some(floor) = rows
            .iter()
            .find(|r| r.mode == ours.mode && r.speaker == r.router && r.router == ours.router)
        {
            println!("{}", render_ratios(ours, floor));
        }
    }
    if args.sessions > 0 {
        match measure_cpu(args.sessions, Duration::from_secs(args.cpu_seconds)) {
            Ok(cpu) => println!("\n{cpu}"),
            Err(e) => eprintln!("bfd-detection: CPU: {e}"),
        }
    }
    println!(
        "took {:.0} s; load average at the end: {}",
        started.elapsed().as_secs_f64(),
        loadavg()
    );
    Ok(())
}

/// The cuts of one mode, per speaker and router.
struct Row {
    mode: Mode,
    /// The node's BGP + BFD: FerroLB, or the router's own implementation
    /// as the reference.
    speaker: &'static str,
    router: &'static str,
    /// Cut to route gone; `None`: not gone within [`CONVERGE`].
    times: Vec<Option<Duration>>,
    /// The router's path, run by run.
    stages: Vec<Stages>,
}

/// The split of the router's path: BFD Down, then Down to route gone,
/// and FRR's hops in between (p50s).
const STAGES_HEADER: &str = "| detection | speaker | router | cut → BFD Down p50 | p99 | max | BFD Down → route gone p50 | p99 | FRR: bfdd Down → bgpd withdraws p50 | bgpd → zebra's RTM_DELROUTE p50 |\n|---|---|---|---|---|---|---|---|---|---|";

/// FerroLB against the router's own implementation as the node, same mode,
/// same router, same lab.
const RATIOS_HEADER: &str = "| detection | router | route gone p50: FerroLB / reference | p99 | cut → BFD Down p50: FerroLB / reference | p99 |\n|---|---|---|---|---|---|";

/// `ours` / `floor` at quantile `p`, with both values.
fn ratio(ours: &[Option<Duration>], floor: &[Option<Duration>], p: f64) -> String {
    match (percentile(ours, p), percentile(floor, p)) {
        (Some(Some(a)), Some(Some(b))) if !b.is_zero() => format!(
            "{:.2} ({} / {})",
            a.as_secs_f64() / b.as_secs_f64(),
            ms(Some(Some(a))),
            ms(Some(Some(b)))
        ),
        (a, b) => format!("— ({} / {})", ms(a), ms(b)),
    }
}

fn render_ratios(ours: &Row, floor: &Row) -> String {
    let down = |r: &Row| r.stages.iter().map(|s| s.bfd_down).collect::<Vec<_>>();
    let detection = if ours.mode.bfd_ms().is_some() {
        let (a, b) = (down(ours), down(floor));
        format!("{} | {}", ratio(&a, &b, 0.5), ratio(&a, &b, 0.99))
    } else {
        "— | —".to_string()
    };
    format!(
        "| {} | {} | {} | {} | {detection} |",
        ours.mode.name(),
        ours.router,
        ratio(&ours.times, &floor.times, 0.5),
        ratio(&ours.times, &floor.times, 0.99),
    )
}

fn ms(d: Option<Option<Duration>>) -> String {
    match d {
        None => "—".to_string(),
        Some(None) => "never".to_string(),
        Some(Some(d)) => format!("{:.0} ms", d.as_secs_f64() * 1e3),
    }
}

impl Row {
    fn render(&self) -> String {
        let max = self
            .times
            .iter()
            .copied()
            .max_by_key(|t| t.unwrap_or(Duration::MAX));
        format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            self.mode.name(),
            self.speaker,
            self.router,
            self.times.len(),
            ms(percentile(&self.times, 0.5)),
            ms(percentile(&self.times, 0.99)),
            ms(max),
            self.mode
                .target()
                .map_or("—".to_string(), |t| format!("< {} ms", t.as_millis())),
        )
    }

    fn render_stages(&self) -> String {
        if self.mode.bfd_ms().is_none() {
            // No BFD, so no split to make: the hold timer ends the session.
            return format!(
                "| {} | {} | {} | — | — | — | — | — | — | — |",
                self.mode.name(),
                self.speaker,
                self.router
            );
        }
        let down: Vec<_> = self.stages.iter().map(|s| s.bfd_down).collect();
        let down_to_gone: Vec<_> = self
            .stages
            .iter()
            .zip(&self.times)
            .map(|(s, gone)| gone.as_ref()?.checked_sub(s.bfd_down?))
            .collect();
        let hop = |from: fn(&Stages) -> Option<Duration>, to: fn(&Stages) -> Option<Duration>| {
            let hops: Vec<_> = self
                .stages
                .iter()
                .map(|s| to(s)?.checked_sub(from(s)?))
                .collect();
            if hops.iter().all(Option::is_none) {
                "—".to_string()
            } else {
                ms(percentile(&hops, 0.5))
            }
        };
        format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            self.mode.name(),
            self.speaker,
            self.router,
            ms(percentile(&down, 0.5)),
            ms(percentile(&down, 0.99)),
            ms(down
                .iter()
                .copied()
                .max_by_key(|t| t.unwrap_or(Duration::MAX))),
            ms(percentile(&down_to_gone, 0.5)),
            ms(percentile(&down_to_gone, 0.99)),
            hop(|s| s.bfd_down, |s| s.withdraw),
            hop(|s| s.withdraw, |s| s.delroute),
        )
    }
}

/// One cut along a router's path, each from the cut, read from the
/// daemons' debug logs (wall clock).
#[derive(Debug, Default, Clone, Copy)]
struct Stages {
    /// The router's BFD declared the session Down (FRR's bfdd, BIRD's bfd
    /// protocol).
    bfd_down: Option<Duration>,
    /// FRR: bgpd sent zebra the service's withdrawal (`Tx route delete`).
    withdraw: Option<Duration>,
    /// FRR: zebra sent the kernel the service's RTM_DELROUTE.
    delroute: Option<Duration>,
}

/// The wall-clock time a log line starts with, local time: FRR's
/// `2026/12/05 13:05:01.241388` (with `log timestamp precision 6`) or
/// BIRD's `2026-12-05 13:05:01.241`.
fn log_time(line: &str) -> Option<SystemTime> {
    let mut fields = line.split_whitespace();
    let (date, time) = (fields.next()?, fields.next()?);
    let ints = |s: &str, sep: &[char]| -> Option<Vec<i32>> {
        s.split(sep).map(|x| x.parse().ok()).collect()
    };
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let (d, t) = (ints(date, &['/', '-'])?, ints(hms, &[':'])?);
    if d.len() != 3 || t.len() != 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let micros: u64 = format!("{frac:0<6}").get(..6)?.parse().ok()?;
    // SAFETY: an all-zero `tm` is a valid value; mktime only reads and
    // normalises the struct it is given.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    (tm.tm_year, tm.tm_mon, tm.tm_mday) = (d[0] - 1900, d[1] - 1, d[2]);
    (tm.tm_hour, tm.tm_min, tm.tm_sec) = (t[0], t[1], t[2]);
    // The daemons log in local time, summer time or not.
    tm.tm_isdst = -1;
    // SAFETY: `tm` is a valid, exclusively borrowed struct.
    let secs = u64::try_from(unsafe { libc::mktime(&mut tm) }).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros))
}

/// The first line of the log at `path` that `matches` and was logged at or
/// after `cut`, as a time since `cut`. BIRD's stamps have ms precision, so
/// a line logged within 1 ms after the cut may carry an earlier stamp: it
/// counts as 0.
fn logged_after(
    path: Option<&std::path::PathBuf>,
    cut: SystemTime,
    matches: impl Fn(&str) -> bool,
) -> Option<Duration> {
    let text = std::fs::read_to_string(path?).ok()?;
    let from = cut.checked_sub(Duration::from_millis(1))?;
    text.lines()
        .filter(|l| matches(l))
        .filter_map(log_time)
        .find(|t| *t >= from)
        .map(|t| t.duration_since(cut).unwrap_or_default())
}

/// FRR's path after a cut of `node` at `cut`, from bfdd's, bgpd's and
/// zebra's logs, up to `prefix`'s RTM_DELROUTE.
fn frr_stages(frr: &Frr, node: IpAddr, prefix: IpNet, cut: SystemTime) -> Stages {
    let log = |i: usize| frr.daemons().get(i).and_then(|d| d.logs().last().cloned());
    let peer = format!("peer:{node} ");
    let service = format!(" {prefix}");
    Stages {
        bfd_down: logged_after(log(2).as_ref(), cut, |l| {
            l.contains("state-change:") && l.contains(&peer) && l.contains("up -> down")
        }),
        withdraw: logged_after(log(1).as_ref(), cut, |l| {
            l.contains("Tx route delete") && l.ends_with(&service)
        }),
        delroute: logged_after(log(0).as_ref(), cut, |l| {
            l.contains("RTM_DELROUTE") && l.contains(&service)
        }),
    }
}

/// BIRD's BFD Down after a cut at `cut`, from its log.
fn bird_stages(bird: &Bird, node: IpAddr, cut: SystemTime) -> Stages {
    let pattern = format!("Session to {node} changed state from Up to Down");
    Stages {
        bfd_down: logged_after(bird.daemon().logs().last(), cut, |l| l.contains(&pattern)),
        ..Stages::default()
    }
}

fn write(dir: &Path, file: &str, text: &str) -> interop_tests::Result<()> {
    let tmp = dir.join(format!(".{file}.tmp"));
    std::fs::write(&tmp, text).map_err(|e| LabError::io(format!("cannot write {file}"), e))?;
    std::fs::rename(&tmp, dir.join(file))
        .map_err(|e| LabError::io(format!("cannot rename {file}"), e))
}

/// The speaker's configuration: two BGPPeers with the mode's BFD profile
/// (hold time 90 s, so only BFD detects), or none and a 3 s hold time.
fn speaker_config(mode: Mode, frr: &Host, bird: &Host) -> String {
    let (profile, peer_extra) = match mode.bfd_ms() {
        Some(ms) => (
            format!(
                "---\napiVersion: metallb.io/v1beta1\nkind: BFDProfile\nmetadata: {{name: bench, namespace: metallb-system}}\nspec: {{receiveInterval: {ms}, transmitInterval: {ms}, detectMultiplier: 3}}\n"
            ),
            "holdTime: 90s, bfdProfile: bench",
        ),
        None => (String::new(), "holdTime: 3s"),
    };
    let peer = |name: &str, asn: u32, addr: Ipv4Addr| {
        format!(
            "---\napiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {{name: {name}, namespace: metallb-system}}\nspec: {{myASN: {NODE_AS}, peerASN: {asn}, peerAddress: \"{addr}\", {peer_extra}}}\n"
        )
    };
    format!(
        "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {{name: pool, namespace: metallb-system}}\nspec: {{addresses: [198.51.100.10-198.51.100.19]}}\n---\napiVersion: metallb.io/v1beta1\nkind: BGPAdvertisement\nmetadata: {{name: adv, namespace: metallb-system}}\nspec: {{ipAddressPools: [pool]}}\n{profile}{}{}",
        peer("frr", FRR_AS, frr.ipv4),
        peer("bird", BIRD_AS, bird.ipv4),
    )
}

const SERVICES: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default, annotations: {metallb.io/loadBalancerIPs: 198.51.100.10}}\nspec: {type: LoadBalancer, ports: [{port: 80}]}\n";

/// A router facing the FerroLB node and the reference node, with BFD at
/// the mode's timers when it has them.
fn router(asn: u32, me: &Host, nodes: [&Host; 2], mode: Mode) -> RouterConfig {
    nodes
        .iter()
        .fold(RouterConfig::new(asn, me.ipv4), |c, node| {
            let neighbor = Neighbor::new(node.ipv4.into(), NODE_AS).no_export();
            match mode.bfd_ms() {
                Some(ms) => c.neighbor(neighbor.bfd()).bfd_interval(ms),
                None => c.neighbor(neighbor),
            }
        })
}

/// The reference node: the router's own implementation as the speaker,
/// originating `prefix` towards `router` with the timers FerroLB's node
/// uses in this mode (BFD at the mode's interval × 3 and a 90 s hold
/// time, or the 3 s hold time alone).
fn reference(me: &Host, router: &Host, router_as: u32, prefix: IpNet, mode: Mode) -> RouterConfig {
    let neighbor = Neighbor::new(router.ipv4.into(), router_as);
    let config = RouterConfig::new(NODE_AS, me.ipv4).originate(prefix);
    match mode.bfd_ms() {
        Some(ms) => config
            .neighbor(neighbor.bfd().timers(30, 90))
            .bfd_interval(ms),
        None => config.neighbor(neighbor.timers(1, 3)),
    }
}

/// Whether FRR's BFD sessions with every one of `nodes` are Up.
fn frr_bfd_up(frr: &Frr, nodes: &[IpAddr]) -> interop_tests::Result<bool> {
    let peers: Vec<serde_json::Value> =
        serde_json::from_str(&frr.vtysh("show bfd peers json")?).unwrap_or_default();
    Ok(nodes.iter().all(|node| {
        peers
            .iter()
            .any(|p| p["peer"].as_str() == Some(&node.to_string()) && p["status"] == "up")
    }))
}

/// Whether BIRD's BFD sessions with every one of `nodes` are Up.
fn bird_bfd_up(bird: &Bird, nodes: &[IpAddr]) -> interop_tests::Result<bool> {
    let sessions = bird.birdc(&["show", "bfd", "sessions"])?;
    Ok(nodes.iter().all(|node| {
        sessions
            .lines()
            .any(|l| l.split_whitespace().next() == Some(&node.to_string()) && l.contains("Up"))
    }))
}

/// One router's view of a cut: the prefix it must stop routing, watched by
/// the monitor in its namespace, and the row the result goes to.
struct Watch<'a> {
    monitor: &'a RouteMonitor,
    prefix: IpNet,
    row: usize,
}

/// Cuts `hosts`' switch ports and waits until every watched router has
/// removed its prefix; mends the ports. The times are from each host's own
/// cut (the port is blocked once its command returns; that latency is not
/// counted), per watch, with the wall-clock times of the cuts for the logs.
fn cut_and_wait(
    lab: &Lab,
    what: &str,
    cuts: &[(&Host, &[Watch<'_>])],
) -> interop_tests::Result<Vec<(usize, Option<Duration>, SystemTime)>> {
    let before: Vec<Vec<u32>> = cuts
        .iter()
        .map(|(_, w)| {
            w.iter()
                .map(|w| w.monitor.events(w.prefix).removals)
                .collect()
        })
        .collect();
    let mut clocks = Vec::new();
    for (host, _) in cuts {
        lab.cut(host)?;
        clocks.push((Instant::now(), SystemTime::now()));
    }
    // Only a removal after the cut counts: one between the count above
    // and the cut (another cause) would read as a 0 ms detection.
    let removed = |i: usize, j: usize, w: &Watch| {
        let e = w.monitor.events(w.prefix);
        (e.removals > before[i][j])
            .then_some(e.removed?.checked_duration_since(clocks[i].0))
            .flatten()
    };
    let gone = lab.wait_for(what, CONVERGE, || {
        let all = cuts.iter().enumerate().all(|(i, (_, watches))| {
            watches
                .iter()
                .enumerate()
                .all(|(j, w)| removed(i, j, w).is_some())
        });
        Ok(if all {
            Probe::Done(())
        } else {
            Probe::Pending("a router still routes a cut node's prefix".into())
        })
    });
    for (host, _) in cuts {
        lab.mend(host)?;
    }
    if let Err(e) = gone {
        eprintln!("  {e}");
    }
    let mut times = Vec::new();
    for (i, (_, watches)) in cuts.iter().enumerate() {
        for (j, w) in watches.iter().enumerate() {
            times.push((w.row, removed(i, j, w), clocks[i].1));
        }
    }
    Ok(times)
}

/// One mode in a fresh lab, `runs` times: cut FerroLB's node, measure,
/// mend; then cut the two reference nodes (an FRR node peering with the
/// FRR router, a BIRD node with the BIRD router), measure, mend.
fn measure_mode(mode: Mode, runs: usize, jitter: &mut Jitter) -> interop_tests::Result<[Row; 4]> {
    let mut lab = Lab::new("bfdbench")?;
    lab.set_lifetime(Duration::from_secs(3600));
    let r1 = lab.add_host("r1")?;
    let r2 = lab.add_host("r2")?;
    let n1 = lab.add_host_at("n1", 11)?;
    let f1 = lab.add_host_at("f1", 12)?;
    let b1 = lab.add_host_at("b1", 13)?;
    let service: IpNet = SERVICE.parse().expect("prefix literal");
    let ref_frr: IpNet = REF_FRR.parse().expect("prefix literal");
    let ref_bird: IpNet = REF_BIRD.parse().expect("prefix literal");
    let frr = Frr::start(&lab, &r1, &router(FRR_AS, &r1, [&n1, &f1], mode))?;
    let bird = Bird::start(&lab, &r2, &router(BIRD_AS, &r2, [&n1, &b1], mode))?;
    let _frr_node = Frr::start(&lab, &f1, &reference(&f1, &r1, FRR_AS, ref_frr, mode))?;
    let _bird_node = Bird::start(&lab, &b1, &reference(&b1, &r2, BIRD_AS, ref_bird, mode))?;
    // The logs that split each router's path (Stages): state changes and
    // route messages only, nothing per packet.
    frr.configure(&[
        "log timestamp precision 6",
        "debug bfd peer",
        "debug bgp neighbor-events",
        "debug bgp zebra",
        "debug zebra rib",
        "debug zebra kernel",
    ])?;
    bird.birdc(&["debug", "all", "{", "states,", "events", "}"])?;
    let monitors = [
        RouteMonitor::start(&r1.netns)?,
        RouteMonitor::start(&r2.netns)?,
    ];
    let dir = lab.dir().join("ferrolb-config");
    std::fs::create_dir_all(&dir).map_err(|e| LabError::io("cannot create the config dir", e))?;
    write(&dir, "config.yaml", &speaker_config(mode, &r1, &r2))?;
    write(&dir, "services.yaml", SERVICES)?;
    let _speaker = FerroLb::start(&lab, &n1, &dir)?;
    let (node, frr_node, bird_node): (IpAddr, IpAddr, IpAddr) =
        (n1.ipv4.into(), f1.ipv4.into(), b1.ipv4.into());
    let mut rows = [
        ("FerroLB", "FRR"),
        ("FerroLB", "BIRD"),
        ("FRR", "FRR"),
        ("BIRD", "BIRD"),
    ]
    .map(|(speaker, router)| Row {
        mode,
        speaker,
        router,
        times: Vec::new(),
        stages: Vec::new(),
    });
    // Routed by both routers, and (with BFD) every BFD session Up.
    let ready = |what: &str| {
        lab.wait_for(what, CONVERGE, || {
            let routed = [
                (&r1, service),
                (&r1, ref_frr),
                (&r2, service),
                (&r2, ref_bird),
            ]
            .iter()
            .map(|(h, p)| kernel::route(&h.netns, *p).map(|r| r.is_some()))
            .collect::<interop_tests::Result<Vec<bool>>>()?;
            let bfd = mode.bfd_ms().is_none()
                || (frr_bfd_up(&frr, &[node, frr_node])?
                    && bird_bfd_up(&bird, &[node, bird_node])?);
            Ok(if routed.iter().all(|r| *r) && bfd {
                Probe::Done(())
            } else {
                Probe::Pending(format!("routed {routed:?}, BFD up {bfd}"))
            })
        })
    };
    for run in 0..runs {
        ready(&format!("run {run}: routed and detecting"))?;
        check_interrupted()?;
        if run == 0 && mode.bfd_ms().is_some() {
            let peers = frr.vtysh("show bfd peers json")?;
            let peers: Vec<serde_json::Value> = serde_json::from_str(&peers).unwrap_or_default();
            for p in peers {
                eprintln!(
                    "  FRR's session with {}: receive {} ms, transmit {} ms, the peer's {} ms × {}",
                    p["peer"],
                    p["receive-interval"],
                    p["transmit-interval"],
                    p["remote-transmit-interval"],
                    p["remote-detect-multiplier"]
                );
            }
        }
        // A random phase against the keepalive and BFD schedules.
        std::thread::sleep(Duration::from_millis(500) + jitter.within(Duration::from_secs(1)));
        let at = |monitor, prefix, row| Watch {
            monitor,
            prefix,
            row,
        };
        let ferrolb = cut_and_wait(
            &lab,
            &format!("run {run}: FerroLB's route gone"),
            &[(
                &n1,
                &[at(&monitors[0], service, 0), at(&monitors[1], service, 1)],
            )],
        )?;
        ready(&format!("run {run}: routed and detecting again"))?;
        check_interrupted()?;
        std::thread::sleep(Duration::from_millis(500) + jitter.within(Duration::from_secs(1)));
        // The two reference nodes face different routers: one cut each,
        // together, neither router sees the other's.
        let references = cut_and_wait(
            &lab,
            &format!("run {run}: the reference nodes' routes gone"),
            &[
                (&f1, &[at(&monitors[0], ref_frr, 2)]),
                (&b1, &[at(&monitors[1], ref_bird, 3)]),
            ],
        )?;
        for (row, time, cut) in ferrolb.into_iter().chain(references) {
            let stages = match row {
                0 => frr_stages(&frr, node, service, cut),
                1 => bird_stages(&bird, node, cut),
                2 => frr_stages(&frr, frr_node, ref_frr, cut),
                _ => bird_stages(&bird, bird_node, cut),
            };
            rows[row].times.push(time);
            rows[row].stages.push(stages);
        }
        let last = |r: &Row| {
            format!(
                "{} via {} {:?} (BFD Down {:?})",
                r.speaker,
                r.router,
                r.times.last().copied().flatten(),
                r.stages.last().and_then(|s| s.bfd_down)
            )
        };
        eprintln!(
            "  {} run {run}: {}",
            mode.name(),
            rows.iter().map(last).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(rows)
}

/// CPU time (user + system) of process `pid` so far, from /proc.
fn cpu_time(pid: &str) -> interop_tests::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| LabError::io(format!("cannot read /proc/{pid}/stat"), e))?;
    // Fields after the command name, which may hold spaces: utime and
    // stime are fields 14 and 15 of stat(5), 12 and 13 after ") ".
    let rest = stat
        .rsplit_once(") ")
        .map(|(_, r)| r)
        .ok_or_else(|| LabError::Invalid(format!("odd /proc/{pid}/stat: {stat}")))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> interop_tests::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| LabError::Invalid(format!("odd /proc/{pid}/stat: {stat}")))
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let total = ticks(11)? + ticks(12)?;
    Ok(Duration::from_millis(total * 1000 / hz))
}

/// `count` sessions at 50 ms × 3 between FerroLB's shell on n1 and FRR's
/// bfdd on r1.
fn measure_cpu(count: u32, window: Duration) -> interop_tests::Result<String> {
    if count > 250 {
        return Err(LabError::Invalid(format!(
            "at most 250 sessions (one address of 10.78.0.0/24 each), not {count}"
        )));
    }
    let mut lab = Lab::new("bfdcpu")?;
    lab.set_lifetime(Duration::from_secs(1800));
    let r1 = lab.add_host("r1")?;
    let n1 = lab.add_host_at("n1", 11)?;
    // One address pair per session: bfdd 8.4 keys a single-hop session on
    // an interface by its peer's address alone, so that sessions from one
    // address of ours to many of its addresses are all one session there.
    let pairs: Vec<(Ipv4Addr, Ipv4Addr)> = (1..=count)
        .map(|i| {
            (
                Ipv4Addr::new(10, 78, 1, i as u8),
                Ipv4Addr::new(10, 78, 0, i as u8),
            )
        })
        .collect();
    for (ours, theirs) in &pairs {
        n1.netns
            .ip(["addr", "add", &format!("{ours}/16"), "dev", "eth0"])?;
        r1.netns
            .ip(["addr", "add", &format!("{theirs}/16"), "dev", "eth0"])?;
    }
    let frr = Frr::start(&lab, &r1, &RouterConfig::new(FRR_AS, r1.ipv4))?;
    let mut lines = Vec::new();
    for (ours, theirs) in &pairs {
        lines.extend([
            "bfd".to_string(),
            format!("peer {ours} local-address {theirs} interface eth0"),
            "receive-interval 50".into(),
            "transmit-interval 50".into(),
            "detect-multiplier 3".into(),
            "exit".into(),
            "exit".into(),
        ]);
    }
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    frr.configure(&refs)?;
    let bfdd_pid = frr.daemons()[2]
        .pid()
        .ok_or_else(|| LabError::Invalid("bfdd has no pid".into()))?
        .to_string();

    let runtime = n1.netns.runtime(1)?;
    let bfd = runtime.block_on(async { Bfd::spawn() });
    let mut handles = Vec::new();
    for (ours, theirs) in &pairs {
        let spec = SessionSpec {
            key: SessionKey {
                peer: (*theirs).into(),
                multihop: false,
                device: None,
            },
            local: Some((*ours).into()),
            config: SessionConfig {
                timers: Timers::new(Duration::from_millis(50), Duration::from_millis(50), 3),
                passive: false,
            },
            minimum_ttl: 255,
        };
        let handle = runtime
            .block_on(bfd.add(spec))
            .map_err(|e| LabError::Invalid(format!("session with {theirs}: {e}")))?;
        handles.push(handle);
    }
    let all_up = || {
        handles
            .iter()
            .filter(|h| h.status.borrow().state == SessionState::Up)
            .count()
    };
    let waited = lab.wait_for("every session Up", CONVERGE, || {
        let up = all_up();
        Ok(if up == handles.len() {
            Probe::Done(())
        } else {
            Probe::Pending(format!("{up} of {} Up", handles.len()))
        })
    });
    if waited.is_err() {
        // Both sides' view, to tell whose sessions are stuck.
        eprintln!("FRR:\n{}", frr.vtysh("show bfd peers brief")?);
        for (h, (ours, theirs)) in handles.iter().zip(&pairs).take(5) {
            eprintln!("ours {ours} -> {theirs}: {:?}", h.status.borrow());
        }
    }
    waited?;
    // Settle (the slow rate of sessions not yet Up is over), then measure.
    std::thread::sleep(Duration::from_secs(2));
    let me = std::process::id().to_string();
    // Sessions that fall send at 1 s until Up again: the packet count
    // says how much work the CPU time bought.
    let packets = || {
        handles
            .iter()
            .map(|h| h.counters.packets_in() + h.counters.packets_out())
            .sum::<u64>()
    };
    let packets_before = packets();
    let (ours_before, bfdd_before, downs_before) = (
        cpu_time(&me)?,
        cpu_time(&bfdd_pid)?,
        handles
            .iter()
            .map(|h| h.status.borrow().down_events)
            .sum::<u64>(),
    );
    let t = Instant::now();
    while t.elapsed() < window {
        check_interrupted()?;
        std::thread::sleep(Duration::from_millis(200));
    }
    let elapsed = t.elapsed().as_secs_f64();
    let (ours_cpu, bfdd_cpu) = (
        cpu_time(&me)? - ours_before,
        cpu_time(&bfdd_pid)? - bfdd_before,
    );
    let downs = handles
        .iter()
        .map(|h| h.status.borrow().down_events)
        .sum::<u64>()
        - downs_before;
    let up = all_up();
    let packets = packets() - packets_before;
    runtime.block_on(bfd.shutdown());
    let per_second = |d: Duration| d.as_secs_f64() * 1e3 / elapsed;
    let (ours_ms, bfdd_ms) = (per_second(ours_cpu), per_second(bfdd_cpu));
    let ratio = if bfdd_ms > 0.0 {
        format!("{:.2}", ours_ms / bfdd_ms)
    } else {
        "—".into()
    };
    let per_packet = if packets > 0 {
        format!("{:.1}", ours_cpu.as_secs_f64() * 1e6 / packets as f64)
    } else {
        "—".into()
    };
    Ok(format!(
        "| {count} BFD sessions, 50 ms × 3, {elapsed:.0} s | CPU ms per s |\n|---|---|\n\
         | FerroLB (BFD shell, one runtime thread) | {ours_ms:.1} |\n\
         | FRR bfdd 8.4 | {bfdd_ms:.1} |\n\
         | ratio FerroLB / bfdd | {ratio} |\n\
         FerroLB's sessions sent and received {:.0} packets per s (2 × {count} × 20 when all stay Up), {per_packet} µs of CPU per packet\n\
         ({up} of {count} Up at the end, {downs} fall(s) from Up during the window; load average {})",
        packets as f64 / elapsed,
        loadavg()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn between(a: &str, b: &str) -> Option<Duration> {
        log_time(b)?.duration_since(log_time(a)?).ok()
    }

    #[test]
    fn frr_and_bird_stamps_on_one_clock() {
        // FRR's bfdd Down and zebra's RTM_DELROUTE of one cut (µs).
        let bfdd = "2026/12/05 13:05:01.241388 BFD: [SEY1D-NT8EQ] state-change: up -> down";
        let zebra = "2026/12/05 13:05:01.320487 ZEBRA: [YXPF5-B2CE0] RTM_DELROUTE";
        assert_eq!(between(bfdd, zebra), Some(Duration::from_micros(79_099)));
        // BIRD's ms stamps on the same clock, and across a minute and a day.
        let bird = "2026-12-05 13:05:01.5 <TRACE> bfd1: Session to 10.0.0.1 changed state";
        assert_eq!(between(bfdd, bird), Some(Duration::from_micros(258_612)));
        assert_eq!(
            between("2026-12-31 23:59:59.900 x", "2027/01/01 00:00:00.100000 y"),
            Some(Duration::from_millis(200))
        );
    }

    #[test]
    fn lines_without_a_stamp_are_skipped() {
        for line in [
            "",
            "zebra: started",
            "2026/12/05",
            "2026/12/05 13:05:01.24x1 BFD",
            "2026/12/05 13:05 BFD",
            "2026/12/05/01 13:05:01.2 BFD",
        ] {
            assert_eq!(log_time(line), None, "{line:?}");
        }
    }
}
