//! BIRD 2 as a lab router, queried through `birdc`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use crate::cmd;
use crate::config::{Neighbor, RouterConfig};
use crate::daemon::{Daemon, DaemonSpec};
use crate::error::{LabError, Result};
use crate::lab::{Host, Lab};
use crate::prereq;
use crate::route::{
    AsSegment, Family, LargeCommunity, Origin, Path, Rib, Router, SessionState, parse_communities,
};
use crate::wait::Probe;

/// A running BIRD router.
pub struct Bird {
    host: Host,
    dir: PathBuf,
    daemon: Arc<Daemon>,
    /// BGP protocol name for each neighbour address.
    protocols: BTreeMap<IpAddr, String>,
}

impl Bird {
    /// Writes the configuration and starts BIRD on `host`.
    pub fn start(lab: &Lab, host: &Host, config: &RouterConfig) -> Result<Bird> {
        prereq::require_program("bird", "bird2")?;
        prereq::require_program("birdc", "bird2")?;
        let dir = lab.state_dir(host, "bird")?;
        let conf = dir.join("bird.conf");
        let text = render(config, &dir.join("bird.log"));
        std::fs::write(&conf, text)
            .map_err(|e| LabError::io(format!("cannot write {}", conf.display()), e))?;
        let daemon = spawn(lab, host, &dir)?;
        let bird = Bird {
            host: host.clone(),
            dir,
            daemon,
            protocols: config
                .neighbors
                .iter()
                .map(|n| (n.address, protocol_name(n)))
                .collect(),
        };
        bird.wait_ready(lab)?;
        Ok(bird)
    }

    /// Stops BIRD and starts it again with the same configuration: a router
    /// restart, as its peers see it.
    pub fn restart(&mut self, lab: &Lab) -> Result<()> {
        self.daemon.stop(Duration::from_secs(2));
        self.daemon = spawn(lab, &self.host, &self.dir)?;
        self.wait_ready(lab)
    }

    /// Starts BIRD again after [`LabRouter::kill_bgp`](crate::routers::LabRouter::kill_bgp),
    /// with the same configuration: a SIGKILL left its control socket and
    /// pid file behind, which BIRD replaces.
    pub fn start_again(&mut self, lab: &Lab) -> Result<()> {
        self.daemon = spawn(lab, &self.host, &self.dir)?;
        self.wait_ready(lab)
    }

    fn wait_ready(&self, lab: &Lab) -> Result<()> {
        lab.wait_for(
            &format!("BIRD on {} to answer birdc", self.host.name),
            Duration::from_secs(15),
            || {
                Ok(match self.birdc(&["show", "status"]) {
                    Ok(_) => Probe::Done(()),
                    Err(_) if self.daemon.has_exited() => Probe::Fail("BIRD exited".into()),
                    Err(e) => Probe::Pending(e.to_string()),
                })
            },
        )
    }

    /// How many routes BIRD imported from `neighbor` ("Routes: N imported").
    pub fn prefixes_received(&self, neighbor: IpAddr) -> Result<u64> {
        let Some(name) = self.protocols.get(&neighbor) else {
            return Ok(0);
        };
        let out = self.birdc(&["show", "protocols", "all", name])?;
        Ok(out
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Routes:"))
            .filter_map(|r| r.split_whitespace().next()?.parse::<u64>().ok())
            .sum())
    }

    /// The name of the BGP protocol BIRD runs for `neighbor`, for birdc
    /// queries of its own.
    pub fn protocol(&self, neighbor: IpAddr) -> Option<&str> {
        self.protocols.get(&neighbor).map(String::as_str)
    }

    /// Runs a birdc command, e.g. `["show", "route", "all"]`.
    pub fn birdc(&self, args: &[&str]) -> Result<String> {
        let sock = self.dir.join("bird.ctl").display().to_string();
        cmd::run("birdc", ["-s", sock.as_str()].iter().chain(args))
    }

