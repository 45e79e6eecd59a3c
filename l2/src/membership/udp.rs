//! The membership over UDP: a thin tokio shell around [`Membership`]. It
//! owns the socket and the address book (name to address, from the API
//! server or the configuration), feeds the core datagrams, address-book
//! changes and its deadlines, and publishes the [`View`].
//!
//! The driver runs on a thread of its own, with a raised priority where
//! the process may ([`super::priority`]): a starved runtime must not make
//! this node's heartbeats late, nor its peers' unread. Next to the UDP
//! socket it listens on TCP on the same port, never reading: a peer that
//! suspects this node connects to it ([`Output::ProbeHost`]), and the
//! kernel completes that handshake even while the speaker is descheduled,
//! so the peer tells a stalled speaker (handshake) from a dead one (the
//! port refuses) or a cut host (no answer).
//!
//! Two ways to stop: [`MembershipService::leave`], the graceful one (the
//! others drop this node at once), and [`MembershipService::shutdown`],
//! which goes silent like a crash. `leave` is a separate, consuming call
//! rather than what `shutdown` always does because it is safe only after
//! the node has stopped announcing (see [`Membership::leave`]): a caller
//! that cannot promise that (a failed announcer, a test playing a crash)
//! shuts down.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, info, warn};

use super::core::{Input, Membership, Output, Stats, View};
use super::gate::AnswerGate;
use super::hardware::Mac;
use super::priority::{ThreadPriority, raise_this_thread};
use super::rejoin::{Rejoin, on_link, solicitation};
use super::timing::{MembershipTiming, MembershipTimingError};
use super::wire::{Key, MAX_DATAGRAM};
use crate::socket::{interface_index, send_one};

/// MetalLB's memberlist port, so firewall rules written for it still fit.
pub const DEFAULT_PORT: u16 = 7946;

/// Every known member and the address its speaker listens on.
pub type AddressBook = BTreeMap<String, SocketAddr>;

#[derive(Debug, Clone)]
pub struct UdpConfig {
    /// This node's name, as in the address book.
    pub name: String,
    pub key: Key,
    pub timing: MembershipTiming,
    /// Where to listen: `0.0.0.0:7946`, `[::]:7946`, or a node address.
    pub bind: SocketAddr,
    /// The driver thread's scheduling priority.
    pub priority: ThreadPriority,
    /// Ticked on every turn, shut after a stall: the responders' short
    /// way to the membership's state.
    pub gate: AnswerGate,
}

