//! `ferrolb`: the command for humans; started as `ferrolb-controller` or
//! `ferrolb-speaker` (a link to it, as in the container image), it is that
//! program instead.

#[global_allocator]
static ALLOCATOR: ferrolb_speaker::memory::Allocator = ferrolb_speaker::memory::Allocator;

mod legacy;
mod migrate;
mod multicall;
mod run;
mod status;
mod validate;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use multicall::Program;

/// FerroLB: load balancer for bare-metal Kubernetes.
#[derive(Parser)]
#[command(name = "ferrolb", version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check MetalLB/FerroLB manifests with the same compiler the controller
    /// and speakers use; exits 1 when the configuration has errors.
    Validate(validate::ValidateArgs),
    /// Print MetalLB's legacy configuration (ConfigMap, its config text, or
    /// a values file with configInline) as the equivalent metallb.io objects.
    Migrate(migrate::MigrateArgs),
    /// Standalone mode: assign addresses and announce them from this host,
    /// configured by YAML files instead of Kubernetes.
    // Boxed: its flags dwarf the other commands'.
    Run(Box<run::RunArgs>),
    /// Where each LoadBalancer Service stands and why: addresses, pools,
    /// announcing nodes, BGP sessions (also `kubectl ferrolb status`).
    Status(status::StatusArgs),
}

fn main() -> ExitCode {
    match Program::invoked_as(std::env::args_os().next().as_deref()) {
        Program::Controller => ferrolb_controller::command::main(),
        Program::Speaker => ferrolb_speaker::command::main(),
        Program::Ferrolb => ferrolb(Args::parse()),
        // Usage and errors name the command as the user typed it.
        Program::KubectlPlugin => {
            let matches = Args::command().bin_name("kubectl ferrolb").get_matches();
            match Args::from_arg_matches(&matches) {
                Ok(args) => ferrolb(args),
                Err(e) => e.exit(),
            }
        }
    }
}

fn ferrolb(args: Args) -> ExitCode {
    // `ferrolb run` is a daemon and takes the daemons' logging flags; the
    // one-shot commands log text at info (RUST_LOG wins).
    match &args.command {
        Command::Run(run) => run.log.init(),
        _ => {
            ferrolb_k8s::logging::init_logging(ferrolb_k8s::logging::LogFormat::Text, "info", None)
        }
    }
    match args.command {
        Command::Validate(args) => validate::run(&args),
        Command::Run(args) => run::run(*args),
        Command::Migrate(args) => migrate::run(&args),
        Command::Status(args) => status::run(&args),
    }
}
