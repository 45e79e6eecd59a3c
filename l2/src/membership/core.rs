//! The membership state machine: datagrams, known members and time in;
//! datagrams and view changes out. No sockets, no clock.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::hardware::{Hardware, Mac};
use super::pace::Pace;
use super::ring;
use super::swim::{Swim, SwimEffects};
use super::timing::MembershipTiming;
use super::wire::{
    Body, Datagram, Header, Key, Kind, MAC_LEN, MAX_DATAGRAM, Sighting, Suspicion, WireError,
    valid_name,
};
use crate::fence::has_quorum;

/// What the membership says now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    /// Known members not suspected, this node included: the fence's
    /// `reachable`.
    pub reachable: BTreeSet<String>,
    /// Known members not dead, this node included: who goes into the
    /// `ClusterView` that decides owners.
    pub alive: BTreeSet<String>,
    /// The MACs each other known member answers ARP/NDP from, as it last
    /// said (`hardware`): Layer 2 takes their claims for a member's.
    pub hardware: BTreeMap<String, BTreeSet<Mac>>,
    /// Members that told this node their fence is closed, within the hold
    /// of their last telling: alive, but not candidates for addresses
    /// (their addresses go to the next owner). See [`View::candidates`].
    pub fenced: BTreeSet<String>,
}

impl View {
    /// The members that may own addresses: alive and not fenced. The
    /// `ClusterView` that decides owners is built from these, never from
    /// `alive` alone: an owner that hears nobody while everyone hears it
    /// fences itself, and would otherwise keep its addresses dark for the
    /// whole cut (docs/l2-mode.md, "A fenced member hands its addresses
    /// on").
    pub fn candidates(&self) -> BTreeSet<String> {
        self.alive.difference(&self.fenced).cloned().collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A datagram as received (the core authenticates it).
    Received(Vec<u8>),
    /// Every node that should run a speaker, from the API server or the
    /// configuration: never from this detector.
    SetKnown(BTreeSet<String>),
    /// The MACs this node answers ARP/NDP from, for the others.
    SetHardware(BTreeSet<Mac>),
    /// What became of an [`Output::ProbeHost`]: `answered`, the member's
    /// host completed a TCP handshake on its membership port (its kernel
    /// runs and its speaker's socket is open); not `answered`, the port
    /// refused (the speaker is gone). No answer at all is not reported.
    HostProbed { name: String, answered: bool },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Send {
        to: String,
        bytes: Vec<u8>,
    },
    View(View),
    /// Is the host of this suspected member up? Answer with
    /// [`Input::HostProbed`]: a host that is up but whose speaker is
    /// silent has a descheduled speaker, and gets `stalled_dead_after`.
    ProbeHost {
        to: String,
    },
}

/// Counters of what was received and dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub received: u64,
    pub sent: u64,
    /// Bad MAC, or too short to carry one.
    pub unauthenticated: u64,
    /// Authenticated but not parseable (a peer of another version).
    pub malformed: u64,
    /// An `(incarnation, sequence)` already seen.
    pub replayed: u64,
    /// Authentic and new, but from a life of the sender that has ended:
    /// sent before its leave and overtaken by it, or a leave older than
    /// an incarnation already heard of.
    pub stale: u64,
    /// From a name not in `known`, or claiming to be this node.
    pub unknown_sender: u64,
    pub swim_errors: u64,
    /// This node ran later than its own timers asked, by more than the
    /// jitter: it was descheduled, and forgave its peers that long.
    pub stalls: u64,
    /// The longest such stall, in microseconds.
    pub longest_stall_us: u64,
    /// Vouches (a member heard by another after it may have failed, by
    /// this node's account) that put off a death verdict.
    pub vouched: u64,
    /// Suspected members whose host answered a probe.
    pub hosts_up: u64,
    /// Times this node told everyone its fence is closed.
    pub fence_told: u64,
    /// Fence announcements taken from others (each starts or extends a
    /// hold), and those left alone: from an older life of the sender, or
    /// overtaken by a later datagram of it.
    pub fence_heard: u64,
    pub fence_ignored: u64,
    /// Members this node began to suspect (its own suspicions: a watch
    /// that went silent, a sweep or a probe unanswered).
    pub suspected: u64,
    /// Death verdicts this node reached.
    pub declared_dead: u64,
    /// Datagrams sent, by kind.
    pub sent_by_kind: KindCounts,
    /// Datagrams received authentic and new (from a member, not a
    /// replay), by kind.
    pub received_by_kind: KindCounts,
    /// Not a count: the members found heart-beating at another pace than
    /// this node at the driver's last look (every 10 s; see
    /// [`Membership::paces_apart`]), which the core leaves at 0.
    pub at_another_pace: u64,
}

impl Stats {
    /// Adds `other`'s counts (the longest stall: the longer one;
    /// `at_another_pace`: `other`'s, the later), to carry them over a
    /// restart of the membership.
    pub fn add(&mut self, other: &Stats) {
        // Named one by one, so that a new counter cannot be left out.
        let Stats {
            received,
            sent,
            unauthenticated,
            malformed,
            replayed,
            stale,
            unknown_sender,
            swim_errors,
            stalls,
            longest_stall_us,
            vouched,
            hosts_up,
            fence_told,
            fence_heard,
            fence_ignored,
            suspected,
            declared_dead,
            sent_by_kind,
            received_by_kind,
            at_another_pace,
        } = *other;
        self.received += received;
        self.sent += sent;
        self.unauthenticated += unauthenticated;
        self.malformed += malformed;
        self.replayed += replayed;
        self.stale += stale;
        self.unknown_sender += unknown_sender;
        self.swim_errors += swim_errors;
        self.stalls += stalls;
        self.longest_stall_us = self.longest_stall_us.max(longest_stall_us);
        self.vouched += vouched;
        self.hosts_up += hosts_up;
        self.fence_told += fence_told;
        self.fence_heard += fence_heard;
        self.fence_ignored += fence_ignored;
        self.suspected += suspected;
        self.declared_dead += declared_dead;
        self.sent_by_kind.add(&sent_by_kind);
        self.received_by_kind.add(&received_by_kind);
        self.at_another_pace = at_another_pace;
    }
}

/// A count of datagrams per [`Kind`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindCounts([u64; Kind::ALL.len()]);

impl KindCounts {
    pub fn get(&self, kind: Kind) -> u64 {
        self.0.get(Self::index(kind)).copied().unwrap_or(0)
    }

    /// Every kind and its count, in wire order.
    pub fn iter(&self) -> impl Iterator<Item = (Kind, u64)> + '_ {
        Kind::ALL.into_iter().map(|k| (k, self.get(k)))
    }

    fn add(&mut self, other: &KindCounts) {
        for (n, more) in self.0.iter_mut().zip(other.0) {
            *n += more;
        }
    }

    fn count(&mut self, kind: Kind) {
        if let Some(n) = self.0.get_mut(Self::index(kind)) {
            *n += 1;
        }
    }

    /// Kinds are numbered from 1 on the wire.
    fn index(kind: Kind) -> usize {
        usize::from(kind as u8) - 1
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Alive,
    Suspect {
        /// `None`: never heard from since it became known.
        incarnation: Option<u64>,
        /// The latest instant it may have failed; dead `dead_after` later.
        failed_by: Instant,
        dead: bool,
        /// Its host answered a probe during this suspicion: dead only
        /// `stalled_dead_after` after `failed_by`.
        host_up: bool,
        /// Another member vouched for it during this suspicion: this node
        /// asks again every `R` while it lasts.
        vouched: bool,
        /// The failure instant this node last asked everyone about at
        /// `ask_after` past it. For each new instant (the first, and each
        /// time a vouch, a hearing or a stall moves it) everyone is asked
        /// then, early enough for any member that cannot vouch to probe
        /// the suspect and, if it stays silent, to tell it before the
        /// verdict. The first one also asks again a member whose vouch
        /// was lost while its acknowledgement of the first sweep arrived.
        asked: Option<Instant>,
    },
    /// It left gracefully at this incarnation: out of `reachable` and
    /// `alive` at once, until it speaks at a newer one (it restarted).
    Left {
        incarnation: u64,
    },
}

#[derive(Debug, Clone)]
struct Peer {
    incarnation: u64,
    replay: ReplayWindow,
    /// Where its silence is counted from: when it was last heard, moved
    /// forward by this node's own stalls since.
    last_heard: Option<Instant>,
    /// When it was really last heard (what this node vouches for).
    heard_at: Option<Instant>,
    /// Since when this node watches it (it is among the ring predecessors).
    watched_since: Option<Instant>,
    /// When it was last told it is suspected.
    last_told: Option<Instant>,
    /// It told this node it suspects it: until then it does not count for
    /// this node's quorum (a node may announce only with a quorum that
    /// also sees it).
    suspects_me_until: Option<Instant>,
    /// Whether it counts for this node's quorum (see [`Admission`]).
    admission: Admission,
    /// Members whose notice about it this node took on hearsay: told as
    /// soon as it is heard from again (the relay of an indirect probe).
    asked_by: BTreeSet<String>,
    /// It told this node its fence is closed: not a candidate for
    /// addresses until then (the hold of its last `Fenced`).
    fenced_until: Option<Instant>,
    /// The gaps between its heartbeats (another `--ml-heartbeat`?).
    pace: Pace,
    state: State,
    /// What the last view published says of it (`None`: not in it yet).
    shown: Option<Shown>,
}

/// What a view says of one member: [`Membership::publish`] compares these
/// with the members' states instead of rebuilding the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shown {
    reachable: bool,
    alive: bool,
    fenced: bool,
}

/// How a member that can count for this node's quorum (alive, and not
/// telling this node it suspects it) comes to count: a member that comes
/// back while this node suspects others is first told what this node
/// suspects, so that it vouches for those it hears (or relays a vouch as
/// soon as it does). Without it a death verdict reached behind a cut
/// outlives the cut: this node, back in a quorum through that member,
/// would claim the addresses of a member that the same quorum sees alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admission {
    /// Not eligible (suspected, or suspecting this node).
    Out,
    /// Told this node's suspicions in the datagram with this sequence
    /// (or a later copy); counts once it acknowledges.
    Checking { sequence: u64 },
    /// Counts from this instant: the acknowledgement, plus `J` for a vouch
    /// sent with it to arrive.
    From(Instant),
    /// Counts.
    In,
}

