//! What every FerroLB process does first: logging and the API client.

use std::path::{Path, PathBuf};

use clap::ValueEnum;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// `--log-format`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

/// Logs to stderr through `level` (EnvFilter syntax); `RUST_LOG` wins.
pub fn init_logging(format: LogFormat, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

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
    Client::try_from(config).map_err(|e| ClientError::Client(Box::new(e)))
}

/// This host's name, for identities in Leases and Events.
pub fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}
