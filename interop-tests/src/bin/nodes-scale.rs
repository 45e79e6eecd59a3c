//! Membership and BGP cost against the cluster's size (issue 18, "Nodes";
//! `make bench-nodes`): for each N, N `ferrolb run` nodes on one LAN in
//! Layer-2 mode, then BGP to one BIRD router; per node the membership's
//! datagrams and bytes per second, CPU and RSS; failovers of a killed
//! owner; the time until BIRD routes over all N; BIRD's CPU. Prints a
//! table, writes a TSV and an SVG of the curves (docs/img/nodes.*). The
//! method: `interop_tests::nodes`; the figures: docs/benchmarks.md.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Parser;
use ferrolb_l2::membership::MembershipTiming;
use interop_tests::l2::report::machine;
use interop_tests::l2::{Jitter, stop_on_signals};
use interop_tests::nodes::{self, Options, Plan, Row, report};
use interop_tests::{LabError, procfs};
use plotters::prelude::*;

#[derive(Parser, Debug)]
#[command(about = "Membership and BGP cost with 3 to 50 `ferrolb run` nodes on one LAN")]
struct Args {
    /// Cluster sizes, ascending.
    #[arg(long, value_delimiter = ',', default_value = "3,5,10,20,35,50")]
    nodes: Vec<usize>,
    /// Services, each with its own address answered in Layer 2 and
    /// advertised over BGP.
    #[arg(long, default_value_t = 10)]
    services: usize,
    /// Seconds after every speaker sees every other, before each window.
    #[arg(long, default_value_t = 5)]
    settle: u64,
    /// Seconds of each measuring window (the MACs are repeated every 10 s:
    /// a multiple of 10 counts them evenly).
    #[arg(long, default_value_t = 20)]
    window: u64,
    /// Killed owners per size.
    #[arg(long, default_value_t = 5)]
    failovers: usize,
    /// Skip BGP (no BIRD).
    #[arg(long)]
    no_bgp: bool,
    /// The speakers' `--ml-thread-priority`: `auto` (the speakers'
    /// default: real time where allowed) or `normal`. With `normal` on
    /// the shared 2-core machine (load average 13-15 from other builds)
    /// ten speakers never all opened their fences: their membership
    /// threads starved, as in a cluster whose nodes run other work.
    #[arg(long, default_value = "auto")]
    ml_thread_priority: String,
    /// The speakers' `--ml-heartbeat`, in milliseconds (every membership
    /// timer scales with it): 5, their default, or slower for a curve
    /// that a machine with fewer cores than speakers can carry further.
    #[arg(long, default_value_t = 5)]
    ml_heartbeat_ms: u64,
    /// The speakers' tracing filter (RUST_LOG).
    #[arg(long)]
    ferrolb_log: Option<String>,
    /// Where the figures go (TSV); the SVG is written next to it.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/img/nodes.tsv"))]
    out: PathBuf,
    /// Only print the table and draw the SVG from `--out`, measure nothing.
    #[arg(long)]
    plot_only: bool,
    /// The jitter's seed (kill instants); the clock by default.
    #[arg(long)]
    seed: Option<u64>,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nodes-scale: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> interop_tests::Result<()> {
    let svg = args.out.with_extension("svg");
    if args.plot_only {
        let text = std::fs::read_to_string(&args.out)
            .map_err(|e| LabError::io(format!("cannot read {}", args.out.display()), e))?;
        let rows = report::from_tsv(&text)?;
        println!("{}", report::table(&rows));
        plot(&rows, &svg)?;
        println!("wrote {}", svg.display());
        return Ok(());
    }
    if args.nodes.windows(2).any(|w| w[0] >= w[1]) {
        return Err(LabError::Invalid(format!(
            "--nodes must be ascending: {:?}",
            args.nodes
        )));
    }
    stop_on_signals()?;
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let plan = Plan {
        options: Options {
            services: args.services,
            ml_thread_priority: Some(args.ml_thread_priority.clone()),
            timing: MembershipTiming::with_heartbeat(Duration::from_millis(args.ml_heartbeat_ms))
                .map_err(|e| LabError::Invalid(format!("--ml-heartbeat: {e}")))?,
            log_filter: args.ferrolb_log.clone(),
            bgp: !args.no_bgp,
            // The largest size's start, windows, failovers and BGP, twice.
            lifetime: Duration::from_secs(1800),
        },
        settle: Duration::from_secs(args.settle),
        window: Duration::from_secs(args.window),
        failovers: args.failovers,
    };
    println!(
        "nodes-scale: sizes {:?}, {} Services, settle {} s, windows {} s, {} failovers each, \
         BGP {}, membership thread priority {}, heartbeat {} ms, ferrolb {}, seed {seed}",
        args.nodes,
        args.services,
        args.settle,
        args.window,
        args.failovers,
        if args.no_bgp { "off" } else { "on" },
        args.ml_thread_priority,
        args.ml_heartbeat_ms,
        std::env::var("FERROLB_BIN").unwrap_or_else(|_| "next to this binary".into()),
    );
    println!("machine: {}", machine());
    let mut jitter = Jitter::new(seed);
    let mut rows = Vec::new();
    let started = Instant::now();
    for &n in &args.nodes {
        let at = Instant::now();
        let measured = nodes::measure(n, &plan, &mut jitter)?;
        let row = Row::of(&measured);
        println!(
            "N = {n}: {:.0} s, load average {} at the start, {} now; failovers (ms): {}",
            at.elapsed().as_secs_f64(),
            measured.load,
            procfs::load_average(),
            measured
                .failovers
                .iter()
                .map(|f| f
                    .outage
                    .map_or("never".into(), |d| format!("{:.1}", d.as_secs_f64() * 1e3)))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let settled = row.settled;
        let apart = row.rejoined < row.failovers;
        rows.push(row);
        // Written after every size: an interrupted run keeps what it had.
        write(&args.out, &report::to_tsv(&rows))?;
        if !settled || apart {
            // A larger cluster only storms harder, and N storming
            // speakers saturate the machine this runs on (load average
            // 300 at 35 nodes on 2 cores).
            let why = if settled {
                "did not come together again after a failover"
            } else {
                "never settled"
            };
            println!("N = {n} {why}: larger sizes skipped");
            break;
        }
    }
    println!("\n{}", report::table(&rows));
    println!(
        "{:.0} s in all; load average at the end {}",
        started.elapsed().as_secs_f64(),
        procfs::load_average()
    );
    plot(&rows, &svg)?;
    println!("wrote {} and {}", args.out.display(), svg.display());
    Ok(())
}

fn write(path: &Path, text: &str) -> interop_tests::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| LabError::io(format!("cannot create {}", dir.display()), e))?;
    }
    std::fs::write(path, text)
        .map_err(|e| LabError::io(format!("cannot write {}", path.display()), e))
}

