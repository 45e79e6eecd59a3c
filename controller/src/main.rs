//! `ferrolb-controller`: the Kubernetes controller binary.

use clap::Parser;

/// FerroLB controller.
#[derive(Parser)]
#[command(version, about)]
struct Args {}

fn main() -> std::process::ExitCode {
    let _args = Args::parse();
    eprintln!("ferrolb-controller: not built yet in this release; see README.md for what works");
    std::process::ExitCode::FAILURE
}
