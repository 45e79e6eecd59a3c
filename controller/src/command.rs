//! `ferrolb-controller`: assigns LoadBalancer addresses from the
//! `metallb.io` pools and writes them into Service status.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::leader::LeaseOptions;
use crate::metrics::Metrics;
use crate::reconcile::Options;
use crate::replica;
use clap::Parser;
use ferrolb_k8s::logging::LogArgs;
use ferrolb_k8s::process::{self, StartError, run_main, start};
use tracing::info;

/// FerroLB controller: assigns LoadBalancer addresses (MetalLB-compatible).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Kubeconfig file; without it, the in-cluster service account (or
    /// $KUBECONFIG / ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Namespace of the metallb.io configuration objects and the Lease.
    #[arg(long, env = "METALLB_NAMESPACE", default_value = "metallb-system")]
    namespace: String,
    /// Serve only Services of this spec.loadBalancerClass (default: those
    /// without a class).
    #[arg(long)]
    lb_class: Option<String>,
    #[command(flatten)]
    log: LogArgs,
    /// Address for /metrics, /healthz and /readyz (MetalLB's controller
    /// uses port 7472).
    #[arg(long, default_value = "0.0.0.0:7472")]
    metrics_addr: SocketAddr,
    /// This replica's identity in the Lease and in Events.
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// The controller's Deployment (in --namespace): owner of the
    /// ConfigurationState and the Lease, so they are deleted with it. Read
    /// at start (RBAC: get on that Deployment). Without it, nothing is
    /// owned.
    #[arg(long, env = "METALLB_DEPLOYMENT")]
    deployment: Option<String>,
    /// Name of the leader-election Lease.
    #[arg(long, default_value = "ferrolb-controller")]
    lease_name: String,
    /// Seconds a lease lasts without renewal.
    #[arg(long, default_value_t = 15)]
    lease_duration: u64,
    /// Seconds before expiry the leader renews.
    #[arg(long, default_value_t = 5)]
    lease_grace: u64,
}

#[derive(Debug, thiserror::Error)]
enum MainError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Replica(#[from] replica::ReplicaError),
    #[error(transparent)]
    Owner(#[from] ferrolb_k8s::owner::OwnerError),
    /// The controller's task panicked (the panic is printed where it
    /// happened) or was cancelled.
    #[error("the controller's task ended abnormally: {0}")]
    Task(#[source] tokio::task::JoinError),
}

/// The `ferrolb-controller` program: parses the process's arguments (argv[0]
/// names it in `--help`), runs until a signal or an error, and returns the
/// exit status. The `ferrolb-controller` binary and the multi-call `ferrolb`
/// binary (started under that name) both call it.
pub fn main() -> ExitCode {
    let args = Args::parse();
    args.log.init();
    // On the runtime's workers, where the API client's connections run,
    // not on the thread blocked in `block_on`: each watch chunk and request
    // crossed between the two with a thread wake-up, a quarter of the
    // controller's CPU in a burst of 10,000 Services (docs/benchmarks.md,
    // "Controller").
    run_main("ferrolb-controller", async move {
        match tokio::spawn(run(args)).await {
            Ok(result) => result,
            Err(e) => Err(MainError::Task(e)),
        }
    })
}

async fn run(args: Args) -> Result<(), MainError> {
    let started = start(
        args.kubeconfig.as_deref(),
        args.metrics_addr,
        Metrics::register,
    )
    .await?;
    let identity = args.identity.clone().unwrap_or_else(hostname);
    let owner = match &args.deployment {
        Some(name) => Some(
            ferrolb_k8s::owner::fetch_deployment(started.client.clone(), &args.namespace, name)
                .await?,
        ),
        None => None,
    };
    info!(namespace = %args.namespace, lb_class = ?args.lb_class, identity = %identity, "starting");
    let result = replica::run(
        started.client,
        Options {
            namespace: args.namespace.clone(),
            lb_class: args.lb_class.clone(),
            instance: identity.clone(),
            owner: owner.clone(),
        },
        LeaseOptions {
            namespace: args.namespace.clone(),
            name: args.lease_name.clone(),
            identity,
            duration: Duration::from_secs(args.lease_duration),
            grace: Duration::from_secs(args.lease_grace),
            owner,
        },
        started.metrics,
        started.ready,
        started.shutdown,
    )
    .await;
    started.server.abort();
    Ok(result?)
}

fn hostname() -> String {
    process::hostname().unwrap_or_else(|| format!("ferrolb-controller-{}", std::process::id()))
}
