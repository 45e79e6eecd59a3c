//! The task that owns every session: commands in, datagrams in, timers.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, info, warn};

use super::device::Device;
use super::error::ShellError;
use super::socket::{self, Datagram};
use super::status::{Counters, SessionStatus};
use super::{MULTIHOP_PORT, SINGLE_HOP_PORT};
use crate::fsm::{Action, Micros, Session, SessionConfig};
use crate::wire::{self, SessionState};

const COMMAND_QUEUE: usize = 16;
/// Datagrams read ahead of the driver; beyond this they are dropped, as
/// the kernel would drop them from a full socket buffer.
const DATAGRAM_QUEUE: usize = 1024;

/// Which session a peer's packets belong to before it knows our
/// discriminator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionKey {
    /// The peer's address.
    pub peer: IpAddr,
    /// Multihop (RFC 5883, port 4784) rather than single-hop.
    pub multihop: bool,
    /// The device the session is bound to: a VRF's device, or the
    /// interface of a link-local peer (which names the link). `None`: the
    /// default VRF, the route decides.
    pub device: Option<Device>,
}

impl SessionKey {
    /// The port its packets go to.
    fn port(&self) -> u16 {
        if self.multihop {
            MULTIHOP_PORT
        } else {
            SINGLE_HOP_PORT
        }
    }

    /// Where its packets go: a link-local peer's address names the link
    /// through the device's index.
    fn destination(&self) -> Result<SocketAddr, ShellError> {
        match (self.peer, self.device) {
            (IpAddr::V6(v6), Some(device)) if v6.is_unicast_link_local() => {
                let index = nix::net::if_::if_nametoindex(device.as_str()).map_err(|e| {
                    ShellError::Device {
                        device,
                        source: e.into(),
                    }
                })?;
                Ok(SocketAddrV6::new(v6, self.port(), 0, index).into())
            }
            (ip, _) => Ok(SocketAddr::new(ip, self.port())),
        }
    }

    /// The receiver its packets arrive on.
    fn receiver(&self) -> Receiver {
        Receiver {
            ipv6: self.peer.is_ipv6(),
            port: self.port(),
            device: self.device,
        }
    }
}

/// One receiving socket: a family, a well-known port, and the device it is
/// bound to, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Receiver {
    ipv6: bool,
    port: u16,
    device: Option<Device>,
}

/// A session to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSpec {
    /// The peer and the hop mode.
    pub key: SessionKey,
    /// Our source address; `None` lets the route choose.
    pub local: Option<IpAddr>,
    /// Timers and role.
    pub config: SessionConfig,
    /// Multihop: the lowest TTL a packet may arrive with (single-hop
    /// packets must arrive with 255 whatever this says).
    pub minimum_ttl: u8,
}

/// What a session's owner holds: its state, and its counters.
#[derive(Debug, Clone)]
pub struct SessionHandle {
    /// Changes of state.
    pub status: watch::Receiver<SessionStatus>,
    /// Packet counters.
    pub counters: Arc<Counters>,
}

type Reply = oneshot::Sender<Result<SessionHandle, ShellError>>;

enum Command {
    Add { spec: SessionSpec, reply: Reply },
    Update { spec: SessionSpec },
    Remove { key: SessionKey },
    Shutdown { done: oneshot::Sender<()> },
}

/// The BFD sessions of one speaker. Dropping it stops them without
/// telling the peers; [`Bfd::shutdown`] sends AdminDown first.
pub struct Bfd {
    commands: mpsc::Sender<Command>,
    task: Option<JoinHandle<()>>,
}

impl Bfd {
    /// Starts the task (no socket is opened before the first session).
    pub fn spawn() -> Bfd {
        let (commands_tx, commands) = mpsc::channel(COMMAND_QUEUE);
        let (datagrams_tx, datagrams) = mpsc::channel(DATAGRAM_QUEUE);
        let driver = Driver {
            origin: Instant::now(),
            sessions: HashMap::new(),
            by_key: HashMap::new(),
            listeners: HashMap::new(),
            datagrams_tx,
            datagrams,
            commands,
            seed: seed(),
        };
        let task = tokio::spawn(driver.run().instrument(tracing::info_span!("bfd")));
        Bfd {
            commands: commands_tx,
            task: Some(task),
        }
    }

