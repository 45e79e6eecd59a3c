//! The Kubernetes plumbing the controller and the speaker share: complete
//! watch caches, the view of the `metallb.io` configuration objects, client
//! and logging set-up, the metrics and health endpoint, and the owner
//! references of what both write.
//!
//! Neither binary depends on the other; what both need around the API lives
//! here, and what both need to read the API's objects lives in `crds`.

pub mod batch;
pub mod cache;
pub mod client_metrics;
pub mod config_view;
pub mod events;
pub mod http;
pub mod logging;
pub mod owner;
pub mod process;
pub mod retry;
pub mod timer;
pub mod watch;
