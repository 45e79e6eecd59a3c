//! A routing daemon started inside a namespace: bounded lifetime, its own
//! state directory and logs, killed by PID.
//!
//! Every daemon runs under `timeout`, so even if the test process is killed
//! with SIGKILL (no destructor runs) the daemon dies on its own when its
//! lifetime ends.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::cmd;
use crate::error::{LabError, Result};
use crate::netns::Netns;

/// A running daemon. Dropping it kills it.
#[derive(Debug)]
pub struct Daemon {
    name: String,
    /// `timeout`, whose only child is the daemon (`ip netns exec` execs it).
    supervisor: Mutex<Option<Child>>,
    pid: Option<Pid>,
    logs: Vec<PathBuf>,
}

/// How to start a daemon.
#[derive(Debug)]
pub struct DaemonSpec<'a> {
    /// Shown in errors and log tails, e.g. `r1/bgpd`.
    pub name: String,
    /// The namespace to run in; `None` runs on the host (only for servers
    /// bound to loopback, like the test API server).
    pub netns: Option<&'a Netns>,
    pub program: &'a str,
    pub args: Vec<String>,
    /// Where stdout and stderr go.
    pub output: PathBuf,
    /// More log files the daemon writes itself (shown on failures).
    pub logs: Vec<PathBuf>,
    pub lifetime: Duration,
}

impl Daemon {
    pub fn start(spec: DaemonSpec<'_>) -> Result<Daemon> {
        let output = File::create(&spec.output)
            .map_err(|e| LabError::io(format!("cannot create {}", spec.output.display()), e))?;
        let stderr = output
            .try_clone()
            .map_err(|e| LabError::io("cannot duplicate a log file handle", e))?;
        let mut command = std::process::Command::new("timeout");
        command
            .arg("--kill-after=5")
            .arg(format!("{}s", spec.lifetime.as_secs().max(1)))
            .args(match spec.netns {
                Some(ns) => vec!["ip", "netns", "exec", ns.name()],
                None => vec![],
            })
            .arg(spec.program)
            .args(&spec.args)
            .stdin(Stdio::null())
            .stdout(output)
            .stderr(stderr);
        let line = cmd::describe(&command);
        let child = command
            .spawn()
            .map_err(|e| LabError::io(format!("cannot start `{line}`"), e))?;
        let supervisor_pid = Pid::from_raw(child.id() as i32);
        crate::on_signal::supervisor_started(supervisor_pid);
        let mut logs = vec![spec.output];
        logs.extend(spec.logs);
        let mut daemon = Daemon {
            name: spec.name,
            supervisor: Mutex::new(Some(child)),
            pid: None,
            logs,
        };
        daemon.pid = Some(daemon.find_child(supervisor_pid)?);
        Ok(daemon)
    }

    /// `timeout` forks the daemon right away; wait (bounded) until it has.
    fn find_child(&self, supervisor: Pid) -> Result<Pid> {
        let path = format!("/proc/{supervisor}/task/{supervisor}/children");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Ok(text) = std::fs::read_to_string(&path)
                && let Some(pid) = text.split_whitespace().next().and_then(|p| p.parse().ok())
            {
                return Ok(Pid::from_raw(pid));
            }
            if self.has_exited() || Instant::now() > deadline {
                return Err(LabError::Command {
                    command: format!("start {}", self.name),
                    status: "exited at once".into(),
                    stderr: self.log_tail(20),
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The daemon's own PID (not its supervisor's).
    pub fn pid(&self) -> Option<Pid> {
        self.pid
    }

    /// Whether the daemon has exited (its supervisor is reaped then).
    pub fn has_exited(&self) -> bool {
        let Ok(mut guard) = self.supervisor.lock() else {
            return true;
        };
        match guard.as_mut() {
            Some(child) => {
                let exited = !matches!(child.try_wait(), Ok(None));
                if exited {
                    crate::on_signal::supervisor_done(Pid::from_raw(child.id() as i32));
                }
                exited
            }
            None => true,
        }
    }

    /// Sends `signal` to the daemon, e.g. SIGSTOP to freeze a router.
    pub fn signal(&self, signal: Signal) -> Result<()> {
        let pid = self
            .pid
            .ok_or_else(|| LabError::Invalid(format!("{} has no pid", self.name)))?;
        kill(pid, signal)
            .map_err(|e| LabError::io(format!("cannot send {signal} to {}", self.name), e.into()))
    }

    /// Stops the daemon: SIGTERM, up to `grace` to exit, then SIGKILL. The
    /// supervisor is reaped, so no zombie is left behind.
    pub fn stop(&self, grace: Duration) {
        let Ok(mut guard) = self.supervisor.lock() else {
            return;
        };
        let Some(mut child) = guard.take() else {
            return;
        };
        // Stopped here from now on, and reaped below.
        crate::on_signal::supervisor_done(Pid::from_raw(child.id() as i32));
        if let Some(pid) = self.pid {
            // A frozen daemon cannot act on SIGTERM.
            let _ = kill(pid, Signal::SIGCONT);
            let _ = kill(pid, Signal::SIGTERM);
        }
        let deadline = Instant::now() + grace;
        while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if matches!(child.try_wait(), Ok(None)) {
            if let Some(pid) = self.pid {
                let _ = kill(pid, Signal::SIGKILL);
            }
            let _ = child.kill();
        }
        let _ = child.wait();
    }

    /// The last `lines` lines of each of the daemon's logs.
    pub fn log_tail(&self, lines: usize) -> String {
        let mut out = String::new();
        for path in &self.logs {
            out.push_str(&format!("--- {} ({}) ---\n", self.name, path.display()));
            out.push_str(&tail(path, lines));
        }
        out
    }

    pub fn logs(&self) -> &[PathBuf] {
        &self.logs
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop(Duration::from_millis(500));
    }
}

fn tail(path: &Path, lines: usize) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            let start = all.len().saturating_sub(lines);
            let mut s = all[start..].join("\n");
            s.push('\n');
            s
        }
        Err(e) => format!("(cannot read: {e})\n"),
    }
}
