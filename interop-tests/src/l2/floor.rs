//! The floor: an ideal announcer that learns of the failure at the instant
//! it happens. The next node takes the VIP and sends one gratuitous ARP
//! request (IPv6: an unsolicited NA with override) right then, from a raw
//! socket in this process, so nothing but the kernel and the client's
//! reaction stands between the failure and the first new reply. No real
//! subject can beat it; it shows how far one is from the limit.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::error::{LabError, Result};
use crate::l2::announce::announce;
use crate::l2::lan::L2Lan;
use crate::l2::measure::NodeId;
use crate::l2::netlink;
use crate::l2::subject::{Failure, L2Subject};

/// The floor subject. It has no process: SIGKILL leaves the VIP on the old
/// owner (as a crashed announcer would), SIGTERM removes it.
#[derive(Debug, Default)]
pub struct Floor;

impl Floor {
    pub fn new() -> Floor {
        Floor
    }

    /// The node that takes over from `failed`.
    fn successor(lan: &L2Lan, failed: NodeId) -> NodeId {
        (failed + 1) % lan.nodes().len()
    }

    fn take_over(lan: &L2Lan, node: NodeId) -> Result<()> {
        let (vip, mac) = (lan.vip(), lan.mac(node)?);
        netlink::in_netns(&lan.node(node)?.netns, move |handle| async move {
            netlink::add_vip(&handle, vip).await?;
            announce(vip, mac)
        })
    }

    fn release(lan: &L2Lan, node: NodeId) -> Result<Instant> {
        let vip: IpAddr = lan.vip();
        netlink::in_netns(&lan.node(node)?.netns, move |handle| async move {
            let at = Instant::now();
            netlink::del_vip(&handle, vip).await?;
            Ok(at)
        })
    }
}

impl L2Subject for Floor {
    fn name(&self) -> String {
        "floor (gratuitous ARP/NA at the failure)".into()
    }

    fn period(&self) -> Duration {
        // No timer of its own; spread over many probe intervals anyway.
        Duration::from_millis(100)
    }

    fn failover_timeout(&self) -> Duration {
        Duration::from_secs(3)
    }

    fn start(&mut self, lan: &L2Lan) -> Result<()> {
        Floor::take_over(lan, 0)
    }

    fn claimants(&self, lan: &L2Lan) -> Result<Vec<NodeId>> {
        lan.holding_vip()
    }

    fn signal(&mut self, lan: &L2Lan, node: NodeId, signal: Signal) -> Result<Instant> {
        let at = match signal {
            Signal::SIGKILL => Instant::now(),
            Signal::SIGTERM => Floor::release(lan, node)?,
            other => {
                return Err(LabError::Invalid(format!(
                    "the floor knows SIGKILL and SIGTERM, not {other}"
                )));
            }
        };
        Floor::take_over(lan, Floor::successor(lan, node))?;
        Ok(at)
    }

    fn link_cut(&mut self, lan: &L2Lan, node: NodeId) -> Result<()> {
        Floor::take_over(lan, Floor::successor(lan, node))
    }

    fn restore(&mut self, lan: &L2Lan, node: NodeId, _failure: Failure) -> Result<()> {
        Floor::release(lan, node).map(drop)
    }
}
