//! What the speaker tells people about its decisions, derived purely from
//! them: the status objects it should hold, and which changes deserve an
//! Event or a log line. The Kubernetes writer and standalone mode's logs
//! both read these.

mod bfd_events;
mod notices;
mod reasons;
mod sessions;
mod statuses;
mod verdict_log;

pub use bfd_events::{BfdEvent, BfdEvents};
pub use notices::{Notice, NoticeKind, notices};
pub use reasons::{ADDRESS_IN_USE, BGP, Conflict, LAYER2, MAX_LISTED, announcement_state};
pub use sessions::{session_state_name, session_status};
pub use statuses::{bgp_service_statuses, service_status_name};
pub use verdict_log::log_verdicts;
