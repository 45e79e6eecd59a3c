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
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::cmd;
use crate::daemon::{Daemon, DaemonSpec};
use crate::error::{LabError, Result};
use crate::prereq;
use crate::wait::{self, Probe};

/// etcd + kube-apiserver, alive until dropped. Either can be stopped and
/// started again ([`ApiServer::stop`], [`ApiServer::start_again`]) with the
/// same data directory, ports and certificates, as after a crash or an
/// upgrade: clients that keep their kubeconfig reconnect to the same place.
pub struct ApiServer {
    dir: PathBuf,
    port: u16,
    etcd_client: u16,
    etcd_peer: u16,
    binary: PathBuf,
    /// Flags after the defaults (kube-apiserver takes the last value of a
    /// flag), kept for every restart.
    extra_args: Vec<String>,
    /// How long each daemon may live (`timeout`'s bound).
    lifetime: Duration,
    // Field order is drop order: the API server goes before its etcd.
    apiserver: Mutex<Running>,
    etcd: Mutex<Running>,
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

/// One of the two daemons, for [`ApiServer::stop`] and
/// [`ApiServer::start_again`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Etcd,
    KubeApiserver,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Etcd => "etcd",
            Part::KubeApiserver => "kube-apiserver",
        }
    }
}

/// A part's daemon while it runs, and how many times it was started (each
/// start logs to its own file, so a restart keeps the earlier log).
struct Running {
    daemon: Option<Arc<Daemon>>,
    starts: u32,
}

/// The user of [`ApiServer::admin_kubeconfig`], and its group.
const ADMIN: (&str, &str) = ("admin", "system:masters");

/// How long a daemon lives at most unless [`ApiServer::start_for`] says
/// otherwise (it is killed by `timeout` if the test process dies without
/// dropping it).
pub const LIFETIME: Duration = Duration::from_secs(1800);

impl ApiServer {
    /// Builds (once per machine) and starts the API server.
    pub fn start() -> Result<ApiServer> {
        ApiServer::start_with(&[])
    }

    /// [`ApiServer::start`] with more kube-apiserver flags (later flags
    /// win, on every restart too), e.g. a wider `--service-node-port-range`
    /// for a benchmark that creates tens of thousands of LoadBalancer
    /// Services.
    pub fn start_with(extra_args: &[&str]) -> Result<ApiServer> {
        ApiServer::start_for(extra_args, LIFETIME)
    }

    /// [`ApiServer::start_with`], its daemons living at most `lifetime`
    /// (a soak outlasts the default).
    pub fn start_for(extra_args: &[&str], lifetime: Duration) -> Result<ApiServer> {
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
        let stopped = || {
            Mutex::new(Running {
                daemon: None,
                starts: 0,
            })
        };
        let server = ApiServer {
            dir,
            port,
            etcd_client,
            etcd_peer,
            binary,
            extra_args: extra_args.iter().map(|a| a.to_string()).collect(),
            lifetime,
            apiserver: stopped(),
            etcd: stopped(),
        };
        server.identity(ADMIN.0, &[ADMIN.1])?;
        server.start_again(Part::Etcd)?;
        server.start_again(Part::KubeApiserver)?;
        Ok(server)
    }

    /// Stops `part` (SIGTERM, SIGKILL after 10 s) and waits until it has
    /// exited: its port is free, its data stays. Stopping a stopped part
    /// does nothing.
    pub fn stop(&self, part: Part) {
        let daemon = self.running(part).daemon.take();
        if let Some(d) = daemon {
            d.stop(Duration::from_secs(10));
        }
    }

    /// Starts `part` again with the same data directory, ports and
    /// certificates; for kube-apiserver, returns once `/readyz` says ok
    /// (which needs etcd). Starting a running part is an error.
    pub fn start_again(&self, part: Part) -> Result<()> {
        let mut running = self.running(part);
        if running.daemon.is_some() {
            return Err(LabError::Invalid(format!("{} is running", part.name())));
        }
        running.starts += 1;
        let output = match running.starts {
            1 => self.dir.join(format!("{}.log", part.name())),
            n => self.dir.join(format!("{}.{n}.log", part.name())),
        };
        let binary = self.binary.display().to_string();
        let spec = match part {
            Part::Etcd => DaemonSpec {
                name: "etcd".into(),
                netns: None,
                program: "etcd",
                args: self.etcd_args(),
                output,
                logs: vec![],
                lifetime: self.lifetime,
            },
            Part::KubeApiserver => DaemonSpec {
                name: "kube-apiserver".into(),
                netns: None,
                program: &binary,
                args: self.apiserver_args(),
                output,
                logs: vec![],
                lifetime: self.lifetime,
            },
        };
        running.daemon = Some(Arc::new(Daemon::start(spec)?));
        drop(running);
        if part == Part::KubeApiserver {
            self.wait_ready()?;
        }
        Ok(())
    }

