//! Two network namespaces joined by a veth pair, for the Layer-2 tests.
//!
//! Names are unique per process and per test, so tests run in parallel;
//! the namespaces (and every process started through [`Ns::spawn`]) go away
//! when the [`Lan`] drops, also when a test panics. Nothing is ever created
//! in the root namespace: both veth ends are born inside their namespace.

#![allow(dead_code)]

use std::fs::File;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;

use nix::sched::{CloneFlags, setns};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// One namespace, deleted on drop.
#[derive(Debug)]
pub struct Ns {
    pub name: String,
}

impl Ns {
    fn create(name: String) -> Ns {
        run(Command::new("ip").args(["netns", "add", &name]));
        let ns = Ns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n NS args...`, which must succeed; returns stdout.
    pub fn ip(&self, args: &[&str]) -> String {
        let out = run(Command::new("ip").arg("-n").arg(&self.name).args(args));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A command run inside the namespace, bounded by `timeout SECS`.
    pub fn command(&self, secs: u32, program: &str, args: &[&str]) -> Command {
        let mut command = Command::new("timeout");
        command
            .args([
                "-k",
                "1",
                &secs.to_string(),
                "ip",
                "netns",
                "exec",
                &self.name,
                program,
            ])
            .args(args);
        command
    }

    /// Runs `program args...` inside the namespace (at most `secs`
    /// seconds) and returns its output, whatever its exit status.
    pub fn exec(&self, secs: u32, program: &str, args: &[&str]) -> Output {
        self.command(secs, program, args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
    }

    /// Sets a sysctl inside the namespace.
    pub fn sysctl(&self, key_value: &str) {
        let out = self.exec(5, "sysctl", &["-qw", key_value]);
        assert!(out.status.success(), "sysctl {key_value}: {out:?}");
    }

    /// Starts `program` inside the namespace; it is killed when the guard
    /// drops.
    pub fn spawn(&self, secs: u32, program: &str, args: &[&str]) -> ChildGuard {
        let child = self
            .command(secs, program, args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        ChildGuard(Some(child))
    }

    /// Runs `f` on a new thread that has joined the namespace, with a
    /// current-thread tokio runtime: sockets it opens belong to the namespace.
    pub fn start<T, F>(&self, f: F) -> JoinHandle<T>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        let file = File::open(format!("/run/netns/{}", self.name)).expect("open the namespace");
        std::thread::spawn(move || {
            setns(&file, CloneFlags::CLONE_NEWNET).expect("enter the namespace");
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(f)
        })
    }

    /// [`start`](Self::start), waiting for the result.
    pub fn block_on<T, F>(&self, f: F) -> T
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        self.start(f)
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    /// The MAC of `dev`.
    pub fn mac(&self, dev: &str) -> String {
        let out = self.ip(&["-br", "link", "show", "dev", dev]);
        out.split_whitespace()
            .nth(2)
            .unwrap_or_else(|| panic!("no MAC in {out:?}"))
            .to_string()
    }

    /// The link-layer address the neighbour table holds for `ip`, if any.
    pub fn neighbour(&self, ip: &str) -> Option<String> {
        let out = self.ip(&["neigh", "show", ip, "dev", "eth0"]);
        let mut words = out.split_whitespace();
        words.find(|w| *w == "lladdr")?;
        words.next().map(str::to_string)
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A process stopped (and reaped) on drop.
///
/// The process is `timeout`, which passes SIGTERM on to the program it
/// runs; SIGKILL would leave the program running with our pipes open.
pub struct ChildGuard(pub Option<Child>);

impl ChildGuard {
    /// Stops the process and returns everything it wrote.
    pub fn finish(mut self) -> Output {
        let child = self.0.take().expect("child");
        terminate(&child);
        child.wait_with_output().expect("wait for the child")
    }
}

fn terminate(child: &Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            terminate(child);
            let _ = child.wait();
        }
    }
}

fn run(command: &mut Command) -> Output {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(out.status.success(), "{command:?} failed: {out:?}");
    out
}

/// A node and a client on one link: `eth0` in each, joined by a veth pair,
/// with fixed MACs, IPv6 DAD off and addresses given per test.
pub struct Lan {
    pub node: Ns,
    pub client: Ns,
}

/// The node's MAC on every Lan.
pub const NODE_MAC: &str = "02:00:5e:00:00:0a";
/// The client's MAC on every Lan.
pub const CLIENT_MAC: &str = "02:00:5e:00:00:0b";

impl Lan {
    /// Creates the pair; `tag` (a few letters) tells the namespaces apart
    /// in `ip netns` while a test runs.
    pub fn new(tag: &str) -> Lan {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "fl2-{}-{}-{tag}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let lan = Lan {
            node: Ns::create(format!("{id}-n")),
            client: Ns::create(format!("{id}-c")),
        };
        run(Command::new("ip").args([
            "link",
            "add",
            "eth0",
            "netns",
            &lan.node.name,
            "address",
            NODE_MAC,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &lan.client.name,
            "address",
            CLIENT_MAC,
        ]));
        for ns in [&lan.node, &lan.client] {
            ns.sysctl("net.ipv6.conf.all.accept_dad=0");
            ns.sysctl("net.ipv6.conf.default.accept_dad=0");
            ns.sysctl("net.ipv6.conf.eth0.accept_dad=0");
            ns.ip(&["link", "set", "eth0", "up"]);
        }
        lan
    }
}
