//! FerroLB's own Layer-2 mode as an L2 subject: `ferrolb run` on every node,
//! all reading one configuration (the Nodes, MetalLB's `memberlist` Secret,
//! a pool holding only the VIP, an L2Advertisement and a Service), so the
//! membership, the fence, the decision and the ARP/NDP responder are the
//! ones a user runs.
//!
//! The kernel never owns the VIP on the LAN interface: the speakers answer
//! ARP/NDP for it from raw sockets, and [`L2Lan::accept_vip_everywhere`]
//! lets every node take the VIP's traffic without answering for it. Who
//! claims the VIP is therefore read from the speakers' own logs ("answering
//! ARP/NDP" / "no longer answering ARP/NDP"), not from the interfaces.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};

use crate::error::{LabError, Result};
use crate::ferrolb::FerroLb;
use crate::l2::lan::L2Lan;
use crate::l2::measure::NodeId;
use crate::l2::subject::{Failure, L2Subject};
use crate::scrape::{self, METRICS_ARGS};
use crate::wait::Probe;

/// What the speaker logs when it starts answering for an address.
pub const CLAIMED: &str = "answering ARP/NDP";
/// What it logs when it stops (plan moved the address, shutdown).
pub const RELEASED: &str = "no longer answering ARP/NDP";
/// What it logs when another host holds the address.
pub const CONFLICT: &str = "another host uses this address";
/// What the runtime logs when the fence lets it announce.
pub const FENCE_OPEN: &str = "fence open: announcing";

/// How long a restarted speaker may take to see a quorum again, at the
/// default timing ([`FerroLbL2::with_rejoin_within`] for another).
const REJOIN: Duration = Duration::from_secs(10);

/// Starts the speaker on a node (`NodeId`) logging to a file of that name
/// in the node's state directory, for a shell that configures the
/// speakers itself ([`FerroLbL2::with_launcher`]).
pub type Launcher = Box<dyn Fn(&L2Lan, NodeId, &str) -> Result<FerroLb>>;

/// `ferrolb run` in Layer-2 mode on every node of the LAN.
pub struct FerroLbL2 {
    /// The tracing filter of every speaker (`RUST_LOG`).
    filter: Option<String>,
    /// More `ferrolb run` arguments for every speaker.
    args: Vec<String>,
    config: Option<PathBuf>,
    speakers: Vec<Option<FerroLb>>,
    /// Starts so far: each life of a speaker gets its own log.
    starts: usize,
    /// The count of `FENCE_OPEN` lines in a cut node's log at the cut: it
    /// is back once it has opened its fence again.
    opens_at_cut: Vec<usize>,
    /// Another shell's speakers, and its name in reports; `None` for
    /// `ferrolb run` on the files this subject writes.
    launcher: Option<(String, Launcher)>,
    /// How long a speaker may take to open its fence.
    rejoin: Duration,
    /// More arguments of one node's speaker.
    args_on: std::collections::BTreeMap<NodeId, Vec<String>>,
}

impl Default for FerroLbL2 {
    fn default() -> Self {
        FerroLbL2::new()
    }
}

impl FerroLbL2 {
    pub fn new() -> FerroLbL2 {
        FerroLbL2 {
            filter: None,
            args: Vec::new(),
            config: None,
            speakers: Vec::new(),
            starts: 0,
            opens_at_cut: Vec::new(),
            launcher: None,
            rejoin: REJOIN,
            args_on: std::collections::BTreeMap::new(),
        }
    }

    /// The speaker on `node` runs with these more arguments, after those
    /// of [`FerroLbL2::with_args`] (e.g. another `--ml-heartbeat`).
    pub fn with_args_on(mut self, node: NodeId, args: &[&str]) -> FerroLbL2 {
        self.args_on
            .insert(node, args.iter().map(|a| a.to_string()).collect());
        self
    }

    /// A speaker may take this long to open its fence (a slower
    /// `--ml-heartbeat` scales the settle time).
    pub fn with_rejoin_within(mut self, rejoin: Duration) -> FerroLbL2 {
        self.rejoin = rejoin;
        self
    }

