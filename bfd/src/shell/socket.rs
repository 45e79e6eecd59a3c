//! The sockets: one receiver per well-known port and family, with the
//! TTL of each packet; one sender per session, TTL 255, from a port in
//! 49152–65535.

use std::io::{self, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;

use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, setsockopt, sockopt,
};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;

use super::device::Device;
use super::error::ShellError;

/// Every BFD packet leaves with the highest TTL, so that a single-hop
/// receiver can tell it was not forwarded (RFC 5881 §5).
const SEND_TTL: u32 = 255;
/// DSCP CS6 (network control, RFC 4594 §3.2) in the TOS / Traffic Class
/// byte, as FRR's bfdd and BIRD mark theirs: a router's queues must not
/// drop or delay a liveness packet behind the traffic it protects, or a
/// busy link looks like a dead one.
const SEND_TOS: u32 = 0xc0;
/// RFC 5881 §4: the source port range.
const SOURCE_PORTS: std::ops::RangeInclusive<u16> = 49152..=65535;
/// A Control packet is 24 bytes, 26–52 with authentication; anything
/// longer is read whole and refused by the decoder.
const RECEIVE_BUFFER: usize = 512;

/// One datagram as the demultiplexer sees it.
#[derive(Debug)]
pub(super) struct Datagram {
    pub from: SocketAddr,
    /// The IP TTL / hop limit it arrived with, when the kernel said.
    pub ttl: Option<u8>,
    pub payload: Vec<u8>,
}

/// A socket on `port` (3784 or 4784) for one family, every address; only
/// packets arriving on `device` when one is given. The kernel hands a
/// packet to the socket bound to its device before an unbound one, so a
/// bound receiver and the unbound one share the port.
pub(super) fn listen(
    ipv6: bool,
    port: u16,
    device: Option<Device>,
) -> Result<UdpSocket, ShellError> {
    let addr = if ipv6 {
        SocketAddr::from((Ipv6Addr::UNSPECIFIED, port))
    } else {
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))
    };
    let error = |source| ShellError::Listen { addr, source };
    let socket =
        Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP)).map_err(error)?;
    if ipv6 {
        socket.set_only_v6(true).map_err(error)?;
        setsockopt(&socket, sockopt::Ipv6RecvHopLimit, &true)
            .map_err(|e| error(io::Error::from(e)))?;
    } else {
        setsockopt(&socket, sockopt::Ipv4RecvTtl, &true).map_err(|e| error(io::Error::from(e)))?;
    }
    socket.set_reuse_address(true).map_err(error)?;
    bind_device(&socket, device)?;
    socket.set_nonblocking(true).map_err(error)?;
    socket.bind(&addr.into()).map_err(error)?;
    UdpSocket::from_std(socket.into()).map_err(error)
}

/// Waits for the next datagram with its TTL.
pub(super) async fn receive(socket: &UdpSocket) -> io::Result<Datagram> {
    socket
        .async_io(Interest::READABLE, || {
            let mut buf = vec![0u8; RECEIVE_BUFFER];
            let mut control = nix::cmsg_space!(i32);
            let (bytes, from, ttl) = {
                let mut iov = [IoSliceMut::new(&mut buf)];
                let msg = recvmsg::<SockaddrStorage>(
                    socket.as_raw_fd(),
                    &mut iov,
                    Some(&mut control),
                    MsgFlags::empty(),
                )
                .map_err(io::Error::from)?;
                let ttl = msg.cmsgs().ok().and_then(|mut cmsgs| {
                    cmsgs.find_map(|c| match c {
                        ControlMessageOwned::Ipv4Ttl(t) | ControlMessageOwned::Ipv6HopLimit(t) => {
                            u8::try_from(t).ok()
                        }
                        _ => None,
                    })
                });
                (msg.bytes, msg.address.and_then(socket_addr), ttl)
            };
            let from = from.ok_or_else(|| io::Error::other("datagram without a source address"))?;
            buf.truncate(bytes);
            Ok(Datagram {
                from,
                ttl,
                payload: buf,
            })
        })
        .await
}

fn socket_addr(s: SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = s.as_sockaddr_in() {
        return Some(SocketAddr::from((v4.ip(), v4.port())));
    }
    s.as_sockaddr_in6()
        .map(|v6| SocketAddr::from((v6.ip(), v6.port())))
}

