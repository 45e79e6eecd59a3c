//! ROUTE-REFRESH (RFC 2918) with RFC 7313 subtypes.

use bytes::{BufMut, BytesMut};
use nom::number::complete::{be_u8, be_u16};

use super::error::PResult;
use super::types::{Afi, Safi};

/// The RFC 7313 message subtype (the octet RFC 2918 called reserved).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefreshSubtype {
    /// A plain route refresh request (0).
    Request,
    /// Beginning of a route refresh (BoRR, 1).
    Begin,
    /// End of a route refresh (EoRR, 2).
    End,
    /// Any other value; RFC 7313 says to ignore such messages, so the
    /// session needs to see them rather than fail.
    Other(u8),
}

impl RefreshSubtype {
    fn from_u8(value: u8) -> Self {
        match value {
            0 => RefreshSubtype::Request,
            1 => RefreshSubtype::Begin,
            2 => RefreshSubtype::End,
            v => RefreshSubtype::Other(v),
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            RefreshSubtype::Request => 0,
            RefreshSubtype::Begin => 1,
            RefreshSubtype::End => 2,
            RefreshSubtype::Other(v) => v,
        }
    }
}

/// A ROUTE-REFRESH message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouteRefresh {
    /// Address family to refresh.
    pub afi: Afi,
    /// Subsequent address family to refresh.
    pub safi: Safi,
    /// Request, begin or end marker.
    pub subtype: RefreshSubtype,
}

impl RouteRefresh {
    /// Parses AFI, subtype and SAFI; returns what follows (ORF entries for
    /// a request, nothing for BoRR/EoRR).
    pub(crate) fn parse(input: &[u8]) -> PResult<'_, RouteRefresh> {
        let (rest, afi) = be_u16(input)?;
        let (rest, subtype) = be_u8(rest)?;
        let (rest, safi) = be_u8(rest)?;
        Ok((
            rest,
            RouteRefresh {
                afi: Afi(afi),
                safi: Safi(safi),
                subtype: RefreshSubtype::from_u8(subtype),
            },
        ))
    }

    pub(crate) fn encode_body(&self, buf: &mut BytesMut) {
        buf.put_u16(self.afi.0);
        buf.put_u8(self.subtype.to_u8());
        buf.put_u8(self.safi.0);
    }
}