    /// The speakers are started by `launch` instead of `ferrolb run` on
    /// the files this subject writes: another shell's speaker, configured
    /// by that shell (the Kubernetes speaker, through the API server, with
    /// the VIP in its pool and a Service holding it). `name` is the
    /// subject's name in reports.
    pub fn with_launcher(
        mut self,
        name: impl Into<String>,
        launch: impl Fn(&L2Lan, NodeId, &str) -> Result<FerroLb> + 'static,
    ) -> FerroLbL2 {
        self.launcher = Some((name.into(), Box::new(launch)));
        self
    }

    /// Speakers log with this tracing filter, e.g. `ferrolb_speaker=debug`
    /// to see the membership's and the announcer's timestamps.
    pub fn with_log_filter(mut self, filter: impl Into<String>) -> FerroLbL2 {
        self.filter = Some(filter.into());
        self
    }

    /// Every speaker runs with these more `ferrolb run` arguments, e.g.
    /// `--ml-thread-priority normal`.
    pub fn with_args(mut self, args: &[&str]) -> FerroLbL2 {
        self.args = args.iter().map(|a| a.to_string()).collect();
        self
    }

    /// Writes the configuration and starts a speaker on every node. With
    /// `with_service` false the VIP is in a pool but no Service holds it
    /// yet: [`FerroLbL2::add_service`] adds it later, so the address is new
    /// to the cluster and gets probed before it is claimed.
    pub fn start_with(&mut self, lan: &L2Lan, with_service: bool) -> Result<()> {
        lan.accept_vip_everywhere()?;
        if self.launcher.is_none() {
            let dir = lan.lab().dir().join("ferrolb-l2");
            std::fs::create_dir_all(&dir)
                .map_err(|e| LabError::io(format!("cannot create {}", dir.display()), e))?;
            write(&dir.join("cluster.yaml"), &cluster_config(lan))?;
            if with_service {
                write(&dir.join("service.yaml"), &service_config(lan))?;
            }
            self.config = Some(dir);
        } else if !with_service {
            return Err(LabError::Invalid(
                "a launcher's shell holds the Service: it cannot be added later here".into(),
            ));
        }
        self.speakers = (0..lan.nodes().len()).map(|_| None).collect();
        self.opens_at_cut = vec![0; lan.nodes().len()];
        for id in 0..lan.nodes().len() {
            self.start_on(lan, id)?;
        }
        for id in 0..lan.nodes().len() {
            self.wait_fence_open(lan, id, 0)?;
        }
        Ok(())
    }

    /// Adds the Service holding the VIP (the speakers watch the files).
    pub fn add_service(&self, lan: &L2Lan) -> Result<()> {
        let dir = self.config()?;
        write(&dir.join("service.yaml"), &service_config(lan))
    }

    /// The speaker on `node`, while one runs.
    pub fn speaker(&self, node: NodeId) -> Option<&FerroLb> {
        self.speakers.get(node).and_then(Option::as_ref)
    }

