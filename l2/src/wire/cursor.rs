//! A bounds-checked reader over a borrowed frame: every read either
//! returns the bytes or a [`ParseError`] naming the offset, so no parser
//! indexes a slice directly.

use super::error::{ErrorKind, ParseError};

/// Reads a frame front to back. Offsets in errors are from the start of
/// the whole Ethernet frame, even when the cursor covers only part of it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    /// Offset of `bytes[0]` in the Ethernet frame.
    base: usize,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self::at(bytes, 0)
    }

    /// A cursor over `bytes`, which start `base` bytes into the frame.
    pub(crate) fn at(bytes: &'a [u8], base: usize) -> Self {
        Self {
            bytes,
            base,
            pos: 0,
        }
    }

    /// Offset of the next byte in the whole frame.
    pub(crate) fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub(crate) fn remaining(&self) -> &'a [u8] {
        self.bytes.get(self.pos..).unwrap_or_default()
    }

    pub(crate) fn error(&self, kind: ErrorKind) -> ParseError {
        ParseError::new(self.offset(), kind)
    }

    /// Fails unless `n` more bytes are left, consuming nothing: a short
    /// header then reports the header's offset, not that of some field.
    pub(crate) fn need(&self, n: usize, what: &'static str) -> Result<(), ParseError> {
        let mut ahead = *self;
        ahead.take(n, what).map(|_| ())
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ParseError> {
        let rest = self.remaining();
        let Some(taken) = rest.get(..n) else {
            return Err(self.error(ErrorKind::Truncated {
                what,
                needed: n,
                available: rest.len(),
            }));
        };
        self.pos += n;
        Ok(taken)
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], ParseError> {
        let bytes = self.take(N, what)?;
        let mut out = [0; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, ParseError> {
        let [b] = self.array(what)?;
        Ok(b)
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, ParseError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, ParseError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }
}
