//! The client's side: a UDP probe to the VIP every few milliseconds, each
//! reply timestamped with the node that sent it, and every change of the
//! client's neighbour entry for the VIP, from netlink notifications. All of
//! it runs on a tokio runtime inside the client's namespace; times are
//! `Instant`s (monotonic clock).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use netlink_packet_core::NetlinkPayload;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourMessage};
use tokio::net::UdpSocket;

use crate::error::{LabError, Result};
use crate::l2::echo::{ECHO_PORT, decode_reply, encode_probe};
use crate::l2::measure::{NeighbourChange, NodeId, Ping};
use crate::lab::Host;

/// Everything the client saw; pings are in send order, `pings[i].seq ==
/// first_seq + i`.
#[derive(Default)]
struct Log {
    first_seq: u64,
    pings: Vec<Ping>,
    neighbour: Vec<NeighbourChange>,
    last_mac: Option<Vec<u8>>,
}

/// The running client. Dropping it stops it.
pub struct Prober {
    log: Arc<Mutex<Log>>,
    runtime: Option<tokio::runtime::Runtime>,
}

/// A node as the client tells it apart: its name in replies, its MAC in
/// the neighbour table.
#[derive(Debug, Clone)]
pub struct NodeIdentity {
    pub name: String,
    pub mac: [u8; 6],
}

