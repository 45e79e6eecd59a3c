//! A real Kubernetes API server for integration tests: etcd and
//! kube-apiserver v1.20 on loopback, with generated certificates, RBAC on,
//! stopped on every exit path.
//!
//! The binary is built from Debian's source package by
//! `scripts/build-kube-apiserver.sh` (cached per machine). 1.20 has no CEL
//! and no discovery.k8s.io/v1 EndpointSlices; docs/testing.md lists what
//! works.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use crate::cmd;
use crate::daemon::{Daemon, DaemonSpec};
use crate::error::{LabError, Result};
use crate::prereq;
use crate::wait::{self, Probe};

/// etcd + kube-apiserver, alive until dropped.
pub struct ApiServer {
    dir: PathBuf,
    port: u16,
    // Field order is drop order: the API server goes before its etcd.
    apiserver: Arc<Daemon>,
    etcd: Arc<Daemon>,
}

/// A client identity: certificate and key signed by the test CA.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user: String,
    pub groups: Vec<String>,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// A kubeconfig that authenticates as this identity.
    pub kubeconfig: PathBuf,
}

impl ApiServer {
    /// Builds (once per machine) and starts the API server.
    pub fn start() -> Result<ApiServer> {
        ApiServer::start_with(&[])
    }

    /// [`ApiServer::start`] with more kube-apiserver flags (later flags
    /// win), e.g. a wider `--service-node-port-range` for a benchmark that
    /// creates tens of thousands of LoadBalancer Services.
    pub fn start_with(extra_args: &[&str]) -> Result<ApiServer> {
        prereq::require_program("etcd", "etcd-server")?;
        prereq::require_program("openssl", "openssl")?;
        prereq::require_program("curl", "curl")?;
        let binary = kube_apiserver_binary()?;
        let dir = std::env::temp_dir().join("ferrolb-apiserver").join(format!(
            "{}-{}",
            std::process::id(),
            unique()
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|e| LabError::io(format!("cannot create {}", dir.display()), e))?;
        make_certificates(&dir)?;
        let [etcd_client, etcd_peer, port] = free_ports()?;

        let lifetime = Duration::from_secs(1800);
        let etcd = Arc::new(Daemon::start(DaemonSpec {
            name: "etcd".into(),
            netns: None,
            program: "etcd",
            args: vec![
                "--data-dir".into(),
                dir.join("etcd").display().to_string(),
                "--name".into(),
                "test".into(),
                "--listen-client-urls".into(),
                format!("http://127.0.0.1:{etcd_client}"),
                "--advertise-client-urls".into(),
                format!("http://127.0.0.1:{etcd_client}"),
                "--listen-peer-urls".into(),
                format!("http://127.0.0.1:{etcd_peer}"),
                "--initial-advertise-peer-urls".into(),
                format!("http://127.0.0.1:{etcd_peer}"),
                "--initial-cluster".into(),
                format!("test=http://127.0.0.1:{etcd_peer}"),
                "--log-level".into(),
                "warn".into(),
            ],
            output: dir.join("etcd.log"),
            logs: vec![],
            lifetime,
        })?);
        let file = |f: &str| dir.join(f).display().to_string();
        let apiserver = Arc::new(Daemon::start(DaemonSpec {
            name: "kube-apiserver".into(),
            netns: None,
            program: binary
                .to_str()
                .ok_or_else(|| LabError::Invalid("non-UTF-8 binary path".into()))?,
            args: vec![
                format!("--etcd-servers=http://127.0.0.1:{etcd_client}"),
                "--bind-address=127.0.0.1".into(),
                "--advertise-address=127.0.0.1".into(),
                format!("--secure-port={port}"),
                "--insecure-port=0".into(),
                format!("--tls-cert-file={}", file("server.crt")),
                format!("--tls-private-key-file={}", file("server.key")),
                format!("--client-ca-file={}", file("ca.crt")),
                "--authorization-mode=Node,RBAC".into(),
                // Dual-stack Services are alpha in 1.20, behind this gate.
                "--feature-gates=IPv6DualStack=true".into(),
                "--service-cluster-ip-range=10.96.0.0/16,fd00:96::/108".into(),
                "--service-account-issuer=https://kubernetes.default.svc".into(),
                format!("--service-account-key-file={}", file("sa.pub")),
                format!("--service-account-signing-key-file={}", file("sa.key")),
                // Without a network it loops on a loopback-endpoint error.
                "--endpoint-reconciler-type=none".into(),
                "--profiling=false".into(),
                "--v=1".into(),
            ]
            .into_iter()
            .chain(extra_args.iter().map(|a| a.to_string()))
            .collect(),
            output: dir.join("kube-apiserver.log"),
            logs: vec![],
            lifetime,
        })?);
        let server = ApiServer {
            dir,
            port,
            apiserver,
            etcd,
        };
        let admin = server.identity("admin", &["system:masters"])?;
        let logs = |s: &ApiServer| format!("{}{}", s.etcd.log_tail(10), s.apiserver.log_tail(20));
        wait::poll(
            "kube-apiserver /readyz to answer ok",
            Duration::from_secs(90),
            || {
                if server.apiserver.has_exited() {
                    return Err(LabError::Invalid(format!(
                        "kube-apiserver exited:\n{}",
                        logs(&server)
                    )));
                }
                Ok(match server.get("/readyz", &admin) {
                    Ok(body) if body.trim() == "ok" => Probe::Done(()),
                    Ok(body) => Probe::Pending(body),
                    Err(e) => Probe::Pending(e.to_string()),
                })
            },
        )
        .map_err(|e| match e {
            LabError::Timeout {
                expected,
                seen,
                waited,
                ..
            } => LabError::Timeout {
                expected,
                seen,
                waited,
                logs: logs(&server),
            },
            other => other,
        })?;
        Ok(server)
    }

    /// The port it listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The cluster-admin kubeconfig (written by `start`).
    pub fn admin_kubeconfig(&self) -> PathBuf {
        self.dir.join("admin.kubeconfig")
    }

    /// A client certificate for `user` in `groups`, and a kubeconfig for it.
    /// Tests use it to run components with exactly the RBAC they ship.
    pub fn identity(&self, user: &str, groups: &[&str]) -> Result<Identity> {
        let safe: String = user
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let cert = self.dir.join(format!("{safe}.crt"));
        let key = self.dir.join(format!("{safe}.key"));
        let subject: String = std::iter::once(format!("/CN={user}"))
            .chain(groups.iter().map(|g| format!("/O={g}")))
            .collect();
        // X.509 v3 with client-auth usage: rustls refuses v1 certificates.
        sign(&self.dir, &key, &cert, &subject, Some("client.ext"))?;
        let kubeconfig = self.dir.join(format!("{safe}.kubeconfig"));
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {url}\n    certificate-authority: {ca}\nusers:\n- name: {user}\n  user:\n    client-certificate: {cert}\n    client-key: {key}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: {user}\ncurrent-context: test\n",
            url = self.url(),
            ca = self.dir.join("ca.crt").display(),
            cert = cert.display(),
            key = key.display(),
        );
        std::fs::write(&kubeconfig, text)
            .map_err(|e| LabError::io("cannot write a kubeconfig", e))?;
        Ok(Identity {
            user: user.to_string(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            cert,
            key,
            kubeconfig,
        })
    }

    /// A raw GET as `who`, e.g. `/readyz` or `/api/v1/namespaces`.
    pub fn get(&self, path: &str, who: &Identity) -> Result<String> {
        cmd::run(
            "curl",
            [
                "--silent",
                "--show-error",
                "--max-time",
                "5",
                "--cacert",
                &self.dir.join("ca.crt").display().to_string(),
                "--cert",
                &who.cert.display().to_string(),
                "--key",
                &who.key.display().to_string(),
                &format!("{}{path}", self.url()),
            ],
        )
    }

    /// PIDs of etcd and kube-apiserver.
    pub fn pids(&self) -> Vec<nix::unistd::Pid> {
        [&self.etcd, &self.apiserver]
            .iter()
            .filter_map(|d| d.pid())
            .collect()
    }

    /// The tail of etcd's and kube-apiserver's logs.
    pub fn log_tail(&self, lines: usize) -> String {
        format!(
            "{}{}",
            self.etcd.log_tail(lines),
            self.apiserver.log_tail(lines)
        )
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.apiserver.stop(Duration::from_secs(2));
        self.etcd.stop(Duration::from_secs(2));
        if std::thread::panicking() || std::env::var_os("FERROLB_LAB_KEEP").is_some() {
            eprintln!("api server state kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The cached kube-apiserver binary: `FERROLB_KUBE_APISERVER`, or built by
/// the script on first use.
fn kube_apiserver_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("FERROLB_KUBE_APISERVER") {
        return Ok(PathBuf::from(path));
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/build-kube-apiserver.sh");
    let out = cmd::output_of(&mut Command::new(&script))?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    prereq::require_program(&path, "kube-apiserver (scripts/build-kube-apiserver.sh)")?;
    Ok(PathBuf::from(path))
}

fn make_certificates(dir: &Path) -> Result<()> {
    let openssl = |args: &[&str]| -> Result<()> {
        cmd::output_of(Command::new("openssl").args(args).current_dir(dir)).map(drop)
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-subj",
        "/CN=ferrolb-test-ca",
    ])?;
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .map_err(|e| LabError::io("cannot write server.ext", e))?;
    std::fs::write(
        dir.join("client.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
    )
    .map_err(|e| LabError::io("cannot write client.ext", e))?;
    sign(
        dir,
        &dir.join("server.key"),
        &dir.join("server.crt"),
        "/CN=kube-apiserver",
        Some("server.ext"),
    )?;
    openssl(&["genrsa", "-out", "sa.key", "2048"])?;
    openssl(&["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"])
}

pub(crate) fn sign(
    dir: &Path,
    key: &Path,
    cert: &Path,
    subject: &str,
    extensions: Option<&str>,
) -> Result<()> {
    let csr = cert.with_extension("csr");
    let (key_s, cert_s, csr_s) = (
        key.display().to_string(),
        cert.display().to_string(),
        csr.display().to_string(),
    );
    cmd::output_of(Command::new("openssl").current_dir(dir).args([
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key_s, "-out", &csr_s, "-subj", subject,
    ]))?;
    let mut x509 = Command::new("openssl");
    x509.current_dir(dir).args([
        "x509",
        "-req",
        "-in",
        &csr_s,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        &cert_s,
    ]);
    if let Some(ext) = extensions {
        x509.args(["-extfile", ext]);
    }
    cmd::output_of(&mut x509).map(drop)
}

fn free_ports() -> Result<[u16; 3]> {
    // Bound together so the three differ; released right before use.
    let listeners: Vec<TcpListener> = (0..3)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<_>>()
        .map_err(|e| LabError::io("cannot find free loopback ports", e))?;
    let mut ports = [0u16; 3];
    for (p, l) in ports.iter_mut().zip(&listeners) {
        *p = l
            .local_addr()
            .map_err(|e| LabError::io("cannot read a local address", e))?
            .port();
    }
    Ok(ports)
}

fn unique() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
