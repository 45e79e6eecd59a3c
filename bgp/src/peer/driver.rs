//! The per-peer task: state machine, connections, Adj-RIB-Out.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use bytes::BytesMut;
use ipnet::IpNet;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, info, warn};

use super::attributes::RouteAttributes;
use super::config::PeerConfig;
use super::connection::{Connection, Input};
use super::outbound::Outbound;
use super::status::PeerStatus;
use super::translate;
use crate::adj_rib_out::AdjRibOut;
use crate::fsm::{Action, ConnectionId, Event, Millis, NegotiatedSession, Session};
use crate::transport;
use crate::wire::{self, Message};

/// Commands are few and small; a caller that outruns the session waits.
const COMMAND_QUEUE: usize = 16;
/// Messages read ahead of the driver per session.
const INPUT_QUEUE: usize = 64;

enum Command {
    SetRoutes(BTreeMap<IpNet, RouteAttributes>),
    UpdateRoutes(Vec<(IpNet, Option<RouteAttributes>)>),
    BfdDown,
    Shutdown {
        reason: String,
        /// For a planned restart: keep the routes where graceful restart
        /// was negotiated.
        restarting: bool,
        done: oneshot::Sender<()>,
    },
}

/// Closes a session the moment the BFD session watching its path goes
/// down (RFC 5882 §4.3), from wherever that is noticed: it holds only the
/// session's command queue.
#[derive(Clone)]
pub struct BfdDownTrigger(mpsc::Sender<Command>);

impl BfdDownTrigger {
    /// Closes the session with Cease / BFD Down (RFC 9384); it comes back
    /// after the backoff delay, as after any reset.
    pub async fn fire(&self) {
        let _ = self.0.send(Command::BfdDown).await;
    }
}

/// A running session with one peer. Dropping it stops the session without
/// a goodbye; call [`Peer::shutdown`] to withdraw and close properly.
pub struct Peer {
    commands: mpsc::Sender<Command>,
    inbound: mpsc::Sender<TcpStream>,
    status: watch::Receiver<PeerStatus>,
    task: Option<JoinHandle<()>>,
}

impl Peer {
    /// Starts the session task.
    pub fn spawn(config: PeerConfig) -> Peer {
        let (commands_tx, commands) = mpsc::channel(COMMAND_QUEUE);
        let (inbound_tx, inbound) = mpsc::channel(2);
        let (status_tx, status) = watch::channel(PeerStatus::default());
        let span = tracing::info_span!("peer", name = %config.name, addr = %config.address.ip());
        let driver = Driver::new(config, commands, inbound, status_tx);
        let task = tokio::spawn(driver.run().instrument(span));
        Peer {
            commands: commands_tx,
            inbound: inbound_tx,
            status,
            task: Some(task),
        }
    }

    /// Replaces the routes announced to the peer; only the difference goes
    /// out, whenever the session is up.
    pub async fn set_routes(&self, routes: BTreeMap<IpNet, RouteAttributes>) {
        let _ = self.commands.send(Command::SetRoutes(routes)).await;
    }

    /// Changes some routes announced to the peer (`None`: withdrawn),
    /// after [`Peer::set_routes`] handed the table: a pass that changed
    /// a few routes does not hand every other one again.
    pub async fn update_routes(&self, changes: Vec<(IpNet, Option<RouteAttributes>)>) {
        if !changes.is_empty() {
            let _ = self.commands.send(Command::UpdateRoutes(changes)).await;
        }
    }

    /// What a BFD session calls to close this session when it goes down.
    pub fn bfd_down_trigger(&self) -> BfdDownTrigger {
        BfdDownTrigger(self.commands.clone())
    }

    /// Hands over a connection the peer opened to our listener. Returns
    /// `false` if the session cannot take it now.
    pub fn accept(&self, stream: TcpStream) -> bool {
        self.inbound.try_send(stream).is_ok()
    }

    /// Where an acceptor sends this peer's inbound connections.
    pub fn inbound(&self) -> mpsc::Sender<TcpStream> {
        self.inbound.clone()
    }

    /// The session's current status.
    pub fn status(&self) -> PeerStatus {
        self.status.borrow().clone()
    }

