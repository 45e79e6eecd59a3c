//! What the speaker watches, kept complete: Services, EndpointSlices, Nodes
//! and the configuration of FerroLB's namespace.

use ferrolb_k8s::cache::{Cache, name_key};
use ferrolb_k8s::config_view::{ConfigEvent, ConfigView, config_inputs};
use ferrolb_k8s::watch::watch;
use futures::StreamExt;
use futures::stream::{self, BoxStream};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};

use super::slices::{SliceVersion, slice_inputs};
use crate::adapt::{self, Interned, ServiceRecord, SliceName, SliceRecord, WithoutSlices};
use crate::decide::{ServiceKey, ServiceState};
use crate::pass::{Inputs, Services};

/// One watch event of any watched kind.
pub(super) enum Input {
    Service(Event<Service>),
    Slice(Event<EndpointSlice>),
    /// Boxed: Nodes are the largest objects by far.
    Node(Box<Event<Node>>),
    /// The speaker pods: who should be in the Layer-2 membership.
    Pod(Box<Event<Pod>>),
    Config(ConfigEvent),
}

/// Every watch stream, merged.
pub(super) fn inputs(
    client: &Client,
    namespace: &str,
    speaker_selector: &str,
    slices: SliceVersion,
) -> stream::SelectAll<BoxStream<'static, Input>> {
    let mut streams = vec![
        watch(
            Api::<Service>::all(client.clone()),
            watcher::Config::default(),
            Input::Service,
        ),
        slice_inputs(client, slices, Input::Slice),
        // Every Node, not only this one: Layer-2 mode chooses among them.
        watch(
            Api::<Node>::all(client.clone()),
            watcher::Config::default(),
            |e: Event<Node>| Input::Node(Box::new(e.modify(slim_node))),
        ),
        watch(
            Api::<Pod>::namespaced(client.clone(), namespace),
            watcher::Config::default().labels(speaker_selector),
            |e: Event<Pod>| Input::Pod(Box::new(e.modify(slim_pod))),
        ),
    ];
    streams.extend(
        config_inputs(client, namespace)
            .into_iter()
            .map(|s| s.map(Input::Config).boxed()),
    );
    stream::select_all(streams)
}

fn slim_node(node: &mut Node) {
    slim_meta(node);
    node.metadata.annotations = None;
    if let Some(status) = &mut node.status {
        status.images = None;
        status.node_info = None;
        status.volumes_attached = None;
        status.volumes_in_use = None;
    }
}

/// A speaker pod matters by its node and address only.
fn slim_pod(pod: &mut Pod) {
    slim_meta(pod);
    pod.metadata.annotations = None;
    if let Some(spec) = &mut pod.spec {
        spec.containers.clear();
        spec.volumes = None;
        spec.init_containers = None;
    }
    if let Some(status) = &mut pod.status {
        status.container_statuses = None;
        status.conditions = None;
    }
}

fn slim_meta<K: kube::Resource>(o: &mut K) {
    o.meta_mut().managed_fields = None;
}

/// The same event about the object's record; an object without a record
/// (a Service without a name) is dropped.
fn records<K, R>(event: Event<K>, mut record: impl FnMut(&K) -> Option<R>) -> Option<Event<R>> {
    Some(match event {
        Event::Apply(o) => Event::Apply(record(&o)?),
        Event::Delete(o) => Event::Delete(record(&o)?),
        Event::Init => Event::Init,
        Event::InitApply(o) => Event::InitApply(record(&o)?),
        Event::InitDone => Event::InitDone,
    })
}

