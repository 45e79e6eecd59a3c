//! Leader election over a `coordination.k8s.io/v1` Lease (through
//! `kube-lease-manager`, which takes the Lease with server-side apply, so
//! two replicas can never both win a round): only the holder runs the
//! reconciler, so two replicas never write at once.

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use kube_lease_manager::{LeaseManagerBuilder, LeaseManagerError};
use serde_json::json;
use tokio::time::Instant;
use tracing::{debug, info, warn};

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
    /// Owner of the Lease (the controller's Deployment, so that the Lease
    /// goes with it: [`ferrolb_k8s::owner`]); `None` outside a Deployment.
    pub owner: Option<OwnerReference>,
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
    /// The Lease could not be given its owner.
    #[error("cannot set the owner of the lease {namespace}/{name}: {source}")]
    Owner {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// Why.
        source: kube::Error,
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
    let leases: Api<Lease> = Api::namespaced(client.clone(), &opts.namespace);
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
    if let Some(owner) = &opts.owner {
        // The lease manager created the Lease (or found it) without owner;
        // its server-side applies never touch ownerReferences, so this
        // merge patch (the list replaced whole) stays.
        let patch = json!({ "metadata": { "ownerReferences": [owner] } });
        leases
            .patch(&opts.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|source| LeaderError::Owner {
                namespace: opts.namespace.clone(),
                name: opts.name.clone(),
                source,
            })?;
    }
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
        // The lease manager says this replica leads; the Lease must say so
        // too (after a fence, the manager may not have noticed yet).
        tokio::select! {
            () = &mut shutdown => break Ok(Ok(())),
            () = confirmed(&leases, &opts) => {}
            lost = leading.wait_for(|l| !*l) => {
                if lost.is_err() {
                    break Err(LeaderError::Stopped);
                }
                continue;
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
            () = fence(&leases, &opts) => {
                warn!(identity = %opts.identity, "cannot confirm the lease; stopped writing");
            }
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

/// How often the leader re-reads its Lease.
const FENCE_EVERY: Duration = Duration::from_secs(1);

/// Resolves when this replica can no longer be sure it holds the lease:
/// the Lease names another holder, or the lease as last seen renewed runs
/// out (renewals keep failing). The lease manager alone notices only when
/// it sees another holder, so without this a leader cut off from renewing
/// would keep writing after a standby took over. The margin of one
/// [`FENCE_EVERY`] covers the time between two reads.
async fn fence(leases: &Api<Lease>, opts: &LeaseOptions) {
    // Just acquired or renewed: valid for at least duration - grace.
    let mut valid_until = Instant::now() + opts.duration.saturating_sub(opts.grace);
    loop {
        tokio::time::sleep(FENCE_EVERY).await;
        // A read may hang (an API server that accepts and never answers,
        // a partition that drops packets; the client has no read timeout):
        // it must not keep the fence open past the lease.
        let left = valid_until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, leases.get(&opts.name)).await {
            Ok(Ok(lease)) => {
                let spec = lease.spec.unwrap_or_default();
                match remaining(&spec, &opts.identity, Timestamp::now()) {
                    Some(left) => {
                        valid_until = Instant::now() + left.saturating_sub(FENCE_EVERY);
                    }
                    None => return,
                }
            }
            Ok(Err(e)) => debug!(error = %e, "cannot read the lease"),
            Err(_) => debug!("no answer to the lease read before the lease ran out"),
        }
        if Instant::now() >= valid_until {
            return;
        }
    }
}

/// Resolves once the Lease names this replica with more than one
/// [`FENCE_EVERY`] left.
async fn confirmed(leases: &Api<Lease>, opts: &LeaseOptions) {
    loop {
        match leases.get(&opts.name).await {
            Ok(lease) => {
                let spec = lease.spec.unwrap_or_default();
                if remaining(&spec, &opts.identity, Timestamp::now())
                    .is_some_and(|l| l > FENCE_EVERY)
                {
                    return;
                }
            }
            Err(e) => debug!(error = %e, "cannot read the lease"),
        }
        tokio::time::sleep(FENCE_EVERY).await;
    }
}

/// Time left on the lease for `identity` at wall-clock `now`
/// (`renewTime + leaseDurationSeconds - now`, zero when past); `None` when
/// another identity (or nobody) holds it.
pub fn remaining(spec: &LeaseSpec, identity: &str, now: Timestamp) -> Option<Duration> {
    if spec.holder_identity.as_deref() != Some(identity) {
        return None;
    }
    let renewed = spec.renew_time.as_ref().or(spec.acquire_time.as_ref())?;
    let seconds = i64::from(spec.lease_duration_seconds.unwrap_or(0));
    let expiry_ms = renewed
        .0
        .as_millisecond()
        .saturating_add(seconds.saturating_mul(1000));
    let left_ms = expiry_ms.saturating_sub(now.as_millisecond()).max(0);
    Some(Duration::from_millis(u64::try_from(left_ms).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

    use super::*;

    fn spec(holder: Option<&str>, renewed_ms: i64, seconds: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: holder.map(Into::into),
            renew_time: Some(MicroTime(Timestamp::from_millisecond(renewed_ms).unwrap())),
            lease_duration_seconds: Some(seconds),
            ..Default::default()
        }
    }

    #[test]
    fn time_left_counts_from_the_last_renewal() {
        let now = Timestamp::from_millisecond(100_000).unwrap();
        let s = spec(Some("me"), 97_000, 15);
        assert_eq!(remaining(&s, "me", now), Some(Duration::from_secs(12)));
        let expired = spec(Some("me"), 50_000, 15);
        assert_eq!(remaining(&expired, "me", now), Some(Duration::ZERO));
    }

    #[test]
    fn another_holder_or_none_means_not_ours() {
        let now = Timestamp::from_millisecond(100_000).unwrap();
        assert_eq!(remaining(&spec(Some("other"), 99_000, 15), "me", now), None);
        assert_eq!(remaining(&spec(None, 99_000, 15), "me", now), None);
        assert_eq!(remaining(&LeaseSpec::default(), "me", now), None);
    }
}