    /// Replaces the configuration and asks BIRD to apply it.
    pub fn reconfigure(&mut self, config: &RouterConfig) -> Result<()> {
        let conf = self.dir.join("bird.conf");
        let text = render(config, &self.dir.join("bird.log"));
        std::fs::write(&conf, text)
            .map_err(|e| LabError::io(format!("cannot write {}", conf.display()), e))?;
        let out = self.birdc(&["configure"])?;
        if !out.contains("Reconfigured") && !out.contains("Reconfiguration in progress") {
            return Err(LabError::Command {
                command: "birdc configure".into(),
                status: "not applied".into(),
                stderr: out,
            });
        }
        self.protocols = config
            .neighbors
            .iter()
            .map(|n| (n.address, protocol_name(n)))
            .collect();
        Ok(())
    }

    pub fn daemon(&self) -> &Daemon {
        &self.daemon
    }
}

impl Router for Bird {
    fn describe(&self) -> String {
        format!("bird@{}", self.host.name)
    }

    fn session_state(&self, neighbor: IpAddr) -> Result<Option<SessionState>> {
        let Some(name) = self.protocols.get(&neighbor) else {
            return Ok(None);
        };
        let out = self.birdc(&["show", "protocols", "all", name])?;
        parse_bgp_state(&out).map(Some).ok_or_else(|| {
            LabError::parse(
                format!("birdc show protocols all {name}"),
                "no BGP state line",
                &out,
            )
        })
    }

    fn rib(&self, family: Family) -> Result<Rib> {
        let table = match family {
            Family::Ipv4 => "master4",
            Family::Ipv6 => "master6",
        };
        let out = self.birdc(&["show", "route", "all", "table", table])?;
        let peers: BTreeMap<&str, IpAddr> = self
            .protocols
            .iter()
            .map(|(a, n)| (n.as_str(), *a))
            .collect();
        parse_routes(&out, &peers).map_err(|e| LabError::parse("birdc show route all", e, &out))
    }
}

fn spawn(lab: &Lab, host: &Host, dir: &std::path::Path) -> Result<Arc<Daemon>> {
    lab.start_daemon(DaemonSpec {
        name: format!("{}/bird", host.name),
        netns: Some(&host.netns),
        program: "bird",
        args: [
            "-f".to_string(),
            "-c".into(),
            dir.join("bird.conf").display().to_string(),
            "-s".into(),
            dir.join("bird.ctl").display().to_string(),
            "-P".into(),
            dir.join("bird.pid").display().to_string(),
        ]
        .to_vec(),
        output: dir.join("bird.out"),
        logs: vec![dir.join("bird.log")],
        lifetime: lab.lifetime(),
    })
}

/// `BGP state:          Established` in `show protocols all`. BIRD shows
/// `Down`/`Close` for a session that is not running: that is Idle.
pub(crate) fn parse_bgp_state(out: &str) -> Option<SessionState> {
    let line = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("BGP state:"))?;
    Some(SessionState::from_name(line.trim()).unwrap_or(SessionState::Idle))
}