/// Why a graceful leave may not have reached the others. The task is
/// stopped either way; the others then fall back on the crash path
/// (slower, never unsafe).
#[derive(Debug, thiserror::Error)]
pub enum LeaveError {
    #[error("the leave was not all on the wire within {0:?}")]
    Timeout(Duration),
    #[error("the membership task had already stopped")]
    Stopped,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Timing(#[from] MembershipTimingError),
    #[error("cannot bind the membership socket on {bind}: {source}")]
    Bind {
        bind: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the membership thread: {0}")]
    Thread(std::io::Error),
}

/// A running membership. Dropping it stops the task.
pub struct MembershipService {
    view: watch::Receiver<View>,
    stats: watch::Receiver<Stats>,
    book: watch::Sender<AddressBook>,
    hardware: watch::Sender<Option<BTreeSet<Mac>>>,
    local: SocketAddr,
    /// [`MembershipTiming::leave_within`].
    leave_within: Duration,
    stop: Option<oneshot::Sender<Stop>>,
    /// Fires when the driver thread has stopped.
    task: Option<oneshot::Receiver<()>>,
}

/// How the task ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Silently,
    Leave,
}

impl MembershipService {
    /// Binds the sockets (on the calling thread, hence in its network
    /// namespace) and starts the membership with `book` as the known
    /// members, on a thread of its own.
    pub async fn start(
        config: UdpConfig,
        book: AddressBook,
    ) -> Result<MembershipService, StartError> {
        config.timing.check()?;
        let bind_error = |source| StartError::Bind {
            bind: config.bind,
            source,
        };
        let socket = std::net::UdpSocket::bind(config.bind).map_err(bind_error)?;
        let local = socket.local_addr().map_err(bind_error)?;
        // The same port on TCP, for the peers' host probes.
        let listener = std::net::TcpListener::bind(local).map_err(bind_error)?;
        socket.set_nonblocking(true).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        // Above every incarnation of an earlier run of this node.
        let boot = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let leave_within = config.timing.leave_within();
        let core = Membership::new(config.name, config.key, config.timing, Instant::now(), boot);
        let (view_tx, view) = watch::channel(core.view().clone());
        let (stats_tx, stats) = watch::channel(Stats::default());
        let (book_tx, book_rx) = watch::channel(book);
        let (hardware_tx, hardware_rx) = watch::channel(None);
        let (stop, stopped) = oneshot::channel();
        let (done, task) = oneshot::channel();
        let probe_every = config.timing.reprobe;
        let priority = config.priority;
        let gate = config.gate.clone();
        let hold = config.timing.settle;
        let heartbeat = config.timing.heartbeat;
        // The caller's span (the node, the runtime) follows the thread.
        let span = tracing::Span::current();
        // Spawned here, at the caller's priority: a thread the membership
        // thread spawned would inherit its real-time one.
        let solicitor = Solicitor::start();
        std::thread::Builder::new()
            .name("membership".into())
            .spawn(move || {
                let _entered = span.enter();
                let granted = raise_this_thread(priority);
                info!(%granted, "membership thread priority");
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot start the membership runtime");
                        return;
                    }
                };
                runtime.block_on(async move {
                    let (Ok(socket), Ok(listener)) =
                        (UdpSocket::from_std(socket), TcpListener::from_std(listener))
                    else {
                        tracing::error!("cannot register the membership sockets");
                        return;
                    };
                    let (probed_tx, probed) = mpsc::channel(64);
                    let driver = Driver {
                        core,
                        gate,
                        gate_behind: None,
                        hold,
                        socket,
                        listener,
                        probed,
                        probed_tx,
                        probe_within: probe_every,
                        book: book_rx,
                        hardware: hardware_rx,
                        view: view_tx,
                        stats: stats_tx,
                        rejoin: Rejoin::default(),
                        solicitor,
                        heartbeat,
                        paces_apart: BTreeMap::new(),
                        next_pace_check: Instant::now() + PACE_CHECK,
                    };
                    let gate = driver.gate.clone();
                    driver.run(stopped).await;
                    gate.release();
                });
                let _ = done.send(());
            })
            .map_err(StartError::Thread)?;
        Ok(MembershipService {
            view,
            stats,
            book: book_tx,
            hardware: hardware_tx,
            local,
            leave_within,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The view, updated on every change.
    pub fn view(&self) -> watch::Receiver<View> {
        self.view.clone()
    }

    pub fn stats(&self) -> Stats {
        *self.stats.borrow()
    }

    /// The counters as they change (at most once per driver turn); the
    /// last ones stay readable after the membership stops.
    pub fn watch_stats(&self) -> watch::Receiver<Stats> {
        self.stats.clone()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Replaces the known members and their addresses.
    pub fn set_address_book(&self, book: AddressBook) {
        self.book.send_replace(book);
    }

    /// The MACs this node answers ARP/NDP from, told to the others
    /// ([`View::hardware`]); sent again only when they change.
    pub fn set_hardware(&self, macs: BTreeSet<Mac>) {
        self.hardware.send_if_modified(|old| {
            let changed = old.as_ref() != Some(&macs);
            *old = Some(macs);
            changed
        });
    }

    /// Stops the task and waits for it, without telling anyone: the
    /// others see a crash (suspected within `suspect_within`, dead after
    /// `dead_after`). For a graceful stop, see [`MembershipService::leave`].
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(Stop::Silently);
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Leaves the cluster gracefully, then stops: sends the leave
    /// ([`Membership::leave`]: every copy, to every known member) and
    /// returns once the last copy is handed to the kernel, or after
    /// [`MembershipTiming::leave_within`] (20 ms by default) at the most.
    ///
    /// **Call it only once this node has stopped announcing** (no ARP or
    /// NDP answers, no gratuitous ones left to send): the others take its
    /// addresses over the moment the leave arrives. On SIGTERM: stop the
    /// announcer, then `leave`, then exit.
    pub async fn leave(mut self) -> Result<(), LeaveError> {
        let (Some(stop), Some(task)) = (self.stop.take(), self.task.take()) else {
            return Err(LeaveError::Stopped);
        };
        if stop.send(Stop::Leave).is_err() {
            return Err(LeaveError::Stopped);
        }
        // The whole wait is bounded, the thread's current step included;
        // past the bound it stops on its own (the leave was its last task).
        match tokio::time::timeout(self.leave_within, task).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(LeaveError::Stopped),
            Err(_) => Err(LeaveError::Timeout(self.leave_within)),
        }
    }
}

impl Drop for MembershipService {
    fn drop(&mut self) {
        // The driver stops silently once its stop sender is gone.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(Stop::Silently);
        }
    }
}

struct Driver {
    core: Membership,
    gate: AnswerGate,
    /// Candidates the gate did not take (a responder held it): given
    /// again on the next turn, at most a heartbeat later.
    gate_behind: Option<BTreeSet<String>>,
    /// How long the gate stays shut after a stall that fences.
    hold: Duration,
    socket: UdpSocket,
    /// Never read: the kernel completes the peers' host probes on it.
    listener: TcpListener,
    probed: mpsc::Receiver<(String, bool)>,
    probed_tx: mpsc::Sender<(String, bool)>,
    /// How long a host probe may wait for its handshake.
    probe_within: Duration,
    book: watch::Receiver<AddressBook>,
    hardware: watch::Receiver<Option<BTreeSet<Mac>>>,
    view: watch::Sender<View>,
    stats: watch::Sender<Stats>,
    /// When to ask for an unreached member's link-layer address.
    rejoin: Rejoin,
    /// Who asks (`None`: its thread could not start).
    solicitor: Option<Solicitor>,
    /// This node's heartbeat, and the members last found heart-beating at
    /// another pace (warned about once each).
    heartbeat: Duration,
    paces_apart: BTreeMap<String, Duration>,
    next_pace_check: Instant,
}

/// How often the driver looks for members at another heartbeat pace.
const PACE_CHECK: Duration = Duration::from_secs(10);

impl Driver {
    async fn run(mut self, mut stopped: oneshot::Receiver<Stop>) {
        let mut buf = vec![0u8; MAX_DATAGRAM + 1];
        let known = self.known();
        let mut outputs = self.core.handle(Instant::now(), Input::SetKnown(known));
        loop {
            self.dispatch(outputs).await;
            let deadline = self
                .core
                .next_deadline()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
            outputs = tokio::select! {
                biased;
                stop = &mut stopped => {
                    if matches!(stop, Ok(Stop::Leave)) {
                        self.leave().await;
                    }
                    return;
                }
                received = self.socket.recv_from(&mut buf) => match received {
                    Ok((n, from)) => {
                        let bytes = buf.get(..n).unwrap_or_default().to_vec();
                        let before = self.core.stats();
                        let now = Instant::now();
                        let outputs = self.core.handle(now, Input::Received(bytes));
                        if accepted(&before, &self.core.stats()) {
                            self.rejoin_after(now, from);
                        }
                        outputs
                    }
                    // Errors queued on the socket (an ICMP error, say)
                    // say nothing about the membership: go on.
                    Err(_) => Vec::new(),
                },
                changed = self.book.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let known = self.known();
                    self.rejoin.retain(self.book.borrow().values().map(|a| a.ip()));
                    self.core.handle(Instant::now(), Input::SetKnown(known))
                }
                Some((name, answered)) = self.probed.recv() => {
                    self.core.handle(Instant::now(), Input::HostProbed { name, answered })
                }
                // Probes of this host by its peers: the handshake was the
                // answer; close at once.
                accepted = self.listener.accept() => {
                    drop(accepted);
                    Vec::new()
                }
                Ok(()) = self.hardware.changed() => {
                    let macs = self.hardware.borrow_and_update().clone();
                    match macs {
                        Some(macs) => self.core.handle(Instant::now(), Input::SetHardware(macs)),
                        None => Vec::new(),
                    }
                }
                () = tokio::time::sleep_until(deadline.into()) => self.core.poll(Instant::now()),
            };
        }
    }