impl State {
    /// What a notice says of a member in this state: suspected at this
    /// incarnation, failed by this instant (a member never heard from has
    /// no incarnation to name, and no notice names it).
    fn noticed(&self) -> Option<(u64, Instant)> {
        match *self {
            State::Suspect {
                incarnation: Some(incarnation),
                failed_by,
                ..
            } => Some((incarnation, failed_by)),
            _ => None,
        }
    }

    fn suspected(incarnation: Option<u64>, failed_by: Instant) -> State {
        State::Suspect {
            incarnation,
            failed_by,
            dead: false,
            host_up: false,
            vouched: false,
            asked: None,
        }
    }
}

impl Peer {
    fn new(now: Instant) -> Peer {
        Peer {
            incarnation: 0,
            replay: ReplayWindow::default(),
            last_heard: None,
            heard_at: None,
            watched_since: None,
            last_told: None,
            suspects_me_until: None,
            admission: Admission::Out,
            asked_by: BTreeSet::new(),
            fenced_until: None,
            pace: Pace::default(),
            state: State::suspected(None, now),
            shown: None,
        }
    }

    /// What a view built now would say of it.
    fn shown_now(&self) -> Shown {
        Shown {
            reachable: self.admission == Admission::In,
            alive: !self.is_dead(),
            fenced: self.fenced_until.is_some(),
        }
    }

    /// Dead or left: out of `alive` and of the ring.
    fn is_dead(&self) -> bool {
        matches!(
            self.state,
            State::Suspect { dead: true, .. } | State::Left { .. }
        )
    }
}

/// Which `(incarnation, sequence)` pairs of a sender were seen: the
/// newest, and a window of the 64 sequences below it, so a datagram
/// overtaken by a later one on the way is still taken once.
#[derive(Debug, Clone, Copy, Default)]
struct ReplayWindow {
    newest: Option<(u64, u64)>,
    /// Bit `i`: sequence `newest - i` was seen.
    seen: u64,
}

impl ReplayWindow {
    fn accept(&mut self, incarnation: u64, sequence: u64) -> bool {
        let Some((inc, newest)) = self.newest else {
            *self = ReplayWindow {
                newest: Some((incarnation, sequence)),
                seen: 1,
            };
            return true;
        };
        if incarnation != inc {
            if incarnation < inc {
                return false;
            }
            *self = ReplayWindow {
                newest: Some((incarnation, sequence)),
                seen: 1,
            };
            return true;
        }
        if sequence > newest {
            let shift = sequence - newest;
            self.seen = if shift >= 64 { 0 } else { self.seen << shift } | 1;
            self.newest = Some((inc, sequence));
            return true;
        }
        let back = newest - sequence;
        if back >= 64 || self.seen & (1 << back) != 0 {
            return false;
        }
        self.seen |= 1 << back;
        true
    }
}

/// A notice waiting for acknowledgements; who stays silent is suspected.
#[derive(Debug, Clone)]
struct Sweep {
    sequence: u64,
    resend_at: Option<Instant>,
    deadline: Instant,
    pending: BTreeSet<String>,
    purpose: Purpose,
}

/// What a sweep is for.
#[derive(Debug, Clone)]
enum Purpose {
    /// This node's notice (its suspicions, an admission): a resend
    /// carries the notice of the moment; who stays silent is suspected
    /// from the deadline.
    Notice,
    /// A probe ([`Membership::probe`]): the latest failure instant the
    /// members that asked about it named. Silent, it is suspected from
    /// that instant, not from the probe's deadline.
    Probe(Instant),
    /// A relayed vouch: sent again as it is at the resend instant, and
    /// nobody suspected at the deadline (it is not acknowledged).
    Copy(Body),
}

/// This node's own graceful leave, once [`Membership::leave`] was called.
#[derive(Debug, Clone, Copy)]
struct Leaving {
    /// Copies of the leave still to send.
    copies: u8,
    next_at: Instant,
}

pub struct Membership {
    me: String,
    key: Key,
    timing: MembershipTiming,
    incarnation: u64,
    sequence: u64,
    known: BTreeSet<String>,
    peers: BTreeMap<String, Peer>,
    next_beat: Instant,
    sweeps: Vec<Sweep>,
    swim: Swim,
    view: View,
    stats: Stats,
    leaving: Option<Leaving>,
    hardware: Hardware,
    /// When this node should run next, as it last said: running much
    /// later means it was descheduled ([`Membership::forgive_stall`]).
    expected: Option<Instant>,
    /// A stall of `stall_fence` or more was found and not yet taken
    /// ([`Membership::take_fencing_stall`]).
    fencing_stall: bool,
    /// When this node last ran (the previous `handle` or `poll`): what it
    /// reads now arrived after that, unless it was descheduled.
    last_run: Option<Instant>,
    /// The last stall found: `(last run before it, found at)`. What this
    /// node reads within `J` of finding it may have waited in its socket
    /// since the stall began.
    backlog: Option<(Instant, Instant)>,
    /// Since when this node's own `reachable` lacks a quorum (`None`: it
    /// has one): past `fenced_after`, it tells everyone its fence is
    /// closed ([`Membership::tell_fenced`]).
    unquorate_since: Option<Instant>,
    /// After a fencing stall this node's fence is closed by its own hold
    /// and by the others' suspicion of its silence, not by theirs: it
    /// tells nobody it is fenced until then (`R + 2J + settle`), so that
    /// its addresses stay with it (telling would move them away and back:
    /// `cli/tests/standalone_l2_stall.rs`, 50 and 200 ms).
    stall_hold_until: Option<Instant>,
    /// When this node, fenced, tells everyone so again.
    next_fence_telling: Option<Instant>,
    /// `known` changed since the view was last built.
    known_changed: bool,
    /// [`Hardware::changes`] when the view was last built.
    shown_hardware: Option<u64>,
}

