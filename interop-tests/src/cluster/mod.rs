//! A real Kubernetes v1.20 cluster in the lab: nodes in network namespaces on
//! one LAN (the seed guides' 192.168.1.0/24), each with containerd, kubelet
//! and kube-proxy, the control plane on the first node, and a client on the
//! LAN that runs kubectl and Helm and reaches Services like a workstation.
//! Routers (FRR, BIRD) join the same LAN through [`Cluster::lab_mut`].
//!
//! Everything is torn down on every exit path, by PID: the nodes' daemons,
//! their pods (found by their cgroups), the shims of each node's containerd,
//! the control plane, then the namespaces. Nothing is added to the root
//! namespace and no host sysctl changes (see node.rs). docs/lab.md.

pub mod cgroups;
pub mod control_plane;
pub mod disk;
pub mod kubectl;
pub mod node;
pub mod pki;
pub mod probe;
pub mod routers;
pub mod tools;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use ipnet::Ipv4Net;

pub use kubectl::{EventView, Helm, Kubectl, L2StatusView, PodView, ServiceView};
pub use node::Node;
pub use tools::{ECHO_IMAGE, Tools};

use crate::cmd;
use crate::error::{LabError, Result};
use crate::lab::{Host, Lab};
use crate::wait::Probe;
use control_plane::ControlPlane;
use pki::Pki;

/// The Service range (the `kubernetes` Service is its first address).
pub const SERVICE_CIDR: &str = "10.96.0.0/16";
/// Every node's pods are a /24 of this.
pub const CLUSTER_CIDR: &str = "10.244.0.0/16";
/// The LAN of seeds 000, 002 and 004: their manifests apply verbatim.
pub const LAN: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(192, 168, 1, 0), 24);
/// A range of the LAN no host uses, for pools (seed 000's is inside it).
pub const FREE_RANGE: (Ipv4Addr, Ipv4Addr) = (
    Ipv4Addr::new(192, 168, 1, 200),
    Ipv4Addr::new(192, 168, 1, 250),
);
/// The client's host index on the LAN.
pub const CLIENT_INDEX: u8 = 50;
/// The first node's host index (seed 000's masters and workers are .101-.104).
pub const FIRST_NODE_INDEX: u8 = 101;

/// How a cluster is built.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// Names the test (part of every namespace, cgroup and directory name).
    pub tag: String,
    /// Node names; the control plane runs on the first.
    pub nodes: Vec<String>,
    /// How long any of its processes may live (a backstop when the test
    /// process is killed without unwinding).
    pub lifetime: Duration,
}

impl ClusterSpec {
    /// `count` nodes named node1, node2...
    pub fn new(tag: &str, count: usize) -> ClusterSpec {
        ClusterSpec {
            tag: tag.to_string(),
            nodes: (1..=count).map(|i| format!("node{i}")).collect(),
            lifetime: Duration::from_secs(3600),
        }
    }
}

/// How long each phase of bringing the cluster up took.
#[derive(Debug, Clone, Default)]
pub struct UpTimes {
    pub control_plane: Duration,
    /// From starting the first containerd to every Node Ready.
    pub nodes_ready: Duration,
    pub total: Duration,
}

/// The answer of the echo server: the client address it saw and its pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EchoReply {
    pub client: IpAddr,
    pub pod: String,
}

/// A running cluster. Drop it and everything it started is gone.
pub struct Cluster {
    pub kubectl: Kubectl,
    pub helm: Helm,
    pub client: Host,
    pub times: UpTimes,
    nodes: Vec<Node>,
    control_plane: Option<ControlPlane>,
    pki: Pki,
    tools: Tools,
    // Last: the namespaces go after every process in them.
    lab: Lab,
}

