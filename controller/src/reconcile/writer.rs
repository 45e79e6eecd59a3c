//! Every write the reconciler makes. Service writes carry the
//! `resourceVersion` the decision was based on, so a decision made on a
//! stale view is refused (409) instead of overwriting a newer Service;
//! the next pass, on the fresh view, decides again.

use ferrolb_crds::api::{
    ConfigurationState, ConfigurationStateStatus, IPAddressPool, IPAddressPoolStatus,
};
use ferrolb_crds::config::{Kind, ObjectRef};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ferrolb_k8s::events::Events;
use k8s_openapi::api::core::v1::{ObjectReference, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Reporter};
use kube::{Client, Resource};
use serde_json::{Value, json};
use tracing::warn;

use super::plan::{Desired, Reason};
use crate::ipam::annotations::IP_ALLOCATED_FROM_POOL;

/// The two writes on a Service.
#[derive(Clone, Copy)]
enum Step {
    Status,
    Annotation,
}

/// The name of the controller's `ConfigurationState` (MetalLB's).
pub const CONFIGURATION_STATE: &str = "controller";

/// Why a write failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The object changed since the decision; decide again on the new view.
    #[error("{what}: the object changed meanwhile (409 conflict)")]
    Conflict {
        /// What was written.
        what: String,
    },
    /// The object is gone.
    #[error("{what}: not found")]
    Gone {
        /// What was written.
        what: String,
    },
    /// Any other API error; retried after a delay.
    #[error("{what}: {source}")]
    Api {
        /// What was written.
        what: String,
        /// The client's error.
        source: Box<kube::Error>,
    },
}

impl WriteError {
    fn from_kube(what: String, e: kube::Error) -> Self {
        match &e {
            kube::Error::Api(s) if s.code == 409 => WriteError::Conflict { what },
            kube::Error::Api(s) if s.code == 404 => WriteError::Gone { what },
            _ => WriteError::Api {
                what,
                source: Box::new(e),
            },
        }
    }
}

/// Writes through one client, as one field manager and event reporter.
#[derive(Clone)]
pub struct Writer {
    client: Client,
    events: Arc<Events>,
    namespace: String,
    /// Owner of the `ConfigurationState` (the controller's Deployment).
    owner: Option<OwnerReference>,
    /// The `ConfigurationState` names `owner` (created so by this process,
    /// or patched once when an earlier one left it without).
    owner_written: Arc<AtomicBool>,
    /// Status writes keep the annotation they carry (every API server
    /// checked does; one that does not is noticed and turns this off).
    status_keeps_metadata: Arc<AtomicBool>,
}

/// The field manager FerroLB's writes are recorded under.
pub const FIELD_MANAGER: &str = "ferrolb-controller";

impl Writer {
    /// A writer for a controller whose configuration lives in `namespace`;
    /// `instance` names this replica in Events; `owner` owns the
    /// `ConfigurationState`.
    pub fn new(
        client: Client,
        namespace: String,
        instance: String,
        owner: Option<OwnerReference>,
    ) -> Self {
        let events = Events::new(
            client.clone(),
            Reporter {
                controller: FIELD_MANAGER.into(),
                instance: Some(instance),
            },
        );
        Writer {
            client,
            events: Arc::new(events),
            namespace,
            owner_written: Arc::new(AtomicBool::new(owner.is_none())),
            status_keeps_metadata: Arc::new(AtomicBool::new(true)),
            owner,
        }
    }

    /// Writes `desired` into the Service's status and annotation. Returns
    /// the `resourceVersion` after each request, in order.
    ///
    /// When both differ they go in one request to the status subresource
    /// (the API server keeps metadata changes made there for Services):
    /// one write instead of two, and whoever sees an address sees its pool
    /// in the same version. An API server that drops metadata from status
    /// writes is noticed in the answer; from then on the annotation is a
    /// request of its own, as in [`Writer::service_in_two_steps`].
    pub async fn service(
        &self,
        svc: &Service,
        desired: &Desired,
    ) -> Result<Vec<Option<String>>, WriteError> {
        let status_differs = ferrolb_crds::service::recorded_addresses(svc) != desired.addresses;
        let annotation_differs =
            ferrolb_crds::service::recorded_pool(svc) != desired.pool.as_deref();
        let one_request = status_differs
            && annotation_differs
            && self.status_keeps_metadata.load(Ordering::Acquire);
        if !one_request {
            return self
                .service_in_two_steps(svc, desired, status_differs, annotation_differs)
                .await;
        }
        let target = Target::of(svc);
        let rv = svc.metadata.resource_version.as_deref();
        let mut patch = status_patch(rv, desired);
        patch["metadata"]["annotations"] = json!({ IP_ALLOCATED_FROM_POOL: desired.pool });
        let updated = target.patch_status(self, &patch).await?;
        let mut produced = vec![updated.metadata.resource_version.clone()];
        if ferrolb_crds::service::recorded_pool(&updated) != desired.pool.as_deref() {
            warn!(
                service = %target.what,
                "the API server dropped the pool annotation from a status write; writing it separately from now on"
            );
            self.status_keeps_metadata.store(false, Ordering::Release);
            let patch = annotation_patch(
                updated.metadata.resource_version.as_deref(),
                desired.pool.as_deref(),
            );
            let updated = target.patch(self, &patch).await?;
            produced.push(updated.metadata.resource_version);
        }
        Ok(produced)
    }

