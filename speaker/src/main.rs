//! `ferrolb-speaker`: the Kubernetes speaker binary.

use clap::Parser;

/// FerroLB speaker.
#[derive(Parser)]
#[command(version, about)]
struct Args {}

fn main() -> std::process::ExitCode {
    let _args = Args::parse();
    eprintln!("ferrolb-speaker: not built yet in this release; see README.md for what works");
    std::process::ExitCode::FAILURE
}
