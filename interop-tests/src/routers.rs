//! The three routing daemons behind one interface, so an interop test can
//! run the same scenario against FRR, BIRD and GoBGP.

use std::net::IpAddr;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::config::RouterConfig;
use crate::daemon::Daemon;
use crate::error::Result;
use crate::lab::{Host, Lab};
use crate::route::Router;
use crate::{Bird, Frr, Gobgp};

/// What tests do to a router besides asking it about routes.
pub trait LabRouter: Router {
    /// The BGP daemon, e.g. to freeze it with SIGSTOP.
    fn bgp_daemon(&self) -> &Daemon;
    /// Stops the BGP daemon and starts it again with the same configuration.
    fn restart_bgp(&mut self, lab: &Lab) -> Result<()>;
    /// Kills the BGP daemon with SIGKILL (a crash: no NOTIFICATION, no
    /// withdrawal; the kernel closes its sockets) and waits until it is gone.
    fn kill_bgp(&self, lab: &Lab) -> Result<()> {
        self.bgp_daemon().signal(Signal::SIGKILL)?;
        lab.wait_exited(self.bgp_daemon(), Duration::from_secs(10))
    }
    /// Starts the BGP daemon again after [`LabRouter::kill_bgp`], with the
    /// same configuration, and waits until it answers its CLI.
    fn start_bgp(&mut self, lab: &Lab) -> Result<()>;
    /// Applies a new configuration: BIRD reloads it, FRR's bgpd and gobgpd
    /// restart with it.
    fn reconfigure(&mut self, lab: &Lab, config: &RouterConfig) -> Result<()>;
    /// Prefixes accepted from `neighbor`, both families.
    fn accepted_from(&self, neighbor: IpAddr) -> Result<u64>;
    /// Whether it installs routes into its kernel (GoBGP does not).
    fn installs_routes(&self) -> bool {
        true
    }
}

/// Which daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouterKind {
    Frr,
    Bird,
    Gobgp,
}

impl RouterKind {
    /// Every router the lab drives.
    pub const ALL: [RouterKind; 3] = [RouterKind::Frr, RouterKind::Bird, RouterKind::Gobgp];

    /// Starts this router on `host`.
    pub fn start(
        self,
        lab: &Lab,
        host: &Host,
        config: &RouterConfig,
    ) -> Result<Box<dyn LabRouter>> {
        Ok(match self {
            RouterKind::Frr => Box::new(Frr::start(lab, host, config)?),
            RouterKind::Bird => Box::new(Bird::start(lab, host, config)?),
            RouterKind::Gobgp => Box::new(Gobgp::start(lab, host, config)?),
        })
    }
}

impl LabRouter for Frr {
    fn bgp_daemon(&self) -> &Daemon {
        self.bgpd()
    }
    fn restart_bgp(&mut self, lab: &Lab) -> Result<()> {
        Frr::restart(self, lab)
    }
    fn start_bgp(&mut self, lab: &Lab) -> Result<()> {
        Frr::start_bgpd(self, lab)
    }
    fn reconfigure(&mut self, lab: &Lab, config: &RouterConfig) -> Result<()> {
        Frr::reconfigure(self, lab, config)
    }
    fn accepted_from(&self, neighbor: IpAddr) -> Result<u64> {
        Frr::prefixes_received(self, neighbor)
    }
}

impl LabRouter for Bird {
    fn bgp_daemon(&self) -> &Daemon {
        self.daemon()
    }
    fn restart_bgp(&mut self, lab: &Lab) -> Result<()> {
        Bird::restart(self, lab)
    }
    fn start_bgp(&mut self, lab: &Lab) -> Result<()> {
        Bird::start_again(self, lab)
    }
    fn reconfigure(&mut self, _lab: &Lab, config: &RouterConfig) -> Result<()> {
        Bird::reconfigure(self, config)
    }
    fn accepted_from(&self, neighbor: IpAddr) -> Result<u64> {
        Bird::prefixes_received(self, neighbor)
    }
}

impl LabRouter for Gobgp {
    fn bgp_daemon(&self) -> &Daemon {
        self.daemon()
    }
    fn restart_bgp(&mut self, lab: &Lab) -> Result<()> {
        Gobgp::restart(self, lab)
    }
    fn start_bgp(&mut self, lab: &Lab) -> Result<()> {
        Gobgp::start_again(self, lab)
    }
    fn reconfigure(&mut self, lab: &Lab, config: &RouterConfig) -> Result<()> {
        Gobgp::reconfigure(self, lab, config)
    }
    fn accepted_from(&self, neighbor: IpAddr) -> Result<u64> {
        Gobgp::prefixes_received(self, neighbor)
    }
    fn installs_routes(&self) -> bool {
        false
    }
}
