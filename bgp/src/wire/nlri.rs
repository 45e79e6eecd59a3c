//! NLRI prefixes (RFC 4271 §4.3, RFC 4760 §5) with optional RFC 7911 path
//! identifiers.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::{BufMut, BytesMut};
use ipnet::{Ipv4Net, Ipv6Net};
use nom::number::complete::{be_u8, be_u32};

use super::error::{ErrorKind, PResult, fail};

/// One prefix, with its path identifier when ADD-PATH is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nlri<P> {
    /// RFC 7911 path identifier; `None` without ADD-PATH (and encoded as 0
    /// if ADD-PATH is on).
    pub path_id: Option<u32>,
    /// The prefix, with host bits cleared.
    pub prefix: P,
}

impl<P> Nlri<P> {
    /// A prefix without a path identifier.
    pub fn new(prefix: P) -> Self {
        Nlri {
            path_id: None,
            prefix,
        }
    }
}

/// An IP prefix type the NLRI encoding is defined for.
pub trait Prefix: Copy {
    /// Bits in an address.
    const MAX_LEN: u8;
    /// Builds a prefix from address bytes (zero-padded, truncated to the
    /// address size) and a length ≤ `MAX_LEN`, clearing host bits.
    fn from_wire(octets: [u8; 16], len: u8) -> Self;
    /// Prefix length in bits.
    fn len_bits(&self) -> u8;
    /// Address bytes, zero-padded to 16.
    fn octets16(&self) -> [u8; 16];
}

impl Prefix for Ipv4Net {
    const MAX_LEN: u8 = 32;

    fn from_wire(octets: [u8; 16], len: u8) -> Self {
        let addr = Ipv4Addr::new(octets[0], octets[1], octets[2], octets[3]);
        Ipv4Net::new(addr, len.min(Self::MAX_LEN))
            .unwrap_or_default()
            .trunc()
    }

    fn len_bits(&self) -> u8 {
        self.prefix_len()
    }

    fn octets16(&self) -> [u8; 16] {
        let mut out = [0; 16];
        out[..4].copy_from_slice(&self.addr().octets());
        out
    }
}

impl Prefix for Ipv6Net {
    const MAX_LEN: u8 = 128;

    fn from_wire(octets: [u8; 16], len: u8) -> Self {
        Ipv6Net::new(Ipv6Addr::from(octets), len.min(Self::MAX_LEN))
            .unwrap_or_default()
            .trunc()
    }

    fn len_bits(&self) -> u8 {
        self.prefix_len()
    }

    fn octets16(&self) -> [u8; 16] {
        self.addr().octets()
    }
}

fn invalid<'a, T>(at: &[u8], what: &'static str) -> PResult<'a, T> {
    fail(at, ErrorKind::InvalidNetworkField { what })
}

/// Parses prefixes until `input` is used up.
pub(crate) fn parse_prefixes<P: Prefix>(
    mut input: &[u8],
    add_path: bool,
) -> PResult<'_, Vec<Nlri<P>>> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let start = input;
        let path_id = if add_path {
            let Ok((rest, id)) = be_u32::<_, super::error::WireError>(input) else {
                return invalid(start, "path identifier truncated");
            };
            input = rest;
            Some(id)
        } else {
            None
        };
        let (rest, len) = be_u8::<_, super::error::WireError>(input)
            .or_else(|_| invalid(start, "prefix length missing"))?;
        if len > P::MAX_LEN {
            return invalid(input, "prefix length exceeds the address size");
        }
        let bytes = usize::from(len).div_ceil(8);
        let Some(addr) = rest.get(..bytes) else {
            return invalid(input, "prefix truncated");
        };
        let mut octets = [0; 16];
        octets[..bytes].copy_from_slice(addr);
        out.push(Nlri {
            path_id,
            prefix: P::from_wire(octets, len),
        });
        input = &rest[bytes..];
    }
    Ok((input, out))
}

/// Appends one prefix; the path identifier is written iff `add_path`.
pub(crate) fn put_prefix<P: Prefix>(buf: &mut BytesMut, nlri: &Nlri<P>, add_path: bool) {
    if add_path {
        buf.put_u32(nlri.path_id.unwrap_or(0));
    }
    let len = nlri.prefix.len_bits();
    let bytes = usize::from(len).div_ceil(8);
    let mut octets = nlri.prefix.octets16();
    // Host bits never go on the wire, even if the caller left them set.
    if !len.is_multiple_of(8) {
        octets[bytes - 1] &= 0xff << (8 - len % 8);
    }
    buf.put_u8(len);
    buf.put_slice(&octets[..bytes]);
}

/// Appends prefixes.
pub(crate) fn put_prefixes<P: Prefix>(buf: &mut BytesMut, nlri: &[Nlri<P>], add_path: bool) {
    for n in nlri {
        put_prefix(buf, n, add_path);
    }
}
