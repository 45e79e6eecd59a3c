//! The session state machine with time moved by hand: two sessions wired
//! back to back through a simulated link (delay, loss, cut), and the RFC
//! 5880 rules checked on what each one sends and when.

use std::collections::VecDeque;
use std::num::NonZeroU32;

use ferrolb_bfd::fsm::{Action, Micros, SLOW_TX_US, Session, SessionConfig, Timers};
use ferrolb_bfd::wire::{ControlPacket, Diagnostic, SessionState, decode};
use proptest::prelude::*;

const MS: u64 = 1_000;

fn config(tx_ms: u32, rx_ms: u32, mult: u8, passive: bool) -> SessionConfig {
    SessionConfig {
        timers: Timers {
            desired_min_tx_us: tx_ms * 1_000,
            required_min_rx_us: rx_ms * 1_000,
            detect_mult: mult,
        },
        passive,
    }
}

fn discr(v: u32) -> NonZeroU32 {
    NonZeroU32::new(v).expect("nonzero")
}

/// What one side sent, when.
#[derive(Debug, Clone)]
struct Sent {
    at: Micros,
    packet: ControlPacket,
}

/// Two sessions and the packets in flight between them.
struct Lab {
    sides: [Session; 2],
    now: Micros,
    /// (deliver at, to side, packet)
    flight: VecDeque<(Micros, usize, ControlPacket)>,
    delay_us: u64,
    /// Packets from side i are lost while `cut[i]`.
    cut: [bool; 2],
    sent: [Vec<Sent>; 2],
    changes: [Vec<(Micros, SessionState, SessionState, Diagnostic)>; 2],
}

impl Lab {
    fn new(a: SessionConfig, b: SessionConfig) -> Lab {
        Lab {
            sides: [
                Session::new(a, discr(11), 1, Micros(0)),
                Session::new(b, discr(22), 2, Micros(0)),
            ],
            now: Micros(0),
            flight: VecDeque::new(),
            delay_us: 200,
            cut: [false; 2],
            sent: [Vec::new(), Vec::new()],
            changes: [Vec::new(), Vec::new()],
        }
    }

    fn apply(&mut self, side: usize, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Send(packet) => {
                    // What we send must pass our own decoder's checks.
                    assert_eq!(
                        decode(&packet.encode()),
                        Ok(packet),
                        "side {side} sent {packet:?}"
                    );
                    self.sent[side].push(Sent {
                        at: self.now,
                        packet,
                    });
                    if !self.cut[side] {
                        let at = self.now.plus(self.delay_us);
                        let pos = self.flight.partition_point(|(t, _, _)| *t <= at);
                        self.flight.insert(pos, (at, 1 - side, packet));
                    }
                }
                Action::StateChanged { from, to, diag } => {
                    self.changes[side].push((self.now, from, to, diag))
                }
            }
        }
    }

    /// Runs every event up to `until`, in time order.
    fn run_until(&mut self, until: Micros) {
        loop {
            let timers = [0, 1].map(|i| self.sides[i].next_deadline());
            let next_packet = self.flight.front().map(|(t, _, _)| *t);
            let next = timers.iter().flatten().copied().chain(next_packet).min();
            let Some(next) = next.filter(|t| *t <= until) else {
                self.now = until;
                return;
            };
            self.now = next;
            if next_packet == Some(next) {
                let (_, to, packet) = self.flight.pop_front().expect("front");
                let actions = self.sides[to].receive(next, &packet);
                self.apply(to, actions);
                continue;
            }
            for (i, deadline) in timers.iter().enumerate() {
                if *deadline == Some(next) {
                    let actions = self.sides[i].poll_timers(next);
                    self.apply(i, actions);
                }
            }
        }
    }

    fn up(&self) -> bool {
        self.sides.iter().all(|s| s.state() == SessionState::Up)
    }
}

