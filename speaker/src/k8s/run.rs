//! The event loop: one task owns the views, the announcer and the writes.
//! Watch events are applied in batches; after each batch one pass decides
//! what this node announces, applies it as a diff to the BGP sessions, and
//! then reports. Announcing comes first: status writes never delay a route.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ferrolb_crds::config::{Config, compile};
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::Node;
use kube::{Client, Resource};
use serde_json::json;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{Instrument, error, info, info_span, warn};

use super::slices::served_version;
use super::views::{Views, inputs};
use super::writer::{Session, StatusKind, Writer};
use crate::adapt::node_state;
use crate::announce::{BgpAnnouncer, L2Options, L2Runtime, L2Setup, address_book, memberlist_key};
use crate::decide::{BgpPlan, InterfaceRules, L2Plan, L2Verdict, ServiceState, Verdict, bgp_plan};
use crate::l2::interface::L2Event;
use crate::membership::MembershipTiming;
use crate::metrics::Metrics;
use crate::report::{NoticeKind, Notices, VerdictLog, bgp_service_statuses, session_status};
use crate::timer::sleep_until;

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
    pub l2: (L2Options, InterfaceRules),
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the watch streams ended")]
    StreamsEnded,
}

/// Most watch events applied before a pass.
const MAX_BATCH: usize = 2000;
/// How often session state is read for status and metrics.
const SESSION_EVERY: Duration = Duration::from_secs(1);
/// Delay before retrying failed status writes.
const RETRY_AFTER: Duration = Duration::from_secs(2);
/// How long a graceful stop may spend deleting status objects.
const CLEAR_TIMEOUT: Duration = Duration::from_secs(3);

struct Speaker {
    opts: Options,
    metrics: Arc<Metrics>,
    writer: Writer,
    announcer: Option<BgpAnnouncer>,
    config: Option<Config>,
    notices: Notices,
    /// The last plan, for retrying status writes without a new pass.
    plan: BgpPlan,
    services_written: bool,
    /// Layer-2 mode, while some L2Advertisement exists.
    l2: Option<L2Runtime>,
    l2_plan: L2Plan,
    /// The services as the last pass read them (Layer-2 mode decides again
    /// on membership changes, between passes).
    states: Vec<ServiceState>,
    l2_verdicts: VerdictLog,
}

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
        let mut speaker = Speaker {
            writer: Writer::new(client.clone(), opts.namespace.clone(), opts.node.clone()),
            opts,
            metrics,
            announcer: None,
            config: None,
            notices: Notices::default(),
            plan: BgpPlan::default(),
            services_written: true,
            l2: None,
            l2_plan: L2Plan::default(),
            states: Vec::new(),
            l2_verdicts: VerdictLog::default(),
        };
        if let Err(e) = speaker.writer.load().await {
            warn!(error = %e, "cannot list this node's status objects; stale ones stay until rewritten");
        }
        let mut sessions = tokio::time::interval(SESSION_EVERY);
        sessions.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut retry_at: Option<Instant> = None;
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                input = inputs.next() => {
                    views.apply(input.ok_or(RunError::StreamsEnded)?);
                    for _ in 0..MAX_BATCH {
                        let Some(Some(input)) = inputs.next().now_or_never() else {
                            break;
                        };
                        views.apply(input);
                    }
                    if views.synced() {
                        speaker.pass(&mut views).await;
                        ready.store(true, Ordering::Release);
                    }
                }
                () = L2Runtime::changed_if_any(&mut speaker.l2) => {
                    speaker.apply_l2(&views).await;
                    speaker.write_services().await;
                }
                _ = sessions.tick() => speaker.report_sessions().await,
                () = sleep_until(retry_at), if retry_at.is_some() => {
                    retry_at = None;
                    speaker.write_services().await;
                }
                () = &mut shutdown => break,
            }
            if !speaker.services_written && retry_at.is_none() {
                retry_at = Some(Instant::now() + RETRY_AFTER);
            }
        }
        ready.store(false, Ordering::Release);
        speaker.stop().await;
        Ok(())
    }
    .instrument(span)
    .await
}

