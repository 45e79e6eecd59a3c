//! The LAN of the failover lab: three nodes and a client on one bridge,
//! every node with an echo responder for the VIP, the client probing it.
//!
//! ```text
//!            namespace <prefix>-sw, bridge br0
//!     ┌──────────┬───────────┬───────────┐
//!     c (.1)     n1 (.11)    n2 (.12)    n3 (.13)
//!     prober     echo        echo        echo        VIP .200 / ::200
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use crate::error::{LabError, Result};
use crate::l2::echo::EchoResponder;
use crate::l2::measure::NodeId;
use crate::l2::netlink;
use crate::l2::prober::{NodeIdentity, Prober};
use crate::lab::{Host, LAN_IFACE, Lab};
use crate::route::Family;

/// The VIP the subjects move between nodes.
pub const VIP4: Ipv4Addr = Ipv4Addr::new(172, 31, 255, 200);
pub const VIP6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x31, 0x255, 0, 0, 0, 0, 0x200);

/// How often the client probes the VIP (issue 7: every 5 ms).
pub const PROBE_INTERVAL: Duration = Duration::from_millis(5);

/// The failover lab. Field order is drop order: the prober and the
/// responders stop before the lab removes the namespaces they live in.
pub struct L2Lan {
    prober: Prober,
    _responders: Vec<EchoResponder>,
    identities: Vec<NodeIdentity>,
    nodes: Vec<Host>,
    client: Host,
    vip: IpAddr,
    lab: Lab,
}