impl Prober {
    /// Starts probing `vip` from `client` every `interval`.
    pub fn start(
        client: &Host,
        vip: IpAddr,
        nodes: Vec<NodeIdentity>,
        interval: Duration,
    ) -> Result<Prober> {
        let runtime = client.netns.runtime(1)?;
        let log = Arc::new(Mutex::new(Log::default()));
        let nodes = Arc::new(nodes);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let ready_neigh = ready_tx.clone();
        let (log_n, nodes_n) = (log.clone(), nodes.clone());
        runtime.spawn(async move {
            if let Err(e) = watch_neighbours(vip, nodes_n, log_n, ready_neigh).await {
                eprintln!("l2 prober: neighbour monitor ended: {e}");
            }
        });
        let log_p = log.clone();
        runtime.spawn(async move {
            if let Err(e) = probe(vip, interval, nodes, log_p, ready_tx).await {
                eprintln!("l2 prober: probing ended: {e}");
            }
        });
        for _ in 0..2 {
            match ready_rx.recv_timeout(Duration::from_secs(5)) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(LabError::Invalid("the L2 prober did not start".into())),
            }
        }
        Ok(Prober {
            log,
            runtime: Some(runtime),
        })
    }

    /// The pings sent at or after `since`, with their replies so far.
    pub fn pings_since(&self, since: Instant) -> Vec<Ping> {
        let Ok(log) = self.log.lock() else {
            return Vec::new();
        };
        let start = log.pings.partition_point(|p| p.sent < since);
        log.pings[start..].to_vec()
    }

    /// The changes of the neighbour entry at or after `since`.
    pub fn neighbour_since(&self, since: Instant) -> Vec<NeighbourChange> {
        self.log
            .lock()
            .map(|log| {
                log.neighbour
                    .iter()
                    .filter(|c| c.at >= since)
                    .copied()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The node the client's neighbour entry for the VIP last pointed at:
    /// `None` before any entry, `Some(None)` for a MAC of no node.
    pub fn neighbour_entry(&self) -> Option<Option<NodeId>> {
        let log = self.log.lock().ok()?;
        log.neighbour.last().map(|c| c.node)
    }

    /// Forgets pings sent before `before`: a long benchmark keeps memory flat.
    pub fn forget_before(&self, before: Instant) {
        if let Ok(mut log) = self.log.lock() {
            let cut = log.pings.partition_point(|p| p.sent < before);
            log.pings.drain(..cut);
            log.first_seq += cut as u64;
        }
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

type Ready = std::sync::mpsc::Sender<Result<()>>;

async fn probe(
    vip: IpAddr,
    interval: Duration,
    nodes: Arc<Vec<NodeIdentity>>,
    log: Arc<Mutex<Log>>,
    ready: Ready,
) -> Result<()> {
    let any: SocketAddr = match vip {
        IpAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = match UdpSocket::bind(any).await {
        Ok(s) => Arc::new(s),
        Err(e) => {
            let e = LabError::io("cannot bind the probe socket", e);
            let _ = ready.send(Err(LabError::Invalid(e.to_string())));
            return Err(e);
        }
    };
    let _ = ready.send(Ok(()));
    let receiver = tokio::spawn(receive(socket.clone(), nodes, log.clone()));
    let target = SocketAddr::new(vip, ECHO_PORT);
    let mut ticks = tokio::time::interval(interval);
    // After a stall, keep the 5 ms spacing rather than send a burst.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut seq = 0u64;
    loop {
        ticks.tick().await;
        if receiver.is_finished() {
            return Err(LabError::Invalid("the reply receiver stopped".into()));
        }
        if let Ok(mut log) = log.lock() {
            log.pings.push(Ping {
                seq,
                sent: Instant::now(),
                replies: Vec::new(),
            });
        }
        // A send refused while neighbour resolution fails is a lost probe.
        let _ = socket.send_to(&encode_probe(seq), target).await;
        seq += 1;
    }
}

async fn receive(
    socket: Arc<UdpSocket>,
    nodes: Arc<Vec<NodeIdentity>>,
    log: Arc<Mutex<Log>>,
) -> Result<()> {
    let mut buf = [0u8; 128];
    loop {
        let (len, _) = socket
            .recv_from(&mut buf)
            .await
            .map_err(|e| LabError::io("probe socket", e))?;
        let at = Instant::now();
        let Some((seq, name)) = decode_reply(&buf[..len]) else {
            continue;
        };
        let Some(node) = nodes.iter().position(|n| n.name == name) else {
            continue;
        };
        if let Ok(mut log) = log.lock()
            && let Some(i) = seq.checked_sub(log.first_seq)
            && let Some(ping) = log.pings.get_mut(i as usize)
        {
            ping.replies.push((node, at));
        }
    }
}

async fn watch_neighbours(
    vip: IpAddr,
    nodes: Arc<Vec<NodeIdentity>>,
    log: Arc<Mutex<Log>>,
    ready: Ready,
) -> Result<()> {
    let (connection, _, mut messages) =
        match rtnetlink::new_multicast_connection(&[rtnetlink::MulticastGroup::Neigh]) {
            Ok(c) => c,
            Err(e) => {
                let _ = ready.send(Err(LabError::io("cannot watch neighbours", e)));
                return Ok(());
            }
        };
    tokio::spawn(connection);
    let _ = ready.send(Ok(()));
    while let Some((message, _)) = messages.next().await {
        let at = Instant::now();
        let NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewNeighbour(entry)) =
            message.payload
        else {
            continue;
        };
        let Some(mac) = mac_of(&entry, vip) else {
            continue;
        };
        if let Ok(mut log) = log.lock()
            && log.last_mac.as_deref() != Some(mac)
        {
            let node = nodes.iter().position(|n| n.mac[..] == *mac);
            log.neighbour.push(NeighbourChange { at, node });
            log.last_mac = Some(mac.to_vec());
        }
    }
    Ok(())
}

/// The link-layer address of a neighbour entry for `vip`.
fn mac_of(entry: &NeighbourMessage, vip: IpAddr) -> Option<&[u8]> {
    let for_vip = entry.attributes.iter().any(|a| match a {
        NeighbourAttribute::Destination(NeighbourAddress::Inet(v4)) => IpAddr::from(*v4) == vip,
        NeighbourAttribute::Destination(NeighbourAddress::Inet6(v6)) => IpAddr::from(*v6) == vip,
        _ => false,
    });
    for_vip
        .then(|| {
            entry.attributes.iter().find_map(|a| match a {
                NeighbourAttribute::LinkLayerAddress(mac) => Some(mac.as_slice()),
                _ => None,
            })
        })
        .flatten()
}
