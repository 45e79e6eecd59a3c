//! Network namespaces: creating, entering and deleting them.
//!
//! Code that must act inside a namespace (netlink dumps, sockets, sysctls)
//! runs on a short-lived thread that joins the namespace with `setns`: a
//! socket belongs to the namespace it was created in, so it keeps working
//! wherever it is used afterwards, and the test's own thread never moves.

use std::fs::File;
use std::path::PathBuf;
use std::process::Command;

use nix::sched::{CloneFlags, setns};

use crate::cmd;
use crate::error::{LabError, Result};

/// A network namespace created by the lab, named in `/run/netns`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates the namespace with its loopback up.
    pub(crate) fn create(name: &str) -> Result<Self> {
        cmd::run("ip", ["netns", "add", name])?;
        crate::on_signal::namespace_created(name);
        let ns = Netns {
            name: name.to_string(),
        };
        ns.ip(["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// Whether the namespace still exists.
    pub fn exists(&self) -> bool {
        self.path().exists()
    }

    /// `ip -n NS args...`.
    pub fn ip<I, S>(&self, args: I) -> Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut command = Command::new("ip");
        command.arg("-n").arg(&self.name).args(args);
        let out = cmd::output_of(&mut command)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// A command that runs `program` inside the namespace (`ip netns exec`).
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }

    /// Runs `program args...` inside the namespace and returns its stdout.
    pub fn exec<I, S>(&self, program: &str, args: I) -> Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut command = self.command(program);
        command.args(args);
        let out = cmd::output_of(&mut command)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs `f` on a thread inside the namespace and returns its result.
    pub fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T> + Send + 'static,
    {
        let handle = self.spawn(f)?;
        handle
            .join()
            .map_err(|_| LabError::Invalid(format!("a task inside {} panicked", self.name)))?
    }

    /// Starts `f` on a thread inside the namespace.
    pub fn spawn<T, F>(&self, f: F) -> Result<std::thread::JoinHandle<Result<T>>>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T> + Send + 'static,
    {
        let path = self.path();
        let file = File::open(&path)
            .map_err(|e| LabError::io(format!("cannot open namespace {}", path.display()), e))?;
        let name = self.name.clone();
        std::thread::Builder::new()
            .name(format!("netns-{name}"))
            .spawn(move || {
                setns(&file, CloneFlags::CLONE_NEWNET).map_err(|e| {
                    LabError::io(format!("cannot enter namespace {name}"), e.into())
                })?;
                f()
            })
            .map_err(|e| LabError::io("cannot spawn a namespace thread", e))
    }

    /// A tokio runtime whose every thread lives in this namespace: sockets
    /// opened by its tasks belong to the host, as if the code ran there.
    /// Code under test (FerroLB's BGP sessions) runs on it.
    pub fn runtime(&self, worker_threads: usize) -> Result<tokio::runtime::Runtime> {
        let path = self.path();
        let file =
            std::sync::Arc::new(File::open(&path).map_err(|e| {
                LabError::io(format!("cannot open namespace {}", path.display()), e)
            })?);
        let name = self.name.clone();
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(worker_threads)
            .enable_all()
            .on_thread_start(move || {
                // A runtime thread outside the namespace would talk from the
                // wrong host: better no test than a misleading one.
                if let Err(e) = setns(file.as_ref(), CloneFlags::CLONE_NEWNET) {
                    panic!("cannot enter namespace {name}: {e}");
                }
            })
            .build()
            .map_err(|e| LabError::io("cannot build a runtime", e))
    }

    /// Writes a sysctl inside the namespace: `key` in dotted form, e.g.
    /// `net.ipv4.ip_forward`. `/proc/sys/net` shows the namespace of the
    /// thread that opens it, so the write lands in this namespace only.
    pub fn sysctl(&self, key: &str, value: &str) -> Result<()> {
        let path = PathBuf::from("/proc/sys").join(key.replace('.', "/"));
        let value = value.to_string();
        self.run(move || {
            std::fs::write(&path, &value)
                .map_err(|e| LabError::io(format!("cannot set {} = {value}", path.display()), e))
        })
    }

    /// Deletes the namespace. Processes inside must be gone already, or the
    /// kernel keeps the namespace alive behind our back.
    pub(crate) fn delete(&self) -> Result<()> {
        if self.exists() {
            cmd::run("ip", ["netns", "del", &self.name])?;
        }
        crate::on_signal::namespace_deleted(&self.name);
        Ok(())
    }
}
