//! BGP mode: one session per peer of this node, kept in step with the plan.
//! A route change is a diff on the running session; only a change of a
//! peer's own parameters restarts that peer's session.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use ferrolb_bfd::shell::{Bfd, Counters, SessionSpec, SessionStatus};
use ferrolb_bgp::peer::{Acceptor, GracefulRestartConfig, Peer, PeerConfig, PeerStatus};
use ferrolb_crds::config::{Config, PeerTarget};
use tokio::sync::watch;
use tracing::{info, warn};

use super::bfd::{BfdLink, bfd_spec};
use super::link_peer_finder::{FinderError, LinkPeerFinder};
use super::peer_config::{PeerConfigError, peer_config};
use crate::decide::{BgpPlan, Prefixes};

struct Running {
    config: PeerConfig,
    peer: Peer,
    /// The session's status, watched for [`BgpAnnouncer::changed`]; `None`
    /// once the session task has ended (its status can change no more).
    status: Option<watch::Receiver<PeerStatus>>,
    /// The BFD session watching the path, when the peer names a profile.
    bfd: Option<BfdLink>,
    /// The session was handed its whole table: from then on a pass hands
    /// it only the routes that changed.
    table_handed: bool,
}

/// The sessions of this node.
pub struct BgpAnnouncer {
    node_router_id: Option<Ipv4Addr>,
    /// What sessions with graceful restart advertise.
    graceful_restart: GracefulRestartConfig,
    /// Routers' connections to us, when listening.
    acceptor: Option<Acceptor>,
    peers: BTreeMap<String, Running>,
    /// Every BFD session, started with the first peer that asks for one.
    bfd: Option<Bfd>,
    /// Why configured peers are not running, by name.
    errors: BTreeMap<String, PeerConfigError>,
    /// The router search of every interface an unnumbered peer names
    /// (or why it could not start), by interface.
    finders: BTreeMap<String, Result<LinkPeerFinder, FinderError>>,
}

/// What [`BgpAnnouncer::changed`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BgpChange {
    /// The status of a session moved: publish it.
    Sessions,
    /// A router was found (or replaced) on an unnumbered interface: apply
    /// the plan again ([`BgpAnnouncer::apply`]) so that its session starts.
    LinkPeer,
}

impl BgpAnnouncer {
    /// An announcer for a node whose router ID, unless a BGPPeer sets
    /// `routerID`, is `node_router_id` (its IPv4 address); BGPPeers with
    /// enableGracefulRestart advertise `graceful_restart`.
    pub fn new(
        node_router_id: Option<Ipv4Addr>,
        graceful_restart: GracefulRestartConfig,
    ) -> BgpAnnouncer {
        BgpAnnouncer {
            node_router_id,
            graceful_restart,
            acceptor: None,
            peers: BTreeMap::new(),
            bfd: None,
            errors: BTreeMap::new(),
            finders: BTreeMap::new(),
        }
    }

    /// Also accepts routers' connections on `addr` (port 179 by default, as
    /// MetalLB's FRR mode does). Without it, sessions only connect out.
    /// Must run inside a tokio runtime.
    pub fn listen(&mut self, addr: SocketAddr) -> std::io::Result<()> {
        let acceptor = Acceptor::bind(addr)?;
        info!(%addr, family = %acceptor.family(), "listening for BGP connections");
        for (name, running) in &self.peers {
            register(&acceptor, name, &running.config, &running.peer);
        }
        self.acceptor = Some(acceptor);
        Ok(())
    }

