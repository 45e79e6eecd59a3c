//! One BFD session: the state variables of RFC 5880 §6.8.1 and the rules
//! that move them.

use std::num::NonZeroU32;

use super::action::Action;
use super::jitter::Jitter;
use super::time::Micros;
use super::timers::{SLOW_TX_US, SessionConfig, Timers};
use crate::wire::{ControlPacket, Diagnostic, SessionState};

/// A BFD session in asynchronous mode, without authentication or Demand
/// mode of its own (a peer's Demand mode is honoured).
#[derive(Debug, Clone)]
pub struct Session {
    config: SessionConfig,
    local_discr: u32,
    state: SessionState,
    remote_state: SessionState,
    remote_discr: u32,
    local_diag: Diagnostic,
    /// bfd.RemoteMinRxInterval: 1 µs until the peer says otherwise (§6.8.1).
    remote_min_rx_us: u32,
    /// The peer's last Desired Min TX Interval, for the Detection Time.
    remote_desired_min_tx_us: u32,
    /// The peer's last Detect Mult; zero until it has spoken.
    remote_detect_mult: u8,
    remote_demand: bool,
    /// What our packets advertise.
    advertised: Timers,
    /// bfd.DesiredMinTxInterval as it paces our packets: an increase waits
    /// for the Poll Sequence to end (§6.8.3).
    tx_in_effect_us: u32,
    /// bfd.RequiredMinRxInterval as it enters the Detection Time: a
    /// reduction waits for the Poll Sequence to end (§6.8.3).
    rx_in_effect_us: u32,
    polling: bool,
    /// The timers changed again while a Poll Sequence ran.
    poll_again: bool,
    last_tx: Option<Micros>,
    next_tx: Option<Micros>,
    /// The un-jittered interval `next_tx` was scheduled with.
    scheduled_interval: Option<u64>,
    last_rx: Option<Micros>,
    detect_at: Option<Micros>,
    jitter: Jitter,
}

impl Session {
    /// A session in Down with our discriminator `local_discr`; the first
    /// packet is due at once unless the session is passive.
    pub fn new(config: SessionConfig, local_discr: NonZeroU32, seed: u64, now: Micros) -> Session {
        let advertised = Timers {
            desired_min_tx_us: config.timers.desired_min_tx_us.max(SLOW_TX_US),
            ..config.timers
        };
        let mut session = Session {
            config,
            local_discr: local_discr.get(),
            state: SessionState::Down,
            remote_state: SessionState::Down,
            remote_discr: 0,
            local_diag: Diagnostic::NoDiagnostic,
            remote_min_rx_us: 1,
            remote_desired_min_tx_us: 0,
            remote_detect_mult: 0,
            remote_demand: false,
            advertised,
            tx_in_effect_us: advertised.desired_min_tx_us,
            rx_in_effect_us: advertised.required_min_rx_us,
            polling: false,
            poll_again: false,
            last_tx: None,
            next_tx: None,
            scheduled_interval: None,
            last_rx: None,
            detect_at: None,
            jitter: Jitter::new(seed),
        };
        if session.tx_interval_us().is_some() {
            session.next_tx = Some(now);
        }
        session
    }

    /// bfd.SessionState.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// bfd.RemoteSessionState.
    pub fn remote_state(&self) -> SessionState {
        self.remote_state
    }

    /// bfd.LocalDiscr.
    pub fn local_discriminator(&self) -> u32 {
        self.local_discr
    }

    /// bfd.RemoteDiscr (zero until the peer is heard, and again after a
    /// Detection Time without it).
    pub fn remote_discriminator(&self) -> u32 {
        self.remote_discr
    }

    /// bfd.LocalDiag: why the state last changed.
    pub fn local_diag(&self) -> Diagnostic {
        self.local_diag
    }

    /// The configuration the session runs with.
    pub fn config(&self) -> SessionConfig {
        self.config
    }

    /// The timers our packets carry now.
    pub fn advertised(&self) -> Timers {
        self.advertised
    }

    /// Whether a Poll Sequence is running.
    pub fn polling(&self) -> bool {
        self.polling
    }

    /// The Detection Time (§6.8.4): the peer's Detect Mult times the
    /// greater of our RequiredMinRx (in effect) and its last Desired Min
    /// TX; `None` until the peer has spoken.
    pub fn detection_time_us(&self) -> Option<u64> {
        (self.remote_detect_mult > 0).then(|| {
            u64::from(self.remote_detect_mult)
                * u64::from(self.rx_in_effect_us.max(self.remote_desired_min_tx_us))
        })
    }

