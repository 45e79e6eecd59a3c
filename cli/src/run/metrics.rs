//! `ferrolb run --metrics-addr`: on one endpoint, what the Kubernetes
//! speaker exports (BGP, BFD, Layer 2, the membership, the configuration
//! state) and the controller's allocator metrics (pools, assignments),
//! under the same names, so that one dashboard serves both modes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ferrolb_controller::ipam::PoolStats;
use ferrolb_controller::metrics::Metrics as AllocatorMetrics;
use ferrolb_controller::reconcile::plan::Reason;
use ferrolb_k8s::http::{self, Endpoint, ListenError};
use ferrolb_speaker::metrics::Metrics as SpeakerMetrics;
use prometheus_client::registry::Registry;

use super::AbortOnDrop;

/// The endpoint, serving until dropped.
pub struct StandaloneMetrics {
    pub speaker: Arc<SpeakerMetrics>,
    allocator: AllocatorMetrics,
    /// `/readyz`: true once a configuration is in force.
    ready: Arc<AtomicBool>,
    _server: AbortOnDrop,
}

impl StandaloneMetrics {
    /// Listens on `addr` (`/metrics`, `/healthz`, `/readyz`).
    pub async fn start(addr: SocketAddr) -> Result<StandaloneMetrics, ListenError> {
        let mut registry = Registry::default();
        // The speaker's registers `metallb_k8s_client_*`: the allocator's
        // must not a second time.
        let speaker = Arc::new(SpeakerMetrics::register(&mut registry));
        let allocator = AllocatorMetrics::register_allocator(&mut registry);
        let ready = Arc::new(AtomicBool::new(false));
        let server = http::start(
            addr,
            Endpoint {
                registry: Arc::new(registry),
                ready: ready.clone(),
            },
        )
        .await?;
        Ok(StandaloneMetrics {
            speaker,
            allocator,
            ready,
            _server: AbortOnDrop(server),
        })
    }

    /// After a reload that put a configuration in force: the pools'
    /// usage, one count per assignment or refusal the allocator noted, and
    /// ready.
    pub fn reloaded<'a>(&self, pools: &[PoolStats], notes: impl IntoIterator<Item = &'a Reason>) {
        self.allocator.update(pools);
        for reason in notes {
            match reason {
                Reason::IpAllocated => self.allocator.assigned(),
                Reason::AllocationFailed => self.allocator.assignment_failed(),
                _ => {}
            }
        }
        self.ready.store(true, Ordering::Relaxed);
    }

    /// The files were refused before they reached the configuration (a
    /// YAML error): the configuration in force, if any, is now stale.
    pub fn files_refused(&self, in_force: bool) {
        self.speaker.client.config_refused(in_force);
    }
}