/// Parses `show route all`: a line per route at column 0 (prefix first), a
/// line per further path indented with spaces, attributes indented by a tab.
pub(crate) fn parse_routes(
    out: &str,
    peers: &BTreeMap<&str, IpAddr>,
) -> std::result::Result<Rib, String> {
    let mut rib = Rib::new();
    let mut current: Option<IpNet> = None;
    for line in out.lines() {
        if line.is_empty() || line.starts_with("BIRD ") || line.starts_with("Table ") {
            continue;
        }
        if let Some(attr) = line.strip_prefix('\t') {
            let prefix = current.ok_or_else(|| format!("attribute before any route: {line:?}"))?;
            let path = rib
                .get_mut(&prefix)
                .and_then(|p| p.last_mut())
                .ok_or_else(|| format!("attribute without a path: {line:?}"))?;
            parse_attribute(attr, path)?;
            continue;
        }
        let rest = if line.starts_with(' ') {
            line.trim_start()
        } else {
            let (prefix, rest) = line
                .split_once(char::is_whitespace)
                .ok_or_else(|| format!("bad route line {line:?}"))?;
            current = Some(
                prefix
                    .parse()
                    .map_err(|e| format!("prefix {prefix:?}: {e}"))?,
            );
            rest.trim_start()
        };
        let prefix = current.ok_or_else(|| format!("path before any route: {line:?}"))?;
        // `unicast [n1 15:49:57.374 from 10.0.0.1] * (100) [AS64512?]`
        let proto = rest
            .split_once('[')
            .and_then(|(_, r)| r.split_whitespace().next())
            .ok_or_else(|| format!("no protocol in {line:?}"))?;
        let best = rest
            .split_once(']')
            .is_some_and(|(_, r)| r.trim_start().starts_with('*'));
        rib.entry(prefix).or_default().push(Path {
            peer: peers.get(proto).copied(),
            best,
            ..Path::default()
        });
    }
    Ok(rib)
}

fn parse_attribute(attr: &str, path: &mut Path) -> std::result::Result<(), String> {
    let Some((key, value)) = attr.split_once(':') else {
        return Ok(()); // `via ... on eth0` lines: the kernel query covers forwarding.
    };
    let value = value.trim();
    let number = |v: &str| v.parse::<u32>().map_err(|e| format!("{key} {v:?}: {e}"));
    match key.trim() {
        "BGP.origin" => path.origin = Origin::from_name(value),
        "BGP.as_path" => path.as_path = parse_as_path(value)?,
        "BGP.next_hop" => {
            path.next_hops = value
                .split_whitespace()
                .map(|a| a.parse().map_err(|e| format!("next hop {a:?}: {e}")))
                .collect::<std::result::Result<_, _>>()?;
        }
        "BGP.med" => path.med = Some(number(value)?),
        "BGP.local_pref" => path.local_pref = Some(number(value)?),
        "BGP.community" => {
            // `(65000,1) (65000,2)`
            let items: Vec<String> = tuples(value).map(|t| t.replace(',', ":")).collect();
            path.communities = parse_communities(items.iter().map(String::as_str));
        }
        "BGP.large_community" => {
            path.large_communities = tuples(value)
                .map(|t| {
                    t.replace(' ', "")
                        .replace(',', ":")
                        .parse::<LargeCommunity>()
                })
                .collect::<std::result::Result<_, _>>()?;
        }
        _ => {}
    }
    Ok(())
}

/// The insides of `(a,b) (c, d, e)` groups.
fn tuples(value: &str) -> impl Iterator<Item = &str> {
    value
        .split('(')
        .filter_map(|s| s.split_once(')').map(|(inner, _)| inner.trim()))
}

/// `64500 64512 {64513 64514}`.
fn parse_as_path(value: &str) -> std::result::Result<Vec<AsSegment>, String> {
    let mut segments = Vec::new();
    let mut sequence = Vec::new();
    let mut set: Option<Vec<u32>> = None;
    for token in value
        .replace('{', " { ")
        .replace('}', " } ")
        .split_whitespace()
    {
        match token {
            "{" => {
                if !sequence.is_empty() {
                    segments.push(AsSegment::Sequence(std::mem::take(&mut sequence)));
                }
                set = Some(Vec::new());
            }
            "}" => segments.push(AsSegment::Set(set.take().ok_or("unbalanced }")?)),
            asn => {
                let asn = asn.parse().map_err(|e| format!("AS {asn:?}: {e}"))?;
                match set.as_mut() {
                    Some(s) => s.push(asn),
                    None => sequence.push(asn),
                }
            }
        }
    }
    if !sequence.is_empty() {
        segments.push(AsSegment::Sequence(sequence));
    }
    Ok(segments)
}

/// A protocol name BIRD accepts, derived from the neighbour address.
fn protocol_name(n: &Neighbor) -> String {
    let addr: String = n
        .address
        .to_string()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("peer_{addr}")
}

