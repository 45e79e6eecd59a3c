//! Validation of the peer's OPEN (RFC 4271 §6.2, RFC 6793, RFC 6286, RFC 5492).

use super::action::NegotiatedSession;
use super::config::{BgpId, PeerAs, SessionConfig};
use super::hold_time::HoldTime;
use super::negotiate::negotiate;
use super::notification::{Notification, code, open_subcode};
use super::peer_open::{AS_TRANS, PeerOpen};

/// The only BGP version we speak.
pub const BGP_VERSION: u8 = 4;

/// Capability code of Multiprotocol Extensions (RFC 4760), for the data of
/// an Unsupported Capability NOTIFICATION.
const CAPABILITY_MULTIPROTOCOL: u8 = 1;

/// Why the peer's OPEN was refused. Each maps to one NOTIFICATION.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The peer speaks another version.
    #[error("unsupported BGP version {0}, we speak 4")]
    UnsupportedVersion(u8),
    /// The peer's AS is not the one configured, or is reserved.
    #[error("bad peer AS {got}, expected {expected}")]
    BadPeerAs {
        /// The AS after resolving AS_TRANS.
        got: u32,
        /// What the configuration allows.
        expected: PeerAs,
    },
    /// My Autonomous System and the 4-octet AS capability disagree.
    #[error("peer sent AS {my_as} in the OPEN but {four_octet} in its 4-octet AS capability")]
    InconsistentPeerAs {
        /// The 2-octet field.
        my_as: u16,
        /// The capability.
        four_octet: u32,
    },
    /// Zero, or our own identifier on an internal session.
    #[error("bad BGP identifier {0}")]
    BadBgpId(BgpId),
    /// 1 or 2 seconds.
    #[error("unacceptable hold time {0}s")]
    UnacceptableHoldTime(u16),
    /// The peer supports none of our families.
    #[error("no address family in common with the peer")]
    NoCommonFamily(Vec<u8>),
}

impl OpenError {
    /// The NOTIFICATION that tells the peer (OPEN Message Error).
    pub fn notification(&self) -> Notification {
        let (subcode, data) = match self {
            // RFC 4271 §6.2: data is the largest version we support, 2 octets.
            OpenError::UnsupportedVersion(_) => {
                (open_subcode::UNSUPPORTED_VERSION, vec![0, BGP_VERSION])
            }
            OpenError::BadPeerAs { .. } | OpenError::InconsistentPeerAs { .. } => {
                (open_subcode::BAD_PEER_AS, Vec::new())
            }
            OpenError::BadBgpId(_) => (open_subcode::BAD_BGP_IDENTIFIER, Vec::new()),
            OpenError::UnacceptableHoldTime(_) => {
                (open_subcode::UNACCEPTABLE_HOLD_TIME, Vec::new())
            }
            // RFC 5492 §5: data lists the capabilities we miss, as TLVs.
            OpenError::NoCommonFamily(tlvs) => (open_subcode::UNSUPPORTED_CAPABILITY, tlvs.clone()),
        };
        Notification {
            code: code::OPEN_MESSAGE,
            subcode,
            data,
        }
    }
}

/// Checks the peer's OPEN in the RFC 4271 §6.2 order and negotiates the session.
pub fn check_open(config: &SessionConfig, open: &PeerOpen) -> Result<NegotiatedSession, OpenError> {
    if open.version != BGP_VERSION {
        return Err(OpenError::UnsupportedVersion(open.version));
    }
    let peer_as = resolve_peer_as(config, open)?;
    let internal = peer_as == config.local_as;
    // RFC 6286 §2.2: any non-zero value, but never ours on an internal session.
    if open.bgp_id.0 == 0 || (internal && open.bgp_id == config.local_id) {
        return Err(OpenError::BadBgpId(open.bgp_id));
    }
    let peer_hold =
        HoldTime::new(open.hold_time).map_err(|e| OpenError::UnacceptableHoldTime(e.0))?;
    negotiate(config, open, peer_as, peer_hold).ok_or_else(|| no_common_family(config))
}

/// RFC 6793: a 4-octet speaker's real AS is in its capability, and the
/// 2-octet field holds AS_TRANS unless the AS fits.
fn resolve_peer_as(config: &SessionConfig, open: &PeerOpen) -> Result<u32, OpenError> {
    let peer_as = match open.capabilities.four_octet_as {
        Some(four_octet) => {
            if open.my_as != AS_TRANS && u32::from(open.my_as) != four_octet {
                return Err(OpenError::InconsistentPeerAs {
                    my_as: open.my_as,
                    four_octet,
                });
            }
            four_octet
        }
        None => u32::from(open.my_as),
    };
    // AS 0 (RFC 7607) and AS_TRANS (RFC 6793) never name a real peer.
    let reserved = peer_as == 0 || peer_as == u32::from(AS_TRANS);
    if reserved || !config.peer_as.accepts(config.local_as, peer_as) {
        return Err(OpenError::BadPeerAs {
            got: peer_as,
            expected: config.peer_as,
        });
    }
    Ok(peer_as)
}

fn no_common_family(config: &SessionConfig) -> OpenError {
    let tlvs = config
        .families
        .iter()
        .flat_map(|f| {
            let [afi_hi, afi_lo] = f.afi.to_be_bytes();
            [CAPABILITY_MULTIPROTOCOL, 4, afi_hi, afi_lo, 0, f.safi]
        })
        .collect();
    OpenError::NoCommonFamily(tlvs)
}
