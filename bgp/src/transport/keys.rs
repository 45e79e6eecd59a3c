//! Which TCP MD5 keys a listening socket holds, kept apart from the system
//! calls so the bookkeeping can be tested without a kernel.
//!
//! Two kernel rules shape it (Linux `TCP_MD5SIG`, net/ipv4/tcp_ipv4.c and
//! net/ipv6/tcp_ipv6.c):
//! - the address in `struct tcp_md5sig` must be of the socket's own family
//!   (`EINVAL` otherwise). On an `AF_INET6` socket an IPv4 peer is named by
//!   its IPv4-mapped address (`::ffff:a.b.c.d`), which the kernel stores as
//!   an IPv4 key: the one IPv4 connections to a dual-stack listener are
//!   checked against;
//! - deleting a key that was never added fails with `ENOENT`.
//!
//! So a peer without a password installs nothing and removes nothing,
//! unless an earlier password of that peer is still installed.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};

use super::md5::Password;

/// The connections a listening socket can receive, from the address it is
/// bound to and its `IPV6_V6ONLY` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerFamily {
    /// An `AF_INET` socket (`0.0.0.0:179`, or one IPv4 address).
    Ipv4,
    /// An `AF_INET6` socket that receives no IPv4 connection: `IPV6_V6ONLY`
    /// set, or bound to one IPv6 address.
    Ipv6Only,
    /// `[::]:179` without `IPV6_V6ONLY`: IPv6 connections, and IPv4 ones as
    /// IPv4-mapped addresses.
    DualStack,
}

impl ListenerFamily {
    /// The family of a socket bound to `addr` with `IPV6_V6ONLY` = `v6only`.
    /// An IPv4-mapped `addr` must have been rebound as IPv4 already
    /// (see [`canonical_ip`]).
    pub fn of(addr: SocketAddr, v6only: bool) -> ListenerFamily {
        match addr.ip() {
            IpAddr::V4(_) => ListenerFamily::Ipv4,
            IpAddr::V6(ip) if ip.is_unspecified() && !v6only => ListenerFamily::DualStack,
            IpAddr::V6(_) => ListenerFamily::Ipv6Only,
        }
    }

    /// The address the kernel keys `peer`'s connections by on this socket,
    /// or `None` when no connection from `peer` can reach it.
    pub fn key_address(self, peer: IpAddr) -> Option<IpAddr> {
        match (self, canonical_ip(peer)) {
            (ListenerFamily::Ipv4, v4 @ IpAddr::V4(_)) => Some(v4),
            (ListenerFamily::DualStack, IpAddr::V4(v4)) => Some(IpAddr::V6(v4.to_ipv6_mapped())),
            (ListenerFamily::Ipv6Only | ListenerFamily::DualStack, v6 @ IpAddr::V6(_)) => Some(v6),
            (ListenerFamily::Ipv4, IpAddr::V6(_)) | (ListenerFamily::Ipv6Only, IpAddr::V4(_)) => {
                None
            }
        }
    }
}

impl fmt::Display for ListenerFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ListenerFamily::Ipv4 => "IPv4",
            ListenerFamily::Ipv6Only => "IPv6",
            ListenerFamily::DualStack => "IPv4 and IPv6",
        })
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it carries: how peers
/// and their connections are named everywhere above the socket.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// One `TCP_MD5SIG` call to make on the listening socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOp {
    /// Add the key, or replace the one installed at this address.
    Set {
        /// The peer in the socket's family.
        at: IpAddr,
        /// The key.
        password: Password,
    },
    /// Delete the key installed at this address.
    Delete {
        /// The peer in the socket's family.
        at: IpAddr,
    },
}

/// A peer whose connections the listener never receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the BGP listener takes only {listener} connections, so none from {peer}")]
pub struct NotReceived {
    /// The peer.
    pub peer: IpAddr,
    /// What the listener receives.
    pub listener: ListenerFamily,
}

/// Why a peer's key could not be put on the listening socket.
#[derive(Debug, thiserror::Error)]
// Each variant's `#[error]` text is its documentation.
#[allow(missing_docs)]
pub enum KeyError {
    #[error(transparent)]
    NotReceived(#[from] NotReceived),
    #[error("cannot install {peer}'s TCP MD5 key on the BGP listener: {source}")]
    Install { peer: IpAddr, source: io::Error },
    #[error("cannot remove {peer}'s TCP MD5 key from the BGP listener: {source}")]
    Remove { peer: IpAddr, source: io::Error },
}

/// The keys installed on one listening socket, by peer.
#[derive(Debug, Clone)]
pub struct InstalledKeys {
    family: ListenerFamily,
    keys: HashMap<IpAddr, Password>,
}

impl InstalledKeys {
    /// A listener that holds no key yet.
    pub fn new(family: ListenerFamily) -> InstalledKeys {
        InstalledKeys {
            family,
            keys: HashMap::new(),
        }
    }

    /// The listener's family.
    pub fn family(&self) -> ListenerFamily {
        self.family
    }

    /// The call (if any) that makes `peer`'s key `wanted`. A peer the
    /// listener never hears from needs no key: [`NotReceived`] tells the
    /// caller its sessions can only connect out.
    pub fn change(
        &self,
        peer: IpAddr,
        wanted: Option<&Password>,
    ) -> Result<Option<KeyOp>, NotReceived> {
        let peer = canonical_ip(peer);
        let Some(at) = self.family.key_address(peer) else {
            return Err(NotReceived {
                peer,
                listener: self.family,
            });
        };
        Ok(match (self.keys.get(&peer), wanted) {
            (Some(have), Some(want)) if have == want => None,
            (_, Some(want)) => Some(KeyOp::Set {
                at,
                password: want.clone(),
            }),
            (Some(_), None) => Some(KeyOp::Delete { at }),
            (None, None) => None,
        })
    }

