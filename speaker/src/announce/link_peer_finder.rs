//! Finds the router at the other end of an unnumbered interface, and lets
//! it find us, as FRR does: a raw ICMPv6 socket bound to the interface
//! hears router advertisements (FRR sends them on an interface it peers
//! over) and answers to the echo requests and router solicitations it
//! sends to all nodes and all routers (BIRD sends no advertisements, but
//! its host answers an echo). The sources are link-local addresses;
//! [`Candidates`] chooses among them. Each round also sends a router
//! advertisement with a router lifetime of 0 (never a default router,
//! RFC 4861 §4.2): FRR learns an unnumbered neighbour's address from its
//! advertisements alone, and accepts its connections only then. The
//! interface's index and our global address on it are read over
//! rtnetlink each round.

use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use netlink_packet_route::address::{AddressAttribute, AddressHeaderFlags};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tracing::{Instrument, debug, info, warn};

use super::link_peer::{Candidates, Heard, LinkPeer};

const ECHO_REQUEST: u8 = 128;
const ECHO_REPLY: u8 = 129;
const ROUTER_SOLICITATION: u8 = 133;
const ROUTER_ADVERTISEMENT: u8 = 134;
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);

/// Solicitations go out this often until a router is found, then every
/// [`STEADY`]: a router that went away is noticed, and a new one found.
const SEARCHING: Duration = Duration::from_secs(1);
const STEADY: Duration = Duration::from_secs(10);
/// A router not heard for this long yields to another that is.
const FORGET_AFTER: Duration = Duration::from_secs(60);

/// Why an interface cannot be searched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FinderError {
    #[error("cannot open an ICMPv6 socket on {interface}: {reason}")]
    Socket { interface: String, reason: String },
}

/// A background search on one interface; stops when dropped.
pub struct LinkPeerFinder {
    found: watch::Receiver<Option<LinkPeer>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LinkPeerFinder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LinkPeerFinder {
    /// Starts searching `interface`. Must run inside a tokio runtime, on a
    /// thread of the interface's network namespace.
    pub fn start(interface: &str) -> Result<LinkPeerFinder, FinderError> {
        let fail = |e: io::Error| FinderError::Socket {
            interface: interface.to_string(),
            reason: e.to_string(),
        };
        // A raw ICMPv6 socket is a datagram socket to the kernel: sendto
        // and recvfrom, with the peer's address, are all it takes, and
        // tokio's UdpSocket makes them async without unsafe code.
        let socket = icmpv6_socket(interface).map_err(fail)?;
        let socket = UdpSocket::from_std(std::net::UdpSocket::from(socket)).map_err(fail)?;
        let (tx, found) = watch::channel(None);
        let span = tracing::info_span!("unnumbered", %interface);
        let task = tokio::spawn(search(interface.to_string(), socket, tx).instrument(span));
        Ok(LinkPeerFinder { found, task })
    }

    /// The router found so far; [`LinkPeerFinder::changed`] waits for the
    /// next one from here.
    pub fn current(&mut self) -> Option<LinkPeer> {
        *self.found.borrow_and_update()
    }

    /// Completes when another router (or next hop) was found since
    /// [`LinkPeerFinder::current`]; never once the search has ended.
    pub async fn changed(&mut self) {
        if self.found.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

fn icmpv6_socket(interface: &str) -> io::Result<Socket> {
    let socket = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))?;
    socket.bind_device(Some(interface.as_bytes()))?;
    // Routers drop solicitations that may have crossed a router (RFC
    // 4861 §6.1.1); our own multicast must not come back as an answer.
    socket.set_multicast_hops_v6(255)?;
    socket.set_unicast_hops_v6(255)?;
    socket.set_multicast_loop_v6(false)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

async fn search(interface: String, socket: UdpSocket, found: watch::Sender<Option<LinkPeer>>) {
    let mut candidates = Candidates::new(FORGET_AFTER);
    let id = u16::try_from(std::process::id() & 0xffff).unwrap_or(0);
    let mut seq: u16 = 0;
    let mut next_round = tokio::time::Instant::now();
    let mut ifindex = None;
    let mut global = None;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(next_round) => {
                match link_facts(&interface).await {
                    Ok((index, g)) => {
                        ifindex = Some(index);
                        global = g;
                    }
                    Err(e) => debug!(error = %e, "cannot read the interface"),
                }
                if let Some(index) = ifindex {
                    seq = seq.wrapping_add(1);
                    solicit(&socket, index, id, seq);
                }
                let searching = found.borrow().is_none();
                next_round = tokio::time::Instant::now() + if searching { SEARCHING } else { STEADY };
            }
            heard = receive(&socket, id) => match heard {
                Ok(Some((from, how))) => candidates.heard(from, how, Instant::now()),
                Ok(None) => {}
                Err(e) => {
                    warn!(error = %e, "ICMPv6 receive failed");
                    tokio::time::sleep(SEARCHING).await;
                }
            },
        }
        let chosen = candidates.choose(Instant::now());
        let peer = ifindex.zip(chosen).map(|(ifindex, address)| LinkPeer {
            ifindex,
            address,
            global,
        });
        if peer != *found.borrow() {
            if let Some(p) = &peer {
                info!(router = %p.address, global = ?p.global, "router found on the unnumbered interface");
            }
            if found.send(peer).is_err() {
                return;
            }
        }
    }
}

