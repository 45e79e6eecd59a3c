//! The speaker's pass, the one both shells run: `ferrolb-speaker` (fed by
//! Kubernetes watches, [`crate::k8s`]) and `ferrolb run` (fed by files,
//! [`crate::files`]).
//!
//! The shells only gather [`Inputs`] and publish the [`Report`]; the pass
//! owns everything between: the configuration (compiled, or the last good
//! one kept), the decision, the announcers (created when first needed),
//! Layer-2 mode (started and stopped with the L2Advertisements), the
//! verdict logs and metrics, and the shutdown of both protocols. What the
//! same inputs mean therefore cannot differ between the shells.

mod inputs;
mod report;

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::fmt::Display;

use ferrolb_bgp::fsm::State;
use ferrolb_crds::config::{Config, Resources, compile};
use tracing::{error, info, warn};

use crate::announce::{BgpAnnouncer, BgpChange, L2Runtime, L2Setup, address_book, memberlist_key};
use crate::decide::incremental::explanations_of;
use crate::decide::{
    BgpBook, BgpPlan, Changed, Delta, Explanation, L2Book, L2Plan, L2Verdict, Prefixes,
    ServiceBook, ServiceKey, Verdict,
};
use crate::metrics::Metrics;
use crate::report::{
    Conflict, NoticeKind, announcement_state, bgp_service_statuses, log_verdicts, notices,
};
use ferrolb_crds::api::NodeAnnouncementStateStatus;
use ferrolb_l2::interface::L2Event;
use ferrolb_l2::membership::Key;

pub use inputs::{Inputs, Services, Settings};
pub use report::{BfdState, Report, ServiceEvent, ServiceStatuses, Session};

/// What changed between passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Decide Layer-2 mode again: [`Speaker::apply_l2`].
    Layer2,
    /// Some session's status: [`Speaker::sessions`].
    Sessions,
    /// A router was found on an unnumbered interface: apply the BGP plan
    /// again ([`Speaker::apply_bgp`]), then publish the sessions.
    LinkPeer,
}

/// One node's speaker: what it announces, and the sessions and responders
/// that announce it.
pub struct Speaker {
    settings: Settings,
    /// The last configuration that compiled.
    config: Option<Config>,
    /// The Layer-2 membership's key, from the configuration's Secrets as
    /// last offered (valid or not: the key is not part of what compiles).
    memberlist_key: Option<Key>,
    /// Created by the first pass with a configuration.
    bgp: Option<BgpAnnouncer>,
    /// Layer-2 mode, while some L2Advertisement exists.
    l2: Option<L2Runtime>,
    /// The services as the last pass read them: Layer-2 mode decides again
    /// on membership changes, between passes.
    services: ServiceBook,
    /// The BGP decision, kept up to date Service by Service.
    bgp_book: BgpBook,
    /// The Layer-2 decision (empty while Layer-2 mode is off), and the
    /// Services changed since it was last updated.
    l2_book: L2Book,
    l2_changed: Changed,
    /// Why configured peers cannot run, as last logged.
    peer_errors: BTreeMap<String, String>,
    /// Each session's state as last logged.
    session_states: BTreeMap<String, State>,
    /// Addresses this node owns that another host holds on the LAN, from
    /// the responders' conflict until they reclaim it.
    conflicts: BTreeMap<std::net::IpAddr, Conflict>,
    /// Layer-2 mode's failure as last logged (retried on every pass).
    l2_error: Option<String>,
}

impl Speaker {
    pub fn new(settings: Settings) -> Speaker {
        Speaker {
            settings,
            config: None,
            memberlist_key: None,
            bgp: None,
            l2: None,
            services: ServiceBook::default(),
            bgp_book: BgpBook::default(),
            l2_book: L2Book::default(),
            l2_changed: Changed::All,
            peer_errors: BTreeMap::new(),
            session_states: BTreeMap::new(),
            conflicts: BTreeMap::new(),
            l2_error: None,
        }
    }

    /// Compiles `resources`; a valid configuration replaces the last one, an
    /// invalid one is refused with the compiler's errors and the last good
    /// one stays in force. `true` when it was taken.
    pub fn configure(&mut self, resources: &Resources) -> bool {
        self.configure_with(resources, |_| Ok::<(), Infallible>(()))
    }