impl Membership {
    /// `boot` must exceed every incarnation this node used before (the
    /// shell passes the wall clock in milliseconds), so a restarted node
    /// refutes what the cluster remembers of its previous life.
    pub fn new(
        me: impl Into<String>,
        key: Key,
        timing: MembershipTiming,
        now: Instant,
        boot: u64,
    ) -> Membership {
        let me = me.into();
        let swim = Swim::new(&me, boot, &timing);
        let view = View {
            reachable: BTreeSet::from([me.clone()]),
            alive: BTreeSet::from([me.clone()]),
            hardware: BTreeMap::new(),
            fenced: BTreeSet::new(),
        };
        Membership {
            me,
            key,
            timing,
            incarnation: boot,
            sequence: 0,
            known: BTreeSet::new(),
            peers: BTreeMap::new(),
            next_beat: now,
            sweeps: Vec::new(),
            swim,
            view,
            stats: Stats::default(),
            leaving: None,
            hardware: Hardware::default(),
            expected: None,
            fencing_stall: false,
            last_run: None,
            backlog: None,
            unquorate_since: None,
            stall_hold_until: None,
            next_fence_telling: None,
            known_changed: true,
            shown_hardware: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.me
    }

    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    pub fn view(&self) -> &View {
        &self.view
    }

    pub fn reachable(&self) -> BTreeSet<String> {
        self.view.reachable.clone()
    }

    pub fn alive(&self) -> BTreeSet<String> {
        self.view.alive.clone()
    }

    /// Members whose heartbeats come at another pace than this node's,
    /// with their median gap: configured with another `--ml-heartbeat`
    /// (see [`super::pace`]).
    pub fn paces_apart(&self) -> Vec<(String, Duration)> {
        self.peers
            .iter()
            .filter_map(|(name, peer)| {
                let gap = peer.pace.apart_from(self.timing.heartbeat)?;
                Some((name.clone(), gap))
            })
            .collect()
    }

    /// Members SWIM sees active, for diagnostics.
    pub fn swim_members(&self) -> BTreeSet<String> {
        self.swim.members().map(str::to_string).collect()
    }

    pub fn handle(&mut self, now: Instant, input: Input) -> Vec<Output> {
        if self.leaving.is_some() {
            // Gone: nothing the others say matters to this node any more,
            // and an answer would tell them it is still there.
            if matches!(input, Input::Received(_)) {
                self.stats.received += 1;
            }
            return self.poll(now);
        }
        let mut out = Vec::new();
        self.forgive_stall(now);
        match input {
            Input::HostProbed { name, answered } => self.host_probed(&name, answered),
            Input::Received(bytes) => self.receive(now, &bytes, &mut out),
            Input::SetKnown(known) => self.set_known(now, known, &mut out),
            Input::SetHardware(macs) => {
                if self.hardware.set_own(now, macs) {
                    self.tell_hardware(None, &mut out);
                }
            }
        }
        self.run_timers(now, &mut out);
        self.publish(now, &mut out);
        self.tell_fenced(now, &mut out);
        self.expected = self.next_deadline();
        self.last_run = Some(now);
        out
    }

    /// Runs whatever is due at `now`.
    pub fn poll(&mut self, now: Instant) -> Vec<Output> {
        let mut out = Vec::new();
        if self.leaving.is_some() {
            self.send_leave(now, &mut out);
            return out;
        }
        self.forgive_stall(now);
        self.run_timers(now, &mut out);
        self.publish(now, &mut out);
        self.tell_fenced(now, &mut out);
        self.expected = self.next_deadline();
        self.last_run = Some(now);
        out
    }

    /// This node runs `late` after its own timers asked: it was
    /// descheduled (CPU starvation, SIGSTOP, a paused VM). What its peers
    /// sent meanwhile waits unread in its socket, so their silence during
    /// the stall is its own: every silence, sweep and death timer moves
    /// forward by the stall. A stall long enough that the others may have
    /// declared this node dead ([`MembershipTiming::stall_fence`]) closes
    /// its fence at once (no member counts for its quorum for a moment):
    /// it settles again before it answers from a view that may be stale.
    fn forgive_stall(&mut self, now: Instant) {
        let Some(expected) = self.expected else {
            return;
        };
        let late = now.saturating_duration_since(expected);
        if late <= self.timing.jitter {
            return;
        }
        self.stats.stalls += 1;
        self.stats.longest_stall_us = self
            .stats
            .longest_stall_us
            .max(u64::try_from(late.as_micros()).unwrap_or(u64::MAX));
        let fence = late >= self.timing.stall_fence();
        self.fencing_stall |= fence;
        if let Some(last) = self.last_run {
            self.backlog = Some((last, now));
        }
        let hold = now + self.timing.suspected_by_hold();
        if fence {
            // Its quorum comes back once the holds below end and the
            // others, which suspected it while it was silent, hear its
            // refutation and stop telling it (each telling holds it out
            // `R + 2J` more); within a settle time, in which its fence
            // is closed anyway.
            self.stall_hold_until = Some(hold + self.timing.settle);
        }
        for peer in self.peers.values_mut() {
            for t in [&mut peer.last_heard, &mut peer.watched_since]
                .into_iter()
                .flatten()
            {
                *t = (*t + late).min(now);
            }
            if let State::Suspect {
                failed_by,
                dead: false,
                asked,
                ..
            } = &mut peer.state
            {
                *failed_by += late;
                if let Some(t) = asked {
                    *t += late;
                }
            }
            if fence {
                peer.suspects_me_until = Some(hold);
            }
        }
        for sweep in &mut self.sweeps {
            sweep.deadline += late;
            if let Some(t) = &mut sweep.resend_at {
                *t += late;
            }
        }
    }

    /// Whether this node found, since the last call, that it was stalled
    /// long enough to have been declared dead: the shell then holds the
    /// responders back at once (`membership::gate`), before the fence
    /// closure reaches the announcer.
    pub fn take_fencing_stall(&mut self) -> bool {
        std::mem::take(&mut self.fencing_stall)
    }

    /// Whether this node counts a quorum in its last view: the fence the
    /// announcer applies to the same view, for the shell to apply at once
    /// (`membership::gate`).
    pub fn quorate(&self) -> bool {
        self.unquorate_since.is_none()
    }

    /// A host probe's outcome: a suspected member whose host is up has a
    /// descheduled speaker, not a dead one.
    fn host_probed(&mut self, name: &str, answered: bool) {
        let Some(peer) = self.peers.get_mut(name) else {
            return;
        };
        if let State::Suspect {
            host_up,
            dead: false,
            ..
        } = &mut peer.state
        {
            if answered && !*host_up {
                self.stats.hosts_up += 1;
            }
            *host_up = answered;
        }
    }

    /// When a suspected member is declared dead.
    fn dead_at(&self, state: &State) -> Option<Instant> {
        match *state {
            State::Suspect {
                failed_by,
                dead: false,
                host_up,
                ..
            } => Some(
                failed_by
                    + if host_up {
                        self.timing.stalled_dead_after
                    } else {
                        self.timing.dead_after
                    },
            ),
            _ => None,
        }
    }

    /// Leaves the cluster gracefully: every known member drops this node
    /// from `reachable` and `alive` as soon as one copy of the leave
    /// reaches it, instead of after the crash path (suspected within
    /// `suspect_within`, dead after `dead_after`), so its addresses move
    /// at once. The first copy is in the returned outputs; the others
    /// (`leave_copies` in all, `leave_spacing` apart) come from
    /// [`Membership::poll`] at [`Membership::next_deadline`], which is
    /// `None` once the last one is out. From now on this node ignores
    /// every input, stops heart-beating and keeps its last view.
    ///
    /// # Ordering: stop announcing first
    ///
    /// The others take over this node's addresses the moment a copy
    /// arrives, without the wait for `dead_after` that lets a crashed
    /// node's fence close first. So the caller must have stopped
    /// announcing (no more ARP or NDP answers, no gratuitous ones queued)
    /// **before** it calls `leave`; otherwise two nodes answer for an
    /// address for as long as the old owner goes on.
    ///
    /// A node that comes back must start with a higher incarnation
    /// (`boot` of [`Membership::new`]): the others ignore its old life
    /// once it left. Calling `leave` again does nothing.
    pub fn leave(&mut self, now: Instant) -> Vec<Output> {
        let mut out = Vec::new();
        if self.leaving.is_some() {
            return out;
        }
        // No SWIM departure (foca's `leave_cluster`): its "down" can reach
        // a member before the leave does, and would start a suspicion and
        // a sweep there. The others' SWIM finds this node down in its own
        // time, which changes nothing for a member that left.
        self.leaving = Some(Leaving {
            copies: self.timing.leave_copies,
            next_at: now,
        });
        self.send_leave(now, &mut out);
        out
    }

    /// Whether [`Membership::leave`] was called.
    pub fn has_left(&self) -> bool {
        self.leaving.is_some()
    }

    /// Sends the next copy of the leave if it is due.
    fn send_leave(&mut self, now: Instant, out: &mut Vec<Output>) {
        let Some(leaving) = &mut self.leaving else {
            return;
        };
        if leaving.copies == 0 || now < leaving.next_at {
            return;
        }
        leaving.copies -= 1;
        leaving.next_at = now + self.timing.leave_spacing;
        // Every known member, suspected and dead ones too: they may hear
        // us even if we do not hear them. Each copy has its own sequence,
        // so the copies are not replays of each other.
        self.broadcast(out, Body::Leave);
    }

    /// When [`Membership::poll`] must run next.
    pub fn next_deadline(&self) -> Option<Instant> {
        if let Some(leaving) = &self.leaving {
            return (leaving.copies > 0).then_some(leaving.next_at);
        }
        let mut next = Some(self.next_beat);
        let mut at = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        if let Some(t) = self.fence_telling_due() {
            at(t);
        }
        for (name, peer) in &self.peers {
            if let Some(t) = peer.suspects_me_until {
                at(t);
            }
            if let Some(t) = peer.fenced_until {
                at(t);
            }
            if let Admission::From(t) = peer.admission {
                at(t);
            }
            match peer.state {
                State::Alive => {
                    if let Some(t) = self.silence_deadline(name, peer) {
                        at(t);
                    }
                }
                State::Suspect {
                    incarnation,
                    failed_by,
                    dead,
                    asked,
                    ..
                } => {
                    if let Some(t) = self.dead_at(&peer.state) {
                        at(t);
                    }
                    if !dead && incarnation.is_some() && asked != Some(failed_by) {
                        at(failed_by + self.timing.ask_after());
                    }
                    at(peer
                        .last_told
                        .map_or(failed_by, |t| t + self.timing.reprobe));
                }
                // Nothing to wait for: it comes back by speaking.
                State::Left { .. } => {}
            }
        }
        for sweep in &self.sweeps {
            at(sweep.resend_at.unwrap_or(sweep.deadline));
        }
        if let Some(t) = self.swim.next_deadline() {
            at(t);
        }
        if let Some(t) = self.hardware.next_deadline() {
            at(t);
        }
        next
    }

    fn set_known(&mut self, now: Instant, known: BTreeSet<String>, out: &mut Vec<Output>) {
        let known: BTreeSet<String> = known
            .into_iter()
            .filter(|n| valid_name(n) && *n != self.me)
            .collect();
        self.peers.retain(|name, _| known.contains(name));
        self.hardware.retain(&known);
        let new: Vec<String> = known
            .iter()
            .filter(|n| !self.peers.contains_key(*n))
            .cloned()
            .collect();
        for name in &new {
            let mut peer = Peer::new(now);
            // Asked to answer below: asked again `R` from now if silent.
            peer.last_told = Some(now);
            self.peers.insert(name.clone(), peer);
        }
        self.known = known;
        self.known_changed = true;
        for sweep in &mut self.sweeps {
            sweep.pending.retain(|n| self.known.contains(n));
        }
        for name in new {
            self.send(out, &name, Body::Alive { reply: true });
            self.tell_hardware(Some(&name), out);
            let effects = self.swim.announce(now, &name);
            self.swim_effects(now, effects, out);
        }
    }

    fn receive(&mut self, now: Instant, bytes: &[u8], out: &mut Vec<Output>) {
        self.stats.received += 1;
        let datagram = match Datagram::open(&self.key, bytes) {
            Ok(d) => d,
            Err(WireError::Unauthenticated) => {
                self.stats.unauthenticated += 1;
                return;
            }
            Err(_) => {
                self.stats.malformed += 1;
                return;
            }
        };
        let Header {
            sender,
            incarnation,
            sequence,
        } = datagram.header;
        let Some(peer) = self.peers.get_mut(&sender) else {
            self.stats.unknown_sender += 1;
            return;
        };
        if !peer.replay.accept(incarnation, sequence) {
            self.stats.replayed += 1;
            return;
        }
        self.stats.received_by_kind.count(datagram.body.kind());
        if datagram.body == Body::Leave {
            // At the incarnation we know or a newer one, it ends the life
            // we know. An older one is from before a restart that others
            // already told us about (their suspicions carry incarnations).
            if incarnation >= peer.incarnation {
                peer.incarnation = incarnation;
                peer.state = State::Left { incarnation };
                peer.last_heard = Some(now);
                peer.last_told = None;
            } else {
                self.stats.stale += 1;
            }
            return;
        }
        match peer.state {
            // Only a new life brings a member that left back; what its
            // old life sent before leaving, overtaken by the leave on the
            // way, changes nothing.
            State::Left { incarnation: l } if incarnation <= l => {
                self.stats.stale += 1;
                return;
            }
            State::Left { .. } => peer.state = State::Alive,
            // Any word from it at a newer incarnation than suspected
            // refutes the suspicion; a first word ends "never heard".
            State::Suspect { incarnation: s, .. } if s.is_none_or(|s| incarnation > s) => {
                peer.state = State::Alive;
            }
            State::Suspect { .. } | State::Alive => {}
        }
        peer.last_heard = Some(now);
        peer.heard_at = Some(now);
        peer.incarnation = peer.incarnation.max(incarnation);
        if datagram.body == Body::Heartbeat {
            peer.pace.heartbeat(now);
        }
        // Heard from itself: it runs, whatever this node concluded
        // behind a cut that has healed one way. Its death waits as after
        // a vouch (a member declared dead is alive again), or this node
        // would claim its addresses while it, and the members that hear
        // it, hold them (a death verdict must not outlive the silence it
        // was drawn from). It stays suspected (out of `reachable`) until
        // it refutes.
        if let State::Suspect {
            failed_by, dead, ..
        } = &mut peer.state
        {
            *failed_by = (*failed_by).max(now + self.timing.failed_by_after_last_heartbeat());
            *dead = false;
        }
        let still_suspected = matches!(peer.state, State::Suspect { .. });

        match datagram.body {
            Body::Heartbeat => {}
            Body::Alive { reply } => {
                if reply {
                    self.send(out, &sender, Body::Alive { reply: false });
                    // It started (or restarted): it knows nothing of us.
                    self.tell_hardware(Some(&sender), out);
                }
            }
            Body::Suspect { entries } => {
                // A member we cannot reach speaks from the other side of a
                // cut (or from before a heal): what it suspects says
                // nothing about our side. What it says about us we refute.
                let entries: Vec<Suspicion> = entries
                    .into_iter()
                    .filter(|e| !still_suspected || e.member == self.me)
                    .collect();
                let (seen, entries) = self.vouch(now, entries);
                let answer = if seen.is_empty() {
                    Body::Ack { sequence }
                } else {
                    Body::Answer {
                        sequence,
                        entries: seen,
                    }
                };
                self.send(out, &sender, answer);
                self.apply_suspicions(now, &sender, entries, out);
            }
            Body::Vouch { entries } => {
                // From a member we cannot reach, it proves nothing here.
                if !still_suspected {
                    self.vouched(now, entries);
                }
            }
            Body::Answer { sequence, entries } => {
                if !still_suspected {
                    self.vouched(now, entries);
                }
                self.acknowledged(now, &sender, sequence);
            }
            Body::Ack { sequence } => self.acknowledged(now, &sender, sequence),
            Body::Swim(data) => {
                let effects = self.swim.handle_data(now, &data);
                self.swim_effects(now, effects, out);
            }
            // Taken above, before the state changes.
            Body::Leave => {}
            Body::Hardware { macs } => self.hardware.learn(&sender, macs),
            Body::Fenced { hold_ms } => {
                self.fence_heard(now, &sender, (incarnation, sequence), hold_ms);
            }
        }
        // It reaches us but is suspected at its incarnation: tell it, so
        // it refutes (this is how a healed partition is noticed). Fenced,
        // tell it that first: it may be about to count this node alive
        // again (a heal), and would otherwise give this node's addresses
        // back to it while it settles, dark for `settle`.
        if still_suspected {
            self.tell_fenced_to(now, &sender, out);
            self.tell(now, &sender, out);
        }
        self.relay(now, &sender, out);
    }

    /// `sender` acknowledged this node's notice `sequence`: any notice
    /// sent since a sweep began (its resend has a sequence of its own)
    /// shows the member reachable both ways.
    fn acknowledged(&mut self, now: Instant, sender: &str, sequence: u64) {
        // A relayed vouch's copy goes out whatever comes back: nothing
        // acknowledges a vouch.
        for sweep in &mut self.sweeps {
            if !matches!(sweep.purpose, Purpose::Copy(_)) && sweep.sequence <= sequence {
                sweep.pending.remove(sender);
            }
        }
        if let Some(peer) = self.peers.get_mut(sender)
            && let Admission::Checking { sequence: asked } = peer.admission
            && sequence >= asked
        {
            peer.admission = Admission::From(now + self.timing.jitter);
        }
    }

    /// Splits a notice into the members this node heard from itself after
    /// the instant the notice says they may have failed (they are alive,
    /// only not for the sender: a one-way or partial cut, its own loss),
    /// which it vouches for in its answer, and the rest.
    fn vouch(&self, now: Instant, entries: Vec<Suspicion>) -> (Vec<Sighting>, Vec<Suspicion>) {
        let mut seen = Vec::new();
        let mut rest = Vec::new();
        for entry in entries {
            let failed_by = now
                .checked_sub(Duration::from_millis(entry.age_ms.into()))
                .unwrap_or(now);
            let sighting = self.peers.get(&entry.member).and_then(|p| {
                let heard = p.heard_at.filter(|h| *h > failed_by)?;
                (p.state == State::Alive).then(|| Sighting {
                    member: entry.member.clone(),
                    incarnation: p.incarnation,
                    age_ms: millis(now.saturating_duration_since(heard)),
                })
            });
            match sighting {
                Some(s) => seen.push(s),
                None => rest.push(entry),
            }
        }
        (seen, rest)
    }

    /// Another member heard these members after this node began to
    /// suspect them: each may have failed only after that, so its death
    /// waits (and a member declared dead meanwhile is alive again).
    fn vouched(&mut self, now: Instant, entries: Vec<Sighting>) {
        let after = self.timing.failed_by_after_last_heartbeat();
        for entry in entries {
            let Some(peer) = self.peers.get_mut(&entry.member) else {
                continue;
            };
            let heard = now
                .checked_sub(Duration::from_millis(entry.age_ms.into()))
                .unwrap_or(now);
            if let State::Suspect {
                failed_by,
                dead,
                vouched,
                ..
            } = &mut peer.state
                && heard + after > *failed_by
            {
                *failed_by = heard + after;
                *dead = false;
                *vouched = true;
                self.stats.vouched += 1;
            }
            peer.incarnation = peer.incarnation.max(entry.incarnation);
        }
    }

    /// Tells the members that asked about `sender` (and that this node
    /// could not vouch to: it probed `sender`, or suspected it) that it
    /// was just heard from: a vouch each, and the same vouch again
    /// `ack_timeout / 2` later. The proof takes the relay as arriving
    /// (docs/l2-mode.md, "The bound when views are not transitive"), and
    /// unlike a vouch in answer to an ask, nothing asks for it again
    /// before the asker's verdict. Sent once, it was lost when the
    /// relaying node refuted a suspicion right after: its refutation, a
    /// newer life, overtook the vouch on the way, and the asker's replay
    /// window dropped the vouch as stale (two owners on three nodes,
    /// `a_relayed_vouch_overtaken_by_a_refutation_is_resent`); the later
    /// copy carries the newer life. Not acknowledged: a node that comes
    /// back is relayed by every member to every member that asked about
    /// it (`n²` vouches at once), and suspecting each asker whose
    /// acknowledgement is late would add suspicions to that burst.
    fn relay(&mut self, now: Instant, sender: &str, out: &mut Vec<Output>) {
        let Some(peer) = self.peers.get_mut(sender) else {
            return;
        };
        if peer.state != State::Alive || peer.asked_by.is_empty() {
            return;
        }
        let askers = std::mem::take(&mut peer.asked_by);
        let sighting = Sighting {
            member: sender.to_string(),
            incarnation: peer.incarnation,
            age_ms: 0,
        };
        for to in askers {
            let body = Body::Vouch {
                entries: vec![sighting.clone()],
            };
            self.sweep_one(now, &to, body.clone(), Purpose::Copy(body), out);
        }
    }

    fn apply_suspicions(
        &mut self,
        now: Instant,
        from: &str,
        entries: Vec<Suspicion>,
        out: &mut Vec<Output>,
    ) {
        let mut refute = false;
        let mut hearsay = Vec::new();
        let mut probe = Vec::new();
        let hold = now + self.timing.suspected_by_hold();
        if let Some(peer) = self.peers.get_mut(from)
            && entries.iter().any(|e| e.member == self.me)
        {
            peer.suspects_me_until = Some(hold);
        }
        for entry in entries {
            if entry.member == self.me {
                if entry.incarnation >= self.incarnation {
                    refute = true;
                    self.incarnation = entry.incarnation.saturating_add(1);
                } else {
                    // A suspicion of an older life: our refutation was
                    // lost on its way to `from`.
                    self.send(out, from, Body::Alive { reply: false });
                }
                continue;
            }
            let Some(peer) = self.peers.get_mut(&entry.member) else {
                continue;
            };
            if from != entry.member {
                peer.asked_by.insert(from.to_string());
            }
            // The sender's instant keeps everyone's dead timers together
            // after a failure; capped, so that an old suspicion (one that
            // crossed a heal) leaves the member time to refute it.
            let age = Duration::from_millis(entry.age_ms.into()).min(self.timing.silence);
            let failed_by = now.checked_sub(age).unwrap_or(now);
            match &mut peer.state {
                // A member this node holds alive but has not heard since
                // the instant named (else it vouched): it asks the member
                // instead of taking the suspicion on hearsay; see
                // [`Membership::probe`].
                State::Alive => probe.push((entry.member.clone(), failed_by)),
                State::Suspect { incarnation, .. } if incarnation.is_none() => {
                    *incarnation = Some(entry.incarnation);
                }
                // A suspicion of a newer life, taken on hearsay too: swept,
                // and never failed earlier than this node already knew (a
                // vouch moved that instant). Replacing it outright dropped
                // the vouch and the re-asks: the verdict fell while the
                // member that had vouched heard the suspect again (issue
                // 17, `a_suspicion_of_a_newer_life_keeps_what_vouches_said`).
                State::Suspect {
                    incarnation: Some(s),
                    failed_by: known,
                    ..
                } if entry.incarnation > *s => {
                    let known = *known;
                    peer.state = State::suspected(Some(entry.incarnation), failed_by.max(known));
                    hearsay.push(entry.member.clone());
                }
                _ => {}
            }
            peer.incarnation = peer.incarnation.max(entry.incarnation);
        }
        if refute {
            self.broadcast(out, Body::Alive { reply: false });
        }
        // Told by another, not seen: let the member refute at once if it
        // can hear us.
        let swept = !hearsay.is_empty();
        for name in hearsay {
            self.tell(now, &name, out);
        }
        // And ask everyone about it, as for a suspicion of its own: the
        // members of this node's quorum that hear the suspect vouch, and
        // those that cannot answer leave the quorum. Without it a verdict
        // drawn from hearsay fell on this node's own timer while its whole
        // quorum heard the suspect (the suspecter had heard it again, the
        // suspect's refutation was cut on its way here): two owners, issue
        // 17, `a_suspicion_taken_on_hearsay_is_asked_about_too`.
        if swept {
            self.sweep(now, out);
        }
        for (name, failed_by) in probe {
            self.probe(now, &name, failed_by, out);
        }
    }

    /// Asks `name`, a member this node holds alive but was asked about and
    /// cannot vouch for (it has not heard it since `failed_by`, the
    /// instant the asker named), to answer: this node's notice, as a
    /// sweep of one (resent at `ack_timeout / 2`). Its answer is a
    /// hearing, relayed at once as a vouch to the members that asked
    /// ([`Membership::relay`]); silent until `ack_timeout`, it is
    /// suspected here (from the instant named, see
    /// [`Membership::probe_failed_by`]), and so told, and leaves this node
    /// out of its quorum before the asker's verdict can fall.
    ///
    /// A question, not an accusation: the member that answers keeps
    /// counting this node. Taking the suspicion on hearsay at once told
    /// the member it was suspected by everyone that does not hear it
    /// (beyond `K + 1` nodes, nearly everyone: a node hears the heartbeats
    /// of its ring predecessors only), and one watcher's missed heartbeats
    /// took the member's whole quorum away: it fenced itself and its
    /// addresses moved, on 5 nodes and more (docs/l2-mode.md, "One missed
    /// watch fenced its member"; `one_missed_watch_does_not_fence_its_member`
    /// in `l2/tests/membership_sim.rs`).
    fn probe(&mut self, now: Instant, name: &str, failed_by: Instant, out: &mut Vec<Output>) {
        // Already asked, and not answered yet: the same deadline holds. A
        // later instant named puts a probe's verdict off; a notice's
        // silent members fail by its deadline, later still. A relayed
        // vouch on its way to `name` asks it nothing.
        for sweep in &mut self.sweeps {
            if !sweep.pending.contains(name) {
                continue;
            }
            match &mut sweep.purpose {
                Purpose::Probe(asked) => {
                    *asked = (*asked).max(failed_by);
                    return;
                }
                Purpose::Notice => return,
                Purpose::Copy(_) => {}
            }
        }
        let body = self.notice(now);
        self.sweep_one(now, name, body, Purpose::Probe(failed_by), out);
    }

    /// The failure instant of a member silent to a probe that ended at
    /// `deadline`, asked about as having failed by `asked_about`: that
    /// instant (it has not been heard since, or this node would have
    /// vouched), as the suspecters' verdicts fall together; but no earlier
    /// than `ask_after` before now, since this node asks everyone about it
    /// now (its sweep), and an ask must come by `ask_after` past the
    /// failure instant for a member that cannot vouch to finish its own
    /// probe before the verdict ([`MembershipTiming::ask_after`]).
    fn probe_failed_by(ask_after: Duration, asked_about: Instant, deadline: Instant) -> Instant {
        let earliest = deadline.checked_sub(ask_after).unwrap_or(deadline);
        asked_about.max(earliest).min(deadline)
    }

    /// Sends `body` to `name` alone, acknowledged like a sweep (resent at
    /// `ack_timeout / 2`, suspected if silent at `ack_timeout`), or, for a
    /// [`Purpose::Copy`], sent again at `ack_timeout / 2` and nothing
    /// more; the sequence number used.
    fn sweep_one(
        &mut self,
        now: Instant,
        name: &str,
        body: Body,
        purpose: Purpose,
        out: &mut Vec<Output>,
    ) -> u64 {
        self.sequence += 1;
        let sequence = self.sequence;
        self.seal_to(out, name, sequence, body);
        self.sweeps.push(Sweep {
            sequence,
            resend_at: Some(now + self.timing.ack_timeout / 2),
            deadline: now + self.timing.ack_timeout,
            pending: BTreeSet::from([name.to_string()]),
            purpose,
        });
        sequence
    }

    /// A member says its fence is closed: it stays out of the candidates
    /// for its hold (the shorter of the one it names and this node's own
    /// [`MembershipTiming::fenced_hold`]), counted from the last instant
    /// this node ran before it read the datagram (it arrived no earlier;
    /// after a stall, from the stall's start: it may have waited in the
    /// socket all along). The hold ends no later than the sender's fence
    /// can open (docs/l2-mode.md, "A fenced member hands its addresses
    /// on"). Only the newest datagram of the sender's newest life counts:
    /// one overtaken on the way may be older than the sender's quorum.
    fn fence_heard(
        &mut self,
        now: Instant,
        sender: &str,
        (incarnation, sequence): (u64, u64),
        hold_ms: u32,
    ) {
        let from = match (self.backlog, self.last_run) {
            (Some((start, found)), _) if now <= found + self.timing.jitter => start,
            (_, Some(last)) => last,
            _ => now,
        }
        .min(now);
        let hold = Duration::from_millis(hold_ms.into()).min(self.timing.fenced_hold());
        let Some(peer) = self.peers.get_mut(sender) else {
            return;
        };
        if incarnation < peer.incarnation || peer.replay.newest != Some((incarnation, sequence)) {
            self.stats.fence_ignored += 1;
            return;
        }
        self.stats.fence_heard += 1;
        let until = from + hold;
        peer.fenced_until = Some(peer.fenced_until.map_or(until, |t| t.max(until)));
    }

    /// When this node, fenced, must tell everyone so next: once its
    /// quorum has been lacking for `fenced_after` (its announcer has
    /// applied the closure by then), not before a fencing stall's own
    /// hold is over, then every `R` while it lasts.
    fn fence_telling_due(&self) -> Option<Instant> {
        let since = self.unquorate_since?;
        let mut due = since + self.timing.fenced_after();
        if let Some(t) = self.stall_hold_until {
            due = due.max(t);
        }
        if let Some(t) = self.next_fence_telling {
            due = due.max(t);
        }
        Some(due)
    }

    /// Whether this node may tell others its fence is closed now: it has
    /// lacked a quorum for `fenced_after`, and not merely because of a
    /// fencing stall's hold (a stalled owner keeps its addresses: the
    /// others kept them on it, and moving them would cost two moves).
    fn may_tell_fenced(&self, now: Instant) -> bool {
        self.unquorate_since
            .is_some_and(|since| now >= since + self.timing.fenced_after())
            && self.stall_hold_until.is_none_or(|t| now >= t)
    }

    /// Tells every known member this node's fence is closed, every `R`
    /// while it stays closed: each holds it out of the candidates for
    /// addresses, so that the next owner answers for them. Every member,
    /// suspected and dead ones too: an owner that hears nobody is heard
    /// by everyone (the deaf owner, docs/reliability.md, scenario 6).
    fn tell_fenced(&mut self, now: Instant, out: &mut Vec<Output>) {
        if !self.may_tell_fenced(now) || self.fence_telling_due().is_none_or(|t| now < t) {
            return;
        }
        self.next_fence_telling = Some(now + self.timing.reprobe);
        let body = self.fenced_body();
        if self.broadcast(out, body).is_some() {
            self.stats.fence_told += 1;
        }
    }

    /// Tells one member this node's fence is closed, if it is (in answer
    /// to a member it suspects: at a heal, before anything else of this
    /// node's counts it alive again).
    fn tell_fenced_to(&mut self, now: Instant, name: &str, out: &mut Vec<Output>) {
        let told_recently = self
            .peers
            .get(name)
            .and_then(|p| p.last_told)
            .is_some_and(|t| now < t + self.timing.heartbeat);
        if !self.may_tell_fenced(now) || told_recently {
            return;
        }
        let body = self.fenced_body();
        self.send(out, name, body);
        self.stats.fence_told += 1;
    }

    fn fenced_body(&self) -> Body {
        Body::Fenced {
            hold_ms: millis(self.timing.fenced_hold()),
        }
    }

    fn run_timers(&mut self, now: Instant, out: &mut Vec<Output>) {
        if self.hardware.refresh_due(now) {
            self.tell_hardware(None, out);
        }
        let effects = self.swim.poll(now);
        self.swim_effects(now, effects, out);

        // Watch: only the ring predecessors, only while heard. (`known`
        // lacks this node, which the ring leaves out of its own
        // neighbours anyway: no set is copied on this per-datagram path.)
        let peers = &self.peers;
        let watched = ring::predecessors(
            &self.me,
            &self.known,
            |n| peers.get(n).is_some_and(Peer::is_dead),
            self.timing.watchers,
        );
        let mut silent = Vec::new();
        for (name, peer) in &mut self.peers {
            if peer.watched_since.is_some() && !watched.contains(&name.as_str()) {
                peer.watched_since = None;
            }
        }
        for name in watched {
            if let Some(peer) = self.peers.get_mut(name) {
                peer.watched_since.get_or_insert(now);
            }
        }
        for (name, peer) in &self.peers {
            if peer.state == State::Alive
                && let Some(deadline) = self.silence_deadline(name, peer)
                && now >= deadline
            {
                // Heart-beaten since this node watches it: it may have
                // failed only after its last heartbeat. Not heard since
                // (the ring just changed, and it may not have seen the
                // change yet): nothing says when, so no sooner than now.
                // Counting from an old hearing declared a member dead the
                // instant a death elsewhere made this node its watcher.
                let failed_by = match (peer.last_heard, peer.watched_since) {
                    (Some(last), Some(since)) if last >= since => {
                        last + self.timing.failed_by_after_last_heartbeat()
                    }
                    _ => now,
                };
                silent.push((name.clone(), failed_by));
            }
        }
        if !silent.is_empty() {
            self.suspect_and_sweep(now, silent, out);
        }

        // Sweeps: resend to the silent once, then suspect them.
        let mut expired = Vec::new();
        let mut resend = Vec::new();
        let ask_after = self.timing.ask_after();
        for sweep in &mut self.sweeps {
            if sweep.resend_at.is_some_and(|t| now >= t) {
                sweep.resend_at = None;
                resend.extend(
                    sweep
                        .pending
                        .iter()
                        .map(|n| (n.clone(), sweep.purpose.clone())),
                );
            }
            if now >= sweep.deadline {
                let failed_by = match sweep.purpose {
                    Purpose::Notice => sweep.deadline,
                    Purpose::Probe(asked) => {
                        Self::probe_failed_by(ask_after, asked, sweep.deadline)
                    }
                    Purpose::Copy(_) => continue,
                };
                expired.extend(
                    std::mem::take(&mut sweep.pending)
                        .into_iter()
                        .map(|n| (n, failed_by)),
                );
            }
        }
        self.sweeps.retain(|s| now < s.deadline);
        for (name, purpose) in resend {
            match purpose {
                Purpose::Copy(body) => self.send(out, &name, body),
                Purpose::Notice | Purpose::Probe(_) => self.notify(now, &name, out),
            }
        }
        let expired: Vec<(String, Instant)> = expired
            .into_iter()
            .filter(|(n, _)| self.peers.get(n).is_some_and(|p| p.state == State::Alive))
            .collect();
        if !expired.is_empty() {
            self.suspect_and_sweep(now, expired, out);
        }

        // Dead, and reprobes of the suspected.
        let mut reprobe = Vec::new();
        let mut unheard = Vec::new();
        let mut ask_again = false;
        let deaths: Vec<String> = self
            .peers
            .iter()
            .filter(|(_, p)| self.dead_at(&p.state).is_some_and(|t| now >= t))
            .map(|(n, _)| n.clone())
            .collect();
        for (name, peer) in &mut self.peers {
            if let State::Suspect {
                incarnation,
                failed_by,
                dead,
                vouched,
                asked,
                ..
            } = &mut peer.state
            {
                if deaths.contains(name) && !*dead {
                    *dead = true;
                    self.stats.declared_dead += 1;
                }
                if !*dead
                    && incarnation.is_some()
                    && *asked != Some(*failed_by)
                    && now >= *failed_by + ask_after
                {
                    *asked = Some(*failed_by);
                    ask_again = true;
                }
                if peer
                    .last_told
                    .is_none_or(|t| now >= t + self.timing.reprobe)
                {
                    // Never heard from: nothing to refute (no notice
                    // names it), only a question to answer.
                    if incarnation.is_none() {
                        peer.last_told = Some(now);
                        unheard.push(name.clone());
                    } else {
                        reprobe.push(name.clone());
                        ask_again |= *vouched && !*dead;
                    }
                }
            }
        }
        for name in reprobe {
            self.tell(now, &name, out);
        }
        // A member never heard from is asked to answer again every `R`,
        // as when it became known, and not told this node's notice: the
        // notice named nothing it could refute, and every member it named
        // that the receiver had not heard since was probed and, silent,
        // swept for. Thirty-five members starting together on 2 busy
        // cores in the simulator told each other so for as long as they
        // had not all met (`n²` notices and as many TCP probes every `R`,
        // and the probes and sweeps they set off), and stormed
        // (`thirty_five_members_on_two_busy_cores_come_together`).
        for name in unheard {
            self.send(out, &name, Body::Alive { reply: true });
        }
        // Someone still hears a member this node cannot: ask everyone
        // again (an indirect probe), every `R` while vouches come, so
        // that its death waits as long as somebody hears it. As a sweep: a
        // member that neither answers nor answers the resend is
        // suspected, so it leaves this node's quorum before the verdict.
        // A lost ask otherwise let the verdict fall while that member,
        // still in the quorum, heard the suspect (two owners, issue 17:
        // `a_lost_ask_does_not_let_a_vouched_member_die`). And once
        // `ask_after` past each new failure instant: a member that cannot
        // vouch probes the suspect, and its probe must end (a vouch, or
        // the suspect told) before the verdict; an ask `R` after the last
        // one could come too late when the vouch reported an older
        // hearing (issue 17, `a_stale_ask_about_an_unwatched_member_is_probed`).
        // The asks every `R` stay for a lost vouch whose acknowledgement
        // arrived (one ask per instant let a single loss decide:
        // `a_lost_vouch_is_asked_for_again`).
        if ask_again {
            self.sweep(now, out);
        }

        if now >= self.next_beat {
            let peers = &self.peers;
            let targets: Vec<String> = ring::successors(
                &self.me,
                &self.known,
                |n| peers.get(n).is_some_and(Peer::is_dead),
                self.timing.watchers,
            )
            .into_iter()
            .map(str::to_string)
            .collect();
            for to in targets {
                self.send(out, &to, Body::Heartbeat);
            }
            self.next_beat += self.timing.heartbeat;
            if self.next_beat <= now {
                self.next_beat = now + self.timing.heartbeat;
            }
        }
    }

    /// When silence from a watched, alive predecessor becomes suspicion.
    fn silence_deadline(&self, _name: &str, peer: &Peer) -> Option<Instant> {
        let since = peer.watched_since?;
        let grace = since + self.timing.watch_grace();
        let silence = peer.last_heard.unwrap_or(since) + self.timing.silence;
        // A predecessor watched only since a recent ring change may not
        // have seen the change yet: it gets the grace.
        Some(if peer.last_heard.is_some_and(|h| h >= since) {
            silence
        } else {
            silence.max(grace)
        })
    }

    /// Suspects `newly` (with the latest instant each may have failed),
    /// tells everyone, and asks everyone still reachable to acknowledge.
    fn suspect_and_sweep(
        &mut self,
        now: Instant,
        newly: Vec<(String, Instant)>,
        out: &mut Vec<Output>,
    ) {
        let ask_after = self.timing.ask_after();
        for (name, failed_by) in newly {
            if let Some(peer) = self.peers.get_mut(&name) {
                if !matches!(peer.state, State::Suspect { .. }) {
                    self.stats.suspected += 1;
                }
                let mut state = State::suspected(Some(peer.incarnation), failed_by);
                // The sweep below asks everyone about it: when that is
                // already the ask due `ask_after` past its failure instant
                // (a probe's suspicion), it need not be sent twice.
                if let State::Suspect { asked, .. } = &mut state
                    && now >= failed_by + ask_after
                {
                    *asked = Some(failed_by);
                }
                peer.state = state;
            }
        }
        self.sweep(now, out);
    }

    /// Tells everyone what this node suspects and asks every member it
    /// holds alive to acknowledge within `ack_timeout` (resent halfway);
    /// the silent are suspected when it expires.
    fn sweep(&mut self, now: Instant, out: &mut Vec<Output>) {
        let body = self.notice(now);
        let Some(sequence) = self.broadcast(out, body) else {
            return;
        };
        let pending: BTreeSet<String> = self
            .peers
            .iter()
            .filter(|(_, p)| p.state == State::Alive)
            .map(|(n, _)| n.clone())
            .collect();
        if !pending.is_empty() {
            self.sweeps.push(Sweep {
                sequence,
                resend_at: Some(now + self.timing.ack_timeout / 2),
                deadline: now + self.timing.ack_timeout,
                pending,
                purpose: Purpose::Notice,
            });
        }
    }

    /// Tells a suspected member so, at most once per heartbeat.
    fn tell(&mut self, now: Instant, name: &str, out: &mut Vec<Output>) {
        let Some(peer) = self.peers.get_mut(name) else {
            return;
        };
        if peer
            .last_told
            .is_some_and(|t| now < t + self.timing.heartbeat)
        {
            return;
        }
        peer.last_told = Some(now);
        // Is its host up? Then its speaker is descheduled, not gone.
        if matches!(peer.state, State::Suspect { dead: false, .. }) {
            out.push(Output::ProbeHost {
                to: name.to_string(),
            });
        }
        self.notify(now, name, out);
    }

    fn notify(&mut self, now: Instant, name: &str, out: &mut Vec<Output>) {
        let body = self.notice(now);
        self.send(out, name, body);
    }

    /// Everything this node suspects, newest first, as much as fits.
    fn notice(&self, now: Instant) -> Body {
        let mut suspected: Vec<(Instant, Suspicion)> = self
            .peers
            .iter()
            .filter_map(|(name, peer)| {
                let (incarnation, failed_by) = peer.state.noticed()?;
                Some((
                    failed_by,
                    Suspicion {
                        member: name.clone(),
                        incarnation,
                        age_ms: u32::try_from(now.saturating_duration_since(failed_by).as_millis())
                            .unwrap_or(u32::MAX),
                    },
                ))
            })
            .collect();
        suspected.sort_by_key(|s| std::cmp::Reverse(s.0));
        let mut room = MAX_DATAGRAM - (3 + self.me.len() + 16 + 1 + MAC_LEN);
        let mut entries = Vec::new();
        for (_, s) in suspected {
            if s.encoded_len() > room || entries.len() == usize::from(u8::MAX) {
                break;
            }
            room -= s.encoded_len();
            entries.push(s);
        }
        Body::Suspect { entries }
    }

    fn swim_effects(&mut self, now: Instant, effects: SwimEffects, out: &mut Vec<Output>) {
        self.stats.swim_errors += effects.errors;
        for (to, data) in effects.send {
            if self.peers.contains_key(&to) {
                self.send(out, &to, Body::Swim(data));
            }
        }
        // SWIM's "down" rests on probes that failed up to
        // `swim_suspect_to_down` ago, and foca gossips it on after a heal
        // (issue 18: a 2 s partition, healed, made every node suspect the
        // others about 2.5 s after the cut, and all fenced again for a
        // settle time). A member heard within the silence `S` is one the
        // ring would not suspect either: that verdict is stale.
        let silence = self.timing.silence;
        let down: Vec<(String, Instant)> = effects
            .down
            .into_iter()
            .filter(|n| {
                self.peers.get(n).is_some_and(|p| {
                    p.state == State::Alive && p.last_heard.is_none_or(|h| now >= h + silence)
                })
            })
            .map(|n| (n, now))
            .collect();
        if !down.is_empty() {
            self.suspect_and_sweep(now, down, out);
        }
    }

    /// Tells `to` (everyone with `None`) this node's MACs, once known.
    fn tell_hardware(&mut self, to: Option<&str>, out: &mut Vec<Output>) {
        let Some(body) = self.hardware.body() else {
            return;
        };
        match to {
            Some(to) => self.send(out, to, body),
            None => {
                self.broadcast(out, body);
            }
        }
    }

    /// Sends `body` to every known member; the sequence number used, if any.
    fn broadcast(&mut self, out: &mut Vec<Output>, body: Body) -> Option<u64> {
        let names: Vec<String> = self.peers.keys().cloned().collect();
        if names.is_empty() {
            return None;
        }
        // One sequence number for all copies: acknowledgements name it.
        self.sequence += 1;
        let sequence = self.sequence;
        for to in names {
            self.seal_to(out, &to, sequence, body.clone());
        }
        Some(sequence)
    }

    fn send(&mut self, out: &mut Vec<Output>, to: &str, body: Body) {
        self.sequence += 1;
        let sequence = self.sequence;
        self.seal_to(out, to, sequence, body);
    }

    fn seal_to(&mut self, out: &mut Vec<Output>, to: &str, sequence: u64, body: Body) {
        let datagram = Datagram {
            header: Header {
                sender: self.me.clone(),
                incarnation: self.incarnation,
                sequence,
            },
            body,
        };
        if datagram.encoded_len() > MAX_DATAGRAM {
            return;
        }
        self.stats.sent += 1;
        self.stats.sent_by_kind.count(datagram.body.kind());
        out.push(Output::Send {
            to: to.to_string(),
            bytes: datagram.seal(&self.key),
        });
    }

    fn ring_members(&self) -> BTreeSet<String> {
        let mut members = self.known.clone();
        members.insert(self.me.clone());
        members
    }

    /// Moves every member along its [`Admission`]: a member that becomes
    /// eligible (alive, and not suspecting this node) counts at once if
    /// this node suspects nobody; otherwise it is first sent this node's
    /// notice, as a sweep of one (resent once, suspected if it stays
    /// silent), and counts `J` after it acknowledges.
    fn admit(&mut self, now: Instant, out: &mut Vec<Output>) {
        // Whether the notice would name anyone (every suspicion fits in
        // one: names are at most `MAX_NAME`), without building it on
        // every datagram.
        let suspects_any = self.peers.values().any(|p| p.state.noticed().is_some());
        let mut check = Vec::new();
        for (name, peer) in &mut self.peers {
            // A member may count only while it also sees this node.
            if peer.suspects_me_until.is_some_and(|t| now >= t) {
                peer.suspects_me_until = None;
            }
            let eligible = peer.state == State::Alive && peer.suspects_me_until.is_none();
            peer.admission = match peer.admission {
                _ if !eligible => Admission::Out,
                Admission::Out if suspects_any => {
                    check.push(name.clone());
                    continue;
                }
                Admission::Out => Admission::In,
                Admission::From(t) if now >= t => Admission::In,
                other => other,
            };
        }
        if check.is_empty() {
            return;
        }
        let body = self.notice(now);
        for name in check {
            let sequence = self.sweep_one(now, &name, body.clone(), Purpose::Notice, out);
            if let Some(peer) = self.peers.get_mut(&name) {
                peer.admission = Admission::Checking { sequence };
            }
        }
    }

    /// Publishes the view if it changed. Runs after every input, so it
    /// first compares the members' states with what the last view says of
    /// each, and builds a new one (and judges the quorum again) only when
    /// they differ: rebuilding it each time cost `O(n)` allocations per
    /// datagram, most of the core's CPU at 50 members
    /// (`l2/benches/membership_cluster.rs`).
    fn publish(&mut self, now: Instant, out: &mut Vec<Output>) {
        self.admit(now, out);
        for peer in self.peers.values_mut() {
            if peer.fenced_until.is_some_and(|t| now >= t) {
                peer.fenced_until = None;
            }
        }
        if self.view_is_current() {
            return;
        }
        self.known_changed = false;
        self.shown_hardware = Some(self.hardware.changes());
        let mut view = View {
            reachable: BTreeSet::from([self.me.clone()]),
            alive: BTreeSet::from([self.me.clone()]),
            hardware: self.hardware.peers().clone(),
            fenced: BTreeSet::new(),
        };
        for (name, peer) in &mut self.peers {
            let shown = peer.shown_now();
            peer.shown = Some(shown);
            if shown.reachable {
                view.reachable.insert(name.clone());
            }
            if shown.alive {
                view.alive.insert(name.clone());
            }
            if shown.fenced {
                view.fenced.insert(name.clone());
            }
        }
        // This node's own fence, as the announcer judges it from this
        // very view: what it tells the others (`tell_fenced`).
        if has_quorum(&self.me, &view.reachable, &self.ring_members()) {
            self.unquorate_since = None;
            self.next_fence_telling = None;
        } else {
            self.unquorate_since.get_or_insert(now);
        }
        if view != self.view {
            self.view = view.clone();
            out.push(Output::View(view));
        }
    }

    /// Whether the last view built still says what the members' states
    /// say (see [`Membership::publish`]): the quorum judged from it too.
    fn view_is_current(&self) -> bool {
        !self.known_changed
            && self.shown_hardware == Some(self.hardware.changes())
            && self.peers.values().all(|p| p.shown == Some(p.shown_now()))
    }
}

fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn key() -> Key {
        Key::new(b"k".to_vec())
    }

