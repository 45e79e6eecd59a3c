//! The lab: a switch namespace holding a bridge, and hosts, each a namespace
//! with one veth into the bridge. It owns everything it creates and removes
//! it on every exit path: daemons first (killed by PID), then namespaces.
//! Nothing is ever added to the root namespace.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::Ipv4Net;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::daemon::{Daemon, DaemonSpec};
use crate::error::{LabError, Result};
use crate::netns::Netns;
use crate::prereq;
use crate::wait::{self, Probe};

/// The interface every host has on the lab's LAN.
pub const LAN_IFACE: &str = "eth0";

/// Daemons live at most this long unless the lab says otherwise, so a test
/// killed with SIGKILL cannot leave them running for ever.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(900);

static LAB_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A host on the lab's LAN. Addresses derive from its index `i`:
/// `172.31.255.i/24`, `fd00:31:255::i/64` and the fixed link-local `fe80::i`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub name: String,
    pub netns: Netns,
    pub index: u8,
    pub ipv4: Ipv4Addr,
    pub ipv6: Ipv6Addr,
    pub link_local: Ipv6Addr,
}

impl Host {
    /// The host's LAN address of the same family as `like`.
    pub fn addr_like(&self, like: IpAddr) -> IpAddr {
        match like {
            IpAddr::V4(_) => self.ipv4.into(),
            IpAddr::V6(_) => self.ipv6.into(),
        }
    }

    /// The MAC address of the host's LAN interface.
    pub fn mac(&self) -> Result<String> {
        let json = self.netns.ip(["-j", "link", "show", LAN_IFACE])?;
        let links: Vec<serde_json::Value> =
            serde_json::from_str(&json).map_err(|e| LabError::parse("ip -j link", e, &json))?;
        links
            .first()
            .and_then(|l| l["address"].as_str())
            .map(str::to_string)
            .ok_or_else(|| LabError::parse("ip -j link", "no address", &json))
    }

    /// Sets `dev` up.
    pub fn up(&self, dev: &str) -> Result<()> {
        self.netns.ip(["link", "set", dev, "up"])?;
        Ok(())
    }

    /// Gives `dev` the fixed link-local address `ll` alone: no generated
    /// one and no DAD, so configurations can name it and nothing waits.
    pub fn fixed_link_local(&self, dev: &str, ll: Ipv6Addr) -> Result<()> {
        self.netns.exec(
            "sysctl",
            [
                "-qw",
                &format!("net.ipv6.conf.{dev}.addr_gen_mode=1"),
                &format!("net.ipv6.conf.{dev}.accept_dad=0"),
            ],
        )?;
        self.netns
            .ip(["addr", "add", &format!("{ll}/64"), "dev", dev, "nodad"])?;
        Ok(())
    }
}

/// A point-to-point link beside the LAN: a veth from `a` (device `a_dev`)
/// to `b` (device `b_dev`), with no address, and down, so that its
/// addressing (e.g. [`Host::fixed_link_local`]) is in place before
/// [`Host::up`]. It goes with the hosts' namespaces.
pub fn link(a: &Host, a_dev: &str, b: &Host, b_dev: &str) -> Result<()> {
    crate::cmd::run(
        "ip",
        [
            "link",
            "add",
            a_dev,
            "netns",
            a.netns.name(),
            "type",
            "veth",
            "peer",
            "name",
            b_dev,
            "netns",
            b.netns.name(),
        ],
    )?;
    Ok(())
}

/// A lab. Drop it (or let a panic unwind through it) and it is gone.
pub struct Lab {
    prefix: String,
    dir: PathBuf,
    lifetime: Duration,
    /// The LAN's IPv4 /24: hosts are `.index` in it.
    ipv4_lan: Ipv4Net,
    switch: Netns,
    hosts: Vec<Host>,
    daemons: Mutex<Vec<Arc<Daemon>>>,
    tasks: Mutex<Vec<crate::traffic::HttpServer>>,
}

