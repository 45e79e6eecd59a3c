//! The network device a session is bound to: a VRF's device, or the
//! interface of a link-local peer.

use std::fmt;

/// Linux's IFNAMSIZ less its terminating NUL.
const MAX: usize = 15;

/// A device name as Linux accepts one: 1 to 15 bytes, none of them `/`,
/// `:`, whitespace or NUL. Fixed-size, so that a [`super::SessionKey`]
/// holding one stays `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Device {
    name: [u8; MAX],
    len: u8,
}

impl Device {
    /// `name`, if Linux could give a device that name.
    pub fn new(name: &str) -> Option<Device> {
        let bytes = name.as_bytes();
        let valid = (1..=MAX).contains(&bytes.len())
            && name != "."
            && name != ".."
            && !name
                .chars()
                .any(|c| c == '/' || c == ':' || c == '\0' || c.is_whitespace());
        if !valid {
            return None;
        }
        let mut buf = [0u8; MAX];
        buf[..bytes.len()].copy_from_slice(bytes);
        Some(Device {
            name: buf,
            len: bytes.len() as u8,
        })
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        // Built from a `&str` cut at its own length: always UTF-8.
        std::str::from_utf8(&self.name[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_linux_accepts_and_no_other() {
        for ok in ["eth0", "vrf-blue", "a", "fifteen-bytes-x", "ünï"] {
            assert_eq!(Device::new(ok).map(|d| d.to_string()), Some(ok.to_string()));
        }
        for bad in [
            "",
            "sixteen-bytes-xx",
            "a/b",
            "a:1",
            "a b",
            ".",
            "..",
            "a\0",
        ] {
            assert_eq!(Device::new(bad), None, "{bad:?}");
        }
    }
}
