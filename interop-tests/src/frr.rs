//! FRR (zebra + bgpd + bfdd) as a lab router, queried through
//! `vtysh ... json`.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path as FsPath, PathBuf};
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
use crate::route::{AsSegment, Family, Origin, Path, Rib, Router, SessionState, parse_communities};
use crate::wait::Probe;

const FRR_BIN: &str = "/usr/lib/frr";

/// A running FRR router.
pub struct Frr {
    host: Host,
    dir: PathBuf,
    daemons: Vec<Arc<Daemon>>,
    /// bgpd's listening port (`-p`); 179 when `None`.
    listen_port: Option<u16>,
}

impl Frr {
    /// Writes the configuration and starts zebra, bgpd and bfdd on `host`.
    pub fn start(lab: &Lab, host: &Host, config: &RouterConfig) -> Result<Frr> {
        for daemon in ["zebra", "bgpd", "bfdd"] {
            prereq::require_program(&format!("{FRR_BIN}/{daemon}"), "frr")?;
        }
        prereq::require_program("vtysh", "frr")?;
        let dir = lab.state_dir(host, "frr")?;
        let log = |d: &str| dir.join(format!("{d}.log"));
        write(&dir.join("zebra.conf"), &basic_conf(host, &log("zebra")))?;
        write(
            &dir.join("bfdd.conf"),
            &render_bfdd(host, config, &log("bfdd")),
        )?;
        write(&dir.join("bgpd.conf"), &render(host, config, &log("bgpd")))?;
        // The daemons drop privileges to `frr` and must write here.
        chown_to_frr(&dir)?;

        let mut frr = Frr {
            host: host.clone(),
            dir: dir.clone(),
            daemons: Vec::new(),
            listen_port: config.listen_port,
        };
        for daemon in ["zebra", "bgpd", "bfdd"] {
            let d = frr.spawn(lab, daemon)?;
            frr.daemons.push(d);
            if daemon == "zebra" {
                // bgpd and bfdd connect to zebra at start; give them its socket.
                lab.wait_for("zebra's zserv socket", Duration::from_secs(10), || {
                    Ok(if dir.join("zserv.api").exists() {
                        Probe::Done(())
                    } else {
                        Probe::Pending("no socket yet".into())
                    })
                })?;
            }
        }
        frr.wait_ready(lab)?;
        Ok(frr)
    }

    /// Stops bgpd and starts it again with the same configuration: a router
    /// restart as its BGP peers see it (zebra keeps running, as under
    /// watchfrr).
    pub fn restart(&mut self, lab: &Lab) -> Result<()> {
        self.daemons[1].stop(Duration::from_secs(2));
        self.daemons[1] = self.spawn(lab, "bgpd")?;
        self.wait_ready(lab)
    }

    /// Starts bgpd again after [`LabRouter::kill_bgp`](crate::routers::LabRouter::kill_bgp),
    /// with the same configuration, and waits until it answers vtysh.
    pub fn start_bgpd(&mut self, lab: &Lab) -> Result<()> {
        self.daemons[1] = self.spawn(lab, "bgpd")?;
        self.wait_ready(lab)
    }

    /// Replaces bgpd's configuration and restarts bgpd with it, as an
    /// operator's edit would reset the sessions it touches.
    pub fn reconfigure(&mut self, lab: &Lab, config: &RouterConfig) -> Result<()> {
        let bgpd = self.dir.join("bgpd.conf");
        write(
            &bgpd,
            &render(&self.host, config, &self.dir.join("bgpd.log")),
        )?;
        self.listen_port = config.listen_port;
        self.restart(lab)
    }

    fn spawn(&self, lab: &Lab, daemon: &str) -> Result<Arc<Daemon>> {
        let port = match (daemon, self.listen_port) {
            ("bgpd", Some(port)) => Some(port),
            _ => None,
        };
        spawn(lab, &self.host, &self.dir, daemon, port)
    }

    fn wait_ready(&self, lab: &Lab) -> Result<()> {
        lab.wait_for(
            &format!("FRR on {} to answer vtysh", self.host.name),
            Duration::from_secs(15),
            || {
                Ok(match self.vtysh("show bgp summary json") {
                    Ok(_) => Probe::Done(()),
                    Err(_) if self.daemons.iter().any(|d| d.has_exited()) => {
                        Probe::Fail("an FRR daemon exited".into())
                    }
                    Err(e) => Probe::Pending(e.to_string()),
                })
            },
        )
    }