    /// A receiver that sees every status change.
    pub fn watch(&self) -> watch::Receiver<PeerStatus> {
        self.status.clone()
    }

    /// Withdraws every route, closes the session with Cease / Administrative
    /// Shutdown carrying `reason` (RFC 9003), and waits for the task to end.
    pub async fn shutdown(self, reason: &str) {
        self.stop(reason, false).await
    }

    /// Closes the session for a planned restart of this speaker. Where
    /// graceful restart was negotiated nothing is withdrawn and the
    /// connection closes without NOTIFICATION: the peer keeps our routes as
    /// stale for our restart time (RFC 4724 §4.2). Otherwise as
    /// [`Peer::shutdown`].
    pub async fn stop_for_restart(self, reason: &str) {
        self.stop(reason, true).await
    }

    async fn stop(mut self, reason: &str, restarting: bool) {
        let (done, finished) = oneshot::channel();
        let command = Command::Shutdown {
            reason: reason.to_string(),
            restarting,
            done,
        };
        if self.commands.send(command).await.is_ok() {
            let _ = finished.await;
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// The Established session.
struct Up {
    conn: ConnectionId,
    /// How this session's routes are encoded.
    outbound: Outbound,
    /// End-of-RIB is owed after the first full table.
    eor_pending: bool,
    /// Both sides negotiated graceful restart (RFC 4724).
    graceful_restart: bool,
}

struct Driver {
    config: PeerConfig,
    fsm: Session,
    origin: Instant,
    our_open: wire::Open,
    connections: BTreeMap<ConnectionId, Connection>,
    connecting: BTreeMap<ConnectionId, JoinHandle<()>>,
    inputs_tx: mpsc::Sender<Input>,
    inputs: mpsc::Receiver<Input>,
    commands: mpsc::Receiver<Command>,
    inbound: mpsc::Receiver<TcpStream>,
    next_inbound: u64,
    rib: AdjRibOut<RouteAttributes>,
    up: Option<Up>,
    /// The speaker handed us a table: before, an End-of-RIB would tell a
    /// peer that kept our routes through our restart to drop them all.
    table_known: bool,
    /// An End-of-RIB went out: this session's restart, if any, is over and
    /// our OPENs stop claiming one.
    restart_done: bool,
    status_tx: watch::Sender<PeerStatus>,
    status: PeerStatus,
    actions: VecDeque<Action>,
}

impl Driver {
    fn new(
        config: PeerConfig,
        commands: mpsc::Receiver<Command>,
        inbound: mpsc::Receiver<TcpStream>,
        status_tx: watch::Sender<PeerStatus>,
    ) -> Driver {
        let (inputs_tx, inputs) = mpsc::channel(INPUT_QUEUE);
        // Speakers started together must not retry in lockstep: seed the
        // jitter from something that differs between them.
        let seed = u64::from(config.router_id.get()) << 32
            | u64::from(config.address.port())
                ^ SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64);
        Driver {
            fsm: Session::new(config.session_config(), seed),
            our_open: config.open(false),
            config,
            origin: Instant::now(),
            connections: BTreeMap::new(),
            connecting: BTreeMap::new(),
            inputs_tx,
            inputs,
            commands,
            inbound,
            next_inbound: 0,
            rib: AdjRibOut::new(),
            up: None,
            table_known: false,
            restart_done: false,
            status_tx,
            status: PeerStatus::default(),
            actions: VecDeque::new(),
        }
    }

    fn now(&self) -> Millis {
        Millis::from_duration(self.origin.elapsed())
    }

    fn handle(&mut self, event: Event) {
        let now = self.now();
        let actions = self.fsm.handle(now, event);
        self.actions.extend(actions);
    }

    async fn run(mut self) {
        let start = if self.config.passive {
            Event::ManualStartPassive
        } else {
            Event::ManualStart
        };
        self.handle(start);
        loop {
            self.execute().await;
            if self.up.is_some() && (self.rib.has_changes() || self.eor_due()) {
                self.flush().await;
                self.execute().await;
            }
            self.publish();
            let deadline = self
                .fsm
                .next_deadline()
                .map(|m| self.origin + Duration::from_millis(m.0));
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(Command::SetRoutes(routes)) => {
                        self.table_known = true;
                        self.rib.replace_all(routes);
                    }
                    Some(Command::UpdateRoutes(changes)) => {
                        // The table is known once set_routes handed it
                        // whole; changes alone do not make it so.
                        for (prefix, attrs) in changes {
                            self.rib.set(prefix, attrs);
                        }
                    }
                    Some(Command::BfdDown) => {
                        if self.up.is_some() {
                            warn!("BFD session down: closing the BGP session");
                            self.status.last_error = Some("BFD session down".to_string());
                        }
                        self.handle(Event::BfdDown);
                    }
                    Some(Command::Shutdown { reason, restarting, done }) => {
                        self.shutdown(&reason, restarting).await;
                        let _ = done.send(());
                        return;
                    }
                    None => {
                        self.shutdown("speaker stopped", false).await;
                        return;
                    }
                },
                Some(input) = self.inputs.recv() => self.on_input(input),
                Some(stream) = self.inbound.recv() => self.on_inbound(stream),
                _ = sleep_until(deadline), if deadline.is_some() => {
                    let now = self.now();
                    let actions = self.fsm.poll_timers(now);
                    self.actions.extend(actions);
                }
            }
        }
    }

