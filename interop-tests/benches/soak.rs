//! The soak (issue 18, "Soak"): the real controller and three real
//! speakers against the test kube-apiserver, announcing to BIRD and FRR,
//! under churn for 30 minutes (Services created, updated and deleted at
//! 20/s around a bounded live set, EndpointSlices flipping, one BGPPeer
//! edited every minute). `cluster_support/soak.rs` runs it; this prints
//! the table (RSS and descriptor slopes after warm-up, session resets
//! against peer edits, the routers' tables against the expected one),
//! writes the samples as TSV and the curves as SVG next to it, and exits
//! non-zero when a session reset no edit explains, a table differs, a
//! Service is left unassigned or a process exited.
//!
//! `make soak` (root; debug builds unless `SOAK_PROFILE=release`), e.g.
//! `make soak SOAK_ARGS="--minutes 15 --no-frr"`.

#[path = "../tests/cluster_support/mod.rs"]
mod cluster;
#[path = "../tests/cluster_support/soak.rs"]
mod soak;

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use cluster::TestResult;
use interop_tests::ferrolb::workspace_binary;
use plotters::prelude::*;
use soak::{Config, Programs, Report};

#[derive(Parser)]
struct Args {
    /// How long the churn lasts.
    #[arg(long, default_value_t = 30.0)]
    minutes: f64,
    /// Left out of the slopes.
    #[arg(long, default_value_t = 5.0)]
    warmup_minutes: f64,
    /// Service operations (create, update, delete) per second.
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    /// EndpointSlice flips per second.
    #[arg(long, default_value_t = 5.0)]
    flip_rate: f64,
    /// Live Services the churn keeps.
    #[arg(long, default_value_t = 400)]
    live: usize,
    /// One BGPPeer edited this often, seconds.
    #[arg(long, default_value_t = 60)]
    edit_every_secs: u64,
    /// RSS and descriptors sampled this often, seconds.
    #[arg(long, default_value_t = 5)]
    sample_every_secs: u64,
    /// How long the routers may take to reach the expected table, seconds.
    #[arg(long, default_value_t = 300)]
    converge_secs: u64,
    /// BIRD only.
    #[arg(long)]
    no_frr: bool,
    /// Where `ferrolb-controller` and `ferrolb-speaker` are (default: this
    /// benchmark's own target directory).
    #[arg(long)]
    programs: Option<PathBuf>,
    /// The samples (TSV); the SVG goes next to it.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/img/soak.tsv"))]
    out: PathBuf,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() -> std::process::ExitCode {
    match run(Args::parse()) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("soak failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> TestResult<bool> {
    let programs = match args.programs {
        Some(dir) => dir,
        None => workspace_binary("ferrolb-controller", "ferrolb-controller")?
            .parent()
            .ok_or("the binary has no directory")?
            .to_path_buf(),
    };
    let config = Config {
        tag: "soak",
        duration: Duration::from_secs_f64(args.minutes * 60.0),
        warmup: Duration::from_secs_f64(args.warmup_minutes * 60.0),
        rate: args.rate,
        flip_rate: args.flip_rate,
        live: args.live,
        edit_every: Duration::from_secs(args.edit_every_secs),
        sample_every: Duration::from_secs(args.sample_every_secs),
        frr: !args.no_frr,
        programs: Programs::Dir(programs.clone()),
        converge: Duration::from_secs(args.converge_secs),
    };
    println!(
        "soak: {} min, {} Service ops/s around {} live, {} flips/s, a BGPPeer edit every {} s, {}; programs from {}",
        args.minutes,
        args.rate,
        args.live,
        args.flip_rate,
        args.edit_every_secs,
        if config.frr { "BIRD and FRR" } else { "BIRD" },
        programs.display()
    );
    let report = soak::run(&config)?;
    report.print();
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, soak::samples_tsv(&report))?;
    let svg = args.out.with_extension("svg");
    plot(&report, &svg)?;
    println!("\nwrote {} and {}", args.out.display(), svg.display());
    let passed = report.unexplained_resets().is_empty()
        && report.tables_match()
        && report.unassigned.is_empty()
        && report.exited.is_empty();
    Ok(passed)
}

/// RSS (top) and open descriptors (bottom) of each process over time,
/// the end of warm-up dashed.
fn plot(report: &Report, svg: &Path) -> TestResult {
    let root = SVGBackend::new(svg, (800, 720)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(460);
    let minutes = |d: Duration| d.as_secs_f64() / 60.0;
    let end = report
        .samples
        .iter()
        .map(|s| minutes(s.at))
        .fold(1.0, f64::max);
    let warmup = minutes(report.warmup);
    let colours = [RED, BLUE, GREEN, MAGENTA];
    type Pick = fn(&soak::Sample) -> f64;
    let panels: [(&DrawingArea<SVGBackend, _>, &str, &str, Pick); 2] = [
        (&top, "Soak: RSS over time", "RSS (MiB)", |s| {
            soak::mib(s.rss_kib)
        }),
        (&bottom, "Open file descriptors", "descriptors", |s| {
            s.fds as f64
        }),
    ];
    for (area, caption, y_desc, pick) in panels {
        let max = report.samples.iter().map(pick).fold(1.0, f64::max) * 1.15;
        let mut chart = ChartBuilder::on(area)
            .caption(caption, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..end * 1.02, 0.0..max)?;
        chart
            .configure_mesh()
            .x_desc("minutes since the churn started")
            .y_desc(y_desc)
            .draw()?;
        chart
            .draw_series(DashedLineSeries::new(
                [(warmup, 0.0), (warmup, max)],
                4,
                4,
                BLACK.mix(0.5).stroke_width(1),
            ))?
            .label("end of warm-up")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.mix(0.5)));
        for (i, process) in report.processes.iter().enumerate() {
            let colour = colours[i % colours.len()];
            let points: Vec<(f64, f64)> = report
                .samples
                .iter()
                .filter(|s| s.process == i)
                .map(|s| (minutes(s.at), pick(s)))
                .collect();
            chart
                .draw_series(LineSeries::new(points, colour.stroke_width(2)))?
                .label(process.as_str())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2))
                });
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
