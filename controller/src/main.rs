//! `ferrolb-controller`: assigns LoadBalancer addresses from the
//! `metallb.io` pools and writes them into Service status.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use ferrolb_controller::http::{self, Endpoint};
use ferrolb_controller::leader::LeaseOptions;
use ferrolb_controller::metrics::Metrics;
use ferrolb_controller::reconcile::Options;
use ferrolb_controller::replica;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use prometheus_client::registry::Registry;
use tracing::{error, info};

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
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Log filter (tracing-subscriber EnvFilter syntax); RUST_LOG wins.
    #[arg(long, default_value = "info")]
    log_level: String,
    /// Address for /metrics, /healthz and /readyz (MetalLB's controller
    /// uses port 7472).
    #[arg(long, default_value = "0.0.0.0:7472")]
    metrics_addr: SocketAddr,
    /// This replica's identity in the Lease and in Events.
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
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

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    Json,
    Text,
}

#[derive(Debug, thiserror::Error)]
enum MainError {
    #[error("cannot read kubeconfig {path}: {source}")]
    Kubeconfig {
        path: PathBuf,
        source: kube::config::KubeconfigError,
    },
    #[error("cannot configure the Kubernetes client: {0}")]
    Client(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot install the signal handler: {0}")]
    Signal(std::io::Error),
    #[error(transparent)]
    Replica(#[from] replica::ReplicaError),
}

fn main() -> ExitCode {
    let args = Args::parse();
    init_logging(&args);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            error!(error = %e, "cannot start the runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!(error = %e, "ferrolb-controller stopped");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(args: &Args) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&args.log_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn client(args: &Args) -> Result<Client, MainError> {
    let config = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig =
                Kubeconfig::read_from(path).map_err(|source| MainError::Kubeconfig {
                    path: path.clone(),
                    source,
                })?;
            Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(|e| MainError::Client(Box::new(e)))?
        }
        None => Config::infer()
            .await
            .map_err(|e| MainError::Client(Box::new(e)))?,
    };
    Client::try_from(config).map_err(|e| MainError::Client(Box::new(e)))
}

async fn run(args: Args) -> Result<(), MainError> {
    let client = client(&args).await?;
    let mut registry = Registry::default();
    let metrics = Arc::new(Metrics::register(&mut registry));
    let ready = Arc::new(AtomicBool::new(false));
    let listener = tokio::net::TcpListener::bind(args.metrics_addr)
        .await
        .map_err(|source| MainError::Listen {
            addr: args.metrics_addr,
            source,
        })?;
    let server = tokio::spawn(http::serve(
        listener,
        Endpoint {
            registry: Arc::new(registry),
            ready: ready.clone(),
        },
    ));
    let identity = args.identity.clone().unwrap_or_else(hostname);
    info!(namespace = %args.namespace, lb_class = ?args.lb_class, identity = %identity, "starting");
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(MainError::Signal)?;
    let shutdown = async move {
        tokio::select! {
            _ = sigterm.recv() => info!("SIGTERM: shutting down"),
            _ = tokio::signal::ctrl_c() => info!("interrupt: shutting down"),
        }
    };
    let result = replica::run(
        client,
        Options {
            namespace: args.namespace.clone(),
            lb_class: args.lb_class.clone(),
            instance: identity.clone(),
        },
        LeaseOptions {
            namespace: args.namespace.clone(),
            name: args.lease_name.clone(),
            identity,
            duration: Duration::from_secs(args.lease_duration),
            grace: Duration::from_secs(args.lease_grace),
        },
        metrics,
        ready,
        shutdown,
    )
    .await;
    server.abort();
    Ok(result?)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| format!("ferrolb-controller-{}", std::process::id()))
}