    /// Sends every copy of the leave, at its time; the caller bounds it.
    async fn leave(&mut self) {
        let mut outputs = self.core.leave(Instant::now());
        loop {
            self.dispatch(outputs).await;
            let Some(deadline) = self.core.next_deadline() else {
                return;
            };
            tokio::time::sleep_until(deadline.into()).await;
            outputs = self.core.poll(Instant::now());
        }
    }

    /// After an authentic datagram from `from`: if it comes from a member
    /// this node does not reach, asks for that member's link-layer address
    /// (see [`super::rejoin`]), through the [`Solicitor`].
    fn rejoin_after(&mut self, now: Instant, from: SocketAddr) {
        let asked = {
            let book = self.book.borrow();
            let members = book.iter().map(|(name, addr)| (name.as_str(), addr.ip()));
            self.rejoin
                .heard(now, from.ip(), self.core.name(), members, self.core.view())
        };
        if let Some(ip) = asked {
            // `from` itself but for an IPv4-mapped address (a dual-stack
            // socket): the port is the member's, the scope a link-local
            // address's.
            let to = if ip == from.ip() {
                from
            } else {
                SocketAddr::new(ip, from.port())
            };
            if let Some(solicitor) = &self.solicitor {
                solicitor.ask(to);
            }
        }
    }

