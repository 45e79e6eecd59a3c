//! The Kubernetes shell of the speaker's pass: one task owns the views, the
//! pass and the writes. Watch events are applied in batches; after each
//! batch the pass ([`crate::pass::Speaker`]) decides and announces, and this
//! shell publishes its report as status objects and Events. Announcing comes
//! first: status writes never delay a route.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ferrolb_k8s::batch::drain_ready;
use ferrolb_k8s::retry::RetryDelay;
use ferrolb_k8s::timer::sleep_until;
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::{Client, Resource};
use serde_json::json;
use tokio::time::Instant;
use tracing::{Instrument, info_span, warn};

use super::coalesce::Coalesce;
use super::slices::served_version;
use super::views::{Views, inputs};
use super::writer::{Session, StatusKind, Writer};
use crate::announce::{GracefulRestartSettings, L2Settings};
use crate::decide::Changed;
use crate::memory::Trim;
use crate::metrics::Metrics;
use crate::pass::{Change, Report, Services, Settings, Speaker};
use crate::report::{BfdEvents, session_status};

/// How the speaker runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the `metallb.io` objects live, and where status objects go.
    pub namespace: String,
    /// This node's name (the downward API's `spec.nodeName`).
    pub node: String,
    /// Serve only Services of this `loadBalancerClass`.
    pub lb_class: Option<String>,
    /// Router ID when a BGPPeer sets none; else the Node's first IPv4
    /// address.
    pub router_id: Option<Ipv4Addr>,
    /// Accept routers' connections here too.
    pub bgp_listen: Option<SocketAddr>,
    /// Label selector of the speaker pods in `namespace`: the nodes running
    /// one are the Layer-2 membership's known members.
    pub speaker_selector: String,
    /// Layer-2 announcement options and interface rules.
    pub l2: L2Settings,
    /// Graceful restart (restart time, restart marker, SIGTERM behaviour).
    pub graceful_restart: GracefulRestartSettings,
    /// The speaker's Pod, owner of its status objects; `None` outside a
    /// Pod.
    pub owner: Option<OwnerReference>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the watch streams ended")]
    StreamsEnded,
}

/// At most one `NodeAnnouncementState` write per node in this time: the
/// reasons of a busy cluster change with every endpoint that moves.
const REASONS_INTERVAL: Duration = Duration::from_secs(10);
/// How long a graceful stop may spend deleting status objects.
const CLEAR_TIMEOUT: Duration = Duration::from_secs(3);

/// Runs until `shutdown` completes, then withdraws every route, closes every
/// session with Cease / Administrative Shutdown and deletes this node's
/// status objects.
pub async fn run(
    client: Client,
    opts: Options,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    let span = info_span!("speaker", node = %opts.node);
    async move {
        let version = served_version(&client).await;
        let mut inputs = inputs(&client, &opts.namespace, &opts.speaker_selector, version);
        let mut views = Views::new();
        let mut writer = Writer::new(
            client.clone(),
            opts.namespace.clone(),
            opts.node.clone(),
            opts.owner.clone(),
        );
        if let Err(e) = writer.load().await {
            warn!(error = %e, "cannot list this node's status objects; stale ones stay until rewritten");
        }
        let client_metrics = Arc::clone(&metrics);
        let mut speaker = Speaker::new(Settings {
            node: opts.node.clone(),
            router_id: opts.router_id,
            bgp_listen: opts.bgp_listen,
            l2: opts.l2.clone(),
            graceful_restart: opts.graceful_restart.clone(),
            metrics: Some(metrics),
        });
        let mut shell = Shell {
            opts,
            writer,
            written: true,
            bfd_events: BfdEvents::default(),
            reasons: Coalesce::new(REASONS_INTERVAL),
        };
        let mut retry_at: Option<Instant> = None;
        let mut retry_delay = RetryDelay::default();
        let mut trim = Trim::default();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                input = inputs.next() => {
                    views.apply(input.ok_or(RunError::StreamsEnded)?);
                    let mut events = 1;
                    drain_ready(&mut inputs, |i| {
                        views.apply(i);
                        events += 1;
                    });
                    client_metrics.client.processed(events);
                    if views.synced() {
                        shell.pass(&mut speaker, &mut views).await;
                        ready.store(true, Ordering::Release);
                    }
                    // Decoding the events (and a relist above all) freed
                    // far more than the views keep.
                    trim.after_work();
                }
                change = speaker.changed() => match change {
                    Change::Layer2 => {
                        let report = speaker.apply_l2();
                        shell.publish(&speaker, &views, report).await;
                    }
                    Change::Sessions => shell.write_sessions(&mut speaker, &views).await,
                    Change::LinkPeer => {
                        speaker.apply_bgp().await;
                        shell.write_sessions(&mut speaker, &views).await;
                    }
                },
                () = sleep_until(trim.due()), if trim.due().is_some() => trim.run(),
                () = sleep_until(shell.reasons.due()), if shell.reasons.due().is_some() => {
                    shell.write_reasons(&speaker).await;
                }
                () = sleep_until(retry_at), if retry_at.is_some() => {
                    retry_at = None;
                    shell.write_all(&mut speaker, &views).await;
                }
                () = &mut shutdown => break,
            }
            if shell.written {
                retry_delay.succeeded();
            } else if retry_at.is_none() {
                // A round of status writes failed (once per retry round).
                client_metrics.client.failed();
                retry_at = Some(Instant::now() + retry_delay.failed());
            }
        }
        ready.store(false, Ordering::Release);
        speaker.shutdown("ferrolb-speaker stopping").await;
        let clear = shell.writer.clear();
        if tokio::time::timeout(CLEAR_TIMEOUT, clear).await.is_err() {
            warn!("status objects not all deleted before stopping");
        }
        Ok(())
    }
    .instrument(span)
    .await
}

