//! The control plane on the first node: etcd, kube-apiserver,
//! kube-controller-manager and kube-scheduler, inside that node's
//! namespaces (the API server listens on the node's LAN address).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::SERVICE_CIDR;
use super::node::Node;
use super::pki::Pki;
use super::tools::Tools;
use crate::daemon::Daemon;
use crate::error::Result;
use crate::lab::Lab;
use crate::wait::Probe;

/// How long the API server may take to answer /readyz on a loaded 2-core
/// machine (about 5 s idle).
const READY_TIMEOUT: Duration = Duration::from_secs(120);

pub struct ControlPlane {
    // Stopped in reverse order of start.
    daemons: Vec<Arc<Daemon>>,
}

impl ControlPlane {
    /// Starts the four daemons and waits until the API server is ready.
    /// `admin` is the cluster-admin kubeconfig, whose certificate the API
    /// server also uses towards the kubelets.
    pub fn start(lab: &Lab, node: &Node, tools: &Tools, pki: &Pki) -> Result<ControlPlane> {
        let dir = node.dir().join("control-plane");
        std::fs::create_dir_all(&dir)
            .map_err(|e| crate::LabError::io(format!("cannot create {}", dir.display()), e))?;
        let f = |name: &str| pki.file(name).display().to_string();
        let ip = node.ipv4();
        let mut plane = ControlPlane { daemons: vec![] };
        plane.daemons.push(node.spawn(
            lab,
            "etcd",
            &PathBuf::from("etcd"),
            vec![
                "--name=lab".into(),
                format!("--data-dir={}", dir.join("etcd").display()),
                "--listen-client-urls=http://127.0.0.1:2379".into(),
                "--advertise-client-urls=http://127.0.0.1:2379".into(),
                "--listen-peer-urls=http://127.0.0.1:2380".into(),
                "--initial-advertise-peer-urls=http://127.0.0.1:2380".into(),
                "--initial-cluster=lab=http://127.0.0.1:2380".into(),
                "--log-level=warn".into(),
            ],
        )?);
        let apiserver = node.spawn(
            lab,
            "kube-apiserver",
            &tools.kube("kube-apiserver"),
            vec![
                "--etcd-servers=http://127.0.0.1:2379".into(),
                "--bind-address=0.0.0.0".into(),
                format!("--advertise-address={ip}"),
                "--secure-port=6443".into(),
                "--insecure-port=0".into(),
                format!("--tls-cert-file={}", f("apiserver.crt")),
                format!("--tls-private-key-file={}", f("apiserver.key")),
                format!("--client-ca-file={}", f("ca.crt")),
                // No DNS for node names here.
                "--kubelet-preferred-address-types=InternalIP,Hostname".into(),
                format!("--kubelet-client-certificate={}", f("admin.crt")),
                format!("--kubelet-client-key={}", f("admin.key")),
                format!("--kubelet-certificate-authority={}", f("ca.crt")),
                "--authorization-mode=Node,RBAC".into(),
                "--allow-privileged=true".into(),
                format!("--service-cluster-ip-range={SERVICE_CIDR}"),
                "--service-node-port-range=30000-32767".into(),
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
                format!("--service-account-key-file={}", f("sa.pub")),
                format!("--service-account-signing-key-file={}", f("sa.key")),
                "--enable-admission-plugins=NodeRestriction".into(),
                "--profiling=false".into(),
                "--v=1".into(),
            ],
        )?;
        plane.daemons.push(apiserver.clone());
        lab.wait_for("kube-apiserver /readyz to answer ok", READY_TIMEOUT, || {
            if apiserver.has_exited() {
                return Ok(Probe::Fail("kube-apiserver exited".into()));
            }
            let body = node.host.netns.exec(
                "curl",
                [
                    "--silent".to_string(),
                    "--max-time".into(),
                    "5".into(),
                    "--cacert".into(),
                    f("ca.crt"),
                    "--cert".into(),
                    f("admin.crt"),
                    "--key".into(),
                    f("admin.key"),
                    format!("{}/readyz", pki.server()),
                ],
            )?;
            Ok(if body.trim() == "ok" {
                Probe::Done(())
            } else {
                Probe::Pending(body)
            })
        })?;
        let cm = pki.client("controller-manager", "system:kube-controller-manager", &[])?;
        plane.daemons.push(node.spawn(
            lab,
            "kube-controller-manager",
            &tools.kube("kube-controller-manager"),
            vec![
                format!("--kubeconfig={}", cm.display()),
                format!("--authentication-kubeconfig={}", cm.display()),
                format!("--authorization-kubeconfig={}", cm.display()),
                "--bind-address=127.0.0.1".into(),
                "--port=0".into(),
                "--leader-elect=false".into(),
                "--use-service-account-credentials=true".into(),
                format!("--service-account-private-key-file={}", f("sa.key")),
                format!("--root-ca-file={}", f("ca.crt")),
                format!("--cluster-signing-cert-file={}", f("ca.crt")),
                format!("--cluster-signing-key-file={}", f("ca.key")),
                "--v=1".into(),
            ],
        )?);
        let scheduler = pki.client("scheduler", "system:kube-scheduler", &[])?;
        plane.daemons.push(node.spawn(
            lab,
            "kube-scheduler",
            &tools.kube("kube-scheduler"),
            vec![
                format!("--kubeconfig={}", scheduler.display()),
                format!("--authentication-kubeconfig={}", scheduler.display()),
                format!("--authorization-kubeconfig={}", scheduler.display()),
                "--bind-address=127.0.0.1".into(),
                "--port=0".into(),
                "--leader-elect=false".into(),
                "--v=1".into(),
            ],
        )?);
        Ok(plane)
    }

    pub fn pids(&self) -> Vec<nix::unistd::Pid> {
        self.daemons.iter().filter_map(|d| d.pid()).collect()
    }

    pub fn stop(&mut self) {
        for daemon in self.daemons.drain(..).rev() {
            daemon.stop(Duration::from_secs(2));
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.stop();
    }
}
