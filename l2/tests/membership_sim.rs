//! The membership core on a simulated network, with deterministic time:
//! drops, delays, partitions and heals, one-way cuts and asymmetric loss,
//! nodes descheduled for a while (their datagrams wait unread, their
//! timers fire late), checked against the timing the fence relies on and
//! against the one invariant that matters: no address has two owners.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use ferrolb_l2::fence::has_quorum;
use ferrolb_l2::membership::wire::Body;
use ferrolb_l2::membership::{Input, Key, Membership, MembershipTiming, Output, View};
use proptest::prelude::*;

const MS: Duration = Duration::from_millis(1);

/// A small deterministic generator for delays and losses.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A machine's CPU shared by every simulated node: each call into a
/// node's core occupies one of `cores` (and the node, whose membership
/// runs on one thread) for its [`Costs`]: `per_call`, plus `per_send`
/// for each datagram it sends; a call that finds its node or every core
/// busy waits, and so does what the node would read meanwhile. A node whose unread datagrams
/// reach `backlog` drops what arrives (a full receive buffer). This is
/// the lab's 35 speakers on 2 shared cores (docs/benchmarks.md, "Nodes"),
/// where lateness comes from the work itself and feeds on it.
struct Cpu {
    cores: Vec<Instant>,
    costs: Costs,
    backlog: usize,
    /// When each node's thread is free again.
    busy: BTreeMap<String, Instant>,
    /// Datagrams queued to each node (on the way or unread).
    queued: BTreeMap<String, usize>,
    /// Datagrams dropped by a full backlog.
    dropped: u64,
    /// CPU time charged, all cores.
    charged: Duration,
}

/// What a simulated core charges a member.
#[derive(Debug, Clone, Copy)]
struct Costs {
    /// Per call into its core (a datagram handled, a timer).
    per_call: Duration,
    /// Per datagram it sends.
    per_send: Duration,
}

impl Costs {
    /// 30 µs per call, 15 µs per datagram sent: about 1 % of a core per
    /// speaker for some 200 datagrams a second at 20 ms, as the lab
    /// measures, but an upper bound on what a failure's burst costs
    /// there: the lab's 35 speakers fail over at 20 ms on 2 shared cores,
    /// which these costs, and half of them, storm (docs/benchmarks.md, "A
    /// failure's burst").
    const LAB: Costs = Costs {
        per_call: Duration::from_micros(30),
        per_send: Duration::from_micros(15),
    };
}

impl Cpu {
    /// `cores` cores at `costs`, and a backlog of 256 datagrams.
    fn new(cores: usize, start: Instant, costs: Costs) -> Cpu {
        Cpu {
            cores: vec![start; cores],
            costs,
            backlog: 256,
            busy: BTreeMap::new(),
            queued: BTreeMap::new(),
            dropped: 0,
            charged: Duration::ZERO,
        }
    }

    /// When `name` may run at or after `at`: its thread and a core free.
    fn free_at(&self, name: &str, at: Instant) -> Instant {
        let core = self.cores.iter().min().copied().unwrap_or(at);
        let own = self.busy.get(name).copied().unwrap_or(at);
        at.max(core).max(own)
    }

    /// Charges a call of `name` at `now` that sent `sends` datagrams.
    fn charge(&mut self, name: &str, now: Instant, sends: usize) {
        let cost = self.costs.per_call + self.costs.per_send * sends as u32;
        self.charged += cost;
        if let Some(core) = self.cores.iter_mut().min() {
            *core = now + cost;
        }
        self.busy.insert(name.to_string(), now + cost);
    }
}

/// A second of steady state ([`Net::steady_second`]).
struct Steady {
    /// Datagrams each member sent.
    sent_each: u64,
    /// CPU time charged, all cores (zero without a shared CPU).
    cpu: Duration,
    /// Members that saw anyone unreachable.
    saw_unreachable: Vec<String>,
}

/// What the simulated network delivers to a node.
enum Delivery {
    Datagram(Vec<u8>),
    HostProbed { name: String, answered: bool },
}

struct Net {
    now: Instant,
    timing: MembershipTiming,
    nodes: BTreeMap<String, Membership>,
    /// Side of each node: datagrams cross only within a side.
    side: BTreeMap<String, u8>,
    crashed: BTreeSet<String>,
    /// Per-mille of datagrams lost.
    loss: u64,
    /// Delays are uniform in `[min_delay, max_delay]`.
    min_delay: Duration,
    max_delay: Duration,
    queue: Vec<(Instant, String, Delivery)>,
    /// Datagrams from the first to the second are lost (a one-way cut).
    one_way: BTreeSet<(String, String)>,
    /// Per-mille of datagrams lost from the first to the second.
    link_loss: BTreeMap<(String, String), u64>,
    /// Per-mille of fence announcements (`Fenced` datagrams) lost from
    /// the first to the second, on top of any other loss.
    fenced_loss: BTreeMap<(String, String), u64>,
    /// Every fence announcement sent: when, by whom, to whom.
    fence_told: Vec<(Instant, String, String)>,
    /// Descheduled nodes: from, until. Nothing runs on them meanwhile.
    stalls: Vec<(String, Instant, Instant)>,
    crashed_at: BTreeMap<String, Instant>,
    /// Every notice sent: when, by whom, naming whom.
    notices: Vec<(Instant, String, Vec<String>)>,
    /// Datagrams sent, of every kind (lost ones included).
    sent: u64,
    /// Who heart-beats whom (the ring: the second watches the first).
    beats: BTreeSet<(String, String)>,
    rng: Rng,
    /// Losses and delays of fence announcements.
    fence_rng: Rng,
    /// Every view change, per node, with its time.
    history: BTreeMap<String, Vec<(Instant, View)>>,
    known: BTreeSet<String>,
    /// A shared CPU (`None`: every call is free and instant).
    cpu: Option<Cpu>,
}

impl Net {
    fn new(n: usize, seed: u64) -> Net {
        Net::with_timing(n, seed, MembershipTiming::default())
    }

