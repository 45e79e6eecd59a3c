//! Router configuration shared by every daemon driver: one description of a
//! router and its neighbours, rendered into FRR, BIRD or GoBGP syntax, so a
//! test can swap the router under test without rewriting its setup.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;

use crate::lab::Host;
use crate::route::Family;

/// A router: its AS, identifier and neighbours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterConfig {
    pub asn: u32,
    pub router_id: Ipv4Addr,
    pub neighbors: Vec<Neighbor>,
    /// ECMP width installed into the kernel (FRR `maximum-paths`; BIRD
    /// merges equal paths with `merge paths on`).
    pub maximum_paths: u16,
    /// Advertise the graceful restart capability.
    pub graceful_restart: bool,
    /// Listen for BGP on this port instead of 179. The router still dials
    /// its neighbours' port 179, but a node dialling the router is refused:
    /// every session is one the router opened.
    pub listen_port: Option<u16>,
    /// BFD timers the router asks for (FRR: a bfdd profile; BIRD: `protocol
    /// bfd` interface and multihop options), in ms, with multiplier 3. The
    /// daemons' defaults (FRR 300 ms, BIRD 10 ms rx / 100 ms tx, ×5) when
    /// `None`.
    pub bfd_interval_ms: Option<u32>,
    /// Prefixes the router originates and sends its neighbours (FRR:
    /// `network`; BIRD: a static blackhole route exported over BGP), e.g. a
    /// router standing in for a speaker node. Neighbours marked
    /// [`Neighbor::no_export`] still get nothing.
    pub originate: Vec<IpNet>,
}

impl RouterConfig {
    pub fn new(asn: u32, router_id: Ipv4Addr) -> RouterConfig {
        RouterConfig {
            asn,
            router_id,
            neighbors: Vec::new(),
            maximum_paths: 8,
            graceful_restart: false,
            listen_port: None,
            bfd_interval_ms: None,
            originate: Vec::new(),
        }
    }

    /// A router facing speaker nodes: it peers with each node's LAN IPv4
    /// address in `node_as` and sends them nothing (a router would echo
    /// their routes back otherwise).
    pub fn facing_speakers(asn: u32, router: &Host, nodes: &[&Host], node_as: u32) -> RouterConfig {
        nodes
            .iter()
            .fold(RouterConfig::new(asn, router.ipv4), |c, n| {
                c.neighbor(Neighbor::new(n.ipv4.into(), node_as).no_export())
            })
    }

    pub fn neighbor(mut self, neighbor: Neighbor) -> RouterConfig {
        self.neighbors.push(neighbor);
        self
    }

    pub fn graceful_restart(mut self) -> RouterConfig {
        self.graceful_restart = true;
        self
    }

    /// Listens on `port` instead of 179 (see [`RouterConfig::listen_port`]).
    pub fn listen_port(mut self, port: u16) -> RouterConfig {
        self.listen_port = Some(port);
        self
    }

    /// Runs BFD with `ms` × 3 on this router's side (see
    /// [`RouterConfig::bfd_interval_ms`]).
    pub fn bfd_interval(mut self, ms: u32) -> RouterConfig {
        self.bfd_interval_ms = Some(ms);
        self
    }

    /// Originates `prefix` (see [`RouterConfig::originate`]).
    pub fn originate(mut self, prefix: IpNet) -> RouterConfig {
        self.originate.push(prefix);
        self
    }

    pub fn maximum_paths(mut self, paths: u16) -> RouterConfig {
        self.maximum_paths = paths;
        self
    }

    /// Whether any neighbour asks for BFD (then bfdd / `protocol bfd` run).
    pub fn uses_bfd(&self) -> bool {
        self.neighbors.iter().any(|n| n.bfd)
    }

    pub(crate) fn is_ibgp(&self, n: &Neighbor) -> bool {
        n.remote_as == self.asn
    }
}

/// A BGP neighbour of a lab router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbor {
    pub address: IpAddr,
    /// Set for a link-local IPv6 neighbour: the interface it is reached on.
    pub interface: Option<String>,
    pub remote_as: u32,
    /// TCP MD5 signature password (RFC 2385).
    pub password: Option<String>,
    /// (keepalive, hold) in seconds.
    pub timers: Option<(u16, u16)>,
    /// Address families exchanged; defaults to the family of `address`.
    pub families: Vec<Family>,
    pub bfd: bool,
    /// eBGP multihop TTL.
    pub multihop: Option<u8>,
    /// The router's own address for this session (BIRD `local`), which
    /// BIRD needs to run multihop BFD; for IPv4 the router ID serves.
    pub local: Option<IpAddr>,
    /// Wait for the neighbour to connect; never connect out.
    pub passive: bool,
    /// Send nothing to this neighbour (FRR would echo routes back to a
    /// speaker otherwise).
    pub no_export: bool,
    /// RFC 8654 extended messages (BIRD needs it switched on; FRR always
    /// offers it; GoBGP 3.10 lacks it).
    pub extended_messages: bool,
    /// RFC 8950: IPv4 routes with an IPv6 next hop (BIRD's `extended next
    /// hop on` in the IPv4 channel; FRR offers it by itself on an
    /// interface neighbour).
    pub extended_next_hop: bool,
}

impl Neighbor {
    pub fn new(address: IpAddr, remote_as: u32) -> Neighbor {
        Neighbor {
            address,
            interface: None,
            remote_as,
            password: None,
            timers: None,
            families: vec![Family::of(address)],
            bfd: false,
            multihop: None,
            local: None,
            passive: false,
            no_export: false,
            extended_messages: false,
            extended_next_hop: false,
        }
    }

    /// A link-local IPv6 neighbour reached on `interface`.
    pub fn link_local(mut self, interface: &str) -> Neighbor {
        self.interface = Some(interface.to_string());
        self
    }

    pub fn password(mut self, password: &str) -> Neighbor {
        self.password = Some(password.to_string());
        self
    }

    pub fn timers(mut self, keepalive: u16, hold: u16) -> Neighbor {
        self.timers = Some((keepalive, hold));
        self
    }

    pub fn families(mut self, families: &[Family]) -> Neighbor {
        self.families = families.to_vec();
        self
    }

    pub fn bfd(mut self) -> Neighbor {
        self.bfd = true;
        self
    }

    pub fn multihop(mut self, ttl: u8) -> Neighbor {
        self.multihop = Some(ttl);
        self
    }

    /// Sets [`Neighbor::local`].
    pub fn local(mut self, address: IpAddr) -> Neighbor {
        self.local = Some(address);
        self
    }

    pub fn passive(mut self) -> Neighbor {
        self.passive = true;
        self
    }

    pub fn no_export(mut self) -> Neighbor {
        self.no_export = true;
        self
    }

    pub fn extended_next_hop(mut self) -> Neighbor {
        self.extended_next_hop = true;
        self
    }

    pub fn extended_messages(mut self) -> Neighbor {
        self.extended_messages = true;
        self
    }
}