    /// `me` in a cluster of `a`, `b` and `c`, having heard nobody yet.
    fn member(me: &str, now: Instant) -> Membership {
        let mut m = Membership::new(me, key(), MembershipTiming::default(), now, 1);
        let known = ["a", "b", "c"].map(String::from).into();
        m.handle(now, Input::SetKnown(known));
        m
    }

    fn sealed(sender: &str, sequence: u64, body: Body) -> Vec<u8> {
        Datagram {
            header: Header {
                sender: sender.into(),
                incarnation: 7,
                sequence,
            },
            body,
        }
        .seal(&key())
    }

    /// The `Fenced` datagrams in `out`, by receiver.
    fn fence_tellings(out: &[Output]) -> Vec<String> {
        out.iter()
            .filter_map(|o| match o {
                Output::Send { to, bytes } => Datagram::open(&key(), bytes)
                    .ok()
                    .filter(|d| matches!(d.body, Body::Fenced { .. }))
                    .map(|_| to.clone()),
                _ => None,
            })
            .collect()
    }

    /// Polls `m` at every deadline up to `until`; the fence tellings,
    /// with the instant each went out.
    fn run(m: &mut Membership, until: Instant) -> Vec<(Instant, Vec<String>)> {
        let mut told = Vec::new();
        while let Some(t) = m.next_deadline().filter(|t| *t <= until) {
            let sent = fence_tellings(&m.poll(t));
            if !sent.is_empty() {
                told.push((t, sent));
            }
        }
        told
    }

