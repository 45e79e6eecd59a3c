//! The optional authentication section (RFC 5880 §4.2–4.4): parsed only
//! far enough to check its form and name its type.

use super::error::DecodeError;

/// An authentication type (RFC 5880 §4.1, the IANA registry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    /// 1: Simple Password.
    SimplePassword,
    /// 2: Keyed MD5.
    KeyedMd5,
    /// 3: Meticulous Keyed MD5.
    MeticulousKeyedMd5,
    /// 4: Keyed SHA1.
    KeyedSha1,
    /// 5: Meticulous Keyed SHA1.
    MeticulousKeyedSha1,
    /// A value the registry reserves or has not assigned.
    Other(u8),
}

impl AuthType {
    fn from_u8(v: u8) -> AuthType {
        match v {
            1 => AuthType::SimplePassword,
            2 => AuthType::KeyedMd5,
            3 => AuthType::MeticulousKeyedMd5,
            4 => AuthType::KeyedSha1,
            5 => AuthType::MeticulousKeyedSha1,
            other => AuthType::Other(other),
        }
    }

    /// The Auth Len each type must carry: a range for Simple Password
    /// (1 to 16 password bytes after type, length and key id).
    fn length_ok(self, len: u8) -> bool {
        match self {
            AuthType::SimplePassword => (4..=19).contains(&len),
            AuthType::KeyedMd5 | AuthType::MeticulousKeyedMd5 => len == 24,
            AuthType::KeyedSha1 | AuthType::MeticulousKeyedSha1 => len == 28,
            AuthType::Other(_) => len >= 2,
        }
    }
}

/// Checks the section that follows the mandatory part (`section` runs to
/// the end of the packet's Length) and returns its type.
pub(super) fn parse(section: &[u8], offset: usize) -> Result<AuthType, DecodeError> {
    let [kind, len, ..] = *section else {
        return Err(DecodeError::AuthTruncated {
            offset,
            available: section.len(),
        });
    };
    let auth = AuthType::from_u8(kind);
    if !auth.length_ok(len) || usize::from(len) != section.len() {
        return Err(DecodeError::AuthLength {
            auth,
            auth_len: len,
            section: section.len(),
        });
    }
    Ok(auth)
}