    /// Every speaker's log, for a failure message.
    pub fn logs(&self, lan: &L2Lan) -> String {
        self.speakers
            .iter()
            .enumerate()
            .filter_map(|(id, s)| Some((id, s.as_ref()?)))
            .map(|(id, s)| format!("--- {} ---\n{}", lan.name(id), s.log()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The metrics of the speaker on `node` (`ferrolb run` serves them on
    /// its namespace's loopback; see [`scrape`]).
    pub fn metrics(&self, lan: &L2Lan, node: NodeId) -> Result<String> {
        scrape::metrics(lan.node(node)?)
    }

    fn config(&self) -> Result<&PathBuf> {
        self.config
            .as_ref()
            .ok_or_else(|| LabError::Invalid("FerroLB is not started".into()))
    }

    fn start_on(&mut self, lan: &L2Lan, id: NodeId) -> Result<()> {
        self.starts += 1;
        let log_name = format!("ferrolb-{}.log", self.starts);
        let speaker = match &self.launcher {
            Some((_, launch)) => launch(lan, id, &log_name)?,
            None => {
                let mut args: Vec<&str> = self
                    .args
                    .iter()
                    .chain(self.args_on.get(&id).into_iter().flatten())
                    .map(String::as_str)
                    .collect();
                if !args.contains(&"--metrics-addr") {
                    args.extend(METRICS_ARGS);
                }
                FerroLb::start_logged_args(
                    lan.lab(),
                    lan.node(id)?,
                    self.config()?,
                    &log_name,
                    self.filter.as_deref(),
                    &args,
                )?
            }
        };
        if let Some(slot) = self.speakers.get_mut(id) {
            *slot = Some(speaker);
        }
        Ok(())
    }

    /// Notes a failure's wall-clock instant in the lab's `failures.log`
    /// (not among the watched configuration files), to line it up with the speakers' log timestamps
    /// (keep the lab with FERROLB_LAB_KEEP=1). Best effort: a lost line
    /// costs an explanation, not a measurement.
    fn journal(&self, lan: &L2Lan, node: NodeId, what: &str) {
        use std::io::Write;
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let line = format!(
            "{}.{:06} {what} {}\n",
            since_epoch.as_secs(),
            since_epoch.subsec_micros(),
            lan.name(node)
        );
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(lan.lab().dir().join("failures.log"))
        {
            let _ = file.write_all(line.as_bytes());
        }
    }

    /// Waits until `node`'s speaker has opened its fence more than `seen`
    /// times: it reaches a quorum again and has settled.
    fn wait_fence_open(&self, lan: &L2Lan, id: NodeId, seen: usize) -> Result<()> {
        let speaker = self
            .speaker(id)
            .ok_or_else(|| LabError::Invalid(format!("no speaker on {}", lan.name(id))))?;
        lan.lab()
            .wait_for(
                &format!("{}'s speaker to see a quorum", lan.name(id)),
                self.rejoin,
                || {
                    Ok(if count(&speaker.log(), FENCE_OPEN) > seen {
                        Probe::Done(())
                    } else if speaker.daemon().has_exited() {
                        Probe::Fail("ferrolb run exited".into())
                    } else {
                        Probe::Pending("fence not open (again) yet".into())
                    })
                },
            )
            .map_err(|e| LabError::Invalid(format!("{e}\n{}", speaker.log())))
    }
}

impl L2Subject for FerroLbL2 {
    fn name(&self) -> String {
        match &self.launcher {
            Some((name, _)) => name.clone(),
            None => "FerroLB (ferrolb run, L2)".into(),
        }
    }

    fn period(&self) -> Duration {
        // Heartbeats every 5 ms, reprobes every 25 ms, the client's probes
        // every 5 ms: spread failures over many of each.
        Duration::from_millis(100)
    }

    fn failover_timeout(&self) -> Duration {
        Duration::from_secs(3)
    }

    fn start(&mut self, lan: &L2Lan) -> Result<()> {
        self.start_with(lan, true)
    }

    fn claimants(&self, lan: &L2Lan) -> Result<Vec<NodeId>> {
        Ok(self
            .speakers
            .iter()
            .enumerate()
            .filter_map(|(id, s)| Some((id, s.as_ref()?)))
            .filter(|(_, s)| !s.daemon().has_exited() && claims(&s.log(), lan.vip()))
            .map(|(id, _)| id)
            .collect())
    }

    fn signal(&mut self, lan: &L2Lan, node: NodeId, signal: Signal) -> Result<Instant> {
        let speaker = self
            .speaker(node)
            .ok_or_else(|| LabError::Invalid(format!("no speaker on {}", lan.name(node))))?;
        let daemon = speaker.daemon();
        let pid = daemon
            .pid()
            .ok_or_else(|| LabError::Invalid(format!("{} has no pid", daemon.name())))?;
        // One process (threads only): signalling it is the whole speaker.
        let at = Instant::now();
        kill(pid, signal).map_err(|e| {
            LabError::io(
                format!("cannot send {signal} to {}", daemon.name()),
                e.into(),
            )
        })?;
        self.journal(lan, node, signal.as_str());
        Ok(at)
    }

    fn link_cut(&mut self, lan: &L2Lan, node: NodeId) -> Result<()> {
        self.journal(lan, node, "link cut");
        let opens = self
            .speaker(node)
            .map_or(0, |s| count(&s.log(), FENCE_OPEN));
        if let Some(slot) = self.opens_at_cut.get_mut(node) {
            *slot = opens;
        }
        Ok(())
    }

    fn restore(&mut self, lan: &L2Lan, node: NodeId, failure: Failure) -> Result<()> {
        if failure == Failure::LinkCut {
            // The speaker kept running, fenced itself while alone, and
            // comes back by itself once it reaches a quorum again.
            let seen = self.opens_at_cut.get(node).copied().unwrap_or(0);
            return self.wait_fence_open(lan, node, seen);
        }
        if let Some(old) = self.speaker(node) {
            lan.lab()
                .wait_exited(old.daemon(), Duration::from_secs(10))?;
        }
        self.start_on(lan, node)?;
        self.wait_fence_open(lan, node, 0)
    }
}

/// The members of Layer-2 mode in `ferrolb run`'s files: a `Node` per lab
/// node at its IPv4 address, and the shared `memberlist` key.
pub fn members_config(lan: &L2Lan) -> String {
    members_of(lan.nodes())
}

/// [`members_config`] for any lab hosts.
pub fn members_of(nodes: &[crate::lab::Host]) -> String {
    let mut yaml = String::new();
    for n in nodes {
        yaml += &format!(
            "apiVersion: v1\nkind: Node\nmetadata: {{name: {}}}\n\
             status: {{addresses: [{{type: InternalIP, address: {}}}]}}\n---\n",
            n.name, n.ipv4
        );
    }
    yaml += "apiVersion: v1
kind: Secret
metadata: {name: memberlist, namespace: metallb-system}
stringData: {secretkey: lab-shared-key}
---
";
    yaml
}

/// The nodes, the membership key, a pool holding only the VIP and an
/// L2Advertisement for it.
pub fn cluster_config(lan: &L2Lan) -> String {
    let mut yaml = members_config(lan);
    let len = if lan.vip().is_ipv4() { 32 } else { 128 };
    yaml += &format!(
        "apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {{name: lan, namespace: metallb-system}}
spec: {{addresses: [{vip}/{len}]}}
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {{name: lan, namespace: metallb-system}}
spec: {{ipAddressPools: [lan]}}
",
        vip = lan.vip()
    );
    yaml
}

/// A LoadBalancer Service of the VIP's family; the pool gives it the VIP.
pub fn service_config(lan: &L2Lan) -> String {
    let family = if lan.vip().is_ipv4() { "IPv4" } else { "IPv6" };
    format!(
        "apiVersion: v1
kind: Service
metadata: {{name: web, namespace: default}}
spec: {{type: LoadBalancer, ipFamilies: [{family}], ports: [{{port: 7007, protocol: UDP}}]}}
"
    )
}

fn write(path: &std::path::Path, text: &str) -> Result<()> {
    std::fs::write(path, text)
        .map_err(|e| LabError::io(format!("cannot write {}", path.display()), e))
}

fn count(log: &str, what: &str) -> usize {
    log.lines().filter(|l| l.contains(what)).count()
}

/// Whether the last word of a speaker's log about `vip` is a claim.
pub fn claims(log: &str, vip: std::net::IpAddr) -> bool {
    let mut claimed = false;
    for line in log.lines() {
        if field(line, "ip").and_then(|ip| ip.parse().ok()) != Some(vip) {
            continue;
        }
        if line.contains(RELEASED) || line.contains(CONFLICT) {
            claimed = false;
        } else if line.contains(CLAIMED) {
            claimed = true;
        }
    }
    claimed
}

/// The value of `name=value` in a tracing line.
fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(name)?.strip_prefix('='))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_word_about_the_vip_decides() {
        let vip: std::net::IpAddr = "172.31.255.200".parse().expect("address");
        let claim = "2026-11-22T19:00:00.000001Z  INFO l2{node=n1 interface=eth0}: ferrolb_speaker::announce::l2: answering ARP/NDP ip=172.31.255.200";
        let release = "2026-11-22T19:00:01.000001Z  INFO l2{node=n1 interface=eth0}: ferrolb_speaker::announce::l2: no longer answering ARP/NDP ip=172.31.255.200";
        let other = "2026-11-22T19:00:02.000001Z  INFO l2{node=n1 interface=eth0}: ferrolb_speaker::announce::l2: answering ARP/NDP ip=172.31.255.201";
        let conflict = "2026-11-22T19:00:03.000001Z  WARN l2{node=n1 interface=eth0}: ferrolb_speaker::announce::l2: another host uses this address: not answering for it ip=172.31.255.200 mac=02:00:00:00:00:09";
        assert!(!claims("", vip));
        assert!(claims(claim, vip));
        assert!(!claims(&format!("{claim}\n{release}"), vip));
        assert!(!claims(&format!("{claim}\n{release}\n{other}"), vip));
        assert!(claims(&format!("{release}\n{claim}"), vip));
        assert!(!claims(&format!("{claim}\n{conflict}"), vip));
    }
}
