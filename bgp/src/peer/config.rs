//! What a session with one peer is configured with.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use std::num::NonZeroU16;
use std::time::{Duration, Instant};

use crate::fsm::{self, BackoffConfig, BgpId, HoldTime, PeerAs, SessionConfig};
use crate::transport::{ConnectOptions, Password, TTL_DIRECT, TTL_MULTIHOP};
use crate::wire::{self, Afi, Asn, Capability, Open, Safi};

/// One BGP peer of this speaker. Two equal configurations describe the same
/// session: the speaker restarts a session only when its configuration changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    /// Shown in logs and status (the BGPPeer's name).
    pub name: String,
    /// The peer's address and TCP port.
    pub address: SocketAddr,
    /// Our address for the session; the kernel's choice when `None`.
    pub source: Option<IpAddr>,
    /// The VRF device the session lives in (its sockets are bound to it,
    /// both ways); the default VRF when `None`. Any device works: tests
    /// bind to an ordinary interface.
    pub vrf: Option<String>,
    /// Our AS.
    pub local_as: u32,
    /// Our BGP identifier (non-zero by construction).
    pub router_id: wire::BgpId,
    /// The AS the peer must have.
    pub peer_as: PeerAs,
    /// Hold time we propose.
    pub hold_time: HoldTime,
    /// Keepalive interval; a third of the negotiated hold time when `None`.
    pub keepalive: Option<NonZeroU16>,
    /// TCP MD5 password.
    pub password: Option<Password>,
    /// TTL of our packets: 1 for a directly connected eBGP peer.
    pub ttl: u8,
    /// Only accept the peer's connections; never connect.
    pub passive: bool,
    /// Families we offer.
    pub families: Vec<fsm::Family>,
    /// Graceful restart as the restarting speaker (RFC 4724); off when `None`.
    pub graceful_restart: Option<GracefulRestartConfig>,
    /// Offer RFC 8654 extended messages.
    pub extended_message: bool,
    /// Offer to take, and send when the peer offers it too, IPv4 routes
    /// with an IPv6 next hop (RFC 8950): unnumbered sessions have no IPv4
    /// address to put in NEXT_HOP.
    pub extended_next_hop: bool,
    /// NEXT_HOP of IPv4 routes; the session's local IPv4 address when `None`.
    pub next_hop_v4: Option<Ipv4Addr>,
    /// Next hop of IPv6 routes; the session's local IPv6 address when `None`.
    pub next_hop_v6: Option<Ipv6Addr>,
    /// How long one TCP connection attempt may take.
    pub connect_timeout: Duration,
    /// Pacing of reconnections.
    pub backoff: BackoffConfig,
}

/// Graceful restart (RFC 4724) with this speaker as the restarting side.
/// The capability lists every family we offer with the Forwarding State bit
/// set: the node forwards service traffic whether its speaker runs or not
/// (kube-proxy or the CNI does, never the speaker).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GracefulRestartConfig {
    /// Seconds the peer keeps our routes after the session drops, until a
    /// new session is up (12 bits: at most 4095).
    pub restart_time: u16,
    /// When this speaker started, if it is a restart (its previous life
    /// left routes behind): the Restart State bit goes out in OPENs until
    /// the session's first End-of-RIB, and never later than `restart_time`
    /// after this instant, when the peer has dropped what it kept. The same
    /// value for every session of a process, so the configuration of a
    /// session stays equal to itself.
    pub restarted_at: Option<Instant>,
}

impl GracefulRestartConfig {
    /// FRR's and BIRD's default restart time.
    pub const DEFAULT_RESTART_TIME: u16 = 120;
    /// The largest restart time the capability carries.
    pub const MAX_RESTART_TIME: u16 = 4095;

    /// Whether a restart began less than the restart time ago.
    pub fn within_restart(&self, now: Instant) -> bool {
        self.restarted_at.is_some_and(|at| {
            now.saturating_duration_since(at) < Duration::from_secs(u64::from(self.restart_time))
        })
    }