    /// The bodies `out` sends to `to`.
    fn sent_to(out: &[Output], to: &str) -> Vec<Body> {
        out.iter()
            .filter_map(|o| match o {
                Output::Send { to: t, bytes } if t == to => {
                    Datagram::open(&key(), bytes).ok().map(|d| d.body)
                }
                _ => None,
            })
            .collect()
    }

    fn suspicion(member: &str) -> Body {
        Body::Suspect {
            entries: vec![Suspicion {
                member: member.into(),
                incarnation: 7,
                age_ms: 0,
            }],
        }
    }

    /// `a` hears `b` and `c` at `t0`; at `t1` `b` asks about `c`, which
    /// `a` has not heard since: `a` probes `c`; `c` speaks at `t1 + 1 ms`
    /// and `a` relays a vouch to `b`. The outputs of that last step.
    fn relayed(a: &mut Membership, t0: Instant, t1: Instant) -> Vec<Output> {
        a.handle(t0, Input::Received(sealed("b", 1, Body::Heartbeat)));
        a.handle(t0, Input::Received(sealed("c", 1, Body::Heartbeat)));
        let out = a.handle(t1, Input::Received(sealed("b", 2, suspicion("c"))));
        assert!(
            sent_to(&out, "c")
                .iter()
                .any(|b| matches!(b, Body::Suspect { .. })),
            "no probe of c: {out:?}"
        );
        assert!(
            sent_to(&out, "b").contains(&Body::Ack { sequence: 2 }),
            "a could vouch for nothing: a plain acknowledgement"
        );
        let out = a.handle(t1 + MS, Input::Received(sealed("c", 2, Body::Heartbeat)));
        assert!(
            sent_to(&out, "b")
                .iter()
                .any(|b| matches!(b, Body::Vouch { .. })),
            "no relay to b: {out:?}"
        );
        out
    }

