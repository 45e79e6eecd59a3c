//! Layer-2 mode: one task per interface in use, each owning its raw socket
//! and its pure [`InterfaceState`], kept in step with the plan. Claims are
//! diffs: an address that stays answered is never re-announced, an address
//! that moves to this node is announced at once, one new to the cluster is
//! probed first. Claims by other hosts are handled by the pure state
//! (`l2::conflict`); the members' MACs it needs come from the membership.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrolb_bgp::fsm::Millis;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::decide::L2Plan;
use crate::metrics::{Layer2Count, Metrics};
use ferrolb_k8s::timer::sleep_until;
use ferrolb_l2::conflict::{Claimant, ConflictConfig};
use ferrolb_l2::gratuitous::GratuitousConfig;
use ferrolb_l2::interface::{Claim, InterfaceState, L2Event, Outgoing};
use ferrolb_l2::membership::{AnswerGate, DEFAULT_PORT, ThreadPriority};
use ferrolb_l2::probe::ProbeConfig;
use ferrolb_l2::responder::Counter;
use ferrolb_l2::socket::{PacketSocket, SocketError};
use ferrolb_l2::wire::MacAddr;

/// Timings of the link layer, the membership's UDP port and thread, and
/// the gate the membership holds shut after a stall.
#[derive(Debug, Clone)]
pub struct L2Options {
    pub gratuitous: GratuitousConfig,
    pub probe: ProbeConfig,
    pub conflict: ConflictConfig,
    /// Every speaker's membership port (MetalLB's memberlist port, 7946,
    /// by default): all speakers of a cluster must use the same one.
    pub membership_port: u16,
    /// The membership thread's scheduling priority.
    pub membership_priority: ThreadPriority,
    /// Shut by the membership after a stall: no answers from a stale plan.
    pub answer_gate: AnswerGate,
}

impl Default for L2Options {
    fn default() -> L2Options {
        L2Options {
            gratuitous: GratuitousConfig::default(),
            probe: ProbeConfig::default(),
            conflict: ConflictConfig::default(),
            membership_port: DEFAULT_PORT,
            membership_priority: ThreadPriority::default(),
            answer_gate: AnswerGate::default(),
        }
    }
}

/// An event of one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceEvent {
    pub interface: String,
    pub event: L2Event,
}

/// What an interface's task is told.
#[derive(Debug)]
enum Command {
    /// The addresses to answer for.
    Wanted(BTreeMap<IpAddr, Claim>),
    /// The MACs the cluster's other speakers answer from.
    Members(BTreeSet<MacAddr>),
}

struct Worker {
    commands: mpsc::UnboundedSender<Command>,
    task: JoinHandle<()>,
}

/// The Layer-2 announcements of this node.
pub struct L2Announcer {
    node: String,
    options: L2Options,
    metrics: Option<Arc<Metrics>>,
    workers: BTreeMap<String, Worker>,
    events_tx: mpsc::UnboundedSender<InterfaceEvent>,
    events: mpsc::UnboundedReceiver<InterfaceEvent>,
    /// Events taken off the channel by [`L2Announcer::wait_event`], not
    /// yet handed out by [`L2Announcer::events`].
    pending: Vec<InterfaceEvent>,
    /// The other speakers' MACs, for every interface's task.
    members: BTreeSet<MacAddr>,
    /// Every address's owner in the previous plan; `None` before the first.
    owners: Option<BTreeMap<IpAddr, String>>,
    /// Interfaces that cannot be used, and why.
    errors: BTreeMap<String, SocketError>,
}

impl L2Announcer {
    pub fn new(node: impl Into<String>, options: L2Options, metrics: Option<Arc<Metrics>>) -> Self {
        let (events_tx, events) = mpsc::unbounded_channel();
        L2Announcer {
            node: node.into(),
            options,
            metrics,
            workers: BTreeMap::new(),
            events_tx,
            events,
            pending: Vec::new(),
            members: BTreeSet::new(),
            owners: None,
            errors: BTreeMap::new(),
        }
    }

