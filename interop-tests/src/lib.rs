//! Network labs for FerroLB: network namespaces joined by a bridge, with real
//! FRR, BIRD and GoBGP daemons as routers and speakers, queried for typed
//! values. Used by every interop test, the benchmarks and the demo.
//!
//! ```no_run
//! use interop_tests::{Lab, RouterConfig, Neighbor, Frr, Bird, Router, Family};
//! # fn main() -> interop_tests::Result<()> {
//! let mut lab = Lab::new("example")?;
//! let r1 = lab.add_host("r1")?;
//! let r2 = lab.add_host("r2")?;
//! let frr = Frr::start(&lab, &r1, &RouterConfig::new(64500, r1.ipv4)
//!     .neighbor(Neighbor::new(r2.ipv4.into(), 64501)))?;
//! let bird = Bird::start(&lab, &r2, &RouterConfig::new(64501, r2.ipv4)
//!     .neighbor(Neighbor::new(r1.ipv4.into(), 64500)))?;
//! interop_tests::wait_established(&lab, &frr, r2.ipv4.into())?;
//! let routes = bird.rib(Family::Ipv4)?;
//! # Ok(()) }
//! ```
//! See docs/lab.md.

pub mod apiserver;
pub mod bird;
pub mod cluster;
pub mod cmd;
pub mod config;
pub mod daemon;
pub mod error;
pub mod ferrolb;
pub mod forward;
pub mod frr;
pub mod gobgp;
pub mod gobgp_api;
pub mod held;
pub mod helm;
pub mod kernel;
pub mod l2;
pub mod lab;
pub mod netns;
pub mod nodes;
pub mod on_signal;
pub mod prereq;
pub mod procfs;
pub mod promql;
pub mod route;
pub mod routers;
pub mod scrape;
pub mod syns;
pub mod traffic;
pub mod wait;

use std::net::IpAddr;
use std::time::Duration;

pub use bird::Bird;
pub use config::{Neighbor, RouterConfig};
pub use error::{LabError, Result};
pub use frr::Frr;
pub use gobgp::{Announcement, Gobgp};
pub use lab::{Host, Lab};
pub use route::{Community, Family, LargeCommunity, Path, Rib, Router, SessionState};
pub use wait::Probe;

/// How long a session may take to come up in the lab. FRR and BIRD retry
/// every second here; 30 s absorbs a loaded 2-core CI machine.
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(30);

/// Waits until `router` has an Established session with `neighbor`.
pub fn wait_established(lab: &Lab, router: &dyn Router, neighbor: IpAddr) -> Result<()> {
    wait_session(
        lab,
        router,
        neighbor,
        SessionState::Established,
        SESSION_TIMEOUT,
    )
}

/// Waits until the session of `router` with `neighbor` is in `state`.
pub fn wait_session(
    lab: &Lab,
    router: &dyn Router,
    neighbor: IpAddr,
    state: SessionState,
    timeout: Duration,
) -> Result<()> {
    let expected = format!(
        "{} session with {neighbor} to be {state:?}",
        router.describe()
    );
    lab.wait_for(&expected, timeout, || {
        Ok(match router.session_state(neighbor)? {
            Some(s) if s == state => Probe::Done(()),
            other => Probe::Pending(format!("{other:?}")),
        })
    })
}

/// Waits until `router` holds `want` paths for `prefix`, and returns them.
pub fn wait_paths(
    lab: &Lab,
    router: &dyn Router,
    prefix: ipnet::IpNet,
    want: usize,
    timeout: Duration,
) -> Result<Vec<Path>> {
    let family = Family::of(prefix.addr());
    let expected = format!("{} to hold {want} path(s) for {prefix}", router.describe());
    lab.wait_for(&expected, timeout, || {
        let mut rib = router.rib(family)?;
        let paths = rib.remove(&prefix).unwrap_or_default();
        Ok(if paths.len() == want {
            Probe::Done(paths)
        } else {
            Probe::Pending(format!("{} path(s): {paths:?}", paths.len()))
        })
    })
}

/// Waits until `host`'s kernel has no route for `prefix`; returns how long
/// that took.
pub fn wait_kernel_route_gone(
    lab: &Lab,
    host: &Host,
    prefix: ipnet::IpNet,
    timeout: Duration,
) -> Result<Duration> {
    let start = std::time::Instant::now();
    let expected = format!("the kernel of {} to drop its route for {prefix}", host.name);
    lab.wait_for(&expected, timeout, || {
        Ok(match kernel::route(&host.netns, prefix)? {
            Some(route) => Probe::Pending(format!("via {:?}", route.next_hops)),
            None => Probe::Done(start.elapsed()),
        })
    })
}

/// Waits until the kernel of `host` routes `prefix` through exactly the
/// next hops `want` (in any order), and returns the route.
pub fn wait_kernel_route(
    lab: &Lab,
    host: &Host,
    prefix: ipnet::IpNet,
    want: &[IpAddr],
    timeout: Duration,
) -> Result<kernel::KernelRoute> {
    let mut want = want.to_vec();
    want.sort();
    let expected = format!("the kernel of {} to route {prefix} via {want:?}", host.name);
    lab.wait_for(&expected, timeout, || {
        Ok(match kernel::route(&host.netns, prefix)? {
            Some(route) => {
                let mut hops = route.next_hops.clone();
                hops.sort();
                if hops == want {
                    Probe::Done(route)
                } else {
                    Probe::Pending(format!("via {hops:?}"))
                }
            }
            None => Probe::Pending("no route".into()),
        })
    })
}