impl Lab {
    /// Builds an empty LAN on 172.31.255.0/24. `tag` names the test; names
    /// are made unique per process and lab so tests can run in parallel.
    pub fn new(tag: &str) -> Result<Lab> {
        Lab::with_ipv4_lan(tag, Ipv4Net::new_assert(Ipv4Addr::new(172, 31, 255, 0), 24))
    }

    /// Builds an empty LAN whose IPv4 addresses are in `lan`, a /24 (e.g. the
    /// 192.168.1.0/24 of a guide, so its manifests apply verbatim).
    pub fn with_ipv4_lan(tag: &str, lan: Ipv4Net) -> Result<Lab> {
        if lan.prefix_len() != 24 {
            return Err(LabError::Invalid(format!(
                "the lab's IPv4 LAN must be a /24, not {lan}"
            )));
        }
        prereq::require_root()?;
        prereq::require_program("ip", "iproute2")?;
        prereq::require_program("timeout", "coreutils")?;
        let tag: String = tag
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(10)
            .collect::<String>()
            .to_lowercase();
        let n = LAB_COUNTER.fetch_add(1, Ordering::Relaxed);
        let prefix = format!("flb-{tag}-{}-{n}", std::process::id());
        let base = std::env::var_os("FERROLB_LAB_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("ferrolb-lab"));
        let dir = base.join(&prefix);
        std::fs::create_dir_all(&dir)
            .map_err(|e| LabError::io(format!("cannot create {}", dir.display()), e))?;
        let switch = Netns::create(&format!("{prefix}-sw"))?;
        // From here on, Drop cleans up whatever fails next.
        let lab = Lab {
            prefix,
            dir,
            lifetime: DEFAULT_LIFETIME,
            ipv4_lan: lan.trunc(),
            switch,
            hosts: Vec::new(),
            daemons: Mutex::new(Vec::new()),
            tasks: Mutex::new(Vec::new()),
        };
        lab.switch.ip([
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "stp_state",
            "0",
            "forward_delay",
            "0",
        ])?;
        lab.switch.ip(["link", "set", "br0", "up"])?;
        Ok(lab)
    }

    /// Changes how long daemons started from now on may live.
    pub fn set_lifetime(&mut self, lifetime: Duration) {
        self.lifetime = lifetime;
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// Adds a host with the next free index.
    pub fn add_host(&mut self, name: &str) -> Result<Host> {
        let index = (1..=254u8)
            .find(|i| self.hosts.iter().all(|h| h.index != *i))
            .ok_or_else(|| LabError::Invalid("the LAN is full".into()))?;
        self.add_host_at(name, index)
    }

    /// Adds the nodes `n1`..`nCOUNT` at indexes 11, 12, ... (out of the
    /// way of routers and clients added with [`Lab::add_host`]).
    pub fn add_nodes(&mut self, count: u8) -> Result<Vec<Host>> {
        (1..=count)
            .map(|i| self.add_host_at(&format!("n{i}"), 10 + i))
            .collect()
    }

    /// Adds a host with index `index` (its addresses end in it).
    pub fn add_host_at(&mut self, name: &str, index: u8) -> Result<Host> {
        let valid = !name.is_empty()
            && name.len() <= 12
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !valid {
            return Err(LabError::Invalid(format!(
                "host name {name:?}: use 1-12 lowercase letters or digits"
            )));
        }
        if index == 0
            || index == 255
            || self
                .hosts
                .iter()
                .any(|h| h.index == index || h.name == name)
        {
            return Err(LabError::Invalid(format!(
                "host {name} at index {index} is taken or invalid"
            )));
        }
        let netns = Netns::create(&format!("{}-{name}", self.prefix))?;
        let host = Host {
            name: name.to_string(),
            netns,
            index,
            ipv4: {
                let [a, b, c, _] = self.ipv4_lan.network().octets();
                Ipv4Addr::new(a, b, c, index)
            },
            ipv6: Ipv6Addr::new(0xfd00, 0x31, 0x255, 0, 0, 0, 0, index.into()),
            link_local: Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, index.into()),
        };
        // Registered before it is wired, so a failure below still cleans it up.
        self.hosts.push(host.clone());
        let port = format!("p-{name}");
        crate::cmd::run(
            "ip",
            [
                "link",
                "add",
                LAN_IFACE,
                "netns",
                host.netns.name(),
                "type",
                "veth",
                "peer",
                "name",
                &port,
                "netns",
                self.switch.name(),
            ],
        )?;
        self.switch
            .ip(["link", "set", &port, "master", "br0", "up"])?;
        let ns = &host.netns;
        // Fixed link-local addresses, no DAD: configs can name neighbours by
        // link-local address and nothing waits for DAD to finish.
        for (key, value) in [
            ("net.ipv6.conf.all.accept_dad", "0"),
            ("net.ipv6.conf.default.accept_dad", "0"),
            ("net.ipv6.conf.eth0.accept_dad", "0"),
            ("net.ipv6.conf.eth0.addr_gen_mode", "1"),
            ("net.ipv6.conf.all.keep_addr_on_down", "1"),
        ] {
            ns.sysctl(key, value)?;
        }
        ns.ip([
            "addr",
            "add",
            &format!("{}/64", host.link_local),
            "dev",
            LAN_IFACE,
            "nodad",
        ])?;
        ns.ip([
            "addr",
            "add",
            &format!("{}/24", host.ipv4),
            "dev",
            LAN_IFACE,
        ])?;
        ns.ip([
            "addr",
            "add",
            &format!("{}/64", host.ipv6),
            "dev",
            LAN_IFACE,
            "nodad",
        ])?;
        ns.ip(["link", "set", LAN_IFACE, "up"])?;
        Ok(host)
    }

    /// Cuts `host` off the LAN without telling it or anyone: its switch
    /// port is disabled (STP state 0), so no frame passes either way while
    /// both ends keep their carrier (a broken path behind a switch, as BFD
    /// must detect it).
    pub fn cut(&self, host: &Host) -> Result<()> {
        self.port_state(host, "0")
    }

    /// Undoes [`Lab::cut`]: the port forwards again (STP state 3).
    pub fn mend(&self, host: &Host) -> Result<()> {
        self.port_state(host, "3")
    }

    fn port_state(&self, host: &Host, state: &str) -> Result<()> {
        let port = format!("p-{}", host.name);
        self.switch
            .exec("bridge", ["link", "set", "dev", &port, "state", state])?;
        Ok(())
    }

    /// Makes `host` forward like a router: IPv4/IPv6 forwarding, ECMP hashed
    /// on ports (so one client's connections spread over all next hops), and
    /// no ICMP redirects (hosts on the LAN would learn to bypass it).
    pub fn make_router(&self, host: &Host) -> Result<()> {
        for (key, value) in [
            ("net.ipv4.ip_forward", "1"),
            ("net.ipv6.conf.all.forwarding", "1"),
            ("net.ipv4.fib_multipath_hash_policy", "1"),
            ("net.ipv6.fib_multipath_hash_policy", "1"),
            ("net.ipv4.conf.all.send_redirects", "0"),
            ("net.ipv4.conf.eth0.send_redirects", "0"),
        ] {
            host.netns.sysctl(key, value)?;
        }
        Ok(())
    }

    /// Makes `host` a client that sends `prefix` through `router`, ignoring
    /// redirects.
    pub fn route_via(&self, host: &Host, prefix: &str, router: IpAddr) -> Result<()> {
        for key in [
            "net.ipv4.conf.all.accept_redirects",
            "net.ipv4.conf.eth0.accept_redirects",
        ] {
            host.netns.sysctl(key, "0")?;
        }
        let family = if router.is_ipv4() { "-4" } else { "-6" };
        host.netns
            .ip([family, "route", "add", prefix, "via", &router.to_string()])
            .map(drop)
    }

    /// The LAN's IPv4 /24.
    pub fn ipv4_lan(&self) -> Ipv4Net {
        self.ipv4_lan
    }

    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// A fresh state directory for `what` on `host` (config, sockets, logs).
    pub fn state_dir(&self, host: &Host, what: &str) -> Result<PathBuf> {
        let dir = self.dir.join(format!("{}-{what}", host.name));
        std::fs::create_dir_all(&dir)
            .map_err(|e| LabError::io(format!("cannot create {}", dir.display()), e))?;
        Ok(dir)
    }

    /// Starts a daemon that the lab will stop on teardown.
    pub fn start_daemon(&self, spec: DaemonSpec<'_>) -> Result<Arc<Daemon>> {
        let daemon = Arc::new(Daemon::start(spec)?);
        self.daemons
            .lock()
            .map_err(|_| LabError::Invalid("daemon list poisoned".into()))?
            .push(daemon.clone());
        Ok(daemon)
    }

    pub(crate) fn adopt_task(&self, server: crate::traffic::HttpServer) {
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.push(server);
        }
    }