    /// Runs one vtysh command and returns its output.
    pub fn vtysh(&self, command: &str) -> Result<String> {
        cmd::run(
            "vtysh",
            ["--vty_socket", &path(&self.dir, ""), "-c", command],
        )
    }

    /// Applies configuration lines at run time, e.g.
    /// `["router bgp 64500", "neighbor 10.0.0.1 password s3cret"]`.
    pub fn configure(&self, lines: &[&str]) -> Result<()> {
        let mut args = vec![
            "--vty_socket".to_string(),
            path(&self.dir, ""),
            "-c".into(),
            "configure terminal".into(),
        ];
        for line in lines {
            args.push("-c".into());
            args.push((*line).to_string());
        }
        let out = cmd::run("vtysh", &args)?;
        // vtysh exits 0 on some rejected lines; they print a `%` diagnostic.
        if let Some(err) = out.lines().find(|l| l.trim_start().starts_with('%')) {
            return Err(LabError::Command {
                command: format!("vtysh configure {lines:?}"),
                status: "rejected".into(),
                stderr: err.to_string(),
            });
        }
        Ok(())
    }

    /// Everything FRR knows about one neighbour (`show bgp neighbors X
    /// json`): timers, capabilities, the last NOTIFICATION and reset reason.
    pub fn neighbor(&self, addr: IpAddr) -> Result<serde_json::Value> {
        let mut all: serde_json::Value = self.json(&format!("show bgp neighbors {addr} json"))?;
        Ok(all[addr.to_string()].take())
    }

    /// How many prefixes FRR accepted from `neighbor` (`pfxRcd`), both
    /// families; cheap even with 100k routes.
    pub fn prefixes_received(&self, neighbor: IpAddr) -> Result<u64> {
        let n = self.neighbor(neighbor)?;
        let families = n["addressFamilyInfo"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        Ok(families
            .values()
            .filter_map(|f| f["acceptedPrefixCounter"].as_u64())
            .sum())
    }

    /// The daemons (zebra, bgpd, bfdd), e.g. to SIGSTOP bgpd.
    pub fn daemons(&self) -> &[Arc<Daemon>] {
        &self.daemons
    }

    /// bgpd.
    pub fn bgpd(&self) -> &Daemon {
        &self.daemons[1]
    }

    fn json<T: for<'de> Deserialize<'de>>(&self, command: &str) -> Result<T> {
        let out = self.vtysh(command)?;
        serde_json::from_str(&out).map_err(|e| LabError::parse(format!("FRR `{command}`"), e, &out))
    }
}

impl Router for Frr {
    fn describe(&self) -> String {
        format!("frr@{}", self.host.name)
    }

    fn session_state(&self, neighbor: IpAddr) -> Result<Option<SessionState>> {
        let all: std::collections::BTreeMap<String, FrrNeighbor> =
            self.json("show bgp neighbors json")?;
        Ok(all
            .iter()
            .find(|(k, _)| k.parse::<IpAddr>().ok() == Some(neighbor))
            .and_then(|(_, n)| SessionState::from_name(&n.bgp_state)))
    }

