//! The Kubernetes shell hands a pass only the Services whose inputs
//! changed (`Views::pass_inputs`). Whatever the order of watch events
//! (Services and slices coming, going, changing class or address, a slice
//! moving to another Service, a relist that drops objects without a
//! Delete), what the passes were handed must add up to what a pass over
//! every Service would read, and the speaker's plan must be the plan
//! decided over every Service.

use std::collections::BTreeMap;

use kube::runtime::watcher::Event;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::shells_agree::{NAMESPACE, settings, watched};
use super::views::{Input, Views};
use crate::decide::{ServiceKey, ServiceState, bgp_plan};
use crate::pass::{Services, Speaker};

const SERVICES: usize = 4;
const SLICES: usize = 4;

fn service(i: usize, address: Option<u8>, other_class: bool) -> Value {
    let mut spec = json!({"type": "LoadBalancer", "externalTrafficPolicy": "Local"});
    if other_class {
        spec["loadBalancerClass"] = json!("other");
    }
    let ingress: Vec<Value> = address
        .map(|a| json!({"ip": format!("198.51.100.{}", 10 + a)}))
        .into_iter()
        .collect();
    json!({
        "metadata": {"name": format!("s{i}"), "namespace": "shop"},
        "spec": spec,
        "status": {"loadBalancer": {"ingress": ingress}},
    })
}

fn slice(j: usize, service: usize, ready: bool) -> Value {
    json!({
        "metadata": {
            "name": format!("e{j}"), "namespace": "shop",
            "labels": {"kubernetes.io/service-name": format!("s{service}")},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.244.1.5"], "nodeName": "n1",
                       "conditions": {"ready": ready}}],
    })
}

fn typed<T: serde::de::DeserializeOwned>(value: &Value) -> T {
    serde_json::from_value(value.clone()).expect("test object")
}

#[derive(Debug, Clone)]
enum Step {
    PutService {
        i: usize,
        address: Option<u8>,
        other_class: bool,
    },
    DeleteService(usize),
    PutSlice {
        j: usize,
        service: usize,
        ready: bool,
    },
    DeleteSlice(usize),
    /// A relist of Services that keeps those of `keep` (a bit each): the
    /// others went while the watch was down, and no Delete says so.
    RelistServices(u8),
    RelistSlices(u8),
    Pass,
}

/// Relists are rare (each makes the next pass hand every Service, which
/// hides nothing); changes between passes are what the views must follow.
fn step() -> impl Strategy<Value = Step> {
    let put_service = (0..SERVICES, proptest::option::of(0u8..3), any::<bool>());
    let put_slice = (0..SLICES, 0..SERVICES, any::<bool>());
    prop_oneof![
        3 => put_service.prop_map(|(i, address, other_class)| Step::PutService {
            i,
            address,
            other_class
        }),
        1 => (0..SERVICES).prop_map(Step::DeleteService),
        4 => put_slice.prop_map(|(j, service, ready)| Step::PutSlice { j, service, ready }),
        1 => (0..SLICES).prop_map(Step::DeleteSlice),
        1 => any::<u8>().prop_map(Step::RelistServices),
        1 => any::<u8>().prop_map(Step::RelistSlices),
        4 => Just(Step::Pass),
    ]
}

/// The objects the API server holds, and the watch events that told the
/// speaker about them.
#[derive(Default)]
struct Cluster {
    services: BTreeMap<usize, Value>,
    slices: BTreeMap<usize, Value>,
}

impl Cluster {
    /// Applies `step` to the cluster and its events to `views`; `false`
    /// for a pass.
    fn apply(&mut self, step: &Step, views: &mut Views) -> bool {
        match *step {
            Step::PutService {
                i,
                address,
                other_class,
            } => {
                let object = service(i, address, other_class);
                views.apply(Input::Service(Event::Apply(typed(&object))));
                self.services.insert(i, object);
            }
            Step::DeleteService(i) => {
                if let Some(object) = self.services.remove(&i) {
                    views.apply(Input::Service(Event::Delete(typed(&object))));
                }
            }
            Step::PutSlice { j, service, ready } => {
                let object = slice(j, service, ready);
                views.apply(Input::Slice(Event::Apply(typed(&object))));
                self.slices.insert(j, object);
            }
            Step::DeleteSlice(j) => {
                if let Some(object) = self.slices.remove(&j) {
                    views.apply(Input::Slice(Event::Delete(typed(&object))));
                }
            }
            Step::RelistServices(keep) => {
                self.services.retain(|i, _| keep & (1 << i) != 0);
                views.apply(Input::Service(Event::Init));
                for object in self.services.values() {
                    views.apply(Input::Service(Event::InitApply(typed(object))));
                }
                views.apply(Input::Service(Event::InitDone));
            }
            Step::RelistSlices(keep) => {
                self.slices.retain(|j, _| keep & (1 << j) != 0);
                views.apply(Input::Slice(Event::Init));
                for object in self.slices.values() {
                    views.apply(Input::Slice(Event::InitApply(typed(object))));
                }
                views.apply(Input::Slice(Event::InitDone));
            }
            Step::Pass => return false,
        }
        true
    }
}

