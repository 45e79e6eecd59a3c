//! keepalived (VRRPv3, multicast adverts on the LAN) as an L2 subject: the
//! reference a user would pick instead of FerroLB's L2 mode.
//!
//! Every node runs one VRRP instance for the VIP, all in state BACKUP with
//! `nopreempt` and distinct priorities: the first owner is the highest
//! priority, and a node brought back after a failure rejoins as a backup
//! instead of taking the VIP back (which would be a second failover in the
//! middle of the next run's settling).

use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::{Pid, getpgid, getpgrp};

use crate::daemon::{Daemon, DaemonSpec};
use crate::error::{LabError, Result};
use crate::l2::lan::L2Lan;
use crate::l2::measure::NodeId;
use crate::l2::subject::{Failure, L2Subject};
use crate::lab::LAN_IFACE;
use crate::prereq;
use crate::wait::Probe;

const PROGRAM: &str = "keepalived";

/// keepalived on every node of the LAN.
pub struct Keepalived {
    advert: Duration,
    daemons: Vec<Option<Arc<Daemon>>>,
    /// Restarts so far: each start gets its own log.
    starts: usize,
}

impl Keepalived {
    /// keepalived with adverts every `advert` (VRRPv3 takes centiseconds:
    /// 10 ms to 40.95 s).
    pub fn new(advert: Duration) -> Keepalived {
        Keepalived {
            advert,
            daemons: Vec::new(),
            starts: 0,
        }
    }

    /// `advert_int` as keepalived reads it: seconds, down to 0.01.
    fn advert_int(&self) -> String {
        let centis = (self.advert.as_millis() / 10).max(1);
        if centis.is_multiple_of(100) {
            format!("{}", centis / 100)
        } else {
            format!("{}.{:02}", centis / 100, centis % 100)
                .trim_end_matches('0')
                .to_string()
        }
    }

    /// The configuration of node `id` (priority falls with the index).
    pub fn config(&self, lan: &L2Lan, id: NodeId) -> String {
        let len = if lan.vip().is_ipv4() { 32 } else { 128 };
        format!(
            "global_defs {{\n    router_id {name}\n    vrrp_version 3\n    enable_script_security\n}}\n\
             vrrp_instance lab {{\n    state BACKUP\n    nopreempt\n    interface {LAN_IFACE}\n    \
             virtual_router_id 51\n    priority {priority}\n    advert_int {advert}\n    \
             virtual_ipaddress {{\n        {vip}/{len} dev {LAN_IFACE}\n    }}\n}}\n",
            name = lan.name(id),
            priority = 200 - 10 * id,
            advert = self.advert_int(),
            vip = lan.vip(),
        )
    }

    fn start_on(&mut self, lan: &L2Lan, id: NodeId) -> Result<()> {
        let node = lan.node(id)?;
        let dir = lan.lab().state_dir(node, "keepalived")?;
        let conf = dir.join("keepalived.conf");
        std::fs::write(&conf, self.config(lan, id))
            .map_err(|e| LabError::io(format!("cannot write {}", conf.display()), e))?;
        let conf = conf.display().to_string();
        // keepalived quietly replaces what it cannot use (an advert_int
        // below 0.01 becomes 1 s): refuse a config it warns about.
        let check = std::process::Command::new(PROGRAM)
            .args(["-t", "-f", &conf])
            .output()
            .map_err(|e| LabError::io("cannot run keepalived -t", e))?;
        if !check.status.success() || !check.stderr.is_empty() {
            return Err(LabError::Command {
                command: format!("keepalived -t -f {conf}"),
                status: check.status.to_string(),
                stderr: String::from_utf8_lossy(&check.stderr).into_owned(),
            });
        }
        self.starts += 1;
        let file = |name: &str| dir.join(name).display().to_string();
        let daemon = lan.lab().start_daemon(DaemonSpec {
            name: format!("{}/keepalived", node.name),
            netns: Some(&node.netns),
            program: PROGRAM,
            args: vec![
                "-P".into(),
                "-n".into(),
                "-l".into(),
                "-D".into(),
                "-f".into(),
                conf,
                "-p".into(),
                file("keepalived.pid"),
                "-r".into(),
                file("vrrp.pid"),
                "-c".into(),
                file("checkers.pid"),
            ],
            output: dir.join(format!("keepalived-{}.log", self.starts)),
            logs: vec![],
            lifetime: lan.lab().lifetime(),
        })?;
        let vrrp_pid = dir.join("vrrp.pid");
        lan.lab().wait_for(
            &format!("{} to start its VRRP process", daemon.name()),
            Duration::from_secs(10),
            || {
                Ok(if vrrp_pid.exists() {
                    Probe::Done(())
                } else if daemon.has_exited() {
                    Probe::Fail("keepalived exited".into())
                } else {
                    Probe::Pending("no vrrp.pid yet".into())
                })
            },
        )?;
        if self.daemons.len() <= id {
            self.daemons.resize(id + 1, None);
        }
        self.daemons[id] = Some(daemon);
        Ok(())
    }

