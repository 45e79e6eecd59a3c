//! Parse errors: where in the frame the problem sits and what it was, so a
//! log line (or a fuzz finding) points at the exact byte.

use std::net::Ipv6Addr;

use thiserror::Error;

/// A frame that could not be parsed, or that is not ARP / NS / NA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("at byte {offset}: {kind}")]
pub struct ParseError {
    /// Offset from the start of the Ethernet frame.
    pub offset: usize,
    /// What was wrong.
    pub kind: ErrorKind,
}

impl ParseError {
    pub(crate) fn new(offset: usize, kind: ErrorKind) -> Self {
        Self { offset, kind }
    }

    /// Whether the frame is well-formed but simply not one the responder
    /// handles (another EtherType, another ICMPv6 type): such frames are
    /// ignored silently, while the others count as malformed.
    pub fn is_unrelated(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::OtherEtherType { .. }
                | ErrorKind::OtherNextHeader { .. }
                | ErrorKind::OtherIcmpv6Type { .. }
        )
    }
}

/// What was wrong with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ErrorKind {
    /// Fewer bytes than the header or field at `offset` needs.
    #[error("truncated: {what} needs {needed} bytes, {available} left")]
    Truncated {
        /// The header or field being read.
        what: &'static str,
        /// Bytes it needs.
        needed: usize,
        /// Bytes left in the frame.
        available: usize,
    },
    /// Neither ARP nor IPv6 (after at most one 802.1Q tag).
    #[error("EtherType {ether_type:#06x} is neither ARP nor IPv6")]
    OtherEtherType {
        /// The EtherType found.
        ether_type: u16,
    },
    /// ARP for another hardware or protocol type, or with other address
    /// lengths than Ethernet / IPv4 (RFC 826 allows them; we never answer them).
    #[error("ARP is not IPv4 over Ethernet: {what} is {value}")]
    ArpNotEthernetIpv4 {
        /// The field that differs.
        what: &'static str,
        /// Its value.
        value: u16,
    },
    /// ARP opcode other than request (1) or reply (2), e.g. RARP.
    #[error("ARP opcode {op} is neither request nor reply")]
    ArpOpcode {
        /// The opcode found.
        op: u16,
    },
    /// IP version field other than 6 in an IPv6 EtherType frame.
    #[error("IP version {version} in an IPv6 frame")]
    Ipv6Version {
        /// The version found.
        version: u8,
    },
    /// The IPv6 payload length runs past the end of the frame.
    #[error("IPv6 payload length {declared} exceeds the {available} bytes present")]
    Ipv6PayloadLength {
        /// The payload length field.
        declared: usize,
        /// Bytes present after the IPv6 header.
        available: usize,
    },
    /// A multicast IPv6 source address (RFC 4291 §2.7).
    #[error("multicast IPv6 source {address}")]
    MulticastSource {
        /// The source address.
        address: Ipv6Addr,
    },
    /// An IPv6 packet that is not ICMPv6 (NDP never carries extension headers).
    #[error("IPv6 next header {next_header} is not ICMPv6")]
    OtherNextHeader {
        /// The next header found.
        next_header: u8,
    },
    /// An ICMPv6 message other than Neighbor Solicitation or Advertisement.
    #[error("ICMPv6 type {icmp_type} is not NS or NA")]
    OtherIcmpv6Type {
        /// The type found.
        icmp_type: u8,
    },
    /// The ICMPv6 checksum does not match the pseudo-header and message.
    #[error("ICMPv6 checksum {found:#06x}, expected {expected:#06x}")]
    Checksum {
        /// The checksum in the message.
        found: u16,
        /// The checksum the message should carry.
        expected: u16,
    },
    /// NDP hop limit other than 255: the packet may have crossed a router
    /// (RFC 4861 §7.1.1).
    #[error("NDP hop limit {hop_limit}, must be 255")]
    HopLimit {
        /// The hop limit found.
        hop_limit: u8,
    },
    /// NDP ICMPv6 code other than 0 (RFC 4861 §7.1.1).
    #[error("NDP ICMPv6 code {code}, must be 0")]
    IcmpCode {
        /// The code found.
        code: u8,
    },
    /// NS or NA shorter than 24 bytes (RFC 4861 §7.1.1).
    #[error("NDP message of {length} bytes, must be at least 24")]
    NdpLength {
        /// The ICMPv6 length.
        length: usize,
    },
    /// A multicast target address (RFC 4861 §7.1.1).
    #[error("multicast target {target}")]
    MulticastTarget {
        /// The target address.
        target: Ipv6Addr,
    },
    /// An NDP option with length 0 (RFC 4861 §7.1.1): parsing could loop.
    #[error("NDP option of length 0")]
    ZeroLengthOption,
    /// An NDP option that runs past the end of the message.
    #[error("NDP option of {length} bytes runs past the {available} bytes left")]
    OptionOverrun {
        /// The option's declared length in bytes.
        length: usize,
        /// Bytes left in the message.
        available: usize,
    },
    /// A DAD solicitation (source ::) that is not sent to a solicited-node
    /// group (RFC 4861 §7.1.1).
    #[error("solicitation from :: to {destination}, not a solicited-node group")]
    DadNotToSolicitedNode {
        /// The destination address.
        destination: Ipv6Addr,
    },
    /// A DAD solicitation (source ::) carrying a Source Link-Layer Address
    /// option (RFC 4861 §7.1.1).
    #[error("solicitation from :: carries a source link-layer address")]
    DadWithSourceLinkLayer,
    /// An advertisement to a multicast group with the Solicited flag set
    /// (RFC 4861 §7.1.2).
    #[error("multicast advertisement with the Solicited flag")]
    SolicitedToMulticast,
}
