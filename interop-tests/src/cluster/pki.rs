//! The cluster's certificates (openssl): a CA, the API server's serving
//! certificate, one client certificate and kubeconfig per component, each
//! kubelet's serving certificate, and the service-account key pair.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::apiserver::sign;
use crate::cmd;
use crate::error::{LabError, Result};

/// The first address of the Service range: the `kubernetes` Service.
pub const KUBERNETES_SERVICE_IP: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 1);

/// A certificate authority and what it signed, in one directory.
#[derive(Debug)]
pub struct Pki {
    dir: PathBuf,
    server: String,
}

/// A certificate and its key.
#[derive(Debug, Clone)]
pub struct KeyPair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Pki {
    /// A CA, the service-account keys and the API server's certificate for
    /// `apiserver` (also valid for the `kubernetes` Service).
    pub fn create(dir: &Path, apiserver: Ipv4Addr) -> Result<Pki> {
        std::fs::create_dir_all(dir)
            .map_err(|e| LabError::io(format!("cannot create {}", dir.display()), e))?;
        let pki = Pki {
            dir: dir.to_path_buf(),
            server: format!("https://{apiserver}:6443"),
        };
        pki.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "7",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-subj",
            "/CN=ferrolb-lab-cluster-ca",
        ])?;
        pki.openssl(&["genrsa", "-out", "sa.key", "2048"])?;
        pki.openssl(&["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"])?;
        pki.serving(
            "apiserver",
            "kube-apiserver",
            &[
                "IP:127.0.0.1".to_string(),
                format!("IP:{apiserver}"),
                format!("IP:{KUBERNETES_SERVICE_IP}"),
                "DNS:kubernetes".into(),
                "DNS:kubernetes.default".into(),
                "DNS:kubernetes.default.svc".into(),
                "DNS:kubernetes.default.svc.cluster.local".into(),
                "DNS:localhost".into(),
            ],
        )?;
        Ok(pki)
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// `https://APISERVER:6443`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// A server certificate (also usable as a client) for `sans`
    /// (`IP:...`, `DNS:...`).
    pub fn serving(&self, name: &str, common_name: &str, sans: &[String]) -> Result<KeyPair> {
        let ext = format!(
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName={}\n",
            sans.join(",")
        );
        self.signed(name, &format!("/CN={common_name}"), &ext)
    }

    /// A client certificate for `user` in `groups`, and a kubeconfig that
    /// authenticates with it.
    pub fn client(&self, name: &str, user: &str, groups: &[&str]) -> Result<PathBuf> {
        let subject: String = std::iter::once(format!("/CN={user}"))
            .chain(groups.iter().map(|g| format!("/O={g}")))
            .collect();
        let pair = self.signed(
            name,
            &subject,
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
        )?;
        let kubeconfig = self.dir.join(format!("{name}.kubeconfig"));
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: lab\n  cluster:\n    server: {server}\n    certificate-authority: {ca}\nusers:\n- name: {name}\n  user:\n    client-certificate: {cert}\n    client-key: {key}\ncontexts:\n- name: lab\n  context:\n    cluster: lab\n    user: {name}\ncurrent-context: lab\n",
            server = self.server,
            ca = self.ca().display(),
            cert = pair.cert.display(),
            key = pair.key.display(),
        );
        std::fs::write(&kubeconfig, text)
            .map_err(|e| LabError::io(format!("cannot write {}", kubeconfig.display()), e))?;
        Ok(kubeconfig)
    }

    fn signed(&self, name: &str, subject: &str, extensions: &str) -> Result<KeyPair> {
        let ext = format!("{name}.ext");
        std::fs::write(self.dir.join(&ext), extensions)
            .map_err(|e| LabError::io(format!("cannot write {ext}"), e))?;
        let pair = KeyPair {
            cert: self.dir.join(format!("{name}.crt")),
            key: self.dir.join(format!("{name}.key")),
        };
        sign(&self.dir, &pair.key, &pair.cert, subject, Some(&ext))?;
        Ok(pair)
    }

    fn openssl(&self, args: &[&str]) -> Result<()> {
        cmd::output_of(Command::new("openssl").args(args).current_dir(&self.dir)).map(drop)
    }
}
