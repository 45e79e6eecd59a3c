//! BGP community values as MetalLB spells them: standard `65000:100`
//! (RFC 1997), large `large:1:2:3` (RFC 8092), plus the RFC-registered
//! well-known names (`no-export`, ...), which FerroLB accepts and MetalLB
//! would treat as `Community` aliases. Aliases are resolved first, so a
//! MetalLB alias called `no-export` keeps its MetalLB meaning.

use std::fmt;
use std::str::FromStr;

/// One community value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BgpCommunity {
    /// RFC 1997: high 16 bits AS, low 16 bits value.
    Standard(u32),
    /// RFC 8092.
    Large {
        /// Global administrator (usually an AS number).
        global_admin: u32,
        /// First local data part.
        local_data1: u32,
        /// Second local data part.
        local_data2: u32,
    },
}

/// Why a string is not a community.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
// Each variant's `#[error]` text is its documentation.
#[allow(missing_docs)]
pub enum CommunityError {
    /// Not shaped like a community at all: it may be an alias.
    #[error("not a community (`65000:100`, `large:1:2:3` or a well-known name)")]
    Format,
    /// Shaped like a community, but a number is out of range.
    #[error("{part:?} is not a number in 0..={max}")]
    Value { part: String, max: u32 },
}

const WELL_KNOWN: &[(&str, u32)] = &[
    ("graceful-shutdown", 0xFFFF_0000),
    ("accept-own", 0xFFFF_0001),
    ("llgr-stale", 0xFFFF_0006),
    ("no-llgr", 0xFFFF_0007),
    ("blackhole", 0xFFFF_029A),
    ("no-export", 0xFFFF_FF01),
    ("no-advertise", 0xFFFF_FF02),
    ("no-export-subconfed", 0xFFFF_FF03),
    ("local-as", 0xFFFF_FF03),
    ("no-peer", 0xFFFF_FF04),
];

impl FromStr for BgpCommunity {
    type Err = CommunityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(&(_, v)) = WELL_KNOWN.iter().find(|(name, _)| *name == s) {
            return Ok(Self::Standard(v));
        }
        if let Some(rest) = s.strip_prefix("large:") {
            let parts: Vec<&str> = rest.split(':').collect();
            let [a, b, c] = parts.as_slice() else {
                return Err(CommunityError::Format);
            };
            return Ok(Self::Large {
                global_admin: number(a, u32::MAX)?,
                local_data1: number(b, u32::MAX)?,
                local_data2: number(c, u32::MAX)?,
            });
        }
        let Some((high, low)) = s.split_once(':') else {
            return Err(CommunityError::Format);
        };
        if !is_digits(high) || !is_digits(low) {
            return Err(CommunityError::Format);
        }
        let high = number(high, u32::from(u16::MAX))?;
        let low = number(low, u32::from(u16::MAX))?;
        Ok(Self::Standard((high << 16) | low))
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn number(s: &str, max: u32) -> Result<u32, CommunityError> {
    let out_of_range = || CommunityError::Value {
        part: s.to_string(),
        max,
    };
    if !is_digits(s) {
        return Err(out_of_range());
    }
    s.parse::<u32>()
        .ok()
        .filter(|v| *v <= max)
        .ok_or_else(out_of_range)
}

impl fmt::Display for BgpCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Standard(v) => write!(f, "{}:{}", v >> 16, v & 0xFFFF),
            Self::Large {
                global_admin,
                local_data1,
                local_data2,
            } => write!(f, "large:{global_admin}:{local_data1}:{local_data2}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_metallb_forms_and_well_known_names() {
        let ok = [
            ("65000:100", BgpCommunity::Standard((65000 << 16) | 100)),
            ("0:0", BgpCommunity::Standard(0)),
            ("65535:65535", BgpCommunity::Standard(u32::MAX)),
            ("no-export", BgpCommunity::Standard(0xFFFF_FF01)),
            ("no-advertise", BgpCommunity::Standard(0xFFFF_FF02)),
            ("blackhole", BgpCommunity::Standard(0xFFFF_029A)),
            (
                "large:4200000000:1:2",
                BgpCommunity::Large {
                    global_admin: 4_200_000_000,
                    local_data1: 1,
                    local_data2: 2,
                },
            ),
        ];
        for (text, want) in ok {
            assert_eq!(text.parse::<BgpCommunity>(), Ok(want), "{text}");
        }
    }

    #[test]
    fn tells_bad_values_from_possible_aliases() {
        for alias in ["my-alias", "65000", "a:b", "large:1:2", "large:1:2:3:4"] {
            assert_eq!(
                alias.parse::<BgpCommunity>(),
                Err(CommunityError::Format),
                "{alias}"
            );
        }
        for bad in ["65536:1", "1:70000", "large:1:2:4294967296", "large:x:1:2"] {
            assert!(
                matches!(
                    bad.parse::<BgpCommunity>(),
                    Err(CommunityError::Value { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn displays_in_metallb_syntax() {
        for text in ["65000:100", "large:1:2:3", "0:0"] {
            let c: BgpCommunity = text.parse().expect("valid");
            assert_eq!(c.to_string(), text);
        }
        let no_export: BgpCommunity = "no-export".parse().expect("valid");
        assert_eq!(no_export.to_string(), "65535:65281");
    }
}