/// The caches of every watched kind. Services and EndpointSlices are kept
/// as the records the decision reads ([`adapt::ServiceRecord`]), never as
/// whole objects: they are the kinds that grow with the cluster.
pub(super) struct Views {
    services: Cache<ServiceRecord, ServiceKey>,
    slices: Cache<SliceRecord, SliceName>,
    /// The names of each Service's slices (in the slice cache's order),
    /// so that one Service's inputs are read without walking every slice.
    /// Rebuilt from the cache on a pass over every Service. Most Services
    /// have one slice: a sorted `Vec` holds it without the eleven-slot
    /// B-tree node a set costs.
    slices_of: BTreeMap<ServiceKey, SliceNames>,
    /// The Services whose inputs (their record or one of their slices)
    /// changed since the last pass; `None` for every one: before the first
    /// pass, and after a relist (which replaces a cache whole, without
    /// saying what went).
    dirty: Option<BTreeSet<ServiceKey>>,
    nodes: Cache<Node, String>,
    pods: Cache<Pod, String>,
    pub(super) config: ConfigView,
    /// The configuration changed since it was last compiled.
    pub(super) config_dirty: bool,
    /// What the records of Services and slices repeat, one copy each.
    interned: Interned,
}

impl Views {
    pub(super) fn new() -> Self {
        Views {
            services: Cache::new(|r: &ServiceRecord| Some(r.key.clone())),
            slices: Cache::new(|r: &SliceRecord| Some(r.name.clone())),
            slices_of: BTreeMap::new(),
            dirty: None,
            nodes: Cache::new(|n: &Node| n.metadata.name.clone()),
            pods: Cache::new(name_key),
            config: ConfigView::default(),
            config_dirty: true,
            interned: Interned::default(),
        }
    }

    pub(super) fn apply(&mut self, input: Input) {
        match input {
            Input::Service(e) => {
                if let Some(e) = records(e, |s| ServiceRecord::of(s, &mut self.interned)) {
                    match &e {
                        Event::Apply(r) | Event::Delete(r) => self.touch(Some(&r.key)),
                        Event::Init | Event::InitApply(_) | Event::InitDone => self.dirty = None,
                    }
                    self.services.apply(e);
                }
            }
            Input::Slice(e) => {
                if let Some(e) = records(e, |s| Some(SliceRecord::new(s, &mut self.interned))) {
                    self.slice_changes(&e);
                    self.slices.apply(e);
                }
            }
            Input::Node(e) => self.nodes.apply(*e),
            Input::Pod(e) => self.pods.apply(*e),
            Input::Config(e) => {
                if self.config.apply(e) {
                    self.config_dirty = true;
                }
            }
        }
    }

    /// Marks `key`'s inputs changed (nothing for a slice of no Service).
    fn touch(&mut self, key: Option<&ServiceKey>) {
        if let (Some(dirty), Some(key)) = (&mut self.dirty, key) {
            dirty.insert(key.clone());
        }
    }

    /// Before `event` reaches the slice cache: marks the Services it
    /// changes, the one the slice belonged to and the one it belongs to
    /// now (its `kubernetes.io/service-name` label may have moved), and
    /// keeps [`Views::slices_of`].
    fn slice_changes(&mut self, event: &Event<SliceRecord>) {
        let (Event::Apply(slice) | Event::Delete(slice)) = event else {
            self.dirty = None;
            return;
        };
        let before = self
            .slices
            .items()
            .get(&slice.name)
            .and_then(|s| s.service.clone());
        if let Some(key) = &before {
            self.touch(Some(key));
            if let Some(names) = self.slices_of.get_mut(key) {
                names.remove(&slice.name);
                if names.0.is_empty() {
                    self.slices_of.remove(key);
                }
            }
        }
        self.touch(slice.service.as_ref());
        if let (Event::Apply(_), Some(key)) = (event, &slice.service) {
            self.slices_of
                .entry(key.clone())
                .or_default()
                .insert(&slice.name);
        }
    }

    pub(super) fn synced(&self) -> bool {
        self.services.synced()
            && self.slices.synced()
            && self.nodes.synced()
            && self.pods.synced()
            && self.config.synced()
    }

