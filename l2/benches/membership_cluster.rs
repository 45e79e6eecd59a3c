//! What the membership's pure core costs per datagram, against the
//! cluster's size: `n` [`Membership`]s in one process exchange their
//! datagrams on a virtual clock (each delivered 100 µs after it was
//! sent), with every member's hardware set as a speaker sets it. After a
//! warm-up (everyone sees everyone), one virtual second of steady state is
//! measured: the CPU of every `handle` and `poll` of every member, divided
//! by the datagrams they received. The lab's `make bench-nodes` measures
//! the whole speaker (socket, runtime, driver) on the same curve.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferrolb_l2::membership::{Input, Key, Membership, MembershipTiming, Output};

const LATENCY: Duration = Duration::from_micros(100);

/// A datagram on its way: arrival, a tiebreak in sending order, the
/// receiver's index, the bytes.
type InFlight = Reverse<(Instant, u64, usize, Vec<u8>)>;

struct Cluster {
    members: Vec<Membership>,
    /// Each member's `next_deadline`, kept as it changes (only the member
    /// that ran can have a new one): the harness must not cost `O(n²)`
    /// per event itself.
    deadlines: Vec<Option<Instant>>,
    names: Vec<String>,
    wire: BinaryHeap<InFlight>,
    sent: u64,
    now: Instant,
    received: u64,
}

impl Cluster {
    fn new(n: usize) -> Cluster {
        let now = Instant::now();
        let key = Key::new(b"bench".to_vec());
        let names: Vec<String> = (0..n).map(|i| format!("node-{i:02}")).collect();
        let known: BTreeSet<String> = names.iter().cloned().collect();
        let mut cluster = Cluster {
            members: Vec::new(),
            deadlines: Vec::new(),
            names: names.clone(),
            wire: BinaryHeap::new(),
            sent: 0,
            now,
            received: 0,
        };
        for (i, name) in names.iter().enumerate() {
            let mut m = Membership::new(name, key.clone(), MembershipTiming::default(), now, 1);
            let out = m.handle(now, Input::SetKnown(known.clone()));
            cluster.members.push(m);
            cluster.deadlines.push(None);
            cluster.ran(i, now, out);
            let octet = u8::try_from(i).unwrap_or(u8::MAX);
            let mac = BTreeSet::from([[2, 0, 0, 0, 0, octet]]);
            let out = cluster.members[i].handle(now, Input::SetHardware(mac));
            cluster.ran(i, now, out);
        }
        cluster
    }

    fn route(&mut self, now: Instant, outputs: Vec<Output>) {
        for output in outputs {
            if let Output::Send { to, bytes } = output
                && let Ok(i) = self.names.binary_search(&to)
            {
                self.sent += 1;
                self.wire
                    .push(Reverse((now + LATENCY, self.sent, i, bytes)));
            }
        }
    }

    fn ran(&mut self, i: usize, now: Instant, outputs: Vec<Output>) {
        self.deadlines[i] = self.members[i].next_deadline();
        self.route(now, outputs);
    }

    /// Runs every member and delivers every datagram until `until`.
    fn run(&mut self, until: Instant) {
        loop {
            let next_datagram = self.wire.peek().map(|Reverse((t, ..))| *t);
            let next_timer = self
                .deadlines
                .iter()
                .enumerate()
                .filter_map(|(i, t)| t.map(|t| (t, i)))
                .min();
            match (next_datagram, next_timer) {
                (Some(t), timer) if t <= until && timer.is_none_or(|(d, _)| t <= d) => {
                    let Some(Reverse((t, _, i, bytes))) = self.wire.pop() else {
                        return;
                    };
                    self.now = t;
                    self.received += 1;
                    let out = self.members[i].handle(t, Input::Received(bytes));
                    self.ran(i, t, out);
                }
                (_, Some((t, i))) if t <= until => {
                    self.now = t;
                    let out = self.members[i].poll(t);
                    self.ran(i, t, out);
                }
                _ => return,
            }
        }
    }

    fn everyone_sees_everyone(&self) -> bool {
        self.members
            .iter()
            .all(|m| m.view().reachable.len() == self.members.len())
    }
}

/// A cluster of `n` members in steady state.
fn settled(n: usize) -> Cluster {
    let mut cluster = Cluster::new(n);
    for _ in 0..100 {
        let until = cluster.now + Duration::from_millis(100);
        cluster.run(until);
        if cluster.everyone_sees_everyone() {
            // A little longer, for the first sweeps' answers to settle.
            let until = cluster.now + Duration::from_millis(500);
            cluster.run(until);
            return cluster;
        }
    }
    panic!("{n} members did not all see each other within 10 s of virtual time");
}

fn steady_state(c: &mut Criterion) {
    let mut group = c.benchmark_group("membership_steady_second");
    group.sample_size(10);
    for n in [3usize, 10, 20, 50] {
        let mut cluster = settled(n);
        // Datagrams per virtual second, to report time per datagram.
        let before = cluster.received;
        let until = cluster.now + Duration::from_secs(1);
        cluster.run(until);
        let per_second = cluster.received - before;
        group.throughput(Throughput::Elements(per_second));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter_custom(|iterations| {
                let mut elapsed = Duration::ZERO;
                for _ in 0..iterations {
                    let until = cluster.now + Duration::from_secs(1);
                    let start = Instant::now();
                    cluster.run(black_box(until));
                    elapsed += start.elapsed();
                }
                elapsed
            });
        });
        assert!(cluster.everyone_sees_everyone(), "{n} members fell apart");
    }
    group.finish();
}

criterion_group!(benches, steady_state);
criterion_main!(benches);
