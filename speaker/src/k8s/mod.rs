//! The speaker on Kubernetes: watches the cluster, decides, announces, and
//! reports through status objects, Events and metrics.

#[cfg(test)]
mod changes_handed;
mod coalesce;
mod run;
#[cfg(test)]
mod shells_agree;
mod slices;
mod views;
mod writer;

pub use run::{Options, RunError, run};
pub use slices::{SliceVersion, from_v1beta1};
pub use writer::{FIELD_MANAGER, NODE_LABEL};