    /// [`Speaker::configure`], where `accept` may still refuse a
    /// configuration that compiled (standalone mode's allocator does, when
    /// it cannot take the pools): both must take it, or neither does.
    pub fn configure_with<E: Display>(
        &mut self,
        resources: &Resources,
        accept: impl FnOnce(&Config) -> Result<(), E>,
    ) -> bool {
        self.memberlist_key = memberlist_key(&resources.secrets);
        let compiled = match compile(resources) {
            Ok(compiled) => compiled,
            Err(e) => {
                for d in &e.errors {
                    error!("{d}");
                }
                self.refused(e.errors.len());
                return false;
            }
        };
        for w in &compiled.warnings {
            warn!("{w}");
        }
        if let Err(e) = accept(&compiled.config) {
            error!("{e}");
            // A valid configuration this speaker cannot put in force: a
            // failed reconcile, as MetalLB counts its handler's errors.
            if let Some(m) = &self.settings.metrics {
                m.client.failed();
            }
            self.refused(1);
            return false;
        }
        info!(
            peers = compiled.config.peers.len(),
            pools = compiled.config.pools.len(),
            "configuration loaded"
        );
        self.config = Some(compiled.config);
        if let Some(m) = &self.settings.metrics {
            m.client.config_loaded();
        }
        true
    }

