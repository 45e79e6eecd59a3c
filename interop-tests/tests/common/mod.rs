//! FerroLB's BGP sessions inside lab hosts, for the interop tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use ferrolb_bgp::fsm::PeerAs;
use ferrolb_bgp::peer::{PeerConfig, PeerStatus, RouteAttributes};
use ferrolb_bgp::wire::{self, BgpId};
use interop_tests::{Host, Lab, Probe};
use ipnet::IpNet;

pub const NODE_AS: u32 = 64512;
pub const CONVERGE: Duration = Duration::from_secs(30);

/// A session from `node` (in `local_as`) to a router.
pub fn peer(name: &str, node: &Host, router: IpAddr, local_as: u32, router_as: u32) -> PeerConfig {
    let id = BgpId::new(u32::from(node.ipv4)).expect("lab addresses are not 0.0.0.0");
    let mut config = PeerConfig::new(name, router, local_as, id, PeerAs::Exact(router_as));
    // Tests reconnect fast; production keeps the 1 s..60 s default.
    config.backoff.cap = Duration::from_secs(2);
    config
}

/// Service routes tagged as the speaker would tag them.
pub fn routes(
    prefixes: impl IntoIterator<Item = IpNet>,
    local_pref: Option<u32>,
) -> BTreeMap<IpNet, RouteAttributes> {
    let attrs = RouteAttributes::new(
        [wire::Community((64512 << 16) | 100)],
        [wire::LargeCommunity {
            global: 64512,
            local1: 1,
            local2: 2,
        }],
        local_pref,
    );
    prefixes.into_iter().map(|p| (p, attrs.clone())).collect()
}

pub fn net(s: &str) -> IpNet {
    s.parse().expect("prefix literal")
}

/// `count` distinct /32s from 100.64.0.0.
pub fn many_v4(count: u32) -> Vec<IpNet> {
    (0..count)
        .map(|i| IpNet::from(IpAddr::from(std::net::Ipv4Addr::from(0x6440_0000 + i))))
        .collect()
}

/// Waits until the session's status satisfies `ok`.
pub fn wait_status(
    lab: &Lab,
    what: &str,
    watch: &tokio::sync::watch::Receiver<PeerStatus>,
    ok: impl Fn(&PeerStatus) -> bool,
) -> interop_tests::Result<PeerStatus> {
    lab.wait_for(what, CONVERGE, || {
        let status = watch.borrow().clone();
        Ok(if ok(&status) {
            Probe::Done(status)
        } else {
            Probe::Pending(format!("{status:?}"))
        })
    })
}

/// A lab host running FerroLB's BGP sessions: a runtime whose threads live
/// in the host's namespace, so every socket the sessions open is the host's.
pub struct Node {
    runtime: tokio::runtime::Runtime,
}

impl Node {
    pub fn new(host: &Host) -> interop_tests::Result<Node> {
        Ok(Node {
            runtime: host.netns.runtime(1)?,
        })
    }

    /// Starts a session.
    pub fn spawn(&self, config: PeerConfig) -> ferrolb_bgp::peer::Peer {
        let _inside = self.runtime.enter();
        ferrolb_bgp::peer::Peer::spawn(config)
    }

    /// Listens for routers' connections on the node (port 179).
    pub fn acceptor(
        &self,
        addr: std::net::SocketAddr,
    ) -> std::io::Result<std::sync::Arc<ferrolb_bgp::peer::Acceptor>> {
        // A socket belongs to the namespace of the thread that creates it:
        // bind on one of the runtime's threads, not the test's.
        let task = self
            .runtime
            .spawn(async move { ferrolb_bgp::peer::Acceptor::bind(addr) });
        self.runtime
            .block_on(task)
            .map_err(std::io::Error::other)?
            .map(std::sync::Arc::new)
    }

    /// Routes `peer`'s inbound connections through `acceptor`, on one of
    /// the runtime's threads: a VRF's listener is opened there, in the
    /// host's namespace.
    pub fn register(
        &self,
        acceptor: &std::sync::Arc<ferrolb_bgp::peer::Acceptor>,
        config: &PeerConfig,
        peer: &ferrolb_bgp::peer::Peer,
    ) -> interop_tests::Result<()> {
        let (acceptor, config, inbound) = (acceptor.clone(), config.clone(), peer.inbound());
        let task = self
            .runtime
            .spawn(async move { acceptor.register_inbound(&config, inbound) });
        self.runtime
            .block_on(task)
            .map_err(|e| interop_tests::LabError::Invalid(e.to_string()))?
            .map_err(|e| interop_tests::LabError::Invalid(format!("register the peer: {e}")))
    }

    /// Replaces what `peer` announces.
    pub fn announce(
        &self,
        peer: &ferrolb_bgp::peer::Peer,
        routes: BTreeMap<IpNet, RouteAttributes>,
    ) {
        self.runtime.block_on(peer.set_routes(routes));
    }

    /// Withdraws everything and closes with Cease / Administrative Shutdown.
    pub fn shutdown(&self, peer: ferrolb_bgp::peer::Peer, reason: &str) {
        self.runtime.block_on(peer.shutdown(reason));
    }
}

/// Waits until `count` returns `want` (a router's prefix counter).
pub fn wait_count(
    lab: &Lab,
    what: &str,
    want: u64,
    count: impl Fn() -> interop_tests::Result<u64>,
) -> interop_tests::Result<()> {
    lab.wait_for(&format!("{what} to reach {want}"), CONVERGE, || {
        Ok(match count()? {
            c if c == want => Probe::Done(()),
            c => Probe::Pending(c.to_string()),
        })
    })
}
