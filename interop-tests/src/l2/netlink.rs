//! Link and address changes on a node, made over rtnetlink from a thread in
//! its namespace: a failure's instant is then the instant of one system
//! call, not of an `ip` process start (several ms on a loaded machine).

use std::future::Future;
use std::net::IpAddr;

use futures::TryStreamExt;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use rtnetlink::{Handle, LinkUnspec};

use crate::error::{LabError, Result};
use crate::lab::LAN_IFACE;
use crate::netns::Netns;

/// Runs `f` with a netlink handle of `netns`, on a thread inside it; what
/// `f` does besides (raw sockets) happens inside the namespace too.
pub fn in_netns<T, F, Fut>(netns: &Netns, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(Handle) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T>>,
{
    netns.run(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| LabError::io("cannot build a runtime for rtnetlink", e))?;
        runtime.block_on(async move {
            let (connection, handle, _) = rtnetlink::new_connection()
                .map_err(|e| LabError::io("cannot open a netlink socket", e))?;
            tokio::spawn(connection);
            f(handle).await
        })
    })
}

fn netlink_error(what: String) -> impl FnOnce(rtnetlink::Error) -> LabError {
    move |e| LabError::io(what, std::io::Error::other(e))
}

/// The index of the LAN interface, in the calling thread's namespace.
pub fn lan_ifindex() -> Result<u32> {
    let name = std::ffi::CString::new(LAN_IFACE).map_err(|e| LabError::Invalid(e.to_string()))?;
    // SAFETY: `name` is a valid NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 {
        return Err(LabError::io(
            format!("no interface {LAN_IFACE}"),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(index)
}

/// Sets the LAN interface up or down.
pub async fn set_link(handle: &Handle, up: bool) -> Result<()> {
    let link = LinkUnspec::new_with_name(LAN_IFACE);
    let link = if up { link.up() } else { link.down() };
    handle
        .link()
        .set(link.build())
        .execute()
        .await
        .map_err(netlink_error(format!("cannot set {LAN_IFACE} up={up}")))
}

/// Adds `vip` as a host address (/32, /128) on the LAN interface.
pub async fn add_vip(handle: &Handle, vip: IpAddr) -> Result<()> {
    let len = if vip.is_ipv4() { 32 } else { 128 };
    add_address(handle, vip, len).await
}

/// Adds `addr/len` on the LAN interface unless it is there already.
pub async fn ensure_address(handle: &Handle, addr: IpAddr, len: u8) -> Result<()> {
    if find_address(handle, addr).await?.is_empty() {
        add_address(handle, addr, len).await?;
    }
    Ok(())
}

async fn add_address(handle: &Handle, addr: IpAddr, len: u8) -> Result<()> {
    handle
        .address()
        .add(lan_ifindex()?, addr, len)
        .execute()
        .await
        .map_err(netlink_error(format!("cannot add {addr}/{len}")))
}

/// Removes `vip` from the LAN interface, if it is there.
pub async fn del_vip(handle: &Handle, vip: IpAddr) -> Result<()> {
    for message in find_address(handle, vip).await? {
        handle
            .address()
            .del(message)
            .execute()
            .await
            .map_err(netlink_error(format!("cannot remove {vip}")))?;
    }
    Ok(())
}

/// The LAN interface's entries for `addr`.
async fn find_address(handle: &Handle, addr: IpAddr) -> Result<Vec<AddressMessage>> {
    let mut found = Vec::new();
    let mut dump = handle
        .address()
        .get()
        .set_link_index_filter(lan_ifindex()?)
        .execute();
    while let Some(message) = dump
        .try_next()
        .await
        .map_err(netlink_error("cannot list addresses".into()))?
    {
        let holds = message
            .attributes
            .iter()
            .any(|a| matches!(a, AddressAttribute::Address(a) if *a == addr));
        if holds {
            found.push(message);
        }
    }
    Ok(found)
}