    /// Makes the interfaces answer for exactly what `plan` gives this node.
    /// Must run inside a tokio runtime, in the node's network namespace.
    pub fn apply(&mut self, plan: &L2Plan) {
        let mut by_interface: BTreeMap<&str, BTreeMap<IpAddr, Claim>> = BTreeMap::new();
        for (ip, interfaces) in &plan.addresses {
            let claim = self.claim_kind(*ip);
            for interface in interfaces {
                by_interface
                    .entry(interface.as_str())
                    .or_default()
                    .insert(*ip, claim);
            }
        }
        self.owners = Some(plan.owners.clone());
        let idle: Vec<String> = self
            .workers
            .keys()
            .filter(|i| !by_interface.contains_key(i.as_str()))
            .cloned()
            .collect();
        for interface in idle {
            if let Some(w) = self.workers.remove(&interface) {
                // Dropping the sender ends the task, which releases everything.
                drop(w.commands);
                debug!(interface, "interface no longer used");
            }
        }
        self.errors.clear();
        for (interface, wanted) in by_interface {
            if !self.workers.contains_key(interface) {
                match self.spawn(interface) {
                    Ok(worker) => {
                        self.workers.insert(interface.to_string(), worker);
                    }
                    Err(e) => {
                        warn!(interface, error = %e, "cannot answer ARP/NDP on this interface");
                        self.errors.insert(interface.to_string(), e);
                        continue;
                    }
                }
            }
            if let Some(worker) = self.workers.get(interface) {
                let _ = worker.commands.send(Command::Wanted(wanted));
            }
        }
    }

    /// The MACs the cluster's other speakers answer from (from the
    /// membership): their claims are a membership matter, never a conflict.
    pub fn set_members(&mut self, members: BTreeSet<MacAddr>) {
        if members == self.members {
            return;
        }
        for w in self.workers.values() {
            let _ = w.commands.send(Command::Members(members.clone()));
        }
        self.members = members;
    }

    /// Why an address is claimed the way it is: it moves to us from a
    /// node of the cluster (or the speaker just started, and the cluster
    /// was serving it): at once. It had no owner before: it is new, and a
    /// host outside the cluster may already use it: probe first.
    fn claim_kind(&self, ip: IpAddr) -> Claim {
        match &self.owners {
            None => Claim::Takeover,
            Some(owners) => match owners.get(&ip) {
                Some(_) => Claim::Takeover,
                None => Claim::ProbeFirst,
            },
        }
    }

    fn spawn(&self, interface: &str) -> Result<Worker, SocketError> {
        let socket = PacketSocket::open(interface)?;
        let (sender, commands) = mpsc::unbounded_channel();
        let _ = sender.send(Command::Members(self.members.clone()));
        let state = InterfaceState::new(
            socket.mac(),
            self.options.gratuitous,
            self.options.probe,
            self.options.conflict,
        );
        let task = tokio::spawn(
            serve(
                interface.to_string(),
                socket,
                state,
                commands,
                self.events_tx.clone(),
                self.metrics.clone(),
                self.options.answer_gate.clone(),
            )
            .instrument(info_span!("l2", node = %self.node, interface)),
        );
        Ok(Worker {
            commands: sender,
            task,
        })
    }

    /// Events since the last call.
    pub fn events(&mut self) -> Vec<InterfaceEvent> {
        let mut out = std::mem::take(&mut self.pending);
        while let Ok(e) = self.events.try_recv() {
            out.push(e);
        }
        out
    }

    /// Completes when an interface has an event; [`L2Announcer::events`]
    /// hands it out. Cancel-safe: an event taken is kept, never lost.
    pub async fn wait_event(&mut self) {
        // The announcer holds a sender itself: `recv` never sees the end.
        if let Some(e) = self.events.recv().await {
            self.pending.push(e);
        }
    }

    /// Interfaces the plan names but that cannot be used.
    pub fn errors(&self) -> &BTreeMap<String, SocketError> {
        &self.errors
    }

    /// Stops answering on every interface.
    pub async fn shutdown(self) {
        for (_, w) in self.workers {
            drop(w.commands);
            let _ = w.task.await;
        }
    }
}