impl Speaker {
    /// Decides and announces from the current views, then reports.
    async fn pass(&mut self, views: &mut Views) {
        if views.config_dirty {
            views.config_dirty = false;
            self.load_config(views);
        }
        let Some(config) = &self.config else {
            return;
        };
        let node = views.node(&self.opts.node);
        self.writer.set_owner(node);
        let node_state = node_state(&self.opts.node, node);
        let router_id = self.opts.router_id.or_else(|| node.and_then(node_ipv4));
        let services = views.service_states(self.opts.lb_class.as_deref());
        let plan = bgp_plan(config, &node_state, &services);
        let announcer = self.announcer.get_or_insert_with(|| {
            let mut announcer = BgpAnnouncer::new(router_id);
            if let Some(addr) = self.opts.bgp_listen
                && let Err(e) = announcer.listen(addr)
            {
                warn!(%addr, error = %e, "cannot listen for BGP connections; connecting out only");
            }
            announcer
        });
        announcer.apply(config, &plan).await;
        for (peer, e) in announcer.errors() {
            error!(peer, "{e}");
        }

        self.metrics.announced(
            &self.opts.node,
            "bgp",
            plan.explanations
                .iter()
                .filter(|e| matches!(e.verdict, Verdict::Announced { .. }))
                .map(|e| (&e.service, e.address)),
        );
        for notice in self.notices.update(&plan.explanations) {
            info!(service = %notice.service, address = %notice.address, "{}", notice.verdict);
            let Some(kind) = notice.event else {
                continue;
            };
            let Some(svc) = views.service(&notice.service) else {
                continue;
            };
            let note = match &notice.verdict {
                Verdict::Announced { .. } => {
                    format!(
                        "announcing from node \"{}\" with protocol \"bgp\"",
                        self.opts.node
                    )
                }
                Verdict::NotAnnounced(reason) => {
                    format!(
                        "{} not announced from node \"{}\": {reason}",
                        notice.address, self.opts.node
                    )
                }
            };
            self.writer.event(&svc.object_ref(&()), kind, &note).await;
        }
        self.plan = plan;
        self.states = services;
        self.update_l2(views).await;
        self.write_services().await;
    }

    /// Starts, feeds or stops Layer-2 mode after a pass.
    async fn update_l2(&mut self, views: &Views) {
        let Some(config) = &self.config else {
            return;
        };
        if config.l2_advertisements.is_empty() {
            if let Some(l2) = self.l2.take() {
                info!("no L2Advertisement any more: Layer-2 mode stops");
                l2.shutdown().await;
                self.l2_plan = L2Plan::default();
            }
            return;
        }
        if self.l2.is_none() {
            let secrets = views.config.resources(&self.opts.namespace).secrets;
            let setup = L2Setup {
                node: self.opts.node.clone(),
                key: memberlist_key(&secrets),
                timing: MembershipTiming::default(),
                options: self.opts.l2.0,
                interface_rules: self.opts.l2.1.clone(),
                metrics: Some(self.metrics.clone()),
            };
            match L2Runtime::start(setup).await {
                Ok(l2) => self.l2 = Some(l2),
                Err(e) => {
                    error!(error = %e, "cannot start Layer-2 mode");
                    return;
                }
            }
        }
        if let Some(l2) = &mut self.l2
            && let Err(e) = l2
                .set_members(address_book(views.speakers()), views.node_states())
                .await
        {
            error!(error = %e, "Layer-2 mode cannot reach the other speakers");
        }
        self.apply_l2(views).await;
    }

    /// Decides and applies Layer-2 announcements from the last inputs, and
    /// reports them (but for the status objects: the caller writes those).
    async fn apply_l2(&mut self, views: &Views) {
        let (Some(l2), Some(config)) = (&mut self.l2, &self.config) else {
            return;
        };
        let plan = l2.apply(config, &self.states);
        let events = l2.events();
        self.metrics.announced(
            &self.opts.node,
            "layer2",
            plan.explanations
                .iter()
                .filter(|e| matches!(e.verdict, L2Verdict::Announced { .. }))
                .map(|e| (&e.service, e.address)),
        );
        self.l2_verdicts.log(&plan.explanations, |v| {
            matches!(v, L2Verdict::Announced { .. })
        });
        for service in plan.statuses.keys() {
            if !self.l2_plan.statuses.contains_key(service)
                && let Some(svc) = views.service(service)
            {
                let note = format!(
                    "announcing from node \"{}\" with protocol \"layer2\"",
                    self.opts.node
                );
                self.writer
                    .event(&svc.object_ref(&()), NoticeKind::NodeAssigned, &note)
                    .await;
            }
        }
        for e in events {
            let (ip, kind, note) = match e.event {
                L2Event::Conflict { ip, mac } => (
                    ip,
                    NoticeKind::AnnounceFailed,
                    format!(
                        "{ip} is used by another host ({mac}) on {}: not answered from node \"{}\" while it holds it",
                        e.interface, self.opts.node
                    ),
                ),
                L2Event::Reclaimed { ip, holder } => (
                    ip,
                    NoticeKind::NodeAssigned,
                    format!(
                        "the host that held {ip} ({holder}) no longer answers: announcing from node \"{}\" with protocol \"layer2\" on {} again",
                        self.opts.node, e.interface
                    ),
                ),
                _ => continue,
            };
            for state in self.states.iter().filter(|s| s.addresses.contains(&ip)) {
                if let Some(svc) = views.service(&state.key) {
                    self.writer.event(&svc.object_ref(&()), kind, &note).await;
                }
            }
        }
        self.l2_plan = plan;
    }

