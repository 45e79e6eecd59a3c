//! The event loop: one task owns the caches, the allocator and the writes.
//! Watch events are applied in batches; after each batch one pass decides
//! every Service and hands what differs to the write window
//! ([`super::inflight`]), whose writes go on while the next batches are
//! decided. A single writer keeps the allocator consistent without locks
//! and makes the order of decisions depend only on the inputs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ferrolb_crds::api::{ConfigurationStateStatus, IPAddressPool, IPAddressPoolStatus};
use ferrolb_k8s::batch::drain_ready;
use ferrolb_k8s::retry::RetryDelay;
use ferrolb_k8s::timer::sleep_until;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Client;
use tokio::time::Instant;
use tracing::{info, warn};

use super::config::{Finding, evaluate};
use super::core::{Core, Scope, Snapshot};
use super::inflight::{Done, Inflight, Job};
use super::plan::{Desired, Plan, Reason};
use super::views::{self, Views};
use super::writer::{WriteError, Writer};
use crate::ipam::{PoolStats, ServiceKey};
use crate::metrics::Metrics;

/// How the reconciler runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the `metallb.io` objects live (`metallb-system`).
    pub namespace: String,
    /// `--lb-class`: serve only Services of this `loadBalancerClass`.
    pub lb_class: Option<String>,
    /// This replica's name, in Events.
    pub instance: String,
    /// The controller's Deployment, owner of the `ConfigurationState`
    /// ([`ferrolb_k8s::owner`]); `None` outside a Deployment.
    pub owner: Option<OwnerReference>,
}

/// Why the reconciler stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The watch streams ended (they only do when the client is gone).
    #[error("the watch streams ended")]
    StreamsEnded,
}

/// Services whose writes are in flight at once, across passes: enough to
/// keep the API server busy, few enough not to flood it.
pub const WRITE_CONCURRENCY: usize = 16;
/// Minimum interval between two rounds of pool status writes.
const POOL_STATUS_EVERY: Duration = Duration::from_secs(1);

/// Everything one reconciler run owns.
pub(super) struct Reconciler {
    opts: Options,
    writer: Writer,
    metrics: Arc<Metrics>,
    core: Core,
    /// The Service writes queued and under way.
    inflight: Inflight,
    /// Service writes the cache has not caught up with yet: the
    /// resourceVersions that predate the write's last step, and what was
    /// written. While the cache shows one of those versions, the write is
    /// not repeated.
    written: HashMap<ServiceKey, (BTreeSet<Option<String>>, Desired)>,
    /// Same for pool status.
    pools_written: HashMap<String, (Option<String>, IPAddressPoolStatus)>,
    /// The configuration verdict last reported, and its findings.
    reported: Option<(ConfigurationStateStatus, Vec<Finding>)>,
    retry_at: Option<Instant>,
    /// Grows while retries keep failing (the API server away), back to
    /// its first value once a write succeeds.
    retry_delay: RetryDelay,
    /// Pool status is written at most once per [`POOL_STATUS_EVERY`]: it
    /// changes with every assignment, and is for people, not for
    /// decisions.
    pool_status_at: Option<Instant>,
    pool_status_due: bool,
    /// A configuration was put in force once (`config_loaded_bool`).
    loaded: bool,
}

/// Runs the reconciler until the watch streams end or the future is
/// dropped (leadership lost, shutdown). `ready` turns true once every view
/// is complete.
pub async fn run(
    client: Client,
    opts: Options,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
) -> Result<(), RunError> {
    let ns = opts.namespace.clone();
    let mut inputs = views::inputs(&client, &ns);
    let mut views = Views::new();
    let writer = Writer::new(client, ns, opts.instance.clone(), opts.owner.clone());
    let mut r = Reconciler::new(writer, opts, metrics);
    loop {
        let retry = r.retry_at;
        let flush = r.pool_status_due.then_some(r.pool_status_at).flatten();
        let timer_fired = tokio::select! {
            i = inputs.next() => {
                views.apply(i.ok_or(RunError::StreamsEnded)?);
                r.metrics.client.processed(1);
                false
            }
            () = sleep_until(retry), if retry.is_some() => true,
            () = sleep_until(flush), if flush.is_some() => {
                r.flush_pool_status(&views).await;
                continue;
            }
            Some(done) = r.inflight.next(), if r.inflight.busy() => {
                // The writes that ended meanwhile too: one pass for all.
                let mut again: BTreeSet<ServiceKey> =
                    r.finish(done, views.services.items()).into_iter().collect();
                while let Some(Some(done)) = r.inflight.next().now_or_never() {
                    again.extend(r.finish(done, views.services.items()));
                }
                r.inflight.start(&r.writer);
                if again.is_empty() {
                    continue;
                }
                // Decided now, not at the next event: there may be none.
                views.dirty.merge(Scope::Services(again));
                false
            }
        };
        // One pass per batch, not per event.
        let mut events = 0;
        drain_ready(&mut inputs, |i| {
            views.apply(i);
            events += 1;
        });
        r.metrics.client.processed(events);
        if !views.synced() {
            continue;
        }
        ready.store(true, Ordering::Release);
        if timer_fired {
            // The retry timer: failed writes are found by looking at all.
            // Only that pass clears it: writes end between passes, and a
            // failure must not be forgotten by a pass that looks at other
            // Services.
            views.dirty.merge(Scope::All);
            r.retry_at = None;
        }
        r.pass(&mut views).await;
    }
}

