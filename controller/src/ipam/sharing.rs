//! MetalLB's IP sharing rules. Services may hold the same address only if
//! they all carry the same non-empty `metallb.io/allow-shared-ip` key, they
//! never expose the same (protocol, port), and, under
//! `externalTrafficPolicy: Local`, they select the same backends (otherwise a
//! node would attract traffic for a Service it has no pod of).

use std::net::IpAddr;

use super::request::{Port, ServiceKey, ServiceRequest, TrafficPolicy};

/// The part of a request that decides sharing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SharingProfile {
    pub(crate) key: Option<String>,
    pub(crate) backend: TrafficPolicy,
    pub(crate) ports: Vec<Port>,
}

impl SharingProfile {
    pub(crate) fn of(req: &ServiceRequest) -> Self {
        SharingProfile {
            key: req.sharing_key.clone().filter(|k| !k.is_empty()),
            backend: req.traffic_policy.clone(),
            ports: req.ports.clone(),
        }
    }
}

/// Why a Service may not use an address another Service holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SharingConflict {
    /// The holder has no sharing key.
    #[error(
        "{addr} is used by {holder}, which does not allow sharing (no metallb.io/allow-shared-ip)"
    )]
    HolderDoesNotShare {
        /// The address.
        addr: IpAddr,
        /// A Service holding it.
        holder: ServiceKey,
    },
    /// The requester has no sharing key.
    #[error(
        "{addr} is used by {holder}; sharing it needs metallb.io/allow-shared-ip: {key:?} on this service too"
    )]
    RequesterDoesNotShare {
        /// The address.
        addr: IpAddr,
        /// A Service holding it.
        holder: ServiceKey,
        /// The holder's key.
        key: String,
    },
    /// Both have keys, but different ones.
    #[error("{addr} is shared by {holder} under key {theirs:?}, not {ours:?}")]
    KeyMismatch {
        /// The address.
        addr: IpAddr,
        /// A Service holding it.
        holder: ServiceKey,
        /// The holder's key.
        theirs: String,
        /// The requester's key.
        ours: String,
    },
    /// Traffic policies or (under `Local`) backends differ.
    #[error(
        "{addr} is shared by {holder} with {}, but this service has {} (externalTrafficPolicy Local needs the same backends)",
        describe(theirs),
        describe(ours)
    )]
    BackendMismatch {
        /// The address.
        addr: IpAddr,
        /// A Service holding it.
        holder: ServiceKey,
        /// The holder's policy.
        theirs: TrafficPolicy,
        /// The requester's policy.
        ours: TrafficPolicy,
    },
    /// A port is already exposed on the address.
    #[error("{addr} is shared with {holder} which uses {port}")]
    PortInUse {
        /// The address.
        addr: IpAddr,
        /// The Service exposing the port.
        holder: ServiceKey,
        /// The port.
        port: Port,
    },
}

fn describe(policy: &TrafficPolicy) -> String {
    match policy {
        TrafficPolicy::Cluster => "externalTrafficPolicy Cluster".to_string(),
        TrafficPolicy::Local { backend_key } => {
            format!("externalTrafficPolicy Local selecting {backend_key:?}")
        }
    }
}

/// The Services holding one address. Invariant: their profiles are pairwise
/// compatible, so they all carry the same key and backends.
///
/// Almost every address has one user, and an allocator holds one
/// `AddressUse` per address: a sorted `Vec` costs that one user, where a
/// `BTreeMap` allocated a node of eleven slots (1.3 KB) per address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AddressUse {
    /// Sorted by Service, each Service once.
    users: Vec<(ServiceKey, SharingProfile)>,
}