    /// The un-jittered interval between our periodic packets (§6.8.7), or
    /// `None` when none may be sent: a passive session that has not heard
    /// the peer, a peer that asks for none (RequiredMinRx 0), or a peer in
    /// Demand mode with both sides Up.
    pub fn tx_interval_us(&self) -> Option<u64> {
        if self.config.passive && self.remote_discr == 0 {
            return None;
        }
        if self.remote_min_rx_us == 0 {
            return None;
        }
        if self.remote_demand
            && self.state == SessionState::Up
            && self.remote_state == SessionState::Up
            && !self.polling
        {
            return None;
        }
        Some(u64::from(self.tx_in_effect_us.max(self.remote_min_rx_us)))
    }

    /// When [`Session::poll_timers`] is next due.
    pub fn next_deadline(&self) -> Option<Micros> {
        match (self.next_tx, self.detect_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A received packet, valid by [`crate::wire::decode`], that the shell
    /// demultiplexed to this session (§6.8.6 from "Set bfd.RemoteDiscr").
    pub fn receive(&mut self, now: Micros, packet: &ControlPacket) -> Vec<Action> {
        let mut out = Vec::new();
        if packet.your_discriminator != 0 && packet.your_discriminator != self.local_discr {
            return out;
        }
        self.remote_discr = packet.my_discriminator;
        self.remote_state = packet.state;
        self.remote_demand = packet.demand;
        self.remote_min_rx_us = packet.required_min_rx;
        self.remote_desired_min_tx_us = packet.desired_min_tx;
        self.remote_detect_mult = packet.detect_mult;
        if packet.final_ && self.polling {
            self.end_poll();
        }
        self.last_rx = Some(now);
        if self.state == SessionState::AdminDown {
            self.detect_at = None;
            self.reschedule(now);
            return out;
        }
        self.rearm_detection();
        self.reschedule(now);
        match (self.state, packet.state) {
            (
                SessionState::Down | SessionState::Init | SessionState::Up,
                SessionState::AdminDown,
            ) if self.state != SessionState::Down => {
                self.change_state(
                    now,
                    SessionState::Down,
                    Diagnostic::NeighborSignaledSessionDown,
                    &mut out,
                );
            }
            (SessionState::Down, SessionState::Down) => {
                self.change_state(now, SessionState::Init, self.local_diag, &mut out);
            }
            (SessionState::Down, SessionState::Init)
            | (SessionState::Init, SessionState::Init | SessionState::Up) => {
                self.change_state(now, SessionState::Up, Diagnostic::NoDiagnostic, &mut out);
            }
            (SessionState::Up, SessionState::Down) => {
                self.change_state(
                    now,
                    SessionState::Down,
                    Diagnostic::NeighborSignaledSessionDown,
                    &mut out,
                );
            }
            _ => {}
        }
        if packet.poll {
            // §6.8.7: at once, whatever the transmit timer says.
            out.push(Action::Send(self.packet(false, true)));
        }
        out
    }

    /// Fires what is due at `now`: the Detection Time, then our periodic packet.
    pub fn poll_timers(&mut self, now: Micros) -> Vec<Action> {
        let mut out = Vec::new();
        if self.detect_at.is_some_and(|t| t <= now) {
            self.detect_at = None;
            // §6.8.1: the peer's discriminator is forgotten after a
            // Detection Time of silence, in every state.
            self.remote_discr = 0;
            self.remote_detect_mult = 0;
            if matches!(self.state, SessionState::Init | SessionState::Up) {
                self.change_state(
                    now,
                    SessionState::Down,
                    Diagnostic::ControlDetectionTimeExpired,
                    &mut out,
                );
            } else {
                self.reschedule(now);
            }
        }
        if self.next_tx.is_some_and(|t| t <= now) {
            self.send_periodic(now, &mut out);
        }
        out
    }

    /// New timers from the profile; while Up, a change of the intervals
    /// starts a Poll Sequence (§6.8.3).
    pub fn set_timers(&mut self, now: Micros, timers: Timers) -> Vec<Action> {
        self.config.timers = timers;
        self.apply_timers();
        self.rearm_detection();
        self.reschedule(now);
        Vec::new()
    }

    /// Takes or leaves the Passive role.
    pub fn set_passive(&mut self, now: Micros, passive: bool) -> Vec<Action> {
        self.config.passive = passive;
        self.reschedule(now);
        Vec::new()
    }

    /// Takes the session administratively down (§6.8.16): the peer hears
    /// AdminDown and must not treat it as a failure.
    pub fn admin_down(&mut self, now: Micros) -> Vec<Action> {
        let mut out = Vec::new();
        if self.state != SessionState::AdminDown {
            self.detect_at = None;
            self.change_state(
                now,
                SessionState::AdminDown,
                Diagnostic::AdministrativelyDown,
                &mut out,
            );
        }
        out
    }

    /// Leaves AdminDown for Down.
    pub fn admin_up(&mut self, now: Micros) -> Vec<Action> {
        let mut out = Vec::new();
        if self.state == SessionState::AdminDown {
            self.change_state(now, SessionState::Down, Diagnostic::NoDiagnostic, &mut out);
        }
        out
    }

    fn change_state(
        &mut self,
        now: Micros,
        to: SessionState,
        diag: Diagnostic,
        out: &mut Vec<Action>,
    ) {
        let from = self.state;
        self.state = to;
        self.local_diag = diag;
        out.push(Action::StateChanged { from, to, diag });
        self.apply_timers();
        self.rearm_detection();
        // Tell the peer at once rather than a (slow) interval later.
        if self.tx_interval_us().is_some() {
            self.send_periodic(now, out);
        } else {
            self.reschedule(now);
        }
    }

    /// Moves the advertised timers to what the configuration and state ask
    /// for (§6.8.3): at most 1 s apart from Up; while Up a change polls,
    /// and an increase of TX or a decrease of RX waits for the Final.
    fn apply_timers(&mut self) {
        let up = self.state == SessionState::Up;
        let wanted = Timers {
            desired_min_tx_us: if up {
                self.config.timers.desired_min_tx_us
            } else {
                self.config.timers.desired_min_tx_us.max(SLOW_TX_US)
            },
            ..self.config.timers
        };
        let intervals_changed = wanted.desired_min_tx_us != self.advertised.desired_min_tx_us
            || wanted.required_min_rx_us != self.advertised.required_min_rx_us;
        self.advertised = wanted;
        if !up {
            self.polling = false;
            self.poll_again = false;
            self.tx_in_effect_us = wanted.desired_min_tx_us;
            self.rx_in_effect_us = wanted.required_min_rx_us;
            return;
        }
        if !intervals_changed {
            return;
        }
        self.tx_in_effect_us = self.tx_in_effect_us.min(wanted.desired_min_tx_us);
        self.rx_in_effect_us = self.rx_in_effect_us.max(wanted.required_min_rx_us);
        if self.polling {
            self.poll_again = true;
        } else {
            self.polling = true;
        }
    }

    fn end_poll(&mut self) {
        self.tx_in_effect_us = self.advertised.desired_min_tx_us;
        self.rx_in_effect_us = self.advertised.required_min_rx_us;
        // A Final may answer a Poll that carried the older values: ask again.
        self.polling = std::mem::take(&mut self.poll_again);
    }

    fn rearm_detection(&mut self) {
        if self.state == SessionState::AdminDown {
            return;
        }
        if let (Some(rx), Some(time)) = (self.last_rx, self.detection_time_us()) {
            self.detect_at = Some(rx.plus(time));
        }
    }

    /// Schedules the next periodic packet after the interval changed (or
    /// sending became allowed or forbidden).
    fn reschedule(&mut self, now: Micros) {
        let interval = self.tx_interval_us();
        if interval == self.scheduled_interval && (self.next_tx.is_some() || interval.is_none()) {
            return;
        }
        self.scheduled_interval = interval;
        self.next_tx = interval.map(|i| {
            let due = match self.last_tx {
                Some(last) => last.plus(self.jitter.apply(i, self.config.timers.detect_mult)),
                None => now,
            };
            due.max(now)
        });
    }

    fn send_periodic(&mut self, now: Micros, out: &mut Vec<Action>) {
        out.push(Action::Send(self.packet(self.polling, false)));
        self.last_tx = Some(now);
        self.scheduled_interval = self.tx_interval_us();
        self.next_tx = self
            .scheduled_interval
            .map(|i| now.plus(self.jitter.apply(i, self.config.timers.detect_mult)));
    }

    fn packet(&self, poll: bool, final_: bool) -> ControlPacket {
        ControlPacket {
            diag: self.local_diag,
            state: self.state,
            poll,
            final_,
            control_plane_independent: false,
            demand: false,
            detect_mult: self.advertised.detect_mult,
            my_discriminator: self.local_discr,
            your_discriminator: self.remote_discr,
            desired_min_tx: self.advertised.desired_min_tx_us,
            required_min_rx: self.advertised.required_min_rx_us,
            // No Echo function: we loop no Echo packets back.
            required_min_echo_rx: 0,
        }
    }
}
