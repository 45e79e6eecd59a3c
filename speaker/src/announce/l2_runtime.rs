//! Layer-2 mode as a whole on one node: the membership that says which
//! speakers are alive and reachable, the fence that silences a node cut off
//! from its cluster, this node's interfaces, and the announcer. The
//! Kubernetes speaker and standalone mode feed it the same inputs (the
//! configuration, the services, the known members) and get the plan back
//! for their reports.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use ferrolb_crds::config::{Config, Secret};
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::l2::{InterfaceEvent, L2Announcer, L2Options};
use super::links::{self, AbortOnDrop, LinksError};
use crate::decide::interfaces::answering_macs;
use crate::decide::{
    Changed, ClusterView, Delta, Fence, FenceState, InterfaceRules, L2Book, L2Verdict, Link,
    LocalNode, NodeState, ServiceBook,
};
use crate::metrics::Metrics;
use ferrolb_k8s::timer::sleep_until;
use ferrolb_l2::membership::{
    AddressBook, Key, MembershipService, MembershipTiming, StartError, UdpConfig, View,
};
use ferrolb_l2::wire::MacAddr;

/// What Layer-2 mode needs to start.
pub struct L2Setup {
    pub node: String,
    /// The shared key of the membership; required once there is another
    /// member.
    pub key: Option<Key>,
    pub timing: MembershipTiming,
    pub options: L2Options,
    pub interface_rules: InterfaceRules,
    pub metrics: Option<Arc<Metrics>>,
}

#[derive(Debug, thiserror::Error)]
pub enum L2Error {
    #[error(transparent)]
    Membership(#[from] StartError),
    #[error(transparent)]
    Links(#[from] LinksError),
    #[error(
        "Layer-2 mode with other nodes needs the membership key (Secret \"memberlist\", key \"secretkey\", as MetalLB)"
    )]
    NoKey,
    #[error("this node ({0}) has no address in the member list")]
    NoOwnAddress(String),
}

/// Layer-2 mode on this node.
pub struct L2Runtime {
    setup: L2Setup,
    membership: Option<MembershipService>,
    view: Option<watch::Receiver<View>>,
    book: AddressBook,
    nodes: BTreeMap<String, NodeState>,
    fence: Fence,
    /// This node's interfaces, kept current by `_link_reader`.
    links: watch::Receiver<Vec<Link>>,
    _link_reader: AbortOnDrop,
    announcer: L2Announcer,
    fence_state: Option<FenceState>,
    /// The view the last plan was made from, to log what changed.
    last_view: Option<View>,
}

impl L2Runtime {
    /// Starts with this node alone; [`L2Runtime::set_members`] brings the
    /// others. Must run inside a tokio runtime, in the node's network
    /// namespace.
    pub async fn start(setup: L2Setup) -> Result<L2Runtime, L2Error> {
        let (links_tx, links) = watch::channel(links::links().await?);
        let link_reader = AbortOnDrop(tokio::spawn(read_links(links::changes()?, links_tx)));
        let announcer = L2Announcer::new(
            setup.node.clone(),
            setup.options.clone(),
            setup.metrics.clone(),
        );
        let fence = Fence::new(setup.node.clone(), setup.timing.settle, Instant::now());
        Ok(L2Runtime {
            setup,
            membership: None,
            view: None,
            book: AddressBook::new(),
            nodes: BTreeMap::new(),
            fence,
            links,
            _link_reader: link_reader,
            announcer,
            fence_state: None,
            last_view: None,
        })
    }

