//! Unsolicited announcements that move a client's neighbour entry: a
//! gratuitous ARP *request* (the one kind that overrides Linux's 1 s
//! locktime, shared/LAB.md) and an unsolicited Neighbor Advertisement with
//! the override flag. Sent from raw sockets of the calling thread's
//! namespace, so no process start delays them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use socket2::{Domain, Protocol, Socket, Type};

use crate::error::{LabError, Result};
use crate::l2::netlink::lan_ifindex;

const ETH_P_ARP: u16 = 0x0806;
const BROADCAST: [u8; 6] = [0xff; 6];

/// Announces that `vip` is now at `mac`, on the LAN interface.
pub fn announce(vip: IpAddr, mac: [u8; 6]) -> Result<()> {
    let ifindex = lan_ifindex()?;
    match vip {
        IpAddr::V4(v4) => send_frame(ifindex, &gratuitous_arp(v4, mac)),
        IpAddr::V6(v6) => send_neighbor_advertisement(ifindex, v6, mac),
    }
}

/// An Ethernet frame with an ARP request whose sender and target are `vip`.
pub fn gratuitous_arp(vip: Ipv4Addr, mac: [u8; 6]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(42);
    frame.extend_from_slice(&BROADCAST);
    frame.extend_from_slice(&mac);
    frame.extend_from_slice(&ETH_P_ARP.to_be_bytes());
    // Ethernet, IPv4, address lengths 6 and 4, request.
    frame.extend_from_slice(&[0, 1, 0x08, 0, 6, 4, 0, 1]);
    frame.extend_from_slice(&mac);
    frame.extend_from_slice(&vip.octets());
    frame.extend_from_slice(&[0; 6]);
    frame.extend_from_slice(&vip.octets());
    frame
}

/// The ICMPv6 body of an unsolicited Neighbor Advertisement for `vip` with
/// the override flag and the target link-layer address option. The kernel
/// fills in the checksum of a raw ICMPv6 socket.
pub fn neighbor_advertisement(vip: Ipv6Addr, mac: [u8; 6]) -> Vec<u8> {
    let mut body = Vec::with_capacity(32);
    // Type 136, code 0, checksum 0, flags: override only.
    body.extend_from_slice(&[136, 0, 0, 0, 0x20, 0, 0, 0]);
    body.extend_from_slice(&vip.octets());
    // Option 2 (target link-layer address), length 1 (8 bytes).
    body.extend_from_slice(&[2, 1]);
    body.extend_from_slice(&mac);
    body
}

fn send_frame(ifindex: u32, frame: &[u8]) -> Result<()> {
    let context = |what: &str| format!("gratuitous ARP: {what}");
    // SAFETY: plain socket(2); the descriptor is owned at once.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW,
            i32::from(ETH_P_ARP.to_be()),
        )
    };
    if fd < 0 {
        return Err(LabError::io(
            context("AF_PACKET socket"),
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
    let mut to: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    to.sll_family = libc::AF_PACKET as u16;
    to.sll_protocol = ETH_P_ARP.to_be();
    to.sll_ifindex = ifindex as i32;
    to.sll_halen = 6;
    to.sll_addr[..6].copy_from_slice(&BROADCAST);
    // SAFETY: the buffer and the address are valid for the lengths given.
    let sent = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            frame.as_ptr().cast(),
            frame.len(),
            0,
            (&to as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if sent < 0 {
        return Err(LabError::io(
            context("send"),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

fn send_neighbor_advertisement(ifindex: u32, vip: Ipv6Addr, mac: [u8; 6]) -> Result<()> {
    let context = |what: &str| format!("unsolicited NA for {vip}: {what}");
    let socket = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))
        .map_err(|e| LabError::io(context("socket"), e))?;
    // Receivers drop neighbour discovery that did not come with hop limit 255.
    socket
        .set_multicast_hops_v6(255)
        .map_err(|e| LabError::io(context("hop limit"), e))?;
    socket
        .set_multicast_if_v6(ifindex)
        .map_err(|e| LabError::io(context("interface"), e))?;
    let all_nodes = SocketAddrV6::new(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1), 0, 0, ifindex);
    socket
        .send_to(&neighbor_advertisement(vip, mac), &all_nodes.into())
        .map_err(|e| LabError::io(context("send"), e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x0b];

    #[test]
    fn a_gratuitous_arp_is_a_broadcast_request_for_the_vip() {
        let frame = gratuitous_arp(Ipv4Addr::new(172, 31, 255, 200), MAC);
        assert_eq!(frame.len(), 42);
        assert_eq!(&frame[..6], &BROADCAST);
        assert_eq!(&frame[12..14], &[0x08, 0x06]);
        // Operation: request.
        assert_eq!(&frame[20..22], &[0, 1]);
        assert_eq!(&frame[22..28], &MAC);
        assert_eq!(&frame[28..32], &[172, 31, 255, 200]);
        assert_eq!(&frame[38..42], &[172, 31, 255, 200]);
    }

    #[test]
    fn a_neighbor_advertisement_overrides_and_names_the_mac() {
        let vip: Ipv6Addr = "fd00:31:255::200".parse().expect("literal");
        let body = neighbor_advertisement(vip, MAC);
        assert_eq!(body.len(), 32);
        assert_eq!(body[0], 136);
        // Override set, solicited and router clear.
        assert_eq!(body[4], 0x20);
        assert_eq!(&body[8..24], &vip.octets());
        assert_eq!(&body[24..26], &[2, 1]);
        assert_eq!(&body[26..], &MAC);
    }
}
