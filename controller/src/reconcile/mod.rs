//! The Kubernetes reconciler: watches Services, Namespaces, the
//! `metallb.io` configuration and its Secrets, and writes addresses into
//! Service status.
//!
//! - [`core`]: the decision, pure (snapshot in, [`plan::Plan`] out);
//! - [`config`]: the configuration objects into pools, or the reasons not;
//! - [`cache`]: watch events into complete per-kind views;
//! - [`writer`]: the writes (status, annotation, Events, pool status,
//!   `ConfigurationState`), each guarded by the object's `resourceVersion`;
//! - `views`: the watch streams and the per-kind views they feed;
//! - `inflight`: the window of Service writes under way, across passes;
//! - [`run`]: the single-task event loop that ties them together.

pub mod config;
pub mod core;
mod inflight;
pub mod plan;
pub mod run;
mod views;
pub mod writer;

#[cfg(test)]
mod mock_tests;
#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;

pub use run::{Options, RunError, run};
