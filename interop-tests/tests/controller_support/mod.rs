//! Shared fixture of the controller tests: the test cluster
//! (`cluster_support`), and controller replicas running in-process with the
//! controller's identity.

#![allow(dead_code)]

#[path = "../cluster_support/mod.rs"]
mod cluster;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub use cluster::*;
use ferrolb_controller::leader::LeaseOptions;
use ferrolb_controller::metrics::Metrics;
use ferrolb_controller::reconcile::Options;
use ferrolb_controller::replica;
use prometheus_client::registry::Registry;
use tokio::runtime::Runtime;

/// One in-process controller replica on its own runtime, so that
/// [`Replica::kill`] can stop it like a crash (nothing runs afterwards:
/// the lease is not released).
pub struct Replica {
    pub identity: String,
    pub metrics: Arc<Metrics>,
    pub registry: Arc<Registry>,
    pub ready: Arc<AtomicBool>,
    runtime: Option<Runtime>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::sync::oneshot::Receiver<String>>,
}

impl Replica {
    /// Starts a replica with the controller's identity.
    pub fn start(cluster: &Cluster, identity: &str, lease: Duration) -> TestResult<Replica> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let mut registry = Registry::default();
        let metrics = Arc::new(Metrics::register(&mut registry));
        let ready = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (finished, done) = tokio::sync::oneshot::channel::<String>();
        let kubeconfig = cluster.controller_kubeconfig.clone();
        let (m, r, id) = (metrics.clone(), ready.clone(), identity.to_string());
        runtime.spawn(async move {
            let outcome = async {
                let client = client(&kubeconfig).await?;
                replica::run(
                    client,
                    Options {
                        namespace: NS.into(),
                        lb_class: None,
                        instance: id.clone(),
                        owner: None,
                    },
                    LeaseOptions {
                        namespace: NS.into(),
                        name: "ferrolb-controller".into(),
                        identity: id,
                        duration: lease,
                        grace: lease / 2,
                        owner: None,
                    },
                    m,
                    r,
                    async {
                        let _ = stopped.await;
                    },
                )
                .await?;
                TestResult::Ok(())
            }
            .await;
            let _ = finished.send(format!("{outcome:?}"));
        });
        Ok(Replica {
            identity: identity.into(),
            metrics,
            registry: Arc::new(registry),
            ready,
            runtime: Some(runtime),
            stop: Some(stop),
            done: Some(done),
        })
    }

    /// Graceful stop (SIGTERM): releases the lease. Returns how it ended.
    pub async fn stop(mut self) -> String {
        self.stop_now().await
    }

    /// [`Replica::stop`] for a replica the test keeps a handle on.
    pub async fn stop_now(&mut self) -> String {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let outcome = match self.done.take() {
            Some(d) => tokio::time::timeout(Duration::from_secs(15), d)
                .await
                .map_or_else(|_| "timed out".into(), |r| r.unwrap_or_default()),
            None => String::new(),
        };
        self.kill();
        outcome
    }

    /// Crash: every task of the replica stops where it is.
    pub fn kill(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}