/// One interface: answers requests, sends probes and announcements, until
/// the announcer drops its sender.
async fn serve(
    interface: String,
    socket: PacketSocket,
    mut state: InterfaceState,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<InterfaceEvent>,
    metrics: Option<Arc<Metrics>>,
    gate: AnswerGate,
) {
    let start = Instant::now();
    let now = || Millis(u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX));
    let mut joined: BTreeSet<MacAddr> = BTreeSet::new();
    let mut buf = vec![0u8; 2048];
    let hold_down = state.conflict_config().hold_down;
    let mut in_conflict = 0;
    // Events are logged and reported after the turn's frames went out.
    let mut later: Vec<L2Event> = Vec::new();
    let emit = |event: L2Event| {
        match event {
            L2Event::Claimed(ip) => info!(%ip, "answering ARP/NDP"),
            L2Event::Defended {
                ip,
                mac,
                by: Claimant::Member,
            } => info!(
                %ip, %mac,
                "another speaker of the cluster claimed this address: defended it, the membership decides who answers"
            ),
            L2Event::Defended {
                ip,
                mac,
                by: Claimant::Foreign,
            } => {
                warn!(%ip, %mac, "another host claimed this address: defended it, probing whether it holds it")
            }
            L2Event::Conflict { ip, mac } => {
                warn!(
                    %ip, %mac, hold_down = ?hold_down,
                    "another host uses this address: not answering for it while it holds it, probing again after the hold-down"
                );
                if let Some(m) = &metrics {
                    m.layer2(ip, Layer2Count::Conflict);
                }
            }
            L2Event::Reclaimed { ip, holder } => info!(
                %ip, %holder,
                "the host that held this address no longer answers: answering ARP/NDP again"
            ),
        }
        let _ = events.send(InterfaceEvent {
            interface: interface.clone(),
            event,
        });
    };
    let count = |ip: IpAddr, kind: Layer2Count| {
        if let Some(m) = &metrics {
            m.layer2(ip, kind);
        }
    };
    loop {
        let deadline = state
            .next_deadline()
            .map(|d| start + Duration::from_millis(d.0));
        tokio::select! {
            command = commands.recv() => {
                let Some(command) = command else { break };
                let before = state.owned();
                match command {
                    Command::Wanted(wanted) => state.set(now(), &wanted),
                    Command::Members(members) => later.extend(state.set_members(now(), members)),
                }
                // Said as loudly as a claim: the instant a node lets go is
                // half of every handover a log has to explain.
                for ip in before.difference(&state.owned()) {
                    info!(%ip, "no longer answering ARP/NDP");
                }
            }
            received = socket.recv(&mut buf) => {
                let Ok(n) = received else { continue };
                let handled = state.handle(now(), &buf[..n]);
                for (ip, counter) in handled.counters {
                    count(ip, match counter {
                        Counter::RequestsReceived => Layer2Count::Request,
                        Counter::ResponsesSent => Layer2Count::Response,
                    });
                }
                // Nothing from a plan that a stall or the membership since
                // may have made stale.
                if let Some((ip, reply)) = handled.reply
                    && gate.may_answer_for(ip, Instant::now())
                    && let Err(e) = socket.send(&reply.to_bytes()).await
                {
                    debug!(error = %e, "cannot send a reply");
                }
                // Said after the defense they may call for is on the wire.
                later.extend(handled.events);
            }
            () = sleep_until(deadline) => {}
        }
        // Timers are looked at after every input: a claim's first
        // announcement goes out in the same turn as the claim.
        let (frames, claimed) = state.poll(now());
        later.extend(claimed);
        // A defense against a member's claim that queued up while this
        // speaker was stopped would pull clients back to a stale owner.
        let at = Instant::now();
        let may_send = |out: &Outgoing| match out {
            Outgoing::Probe(_) => gate.may_answer(at),
            Outgoing::Announcement(ip, _) => gate.may_answer_for(*ip, at),
        };
        for out in frames.into_iter().filter(may_send) {
            match socket.send(&out.frame().to_bytes()).await {
                Err(e) => debug!(error = %e, "cannot send"),
                // Counted once on the wire, as the metric's name says.
                Ok(()) => {
                    if let Outgoing::Announcement(ip, _) = &out {
                        count(*ip, Layer2Count::Gratuitous);
                        debug!(%ip, "gratuitous announcement sent");
                    }
                }
            }
        }
        for event in later.drain(..) {
            emit(event);
        }
        sync_groups(&socket, &mut joined, state.multicast_macs());
        let now_in_conflict = state.in_conflict().len();
        if now_in_conflict != in_conflict
            && let Some(m) = &metrics
        {
            m.layer2_in_conflict(&interface, now_in_conflict);
        }
        in_conflict = now_in_conflict;
    }
    if let Some(m) = &metrics {
        m.layer2_in_conflict(&interface, 0);
    }
    for ip in state.owned() {
        info!(%ip, "no longer answering ARP/NDP");
    }
    sync_groups(&socket, &mut joined, BTreeSet::new());
}

/// Joins and leaves multicast groups so the interface receives exactly the
/// solicited-node groups it needs.
fn sync_groups(socket: &PacketSocket, joined: &mut BTreeSet<MacAddr>, wanted: BTreeSet<MacAddr>) {
    for mac in joined.difference(&wanted) {
        let _ = socket.leave(*mac);
    }
    for mac in wanted.difference(joined) {
        if let Err(e) = socket.join(*mac) {
            warn!(%mac, error = %e, "cannot join a solicited-node group; NDP may go unanswered");
        }
    }
    *joined = wanted;
}
