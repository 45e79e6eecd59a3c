//! Leader election over a `coordination.k8s.io/v1` Lease (through
//! `kube-lease-manager`, which takes the Lease with server-side apply, so
//! two replicas can never both win a round): only the holder runs the
//! reconciler, so two replicas never write at once.

use std::future::Future;
use std::time::Duration;

use kube::Client;
use kube_lease_manager::{LeaseManagerBuilder, LeaseManagerError};
use tracing::{info, warn};

/// The Lease and this replica's identity.
#[derive(Debug, Clone)]
pub struct LeaseOptions {
    /// Namespace of the Lease (the controller's).
    pub namespace: String,
    /// Lease name.
    pub name: String,
    /// This replica (pod name).
    pub identity: String,
    /// How long a lease lasts without renewal; a dead leader is replaced
    /// after at most this long.
    pub duration: Duration,
    /// How long before expiry the holder renews.
    pub grace: Duration,
}

/// Why leader election stopped.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// The Lease could not be read or created.
    #[error("cannot set up the lease {namespace}/{name}: {source}")]
    Setup {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// Why.
        source: LeaseManagerError,
    },
    /// The lease times cannot work (the lease manager would panic on them).
    #[error(
        "lease grace ({grace}s) must be at least 1s and shorter than the lease duration ({duration}s)"
    )]
    Times {
        /// `--lease-duration`, seconds.
        duration: u64,
        /// `--lease-grace`, seconds.
        grace: u64,
    },
    /// The election task ended on its own.
    #[error("the leader election task stopped")]
    Stopped,
}

/// Runs `work` whenever this replica holds the lease, and stops it (drops
/// the future) the moment the lease is lost; waits again afterwards. On
/// `shutdown` the lease is released, so a standby takes over at once
/// rather than after the lease expires. `work` returning ends the election
/// with its result. `standby` is called whenever the replica starts
/// waiting for the lease.
pub async fn run_while_leader<F, Fut, E>(
    client: Client,
    opts: LeaseOptions,
    shutdown: impl Future<Output = ()>,
    standby: impl Fn(),
    mut work: F,
) -> Result<Result<(), E>, LeaderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let (duration, grace) = (opts.duration.as_secs(), opts.grace.as_secs());
    if grace == 0 || grace >= duration {
        return Err(LeaderError::Times { duration, grace });
    }
    let manager = LeaseManagerBuilder::new(client, &opts.name)
        .with_namespace(&opts.namespace)
        .with_identity(&opts.identity)
        .with_duration(duration)
        .with_grace(grace)
        .build()
        .await
        .map_err(|source| LeaderError::Setup {
            namespace: opts.namespace.clone(),
            name: opts.name.clone(),
            source,
        })?;
    let (mut leading, election) = manager.watch().await;
    tokio::pin!(shutdown);
    let outcome = loop {
        standby();
        tokio::select! {
            () = &mut shutdown => break Ok(Ok(())),
            changed = leading.wait_for(|l| *l) => {
                if changed.is_err() {
                    break Err(LeaderError::Stopped);
                }
            }
        }
        info!(identity = %opts.identity, "became leader");
        tokio::select! {
            () = &mut shutdown => break Ok(Ok(())),
            lost = leading.wait_for(|l| !*l) => {
                if lost.is_err() {
                    break Err(LeaderError::Stopped);
                }
                warn!(identity = %opts.identity, "lost the lease; stopped writing");
            }
            result = work() => break Ok(result),
        }
    };
    // Closing the channel makes the election task release the lease.
    drop(leading);
    match tokio::time::timeout(Duration::from_secs(5), election).await {
        Ok(Ok(Ok(_))) => info!("lease released"),
        Ok(Ok(Err(e))) => warn!(error = %e, "cannot release the lease"),
        Ok(Err(e)) => warn!(error = %e, "leader election task failed"),
        Err(_) => warn!("lease release timed out"),
    }
    outcome
}
