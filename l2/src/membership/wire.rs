//! The membership datagram: a small fixed binary format, authenticated
//! with HMAC-SHA256 under the cluster's shared key.
//!
//! ```text
//! version u8 (1) | kind u8 | name length u8 | sender name (UTF-8)
//! incarnation u64 | sequence u64 | body (by kind) | HMAC-SHA256 (32 bytes)
//! ```
//!
//! Integers are big-endian. Bodies:
//!
//! | kind | body |
//! |---|---|
//! | 1 heartbeat | empty |
//! | 2 alive | flags u8 (bit 0: answer with an alive) |
//! | 3 suspect | count u8, then per entry: name length u8, name, incarnation u64, age in ms u32 |
//! | 4 ack | acknowledged sequence u64 |
//! | 5 swim | a foca datagram, to the end |
//! | 6 leave | empty: the sender stops at this incarnation |
//! | 7 hardware | count u8, then 6 bytes per MAC: the link-layer addresses the sender answers ARP/NDP from |
//! | 8 vouch | as suspect, per entry: a member the sender heard itself, at that incarnation, that many ms ago |
//! | 9 fenced | hold in ms u32: the sender's fence is closed; leave it out of the candidates for that long (or less) |
//!
//! A receiver that does not know a kind drops the datagram (counted as
//! malformed) and goes on: kind 9 is new, and a speaker of an earlier
//! release ignores it, which leaves the fenced member a candidate there,
//! as before (never a second owner, see `core`).
//!
//! The MAC covers everything before it; it is checked (in constant time)
//! before anything else is parsed. `(incarnation, sequence)` grows with
//! every datagram a node sends, so a receiver drops replays.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const VERSION: u8 = 1;
/// Below a LAN's MTU with room for IP and UDP headers.
pub const MAX_DATAGRAM: usize = 1400;
pub const MAC_LEN: usize = 32;
/// Kubernetes node names are DNS subdomains, at most 253 characters.
pub const MAX_NAME: usize = 253;

/// What a datagram is, as its second byte says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Heartbeat = 1,
    Alive = 2,
    Suspect = 3,
    Ack = 4,
    Swim = 5,
    Leave = 6,
    Hardware = 7,
    Vouch = 8,
    Fenced = 9,
    Answer = 10,
}

impl Kind {
    /// Every kind, in wire order.
    pub const ALL: [Kind; 10] = [
        Kind::Heartbeat,
        Kind::Alive,
        Kind::Suspect,
        Kind::Ack,
        Kind::Swim,
        Kind::Leave,
        Kind::Hardware,
        Kind::Vouch,
        Kind::Fenced,
        Kind::Answer,
    ];

    pub fn from_wire(byte: u8) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| *k as u8 == byte)
    }

    /// Its name in metrics and logs.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Heartbeat => "heartbeat",
            Kind::Alive => "alive",
            Kind::Suspect => "suspect",
            Kind::Ack => "ack",
            Kind::Swim => "swim",
            Kind::Leave => "leave",
            Kind::Hardware => "hardware",
            Kind::Vouch => "vouch",
            Kind::Fenced => "fenced",
            Kind::Answer => "answer",
        }
    }
}

/// The most MACs a hardware datagram carries.
pub const MAX_HARDWARE: usize = 64;

/// The shared key (in Kubernetes, from a Secret).
#[derive(Clone)]
pub struct Key(Vec<u8>);

