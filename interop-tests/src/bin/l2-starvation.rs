//! Layer-2 under CPU starvation (issue 17, `make bench-l2-starvation`):
//! three `ferrolb run` nodes and a client probing the VIP every 5 ms on
//! one LAN, busy loops on every core (no failure injected) for a window;
//! what the client saw: gaps over 1 s, probes answered by two nodes,
//! changes of the answering node; and what the speakers did: fence
//! closures, changes of the members they saw alive. The machine's other
//! load is reported with the figures (`uptime`): they mean little without
//! it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use interop_tests::l2::ferrolb::FENCE_OPEN;
use interop_tests::l2::measure::Ping;
use interop_tests::l2::report::{loadavg, machine};
use interop_tests::l2::{FerroLbL2, L2Lan, L2Subject, settle, stop_on_signals};
use interop_tests::{Family, LabError};

#[derive(Parser, Debug)]
#[command(about = "Layer-2 ownership under CPU starvation: windows of busy loops, no failure")]
struct Args {
    /// Windows of starvation.
    #[arg(long, default_value_t = 3)]
    windows: usize,
    /// Length of each window, in seconds.
    #[arg(long, default_value_t = 300)]
    seconds: u64,
    /// Busy loops per core.
    #[arg(long, default_value_t = 2)]
    per_core: usize,
    /// The speakers' membership thread priority (`auto` or `normal`);
    /// unset, the flag is not passed (a build from before it existed).
    #[arg(long)]
    ml_thread_priority: Option<String>,
    /// Tracing filter of the speakers (RUST_LOG).
    #[arg(long)]
    ferrolb_log: Option<String>,
}

/// Busy loops, killed (by their own pids) when dropped.
struct Hogs(Vec<Child>);

impl Hogs {
    fn start(n: usize) -> interop_tests::Result<Hogs> {
        let mut hogs = Hogs(Vec::new());
        for _ in 0..n {
            let child = Command::new("sh")
                .args(["-c", "while :; do :; done"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| LabError::io("cannot start a busy loop", e))?;
            hogs.0.push(child);
        }
        Ok(hogs)
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What the client saw in one window.
#[derive(Debug, Default)]
struct Seen {
    probes: usize,
    unanswered: usize,
    gaps_over_1s: usize,
    longest_gap: Duration,
    dual: usize,
    owner_changes: usize,
}

fn seen(pings: &[Ping], end: Instant) -> Seen {
    let mut s = Seen::default();
    let mut gap_from: Option<Instant> = None;
    let mut last_owner = None;
    let in_flight = Duration::from_millis(30);
    for p in pings.iter().filter(|p| p.sent + in_flight <= end) {
        s.probes += 1;
        let nodes: std::collections::BTreeSet<usize> = p.replies.iter().map(|r| r.0).collect();
        if nodes.is_empty() {
            s.unanswered += 1;
            gap_from.get_or_insert(p.sent);
            continue;
        }
        if let Some(from) = gap_from.take() {
            let gap = p.sent - from;
            s.longest_gap = s.longest_gap.max(gap);
            s.gaps_over_1s += usize::from(gap > Duration::from_secs(1));
        }
        if nodes.len() > 1 {
            s.dual += 1;
            continue;
        }
        let owner = nodes.first().copied();
        if last_owner.is_some() && owner != last_owner {
            s.owner_changes += 1;
        }
        last_owner = owner;
    }
    s
}

fn count(log: &str, what: &str) -> usize {
    log.matches(what).count()
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("l2-starvation: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> interop_tests::Result<()> {
    stop_on_signals()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "L2 starvation: {} window(s) of {} s, {} busy loop(s) on each of {cores} core(s), \
         membership thread priority {}, ferrolb {}",
        args.windows,
        args.seconds,
        args.per_core,
        args.ml_thread_priority
            .as_deref()
            .unwrap_or("(flag not passed)"),
        std::env::var("FERROLB_BIN").unwrap_or_else(|_| "next to this binary".into())
    );
    println!("machine: {}", machine());
    let mut lan = L2Lan::new("l2starve", Family::Ipv4, 3)?;
    // The lab's daemons outlive every window and its settling (the
    // default lifetime, 15 minutes, ended the speakers in the third of
    // three 5-minute windows), with an hour to spare.
    let windows = u32::try_from(args.windows).unwrap_or(u32::MAX);
    let per_window = Duration::from_secs(args.seconds) + Duration::from_secs(90);
    lan.lab_mut()
        .set_lifetime(per_window.saturating_mul(windows) + Duration::from_secs(3600));
    let mut ferrolb = match &args.ml_thread_priority {
        Some(p) => FerroLbL2::new().with_args(&["--ml-thread-priority", p]),
        None => FerroLbL2::new(),
    };
    if let Some(filter) = &args.ferrolb_log {
        ferrolb = ferrolb.with_log_filter(filter.clone());
    }
    ferrolb.start(&lan)?;
    println!(
        "| window | load before | probes | unanswered | gaps > 1 s (longest) | dual answers | owner changes | fence re-opens | alive-set changes |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for window in 1..=args.windows {
        settle(&lan, &ferrolb, Duration::from_secs(30))?;
        let logs = |f: &FerroLbL2| -> Vec<String> {
            (0..lan.nodes().len())
                .map(|id| f.speaker(id).map(|s| s.log()).unwrap_or_default())
                .collect()
        };
        let before = logs(&ferrolb);
        let load = loadavg();
        let start = Instant::now();
        {
            let _hogs = Hogs::start(cores * args.per_core)?;
            while start.elapsed() < Duration::from_secs(args.seconds) {
                std::thread::sleep(Duration::from_millis(200));
                if ferrolb_stopped(&lan, &ferrolb) {
                    return Err(LabError::Invalid("a speaker exited".into()));
                }
            }
        }
        let end = Instant::now();
        let s = seen(&lan.prober().pings_since(start), end);
        let after = logs(&ferrolb);
        let delta = |what: &str| -> usize {
            after
                .iter()
                .zip(&before)
                .map(|(a, b)| count(a, what).saturating_sub(count(b, what)))
                .sum()
        };
        println!(
            "| {window} | {load} | {} | {} | {} ({:.0} ms) | {} | {} | {} | {} |",
            s.probes,
            s.unanswered,
            s.gaps_over_1s,
            s.longest_gap.as_secs_f64() * 1000.0,
            s.dual,
            s.owner_changes,
            delta(FENCE_OPEN),
            delta("members alive changed"),
        );
        lan.prober().forget_before(end);
    }
    println!("load average at the end: {}", loadavg());
    Ok(())
}

fn ferrolb_stopped(lan: &L2Lan, ferrolb: &FerroLbL2) -> bool {
    (0..lan.nodes().len()).any(|id| ferrolb.speaker(id).is_none_or(|s| s.daemon().has_exited()))
}
