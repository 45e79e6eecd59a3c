//! The Service writes under way, across passes: at most a window of
//! Services in flight, the rest queued in decision order. A pass hands its
//! jobs over and returns at once, so the next batch of watch events is
//! decided while earlier writes are still on the wire: the API server sees
//! a steady window of requests, not one burst per pass ending on its
//! slowest write.
//!
//! Each job carries the Service as the latest decision saw it: its write
//! is guarded by that `resourceVersion`, however long it queued, so a
//! Service changed meanwhile refuses it (409). One job per Service at a
//! time, so two writes of one Service never race: a decision for a Service
//! whose write is running is not written, and the Service is decided again
//! once the write ends ([`Done::must_decide_again`]) whenever the view it
//! will be decided on may differ from what the write assumed or produced.

use std::collections::{HashMap, HashSet, VecDeque};

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use k8s_openapi::api::core::v1::Service;
use tracing::{Instrument, debug, info, info_span, warn};

use super::plan::{Desired, Note};
use super::writer::{WriteError, Writer, reference};
use crate::ipam::ServiceKey;

/// What one Service needs: its write (if its status or annotation differ),
/// then its Events, so that Events follow the status they describe.
#[derive(Default)]
pub(super) struct Job {
    pub(super) write: Option<Desired>,
    pub(super) notes: Vec<Note>,
}

/// How a job ended.
pub(super) struct Done {
    pub(super) key: ServiceKey,
    /// The `resourceVersion` the write was based on.
    pub(super) based_on: Option<String>,
    pub(super) write: Option<Desired>,
    /// The versions the write produced, or why it failed; `None` without a
    /// write.
    pub(super) result: Option<Result<Vec<Option<String>>, WriteError>>,
    /// A different decision came while the write ran: decide this
    /// Service again.
    pub(super) decide_again: bool,
}

impl Done {
    /// Whether the Service must be decided again now, `latest` being the
    /// newest version the watch has shown of it. A pass that saw the
    /// Service while its write ran could not write (one job per Service),
    /// so its decision is lost unless made again here: when it differed
    /// from the write, or when the watch shows a version that is neither
    /// the one the write was based on nor one the write produced: someone
    /// else changed the Service (before the write, which then failed with
    /// a conflict, or after it, undoing it) and nothing else would look at
    /// it until its next event. A version of the write's own needs
    /// nothing: its content is the write's. A deleted Service was released
    /// by the pass that saw it go.
    pub(super) fn must_decide_again(&self, latest: Option<&Service>) -> bool {
        if self.decide_again {
            return true;
        }
        let Some(latest) = latest else {
            return false;
        };
        let seen = &latest.metadata.resource_version;
        let produced: &[Option<String>] = match &self.result {
            Some(Ok(produced)) => produced,
            _ => &[],
        };
        *seen != self.based_on && !produced.contains(seen)
    }
}

/// The queue and the running jobs.
pub(super) struct Inflight {
    window: usize,
    running: FuturesUnordered<BoxFuture<'static, Done>>,
    /// What each running job writes.
    running_writes: HashMap<ServiceKey, Option<Desired>>,
    /// Keys in decision order; each has its job in `queued`.
    order: VecDeque<ServiceKey>,
    /// Each queued job with the Service its decision saw.
    queued: HashMap<ServiceKey, (Service, Job)>,
    /// Events decided while the Service's write ran, published after it.
    later: HashMap<ServiceKey, (Service, Vec<Note>)>,
    /// Services decided differently while their write ran.
    changed: HashSet<ServiceKey>,
}

impl Inflight {
    pub(super) fn new(window: usize) -> Self {
        Inflight {
            window: window.max(1),
            running: FuturesUnordered::new(),
            running_writes: HashMap::new(),
            order: VecDeque::new(),
            queued: HashMap::new(),
            later: HashMap::new(),
            changed: HashSet::new(),
        }
    }

    /// Whether a job is running (then [`Inflight::next`] will yield).
    pub(super) fn busy(&self) -> bool {
        !self.running.is_empty()
    }

    /// Hands over one Service's job, decided on `svc`. A queued job takes
    /// the newer decision (and its version) and keeps its Events; a
    /// running one finishes first.
    pub(super) fn submit(&mut self, key: ServiceKey, svc: Service, job: Job) {
        if let Some(running) = self.running_writes.get(&key) {
            if job.write.is_some() && job.write != *running {
                self.changed.insert(key.clone());
            }
            if !job.notes.is_empty() {
                self.later
                    .entry(key)
                    .or_insert_with(|| (svc, Vec::new()))
                    .1
                    .extend(job.notes);
            }
            return;
        }
        match self.queued.get_mut(&key) {
            Some((seen, queued)) => {
                // The newest decision wins, no write included: a queued
                // write decided on an older version would only be refused.
                *seen = svc;
                queued.write = job.write;
                queued.notes.extend(job.notes);
            }
            None => {
                self.order.push_back(key.clone());
                self.queued.insert(key, (svc, job));
            }
        }
    }

    /// Starts queued jobs, oldest first, while the window has room.
    pub(super) fn start(&mut self, writer: &Writer) {
        while self.running.len() < self.window {
            let Some(key) = self.order.pop_front() else {
                return;
            };
            let Some((svc, job)) = self.queued.remove(&key) else {
                continue;
            };
            self.running_writes.insert(key.clone(), job.write.clone());
            self.running
                .push(Box::pin(run_job(writer.clone(), key, svc, job)));
        }
    }

    /// The next job to end; `None` when none runs.
    pub(super) async fn next(&mut self) -> Option<Done> {
        let mut done = self.running.next().await?;
        self.running_writes.remove(&done.key);
        done.decide_again = self.changed.remove(&done.key);
        if let Some((svc, notes)) = self.later.remove(&done.key) {
            // The Events wait for nothing but a slot.
            self.submit(done.key.clone(), svc, Job { write: None, notes });
        }
        Some(done)
    }
}

async fn run_job(writer: Writer, key: ServiceKey, svc: Service, job: Job) -> Done {
    let span = info_span!("service", service = %key);
    async move {
        let result = match &job.write {
            Some(desired) => Some(writer.service(&svc, desired).await),
            None => None,
        };
        match (&result, &job.write) {
            (Some(Ok(_)), Some(desired)) => info!(assigned = %desired, "status written"),
            (Some(Err(e)), _) => debug!(error = %e, "status not written"),
            _ => {}
        }
        let regarding = reference(&svc);
        for n in &job.notes {
            if let Err(e) = writer.event(&regarding, n.reason, &n.message).await {
                warn!(error = %e, reason = n.reason.as_str(), "cannot publish an event");
            }
        }
        Done {
            key,
            based_on: svc.metadata.resource_version.clone(),
            write: job.write,
            result,
            decide_again: false,
        }
    }
    .instrument(span)
    .await
}