impl Key {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Key {
        Key(bytes.into())
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length; the error cannot happen.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub sender: String,
    pub incarnation: u64,
    pub sequence: u64,
}

/// One member the sender suspects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspicion {
    pub member: String,
    /// The incarnation suspected: a higher one refutes it.
    pub incarnation: u64,
    /// How long ago, at sending, the member may have failed at the latest.
    pub age_ms: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Heartbeat,
    /// "I am alive at this incarnation"; `reply` asks for one back.
    Alive {
        reply: bool,
    },
    /// Everything the sender suspects; the receiver acknowledges it.
    Suspect {
        entries: Vec<Suspicion>,
    },
    Ack {
        sequence: u64,
    },
    Swim(Vec<u8>),
    /// "I stop now, at this incarnation": a graceful departure, taken at
    /// once instead of waiting for the crash path.
    Leave,
    /// The MACs the sender answers ARP/NDP from (at most
    /// [`MAX_HARDWARE`]): a claim from one of them is another speaker's,
    /// never a foreign host's (`l2::conflict`).
    Hardware {
        macs: Vec<[u8; 6]>,
    },
    /// The answer to a notice about members the sender heard from itself
    /// after the instant the notice says they may have failed: an
    /// indirect probe's answer (SWIM's ping-req), so that a member only
    /// the suspecter cannot reach is not declared dead.
    Vouch {
        entries: Vec<Sighting>,
    },
    /// The acknowledgement of notice `sequence` and the vouch for the
    /// members of it the sender heard after the instant named, in one
    /// datagram: an acknowledgement that arrives without its vouch would
    /// tell the suspecter that the sender, which stays in its quorum,
    /// does not hear them. Lost, both are lost: the sender is asked again
    /// and, silent, suspected. (A notice the sender vouches for nothing of
    /// is acknowledged with [`Body::Ack`].)
    Answer {
        sequence: u64,
        entries: Vec<Sighting>,
    },
    /// "My fence is closed": the receiver leaves the sender out of the
    /// candidates for addresses for `hold_ms` (or its own, shorter hold),
    /// so that another node answers for them. The sender refreshes it
    /// every `R` while its fence stays closed, and opens its fence no
    /// sooner than `hold_ms` plus the jitter and the reaction after the
    /// last one it sent (the hand-back; docs/l2-mode.md).
    Fenced {
        hold_ms: u32,
    },
}

impl Body {
    pub fn kind(&self) -> Kind {
        match self {
            Body::Heartbeat => Kind::Heartbeat,
            Body::Alive { .. } => Kind::Alive,
            Body::Suspect { .. } => Kind::Suspect,
            Body::Ack { .. } => Kind::Ack,
            Body::Swim(_) => Kind::Swim,
            Body::Leave => Kind::Leave,
            Body::Hardware { .. } => Kind::Hardware,
            Body::Vouch { .. } => Kind::Vouch,
            Body::Fenced { .. } => Kind::Fenced,
            Body::Answer { .. } => Kind::Answer,
        }
    }
}

/// A member the sender heard from itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    pub member: String,
    /// The incarnation it spoke at.
    pub incarnation: u64,
    /// How long ago, at sending, the sender last heard it.
    pub age_ms: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub header: Header,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("datagram truncated at byte {0}")]
    Truncated(usize),
    #[error("unsupported version {0}")]
    Version(u8),
    #[error("unknown kind {0}")]
    Kind(u8),
    #[error("invalid member name at byte {0}")]
    Name(usize),
    #[error("{0} bytes after the body")]
    Trailing(usize),
    /// More interface MACs than a sender may list: what it sent would
    /// not be what it meant (its encoder stops at [`MAX_HARDWARE`]).
    #[error("{0} hardware addresses, more than {MAX_HARDWARE}")]
    TooManyMacs(u8),
    /// Too short or too long to be ours, or a MAC that does not match.
    #[error("not authenticated")]
    Unauthenticated,
}

impl Suspicion {
    /// Its size in a suspect body.
    pub fn encoded_len(&self) -> usize {
        1 + self.member.len() + 8 + 4
    }
}

impl Sighting {
    /// Its size in a vouch body.
    pub fn encoded_len(&self) -> usize {
        1 + self.member.len() + 8 + 4
    }
}

impl Datagram {
    /// Its size on the wire, MAC included.
    pub fn encoded_len(&self) -> usize {
        let body = match &self.body {
            Body::Heartbeat | Body::Leave => 0,
            Body::Alive { .. } => 1,
            Body::Suspect { entries } => {
                1 + entries.iter().map(Suspicion::encoded_len).sum::<usize>()
            }
            Body::Ack { .. } => 8,
            Body::Fenced { .. } => 4,
            Body::Swim(bytes) => bytes.len(),
            Body::Hardware { macs } => 1 + 6 * macs.len().min(MAX_HARDWARE),
            Body::Vouch { entries } => 1 + entries.iter().map(Sighting::encoded_len).sum::<usize>(),
            Body::Answer { entries, .. } => {
                8 + 1 + entries.iter().map(Sighting::encoded_len).sum::<usize>()
            }
        };
        3 + self.header.sender.len() + 16 + body + MAC_LEN
    }