    /// The status and the annotation as two requests (or one, when only
    /// one differs). The annotation goes on before the addresses and comes
    /// off after them: whoever sees an address in the status sees its pool
    /// too, and a crash between the two steps leaves only a stray
    /// annotation, which the next pass fixes.
    async fn service_in_two_steps(
        &self,
        svc: &Service,
        desired: &Desired,
        status_differs: bool,
        annotation_differs: bool,
    ) -> Result<Vec<Option<String>>, WriteError> {
        let target = Target::of(svc);
        let mut rv = svc.metadata.resource_version.clone();
        let mut produced = Vec::new();
        let steps: [Step; 2] = if desired.addresses.is_empty() {
            [Step::Status, Step::Annotation]
        } else {
            [Step::Annotation, Step::Status]
        };
        for step in steps {
            let updated = match step {
                Step::Status if status_differs => {
                    target
                        .patch_status(self, &status_patch(rv.as_deref(), desired))
                        .await?
                }
                Step::Annotation if annotation_differs => {
                    let patch = annotation_patch(rv.as_deref(), desired.pool.as_deref());
                    target.patch(self, &patch).await?
                }
                _ => continue,
            };
            rv = updated.metadata.resource_version;
            produced.push(rv.clone());
        }
        Ok(produced)
    }