    fn with_timing(n: usize, seed: u64, timing: MembershipTiming) -> Net {
        let start = Instant::now();
        let known: BTreeSet<String> = (0..n).map(|i| format!("node-{i}")).collect();
        let nodes = known
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let key = Key::new(b"cluster secret".to_vec());
                (
                    name.clone(),
                    Membership::new(name.clone(), key, timing, start, 1000 + i as u64),
                )
            })
            .collect();
        let mut net = Net {
            now: start,
            timing,
            nodes,
            side: known.iter().map(|n| (n.clone(), 0)).collect(),
            crashed: BTreeSet::new(),
            loss: 0,
            min_delay: Duration::from_micros(100),
            max_delay: 2 * MS,
            queue: Vec::new(),
            one_way: BTreeSet::new(),
            link_loss: BTreeMap::new(),
            fenced_loss: BTreeMap::new(),
            fence_told: Vec::new(),
            stalls: Vec::new(),
            crashed_at: BTreeMap::new(),
            notices: Vec::new(),
            sent: 0,
            beats: BTreeSet::new(),
            rng: Rng(seed),
            fence_rng: Rng(seed ^ 0xfe9c_ed00),
            history: BTreeMap::new(),
            known: known.clone(),
            cpu: None,
        };
        for name in known.clone() {
            let out = net
                .node(&name)
                .handle(start, Input::SetKnown(known.clone()));
            net.route(&name, out);
        }
        net
    }

    fn node(&mut self, name: &str) -> &mut Membership {
        self.nodes.get_mut(name).expect("a simulated node")
    }

    fn view(&self, name: &str) -> &View {
        self.nodes[name].view()
    }

    /// Whether a datagram from `from` to `to` may arrive.
    fn link(&self, from: &str, to: &str) -> bool {
        self.side.get(from) == self.side.get(to)
            && !self.one_way.contains(&(from.to_string(), to.to_string()))
    }

    fn delay(&mut self) -> Duration {
        Self::delay_from(&mut self.rng, self.min_delay, self.max_delay)
    }

    fn delay_from(rng: &mut Rng, min: Duration, max: Duration) -> Duration {
        let span = (max - min).as_micros() as u64;
        min + Duration::from_micros(rng.below(span + 1))
    }

    fn stalled(&self, name: &str, at: Instant) -> bool {
        self.stalls
            .iter()
            .any(|(n, from, until)| n == name && *from <= at && at < *until)
            || at < self.busy_until(name, at)
    }

    /// When the shared CPU, if any, has `name`'s thread free again.
    fn busy_until(&self, name: &str, at: Instant) -> Instant {
        self.cpu
            .as_ref()
            .and_then(|c| c.busy.get(name).copied())
            .unwrap_or(at)
    }

    /// When `name` runs again (now if it is not stalled): the end of the
    /// stall it is in, or of the stall that one ends in, and so on. Only
    /// the first step looped forever on overlapping stalls of one node (a
    /// stall ending inside another: the clock stood still at its end, the
    /// node still stalled), the hang behind the invariant's CI timeout
    /// (issue 17, `overlapping_stalls_of_one_node_end_with_the_last`).
    fn resumes(&self, name: &str, at: Instant) -> Instant {
        let mut t = at;
        loop {
            while let Some(end) = self
                .stalls
                .iter()
                .filter(|(n, from, until)| n == name && *from <= t && t < *until)
                .map(|s| s.2)
                .max()
            {
                t = end;
            }
            let busy = self.busy_until(name, t);
            if busy <= t {
                return t;
            }
            t = busy;
        }
    }

    /// Deschedules `name` from now for `d`.
    fn stall(&mut self, name: &str, d: Duration) {
        self.stalls.push((name.to_string(), self.now, self.now + d));
    }

    fn crash(&mut self, name: &str) {
        self.crashed.insert(name.to_string());
        self.crashed_at.insert(name.to_string(), self.now);
    }

    fn route(&mut self, from: &str, out: Vec<Output>) {
        for o in out {
            match o {
                Output::Send { to, bytes } => {
                    if self.crashed.contains(from) || !self.link(from, &to) {
                        continue;
                    }
                    let key = Key::new(b"cluster secret".to_vec());
                    let mut fenced = false;
                    self.sent += 1;
                    let body =
                        ferrolb_l2::membership::wire::Datagram::open(&key, &bytes).map(|d| d.body);
                    match body {
                        Ok(Body::Heartbeat) => {
                            self.beats.insert((from.to_string(), to.clone()));
                        }
                        Ok(Body::Suspect { entries }) => {
                            let named = entries.into_iter().map(|e| e.member).collect();
                            self.notices.push((self.now, from.to_string(), named));
                        }
                        Ok(Body::Fenced { .. }) => {
                            fenced = true;
                            self.fence_told
                                .push((self.now, from.to_string(), to.clone()));
                        }
                        _ => {}
                    }
                    let link = (from.to_string(), to.clone());
                    let loss = self.link_loss.get(&link);
                    let mut loss = self.loss.max(loss.copied().unwrap_or(0));
                    if fenced {
                        loss = loss.max(self.fenced_loss.get(&link).copied().unwrap_or(0));
                    }
                    // Fence announcements draw from a stream of their own:
                    // the scenarios of the seeded runs (and the regressions
                    // file) keep the losses and delays they were found with.
                    let rng = if fenced {
                        &mut self.fence_rng
                    } else {
                        &mut self.rng
                    };
                    if rng.below(1000) < loss {
                        continue;
                    }
                    let delay = Self::delay_from(rng, self.min_delay, self.max_delay);
                    if let Some(cpu) = &mut self.cpu {
                        let queued = cpu.queued.entry(to.clone()).or_default();
                        if *queued >= cpu.backlog {
                            cpu.dropped += 1;
                            continue;
                        }
                        *queued += 1;
                    }
                    self.queue
                        .push((self.now + delay, to, Delivery::Datagram(bytes)));
                }
                // A TCP handshake with the member's host: its kernel
                // answers, stalled speaker or not; a crashed speaker's
                // port refuses; a cut answers nothing.
                Output::ProbeHost { to } => {
                    if !self.link(from, &to) || !self.link(&to, from) {
                        continue;
                    }
                    let answered = !self.crashed.contains(&to);
                    let delay = self.delay() + self.delay();
                    self.queue.push((
                        self.now + delay,
                        from.to_string(),
                        Delivery::HostProbed { name: to, answered },
                    ));
                }
                Output::View(view) => self
                    .history
                    .entry(from.to_string())
                    .or_default()
                    .push((self.now, view)),
            }
        }
    }

    /// Runs every event up to `until`. A stalled node's datagrams wait
    /// (in arrival order) and its timers fire when it runs again.
    fn run_until(&mut self, until: Instant) {
        loop {
            let next_packet = self.queue.iter().map(|q| self.resumes(&q.1, q.0)).min();
            let next_timer = self
                .nodes
                .iter()
                .filter(|(n, _)| !self.crashed.contains(*n))
                .filter_map(|(n, m)| Some(self.resumes(n, m.next_deadline()?)))
                .min();
            let Some(next) = [next_packet, next_timer].into_iter().flatten().min() else {
                break;
            };
            if next > until {
                break;
            }
            self.now = next.max(self.now);
            // Packets first, then timers, at this instant.
            let now = self.now;
            let (mut due, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.queue)
                .into_iter()
                .partition(|q| q.0 <= now && !self.stalled(&q.1, now));
            self.queue = rest;
            due.sort_by_key(|q| q.0);
            for (at, to, delivery) in due {
                // Its thread or every core is busy: it reads this later,
                // in order.
                if self.waits_for_cpu(&to) {
                    self.queue.push((at, to, delivery));
                    continue;
                }
                let input = match delivery {
                    Delivery::Datagram(bytes) => {
                        if let Some(cpu) = &mut self.cpu
                            && let Some(queued) = cpu.queued.get_mut(&to)
                        {
                            *queued = queued.saturating_sub(1);
                        }
                        Input::Received(bytes)
                    }
                    Delivery::HostProbed { name, answered } => Input::HostProbed { name, answered },
                };
                // A datagram in flight across a new cut is lost.
                if self.crashed.contains(&to) {
                    continue;
                }
                let out = self.node(&to).handle(now, input);
                self.charge(&to, &out);
                self.route(&to, out);
            }
            let names: Vec<String> = self.nodes.keys().cloned().collect();
            for name in names {
                if self.crashed.contains(&name) || self.stalled(&name, now) {
                    continue;
                }
                if self.nodes[&name]
                    .next_deadline()
                    .is_some_and(|d| d <= self.now)
                {
                    let now = self.now;
                    if self.waits_for_cpu(&name) {
                        continue;
                    }
                    let out = self.node(&name).poll(now);
                    self.charge(&name, &out);
                    self.route(&name, out);
                }
            }
        }
        self.now = until;
    }

    /// Whether `name` cannot run now: its thread or every core of the
    /// shared CPU is busy. It then waits (its datagrams and timers) until
    /// a core and its thread are free.
    fn waits_for_cpu(&mut self, name: &str) -> bool {
        let now = self.now;
        let Some(cpu) = &mut self.cpu else {
            return false;
        };
        let free = cpu.free_at(name, now);
        if free > now {
            cpu.busy.insert(name.to_string(), free);
        }
        free > now
    }

    /// Charges `name`'s call that produced `out` to the shared CPU.
    fn charge(&mut self, name: &str, out: &[Output]) {
        let now = self.now;
        if let Some(cpu) = &mut self.cpu {
            let sends = out
                .iter()
                .filter(|o| matches!(o, Output::Send { .. }))
                .count();
            cpu.charge(name, now, sends);
        }
    }

    fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    fn partition(&mut self, minority: &BTreeSet<String>) {
        for (name, side) in &mut self.side {
            *side = u8::from(minority.contains(name));
        }
        // In-flight datagrams between the sides are lost with the link.
        let side = self.side.clone();
        self.queue
            .retain(|(_, to, _)| side[to] == 0 || minority.contains(to));
        if let Some(cpu) = &mut self.cpu {
            cpu.queued.clear();
            for (_, to, d) in &self.queue {
                if matches!(d, Delivery::Datagram(_)) {
                    *cpu.queued.entry(to.clone()).or_default() += 1;
                }
            }
        }
    }

    fn heal(&mut self) {
        for side in self.side.values_mut() {
            *side = 0;
        }
    }

    fn converged(&self, only_alive: bool) -> bool {
        self.nodes
            .keys()
            .filter(|n| !self.crashed.contains(*n))
            .all(|n| {
                self.view(n).alive == self.known
                    && (only_alive || self.view(n).reachable == self.known)
            })
    }

    /// Runs until every node sees every node (reachable and alive), at
    /// most `limit`; how long that took.
    fn converge(&mut self, limit: Duration) -> Option<Duration> {
        self.converge_on(limit, false)
    }

    fn converge_on(&mut self, limit: Duration, only_alive: bool) -> Option<Duration> {
        let from = self.now;
        while self.now < from + limit {
            if self.converged(only_alive) {
                return Some(self.now - from);
            }
            self.run_for(MS);
        }
        self.converged(only_alive).then(|| self.now - from)
    }

    /// When `observer` first saw `member` leave its reachable (or alive)
    /// set after `since`.
    fn first_loss(
        &self,
        observer: &str,
        member: &str,
        since: Instant,
        alive: bool,
    ) -> Option<Instant> {
        self.history.get(observer)?.iter().find_map(|(t, v)| {
            let set = if alive { &v.alive } else { &v.reachable };
            (*t >= since && !set.contains(member)).then_some(*t)
        })
    }

    /// CPU time charged so far, all cores (zero without a shared CPU).
    fn charged(&self) -> Duration {
        self.cpu.as_ref().map_or(Duration::ZERO, |c| c.charged)
    }

    /// Half a second for the first sweeps' answers to settle, then one
    /// second of steady state: what it cost and who saw anyone unreachable.
    fn steady_second(&mut self) -> Steady {
        self.run_for(Duration::from_millis(500));
        let (t, sent, cpu) = (self.now, self.sent, self.charged());
        self.run_for(Duration::from_secs(1));
        let saw_unreachable = self
            .known
            .iter()
            .filter(|name| {
                self.history.get(*name).is_some_and(|h| {
                    h.iter()
                        .any(|(at, v)| *at >= t && v.reachable != self.known)
                })
            })
            .cloned()
            .collect();
        Steady {
            sent_each: (self.sent - sent) / self.known.len() as u64,
            cpu: self.charged() - cpu,
            saw_unreachable,
        }
    }

    /// `name` leaves gracefully now; the datagrams its first copy of the
    /// leave went out in, for replays.
    fn leave(&mut self, name: &str) -> Vec<(String, Vec<u8>)> {
        let now = self.now;
        let out = self.node(name).leave(now);
        let sent = out
            .iter()
            .filter_map(|o| match o {
                Output::Send { to, bytes } => Some((to.clone(), bytes.clone())),
                Output::View(_) | Output::ProbeHost { .. } => None,
            })
            .collect();
        self.route(name, out);
        sent
    }

    /// `name` starts again, at a newer incarnation (its boot clock moved).
    fn restart(&mut self, name: &str) {
        let boot = self.nodes[name].incarnation() + 1000;
        let key = Key::new(b"cluster secret".to_vec());
        let now = self.now;
        self.nodes.insert(
            name.to_string(),
            Membership::new(name, key, self.timing, now, boot),
        );
        let known = self.known.clone();
        let out = self.node(name).handle(now, Input::SetKnown(known));
        self.route(name, out);
    }

    /// Drops (or lets through again) every other node's datagrams to
    /// `name`: it hears nobody, while everyone hears it.
    fn deafen(&mut self, name: &str, deaf: bool) {
        for other in self.known.clone() {
            if other == name {
                continue;
            }
            let link = (other, name.to_string());
            if deaf {
                self.one_way.insert(link);
            } else {
                self.one_way.remove(&link);
            }
        }
    }

    fn fenced_at(&self, observer: &str, since: Instant) -> Option<Instant> {
        self.history.get(observer)?.iter().find_map(|(t, v)| {
            (*t >= since && !has_quorum(observer, &v.reachable, &self.known)).then_some(*t)
        })
    }
}

#[test]
fn members_find_each_other() {
    let mut net = Net::new(5, 1);
    let took = net.converge(Duration::from_millis(200));
    assert!(took.is_some(), "no convergence: {:?}", net.view("node-0"));
    assert!(net.nodes.values().all(|m| m.stats().unauthenticated == 0));
}

/// Fifty members started together, delays within the jitter: they all
/// see each other soon, then nobody is suspected and each sends what the
/// model says (`K / H` heartbeats, SWIM's probe, nothing else). On the
/// lab's 2 shared cores 35 speakers storm (docs/benchmarks.md, "Nodes"):
/// this is the protocol without the CPU, at the size the lab cannot hold.
#[test]
fn fifty_members_come_together_and_stay_quiet() {
    let n = 50;
    let mut net = Net::new(n, 7);
    let took = net.converge(Duration::from_secs(2));
    assert!(
        took.is_some(),
        "50 members did not all see each other within 2 s"
    );
    let steady = net.steady_second();
    assert_eq!(
        steady.saw_unreachable,
        Vec::<String>::new(),
        "saw someone unreachable in the steady state"
    );
    // 400 heartbeats a second (K = 2 every 5 ms) and SWIM's few.
    assert!(
        (400..=420).contains(&steady.sent_each),
        "each member sent {} datagrams in a second of steady state",
        steady.sent_each
    );
}

/// The MACs `observer` knows the other members answer ARP/NDP from.
fn macs_seen(net: &Net, observer: &str) -> BTreeMap<String, BTreeSet<[u8; 6]>> {
    net.view(observer).hardware.clone()
}

fn set_mac(net: &mut Net, name: &str, mac: [u8; 6]) {
    let now = net.now;
    let out = net
        .node(name)
        .handle(now, Input::SetHardware(BTreeSet::from([mac])));
    net.route(name, out);
}

#[test]
fn every_member_learns_the_others_macs_after_a_loss_and_a_restart() {
    let mut net = Net::new(4, 9);
    net.converge(Duration::from_millis(200)).expect("converged");
    let mac = |i: u8| [2, 0, 0, 0, 0, i];
    for i in 0..4u8 {
        set_mac(&mut net, &format!("node-{i}"), mac(i));
    }
    net.run_for(Duration::from_millis(20));
    let others = |me: u8, changed: Option<(u8, [u8; 6])>| -> BTreeMap<String, BTreeSet<[u8; 6]>> {
        (0..4u8)
            .filter(|i| *i != me)
            .map(|i| {
                let m = match changed {
                    Some((who, m)) if who == i => m,
                    _ => mac(i),
                };
                (format!("node-{i}"), BTreeSet::from([m]))
            })
            .collect()
    };
    for i in 0..4u8 {
        assert_eq!(macs_seen(&net, &format!("node-{i}")), others(i, None));
    }
    // A change whose every datagram is lost: the periodic repeat carries it.
    net.loss = 1000;
    set_mac(&mut net, "node-1", [2, 0, 0, 0, 1, 1]);
    net.loss = 0;
    net.run_for(Duration::from_millis(20));
    assert_eq!(
        macs_seen(&net, "node-0")["node-1"],
        BTreeSet::from([mac(1)])
    );
    net.run_for(ferrolb_l2::membership::hardware::REFRESH);
    let changed = Some((1, [2, 0, 0, 0, 1, 1]));
    assert_eq!(macs_seen(&net, "node-0"), others(0, changed));
    // A restarted node learns everyone's at once (they answer its alive),
    // long before the next repeat.
    net.restart("node-2");
    set_mac(&mut net, "node-2", mac(2));
    net.run_for(Duration::from_millis(20));
    assert_eq!(macs_seen(&net, "node-2"), others(2, changed));
}