#[test]
fn three_way_handshake_brings_both_up() {
    let mut lab = Lab::new(config(300, 300, 3, false), config(300, 300, 3, false));
    lab.run_until(Micros(100 * MS));
    assert!(lab.up(), "{:?}", lab.changes);
    // Both sent Down first; each side passes Init or jumps Down -> Up.
    for side in 0..2 {
        assert_eq!(lab.sent[side][0].packet.state, SessionState::Down);
        assert_eq!(lab.sent[side][0].packet.your_discriminator, 0);
        let last = lab.changes[side].last().expect("a change");
        assert_eq!(last.2, SessionState::Up);
    }
    assert_eq!(lab.sides[0].remote_discriminator(), 22);
    assert_eq!(lab.sides[1].remote_discriminator(), 11);
}

#[test]
fn slow_one_second_rate_until_up_then_poll_to_the_profile() {
    // Side 1 passive and silent: side 0 stays Down and sends every 0.75-1 s.
    let mut lab = Lab::new(config(50, 50, 3, false), config(50, 50, 3, false));
    lab.cut = [true, true];
    lab.run_until(Micros(10_000 * MS));
    let down = &lab.sent[0];
    assert!(
        down.len() >= 10 && down.len() <= 14,
        "{} packets",
        down.len()
    );
    for w in down.windows(2) {
        let gap = w[1].at.0 - w[0].at.0;
        assert!((750 * MS..=1_000 * MS).contains(&gap), "gap {gap}");
        assert_eq!(w[1].packet.desired_min_tx, SLOW_TX_US);
    }
    // Now let them talk: Up, then the Poll carries 50 ms and the rate follows.
    lab.cut = [false, false];
    lab.run_until(Micros(13_000 * MS));
    assert!(lab.up());
    let up_at = lab.changes[0].last().expect("up").0;
    let after: Vec<&Sent> = lab.sent[0].iter().filter(|s| s.at >= up_at).collect();
    assert!(
        after
            .iter()
            .any(|s| s.packet.poll && s.packet.desired_min_tx == 50_000)
    );
    assert!(!lab.sides[0].polling(), "the peer's Final ended the Poll");
    let tail: Vec<&Sent> = after.iter().rev().take(20).copied().collect();
    for w in tail.windows(2) {
        let gap = w[0].at.0 - w[1].at.0;
        assert!(gap <= 50 * MS, "gap {gap} after Up");
    }
}

#[test]
fn silence_for_the_detection_time_takes_the_session_down() {
    let mut lab = Lab::new(config(50, 50, 3, false), config(100, 100, 4, false));
    lab.run_until(Micros(5_000 * MS));
    assert!(lab.up());
    // Cut side 1's packets: side 0 detects after 4 × max(50, 100) ms.
    let last_from_1 = lab.sent[1].last().expect("sent").at;
    lab.cut[1] = true;
    lab.run_until(Micros(6_000 * MS));
    let (at, from, to, diag) = *lab.changes[0].last().expect("change");
    assert_eq!(
        (from, to, diag),
        (
            SessionState::Up,
            SessionState::Down,
            Diagnostic::ControlDetectionTimeExpired
        )
    );
    let expected = last_from_1.0 + lab.delay_us + 400 * MS;
    assert!(
        at.0 <= expected + 100 * MS && at.0 >= expected,
        "{at} vs {expected}"
    );
    assert_eq!(lab.sides[0].remote_discriminator(), 0);
    // Side 1 hears Down from side 0 and follows with diag 3.
    let (_, _, to1, diag1) = *lab.changes[1].last().expect("change");
    assert_eq!(
        (to1, diag1),
        (SessionState::Down, Diagnostic::NeighborSignaledSessionDown)
    );
}

