//! When to send gratuitous ARPs and unsolicited NAs: a burst when an
//! address is taken over, then an optional periodic refresh. Pure: the
//! caller passes the time and sends what [`GratuitousSchedule::poll`]
//! returns.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use ferrolb_bgp::fsm::Millis;

use super::wire::{Frame, MacAddr, arp_announcement, unsolicited_advert};

/// How often to announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GratuitousConfig {
    /// Announcements sent on takeover, the first at once (at least 1).
    pub burst: u32,
    /// Time between the announcements of a burst.
    pub burst_interval: Duration,
    /// After the burst, one announcement every this long (`None`: never).
    pub refresh: Option<Duration>,
}

impl Default for GratuitousConfig {
    /// Three announcements 100 ms apart: the first moves every cache at
    /// once; the repeats cover a lost frame and a client whose ARP request
    /// to the old owner was answered just after our first announcement.
    /// No refresh, as MetalLB.
    fn default() -> Self {
        Self {
            burst: 3,
            burst_interval: Duration::from_millis(100),
            refresh: None,
        }
    }
}

/// A frame due, and the address it announces (the label of
/// `metallb_layer2_gratuitous_sent`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// The address announced.
    pub ip: IpAddr,
    /// A gratuitous ARP request (IPv4) or an unsolicited NA with Override (IPv6).
    pub frame: Frame,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Due {
    /// `None` once the burst is over and no refresh is configured.
    at: Option<Millis>,
    burst_left: u32,
}

/// Waits are at least a millisecond, so that a zero in the configuration
/// cannot make the caller spin.
const MIN_WAIT: Duration = Duration::from_millis(1);

/// The announcements of one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GratuitousSchedule {
    mac: MacAddr,
    config: GratuitousConfig,
    due: BTreeMap<IpAddr, Due>,
}

impl GratuitousSchedule {
    /// A schedule for the interface with MAC `mac`.
    pub fn new(mac: MacAddr, config: GratuitousConfig) -> Self {
        Self {
            mac,
            config,
            due: BTreeMap::new(),
        }
    }

    /// Starts (or restarts) a takeover burst for `ip`, the first
    /// announcement due at `now`.
    pub fn claim(&mut self, ip: IpAddr, now: Millis) {
        let burst_left = self.config.burst.max(1);
        let at = Some(now);
        self.due.insert(ip, Due { at, burst_left });
    }

    /// One announcement for `ip` at `now`, to defend it against another
    /// host's claim (RFC 5227 §2.4); the rest of a burst, or the refresh,
    /// carries on after it.
    pub fn defend(&mut self, ip: IpAddr, now: Millis) {
        let due = self.due.entry(ip).or_insert(Due {
            at: None,
            burst_left: 0,
        });
        due.at = Some(now);
        due.burst_left = due.burst_left.max(1);
    }

    /// Stops announcing `ip`.
    pub fn release(&mut self, ip: IpAddr) {
        self.due.remove(&ip);
    }

    /// Whether `ip` is claimed (announced now or later, or done with its
    /// burst and not refreshed).
    pub fn is_claimed(&self, ip: IpAddr) -> bool {
        self.due.contains_key(&ip)
    }

    /// When [`poll`](Self::poll) next has something to send.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.due.values().filter_map(|due| due.at).min()
    }

    /// Every announcement due at `now`, in address order; each address
    /// sends at most one per call, however late the call.
    pub fn poll(&mut self, now: Millis) -> Vec<Announcement> {
        let mut out = Vec::new();
        for (ip, due) in &mut self.due {
            if due.at.is_none_or(|at| at > now) {
                continue;
            }
            out.push(Announcement {
                ip: *ip,
                frame: announcement(self.mac, *ip),
            });
            due.burst_left = due.burst_left.saturating_sub(1);
            let wait = if due.burst_left > 0 {
                Some(self.config.burst_interval)
            } else {
                self.config.refresh
            };
            due.at = wait.map(|wait| now.after(wait.max(MIN_WAIT)));
        }
        out
    }
}

/// The announcement frame for `ip`.
pub fn announcement(mac: MacAddr, ip: IpAddr) -> Frame {
    match ip {
        IpAddr::V4(ip) => arp_announcement(mac, ip),
        IpAddr::V6(ip) => unsolicited_advert(mac, ip),
    }
}
