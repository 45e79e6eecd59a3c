//! This node's network interfaces as Layer-2 mode's interface choice reads
//! them, read over rtnetlink, and a stream of their changes (links coming
//! and going, up and down, IPv6 link-local addresses) so the choice is made
//! again at once rather than on a poll.

use std::collections::BTreeSet;
use std::net::IpAddr;

use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use netlink_packet_route::address::AddressAttribute;
use netlink_packet_route::link::{LinkAttribute, LinkFlags};

use crate::decide::Link;

#[derive(Debug, thiserror::Error)]
pub enum LinksError {
    #[error("cannot open a netlink socket: {0}")]
    Socket(#[source] std::io::Error),
    #[error("cannot list {what} over netlink: {source}")]
    Netlink {
        what: &'static str,
        source: rtnetlink::Error,
    },
}

/// Every interface of this host (of the calling thread's network
/// namespace). Must run inside a tokio runtime.
pub async fn links() -> Result<Vec<Link>, LinksError> {
    let (connection, handle, _) = rtnetlink::new_connection().map_err(LinksError::Socket)?;
    let task = tokio::spawn(connection);
    let result = async {
        let link_local: BTreeSet<u32> = handle
            .address()
            .get()
            .execute()
            .try_filter_map(|a| async move {
                let ll = a.attributes.iter().any(|attr| {
                    matches!(attr, AddressAttribute::Address(IpAddr::V6(v6)) if v6.is_unicast_link_local())
                });
                Ok(ll.then_some(a.header.index))
            })
            .try_collect()
            .await
            .map_err(|source| LinksError::Netlink {
                what: "addresses",
                source,
            })?;
        handle
            .link()
            .get()
            .execute()
            .map_ok(|l| {
                let flags = l.header.flags;
                Link {
                    name: l
                        .attributes
                        .iter()
                        .find_map(|a| match a {
                            LinkAttribute::IfName(n) => Some(n.clone()),
                            _ => None,
                        })
                        .unwrap_or_default(),
                    up: flags.contains(LinkFlags::Up),
                    loopback: flags.contains(LinkFlags::Loopback),
                    enslaved: l
                        .attributes
                        .iter()
                        .any(|a| matches!(a, LinkAttribute::Controller(_))),
                    arp: flags.contains(LinkFlags::Broadcast) && !flags.contains(LinkFlags::Noarp),
                    ndp: link_local.contains(&l.header.index),
                    mac: l.attributes.iter().find_map(|a| match a {
                        LinkAttribute::Address(bytes) => <[u8; 6]>::try_from(bytes.as_slice()).ok(),
                        _ => None,
                    }),
                }
            })
            .try_collect()
            .await
            .map_err(|source| LinksError::Netlink {
                what: "links",
                source,
            })
    }
    .await;
    task.abort();
    result
}

/// One item per change of a link or of an IPv6 address. Must run inside a
/// tokio runtime; the subscription lives as long as the stream.
pub fn changes() -> Result<BoxStream<'static, ()>, LinksError> {
    let (connection, _, messages) = rtnetlink::new_multicast_connection(&[
        rtnetlink::MulticastGroup::Link,
        rtnetlink::MulticastGroup::Ipv6Ifaddr,
    ])
    .map_err(LinksError::Socket)?;
    let task = tokio::spawn(connection);
    let guard = AbortOnDrop(task);
    Ok(messages
        .map(move |_| {
            let _keep = &guard;
        })
        .boxed())
}

pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