#[test]
fn admin_down_is_signalled_not_detected() {
    let mut lab = Lab::new(config(300, 300, 3, false), config(300, 300, 3, false));
    lab.run_until(Micros(3_000 * MS));
    assert!(lab.up());
    let now = lab.now;
    let actions = lab.sides[0].admin_down(now);
    lab.apply(0, actions);
    lab.run_until(Micros(10_000 * MS));
    assert_eq!(lab.sides[0].state(), SessionState::AdminDown);
    assert_eq!(lab.sides[1].state(), SessionState::Down);
    let (_, _, _, diag) = *lab.changes[1].last().expect("change");
    assert_eq!(diag, Diagnostic::NeighborSignaledSessionDown);
    assert!(
        lab.sent[0]
            .last()
            .is_some_and(|s| s.packet.state == SessionState::AdminDown
                && s.packet.diag == Diagnostic::AdministrativelyDown)
    );
    // Back up.
    let now = lab.now;
    let actions = lab.sides[0].admin_up(now);
    lab.apply(0, actions);
    lab.run_until(Micros(15_000 * MS));
    assert!(lab.up());
}

#[test]
fn passive_side_waits_for_the_peer() {
    let mut lab = Lab::new(config(300, 300, 3, true), config(300, 300, 3, true));
    lab.run_until(Micros(5_000 * MS));
    assert!(lab.sent[0].is_empty() && lab.sent[1].is_empty());
    let mut lab = Lab::new(config(300, 300, 3, true), config(300, 300, 3, false));
    lab.run_until(Micros(5_000 * MS));
    assert!(lab.up());
    let first_active = lab.sent[1][0].at;
    assert!(lab.sent[0][0].at > first_active);
}

#[test]
fn timer_change_while_up_polls_and_increase_waits_for_final() {
    let mut lab = Lab::new(config(50, 50, 3, false), config(50, 50, 3, false));
    lab.run_until(Micros(5_000 * MS));
    assert!(lab.up());
    // Side 1 stops answering: side 0's Poll for 500 ms gets no Final.
    lab.cut[1] = true;
    let now = lab.now;
    lab.sides[0].set_timers(
        now,
        Timers {
            desired_min_tx_us: 500_000,
            required_min_rx_us: 500_000,
            detect_mult: 3,
        },
    );
    lab.run_until(Micros(5_100 * MS));
    let since: Vec<&Sent> = lab.sent[0].iter().filter(|s| s.at > now).collect();
    assert!(
        since
            .iter()
            .all(|s| s.packet.poll && s.packet.desired_min_tx == 500_000)
    );
    assert!(
        since.len() >= 2,
        "still at the old 50 ms rate: {}",
        since.len()
    );
    // The Final arrives: now the 500 ms rate applies.
    lab.cut[1] = false;
    lab.run_until(Micros(5_200 * MS));
    assert!(!lab.sides[0].polling());
    let mark = lab.now;
    lab.run_until(Micros(8_200 * MS));
    let later = lab.sent[0].iter().filter(|s| s.at > mark).count();
    assert!((5..=8).contains(&later), "{later} packets in 3 s at 500 ms");
    assert!(lab.up());
}

#[test]
fn poll_is_answered_at_once_with_final() {
    let mut s = Session::new(config(300, 300, 3, false), discr(5), 9, Micros(0));
    let _ = s.poll_timers(Micros(0));
    let mut p = ControlPacket {
        diag: Diagnostic::NoDiagnostic,
        state: SessionState::Down,
        poll: true,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_mult: 3,
        my_discriminator: 7,
        your_discriminator: 0,
        desired_min_tx: 1_000_000,
        required_min_rx: 1_000_000,
        required_min_echo_rx: 0,
    };
    let actions = s.receive(Micros(10), &p);
    let finals: Vec<_> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(p) if p.final_ => Some(*p),
            _ => None,
        })
        .collect();
    assert_eq!(finals.len(), 1);
    assert!(!finals[0].poll);
    assert_eq!(finals[0].state, SessionState::Init);
    assert_eq!(finals[0].your_discriminator, 7);
    // Your Discriminator that is not ours: discarded, no state change.
    p.your_discriminator = 99;
    p.state = SessionState::Init;
    assert!(s.receive(Micros(20), &p).is_empty());
    assert_eq!(s.state(), SessionState::Init);
}