    /// Sends `signal` to `part`: SIGSTOP freezes it (its port still accepts
    /// connections, nothing answers them: a hung server, or one behind a
    /// partition that drops packets), SIGCONT thaws it. A frozen part is
    /// thawed before it is stopped, on every exit path.
    pub fn signal(&self, part: Part, signal: nix::sys::signal::Signal) -> Result<()> {
        match &self.running(part).daemon {
            Some(d) => d.signal(signal),
            None => Err(LabError::Invalid(format!("{} is stopped", part.name()))),
        }
    }

    /// Whether `part` runs (started and not exited).
    pub fn is_running(&self, part: Part) -> bool {
        self.running(part)
            .daemon
            .as_ref()
            .is_some_and(|d| !d.has_exited())
    }

    fn running(&self, part: Part) -> std::sync::MutexGuard<'_, Running> {
        let lock = match part {
            Part::Etcd => &self.etcd,
            Part::KubeApiserver => &self.apiserver,
        };
        // A test that panicked while holding it leaves the state usable.
        lock.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn etcd_args(&self) -> Vec<String> {
        let (client, peer) = (self.etcd_client, self.etcd_peer);
        vec![
            "--data-dir".into(),
            self.dir.join("etcd").display().to_string(),
            "--name".into(),
            "test".into(),
            "--listen-client-urls".into(),
            format!("http://127.0.0.1:{client}"),
            "--advertise-client-urls".into(),
            format!("http://127.0.0.1:{client}"),
            "--listen-peer-urls".into(),
            format!("http://127.0.0.1:{peer}"),
            "--initial-advertise-peer-urls".into(),
            format!("http://127.0.0.1:{peer}"),
            "--initial-cluster".into(),
            format!("test=http://127.0.0.1:{peer}"),
            "--log-level".into(),
            "warn".into(),
        ]
    }

    fn apiserver_args(&self) -> Vec<String> {
        let file = |f: &str| self.dir.join(f).display().to_string();
        vec![
            format!("--etcd-servers=http://127.0.0.1:{}", self.etcd_client),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            format!("--secure-port={}", self.port),
            "--insecure-port=0".into(),
            format!("--tls-cert-file={}", file("server.crt")),
            format!("--tls-private-key-file={}", file("server.key")),
            format!("--client-ca-file={}", file("ca.crt")),
            "--authorization-mode=Node,RBAC".into(),
            // Dual-stack Services are alpha in 1.20, behind this gate.
            "--feature-gates=IPv6DualStack=true".into(),
            "--service-cluster-ip-range=10.96.0.0/16,fd00:96::/108".into(),
            // Every LoadBalancer Service takes a node port per port: the
            // default 2,768 would cap the scale tests (10,000 Services,
            // one with 1,000 ports). Nothing binds them here.
            "--service-node-port-range=30000-62767".into(),
            "--service-account-issuer=https://kubernetes.default.svc".into(),
            format!("--service-account-key-file={}", file("sa.pub")),
            format!("--service-account-signing-key-file={}", file("sa.key")),
            // Without a network it loops on a loopback-endpoint error.
            "--endpoint-reconciler-type=none".into(),
            "--profiling=false".into(),
            "--v=1".into(),
        ]
        .into_iter()
        .chain(self.extra_args.iter().cloned())
        .collect()
    }