/// An echo request to all nodes, a router solicitation to all routers,
/// and our own advertisement to all nodes.
fn solicit(socket: &UdpSocket, ifindex: u32, id: u16, seq: u16) {
    let [i0, i1] = id.to_be_bytes();
    let [s0, s1] = seq.to_be_bytes();
    // The kernel fills in the checksum of raw ICMPv6 sockets (RFC 3542 §3.1).
    let echo = [ECHO_REQUEST, 0, 0, 0, i0, i1, s0, s1];
    let solicitation = [ROUTER_SOLICITATION, 0, 0, 0, 0, 0, 0, 0];
    // Hop limit, flags, router lifetime, reachable time and retransmit
    // timer all 0: "unspecified", and not a default router.
    let mut advertisement = [0u8; 16];
    advertisement[0] = ROUTER_ADVERTISEMENT;
    let messages: [(&[u8], Ipv6Addr); 3] = [
        (&echo, ALL_NODES),
        (&solicitation, ALL_ROUTERS),
        (&advertisement, ALL_NODES),
    ];
    for (bytes, to) in messages {
        let to = SocketAddr::V6(SocketAddrV6::new(to, 0, 0, ifindex));
        if let Err(e) = socket.try_send_to(bytes, to) {
            debug!(error = %e, %ifindex, "cannot send a solicitation");
        }
    }
}

/// The next ICMPv6 message that names a neighbour: a router
/// advertisement, or an answer to our echo.
async fn receive(socket: &UdpSocket, id: u16) -> io::Result<Option<(Ipv6Addr, Heard)>> {
    let mut buf = [0u8; 1500];
    let (len, from) = socket.recv_from(&mut buf).await?;
    let IpAddr::V6(from) = from.ip() else {
        return Ok(None);
    };
    Ok(classify(&buf[..len], id).map(|how| (from, how)))
}

/// What an ICMPv6 message says of its sender.
fn classify(message: &[u8], id: u16) -> Option<Heard> {
    match message {
        [ROUTER_ADVERTISEMENT, 0, ..] => Some(Heard::Router),
        [ECHO_REPLY, 0, _, _, i0, i1, ..] if u16::from_be_bytes([*i0, *i1]) == id => {
            Some(Heard::Host)
        }
        _ => None,
    }
}

/// The interface's index, and a global IPv6 address of ours on it.
async fn link_facts(interface: &str) -> io::Result<(u32, Option<Ipv6Addr>)> {
    let (connection, handle, _) = rtnetlink::new_connection()?;
    let task = tokio::spawn(connection);
    let result = async {
        let link = handle
            .link()
            .get()
            .match_name(interface.to_string())
            .execute()
            .try_next()
            .await
            .map_err(io::Error::other)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such interface"))?;
        let index = link.header.index;
        let global = handle
            .address()
            .get()
            .set_link_index_filter(index)
            .execute()
            .try_filter_map(|a| async move {
                let usable = !a.header.flags.contains(AddressHeaderFlags::Tentative);
                Ok(a.attributes.iter().find_map(|attr| match attr {
                    AddressAttribute::Address(IpAddr::V6(v6))
                        if usable && !v6.is_unicast_link_local() && !v6.is_loopback() =>
                    {
                        Some(*v6)
                    }
                    _ => None,
                }))
            })
            .try_collect::<Vec<Ipv6Addr>>()
            .await
            .map_err(io::Error::other)?
            .into_iter()
            .next();
        Ok((index, global))
    }
    .await;
    task.abort();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advertisements_and_our_echo_answers_name_a_neighbour_nothing_else_does() {
        assert_eq!(
            classify(&[134, 0, 0, 0, 64, 0, 0, 0], 7),
            Some(Heard::Router)
        );
        assert_eq!(classify(&[129, 0, 0, 0, 0, 7, 0, 1], 7), Some(Heard::Host));
        assert_eq!(
            classify(&[129, 0, 0, 0, 0, 8, 0, 1], 7),
            None,
            "another pinger's"
        );
        assert_eq!(classify(&[128, 0, 0, 0, 0, 7, 0, 1], 7), None);
        assert_eq!(classify(&[135, 0, 0, 0], 7), None);
        assert_eq!(classify(&[], 7), None);
    }
}
