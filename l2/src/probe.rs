//! The conflict probe run before an address is claimed for the first
//! time: RFC 5227 ARP probes for IPv4, DAD solicitations (RFC 4862
//! §5.4) for IPv6, with much shorter timings than those RFCs. Pure: the
//! caller passes the time, sends what [`Probe::poll`] returns and feeds
//! every received frame to [`Probe::observe`].
//!
//! # Timings
//! RFC 5227 waits 0–1 s, sends 3 probes 1–2 s apart and waits 2 s more
//! (up to 7 s); DAD waits 1 s per solicitation. Those figures pace hosts
//! that boot together on a slow shared medium and answer from a user-space
//! daemon. Here the answer we wait for comes from a kernel (or a NIC) on a
//! switched LAN, which replies in well under a millisecond, and a Service
//! waits for the probe before it gets its address. So the default is 3
//! probes 30 ms apart and 40 ms more after the last: about 100 ms in all,
//! three chances for a frame to get through, and a 40 ms answer budget that
//! is forty times what a loaded LAN needs. What this gives up: a proxy-ARP
//! router (which delays its answers up to `proxy_delay`, 0.8 s on Linux) or
//! an anycast NA (delayed up to 1 s, RFC 4861 §7.2.7) may answer too late
//! to count. Only the first claim waits for the whole probe. A takeover
//! (failover) listens for `takeover_wait` (5 ms) after one probe before it
//! announces: long enough for a foreign host that holds the address to
//! answer from its kernel, short next to the failure detection it follows;
//! the rest of the probe then runs while the address is answered
//! (`interface`, `conflict`).

use std::net::IpAddr;
use std::time::Duration;

use ferrolb_bgp::fsm::Millis;

use super::wire::{ArpOp, Frame, MacAddr, NdpMessage, Payload, arp_probe, dad_solicit};

/// Probe timings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeConfig {
    /// Probes sent (at least 1).
    pub count: u32,
    /// Time between two probes.
    pub interval: Duration,
    /// Time to wait for answers after the last probe.
    pub wait: Duration,
    /// On a takeover, how long to listen after one probe before the
    /// address is answered and announced: announcing over a foreign host
    /// that holds it would turn its neighbours to us.
    pub takeover_wait: Duration,
}

impl Default for ProbeConfig {
    /// 3 probes 30 ms apart, then 40 ms; 5 ms on a takeover: see the
    /// module documentation.
    fn default() -> Self {
        Self {
            count: 3,
            interval: Duration::from_millis(30),
            wait: Duration::from_millis(40),
            takeover_wait: Duration::from_millis(5),
        }
    }
}

impl ProbeConfig {
    /// The single probe a takeover listens after.
    pub fn takeover(&self) -> ProbeConfig {
        ProbeConfig {
            count: 1,
            interval: Duration::ZERO,
            wait: self.takeover_wait,
            takeover_wait: self.takeover_wait,
        }
    }

    /// How long a probe that meets no conflict takes.
    pub fn total(&self) -> Duration {
        let gaps = self.count.max(1) - 1;
        self.interval.saturating_mul(gaps).saturating_add(self.wait)
    }
}

/// How a probe ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeOutcome {
    /// Nobody answered: the address may be claimed.
    Free,
    /// Another host uses or probes for the address.
    Conflict {
        /// Its MAC.
        mac: MacAddr,
    },
}

/// One address being probed on one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    ip: IpAddr,
    mac: MacAddr,
    config: ProbeConfig,
    sent: u32,
    next: Millis,
    outcome: Option<ProbeOutcome>,
}

impl Probe {
    /// Starts probing `ip` from the interface with MAC `mac`; the first
    /// probe is due at `now`.
    pub fn start(ip: IpAddr, mac: MacAddr, config: ProbeConfig, now: Millis) -> Self {
        Self {
            ip,
            mac,
            config,
            sent: 0,
            next: now,
            outcome: None,
        }
    }

    /// The address probed.
    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    /// The result, once there is one.
    pub fn outcome(&self) -> Option<ProbeOutcome> {
        self.outcome
    }

    /// When [`poll`](Self::poll) next has something to do (`None` once
    /// finished).
    pub fn next_deadline(&self) -> Option<Millis> {
        self.outcome.is_none().then_some(self.next)
    }

    /// The probe to send at `now`, if one is due. Once the wait after the
    /// last probe has passed without conflict, the outcome becomes
    /// [`ProbeOutcome::Free`].
    pub fn poll(&mut self, now: Millis) -> Option<Frame> {
        if self.outcome.is_some() || now < self.next {
            return None;
        }
        if self.sent >= self.config.count.max(1) {
            self.outcome = Some(ProbeOutcome::Free);
            return None;
        }
        self.sent += 1;
        let wait = if self.sent < self.config.count {
            self.config.interval
        } else {
            self.config.wait
        };
        self.next = now.after(wait);
        Some(match self.ip {
            IpAddr::V4(ip) => arp_probe(self.mac, ip),
            IpAddr::V6(ip) => dad_solicit(self.mac, ip),
        })
    }

    /// Looks at a received frame for a sign that another host uses or
    /// wants the address (RFC 5227 §2.1.1, RFC 4862 §5.4.3–5.4.4); returns
    /// the outcome if this frame decided it.
    pub fn observe(&mut self, frame: &Frame) -> Option<ProbeOutcome> {
        if self.outcome.is_some() {
            return None;
        }
        let mac = self.conflict(frame)?;
        let outcome = ProbeOutcome::Conflict { mac };
        self.outcome = Some(outcome);
        Some(outcome)
    }

    /// The MAC of the other host if `frame` conflicts with our probe.
    fn conflict(&self, frame: &Frame) -> Option<MacAddr> {
        if frame.ethernet.source == self.mac {
            return None;
        }
        let other = match (&frame.payload, self.ip) {
            (Payload::Arp(arp), IpAddr::V4(ip)) => {
                // Any ARP from the address, or another probe for it.
                let uses = arp.sender_ip == ip;
                let probes = arp.op == ArpOp::Request
                    && arp.sender_ip.is_unspecified()
                    && arp.target_ip == ip;
                (uses || probes).then_some(arp.sender_mac)
            }
            (Payload::Ndp(_, NdpMessage::Advert(na)), IpAddr::V6(ip)) => {
                (na.target == ip).then(|| na.target_mac.unwrap_or(frame.ethernet.source))
            }
            // A solicitation from a real address is someone resolving the
            // address (no proof of use); one from :: is a rival DAD.
            (Payload::Ndp(header, NdpMessage::Solicit(ns)), IpAddr::V6(ip)) => {
                (ns.target == ip && header.source.is_unspecified()).then_some(frame.ethernet.source)
            }
            _ => None,
        }?;
        (other != self.mac).then_some(other)
    }
}
