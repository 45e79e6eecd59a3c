//! RFC 6793 transition: what a 4-octet AS speaker adds for a peer that only
//! knows 2-octet ASes.

use super::as_path::{AsPath, SegmentType};
use super::attribute::PathAttribute;

/// Prepares attributes for a 2-octet AS peer (RFC 6793 §4.2.2): when
/// AS_PATH holds an AS above 65535 (it will go out as AS_TRANS), adds
/// AS4_PATH with the real path, confederation segments left out; likewise
/// AS4_AGGREGATOR for such an AGGREGATOR. Attributes already present are
/// left alone. Not for 4-octet sessions, which must not carry AS4_*.
pub fn add_as4_attributes(attributes: &mut Vec<PathAttribute>) {
    let has = |attrs: &[PathAttribute], code| attrs.iter().any(|a| a.type_code() == code);
    let mut extra = Vec::new();
    for attr in attributes.iter() {
        match attr {
            PathAttribute::AsPath(path) if path.needs_four_octets() => {
                let segments = path
                    .segments
                    .iter()
                    .filter(|s| matches!(s.kind, SegmentType::Set | SegmentType::Sequence))
                    .cloned()
                    .collect();
                extra.push(PathAttribute::As4Path(AsPath { segments }));
            }
            PathAttribute::Aggregator(agg) if agg.asn.0 > u32::from(u16::MAX) => {
                extra.push(PathAttribute::As4Aggregator(*agg));
            }
            _ => {}
        }
    }
    for attr in extra {
        if !has(attributes, attr.type_code()) {
            attributes.push(attr);
        }
    }
}
