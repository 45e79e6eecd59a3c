//! One Kubernetes node: a holder process that owns the node's network and
//! (private) mount namespace, and containerd, kubelet and kube-proxy
//! started inside both.
//!
//! `ip netns exec` would give each daemon a mount namespace of its own with
//! an empty `/sys/fs/cgroup`: kubelet and runc would see no cgroups, and
//! containerd would not see kubelet's secret mounts. So every daemon of a
//! node enters the holder's namespaces (`nsenter -t HOLDER -m -n`), and
//! whatever they mount vanishes with the holder. The host's sysctls that
//! kubelet writes, its resolv.conf, and the directories containerd and CNI
//! hard-code are shadowed in that mount namespace only.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ipnet::Ipv4Net;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::cgroups::CgroupTree;
use super::pki::Pki;
use super::tools::{PAUSE_IMAGE, Tools};
use crate::daemon::{Daemon, DaemonSpec};
use crate::error::{LabError, Result};
use crate::lab::{Host, LAN_IFACE, Lab};
use crate::on_signal;
use crate::wait::Probe;

/// Global sysctls kubelet 1.20 sets (protect-kernel-defaults off): it sees
/// files with the values it wants instead, so the host keeps its own.
const SHADOWED_SYSCTLS: &[(&str, &str)] = &[
    ("kernel/panic", "10"),
    ("kernel/panic_on_oops", "1"),
    ("vm/overcommit_memory", "1"),
    ("vm/panic_on_oom", "0"),
    ("kernel/keys/root_maxkeys", "1000000"),
    ("kernel/keys/root_maxbytes", "25000000"),
];

/// Directories containerd, kubelet and CNI use whatever their configuration
/// says: a tmpfs over each in the node's mount namespace keeps the nodes
/// apart and leaves nothing on the host.
const PRIVATE_DIRS: &[&str] = &[
    "/run/containerd",
    "/var/lib/cni",
    "/var/log/pods",
    "/var/log/containers",
];

/// A node of the cluster.
pub struct Node {
    pub name: String,
    pub host: Host,
    /// This node's pods' addresses (CNI bridge + host-local).
    pub pod_cidr: Ipv4Net,
    dir: PathBuf,
    socket: PathBuf,
    cgroups: CgroupTree,
    /// Its pods' and shims' teardown on a signal ([`on_signal`]).
    on_signal: u64,
    holder: Arc<Daemon>,
    containerd: Option<Arc<Daemon>>,
    kubelet: Option<Arc<Daemon>>,
    kube_proxy: Option<Arc<Daemon>>,
}

impl Node {
    /// Starts the holder and shadows what must not leak to the host.
    pub fn prepare(
        lab: &Lab,
        host: Host,
        name: &str,
        pod_cidr: Ipv4Net,
        cgroup_name: &str,
    ) -> Result<Node> {
        let dir = lab.state_dir(&host, "k8s")?;
        let holder = lab.start_daemon(DaemonSpec {
            name: format!("{name}/holder"),
            netns: None,
            program: "nsenter",
            args: vec![
                format!("--net=/run/netns/{}", host.netns.name()),
                "unshare".into(),
                "-m".into(),
                "--propagation".into(),
                "slave".into(),
                "--".into(),
                "sleep".into(),
                "infinity".into(),
            ],
            output: dir.join("holder.log"),
            logs: vec![],
            lifetime: lab.lifetime(),
        })?;
        let cgroups = CgroupTree::create(cgroup_name)?;
        let socket = dir.join("containerd/containerd.sock");
        // A signal stops the daemons and deletes the namespaces; the pods
        // and the shims, outside both, go first.
        let on_signal = {
            let (pods, socket) = (cgroups.killer(), socket.clone());
            on_signal::teardown_added(move || {
                pods();
                for pid in shims_of(&socket) {
                    let _ = kill(pid, Signal::SIGKILL);
                }
            })
        };
        let node = Node {
            on_signal,
            name: name.to_string(),
            host,
            pod_cidr,
            socket,
            dir,
            cgroups,
            holder,
            containerd: None,
            kubelet: None,
            kube_proxy: None,
        };
        node.wait_unshared(lab)?;
        node.shadow_host_files()?;
        // Pods on the other nodes are reached through their node; kubelet
        // probes a cloud metadata address: fail at once instead of timing
        // out.
        node.host.netns.sysctl("net.ipv4.ip_forward", "1")?;
        node.host
            .netns
            .ip(["route", "add", "unreachable", "169.254.0.0/16"])?;
        node.route_services()?;
        Ok(node)
    }

    fn holder_pid(&self) -> Result<Pid> {
        self.holder
            .pid()
            .ok_or_else(|| LabError::Invalid(format!("{}: the holder has no pid", self.name)))
    }

