//! The watched kinds: one stream of inputs from every watcher, and the
//! complete per-kind views the passes read. Which Services a batch of
//! events touched is recorded as the next pass's [`Scope`].

use std::collections::BTreeMap;

use ferrolb_crds::config::Resources;
use ferrolb_crds::selector::Labels;
use ferrolb_k8s::cache::Cache;
use ferrolb_k8s::config_view::{ConfigEvent, ConfigView, config_inputs};
use ferrolb_k8s::watch::watch;
use futures::StreamExt;
use futures::stream::{self, BoxStream};
use k8s_openapi::api::core::v1::{Namespace, Service};
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};

use super::core::Scope;
use crate::ipam::ServiceKey;
use ferrolb_crds::service::service_key;

/// One watch event of any watched kind.
pub(super) enum Input {
    Service(Event<Service>),
    Namespace(Event<Namespace>),
    Config(ConfigEvent),
}

/// Every watch stream, merged: Services and Namespaces of the cluster, the
/// configuration kinds and Secrets of `namespace`.
pub(super) fn inputs(
    client: &Client,
    namespace: &str,
) -> stream::SelectAll<BoxStream<'static, Input>> {
    let mut streams = vec![
        watch(
            Api::<Service>::all(client.clone()),
            watcher::Config::default(),
            Input::Service,
        ),
        watch(
            Api::<Namespace>::all(client.clone()),
            watcher::Config::default(),
            Input::Namespace,
        ),
    ];
    streams.extend(
        config_inputs(client, namespace)
            .into_iter()
            .map(|s| s.map(Input::Config).boxed()),
    );
    stream::select_all(streams)
}

/// The caches of every watched kind.
pub(super) struct Views {
    pub(super) services: Cache<Service, ServiceKey>,
    namespaces: Cache<Namespace, String>,
    pub(super) config: ConfigView,
    pub(super) config_dirty: bool,
    /// The Services the next pass must look at.
    pub(super) dirty: Scope,
}

impl Views {
    pub(super) fn new() -> Self {
        Views {
            services: Cache::new(service_key),
            namespaces: Cache::new(|n: &Namespace| n.metadata.name.clone()),
            config: ConfigView::default(),
            config_dirty: true,
            dirty: Scope::All,
        }
    }

    pub(super) fn apply(&mut self, input: Input) {
        match input {
            Input::Service(e) => {
                self.dirty.merge(match &e {
                    Event::Apply(s) | Event::Delete(s) => {
                        Scope::Services(service_key(s).into_iter().collect())
                    }
                    // A relist may have missed deletions: look at all.
                    Event::Init | Event::InitApply(_) | Event::InitDone => Scope::All,
                });
                self.services.apply(e);
            }
            Input::Namespace(e) => {
                // Namespace labels feed serviceAllocation selectors.
                self.dirty.merge(Scope::All);
                self.namespaces.apply(e);
            }
            Input::Config(e) => {
                if self.config.apply(e) {
                    self.config_dirty = true;
                }
            }
        }
    }

    pub(super) fn synced(&self) -> bool {
        self.services.synced() && self.namespaces.synced() && self.config.synced()
    }

    pub(super) fn resources(&self, namespace: &str) -> Resources {
        self.config.resources(namespace)
    }

    pub(super) fn namespace_labels(&self) -> BTreeMap<String, Labels> {
        self.namespaces
            .items()
            .iter()
            .map(|(n, ns)| (n.clone(), ns.metadata.labels.clone().unwrap_or_default()))
            .collect()
    }
}