    #[test]
    fn a_relayed_vouch_goes_out_again_whatever_the_asker_acknowledges() {
        let t0 = Instant::now();
        let t1 = t0 + 10 * MS;
        let mut a = member("a", t0);
        relayed(&mut a, t0, t1);
        // `b` acknowledges a later notice of `a`: it says nothing of the
        // vouch, which may have been dropped on the way.
        a.handle(
            t1 + 2 * MS,
            Input::Received(sealed("b", 3, Body::Ack { sequence: 1_000 })),
        );
        let half = MembershipTiming::default().ack_timeout / 2;
        let copy = a.poll(t1 + MS + half);
        assert!(
            sent_to(&copy, "b")
                .iter()
                .any(|b| matches!(b, Body::Vouch { .. })),
            "no copy: {copy:?}"
        );
        // Nobody is suspected for a vouch nobody acknowledges.
        a.poll(t1 + MS + 2 * half);
        assert!(a.view().reachable.contains("b"), "{:?}", a.view());
    }

    #[test]
    fn a_relay_on_its_way_to_a_member_does_not_stop_a_probe_of_it() {
        let t0 = Instant::now();
        let t1 = t0 + 10 * MS;
        let mut a = member("a", t0);
        relayed(&mut a, t0, t1);
        // Now `c` asks about `b`, not heard since `t0`: `a` probes `b`,
        // though its vouch to `b` still waits for its copy.
        let out = a.handle(t1 + 2 * MS, Input::Received(sealed("c", 3, suspicion("b"))));
        assert!(
            sent_to(&out, "b")
                .iter()
                .any(|b| matches!(b, Body::Suspect { .. })),
            "no probe of b: {out:?}"
        );
    }