impl AddressUse {
    /// Records that `key` holds the address with `profile` (again).
    pub(crate) fn insert(&mut self, key: ServiceKey, profile: SharingProfile) {
        match self.users.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(at) => self.users[at].1 = profile,
            Err(at) => {
                // One user is the rule: no room for more until one comes.
                self.users.reserve_exact(1);
                self.users.insert(at, (key, profile));
            }
        }
    }

    /// Forgets that `key` holds the address.
    pub(crate) fn remove(&mut self, key: &ServiceKey) {
        if let Ok(at) = self.users.binary_search_by(|(k, _)| k.cmp(key)) {
            self.users.remove(at);
            self.users.shrink_to_fit();
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// The Services holding the address, in order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &ServiceKey> {
        self.users.iter().map(|(k, _)| k)
    }

    /// Whether `me`, with `profile`, may hold `addr` next to the current users
    /// (ignoring `me` itself: a sole user may change its own key freely).
    pub(crate) fn check(
        &self,
        addr: IpAddr,
        me: &ServiceKey,
        profile: &SharingProfile,
    ) -> Result<(), SharingConflict> {
        let mut others = self.users.iter().filter(|(k, _)| k != me);
        let Some((holder, theirs)) = others.next() else {
            return Ok(());
        };
        let holder = holder.clone();
        let Some(their_key) = &theirs.key else {
            return Err(SharingConflict::HolderDoesNotShare { addr, holder });
        };
        let Some(our_key) = &profile.key else {
            return Err(SharingConflict::RequesterDoesNotShare {
                addr,
                holder,
                key: their_key.clone(),
            });
        };
        if their_key != our_key {
            return Err(SharingConflict::KeyMismatch {
                addr,
                holder,
                theirs: their_key.clone(),
                ours: our_key.clone(),
            });
        }
        if theirs.backend != profile.backend {
            return Err(SharingConflict::BackendMismatch {
                addr,
                holder,
                theirs: theirs.backend.clone(),
                ours: profile.backend.clone(),
            });
        }
        for (other, p) in self.users.iter().filter(|(k, _)| k != me) {
            if let Some(port) = profile.ports.iter().find(|port| p.ports.contains(port)) {
                return Err(SharingConflict::PortInUse {
                    addr,
                    holder: other.clone(),
                    port: *port,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipam::request::Protocol;

    fn profile(key: Option<&str>, backend: Option<&str>, ports: &[u16]) -> SharingProfile {
        SharingProfile {
            key: key.map(str::to_string),
            backend: match backend {
                None => TrafficPolicy::Cluster,
                Some(b) => TrafficPolicy::Local {
                    backend_key: b.to_string(),
                },
            },
            ports: ports.iter().map(|&p| Port::new(Protocol::Tcp, p)).collect(),
        }
    }

    fn held_by(key: Option<&str>, backend: Option<&str>, ports: &[u16]) -> AddressUse {
        let mut held = AddressUse::default();
        held.insert(
            ServiceKey::new("default", "svc-a"),
            profile(key, backend, ports),
        );
        held
    }

    const ADDR: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 5));

    #[test]
    fn users_are_kept_once_each_in_order() {
        let mut u = AddressUse::default();
        let a = ServiceKey::new("default", "svc-a");
        let b = ServiceKey::new("default", "svc-b");
        u.insert(b.clone(), profile(Some("k"), None, &[80]));
        u.insert(a.clone(), profile(Some("k"), None, &[443]));
        u.insert(b.clone(), profile(Some("k"), None, &[8080]));
        assert_eq!(u.keys().collect::<Vec<_>>(), [&a, &b]);
        // b's profile is the last one given: port 80 is free again.
        assert_eq!(check_as(&u, &a, profile(Some("k"), None, &[80])), Ok(()));
        u.remove(&a);
        u.remove(&a);
        assert_eq!(u.keys().collect::<Vec<_>>(), [&b]);
        u.remove(&b);
        assert!(u.is_empty());
    }

    fn check_as(u: &AddressUse, me: &ServiceKey, p: SharingProfile) -> Result<(), SharingConflict> {
        u.check(ADDR, me, &p)
    }

    fn check(u: &AddressUse, p: SharingProfile) -> Result<(), SharingConflict> {
        u.check(ADDR, &ServiceKey::new("default", "svc-b"), &p)
    }

    #[test]
    fn table() {
        use SharingConflict::*;
        type Case = (
            AddressUse,
            SharingProfile,
            Option<fn(&SharingConflict) -> bool>,
        );
        let cases: Vec<Case> = vec![
            (
                held_by(None, None, &[80]),
                profile(Some("k"), None, &[443]),
                Some(|e| matches!(e, HolderDoesNotShare { .. })),
            ),
            (
                held_by(Some("k"), None, &[80]),
                profile(None, None, &[443]),
                Some(|e| matches!(e, RequesterDoesNotShare { .. })),
            ),
            (
                held_by(Some("k"), None, &[80]),
                profile(Some("j"), None, &[443]),
                Some(|e| matches!(e, KeyMismatch { .. })),
            ),
            (
                held_by(Some("k"), None, &[80]),
                profile(Some("k"), None, &[80]),
                Some(|e| matches!(e, PortInUse { .. })),
            ),
            (
                held_by(Some("k"), None, &[80]),
                profile(Some("k"), None, &[443]),
                None,
            ),
            (
                held_by(Some("k"), Some("app=a"), &[80]),
                profile(Some("k"), Some("app=b"), &[443]),
                Some(|e| matches!(e, BackendMismatch { .. })),
            ),
            (
                held_by(Some("k"), Some("app=a"), &[80]),
                profile(Some("k"), None, &[443]),
                Some(|e| matches!(e, BackendMismatch { .. })),
            ),
            (
                held_by(Some("k"), Some("app=a"), &[80]),
                profile(Some("k"), Some("app=a"), &[443]),
                None,
            ),
        ];
        for (i, (u, p, expect)) in cases.into_iter().enumerate() {
            match (check(&u, p), expect) {
                (Ok(()), None) => {}
                (Err(e), Some(pred)) => assert!(pred(&e), "case {i}: {e}"),
                (got, _) => panic!("case {i}: unexpected {got:?}"),
            }
        }
    }

    #[test]
    fn messages_name_the_holder_and_port() {
        let u = held_by(Some("k"), None, &[80]);
        let e = check(&u, profile(Some("k"), None, &[80])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "10.0.0.5 is shared with default/svc-a which uses TCP/80"
        );
    }

    #[test]
    fn the_sole_holder_may_change_its_own_key() {
        let u = held_by(None, None, &[80]);
        let me = ServiceKey::new("default", "svc-a");
        assert!(
            u.check(ADDR, &me, &profile(Some("new"), None, &[80]))
                .is_ok()
        );
    }
}
