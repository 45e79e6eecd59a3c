//! The membership core on a simulated network, with deterministic time:
//! drops, delays, partitions and heals, checked against the timing the
//! fence relies on.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use ferrolb_speaker::decide::fence::has_quorum;
use ferrolb_speaker::membership::{Input, Key, Membership, MembershipTiming, Output, View};
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
    queue: Vec<(Instant, String, Vec<u8>)>,
    rng: Rng,
    /// Every view change, per node, with its time.
    history: BTreeMap<String, Vec<(Instant, View)>>,
    known: BTreeSet<String>,
}

impl Net {
    fn new(n: usize, seed: u64) -> Net {
        let start = Instant::now();
        let timing = MembershipTiming::default();
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
            rng: Rng(seed),
            history: BTreeMap::new(),
            known: known.clone(),
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

    fn route(&mut self, from: &str, out: Vec<Output>) {
        for o in out {
            match o {
                Output::Send { to, bytes } => {
                    if self.crashed.contains(from) || self.side.get(from) != self.side.get(&to) {
                        continue;
                    }
                    if self.rng.below(1000) < self.loss {
                        continue;
                    }
                    let span = (self.max_delay - self.min_delay).as_micros() as u64;
                    let delay = self.min_delay + Duration::from_micros(self.rng.below(span + 1));
                    self.queue.push((self.now + delay, to, bytes));
                }
                Output::View(view) => self
                    .history
                    .entry(from.to_string())
                    .or_default()
                    .push((self.now, view)),
            }
        }
    }

    /// Runs every event up to `until`.
    fn run_until(&mut self, until: Instant) {
        loop {
            let next_packet = self.queue.iter().map(|q| q.0).min();
            let next_timer = self
                .nodes
                .iter()
                .filter(|(n, _)| !self.crashed.contains(*n))
                .filter_map(|(_, m)| m.next_deadline())
                .min();
            let Some(next) = [next_packet, next_timer].into_iter().flatten().min() else {
                break;
            };
            if next > until {
                break;
            }
            self.now = next.max(self.now);
            // Packets first, then timers, at this instant.
            let (due, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.queue)
                .into_iter()
                .partition(|q| q.0 <= self.now);
            self.queue = rest;
            for (_, to, bytes) in due {
                // A datagram in flight across a new cut is lost.
                if self.crashed.contains(&to) {
                    continue;
                }
                let now = self.now;
                let out = self.node(&to).handle(now, Input::Received(bytes));
                self.route(&to, out);
            }
            let names: Vec<String> = self.nodes.keys().cloned().collect();
            for name in names {
                if self.crashed.contains(&name) {
                    continue;
                }
                if self.nodes[&name]
                    .next_deadline()
                    .is_some_and(|d| d <= self.now)
                {
                    let now = self.now;
                    let out = self.node(&name).poll(now);
                    self.route(&name, out);
                }
            }
        }
        self.now = until;
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

#[test]
fn a_crashed_node_is_suspected_by_all_and_dead_no_sooner_than_promised() {
    let mut net = Net::new(5, 2);
    net.converge(Duration::from_millis(200)).expect("converged");
    net.run_for(Duration::from_millis(300));
    let fence = net.timing.fence_timing();
    let t0 = net.now;
    net.crashed.insert("node-2".into());
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
    use ferrolb_speaker::membership::wire::{Body, Datagram, Header};
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
    net.crashed.insert("node-1".into());
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