    fn daemon(&self, id: NodeId) -> Result<&Arc<Daemon>> {
        self.daemons
            .get(id)
            .and_then(Option::as_ref)
            .ok_or_else(|| LabError::Invalid(format!("keepalived is not running on node {id}")))
    }
}

impl L2Subject for Keepalived {
    fn name(&self) -> String {
        format!("keepalived (advert {} s)", self.advert_int())
    }

    fn period(&self) -> Duration {
        self.advert
    }

    fn failover_timeout(&self) -> Duration {
        // Master_Down_Interval is 3 adverts plus skew, but when two backups
        // both take over and the loser sends its gratuitous ARPs last, the
        // client's entry points at a node without the VIP until its own
        // neighbour probing gives up on it: DELAY 5 s, 3 unicast probes 1 s
        // apart, then a broadcast. Wait long enough to see the real end.
        (self.advert * 6).max(Duration::from_secs(3)) + Duration::from_secs(12)
    }

    fn start(&mut self, lan: &L2Lan) -> Result<()> {
        prereq::require_program(PROGRAM, "keepalived")?;
        for id in 0..lan.nodes().len() {
            self.start_on(lan, id)?;
        }
        Ok(())
    }

    fn claimants(&self, lan: &L2Lan) -> Result<Vec<NodeId>> {
        lan.holding_vip()
    }

    fn signal(&mut self, _lan: &L2Lan, node: NodeId, signal: Signal) -> Result<Instant> {
        let daemon = self.daemon(node)?;
        let pid = daemon
            .pid()
            .ok_or_else(|| LabError::Invalid(format!("{} has no pid", daemon.name())))?;
        let fail = |e: nix::Error| {
            LabError::io(
                format!("cannot send {signal} to {}", daemon.name()),
                e.into(),
            )
        };
        if signal != Signal::SIGKILL {
            let at = Instant::now();
            kill(pid, signal).map_err(fail)?;
            return Ok(at);
        }
        // The parent respawns a killed VRRP child, and a child whose parent
        // dies gets SIGTERM and stops gracefully: only killing the whole
        // process group in one call is a crash. `timeout` made the group
        // for the daemon; never signal our own.
        let group = getpgid(Some(pid)).map_err(fail)?;
        if group == getpgrp() || group <= Pid::from_raw(1) {
            return Err(LabError::Invalid(format!(
                "{} shares our process group",
                daemon.name()
            )));
        }
        let at = Instant::now();
        killpg(group, Signal::SIGKILL).map_err(fail)?;
        Ok(at)
    }

    fn restore(&mut self, lan: &L2Lan, node: NodeId, failure: Failure) -> Result<()> {
        if failure == Failure::LinkCut {
            // keepalived saw the link go and come back; it is a backup again.
            return Ok(());
        }
        let daemon = self.daemon(node)?.clone();
        lan.lab().wait_exited(&daemon, Duration::from_secs(10))?;
        // A killed keepalived leaves its pid files, and its zombie may
        // still hold the pid: the new one would refuse to start ("daemon is
        // already running"). A reboot would have cleared them too.
        let dir = lan.lab().state_dir(lan.node(node)?, "keepalived")?;
        for file in ["keepalived.pid", "vrrp.pid", "checkers.pid"] {
            let _ = std::fs::remove_file(dir.join(file));
        }
        self.start_on(lan, node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advert_int_is_written_in_seconds() {
        let int = |ms| Keepalived::new(Duration::from_millis(ms)).advert_int();
        assert_eq!(int(1000), "1");
        assert_eq!(int(100), "0.1");
        assert_eq!(int(10), "0.01");
        assert_eq!(int(250), "0.25");
        assert_eq!(int(2000), "2");
    }
}
