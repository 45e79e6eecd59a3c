//! Liveness between speakers: who is in the cluster, and who is reachable
//! now, fast enough for layer-2 failover and cheap at any cluster size.
//!
//! # What it feeds
//!
//! [`View::reachable`] (known members not suspected, this node included)
//! is the fence's `reachable`; [`View::alive`] (known members not dead)
//! selects the Nodes of the `ClusterView` that decides owners. `known` is
//! given ([`Input::SetKnown`]) from the API server or the configuration,
//! never derived from this detector (see [`crate::fence`]).
//!
//! # Two layers
//!
//! - **SWIM** ([foca](https://docs.rs/foca)): membership gossip, one
//!   random probe per period with indirect probes through other members
//!   before a member is declared down. It is thorough and O(1) per node,
//!   but takes seconds. Its "down" raises a suspicion in the fast layer.
//! - **The heartbeat ring** (fast): members sorted by name form a ring;
//!   every `H` each node sends a heartbeat to its `K` ring successors and
//!   watches its `K` predecessors. A predecessor silent for `S` is
//!   *suspected*. Per node that is `K` datagrams out and `K` in per `H`
//!   (defaults `K = 2`, `H = 5 ms`: 400 datagrams of ~60 bytes per second
//!   each way, about 24 kB/s), whatever the cluster's size.
//!
//! # Suspicion, sweeps and refutation
//!
//! A node that suspects a member itself (ring silence, or SWIM down) sends
//! a *notice*, the list of everything it suspects, to every known member,
//! and asks each member it still reaches to acknowledge it within
//! `ack_timeout` (resent once halfway). Members that stay silent are
//! suspected in turn, and the next notice says so. This *sweep* is what
//! gives transitive reachability fast: after a partition, the ring crosses
//! each side's boundary, so on every side some watcher notices, and its
//! sweep finds everyone beyond the cut. A node whose own link is down
//! suspects its predecessors, then every other member when its sweep goes
//! unanswered: it sees itself alone and its fence closes. A sweep costs
//! `O(n)` datagrams, once per failure, not per period.
//!
//! Suspicions carry the member's *incarnation*. A member told that it is
//! suspected (by the notice, by a suspecter re-telling it every `R`, or in
//! answer to any datagram it sends to a suspecter) raises its incarnation
//! and tells everyone it is alive; a datagram at a newer incarnation
//! clears the suspicion everywhere. Notices from a member the receiver
//! itself suspects are applied only to the receiver: that member speaks
//! from beyond a cut, or from before a heal.
//!
//! # Dead
//!
//! A suspected member is declared *dead* (it leaves `alive`, its addresses
//! move) `dead_after` after the *latest* instant it can have failed: for a
//! watcher, one heartbeat period and the jitter after the last heartbeat
//! it received; for a sweep, the sweep's deadline; for a notice, the
//! sender's instant carried as an age (capped at `S`, so that a suspicion
//! that crossed a heal leaves time to refute it). Since `dead_after` is the fence's
//! `dead_not_before` and [`MembershipTiming::check`] holds it to
//! `suspect_within + react_within`, a cut-off owner has stopped before
//! anyone takes over. Dead members leave the ring (the next watcher closes
//! the gap) but still receive heartbeats from their predecessor, so a
//! healed partition is noticed within one heartbeat.
//!
//! # Slow is not dead
//!
//! - A node that runs later than its own timers asked was descheduled: it
//!   moves every silence and death timer forward by the stall, and after a
//!   stall long enough to have been declared dead it closes its fence and
//!   settles again.
//! - A suspect's host is probed ([`Output::ProbeHost`], a TCP handshake on
//!   the membership port, which the kernel completes for a stopped or
//!   starved speaker): one that answers dies only after
//!   `stalled_dead_after`.
//! - A member that heard the suspect after the suspected failure instant
//!   vouches for it (an indirect probe), which moves the verdict.
//! - A member that tells this node it suspects it does not count for this
//!   node's quorum: a node claims only with a quorum that also sees it.
//! - A member that comes back while this node suspects others counts for
//!   its quorum only once it acknowledged this node's notice (so it
//!   vouches for those it hears), and a suspect heard directly is not
//!   dead: a death verdict drawn behind a cut does not outlive the cut.
//! - The shell runs on a thread of its own with a raised priority
//!   ([`priority`]).
//!
//! # Leaving
//!
//! A node that stops gracefully sends a *leave* ([`Membership::leave`]) to
//! every known member, `leave_copies` times `leave_spacing` apart (a lost
//! copy would send the others down the crash path). A member that takes
//! an authentic leave at the incarnation it knows, or a newer one, drops
//! the sender from `reachable` and `alive` at once: no `dead_after`. That
//! wait exists so that a cut-off owner's fence closes before anyone takes
//! over; a leaving node has stopped announcing before it sends the leave
//! (the caller's duty, see [`Membership::leave`]). Only a datagram at a
//! newer incarnation (the node restarted) brings it back; what its old
//! life sent before leaving, overtaken on the way, is dropped
//! ([`Stats::stale`]), and a replayed leave is a replay.
//!
//! A leave lowers `reachable` but not `known`, so quorum is judged as
//! after a failure: of three nodes, one leaving leaves two of three (a
//! majority); after a second leaves, the last one is fenced, unless the
//! tiebreaker saves it (exactly half of `known`, the lowest name among
//! them). Shrinking a cluster for good means taking nodes out of `known`.
//!
//! # Layer-2 hardware addresses
//!
//! Every speaker also tells the others the MACs it answers ARP/NDP from
//! ([`hardware`], [`Input::SetHardware`], [`View::hardware`]), so that
//! Layer 2 takes a claim from one of them for another speaker's, not a
//! foreign host's.
//!
//! # Authentication
//!
//! Every datagram carries an HMAC-SHA256 under the cluster key and a
//! `(incarnation, sequence)` that grows with every datagram its sender
//! sends: unauthenticated and replayed datagrams are dropped and counted
//! ([`Stats`]). See [`wire`].

mod core;
#[doc(hidden)]
pub mod fuzzing;
pub mod gate;
pub mod hardware;
mod pace;
pub mod priority;
pub mod rejoin;
mod ring;
mod swim;
mod timing;
pub mod udp;
pub mod wire;

pub use core::{Input, KindCounts, Membership, Output, Stats, View};
pub use gate::AnswerGate;
pub use priority::ThreadPriority;
pub use timing::{MembershipTiming, MembershipTimingError, SLOWEST_HEARTBEAT};
pub use udp::{AddressBook, DEFAULT_PORT, LeaveError, MembershipService, StartError, UdpConfig};
pub use wire::Key;
