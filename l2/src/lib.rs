//! FerroLB's Layer-2 stack, kube-free: what a speaker needs to answer
//! ARP/NDP for the addresses it owns and to know which speakers are alive.
//!
//! The link layer: the ARP/NDP wire format ([`wire`]), the pure
//! responder that answers for owned addresses ([`responder`]), the schedule
//! of gratuitous announcements on takeover ([`gratuitous`]), the pure conflict probe run before an
//! address is first claimed ([`probe`]), what an interface does when
//! another host claims one of its addresses ([`conflict`]), and the
//! AF_PACKET socket that carries their frames ([`socket`]).
//!
//! Liveness between speakers: the [`membership`] failure detector (SWIM,
//! a heartbeat ring, authenticated UDP datagrams) and the quorum
//! [`fence`] that keeps a cut-off node from answering.
//!
//! Only [`socket`] and [`membership::udp`] do I/O; the rest takes time as
//! an input ([`Millis`](ferrolb_bgp::fsm::Millis) or an `Instant`) and is
//! tested with deterministic clocks.

mod bpf;
pub mod conflict;
pub mod fence;
pub mod gratuitous;
pub mod interface;
pub mod membership;
pub mod probe;
pub mod responder;
pub mod socket;
pub mod wire;
