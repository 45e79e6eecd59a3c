//! The Layer-2 failover lab and benchmark (issue 7): nodes and a client on
//! one LAN, a VIP kept answered by a subject (keepalived, the floor,
//! FerroLB's L2 speaker), the owner failed again and again, and the outage
//! the client sees measured from its own UDP probes.
//!
//! ```no_run
//! use std::time::Duration;
//! use interop_tests::Family;
//! use interop_tests::l2::{Failure, Jitter, Keepalived, L2Lan, L2Subject, RunOptions, run_failovers};
//! # fn main() -> interop_tests::Result<()> {
//! let lan = L2Lan::new("l2", Family::Ipv4, 3)?;
//! let mut keepalived = Keepalived::new(Duration::from_millis(100));
//! keepalived.start(&lan)?;
//! let runs = run_failovers(&lan, &mut keepalived, Failure::LinkCut,
//!     &RunOptions { runs: 3, ..RunOptions::default() }, &mut Jitter::new(7))?;
//! println!("first outage: {:?}", runs[0].outcome.outage);
//! # Ok(()) }
//! ```
//! Method: docs/lab.md ("Layer-2 failover"); figures: docs/benchmarks.md.

pub mod announce;
pub mod echo;
pub mod ferrolb;
pub mod floor;
pub mod harness;
pub mod keepalived;
pub mod lan;
pub mod measure;
pub mod netlink;
pub mod prober;
pub mod report;
pub mod subject;
pub mod who_has;

pub use ferrolb::FerroLbL2;
pub use floor::Floor;
pub use harness::{
    Jitter, Run, RunOptions, check_interrupted, run_failovers, run_failovers_into, settle,
    stop_on_signals,
};
pub use keepalived::Keepalived;
pub use lan::L2Lan;
pub use measure::{NodeId, Outcome};
pub use report::{Cell, table};
pub use subject::{Failure, L2Subject};
pub use who_has::{Asked, Seen, WhoHas};
