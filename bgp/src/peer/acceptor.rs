//! Inbound connections: one listening socket for all peers of the default
//! VRF (port 179 by default), and one more on the same port for each VRF
//! device that has peers, bound to that device. Each connection goes to
//! the session of the peer it comes from, looked up among the peers of
//! the device it arrived on: a VRF peer's address reaching the default
//! listener (another path, another table) is not that peer's session.
//! Connections from unknown addresses are closed at once. The MD5 key of
//! every peer that has a password is installed on its device's listening
//! socket, so an unsigned or wrongly signed SYN from that peer never
//! completes; peers without a password connect unsigned.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::config::PeerConfig;
use super::driver::Peer;
use crate::transport::{KeyError, Listener, ListenerFamily, canonical_ip};

struct Registered {
    sessions: mpsc::Sender<TcpStream>,
    ttl: u8,
}

type Registry = Arc<Mutex<HashMap<PeerKey, Registered>>>;

/// Who a connection is from: the address, and for an IPv6 link-local one
/// the interface it lives on (its scope), since the same link-local
/// address may be another router on another link. An unnumbered peer is
/// registered with its interface's index; a router's connection arrives
/// with the scope of the interface it came in on.
type PeerKey = (IpAddr, u32);

fn peer_key(addr: SocketAddr) -> PeerKey {
    let ip = canonical_ip(addr.ip());
    match (ip, addr) {
        (IpAddr::V6(v6), SocketAddr::V6(scoped)) if v6.is_unicast_link_local() => {
            (ip, scoped.scope_id())
        }
        _ => (ip, 0),
    }
}

/// One listening socket and the peers whose connections it takes.
struct Bound {
    listener: Arc<Listener>,
    registry: Registry,
    task: JoinHandle<()>,
}

impl Bound {
    fn start(listener: Listener, device: Option<String>) -> Bound {
        let listener = Arc::new(listener);
        let registry: Registry = Arc::default();
        let task = tokio::spawn(accept_loop(listener.clone(), registry.clone(), device));
        Bound {
            listener,
            registry,
            task,
        }
    }
}

impl Drop for Bound {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Why the listener cannot take a peer's connections.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The peer's key cannot be installed or the listener never hears it.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// No listener could be bound to the peer's VRF device.
    #[error("cannot listen on {addr} in VRF {device}: {source}")]
    Listen {
        /// The default listener's address, which the VRF's shares.
        addr: SocketAddr,
        /// The VRF device.
        device: String,
        /// What the kernel said.
        source: io::Error,
    },
}

/// The listening side of the speaker.
pub struct Acceptor {
    /// Where the default VRF's listener is bound (the port is the one
    /// actually bound, for port 0).
    addr: SocketAddr,
    family: ListenerFamily,
    /// By VRF device; `None` is the default VRF.
    bound: Mutex<HashMap<Option<String>, Bound>>,
}

impl Acceptor {
    /// Listens on `addr` (`[::]:179` takes IPv4 and IPv6) and starts
    /// accepting. Must run inside a tokio runtime.
    pub fn bind(addr: SocketAddr) -> io::Result<Acceptor> {
        let listener = Listener::bind(addr)?;
        let addr = listener.local_addr()?;
        let family = listener.family();
        let bound = HashMap::from([(None, Bound::start(listener, None))]);
        Ok(Acceptor {
            addr,
            family,
            bound: Mutex::new(bound),
        })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.addr)
    }

    /// Which connections it receives.
    pub fn family(&self) -> ListenerFamily {
        self.family
    }

    /// Routes connections from `config.address` that arrive in the peer's
    /// VRF to `peer`, signed with its password if it has one. The first
    /// peer of a VRF opens that VRF's listener, so this must run inside a
    /// tokio runtime, on a thread of the network namespace the listener
    /// belongs in. Fails, leaving the peer to connect out only, when the
    /// listener never receives that peer's connections (an IPv6 peer on
    /// `0.0.0.0:179`), the VRF device cannot be listened on, or the kernel
    /// refuses its key.
    pub fn register(&self, config: &PeerConfig, peer: &Peer) -> Result<(), RegisterError> {
        self.register_inbound(config, peer.inbound())
    }

    /// [`Acceptor::register`] with the session's inbound queue
    /// ([`Peer::inbound`]), for a caller that cannot lend the session.
    pub fn register_inbound(
        &self,
        config: &PeerConfig,
        sessions: mpsc::Sender<TcpStream>,
    ) -> Result<(), RegisterError> {
        let key = peer_key(config.address);
        let ip = key.0;
        let mut bound = self.bound.lock().unwrap_or_else(PoisonError::into_inner);
        let vrf = config.vrf.clone();
        if !bound.contains_key(&vrf)
            && let Some(device) = &vrf
        {
            let addr = SocketAddr::new(self.addr.ip(), self.addr.port());
            let listener = Listener::bind_device(addr, Some(device)).map_err(|source| {
                RegisterError::Listen {
                    addr,
                    device: device.clone(),
                    source,
                }
            })?;
            info!(%addr, %device, "listening for BGP connections in a VRF");
            bound.insert(vrf.clone(), Bound::start(listener, vrf.clone()));
        }
        let Some(b) = bound.get(&vrf) else {
            return Ok(());
        };
        let result = b.listener.set_password(ip, config.password.as_ref());
        if result.is_ok() {
            b.registry
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(
                    key,
                    Registered {
                        sessions,
                        ttl: config.ttl,
                    },
                );
        }
        drop_if_unused(&mut bound, &vrf);
        Ok(result?)
    }

    /// Stops routing `config`'s peer's connections, and removes its key if
    /// it has one; the listener of a VRF left without peers closes.
    pub fn unregister(&self, config: &PeerConfig) {
        let key = peer_key(config.address);
        let ip = key.0;
        let mut bound = self.bound.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(b) = bound.get(&config.vrf) else {
            return;
        };
        b.registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key);
        match b.listener.set_password(ip, None) {
            Ok(()) | Err(KeyError::NotReceived(_)) => {}
            // The old key stays: the next session of this peer must carry
            // it, or find its unsigned SYNs dropped.
            Err(e) => warn!(peer = %ip, error = %e, "cannot remove an MD5 key"),
        }
        drop_if_unused(&mut bound, &config.vrf);
    }
}