#[test]
fn a_crashed_node_is_suspected_by_all_and_dead_no_sooner_than_promised() {
    let mut net = Net::new(5, 2);
    net.converge(Duration::from_millis(200)).expect("converged");
    net.run_for(Duration::from_millis(300));
    let fence = net.timing.fence_timing();
    let t0 = net.now;
    net.crash("node-2");
    net.run_for(Duration::from_millis(300));
    for observer in ["node-0", "node-1", "node-3", "node-4"] {
        let suspected = net
            .first_loss(observer, "node-2", t0, false)
            .expect("suspected");
        assert!(
            suspected - t0 <= fence.suspect_within,
            "{observer} after {:?}",
            suspected - t0
        );
        let dead = net.first_loss(observer, "node-2", t0, true).expect("dead");
        assert!(
            dead - t0 >= fence.dead_not_before,
            "{observer} dead after {:?}",
            dead - t0
        );
        assert!(
            dead - t0 <= net.timing.heartbeat + 2 * net.timing.jitter + fence.dead_not_before,
            "{observer} dead after {:?}",
            dead - t0
        );
    }
}

#[test]
fn a_node_whose_link_is_cut_fences_itself() {
    let mut net = Net::new(3, 3);
    net.converge(Duration::from_millis(200)).expect("converged");
    let t0 = net.now;
    net.partition(&BTreeSet::from(["node-1".to_string()]));
    net.run_for(Duration::from_millis(200));
    let fence = net.timing.fence_timing();
    let fenced = net.fenced_at("node-1", t0).expect("fenced");
    assert!(
        fenced - t0 <= fence.suspect_within,
        "fenced after {:?}",
        fenced - t0
    );
    assert_eq!(
        net.view("node-1").reachable,
        BTreeSet::from(["node-1".to_string()])
    );
    net.heal();
    let took = net
        .converge_on(Duration::from_millis(500), true)
        .expect("alive again");
    assert!(took <= fence.alive_within, "alive again after {took:?}");
    net.converge(Duration::from_millis(300)).expect("healed");
}

#[test]
fn forged_replayed_and_stranger_datagrams_are_dropped_and_counted() {
    use ferrolb_l2::membership::wire::{Body, Datagram, Header};
    let start = Instant::now();
    let key = Key::new(b"cluster secret".to_vec());
    let mut m = Membership::new("a", key.clone(), MembershipTiming::default(), start, 1);
    m.handle(
        start,
        Input::SetKnown(BTreeSet::from(["a".into(), "b".into()])),
    );
    let from = |sender: &str, sequence| Datagram {
        header: Header {
            sender: sender.into(),
            incarnation: 5,
            sequence,
        },
        body: Body::Alive { reply: false },
    };
    let forged = from("b", 1).seal(&Key::new(b"guess".to_vec()));
    m.handle(start, Input::Received(forged));
    assert_eq!(m.stats().unauthenticated, 1);
    assert!(!m.reachable().contains("b"));

    let genuine = from("b", 1).seal(&key);
    m.handle(start, Input::Received(genuine.clone()));
    assert!(m.reachable().contains("b"));
    m.handle(start, Input::Received(genuine));
    assert_eq!(m.stats().replayed, 1);

    m.handle(start, Input::Received(from("c", 1).seal(&key)));
    m.handle(start, Input::Received(from("a", 9).seal(&key)));
    assert_eq!(m.stats().unknown_sender, 2);
}

#[test]
fn a_suspected_node_refutes_with_a_newer_incarnation() {
    let mut net = Net::new(3, 4);
    net.converge(Duration::from_millis(200)).expect("converged");
    let before = net.nodes["node-1"].incarnation();
    // node-1 stalls for longer than its watchers' silence, then resumes.
    net.crash("node-1");
    let t0 = net.now;
    net.run_for(net.timing.silence + 4 * MS);
    net.crashed.remove("node-1");
    let took = net.converge(Duration::from_millis(200)).expect("refuted");
    assert!(net.nodes["node-1"].incarnation() > before);
    assert!(
        net.first_loss("node-0", "node-1", t0, false).is_some(),
        "was suspected"
    );
    assert!(
        net.first_loss("node-0", "node-1", t0, true).is_none(),
        "never dead"
    );
    assert!(took < net.timing.dead_after, "refuted after {took:?}");
}

fn without(set: &BTreeSet<String>, gone: &[&str]) -> BTreeSet<String> {
    set.iter()
        .filter(|n| !gone.contains(&n.as_str()))
        .cloned()
        .collect()
}

#[test]
fn a_graceful_leave_is_seen_by_every_member_within_one_network_delay() {
    let mut net = Net::new(5, 5);
    net.converge(Duration::from_millis(200)).expect("converged");
    net.run_for(Duration::from_millis(300));
    let t0 = net.now;
    let old_leave = net.leave("node-2");
    let sent = net.nodes["node-2"].stats().sent;
    net.run_for(net.max_delay);
    let others = without(&net.known, &["node-2"]);
    for observer in &others {
        let view = net.view(observer);
        assert_eq!(view.reachable, others, "{observer}");
        assert_eq!(
            view.alive, others,
            "{observer}: gone at once, no dead_after"
        );
        // Both sets in the same view change: addresses move at once.
        let reachable = net.first_loss(observer, "node-2", t0, false);
        assert_eq!(reachable, net.first_loss(observer, "node-2", t0, true));
        assert!(reachable.is_some_and(|t| t - t0 <= net.max_delay));
        assert!(has_quorum(observer, &view.reachable, &net.known));
    }

    // The leaver goes quiet after its copies; nobody brings it back, nor
    // suspects anyone else, while it is gone.
    let timing = net.timing;
    net.run_for(timing.leave_span());
    let sent_after_copies = net.nodes["node-2"].stats().sent;
    assert_eq!(
        sent_after_copies - sent,
        u64::from(timing.leave_copies - 1) * 4,
        "the other copies, to each of the four others"
    );
    assert_eq!(net.nodes["node-2"].next_deadline(), None);
    net.run_for(Duration::from_millis(500));
    assert_eq!(net.nodes["node-2"].stats().sent, sent_after_copies);
    for observer in &others {
        assert_eq!(net.view(observer).reachable, others, "{observer}");
        assert_eq!(net.view(observer).alive, others, "{observer}");
    }

    // It restarts at a newer incarnation: back everywhere.
    net.restart("node-2");
    let took = net.converge(Duration::from_millis(200)).expect("back");
    assert!(
        took <= timing.fence_timing().alive_within,
        "back after {took:?}"
    );

    // Its old leave, replayed, changes nothing.
    let replayed = net.nodes["node-0"].stats().replayed;
    let (to, bytes) = old_leave
        .into_iter()
        .find(|(to, _)| to == "node-0")
        .expect("a leave to node-0");
    let now = net.now;
    let out = net.node(&to).handle(now, Input::Received(bytes));
    assert!(out.iter().all(|o| !matches!(o, Output::View(_))), "{out:?}");
    assert_eq!(net.nodes["node-0"].stats().replayed, replayed + 1);
    net.run_for(Duration::from_millis(100));
    assert!(net.converged(false));
}

#[test]
fn leaves_lower_reachable_but_not_known() {
    // Three: one leaves, two of three reach a majority; a second leaves,
    // and the last one is fenced.
    let mut net = Net::new(3, 6);
    net.converge(Duration::from_millis(200)).expect("converged");
    net.leave("node-0");
    net.run_for(Duration::from_millis(50));
    for n in ["node-1", "node-2"] {
        assert!(has_quorum(n, &net.view(n).reachable, &net.known), "{n}");
    }
    net.leave("node-1");
    net.run_for(Duration::from_millis(50));
    let last = net.view("node-2").reachable.clone();
    assert_eq!(last, BTreeSet::from(["node-2".to_string()]));
    assert!(!has_quorum("node-2", &last, &net.known));

    // Two: exactly half remains; the tiebreaker keeps the lower name.
    let mut net = Net::new(2, 7);
    net.converge(Duration::from_millis(200)).expect("converged");
    net.leave("node-1");
    net.run_for(Duration::from_millis(50));
    assert!(has_quorum(
        "node-0",
        &net.view("node-0").reachable,
        &net.known
    ));
    let mut net = Net::new(2, 8);
    net.converge(Duration::from_millis(200)).expect("converged");
    net.leave("node-0");
    net.run_for(Duration::from_millis(50));
    assert!(!has_quorum(
        "node-1",
        &net.view("node-1").reachable,
        &net.known
    ));
}

#[test]
fn leaves_are_authenticated_and_end_only_the_life_they_name() {
    use ferrolb_l2::membership::wire::{Body, Datagram, Header, Suspicion};
    let start = Instant::now();
    let key = Key::new(b"cluster secret".to_vec());
    let mut m = Membership::new("a", key.clone(), MembershipTiming::default(), start, 1);
    m.handle(
        start,
        Input::SetKnown(BTreeSet::from(["a".into(), "b".into(), "c".into()])),
    );
    let from = |sender: &str, incarnation, sequence, body| {
        Datagram {
            header: Header {
                sender: sender.into(),
                incarnation,
                sequence,
            },
            body,
        }
        .seal(&key)
    };
    let take = |m: &mut Membership, now, bytes| m.handle(now, Input::Received(bytes));
    take(&mut m, start, from("b", 5, 1, Body::Alive { reply: false }));

    let forged = Datagram {
        header: Header {
            sender: "b".into(),
            incarnation: 5,
            sequence: 2,
        },
        body: Body::Leave,
    }
    .seal(&Key::new(b"guess".to_vec()));
    take(&mut m, start, forged);
    let out = take(&mut m, start, from("b", 5, 3, Body::Leave));
    let left = out.iter().find_map(|o| match o {
        Output::View(v) => Some(v.clone()),
        Output::Send { .. } | Output::ProbeHost { .. } => None,
    });
    let left = left.expect("a view without b");
    assert!(!left.reachable.contains("b") && !left.alive.contains("b"));

    // Sent before the leave, overtaken by it: stale, not a resurrection.
    take(&mut m, start, from("b", 5, 2, Body::Heartbeat));
    take(&mut m, start, from("b", 5, 4, Body::Alive { reply: true }));
    // Nothing scheduled for a member that left: no dead timer, no
    // reprobe, and nothing brings it back.
    let later = start + Duration::from_secs(1);
    let out = m.poll(later);
    let told_b = out.iter().any(|o| match o {
        Output::Send { to, bytes } if to == "b" => {
            Datagram::open(&key, bytes).is_ok_and(|d| matches!(d.body, Body::Suspect { .. }))
        }
        _ => false,
    });
    assert!(!told_b, "a member that left is not told it is suspected");
    assert_eq!(m.stats().unauthenticated, 1, "the forged leave");
    assert_eq!(m.stats().stale, 2);
    assert!(!m.view().alive.contains("b"));

    // Its next life comes back at once; the old leave is a replay.
    take(&mut m, later, from("b", 6, 1, Body::Alive { reply: true }));
    take(&mut m, later, from("b", 5, 3, Body::Leave));
    // The jump of a second was a stall of this node: it counts nobody
    // for its quorum for a moment, whatever they say.
    assert!(m.view().alive.contains("b"));
    let _ = m.poll(later + Duration::from_millis(40));
    assert!(m.view().reachable.contains("b") && m.view().alive.contains("b"));
    assert_eq!(m.stats().replayed, 1);

    // c heard b at incarnation 7 and suspects it: a leave of life 6 that
    // arrives now ends a life already over. Stale, and b stays alive.
    take(
        &mut m,
        later,
        from(
            "c",
            3,
            1,
            Body::Suspect {
                entries: vec![Suspicion {
                    member: "b".into(),
                    incarnation: 7,
                    age_ms: 0,
                }],
            },
        ),
    );
    take(&mut m, later, from("b", 6, 2, Body::Leave));
    assert_eq!(m.stats().stale, 3);
    assert!(m.view().alive.contains("b"));
}

