//! The ICMPv6 checksum: the Internet checksum (RFC 1071) over the IPv6
//! pseudo-header and the message (RFC 4443 §2.3, RFC 8200 §8.1).

use std::net::Ipv6Addr;

use super::ipv6::NEXT_HEADER_ICMPV6;

/// Where the checksum field sits in an ICMPv6 message.
const FIELD: std::ops::Range<usize> = 2..4;

/// One's-complement sum, folded to 16 bits. Callers keep every slice but
/// the last of even length, which holds for the pseudo-header and the
/// pieces around the (even-aligned) checksum field.
fn sum(mut acc: u32, bytes: &[u8]) -> u32 {
    let mut pairs = bytes.chunks_exact(2);
    for pair in &mut pairs {
        if let &[hi, lo] = pair {
            acc += u32::from(u16::from_be_bytes([hi, lo]));
        }
    }
    if let [last] = pairs.remainder() {
        acc += u32::from(*last) << 8;
    }
    fold(acc)
}

fn fold(mut acc: u32) -> u32 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc
}

fn pseudo_header(source: Ipv6Addr, destination: Ipv6Addr, length: usize) -> u32 {
    let length = u32::try_from(length).unwrap_or(u32::MAX);
    let acc = sum(0, &source.octets());
    let acc = sum(acc, &destination.octets());
    let acc = sum(acc, &length.to_be_bytes());
    sum(acc, &[0, 0, 0, NEXT_HEADER_ICMPV6])
}

/// The value the checksum field of `message` must hold. The field's
/// current bytes are left out, so this computes and verifies alike.
pub fn icmpv6_checksum(source: Ipv6Addr, destination: Ipv6Addr, message: &[u8]) -> u16 {
    let acc = pseudo_header(source, destination, message.len());
    let acc = sum(acc, message.get(..FIELD.start).unwrap_or(message));
    let acc = sum(acc, message.get(FIELD.end..).unwrap_or_default());
    !(acc as u16)
}

/// Whether `message`'s checksum field is right. Summing the field too
/// accepts both one's-complement zeros (0x0000 and 0xffff).
pub fn icmpv6_checksum_ok(source: Ipv6Addr, destination: Ipv6Addr, message: &[u8]) -> bool {
    let acc = pseudo_header(source, destination, message.len());
    sum(acc, message) == 0xffff
}