/// Closes a VRF's listener that serves no peer (never the default one).
fn drop_if_unused(bound: &mut HashMap<Option<String>, Bound>, vrf: &Option<String>) {
    let unused = bound.get(vrf).is_some_and(|b| {
        b.registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    });
    if vrf.is_some() && unused {
        bound.remove(vrf);
    }
}

async fn accept_loop(listener: Arc<Listener>, registry: Registry, device: Option<String>) {
    let vrf = device.as_deref().unwrap_or("default");
    loop {
        let (stream, from) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors or memory: back off rather than spin.
                warn!(%vrf, error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let target = registry
            .lock()
            .ok()
            .and_then(|r| r.get(&peer_key(from)).map(|t| (t.sessions.clone(), t.ttl)));
        match target {
            Some((sessions, ttl)) => {
                if let Err(e) = Listener::accept_ttl(&stream, from.ip(), ttl) {
                    debug!(peer = %from, error = %e, "cannot set the TTL of an inbound connection");
                }
                if sessions.try_send(stream).is_err() {
                    debug!(peer = %from, "the session is not taking connections now");
                }
            }
            None => {
                debug!(peer = %from, %vrf, "connection from an address that is no peer in this VRF closed")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsm::PeerAs;
    use crate::wire::BgpId;
    use std::net::Ipv4Addr;
    use std::time::Duration;

    const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn config(vrf: Option<&str>) -> PeerConfig {
        let id = BgpId::new(1).expect("non-zero");
        let mut c = PeerConfig::new("p", LOCALHOST, 64512, id, PeerAs::Exact(64500));
        c.vrf = vrf.map(str::to_string);
        c
    }

    async fn arrives(rx: &mut mpsc::Receiver<TcpStream>) -> bool {
        tokio::time::timeout(Duration::from_millis(500), rx.recv())
            .await
            .is_ok_and(|s| s.is_some())
    }

    /// `lo` stands in for a VRF device: connections from 127.0.0.1 arrive
    /// on it.
    #[tokio::test]
    async fn connections_go_to_the_peer_of_the_device_they_arrived_on() {
        let acceptor = Acceptor::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let port = acceptor.local_addr().unwrap().port();
        let dial = || TcpStream::connect((LOCALHOST, port));
        let (in_vrf, mut vrf_rx) = mpsc::channel(4);
        let (in_default, mut default_rx) = mpsc::channel(4);
        acceptor
            .register_inbound(&config(Some("lo")), in_vrf)
            .unwrap();
        acceptor
            .register_inbound(&config(None), in_default)
            .unwrap();

        let _first = dial().await.unwrap();
        assert!(arrives(&mut vrf_rx).await, "the VRF peer's session");
        assert!(
            !arrives(&mut default_rx).await,
            "the same address in the default VRF is another peer"
        );

        // Its last peer gone, the VRF's listener closes: lo's connections
        // reach the default listener again.
        acceptor.unregister(&config(Some("lo")));
        // The aborted accept task drops the socket when next polled.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _second = dial().await.unwrap();
        assert!(arrives(&mut default_rx).await);
        assert!(!arrives(&mut vrf_rx).await);
    }

    /// `lo` has no link-local address, so the keys are checked as the
    /// accept loop computes them.
    #[test]
    fn a_link_local_peer_is_known_by_its_interface_too() {
        let on = |scope| {
            SocketAddr::V6(std::net::SocketAddrV6::new(
                "fe80::1".parse().unwrap(),
                179,
                0,
                scope,
            ))
        };
        assert_eq!(peer_key(on(7)), peer_key(on(7)));
        assert_ne!(
            peer_key(on(7)),
            peer_key(on(8)),
            "another link, another router"
        );
        let global = |scope| {
            SocketAddr::V6(std::net::SocketAddrV6::new(
                "fd00::1".parse().unwrap(),
                179,
                0,
                scope,
            ))
        };
        assert_eq!(
            peer_key(global(7)),
            peer_key(global(0)),
            "a global address has no scope"
        );
        let mapped: SocketAddr = "[::ffff:10.0.0.1]:179".parse().unwrap();
        assert_eq!(peer_key(mapped), peer_key("10.0.0.1:179".parse().unwrap()));
    }

    #[tokio::test]
    async fn a_vrf_without_a_device_is_an_error_that_names_it() {
        let acceptor = Acceptor::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let (tx, _rx) = mpsc::channel(1);
        let e = acceptor
            .register_inbound(&config(Some("ferrolb-none0")), tx)
            .unwrap_err();
        assert!(e.to_string().contains("in VRF ferrolb-none0"), "{e}");
    }
}
