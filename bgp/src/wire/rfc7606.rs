//! RFC 7606 revised UPDATE error handling: which malformed attribute costs
//! the attribute, the routes, or the session.

use bytes::Bytes;

use super::attribute::{Malformed, type_code as t};
use super::error::ErrorKind;

/// What to do about an error in an UPDATE (RFC 7606 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorAction {
    /// Drop the attribute, keep the routes.
    AttributeDiscard,
    /// Keep the session, but withdraw every route the UPDATE announces.
    TreatAsWithdraw,
    /// Send the NOTIFICATION and close the session. Decoding returns this
    /// as a [`super::DecodeError`], whose `notification()` is what to send.
    SessionReset,
}

/// An error in an UPDATE that did not cost the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeError {
    /// Offset of the attribute from the start of the message.
    pub offset: usize,
    /// The attribute's type code.
    pub type_code: u8,
    /// What was wrong.
    pub kind: ErrorKind,
    /// [`ErrorAction::AttributeDiscard`] or [`ErrorAction::TreatAsWithdraw`].
    pub action: ErrorAction,
}

/// How a received UPDATE is to be applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// Apply as is.
    #[default]
    Clean,
    /// Some attributes were dropped (they are not in the decoded UPDATE);
    /// apply the rest as is.
    AttributeDiscard(Vec<AttributeError>),
    /// Treat every announced prefix as withdrawn. Lists every error found,
    /// including discards.
    TreatAsWithdraw(Vec<AttributeError>),
}

impl UpdateOutcome {
    pub(crate) fn from_errors(errors: Vec<AttributeError>) -> Self {
        if errors.is_empty() {
            UpdateOutcome::Clean
        } else if errors
            .iter()
            .any(|e| e.action == ErrorAction::TreatAsWithdraw)
        {
            UpdateOutcome::TreatAsWithdraw(errors)
        } else {
            UpdateOutcome::AttributeDiscard(errors)
        }
    }

    /// The errors found, if any.
    pub fn errors(&self) -> &[AttributeError] {
        match self {
            UpdateOutcome::Clean => &[],
            UpdateOutcome::AttributeDiscard(e) | UpdateOutcome::TreatAsWithdraw(e) => e,
        }
    }
}

/// The action for a malformed attribute of type `code` (RFC 7606 §7,
/// RFC 6793 §6, RFC 8092 §6). Decided by type alone: a flags conflict makes
/// the attribute malformed like any other fault (RFC 7606 §3 c).
pub(crate) fn action_for(code: u8) -> ErrorAction {
    match code {
        t::ORIGIN
        | t::AS_PATH
        | t::NEXT_HOP
        | t::MED
        | t::LOCAL_PREF
        | t::COMMUNITIES
        | t::EXTENDED_COMMUNITIES
        | t::LARGE_COMMUNITIES => ErrorAction::TreatAsWithdraw,
        t::ATOMIC_AGGREGATE | t::AGGREGATOR | t::AS4_PATH | t::AS4_AGGREGATOR => {
            ErrorAction::AttributeDiscard
        }
        // The NLRI cannot be located reliably (RFC 7606 §7.11): the routes
        // of the whole family are in doubt.
        t::MP_REACH_NLRI | t::MP_UNREACH_NLRI => ErrorAction::SessionReset,
        // Unknown optional attributes are never parsed, so never malformed.
        _ => ErrorAction::AttributeDiscard,
    }
}

/// The error kind (and so the NOTIFICATION, should it come to one) for a
/// malformed attribute.
pub(crate) fn kind_for(code: u8, flags: u8, attribute: Bytes, malformed: Malformed) -> ErrorKind {
    match malformed {
        Malformed::Flags => ErrorKind::AttributeFlags {
            type_code: code,
            flags,
            attribute,
        },
        Malformed::Length(what) => ErrorKind::AttributeLength {
            type_code: code,
            what,
            attribute,
        },
        Malformed::Origin => ErrorKind::InvalidOrigin { attribute },
        Malformed::AsPath(what) if code == t::AS_PATH => {
            ErrorKind::MalformedAsPath { what, attribute }
        }
        Malformed::AsPath(what) | Malformed::Value(what) | Malformed::Nlri(what) => {
            ErrorKind::OptionalAttribute {
                type_code: code,
                what,
                attribute,
            }
        }
        Malformed::NextHopLength => ErrorKind::OptionalAttribute {
            type_code: code,
            what: "next hop length does not match the address family",
            attribute,
        },
    }
}