/// Renders bird.conf.
pub(crate) fn render(config: &RouterConfig, log: &std::path::Path) -> String {
    let mut c = String::new();
    let _ = writeln!(c, "log \"{}\" all;", log.display());
    let _ = writeln!(c, "router id {};", config.router_id);
    c.push_str("protocol device {}\n");
    // ECMP into the kernel: equal paths from different neighbours merge.
    for (name, afi) in [("k4", "ipv4"), ("k6", "ipv6")] {
        let _ = writeln!(
            c,
            "protocol kernel {name} {{ {afi} {{ import none; export all; }}; merge paths on limit {}; }}",
            config.maximum_paths
        );
    }
    // Originated prefixes: static blackhole routes, the only ones exported
    // over BGP.
    for (name, afi, v4) in [("originate4", "ipv4", true), ("originate6", "ipv6", false)] {
        let routes: String = config
            .originate
            .iter()
            .filter(|p| p.addr().is_ipv4() == v4)
            .map(|p| format!(" route {p} blackhole;"))
            .collect();
        if !routes.is_empty() {
            let _ = writeln!(c, "protocol static {name} {{ {afi};{routes} }}");
        }
    }
    let export = if config.originate.is_empty() {
        "none"
    } else {
        "where source = RTS_STATIC"
    };
    match (config.uses_bfd(), config.bfd_interval_ms) {
        (false, _) => {}
        (true, None) => c.push_str("protocol bfd {}\n"),
        (true, Some(ms)) => {
            let timers = format!("{{ interval {ms} ms; multiplier 3; }}");
            let _ = writeln!(
                c,
                "protocol bfd {{ interface \"*\" {timers}; multihop {timers}; }}"
            );
        }
    }
    for n in &config.neighbors {
        let _ = writeln!(c, "protocol bgp {} {{", protocol_name(n));
        match config.listen_port {
            Some(port) => {
                let _ = writeln!(c, "  local port {port} as {};", config.asn);
            }
            None => {
                let _ = writeln!(c, "  local as {};", config.asn);
            }
        }
        let _ = writeln!(c, "  neighbor {} as {};", n.address, n.remote_as);
        if let Some(iface) = &n.interface {
            let _ = writeln!(c, "  interface \"{iface}\";");
        }
        if let Some(local) = n.local {
            let _ = writeln!(c, "  local {local};");
        }
        c.push_str("  connect delay time 1; connect retry time 1; error wait time 1,5;\n");
        if let Some(password) = &n.password {
            let _ = writeln!(c, "  password \"{password}\";");
        }
        if let Some((keepalive, hold)) = n.timers {
            let _ = writeln!(c, "  hold time {hold}; keepalive time {keepalive};");
        }
        if n.bfd {
            c.push_str("  bfd on;\n");
        }
        if let Some(ttl) = n.multihop {
            let _ = writeln!(c, "  multihop {ttl};");
            // BIRD runs multihop BFD only from a given local address; the
            // lab's routers use their router ID as their IPv4 address.
            if n.bfd && n.address.is_ipv4() && n.local.is_none() {
                let _ = writeln!(c, "  local {};", config.router_id);
            }
        }
        if n.passive {
            c.push_str("  passive on;\n");
        }
        if config.is_ibgp(n) && n.multihop.is_none() {
            // BIRD treats iBGP as multihop; on the lab's LAN the neighbour is
            // directly connected, which also resolves next hops without an IGP.
            c.push_str("  direct;\n");
        }
        if config.graceful_restart {
            c.push_str("  graceful restart on;\n");
        }
        if n.extended_messages {
            c.push_str("  enable extended messages on;\n");
        }
        for family in &n.families {
            let (afi, extra) = match family {
                Family::Ipv4 if n.extended_next_hop => ("ipv4", " extended next hop on;"),
                Family::Ipv4 => ("ipv4", ""),
                Family::Ipv6 => ("ipv6", ""),
            };
            let export = if n.no_export { "none" } else { export };
            let _ = writeln!(c, "  {afi} {{ import all; export {export};{extra} }};");
        }
        c.push_str("}\n");
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::Community;

    #[test]
    fn parses_ecmp_paths_captured_from_bird_2_0_12() {
        let n1: IpAddr = "172.31.255.11".parse().unwrap();
        let n2: IpAddr = "172.31.255.12".parse().unwrap();
        let peers = BTreeMap::from([("peer_172_31_255_11", n1), ("peer_172_31_255_12", n2)]);
        let rib =
            parse_routes(include_str!("../fixtures/bird-show-route-all.txt"), &peers).unwrap();
        let paths = &rib[&"198.51.100.10/32".parse::<IpNet>().unwrap()];
        assert_eq!(paths.len(), 2);
        assert_eq!(paths[0].peer, Some(n1));
        assert_eq!(paths[1].peer, Some(n2));
        assert!(paths[0].best && !paths[1].best);
        assert_eq!(paths[1].next_hops, [n2]);
        assert_eq!(paths[0].as_sequence(), [64512]);
        assert_eq!(paths[0].med, Some(10));
        assert_eq!(paths[0].local_pref, Some(100));
        assert_eq!(paths[0].communities, [Community::new(65000, 1)]);
        assert_eq!(paths[0].large_communities[0].to_string(), "64512:1:2");
        assert_eq!(paths[0].origin, Some(Origin::Incomplete));
    }

    #[test]
    fn originated_prefixes_are_the_only_routes_sent() {
        let router: IpAddr = "172.31.255.1".parse().unwrap();
        let speaker: IpAddr = "172.31.255.2".parse().unwrap();
        let config = RouterConfig::new(64512, "172.31.255.13".parse().unwrap())
            .neighbor(Neighbor::new(router, 64501))
            .neighbor(Neighbor::new(speaker, 64512).no_export())
            .originate("198.51.100.30/32".parse().unwrap())
            .originate("2001:db8::30/128".parse().unwrap());
        let conf = render(&config, std::path::Path::new("/tmp/bird.log"));
        assert!(
            conf.contains("protocol static originate4 { ipv4; route 198.51.100.30/32 blackhole; }")
        );
        assert!(
            conf.contains("protocol static originate6 { ipv6; route 2001:db8::30/128 blackhole; }")
        );
        let exports: Vec<&str> = conf.lines().filter(|l| l.contains("import all;")).collect();
        assert_eq!(
            exports,
            [
                "  ipv4 { import all; export where source = RTS_STATIC; };",
                "  ipv4 { import all; export none; };"
            ]
        );
        // Without prefixes of its own, a router sends nothing, as before.
        let plain = render(
            &RouterConfig::new(64512, "172.31.255.13".parse().unwrap())
                .neighbor(Neighbor::new(router, 64501)),
            std::path::Path::new("/tmp/bird.log"),
        );
        assert!(!plain.contains("protocol static"));
        assert!(plain.contains("  ipv4 { import all; export none; };"));
    }

    #[test]
    fn as_sets_are_kept_apart_from_sequences() {
        let path = parse_as_path("64500 64512 {64513 64514}").unwrap();
        assert_eq!(
            path,
            [
                AsSegment::Sequence(vec![64500, 64512]),
                AsSegment::Set(vec![64513, 64514])
            ]
        );
        assert!(parse_as_path("64500 }").is_err());
    }

    #[test]
    fn reads_the_session_state() {
        let out = "n1         BGP        ---        up     15:49:52.298  Established\n  BGP state:          Established\n";
        assert_eq!(parse_bgp_state(out), Some(SessionState::Established));
        assert_eq!(
            parse_bgp_state("  BGP state:          Down\n"),
            Some(SessionState::Idle)
        );
        assert_eq!(parse_bgp_state("nothing"), None);
    }
}
