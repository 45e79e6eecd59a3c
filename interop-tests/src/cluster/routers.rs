//! FRR and BIRD on a cluster's LAN, peering with every node, as the BGP
//! flows (`tests/cluster_flows/bgp.rs`) and `make cluster` run them, and
//! what the routers' kernels say about a Service address.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::Cluster;
use crate::error::Result;
use crate::wait::Probe;
use crate::{Bird, Frr, Host, RouterConfig, kernel};

/// The speakers' namespace.
const NS: &str = "metallb-system";

/// The nodes' AS and the routers'.
pub const NODE_AS: u32 = 64512;
pub const FRR_AS: u32 = 64500;
pub const BIRD_AS: u32 = 64501;
/// The BGP pool: off the LAN, reached only through the routers.
pub const BGP_POOL: &str = "198.51.100.0/24";
/// The client reaches this address through BIRD, every other one of the
/// pool through FRR.
pub const THROUGH_BIRD: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 20);
const CONVERGE: Duration = Duration::from_secs(60);

/// FRR and BIRD on the cluster's LAN, peering with every node, and the
/// client's routes to the BGP pool through them. They live as long as the
/// cluster (the lab stops them).
pub struct Routers {
    pub frr: Frr,
    pub bird: Bird,
    pub frr_host: Host,
    pub bird_host: Host,
}

impl Routers {
    pub fn start(c: &mut Cluster) -> Result<Routers> {
        let frr_host = c.lab_mut().add_host_at("frr", 2)?;
        let bird_host = c.lab_mut().add_host_at("bird", 3)?;
        let nodes: Vec<Host> = c.nodes().iter().map(|n| n.host.clone()).collect();
        let nodes: Vec<&Host> = nodes.iter().collect();
        let lab = c.lab();
        lab.make_router(&frr_host)?;
        lab.make_router(&bird_host)?;
        let frr = Frr::start(
            lab,
            &frr_host,
            &RouterConfig::facing_speakers(FRR_AS, &frr_host, &nodes, NODE_AS),
        )?;
        let bird = Bird::start(
            lab,
            &bird_host,
            &RouterConfig::facing_speakers(BIRD_AS, &bird_host, &nodes, NODE_AS),
        )?;
        lab.route_via(&c.client, BGP_POOL, frr_host.ipv4.into())?;
        lab.route_via(
            &c.client,
            &format!("{THROUGH_BIRD}/32"),
            bird_host.ipv4.into(),
        )?;
        Ok(Routers {
            frr,
            bird,
            frr_host,
            bird_host,
        })
    }

    /// The BGPPeers (one per router) and the pool and advertisement for
    /// [`BGP_POOL`], as a MetalLB user writes them.
    pub fn config(&self, pool: &str) -> String {
        format!(
            "apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {{name: frr, namespace: {NS}}}
spec: {{myASN: {NODE_AS}, peerASN: {FRR_AS}, peerAddress: {frr}}}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {{name: bird, namespace: {NS}}}
spec: {{myASN: {NODE_AS}, peerASN: {BIRD_AS}, peerAddress: {bird}}}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {{name: {pool}, namespace: {NS}}}
spec:
  addresses: [{BGP_POOL}]
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {{name: {pool}, namespace: {NS}}}
spec:
  ipAddressPools: [{pool}]
",
            frr = self.frr_host.ipv4,
            bird = self.bird_host.ipv4,
        )
    }

    /// Waits until both routers' kernels route `ip`/32 through exactly the
    /// LAN addresses of `nodes` (none: no route at all).
    pub fn wait_next_hops(&self, c: &Cluster, ip: IpAddr, nodes: &[String]) -> Result<()> {
        let mut want = nodes
            .iter()
            .map(|n| Ok(c.node(n)?.ip()))
            .collect::<Result<Vec<IpAddr>>>()?;
        want.sort();
        for router in [&self.frr_host, &self.bird_host] {
            c.wait_for(
                &format!("{}'s kernel to route {ip} via {nodes:?}", router.name),
                CONVERGE,
                |_| {
                    let hops = next_hops(router, ip)?;
                    Ok(if hops == want {
                        Probe::Done(())
                    } else {
                        Probe::Pending(format!("via {hops:?}"))
                    })
                },
            )?;
        }
        Ok(())
    }
}

/// The next hops of `ip`/32 in `router`'s kernel, sorted (empty: no route).
pub fn next_hops(router: &Host, ip: IpAddr) -> Result<Vec<IpAddr>> {
    let prefix = ipnet::IpNet::from(ip);
    let mut hops = kernel::route(&router.netns, prefix)?
        .map(|r| r.next_hops)
        .unwrap_or_default();
    hops.sort();
    Ok(hops)
}
