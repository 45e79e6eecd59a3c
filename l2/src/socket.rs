//! The AF_PACKET socket of one interface: receives ARP and NS/NA frames
//! (filtered in the kernel), sends whole Ethernet frames, and joins the
//! solicited-node multicast groups of the owned IPv6 addresses.
//!
//! A socket belongs to the network namespace of the thread that opened
//! it. It must be opened inside a tokio runtime with I/O enabled (opening
//! one elsewhere panics, as tokio's own sockets do).

use std::ffi::CString;
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, SystemTime};

use thiserror::Error;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use super::bpf::ARP_AND_NDP;
use super::wire::MacAddr;

/// Why a socket could not be opened.
#[derive(Debug, Error)]
pub enum SocketError {
    /// No interface has that name (in this thread's network namespace).
    #[error("no interface named {name:?}")]
    NoInterface {
        /// The name asked for.
        name: String,
    },
    /// The interface is not Ethernet (loopback, a tunnel, ...).
    #[error("interface {ifindex} is not Ethernet (hardware type {hardware_type})")]
    NotEthernet {
        /// The interface index.
        ifindex: u32,
        /// Its ARPHRD_* type.
        hardware_type: u16,
    },
    /// A system call failed.
    #[error("{call} on interface {ifindex}: {source}")]
    Io {
        /// What was being done.
        call: &'static str,
        /// The interface index.
        ifindex: u32,
        /// The error.
        source: io::Error,
    },
}

/// A raw socket bound to one interface.
#[derive(Debug)]
pub struct PacketSocket {
    fd: AsyncFd<OwnedFd>,
    ifindex: u32,
    mac: MacAddr,
}

/// The index of interface `name` in this thread's network namespace.
pub fn interface_index(name: &str) -> Result<u32, SocketError> {
    let missing = || SocketError::NoInterface {
        name: name.to_string(),
    };
    let c_name = CString::new(name).map_err(|_| missing())?;
    // SAFETY: `c_name` is a valid NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(c_name.as_ptr()) };
    if index == 0 {
        Err(missing())
    } else {
        Ok(index)
    }
}

