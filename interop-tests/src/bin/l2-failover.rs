//! The Layer-2 failover benchmark (issue 7, `make bench-l2`): three nodes
//! and a client on one LAN; a subject keeps a VIP answered; its owner fails
//! (link cut, SIGKILL, SIGTERM) at a jittered instant, again and again; the
//! client's 5 ms UDP probes say how long it went unanswered and when the new
//! owner answered steadily.
//!
//! Subjects: the floor (a gratuitous ARP at the failure instant),
//! keepalived VRRPv3 with 1 s, 100 ms and 10 ms adverts, and FerroLB's own
//! Layer-2 mode (`ferrolb run` on every node; the binary from FERROLB_BIN
//! or next to this one: build it with the same profile). Each subject gets
//! a fresh lab. Method: docs/lab.md; figures: docs/benchmarks.md.

use std::time::{Duration, Instant};

use clap::Parser;
use interop_tests::l2::report::{loadavg, machine};
use interop_tests::l2::{
    Cell, Failure, FerroLbL2, Floor, Jitter, Keepalived, L2Lan, L2Subject, RunOptions,
    run_failovers_into, stop_on_signals, table,
};
use interop_tests::{Family, LabError};

#[derive(Parser, Debug)]
#[command(about = "Layer-2 failover: subjects x failure kinds, outage seen by a client")]
struct Args {
    /// Failovers per subject and failure kind.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Subjects: floor, keepalived-1s, keepalived-100ms, keepalived-10ms,
    /// ferrolb.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "floor,keepalived-1s,keepalived-100ms,keepalived-10ms,ferrolb"
    )]
    subject: Vec<SubjectKind>,
    /// Failure kinds: link-cut, kill, stop.
    #[arg(long, value_delimiter = ',', default_value = "link-cut,kill,stop")]
    failure: Vec<FailureKind>,
    /// Address family of the VIP (ARP or NDP).
    #[arg(long, default_value = "ipv4")]
    family: FamilyKind,
    /// How long the new owner must answer alone before a run ends, in ms.
    #[arg(long, default_value_t = 1000)]
    hold_ms: u64,
    /// Seed of the failure-instant jitter (default: from the clock).
    #[arg(long)]
    seed: Option<u64>,
    /// Tracing filter of the FerroLB speakers (RUST_LOG), e.g.
    /// `info,ferrolb_speaker=debug`; their logs stay in the lab directory.
    #[arg(long)]
    ferrolb_log: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SubjectKind {
    Floor,
    #[value(name = "keepalived-1s")]
    Keepalived1s,
    #[value(name = "keepalived-100ms")]
    Keepalived100ms,
    #[value(name = "keepalived-10ms")]
    Keepalived10ms,
    Ferrolb,
}

impl SubjectKind {
    fn build(self, ferrolb_log: Option<&str>) -> Box<dyn L2Subject> {
        let keepalived = |ms| Box::new(Keepalived::new(Duration::from_millis(ms)));
        match self {
            SubjectKind::Floor => Box::new(Floor::new()),
            SubjectKind::Keepalived1s => keepalived(1000),
            SubjectKind::Keepalived100ms => keepalived(100),
            SubjectKind::Keepalived10ms => keepalived(10),
            SubjectKind::Ferrolb => Box::new(match ferrolb_log {
                Some(filter) => FerroLbL2::new().with_log_filter(filter),
                None => FerroLbL2::new(),
            }),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum FailureKind {
    LinkCut,
    Kill,
    Stop,
}

impl From<FailureKind> for Failure {
    fn from(kind: FailureKind) -> Failure {
        match kind {
            FailureKind::LinkCut => Failure::LinkCut,
            FailureKind::Kill => Failure::Kill,
            FailureKind::Stop => Failure::Stop,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum FamilyKind {
    Ipv4,
    Ipv6,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("l2-failover: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> interop_tests::Result<()> {
    stop_on_signals()?;
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let family = match args.family {
        FamilyKind::Ipv4 => Family::Ipv4,
        FamilyKind::Ipv6 => Family::Ipv6,
    };
    let options = RunOptions {
        runs: args.runs,
        hold: Duration::from_millis(args.hold_ms),
        ..RunOptions::default()
    };
    println!(
        "L2 failover: {} run(s) per cell, {family:?}, hold {} ms, seed {seed}",
        args.runs, args.hold_ms
    );
    println!("machine: {}", machine());
    let started = Instant::now();
    let mut jitter = Jitter::new(seed);
    let mut cells = Vec::new();
    for &kind in &args.subject {
        let mut subject = kind.build(args.ferrolb_log.as_deref());
        if let Err(e) = measure_subject(
            subject.as_mut(),
            family,
            &args.failure,
            &options,
            &mut jitter,
            &mut cells,
        ) {
            if matches!(&e, LabError::Invalid(why) if why == "interrupted") {
                return Err(e);
            }
            eprintln!("l2-failover: {}: {e}", subject.name());
        }
    }
    println!("\n{}", table(&cells));
    println!(
        "took {:.0} s; load average at the end: {}",
        started.elapsed().as_secs_f64(),
        loadavg()
    );
    Ok(())
}

/// One subject in a fresh lab, every failure kind in turn.
fn measure_subject(
    subject: &mut dyn L2Subject,
    family: Family,
    failures: &[FailureKind],
    options: &RunOptions,
    jitter: &mut Jitter,
    cells: &mut Vec<Cell>,
) -> interop_tests::Result<()> {
    let mut lan = L2Lan::new("l2bench", family, 3)?;
    lan.lab_mut().set_lifetime(Duration::from_secs(1800));
    subject.start(&lan)?;
    for &failure in failures {
        let failure = Failure::from(failure);
        let started = Instant::now();
        let mut runs = Vec::new();
        let stopped = run_failovers_into(&lan, subject, failure, options, jitter, &mut runs);
        let cell = Cell {
            subject: subject.name(),
            failure,
            runs,
        };
        for (i, run) in cell.runs.iter().enumerate().filter(|(_, r)| !r.completed) {
            let o = &run.outcome;
            eprintln!(
                "  run {i}: no steady new owner; failed {}, first reply from another node {:?}, \
                 at the end {} answered alone for {:?}, {} probe(s) lost, {} dual answer(s), \
                 {} neighbour flip(s)",
                lan.name(run.failed),
                o.outage,
                o.owner.map_or("nobody", |n| lan.name(n)),
                o.steady_for,
                o.lost,
                o.dual_answers,
                o.neighbour_flips
            );
        }
        eprintln!("{} ({:.0} s)", cell.row(), started.elapsed().as_secs_f64());
        cells.push(cell);
        stopped?;
    }
    Ok(())
}