impl Cluster {
    /// Builds the cluster and waits until every Node is Ready.
    pub fn start(spec: &ClusterSpec) -> Result<Cluster> {
        let started = Instant::now();
        if spec.nodes.is_empty() {
            return Err(LabError::Invalid(
                "a cluster needs at least one node".into(),
            ));
        }
        let tools = Tools::locate()?;
        let mut lab = Lab::with_ipv4_lan(&spec.tag, LAN)?;
        disk::Space::of(lab.dir())?.check(lab.dir())?;
        lab.set_lifetime(spec.lifetime);
        let client = lab.add_host_at("client", CLIENT_INDEX)?;
        let pki = Pki::create(
            &lab.dir().join("pki"),
            Ipv4Addr::new(192, 168, 1, FIRST_NODE_INDEX),
        )?;
        let admin = pki.client("admin", "admin", &["system:masters"])?;
        let kubectl = Kubectl::new(tools.kube("kubectl"), admin.clone(), client.netns.clone());
        let helm = Helm::new(
            tools.helm.clone(),
            admin,
            lab.dir().join("helm"),
            client.netns.clone(),
        );
        let mut cluster = Cluster {
            kubectl,
            helm,
            client,
            times: UpTimes::default(),
            nodes: Vec::new(),
            control_plane: None,
            pki,
            tools,
            lab,
        };
        for (i, name) in spec.nodes.iter().enumerate() {
            let index = u8::try_from(i)
                .ok()
                .and_then(|i| FIRST_NODE_INDEX.checked_add(i))
                .filter(|i| *i < 255)
                .ok_or_else(|| {
                    LabError::Invalid(format!("too many nodes: {}", spec.nodes.len()))
                })?;
            let host = cluster.lab.add_host_at(name, index)?;
            let cgroup = host.netns.name().to_string();
            let pod_cidr = Ipv4Net::new_assert(Ipv4Addr::new(10, 244, index, 0), 24);
            let node = Node::prepare(&cluster.lab, host, name, pod_cidr, &cgroup)?;
            cluster.nodes.push(node);
        }
        for a in &cluster.nodes {
            for b in cluster.nodes.iter().filter(|b| b.name != a.name) {
                a.route_pods_of(b)?;
            }
        }
        cluster.control_plane = Some(ControlPlane::start(
            &cluster.lab,
            &cluster.nodes[0],
            &cluster.tools,
            &cluster.pki,
        )?);
        cluster.times.control_plane = started.elapsed();
        let nodes_started = Instant::now();
        for node in &mut cluster.nodes {
            node.start_runtime(&cluster.lab, &cluster.tools)?;
            node.start_kubelet(&cluster.lab, &cluster.tools, &cluster.pki)?;
            node.start_kube_proxy(&cluster.lab, &cluster.tools, &cluster.pki)?;
        }
        let want = spec.nodes.len();
        cluster.wait_for("every Node to be Ready", Duration::from_secs(180), |c| {
            let nodes = c.kubectl.nodes()?;
            let ready = nodes.iter().filter(|(_, r)| *r).count();
            Ok(if ready == want {
                Probe::Done(())
            } else {
                Probe::Pending(format!("{nodes:?}"))
            })
        })?;
        cluster.times.nodes_ready = nodes_started.elapsed();
        cluster.times.total = started.elapsed();
        Ok(cluster)
    }

    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    /// To add routers to the LAN.
    pub fn lab_mut(&mut self) -> &mut Lab {
        &mut self.lab
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn node(&self, name: &str) -> Result<&Node> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .ok_or_else(|| LabError::Invalid(format!("no node {name}")))
    }

    /// Brings a node that [`Node::fail`]ed back: its link, its routes to
    /// the other nodes' pods, its kubelet.
    pub fn recover_node(&mut self, name: &str) -> Result<()> {
        let i = self
            .nodes
            .iter()
            .position(|n| n.name == name)
            .ok_or_else(|| LabError::Invalid(format!("no node {name}")))?;
        self.nodes[i].recover(&self.lab, &self.tools, &self.pki)?;
        for other in self.nodes.iter().filter(|n| n.name != name) {
            self.nodes[i].route_pods_of(other)?;
        }
        Ok(())
    }