    fn on_inbound(&mut self, stream: TcpStream) {
        let conn = ConnectionId::inbound(self.next_inbound);
        self.next_inbound += 1;
        match Connection::start(conn, stream, self.inputs_tx.clone()) {
            Ok(connection) => {
                debug!(%conn, "peer connected to us");
                self.connections.insert(conn, connection);
                self.handle(Event::TcpConnectionConfirmed { conn });
            }
            Err(e) => warn!(%conn, error = %e, "cannot use an inbound connection"),
        }
    }

    fn on_input(&mut self, input: Input) {
        match input {
            Input::Connected { conn, result } => {
                self.connecting.remove(&conn);
                match result
                    .and_then(|stream| Connection::start(conn, stream, self.inputs_tx.clone()))
                {
                    Ok(connection) => {
                        debug!(%conn, local = %connection.local, "connected");
                        self.connections.insert(conn, connection);
                        self.handle(Event::TcpConnectionSucceeded { conn });
                    }
                    Err(e) => {
                        debug!(%conn, error = %e, "connection attempt failed");
                        self.status.last_error = Some(format!("connect: {e}"));
                        self.handle(Event::TcpConnectionFails { conn });
                    }
                }
            }
            Input::Frame { conn, frame } => self.on_frame(conn, &frame),
            Input::BadFrame { conn, error } => {
                warn!(%conn, %error, "malformed message header");
                self.status.last_error = Some(error.to_string());
                let notification = translate::fsm_notification(&error.notification());
                self.handle(Event::MessageDecodeError { conn, notification });
            }
            Input::Closed { conn, error } => {
                if self.connections.remove(&conn).is_some() {
                    match &error {
                        Some(e) => debug!(%conn, error = %e, "connection failed"),
                        None => debug!(%conn, "peer closed the connection"),
                    }
                    if let Some(e) = error {
                        self.status.last_error = Some(format!("connection: {e}"));
                    }
                    self.handle(Event::TcpConnectionFails { conn });
                }
            }
        }
    }