    /// The members that should run a speaker (from the API server or the
    /// configuration, never from the failure detector: the fence's
    /// `known`), with their addresses and Node state.
    pub async fn set_members(
        &mut self,
        book: AddressBook,
        nodes: BTreeMap<String, NodeState>,
    ) -> Result<(), L2Error> {
        self.nodes = nodes;
        let others = book.keys().any(|n| *n != self.setup.node);
        if self.book == book && (self.membership.is_some() || !others) {
            return Ok(());
        }
        self.book = book.clone();
        if !others {
            if let Some(m) = self.membership.take() {
                m.shutdown().await;
                if let Some(metrics) = &self.setup.metrics {
                    metrics.membership.stopped();
                }
            }
            self.view = None;
            return Ok(());
        }
        if let Some(m) = &self.membership {
            m.set_address_book(book);
            return Ok(());
        }
        let key = self.setup.key.clone().ok_or(L2Error::NoKey)?;
        let own = book
            .get(&self.setup.node)
            .ok_or_else(|| L2Error::NoOwnAddress(self.setup.node.clone()))?;
        let bind = SocketAddr::new(
            match own.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            },
            own.port(),
        );
        let membership = MembershipService::start(
            UdpConfig {
                name: self.setup.node.clone(),
                key,
                timing: self.setup.timing,
                bind,
                priority: self.setup.options.membership_priority,
                gate: self.setup.options.answer_gate.clone(),
            },
            book,
        )
        .await?;
        info!(%bind, members = self.book.len(), "membership started");
        self.view = Some(membership.view());
        if let Some(metrics) = &self.setup.metrics {
            metrics
                .membership
                .follow(membership.watch_stats(), membership.view());
        }
        self.membership = Some(membership);
        Ok(())
    }

    /// The known members: the address book, and this node.
    fn known(&self) -> BTreeSet<String> {
        let mut known: BTreeSet<String> = self.book.keys().cloned().collect();
        known.insert(self.setup.node.clone());
        known
    }

    fn view(&self) -> View {
        match &self.view {
            Some(v) => v.borrow().clone(),
            None => {
                let me: BTreeSet<String> = [self.setup.node.clone()].into();
                View {
                    reachable: me.clone(),
                    alive: me,
                    hardware: BTreeMap::new(),
                    fenced: BTreeSet::new(),
                }
            }
        }
    }

    /// Decides what this node answers for (again for the Services
    /// `changed`, or all of them when the members, interfaces or fence
    /// moved: [`L2Book::update`]) and applies it.
    pub fn apply(
        &mut self,
        config: &Config,
        services: &ServiceBook,
        changed: Changed,
        book: &mut L2Book,
    ) -> Delta<L2Verdict> {
        let known = self.known();
        let view = self.view();
        self.log_view(&view);
        let fence = self.fence.observe(Instant::now(), &view.reachable, &known);
        if self.fence_state.map(FenceState::may_announce) != Some(fence.may_announce()) {
            match fence {
                FenceState::MayAnnounce => info!(
                    reachable = view.reachable.len(),
                    known = known.len(),
                    "fence open: announcing"
                ),
                FenceState::Fenced { .. } => warn!(
                    reachable = view.reachable.len(),
                    known = known.len(),
                    "fenced: too few members reachable, announcing nothing"
                ),
            }
        }
        self.fence_state = Some(fence);
        // Candidates, not `alive`: a member that told this node its fence
        // is closed hands its addresses on (the deaf owner, issue 17).
        let candidates = view.candidates();
        let cluster = ClusterView::new(
            candidates
                .iter()
                .filter(|n| known.contains(*n))
                .map(|n| self.node_state(n)),
        );
        let local = LocalNode {
            name: self.setup.node.clone(),
            links: self.links.borrow_and_update().clone(),
            interface_rules: self.setup.interface_rules.clone(),
            fence,
        };
        self.share_hardware(config, &local, &view);
        let delta = book.update(config, &local, &cluster, services, changed);
        // Before the plan reaches the responders: an address it takes from
        // this node is held back at once, and one it gives this node from
        // the first answer on if a member that would win it is a
        // candidate by then.
        let answering = if known.is_subset(&candidates) {
            book.answering_unchallenged()
        } else {
            let everyone = ClusterView::new(known.iter().map(|n| self.node_state(n)));
            book.answering(config, &everyone, &candidates, services, &local.name)
        };
        self.setup.options.answer_gate.set_plan(answering);
        self.announcer.apply(book.plan());
        delta
    }

    fn node_state(&self, name: &str) -> NodeState {
        self.nodes
            .get(name)
            .cloned()
            .unwrap_or_else(|| NodeState::new(name.to_string()))
    }

    /// Tells the other speakers the MACs this node may answer from, and
    /// the announcer theirs: a claim from one of them is a membership
    /// matter, never a conflict that silences the owner (`l2::conflict`).
    fn share_hardware(&mut self, config: &Config, local: &LocalNode, view: &View) {
        if let Some(m) = &self.membership {
            let listed = config
                .l2_advertisements
                .iter()
                .flat_map(|a| a.interfaces.iter().map(String::as_str));
            m.set_hardware(answering_macs(&local.links, &local.interface_rules, listed));
        }
        let members = view
            .hardware
            .iter()
            .filter(|(name, _)| **name != self.setup.node)
            .flat_map(|(_, macs)| macs.iter().copied().map(MacAddr))
            .collect();
        self.announcer.set_members(members);
    }

    /// Logs the membership's view when it changes: with the announcer's
    /// lines, the timestamps of a failover's every step.
    fn log_view(&mut self, view: &View) {
        let last = self.last_view.as_ref();
        if last.map(|v| &v.fenced) != Some(&view.fenced) {
            info!(fenced = ?view.fenced, alive = ?view.alive, reachable = ?view.reachable, "members fenced changed");
        }
        if last.map(|v| &v.alive) != Some(&view.alive) {
            info!(alive = ?view.alive, reachable = ?view.reachable, "members alive changed");
        } else if last.map(|v| &v.reachable) != Some(&view.reachable) {
            debug!(alive = ?view.alive, reachable = ?view.reachable, "members reachable changed");
        }
        self.last_view = Some(view.clone());
    }

    /// Completes when the plan may have changed (the membership view, the
    /// interfaces, or the end of the fence's settling) or an interface
    /// has an event to report.
    pub async fn changed(&mut self) {
        let deadline = self.fence.next_deadline();
        let view = async {
            match &mut self.view {
                Some(v) => {
                    if v.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = view => {}
            Ok(()) = self.links.changed() => {}
            () = sleep_until(deadline) => {}
            // Conflicts are reported by the caller's pass at once.
            () = self.announcer.wait_event() => {}
        }
    }

    /// [`L2Runtime::changed`] of `l2`, or never without one: for a
    /// `select!` over a mode that may be off.
    pub async fn changed_if_any(l2: &mut Option<L2Runtime>) {
        match l2 {
            Some(l2) => l2.changed().await,
            None => std::future::pending().await,
        }
    }

    /// Events of the interfaces since the last call.
    pub fn events(&mut self) -> Vec<InterfaceEvent> {
        self.announcer.events()
    }

    /// Stops answering first, then leaves the membership: the others take
    /// this node's addresses over the moment they hear it leave, so it must
    /// answer for nothing by then.
    pub async fn shutdown(self) {
        self.announcer.shutdown().await;
        if let Some(m) = self.membership {
            if let Err(e) = m.leave().await {
                warn!(error = %e, "leaving the membership: the others will see a failure instead");
            }
            if let Some(metrics) = &self.setup.metrics {
                metrics.membership.stopped();
            }
        }
    }
}

/// Reads the interfaces again after every change rtnetlink reports. In a
/// task of its own, not in [`L2Runtime::changed`]: a caller's `select!`
/// may drop that future in the middle of the read, and the notification it
/// had taken would be lost with it (seen in the lab: a node whose link came
/// back kept it for down, and won the address without answering for it).
async fn read_links(mut changes: BoxStream<'static, ()>, links: watch::Sender<Vec<Link>>) {
    while changes.next().await.is_some() {
        match links::links().await {
            Ok(l) => {
                links.send_replace(l);
            }
            Err(e) => warn!(error = %e, "cannot read the interfaces again"),
        }
    }
}

/// The membership key in MetalLB's `memberlist` Secret (key `secretkey`).
pub fn memberlist_key(secrets: &BTreeMap<String, Secret>) -> Option<Key> {
    secrets
        .get("memberlist")
        .and_then(|s| s.data.get("secretkey"))
        .map(|k| Key::new(k.clone()))
}

/// The member list for `nodes` (name and address), every member on `port`
/// ([`L2Options::membership_port`]).
pub fn address_book<'a>(
    nodes: impl IntoIterator<Item = (&'a str, IpAddr)>,
    port: u16,
) -> AddressBook {
    nodes
        .into_iter()
        .map(|(n, a)| (n.to_string(), SocketAddr::new(a, port)))
        .collect()
}
