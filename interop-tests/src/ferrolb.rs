//! FerroLB's own `ferrolb run` (standalone mode) as a lab node daemon.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::daemon::{Daemon, DaemonSpec};
use crate::error::{LabError, Result};
use crate::lab::{Host, Lab};

/// A `ferrolb run` process on a lab host.
pub struct FerroLb {
    daemon: Arc<Daemon>,
    log: PathBuf,
}

impl FerroLb {
    /// Starts `ferrolb run --config CONFIG --node HOST` on `host`.
    pub fn start(lab: &Lab, host: &Host, config: &Path) -> Result<FerroLb> {
        FerroLb::start_logged(lab, host, config, "ferrolb.log", None)
    }

    /// [`FerroLb::start`], logging to `log_name` in the host's state
    /// directory (a restarted node keeps the previous life's log) with the
    /// tracing filter `filter` (`RUST_LOG`; the default is `info`).
    pub fn start_logged(
        lab: &Lab,
        host: &Host,
        config: &Path,
        log_name: &str,
        filter: Option<&str>,
    ) -> Result<FerroLb> {
        FerroLb::start_with(lab, host, config, log_name, filter, &[])
    }

    /// [`FerroLb::start_logged`] with more `ferrolb run` arguments.
    pub fn start_logged_args(
        lab: &Lab,
        host: &Host,
        config: &Path,
        log_name: &str,
        filter: Option<&str>,
        extra: &[&str],
    ) -> Result<FerroLb> {
        FerroLb::start_with(lab, host, config, log_name, filter, extra)
    }

    /// [`FerroLb::start`] with more `ferrolb run` arguments, e.g.
    /// `["--bgp-listen", "0.0.0.0:179"]`.
    pub fn start_args(lab: &Lab, host: &Host, config: &Path, extra: &[&str]) -> Result<FerroLb> {
        FerroLb::start_with(lab, host, config, "ferrolb.log", None, extra)
    }

    /// [`FerroLb::start_logged`] with more `ferrolb run` arguments: a
    /// restarted node keeps each life's log and its own flags.
    pub fn start_with(
        lab: &Lab,
        host: &Host,
        config: &Path,
        log_name: &str,
        filter: Option<&str>,
        extra: &[&str],
    ) -> Result<FerroLb> {
        let binary = binary()?;
        let binary = binary
            .to_str()
            .ok_or_else(|| LabError::Invalid("non-UTF-8 path to ferrolb".into()))?;
        let dir = lab.state_dir(host, "ferrolb")?;
        let log = dir.join(log_name);
        let mut args = vec![
            "run".into(),
            "--config".into(),
            config.display().to_string(),
            "--node".into(),
            host.name.clone(),
            "--interval".into(),
            "200ms".into(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        // Each lab node keeps its graceful restart marker in its own state
        // directory, never in the host's /run.
        if !extra.contains(&"--graceful-restart-state") {
            args.push("--graceful-restart-state".into());
            args.push(dir.join("restart-marker").display().to_string());
        }
        // `env` execs ferrolb, so the daemon's pid is still ferrolb's own.
        let program = match filter {
            Some(filter) => {
                args.splice(0..0, [format!("RUST_LOG={filter}"), binary.to_string()]);
                "env"
            }
            None => binary,
        };
        let daemon = lab.start_daemon(DaemonSpec {
            name: format!("{}/ferrolb", host.name),
            netns: Some(&host.netns),
            program,
            args,
            output: log.clone(),
            logs: Vec::new(),
            lifetime: lab.lifetime(),
        })?;
        Ok(FerroLb { daemon, log })
    }

    /// A FerroLB speaker some other shell started (`ferrolb-speaker`
    /// against an API server), logging to `log`.
    pub fn adopt(daemon: Arc<Daemon>, log: PathBuf) -> FerroLb {
        FerroLb { daemon, log }
    }

    pub fn daemon(&self) -> &Daemon {
        &self.daemon
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The standalone example of the documentation (`docs/examples/standalone`).
pub const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/examples/standalone");

/// Copies the standalone example's YAML files into `dir` (created), where a
/// test or the demo may edit them while `ferrolb run` watches.
pub fn copy_example(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| LabError::io(format!("cannot create {}", dir.display()), e))?;
    for entry in
        std::fs::read_dir(EXAMPLE).map_err(|e| LabError::io(format!("cannot list {EXAMPLE}"), e))?
    {
        let path = entry
            .map_err(|e| LabError::io("cannot list the example", e))?
            .path();
        if path.extension().is_some_and(|e| e == "yaml")
            && let Some(name) = path.file_name()
        {
            std::fs::copy(&path, dir.join(name))
                .map_err(|e| LabError::io(format!("cannot copy {}", path.display()), e))?;
        }
    }
    Ok(())
}

/// The `ferrolb` binary: `FERROLB_BIN`, or next to the running executable.
pub fn binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("FERROLB_BIN") {
        return Ok(PathBuf::from(path));
    }
    workspace_binary("ferrolb", "ferrolb-cli")
}

/// A binary of the workspace, found next to the running executable (cargo
/// puts every binary of the workspace in one directory; test executables
/// live one level deeper, in `deps/`).
pub fn workspace_binary(name: &str, package: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe()
        .map_err(|e| LabError::io("cannot find the running executable", e))?;
    exe.ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| LabError::Missing {
            what: format!("the {name} binary"),
            hint: format!("build it first: cargo build -p {package}"),
        })
}
