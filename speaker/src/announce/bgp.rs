//! BGP mode: one session per peer of this node, kept in step with the plan.
//! A route change is a diff on the running session; only a change of a
//! peer's own parameters restarts that peer's session.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};

use ferrolb_bgp::peer::{Acceptor, GracefulRestartConfig, Peer, PeerConfig, PeerStatus};
use ferrolb_crds::config::Config;
use tokio::sync::watch;
use tracing::{info, warn};

use super::peer_config::{PeerConfigError, peer_config};
use crate::decide::BgpPlan;

struct Running {
    config: PeerConfig,
    peer: Peer,
    /// The session's status, watched for [`BgpAnnouncer::changed`]; `None`
    /// once the session task has ended (its status can change no more).
    status: Option<watch::Receiver<PeerStatus>>,
}

/// The sessions of this node.
pub struct BgpAnnouncer {
    node_router_id: Option<Ipv4Addr>,
    /// What sessions with graceful restart advertise.
    graceful_restart: GracefulRestartConfig,
    /// Routers' connections to us, when listening.
    acceptor: Option<Acceptor>,
    peers: BTreeMap<String, Running>,
    /// Why configured peers are not running, by name.
    errors: BTreeMap<String, PeerConfigError>,
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
            errors: BTreeMap::new(),
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

    /// Makes the sessions and their routes match `plan`. Must run inside a
    /// tokio runtime.
    pub async fn apply(&mut self, config: &Config, plan: &BgpPlan) {
        let gone: Vec<String> = self
            .peers
            .keys()
            .filter(|n| !plan.peers.contains_key(*n))
            .cloned()
            .collect();
        for name in gone {
            if let Some(running) = self.peers.remove(&name) {
                info!(peer = %name, "peer removed from the configuration");
                self.unregister(&running.config);
                running
                    .peer
                    .shutdown("peer removed from the configuration")
                    .await;
            }
        }
        self.errors.clear();
        for (name, routes) in &plan.peers {
            let Some(compiled) = config.peers.get(name) else {
                continue;
            };
            let wanted = match peer_config(compiled, self.node_router_id, self.graceful_restart) {
                Ok(c) => c,
                Err(e) => {
                    // Not logged here: the pass logs each peer's error once,
                    // when it changes.
                    if let Some(running) = self.peers.remove(name) {
                        self.unregister(&running.config);
                        running
                            .peer
                            .shutdown("configuration no longer usable")
                            .await;
                    }
                    self.errors.insert(name.clone(), e);
                    continue;
                }
            };
            if self.peers.get(name).is_some_and(|r| r.config != wanted)
                && let Some(running) = self.peers.remove(name)
            {
                info!(peer = %name, "peer parameters changed: restarting its session");
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
                self.peers.insert(
                    name.clone(),
                    Running {
                        peer,
                        config: wanted,
                        status,
                    },
                );
            }
            let Some(running) = self.peers.get(name) else {
                continue;
            };
            running.peer.set_routes(routes.clone()).await;
        }
    }

    fn unregister(&self, config: &PeerConfig) {
        if let Some(acceptor) = &self.acceptor {
            acceptor.unregister(config.address.ip());
        }
    }

    /// The status of every running session, by peer name.
    pub fn statuses(&self) -> BTreeMap<String, PeerStatus> {
        self.peers
            .iter()
            .map(|(n, r)| (n.clone(), r.peer.status()))
            .collect()
    }

    /// Completes when the status of some session changed (never while no
    /// session runs): status and metrics follow the sessions as they move,
    /// with no polling.
    pub async fn changed(&mut self) {
        let (names, waits): (Vec<&String>, Vec<_>) = self
            .peers
            .iter_mut()
            .filter_map(|(name, r)| Some((name, Box::pin(r.status.as_mut()?.changed()))))
            .unzip();
        if waits.is_empty() {
            return std::future::pending().await;
        }
        let (result, index, _) = futures::future::select_all(waits).await;
        if result.is_err() {
            // The session task ended: stop watching it, rather than wake
            // for ever on its closed channel.
            let name = names[index].clone();
            if let Some(r) = self.peers.get_mut(&name) {
                r.status = None;
            }
        }
    }

    /// [`BgpAnnouncer::changed`] of `announcer`, or never without one: for
    /// a `select!` over an announcer not created yet.
    pub async fn changed_if_any(announcer: &mut Option<BgpAnnouncer>) {
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
        self.stop(reason, false).await
    }

    /// Stops for a planned restart: sessions that negotiated graceful
    /// restart close without NOTIFICATION and their routers keep the routes
    /// as stale until the speaker is back; the others withdraw and close as
    /// [`BgpAnnouncer::shutdown`] does.
    pub async fn stop_for_restart(self, reason: &str) {
        self.stop(reason, true).await
    }

    async fn stop(self, reason: &str, restarting: bool) {
        // In parallel: every router should stop sending traffic at once.
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
    }
}

/// Routes `peer`'s inbound connections to its session; a peer the listener
/// cannot serve still connects out.
fn register(acceptor: &Acceptor, name: &str, config: &PeerConfig, peer: &Peer) {
    if let Err(e) = acceptor.register(config, peer) {
        warn!(peer = %name, error = %e, "cannot accept this peer's connections; connecting out only");
    }
}
