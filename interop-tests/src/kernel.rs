//! Kernel routes inside a namespace, read over rtnetlink: what the router
//! actually forwards with, all ECMP next hops included.

use std::net::IpAddr;

use futures::TryStreamExt;
use ipnet::IpNet;
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteVia,
};

use crate::error::{LabError, Result};
use crate::netns::Netns;

/// A route in a namespace's main table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelRoute {
    pub prefix: IpNet,
    /// Who installed it (zebra, bird, kernel, ...).
    pub protocol: RouteProtocol,
    /// Every gateway; more than one for an ECMP route.
    pub next_hops: Vec<IpAddr>,
}

/// Dumps the main routing table of `netns` (IPv4 and IPv6).
pub fn routes(netns: &Netns) -> Result<Vec<KernelRoute>> {
    netns.run(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| LabError::io("cannot build a runtime for rtnetlink", e))?;
        runtime.block_on(dump())
    })
}

/// The route for exactly `prefix` in `netns`, if there is one.
pub fn route(netns: &Netns, prefix: IpNet) -> Result<Option<KernelRoute>> {
    Ok(routes(netns)?.into_iter().find(|r| r.prefix == prefix))
}

async fn dump() -> Result<Vec<KernelRoute>> {
    let (connection, handle, _) =
        rtnetlink::new_connection().map_err(|e| LabError::io("cannot open a netlink socket", e))?;
    tokio::spawn(connection);
    let mut out = Vec::new();
    let requests = [
        rtnetlink::RouteMessageBuilder::<std::net::Ipv4Addr>::new().build(),
        rtnetlink::RouteMessageBuilder::<std::net::Ipv6Addr>::new().build(),
    ];
    for request in requests {
        let mut stream = handle.route().get(request).execute();
        while let Some(message) = stream
            .try_next()
            .await
            .map_err(|e| LabError::io("netlink route dump failed", std::io::Error::other(e)))?
        {
            if message.header.table == RouteHeader::RT_TABLE_MAIN
                && let Some(route) = convert(&message)
            {
                out.push(route);
            }
        }
    }
    Ok(out)
}

