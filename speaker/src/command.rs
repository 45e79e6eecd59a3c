//! `ferrolb-speaker`: the DaemonSet that makes assigned addresses reachable,
//! announcing them over BGP from every eligible node.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::announce::{GracefulRestartArgs, L2Args, L2ArgsError};
use crate::k8s::{Options, RunError, run};
use crate::metrics::Metrics;
use clap::Parser;
use ferrolb_k8s::logging::LogArgs;
use ferrolb_k8s::process::{StartError, run_main, start};
use tracing::{Instrument, info};

/// FerroLB speaker: announces LoadBalancer addresses (MetalLB-compatible).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// This node's name; in a pod, from the downward API (spec.nodeName).
    #[arg(long, env = "METALLB_NODE_NAME")]
    node_name: String,
    /// This speaker's Pod (the downward API's metadata.name): with
    /// --pod-uid, the owner of the status objects it writes, so they are
    /// deleted with it. Without both, nothing is owned.
    #[arg(long, env = "METALLB_POD_NAME", requires = "pod_uid")]
    pod_name: Option<String>,
    /// This speaker's Pod UID (the downward API's metadata.uid).
    #[arg(long, env = "METALLB_POD_UID", requires = "pod_name")]
    pod_uid: Option<String>,
    /// Kubeconfig file; without it, the in-cluster service account (or
    /// $KUBECONFIG / ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Namespace of the metallb.io configuration objects and of the
    /// speaker's status objects.
    #[arg(long, env = "METALLB_NAMESPACE", default_value = "metallb-system")]
    namespace: String,
    /// Serve only Services of this spec.loadBalancerClass (default: those
    /// without a class).
    #[arg(long)]
    lb_class: Option<String>,
    /// BGP router ID when a BGPPeer sets none (default: the Node's first
    /// IPv4 address).
    #[arg(long)]
    router_id: Option<Ipv4Addr>,
    /// Accept routers' BGP connections here (as MetalLB's FRR mode does);
    /// "off" to connect out only.
    #[arg(long, default_value = "[::]:179")]
    bgp_listen: String,
    /// Label selector of the speaker pods in --namespace: the nodes running
    /// one make up the Layer-2 membership.
    #[arg(
        long,
        env = "SPEAKER_SELECTOR",
        default_value = "app.kubernetes.io/name=ferrolb,app.kubernetes.io/component=speaker"
    )]
    speaker_selector: String,
    #[command(flatten)]
    l2: L2Args,
    #[command(flatten)]
    graceful_restart: GracefulRestartArgs,
    /// Address for /metrics, /healthz and /readyz (MetalLB's speaker uses
    /// port 7472).
    #[arg(long, env = "METALLB_ML_METRICS_ADDR", default_value = "0.0.0.0:7472")]
    metrics_addr: SocketAddr,
    #[command(flatten)]
    log: LogArgs,
}

#[derive(Debug, thiserror::Error)]
enum MainError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("bad --bgp-listen {value:?}: {source}")]
    BgpListen {
        value: String,
        source: std::net::AddrParseError,
    },
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    L2(#[from] L2ArgsError),
    #[error("bad --pod-name/--pod-uid: {0}")]
    Owner(#[from] ferrolb_k8s::owner::OwnerError),
}

/// The `ferrolb-speaker` program: parses the process's arguments (argv[0]
/// names it in `--help`), runs until a signal or an error, and returns the
/// exit status. The `ferrolb-speaker` binary and the multi-call `ferrolb`
/// binary (started under that name) both call it.
pub fn main() -> ExitCode {
    let args = Args::parse();
    args.log.init();
    run_main("ferrolb-speaker", serve(args))
}

async fn serve(args: Args) -> Result<(), MainError> {
    let bgp_listen = match args.bgp_listen.as_str() {
        "off" => None,
        value => Some(value.parse().map_err(|source| MainError::BgpListen {
            value: value.to_string(),
            source,
        })?),
    };
    let owner = match (&args.pod_name, &args.pod_uid) {
        (Some(name), Some(uid)) => Some(ferrolb_k8s::owner::pod(name, uid)?),
        _ => None,
    };
    let started = start(
        args.kubeconfig.as_deref(),
        args.metrics_addr,
        Metrics::register,
    )
    .await?;
    info!(node = %args.node_name, namespace = %args.namespace, lb_class = ?args.lb_class, pod = ?args.pod_name, "starting");
    // Every line names its node, also once collected from every pod into
    // one place; the sessions' and interfaces' spans nest under it.
    let span = tracing::info_span!("speaker", node = %args.node_name);
    let result = run(
        started.client,
        Options {
            namespace: args.namespace,
            node: args.node_name,
            lb_class: args.lb_class,
            router_id: args.router_id,
            bgp_listen,
            speaker_selector: args.speaker_selector,
            l2: args.l2.resolve()?,
            graceful_restart: args.graceful_restart.resolve(),
            owner,
        },
        started.metrics,
        started.ready,
        started.shutdown,
    )
    .instrument(span)
    .await;
    started.server.abort();
    Ok(result?)
}
