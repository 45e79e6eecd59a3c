//! One controller replica: leader election around the reconciler. The
//! binary adds flags, logging, the metrics endpoint and signals; tests run
//! this directly.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use kube::Client;

use crate::leader::{LeaderError, LeaseOptions, run_while_leader};
use crate::metrics::Metrics;
use crate::reconcile::{self, Options, RunError};

/// Why a replica stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    /// Leader election failed.
    #[error(transparent)]
    Leader(#[from] LeaderError),
    /// The reconciler stopped.
    #[error(transparent)]
    Run(#[from] RunError),
}

/// Runs the reconciler while this replica leads, until `shutdown`.
/// `ready` is true while standing by, and while leading once every view is
/// complete.
pub async fn run(
    client: Client,
    opts: Options,
    lease: LeaseOptions,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ReplicaError> {
    // Standing by is ready: the replica is healthy and would take over.
    let standby = || {
        ready.store(true, Ordering::Release);
        metrics.standby();
    };
    let work = || {
        ready.store(false, Ordering::Release);
        metrics.client.awaiting();
        reconcile::run(client.clone(), opts.clone(), metrics.clone(), ready.clone())
    };
    run_while_leader(client.clone(), lease, shutdown, standby, work).await??;
    Ok(())
}
