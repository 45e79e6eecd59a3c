//! The watched kinds: one stream of inputs from every watcher, and the
//! complete per-kind views the passes read. Which Services a batch of
//! events touched is recorded as the next pass's [`Scope`].

use std::collections::BTreeMap;

use ferrolb_crds::api::{
    BFDProfile, BGPAdvertisement, BGPPeer, Community, IPAddressPool, L2Advertisement,
};
use ferrolb_crds::config::Resources;
use ferrolb_crds::selector::Labels;
use futures::StreamExt;
use futures::stream::{self, BoxStream};
use k8s_openapi::api::core::v1::{Namespace, Secret, Service};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tracing::warn;

use super::cache::{Cache, name_key};
use super::config::add_secret;
use super::core::Scope;
use crate::adapt::service_key;
use crate::ipam::ServiceKey;

/// One watch event of any watched kind.
pub(super) enum Input {
    Service(Event<Service>),
    Namespace(Event<Namespace>),
    Pool(Event<IPAddressPool>),
    L2(Event<L2Advertisement>),
    Bgp(Event<BGPAdvertisement>),
    Peer(Event<BGPPeer>),
    Bfd(Event<BFDProfile>),
    Community(Event<Community>),
    Secret(Event<Secret>),
}

/// Every watch stream, merged: Services and Namespaces of the cluster, the
/// configuration kinds and Secrets of `namespace`.
pub(super) fn inputs(
    client: &Client,
    namespace: &str,
) -> stream::SelectAll<BoxStream<'static, Input>> {
    let ns = namespace;
    stream::select_all([
        watch(Api::<Service>::all(client.clone()), Input::Service),
        watch(Api::<Namespace>::all(client.clone()), Input::Namespace),
        watch(Api::namespaced(client.clone(), ns), Input::Pool),
        watch(Api::namespaced(client.clone(), ns), Input::L2),
        watch(Api::namespaced(client.clone(), ns), Input::Bgp),
        watch(Api::namespaced(client.clone(), ns), Input::Peer),
        watch(Api::namespaced(client.clone(), ns), Input::Bfd),
        watch(Api::namespaced(client.clone(), ns), Input::Community),
        watch(Api::namespaced(client.clone(), ns), Input::Secret),
    ])
}

/// The caches of every watched kind.
pub(super) struct Views {
    pub(super) services: Cache<Service, ServiceKey>,
    namespaces: Cache<Namespace, String>,
    pub(super) pools: Cache<IPAddressPool, String>,
    l2: Cache<L2Advertisement, String>,
    bgp: Cache<BGPAdvertisement, String>,
    peers: Cache<BGPPeer, String>,
    bfd: Cache<BFDProfile, String>,
    communities: Cache<Community, String>,
    secrets: Cache<Secret, String>,
    pub(super) config_dirty: bool,
    /// The Services the next pass must look at.
    pub(super) dirty: Scope,
}

impl Views {
    pub(super) fn new() -> Self {
        Views {
            services: Cache::new(service_key),
            namespaces: Cache::new(|n: &Namespace| n.metadata.name.clone()),
            pools: Cache::new(name_key),
            l2: Cache::new(name_key),
            bgp: Cache::new(name_key),
            peers: Cache::new(name_key),
            bfd: Cache::new(name_key),
            communities: Cache::new(name_key),
            secrets: Cache::new(name_key),
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
            Input::Pool(e) => {
                // Our own status writes come back as events too; only a
                // spec or label change is a configuration change.
                if !status_only(&self.pools, &e) {
                    self.config_dirty = true;
                }
                self.pools.apply(e);
            }
            Input::L2(e) => self.config(|v| v.l2.apply(e)),
            Input::Bgp(e) => self.config(|v| v.bgp.apply(e)),
            Input::Peer(e) => self.config(|v| v.peers.apply(e)),
            Input::Bfd(e) => self.config(|v| v.bfd.apply(e)),
            Input::Community(e) => self.config(|v| v.communities.apply(e)),
            Input::Secret(e) => self.config(|v| v.secrets.apply(e)),
        }
    }

    fn config(&mut self, f: impl FnOnce(&mut Self)) {
        f(self);
        self.config_dirty = true;
    }

    pub(super) fn synced(&self) -> bool {
        self.services.synced()
            && self.namespaces.synced()
            && self.pools.synced()
            && self.l2.synced()
            && self.bgp.synced()
            && self.peers.synced()
            && self.bfd.synced()
            && self.communities.synced()
            && self.secrets.synced()
    }

    pub(super) fn resources(&self, namespace: &str) -> Resources {
        let mut r = Resources {
            pools: self.pools.values().cloned().collect(),
            l2_advertisements: self.l2.values().cloned().collect(),
            bgp_advertisements: self.bgp.values().cloned().collect(),
            peers: self.peers.values().cloned().collect(),
            bfd_profiles: self.bfd.values().cloned().collect(),
            communities: self.communities.values().cloned().collect(),
            ..Default::default()
        };
        for s in self.secrets.values() {
            add_secret(s, &mut r);
        }
        r.retain_namespace(namespace);
        r
    }

    pub(super) fn namespace_labels(&self) -> BTreeMap<String, Labels> {
        self.namespaces
            .items()
            .iter()
            .map(|(n, ns)| (n.clone(), ns.metadata.labels.clone().unwrap_or_default()))
            .collect()
    }
}

/// Whether a pool event changes only the status (or nothing) of a pool
/// already known.
fn status_only(cache: &Cache<IPAddressPool, String>, e: &Event<IPAddressPool>) -> bool {
    let Event::Apply(new) = e else {
        return false;
    };
    let Some(old) = name_key(new).and_then(|k| cache.items().get(&k)) else {
        return false;
    };
    old.spec == new.spec && old.metadata.labels == new.metadata.labels
}

fn watch<K>(api: Api<K>, wrap: fn(Event<K>) -> Input) -> BoxStream<'static, Input>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
    K::DynamicType: Default,
{
    let kind = K::kind(&K::DynamicType::default()).to_string();
    watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .filter_map(move |r| {
            let out = match r {
                Ok(e) => Some(wrap(e)),
                Err(e) => {
                    // Retried with backoff by the watcher; RBAC errors land
                    // here too, so they must be visible.
                    warn!(kind = %kind, error = %e, "watch failed; retrying");
                    None
                }
            };
            std::future::ready(out)
        })
        .boxed()
}