    pub fn tools(&self) -> &Tools {
        &self.tools
    }

    /// Polls `probe` (given the cluster) until done or `timeout`; a timeout
    /// carries every daemon's log tail and the Nodes under pressure (a
    /// kubelet short of disk evicts pods and never schedules the next).
    pub fn wait_for<T>(
        &self,
        expected: &str,
        timeout: Duration,
        mut probe: impl FnMut(&Cluster) -> Result<Probe<T>>,
    ) -> Result<T> {
        // kubectl costs ~100 ms of CPU: poll at most 4 times a second.
        let waited = self.lab.wait_for(expected, timeout, || {
            let seen = probe(self);
            if !matches!(seen, Ok(Probe::Done(_))) {
                std::thread::sleep(Duration::from_millis(200));
            }
            seen
        });
        waited.map_err(|e| match e {
            LabError::Timeout {
                expected,
                seen,
                waited,
                logs,
            } => LabError::Timeout {
                expected,
                seen: format!("{seen}\n  nodes: {}", self.pressure()),
                waited,
                logs,
            },
            other => other,
        })
    }

    /// Every Node condition that is True and should not be (DiskPressure,
    /// MemoryPressure, PIDPressure, NetworkUnavailable), with the kubelet's
    /// message, or what the free space of the nodes' disk says if the API
    /// cannot be asked.
    fn pressure(&self) -> String {
        let disk = match disk::Space::of(self.lab.dir()) {
            Ok(s) => format!(
                "{} MiB free of {} MiB (the kubelet evicts below {} MiB)",
                s.available >> 20,
                s.capacity >> 20,
                s.eviction_threshold() >> 20
            ),
            Err(e) => e.to_string(),
        };
        let conditions = match self.kubectl.node_pressures() {
            Ok(list) if list.is_empty() => "no pressure condition".to_string(),
            Ok(list) => list.join("; "),
            Err(e) => format!("(could not read the Nodes: {e})"),
        };
        format!("{conditions}; disk: {disk}")
    }

    /// GET http://ADDR:PORT/ from the client (curl, 3 s at most), as the
    /// echo server answers it.
    pub fn echo(&self, addr: IpAddr, port: u16) -> Result<EchoReply> {
        let host = match addr {
            IpAddr::V4(a) => a.to_string(),
            IpAddr::V6(a) => format!("[{a}]"),
        };
        let body = self.client.netns.exec(
            "curl",
            [
                "--silent".to_string(),
                "--show-error".into(),
                "--fail".into(),
                "--max-time".into(),
                "3".into(),
                format!("http://{host}:{port}/"),
            ],
        )?;
        let mut lines = body.lines();
        let client = lines
            .next()
            .and_then(|l| l.trim().parse().ok())
            .ok_or_else(|| {
                LabError::parse("the echo server's answer", "no client address", &body)
            })?;
        let pod = lines.next().unwrap_or_default().trim().to_string();
        Ok(EchoReply { client, pod })
    }

    /// Every process the cluster started (daemons, pods, shims), for
    /// cleanup tests.
    pub fn pids(&self) -> Vec<nix::unistd::Pid> {
        let mut pids: Vec<_> = self.nodes.iter().flat_map(Node::pids).collect();
        if let Some(plane) = &self.control_plane {
            pids.extend(plane.pids());
        }
        pids.extend(self.lab.daemon_pids());
        pids
    }

    /// Names of every namespace of the cluster's LAN.
    pub fn netns_names(&self) -> Vec<String> {
        self.lab.netns_names()
    }

    /// The tail of every daemon's logs.
    pub fn log_tails(&self, lines: usize) -> String {
        self.lab.log_tails(lines)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.teardown();
        }
        if let Some(mut plane) = self.control_plane.take() {
            plane.stop();
        }
    }
}

/// The chart in this checkout.
pub fn chart_dir() -> std::path::PathBuf {
    tools::project_root().join("charts/ferrolb")
}