    /// Waits until `unshare` has made the holder's mount namespace.
    fn wait_unshared(&self, lab: &Lab) -> Result<()> {
        let pid = self.holder_pid()?;
        let ours = std::fs::read_link("/proc/self/ns/mnt")
            .map_err(|e| LabError::io("cannot read our mount namespace", e))?;
        lab.wait_for(
            &format!("{}'s holder to own a mount namespace", self.name),
            Duration::from_secs(10),
            || {
                if self.holder.has_exited() {
                    return Ok(Probe::Fail("the holder exited".into()));
                }
                let theirs = std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
                    .map_err(|e| LabError::io("cannot read the holder's namespace", e))?;
                Ok(if theirs != ours {
                    Probe::Done(())
                } else {
                    Probe::Pending("same mount namespace as ours".into())
                })
            },
        )
    }

    fn shadow_host_files(&self) -> Result<()> {
        let shadow = self.dir.join("shadow");
        std::fs::create_dir_all(&shadow)
            .map_err(|e| LabError::io(format!("cannot create {}", shadow.display()), e))?;
        for (key, value) in SHADOWED_SYSCTLS {
            let file = shadow.join(key.replace('/', "_"));
            write(&file, &format!("{value}\n"))?;
            self.run_inside(
                "mount",
                &[
                    "--bind".into(),
                    file.display().to_string(),
                    format!("/proc/sys/{key}"),
                ],
            )?;
        }
        // No DNS here: lookups fail at once instead of after 5 s timeouts.
        let resolv = shadow.join("resolv.conf");
        write(&resolv, "nameserver 127.0.0.1\n")?;
        self.run_inside(
            "mount",
            &[
                "--bind".into(),
                resolv.display().to_string(),
                "/etc/resolv.conf".into(),
            ],
        )?;
        for dir in PRIVATE_DIRS {
            self.run_inside("mkdir", &["-p".into(), dir.to_string()])?;
            self.run_inside(
                "mount",
                &[
                    "-t".into(),
                    "tmpfs".into(),
                    "-o".into(),
                    "mode=0755".into(),
                    "tmpfs".into(),
                    dir.to_string(),
                ],
            )?;
        }
        Ok(())
    }

    /// `nsenter -t HOLDER -m -n -- program args...`, arguments for a daemon
    /// or a command inside the node.
    fn inside(&self, program: &Path, args: &[String]) -> Result<Vec<String>> {
        let mut out = vec![
            "-t".to_string(),
            self.holder_pid()?.to_string(),
            "-m".into(),
            "-n".into(),
            "--".into(),
            program.display().to_string(),
        ];
        out.extend(args.iter().cloned());
        Ok(out)
    }

    /// Runs a command inside the node's namespaces and returns its stdout.
    pub fn run_inside(&self, program: &str, args: &[String]) -> Result<String> {
        crate::cmd::run("nsenter", self.inside(Path::new(program), args)?)
    }

    /// Starts a daemon inside the node's namespaces (the control plane's
    /// run on the first node this way).
    pub fn spawn(
        &self,
        lab: &Lab,
        what: &str,
        program: &Path,
        args: Vec<String>,
    ) -> Result<Arc<Daemon>> {
        lab.start_daemon(DaemonSpec {
            name: format!("{}/{what}", self.name),
            netns: None,
            program: "nsenter",
            args: self.inside(program, &args)?,
            output: self.dir.join(format!("{what}.log")),
            logs: vec![],
            lifetime: lab.lifetime(),
        })
    }

    /// containerd with this node's own root, state and socket, and the
    /// cluster's images imported.
    pub fn start_runtime(&mut self, lab: &Lab, tools: &Tools) -> Result<()> {
        let config = self.write_runtime_config()?;
        let daemon = self.spawn(
            lab,
            "containerd",
            Path::new("containerd"),
            vec!["--config".into(), config.display().to_string()],
        )?;
        self.containerd = Some(daemon.clone());
        lab.wait_for(
            &format!("{}'s containerd to answer", self.name),
            Duration::from_secs(30),
            || {
                if daemon.has_exited() {
                    return Ok(Probe::Fail("containerd exited".into()));
                }
                Ok(match self.ctr(&["version".into()]) {
                    Ok(_) => Probe::Done(()),
                    Err(e) => Probe::Pending(e.to_string()),
                })
            },
        )?;
        for image in &tools.images {
            self.ctr(&[
                "images".into(),
                "import".into(),
                image.display().to_string(),
            ])?;
        }
        Ok(())
    }