#[test]
fn the_leaver_sends_its_copies_apart_then_falls_silent() {
    use ferrolb_l2::membership::wire::{Body, Datagram};
    let start = Instant::now();
    let key = Key::new(b"cluster secret".to_vec());
    let timing = MembershipTiming::default();
    let known = BTreeSet::from(["a".to_string(), "b".to_string(), "c".to_string()]);
    let mut a = Membership::new("a", key.clone(), timing, start, 1);
    let mut b = Membership::new("b", key.clone(), timing, start, 2);
    a.handle(start, Input::SetKnown(known.clone()));
    b.handle(start, Input::SetKnown(known.clone()));
    let sends = |out: Vec<Output>, to: &str| -> Vec<Vec<u8>> {
        out.into_iter()
            .filter_map(|o| match o {
                Output::Send { to: t, bytes } if t == to => Some(bytes),
                _ => None,
            })
            .collect()
    };
    // b hears from a once, then a leaves.
    let hello = sends(a.poll(start + timing.heartbeat), "b");
    for bytes in hello {
        b.handle(start, Input::Received(bytes));
    }
    assert!(b.view().alive.contains("a"));
    let t0 = start + 10 * MS;
    let mut copies = Vec::new();
    let is_leave =
        |bytes: &Vec<u8>| Datagram::open(&key, bytes).is_ok_and(|d| d.body == Body::Leave);
    let first = a.leave(t0);
    let leaves: Vec<&Output> = first
        .iter()
        .filter(|o| matches!(o, Output::Send { bytes, .. } if is_leave(bytes)))
        .collect();
    assert_eq!(leaves.len(), 2, "to b and c, at once: {first:?}");
    copies.push(sends(first, "b").into_iter().filter(is_leave).collect());
    let mut at = t0;
    while let Some(next) = a.next_deadline() {
        assert_eq!(next, at + timing.leave_spacing);
        at = next;
        copies.push(sends(a.poll(at), "b"));
    }
    assert_eq!(copies.len(), usize::from(timing.leave_copies));
    assert!(copies.iter().all(|c| c.len() == 1 && is_leave(&c[0])));
    assert!(a.leave(at).is_empty(), "once");

    // The first copy lost: the second does it.
    for bytes in copies.remove(1) {
        b.handle(at, Input::Received(bytes));
    }
    assert!(!b.view().alive.contains("a"));
    assert!(!b.view().reachable.contains("a"));
    // The third, a copy of the same leave, is not a replay.
    for bytes in copies.remove(1) {
        b.handle(at, Input::Received(bytes));
    }
    assert_eq!(b.stats().replayed, 0);
    assert_eq!(b.stats().stale, 0);

    // Deaf and mute from now on.
    let late = at + Duration::from_secs(1);
    let to_a = sends(b.poll(late), "a");
    assert!(!to_a.is_empty(), "b still heart-beats a member that left");
    for bytes in to_a {
        assert!(a.handle(late, Input::Received(bytes)).is_empty());
    }
    assert!(a.poll(late + Duration::from_secs(1)).is_empty());
    assert_eq!(a.view().alive, known, "its last view, kept");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// No loss, delays within the jitter: nobody is ever suspected.
    #[test]
    fn no_false_suspicion_without_loss(seed: u64, n in 2usize..7) {
        let mut net = Net::new(n, seed);
        prop_assert!(net.converge(Duration::from_millis(200)).is_some());
        let t = net.now;
        net.run_for(Duration::from_millis(1500));
        for name in net.known.clone() {
            prop_assert!(net.history.get(&name).is_none_or(|h| h.iter().all(|(at, v)| *at < t || v.reachable == net.known)));
        }
    }

    /// A partition: the minority fences within `suspect_within`; the
    /// majority declares it dead no sooner than `dead_not_before`; after
    /// the heal everyone is alive everywhere within `alive_within`, and
    /// soon reachable too (a sweep cut short by the heal may still raise
    /// a suspicion, refuted at once).
    #[test]
    fn partitions_fence_the_minority_then_heal(seed: u64, n in 3usize..8, phase in 0u64..5000, minority_mask: u8, hold in 10u64..400) {
        let mut net = Net::new(n, seed);
        prop_assert!(net.converge(Duration::from_millis(200)).is_some());
        net.run_for(Duration::from_micros(phase));
        let names: Vec<String> = net.known.iter().cloned().collect();
        let mut minority: BTreeSet<String> = names.iter().enumerate().filter(|(i, _)| minority_mask & (1 << i) != 0).map(|(_, n)| n.clone()).collect();
        if minority.is_empty() { minority.insert(names[0].clone()); }
        if minority.len() == n { minority.remove(&names[0]); }
        let majority: BTreeSet<String> = net.known.difference(&minority).cloned().collect();
        let fence = net.timing.fence_timing();
        let t0 = net.now;
        net.partition(&minority);
        net.run_for(Duration::from_millis(hold));
        let held = Duration::from_millis(hold);
        // Whichever side lost quorum stops in time; nobody on the other
        // side declares it dead before that.
        for side in [&minority, &majority] {
            let quorate = side.iter().any(|m| has_quorum(m, side, &net.known));
            for m in side {
                if !quorate && held >= fence.suspect_within {
                    let fenced = net.fenced_at(m, t0);
                    prop_assert!(fenced.is_some_and(|f| f - t0 <= fence.suspect_within), "{m} fenced at {:?}", fenced.map(|f| f - t0));
                }
                let other = if side == &minority { &majority } else { &minority };
                for o in other {
                    if let Some(dead) = net.first_loss(o, m, t0, true) {
                        prop_assert!(dead - t0 >= fence.dead_not_before, "{o} declared {m} dead after {:?}", dead - t0);
                    }
                }
            }
        }
        net.heal();
        let took = net.converge_on(Duration::from_millis(500), true);
        prop_assert!(took.is_some_and(|t| t <= fence.alive_within), "alive again after {took:?}");
        let took = net.converge(Duration::from_millis(300));
        prop_assert!(took.is_some(), "not reachable again after 300 ms");
    }

    /// A leave, at any phase of the heartbeats, is taken by every other
    /// member within one network delay, and raises no suspicion of
    /// anyone else.
    #[test]
    fn leaves_are_taken_at_once(seed: u64, n in 2usize..7, phase in 0u64..5000, who in 0usize..7) {
        let mut net = Net::new(n, seed);
        prop_assert!(net.converge(Duration::from_millis(200)).is_some());
        net.run_for(Duration::from_micros(phase));
        let leaver = format!("node-{}", who % n);
        let t0 = net.now;
        net.leave(&leaver);
        net.run_for(Duration::from_millis(300));
        let others = without(&net.known, &[leaver.as_str()]);
        for o in &others {
            let gone = net.first_loss(o, &leaver, t0, true);
            prop_assert!(gone.is_some_and(|t| t - t0 <= net.max_delay), "{o}: {:?}", gone.map(|t| t - t0));
            prop_assert_eq!(&net.view(o).reachable, &others);
            prop_assert_eq!(&net.view(o).alive, &others);
            prop_assert!(net.history.get(o).is_none_or(|h| h.iter().all(|(at, v)| *at < t0 || v.reachable.is_superset(&others))), "{o} suspected someone");
        }
        net.restart(&leaver);
        prop_assert!(net.converge(Duration::from_millis(200)).is_some());
    }

    /// Losses cause at most transient suspicions; once they stop, the
    /// cluster converges.
    #[test]
    fn after_losses_everyone_converges(seed: u64, n in 2usize..7, loss in 0u64..300) {
        let mut net = Net::new(n, seed);
        net.loss = loss;
        net.run_for(Duration::from_millis(800));
        net.loss = 0;
        let took = net.converge(Duration::from_millis(300));
        prop_assert!(took.is_some(), "views: {:?}", net.known.iter().map(|k| net.view(k).clone()).collect::<Vec<_>>());
    }
}

/// The owner of `key` among `alive`: the lowest hash of name and key, as
/// `decide::l2_plan` chooses (rendezvous hashing; any fixed hash will do
/// for the invariant).
fn owner<'a>(alive: &'a BTreeSet<String>, key: &str) -> Option<&'a String> {
    use std::hash::{Hash, Hasher};
    alive.iter().min_by_key(|name| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (name.as_str(), "#", key).hash(&mut h);
        h.finish()
    })
}

impl Net {
    /// When `name` announced `key`, as spans `[from, to)`: its fence open
    /// (a quorum of `reachable`, held for `settle`), itself the owner by
    /// its `alive`, running (not stalled, not crashed). A span that ends
    /// with a view change lasts `react` longer (the announcer's budget to
    /// apply it); one that ends because the node stops running ends then.
    fn claims(&self, name: &str, key: &str, end: Instant) -> Vec<(Instant, Instant)> {
        let settle = self.timing.settle;
        let react = self.timing.react;
        let mut spans = Vec::new();
        let Some(history) = self.history.get(name) else {
            return spans;
        };
        let mut quorate_since: Option<Instant> = None;
        for (i, (at, view)) in history.iter().enumerate() {
            let until = history.get(i + 1).map_or(end, |(t, _)| *t);
            if has_quorum(name, &view.reachable, &self.known) {
                quorate_since.get_or_insert(*at);
            } else {
                quorate_since = None;
            }
            let Some(since) = quorate_since else { continue };
            let from = (*at).max(since + settle);
            if from >= until || owner(&view.candidates(), key) != Some(&name.to_string()) {
                continue;
            }
            // A node that resumes takes in what it missed before it
            // answers anything: no `react` for the view it stalled with.
            let resumed = self.stalls.iter().any(|s| s.0 == name && s.2 == until);
            spans.push((from, if resumed { until } else { until + react }));
        }
        // Not running: stalled or crashed.
        let mut off: Vec<(Instant, Instant)> = self
            .stalls
            .iter()
            .filter(|s| s.0 == name)
            .map(|s| (s.1, s.2))
            .collect();
        if let Some(t) = self.crashed_at.get(name) {
            off.push((*t, end + react));
        }
        for (a, b) in off {
            spans = spans
                .into_iter()
                .flat_map(|(from, to)| {
                    let mut pieces = Vec::new();
                    if from < a {
                        pieces.push((from, to.min(a)));
                    }
                    // After the stall it answers from the view it had:
                    // until that view changes (plus `react`).
                    if to > b {
                        pieces.push((from.max(b), to));
                    }
                    pieces
                })
                .filter(|(from, to)| from < to)
                .collect();
        }
        spans
    }

    /// Two nodes that announced one address at once: `(key, a, b, from)`.
    fn dual_owners(&self, keys: usize) -> Vec<(String, String, String, Duration)> {
        let end = self.now;
        let mut found = Vec::new();
        for k in 0..keys {
            let key = format!("10.0.0.{k}");
            let spans: Vec<(String, Vec<(Instant, Instant)>)> = self
                .known
                .iter()
                .map(|n| (n.clone(), self.claims(n, &key, end)))
                .collect();
            for (i, (a, sa)) in spans.iter().enumerate() {
                for (b, sb) in &spans[i + 1..] {
                    for (fa, ta) in sa {
                        for (fb, tb) in sb {
                            if fa < tb && fb < ta {
                                let from = (*fa).max(*fb);
                                found.push((
                                    key.clone(),
                                    a.clone(),
                                    b.clone(),
                                    from - self.start(),
                                ));
                            }
                        }
                    }
                }
            }
        }
        found
    }

    fn start(&self) -> Instant {
        self.history
            .values()
            .filter_map(|h| h.first().map(|f| f.0))
            .min()
            .unwrap_or(self.now)
    }

    /// Every instant `observer` saw `member` leave `alive` after `since`.
    fn deaths(&self, observer: &str, member: &str, since: Instant) -> usize {
        let Some(h) = self.history.get(observer) else {
            return 0;
        };
        h.windows(2)
            .filter(|w| {
                w[1].0 >= since && w[0].1.alive.contains(member) && !w[1].1.alive.contains(member)
            })
            .count()
    }
}