    /// Adds a session, or joins the one already running for `spec.key`
    /// (then `spec`'s settings replace its own).
    pub async fn add(&self, spec: SessionSpec) -> Result<SessionHandle, ShellError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Add { spec, reply })
            .await
            .map_err(|_| ShellError::Stopped)?;
        answer.await.map_err(|_| ShellError::Stopped)?
    }

    /// New timers, role or minimum TTL for a running session, without
    /// taking it down (a Poll Sequence carries new intervals, §6.8.3).
    pub async fn update(&self, spec: SessionSpec) {
        let _ = self.commands.send(Command::Update { spec }).await;
    }

    /// Leaves a session; the last owner's removal sends AdminDown and stops it.
    pub async fn remove(&self, key: SessionKey) {
        let _ = self.commands.send(Command::Remove { key }).await;
    }

    /// Sends AdminDown on every session and stops.
    pub async fn shutdown(mut self) {
        let (done, finished) = oneshot::channel();
        if self.commands.send(Command::Shutdown { done }).await.is_ok() {
            let _ = finished.await;
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Bfd {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

fn seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ u64::from(std::process::id()).rotate_left(32)
}

struct Entry {
    spec: SessionSpec,
    /// Where its packets go.
    to: SocketAddr,
    fsm: Session,
    socket: UdpSocket,
    status: SessionStatus,
    status_tx: watch::Sender<SessionStatus>,
    counters: Arc<Counters>,
    users: usize,
    span: tracing::Span,
}

impl Entry {
    fn handle(&self) -> SessionHandle {
        SessionHandle {
            status: self.status_tx.subscribe(),
            counters: self.counters.clone(),
        }
    }

    /// Carries out the state machine's actions.
    fn execute(&mut self, actions: Vec<Action>) {
        let _span = self.span.enter();
        let to = self.to;
        let mut changed = false;
        for action in actions {
            match action {
                Action::Send(packet) => match self.socket.try_send_to(&packet.encode(), to) {
                    Ok(_) => self.counters.count_out(),
                    // A full buffer or an unreachable peer: the next
                    // packet tries again, and the peer's detection decides.
                    Err(e) => debug!(error = %e, "cannot send a BFD packet"),
                },
                Action::StateChanged { from, to, diag } => {
                    changed = true;
                    if to == SessionState::Up {
                        self.status.up_events += 1;
                        info!(%from, %to, ?diag, "BFD session up");
                    } else if from == SessionState::Up {
                        self.status.down_events += 1;
                        warn!(%from, %to, ?diag, "BFD session down");
                    } else {
                        debug!(%from, %to, ?diag, "BFD session state");
                    }
                    self.status.since = Some(SystemTime::now());
                }
            }
        }
        let remote = self.fsm.remote_discriminator();
        if changed || remote != self.status.remote_discriminator {
            self.status.state = self.fsm.state();
            self.status.remote_state = self.fsm.remote_state();
            self.status.diag = self.fsm.local_diag();
            self.status.remote_discriminator = remote;
            self.status_tx.send_replace(self.status.clone());
        }
    }
}

struct Driver {
    origin: Instant,
    sessions: HashMap<u32, Entry>,
    by_key: HashMap<SessionKey, u32>,
    listeners: HashMap<Receiver, JoinHandle<()>>,
    datagrams_tx: mpsc::Sender<(Receiver, Datagram)>,
    datagrams: mpsc::Receiver<(Receiver, Datagram)>,
    commands: mpsc::Receiver<Command>,
    seed: u64,
}

impl Driver {
    fn now(&self) -> Micros {
        Micros::from_duration(self.origin.elapsed())
    }

    fn next_seed(&mut self) -> u64 {
        // splitmix64: distinct, well-spread seeds from one start.
        self.seed = self.seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    async fn run(mut self) {
        loop {
            let deadline = self
                .sessions
                .values()
                .filter_map(|e| e.fsm.next_deadline())
                .min()
                .map(|m| self.origin + m.as_duration());
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(Command::Add { spec, reply }) => {
                        let _ = reply.send(self.add(spec));
                    }
                    Some(Command::Update { spec }) => self.update(spec),
                    Some(Command::Remove { key }) => self.remove(key),
                    Some(Command::Shutdown { done }) => {
                        self.stop();
                        let _ = done.send(());
                        return;
                    }
                    None => {
                        self.stop();
                        return;
                    }
                },
                Some((receiver, datagram)) = self.datagrams.recv() => self.on_datagram(receiver, datagram),
                _ = sleep_until(deadline), if deadline.is_some() => self.on_timers(),
            }
        }
    }

    fn listen(&mut self, receiver: Receiver) -> Result<(), ShellError> {
        if self.listeners.contains_key(&receiver) {
            return Ok(());
        }
        let socket = socket::listen(receiver.ipv6, receiver.port, receiver.device)?;
        let out = self.datagrams_tx.clone();
        let task = tokio::spawn(async move {
            loop {
                match socket::receive(&socket).await {
                    Ok(datagram) => {
                        // Full queue: drop, as a full socket buffer would.
                        if let Err(mpsc::error::TrySendError::Closed(_)) =
                            out.try_send((receiver, datagram))
                        {
                            return;
                        }
                    }
                    Err(e) => {
                        debug!(error = %e, ?receiver, "BFD receive error");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        });
        self.listeners.insert(receiver, task);
        Ok(())
    }

    /// Closes a device's receiver no session uses any more: the device
    /// may be gone for good (a VRF removed, an unnumbered peer dropped).
    fn unlisten_unused(&mut self, receiver: Receiver) {
        if receiver.device.is_some()
            && !self
                .sessions
                .values()
                .any(|e| e.spec.key.receiver() == receiver)
            && let Some(task) = self.listeners.remove(&receiver)
        {
            task.abort();
        }
    }

    fn add(&mut self, spec: SessionSpec) -> Result<SessionHandle, ShellError> {
        if let Some(entry) = self
            .by_key
            .get(&spec.key)
            .and_then(|d| self.sessions.get_mut(d))
        {
            entry.users += 1;
            let handle = entry.handle();
            self.update(spec);
            return Ok(handle);
        }
        let to = spec.key.destination()?;
        self.listen(spec.key.receiver())?;
        let seed = self.next_seed();
        let socket = match socket::sender(spec.local, spec.key.peer, spec.key.device, seed) {
            Ok(socket) => socket,
            Err(e) => {
                self.unlisten_unused(spec.key.receiver());
                return Err(e);
            }
        };
        let discr = loop {
            let candidate = self.next_seed() as u32;
            if let Some(d) = NonZeroU32::new(candidate)
                && !self.sessions.contains_key(&candidate)
            {
                break d;
            }
        };
        let now = self.now();
        let fsm = Session::new(spec.config, discr, self.next_seed(), now);
        let status = SessionStatus::new(discr.get());
        let (status_tx, _) = watch::channel(status.clone());
        let span = tracing::info_span!(
            "bfd_session",
            peer = %spec.key.peer,
            multihop = spec.key.multihop,
            device = spec.key.device.as_ref().map(tracing::field::display)
        );
        span.in_scope(|| {
            info!(
                local = ?socket.local_addr().ok(),
                discriminator = discr.get(),
                tx_us = spec.config.timers.desired_min_tx_us,
                rx_us = spec.config.timers.required_min_rx_us,
                multiplier = spec.config.timers.detect_mult,
                passive = spec.config.passive,
                "BFD session added"
            )
        });
        let entry = Entry {
            spec,
            to,
            fsm,
            socket,
            status,
            status_tx,
            counters: Arc::new(Counters::default()),
            users: 1,
            span,
        };
        let handle = entry.handle();
        self.by_key.insert(spec.key, discr.get());
        self.sessions.insert(discr.get(), entry);
        Ok(handle)
    }

    fn update(&mut self, spec: SessionSpec) {
        let now = self.now();
        let Some(entry) = self
            .by_key
            .get(&spec.key)
            .and_then(|d| self.sessions.get_mut(d))
        else {
            return;
        };
        if entry.spec == spec {
            return;
        }
        entry.span.in_scope(
            || info!(?spec.config, minimum_ttl = spec.minimum_ttl, "BFD session settings changed"),
        );
        let mut actions = entry.fsm.set_timers(now, spec.config.timers);
        actions.extend(entry.fsm.set_passive(now, spec.config.passive));
        entry.spec.config = spec.config;
        entry.spec.minimum_ttl = spec.minimum_ttl;
        entry.execute(actions);
    }

    fn remove(&mut self, key: SessionKey) {
        let now = self.now();
        let Some(&discr) = self.by_key.get(&key) else {
            return;
        };
        let Some(entry) = self.sessions.get_mut(&discr) else {
            return;
        };
        entry.users = entry.users.saturating_sub(1);
        if entry.users > 0 {
            return;
        }
        let actions = entry.fsm.admin_down(now);
        entry.execute(actions);
        entry.span.in_scope(|| info!("BFD session removed"));
        self.sessions.remove(&discr);
        self.by_key.remove(&key);
        self.unlisten_unused(key.receiver());
    }

    fn stop(&mut self) {
        let now = self.now();
        for entry in self.sessions.values_mut() {
            let actions = entry.fsm.admin_down(now);
            entry.execute(actions);
        }
        self.sessions.clear();
        self.by_key.clear();
        for (_, task) in self.listeners.drain() {
            task.abort();
        }
    }

    fn on_timers(&mut self) {
        let now = self.now();
        for entry in self.sessions.values_mut() {
            if entry.fsm.next_deadline().is_some_and(|d| d <= now) {
                let actions = entry.fsm.poll_timers(now);
                entry.execute(actions);
            }
        }
    }

    fn on_datagram(&mut self, receiver: Receiver, datagram: Datagram) {
        let now = self.now();
        let from = canonical(datagram.from.ip());
        let packet = match wire::decode(&datagram.payload) {
            Ok(packet) => packet,
            Err(error) => {
                debug!(%from, %error, "BFD packet discarded");
                return;
            }
        };
        let multihop = receiver.port == MULTIHOP_PORT;
        let key = SessionKey {
            peer: from,
            multihop,
            device: receiver.device,
        };
        let discr = if packet.your_discriminator != 0 {
            Some(packet.your_discriminator)
        } else {
            self.by_key.get(&key).copied()
        };
        let Some(entry) = discr.and_then(|d| self.sessions.get_mut(&d)) else {
            debug!(%from, your = packet.your_discriminator, "BFD packet for no session");
            return;
        };
        // The address, the port and the device it arrived on must all be
        // the session's: the same address in another VRF is another peer.
        if entry.spec.key != key {
            debug!(%from, ?receiver, "BFD packet names a session of another peer");
            return;
        }
        let minimum = if multihop {
            entry.spec.minimum_ttl
        } else {
            255
        };
        if datagram.ttl.is_none_or(|ttl| ttl < minimum) {
            entry.counters.count_ttl_drop();
            entry.span.in_scope(
                || debug!(ttl = ?datagram.ttl, minimum, "BFD packet dropped for its TTL"),
            );
            return;
        }
        entry.counters.count_in();
        let actions = entry.fsm.receive(now, &packet);
        entry.execute(actions);
    }
}

/// An IPv4 peer seen through an IPv6 socket is still the IPv4 peer.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
