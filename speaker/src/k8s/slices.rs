//! EndpointSlices, from `discovery.k8s.io/v1` where the API server serves
//! it (Kubernetes 1.21 and later), else from `v1beta1` (1.17–1.24), read
//! into the v1 shape: v1beta1 names an endpoint's node in
//! `topology["kubernetes.io/hostname"]` rather than in `nodeName`.

use futures::stream::BoxStream;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};
use serde_json::Value;
use tracing::{info, warn};

use ferrolb_k8s::watch::{watch, watch_kind};

/// The EndpointSlice API version to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SliceVersion {
    V1,
    V1beta1,
}

/// The newest version the API server serves (v1 when discovery fails: the
/// watch then reports the problem).
pub async fn served_version(client: &Client) -> SliceVersion {
    let served = |group_version: &'static str| async move {
        client
            .list_api_group_resources(group_version)
            .await
            .is_ok_and(|list| list.resources.iter().any(|r| r.name == "endpointslices"))
    };
    let version =
        if served("discovery.k8s.io/v1").await || !served("discovery.k8s.io/v1beta1").await {
            SliceVersion::V1
        } else {
            SliceVersion::V1beta1
        };
    info!(?version, "reading EndpointSlices");
    version
}

/// Every EndpointSlice of the cluster, in the v1 shape.
pub fn slice_inputs<I: Send + 'static>(
    client: &Client,
    version: SliceVersion,
    wrap: fn(Event<EndpointSlice>) -> I,
) -> BoxStream<'static, I> {
    match version {
        SliceVersion::V1 => watch(
            Api::<EndpointSlice>::all(client.clone()),
            watcher::Config::default(),
            wrap,
        ),
        SliceVersion::V1beta1 => {
            let gvk = GroupVersionKind::gvk("discovery.k8s.io", "v1beta1", "EndpointSlice");
            let resource = ApiResource::from_gvk(&gvk);
            let api = Api::<DynamicObject>::all_with(client.clone(), &resource);
            watch_kind(
                api,
                watcher::Config::default(),
                "EndpointSlice(v1beta1)".into(),
                move |e| map_event(e, from_dynamic).map(wrap),
            )
        }
    }
}

/// The same event about the converted object; objects that do not convert
/// are dropped (with a warning) rather than stopping the watch.
fn map_event<A, B>(event: Event<A>, convert: fn(A) -> Option<B>) -> Option<Event<B>> {
    Some(match event {
        Event::Apply(o) => Event::Apply(convert(o)?),
        Event::Delete(o) => Event::Delete(convert(o)?),
        Event::Init => Event::Init,
        Event::InitApply(o) => Event::InitApply(convert(o)?),
        Event::InitDone => Event::InitDone,
    })
}

fn from_dynamic(object: DynamicObject) -> Option<EndpointSlice> {
    let name = object.metadata.name.clone().unwrap_or_default();
    let converted = serde_json::to_value(object).and_then(from_v1beta1);
    match converted {
        Ok(slice) => Some(slice),
        Err(e) => {
            warn!(slice = %name, error = %e, "cannot read this v1beta1 EndpointSlice; ignored");
            None
        }
    }
}

/// A v1beta1 EndpointSlice as v1.
pub fn from_v1beta1(mut value: Value) -> Result<EndpointSlice, serde_json::Error> {
    value["apiVersion"] = "discovery.k8s.io/v1".into();
    value["kind"] = "EndpointSlice".into();
    if let Some(endpoints) = value.get_mut("endpoints").and_then(Value::as_array_mut) {
        for endpoint in endpoints {
            let hostname = endpoint
                .pointer("/topology/kubernetes.io~1hostname")
                .cloned();
            if let (Some(hostname), Some(fields)) = (hostname, endpoint.as_object_mut()) {
                fields.entry("nodeName").or_insert(hostname);
            }
        }
    }
    serde_json::from_value(value)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_v1beta1_slice_names_its_nodes_as_v1_does() {
        let slice = from_v1beta1(json!({
            "apiVersion": "discovery.k8s.io/v1beta1",
            "kind": "EndpointSlice",
            "metadata": {"name": "web-abc", "namespace": "shop",
                         "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "endpoints": [
                {"addresses": ["10.244.1.5"], "conditions": {"ready": true},
                 "topology": {"kubernetes.io/hostname": "node-1"}},
                {"addresses": ["10.244.2.5"], "conditions": {"ready": false},
                 "nodeName": "node-2", "topology": {"kubernetes.io/hostname": "other"}},
                {"addresses": ["10.244.3.5"]}
            ]
        }))
        .unwrap();
        let nodes: Vec<Option<&str>> = slice
            .endpoints
            .iter()
            .flatten()
            .map(|e| e.node_name.as_deref())
            .collect();
        assert_eq!(
            nodes,
            [Some("node-1"), Some("node-2"), None],
            "nodeName wins"
        );
        assert_eq!(
            crate::adapt::slice_service(&slice),
            Some(crate::decide::ServiceKey::new("shop", "web"))
        );
    }
}
