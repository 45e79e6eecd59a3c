//! The `metallb.io` configuration objects and Secrets of FerroLB's
//! namespace, watched and kept complete, as the compiler reads them.

use ferrolb_crds::api::{
    BFDProfile, BGPAdvertisement, BGPPeer, Community, IPAddressPool, L2Advertisement,
};
use ferrolb_crds::config::Resources;
use ferrolb_crds::manifest;
use futures::stream::BoxStream;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};

use crate::cache::{Cache, name_key};
use crate::watch::watch;

/// One watch event of a configuration kind.
pub enum ConfigEvent {
    Pool(Event<IPAddressPool>),
    L2(Event<L2Advertisement>),
    Bgp(Event<BGPAdvertisement>),
    Peer(Event<BGPPeer>),
    Bfd(Event<BFDProfile>),
    Community(Event<Community>),
    Secret(Event<Secret>),
}

/// A watch stream per configuration kind in `namespace`.
pub fn config_inputs(client: &Client, namespace: &str) -> Vec<BoxStream<'static, ConfigEvent>> {
    let ns = namespace;
    let config = watcher::Config::default;
    vec![
        watch(
            Api::namespaced(client.clone(), ns),
            config(),
            ConfigEvent::Pool,
        ),
        watch(
            Api::namespaced(client.clone(), ns),
            config(),
            ConfigEvent::L2,
        ),
        watch(
            Api::namespaced(client.clone(), ns),
            config(),
            ConfigEvent::Bgp,
        ),
        watch(
            Api::namespaced(client.clone(), ns),
            config(),
            ConfigEvent::Peer,
        ),
        watch(
            Api::namespaced(client.clone(), ns),
            config(),
            ConfigEvent::Bfd,
        ),
        watch(
            Api::namespaced(client.clone(), ns),
            config(),
            ConfigEvent::Community,
        ),
        watch(
            Api::namespaced(client.clone(), ns),
            config(),
            ConfigEvent::Secret,
        ),
    ]
}

/// The caches of every configuration kind.
pub struct ConfigView {
    pools: Cache<IPAddressPool, String>,
    l2: Cache<L2Advertisement, String>,
    bgp: Cache<BGPAdvertisement, String>,
    peers: Cache<BGPPeer, String>,
    bfd: Cache<BFDProfile, String>,
    communities: Cache<Community, String>,
    secrets: Cache<Secret, String>,
}

impl Default for ConfigView {
    fn default() -> Self {
        ConfigView {
            pools: Cache::new(name_key),
            l2: Cache::new(name_key),
            bgp: Cache::new(name_key),
            peers: Cache::new(name_key),
            bfd: Cache::new(name_key),
            communities: Cache::new(name_key),
            secrets: Cache::new(name_key),
        }
    }
}

impl ConfigView {
    /// Applies one event; true when the configuration may have changed.
    pub fn apply(&mut self, event: ConfigEvent) -> bool {
        match event {
            ConfigEvent::Pool(e) => {
                // The controller's own status writes come back as events
                // too; only a spec or label change is a configuration change.
                let changed = !status_only(&self.pools, &e);
                self.pools.apply(e);
                return changed;
            }
            ConfigEvent::L2(e) => self.l2.apply(e),
            ConfigEvent::Bgp(e) => self.bgp.apply(e),
            ConfigEvent::Peer(e) => self.peers.apply(e),
            ConfigEvent::Bfd(e) => self.bfd.apply(e),
            ConfigEvent::Community(e) => self.communities.apply(e),
            ConfigEvent::Secret(e) => self.secrets.apply(e),
        }
        true
    }

    /// Whether every kind has been listed once.
    pub fn synced(&self) -> bool {
        self.pools.synced()
            && self.l2.synced()
            && self.bgp.synced()
            && self.peers.synced()
            && self.bfd.synced()
            && self.communities.synced()
            && self.secrets.synced()
    }

    /// The compiler's input: the objects of `namespace` only.
    pub fn resources(&self, namespace: &str) -> Resources {
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
            manifest::add_secret(s, &mut r);
        }
        r.retain_namespace(namespace);
        r
    }

    /// The BGPPeers, by name: what a BFD Event is about.
    pub fn peers(&self) -> &Cache<BGPPeer, String> {
        &self.peers
    }

    /// The IPAddressPools, with their status.
    pub fn pools(&self) -> &Cache<IPAddressPool, String> {
        &self.pools
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