    /// The capability, for `families`, with the Restart State bit as given.
    pub fn capability(&self, families: &[fsm::Family], restart_state: bool) -> Capability {
        Capability::GracefulRestart(wire::GracefulRestart {
            restart_state,
            // No RFC 8538 N bit: a NOTIFICATION always means "forget my
            // routes"; a planned restart closes without one (ADR 0007).
            notification: false,
            restart_time: self.restart_time.min(Self::MAX_RESTART_TIME),
            families: families
                .iter()
                .map(|f| wire::GracefulRestartFamily {
                    afi: Afi(f.afi),
                    safi: Safi(f.safi),
                    forwarding_state: true,
                })
                .collect(),
        })
    }
}

impl PeerConfig {
    /// A peer on port 179 with FerroLB's defaults: hold time 90 s, IPv4 and
    /// IPv6 unicast, TTL 1 for an eBGP peer of a known AS (255 otherwise).
    pub fn new(
        name: impl Into<String>,
        address: IpAddr,
        local_as: u32,
        router_id: wire::BgpId,
        peer_as: PeerAs,
    ) -> PeerConfig {
        let ttl = match peer_as {
            PeerAs::Exact(asn) if asn != local_as => TTL_DIRECT,
            PeerAs::External => TTL_DIRECT,
            _ => TTL_MULTIHOP,
        };
        PeerConfig {
            name: name.into(),
            address: SocketAddr::new(address, 179),
            source: None,
            vrf: None,
            local_as,
            router_id,
            peer_as,
            hold_time: HoldTime::DEFAULT,
            keepalive: None,
            password: None,
            ttl,
            passive: false,
            families: vec![fsm::Family::IPV4_UNICAST, fsm::Family::IPV6_UNICAST],
            graceful_restart: None,
            extended_message: true,
            extended_next_hop: false,
            next_hop_v4: None,
            next_hop_v6: None,
            connect_timeout: Duration::from_secs(5),
            backoff: BackoffConfig::default(),
        }
    }

    pub(super) fn session_config(&self) -> SessionConfig {
        let mut config =
            SessionConfig::new(self.local_as, BgpId(self.router_id.get()), self.peer_as);
        config.hold_time = self.hold_time;
        config.keepalive = self.keepalive;
        config.families = self.families.clone();
        config.extended_message = self.extended_message;
        config.graceful_restart = self.graceful_restart.is_some();
        config.extended_next_hop = self.extended_next_hop;
        config.backoff = self.backoff;
        config
    }

    /// Our OPEN, advertising exactly what [`Self::session_config`] lets the
    /// FSM negotiate; `restart_state` sets the graceful restart capability's
    /// R bit (which negotiation does not look at).
    pub fn open(&self, restart_state: bool) -> Open {
        let mut capabilities: Vec<Capability> = self
            .families
            .iter()
            .map(|f| Capability::MultiProtocol {
                afi: Afi(f.afi),
                safi: Safi(f.safi),
            })
            .collect();
        capabilities.push(Capability::RouteRefresh);
        capabilities.push(Capability::FourOctetAs(Asn(self.local_as)));
        if self.extended_message {
            capabilities.push(Capability::ExtendedMessage);
        }
        if self.extended_next_hop {
            capabilities.push(Capability::ExtendedNextHop(vec![
                wire::IPV4_UNICAST_IPV6_NEXT_HOP,
            ]));
        }
        if let Some(gr) = &self.graceful_restart {
            capabilities.push(gr.capability(&self.families, restart_state));
        }
        // Both hold time types enforce RFC 4271's 0-or-at-least-3 rule, so
        // the conversion cannot fail.
        let hold = wire::HoldTime::new(self.hold_time.seconds()).unwrap_or(wire::HoldTime::DEFAULT);
        Open::new(Asn(self.local_as), hold, self.router_id, capabilities)
    }

    pub(super) fn connect_options(&self) -> ConnectOptions {
        ConnectOptions {
            peer: self.address,
            source: self.source,
            device: self.vrf.clone(),
            password: self.password.clone(),
            ttl: self.ttl,
            timeout: self.connect_timeout,
        }
    }
}