/// What only the Kubernetes shell holds: the writer, its retry state and
/// the BFD transitions already told.
struct Shell {
    opts: Options,
    writer: Writer,
    /// The last status writes all succeeded.
    written: bool,
    bfd_events: BfdEvents,
    /// When this node's `NodeAnnouncementState` may be written next.
    reasons: Coalesce,
}

impl Shell {
    /// One pass over the current views, then its report.
    async fn pass(&mut self, speaker: &mut Speaker, views: &mut Views) {
        if views.config_dirty {
            views.config_dirty = false;
            speaker.configure(&views.config.resources(&self.opts.namespace));
        }
        let inputs = views.pass_inputs(&self.opts.node, self.opts.lb_class.as_deref());
        // A pass over every Service (the first, or after a relist) also
        // makes every status object right, among them those of Services
        // that went while nobody watched: a previous life's objects of a
        // Service deleted while this speaker was down are in no delta.
        let every_service = matches!(inputs.services, Services::All(_));
        let mut report = speaker.pass(inputs).await;
        if every_service {
            report.statuses = Changed::All;
        }
        self.publish(speaker, views, report).await;
        // Peers may have come or gone with the configuration, which no
        // session's status tells.
        self.write_sessions(speaker, views).await;
    }

    async fn write_all(&mut self, speaker: &mut Speaker, views: &Views) {
        self.write_services(speaker, &Changed::All).await;
        let services_written = self.written;
        self.write_sessions(speaker, views).await;
        self.written &= services_written;
    }

    /// Events, then the status objects.
    async fn publish(&mut self, speaker: &Speaker, views: &Views, report: Report) {
        for event in &report.events {
            if let Some(svc) = views.service(&event.service) {
                self.writer
                    .event(&svc.object_ref(), event.kind, &event.note)
                    .await;
            }
        }
        self.write_services(speaker, &report.statuses).await;
        self.reasons_changed(speaker).await;
    }

    /// Writes the node's reasons now, or later if it wrote them lately.
    async fn reasons_changed(&mut self, speaker: &Speaker) {
        if self
            .writer
            .announcement_differs(&speaker.announcement_state())
            && self.reasons.changed(Instant::now())
        {
            self.write_reasons(speaker).await;
        }
    }

    /// Writes the node's latest reasons (`NodeAnnouncementState`).
    async fn write_reasons(&mut self, speaker: &Speaker) {
        let ok = self
            .writer
            .announcement_state(&speaker.announcement_state())
            .await;
        self.reasons.wrote(Instant::now(), ok);
    }

    /// Makes the status objects of the Services `of` (every one, or
    /// those a report names) what the speaker says.
    async fn write_services(&mut self, speaker: &Speaker, of: &Changed) {
        let statuses = speaker.service_statuses_of(of);
        let bgp = statuses
            .bgp
            .into_iter()
            .map(|(k, peers)| {
                let status = json!({
                    "node": self.opts.node,
                    "serviceName": k.name(),
                    "serviceNamespace": k.namespace(),
                    "peers": peers,
                });
                (k, status)
            })
            .collect();
        let l2 = statuses
            .l2
            .iter()
            .map(|(k, s)| (k.clone(), json!(s.to_api(k))))
            .collect();
        let bgp_ok = self
            .writer
            .service_statuses(StatusKind::Bgp, &bgp, of)
            .await;
        let l2_ok = self.writer.service_statuses(StatusKind::L2, &l2, of).await;
        // A failure earlier stays until a retry of every Service succeeds:
        // a later report names only its own Services.
        self.written = bgp_ok && l2_ok && (self.written || matches!(of, Changed::All));
    }

    /// Events on BFD transitions, then the `BGPSessionState` objects
    /// (written on a change that matters).
    async fn write_sessions(&mut self, speaker: &mut Speaker, views: &Views) {
        let sessions = speaker.sessions();
        let events = self.bfd_events.update(
            &self.opts.node,
            std::time::Instant::now(),
            sessions
                .iter()
                .filter_map(|s| Some((s.peer.as_str(), s.address.ip(), &s.bfd.as_ref()?.status))),
        );
        for event in &events {
            // A peer deleted since has no object to carry the Event.
            let key = format!("{}/{}", self.opts.namespace, event.peer);
            if let Some(peer) = views.config.peers().items().get(&key) {
                self.writer.bfd_event(&peer.object_ref(&()), event).await;
            }
        }
        let desired: BTreeMap<String, Session> = sessions
            .into_iter()
            .map(|s| {
                let session = Session {
                    address: s.address.ip().to_string(),
                    status: session_status(&s.status, s.bfd.as_ref().map(|b| &b.status)),
                };
                (s.peer, session)
            })
            .collect();
        if !self.writer.sessions(&desired).await {
            self.written = false;
        }
    }
}
