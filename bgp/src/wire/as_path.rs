//! AS_PATH and AS4_PATH values (RFC 4271 §4.3, RFC 6793, RFC 5065).

use bytes::{BufMut, BytesMut};
use nom::number::complete::{be_u8, be_u16, be_u32};

use super::error::WireError;
use super::types::Asn;

/// Kind of an AS_PATH segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SegmentType {
    /// Unordered set of ASes (1).
    Set = 1,
    /// Ordered sequence of ASes (2).
    Sequence = 2,
    /// Ordered confederation member ASes (3, RFC 5065).
    ConfedSequence = 3,
    /// Unordered confederation member ASes (4, RFC 5065).
    ConfedSet = 4,
}

impl SegmentType {
    fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            1 => SegmentType::Set,
            2 => SegmentType::Sequence,
            3 => SegmentType::ConfedSequence,
            4 => SegmentType::ConfedSet,
            _ => return None,
        })
    }
}

/// One AS_PATH segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Segment {
    /// Set or sequence.
    pub kind: SegmentType,
    /// The ASes. More than 255 are split into consecutive segments of the
    /// same kind on encode.
    pub asns: Vec<Asn>,
}

/// An AS_PATH (or AS4_PATH) value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AsPath {
    /// Segments in wire order.
    pub segments: Vec<Segment>,
}

const MAX_SEGMENT: usize = 255;

impl AsPath {
    /// A path of one AS_SEQUENCE; empty for no ASes (iBGP origination).
    pub fn sequence(asns: impl IntoIterator<Item = Asn>) -> Self {
        let asns: Vec<Asn> = asns.into_iter().collect();
        if asns.is_empty() {
            return AsPath::default();
        }
        AsPath {
            segments: vec![Segment {
                kind: SegmentType::Sequence,
                asns,
            }],
        }
    }

    /// Parses a whole attribute value. `Err` says why it is malformed.
    pub(crate) fn parse(mut input: &[u8], four_octet: bool) -> Result<AsPath, &'static str> {
        let mut segments = Vec::new();
        while !input.is_empty() {
            let (rest, kind) =
                be_u8::<_, WireError>(input).map_err(|_| "segment header truncated")?;
            let (rest, count) =
                be_u8::<_, WireError>(rest).map_err(|_| "segment header truncated")?;
            let kind = SegmentType::from_u8(kind).ok_or("unknown segment type")?;
            if count == 0 {
                return Err("empty segment");
            }
            let width = if four_octet { 4 } else { 2 };
            let need = usize::from(count) * width;
            let body = rest.get(..need).ok_or("segment overruns the attribute")?;
            let asns = body
                .chunks_exact(width)
                .map(|c| {
                    let parsed = if four_octet {
                        be_u32::<_, WireError>(c).map(|(_, v)| v)
                    } else {
                        be_u16::<_, WireError>(c).map(|(_, v)| u32::from(v))
                    };
                    parsed.map(Asn).map_err(|_| "AS number truncated")
                })
                .collect::<Result<Vec<_>, _>>()?;
            segments.push(Segment { kind, asns });
            input = &rest[need..];
        }
        Ok(AsPath { segments })
    }

    /// Appends the value. In 2-octet mode ASes above 65535 become AS_TRANS
    /// (RFC 6793 §4.2.2); the caller sends the real path in AS4_PATH.
    pub(crate) fn encode(&self, buf: &mut BytesMut, four_octet: bool) {
        for seg in &self.segments {
            for chunk in seg.asns.chunks(MAX_SEGMENT) {
                buf.put_u8(seg.kind as u8);
                // chunks() of MAX_SEGMENT: fits in a u8.
                buf.put_u8(chunk.len() as u8);
                for asn in chunk {
                    if four_octet {
                        buf.put_u32(asn.0);
                    } else {
                        buf.put_u16(asn.to_u16_or_trans());
                    }
                }
            }
        }
    }

    /// Whether any AS needs 4 octets (so a 2-octet session needs AS4_PATH).
    pub fn needs_four_octets(&self) -> bool {
        self.segments
            .iter()
            .flat_map(|s| &s.asns)
            .any(|a| a.0 > u32::from(u16::MAX))
    }
}
