//! `ferrolb`: the command for humans.

mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// FerroLB: load balancer for bare-metal Kubernetes.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check MetalLB/FerroLB manifests with the same compiler the controller
    /// and speakers use; exits 1 when the configuration has errors.
    Validate(validate::ValidateArgs),
}

fn main() -> ExitCode {
    match Args::parse().command {
        Command::Validate(args) => validate::run(&args),
    }
}