/// One curve of a panel: its label, colour, whether dashed, its points.
struct Curve {
    label: &'static str,
    colour: RGBColor,
    dashed: bool,
    points: Vec<(f64, f64)>,
}

fn curve(
    rows: &[Row],
    label: &'static str,
    colour: RGBColor,
    dashed: bool,
    y: impl Fn(&Row) -> Option<f64>,
) -> Curve {
    Curve {
        label,
        colour,
        dashed,
        points: rows
            .iter()
            .filter_map(|r| Some((r.nodes as f64, y(r)?)))
            .collect(),
    }
}

/// Four panels against N: membership datagrams per node (with the
/// model), CPU per node (and BIRD's), failover times, BGP convergence.
fn plot(rows: &[Row], svg: &Path) -> interop_tests::Result<()> {
    draw(rows, svg).map_err(|e| LabError::Invalid(format!("cannot draw {}: {e}", svg.display())))
}

fn draw(rows: &[Row], svg: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(svg, (1000, 760)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        "FerroLB: cost per node against cluster size (ferrolb run, Layer 2 + BGP)",
        ("sans-serif", 20),
    )?;
    let panels = root.split_evenly((2, 2));
    let some = Some;
    let sets: [(&str, &str, Vec<Curve>); 4] = [
        (
            "Membership datagrams per node",
            "datagrams/s",
            vec![
                curve(rows, "out (mean)", RED, false, |r| some(r.out_mean)),
                curve(rows, "in (mean)", BLUE, false, |r| some(r.in_mean)),
                curve(rows, "model (docs/l2-mode.md)", BLACK, true, |r| {
                    some(r.model)
                }),
            ],
        ),
        (
            "CPU per node",
            "% of one core",
            vec![
                curve(rows, "Layer 2 (mean)", RED, false, |r| some(r.cpu_mean)),
                curve(rows, "Layer 2 (max)", RED, true, |r| some(r.cpu_max)),
                curve(rows, "Layer 2 + BGP (mean)", BLUE, false, |r| {
                    r.bgp_cpu_mean
                }),
                curve(rows, "BIRD", GREEN, false, |r| r.bird_cpu),
            ],
        ),
        (
            "Failover: owner killed → another node answers",
            "ms",
            vec![
                curve(rows, "p50", RED, false, |r| r.failover_p50_ms),
                curve(rows, "max", RED, true, |r| r.failover_max_ms),
            ],
        ),
        (
            "BGP: configured → BIRD routes over all N",
            "s",
            vec![curve(
                rows,
                "every Service over N next hops",
                BLUE,
                false,
                |r| r.ecmp_ms.map(|ms| ms / 1e3),
            )],
        ),
    ];
    let max_n = rows.iter().map(|r| r.nodes).max().unwrap_or(1) as f64;
    for (area, (title, y_desc, curves)) in panels.iter().zip(sets) {
        let max_y = curves
            .iter()
            .flat_map(|c| c.points.iter().map(|p| p.1))
            .fold(0.0, f64::max)
            .max(1e-3)
            * 1.25;
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(55)
            .build_cartesian_2d(0.0..max_n * 1.05, 0.0..max_y)?;
        chart
            .configure_mesh()
            .x_desc("nodes")
            .y_desc(y_desc)
            .draw()?;
        for c in curves {
            if c.points.is_empty() {
                continue;
            }
            let colour = c.colour;
            let style = colour.stroke_width(2);
            if c.dashed {
                chart
                    .draw_series(DashedLineSeries::new(c.points.clone(), 6, 4, style))?
                    .label(c.label)
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.mix(0.7)));
            } else {
                chart
                    .draw_series(LineSeries::new(c.points.clone(), style))?
                    .label(c.label)
                    .legend(move |(x, y)| {
                        PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2))
                    });
            }
            chart.draw_series(c.points.iter().map(|p| Circle::new(*p, 3, colour.filled())))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .border_style(BLACK.mix(0.3))
            .background_style(WHITE.mix(0.9))
            .draw()?;
    }
    root.present()?;
    Ok(())
}