    /// Publishes an Event about `regarding`.
    pub async fn event(
        &self,
        regarding: &ObjectReference,
        reason: Reason,
        message: &str,
    ) -> Result<(), WriteError> {
        let event = Event {
            type_: if reason.is_warning() {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.as_str().into(),
            note: Some(truncate(message, 1000)),
            action: reason.as_str().into(),
            secondary: None,
        };
        self.publish(regarding, event).await
    }

    /// Publishes a configuration Event about a `metallb.io` object (or the
    /// controller's `ConfigurationState` when the finding names none).
    pub async fn config_event(
        &self,
        object: Option<&ObjectRef>,
        error: bool,
        message: &str,
    ) -> Result<(), WriteError> {
        let regarding = object.map_or_else(
            || ObjectReference {
                api_version: Some("metallb.io/v1beta1".into()),
                kind: Some("ConfigurationState".into()),
                namespace: Some(self.namespace.clone()),
                name: Some(CONFIGURATION_STATE.into()),
                ..Default::default()
            },
            config_reference,
        );
        let reason = if error {
            "InvalidConfig"
        } else {
            "ConfigWarning"
        };
        let event = Event {
            type_: if error {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.into(),
            note: Some(truncate(message, 1000)),
            action: "LoadConfig".into(),
            secondary: None,
        };
        self.publish(&regarding, event).await
    }

    async fn publish(&self, regarding: &ObjectReference, event: Event) -> Result<(), WriteError> {
        let what = format!(
            "Event on {} {}",
            regarding.kind.as_deref().unwrap_or_default(),
            regarding.name.as_deref().unwrap_or_default()
        );
        self.events
            .publish(&event, regarding)
            .await
            .map_err(|e| WriteError::from_kube(what, e))
    }

    /// Writes an `IPAddressPool`'s usage into its status.
    pub async fn pool_status(
        &self,
        pool: &str,
        status: &IPAddressPoolStatus,
    ) -> Result<(), WriteError> {
        let api: Api<IPAddressPool> = Api::namespaced(self.client.clone(), &self.namespace);
        let patch = json!({ "status": status });
        api.patch_status(pool, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(drop)
            .map_err(|e| WriteError::from_kube(format!("IPAddressPool {pool} status"), e))
    }

    /// Creates (if needed) and writes the controller's `ConfigurationState`.
    pub async fn configuration_state(
        &self,
        status: &ConfigurationStateStatus,
    ) -> Result<(), WriteError> {
        let what = || format!("ConfigurationState {CONFIGURATION_STATE}");
        let api: Api<ConfigurationState> = Api::namespaced(self.client.clone(), &self.namespace);
        let mut object = ConfigurationState::new(CONFIGURATION_STATE, Default::default());
        object.metadata.namespace = Some(self.namespace.clone());
        object.metadata.owner_references = self.owner.clone().map(|o| vec![o]);
        match api.create(&PostParams::default(), &object).await {
            Ok(_) => self.owner_written.store(true, Ordering::Release),
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => return Err(WriteError::from_kube(what(), e)),
        }
        if !self.owner_written.load(Ordering::Acquire) {
            // Left by a controller that set no owner (or another
            // Deployment's): the list is replaced whole, so only this
            // Deployment owns it from now on.
            let patch = json!({ "metadata": { "ownerReferences": [&self.owner] } });
            api.patch(
                CONFIGURATION_STATE,
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .map_err(|e| WriteError::from_kube(what(), e))?;
            self.owner_written.store(true, Ordering::Release);
        }
        // Merge patch replaces `errorSummary` and drops it when empty
        // (explicit null, since the serializer skips empty strings).
        let mut value = serde_json::to_value(status)
            .map_err(|e| WriteError::from_kube(what(), kube::Error::SerdeError(e)))?;
        if let Value::Object(map) = &mut value {
            map.entry("errorSummary").or_insert(Value::Null);
        }
        api.patch_status(
            CONFIGURATION_STATE,
            &PatchParams::default(),
            &Patch::Merge(&json!({ "status": value })),
        )
        .await
        .map(drop)
        .map_err(|e| WriteError::from_kube(what(), e))
    }
}

/// One Service's two endpoints (the object and its status), named for
/// errors.
struct Target {
    namespace: String,
    name: String,
    what: String,
}

impl Target {
    fn of(svc: &Service) -> Self {
        let namespace = svc.metadata.namespace.clone().unwrap_or_default();
        let name = svc.metadata.name.clone().unwrap_or_default();
        let what = format!("Service {namespace}/{name}");
        Target {
            namespace,
            name,
            what,
        }
    }

    fn api(&self, writer: &Writer) -> Api<Service> {
        Api::namespaced(writer.client.clone(), &self.namespace)
    }

    async fn patch_status(&self, writer: &Writer, patch: &Value) -> Result<Service, WriteError> {
        self.api(writer)
            .patch_status(&self.name, &service_params(), &Patch::Merge(patch))
            .await
            .map_err(|e| WriteError::from_kube(format!("{} status", self.what), e))
    }

    async fn patch(&self, writer: &Writer, patch: &Value) -> Result<Service, WriteError> {
        self.api(writer)
            .patch(&self.name, &service_params(), &Patch::Merge(patch))
            .await
            .map_err(|e| WriteError::from_kube(format!("{} annotation", self.what), e))
    }
}

fn service_params() -> PatchParams {
    PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    }
}

/// The status patch: the ingress list replaced whole (merge patch semantics
/// for lists), or removed. Only `ip` is set: newer fields (`ipMode`) would
/// break on older API servers.
pub fn status_patch(resource_version: Option<&str>, desired: &Desired) -> Value {
    let ingress = if desired.addresses.is_empty() {
        Value::Null
    } else {
        Value::Array(
            desired
                .addresses
                .iter()
                .map(|ip| json!({ "ip": ip.to_string() }))
                .collect(),
        )
    };
    json!({
        "metadata": { "resourceVersion": resource_version },
        "status": { "loadBalancer": { "ingress": ingress } },
    })
}

/// The annotation patch; `None` removes it.
pub fn annotation_patch(resource_version: Option<&str>, pool: Option<&str>) -> Value {
    json!({
        "metadata": {
            "resourceVersion": resource_version,
            "annotations": { IP_ALLOCATED_FROM_POOL: pool },
        },
    })
}

/// A reference to a `metallb.io` object (or Secret) a finding names.
fn config_reference(o: &ObjectRef) -> ObjectReference {
    let api_version = match o.kind {
        Kind::Secret => "v1",
        Kind::BGPPeer => "metallb.io/v1beta2",
        _ => "metallb.io/v1beta1",
    };
    ObjectReference {
        api_version: Some(api_version.into()),
        kind: Some(o.kind.to_string()),
        namespace: Some(o.namespace.clone()),
        name: Some(o.name.clone()),
        ..Default::default()
    }
}

/// The Service's reference for Events.
pub fn reference(svc: &Service) -> ObjectReference {
    svc.object_ref(&())
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_say_exactly_what_changes() {
        let d = Desired {
            addresses: vec!["10.0.0.1".parse().unwrap(), "fc00::1".parse().unwrap()],
            pool: Some("p".into()),
        };
        assert_eq!(
            status_patch(Some("7"), &d),
            json!({"metadata": {"resourceVersion": "7"},
                   "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}, {"ip": "fc00::1"}]}}})
        );
        assert_eq!(
            status_patch(Some("7"), &Desired::default())["status"]["loadBalancer"]["ingress"],
            Value::Null
        );
        assert_eq!(
            annotation_patch(Some("8"), None),
            json!({"metadata": {"resourceVersion": "8",
                   "annotations": {"metallb.io/ip-allocated-from-pool": null}}})
        );
    }

    #[test]
    fn long_messages_are_cut_at_a_character_boundary() {
        let s = "é".repeat(600);
        let t = truncate(&s, 1000);
        assert!(t.len() <= 1000 + '…'.len_utf8());
        assert!(t.ends_with('…'));
    }
}