impl Net {
    /// The spans within `[from, to)` in which no node claimed `key`.
    fn unclaimed(&self, key: &str, from: Instant, to: Instant) -> Vec<(Instant, Instant)> {
        let mut spans: Vec<(Instant, Instant)> = self
            .known
            .iter()
            .flat_map(|n| self.claims(n, key, self.now))
            .collect();
        spans.sort();
        let mut gaps = Vec::new();
        let mut at = from;
        for (a, b) in spans {
            if a > at && at < to {
                gaps.push((at, a.min(to)));
            }
            at = at.max(b);
        }
        if at < to {
            gaps.push((at, to));
        }
        gaps
    }

    /// Who claimed `key` at some instant of `[from, to)`.
    fn claimants(&self, key: &str, from: Instant, to: Instant) -> BTreeSet<String> {
        self.known
            .iter()
            .filter(|n| {
                self.claims(n, key, self.now)
                    .iter()
                    .any(|(a, b)| *a < to && *b > from)
            })
            .cloned()
            .collect()
    }
}

fn total(gaps: &[(Instant, Instant)]) -> Duration {
    gaps.iter().map(|(a, b)| *b - *a).sum()
}

/// `gaps` for a figure: their total, and each as (start after `from`,
/// length).
fn gaps_line(gaps: &[(Instant, Instant)], from: Instant) -> String {
    let each: Vec<_> = gaps.iter().map(|(a, b)| (*a - from, *b - *a)).collect();
    format!("{:?} {each:?}", total(gaps))
}

/// The owner of the first address, once the cluster has converged.
fn owner_of_first(net: &Net) -> String {
    owner(&net.known, "10.0.0.0").cloned().expect("a member")
}

#[test]
fn a_stalled_node_forgives_its_peers_the_silence_of_its_own_stall() {
    let mut net = Net::new(3, 5);
    net.converge(Duration::from_millis(200)).expect("converged");
    net.run_for(Duration::from_millis(500));
    let t0 = net.now;
    // 30 ms: shorter than the others' death verdict, longer than the
    // silence after which it would suspect them.
    net.stall("node-1", Duration::from_millis(30));
    net.run_for(Duration::from_millis(400));
    let stats = net.nodes["node-1"].stats();
    assert_eq!(stats.stalls, 1, "{stats:?}");
    assert!(stats.longest_stall_us >= 25_000, "{stats:?}");
    for other in ["node-0", "node-2"] {
        assert_eq!(net.first_loss("node-1", other, t0, true), None);
    }
    // The others suspected it (it was silent for longer than `S`); it
    // suspected nobody.
    let named: Vec<_> = net
        .notices
        .iter()
        .filter(|(at, from, named)| *at >= t0 && from == "node-1" && !named.is_empty())
        .collect();
    assert_eq!(named, Vec::<&(Instant, String, Vec<String>)>::new());
    assert!(net.converged(false));
}

/// The owner's speaker descheduled (SIGSTOP, starvation) while its host
/// runs: for 50 and 200 ms nobody declares it dead; for 1 s everyone
/// does, once, and it comes back.
#[test]
fn a_stalled_owner_keeps_its_addresses_below_stalled_dead_after() {
    for (stall, dies) in [(50, false), (200, false), (1000, true)] {
        let mut net = Net::new(3, 77 + stall);
        net.converge(Duration::from_millis(200)).expect("converged");
        net.run_for(Duration::from_millis(500));
        let owner = owner_of_first(&net);
        let t0 = net.now;
        net.stall(&owner, Duration::from_millis(stall));
        net.run_for(Duration::from_millis(stall + 1500));
        for other in net.known.iter().filter(|n| **n != owner) {
            let deaths = net.deaths(other, &owner, t0);
            assert_eq!(
                deaths,
                usize::from(dies),
                "{other} declared {owner} dead {deaths} times after a {stall} ms stall"
            );
        }
        assert!(net.converged(false), "{stall} ms: not whole again");
        assert_eq!(net.dual_owners(8), Vec::new(), "{stall} ms");
    }
}

/// A crash still fails over as fast as before: the port refuses, so the
/// host probe does not put the verdict off.
#[test]
fn a_crashed_speaker_is_dead_after_dead_after_whatever_its_host_says() {
    let mut net = Net::new(3, 8);
    net.converge(Duration::from_millis(200)).expect("converged");
    net.run_for(Duration::from_millis(300));
    let t0 = net.now;
    net.crash("node-1");
    net.run_for(Duration::from_millis(300));
    let t = net.timing;
    for o in ["node-0", "node-2"] {
        let dead = net
            .first_loss(o, "node-1", t0, true)
            .expect("declared dead");
        assert!(
            dead - t0 <= t.heartbeat + t.jitter + t.dead_after + 2 * MS,
            "{o}: {:?}",
            dead - t0
        );
    }
}

/// One direction of one link fails: `node-1` hears nothing from
/// `node-0`, everyone else hears everyone. The others vouch for `node-0`,
/// so `node-1` never declares it dead (nor anybody else), and no address
/// ever has two owners.
#[test]
fn a_member_one_peer_cannot_hear_is_vouched_for_not_declared_dead() {
    for n in [3, 4, 5] {
        let mut net = Net::new(n, 21);
        net.converge(Duration::from_millis(200)).expect("converged");
        net.run_for(Duration::from_millis(300));
        let t0 = net.now;
        net.one_way.insert(("node-0".into(), "node-1".into()));
        net.run_for(Duration::from_millis(2000));
        for o in net.known.clone() {
            assert_eq!(
                net.deaths(&o, "node-0", t0),
                0,
                "n={n}: {o} declared node-0 dead"
            );
        }
        assert!(net.nodes["node-1"].stats().vouched > 0, "n={n}");
        assert_eq!(net.dual_owners(8), Vec::new(), "n={n}");
        net.one_way.clear();
        assert!(net.converge(Duration::from_millis(500)).is_some(), "n={n}");
    }
}

/// One scheduled disturbance of a seeded run.
#[derive(Debug, Clone)]
enum Trouble {
    Stall {
        node: usize,
        ms: u64,
    },
    OneWay {
        from: usize,
        to: usize,
        ms: u64,
    },
    Lossy {
        from: usize,
        to: usize,
        permille: u64,
        ms: u64,
    },
    Partition {
        mask: u8,
        ms: u64,
    },
    /// Every other node's datagrams to this one dropped: it hears nobody,
    /// everyone hears it (the deaf owner of issue 17).
    Deaf {
        node: usize,
        ms: u64,
    },
}

fn trouble() -> impl Strategy<Value = (u64, Trouble)> {
    let at = 0u64..3000;
    let node = 0usize..6;
    prop_oneof![
        (
            at.clone(),
            node.clone(),
            prop_oneof![5u64..60, 60u64..400, 400u64..1500]
        )
            .prop_map(|(at, node, ms)| (at, Trouble::Stall { node, ms })),
        (at.clone(), node.clone(), node.clone(), 10u64..1500)
            .prop_map(|(at, from, to, ms)| (at, Trouble::OneWay { from, to, ms })),
        (
            at.clone(),
            node.clone(),
            node.clone(),
            100u64..900,
            10u64..1500
        )
            .prop_map(|(at, from, to, permille, ms)| (
                at,
                Trouble::Lossy {
                    from,
                    to,
                    permille,
                    ms
                }
            )),
        (at, any::<u8>(), 10u64..800)
            .prop_map(|(at, mask, ms)| (at, Trouble::Partition { mask, ms })),
    ]
}

/// The seed of the invariant's cases in CI: a fixed one, so that every run
/// replays the same 16 scenarios and a failure is a regression, not the
/// luck of the draw. One random draw in CI ran past the 300 s limit: the
/// simulator hung on overlapping stalls of one node, or shrank one of the
/// two counterexamples random runs found next (all three run by name
/// below; issue 17, docs/l2-mode.md). Explore with `PROPTEST_RNG_SEED`
/// and `PROPTEST_CASES`, which override both.
const CI_SEED: u64 = 0x00C0_FFEE;

fn invariant_config() -> ProptestConfig {
    // `default()` reads the PROPTEST_* variables.
    let env = ProptestConfig::default();
    let set = |name: &str| std::env::var_os(name).is_some();
    let explore = set("PROPTEST_RNG_SEED") || set("PROPTEST_CASES");
    ProptestConfig {
        cases: if set("PROPTEST_CASES") { env.cases } else { 16 },
        rng_seed: if set("PROPTEST_RNG_SEED") {
            env.rng_seed
        } else {
            proptest::test_runner::RngSeed::Fixed(CI_SEED)
        },
        // Each case simulates seconds of a cluster: an unbounded shrink of
        // a counterexample would outlive any CI timeout. Exploring runs
        // shrink as far as PROPTEST_MAX_SHRINK_ITERS allows.
        max_shrink_iters: if explore { env.max_shrink_iters } else { 64 },
        ..env
    }
}

proptest! {
    #![proptest_config(invariant_config())]

    /// The invariant, over seeded runs of three seconds of trouble:
    /// stalls of any length, one-way cuts, asymmetric loss, partitions,
    /// alone or together: no address is ever announced by two nodes.
    ///
    /// 16 cases from [`CI_SEED`] and the 11 seeds of the regressions file,
    /// about 0.5 s of CPU each in the test profile (14 s in all); a long
    /// random run: `PROPTEST_RNG_SEED=$RANDOM PROPTEST_CASES=2000`
    /// (docs/l2-mode.md). The counterexamples it found are also run by
    /// name above.
    #[test]
    fn no_address_ever_has_two_owners(seed: u64, n in 3usize..6, plan in proptest::collection::vec(trouble(), 1..5)) {
        let (mut net, t0) = run_plan(seed, n, plan);
        let dual = net.dual_owners(8);
        prop_assert!(dual.is_empty(), "{dual:?}\nnotices: {:?}", net.notices.iter().map(|(t, f, m)| (*t - t0, f, m)).collect::<Vec<_>>());
        prop_assert!(net.converge(Duration::from_millis(1000)).is_some(), "not whole again");
    }
}

/// Runs `plan` (disturbances at milliseconds after a settled start, each
/// undone after its span) on `n` nodes, then two quiet seconds; the net
/// and the instant the plan started.
fn run_plan(seed: u64, n: usize, mut plan: Vec<(u64, Trouble)>) -> (Net, Instant) {
    let mut net = Net::new(n, seed);
    assert!(net.converge(Duration::from_millis(200)).is_some());
    net.run_for(Duration::from_millis(300));
    plan.sort_by_key(|p| p.0);
    let t0 = net.now;
    let name = |i: usize| format!("node-{}", i % n);
    // (when, what to undo)
    let mut undo: Vec<(Instant, Trouble)> = Vec::new();
    for (at, what) in plan {
        let at = t0 + Duration::from_millis(at);
        // Undo what is over first.
        undo.sort_by_key(|u| u.0);
        while let Some((when, _)) = undo.first()
            && *when <= at
        {
            let (when, done) = undo.remove(0);
            net.run_until(when);
            heal_one(&mut net, &done, n);
        }
        net.run_until(at);
        match &what {
            Trouble::Stall { node, ms } => net.stall(&name(*node), Duration::from_millis(*ms)),
            Trouble::OneWay { from, to, ms } => {
                net.one_way.insert((name(*from), name(*to)));
                undo.push((at + Duration::from_millis(*ms), what.clone()));
            }
            Trouble::Lossy {
                from,
                to,
                permille,
                ms,
            } => {
                net.link_loss.insert((name(*from), name(*to)), *permille);
                undo.push((at + Duration::from_millis(*ms), what.clone()));
            }
            Trouble::Partition { mask, ms } => {
                let minority: BTreeSet<String> =
                    (0..n).filter(|i| mask & (1 << i) != 0).map(name).collect();
                net.partition(&minority);
                undo.push((at + Duration::from_millis(*ms), what.clone()));
            }
            Trouble::Deaf { node, ms } => {
                net.deafen(&name(*node), true);
                undo.push((at + Duration::from_millis(*ms), what.clone()));
            }
        }
    }
    undo.sort_by_key(|u| u.0);
    for (when, done) in undo {
        net.run_until(when.max(net.now));
        heal_one(&mut net, &done, n);
    }
    net.run_for(Duration::from_millis(2000));
    (net, t0)
}

