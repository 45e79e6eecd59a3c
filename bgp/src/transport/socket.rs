//! Outgoing and listening BGP sockets.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::net::{TcpListener, TcpStream};

use super::keys::{InstalledKeys, KeyError, KeyOp, ListenerFamily, canonical_ip};
use super::md5::{self, Password};

/// TTL for a directly connected eBGP peer (RFC 4271 §5.1.3's default
/// single-hop session): a packet that crosses a router dies.
pub const TTL_DIRECT: u8 = 1;
/// TTL for iBGP and multihop eBGP.
pub const TTL_MULTIHOP: u8 = 255;

/// How to reach a peer.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// The peer's address and port (a link-local IPv6 peer needs its scope).
    pub peer: SocketAddr,
    /// Bind to this local address before connecting.
    pub source: Option<IpAddr>,
    /// Bind the socket to this device (SO_BINDTODEVICE): a VRF, whose
    /// routing table then chooses the path and the source address, or any
    /// interface. The connection never leaves through another device.
    pub device: Option<String>,
    /// TCP MD5 key, if the session is signed.
    pub password: Option<Password>,
    /// IP TTL / hop limit of our packets.
    pub ttl: u8,
    /// How long the TCP handshake may take.
    pub timeout: Duration,
}

/// Opens a TCP connection to a BGP peer.
pub async fn connect(options: &ConnectOptions) -> io::Result<TcpStream> {
    match &options.device {
        // The device named in every error: "Network is unreachable" alone
        // would not say that the main table was never consulted.
        Some(device) => connect_inner(options)
            .await
            .map_err(|e| io::Error::new(e.kind(), format!("bound to device {device}: {e}"))),
        None => connect_inner(options).await,
    }
}

async fn connect_inner(options: &ConnectOptions) -> io::Result<TcpStream> {
    let socket = new_socket(options.peer.ip())?;
    if let Some(device) = &options.device {
        socket.bind_device(Some(device.as_bytes()))?;
    }
    set_ttl(&socket, options.peer.ip(), options.ttl)?;
    if let Some(source) = options.source {
        socket.bind(&SockAddr::from(SocketAddr::new(source, 0)))?;
    }
    if options.password.is_some() {
        md5::set_key(&socket, options.peer.ip(), options.password.as_ref())?;
    }
    socket.set_nonblocking(true)?;
    let socket = tokio::net::TcpSocket::from_std_stream(socket.into());
    let stream = tokio::time::timeout(options.timeout, socket.connect(options.peer))
        .await
        .map_err(|_| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "no TCP connection to {} within {:?}",
                    options.peer, options.timeout
                ),
            )
        })??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A listening socket for inbound BGP connections. Passwords are set per
/// peer address, so one listener serves peers with different keys; peers
/// without a password leave the socket's keys alone.
pub struct Listener {
    inner: TcpListener,
    keys: Mutex<InstalledKeys>,
}

impl Listener {
    /// Listens on `addr`: `[::]:179` takes IPv4 and IPv6, `0.0.0.0:179`
    /// IPv4 only, one IPv6 address IPv6 only.
    pub fn bind(addr: SocketAddr) -> io::Result<Listener> {
        Listener::bind_device(addr, None)
    }

    /// Listens on `addr` for connections that arrive through `device` only
    /// (SO_BINDTODEVICE), or through any device when `None`. Listeners on
    /// the same port for other devices can coexist (SO_REUSEPORT): the
    /// kernel hands a connection to the listener bound to the device it
    /// arrived on, and to the unbound one only when no such listener exists.
    pub fn bind_device(addr: SocketAddr, device: Option<&str>) -> io::Result<Listener> {
        // An IPv4-mapped address takes IPv4 connections only: bind it as
        // IPv4, so that keys and families stay simple.
        let addr = SocketAddr::new(canonical_ip(addr.ip()), addr.port());
        let socket = new_socket(addr.ip())?;
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        if let Some(device) = device {
            socket.bind_device(Some(device.as_bytes())).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot bind to device {device}: {e}"))
            })?;
        }
        if addr.is_ipv6() {
            socket.set_only_v6(false)?;
        }
        socket.bind(&SockAddr::from(addr))?;
        socket.listen(128)?;
        socket.set_nonblocking(true)?;
        Ok(Listener {
            inner: TcpListener::from_std(socket.into())?,
            keys: Mutex::new(InstalledKeys::new(ListenerFamily::of(addr, false))),
        })
    }

    /// Which connections it receives.
    pub fn family(&self) -> ListenerFamily {
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .family()
    }

    /// The address actually bound (with the port chosen for port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Sets (or clears) the MD5 key that connections from `peer` must carry.
    /// Without a password, it removes the key only if one is installed: a
    /// listener that never held a key for `peer` is left as it is.
    pub fn set_password(&self, peer: IpAddr, password: Option<&Password>) -> Result<(), KeyError> {
        // Held across the system call, so two changes cannot interleave.
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        match keys.change(peer, password)? {
            None => {}
            Some(KeyOp::Set { at, password }) => md5::set_key(&self.inner, at, Some(&password))
                .map_err(|source| KeyError::Install { peer, source })?,
            Some(KeyOp::Delete { at }) => match md5::set_key(&self.inner, at, None) {
                // Gone already: what was wanted.
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                result => result.map_err(|source| KeyError::Remove { peer, source })?,
            },
        }
        keys.record(peer, password);
        Ok(())
    }

    /// Accepts the next connection; the caller checks that the peer is one it
    /// knows and sets its TTL with [`accept_ttl`](Self::accept_ttl).
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, peer) = self.inner.accept().await?;
        stream.set_nodelay(true)?;
        Ok((stream, canonical(peer)))
    }

    /// Sets the TTL of an accepted connection.
    pub fn accept_ttl(stream: &TcpStream, peer: IpAddr, ttl: u8) -> io::Result<()> {
        set_ttl(&socket2::SockRef::from(stream), peer, ttl)
    }

    /// The listening socket's descriptor.
    pub fn as_raw_fd(&self) -> i32 {
        self.inner.as_raw_fd()
    }
}