    /// Makes the sessions and their routes match `plan`, of which only
    /// `prefixes` changed since the last call (a new session is handed its
    /// whole table all the same). Must run inside a tokio runtime.
    pub async fn apply(&mut self, config: &Config, plan: &BgpPlan, prefixes: &Prefixes) {
        let gone: Vec<String> = self
            .peers
            .keys()
            .filter(|n| !plan.peers.contains_key(*n))
            .cloned()
            .collect();
        for name in gone {
            if let Some(running) = self.peers.remove(&name) {
                info!(peer = %name, "peer removed from the configuration");
                self.stop(running, "peer removed from the configuration")
                    .await;
            }
        }
        self.errors.clear();
        self.search_links(config, plan);
        for (name, routes) in &plan.peers {
            let Some(compiled) = config.peers.get(name) else {
                continue;
            };
            let link_peer = match &compiled.target {
                PeerTarget::Address(_) => Ok(None),
                PeerTarget::Interface(interface) => match self.finders.get_mut(interface) {
                    Some(Ok(finder)) => Ok(finder.current()),
                    Some(Err(e)) => Err(PeerConfigError::Interface {
                        peer: format!("{}/{}", compiled.namespace, compiled.name),
                        interface: interface.clone(),
                        reason: e.to_string(),
                    }),
                    None => Ok(None),
                },
            };
            let wanted = match link_peer.and_then(|found| {
                peer_config(compiled, self.node_router_id, self.graceful_restart, found)
            }) {
                Ok(c) => c,
                Err(e) => {
                    // Not logged here: the pass logs each peer's error once,
                    // when it changes.
                    if let Some(running) = self.peers.remove(name) {
                        self.stop(running, "configuration no longer usable").await;
                    }
                    self.errors.insert(name.clone(), e);
                    continue;
                }
            };
            // The BFD session outlives a restart of the BGP session: only
            // what it watches changes.
            let mut kept_bfd = None;
            if self.peers.get(name).is_some_and(|r| r.config != wanted)
                && let Some(mut running) = self.peers.remove(name)
            {
                info!(peer = %name, "peer parameters changed: restarting its session");
                kept_bfd = running.bfd.take();
                self.unregister(&running.config);
                running.peer.shutdown("peer configuration changed").await;
            }
            if !self.peers.contains_key(name) {
                info!(peer = %name, address = %wanted.address, "starting session");
                let peer = Peer::spawn(wanted.clone());
                let status = Some(peer.watch());
                if let Some(acceptor) = &self.acceptor {
                    register(acceptor, name, &wanted, &peer);
                }
                if let Some(link) = &mut kept_bfd {
                    link.rewire(peer.bfd_down_trigger(), name);
                }
                self.peers.insert(
                    name.clone(),
                    Running {
                        peer,
                        config: wanted,
                        status,
                        bfd: kept_bfd,
                        table_handed: false,
                    },
                );
            }
            let wanted_bfd = compiled
                .bfd_profile
                .as_ref()
                .and_then(|p| config.bfd_profiles.get(p))
                .and_then(|profile| {
                    let address = self.peers.get(name)?.config.address.ip();
                    Some(bfd_spec(compiled, address, profile))
                })
                .transpose();
            let applied = match wanted_bfd {
                Ok(wanted) => self.apply_bfd(name, wanted).await,
                Err(reason) => Err(reason),
            };
            if let Err(reason) = applied {
                warn!(peer = %name, %reason, "BFD cannot run for this peer");
                self.errors.insert(
                    name.clone(),
                    PeerConfigError::Bfd {
                        peer: format!("{}/{}", compiled.namespace, compiled.name),
                        reason,
                    },
                );
            }
            let Some(running) = self.peers.get_mut(name) else {
                continue;
            };
            match prefixes {
                Prefixes::Some(prefixes) if running.table_handed => {
                    let changes = prefixes
                        .iter()
                        .map(|p| (*p, routes.get(p).cloned()))
                        .collect();
                    running.peer.update_routes(changes).await;
                }
                _ => {
                    running.peer.set_routes(routes.clone()).await;
                    running.table_handed = true;
                }
            }
        }
    }

