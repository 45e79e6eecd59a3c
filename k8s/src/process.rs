//! What every FerroLB process does first: logging, the API client, the
//! metrics and health endpoint, and the shutdown signal.

use std::fmt::Display;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use kube::client::ClientBuilder;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use prometheus_client::registry::Registry;
use tokio::task::JoinHandle;
use tower::timeout::TimeoutLayer;
use tracing::{error, info};

use crate::http::{self, Endpoint, ListenError};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot read kubeconfig {path}: {source}")]
    Kubeconfig {
        path: PathBuf,
        source: kube::config::KubeconfigError,
    },
    #[error("cannot configure the Kubernetes client: {0}")]
    Client(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A client from `kubeconfig`, else the in-cluster service account (or
/// $KUBECONFIG / ~/.kube/config).
pub async fn client(kubeconfig: Option<&Path>) -> Result<Client, ClientError> {
    client_with_timeout(kubeconfig, REQUEST_TIMEOUT).await
}

/// [`client`] with another limit than [`REQUEST_TIMEOUT`] on the wait for a
/// response to start.
pub async fn client_with_timeout(
    kubeconfig: Option<&Path>,
    request_timeout: Duration,
) -> Result<Client, ClientError> {
    let config = match kubeconfig {
        Some(path) => {
            let kubeconfig =
                Kubeconfig::read_from(path).map_err(|source| ClientError::Kubeconfig {
                    path: path.to_path_buf(),
                    source,
                })?;
            Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(|e| ClientError::Client(Box::new(e)))?
        }
        None => Config::infer()
            .await
            .map_err(|e| ClientError::Client(Box::new(e)))?,
    };
    let builder = ClientBuilder::try_from(config).map_err(|e| ClientError::Client(Box::new(e)))?;
    Ok(builder
        .with_layer(&TimeoutLayer::new(request_timeout))
        .build())
}

/// The longest an API request may wait for its response to start. Without
/// it, a request sent on a connection whose peer vanished (a node cut off
/// from the API server for a moment, an API server restarted behind a
/// load balancer) waits forever, and so does whatever awaits it: the
/// lease renewal, the controller's pass, the speaker's status writes.
/// Watches are unaffected: their response starts at once and their body is
/// guarded by the watcher's own idle timeout. 30 s is half the API
/// server's own limit for a request (`--request-timeout`, 60 s).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// This host's name, for identities in Leases and Events.
pub fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

/// Runs `serve` to completion on a multi-threaded runtime; an error is
/// logged as the reason `name` stopped, and is the exit status.
pub fn run_main<E: Display>(name: &str, serve: impl Future<Output = Result<(), E>>) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            error!(error = %e, "cannot start the runtime");
            return ExitCode::FAILURE;
        }
    };
    {
        // The watcher's task and signal handler belong to this runtime.
        let _entered = runtime.enter();
        crate::logging::watch_level_file();
    }
    match runtime.block_on(serve) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!(error = %e, "{name} stopped");
            ExitCode::FAILURE
        }
    }
}

/// Completes on SIGTERM (the kubelet stopping the pod) or SIGINT.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = sigterm.recv() => info!("SIGTERM: shutting down"),
            _ = tokio::signal::ctrl_c() => info!("interrupt: shutting down"),
        }
    })
}

/// Why a Kubernetes program could not start serving.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Listen(#[from] ListenError),
    #[error("cannot install the signal handler: {0}")]
    Signal(#[source] std::io::Error),
}

/// What the controller and the speaker hold once [`start`]ed.
pub struct Started<M, S> {
    pub client: Client,
    /// The program's metrics, registered in the endpoint's registry.
    pub metrics: Arc<M>,
    /// Served as `/readyz`; false until the program says it is ready.
    pub ready: Arc<AtomicBool>,
    /// The `/metrics` `/healthz` `/readyz` task, for the caller to abort
    /// when its program ends.
    pub server: JoinHandle<()>,
    /// Completes on SIGTERM or SIGINT ([`shutdown_signal`]).
    pub shutdown: S,
}

/// The start every Kubernetes program shares: the API client (from
/// `kubeconfig`, see [`client`]), its metrics (`register` adds them to a
/// fresh registry), the endpoint on `metrics_addr`, not ready yet, and the
/// shutdown signal, installed before the program does anything that a
/// signal should interrupt.
pub async fn start<M>(
    kubeconfig: Option<&Path>,
    metrics_addr: SocketAddr,
    register: impl FnOnce(&mut Registry) -> M,
) -> Result<Started<M, impl Future<Output = ()>>, StartError> {
    let client = client(kubeconfig).await?;
    let mut registry = Registry::default();
    let metrics = Arc::new(register(&mut registry));
    let ready = Arc::new(AtomicBool::new(false));
    let server = http::start(
        metrics_addr,
        Endpoint {
            registry: Arc::new(registry),
            ready: ready.clone(),
        },
    )
    .await?;
    let shutdown = shutdown_signal().map_err(StartError::Signal)?;
    Ok(Started {
        client,
        metrics,
        ready,
        server,
        shutdown,
    })
}
