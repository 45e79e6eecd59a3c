//! GoBGP as a lab router or as a comparison speaker. Routes are loaded
//! through its gRPC API (the `gobgp` client), never `mrt inject`, which
//! drops routes in 3.10.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use crate::cmd;
use crate::config::RouterConfig;
use crate::daemon::{Daemon, DaemonSpec};
use crate::error::{LabError, Result};
use crate::lab::{Host, Lab};
use crate::prereq;
use crate::route::{
    AsSegment, Community, Family, LargeCommunity, Origin, Path, Rib, Router, SessionState,
};
use crate::wait::Probe;

/// A running gobgpd.
pub struct Gobgp {
    host: Host,
    dir: PathBuf,
    socket: String,
    daemon: Arc<Daemon>,
}

/// A route for GoBGP to originate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    pub prefix: IpNet,
    pub communities: Vec<Community>,
    pub large_communities: Vec<LargeCommunity>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
}

impl Announcement {
    pub fn new(prefix: IpNet) -> Announcement {
        Announcement {
            prefix,
            communities: Vec::new(),
            large_communities: Vec::new(),
            med: None,
            local_pref: None,
        }
    }
}

/// gobgpd's configuration file cannot originate routes, and routes added
/// through its API do not survive [`Gobgp::restart`]: a config asking for
/// them is refused rather than half honoured.
fn refuse_originate(config: &RouterConfig) -> Result<()> {
    if config.originate.is_empty() {
        Ok(())
    } else {
        Err(LabError::Invalid(format!(
            "the GoBGP driver cannot originate {:?} from its configuration; use Gobgp::announce",
            config.originate
        )))
    }
}

impl Gobgp {
    /// Writes the configuration and starts gobgpd on `host`.
    pub fn start(lab: &Lab, host: &Host, config: &RouterConfig) -> Result<Gobgp> {
        refuse_originate(config)?;
        prereq::require_program("gobgpd", "gobgpd")?;
        prereq::require_program("gobgp", "gobgpd")?;
        let dir: PathBuf = lab.state_dir(host, "gobgp")?;
        let conf = dir.join("gobgpd.toml");
        std::fs::write(&conf, render(host, config))
            .map_err(|e| LabError::io(format!("cannot write {}", conf.display()), e))?;
        let socket = format!("unix://{}", dir.join("gobgp.sock").display());
        let daemon = spawn(lab, host, &dir, &socket)?;
        let gobgp = Gobgp {
            host: host.clone(),
            dir,
            socket,
            daemon,
        };
        gobgp.wait_ready(lab)?;
        Ok(gobgp)
    }

    /// Replaces gobgpd's configuration and restarts it with it.
    pub fn reconfigure(&mut self, lab: &Lab, config: &RouterConfig) -> Result<()> {
        refuse_originate(config)?;
        let conf = self.dir.join("gobgpd.toml");
        std::fs::write(&conf, render(&self.host, config))
            .map_err(|e| LabError::io(format!("cannot write {}", conf.display()), e))?;
        self.restart(lab)
    }

    /// Stops gobgpd and starts it again with the same configuration: a
    /// router restart, as its peers see it. Routes originated through the
    /// API are gone with it, as with a real restart.
    pub fn restart(&mut self, lab: &Lab) -> Result<()> {
        self.daemon.stop(Duration::from_secs(2));
        self.daemon = spawn(lab, &self.host, &self.dir, &self.socket)?;
        self.wait_ready(lab)
    }

    /// Starts gobgpd again after [`LabRouter::kill_bgp`](crate::routers::LabRouter::kill_bgp),
    /// with the same configuration.
    pub fn start_again(&mut self, lab: &Lab) -> Result<()> {
        self.daemon = spawn(lab, &self.host, &self.dir, &self.socket)?;
        self.wait_ready(lab)
    }

    fn wait_ready(&self, lab: &Lab) -> Result<()> {
        lab.wait_for(
            &format!("gobgpd on {} to answer", self.host.name),
            Duration::from_secs(15),
            || {
                Ok(match self.cli(&["global"]) {
                    Ok(_) => Probe::Done(()),
                    Err(_) if self.daemon.has_exited() => Probe::Fail("gobgpd exited".into()),
                    Err(e) => Probe::Pending(e.to_string()),
                })
            },
        )
    }