    /// Starts the router search of every interface an unnumbered peer of
    /// `plan` names, and stops those no peer names any more.
    fn search_links(&mut self, config: &Config, plan: &BgpPlan) {
        let wanted: BTreeSet<&String> = plan
            .peers
            .keys()
            .filter_map(|name| match &config.peers.get(name)?.target {
                PeerTarget::Interface(interface) => Some(interface),
                PeerTarget::Address(_) => None,
            })
            .collect();
        self.finders
            .retain(|interface, _| wanted.contains(interface));
        for interface in wanted {
            if !self.finders.contains_key(interface) {
                info!(%interface, "looking for the router on an unnumbered interface");
                let finder = LinkPeerFinder::start(interface);
                if let Err(e) = &finder {
                    warn!(%interface, error = %e, "cannot look for the router");
                }
                self.finders.insert(interface.clone(), finder);
            }
        }
    }

    /// Starts, changes or stops the BFD session of peer `name`. A change
    /// of timers or role reaches the running session (a Poll Sequence), so
    /// the BGP session is not reset; another address or hop mode is
    /// another BFD session.
    async fn apply_bfd(&mut self, name: &str, wanted: Option<SessionSpec>) -> Result<(), String> {
        let Some(running) = self.peers.get_mut(name) else {
            return Ok(());
        };
        let current = running.bfd.as_ref().map(|l| l.spec);
        if current == wanted {
            return Ok(());
        }
        if let (Some(old), Some(new)) = (current, wanted)
            && old.key == new.key
        {
            if let (Some(bfd), Some(link)) = (&self.bfd, &mut running.bfd) {
                info!(peer = %name, "BFD profile changed: new timers on the running session");
                bfd.update(new).await;
                link.spec = new;
            }
            return Ok(());
        }
        if let Some(old) = running.bfd.take()
            && let Some(bfd) = &self.bfd
        {
            bfd.remove(old.spec.key).await;
        }
        let Some(spec) = wanted else {
            info!(peer = %name, "BFD no longer asked for");
            return Ok(());
        };
        let bfd = self.bfd.get_or_insert_with(Bfd::spawn);
        let link = BfdLink::start(bfd, spec, running.peer.bfd_down_trigger(), name)
            .await
            .map_err(|e| e.to_string())?;
        running.bfd = Some(link);
        Ok(())
    }

    /// Closes a session that is no longer wanted, and its BFD session.
    async fn stop(&self, mut running: Running, reason: &str) {
        self.unregister(&running.config);
        if let (Some(link), Some(bfd)) = (running.bfd.take(), &self.bfd) {
            bfd.remove(link.spec.key).await;
        }
        running.peer.shutdown(reason).await;
    }

    fn unregister(&self, config: &PeerConfig) {
        if let Some(acceptor) = &self.acceptor {
            acceptor.unregister(config);
        }
    }

    /// The status of every running session, by peer name.
    pub fn statuses(&self) -> BTreeMap<String, PeerStatus> {
        self.peers
            .iter()
            .map(|(n, r)| (n.clone(), r.peer.status()))
            .collect()
    }

    /// The state and packet counters of every BFD session, by peer name.
    pub fn bfd_statuses(&self) -> BTreeMap<String, (SessionStatus, Arc<Counters>)> {
        self.peers
            .iter()
            .filter_map(|(n, r)| {
                let link = r.bfd.as_ref()?;
                Some((n.clone(), (link.status(), link.handle.counters.clone())))
            })
            .collect()
    }

    /// Completes when the status of some session (BGP or BFD) changed, or
    /// a router was found on an unnumbered interface (never while neither
    /// can happen): status and metrics follow the sessions as they move,
    /// and a found router gets its session, with no polling.
    pub async fn changed(&mut self) -> BgpChange {
        let links: Vec<_> = self
            .finders
            .values_mut()
            .filter_map(|f| f.as_mut().ok())
            .map(|f| Box::pin(f.changed()))
            .collect();
        let link_found = async {
            if links.is_empty() {
                return std::future::pending().await;
            }
            futures::future::select_all(links).await;
        };
        tokio::select! {
            () = session_changed(&mut self.peers) => BgpChange::Sessions,
            () = link_found => BgpChange::LinkPeer,
        }
    }
}