    fn known(&mut self) -> BTreeSet<String> {
        self.book.borrow_and_update().keys().cloned().collect()
    }

    async fn dispatch(&mut self, outputs: Vec<Output>) {
        // Shut before the tick: a responder that sees this turn's tick
        // sees the hold too.
        let now = Instant::now();
        if self.core.take_fencing_stall() {
            self.gate.shut_until(now + self.hold);
        }
        // A new view reaches the responders before the main runtime: the
        // candidates in it may take addresses this node answers for.
        let behind = self.gate_behind.take();
        let candidates = outputs
            .iter()
            .rev()
            .find_map(|o| match o {
                Output::View(view) => Some(view.candidates()),
                _ => None,
            })
            .or(behind);
        if !self
            .gate
            .membership(self.core.quorate(), candidates.as_ref())
        {
            self.gate_behind = candidates;
        }
        self.gate.tick(now);
        for output in outputs {
            match output {
                Output::Send { to, bytes } => {
                    let to = self.book.borrow().get(&to).copied();
                    if let Some(to) = to {
                        // A down link or an unreachable peer is what
                        // the detector is there to notice: not an error.
                        // Never wait for the socket: datagrams the kernel
                        // queues for a neighbour it cannot resolve (a cut
                        // peer) fill the send buffer, and waiting would
                        // stall the heartbeats to every other peer. A
                        // dropped heartbeat is replaced by the next one.
                        // The non-blocking syscall itself, not tokio's
                        // `try_send_to`, which drops every datagram until
                        // the reactor first reports the socket writable
                        // (the one-time hardware datagram among them).
                        let _ = socket2::SockRef::from(&self.socket).send_to(&bytes, &to.into());
                    }
                }
                Output::View(view) => {
                    self.view.send_replace(view);
                }
                Output::ProbeHost { to: name } => {
                    let Some(to) = self.book.borrow().get(&name).copied() else {
                        continue;
                    };
                    let answers = self.probed_tx.clone();
                    let within = self.probe_within;
                    tokio::spawn(async move {
                        let answered =
                            match tokio::time::timeout(within, TcpStream::connect(to)).await {
                                Ok(Ok(_)) => true,
                                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                                    false
                                }
                                // No answer (a cut, a dead host) says nothing new.
                                _ => return,
                            };
                        let _ = answers.try_send((name, answered));
                    });
                }
            }
        }
        self.check_paces(now);
        let mut stats = self.core.stats();
        stats.at_another_pace = self.paces_apart.len() as u64;
        self.stats.send_replace(stats);
    }

    /// Every [`PACE_CHECK`]: warns once about each member that
    /// heart-beats at another pace than this node (another
    /// `--ml-heartbeat`), which the faster of the two suspects between
    /// the slower one's heartbeats.
    fn check_paces(&mut self, now: Instant) {
        if now < self.next_pace_check {
            return;
        }
        self.next_pace_check = now + PACE_CHECK;
        let apart: BTreeMap<String, Duration> = self.core.paces_apart().into_iter().collect();
        for (member, every) in &apart {
            if !self.paces_apart.contains_key(member) {
                warn!(
                    %member,
                    every = ?every,
                    own = ?self.heartbeat,
                    "a member heart-beats at another pace: --ml-heartbeat (the chart's speaker.mlHeartbeat) must be the same on every node, or the faster suspect the slower"
                );
            }
        }
        self.paces_apart = apart;
    }
}

/// Whether the datagram that moved the counters from `before` to `after`
/// was authentic and new: from a member, neither forged nor replayed.
fn accepted(before: &Stats, after: &Stats) -> bool {
    let rejected =
        |s: &Stats| s.unauthenticated + s.malformed + s.replayed + s.stale + s.unknown_sender;
    after.received > before.received && rejected(after) == rejected(before)
}