/// The label every pod of the chart carries (what seed 001's `kubectl wait`
/// selects on).
pub const CHART_SELECTOR: &str = "app.kubernetes.io/name=ferrolb";

impl Cluster {
    /// `helm install RELEASE charts/ferrolb --namespace NS --create-namespace`
    /// as seed 001 does, plus `extra` (e.g. `--values FILE`). Kubernetes 1.20
    /// has no CEL: Helm v4's server-side apply of the CRDs would fail on
    /// their validation rules, so it applies client-side.
    pub fn helm_install(&self, release: &str, namespace: &str, extra: &[&str]) -> Result<String> {
        let chart = chart_dir().display().to_string();
        // The speakers' graceful-restart marker is a hostPath: the lab's
        // nodes share the host's filesystem, so it lives in the lab's own
        // directory (removed with the lab), never in the host's /run.
        let restart_state = format!(
            "speaker.gracefulRestart.hostPath={}",
            self.lab.dir().join("speaker-restart-state").display()
        );
        let mut args = vec![
            "install",
            release,
            &chart,
            "--namespace",
            namespace,
            "--create-namespace",
            "--server-side=false",
            "--set",
            &restart_state,
        ];
        args.extend(extra);
        self.helm.run(&args)
    }

    /// Waits until `selector` matches `count` ready pods in `namespace`, then
    /// runs seed 001's `kubectl wait --for=condition=ready pod` on them.
    pub fn wait_pods_ready(
        &self,
        namespace: &str,
        selector: &str,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<PodView>> {
        // kubectl 1.20's wait applies its timeout to each pod in turn: the
        // bound is ours, and the guide's command then confirms.
        self.wait_for(
            &format!("{count} ready pod(s) {selector} in {namespace}"),
            timeout,
            |c| {
                let pods = c.kubectl.pods(namespace, selector)?;
                Ok(if pods.len() >= count && pods.iter().all(|p| p.ready) {
                    Probe::Done(())
                } else {
                    Probe::Pending(format!("{pods:?}"))
                })
            },
        )?;
        self.kubectl.run(&[
            "wait",
            "--namespace",
            namespace,
            "--for=condition=ready",
            "pod",
            &format!("--selector={selector}"),
            "--timeout=10s",
        ])?;
        self.kubectl.pods(namespace, selector)
    }

    /// Layer-2 mode needs the `memberlist` Secret. A chart with
    /// `templates/memberlist-secret.yaml` makes it; an older chart's NOTES
    /// tell the user to create it: do as they say.
    pub fn ensure_memberlist_secret(&self, namespace: &str) -> Result<()> {
        if chart_dir()
            .join("templates/memberlist-secret.yaml")
            .is_file()
        {
            return Ok(());
        }
        let key = cmd::run("openssl", ["rand", "-base64", "32"])?;
        let key = key.trim();
        self.kubectl
            .run(&[
                "create",
                "secret",
                "generic",
                "-n",
                namespace,
                "memberlist",
                &format!("--from-literal=secretkey={key}"),
            ])
            .map(drop)
    }

    /// Waits until Service `namespace/name` has a load-balancer address.
    pub fn wait_ingress(&self, namespace: &str, name: &str, timeout: Duration) -> Result<IpAddr> {
        self.wait_for(
            &format!("Service {namespace}/{name} to get an EXTERNAL-IP"),
            timeout,
            |c| {
                let svc = c.kubectl.service(namespace, name)?;
                Ok(match svc.ingress.first() {
                    Some(ip) => Probe::Done(*ip),
                    None => Probe::Pending(format!("{svc:?}")),
                })
            },
        )
    }

    /// Waits until the client's GET of `addr:port` is answered.
    pub fn wait_echo(&self, addr: IpAddr, port: u16, timeout: Duration) -> Result<EchoReply> {
        self.wait_for(
            &format!("the client to reach {addr}:{port}"),
            timeout,
            |c| Ok(Probe::Done(c.echo(addr, port)?)),
        )
    }
}
