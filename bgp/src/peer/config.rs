//! What a session with one peer is configured with.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use std::num::NonZeroU16;
use std::time::Duration;

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
    /// Advertise graceful restart with this restart time (seconds).
    pub graceful_restart: Option<u16>,
    /// Offer RFC 8654 extended messages.
    pub extended_message: bool,
    /// NEXT_HOP of IPv4 routes; the session's local IPv4 address when `None`.
    pub next_hop_v4: Option<Ipv4Addr>,
    /// Next hop of IPv6 routes; the session's local IPv6 address when `None`.
    pub next_hop_v6: Option<Ipv6Addr>,
    /// How long one TCP connection attempt may take.
    pub connect_timeout: Duration,
    /// Pacing of reconnections.
    pub backoff: BackoffConfig,
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
        config.backoff = self.backoff;
        config
    }

    /// Our OPEN, advertising exactly what [`Self::session_config`] lets the
    /// FSM negotiate.
    pub(super) fn open(&self) -> Open {
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
        if let Some(restart_time) = self.graceful_restart {
            capabilities.push(Capability::GracefulRestart(wire::GracefulRestart {
                restart_state: false,
                notification: false,
                restart_time: restart_time.min(4095),
                // A load balancer keeps no forwarding state across restarts.
                families: Vec::new(),
            }));
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
            password: self.password.clone(),
            ttl: self.ttl,
            timeout: self.connect_timeout,
        }
    }
}
