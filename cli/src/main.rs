//! `ferrolb`: the command for humans.

use clap::Parser;

/// FerroLB: load balancer for bare-metal Kubernetes.
#[derive(Parser)]
#[command(version, about)]
struct Args {}

fn main() -> std::process::ExitCode {
    let _args = Args::parse();
    eprintln!("ferrolb: no subcommands in this release yet; see README.md for what works");
    std::process::ExitCode::FAILURE
}