    /// How many prefixes gobgpd holds from `neighbor`, both families.
    pub fn prefixes_received(&self, neighbor: IpAddr) -> Result<u64> {
        let mut count = 0;
        for family in [Family::Ipv4, Family::Ipv6] {
            count += self
                .rib(family)?
                .values()
                .flatten()
                .filter(|p| p.peer == Some(neighbor))
                .count() as u64;
        }
        Ok(count)
    }

    /// Runs the `gobgp` API client.
    pub fn cli(&self, args: &[&str]) -> Result<String> {
        cmd::run(
            "gobgp",
            ["--target", self.socket.as_str()].iter().chain(args),
        )
    }

    /// Originates a route through the API.
    pub fn announce(&self, route: &Announcement) -> Result<()> {
        let prefix = route.prefix.to_string();
        let mut args: Vec<String> = vec![
            "global".into(),
            "rib".into(),
            "add".into(),
            prefix,
            "-a".into(),
            afi(&route.prefix).into(),
        ];
        if !route.communities.is_empty() {
            args.push("community".into());
            args.push(
                route
                    .communities
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            );
        }
        if !route.large_communities.is_empty() {
            args.push("large-community".into());
            args.push(
                route
                    .large_communities
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            );
        }
        if let Some(med) = route.med {
            args.extend(["med".into(), med.to_string()]);
        }
        if let Some(local_pref) = route.local_pref {
            args.extend(["local-pref".into(), local_pref.to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.cli(&args).map(drop)
    }

    /// Withdraws a route originated with [`Gobgp::announce`].
    pub fn withdraw(&self, prefix: IpNet) -> Result<()> {
        self.cli(&[
            "global",
            "rib",
            "del",
            &prefix.to_string(),
            "-a",
            afi(&prefix),
        ])
        .map(drop)
    }

    pub fn daemon(&self) -> &Daemon {
        &self.daemon
    }

    /// Originates many IPv4 routes at once (ORIGIN IGP, NEXT_HOP
    /// `next_hop`) through the gRPC `AddPathStream` call; returns when
    /// gobgpd has them all. For benchmarks: 100k routes take seconds, where
    /// [`Gobgp::announce`] runs a process per route.
    pub fn announce_ipv4_bulk(
        &self,
        prefixes: &[ipnet::Ipv4Net],
        next_hop: std::net::Ipv4Addr,
    ) -> Result<()> {
        let socket = self.socket.trim_start_matches("unix://");
        crate::gobgp_api::add_ipv4_paths(std::path::Path::new(socket), prefixes, next_hop, 1000)
    }

    /// How many destinations the global RIB holds for IPv4 unicast
    /// (`gobgp global rib summary`).
    pub fn global_ipv4_destinations(&self) -> Result<u64> {
        let out = self.cli(&["global", "rib", "summary", "-a", "ipv4"])?;
        // `Table ipv4-unicast\nDestination: 100000, Path: 100000`
        out.split_once("Destination:")
            .and_then(|(_, rest)| rest.split(',').next()?.trim().parse().ok())
            .ok_or_else(|| {
                LabError::parse("gobgp global rib summary", "no Destination count", &out)
            })
    }

    /// Adds an eBGP/iBGP neighbour at run time (`gobgp neighbor add`): a
    /// speaker loaded first, then connected, starts its session with the
    /// whole table ready.
    pub fn add_neighbor(&self, address: IpAddr, remote_as: u32) -> Result<()> {
        self.cli(&[
            "neighbor",
            "add",
            &address.to_string(),
            "as",
            &remote_as.to_string(),
        ])
        .map(drop)
    }

    /// The neighbour's message counters as gobgp reports them (`gobgp -j
    /// neighbor X`): `state.messages.sent.update` and friends.
    pub fn neighbor_json(&self, address: IpAddr) -> Result<serde_json::Value> {
        let out = self.cli(&["-j", "neighbor", &address.to_string()])?;
        serde_json::from_str(&out).map_err(|e| LabError::parse("gobgp -j neighbor X", e, &out))
    }
}

/// Starts gobgpd from the configuration in `dir`.
fn spawn(lab: &Lab, host: &Host, dir: &std::path::Path, socket: &str) -> Result<Arc<Daemon>> {
    lab.start_daemon(DaemonSpec {
        name: format!("{}/gobgpd", host.name),
        netns: Some(&host.netns),
        program: "gobgpd",
        args: vec![
            "-f".into(),
            dir.join("gobgpd.toml").display().to_string(),
            "--api-hosts".into(),
            socket.to_string(),
            "--pprof-disable".into(),
            "--log-plain".into(),
        ],
        output: dir.join("gobgpd.log"),
        logs: Vec::new(),
        lifetime: lab.lifetime(),
    })
}

fn afi(prefix: &IpNet) -> &'static str {
    match prefix {
        IpNet::V4(_) => "ipv4",
        IpNet::V6(_) => "ipv6",
    }
}

impl Router for Gobgp {
    fn describe(&self) -> String {
        format!("gobgp@{}", self.host.name)
    }

    fn session_state(&self, neighbor: IpAddr) -> Result<Option<SessionState>> {
        let out = self.cli(&["-j", "neighbor"])?;
        let neighbors: Vec<GoNeighbor> = serde_json::from_str(&out)
            .map_err(|e| LabError::parse("gobgp -j neighbor", e, &out))?;
        Ok(neighbors
            .iter()
            .find(|n| n.conf.neighbor_address == neighbor)
            .map(|n| session_state(n.state.session_state)))
    }

    fn rib(&self, family: Family) -> Result<Rib> {
        let afi = match family {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        };
        let out = self.cli(&["-j", "global", "rib", "-a", afi])?;
        parse_rib(&out).map_err(|e| LabError::parse("gobgp -j global rib", e, &out))
    }
}

/// gobgp's `SessionState` enum (api/gobgp.proto).
fn session_state(n: u8) -> SessionState {
    match n {
        2 => SessionState::Connect,
        3 => SessionState::Active,
        4 => SessionState::OpenSent,
        5 => SessionState::OpenConfirm,
        6 => SessionState::Established,
        _ => SessionState::Idle,
    }
}

#[derive(Deserialize)]
struct GoNeighbor {
    conf: GoNeighborConf,
    state: GoNeighborState,
}

#[derive(Deserialize)]
struct GoNeighborConf {
    neighbor_address: IpAddr,
}

#[derive(Deserialize)]
struct GoNeighborState {
    #[serde(default)]
    session_state: u8,
}

#[derive(Deserialize)]
struct GoPath {
    #[serde(default)]
    best: bool,
    #[serde(rename = "neighbor-ip")]
    neighbor_ip: Option<IpAddr>,
    #[serde(default)]
    attrs: Vec<serde_json::Value>,
}

/// Parses `gobgp -j global rib`: prefix -> paths with typed attributes.
pub(crate) fn parse_rib(json: &str) -> std::result::Result<Rib, String> {
    let table: BTreeMap<String, Vec<GoPath>> =
        serde_json::from_str(json).map_err(|e| e.to_string())?;
    let mut rib = Rib::new();
    for (prefix, paths) in table {
        let prefix: IpNet = prefix
            .parse()
            .map_err(|e| format!("prefix {prefix:?}: {e}"))?;
        let paths = paths
            .into_iter()
            .map(|p| {
                let mut path = Path {
                    peer: p.neighbor_ip.filter(|ip| !ip.is_unspecified()),
                    best: p.best,
                    ..Path::default()
                };
                for attr in &p.attrs {
                    apply_attribute(attr, &mut path);
                }
                path
            })
            .collect();
        rib.insert(prefix, paths);
    }
    Ok(rib)
}

fn apply_attribute(attr: &serde_json::Value, path: &mut Path) {
    let u32_of = |v: &serde_json::Value| v.as_u64().and_then(|n| u32::try_from(n).ok());
    match attr["type"].as_u64() {
        Some(1) => {
            path.origin = match attr["value"].as_u64() {
                Some(0) => Some(Origin::Igp),
                Some(1) => Some(Origin::Egp),
                Some(2) => Some(Origin::Incomplete),
                _ => None,
            }
        }
        Some(2) => {
            path.as_path = attr["as_paths"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|seg| {
                    let asns = seg["asns"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(u32_of)
                        .collect();
                    // segment_type 1 is AS_SET, 2 AS_SEQUENCE (RFC 4271).
                    if seg["segment_type"].as_u64() == Some(1) {
                        AsSegment::Set(asns)
                    } else {
                        AsSegment::Sequence(asns)
                    }
                })
                .collect();
        }
        Some(3) | Some(14) => {
            for key in ["nexthop", "linklocal_nexthop"] {
                if let Some(ip) = attr[key].as_str().and_then(|s| s.parse::<IpAddr>().ok())
                    && !ip.is_unspecified()
                {
                    path.next_hops.push(ip);
                }
            }
        }
        Some(4) => path.med = u32_of(&attr["metric"]),
        Some(5) => path.local_pref = u32_of(&attr["value"]),
        Some(8) => {
            path.communities = attr["communities"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(u32_of)
                .map(Community)
                .collect()
        }
        Some(32) => {
            path.large_communities = attr["value"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| {
                    Some(LargeCommunity {
                        global: u32_of(&l["ASN"])?,
                        local1: u32_of(&l["LocalData1"])?,
                        local2: u32_of(&l["LocalData2"])?,
                    })
                })
                .collect()
        }
        _ => {}
    }
}

/// Renders gobgpd.toml.
pub(crate) fn render(host: &Host, config: &RouterConfig) -> String {
    let mut c = String::new();
    let _ = writeln!(
        c,
        "[global.config]\n  as = {}\n  router-id = \"{}\"",
        config.asn, config.router_id
    );
    let _ = writeln!(
        c,
        "  local-address-list = [\"{}\", \"{}\"]",
        host.ipv4, host.ipv6
    );
    if let Some(port) = config.listen_port {
        let _ = writeln!(c, "  port = {port}");
    }
    for n in &config.neighbors {
        let _ = writeln!(
            c,
            "[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{}\"\n    peer-as = {}",
            n.address, n.remote_as
        );
        if let Some(password) = &n.password {
            let _ = writeln!(c, "    auth-password = \"{password}\"");
        }
        let _ = writeln!(c, "  [neighbors.timers.config]\n    connect-retry = 1");
        if let Some((keepalive, hold)) = n.timers {
            let _ = writeln!(
                c,
                "    hold-time = {hold}\n    keepalive-interval = {keepalive}"
            );
        }
        if n.passive {
            let _ = writeln!(c, "  [neighbors.transport.config]\n    passive-mode = true");
        }
        if let Some(ttl) = n.multihop {
            let _ = writeln!(
                c,
                "  [neighbors.ebgp-multihop.config]\n    enabled = true\n    multihop-ttl = {ttl}"
            );
        }
        if config.graceful_restart {
            let _ = writeln!(
                c,
                "  [neighbors.graceful-restart.config]\n    enabled = true"
            );
        }
        for family in &n.families {
            let name = match family {
                Family::Ipv4 => "ipv4-unicast",
                Family::Ipv6 => "ipv6-unicast",
            };
            let _ = writeln!(
                c,
                "  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"{name}\""
            );
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_rib_captured_from_gobgp_3_10() {
        let rib = parse_rib(include_str!("../fixtures/gobgp-global-rib.json")).unwrap();
        let paths = &rib[&"198.51.100.10/32".parse::<IpNet>().unwrap()];
        let p = &paths[0];
        assert!(p.best);
        assert_eq!(p.origin, Some(Origin::Incomplete));
        assert_eq!(p.med, Some(10));
        assert_eq!(p.communities, [Community::new(65000, 1)]);
        assert_eq!(p.large_communities[0].to_string(), "64512:1:2");
    }
}