fn convert(message: &RouteMessage) -> Option<KernelRoute> {
    let len = message.header.destination_prefix_length;
    let mut destination = None;
    let mut next_hops = Vec::new();
    for attr in &message.attributes {
        match attr {
            RouteAttribute::Destination(a) => destination = address(a),
            RouteAttribute::Gateway(a) => next_hops.extend(address(a)),
            // An IPv4 route via an IPv6 next hop (`via inet6 fe80::...`,
            // RFC 8950 routes) names its gateway in RTA_VIA.
            RouteAttribute::Via(v) => next_hops.extend(via(v)),
            // Routes through nexthop objects (FRR) also carry this in the
            // default nexthop_compat_mode.
            RouteAttribute::MultiPath(hops) => {
                for hop in hops {
                    for attr in &hop.attributes {
                        match attr {
                            RouteAttribute::Gateway(a) => next_hops.extend(address(a)),
                            RouteAttribute::Via(v) => next_hops.extend(via(v)),
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let destination = destination.or_else(|| match message.header.address_family {
        netlink_packet_route::AddressFamily::Inet => Some(IpAddr::from([0u8; 4])),
        netlink_packet_route::AddressFamily::Inet6 => Some(IpAddr::from([0u16; 8])),
        _ => None,
    })?;
    Some(KernelRoute {
        prefix: IpNet::new(destination, len).ok()?,
        protocol: message.header.protocol,
        next_hops,
    })
}

fn via(v: &RouteVia) -> Option<IpAddr> {
    match v {
        RouteVia::Inet(v4) => Some((*v4).into()),
        RouteVia::Inet6(v6) => Some((*v6).into()),
        _ => None,
    }
}

fn address(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some((*v4).into()),
        RouteAddress::Inet6(v6) => Some((*v6).into()),
        _ => None,
    }
}

/// Watches a namespace's routing table through netlink notifications and
/// remembers when each prefix was last added and removed: an exact time for
/// "the route reached the router's kernel", without polling.
pub struct RouteMonitor {
    seen: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<IpNet, RouteEvents>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<()>>>,
}

/// When a prefix last appeared and disappeared, and how many times: a
/// removal is an RTM_DELROUTE, a moment the kernel did not route it; an
/// ECMP next hop that comes or goes is an RTM_NEWROUTE, not a removal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouteEvents {
    pub added: Option<std::time::Instant>,
    pub removed: Option<std::time::Instant>,
    pub additions: u32,
    pub removals: u32,
}

impl RouteMonitor {
    /// Starts watching `netns`; returns once the subscription is in place.
    pub fn start(netns: &Netns) -> Result<RouteMonitor> {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let table = seen.clone();
        let thread = netns.spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| LabError::io("cannot build a runtime for the route monitor", e))?;
            runtime.block_on(async move {
                use futures::StreamExt;
                let (connection, _, mut messages) = rtnetlink::new_multicast_connection(&[
                    rtnetlink::MulticastGroup::Ipv4Route,
                    rtnetlink::MulticastGroup::Ipv6Route,
                ])
                .map_err(|e| LabError::io("cannot subscribe to route notifications", e))?;
                tokio::spawn(connection);
                let _ = ready_tx.send(());
                let mut stop_rx = stop_rx;
                loop {
                    tokio::select! {
                        _ = &mut stop_rx => return Ok(()),
                        message = messages.next() => {
                            let Some((message, _)) = message else { return Ok(()) };
                            let now = std::time::Instant::now();
                            use netlink_packet_core::NetlinkPayload::InnerMessage;
                            use netlink_packet_route::RouteNetlinkMessage as M;
                            let (route, added) = match message.payload {
                                InnerMessage(M::NewRoute(r)) => (r, true),
                                InnerMessage(M::DelRoute(r)) => (r, false),
                                _ => continue,
                            };
                            if let Some(route) = convert(&route)
                                && let Ok(mut table) = table.lock()
                            {
                                let entry: &mut RouteEvents = table.entry(route.prefix).or_default();
                                if added {
                                    entry.added = Some(now);
                                    entry.additions += 1;
                                } else {
                                    entry.removed = Some(now);
                                    entry.removals += 1;
                                }
                            }
                        }
                    }
                }
            })
        })?;
        ready_rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .map_err(|_| LabError::Invalid("the route monitor did not start".into()))?;
        Ok(RouteMonitor {
            seen,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// What happened to `prefix` so far.
    pub fn events(&self, prefix: IpNet) -> RouteEvents {
        self.seen
            .lock()
            .map(|t| t.get(&prefix).copied().unwrap_or_default())
            .unwrap_or_default()
    }
}

impl Drop for RouteMonitor {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How many IPv4 prefixes the kernel's main FIB of `netns` holds (local
/// and connected routes included), from `/proc/net/fib_triestat`: the kernel
/// counts them itself, so this stays cheap with 100k routes, unlike a dump.
/// Compare against a baseline taken before routes arrive.
pub fn ipv4_prefix_count(netns: &Netns) -> Result<u64> {
    let text = netns.run(|| {
        // /proc/net follows the process; thread-self follows this thread,
        // which is the one inside the namespace.
        std::fs::read_to_string("/proc/thread-self/net/fib_triestat")
            .map_err(|e| LabError::io("cannot read fib_triestat", e))
    })?;
    parse_fib_triestat(&text)
        .ok_or_else(|| LabError::parse("/proc/net/fib_triestat", "no Main: Prefixes line", &text))
}

/// The `Prefixes:` count of the `Main:` table.
fn parse_fib_triestat(text: &str) -> Option<u64> {
    text.lines()
        .skip_while(|l| l.trim() != "Main:")
        .find_map(|l| l.trim().strip_prefix("Prefixes:"))
        .and_then(|n| n.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_main_prefix_count_of_fib_triestat() {
        let text = "Basic info: size of leaf: 48 bytes, size of tnode: 40 bytes.\nMain:\n\tAver depth:     2.40\n\tLeaves:         5\n\tPrefixes:       7\nLocal:\n\tPrefixes:       3\n";
        assert_eq!(super::parse_fib_triestat(text), Some(7));
        assert_eq!(super::parse_fib_triestat("nothing"), None);
    }
}