/// Runs `plan` and checks the invariant: no address ever had two owners,
/// and the cluster is whole again afterwards.
fn replay(seed: u64, n: usize, plan: Vec<(u64, Trouble)>) {
    let (mut net, _) = run_plan(seed, n, plan);
    assert_eq!(net.dual_owners(8), Vec::new(), "seed {seed}, n = {n}");
    assert!(
        net.converge(Duration::from_millis(1000)).is_some(),
        "seed {seed}, n = {n}: not whole again"
    );
}

fn heal_one(net: &mut Net, done: &Trouble, n: usize) {
    let name = |i: usize| format!("node-{}", i % n);
    match done {
        Trouble::Stall { .. } => {}
        Trouble::OneWay { from, to, .. } => {
            net.one_way.remove(&(name(*from), name(*to)));
        }
        Trouble::Lossy { from, to, .. } => {
            net.link_loss.remove(&(name(*from), name(*to)));
        }
        Trouble::Partition { .. } => net.heal(),
        Trouble::Deaf { node, .. } => net.deafen(&name(*node), false),
    }
}

/// The two counterexamples the invariant test found (kept in the
/// regressions file too), run by name. Three nodes: `node-2` stalls for
/// 245 ms, `node-0` is cut off alone and declares both others dead, then
/// the partition heals except `node-0 -> node-1`. `node-0` held `node-1`
/// dead while hearing it and while `node-2`, in both quorums, heard it:
/// both claimed. Four nodes: a one-way cut during two partitions, the
/// same stale verdict.
#[test]
fn a_death_verdict_drawn_behind_a_cut_does_not_outlive_it() {
    let cases = [
        (
            37639,
            3,
            vec![
                (2154, Trouble::Partition { mask: 121, ms: 338 }),
                (
                    2390,
                    Trouble::OneWay {
                        from: 3,
                        to: 4,
                        ms: 1087,
                    },
                ),
                (1967, Trouble::Stall { node: 2, ms: 245 }),
            ],
        ),
        // Four nodes: `node-2 -> node-0` cut, then `node-2` stalls; its
        // death at `node-0` makes `node-0` watch `node-1`, which (seeing
        // `node-2` alive) does not heart-beat it: `node-0` declared it dead
        // at once, counting from an old hearing.
        (
            13963741597902,
            4,
            vec![
                (808, Trouble::Stall { node: 2, ms: 672 }),
                (
                    87,
                    Trouble::OneWay {
                        from: 2,
                        to: 0,
                        ms: 1201,
                    },
                ),
            ],
        ),
        (
            1357692064901139525,
            4,
            vec![
                (
                    1942,
                    Trouble::OneWay {
                        from: 5,
                        to: 4,
                        ms: 1120,
                    },
                ),
                (184, Trouble::Partition { mask: 17, ms: 684 }),
                (1563, Trouble::Partition { mask: 186, ms: 483 }),
            ],
        ),
    ];
    for (seed, n, plan) in cases {
        replay(seed, n, plan);
    }
}

/// The counterexample random draws found at once (seeds 4242, 9001,
/// 17017, 31337 with 2000 cases each, issue 17), shrunk: three nodes,
/// `node-0 -> node-2` cut one way for 1.2 s, and 18 % loss on
/// `node-2 -> node-1` for half a second of it. `node-2` suspected
/// `node-0`; `node-1`, hearing `node-0`, vouched each time `node-2` asked
/// again, until two asks in a row were lost: `node-2` declared `node-0`
/// dead while `node-1`, in its quorum, still heard it, and both claimed
/// `node-0`'s addresses. A member asked about a suspect must answer (or
/// leave the asker's quorum) before the verdict, like a sweep.
#[test]
fn a_lost_ask_does_not_let_a_vouched_member_die() {
    replay(
        1066038421622517264,
        3,
        vec![
            (
                603,
                Trouble::OneWay {
                    from: 3,
                    to: 2,
                    ms: 1230,
                },
            ),
            (
                1038,
                Trouble::Lossy {
                    from: 2,
                    to: 1,
                    permille: 179,
                    ms: 511,
                },
            ),
        ],
    );
}

/// The next counterexample of the same random runs, on four nodes (beyond
/// the proof's three): `node-3 -> node-2` cut one way for 297 ms, and
/// `node-3 -> node-1` for 15 ms near its end. `node-1` suspected `node-3`
/// and heard it again at once; `node-2`, which had not heard `node-3`
/// since its cut, took the suspicion on hearsay, and `node-3`'s
/// refutation was cut on its way to it. `node-2` declared `node-3` dead
/// on its own timer, asking nobody, while `node-0` and `node-1`, its
/// whole quorum, heard `node-3`: both claimed. A suspicion taken on
/// hearsay is swept like one of a node's own.
#[test]
fn a_suspicion_taken_on_hearsay_is_asked_about_too() {
    replay(
        0,
        4,
        vec![
            (
                348,
                Trouble::OneWay {
                    from: 3,
                    to: 5,
                    ms: 15,
                },
            ),
            (
                100,
                Trouble::OneWay {
                    from: 3,
                    to: 2,
                    ms: 297,
                },
            ),
        ],
    );
}

/// The hang the random runs found (seed 4242, and very likely the clean-
/// clone CI run that passed 300 s): two stalls of one node, the second
/// beginning inside the first and ending after it. The simulator's clock
/// stood still at the first stall's end, forever.
#[test]
fn overlapping_stalls_of_one_node_end_with_the_last() {
    replay(
        7429485284961316524,
        4,
        vec![
            (1419, Trouble::Partition { mask: 39, ms: 432 }),
            (2377, Trouble::Stall { node: 1, ms: 17 }),
            (2176, Trouble::Stall { node: 5, ms: 207 }),
            (426, Trouble::Partition { mask: 133, ms: 166 }),
        ],
    );
}

/// The third counterexample, found after the first two were fixed (seed
/// 4242, 230 cases in): three nodes, `node-1 -> node-0` cut one way for
/// 785 ms, 38 % loss on `node-1 -> node-2`. `node-0` suspected `node-1`,
/// `node-2` vouched; then `node-2`, losing `node-1`'s heartbeats, suspected
/// it too, at the newer incarnation `node-1` had refuted with. `node-0`
/// replaced its suspicion with that one: the vouch and the re-asks were
/// gone, the failure instant moved back, and `node-0` declared `node-1`
/// dead while `node-2` heard it again; both claimed.
#[test]
fn a_suspicion_of_a_newer_life_keeps_what_vouches_said() {
    replay(
        0,
        3,
        vec![
            (
                2248,
                Trouble::Lossy {
                    from: 1,
                    to: 2,
                    permille: 382,
                    ms: 645,
                },
            ),
            (
                1883,
                Trouble::OneWay {
                    from: 4,
                    to: 3,
                    ms: 785,
                },
            ),
        ],
    );
}

/// The fourth counterexample, on five nodes (seed 17017, 156 cases in):
/// `node-3 -> node-4` cut one way for 1.4 s and `node-3 -> node-0` for
/// 198 ms, its two ring successors, the only members it heart-beats.
/// `node-1` and `node-2` knew a newer life of `node-3` than `node-0`'s
/// asks named and had not heard it since: they ignored the asks, and
/// `node-0` declared `node-3` dead with both in its quorum while `node-3`
/// counted them in its own; both claimed 10.0.0.6. Such a member now
/// probes the suspect and relays its answer, and the asker asks again
/// `ask_after` past each new failure instant, so that the probe ends
/// before the verdict.
#[test]
fn a_stale_ask_about_an_unwatched_member_is_probed() {
    let (mut net, t0) = run_plan(
        69475269552987,
        5,
        vec![
            (
                48,
                Trouble::OneWay {
                    from: 3,
                    to: 4,
                    ms: 1405,
                },
            ),
            (
                0,
                Trouble::OneWay {
                    from: 3,
                    to: 5,
                    ms: 198,
                },
            ),
        ],
    );
    // Vouched for through probes, never declared dead: it keeps its
    // addresses with the quorum that hears it.
    for o in net.known.clone() {
        assert_eq!(net.deaths(&o, "node-3", t0), 0, "{o} declared node-3 dead");
    }
    assert_eq!(net.dual_owners(8), Vec::new());
    assert!(net.converge(Duration::from_millis(1000)).is_some());
}

