//! Layer-2 mode's link layer: the ARP/NDP wire format ([`wire`]), the pure
//! responder that answers for owned addresses ([`responder`]), the schedule
//! of gratuitous announcements on takeover ([`gratuitous`]), the pure conflict probe run before an
//! address is first claimed ([`probe`]), what an interface does when
//! another host claims one of its addresses ([`conflict`]), and the
//! AF_PACKET socket that carries their frames ([`socket`]).
//!
//! Only [`socket`] does I/O; the rest takes time as an input
//! ([`Millis`](ferrolb_bgp::fsm::Millis)) and is tested with deterministic
//! clocks.

mod bpf;
pub mod conflict;
pub mod gratuitous;
pub mod interface;
pub mod links;
pub mod probe;
pub mod responder;
pub mod socket;
pub mod wire;