    /// The datagram with its MAC. The caller keeps names valid and the
    /// size within [`MAX_DATAGRAM`]; see [`Datagram::encoded_len`].
    pub fn seal(&self, key: &Key) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        let kind = self.body.kind() as u8;
        out.extend([VERSION, kind]);
        put_name(&mut out, &self.header.sender);
        out.extend(self.header.incarnation.to_be_bytes());
        out.extend(self.header.sequence.to_be_bytes());
        match &self.body {
            Body::Heartbeat | Body::Leave => {}
            Body::Alive { reply } => out.push(u8::from(*reply)),
            Body::Suspect { entries } => put_entries(
                &mut out,
                entries
                    .iter()
                    .map(|e| (&*e.member, e.incarnation, e.age_ms)),
            ),
            Body::Vouch { entries } => put_entries(
                &mut out,
                entries
                    .iter()
                    .map(|e| (&*e.member, e.incarnation, e.age_ms)),
            ),
            Body::Answer { sequence, entries } => {
                out.extend(sequence.to_be_bytes());
                put_entries(
                    &mut out,
                    entries
                        .iter()
                        .map(|e| (&*e.member, e.incarnation, e.age_ms)),
                );
            }
            Body::Ack { sequence } => out.extend(sequence.to_be_bytes()),
            Body::Fenced { hold_ms } => out.extend(hold_ms.to_be_bytes()),
            Body::Swim(bytes) => out.extend(bytes),
            Body::Hardware { macs } => {
                let macs = &macs[..macs.len().min(MAX_HARDWARE)];
                out.push(u8::try_from(macs.len()).unwrap_or(u8::MAX));
                out.extend(macs.iter().flatten());
            }
        }
        let mut mac = key.mac();
        mac.update(&out);
        out.extend(mac.finalize().into_bytes());
        out
    }

    /// Checks the MAC, then parses.
    pub fn open(key: &Key, bytes: &[u8]) -> Result<Datagram, WireError> {
        if bytes.len() > MAX_DATAGRAM {
            return Err(WireError::Unauthenticated);
        }
        let split = bytes
            .len()
            .checked_sub(MAC_LEN)
            .ok_or(WireError::Unauthenticated)?;
        let (signed, tag) = bytes.split_at(split);
        let mut mac = key.mac();
        mac.update(signed);
        mac.verify_slice(tag)
            .map_err(|_| WireError::Unauthenticated)?;
        Datagram::parse(signed)
    }

    /// Parses a datagram without its MAC (exposed for fuzzing).
    pub fn parse(bytes: &[u8]) -> Result<Datagram, WireError> {
        let mut r = Reader { bytes, at: 0 };
        let version = r.u8()?;
        if version != VERSION {
            return Err(WireError::Version(version));
        }
        let kind = r.u8()?;
        let sender = r.name()?;
        let incarnation = r.u64()?;
        let sequence = r.u64()?;
        let body = match Kind::from_wire(kind).ok_or(WireError::Kind(kind))? {
            Kind::Heartbeat => Body::Heartbeat,
            Kind::Alive => Body::Alive {
                reply: r.u8()? & 1 == 1,
            },
            Kind::Suspect => Body::Suspect {
                entries: r.entries(|member, incarnation, age_ms| Suspicion {
                    member,
                    incarnation,
                    age_ms,
                })?,
            },
            Kind::Vouch => Body::Vouch {
                entries: r.entries(|member, incarnation, age_ms| Sighting {
                    member,
                    incarnation,
                    age_ms,
                })?,
            },
            Kind::Answer => Body::Answer {
                sequence: r.u64()?,
                entries: r.entries(|member, incarnation, age_ms| Sighting {
                    member,
                    incarnation,
                    age_ms,
                })?,
            },
            Kind::Ack => Body::Ack { sequence: r.u64()? },
            Kind::Fenced => Body::Fenced { hold_ms: r.u32()? },
            Kind::Swim => Body::Swim(r.rest().to_vec()),
            Kind::Leave => Body::Leave,
            Kind::Hardware => {
                let count = r.u8()?;
                if usize::from(count) > MAX_HARDWARE {
                    return Err(WireError::TooManyMacs(count));
                }
                let macs = (0..count)
                    .map(|_| {
                        let mut mac = [0u8; 6];
                        mac.copy_from_slice(r.take(6)?);
                        Ok(mac)
                    })
                    .collect::<Result<_, WireError>>()?;
                Body::Hardware { macs }
            }
        };
        match r.bytes.len() - r.at {
            0 => Ok(Datagram {
                header: Header {
                    sender,
                    incarnation,
                    sequence,
                },
                body,
            }),
            n => Err(WireError::Trailing(n)),
        }
    }
}