    fn rib(&self, family: Family) -> Result<Rib> {
        let afi = match family {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        };
        let command = format!("show bgp {afi} unicast json detail");
        let out = self.vtysh(&command)?;
        parse_rib(&out).map_err(|e| LabError::parse(format!("FRR `{command}`"), e, &out))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FrrNeighbor {
    bgp_state: String,
}

#[derive(Deserialize)]
struct FrrTable {
    #[serde(default)]
    routes: std::collections::BTreeMap<String, Vec<serde_json::Value>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct FrrPath {
    aspath: Option<FrrAsPath>,
    origin: Option<String>,
    metric: Option<u32>,
    loc_prf: Option<u32>,
    community: Option<FrrList>,
    large_community: Option<FrrList>,
    #[serde(default)]
    nexthops: Vec<FrrNextHop>,
    peer: Option<FrrPeer>,
    bestpath: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct FrrAsPath {
    #[serde(default)]
    segments: Vec<FrrSegment>,
}

#[derive(Deserialize)]
struct FrrSegment {
    #[serde(rename = "type")]
    kind: String,
    list: Vec<u32>,
}

#[derive(Deserialize)]
struct FrrList {
    list: Vec<String>,
}

#[derive(Deserialize)]
struct FrrNextHop {
    ip: IpAddr,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FrrPeer {
    peer_id: Option<String>,
}

/// Parses `show bgp {ipv4|ipv6} unicast json detail`: per prefix, a header
/// object (advertisedTo) followed by one object per path.
pub(crate) fn parse_rib(json: &str) -> std::result::Result<Rib, String> {
    let table: FrrTable = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let mut rib = Rib::new();
    for (prefix, entries) in table.routes {
        let prefix: IpNet = prefix
            .parse()
            .map_err(|e| format!("prefix {prefix:?}: {e}"))?;
        let mut paths = Vec::new();
        for entry in entries.into_iter().filter(|e| e.get("nexthops").is_some()) {
            let p: FrrPath = serde_json::from_value(entry).map_err(|e| format!("{prefix}: {e}"))?;
            paths.push(Path {
                peer: p
                    .peer
                    .and_then(|p| p.peer_id)
                    .and_then(|id| id.parse().ok()),
                as_path: p
                    .aspath
                    .map(|a| {
                        a.segments
                            .into_iter()
                            .map(|s| match s.kind.as_str() {
                                "as-set" => AsSegment::Set(s.list),
                                _ => AsSegment::Sequence(s.list),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                next_hops: p.nexthops.into_iter().map(|n| n.ip).collect(),
                origin: p.origin.as_deref().and_then(Origin::from_name),
                med: p.metric,
                local_pref: p.loc_prf,
                communities: p
                    .community
                    .map(|c| parse_communities(c.list.iter().map(String::as_str)))
                    .unwrap_or_default(),
                large_communities: p
                    .large_community
                    .map(|c| c.list.iter().filter_map(|l| l.parse().ok()).collect())
                    .unwrap_or_default(),
                best: p
                    .bestpath
                    .is_some_and(|b| b.get("overall").and_then(|o| o.as_bool()) == Some(true)),
            });
        }
        rib.insert(prefix, paths);
    }
    Ok(rib)
}

/// Starts one FRR daemon from the configuration in `dir`.
fn spawn(
    lab: &Lab,
    host: &Host,
    dir: &FsPath,
    daemon: &str,
    bgp_port: Option<u16>,
) -> Result<Arc<Daemon>> {
    let mut args: Vec<String> = [
        "-f",
        &path(dir, &format!("{daemon}.conf")),
        "-i",
        &path(dir, &format!("{daemon}.pid")),
        "-z",
        &path(dir, "zserv.api"),
        "--vty_socket",
        &path(dir, ""),
        "-P",
        "0",
    ]
    .map(String::from)
    .to_vec();
    if let Some(port) = bgp_port {
        args.extend(["-p".to_string(), port.to_string()]);
    }
    lab.start_daemon(DaemonSpec {
        name: format!("{}/{daemon}", host.name),
        netns: Some(&host.netns),
        program: &format!("{FRR_BIN}/{daemon}"),
        args,
        output: dir.join(format!("{daemon}.out")),
        logs: vec![dir.join(format!("{daemon}.log"))],
        lifetime: lab.lifetime(),
    })
}

fn basic_conf(host: &Host, log: &FsPath) -> String {
    format!("hostname {}\nlog file {}\n", host.name, log.display())
}

/// The bfdd profile the neighbours use when the config sets BFD timers.
const BFD_PROFILE: &str = "lab";

/// Renders bfdd.conf: the profile of [`RouterConfig::bfd_interval_ms`].
fn render_bfdd(host: &Host, config: &RouterConfig, log: &FsPath) -> String {
    let mut c = basic_conf(host, log);
    if let Some(ms) = config.bfd_interval_ms {
        let _ = writeln!(
            c,
            "bfd\n profile {BFD_PROFILE}\n  receive-interval {ms}\n  transmit-interval {ms}\n  detect-multiplier 3\n exit\nexit"
        );
    }
    c
}

/// Renders bgpd.conf.
pub(crate) fn render(host: &Host, config: &RouterConfig, log: &FsPath) -> String {
    let mut c = String::new();
    let _ = writeln!(
        c,
        "frr defaults traditional\nhostname {}\nlog file {}",
        host.name,
        log.display()
    );
    let _ = writeln!(c, "router bgp {}", config.asn);
    let _ = writeln!(c, " bgp router-id {}", config.router_id);
    // FRR 8.4 enforces RFC 8212: without this, eBGP routes are neither
    // accepted nor sent.
    c.push_str(" no bgp ebgp-requires-policy\n no bgp default ipv4-unicast\n");
    c.push_str(" bgp bestpath as-path multipath-relax\n");
    if config.graceful_restart {
        c.push_str(" bgp graceful-restart\n");
    }
    if !config.originate.is_empty() {
        // The originated prefixes are in no RIB; announce them anyway.
        c.push_str(" no bgp network import-check\n");
    }
    for n in &config.neighbors {
        let a = n.address;
        let _ = writeln!(c, " neighbor {a} remote-as {}", n.remote_as);
        if let Some(iface) = &n.interface {
            let _ = writeln!(c, " neighbor {a} interface {iface}");
        }
        // The default connect retry is 120 s; tests cannot wait that long.
        let _ = writeln!(c, " neighbor {a} timers connect 1");
        if let Some((keepalive, hold)) = n.timers {
            let _ = writeln!(c, " neighbor {a} timers {keepalive} {hold}");
        }
        if let Some(password) = &n.password {
            let _ = writeln!(c, " neighbor {a} password {password}");
        }
        if n.bfd {
            let _ = writeln!(c, " neighbor {a} bfd");
            if config.bfd_interval_ms.is_some() {
                let _ = writeln!(c, " neighbor {a} bfd profile {BFD_PROFILE}");
            }
        }
        if let Some(ttl) = n.multihop {
            let _ = writeln!(c, " neighbor {a} ebgp-multihop {ttl}");
        }
        if n.passive {
            let _ = writeln!(c, " neighbor {a} passive");
        }
    }
    for (family, afi) in [(Family::Ipv4, "ipv4"), (Family::Ipv6, "ipv6")] {
        let _ = writeln!(c, " address-family {afi} unicast");
        let _ = writeln!(c, "  maximum-paths {}", config.maximum_paths);
        let _ = writeln!(c, "  maximum-paths ibgp {}", config.maximum_paths);
        for prefix in config
            .originate
            .iter()
            .filter(|p| Family::of(p.addr()) == family)
        {
            let _ = writeln!(c, "  network {prefix}");
        }
        for n in config
            .neighbors
            .iter()
            .filter(|n| n.families.contains(&family))
        {
            let _ = writeln!(c, "  neighbor {} activate", n.address);
            if n.no_export {
                let _ = writeln!(c, "  neighbor {} route-map LAB-DENY out", n.address);
            }
        }
        c.push_str(" exit-address-family\n");
    }
    c.push_str("route-map LAB-DENY deny 10\n");
    c
}

fn path(dir: &FsPath, file: &str) -> String {
    dir.join(file).display().to_string()
}

fn write(path: &FsPath, text: &str) -> Result<()> {
    std::fs::write(path, text)
        .map_err(|e| LabError::io(format!("cannot write {}", path.display()), e))
}

fn chown_to_frr(dir: &FsPath) -> Result<()> {
    let user = nix::unistd::User::from_name("frr")
        .ok()
        .flatten()
        .ok_or_else(|| LabError::Missing {
            what: "user `frr`".into(),
            hint: "install the Debian package `frr`, which creates it".into(),
        })?;
    let entries = std::fs::read_dir(dir)
        .map_err(|e| LabError::io(format!("cannot list {}", dir.display()), e))?;
    let paths = std::iter::once(Ok(dir.to_path_buf())).chain(entries.map(|e| e.map(|e| e.path())));
    for p in paths {
        let p = p.map_err(|e| LabError::io("cannot list the FRR state directory", e))?;
        nix::unistd::chown(&p, Some(user.uid), Some(user.gid))
            .map_err(|e| LabError::io(format!("cannot chown {}", p.display()), e.into()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::{Community, LargeCommunity};

    #[test]
    fn parses_a_detailed_rib_captured_from_frr_8_4() {
        let rib = parse_rib(include_str!("../fixtures/frr-ipv4-detail.json")).unwrap();
        let prefix: IpNet = "198.51.100.10/32".parse().unwrap();
        let paths = &rib[&prefix];
        assert_eq!(paths.len(), 2);
        let mut hops: Vec<String> = paths.iter().map(|p| p.next_hops[0].to_string()).collect();
        hops.sort();
        assert_eq!(hops, ["172.31.255.11", "172.31.255.12"]);
        for p in paths {
            assert_eq!(p.as_sequence(), [64512]);
            assert_eq!(p.med, Some(10));
            assert_eq!(p.origin, Some(Origin::Incomplete));
            assert_eq!(p.communities, [Community::new(65000, 1)]);
            assert_eq!(
                p.large_communities,
                [LargeCommunity {
                    global: 64512,
                    local1: 1,
                    local2: 2
                }]
            );
            assert!(p.peer.is_some_and(|peer| p.next_hops.contains(&peer)));
        }
        assert_eq!(paths.iter().filter(|p| p.best).count(), 1);
    }
}