/// What the passes were handed, added up as the pass's book adds them.
fn take(held: &mut BTreeMap<ServiceKey, ServiceState>, services: Services) {
    match services {
        Services::All(all) => *held = all.into_iter().map(|s| (s.key.clone(), s)).collect(),
        Services::Changed(changes) => {
            for (key, state) in changes {
                match state {
                    Some(state) => held.insert(key, state),
                    None => held.remove(&key),
                };
            }
        }
    }
}

fn every_service(views: &Views) -> Vec<ServiceState> {
    let inputs = views.inputs("n1", None);
    inputs.services.all().expect("every Service").to_vec()
}

proptest! {
    #[test]
    fn the_changes_handed_add_up_to_every_service(
        steps in proptest::collection::vec(step(), 1..60),
    ) {
        let mut views = Views::new();
        let mut cluster = Cluster::default();
        let mut held = BTreeMap::new();
        // A last pass, whatever the steps ended with.
        for step in steps.iter().chain([&Step::Pass]) {
            if cluster.apply(step, &mut views) {
                continue;
            }
            take(&mut held, views.pass_inputs("n1", None).services);
            let held: Vec<ServiceState> = held.values().cloned().collect();
            prop_assert_eq!(held, every_service(&views), "after {:?}", steps);
        }
    }
}

/// Through the speaker: the first pass runs before any configuration
/// compiled (a refused one, on a real cluster), and later passes get only
/// changes. The plan must still be the one decided over every Service.
#[tokio::test]
async fn the_speaker_decides_what_it_was_handed_before_its_configuration() {
    let mut views = watched();
    let mut speaker = Speaker::new(settings("n1"));
    let mut cluster = Cluster::default();
    let first = views.pass_inputs("n1", None);
    assert!(
        first.services.all().is_some(),
        "the first pass has them all"
    );
    speaker.pass(first).await;
    assert!(speaker.configure(&views.config.resources(NAMESPACE)));
    // Nothing handed: the scenario's Service is announced all the same,
    // though its only change was handed before.
    let nothing = views.pass_inputs("n1", None);
    assert_eq!(nothing.services, Services::Changed(BTreeMap::new()));
    speaker.pass(nothing).await;
    let web = ServiceKey::new("shop", "web");
    assert!(
        speaker
            .bgp_plan()
            .explanations
            .iter()
            .any(|e| e.service == web && e.verdict.is_announced()),
        "{:?}",
        speaker.bgp_plan()
    );
    let steps = [
        Step::PutService {
            i: 0,
            address: Some(0),
            other_class: false,
        },
        Step::Pass,
        Step::PutSlice {
            j: 0,
            service: 0,
            ready: true,
        },
        Step::Pass,
        // The slice moves to another Service: s0 loses its endpoint.
        Step::PutService {
            i: 1,
            address: Some(1),
            other_class: false,
        },
        Step::PutSlice {
            j: 0,
            service: 1,
            ready: true,
        },
        Step::Pass,
        Step::PutService {
            i: 1,
            address: Some(1),
            other_class: true,
        },
        Step::Pass,
        Step::RelistServices(0),
        Step::Pass,
    ];
    for step in &steps {
        if cluster.apply(step, &mut views) {
            continue;
        }
        speaker.pass(views.pass_inputs("n1", None)).await;
        let config = speaker.config().expect("configured");
        let node = views.inputs("n1", None).node;
        let whole = bgp_plan(config, &node, &every_service(&views));
        assert_eq!(speaker.bgp_plan(), &whole, "after {step:?}");
    }
    speaker.shutdown("test over").await;
}