impl Reconciler {
    fn new(writer: Writer, opts: Options, metrics: Arc<Metrics>) -> Self {
        Reconciler {
            core: Core::new(opts.lb_class.clone()),
            inflight: Inflight::new(WRITE_CONCURRENCY),
            writer,
            opts,
            metrics,
            written: HashMap::new(),
            pools_written: HashMap::new(),
            reported: None,
            retry_at: None,
            retry_delay: RetryDelay::default(),
            pool_status_at: None,
            pool_status_due: false,
            loaded: false,
        }
    }

    async fn pass(&mut self, views: &mut Views) {
        if views.config_dirty {
            views.config_dirty = false;
            self.load_config(views).await;
        }
        let namespaces = views.namespace_labels();
        let scope = std::mem::take(&mut views.dirty);
        let plan = self.core.sync(
            Snapshot {
                services: views.services.items(),
                namespaces: &namespaces,
            },
            &scope,
        );
        self.execute(plan, views.services.items());
        self.pool_status_due = true;
        if self.pool_status_at.is_none_or(|at| at <= Instant::now()) {
            self.flush_pool_status(views).await;
        }
    }

    /// Metrics and pool status from the allocator's statistics.
    async fn flush_pool_status(&mut self, views: &Views) {
        let stats = self.core.pool_stats();
        self.metrics.update(&stats);
        self.write_pool_status(&stats, views.config.pools().items())
            .await;
        self.pool_status_due = false;
        self.pool_status_at = Some(Instant::now() + POOL_STATUS_EVERY);
    }

    async fn load_config(&mut self, views: &mut Views) {
        let verdict = evaluate(&views.resources(&self.opts.namespace));
        match verdict.pools {
            Some(pools) => {
                info!(pools = pools.pools().len(), "configuration loaded");
                self.core.set_pools(pools);
                self.loaded = true;
                self.metrics.client.config_loaded();
            }
            None => {
                warn!(
                    errors = %verdict.status.error_summary,
                    "configuration refused; keeping the last valid one"
                );
                self.metrics.client.config_refused(self.loaded);
            }
        }
        let told = self.reported.as_ref();
        if told.is_some_and(|(s, f)| *s == verdict.status && *f == verdict.findings) {
            return;
        }
        let old: &[Finding] = told.map_or(&[], |(_, f)| f);
        for f in verdict.findings.iter().filter(|f| !old.contains(f)) {
            if let Err(e) = self
                .writer
                .config_event(f.object.as_ref(), f.error, &f.message)
                .await
            {
                warn!(error = %e, finding = %f.message, "cannot publish a configuration event");
            }
        }
        match self.writer.configuration_state(&verdict.status).await {
            Ok(()) => {
                self.reported = Some((verdict.status, verdict.findings));
                self.retry_delay.succeeded();
            }
            Err(e) => {
                warn!(error = %e, "cannot write ConfigurationState; retrying");
                self.metrics.client.failed();
                self.reported = None;
                views.config_dirty = true;
                self.schedule_retry();
            }
        }
    }

    /// A write failed: a pass over every Service after the retry delay,
    /// unless one is due already (the failures of one round wait once).
    fn schedule_retry(&mut self) {
        if self.retry_at.is_none() {
            self.retry_at = Some(Instant::now() + self.retry_delay.failed());
        }
    }

    /// Hands the plan's writes and Events to the write window; returns at
    /// once.
    pub(super) fn execute(&mut self, plan: Plan, services: &BTreeMap<ServiceKey, Service>) {
        // A write whose effect the cache does not show yet needs no repeat.
        self.written.retain(|k, (stale, _)| {
            services
                .get(k)
                .is_some_and(|s| stale.contains(&s.metadata.resource_version))
        });
        // One job per Service: its write, then its Events, so that Events
        // follow the status they describe and Services proceed in parallel.
        let mut jobs: BTreeMap<ServiceKey, Job> = BTreeMap::new();
        for (key, desired) in plan.writes {
            if self.written.get(&key).is_some_and(|(_, d)| *d == desired) {
                continue;
            }
            jobs.entry(key).or_default().write = Some(desired);
        }
        for note in plan.notes {
            match note.reason {
                Reason::IpAllocated => self.metrics.assigned(),
                Reason::AllocationFailed => self.metrics.assignment_failed(),
                _ => {}
            }
            info!(service = %note.key, reason = note.reason.as_str(), message = %note.message, "event");
            jobs.entry(note.key.clone()).or_default().notes.push(note);
        }
        for (key, job) in jobs {
            if let Some(svc) = services.get(&key) {
                self.inflight.submit(key, svc.clone(), job);
            }
        }
        self.inflight.start(&self.writer);
    }