fn check(ret: libc::c_int) -> io::Result<()> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `setsockopt` with a typed value.
fn set_option<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    let len = size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` points to a live `T` of `len` bytes, and the kernel
    // only reads it during the call.
    check(unsafe { libc::setsockopt(fd, level, name, (value as *const T).cast(), len) })
}

/// The protocol (ETH_P_ALL) in network byte order, as sockaddr_ll wants it.
fn all_protocols() -> u16 {
    (libc::ETH_P_ALL as u16).to_be()
}

impl PacketSocket {
    /// Opens a socket on interface `name`.
    pub fn open(name: &str) -> Result<Self, SocketError> {
        Self::open_index(interface_index(name)?)
    }

    /// Opens a socket on the interface with index `ifindex`.
    pub fn open_index(ifindex: u32) -> Result<Self, SocketError> {
        let io = |call| {
            move |source| SocketError::Io {
                call,
                ifindex,
                source,
            }
        };
        // Protocol 0: nothing is queued before the filter is attached and
        // the socket bound, so no unfiltered frame ever reaches us.
        // SAFETY: plain system call with constant arguments.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        check(raw).map_err(io("socket(AF_PACKET)"))?;
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        let program = libc::sock_fprog {
            len: ARP_AND_NDP.len() as u16,
            filter: ARP_AND_NDP.as_ptr().cast_mut(),
        };
        set_option(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            &program,
        )
        .map_err(io("SO_ATTACH_FILTER"))?;
        // Our own frames would wake us for nothing; kernels before 4.20 lack
        // the option, and `recv` skips outgoing frames there.
        let _ = set_option(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_IGNORE_OUTGOING,
            &1 as &libc::c_int,
        );

        bind(fd.as_raw_fd(), ifindex, all_protocols()).map_err(io("bind"))?;

        let mac = bound_mac(fd.as_raw_fd(), ifindex)?;
        // SAFETY: `OwnedFd` keeps the descriptor open, and returns the same
        // one, for as long as the AsyncFd that owns it lives.
        let fd = unsafe { AsyncFd::register(fd) }
            .map_err(|e| io("register with tokio")(e.into_parts().1))?;
        Ok(Self { fd, ifindex, mac })
    }

    /// The interface index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The interface's MAC when the socket was opened (reopen the socket
    /// if the interface's address changes).
    pub fn mac(&self) -> MacAddr {
        self.mac
    }

    /// Receives one frame into `buf` and returns its length; a frame longer
    /// than `buf` is cut (1514 bytes hold any frame on a 1500-byte MTU).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let received = self
                .fd
                .async_io(Interest::READABLE, |fd| receive(fd.as_raw_fd(), buf))
                .await?;
            if let Some(len) = received {
                return Ok(len);
            }
        }
    }

    /// Has the kernel stamp every frame as it arrives, for
    /// [`recv_stamped`](PacketSocket::recv_stamped): the first `SIOCGSTAMP`
    /// turns stamping on (and finds no frame yet). Not `SO_TIMESTAMP`,
    /// which hands stamps to `recvmsg` alone and leaves `SIOCGSTAMP` none.
    pub fn stamp_arrivals(&self) {
        let _ = last_stamp(self.fd.as_raw_fd());
    }

    /// [`recv`](PacketSocket::recv), with the instant the kernel received
    /// the frame: what a measurement wants when its task may run long
    /// after (a loaded machine). Frames that arrived before
    /// [`stamp_arrivals`](PacketSocket::stamp_arrivals) carry the time they
    /// are read; `None` if the kernel gives no stamp.
    pub async fn recv_stamped(&self, buf: &mut [u8]) -> io::Result<(usize, Option<SystemTime>)> {
        loop {
            let received = self
                .fd
                .async_io(Interest::READABLE, |fd| {
                    let len = receive(fd.as_raw_fd(), buf)?;
                    Ok(len.map(|len| (len, last_stamp(fd.as_raw_fd()))))
                })
                .await?;
            if let Some(stamped) = received {
                return Ok(stamped);
            }
        }
    }

    /// Sends one whole Ethernet frame out of the interface.
    pub async fn send(&self, frame: &[u8]) -> io::Result<()> {
        let sent = self
            .fd
            .async_io(Interest::WRITABLE, |fd| {
                // SAFETY: `frame` is valid for `frame.len()` bytes during the call.
                let n =
                    unsafe { libc::send(fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            })
            .await?;
        if sent == frame.len() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "sent {sent} of {} bytes",
                frame.len()
            )))
        }
    }

    /// Makes the interface accept frames sent to the multicast `mac` (a
    /// solicited-node group's 33:33:ff:xx:xx:xx) for as long as this
    /// socket lives. Joins count: each needs its own [`leave`](Self::leave).
    pub fn join(&self, mac: MacAddr) -> io::Result<()> {
        self.membership(libc::PACKET_ADD_MEMBERSHIP, mac)
    }

    /// Undoes one [`join`](Self::join).
    pub fn leave(&self, mac: MacAddr) -> io::Result<()> {
        self.membership(libc::PACKET_DROP_MEMBERSHIP, mac)
    }

    fn membership(&self, option: libc::c_int, mac: MacAddr) -> io::Result<()> {
        let mut address = [0u8; 8];
        address[..6].copy_from_slice(&mac.0);
        let request = libc::packet_mreq {
            mr_ifindex: self.ifindex as libc::c_int,
            mr_type: libc::PACKET_MR_MULTICAST as u16,
            mr_alen: 6,
            mr_address: address,
        };
        set_option(self.fd.as_raw_fd(), libc::SOL_PACKET, option, &request)
    }
}

/// Sends one frame out of interface `ifindex`, blocking, on a socket of
/// its own that receives nothing: bound with protocol 0, so the kernel
/// taps no frame for it. `build` gets the interface's MAC and returns the
/// frame's bytes (`None`: nothing to send).
///
/// For the rare frame of a caller without a [`PacketSocket`]. Closing a
/// packet socket waits for an RCU grace period (`synchronize_net`, often
/// milliseconds on a loaded host): call it off any latency-sensitive
/// thread.
pub fn send_one(
    ifindex: u32,
    build: impl FnOnce(MacAddr) -> Option<Vec<u8>>,
) -> Result<(), SocketError> {
    let io = |call| {
        move |source| SocketError::Io {
            call,
            ifindex,
            source,
        }
    };
    // SAFETY: plain system call with constant arguments.
    let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    check(raw).map_err(io("socket(AF_PACKET)"))?;
    // SAFETY: `raw` is a fresh descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    bind(fd.as_raw_fd(), ifindex, 0).map_err(io("bind"))?;
    let mac = bound_mac(fd.as_raw_fd(), ifindex)?;
    let Some(frame) = build(mac) else {
        return Ok(());
    };
    // SAFETY: `frame` is valid for `frame.len()` bytes during the call.
    let sent = unsafe { libc::send(fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
    if sent < 0 {
        return Err(io("send")(io::Error::last_os_error()));
    }
    Ok(())
}

/// Binds a packet socket to interface `ifindex` for `protocol` (network
/// byte order; 0: receive nothing).
fn bind(fd: RawFd, ifindex: u32, protocol: u16) -> io::Result<()> {
    // SAFETY: sockaddr_ll is plain data; all zeroes is a valid value.
    let mut address: libc::sockaddr_ll = unsafe { zeroed() };
    address.sll_family = libc::AF_PACKET as u16;
    address.sll_protocol = protocol;
    address.sll_ifindex = ifindex as libc::c_int;
    let len = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: `address` is a sockaddr_ll of `len` bytes, read during the call.
    check(unsafe { libc::bind(fd, (&raw const address).cast::<libc::sockaddr>(), len) })
}

/// One `recvfrom`: `Some(len)` for a received frame, `None` for a frame we
/// sent ourselves (looped back where PACKET_IGNORE_OUTGOING is missing).
fn receive(fd: RawFd, buf: &mut [u8]) -> io::Result<Option<usize>> {
    // SAFETY: sockaddr_ll is plain data; all zeroes is a valid value.
    let mut from: libc::sockaddr_ll = unsafe { zeroed() };
    let mut from_len = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes, `from` for
    // `from_len` bytes; both outlive the call.
    let n = unsafe {
        libc::recvfrom(
            fd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            0,
            (&raw mut from).cast::<libc::sockaddr>(),
            &mut from_len,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if from.sll_pkttype == libc::PACKET_OUTGOING {
        return Ok(None);
    }
    Ok(Some(n as usize))
}

/// `SIOCGSTAMP` (`linux/sockios.h`; the libc crate lacks it).
const SIOCGSTAMP: libc::c_ulong = 0x8906;

/// When the kernel received the last frame read from `fd`.
fn last_stamp(fd: RawFd) -> Option<SystemTime> {
    // SAFETY: timeval is plain data; all zeroes is a valid value.
    let mut stamp: libc::timeval = unsafe { zeroed() };
    // SAFETY: SIOCGSTAMP writes one timeval into `stamp`, which outlives
    // the call.
    let ret = unsafe { libc::ioctl(fd, SIOCGSTAMP, &raw mut stamp) };
    if ret < 0 {
        return None;
    }
    let secs = u64::try_from(stamp.tv_sec).ok()?;
    let micros = u64::try_from(stamp.tv_usec).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros))
}

/// The hardware address of the interface a packet socket is bound to:
/// `getsockname` on AF_PACKET reports it, with no ioctl and no sysfs
/// (whose view depends on the mount namespace, not the network one).
fn bound_mac(fd: RawFd, ifindex: u32) -> Result<MacAddr, SocketError> {
    // SAFETY: sockaddr_ll is plain data; all zeroes is a valid value.
    let mut address: libc::sockaddr_ll = unsafe { zeroed() };
    let mut len = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: `address` is writable for `len` bytes during the call.
    check(unsafe { libc::getsockname(fd, (&raw mut address).cast(), &mut len) }).map_err(
        |source| SocketError::Io {
            call: "getsockname",
            ifindex,
            source,
        },
    )?;
    if address.sll_hatype != libc::ARPHRD_ETHER || address.sll_halen != 6 {
        return Err(SocketError::NotEthernet {
            ifindex,
            hardware_type: address.sll_hatype,
        });
    }
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&address.sll_addr[..6]);
    Ok(MacAddr(mac))
}