/// Completes when the status of a session (BGP or BFD) of `peers` changed;
/// never while none runs.
async fn session_changed(peers: &mut BTreeMap<String, Running>) {
    type Wait<'a> = Pin<Box<dyn Future<Output = Result<(), watch::error::RecvError>> + Send + 'a>>;
    let mut names: Vec<(String, bool)> = Vec::new();
    let mut waits: Vec<Wait<'_>> = Vec::new();
    for (name, r) in peers.iter_mut() {
        if let Some(status) = r.status.as_mut() {
            names.push((name.clone(), false));
            waits.push(Box::pin(status.changed()));
        }
        if let Some(link) = r.bfd.as_mut() {
            names.push((name.clone(), true));
            waits.push(Box::pin(link.handle.status.changed()));
        }
    }
    if waits.is_empty() {
        return std::future::pending().await;
    }
    let (result, index, _) = futures::future::select_all(waits).await;
    if result.is_err() {
        // The session task ended: stop watching it, rather than wake
        // for ever on its closed channel.
        let (name, bfd) = &names[index];
        if let Some(r) = peers.get_mut(name) {
            if *bfd {
                r.bfd = None;
            } else {
                r.status = None;
            }
        }
    }
}

impl BgpAnnouncer {
    /// [`BgpAnnouncer::changed`] of `announcer`, or never without one: for
    /// a `select!` over an announcer not created yet.
    pub async fn changed_if_any(announcer: &mut Option<BgpAnnouncer>) -> BgpChange {
        match announcer {
            Some(a) => a.changed().await,
            None => std::future::pending().await,
        }
    }

    /// The address of every running session, by peer name.
    pub fn addresses(&self) -> BTreeMap<String, SocketAddr> {
        self.peers
            .iter()
            .map(|(n, r)| (n.clone(), r.config.address))
            .collect()
    }

    /// Peers that are configured for this node but cannot run, and why.
    pub fn errors(&self) -> &BTreeMap<String, PeerConfigError> {
        &self.errors
    }

    /// Withdraws everything and closes every session with Cease /
    /// Administrative Shutdown carrying `reason`.
    pub async fn shutdown(self, reason: &str) {
        self.close_all(reason, false).await
    }

    /// Stops for a planned restart: sessions that negotiated graceful
    /// restart close without NOTIFICATION and their routers keep the routes
    /// as stale until the speaker is back; the others withdraw and close as
    /// [`BgpAnnouncer::shutdown`] does.
    pub async fn stop_for_restart(self, reason: &str) {
        self.close_all(reason, true).await
    }

    async fn close_all(self, reason: &str, restarting: bool) {
        // In parallel: every router should stop sending traffic at once.
        let bfd = self.bfd;
        let closing: Vec<_> = self
            .peers
            .into_values()
            .map(|r| {
                let reason = reason.to_string();
                tokio::spawn(async move {
                    if restarting {
                        r.peer.stop_for_restart(&reason).await
                    } else {
                        r.peer.shutdown(&reason).await
                    }
                })
            })
            .collect();
        for task in closing {
            let _ = task.await;
        }
        // After the BGP sessions: AdminDown tells the routers this is no
        // failure of the path.
        if let Some(bfd) = bfd {
            bfd.shutdown().await;
        }
    }
}

/// Routes `peer`'s inbound connections to its session; a peer the listener
/// cannot serve still connects out.
fn register(acceptor: &Acceptor, name: &str, config: &PeerConfig, peer: &Peer) {
    if let Err(e) = acceptor.register(config, peer) {
        warn!(peer = %name, error = %e, "cannot accept this peer's connections; connecting out only");
    }
}