impl L2Lan {
    /// Builds the LAN with `nodes` nodes (three in the benchmark) and starts
    /// probing the VIP of `family`. Nobody holds the VIP yet.
    pub fn new(tag: &str, family: Family, nodes: usize) -> Result<L2Lan> {
        if !(2..=9).contains(&nodes) {
            return Err(LabError::Invalid(format!(
                "an L2 LAN has 2 to 9 nodes, not {nodes}"
            )));
        }
        let mut lab = Lab::new(tag)?;
        let client = lab.add_host_at("c", 1)?;
        let nodes = lab.add_nodes(nodes as u8)?;
        let vip = match family {
            Family::Ipv4 => IpAddr::V4(VIP4),
            Family::Ipv6 => IpAddr::V6(VIP6),
        };
        let identities = nodes
            .iter()
            .map(|n| {
                Ok(NodeIdentity {
                    name: n.name.clone(),
                    mac: parse_mac(&n.mac()?)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let responders = nodes
            .iter()
            .map(|n| EchoResponder::start(n, vip))
            .collect::<Result<Vec<_>>>()?;
        let prober = Prober::start(&client, vip, identities.clone(), PROBE_INTERVAL)?;
        Ok(L2Lan {
            prober,
            _responders: responders,
            identities,
            nodes,
            client,
            vip,
            lab,
        })
    }

    /// The nodes whose MAC answers three ARP requests the client sends for
    /// the (IPv4) VIP: more than one means two owners.
    pub fn arp_answers(&self) -> Result<std::collections::BTreeSet<String>> {
        let out = self
            .client
            .netns
            .command("arping")
            .args([
                "-c",
                "3",
                "-w",
                "2",
                "-i",
                crate::lab::LAN_IFACE,
                &self.vip.to_string(),
            ])
            .output()
            .map_err(|e| LabError::io("cannot run arping", e))?;
        let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
        let mut nodes = std::collections::BTreeSet::new();
        for n in &self.nodes {
            if text.contains(&n.mac()?.to_lowercase()) {
                nodes.insert(n.name.clone());
            }
        }
        Ok(nodes)
    }

    /// The MAC that answers one ARP request (IPv4) or Neighbor
    /// Solicitation (IPv6) the client sends for the VIP, lower case;
    /// `None` when nobody answers within a second or two.
    pub fn resolve_vip(&self) -> Result<Option<String>> {
        match self.vip {
            IpAddr::V4(vip) => crate::traffic::arp_who_has(&self.client, vip),
            IpAddr::V6(vip) => {
                crate::prereq::require_program("ndisc6", "ndisc6")?;
                let out = self
                    .client
                    .netns
                    .command("ndisc6")
                    .args(["-1", "-r", "2", &vip.to_string(), LAN_IFACE])
                    .output()
                    .map_err(|e| LabError::io("cannot run ndisc6", e))?;
                Ok(String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .find_map(|l| l.split_once("link-layer address:"))
                    .map(|(_, mac)| mac.trim().to_lowercase()))
            }
        }
    }

    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    pub fn lab_mut(&mut self) -> &mut Lab {
        &mut self.lab
    }

    pub fn vip(&self) -> IpAddr {
        self.vip
    }

    pub fn nodes(&self) -> &[Host] {
        &self.nodes
    }

    pub fn node(&self, id: NodeId) -> Result<&Host> {
        self.nodes
            .get(id)
            .ok_or_else(|| LabError::Invalid(format!("no node {id}")))
    }

    /// A node's name, for reports.
    pub fn name(&self, id: NodeId) -> &str {
        self.nodes.get(id).map_or("?", |n| n.name.as_str())
    }

    pub fn mac(&self, id: NodeId) -> Result<[u8; 6]> {
        self.identities
            .get(id)
            .map(|i| i.mac)
            .ok_or_else(|| LabError::Invalid(format!("no node {id}")))
    }

    pub fn client(&self) -> &Host {
        &self.client
    }

    pub fn prober(&self) -> &Prober {
        &self.prober
    }

    /// Sets a node's LAN link up or down; returns the instant just before
    /// the kernel was asked.
    pub fn set_link(&self, id: NodeId, up: bool) -> Result<Instant> {
        let link_local = IpAddr::V6(self.node(id)?.link_local);
        netlink::in_netns(&self.node(id)?.netns, move |handle| async move {
            let at = Instant::now();
            netlink::set_link(&handle, up).await?;
            if up {
                // keep_addr_on_down keeps global addresses only: the fixed
                // link-local goes with the link, and with addr_gen_mode=1
                // nothing brings it back. VRRPv3 over IPv6 cannot advertise
                // without it, so put it back as a reboot would.
                netlink::ensure_address(&handle, link_local, 64).await?;
            }
            Ok(at)
        })
    }

    /// Makes every node accept packets for the VIP without answering
    /// ARP/NDP for it, as kube-proxy in IPVS mode with `strictARP` leaves a
    /// node: the VIP on a local interface other than the LAN's (`lo` here:
    /// this kernel has no dummy interfaces; kube-proxy uses `kube-ipvs0`),
    /// `arp_ignore=1` (answer only for addresses of the receiving
    /// interface; NDP does that by itself) and `arp_announce=2`. For
    /// subjects that answer ARP/NDP themselves and never give the VIP to
    /// the LAN interface, like FerroLB.
    pub fn accept_vip_everywhere(&self) -> Result<()> {
        let len = if self.vip.is_ipv4() { 32 } else { 128 };
        for node in &self.nodes {
            let ns = &node.netns;
            for (key, value) in [
                ("net.ipv4.conf.all.arp_ignore", "1"),
                ("net.ipv4.conf.all.arp_announce", "2"),
            ] {
                ns.sysctl(key, value)?;
            }
            ns.ip(["addr", "add", &format!("{}/{len}", self.vip), "dev", "lo"])?;
        }
        Ok(())
    }

    /// The nodes whose LAN interface holds the VIP: the owner for subjects
    /// that let the kernel answer ARP/NDP (keepalived, the floor).
    pub fn holding_vip(&self) -> Result<Vec<NodeId>> {
        let mut holding = Vec::new();
        for (id, node) in self.nodes.iter().enumerate() {
            let json = node.netns.ip(["-j", "addr", "show", "dev", LAN_IFACE])?;
            if addresses(&json)?.contains(&self.vip) {
                holding.push(id);
            }
        }
        Ok(holding)
    }
}

/// Every address in `ip -j addr` output.
fn addresses(json: &str) -> Result<Vec<IpAddr>> {
    let links: Vec<serde_json::Value> =
        serde_json::from_str(json).map_err(|e| LabError::parse("ip -j addr", e, json))?;
    Ok(links
        .iter()
        .filter_map(|l| l["addr_info"].as_array())
        .flatten()
        .filter_map(|a| a["local"].as_str()?.parse().ok())
        .collect())
}

fn parse_mac(text: &str) -> Result<[u8; 6]> {
    let bytes: Vec<u8> = text
        .split(':')
        .map(|b| u8::from_str_radix(b, 16))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| LabError::parse("MAC address", e, text))?;
    bytes
        .try_into()
        .map_err(|_| LabError::parse("MAC address", "not 6 bytes", text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_addresses_and_macs() {
        let json = r#"[{"ifname":"eth0","addr_info":[{"family":"inet","local":"172.31.255.11"},{"family":"inet","local":"172.31.255.200"},{"family":"inet6","local":"fe80::b"}]}]"#;
        let found = addresses(json).expect("valid json");
        assert!(found.contains(&IpAddr::V4(VIP4)));
        assert_eq!(found.len(), 3);
        assert_eq!(
            parse_mac("02:aB:00:00:00:0b").expect("valid"),
            [2, 0xab, 0, 0, 0, 0xb]
        );
        assert!(parse_mac("02:ab:00").is_err());
        assert!(parse_mac("zz:ab:00:00:00:00").is_err());
    }
}