#[test]
fn peer_in_demand_mode_gets_no_periodic_packets() {
    let mut lab = Lab::new(config(50, 50, 3, false), config(50, 50, 3, false));
    lab.run_until(Micros(3_000 * MS));
    assert!(lab.up());
    let now = lab.now;
    let mut p = lab.sent[1].last().expect("sent").packet;
    p.demand = true;
    p.poll = false;
    p.final_ = false;
    let _ = lab.sides[0].receive(now, &p);
    assert_eq!(lab.sides[0].tx_interval_us(), None);
}

fn jitter_gaps(mult: u8) -> Vec<u64> {
    let mut lab = Lab::new(config(100, 100, mult, false), config(100, 100, 3, false));
    lab.run_until(Micros(3_000 * MS));
    let mark = lab.now;
    lab.run_until(Micros(13_000 * MS));
    let s: Vec<&Sent> = lab.sent[0]
        .iter()
        .filter(|s| s.at > mark && !s.packet.final_)
        .collect();
    s.windows(2).map(|w| w[1].at.0 - w[0].at.0).collect()
}

#[test]
fn jitter_stays_within_section_6_8_7() {
    let gaps = jitter_gaps(3);
    assert!(
        gaps.iter().all(|g| (75 * MS..=100 * MS).contains(g)),
        "{gaps:?}"
    );
    assert!(gaps.iter().min() != gaps.iter().max(), "no jitter at all");
    let gaps = jitter_gaps(1);
    assert!(
        gaps.iter().all(|g| (75 * MS..=90 * MS).contains(g)),
        "{gaps:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any timers, any delay below the detection time: the sessions come
    /// Up within a few slow intervals and never fall back while the link holds.
    #[test]
    fn sessions_come_up_and_stay_up(
        tx in proptest::array::uniform2(10u32..2000),
        rx in proptest::array::uniform2(10u32..2000),
        mult in proptest::array::uniform2(2u8..10),
        delay in 0u64..9_000,
        passive in 0usize..3,
    ) {
        let mut lab = Lab::new(
            config(tx[0], rx[0], mult[0], passive == 1),
            config(tx[1], rx[1], mult[1], false),
        );
        lab.delay_us = delay;
        lab.run_until(Micros(5_000 * MS));
        prop_assert!(lab.up(), "{:?}", lab.changes);
        let changes = lab.changes.clone();
        lab.run_until(Micros(30_000 * MS));
        prop_assert_eq!(&lab.changes, &changes);
        // Every packet sent while not Up advertised at least 1 s.
        for side in 0..2 {
            for s in &lab.sent[side] {
                if s.packet.state != SessionState::Up {
                    prop_assert!(s.packet.desired_min_tx >= SLOW_TX_US);
                }
            }
        }
    }

    /// Random cuts and timer changes never break an invariant, and the
    /// sessions recover once the link is whole.
    #[test]
    fn any_history_recovers(steps in proptest::collection::vec((0u8..6, 1u64..3_000), 1..20)) {
        let mut lab = Lab::new(config(50, 50, 3, false), config(300, 300, 3, false));
        for (what, ms) in steps {
            let now = lab.now;
            match what {
                0 => lab.cut[0] = !lab.cut[0],
                1 => lab.cut[1] = !lab.cut[1],
                2 => { let a = lab.sides[0].set_timers(now, Timers { desired_min_tx_us: 20_000 * u32::from(ms as u8 % 5 + 1), required_min_rx_us: 30_000, detect_mult: 3 }); lab.apply(0, a); }
                3 => { let a = lab.sides[1].admin_down(now); lab.apply(1, a); }
                4 => { let a = lab.sides[1].admin_up(now); lab.apply(1, a); }
                _ => { let a = lab.sides[0].set_passive(now, ms % 2 == 0); lab.apply(0, a); }
            }
            lab.run_until(lab.now.plus(ms * MS));
        }
        lab.cut = [false, false];
        let now = lab.now;
        let a = lab.sides[1].admin_up(now);
        lab.apply(1, a);
        let a = lab.sides[0].set_passive(now, false);
        lab.apply(0, a);
        lab.run_until(lab.now.plus(10_000 * MS));
        prop_assert!(lab.up(), "{:?}", lab.changes);
    }
}