/// IPv4 peers arrive as IPv4-mapped IPv6 addresses on a dual-stack listener.
/// IPv4-mapped addresses as IPv4; other IPv6 ones keep their scope (the
/// interface of a link-local peer).
fn canonical(peer: SocketAddr) -> SocketAddr {
    match canonical_ip(peer.ip()) {
        IpAddr::V4(v4) => SocketAddr::new(IpAddr::V4(v4), peer.port()),
        IpAddr::V6(_) => peer,
    }
}

fn new_socket(peer: IpAddr) -> io::Result<Socket> {
    let domain = if peer.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    Socket::new(domain, Type::STREAM, Some(Protocol::TCP))
}

fn set_ttl(socket: &Socket, peer: IpAddr, ttl: u8) -> io::Result<()> {
    match peer {
        IpAddr::V4(_) => socket.set_ttl_v4(u32::from(ttl)),
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => socket.set_ttl_v4(u32::from(ttl)),
        IpAddr::V6(_) => socket.set_unicast_hops_v6(u32::from(ttl)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn options(port: u16, password: Option<&str>) -> ConnectOptions {
        ConnectOptions {
            peer: SocketAddr::new(LOCALHOST, port),
            source: Some(LOCALHOST),
            device: None,
            password: password.map(|p| Password::new(p).unwrap()),
            ttl: TTL_DIRECT,
            timeout: Duration::from_millis(1500),
        }
    }

    #[tokio::test]
    async fn md5_keys_that_match_connect_and_keys_that_differ_do_not() {
        let listener = Listener::bind(SocketAddr::new(LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        listener
            .set_password(LOCALHOST, Some(&Password::new("s3cret").unwrap()))
            .unwrap();
        let accept = tokio::spawn(async move { listener.accept().await.map(|(_, peer)| peer) });

        let wrong = connect(&options(port, Some("wrong"))).await;
        assert!(
            wrong.is_err(),
            "a wrong key must not complete the handshake"
        );
        let unsigned = connect(&options(port, None)).await;
        assert!(unsigned.is_err(), "an unsigned SYN must be dropped");

        let stream = connect(&options(port, Some("s3cret"))).await.unwrap();
        let peer = accept.await.unwrap().unwrap();
        assert_eq!(peer, stream.local_addr().unwrap());
        assert_eq!(
            socket2::SockRef::from(&stream).ttl_v4().unwrap(),
            u32::from(TTL_DIRECT)
        );
    }

    #[tokio::test]
    async fn md5_works_for_ipv6_peers_too() {
        let v6: IpAddr = "::1".parse().unwrap();
        let listener = Listener::bind(SocketAddr::new(v6, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        listener
            .set_password(v6, Some(&Password::new("s3cret").unwrap()))
            .unwrap();
        let accept = tokio::spawn(async move { listener.accept().await.map(|(_, peer)| peer) });
        let options = |password: &str| ConnectOptions {
            peer: SocketAddr::new(v6, port),
            source: Some(v6),
            device: None,
            password: Some(Password::new(password).unwrap()),
            ttl: TTL_DIRECT,
            timeout: Duration::from_millis(1500),
        };
        assert!(
            connect(&options("wrong")).await.is_err(),
            "a wrong key must not connect over IPv6"
        );
        let stream = connect(&options("s3cret")).await.unwrap();
        assert_eq!(accept.await.unwrap().unwrap(), stream.local_addr().unwrap());
    }

    /// A connection to `listener` from 127.0.0.1, signed with `password` or
    /// not.
    async fn dial(listener: &Listener, password: Option<&str>) -> io::Result<TcpStream> {
        let port = listener.local_addr()?.port();
        connect(&options(port, password)).await
    }

    #[tokio::test]
    async fn a_dual_stack_listener_checks_an_ipv4_peers_key() {
        let listener = Listener::bind("[::]:0".parse().unwrap()).unwrap();
        assert_eq!(listener.family(), ListenerFamily::DualStack);
        listener
            .set_password(LOCALHOST, Some(&Password::new("s3cret").unwrap()))
            .expect("an IPv4 peer's key on [::] is its IPv4-mapped address");
        assert!(
            dial(&listener, None).await.is_err(),
            "an unsigned SYN must be dropped"
        );
        assert!(dial(&listener, Some("wrong")).await.is_err());
        let stream = dial(&listener, Some("s3cret")).await.unwrap();
        let (_, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, stream.local_addr().unwrap());
    }

    #[tokio::test]
    async fn a_peer_without_a_password_connects_unsigned_on_every_listener() {
        for addr in ["[::]:0", "127.0.0.1:0"] {
            let listener = Listener::bind(addr.parse().unwrap()).unwrap();
            listener
                .set_password(LOCALHOST, None)
                .unwrap_or_else(|e| panic!("{addr}: no key to install or remove: {e}"));
            let stream = dial(&listener, None).await.unwrap();
            let (_, peer) = listener.accept().await.unwrap();
            assert_eq!(peer, stream.local_addr().unwrap(), "{addr}");
        }
    }

    #[tokio::test]
    async fn a_password_removed_and_added_again_is_required_only_while_set() {
        let s3cret = Password::new("s3cret").unwrap();
        for addr in ["[::]:0", "127.0.0.1:0"] {
            let listener = Listener::bind(addr.parse().unwrap()).unwrap();
            listener.set_password(LOCALHOST, Some(&s3cret)).unwrap();
            assert!(dial(&listener, None).await.is_err(), "{addr}: signed only");
            listener.set_password(LOCALHOST, None).unwrap();
            dial(&listener, None).await.expect("unsigned once removed");
            listener.accept().await.unwrap();
            // Removing twice is not an error: nothing is left to remove.
            listener.set_password(LOCALHOST, None).unwrap();
            listener.set_password(LOCALHOST, Some(&s3cret)).unwrap();
            assert!(dial(&listener, None).await.is_err(), "{addr}: signed again");
            dial(&listener, Some("s3cret")).await.unwrap();
        }
    }

    #[tokio::test]
    async fn a_listener_refuses_keys_for_peers_it_never_hears_from() {
        let v6: IpAddr = "::1".parse().unwrap();
        let v4_only = Listener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        assert!(matches!(
            v4_only.set_password(v6, None),
            Err(KeyError::NotReceived(_))
        ));
        let v6_only = Listener::bind("[::1]:0".parse().unwrap()).unwrap();
        assert_eq!(v6_only.family(), ListenerFamily::Ipv6Only);
        assert!(matches!(
            v6_only.set_password(LOCALHOST, Some(&Password::new("x").unwrap())),
            Err(KeyError::NotReceived(_))
        ));
        v6_only
            .set_password(v6, Some(&Password::new("x").unwrap()))
            .unwrap();
    }

    #[tokio::test]
    async fn a_dual_stack_listener_reports_ipv4_peers_as_ipv4() {
        let listener = Listener::bind("[::]:0".parse().unwrap()).unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = connect(&options(port, None)).await.unwrap();
        let (_, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        assert!(peer.is_ipv4());
    }

    #[tokio::test]
    async fn a_socket_bound_to_a_device_connects_through_it_and_names_it_when_it_cannot() {
        let listener = Listener::bind_device(SocketAddr::new(LOCALHOST, 0), Some("lo")).unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut through_lo = options(port, None);
        through_lo.device = Some("lo".into());
        let stream = connect(&through_lo).await.unwrap();
        let (_, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, stream.local_addr().unwrap());

        let mut missing = options(port, None);
        missing.device = Some("ferrolb-none0".into());
        let e = connect(&missing).await.unwrap_err();
        assert!(
            e.to_string().starts_with("bound to device ferrolb-none0: "),
            "{e}"
        );
        let e = Listener::bind_device(SocketAddr::new(LOCALHOST, port), Some("ferrolb-none0"))
            .err()
            .expect("no such device");
        assert!(e.to_string().contains("ferrolb-none0"), "{e}");
    }

    #[tokio::test]
    async fn listeners_for_other_devices_share_the_port() {
        let any = Listener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let port = any.local_addr().unwrap().port();
        let lo = Listener::bind_device(SocketAddr::new(LOCALHOST, port), Some("lo"))
            .expect("a device-bound listener beside the unbound one");
        // Arriving on lo, the connection goes to lo's listener, not the
        // unbound one.
        let stream = connect(&options(port, None)).await.unwrap();
        let (_, peer) = tokio::time::timeout(Duration::from_secs(2), lo.accept())
            .await
            .expect("the device's listener gets the connection")
            .unwrap();
        assert_eq!(peer, stream.local_addr().unwrap());
    }
}
