//! One scenario through both shells' adapters (the Kubernetes watch caches
//! and standalone mode's files): the same objects must make the same
//! inputs, and the pass the same plans and reports. The cases that once
//! drifted are in it: a Service of another class that carries an address,
//! and a node whose network is unavailable.

use std::path::PathBuf;

use ferrolb_crds::api;
use ferrolb_k8s::config_view::ConfigEvent;
use kube::runtime::watcher::Event;
use serde_json::Value;

use super::views::{Input, Views};
use crate::announce::L2Args;
use crate::decide::{Reason, ServiceKey, Verdict};
use crate::files;
use crate::pass::{Inputs, Report, ServiceStatuses, Settings, Speaker};

pub(super) const NAMESPACE: &str = "metallb-system";

const SCENARIO: &str = r#"
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: web, namespace: metallb-system}
spec:
  addresses: [198.51.100.0/24]
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: web, namespace: metallb-system}
spec:
  ipAddressPools: [web]
  communities: ["64512:100"]
  localPref: 150
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: tor, namespace: metallb-system}
spec:
  myASN: 64512
  peerASN: 64512
  peerAddress: 192.0.2.1
---
apiVersion: v1
kind: Node
metadata:
  name: n1
  labels: {rack: a}
status:
  addresses:
  - {type: InternalIP, address: 10.0.0.1}
  - {type: ExternalIP, address: 203.0.113.1}
  conditions:
  - {type: NetworkUnavailable, status: "False"}
---
apiVersion: v1
kind: Node
metadata:
  name: n2
status:
  addresses:
  - {type: InternalIP, address: 10.0.0.2}
  conditions:
  - {type: NetworkUnavailable, status: "True"}
---
apiVersion: v1
kind: Pod
metadata: {name: speaker-a, namespace: metallb-system}
spec: {nodeName: n1, containers: []}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: speaker-b, namespace: metallb-system}
spec: {nodeName: n2, containers: []}
status: {podIP: 10.0.0.2}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
  uid: 6f1c2a9e-0000-4000-8000-000000000001
  resourceVersion: "42"
  labels: {tier: front}
  annotations: {metallb.io/allow-shared-ip: web, metallb.io/ip-allocated-from-pool: web}
spec: {type: LoadBalancer, externalTrafficPolicy: Local, ipFamilies: [IPv4], ipFamilyPolicy: SingleStack}
status:
  loadBalancer:
    ingress: [{ip: 198.51.100.10}]
---
apiVersion: v1
kind: Service
metadata: {name: theirs, namespace: shop}
spec: {type: LoadBalancer, loadBalancerClass: other, ipFamilies: [IPv4], ipFamilyPolicy: SingleStack}
status:
  loadBalancer:
    ingress: [{ip: 198.51.100.20}]