    /// The tail of every daemon's logs, for failure messages.
    pub fn log_tails(&self, lines: usize) -> String {
        let Ok(daemons) = self.daemons.lock() else {
            return String::new();
        };
        daemons.iter().map(|d| d.log_tail(lines)).collect()
    }

    /// Polls `probe` every `interval` until it reports done or `timeout`
    /// passes; the timeout error carries what was expected, the last thing
    /// seen, and every daemon's log tail.
    pub fn wait_for<T>(
        &self,
        expected: &str,
        timeout: Duration,
        probe: impl FnMut() -> Result<Probe<T>>,
    ) -> Result<T> {
        wait::poll(expected, timeout, probe).map_err(|e| match e {
            LabError::Timeout {
                expected,
                seen,
                waited,
                ..
            } => LabError::Timeout {
                expected,
                seen,
                waited,
                logs: self.log_tails(15),
            },
            other => other,
        })
    }

    /// Waits (bounded by `timeout`) until `daemon` has exited, e.g. after
    /// a signal, before the same daemon is started again on its host.
    pub fn wait_exited(&self, daemon: &Daemon, timeout: Duration) -> Result<()> {
        self.wait_for(&format!("{} to exit", daemon.name()), timeout, || {
            Ok(if daemon.has_exited() {
                Probe::Done(())
            } else {
                Probe::Pending("running".into())
            })
        })
    }