    /// Takes in a job that ended; returns its Service when it must be
    /// decided again ([`Done::must_decide_again`]) on `services`, the
    /// latest view.
    pub(super) fn finish(
        &mut self,
        done: Done,
        services: &BTreeMap<ServiceKey, Service>,
    ) -> Option<ServiceKey> {
        let again = done
            .must_decide_again(services.get(&done.key))
            .then(|| done.key.clone());
        let Done {
            key,
            based_on,
            write,
            result,
            ..
        } = done;
        let (Some(desired), Some(result)) = (write, result) else {
            return again;
        };
        match result {
            Ok(mut produced) => {
                // The final version is the one the cache will show.
                produced.pop();
                let mut stale: BTreeSet<Option<String>> = produced.into_iter().collect();
                stale.insert(based_on);
                self.written.insert(key, (stale, desired));
                self.retry_delay.succeeded();
            }
            // Someone else changed (or deleted) the Service: decided again
            // at once when the watch has shown it already, else at its
            // event.
            Err(WriteError::Conflict { .. } | WriteError::Gone { .. }) => {}
            Err(e) => {
                warn!(service = %key, error = %e, "status write failed; retrying");
                self.metrics.client.failed();
                self.schedule_retry();
            }
        }
        again
    }

    async fn write_pool_status(
        &mut self,
        stats: &[PoolStats],
        pools: &BTreeMap<String, IPAddressPool>,
    ) {
        let ns = self.opts.namespace.clone();
        self.pools_written.retain(|name, (rv, _)| {
            pools
                .get(&format!("{ns}/{name}"))
                .is_some_and(|p| p.metadata.resource_version == *rv)
        });
        for s in stats {
            let Some(obj) = pools.get(&format!("{ns}/{}", s.pool)) else {
                continue;
            };
            let status = IPAddressPoolStatus {
                assigned_ipv4: saturate(s.v4.assigned),
                assigned_ipv6: saturate(s.v6.assigned),
                available_ipv4: saturate(s.v4.available),
                available_ipv6: saturate(s.v6.available),
            };
            let rv = obj.metadata.resource_version.clone();
            if obj.status.as_ref() == Some(&status)
                || self.pools_written.get(&s.pool) == Some(&(rv.clone(), status.clone()))
            {
                continue;
            }
            match self.writer.pool_status(&s.pool, &status).await {
                Ok(()) => {
                    self.pools_written.insert(s.pool.clone(), (rv, status));
                }
                Err(WriteError::Gone { .. }) => {}
                Err(e) => {
                    warn!(pool = %s.pool, error = %e, "cannot write pool status; retrying");
                    self.metrics.client.failed();
                    self.schedule_retry();
                }
            }
        }
    }
}

#[cfg(test)]
impl Reconciler {
    pub(super) fn for_tests(writer: Writer, metrics: Arc<Metrics>) -> Self {
        let opts = Options {
            namespace: "metallb-system".into(),
            lb_class: None,
            instance: "test".into(),
            owner: None,
        };
        Reconciler::new(writer, opts, metrics)
    }

    /// Waits for every queued and running write; returns the Services to
    /// decide again on `services`.
    pub(super) async fn settle(
        &mut self,
        services: &BTreeMap<ServiceKey, Service>,
    ) -> BTreeSet<ServiceKey> {
        let mut again = BTreeSet::new();
        while let Some(done) = self.inflight.next().await {
            again.extend(self.finish(done, services));
            self.inflight.start(&self.writer);
        }
        again
    }

    /// Ends the next running write; `None` when none runs.
    pub(super) async fn finish_next(
        &mut self,
        services: &BTreeMap<ServiceKey, Service>,
    ) -> Option<Option<ServiceKey>> {
        let done = self.inflight.next().await?;
        let again = self.finish(done, services);
        self.inflight.start(&self.writer);
        Some(again)
    }

    pub(super) fn retry_scheduled(&self) -> bool {
        self.retry_at.is_some()
    }

    /// How long until the retry pass; `None` when none is scheduled.
    pub(super) fn retry_in(&self) -> Option<Duration> {
        self.retry_at.map(|at| at - Instant::now())
    }

    /// The retry timer fired (what the run loop does before its pass).
    pub(super) fn retry_fired(&mut self) {
        self.retry_at = None;
    }

    pub(super) fn remembers(&self, key: &ServiceKey) -> bool {
        self.written.contains_key(key)
    }
}

fn saturate(v: u128) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