    fn refused(&self, errors: usize) {
        if self.config.is_some() {
            warn!(
                errors,
                "configuration refused; the last good one stays in force"
            );
        } else {
            warn!(
                errors,
                "configuration refused; nothing is announced until a valid one arrives"
            );
        }
        if let Some(m) = &self.settings.metrics {
            m.client.config_refused(self.config.is_some());
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> Option<&Config> {
        self.config.as_ref()
    }

    /// Decides from `inputs` and the configuration in force, applies the
    /// result to the BGP sessions and Layer-2 mode (as diffs), and says
    /// what to publish. Announcing comes first: no report delays a route.
    /// Does nothing before a configuration has compiled.
    pub async fn pass(&mut self, inputs: Inputs) -> Report {
        let mut report = Report::default();
        // The Services first, configuration or not: a shell that hands
        // only what changed does not hand it again. (Before the first
        // configuration the books have decided nothing: the first update
        // decides every Service the book holds.)
        let changed = take_services(&mut self.services, inputs.services);
        let Some(config) = &self.config else {
            return report;
        };
        let node = &self.settings.node;
        // Only the Services that changed are decided again (all of them
        // when the configuration or this node changed: the books see it).
        let changed = Changed::Some(changed);
        if self.l2.is_some() {
            self.l2_changed.merge(changed.clone());
        }
        let delta = self
            .bgp_book
            .update(config, &inputs.node, &self.services, changed);
        let plan = self.bgp_book.plan();
        let announcer = self.bgp.get_or_insert_with(|| {
            let router_id = self.settings.router_id.or(inputs.node_ipv4);
            let mut announcer =
                BgpAnnouncer::new(router_id, self.settings.graceful_restart.session);
            if let Some(addr) = self.settings.bgp_listen
                && let Err(e) = announcer.listen(addr)
            {
                warn!(%addr, error = %e, "cannot listen for BGP connections; connecting out only");
            }
            announcer
        });
        announcer
            .apply(config, plan, self.bgp_book.changed_prefixes())
            .await;
        log_peer_errors(&mut self.peer_errors, announcer);

        let bgp_announced = |v: &Verdict| v.is_announced();
        // Only the verdicts decided again can have changed: logs and
        // notices compare those.
        log_verdicts(&delta.before, &delta.after, Verdict::needs_attention);
        if let Some(m) = &self.settings.metrics {
            announced_metric(m, node, "bgp", &delta, bgp_announced);
        }
        for notice in notices(&delta.before, &delta.after) {
            let Some(kind) = notice.event else {
                continue;
            };
            let note = match &notice.verdict {
                Verdict::Announced { .. } => {
                    format!("announcing from node \"{node}\" with protocol \"bgp\"")
                }
                Verdict::NotAnnounced(reason) => {
                    format!(
                        "{} not announced from node \"{node}\": {reason}",
                        notice.address
                    )
                }
            };
            report.events.push(ServiceEvent {
                service: notice.service,
                kind,
                note,
            });
        }
        report.statuses = Changed::Some(decided(&delta));
        let l2_stopped = self
            .update_l2(inputs.speakers, inputs.nodes, inputs.node)
            .await;
        let l2 = self.apply_l2();
        report.events.extend(l2.events);
        report.statuses.merge(l2.statuses);
        if l2_stopped {
            report.statuses = Changed::All;
        }
        report
    }

    /// Starts, feeds or stops Layer-2 mode after a pass; `true` when it
    /// stopped (every Layer-2 status goes).
    async fn update_l2(
        &mut self,
        speakers: BTreeMap<String, std::net::IpAddr>,
        mut nodes: BTreeMap<String, crate::decide::NodeState>,
        this_node: crate::decide::NodeState,
    ) -> bool {
        let Some(config) = &self.config else {
            return false;
        };
        if config.l2_advertisements.is_empty() {
            if let Some(l2) = self.l2.take() {
                info!("no L2Advertisement any more: Layer-2 mode stops");
                l2.shutdown().await;
                // Nothing is answered any more: the metric says so.
                let gone = Delta {
                    before: std::mem::take(&mut self.l2_book)
                        .plan()
                        .explanations
                        .clone(),
                    after: Vec::new(),
                };
                if let Some(m) = &self.settings.metrics {
                    let announced = |v: &L2Verdict| v.is_announced();
                    announced_metric(
                        m,
                        &self.settings.node,
                        crate::metrics::LAYER2,
                        &gone,
                        announced,
                    );
                }
                self.l2_changed = Changed::All;
                self.conflicts.clear();
                return true;
            }
            return false;
        }
        if self.l2.is_none() {
            let setup = L2Setup {
                node: self.settings.node.clone(),
                key: self.memberlist_key.clone(),
                timing: self.settings.l2.timing,
                options: self.settings.l2.options.clone(),
                interface_rules: self.settings.l2.interface_rules.clone(),
                metrics: self.settings.metrics.clone(),
            };
            match L2Runtime::start(setup).await {
                Ok(l2) => self.l2 = Some(l2),
                Err(e) => {
                    // Retried on every pass: said once per distinct error.
                    let e = e.to_string();
                    if self.l2_error.as_deref() != Some(&e) {
                        error!(error = %e, "cannot start Layer-2 mode; retrying on every change");
                        self.l2_error = Some(e);
                    }
                    return false;
                }
            }
        }
        // This node is a candidate even without a Node object.
        nodes.entry(this_node.name.clone()).or_insert(this_node);
        let book = address_book(
            speakers.iter().map(|(n, a)| (n.as_str(), *a)),
            self.settings.l2.options.membership_port,
        );
        if let Some(l2) = &mut self.l2 {
            match l2.set_members(book, nodes).await {
                Ok(()) => self.l2_error = None,
                Err(e) => {
                    let e = e.to_string();
                    if self.l2_error.as_deref() != Some(&e) {
                        error!(error = %e, "Layer-2 mode cannot reach the other speakers");
                        self.l2_error = Some(e);
                    }
                }
            }
        }
        false
    }

    /// Completes when something changed between passes: Layer-2 mode's
    /// plan may differ (membership, interfaces, the fence), or a session's
    /// status moved. Never while neither runs.
    pub async fn changed(&mut self) -> Change {
        tokio::select! {
            () = L2Runtime::changed_if_any(&mut self.l2) => Change::Layer2,
            change = BgpAnnouncer::changed_if_any(&mut self.bgp) => match change {
                BgpChange::Sessions => Change::Sessions,
                BgpChange::LinkPeer => Change::LinkPeer,
            },
        }
    }

    /// Applies the last BGP plan again: a router found on an unnumbered
    /// interface gets its session (nothing else changes, being a diff).
    pub async fn apply_bgp(&mut self) {
        if let (Some(announcer), Some(config)) = (&mut self.bgp, &self.config) {
            announcer
                .apply(config, self.bgp_book.plan(), &Prefixes::All)
                .await;
            log_peer_errors(&mut self.peer_errors, announcer);
        }
    }

    /// Decides and applies Layer-2 announcements from the last inputs, and
    /// says what to publish.
    pub fn apply_l2(&mut self) -> Report {
        let mut report = Report::default();
        let (Some(l2), Some(config)) = (&mut self.l2, &self.config) else {
            return report;
        };
        let node = &self.settings.node;
        let changed = std::mem::replace(&mut self.l2_changed, Changed::none());
        let delta = l2.apply(config, &self.services, changed, &mut self.l2_book);
        report.statuses = Changed::Some(decided(&delta));
        let plan = self.l2_book.plan();
        let l2_announced = |v: &L2Verdict| v.is_announced();
        log_verdicts(&delta.before, &delta.after, L2Verdict::needs_attention);
        if let Some(m) = &self.settings.metrics {
            announced_metric(m, node, crate::metrics::LAYER2, &delta, l2_announced);
        }
        // A Service answered for now and not before: only those decided
        // again can be.
        let answered_before: BTreeSet<&ServiceKey> = delta
            .before
            .iter()
            .filter(|e| e.verdict.is_announced())
            .map(|e| &e.service)
            .collect();
        let mut assigned = BTreeSet::new();
        for e in &delta.after {
            if e.verdict.is_announced()
                && !answered_before.contains(&e.service)
                && assigned.insert(&e.service)
            {
                report.events.push(ServiceEvent {
                    service: e.service.clone(),
                    kind: NoticeKind::NodeAssigned,
                    note: format!("announcing from node \"{node}\" with protocol \"layer2\""),
                });
            }
        }
        for e in l2.events() {
            info!(interface = %e.interface, event = ?e.event, "layer 2");
            match &e.event {
                L2Event::Conflict { ip, mac } => {
                    self.conflicts.insert(
                        *ip,
                        Conflict {
                            interface: e.interface.clone(),
                            holder: mac.to_string(),
                        },
                    );
                }
                L2Event::Reclaimed { ip, .. } => {
                    self.conflicts.remove(ip);
                }
                _ => {}
            }
            let (ip, kind, note) = match e.event {
                L2Event::Conflict { ip, mac } => (
                    ip,
                    NoticeKind::AnnounceFailed,
                    format!(
                        "{ip} is used by another host ({mac}) on {}: not answered from node \"{node}\" while it holds it",
                        e.interface
                    ),
                ),
                L2Event::Reclaimed { ip, holder } => (
                    ip,
                    NoticeKind::NodeAssigned,
                    format!(
                        "the host that held {ip} ({holder}) no longer answers: announcing from node \"{node}\" with protocol \"layer2\" on {} again",
                        e.interface
                    ),
                ),
                _ => continue,
            };
            for state in self.services.values().filter(|s| s.addresses.contains(&ip)) {
                report.events.push(ServiceEvent {
                    service: state.key.clone(),
                    kind,
                    note: note.clone(),
                });
            }
        }
        // A conflict on an address this node no longer answers for is
        // none of its business any more.
        self.conflicts
            .retain(|ip, _| plan.addresses.contains_key(ip));
        report
    }

    /// The BGP plan of the last pass.
    pub fn bgp_plan(&self) -> &BgpPlan {
        self.bgp_book.plan()
    }

    /// The Layer-2 plan last applied (empty while Layer-2 mode is off).
    pub fn l2_plan(&self) -> &L2Plan {
        self.l2_book.plan()
    }

    /// The status each announced Service should carry from this node.
    pub fn service_statuses(&self) -> ServiceStatuses {
        self.service_statuses_of(&Changed::All)
    }

    /// [`Speaker::service_statuses`] of the Services `of` only (a
    /// [`Report::statuses`]): what changed, without walking the others.
    pub fn service_statuses_of(&self, of: &Changed) -> ServiceStatuses {
        let keys = match of {
            Changed::All => {
                return ServiceStatuses {
                    bgp: bgp_service_statuses(&self.bgp_plan().explanations),
                    l2: self.l2_plan().statuses.clone(),
                };
            }
            Changed::Some(keys) => keys,
        };
        let bgp = &self.bgp_plan().explanations;
        let l2 = &self.l2_plan().statuses;
        ServiceStatuses {
            bgp: keys
                .iter()
                .flat_map(|k| bgp_service_statuses(explanations_of(bgp, k)))
                .collect(),
            l2: keys
                .iter()
                .filter_map(|k| Some((k.clone(), l2.get(k)?.clone())))
                .collect(),
        }
    }

    /// Why this node does not announce what it does not (its
    /// `NodeAnnouncementState`), from the last BGP and Layer-2 decisions;
    /// empty before a configuration has compiled.
    pub fn announcement_state(&self) -> NodeAnnouncementStateStatus {
        match &self.config {
            Some(config) => announcement_state(
                config,
                &self.bgp_plan().explanations,
                &self.l2_plan().explanations,
                &self.conflicts,
            ),
            None => NodeAnnouncementStateStatus::default(),
        }
    }

    /// Every session now; logs each state change and updates the metrics.
    pub fn sessions(&mut self) -> Vec<Session> {
        let Some(announcer) = &self.bgp else {
            return Vec::new();
        };
        let addresses = announcer.addresses();
        let mut bfd = announcer.bfd_statuses();
        let sessions: Vec<Session> = announcer
            .statuses()
            .into_iter()
            .filter_map(|(peer, status)| {
                let address = *addresses.get(&peer)?;
                let bfd = bfd.remove(&peer).map(|(status, counters)| BfdState {
                    status,
                    packets_in: counters.packets_in(),
                    packets_out: counters.packets_out(),
                });
                Some(Session {
                    peer,
                    address,
                    status,
                    bfd,
                })
            })
            .collect();
        for s in &sessions {
            let state = s.status.state;
            if self.session_states.get(&s.peer) == Some(&state) {
                continue;
            }
            match &s.status.last_error {
                Some(err) if state != State::Established => {
                    warn!(peer = s.peer, ?state, last_error = %err, "session")
                }
                _ => info!(
                    peer = s.peer,
                    ?state,
                    prefixes = s.status.prefixes_announced,
                    "session"
                ),
            }
        }
        self.session_states = sessions
            .iter()
            .map(|s| (s.peer.clone(), s.status.state))
            .collect();
        if let Some(m) = &self.settings.metrics {
            m.sessions(
                sessions
                    .iter()
                    .map(|s| (s.address.ip().to_string(), &s.status)),
            );
            m.bfd_sessions(
                sessions
                    .iter()
                    .filter_map(|s| Some((s.address.ip().to_string(), s.bfd.as_ref()?))),
            );
        }
        sessions
    }

    /// Stops both protocols at once: every route withdrawn, every session
    /// closed with Cease / Administrative Shutdown carrying `reason`, every
    /// address released. With graceful restart on shutdown, sessions that
    /// negotiated graceful restart close silently instead and their routers
    /// keep the routes until the speaker is back (docs/bgp.md).
    pub async fn shutdown(mut self, reason: &str) {
        let gr = self.settings.graceful_restart.clone();
        if gr.on_shutdown {
            info!(
                "stopping for a restart: routers with graceful restart keep this node's routes; the others see them withdrawn"
            );
        } else {
            info!("stopping: withdrawing every route and closing every session");
        }
        let bgp = self.bgp.take();
        let l2 = self.l2.take();
        tokio::join!(
            async {
                match bgp {
                    Some(announcer) if gr.on_shutdown => announcer.stop_for_restart(reason).await,
                    Some(announcer) => announcer.shutdown(reason).await,
                    None => {}
                }
            },
            async {
                if let Some(l2) = l2 {
                    l2.shutdown().await;
                }
            }
        );
        if !gr.on_shutdown {
            // Nothing is left at the routers: the next start is a first one.
            gr.clear_marker();
        }
    }
}

/// The Services an update decided again.
fn decided<V>(delta: &Delta<V>) -> BTreeSet<ServiceKey> {
    delta
        .before
        .iter()
        .chain(&delta.after)
        .map(|e| e.service.clone())
        .collect()
}

/// Takes a pass's Services into `book`, and says which came, went or
/// changed: every key when the shell handed all of them, else only among
/// those it handed (a Service handed as it already was is no change).
fn take_services(book: &mut ServiceBook, services: Services) -> BTreeSet<ServiceKey> {
    match services {
        Services::All(all) => book.replace(all),
        Services::Changed(changes) => changes
            .into_iter()
            .filter_map(|(key, state)| {
                let moved = match state {
                    Some(state) => book.upsert(state),
                    None => book.remove(&key),
                };
                moved.then_some(key)
            })
            .collect(),
    }
}

/// The addresses `protocol` announces from `node`, into the metrics: those
/// of the Services decided again, as they moved.
fn announced_metric<V>(
    metrics: &Metrics,
    node: &str,
    protocol: &str,
    delta: &Delta<V>,
    announced: fn(&V) -> bool,
) {
    metrics.announced_changed(
        node,
        protocol,
        announced_in(&delta.before, announced),
        announced_in(&delta.after, announced),
    );
}

/// The Service and address of each of `explanations` that is announced.
fn announced_in<V>(
    explanations: &[Explanation<V>],
    announced: fn(&V) -> bool,
) -> impl Iterator<Item = (&ServiceKey, std::net::IpAddr)> {
    explanations
        .iter()
        .filter(move |e| announced(&e.verdict))
        .map(|e| (&e.service, e.address))
}

/// Logs why each configured peer cannot run, once per change rather than
/// once per pass.
fn log_peer_errors(logged: &mut BTreeMap<String, String>, announcer: &BgpAnnouncer) {
    let now: BTreeMap<String, String> = announcer
        .errors()
        .iter()
        .map(|(peer, e)| (peer.clone(), e.to_string()))
        .collect();
    for (peer, e) in &now {
        if logged.get(peer) != Some(e) {
            error!(peer, "cannot run this peer: {e}");
        }
    }
    *logged = now;
}
