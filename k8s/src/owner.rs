//! Owner references on what FerroLB writes while it runs, so that
//! Kubernetes' garbage collector deletes it together with its writer and
//! `helm uninstall` leaves nothing behind but the CRDs (deletes FerroLB
//! would make on the way out race Helm's removal of its RBAC).
//!
//! - A speaker's status objects (`ServiceL2Status`, `ServiceBGPStatus`,
//!   `BGPSessionState`) belong to the speaker's Pod, as MetalLB's do: they
//!   say what that speaker announces, which ends with the Pod (a stopping
//!   speaker deletes them itself; a killed or evicted one leaves them to the
//!   collector).
//! - The controller's `ConfigurationState` and leader-election Lease belong
//!   to its Deployment, not to a Pod: they describe the configuration and
//!   the election, which outlive every replica, so a rolling restart must
//!   not delete and recreate them (a standby Pod may not have taken over
//!   yet when the old leader's Pod goes).
//!
//! Neither reference is a controller reference nor blocks the owner's
//! deletion (which would need delete rights on the owner), as MetalLB's
//! `SetOwnerReference`. Without a Pod (standalone `ferrolb run`, tests
//! against a bare API server) nothing is owned.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::{Api, Client};

/// Why an owner reference cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum OwnerError {
    /// A name or UID the downward API should have given is empty.
    #[error("the {kind}'s {field} is empty (the downward API's metadata.{field})")]
    Empty {
        /// `Pod` or `Deployment`.
        kind: &'static str,
        /// `name` or `uid`.
        field: &'static str,
    },
    /// The controller's Deployment could not be read.
    #[error(
        "cannot read the controller's Deployment {namespace}/{name} (--deployment) to own the ConfigurationState and Lease: {source}"
    )]
    Deployment {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// Why.
        source: kube::Error,
    },
}

/// The reference to a Pod (a speaker's own, from the downward API's
/// `metadata.name` and `metadata.uid`).
pub fn pod(name: &str, uid: &str) -> Result<OwnerReference, OwnerError> {
    reference("v1", "Pod", name, uid)
}

/// The reference to a Deployment as read from the API.
pub fn deployment(d: &Deployment) -> Result<OwnerReference, OwnerError> {
    reference(
        "apps/v1",
        "Deployment",
        d.metadata.name.as_deref().unwrap_or_default(),
        d.metadata.uid.as_deref().unwrap_or_default(),
    )
}

/// Reads the Deployment `name` in `namespace` and makes its reference.
pub async fn fetch_deployment(
    client: Client,
    namespace: &str,
    name: &str,
) -> Result<OwnerReference, OwnerError> {
    let api: Api<Deployment> = Api::namespaced(client, namespace);
    let found = api
        .get(name)
        .await
        .map_err(|source| OwnerError::Deployment {
            namespace: namespace.into(),
            name: name.into(),
            source,
        })?;
    deployment(&found)
}

/// Whether `meta` names exactly `owner` (by UID) as its only owner: an
/// object that also or only names another owner (an earlier Pod of the same
/// speaker, or the Node older versions used) must be rewritten, or the
/// collector deletes it when that owner goes, or keeps it while that one
/// lives.
pub fn owned_only_by(meta: &ObjectMeta, owner: Option<&OwnerReference>) -> bool {
    let owners = meta.owner_references.as_deref().unwrap_or_default();
    match owner {
        Some(owner) => owners.len() == 1 && owners[0].uid == owner.uid,
        None => owners.is_empty(),
    }
}

fn reference(
    api_version: &str,
    kind: &'static str,
    name: &str,
    uid: &str,
) -> Result<OwnerReference, OwnerError> {
    for (field, value) in [("name", name), ("uid", uid)] {
        if value.trim().is_empty() {
            return Err(OwnerError::Empty { kind, field });
        }
    }
    Ok(OwnerReference {
        api_version: api_version.into(),
        kind: kind.into(),
        name: name.into(),
        uid: uid.into(),
        controller: None,
        block_owner_deletion: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pod_reference_names_the_pod_and_blocks_nothing() {
        let r = pod("speaker-x7k2p", "0b1c2d3e-aaaa-bbbb-cccc-1234567890ab").unwrap();
        assert_eq!(r.api_version, "v1");
        assert_eq!(r.kind, "Pod");
        assert_eq!(r.name, "speaker-x7k2p");
        assert_eq!(r.uid, "0b1c2d3e-aaaa-bbbb-cccc-1234567890ab");
        // Not a controller reference, and deleting the Pod never waits for
        // its status objects (blocking needs delete rights on Pods).
        assert_eq!(r.controller, None);
        assert_eq!(r.block_owner_deletion, None);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "name": "speaker-x7k2p",
                "uid": "0b1c2d3e-aaaa-bbbb-cccc-1234567890ab",
            })
        );
    }

    #[test]
    fn a_deployment_reference_comes_from_the_object_read() {
        let d = Deployment {
            metadata: ObjectMeta {
                name: Some("metallb-ferrolb-controller".into()),
                namespace: Some("metallb-system".into()),
                uid: Some("d-uid".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let r = deployment(&d).unwrap();
        // A Deployment read from the API has no apiVersion/kind set: the
        // reference must still name the group and kind.
        assert_eq!(
            (r.api_version.as_str(), r.kind.as_str(), r.name.as_str()),
            ("apps/v1", "Deployment", "metallb-ferrolb-controller")
        );
        assert_eq!(r.uid, "d-uid");
        assert_eq!((r.controller, r.block_owner_deletion), (None, None));
    }

    #[test]
    fn an_empty_name_or_uid_is_refused_with_the_field() {
        let e = pod("speaker-1", "").unwrap_err();
        assert_eq!(
            e.to_string(),
            "the Pod's uid is empty (the downward API's metadata.uid)"
        );
        assert!(matches!(
            pod(" ", "u"),
            Err(OwnerError::Empty { field: "name", .. })
        ));
        assert!(deployment(&Deployment::default()).is_err());
    }

    #[test]
    fn only_the_exact_owner_counts_as_owned() {
        let me = pod("speaker-new", "new").unwrap();
        let old = pod("speaker-old", "old").unwrap();
        let node = OwnerReference {
            api_version: "v1".into(),
            kind: "Node".into(),
            name: "n1".into(),
            uid: "node".into(),
            ..Default::default()
        };
        let meta = |owners: Vec<OwnerReference>| ObjectMeta {
            owner_references: Some(owners),
            ..Default::default()
        };
        assert!(owned_only_by(&meta(vec![me.clone()]), Some(&me)));
        // An earlier Pod of this speaker (same node, new UID) or the Node:
        // rewrite.
        assert!(!owned_only_by(&meta(vec![old.clone()]), Some(&me)));
        assert!(!owned_only_by(&meta(vec![node.clone()]), Some(&me)));
        assert!(!owned_only_by(&meta(vec![me.clone(), old]), Some(&me)));
        assert!(!owned_only_by(&ObjectMeta::default(), Some(&me)));
        // Without a Pod: owned means no owner at all.
        assert!(owned_only_by(&ObjectMeta::default(), None));
        assert!(!owned_only_by(&meta(vec![node]), None));
    }
}
