//! The cgroup subtree of one node's pods (kubelet's `cgroupRoot`), in every
//! cgroup v1 hierarchy. Named uniquely per test, so several clusters (and
//! other helpers' labs) share the machine; removed with every process in it
//! on teardown, which is how pod processes are found: by the PIDs the
//! kernel lists in our own subtree, never by name.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::error::{LabError, Result};

const ROOT: &str = "/sys/fs/cgroup";
/// The v1 hierarchies kubelet's cgroupfs driver writes to.
const HIERARCHIES: &[&str] = &[
    "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd",
];

/// A cgroup subtree `/NAME` that exists in every hierarchy until dropped.
#[derive(Debug)]
pub struct CgroupTree {
    name: String,
}

impl CgroupTree {
    /// Creates `/name` everywhere; kubelet refuses a cgroupRoot that does
    /// not exist. cpuset needs its CPUs and memory nodes before any task
    /// can join.
    pub fn create(name: &str) -> Result<CgroupTree> {
        if !Path::new(ROOT).join("pids").is_dir() {
            return Err(LabError::Missing {
                what: "cgroup v1 hierarchies under /sys/fs/cgroup".into(),
                hint: "the cluster's kubelets use the cgroupfs driver on cgroup v1 (hybrid)".into(),
            });
        }
        let tree = CgroupTree {
            name: name.to_string(),
        };
        for h in HIERARCHIES {
            let dir = Path::new(ROOT).join(h).join(name);
            std::fs::create_dir_all(&dir)
                .map_err(|e| LabError::io(format!("cannot create {}", dir.display()), e))?;
        }
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let parent = Path::new(ROOT).join("cpuset").join(file);
            let value = std::fs::read_to_string(&parent)
                .map_err(|e| LabError::io(format!("cannot read {}", parent.display()), e))?;
            let child = Path::new(ROOT).join("cpuset").join(name).join(file);
            std::fs::write(&child, value.trim())
                .map_err(|e| LabError::io(format!("cannot write {}", child.display()), e))?;
        }
        Ok(tree)
    }

    /// kubelet's `cgroupRoot`.
    pub fn root(&self) -> String {
        format!("/{}", self.name)
    }

    /// Every process in the subtree (the pids hierarchy lists them all).
    pub fn pids(&self) -> Vec<Pid> {
        pids_of(&self.name)
    }

    /// SIGKILLs every process in the subtree until none is left (bounded),
    /// then removes the directories, deepest first.
    pub fn kill_and_remove(&self) {
        kill_and_remove(&self.name, Duration::from_secs(10));
    }

    /// [`CgroupTree::kill_and_remove`] for a signal handler (the tree is
    /// the node's; this only names it), within 2 s.
    pub fn killer(&self) -> impl Fn() + Send + 'static {
        let name = self.name.clone();
        move || kill_and_remove(&name, Duration::from_secs(2))
    }
}

fn pids_of(name: &str) -> Vec<Pid> {
    let mut out = Vec::new();
    for dir in subtree(&Path::new(ROOT).join("pids").join(name)) {
        if let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .map(Pid::from_raw),
            );
        }
    }
    out
}

fn kill_and_remove(name: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let pids = pids_of(name);
        if pids.is_empty() || Instant::now() > deadline {
            break;
        }
        for pid in pids {
            let _ = kill(pid, Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for h in HIERARCHIES.iter().chain(&["unified"]) {
        let top = Path::new(ROOT).join(h).join(name);
        let mut dirs = subtree(&top);
        // Deepest first: a cgroup with children cannot be removed.
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for dir in dirs {
            let _ = std::fs::remove_dir(&dir);
        }
    }
}

impl Drop for CgroupTree {
    fn drop(&mut self) {
        self.kill_and_remove();
    }
}

/// `top` and every directory below it.
fn subtree(top: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![top.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        out.push(dir);
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(entry.path());
            }
        }
    }
    out
}