    /// Waits (bounded) until kube-apiserver's `/readyz` says ok and the
    /// `default` namespace exists: `/readyz` does not wait for the
    /// bootstrap controller that creates it, and a test writing there at
    /// once got "namespaces \"default\" not found".
    fn wait_ready(&self) -> Result<()> {
        let admin = self.admin_identity();
        wait::poll(
            "kube-apiserver /readyz to answer ok and the default namespace to exist",
            Duration::from_secs(90),
            || {
                // An exited kube-apiserver will not come up: say so now,
                // not after the whole wait (it was an Err, which polls on).
                if !self.is_running(Part::KubeApiserver) {
                    return Ok(Probe::Fail("kube-apiserver exited".into()));
                }
                let ready = |path: &str, done: &dyn Fn(&str) -> bool| match self.get(path, &admin) {
                    Ok(body) if done(&body) => None,
                    Ok(body) => Some(format!("{path}: {body}")),
                    Err(e) => Some(format!("{path}: {e}")),
                };
                let pending = ready("/readyz", &|body| body.trim() == "ok").or_else(|| {
                    ready("/api/v1/namespaces/default", &|body| {
                        serde_json::from_str::<serde_json::Value>(body)
                            .is_ok_and(|v| v["kind"] == "Namespace")
                    })
                });
                Ok(pending.map_or(Probe::Done(()), Probe::Pending))
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
                logs: self.log_tail(20),
            },
            other => other,
        })
    }

    /// The identity `start` made for the admin kubeconfig.
    fn admin_identity(&self) -> Identity {
        self.identity_files(ADMIN.0, &[ADMIN.1])
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
        let identity = self.identity_files(user, groups);
        let (cert, key) = (&identity.cert, &identity.key);
        let subject: String = std::iter::once(format!("/CN={user}"))
            .chain(groups.iter().map(|g| format!("/O={g}")))
            .collect();
        // X.509 v3 with client-auth usage: rustls refuses v1 certificates.
        sign(&self.dir, key, cert, &subject, Some("client.ext"))?;
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {url}\n    certificate-authority: {ca}\nusers:\n- name: {user}\n  user:\n    client-certificate: {cert}\n    client-key: {key}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: {user}\ncurrent-context: test\n",
            url = self.url(),
            ca = self.dir.join("ca.crt").display(),
            cert = cert.display(),
            key = key.display(),
        );
        std::fs::write(&identity.kubeconfig, text)
            .map_err(|e| LabError::io("cannot write a kubeconfig", e))?;
        Ok(identity)
    }

    /// Where [`ApiServer::identity`] keeps the files of `user`.
    fn identity_files(&self, user: &str, groups: &[&str]) -> Identity {
        let safe: String = user
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        Identity {
            user: user.to_string(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            cert: self.dir.join(format!("{safe}.crt")),
            key: self.dir.join(format!("{safe}.key")),
            kubeconfig: self.dir.join(format!("{safe}.kubeconfig")),
        }
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
        [Part::Etcd, Part::KubeApiserver]
            .into_iter()
            .filter_map(|p| self.running(p).daemon.as_ref().and_then(|d| d.pid()))
            .collect()
    }

    /// The tail of etcd's and kube-apiserver's logs.
    pub fn log_tail(&self, lines: usize) -> String {
        [Part::Etcd, Part::KubeApiserver]
            .into_iter()
            .filter_map(|p| self.running(p).daemon.as_ref().map(|d| d.log_tail(lines)))
            .collect()
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        for part in [Part::KubeApiserver, Part::Etcd] {
            if let Some(d) = self.running(part).daemon.take() {
                d.stop(Duration::from_secs(2));
            }
        }
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

/// Three distinct free loopback ports for etcd and kube-apiserver, taken
/// below the kernel's ephemeral range. A port the kernel handed out for
/// `bind(0)` is also one it hands out as the source port of an outgoing
/// connection, and the tests run many of those beside each other: between
/// our release of such a port and kube-apiserver's bind (and again at each
/// restart of a stopped part), a connection could take it ("bind: address
/// already in use"). Below the range only another explicit bind competes.
fn free_ports() -> Result<[u16; 3]> {
    const LOWEST: u16 = 10_000;
    let below = ephemeral_low().max(LOWEST + 1_000);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default()
        ^ std::process::id().rotate_left(16)
        ^ unique().wrapping_mul(0x9E37_79B9);
    let mut state = seed | 1;
    let mut held: Vec<TcpListener> = Vec::new();
    // Bound together so the three differ; released right before use.
    for _ in 0..1_000 {
        // xorshift32: spread the tries of concurrent test processes.
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let port = LOWEST + (state % u32::from(below - LOWEST)) as u16;
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
            held.push(listener);
            if held.len() == 3 {
                break;
            }
        }
    }
    let mut ports = [0u16; 3];
    if held.len() < ports.len() {
        return Err(LabError::io(
            format!("cannot find free loopback ports in {LOWEST}..{below}"),
            std::io::Error::from(std::io::ErrorKind::AddrInUse),
        ));
    }
    for (p, l) in ports.iter_mut().zip(&held) {
        *p = l
            .local_addr()
            .map_err(|e| LabError::io("cannot read a local address", e))?
            .port();
    }
    Ok(ports)
}

/// The first port of the kernel's ephemeral range (read, never changed);
/// Linux's default when it cannot be read.
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

fn unique() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ports are free, distinct, and never ones the kernel would hand
    /// out as the source port of a connection.
    #[test]
    fn ports_are_taken_below_the_ephemeral_range() {
        let low = ephemeral_low();
        for _ in 0..20 {
            let ports = free_ports().expect("free ports");
            let distinct: std::collections::BTreeSet<u16> = ports.iter().copied().collect();
            assert_eq!(distinct.len(), 3, "{ports:?}");
            for port in ports {
                assert!((10_000..low).contains(&port), "{port} not below {low}");
                TcpListener::bind(("127.0.0.1", port)).expect("released for use");
            }
        }
    }
}
