//! The mandatory section of a Control packet and its fields.

use super::auth;
use super::error::DecodeError;

/// The only version (RFC 5880 §4.1).
pub const VERSION: u8 = 1;
/// Bytes in the mandatory section, and in every packet FerroLB sends.
pub const MANDATORY_LEN: usize = 24;
/// The mandatory section plus the smallest authentication section's
/// type and length bytes (§6.8.6).
const MIN_LEN_WITH_AUTH: u8 = 26;

const FLAG_POLL: u8 = 0x20;
const FLAG_FINAL: u8 = 0x10;
const FLAG_CPI: u8 = 0x08;
const FLAG_AUTH: u8 = 0x04;
const FLAG_DEMAND: u8 = 0x02;
const FLAG_MULTIPOINT: u8 = 0x01;

/// A session state as carried in the Sta field (RFC 5880 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SessionState {
    /// 0: AdminDown.
    AdminDown,
    /// 1: Down.
    Down,
    /// 2: Init.
    Init,
    /// 3: Up.
    Up,
}

impl SessionState {
    fn from_bits(v: u8) -> SessionState {
        match v & 0x3 {
            0 => SessionState::AdminDown,
            1 => SessionState::Down,
            2 => SessionState::Init,
            _ => SessionState::Up,
        }
    }

    fn bits(self) -> u8 {
        match self {
            SessionState::AdminDown => 0,
            SessionState::Down => 1,
            SessionState::Init => 2,
            SessionState::Up => 3,
        }
    }

    /// The lower-case name MetalLB's and FRR's reports use.
    pub fn name(self) -> &'static str {
        match self {
            SessionState::AdminDown => "admin-down",
            SessionState::Down => "down",
            SessionState::Init => "init",
            SessionState::Up => "up",
        }
    }
}

impl std::fmt::Display for SessionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why the sender's session last changed state (RFC 5880 §4.1 Diag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Diagnostic {
    /// 0.
    NoDiagnostic,
    /// 1: the Detection Time passed without a packet.
    ControlDetectionTimeExpired,
    /// 2.
    EchoFunctionFailed,
    /// 3: the neighbor reported Down or AdminDown.
    NeighborSignaledSessionDown,
    /// 4.
    ForwardingPlaneReset,
    /// 5.
    PathDown,
    /// 6.
    ConcatenatedPathDown,
    /// 7: taken down by configuration.
    AdministrativelyDown,
    /// 8.
    ReverseConcatenatedPathDown,
    /// 9–31: reserved.
    Reserved(u8),
}

impl Diagnostic {
    fn from_bits(v: u8) -> Diagnostic {
        match v & 0x1f {
            0 => Diagnostic::NoDiagnostic,
            1 => Diagnostic::ControlDetectionTimeExpired,
            2 => Diagnostic::EchoFunctionFailed,
            3 => Diagnostic::NeighborSignaledSessionDown,
            4 => Diagnostic::ForwardingPlaneReset,
            5 => Diagnostic::PathDown,
            6 => Diagnostic::ConcatenatedPathDown,
            7 => Diagnostic::AdministrativelyDown,
            8 => Diagnostic::ReverseConcatenatedPathDown,
            other => Diagnostic::Reserved(other),
        }
    }

    fn bits(self) -> u8 {
        match self {
            Diagnostic::NoDiagnostic => 0,
            Diagnostic::ControlDetectionTimeExpired => 1,
            Diagnostic::EchoFunctionFailed => 2,
            Diagnostic::NeighborSignaledSessionDown => 3,
            Diagnostic::ForwardingPlaneReset => 4,
            Diagnostic::PathDown => 5,
            Diagnostic::ConcatenatedPathDown => 6,
            Diagnostic::AdministrativelyDown => 7,
            Diagnostic::ReverseConcatenatedPathDown => 8,
            Diagnostic::Reserved(v) => v & 0x1f,
        }
    }

    /// RFC 5880's name for it, as people read it in an Event or a log.
    pub fn description(self) -> &'static str {
        match self {
            Diagnostic::NoDiagnostic => "no diagnostic",
            Diagnostic::ControlDetectionTimeExpired => "control detection time expired",
            Diagnostic::EchoFunctionFailed => "echo function failed",
            Diagnostic::NeighborSignaledSessionDown => "neighbor signaled session down",
            Diagnostic::ForwardingPlaneReset => "forwarding plane reset",
            Diagnostic::PathDown => "path down",
            Diagnostic::ConcatenatedPathDown => "concatenated path down",
            Diagnostic::AdministrativelyDown => "administratively down",
            Diagnostic::ReverseConcatenatedPathDown => "reverse concatenated path down",
            Diagnostic::Reserved(_) => "reserved diagnostic",
        }
    }
}