    #[test]
    fn a_node_without_a_quorum_tells_everyone_after_react_then_every_r() {
        let t0 = Instant::now();
        let timing = MembershipTiming::default();
        let mut m = member("a", t0);
        // Alone (nobody heard): no quorum since the start.
        let told = run(&mut m, t0 + 60 * MS);
        let at: Vec<Duration> = told.iter().map(|(t, _)| *t - t0).collect();
        assert_eq!(
            at,
            [0, 1, 2].map(|i| timing.react + i * timing.reprobe),
            "{told:?}"
        );
        for (_, to) in &told {
            assert_eq!(to, &["b", "c"]);
        }
        assert_eq!(m.stats().fence_told, 3);
    }

    #[test]
    fn a_node_with_a_quorum_tells_nobody() {
        let t0 = Instant::now();
        let mut m = member("a", t0);
        // `b` speaks: `a` counts a quorum (two of three) at once.
        let out = m.handle(t0, Input::Received(sealed("b", 1, Body::Heartbeat)));
        assert!(fence_tellings(&out).is_empty());
        assert!(m.view().reachable.contains("b"));
        let mut told = Vec::new();
        for i in 0..8u32 {
            let now = t0 + i * 2 * MS;
            let out = m.handle(
                now,
                Input::Received(sealed("b", 2 + u64::from(i), Body::Heartbeat)),
            );
            told.extend(fence_tellings(&out));
            told.extend(run(&mut m, now + 2 * MS).into_iter().flat_map(|(_, to)| to));
        }
        assert_eq!(told, Vec::<String>::new());
    }