    fn on_frame(&mut self, conn: ConnectionId, frame: &[u8]) {
        let Some(connection) = self.connections.get_mut(&conn) else {
            return;
        };
        self.status.messages_received += 1;
        let decoded = match wire::decode_message(frame, &connection.receive_codec()) {
            Ok(decoded) => decoded,
            Err(error) => {
                warn!(%conn, %error, "malformed message");
                self.status.last_error = Some(error.to_string());
                let notification = translate::fsm_notification(&error.notification());
                self.handle(Event::MessageDecodeError { conn, notification });
                return;
            }
        };
        let event = match decoded.message {
            Message::Open(open) => {
                connection.negotiated = Some(wire::negotiate(&self.our_open, &open));
                Event::OpenReceived {
                    conn,
                    open: translate::peer_open(&open),
                }
            }
            Message::Keepalive => Event::KeepaliveReceived { conn },
            Message::Notification(n) => {
                let message = n.shutdown_message().and_then(Result::ok).unwrap_or("");
                warn!(%conn, code = n.code, subcode = n.subcode, message, "peer sent NOTIFICATION");
                self.status.last_error = Some(format!(
                    "peer sent NOTIFICATION {}/{} {message}",
                    n.code, n.subcode
                ));
                Event::NotificationReceived {
                    conn,
                    code: n.code,
                    subcode: n.subcode,
                }
            }
            Message::RouteRefresh(_) => {
                if self.up.as_ref().is_some_and(|u| u.conn == conn) {
                    // Send the whole table again.
                    self.rib.session_down();
                }
                Event::RouteRefreshReceived { conn }
            }
            Message::Update(_) => {
                if let Some(update) = (wire::Decoded {
                    message: decoded.message,
                    outcome: decoded.outcome,
                })
                .into_update()
                {
                    let v4 = update.ipv4_unicast();
                    let v6 = update.ipv6_unicast();
                    self.status.prefixes_received[0] += v4.announced.len() as u64;
                    self.status.prefixes_received[1] += v6.announced.len() as u64;
                    self.status.withdrawals_received[0] += v4.withdrawn.len() as u64;
                    self.status.withdrawals_received[1] += v6.withdrawn.len() as u64;
                }
                Event::UpdateReceived { conn }
            }
        };
        self.handle(event);
    }

    /// Carries out queued actions in order; write failures feed back as
    /// events and their actions run too.
    async fn execute(&mut self) {
        while let Some(action) = self.actions.pop_front() {
            match action {
                Action::Connect { conn } => {
                    let options = self.config.connect_options();
                    let inputs = self.inputs_tx.clone();
                    let task = tokio::spawn(async move {
                        let result = transport::connect(&options).await;
                        let _ = inputs.send(Input::Connected { conn, result }).await;
                    });
                    self.connecting.insert(conn, task);
                }
                Action::Disconnect { conn } => {
                    if let Some(task) = self.connecting.remove(&conn) {
                        task.abort();
                    }
                    if let Some(connection) = self.connections.remove(&conn) {
                        connection.close().await;
                    }
                }
                Action::SendOpen { conn } => {
                    let restart_state = self.restarting();
                    if restart_state {
                        debug!(%conn, "restarted: Restart State bit set");
                    }
                    let message = Message::Open(self.config.open(restart_state));
                    self.send_message(conn, &message).await;
                }
                Action::SendKeepalive { conn } => {
                    self.send_message(conn, &Message::Keepalive).await
                }
                Action::SendNotification { conn, notification } => {
                    warn!(%conn, code = notification.code, subcode = notification.subcode, "sending NOTIFICATION");
                    let message = Message::Notification(translate::notification(&notification));
                    self.send_message(conn, &message).await;
                }
                Action::SessionUp { conn, session } => self.session_up(conn, session),
                Action::SessionDown { conn, reason } => {
                    warn!(%conn, ?reason, "session down");
                    self.up = None;
                    self.rib.session_down();
                    self.status.established_since = None;
                }
            }
        }
    }

    /// Whether our OPENs say we restarted (RFC 4724 §4.1): this speaker
    /// restarted less than the restart time ago, and no End-of-RIB has gone
    /// out since.
    fn restarting(&self) -> bool {
        !self.restart_done
            && self
                .config
                .graceful_restart
                .is_some_and(|gr| gr.within_restart(Instant::now()))
    }

    /// End-of-RIB is owed and the table it closes is known.
    fn eor_due(&self) -> bool {
        self.table_known && self.up.as_ref().is_some_and(|u| u.eor_pending)
    }

