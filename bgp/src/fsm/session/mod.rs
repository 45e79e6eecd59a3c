//! The session: the FSM of RFC 4271 §8 over up to two connections.

mod messages;
mod open;
mod start_stop;
mod tcp;
mod teardown;
mod timers;

use super::action::{Action, NegotiatedSession};
use super::backoff::Backoff;
use super::config::SessionConfig;
use super::connection::{Connection, Stage};
use super::event::{ConnectionId, Event};
use super::state::State;
use super::time::Millis;

/// [`Session::reconfigure`] outside Idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the session can only be reconfigured in Idle, it is in {0}")]
pub struct NotIdle(pub State);

/// How the session looks for its peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartMode {
    /// Connect to the peer and accept its connections.
    Active,
    /// Only accept the peer's connections (RFC 4271 PassiveTcpEstablishment).
    Passive,
}

/// Counters the driver can export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionStats {
    /// How many times the session reached Established.
    pub established: u64,
    /// How many times an Established session went down.
    pub flaps: u64,
    /// Consecutive failed attempts since the last Established or ManualStop
    /// (RFC 4271 ConnectRetryCounter); drives the backoff.
    pub connect_retry_counter: u32,
}

/// One BGP session with one peer, as a pure state machine.
///
/// The driver feeds it [`Event`]s with [`handle`](Self::handle), calls
/// [`poll_timers`](Self::poll_timers) whenever [`next_deadline`](Self::next_deadline)
/// has passed, and carries out the returned [`Action`]s in order. Nothing here
/// reads a clock, touches a socket or draws randomness by itself.
#[derive(Debug, Clone)]
pub struct Session {
    config: SessionConfig,
    /// Set by a manual start, cleared by ManualStop: only an enabled session
    /// restarts by itself.
    enabled: bool,
    mode: StartMode,
    /// Out of Idle.
    running: bool,
    /// At most two: the collision case of RFC 4271 §6.8.
    conns: Vec<Connection>,
    connect_retry_deadline: Option<Millis>,
    restart_deadline: Option<Millis>,
    backoff: Backoff,
    /// When the current Established connection came up.
    up_since: Option<Millis>,
    next_outbound: u64,
    stats: SessionStats,
}

impl Session {
    /// A session in Idle. `jitter_seed` seeds the backoff jitter: the driver
    /// should pass a random value so that speakers do not retry in lockstep.
    pub fn new(config: SessionConfig, jitter_seed: u64) -> Self {
        let backoff = Backoff::new(config.backoff, jitter_seed);
        Self {
            config,
            enabled: false,
            mode: StartMode::Active,
            running: false,
            conns: Vec::with_capacity(2),
            connect_retry_deadline: None,
            restart_deadline: None,
            backoff,
            up_since: None,
            next_outbound: 0,
            stats: SessionStats::default(),
        }
    }

    /// The configuration the session validates and negotiates with.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Replaces the configuration. Only in Idle: once an OPEN is out, the
    /// FSM must keep validating against what was advertised. For a live
    /// session, send [`Event::AdminReset`] first: the new configuration then
    /// applies from the automatic restart on.
    pub fn reconfigure(&mut self, config: SessionConfig) -> Result<(), NotIdle> {
        if self.running {
            return Err(NotIdle(self.state()));
        }
        self.backoff.set_config(config.backoff);
        self.config = config;
        Ok(())
    }

    /// The RFC 4271 state: with two connections, the more advanced one's.
    pub fn state(&self) -> State {
        if !self.running {
            return State::Idle;
        }
        self.conns
            .iter()
            .map(Connection::state)
            .max()
            .unwrap_or(State::Active)
    }

    /// The Established connection and what was negotiated on it, if any.
    pub fn established(&self) -> Option<(ConnectionId, &NegotiatedSession)> {
        self.conns.iter().find_map(|c| match &c.stage {
            Stage::Established(s) => Some((c.id, s.as_ref())),
            _ => None,
        })
    }

    /// The connections the session currently tracks.
    pub fn connections(&self) -> Vec<ConnectionId> {
        self.conns.iter().map(|c| c.id).collect()
    }

    /// Counters.
    pub fn stats(&self) -> SessionStats {
        SessionStats {
            connect_retry_counter: self.backoff.failures(),
            ..self.stats
        }
    }

    /// Applies one event and returns what the driver must do, in order.
    pub fn handle(&mut self, now: Millis, event: Event) -> Vec<Action> {
        let name = event.name();
        self.traced(name, |s, out| s.dispatch(now, event, out))
    }

    fn dispatch(&mut self, now: Millis, event: Event, out: &mut Vec<Action>) {
        match event {
            Event::ManualStart => self.manual_start(now, StartMode::Active, out),
            Event::ManualStartPassive => self.manual_start(now, StartMode::Passive, out),
            Event::AdminReset { reason } => self.admin_reset(now, &reason, out),
            Event::BfdDown => self.bfd_down(now, out),
            Event::AutomaticStart => self.start(now, self.mode, out),
            Event::ManualStop { reason } => self.manual_stop(now, &reason, out),
            Event::GracefulStop { reason } => self.graceful_stop(now, &reason, out),
            Event::TcpConnectionConfirmed { conn } => self.tcp_accepted(now, conn, out),
            Event::TcpConnectionSucceeded { conn } => self.tcp_connected(now, conn, out),
            Event::TcpConnectionFails { conn } => self.tcp_failed(now, conn, out),
            Event::OpenReceived { conn, open } => self.open_received(now, conn, &open, out),
            Event::KeepaliveReceived { conn } => self.keepalive_received(now, conn, out),
            Event::UpdateReceived { conn } | Event::RouteRefreshReceived { conn } => {
                self.update_received(now, conn, out)
            }
            Event::UpdateSent { conn } => self.update_sent(now, conn),
            Event::NotificationReceived {
                conn,
                code,
                subcode,
            } => self.notification_received(now, conn, code, subcode, out),
            Event::MessageDecodeError { conn, notification } => {
                self.decode_error(now, conn, notification, out)
            }
        }
    }

    /// Runs one step and logs the state change it caused, if any.
    fn traced(
        &mut self,
        event: &'static str,
        step: impl FnOnce(&mut Self, &mut Vec<Action>),
    ) -> Vec<Action> {
        let from = self.state();
        let mut out = Vec::new();
        step(self, &mut out);
        let to = self.state();
        if from != to {
            tracing::debug!(%from, %to, event, "bgp session state change");
        }
        out
    }

    fn find_mut(&mut self, id: ConnectionId) -> Option<&mut Connection> {
        self.conns.iter_mut().find(|c| c.id == id)
    }
}