    #[test]
    fn a_telling_holds_the_sender_out_of_the_candidates_for_its_hold() {
        let t0 = Instant::now();
        let timing = MembershipTiming::default();
        let mut m = member("a", t0);
        m.handle(t0, Input::Received(sealed("b", 1, Body::Heartbeat)));
        m.handle(t0, Input::Received(sealed("c", 1, Body::Heartbeat)));
        let t1 = t0 + MS;
        // A hold longer than this node's own is cut to its own.
        m.handle(
            t1,
            Input::Received(sealed("b", 2, Body::Fenced { hold_ms: 10_000 })),
        );
        assert_eq!(m.view().fenced, BTreeSet::from(["b".to_string()]));
        assert!(m.view().alive.contains("b"), "fenced, not dead");
        assert!(!m.view().candidates().contains("b"));
        assert!(m.view().candidates().contains("c"));
        // Counted from the run before (t0), where it may have arrived.
        let end = t0 + timing.fenced_hold();
        m.poll(end - MS);
        assert!(m.view().fenced.contains("b"));
        m.poll(end);
        assert!(m.view().fenced.is_empty(), "{:?}", m.view());
        assert_eq!(m.stats().fence_heard, 1);
    }

    #[test]
    fn an_overtaken_or_older_life_telling_is_left_alone() {
        let t0 = Instant::now();
        let mut m = member("a", t0);
        m.handle(t0, Input::Received(sealed("b", 5, Body::Heartbeat)));
        // Sequence 4 arrives after 5: sent before it, maybe before `b`
        // counted a quorum again.
        m.handle(
            t0,
            Input::Received(sealed("b", 4, Body::Fenced { hold_ms: 87 })),
        );
        assert!(m.view().fenced.is_empty());
        // A life of `b` older than one already heard of.
        m.handle(t0, Input::Received(sealed("c", 1, Body::Heartbeat)));
        let old = Datagram {
            header: Header {
                sender: "c".into(),
                incarnation: 6,
                sequence: 9,
            },
            body: Body::Fenced { hold_ms: 87 },
        };
        m.handle(t0, Input::Received(old.seal(&key())));
        assert!(m.view().fenced.is_empty());
        assert_eq!(m.stats().fence_ignored, 1);
    }

    #[test]
    fn after_a_stall_a_telling_read_from_the_backlog_counts_from_the_stall() {
        let t0 = Instant::now();
        let timing = MembershipTiming::default();
        let mut m = member("a", t0);
        m.handle(t0, Input::Received(sealed("b", 1, Body::Heartbeat)));
        m.handle(t0, Input::Received(sealed("c", 1, Body::Heartbeat)));
        // Descheduled for 30 ms (less than a fencing stall): the telling
        // waited in the socket; its hold ends as if read at once.
        let resumed = m.next_deadline().expect("a deadline") + 30 * MS;
        m.handle(resumed, Input::Received(sealed("c", 2, Body::Heartbeat)));
        m.handle(
            resumed,
            Input::Received(sealed("b", 2, Body::Fenced { hold_ms: 87 })),
        );
        assert!(m.view().fenced.contains("b"));
        m.poll(t0 + timing.fenced_hold());
        assert!(
            m.view().fenced.is_empty(),
            "held past the stall's start + hold"
        );
    }

    #[test]
    fn a_fencing_stall_tells_nobody_for_a_settle_time() {
        let t0 = Instant::now();
        let timing = MembershipTiming::default();
        let mut m = member("a", t0);
        m.handle(t0, Input::Received(sealed("b", 1, Body::Heartbeat)));
        m.handle(t0, Input::Received(sealed("c", 1, Body::Heartbeat)));
        assert!(m.view().reachable.len() == 3);
        // Stopped long enough to have been declared dead: its fence
        // closes (no member counts for `R + 2J`), but its addresses stay
        // with it: it tells nobody.
        let resumed = m.next_deadline().expect("a deadline") + 60 * MS;
        let mut told =
            fence_tellings(&m.handle(resumed, Input::Received(sealed("b", 2, Body::Heartbeat))));
        assert!(m.take_fencing_stall());
        assert_eq!(m.view().reachable.len(), 1);
        let mut seq = 3;
        let mut now = resumed;
        while now < resumed + timing.suspected_by_hold() + timing.settle {
            now += 2 * MS;
            for peer in ["b", "c"] {
                told.extend(fence_tellings(
                    &m.handle(now, Input::Received(sealed(peer, seq, Body::Heartbeat))),
                ));
            }
            seq += 1;
        }
        assert_eq!(told, Vec::<String>::new());
    }

    #[test]
    fn stats_count_datagrams_by_kind_and_each_suspicion_and_verdict_once() {
        let t0 = Instant::now();
        let mut a = member("a", t0);
        for (sender, sequence) in [("b", 1), ("c", 1), ("c", 1), ("c", 2)] {
            a.handle(
                t0,
                Input::Received(sealed(sender, sequence, Body::Heartbeat)),
            );
        }
        // b and c go silent: suspected, asked about, then dead.
        run(&mut a, t0 + Duration::from_secs(2));
        assert_eq!(a.view().alive, BTreeSet::from(["a".to_string()]));
        let stats = a.stats();
        assert_eq!(stats.received_by_kind.get(Kind::Heartbeat), 3);
        assert_eq!(stats.replayed, 1);
        assert_eq!(
            stats.received_by_kind.iter().map(|(_, n)| n).sum::<u64>(),
            3
        );
        assert_eq!(
            stats.sent_by_kind.iter().map(|(_, n)| n).sum::<u64>(),
            stats.sent
        );
        assert!(stats.sent_by_kind.get(Kind::Heartbeat) > 0);
        assert!(stats.sent_by_kind.get(Kind::Suspect) > 0, "{stats:?}");
        assert_eq!((stats.suspected, stats.declared_dead), (2, 2));
        // Still dead, still silent: nothing counted twice.
        run(&mut a, t0 + Duration::from_secs(4));
        assert_eq!((a.stats().suspected, a.stats().declared_dead), (2, 2));
    }

    #[test]
    fn a_member_heart_beating_at_another_pace_is_named() {
        let t0 = Instant::now();
        let mut a = member("a", t0);
        // b heart-beats every 20 ms (--ml-heartbeat 20ms), c every 5 ms as
        // a does; other datagrams from b do not count as heartbeats.
        for i in 0..12u32 {
            let at = t0 + 20 * MS * i;
            a.handle(
                at,
                Input::Received(sealed("b", u64::from(2 * i) + 1, Body::Heartbeat)),
            );
            let alive = Body::Alive { reply: false };
            a.handle(
                at + MS,
                Input::Received(sealed("b", u64::from(2 * i) + 2, alive)),
            );
            for j in 0..4 {
                let seq = u64::from(4 * i + j) + 1;
                a.handle(
                    at + 5 * MS * j,
                    Input::Received(sealed("c", seq, Body::Heartbeat)),
                );
            }
        }
        assert_eq!(a.paces_apart(), vec![("b".to_string(), 20 * MS)]);
    }

    #[test]
    fn the_replay_window_takes_each_datagram_once_in_any_order() {
        let mut w = ReplayWindow::default();
        assert!(w.accept(5, 10));
        assert!(w.accept(5, 12));
        assert!(w.accept(5, 11), "overtaken, not replayed");
        assert!(!w.accept(5, 11));
        assert!(!w.accept(5, 12));
        assert!(w.accept(5, 100));
        assert!(!w.accept(5, 30), "too old to tell");
        assert!(!w.accept(4, 500), "an earlier life");
        assert!(w.accept(6, 1), "a new life starts over");
        assert!(!w.accept(6, 1));
    }
}
