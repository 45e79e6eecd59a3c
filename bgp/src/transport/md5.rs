//! TCP MD5 signatures (RFC 2385) through the Linux `TCP_MD5SIG` socket
//! option. The kernel signs and checks every segment; a connection from a
//! peer without the right key never completes its handshake.

use std::fmt;
use std::net::IpAddr;
use std::os::fd::AsRawFd;

/// The kernel's limit on key length (`TCP_MD5SIG_MAXKEYLEN`).
pub const MAX_KEY_LEN: usize = 80;

/// A session password. It never appears in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(Vec<u8>);

/// Why a password cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// An empty key would switch signing off, not on.
    #[error("a TCP MD5 password cannot be empty")]
    Empty,
    /// Longer than the kernel accepts.
    #[error("a TCP MD5 password is at most {MAX_KEY_LEN} bytes, this one has {0}")]
    TooLong(usize),
}

impl Password {
    /// A password of 1 to [`MAX_KEY_LEN`] bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Password, PasswordError> {
        let bytes = bytes.into();
        match bytes.len() {
            0 => Err(PasswordError::Empty),
            n if n > MAX_KEY_LEN => Err(PasswordError::TooLong(n)),
            _ => Ok(Password(bytes)),
        }
    }

    /// The key itself.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// `struct tcp_md5sig` from `<linux/tcp.h>` (libc does not define it).
#[repr(C)]
struct TcpMd5Sig {
    addr: libc::sockaddr_storage,
    flags: u8,
    prefix_len: u8,
    key_len: u16,
    ifindex: libc::c_int,
    key: [u8; MAX_KEY_LEN],
}

/// Installs (or, with `None`, removes) the key for segments to and from
/// the peer at `at` on `socket`. On a listening socket it applies to
/// connections that the peer opens. `at` must be of the socket's family: on
/// an `AF_INET6` socket an IPv4 peer is its IPv4-mapped address (see
/// [`super::keys`]); the kernel refuses anything else with `EINVAL`.
pub(super) fn set_key(
    socket: &impl AsRawFd,
    at: IpAddr,
    password: Option<&Password>,
) -> std::io::Result<()> {
    let storage = sockaddr_storage(at);
    let mut sig = TcpMd5Sig {
        addr: storage,
        flags: 0,
        prefix_len: 0,
        key_len: 0,
        ifindex: 0,
        key: [0; MAX_KEY_LEN],
    };
    if let Some(password) = password {
        let key = password.as_bytes();
        // Password::new bounds the length by MAX_KEY_LEN.
        sig.key[..key.len()].copy_from_slice(key);
        sig.key_len = key.len() as u16;
    }
    // SAFETY: `sig` is a fully initialised `struct tcp_md5sig` that outlives
    // the call, and the length passed is its exact size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_MD5SIG,
            (&raw const sig).cast(),
            std::mem::size_of::<TcpMd5Sig>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The address as a `sockaddr_storage` of its own family, port 0 (the
/// kernel keys by address). An IPv4-mapped address stays IPv6: that is how
/// an `AF_INET6` socket names an IPv4 peer.
fn sockaddr_storage(peer: IpAddr) -> libc::sockaddr_storage {
    // SAFETY: sockaddr_storage is plain old data; all zeroes is valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let target = (&raw mut storage).cast::<u8>();
    match peer {
        IpAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in.
            unsafe { target.cast::<libc::sockaddr_in>().write_unaligned(sin) };
        }
        IpAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: 0,
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in6.
            unsafe { target.cast::<libc::sockaddr_in6>().write_unaligned(sin6) };
        }
    }
    storage
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_bounded_and_never_printed() {
        assert_eq!(Password::new(""), Err(PasswordError::Empty));
        assert_eq!(
            Password::new(vec![b'x'; 81]),
            Err(PasswordError::TooLong(81))
        );
        let p = Password::new("s3cret").unwrap();
        assert!(!format!("{p:?}").contains("s3cret"));
        assert_eq!(
            std::mem::size_of::<TcpMd5Sig>(),
            216,
            "layout of struct tcp_md5sig"
        );
    }
}