    /// `ctr -a SOCKET -n k8s.io args...` inside the node.
    pub fn ctr(&self, args: &[String]) -> Result<String> {
        let mut all = vec![
            "-a".to_string(),
            self.socket.display().to_string(),
            "-n".into(),
            "k8s.io".into(),
        ];
        all.extend(args.iter().cloned());
        self.run_inside("ctr", &all)
    }

    fn write_runtime_config(&self) -> Result<PathBuf> {
        let d = self.dir.join("containerd");
        let cni = self.dir.join("cni");
        for dir in [&d, &cni] {
            std::fs::create_dir_all(dir)
                .map_err(|e| LabError::io(format!("cannot create {}", dir.display()), e))?;
        }
        write(
            &cni.join("10-bridge.conflist"),
            &format!(
                r#"{{
  "cniVersion": "0.4.0",
  "name": "lab-pods",
  "plugins": [
    {{ "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
      "ipam": {{ "type": "host-local", "ranges": [[{{"subnet": "{cidr}"}}]], "routes": [{{"dst": "0.0.0.0/0"}}],
                "dataDir": "{ipam}" }} }},
    {{ "type": "portmap", "capabilities": {{"portMappings": true}} }}
  ]
}}
"#,
                cidr = self.pod_cidr,
                ipam = self.dir.join("ipam").display(),
            ),
        )?;
        let path = d.join("config.toml");
        write(
            &path,
            &format!(
                r#"version = 2
root = "{d}/root"
state = "{d}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "{sock}"
[ttrpc]
  address = "{sock}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  netns_mounts_under_state_dir = true
  # Root here lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{d}/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni}"
"#,
                d = d.display(),
                sock = self.socket.display(),
                cni = cni.display(),
            ),
        )?;
        Ok(path)
    }

    /// kubelet, registered as this node with its LAN address.
    pub fn start_kubelet(&mut self, lab: &Lab, tools: &Tools, pki: &Pki) -> Result<()> {
        let kubeconfig = pki.client(
            &format!("kubelet-{}", self.name),
            &format!("system:node:{}", self.name),
            &["system:nodes"],
        )?;
        let serving = pki.serving(
            &format!("kubelet-serving-{}", self.name),
            &self.name,
            &[
                format!("IP:{}", self.host.ipv4),
                format!("DNS:{}", self.name),
            ],
        )?;
        let config = self.dir.join("kubelet.yaml");
        write(
            &config,
            &format!(
                "apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
cgroupRoot: {cgroup_root}
failSwapOn: false
address: {ip}
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {{enabled: false}}
  webhook: {{enabled: true}}
  x509: {{clientCAFile: {ca}}}
authorization: {{mode: Webhook}}
tlsCertFile: {cert}
tlsPrivateKeyFile: {key}
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
evictionHard: {{memory.available: \"100Mi\", nodefs.available: \"{eviction}%\", imagefs.available: \"{eviction}%\"}}
imageGCHighThresholdPercent: 100
serializeImagePulls: false
",
                cgroup_root = self.cgroups.root(),
                eviction = super::disk::EVICTION_PERCENT,
                ip = self.host.ipv4,
                ca = pki.ca().display(),
                cert = serving.cert.display(),
                key = serving.key.display(),
            ),
        )?;
        let daemon = self.spawn(
            lab,
            "kubelet",
            &tools.kube("kubelet"),
            vec![
                format!("--config={}", config.display()),
                format!("--kubeconfig={}", kubeconfig.display()),
                format!("--hostname-override={}", self.name),
                format!("--node-ip={}", self.host.ipv4),
                "--container-runtime=remote".into(),
                format!(
                    "--container-runtime-endpoint=unix://{}",
                    self.socket.display()
                ),
                format!("--root-dir={}", self.dir.join("kubelet").display()),
                "--v=1".into(),
            ],
        )?;
        self.kubelet = Some(daemon);
        Ok(())
    }

    /// kube-proxy in iptables mode, inside the node's namespace only.
    pub fn start_kube_proxy(&mut self, lab: &Lab, tools: &Tools, pki: &Pki) -> Result<()> {
        let kubeconfig = pki.client(
            &format!("kube-proxy-{}", self.name),
            "system:kube-proxy",
            &[],
        )?;
        let daemon = self.spawn(
            lab,
            "kube-proxy",
            &tools.kube("kube-proxy"),
            vec![
                format!("--kubeconfig={}", kubeconfig.display()),
                format!("--hostname-override={}", self.name),
                "--proxy-mode=iptables".into(),
                format!("--cluster-cidr={}", super::CLUSTER_CIDR),
                // Else it writes the host's global conntrack limits.
                "--conntrack-max-per-core=0".into(),
                format!("--bind-address={}", self.host.ipv4),
                "--metrics-bind-address=127.0.0.1:10249".into(),
                "--healthz-bind-address=127.0.0.1:10256".into(),
                "--v=1".into(),
            ],
        )?;
        self.kube_proxy = Some(daemon);
        Ok(())
    }

    /// The node has no default route (nothing beyond the LAN): a route for
    /// the Service range lets its own processes (host-network pods like the
    /// speaker) reach ClusterIPs, which kube-proxy rewrites after routing.
    pub fn route_services(&self) -> Result<()> {
        self.host
            .netns
            .ip(["route", "replace", super::SERVICE_CIDR, "dev", LAN_IFACE])
            .map(drop)
    }

    /// Routes to another node's pods through that node.
    pub fn route_pods_of(&self, other: &Node) -> Result<()> {
        self.host
            .netns
            .ip([
                "route",
                "replace",
                &other.pod_cidr.to_string(),
                "via",
                &other.host.ipv4.to_string(),
            ])
            .map(drop)
    }

    /// The node's LAN address.
    pub fn ip(&self) -> IpAddr {
        self.host.ipv4.into()
    }

    pub fn ipv4(&self) -> Ipv4Addr {
        self.host.ipv4
    }

    /// PIDs of the processes in the node's pods, whose command is `comm`
    /// (e.g. `ferrolb-speaker`): found in this node's cgroup subtree only.
    pub fn pod_processes(&self, comm: &str) -> Vec<Pid> {
        self.cgroups
            .pids()
            .into_iter()
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
            })
            .collect()
    }

    /// The node fails: its LAN link is cut, then its kubelet and the pod
    /// processes named `comm` are killed.
    pub fn fail(&self, comm: &str) -> Result<()> {
        self.host.netns.ip(["link", "set", LAN_IFACE, "down"])?;
        if let Some(kubelet) = &self.kubelet {
            kubelet.signal(Signal::SIGKILL)?;
        }
        for pid in self.pod_processes(comm) {
            let _ = kill(pid, Signal::SIGKILL);
        }
        Ok(())
    }

    /// Undoes [`Node::fail`]: the link comes back up (the routes through it
    /// went with it; the caller adds them again) and kubelet starts again.
    pub fn recover(&mut self, lab: &Lab, tools: &Tools, pki: &Pki) -> Result<()> {
        self.host.netns.ip(["link", "set", LAN_IFACE, "up"])?;
        self.route_services()?;
        self.start_kubelet(lab, tools, pki)
    }

    /// The kubelet's daemon, e.g. to tell whether it still runs.
    pub fn kubelet(&self) -> Option<&Arc<Daemon>> {
        self.kubelet.as_ref()
    }

    /// Every process this node started, for cleanup tests.
    pub fn pids(&self) -> Vec<Pid> {
        let mut pids: Vec<Pid> = [&self.kube_proxy, &self.kubelet, &self.containerd]
            .into_iter()
            .flatten()
            .chain(std::iter::once(&self.holder))
            .filter_map(|d| d.pid())
            .collect();
        pids.extend(self.cgroups.pids());
        pids.extend(self.shims());
        pids
    }

    /// The containerd shims of this node's containerd: they leave
    /// containerd's process tree, and name its socket on their command line.
    fn shims(&self) -> Vec<Pid> {
        shims_of(&self.socket)
    }

    /// Stops everything, in the order that leaves nothing: kube-proxy and
    /// kubelet, the pods' processes (by their cgroups), the shims, containerd,
    /// then the holder (its mounts go with it) and the cgroups.
    pub fn teardown(&mut self) {
        on_signal::teardown_done(self.on_signal);
        for daemon in [self.kube_proxy.take(), self.kubelet.take()]
            .into_iter()
            .flatten()
        {
            daemon.stop(Duration::from_secs(2));
        }
        self.cgroups.kill_and_remove();
        let shims = self.shims();
        for pid in &shims {
            let _ = kill(*pid, Signal::SIGKILL);
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while shims
            .iter()
            .any(|p| Path::new(&format!("/proc/{p}")).exists())
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(containerd) = self.containerd.take() {
            containerd.stop(Duration::from_secs(2));
        }
        self.holder.stop(Duration::from_millis(200));
        self.cgroups.kill_and_remove();
    }

    /// The node's state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The containerd shims of the containerd listening on `socket`: they
/// leave containerd's process tree, and name its socket on their command
/// line.
fn shims_of(socket: &Path) -> Vec<Pid> {
    let needle = format!("-address\0{}\0", socket.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle))
        })
        .map(Pid::from_raw)
        .collect()
}

impl Drop for Node {
    fn drop(&mut self) {
        self.teardown();
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text)
        .map_err(|e| LabError::io(format!("cannot write {}", path.display()), e))
}
