//! Connection collision resolution (RFC 4271 §6.8, RFC 6286 §2.3).

use super::config::BgpId;
use super::event::Origin;

/// Which of two connections to the same peer survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Survivor {
    /// The connection that was already in OpenConfirm.
    Existing,
    /// The connection whose OPEN just arrived.
    New,
}

/// One side of the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Speaker {
    /// Its BGP Identifier.
    pub id: BgpId,
    /// Its AS, the tie-breaker when identifiers are equal (RFC 6286 §2.3).
    pub asn: u32,
}

/// The connection opened by the speaker with the higher BGP Identifier
/// survives; on equal identifiers the higher AS wins. Two connections of the
/// same origin cannot be told apart this way: the existing one is kept.
pub fn resolve(local: Speaker, remote: Speaker, existing: Origin, new: Origin) -> Survivor {
    if existing == new {
        return Survivor::Existing;
    }
    let local_wins = (local.id, local.asn) > (remote.id, remote.asn);
    let winner_origin = if local_wins {
        Origin::Outbound
    } else {
        Origin::Inbound
    };
    if existing == winner_origin {
        Survivor::Existing
    } else {
        Survivor::New
    }
}