/// A Control packet without authentication: what FerroLB sends, and what
/// it accepts. Intervals are in microseconds, as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlPacket {
    /// Diag.
    pub diag: Diagnostic,
    /// Sta.
    pub state: SessionState,
    /// P: the sender asks for a packet with F set.
    pub poll: bool,
    /// F: the answer to a Poll.
    pub final_: bool,
    /// C: the sender's BFD does not share fate with its control plane.
    pub control_plane_independent: bool,
    /// D: the sender wants Demand mode.
    pub demand: bool,
    /// Detect Mult.
    pub detect_mult: u8,
    /// My Discriminator (never zero in a valid packet).
    pub my_discriminator: u32,
    /// Your Discriminator (zero until the sender has heard from us).
    pub your_discriminator: u32,
    /// Desired Min TX Interval, µs.
    pub desired_min_tx: u32,
    /// Required Min RX Interval, µs.
    pub required_min_rx: u32,
    /// Required Min Echo RX Interval, µs (zero: no Echo packets).
    pub required_min_echo_rx: u32,
}

impl ControlPacket {
    /// The 24 bytes on the wire (A and M clear, Length 24).
    pub fn encode(&self) -> [u8; MANDATORY_LEN] {
        let mut out = [0u8; MANDATORY_LEN];
        out[0] = VERSION << 5 | self.diag.bits();
        let mut flags = self.state.bits() << 6;
        for (on, bit) in [
            (self.poll, FLAG_POLL),
            (self.final_, FLAG_FINAL),
            (self.control_plane_independent, FLAG_CPI),
            (self.demand, FLAG_DEMAND),
        ] {
            if on {
                flags |= bit;
            }
        }
        out[1] = flags;
        out[2] = self.detect_mult;
        out[3] = MANDATORY_LEN as u8;
        for (i, v) in [
            self.my_discriminator,
            self.your_discriminator,
            self.desired_min_tx,
            self.required_min_rx,
            self.required_min_echo_rx,
        ]
        .into_iter()
        .enumerate()
        {
            out[4 + 4 * i..8 + 4 * i].copy_from_slice(&v.to_be_bytes());
        }
        out
    }
}

fn word(bytes: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(w)
}

/// Decodes one UDP payload, applying the packet-level rules of RFC 5880
/// §6.8.6 in the RFC's order. Bytes past the Length field are ignored.
pub fn decode(payload: &[u8]) -> Result<ControlPacket, DecodeError> {
    if payload.len() < MANDATORY_LEN {
        return Err(DecodeError::Truncated { got: payload.len() });
    }
    let version = payload[0] >> 5;
    if version != VERSION {
        return Err(DecodeError::Version(version));
    }
    let flags = payload[1];
    let authenticated = flags & FLAG_AUTH != 0;
    let length = payload[3];
    let minimum = if authenticated {
        MIN_LEN_WITH_AUTH
    } else {
        MANDATORY_LEN as u8
    };
    if length < minimum {
        return Err(DecodeError::LengthTooShort { length, minimum });
    }
    if usize::from(length) > payload.len() {
        return Err(DecodeError::LengthBeyondPayload {
            length,
            payload: payload.len(),
        });
    }
    let detect_mult = payload[2];
    if detect_mult == 0 {
        return Err(DecodeError::ZeroDetectMult);
    }
    if flags & FLAG_MULTIPOINT != 0 {
        return Err(DecodeError::Multipoint);
    }
    let my_discriminator = word(payload, 4);
    if my_discriminator == 0 {
        return Err(DecodeError::ZeroMyDiscriminator);
    }
    let your_discriminator = word(payload, 8);
    let state = SessionState::from_bits(flags >> 6);
    if your_discriminator == 0 && !matches!(state, SessionState::Down | SessionState::AdminDown) {
        return Err(DecodeError::ZeroYourDiscriminator(state));
    }
    if authenticated {
        let section = &payload[MANDATORY_LEN..usize::from(length)];
        let auth = auth::parse(section, MANDATORY_LEN)?;
        return Err(DecodeError::AuthenticationNotSupported(auth));
    }
    Ok(ControlPacket {
        diag: Diagnostic::from_bits(payload[0]),
        state,
        poll: flags & FLAG_POLL != 0,
        final_: flags & FLAG_FINAL != 0,
        control_plane_independent: flags & FLAG_CPI != 0,
        demand: flags & FLAG_DEMAND != 0,
        detect_mult,
        my_discriminator,
        your_discriminator,
        desired_min_tx: word(payload, 12),
        required_min_rx: word(payload, 16),
        required_min_echo_rx: word(payload, 20),
    })
}
