//! SWIM over foca: who runs a speaker, gossip, and probes that go
//! indirect through other members before anyone is declared down. foca is
//! sans-I/O too: its timers become deadlines here, its datagrams and
//! notifications are drained after every call.
//!
//! SWIM is the slow, thorough detector (one probe per period, O(1) per
//! node); its "down" only *raises* a suspicion in the fast layer, which
//! then runs its usual course (notice, refutation, dead timer).

use std::num::{NonZeroU8, NonZeroUsize};
use std::time::{Duration, Instant};

use foca::{
    AccumulatingRuntime, Config, Foca, Identity, NoCustomBroadcast, OwnedNotification,
    PostcardCodec, Timer,
};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde::{Deserialize, Serialize};

use super::timing::MembershipTiming;

/// A member to SWIM: its name, and a generation that grows when it must
/// rejoin after being declared down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwimId {
    pub name: String,
    pub generation: u64,
}

impl Identity for SwimId {
    type Addr = String;

    fn renew(&self) -> Option<Self> {
        Some(SwimId {
            name: self.name.clone(),
            generation: self.generation.wrapping_add(1),
        })
    }

    fn addr(&self) -> String {
        self.name.clone()
    }

    fn win_addr_conflict(&self, adversary: &Self) -> bool {
        self.generation > adversary.generation
    }
}

/// What one call into SWIM produced.
#[derive(Debug, Default)]
pub struct SwimEffects {
    pub send: Vec<(String, Vec<u8>)>,
    pub down: Vec<String>,
    pub errors: u64,
}

pub struct Swim {
    foca: Foca<SwimId, PostcardCodec, SmallRng, NoCustomBroadcast>,
    runtime: AccumulatingRuntime<SwimId>,
    timers: Vec<(Instant, Timer<SwimId>)>,
}

/// The room a foca datagram leaves for our envelope (name, counters, MAC).
const SWIM_PACKET: usize = 1024;

impl Swim {
    pub fn new(name: &str, generation: u64, timing: &MembershipTiming) -> Swim {
        let seed = name
            .bytes()
            .fold(generation, |h, b| h.rotate_left(5) ^ u64::from(b));
        let one = NonZeroUsize::MIN;
        let config = Config {
            probe_period: timing.swim_probe_period,
            probe_rtt: timing.swim_probe_rtt,
            num_indirect_probes: NonZeroUsize::new(3).unwrap_or(one),
            max_transmissions: NonZeroU8::new(6).unwrap_or(NonZeroU8::MIN),
            suspect_to_down_after: timing.swim_suspect_to_down,
            remove_down_after: Some(Duration::from_secs(3600)),
            max_packet_size: NonZeroUsize::new(SWIM_PACKET).unwrap_or(one),
            notify_down_members: true,
            periodic_announce: Some(foca::PeriodicParams {
                frequency: Duration::from_secs(30),
                num_members: one,
            }),
            periodic_announce_to_down_members: Some(foca::PeriodicParams {
                frequency: Duration::from_secs(5),
                num_members: one,
            }),
            periodic_gossip: Some(foca::PeriodicParams {
                frequency: Duration::from_millis(200),
                num_members: NonZeroUsize::new(3).unwrap_or(one),
            }),
        };
        let id = SwimId {
            name: name.to_string(),
            generation,
        };
        Swim {
            foca: Foca::new(id, config, SmallRng::seed_from_u64(seed), PostcardCodec),
            runtime: AccumulatingRuntime::new(),
            timers: Vec::new(),
        }
    }

    /// Asks `name` to let us into its cluster.
    pub fn announce(&mut self, now: Instant, name: &str) -> SwimEffects {
        let dst = SwimId {
            name: name.to_string(),
            generation: 0,
        };
        let result = self.foca.announce(dst, &mut self.runtime);
        self.drain(now, result.is_err())
    }

    pub fn handle_data(&mut self, now: Instant, data: &[u8]) -> SwimEffects {
        let result = self.foca.handle_data(data, &mut self.runtime);
        self.drain(now, result.is_err())
    }

    /// Runs the timers due at `now`, earliest first.
    pub fn poll(&mut self, now: Instant) -> SwimEffects {
        let mut effects = SwimEffects::default();
        loop {
            let due = self
                .timers
                .iter()
                .enumerate()
                .filter(|(_, (at, _))| *at <= now)
                .min_by(|(_, a), (_, b)| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)))
                .map(|(i, _)| i);
            let Some(i) = due else { break };
            let (_, timer) = self.timers.swap_remove(i);
            let result = self.foca.handle_timer(timer, &mut self.runtime);
            let more = self.drain(now, result.is_err());
            effects.send.extend(more.send);
            effects.down.extend(more.down);
            effects.errors += more.errors;
        }
        effects
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.iter().map(|(at, _)| *at).min()
    }

    /// Names SWIM sees as active members, for diagnostics.
    pub fn members(&self) -> impl Iterator<Item = &str> {
        self.foca.iter_members().map(|m| m.id().name.as_str())
    }

    fn drain(&mut self, now: Instant, failed: bool) -> SwimEffects {
        let mut effects = SwimEffects {
            errors: u64::from(failed),
            ..SwimEffects::default()
        };
        while let Some((to, data)) = self.runtime.to_send() {
            effects.send.push((to.name, data.to_vec()));
        }
        while let Some((after, timer)) = self.runtime.to_schedule() {
            self.timers.push((now + after, timer));
        }
        while let Some(notification) = self.runtime.to_notify() {
            if let OwnedNotification::MemberDown(id) = notification {
                effects.down.push(id.name);
            }
        }
        effects
    }
}