/// Binds `socket` to `device` (SO_BINDTODEVICE), if one is given.
fn bind_device(socket: &Socket, device: Option<Device>) -> Result<(), ShellError> {
    let Some(device) = device else {
        return Ok(());
    };
    socket
        .bind_device(Some(device.as_str().as_bytes()))
        .map_err(|source| ShellError::Device { device, source })
}

/// A session's send socket: from `local` (or whatever address the route
/// picks), bound to `device` if one is given, on a free port of the RFC
/// 5881 range, TTL 255.
pub(super) fn sender(
    local: Option<IpAddr>,
    peer: IpAddr,
    device: Option<Device>,
    seed: u64,
) -> Result<UdpSocket, ShellError> {
    let ip = local.unwrap_or(match peer {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    });
    let any = SocketAddr::new(ip, 0);
    let error = |source| ShellError::Send { addr: any, source };
    let socket =
        Socket::new(Domain::for_address(any), Type::DGRAM, Some(Protocol::UDP)).map_err(error)?;
    if ip.is_ipv6() {
        socket.set_only_v6(true).map_err(error)?;
        socket.set_unicast_hops_v6(SEND_TTL).map_err(error)?;
        socket.set_tclass_v6(SEND_TOS).map_err(error)?;
    } else {
        socket.set_ttl_v4(SEND_TTL).map_err(error)?;
        socket.set_tos_v4(SEND_TOS).map_err(error)?;
    }
    bind_device(&socket, device)?;
    socket.set_nonblocking(true).map_err(error)?;
    // Walk the range from a seeded start; a port in use moves on.
    let span = u64::from(SOURCE_PORTS.end() - SOURCE_PORTS.start()) + 1;
    let mut last = None;
    for i in 0..span {
        let port = SOURCE_PORTS.start() + ((seed.wrapping_add(i)) % span) as u16;
        match socket.bind(&SocketAddr::new(ip, port).into()) {
            Ok(()) => return UdpSocket::from_std(socket.into()).map_err(error),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = Some(e),
            Err(e) => return Err(error(e)),
        }
    }
    Err(error(last.unwrap_or_else(|| {
        io::Error::from(io::ErrorKind::AddrInUse)
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn senders_use_ttl_255_and_mark_network_control() {
        let v4 = sender(
            Some(Ipv4Addr::LOCALHOST.into()),
            Ipv4Addr::LOCALHOST.into(),
            None,
            7,
        )
        .expect("IPv4 sender");
        let v4 = socket2::SockRef::from(&v4);
        assert_eq!(v4.ttl_v4().expect("ttl"), SEND_TTL);
        assert_eq!(v4.tos_v4().expect("tos"), SEND_TOS);
        let v6 = sender(
            Some(Ipv6Addr::LOCALHOST.into()),
            Ipv6Addr::LOCALHOST.into(),
            None,
            7,
        )
        .expect("IPv6 sender");
        let v6 = socket2::SockRef::from(&v6);
        assert_eq!(v6.unicast_hops_v6().expect("hops"), SEND_TTL);
        assert_eq!(v6.tclass_v6().expect("tclass"), SEND_TOS);
    }

    /// Needs CAP_NET_RAW, which the lab tests have anyway.
    #[tokio::test]
    async fn sockets_of_a_bound_session_are_bound_to_its_device() {
        let lo = Device::new("lo");
        let bound = sender(None, Ipv4Addr::LOCALHOST.into(), lo, 9).expect("bound sender");
        let receiver = listen(true, 0, lo).expect("bound receiver");
        for socket in [&bound, &receiver] {
            let bound = socket2::SockRef::from(socket)
                .device()
                .expect("SO_BINDTODEVICE");
            assert_eq!(bound.as_deref(), Some(&b"lo"[..]));
        }
        let unbound = sender(None, Ipv4Addr::LOCALHOST.into(), None, 9).expect("sender");
        assert_eq!(
            socket2::SockRef::from(&unbound).device().expect("device"),
            None
        );
        let missing = sender(
            None,
            Ipv4Addr::LOCALHOST.into(),
            Device::new("nosuchdev0"),
            9,
        );
        assert!(
            matches!(&missing, Err(ShellError::Device { device, .. }) if device.as_str() == "nosuchdev0"),
            "{missing:?}"
        );
    }
}