---
apiVersion: v1
kind: Service
metadata: {name: internal, namespace: shop}
spec: {type: ClusterIP, ipFamilies: [IPv4], ipFamilyPolicy: SingleStack}
status:
  loadBalancer:
    ingress: [{ip: 198.51.100.30}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-1
  namespace: shop
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
endpoints:
- addresses: [10.244.1.5]
  nodeName: n1
  conditions: {ready: true}
- addresses: [10.244.2.5]
  nodeName: n2
  conditions: {ready: true}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: theirs-1
  namespace: shop
  labels: {kubernetes.io/service-name: theirs}
addressType: IPv4
endpoints:
- addresses: [10.244.1.6]
  nodeName: n1
  conditions: {ready: true}
"#;

fn typed<T: serde::de::DeserializeOwned>(value: &Value) -> T {
    serde_json::from_value(value.clone()).expect("scenario object")
}

/// The scenario as watch events, into the Kubernetes shell's caches.
pub(super) fn watched() -> Views {
    let mut views = Views::new();
    for doc in serde_norway::Deserializer::from_str(SCENARIO) {
        let value: Value = serde::Deserialize::deserialize(doc).expect("scenario YAML");
        let input = match value["kind"].as_str().expect("kind") {
            "IPAddressPool" => Input::Config(ConfigEvent::Pool(Event::Apply(typed(&value)))),
            "BGPAdvertisement" => Input::Config(ConfigEvent::Bgp(Event::Apply(typed(&value)))),
            "BGPPeer" => {
                let peer: api::BGPPeer = typed(&value);
                Input::Config(ConfigEvent::Peer(Event::Apply(peer)))
            }
            "Node" => Input::Node(Box::new(Event::Apply(typed(&value)))),
            "Pod" => Input::Pod(Box::new(Event::Apply(typed(&value)))),
            "Service" => Input::Service(Event::Apply(typed(&value))),
            "EndpointSlice" => Input::Slice(Event::Apply(typed(&value))),
            other => panic!("no watch for {other}"),
        };
        views.apply(input);
    }
    views
}

/// The scenario as files, read as `ferrolb run` reads them.
fn filed() -> files::read::Inputs {
    let dir = std::env::temp_dir().join(format!("ferrolb-shells-agree-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let file: PathBuf = dir.join("scenario.yaml");
    std::fs::write(&file, SCENARIO).expect("scenario file");
    let (inputs, problems) = files::read::read(&[file]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(problems.is_empty(), "{problems:?}");
    inputs
}

pub(super) fn settings(node: &str) -> Settings {
    let l2 = L2Args {
        l2_refresh: None,
        l2_exclude_interface: Vec::new(),
        l2_no_exclude_interfaces: false,
        l2_exclude_config: crate::announce::excludel2::MOUNT_PATH.into(),
        ml_bind_port: ferrolb_l2::membership::DEFAULT_PORT,
        ml_thread_priority: ferrolb_l2::membership::ThreadPriority::Auto,
        ml_heartbeat: ferrolb_l2::membership::MembershipTiming::default().heartbeat,
    };
    Settings {
        node: node.to_string(),
        router_id: None,
        bgp_listen: None,
        // Both shells alike, whatever this host has mounted.
        l2: l2.resolve_with(None).expect("default Layer-2 settings"),
        graceful_restart: Default::default(),
        metrics: None,
    }
}

/// One pass of a fresh speaker over `inputs`, then its stop.
async fn pass(
    node: &str,
    resources: &ferrolb_crds::config::Resources,
    inputs: Inputs,
) -> (crate::decide::BgpPlan, ServiceStatuses, Report) {
    let mut speaker = Speaker::new(settings(node));
    assert!(speaker.configure(resources), "the scenario compiles");
    let report = speaker.pass(inputs).await;
    let out = (
        speaker.bgp_plan().clone(),
        speaker.service_statuses(),
        report,
    );
    speaker.shutdown("test over").await;
    out
}

#[tokio::test]
async fn both_shells_make_the_same_inputs_plans_and_reports() {
    let views = watched();
    let filed = filed();
    for node in ["n1", "n2"] {
        let from_watches = views.inputs(node, None);
        let from_files =
            files::pass_inputs(node, None, &filed.services, &filed.slices, &filed.nodes);
        assert_eq!(from_watches, from_files, "inputs of {node}");
        // What the watch cache keeps of a Service is all the decision
        // reads (the shared-IP annotation was once dropped there).
        let web = &from_files.services.all().expect("every Service")[0];
        assert!(
            web.shares_ip && web.pool.as_deref() == Some("web"),
            "{web:?}"
        );
        assert_eq!(web.traffic_policy, crate::decide::TrafficPolicy::Local);
        assert_eq!(web.labels.get("tier").map(String::as_str), Some("front"));

        let watched_run = pass(node, &views.config.resources(NAMESPACE), from_watches).await;
        let filed_run = pass(node, &filed.resources, from_files.clone()).await;
        assert_eq!(watched_run.0, filed_run.0, "BGP plan of {node}");
        assert_eq!(watched_run.1, filed_run.1, "statuses of {node}");
        assert_eq!(watched_run.2, filed_run.2, "report of {node}");

        // Only the Service of our class, and only where the network is up.
        let (plan, statuses, report) = filed_run;
        let web = ServiceKey::new("shop", "web");
        let services: Vec<&ServiceKey> = plan.explanations.iter().map(|e| &e.service).collect();
        assert_eq!(services, [&web], "{node}: {plan:?}");
        match node {
            "n1" => {
                assert!(matches!(
                    plan.explanations[0].verdict,
                    Verdict::Announced { .. }
                ));
                assert_eq!(statuses.bgp[&web], ["tor"]);
                assert_eq!(report.events.len(), 1, "nodeAssigned: {report:?}");
            }
            _ => {
                assert_eq!(
                    plan.explanations[0].verdict,
                    Verdict::NotAnnounced(Reason::NodeNetworkUnavailable)
                );
                assert!(statuses.bgp.is_empty());
            }
        }
    }
}

/// An Event names the Service as kube's own reference to the object does,
/// from the record the watch cache keeps.
#[test]
fn an_event_names_the_service_as_the_object_would() {
    use kube::Resource;
    let views = watched();
    let key = ServiceKey::new("shop", "web");
    let object: k8s_openapi::api::core::v1::Service =
        serde_norway::Deserializer::from_str(SCENARIO)
            .map(|doc| <Value as serde::Deserialize>::deserialize(doc).expect("YAML"))
            .find(|v| v["kind"] == "Service" && v["metadata"]["name"] == "web")
            .map(|v| typed(&v))
            .expect("web");
    let record = views.service(&key).expect("web in the cache");
    assert_eq!(record.object_ref(), object.object_ref(&()));
    assert_eq!(
        record.object_ref().uid.as_deref(),
        Some("6f1c2a9e-0000-4000-8000-000000000001")
    );
}

#[tokio::test]
async fn a_class_picks_the_services_of_that_class_in_both_shells() {
    let views = watched();
    let filed = filed();
    let from_watches = views.inputs("n1", Some("other"));
    let from_files = files::pass_inputs(
        "n1",
        Some("other"),
        &filed.services,
        &filed.slices,
        &filed.nodes,
    );
    assert_eq!(from_watches, from_files);
    let all = from_files.services.all().expect("every Service");
    let keys: Vec<&ServiceKey> = all.iter().map(|s| &s.key).collect();
    assert_eq!(keys, [&ServiceKey::new("shop", "theirs")]);
}