/// Whether `name` can travel in a datagram.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME
}

fn put_name(out: &mut Vec<u8>, name: &str) {
    let len = name.len().min(MAX_NAME);
    // Names are checked on entry (`valid_name`); cutting here keeps the
    // encoding well-formed whatever happens.
    let cut = (0..=len)
        .rev()
        .find(|&i| name.is_char_boundary(i))
        .unwrap_or(0);
    out.push(u8::try_from(cut).unwrap_or(0));
    out.extend(&name.as_bytes()[..cut]);
}

/// A count, then per entry: name, incarnation u64, age in ms u32 (the
/// layout of suspect and vouch bodies).
fn put_entries<'a>(out: &mut Vec<u8>, entries: impl ExactSizeIterator<Item = (&'a str, u64, u32)>) {
    out.push(u8::try_from(entries.len()).unwrap_or(u8::MAX));
    for (member, incarnation, age_ms) in entries.take(usize::from(u8::MAX)) {
        put_name(out, member);
        out.extend(incarnation.to_be_bytes());
        out.extend(age_ms.to_be_bytes());
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(WireError::Truncated(self.at))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, WireError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(a))
    }

    fn name(&mut self) -> Result<String, WireError> {
        let at = self.at;
        let len = usize::from(self.u8()?);
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes)
            .ok()
            .filter(|n| valid_name(n))
            .map(str::to_string)
            .ok_or(WireError::Name(at))
    }

    /// The entries [`put_entries`] wrote.
    fn entries<T>(&mut self, entry: impl Fn(String, u64, u32) -> T) -> Result<Vec<T>, WireError> {
        let count = self.u8()?;
        (0..count)
            .map(|_| Ok(entry(self.name()?, self.u64()?, self.u32()?)))
            .collect()
    }

    fn rest(&mut self) -> &'a [u8] {
        let out = &self.bytes[self.at..];
        self.at = self.bytes.len();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key() -> Key {
        Key::new(b"test key".to_vec())
    }

    fn header() -> Header {
        Header {
            sender: "node-a".into(),
            incarnation: 7,
            sequence: 0x0102,
        }
    }

    /// Checks that `body`, which has none on the wire, seals to the
    /// header of kind `kind` and the MAC, and opens back; the signed part.
    fn check_empty_body_layout(body: Body, kind: u8) -> Vec<u8> {
        let d = Datagram {
            header: header(),
            body,
        };
        let bytes = d.seal(&key());
        let mut want = vec![1, kind, 6];
        want.extend(b"node-a");
        want.extend([0, 0, 0, 0, 0, 0, 0, 7]);
        want.extend([0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(&bytes[..want.len()], &want[..]);
        assert_eq!(bytes.len(), want.len() + MAC_LEN);
        assert_eq!(bytes.len(), d.encoded_len());
        assert_eq!(Datagram::open(&key(), &bytes), Ok(d));
        want
    }

    #[test]
    fn kinds_are_numbered_from_one_in_order_with_names_of_their_own() {
        for (i, kind) in Kind::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(kind as u8), i + 1);
            assert_eq!(Kind::from_wire(kind as u8), Some(kind));
        }
        assert_eq!(Kind::from_wire(0), None);
        assert_eq!(Kind::from_wire(11), None);
        let names: std::collections::BTreeSet<_> = Kind::ALL.map(Kind::name).into();
        assert_eq!(names.len(), Kind::ALL.len());
    }

    #[test]
    fn a_heartbeat_has_this_layout() {
        check_empty_body_layout(Body::Heartbeat, 1);
    }

    #[test]
    fn a_suspect_notice_round_trips() {
        let d = Datagram {
            header: header(),
            body: Body::Suspect {
                entries: vec![Suspicion {
                    member: "node-b".into(),
                    incarnation: 3,
                    age_ms: 12,
                }],
            },
        };
        let bytes = d.seal(&key());
        assert_eq!(bytes.len(), d.encoded_len());
        assert_eq!(Datagram::open(&key(), &bytes), Ok(d));
    }

    #[test]
    fn a_hardware_datagram_has_this_layout() {
        let d = Datagram {
            header: header(),
            body: Body::Hardware {
                macs: vec![[2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]],
            },
        };
        let bytes = d.seal(&key());
        let body = &bytes[3 + 6 + 16..bytes.len() - MAC_LEN];
        assert_eq!(body, [2, 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]);
        assert_eq!(bytes[1], 7);
        assert_eq!(bytes.len(), d.encoded_len());
        assert_eq!(Datagram::open(&key(), &bytes), Ok(d));
        // One MAC short.
        let signed = &bytes[..bytes.len() - MAC_LEN - 6];
        assert!(matches!(
            Datagram::parse(signed),
            Err(WireError::Truncated(_))
        ));
    }

    /// Found by 10 million runs of the fuzz target: a list longer than the
    /// encoder writes parsed, so a datagram did not mean what its sender
    /// could have sent.
    #[test]
    fn a_hardware_list_longer_than_a_sender_writes_is_refused() {
        let macs = vec![[2, 0, 0, 0, 0, 1]; MAX_HARDWARE + 1];
        let mut body = vec![u8::try_from(macs.len()).expect("65 fits")];
        body.extend(macs.iter().flatten());
        let d = Datagram {
            header: header(),
            body: Body::Hardware {
                macs: vec![[2, 0, 0, 0, 0, 1]],
            },
        };
        let one = d.seal(&key());
        let mut bytes = one[..3 + 6 + 16].to_vec();
        bytes.extend(&body);
        assert_eq!(Datagram::parse(&bytes), Err(WireError::TooManyMacs(65)));
        let full = Datagram {
            header: header(),
            body: Body::Hardware {
                macs: vec![[2, 0, 0, 0, 0, 1]; MAX_HARDWARE],
            },
        };
        let sealed = full.seal(&key());
        assert_eq!(Datagram::open(&key(), &sealed), Ok(full));
    }

    #[test]
    fn a_leave_has_this_layout() {
        let signed = check_empty_body_layout(Body::Leave, 6);
        // A leave carries no body: a byte after the header is an error,
        // never a leave with something ignored.
        let mut longer = signed;
        longer.push(0);
        assert_eq!(Datagram::parse(&longer), Err(WireError::Trailing(1)));
    }

    #[test]
    fn a_fenced_datagram_has_this_layout() {
        let d = Datagram {
            header: header(),
            body: Body::Fenced { hold_ms: 87 },
        };
        let bytes = d.seal(&key());
        assert_eq!(bytes[1], 9);
        let body = &bytes[3 + 6 + 16..bytes.len() - MAC_LEN];
        assert_eq!(body, [0, 0, 0, 87]);
        assert_eq!(bytes.len(), d.encoded_len());
        assert_eq!(Datagram::open(&key(), &bytes), Ok(d));
        // Cut short or longer, it is an error, never a hold read wrong.
        let signed = &bytes[..bytes.len() - MAC_LEN];
        assert_eq!(
            Datagram::parse(&signed[..signed.len() - 1]),
            Err(WireError::Truncated(25))
        );
        let mut longer = signed.to_vec();
        longer.push(0);
        assert_eq!(Datagram::parse(&longer), Err(WireError::Trailing(1)));
    }

    #[test]
    fn another_key_or_a_flipped_bit_is_refused() {
        let d = Datagram {
            header: header(),
            body: Body::Ack { sequence: 9 },
        };
        let bytes = d.seal(&key());
        assert_eq!(
            Datagram::open(&Key::new(b"other".to_vec()), &bytes),
            Err(WireError::Unauthenticated)
        );
        let mut flipped = bytes.clone();
        flipped[5] ^= 1;
        assert_eq!(
            Datagram::open(&key(), &flipped),
            Err(WireError::Unauthenticated)
        );
        assert_eq!(
            Datagram::open(&key(), &bytes[..10]),
            Err(WireError::Unauthenticated)
        );
        assert_eq!(Datagram::open(&key(), &[]), Err(WireError::Unauthenticated));
    }

    #[test]
    fn malformed_signed_datagrams_are_errors() {
        assert_eq!(Datagram::parse(&[2, 1]), Err(WireError::Version(2)));
        assert_eq!(Datagram::parse(&[1, 1, 0]), Err(WireError::Name(2)));
        assert_eq!(
            Datagram::parse(&[1, 1, 5, b'a']),
            Err(WireError::Truncated(3))
        );
        let mut bytes = vec![1, 11, 1, b'a'];
        bytes.extend([0; 16]);
        assert_eq!(Datagram::parse(&bytes), Err(WireError::Kind(11)));
        bytes[1] = 8;
        assert_eq!(Datagram::parse(&bytes), Err(WireError::Truncated(20)));
        bytes[1] = 0;
        assert_eq!(Datagram::parse(&bytes), Err(WireError::Kind(0)));
        bytes[1] = 1;
        bytes.push(0);
        assert_eq!(Datagram::parse(&bytes), Err(WireError::Trailing(1)));
    }

    fn name() -> impl Strategy<Value = String> {
        "[a-z0-9.-]{1,40}"
    }

    fn body() -> impl Strategy<Value = Body> {
        prop_oneof![
            Just(Body::Heartbeat),
            any::<bool>().prop_map(|reply| Body::Alive { reply }),
            proptest::collection::vec(
                (name(), any::<u64>(), any::<u32>()).prop_map(|(member, incarnation, age_ms)| {
                    Suspicion {
                        member,
                        incarnation,
                        age_ms,
                    }
                }),
                0..20
            )
            .prop_map(|entries| Body::Suspect { entries }),
            any::<u64>().prop_map(|sequence| Body::Ack { sequence }),
            proptest::collection::vec(any::<u8>(), 0..200).prop_map(Body::Swim),
            Just(Body::Leave),
            proptest::collection::vec(any::<[u8; 6]>(), 0..=MAX_HARDWARE)
                .prop_map(|macs| Body::Hardware { macs }),
            proptest::collection::vec(
                (name(), any::<u64>(), any::<u32>()).prop_map(|(member, incarnation, age_ms)| {
                    Sighting {
                        member,
                        incarnation,
                        age_ms,
                    }
                }),
                0..20
            )
            .prop_map(|entries| Body::Vouch { entries }),
            (
                any::<u64>(),
                proptest::collection::vec(
                    (name(), any::<u64>(), any::<u32>()).prop_map(
                        |(member, incarnation, age_ms)| Sighting {
                            member,
                            incarnation,
                            age_ms,
                        }
                    ),
                    0..20
                )
            )
                .prop_map(|(sequence, entries)| Body::Answer { sequence, entries }),
            any::<u32>().prop_map(|hold_ms| Body::Fenced { hold_ms }),
        ]
    }

    proptest! {
        #[test]
        fn every_datagram_round_trips(sender in name(), incarnation: u64, sequence: u64, body in body()) {
            let d = Datagram { header: Header { sender, incarnation, sequence }, body };
            let bytes = d.seal(&key());
            prop_assert_eq!(bytes.len(), d.encoded_len());
            prop_assert_eq!(Datagram::open(&key(), &bytes), Ok(d));
        }

        /// A leave cut short, or with bytes after it, is an error: it
        /// never ends a life by accident.
        #[test]
        fn only_a_whole_leave_is_a_leave(sender in name(), incarnation: u64, sequence: u64, cut in 0usize..300, extra in proptest::collection::vec(any::<u8>(), 1..8)) {
            let d = Datagram { header: Header { sender, incarnation, sequence }, body: Body::Leave };
            let signed = d.seal(&key());
            let whole = &signed[..signed.len() - MAC_LEN];
            prop_assert_eq!(Datagram::parse(whole), Ok(d));
            let cut = cut % whole.len();
            prop_assert!(matches!(Datagram::parse(&whole[..cut]), Err(WireError::Truncated(_) | WireError::Name(_))));
            let mut longer = whole.to_vec();
            longer.extend(&extra);
            prop_assert_eq!(Datagram::parse(&longer), Err(WireError::Trailing(extra.len())));
        }

        #[test]
        fn no_input_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1600)) {
            let _ = Datagram::parse(&bytes);
            let _ = Datagram::open(&key(), &bytes);
        }

        #[test]
        fn no_signed_garbage_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            // Garbage with a valid MAC reaches the parser.
            let mut signed = bytes.clone();
            let mut mac = key().mac();
            mac.update(&bytes);
            signed.extend(mac.finalize().into_bytes());
            let _ = Datagram::open(&key(), &signed);
        }
    }
}