    fn session_up(&mut self, conn: ConnectionId, session: NegotiatedSession) {
        let Some(connection) = self.connections.get_mut(&conn) else {
            return;
        };
        // A peer that takes nothing for a hold time is as dead as one
        // that sends nothing for a hold time.
        connection.set_stall_limit(session.hold_time.duration());
        let connection = &*connection;
        info!(
            %conn,
            peer_as = session.peer_as,
            hold = session.hold_time.seconds(),
            families = ?session.families,
            extended = session.extended_message,
            graceful_restart = session.graceful_restart.is_some(),
            "session established"
        );
        self.status.established_since = Some(SystemTime::now());
        self.status.established_count += 1;
        self.status.last_error = None;
        self.up = Some(Up {
            conn,
            outbound: Outbound::for_session(
                &session,
                connection.send_codec(),
                connection.local.ip(),
                &self.config,
            ),
            eor_pending: true,
            graceful_restart: session.graceful_restart.is_some(),
        });
        // Whatever the peer had from an earlier session is gone with it.
        self.rib.session_down();
    }

    async fn send_message(&mut self, conn: ConnectionId, message: &Message) {
        let Some(connection) = self.connections.get_mut(&conn) else {
            return;
        };
        let bytes = match message.to_bytes(&connection.send_codec()) {
            Ok(bytes) => bytes,
            Err(e) => {
                warn!(%conn, error = %e, "cannot encode a message");
                return;
            }
        };
        self.write(conn, &bytes).await;
    }

    async fn write(&mut self, conn: ConnectionId, bytes: &[u8]) -> bool {
        let Some(connection) = self.connections.get_mut(&conn) else {
            return false;
        };
        match connection.send(bytes).await {
            Ok(()) => true,
            Err(e) => {
                debug!(%conn, error = %e, "write failed");
                self.status.last_error = Some(format!("write: {e}"));
                self.connections.remove(&conn);
                self.handle(Event::TcpConnectionFails { conn });
                false
            }
        }
    }

    /// Sends the Adj-RIB-Out's changes, packed, then End-of-RIB after the
    /// first full table.
    async fn flush(&mut self) {
        let Some(up) = &self.up else {
            return;
        };
        let changes = self.rib.take_changes();
        let (messages, skipped) = up.outbound.encode(&changes);
        if let Some(why) = skipped {
            warn!("{why}");
            self.status.last_error = Some(why);
        }
        let mut out = BytesMut::new();
        let mut count = 0u64;
        for m in &messages {
            out.extend_from_slice(m);
            count += 1;
        }
        let conn = up.conn;
        let eor = self.eor_due();
        if eor {
            for eor in up.outbound.end_of_rib() {
                match eor {
                    Ok(bytes) => out.extend_from_slice(&bytes),
                    Err(e) => warn!(error = %e, "cannot encode End-of-RIB"),
                }
            }
        }
        if out.is_empty() {
            return;
        }
        debug!(
            updates = count,
            bytes = out.len(),
            routes = changes.len(),
            "sending"
        );
        if self.write(conn, &out).await {
            self.status.messages_sent += count;
            self.status.updates_sent += count;
            if eor && let Some(up) = &mut self.up {
                up.eor_pending = false;
                self.restart_done = true;
                debug!("End-of-RIB sent");
            }
            self.handle(Event::UpdateSent { conn });
        }
    }

    /// Withdraws and closes; for a planned restart (`restarting`), a
    /// session with graceful restart keeps its routes and closes silently.
    async fn shutdown(&mut self, reason: &str, restarting: bool) {
        let keep = restarting && self.up.as_ref().is_some_and(|u| u.graceful_restart);
        info!(reason, keep_routes = keep, "shutting down");
        if self.up.is_some() && !keep {
            // Withdraw first, so the peer stops forwarding to us at once,
            // whatever it does with the NOTIFICATION.
            self.rib.replace_all(std::iter::empty());
            self.flush().await;
        }
        let reason = reason.to_string();
        self.handle(if restarting {
            Event::GracefulStop { reason }
        } else {
            Event::ManualStop { reason }
        });
        self.execute().await;
        for (_, task) in std::mem::take(&mut self.connecting) {
            task.abort();
        }
        for (_, connection) in std::mem::take(&mut self.connections) {
            connection.close().await;
        }
        self.publish();
    }

    fn publish(&mut self) {
        self.status.state = self.fsm.state();
        self.status.prefixes_announced = if self.up.is_some() {
            self.rib.wanted_len()
        } else {
            0
        };
        if *self.status_tx.borrow() != self.status {
            self.status_tx.send_replace(self.status.clone());
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}
