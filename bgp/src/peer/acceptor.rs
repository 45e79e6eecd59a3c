//! Inbound connections: one listening socket for all peers (port 179 by
//! default). Each connection goes to the session of the peer it comes
//! from; connections from unknown addresses are closed at once. The MD5 key
//! of every peer that has a password is installed on the listening socket,
//! so an unsigned or wrongly signed SYN from that peer never completes;
//! peers without a password connect unsigned.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::config::PeerConfig;
use super::driver::Peer;
use crate::transport::{KeyError, Listener, ListenerFamily, canonical_ip};

struct Registered {
    sessions: mpsc::Sender<TcpStream>,
    ttl: u8,
}

type Registry = Arc<Mutex<HashMap<IpAddr, Registered>>>;

/// The listening side of the speaker.
pub struct Acceptor {
    listener: Arc<Listener>,
    registry: Registry,
    task: JoinHandle<()>,
}

impl Acceptor {
    /// Listens on `addr` (`[::]:179` takes IPv4 and IPv6) and starts
    /// accepting. Must run inside a tokio runtime.
    pub fn bind(addr: SocketAddr) -> io::Result<Acceptor> {
        let listener = Arc::new(Listener::bind(addr)?);
        let registry: Registry = Arc::default();
        let task = tokio::spawn(accept_loop(listener.clone(), registry.clone()));
        Ok(Acceptor {
            listener,
            registry,
            task,
        })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Which connections it receives.
    pub fn family(&self) -> ListenerFamily {
        self.listener.family()
    }

    /// Routes connections from `config.address` to `peer`, signed with its
    /// password if it has one. Fails, leaving the peer to connect out only,
    /// when the listener never receives that peer's connections (an IPv6
    /// peer on `0.0.0.0:179`) or the kernel refuses its key.
    pub fn register(&self, config: &PeerConfig, peer: &Peer) -> Result<(), KeyError> {
        let ip = canonical_ip(config.address.ip());
        self.listener.set_password(ip, config.password.as_ref())?;
        if let Ok(mut registry) = self.registry.lock() {
            registry.insert(
                ip,
                Registered {
                    sessions: peer.inbound(),
                    ttl: config.ttl,
                },
            );
        }
        Ok(())
    }

    /// Stops routing connections from `ip`, and removes its key if it has
    /// one.
    pub fn unregister(&self, ip: IpAddr) {
        let ip = canonical_ip(ip);
        if let Ok(mut registry) = self.registry.lock() {
            registry.remove(&ip);
        }
        match self.listener.set_password(ip, None) {
            Ok(()) | Err(KeyError::NotReceived(_)) => {}
            // The old key stays: the next session of this peer must carry
            // it, or find its unsigned SYNs dropped.
            Err(e) => warn!(peer = %ip, error = %e, "cannot remove an MD5 key"),
        }
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: Arc<Listener>, registry: Registry) {
    loop {
        let (stream, from) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors or memory: back off rather than spin.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let target = registry
            .lock()
            .ok()
            .and_then(|r| r.get(&from.ip()).map(|t| (t.sessions.clone(), t.ttl)));
        match target {
            Some((sessions, ttl)) => {
                if let Err(e) = Listener::accept_ttl(&stream, from.ip(), ttl) {
                    debug!(peer = %from, error = %e, "cannot set the TTL of an inbound connection");
                }
                if sessions.try_send(stream).is_err() {
                    debug!(peer = %from, "the session is not taking connections now");
                }
            }
            None => debug!(peer = %from, "connection from an unknown address closed"),
        }
    }
}
