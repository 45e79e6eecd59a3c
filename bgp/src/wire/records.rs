//! Attribute and capability values made of fixed-size records.

/// Splits a value into fixed-size records. `None` unless the value is a
/// non-zero multiple of `N` (RFC 7606 §7.8, §7.14; RFC 8092 §6; RFC 7911 §4).
pub(crate) fn records<const N: usize>(value: &[u8]) -> Option<impl Iterator<Item = [u8; N]> + '_> {
    if value.is_empty() || !value.len().is_multiple_of(N) {
        return None;
    }
    Some(value.chunks_exact(N).map(|c| {
        let mut out = [0; N];
        out.copy_from_slice(c);
        out
    }))
}