    /// Names of every namespace the lab created (the switch included).
    pub fn netns_names(&self) -> Vec<String> {
        std::iter::once(self.switch.name().to_string())
            .chain(self.hosts.iter().map(|h| h.netns.name().to_string()))
            .collect()
    }

    /// PIDs of every daemon the lab started.
    pub fn daemon_pids(&self) -> Vec<nix::unistd::Pid> {
        self.daemons
            .lock()
            .map(|d| d.iter().filter_map(|d| d.pid()).collect())
            .unwrap_or_default()
    }

    /// Where the lab keeps configs and logs.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    fn teardown(&mut self) {
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.clear();
        }
        if let Ok(mut daemons) = self.daemons.lock() {
            for d in daemons.iter() {
                d.stop(Duration::from_millis(300));
            }
            daemons.clear();
        }
        for host in self.hosts.drain(..) {
            if let Err(e) = host.netns.delete() {
                eprintln!("lab cleanup: {e}");
            }
        }
        if let Err(e) = self.switch.delete() {
            eprintln!("lab cleanup: {e}");
        }
        let keep = std::thread::panicking() || std::env::var_os("FERROLB_LAB_KEEP").is_some();
        if keep {
            eprintln!(
                "lab {}: configs and logs kept in {}",
                self.prefix,
                self.dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.teardown();
    }
}