    pub(super) fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.items().get(name)
    }

    /// The inputs of the next pass for `node`, serving `lb_class`: the
    /// Services whose inputs changed since the last one (every one the
    /// first time and after a relist). Each call hands a change once.
    pub(super) fn pass_inputs(&mut self, node: &str, lb_class: Option<&str>) -> Inputs {
        let Some(dirty) = self.dirty.replace(BTreeSet::new()) else {
            // Built in one go, which fills the map's nodes.
            let mut pairs: Vec<(&ServiceKey, &SliceName)> = self
                .slices
                .values()
                .filter_map(|s| Some((s.service.as_ref()?, &s.name)))
                .collect();
            pairs.sort_unstable();
            self.slices_of = pairs
                .chunk_by(|a, b| a.0 == b.0)
                .map(|chunk| {
                    let names = chunk.iter().map(|(_, name)| Arc::clone(name)).collect();
                    (chunk[0].0.clone(), SliceNames(names))
                })
                .collect();
            return self.inputs(node, lb_class);
        };
        let changed = dirty
            .into_iter()
            .map(|key| {
                let state = self.service_state(&key, lb_class);
                (key, state)
            })
            .collect();
        Inputs {
            services: Services::Changed(changed),
            ..self.node_inputs(node)
        }
    }

    /// `key`'s inputs now, read as [`adapt::service_states`] reads every
    /// Service.
    fn service_state(&self, key: &ServiceKey, lb_class: Option<&str>) -> Option<ServiceState> {
        let record = self.services.items().get(key)?;
        let slices: Vec<&SliceRecord> = self
            .slices_of
            .get(key)
            .into_iter()
            .flat_map(|names| &names.0)
            .filter_map(|name| self.slices.items().get(name))
            .collect();
        adapt::service_state(record, &slices, lb_class, WithoutSlices::NoEndpoints)
    }

    /// The inputs of a pass over every Service, for `node`, serving
    /// `lb_class`.
    pub(super) fn inputs(&self, node: &str, lb_class: Option<&str>) -> Inputs {
        Inputs {
            services: Services::All(adapt::service_states(
                self.services.values(),
                self.slices.values(),
                lb_class,
                WithoutSlices::NoEndpoints,
            )),
            ..self.node_inputs(node)
        }
    }

    /// The inputs of a pass but its Services.
    fn node_inputs(&self, node: &str) -> Inputs {
        let this = self.node(node);
        Inputs {
            node: adapt::node_state(node, this),
            node_ipv4: this.and_then(adapt::node_ipv4),
            nodes: self
                .nodes
                .items()
                .iter()
                .map(|(name, n)| (name.clone(), adapt::node_state(name, Some(n))))
                .collect(),
            speakers: self.speakers(),
            services: Services::Changed(BTreeMap::new()),
        }
    }

    /// Every node that runs a speaker pod, with the pod's address (the
    /// node's, on the host network).
    fn speakers(&self) -> BTreeMap<String, IpAddr> {
        self.pods
            .values()
            .filter_map(|p| {
                let node = p.spec.as_ref()?.node_name.clone()?;
                let ip = p.status.as_ref()?.pod_ip.as_deref()?.parse().ok()?;
                Some((node, ip))
            })
            .collect()
    }

    pub(super) fn service(&self, key: &ServiceKey) -> Option<&ServiceRecord> {
        self.services.items().get(key)
    }
}

/// The names of one Service's EndpointSlices, sorted, each once.
#[derive(Debug, Default)]
struct SliceNames(Vec<SliceName>);

impl SliceNames {
    fn insert(&mut self, name: &SliceName) {
        if let Err(at) = self.0.binary_search(name) {
            self.0.reserve_exact(1);
            self.0.insert(at, Arc::clone(name));
        }
    }

    fn remove(&mut self, name: &SliceName) {
        if let Ok(at) = self.0.binary_search(name) {
            self.0.remove(at);
        }
    }
}