    /// Records that `peer`'s key is now `installed` in the kernel.
    pub fn record(&mut self, peer: IpAddr, installed: Option<&Password>) {
        let peer = canonical_ip(peer);
        match installed {
            Some(p) => self.keys.insert(peer, p.clone()),
            None => self.keys.remove(&peer),
        };
    }

    /// Whether a key for `peer` is installed.
    pub fn has_key(&self, peer: IpAddr) -> bool {
        self.keys.contains_key(&canonical_ip(peer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn pw(s: &str) -> Password {
        Password::new(s).unwrap()
    }

    #[test]
    fn listener_families_follow_the_bound_address_and_v6only() {
        let of = |a: &str, v6only| ListenerFamily::of(a.parse().unwrap(), v6only);
        assert_eq!(of("0.0.0.0:179", false), ListenerFamily::Ipv4);
        assert_eq!(of("10.0.0.1:179", false), ListenerFamily::Ipv4);
        assert_eq!(of("[::]:179", false), ListenerFamily::DualStack);
        assert_eq!(of("[::]:179", true), ListenerFamily::Ipv6Only);
        assert_eq!(of("[fd00::1]:179", false), ListenerFamily::Ipv6Only);
    }

    #[test]
    fn ipv4_peers_are_keyed_by_their_mapped_address_on_a_dual_stack_listener() {
        use ListenerFamily::*;
        let v4 = ip("172.31.255.1");
        let mapped = ip("::ffff:172.31.255.1");
        let v6 = ip("fd00:31:255::1");
        assert_eq!(DualStack.key_address(v4), Some(mapped));
        assert_eq!(DualStack.key_address(mapped), Some(mapped));
        assert_eq!(DualStack.key_address(v6), Some(v6));
        assert_eq!(Ipv4.key_address(v4), Some(v4));
        assert_eq!(Ipv4.key_address(mapped), Some(v4));
        assert_eq!(Ipv4.key_address(v6), None);
        assert_eq!(Ipv6Only.key_address(v6), Some(v6));
        assert_eq!(Ipv6Only.key_address(v4), None);
    }

    #[test]
    fn a_peer_without_a_password_installs_and_removes_nothing() {
        for family in [
            ListenerFamily::Ipv4,
            ListenerFamily::DualStack,
            ListenerFamily::Ipv6Only,
        ] {
            let keys = InstalledKeys::new(family);
            let peer = if family == ListenerFamily::Ipv6Only {
                ip("fd00::1")
            } else {
                ip("10.0.0.1")
            };
            assert_eq!(keys.change(peer, None), Ok(None), "{family:?}");
        }
    }

    #[test]
    fn a_password_is_installed_once_replaced_when_it_changes_and_removed_when_it_goes() {
        let peer = ip("10.0.0.1");
        let at = ip("::ffff:10.0.0.1");
        let mut keys = InstalledKeys::new(ListenerFamily::DualStack);
        assert_eq!(
            keys.change(peer, Some(&pw("a"))),
            Ok(Some(KeyOp::Set {
                at,
                password: pw("a")
            }))
        );
        keys.record(peer, Some(&pw("a")));
        assert!(keys.has_key(peer));
        assert_eq!(keys.change(peer, Some(&pw("a"))), Ok(None), "unchanged");
        assert_eq!(
            keys.change(peer, Some(&pw("b"))),
            Ok(Some(KeyOp::Set {
                at,
                password: pw("b")
            }))
        );
        keys.record(peer, Some(&pw("b")));
        assert_eq!(keys.change(peer, None), Ok(Some(KeyOp::Delete { at })));
        keys.record(peer, None);
        assert!(!keys.has_key(peer));
        assert_eq!(keys.change(peer, None), Ok(None), "nothing left to remove");
    }

    #[test]
    fn a_mapped_and_a_plain_ipv4_address_are_one_peer() {
        let mut keys = InstalledKeys::new(ListenerFamily::DualStack);
        keys.record(ip("::ffff:10.0.0.1"), Some(&pw("a")));
        assert!(keys.has_key(ip("10.0.0.1")));
        assert_eq!(
            keys.change(ip("10.0.0.1"), None),
            Ok(Some(KeyOp::Delete {
                at: ip("::ffff:10.0.0.1")
            }))
        );
    }

    #[test]
    fn keys_of_one_peer_leave_the_others_alone() {
        let mut keys = InstalledKeys::new(ListenerFamily::Ipv4);
        keys.record(ip("10.0.0.1"), Some(&pw("a")));
        assert_eq!(keys.change(ip("10.0.0.2"), None), Ok(None));
        keys.record(ip("10.0.0.2"), None);
        assert!(keys.has_key(ip("10.0.0.1")));
    }

    #[test]
    fn a_peer_of_the_other_family_is_not_received() {
        let keys = InstalledKeys::new(ListenerFamily::Ipv4);
        let err = keys.change(ip("fd00::1"), Some(&pw("a"))).unwrap_err();
        assert_eq!(err.listener, ListenerFamily::Ipv4);
        assert_eq!(
            err.to_string(),
            "the BGP listener takes only IPv4 connections, so none from fd00::1"
        );
        let keys = InstalledKeys::new(ListenerFamily::Ipv6Only);
        assert!(keys.change(ip("10.0.0.1"), None).is_err());
    }
}