    fn load_config(&mut self, views: &Views) {
        match compile(&views.config.resources(&self.opts.namespace)) {
            Ok(compiled) => {
                for w in &compiled.warnings {
                    warn!("{w}");
                }
                info!(
                    peers = compiled.config.peers.len(),
                    pools = compiled.config.pools.len(),
                    "configuration loaded"
                );
                self.config = Some(compiled.config);
                self.metrics.config(true, false);
            }
            Err(e) => {
                for d in &e.errors {
                    error!("{d}");
                }
                warn!(
                    errors = e.errors.len(),
                    "configuration refused; the last good one stays in force"
                );
                self.metrics.config(self.config.is_some(), true);
            }
        }
    }

    async fn write_services(&mut self) {
        let bgp = bgp_service_statuses(&self.plan.explanations)
            .into_iter()
            .map(|(k, peers)| {
                let status = json!({
                    "node": self.opts.node,
                    "serviceName": k.name,
                    "serviceNamespace": k.namespace,
                    "peers": peers,
                });
                (k, status)
            })
            .collect();
        let l2 = self
            .l2_plan
            .statuses
            .iter()
            .map(|(k, s)| (k.clone(), json!(s.to_api(k))))
            .collect();
        let bgp_ok = self.writer.service_statuses(StatusKind::Bgp, &bgp).await;
        let l2_ok = self.writer.service_statuses(StatusKind::L2, &l2).await;
        self.services_written = bgp_ok && l2_ok;
    }

    /// Session state into metrics (every tick) and status objects (on a
    /// change that matters).
    async fn report_sessions(&mut self) {
        let Some(announcer) = &self.announcer else {
            return;
        };
        let statuses = announcer.statuses();
        let addresses = announcer.addresses();
        self.metrics.sessions(statuses.iter().map(|(name, s)| {
            let address = addresses
                .get(name)
                .map(|a| a.ip().to_string())
                .unwrap_or_default();
            (address, s)
        }));
        let desired: BTreeMap<String, Session> = statuses
            .iter()
            .map(|(name, s)| {
                let address = addresses
                    .get(name)
                    .map(|a| a.ip().to_string())
                    .unwrap_or_default();
                (
                    name.clone(),
                    Session {
                        address,
                        status: session_status(s),
                    },
                )
            })
            .collect();
        self.writer.sessions(&desired).await;
    }

    async fn stop(mut self) {
        info!("stopping: withdrawing every route and closing every session");
        let bgp = self.announcer.take();
        let l2 = self.l2.take();
        tokio::join!(
            async {
                if let Some(announcer) = bgp {
                    announcer.shutdown("ferrolb-speaker stopping").await;
                }
            },
            async {
                if let Some(l2) = l2 {
                    l2.shutdown().await;
                }
            }
        );
        let clear = self.writer.clear();
        if tokio::time::timeout(CLEAR_TIMEOUT, clear).await.is_err() {
            warn!("status objects not all deleted before stopping");
        }
    }
}

/// The Node's first IPv4 address (InternalIP first), for a router ID.
fn node_ipv4(node: &Node) -> Option<Ipv4Addr> {
    let addresses = node.status.as_ref()?.addresses.as_ref()?;
    let v4 = |kind: &str| {
        addresses
            .iter()
            .filter(|a| a.type_ == kind)
            .find_map(|a| match a.address.parse() {
                Ok(IpAddr::V4(v4)) => Some(v4),
                _ => None,
            })
    };
    v4("InternalIP").or_else(|| v4("ExternalIP"))
}