/// A partition long enough for SWIM to declare the cut-off side down
/// (issue 18, scenario 6: `cli/tests/standalone_l2_partition.rs` cuts for
/// 2 s), then healed: once everyone is reachable again, nobody suspects
/// anyone later on. Before the fix SWIM's "down" verdicts, drawn from the
/// probes that failed during the cut, came after the heal (up to 1 s
/// later) and raised fresh suspicions of members heard a moment before:
/// every node lost the others, and in the lab all fenced themselves
/// again for a settle time.
#[test]
fn a_long_partition_once_healed_stays_healed() {
    let mut failures = Vec::new();
    // Cuts ending before SWIM's verdict (about 2.45 s after the cut here),
    // around it, and after it.
    let holds = [1500, 1900, 2300, 2400, 2500, 2700, 3000, 3500];
    for (seed, hold) in (1..).zip(holds) {
        let cut_off = format!("node-{}", seed % 3);
        let mut net = Net::new(3, seed);
        assert!(net.converge(Duration::from_millis(200)).is_some());
        net.partition(&BTreeSet::from([cut_off.clone()]));
        net.run_for(Duration::from_millis(hold));
        net.heal();
        let took = net.converge(Duration::from_millis(300));
        assert!(
            took.is_some(),
            "seed {seed}: not reachable again after 300 ms"
        );
        let healed = net.now;
        net.run_for(Duration::from_secs(2));
        for name in net.known.clone() {
            let later: Vec<_> = net
                .history
                .get(&name)
                .into_iter()
                .flatten()
                .filter(|(at, v)| *at >= healed && v.reachable != net.known)
                .map(|(at, v)| (*at - healed, v.reachable.clone()))
                .collect();
            if !later.is_empty() {
                failures.push(format!(
                    "seed {seed}, {cut_off} cut off for {hold} ms: {name} lost members after the heal: {later:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Found by seed 4242 while the fourth fix asked
/// about a suspect only once per failure instant: three nodes,
/// `node-2 -> node-0` cut one way for 338 ms and 10 % loss on
/// `node-1 -> node-0`. `node-0` suspected `node-2`; `node-1` vouched at
/// every ask until one vouch was lost while its acknowledgement arrived,
/// and `node-0` declared `node-2` dead while `node-1` heard it. The asks
/// every `R` while vouches come stay beside the one at `ask_after`. It
/// passes on the core before the fourth fix, which asked every `R`.
#[test]
fn a_lost_vouch_is_asked_for_again() {
    replay(
        0,
        3,
        vec![
            (
                0,
                Trouble::Lossy {
                    from: 4,
                    to: 0,
                    permille: 104,
                    ms: 613,
                },
            ),
            (
                0,
                Trouble::OneWay {
                    from: 2,
                    to: 0,
                    ms: 338,
                },
            ),
        ],
    );
}

/// Found by seed 5151 after the fourth fix, and failing on the core
/// before it too: three nodes, `node-1 -> node-0` cut one way for 100 ms,
/// 38 % loss on `node-2 -> node-0` for 74 ms. `node-0` suspected `node-1`;
/// `node-2`'s vouch was lost while its acknowledgement arrived, so no
/// vouch ever came, nobody was asked again, and `node-0` declared `node-1`
/// dead while `node-2` heard it. The first failure instant is now asked
/// about again at `ask_after` past it, like every later one.
#[test]
fn a_vouch_lost_at_the_first_sweep_is_asked_for_again() {
    replay(
        7315546700541493853,
        3,
        vec![
            (
                1609,
                Trouble::OneWay {
                    from: 1,
                    to: 3,
                    ms: 100,
                },
            ),
            (
                1559,
                Trouble::Lossy {
                    from: 2,
                    to: 3,
                    permille: 378,
                    ms: 74,
                },
            ),
        ],
    );
}

/// A settled cluster of `n` whose owner of the first address then hears
/// nobody (every other node's datagrams to it dropped) for `ms`: the net,
/// the owner, the instants of the cut and of the heal.
fn deaf_owner(n: usize, seed: u64, ms: u64) -> (Net, String, Instant, Instant) {
    let mut net = Net::new(n, seed);
    net.converge(Duration::from_millis(200)).expect("converged");
    net.run_for(Duration::from_millis(500));
    let owner = owner_of_first(&net);
    let cut = net.now;
    net.deafen(&owner, true);
    net.run_for(Duration::from_millis(ms));
    let healed = net.now;
    net.deafen(&owner, false);
    (net, owner, cut, healed)
}

/// Issue 17's last case of "Layer 2 must never go dark". The owner hears
/// nobody while everyone hears it: it fences itself, and before fence
/// announcements the others, hearing it alive, left its addresses on it,
/// dark for the whole cut. Now it tells everyone its fence is closed, the
/// next owner answers within about `suspect_within + react`, nobody
/// declares the deaf node dead, and no address ever has two owners.
#[test]
fn a_deaf_owner_hands_its_addresses_on() {
    for n in [3, 4, 5] {
        let (mut net, owner, cut, healed) = deaf_owner(n, 40 + n as u64, 1000);
        net.run_for(Duration::from_millis(1000));
        let key = "10.0.0.0";
        let during = net.unclaimed(key, cut, healed);
        let claimants = net.claimants(key, cut + Duration::from_millis(100), healed);
        eprintln!(
            "n={n}: deaf owner {owner}: unanswered during the cut {}",
            gaps_line(&during, cut)
        );
        assert!(
            !claimants.is_empty() && !claimants.contains(&owner),
            "n={n}: during the cut {key} was claimed by {claimants:?}"
        );
        // Dark only from the cut to the handover: the owner suspects its
        // predecessors by `S + 2J`, the others by its sweep, tells them
        // `react` later.
        assert!(
            total(&during) <= Duration::from_millis(80),
            "n={n}: unanswered {:?} during the cut: {during:?}",
            total(&during)
        );
        for o in net.known.clone() {
            assert_eq!(
                net.deaths(&o, &owner, cut),
                0,
                "n={n}: {o} declared {owner} dead"
            );
        }
        assert_eq!(net.dual_owners(8), Vec::new(), "n={n}");
    }
}

/// The deaf owner healed: it counts a quorum again, stops telling, and
/// the interim owner's hold ends just before its fence opens (at
/// `settle`): the address goes back with at most a few milliseconds
/// unanswered (it was `settle` and more when the others gave the address
/// back the moment they heard it), and never two owners.
#[test]
fn a_deaf_owner_that_heals_takes_its_addresses_back() {
    for n in [3, 4, 5] {
        let (mut net, owner, _, healed) = deaf_owner(n, 50 + n as u64, 700);
        net.run_for(Duration::from_millis(1500));
        let key = "10.0.0.0";
        let after = net.unclaimed(key, healed, net.now);
        eprintln!(
            "n={n}: deaf owner {owner} healed: unanswered after the heal {}",
            gaps_line(&after, healed)
        );
        let end = net.now;
        assert_eq!(
            net.claimants(key, end - Duration::from_millis(500), end),
            BTreeSet::from([owner.clone()]),
            "n={n}"
        );
        assert!(
            total(&after) <= Duration::from_millis(30),
            "n={n}: unanswered {:?} after the heal: {after:?}",
            total(&after)
        );
        assert_eq!(net.dual_owners(8), Vec::new(), "n={n}");
        assert!(net.converge(Duration::from_millis(500)).is_some(), "n={n}");
    }
}

/// Fence announcements lost: all of them for the first 100 ms of the
/// cut (the handover waits for the first that arrives), then 60 % of
/// them (a hold may run out between two that arrive: the address goes
/// back to the fenced node, dark, until the next). Never two owners, and
/// the address still moves.
#[test]
fn a_lost_fence_announcement_only_delays_the_handover() {
    for n in [3, 4] {
        let mut net = Net::new(n, 60 + n as u64);
        net.converge(Duration::from_millis(200)).expect("converged");
        net.run_for(Duration::from_millis(500));
        let owner = owner_of_first(&net);
        let lose = |net: &mut Net, permille| {
            for o in net.known.clone() {
                net.fenced_loss.insert((owner.clone(), o), permille);
            }
        };
        lose(&mut net, 1000);
        let cut = net.now;
        net.deafen(&owner, true);
        net.run_for(Duration::from_millis(100));
        let key = "10.0.0.0";
        let others: Vec<String> = net
            .claimants(key, cut, net.now)
            .into_iter()
            .filter(|c| *c != owner)
            .collect();
        assert_eq!(
            others,
            Vec::<String>::new(),
            "n={n}: moved without a fence announcement"
        );
        lose(&mut net, 600);
        net.run_for(Duration::from_millis(1000));
        let moved = net.claimants(key, cut, net.now);
        assert!(
            moved.iter().any(|c| *c != owner),
            "n={n}: never moved: {moved:?}"
        );
        net.deafen(&owner, false);
        net.fenced_loss.clear();
        net.run_for(Duration::from_millis(1000));
        assert_eq!(net.dual_owners(8), Vec::new(), "n={n}");
        assert!(net.converge(Duration::from_millis(500)).is_some(), "n={n}");
    }
}

/// The owner's hearing comes and goes: its fence closes and opens (or
/// nearly), its announcements start and stop, holds run out in between.
/// Whatever the rhythm, never two owners, and the cluster is whole
/// afterwards with the owner answering again.
#[test]
fn a_flapping_fence_never_makes_two_owners() {
    for (deaf, hearing) in [(20, 20), (45, 60), (90, 30), (150, 110), (60, 140)] {
        let mut net = Net::new(3, deaf * 1000 + hearing);
        net.converge(Duration::from_millis(200)).expect("converged");
        net.run_for(Duration::from_millis(500));
        let owner = owner_of_first(&net);
        let end = net.now + Duration::from_millis(2000);
        while net.now < end {
            net.deafen(&owner, true);
            net.run_for(Duration::from_millis(deaf));
            net.deafen(&owner, false);
            net.run_for(Duration::from_millis(hearing));
        }
        net.run_for(Duration::from_millis(1500));
        let dual = net.dual_owners(8);
        assert_eq!(dual, Vec::new(), "deaf {deaf} ms / hearing {hearing} ms");
        assert!(
            net.converge(Duration::from_millis(500)).is_some(),
            "deaf {deaf} ms / hearing {hearing} ms"
        );
        let now = net.now;
        assert_eq!(
            net.claimants("10.0.0.0", now - Duration::from_millis(300), now),
            BTreeSet::from([owner.clone()])
        );
    }
}

fn deaf_trouble() -> impl Strategy<Value = (u64, Trouble)> {
    (0u64..3000, 0usize..6, 10u64..1500).prop_map(|(at, node, ms)| (at, Trouble::Deaf { node, ms }))
}

proptest! {
    #![proptest_config(invariant_config())]

    /// The invariant with deaf members among the other troubles: fence
    /// announcements, holds that run out, heals in the middle of a hold.
    #[test]
    fn no_address_ever_has_two_owners_with_deaf_members(
        seed: u64,
        n in 3usize..6,
        deaf in proptest::collection::vec(deaf_trouble(), 1..3),
        other in proptest::collection::vec(trouble(), 0..3),
    ) {
        let plan = deaf.into_iter().chain(other).collect();
        let (mut net, _) = run_plan(seed, n, plan);
        let dual = net.dual_owners(8);
        prop_assert!(dual.is_empty(), "{dual:?}");
        prop_assert!(net.converge(Duration::from_millis(1000)).is_some(), "not whole again");
    }
}

/// One watcher of one member misses its heartbeats for `ms` (a one-way
/// cut of that link alone) on `n` nodes: (datagrams sent in the second
/// after, in the quiet second before, the nodes whose fence closed).
fn one_missed_watch(n: usize, seed: u64, ms: u64) -> (u64, u64, Vec<String>) {
    let mut net = Net::new(n, seed);
    assert!(net.converge(Duration::from_millis(500)).is_some());
    net.run_for(Duration::from_millis(300));
    let before = net.sent;
    net.run_for(Duration::from_millis(1000));
    let quiet = net.sent - before;
    let (x, w) = net
        .beats
        .iter()
        .find(|(from, _)| from == "node-0")
        .cloned()
        .expect("node-0 heart-beats a watcher");
    let t0 = net.now;
    let before = net.sent;
    net.one_way.insert((x.clone(), w.clone()));
    net.run_for(Duration::from_millis(ms));
    net.one_way.remove(&(x, w));
    net.run_for(Duration::from_millis(1000 - ms));
    let after = net.sent - before;
    let fenced = net
        .known
        .clone()
        .into_iter()
        .filter(|m| net.fenced_at(m, t0).is_some())
        .collect();
    (after, quiet, fenced)
}

/// One watcher missing 30 ms of one member's heartbeats (more than `S`):
/// it suspects the member and asks everyone. Beyond `K + 1` nodes the
/// others do not hear the member's heartbeats and cannot vouch; they took
/// the suspicion on hearsay and told the member, which then counted
/// nobody but itself and its other watcher, fenced itself and gave its
/// addresses away (3 of 4 seeds tried on 5 nodes, all on 10 and 20). Now they probe
/// it: it answers, keeps its quorum, and the question costs a few
/// datagrams, not a sweep from every member.
#[test]
fn one_missed_watch_does_not_fence_its_member() {
    for n in [5, 20] {
        let (after, quiet, fenced) = one_missed_watch(n, 1, 30);
        assert_eq!(fenced, Vec::<String>::new(), "{n} nodes");
        // Before, 20 nodes sent 765-1,065 datagrams more than in a quiet
        // second; now about 30.
        assert!(
            after < quiet + 20 * n as u64,
            "{n} nodes: {after} datagrams in the second after, {quiet} in a quiet one"
        );
    }
}

/// Found by the invariant once a member that cannot vouch probes instead
/// of taking the suspicion on hearsay: `node-1 -> node-0` cut one way,
/// 69 % loss on `node-2 -> node-0`. `node-0` suspected `node-1`;
/// `node-2` answered every ask, its acknowledgements arrived and its
/// vouches (separate datagrams then) were lost, and `node-0` declared
/// `node-1` dead while `node-2`, in both quorums, heard it: two owners.
/// Taking the suspicion on hearsay had hidden it (its telling closed
/// `node-1`'s fence). The acknowledgement and the vouch are now one
/// datagram (`Body::Answer`): lost together, `node-0` suspects `node-2`.
#[test]
fn a_vouch_is_never_lost_while_its_acknowledgement_arrives() {
    replay(
        3406658229409428897,
        3,
        vec![
            (
                1717,
                Trouble::OneWay {
                    from: 1,
                    to: 3,
                    ms: 1169,
                },
            ),
            (
                320,
                Trouble::Lossy {
                    from: 4,
                    to: 3,
                    permille: 787,
                    ms: 520,
                },
            ),
            (
                1677,
                Trouble::Lossy {
                    from: 5,
                    to: 3,
                    permille: 691,
                    ms: 846,
                },
            ),
        ],
    );
}

/// The deaf owner over 16 seeds on four nodes: its notices suspect
/// everyone, and the others used to take those suspicions on hearsay
/// when they could not vouch (they do not hear the members they do not
/// watch), tell the members named, and so take their quorums away: the
/// interim owner fenced itself too, and the address was dark once more,
/// 100-144 ms in all on 6 of the 16 seeds (docs/l2-mode.md, Limits). They
/// probe instead: dark at most a millisecond or so during the cut on most
/// seeds. Not on all: over seeds 0-767, 30 (before the change below) and
/// 38 (after) left the address unanswered 25-115 ms, 3 each beyond 80 ms,
/// the weakness *Limits* describes on 5 nodes. Seeds 0-15 drew none of
/// them until a member never heard from was no longer sent a notice at
/// the start (`thirty_five_members_on_two_busy_cores_come_together`),
/// which changed the datagrams every later delay is drawn for; they now
/// draw two (51 and 96 ms). Hence the bound on how many seeds and how far.
#[test]
fn a_deaf_owners_notices_fence_nobody_else() {
    let mut worst = Duration::ZERO;
    let mut dark = Vec::new();
    for seed in 0..16 {
        let (mut net, _, cut, healed) = deaf_owner(4, seed, 1000);
        net.run_for(Duration::from_millis(1000));
        let during = total(&net.unclaimed("10.0.0.0", cut, healed));
        assert!(
            during <= Duration::from_millis(120),
            "seed {seed}: unanswered {during:?} during the cut"
        );
        if during > Duration::from_millis(20) {
            dark.push((seed, during));
        }
        assert_eq!(net.dual_owners(8), Vec::new(), "seed {seed}");
        worst = worst.max(during);
    }
    assert!(
        dark.len() <= 2,
        "unanswered more than 20 ms during the cut on {} of 16 seeds: {dark:?}",
        dark.len()
    );
    eprintln!("4 nodes, seeds 0-15: at most {worst:?} unanswered during the cut");
}

/// Found by a random run (seed 4242, 2000 cases) once relays carried the
/// vouches of the members that do not watch a suspect: `node-0` and
/// `node-1` cut off from `node-2` for 664 ms, and `node-2 -> node-0` one
/// way for 628 ms from inside the cut. `node-0` declared `node-2` dead
/// behind the cut. At the heal `node-1` heard `node-2` and relayed a
/// vouch to `node-0`, then refuted `node-2`'s suspicion of it: its
/// refutation, at a newer life, overtook the vouch on the way, and
/// `node-0`'s replay window dropped the vouch as stale. `node-0` held
/// `node-2` dead while `node-1`, in both quorums, heard it: both claimed
/// two addresses for 1.5 ms once `node-2`'s settle ended. A relay is now
/// acknowledged and resent like a sweep.
#[test]
fn a_relayed_vouch_overtaken_by_a_refutation_is_resent() {
    replay(
        4534575206903692882,
        3,
        vec![
            (
                327,
                Trouble::OneWay {
                    from: 2,
                    to: 0,
                    ms: 628,
                },
            ),
            (150, Trouble::Partition { mask: 59, ms: 664 }),
        ],
    );
}

/// Thirty-five members started together at a 20 ms heartbeat on a
/// machine of 2 cores, where every call into a member's core costs 30 µs
/// and every datagram it sends 15 µs more (about what a speaker costs in
/// the lab: 1 % of a core for some 200 datagrams a second at 20 ms), and
/// a member's unread datagrams beyond 256 are dropped: the lab's run that
/// stormed (docs/benchmarks.md, "Nodes"). Here too it stormed: every
/// member told every member it had not heard from yet that it suspected
/// it, every `R`, in a notice the receiver answered and whose other
/// suspicions it probed; the burst made everyone late by more than `J`,
/// lateness made suspicions, and the cores never caught up (everyone
/// fenced, a third of the datagrams dropped). A member never heard from
/// is now only asked to answer. They come together in about 250 ms, and
/// then cost what the model says.
#[test]
fn thirty_five_members_on_two_busy_cores_come_together() {
    let n = 35;
    let timing =
        MembershipTiming::with_heartbeat(Duration::from_millis(20)).expect("a valid heartbeat");
    for seed in [1, 2, 3] {
        let mut net = Net::with_timing(n, seed, timing);
        let start = net.now;
        net.cpu = Some(Cpu::new(2, start, Costs::LAB));
        let took = net.converge(Duration::from_secs(1));
        assert!(
            took.is_some(),
            "seed {seed}: 35 members on 2 busy cores did not all see each other within 1 s"
        );
        let steady = net.steady_second();
        assert_eq!(
            steady.saw_unreachable,
            Vec::<String>::new(),
            "seed {seed}: saw someone unreachable in the steady state"
        );
        let dropped = net.cpu.as_ref().map_or(0, |c| c.dropped);
        assert_eq!(
            dropped, 0,
            "seed {seed}: datagrams dropped by full backlogs"
        );
        // 100 heartbeats a second (K = 2 every 20 ms) and SWIM's few;
        // about a tenth of the 2 cores.
        assert!(
            (100..=110).contains(&steady.sent_each),
            "seed {seed}: each member sent {} datagrams in a second of steady state",
            steady.sent_each
        );
        let busy = steady.cpu.as_secs_f64() / 2.0;
        assert!(
            busy < 0.2,
            "seed {seed}: the cores were {:.0} % busy",
            busy * 100.0
        );
    }
}

/// What a crash of one member did on a simulated CPU
/// ([`crash_on_a_cpu`]).
struct CrashOutcome {
    /// From the crash until every other member held it dead and saw
    /// every other survivor (none if not within 2 s).
    failed_over: Option<Duration>,
    /// Datagrams dropped by full backlogs, from the start.
    dropped: u64,
    /// Survivors that lost sight of another survivor in the second after.
    saw_unreachable: Vec<String>,
    /// How busy the cores were in that second.
    busy: f64,
}

/// `n` members at `heartbeat` on `cores` cores at `costs`, together and
/// quiet; then one crashes. Every member probes it once a watcher's notice names it,
/// suspects it and asks everyone else to acknowledge: `n - 1` notices
/// and as many acknowledgements sent and received by each member, `n²`
/// in the cluster, all within `ack_timeout`.
fn crash_on_a_cpu(
    n: usize,
    heartbeat: Duration,
    cores: usize,
    costs: Costs,
    seed: u64,
) -> CrashOutcome {
    let timing = MembershipTiming::with_heartbeat(heartbeat).expect("a valid heartbeat");
    let mut net = Net::with_timing(n, seed, timing);
    let start = net.now;
    net.cpu = Some(Cpu::new(cores, start, costs));
    assert!(
        net.converge(Duration::from_secs(2)).is_some(),
        "seed {seed}: {n} members did not all see each other within 2 s"
    );
    net.run_for(Duration::from_millis(500));
    let crashed = "node-3";
    net.crash(crashed);
    let survivors: BTreeSet<String> = net
        .known
        .iter()
        .filter(|k| *k != crashed)
        .cloned()
        .collect();
    let together = |net: &Net| {
        survivors.iter().all(|s| {
            let view = net.view(s);
            view.alive == survivors && view.reachable == survivors
        })
    };
    let crash = net.now;
    while net.now < crash + Duration::from_secs(2) && !together(&net) {
        net.run_for(MS);
    }
    let failed_over = together(&net).then(|| net.now - crash);
    let (from, cpu) = (net.now, net.charged());
    net.run_for(Duration::from_secs(1));
    let saw_unreachable = survivors
        .iter()
        .filter(|s| {
            net.history.get(*s).is_some_and(|h| {
                h.iter()
                    .any(|(at, v)| *at >= from && v.reachable != survivors)
            })
        })
        .cloned()
        .collect();
    CrashOutcome {
        failed_over,
        dropped: net.cpu.as_ref().map_or(0, |c| c.dropped),
        saw_unreachable,
        busy: (net.charged() - cpu).as_secs_f64() / cores as f64,
    }
}

/// Crashes one of `n` members ([`crash_on_a_cpu`], seeds 1 and 2):
/// every survivor holds it dead and sees every other survivor within
/// `within`, nothing is dropped, nobody loses sight of a survivor in the
/// second after, and the cores are less than `busy_below` busy in it.
fn a_crash_fails_over_quietly(
    n: usize,
    heartbeat: Duration,
    cores: usize,
    costs: Costs,
    within: Duration,
    busy_below: f64,
) {
    for seed in [1, 2] {
        let outcome = crash_on_a_cpu(n, heartbeat, cores, costs, seed);
        let took = outcome
            .failed_over
            .unwrap_or_else(|| panic!("seed {seed}: no failover within 2 s of the crash"));
        println!(
            "seed {seed}: failed over in {took:?}, cores {:.1} % busy after",
            outcome.busy * 100.0
        );
        assert!(took <= within, "seed {seed}: failed over in {took:?}");
        assert_eq!(outcome.dropped, 0, "seed {seed}: datagrams dropped");
        assert_eq!(
            outcome.saw_unreachable,
            Vec::<String>::new(),
            "seed {seed}: saw a survivor unreachable after the failover"
        );
        assert!(
            outcome.busy < busy_below,
            "seed {seed}: the cores were {:.0} % busy after the failover",
            outcome.busy * 100.0
        );
    }
}

/// Fifty speakers, each on cores of its own as on real nodes, at a 20 ms
/// heartbeat: a crash fails over within the timing's bound (a death
/// `H + J + dead_after`, 236 ms, after the last heartbeat, and the
/// views' publication), and the burst of notices it sets off (`n - 1`
/// sent and answered by each member) fits in each member's
/// acknowledgement window. At the default 5 ms the same burst takes
/// longer than the window (an 8 ms `ack_timeout`, 4 ms before the
/// resend): late acknowledgements are suspicions, and fifty members
/// storm (docs/benchmarks.md, "A failure's burst").
#[test]
fn a_crash_among_fifty_members_on_cores_of_their_own_fails_over_quietly() {
    a_crash_fails_over_quietly(
        50,
        Duration::from_millis(20),
        50,
        Costs::LAB,
        Duration::from_millis(300),
        0.05,
    );
}

/// The same fifty at the default 5 ms, at costs a sixth below
/// [`Costs::LAB`] (25 µs per call, 12 µs per datagram sent): the burst
/// fits the 8 ms acknowledgement window, and a crash fails over within
/// the default's bound for every member (73 ms). At [`Costs::LAB`] it
/// storms. Since the lab pays less than half of [`Costs::LAB`] in a
/// failure's burst, fifty speakers whose membership threads each have a
/// core (real nodes, real-time priority) fail over at the default
/// heartbeat with that margin (docs/l2-mode.md, "A slower heartbeat").
/// At [`Costs::LAB`] the simulated storm ran for over ten minutes
/// without ending. Ignored for CI's time (15 s at opt-level 2, about a
/// minute in a debug build): `cargo test
/// -p ferrolb-l2 --test membership_sim --config
/// profile.dev.package.ferrolb-l2.opt-level=2 --config
/// profile.dev.package.foca.opt-level=2 fifty_members_at_5_ms -- --ignored`.
#[test]
#[ignore]
fn a_crash_among_fifty_members_at_5_ms_on_cores_of_their_own_fails_over_below_the_labs_costs() {
    a_crash_fails_over_quietly(
        50,
        Duration::from_millis(5),
        50,
        Costs {
            per_call: Duration::from_micros(25),
            per_send: Duration::from_micros(12),
        },
        Duration::from_millis(100),
        0.05,
    );
}

/// Thirty-five speakers sharing 2 cores, as in the lab's nodes bench: at
/// a 100 ms heartbeat the burst of a crash (`n²` notices and
/// acknowledgements in the cluster, some 110 ms of CPU on 2 cores) fits
/// in the 160 ms acknowledgement window, and the crash fails over (a
/// death 1,180 ms after the last heartbeat), as in the lab. At 20 ms (a
/// 32 ms window) the same burst storms the simulator, whose costs are
/// an upper bound: the lab's 35 fail over at 20 ms too
/// (docs/benchmarks.md, "A failure's burst").
#[test]
fn a_crash_among_thirty_five_members_on_two_shared_cores_fails_over_at_100_ms() {
    a_crash_fails_over_quietly(
        35,
        Duration::from_millis(100),
        2,
        Costs::LAB,
        Duration::from_millis(1500),
        0.1,
    );
}