/// The one thread that sends this node's link-layer address requests
/// ([`solicit`] blocks), fed by a short queue that never waits: a request
/// that finds it full is dropped (the kernel's own retry remains).
///
/// One thread, not one per request: when many speakers start together
/// each hears every other before it reaches them, and asks about each up
/// to seven times (`rejoin::LAST_GAP`). Every request on a blocking
/// thread of its own (tokio's pool: up to 512 per speaker, each inheriting
/// the membership thread's real-time priority) made thousands of threads
/// wait for RCU grace periods at once on a 35-node lab: load average
/// 4,400, and a storm of late heartbeats (issue 18).
struct Solicitor {
    queue: std::sync::mpsc::SyncSender<SocketAddr>,
}

/// Requests waiting for the [`Solicitor`]'s thread; more are dropped.
const SOLICIT_QUEUE: usize = 16;

impl Solicitor {
    fn start() -> Option<Solicitor> {
        let (queue, requests) = std::sync::mpsc::sync_channel::<SocketAddr>(SOLICIT_QUEUE);
        let span = tracing::Span::current();
        let spawned = std::thread::Builder::new()
            .name("ml-solicit".into())
            .spawn(move || {
                let _entered = span.enter();
                // Ends when the driver, and with it the sender, is gone.
                while let Ok(peer) = requests.recv() {
                    solicit(peer);
                }
            });
        match spawned {
            Ok(_) => Some(Solicitor { queue }),
            Err(e) => {
                warn!(error = %e, "cannot start the thread that asks for members' link-layer addresses: the kernel's own retry only");
                None
            }
        }
    }

    fn ask(&self, peer: SocketAddr) {
        if self.queue.try_send(peer).is_err() {
            debug!(%peer, "link-layer address requests queued already: this one dropped");
        }
    }
}

/// Sends one ARP request (NDP solicitation) for `peer` on the interface
/// this node reaches it through, from the address it reaches it from.
/// Blocking (`getifaddrs` reads every interface; closing a packet socket
/// waits for an RCU grace period): never on the heartbeats' thread. Best
/// effort: a failure leaves the kernel's own retry.
fn solicit(peer: SocketAddr) {
    let (ifindex, source) = match link_to(peer) {
        Ok(Some(link)) => link,
        Ok(None) => {
            debug!(%peer, "member not on a link of ours: not asking for its address");
            return;
        }
        Err(e) => {
            debug!(%peer, error = %e, "cannot find the link to a member");
            return;
        }
    };
    let sent = send_one(ifindex, |mac| {
        solicitation(mac, source, peer.ip()).map(|f| f.to_bytes())
    });
    match sent {
        Ok(()) => debug!(%peer, %source, ifindex, "asked for a member's link-layer address"),
        // Without CAP_NET_RAW the kernel's own retry (retrans_time) is
        // all there is; a down link is the detector's to notice.
        Err(e) => warn!(%peer, error = %e, "cannot ask for a member's link-layer address"),
    }
}

/// The interface (index) and the address of ours through which this node
/// reaches `peer`, when `peer` is on that interface's link.
fn link_to(peer: SocketAddr) -> std::io::Result<Option<(u32, IpAddr)>> {
    // Connecting a UDP socket sends nothing: the kernel only picks the
    // route and the source address, as it would for our datagrams.
    let unspecified: IpAddr = match peer {
        SocketAddr::V4(_) => std::net::Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => std::net::Ipv6Addr::UNSPECIFIED.into(),
    };
    let route = std::net::UdpSocket::bind((unspecified, 0))?;
    route.connect(peer)?;
    let source = route.local_addr()?.ip();
    let ip = |a: &nix::sys::socket::SockaddrStorage| -> Option<IpAddr> {
        a.as_sockaddr_in()
            .map(|a| IpAddr::V4(a.ip()))
            .or_else(|| a.as_sockaddr_in6().map(|a| IpAddr::V6(a.ip())))
    };
    let found = nix::ifaddrs::getifaddrs()?.find(|ifa| {
        let (Some(address), Some(netmask)) = (ifa.address.as_ref(), ifa.netmask.as_ref()) else {
            return false;
        };
        ip(address) == Some(source) && ip(netmask).is_some_and(|m| on_link(source, m, peer.ip()))
    });
    let Some(ifa) = found else {
        return Ok(None);
    };
    let ifindex = interface_index(&ifa.interface_name).map_err(std::io::Error::other)?;
    Ok(Some((ifindex, source)))
}
