//! The generated CRDs on a real API server: they install (every kind, with
//! the CEL rules stripped for 1.20), apply MetalLB's defaults, and the server
//! itself refuses what the schemas forbid, with no webhook involved.

#[path = "controller_support/mod.rs"]
mod support;

use ferrolb_crds::api::{BGPPeer, IPAddressPool};
use kube::api::{Api, ApiResource, DynamicObject, PostParams};
use support::*;

/// Creates `object` (JSON) as a `K` in metallb-system; the server's answer.
async fn create<K>(
    admin: &kube::Client,
    object: serde_json::Value,
) -> Result<DynamicObject, kube::Error>
where
    K: kube::Resource<DynamicType = ()>,
{
    let resource = ApiResource::erase::<K>(&());
    let api: Api<DynamicObject> = Api::namespaced_with(admin.clone(), NS, &resource);
    let object: DynamicObject = serde_json::from_value(object).expect("object json");
    api.create(&PostParams::default(), &object).await
}

fn refused(result: Result<DynamicObject, kube::Error>, what: &str) -> String {
    match result {
        Err(kube::Error::Api(status)) if status.code == 422 => status.message,
        other => panic!("{what}: expected 422 Invalid, got {other:?}"),
    }
}

#[test]
fn the_crds_install_default_and_refuse_bad_objects() -> TestResult {
    block_on(async {
        let cluster = Cluster::start().await?;
        let admin = cluster.admin.clone();

        // Defaults come from the schema: autoAssign true, peerPort 179.
        let pool = create::<IPAddressPool>(
            &admin,
            serde_json::json!({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
                "metadata": {"name": "ok"}, "spec": {"addresses": ["192.0.2.0/28"]}}),
        )
        .await?;
        assert_eq!(pool.data["spec"]["autoAssign"], true, "{:?}", pool.data);
        let peer = create::<BGPPeer>(
            &admin,
            serde_json::json!({"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
                "metadata": {"name": "ok"}, "spec": {"myASN": 64512, "peerASN": 64500, "peerAddress": "10.0.0.1"}}),
        )
        .await?;
        assert_eq!(peer.data["spec"]["peerPort"], 179, "{:?}", peer.data);

        let wrong_type = create::<IPAddressPool>(
            &admin,
            serde_json::json!({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
                "metadata": {"name": "bad-type"}, "spec": {"addresses": "192.0.2.0/28"}}),
        )
        .await;
        let message = refused(wrong_type, "addresses as a string");
        assert!(message.contains("spec.addresses"), "{message}");

        let out_of_range = create::<BGPPeer>(
            &admin,
            serde_json::json!({"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
                "metadata": {"name": "bad-port"}, "spec": {"myASN": 64512, "peerASN": 64500,
                "peerAddress": "10.0.0.1", "peerPort": 70000}}),
        )
        .await;
        let message = refused(out_of_range, "peerPort 70000");
        assert!(message.contains("spec.peerPort"), "{message}");

        // The older version is served too, with no conversion webhook.
        let v1beta1 = create::<ferrolb_crds::api::bgppeer::v1beta1::BGPPeer>(
            &admin,
            serde_json::json!({"apiVersion": "metallb.io/v1beta1", "kind": "BGPPeer",
                "metadata": {"name": "old"}, "spec": {"myASN": 64512, "peerASN": 64501, "peerAddress": "10.0.0.2"}}),
        )
        .await;
        assert!(v1beta1.is_ok(), "{v1beta1:?}");
        Ok(())
    })
}
