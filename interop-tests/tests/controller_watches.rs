//! The controller follows what the configuration depends on: Namespace
//! labels (serviceAllocation.namespaceSelectors) and the Secrets BGPPeers
//! name, so a labelled namespace or a created Secret takes effect without a
//! restart.

#[path = "controller_support/mod.rs"]
mod support;

use std::time::Duration;

use ferrolb_crds::api::{BGPPeer, ConfigurationResult, ConfigurationState};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, Patch, PatchParams, PostParams};
use support::*;

async fn result(admin: &kube::Client) -> TestResult<Option<(ConfigurationResult, String)>> {
    let states: Api<ConfigurationState> = Api::namespaced(admin.clone(), NS);
    Ok(states
        .get_opt("controller")
        .await?
        .and_then(|s| s.status)
        .and_then(|s| s.result.map(|r| (r, s.error_summary))))
}

#[test]
fn namespace_labels_and_peer_secrets_take_effect_live() -> TestResult {
    block_on(async {
        let cluster = Cluster::start().await?;
        let admin = cluster.admin.clone();
        let mut team = pool("team", &["192.0.2.0/30"]);
        team.spec.service_allocation = Some(serde_json::from_value(serde_json::json!({
            "namespaceSelectors": [{"matchLabels": {"team": "blue"}}]
        }))?);
        configure(&admin, vec![team]).await?;
        let _replica = Replica::start(&cluster, "replica-a", Duration::from_secs(10))?;

        // The only pool is for namespaces labelled team=blue.
        create(&admin, lb_service("web", &[], 80)).await?;
        let note = wait_event(&admin, APPS, "web", "AllocationFailed").await?;
        assert!(note.contains("does not allow namespace apps"), "{note}");
        Api::<Namespace>::all(admin.clone())
            .patch(
                APPS,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"metadata": {"labels": {"team": "blue"}}})),
            )
            .await?;
        assert_eq!(ingress(&wait_assigned(&admin, "web").await?), ["192.0.2.0"]);

        // A BGPPeer whose password Secret does not exist: invalid.
        let peer: BGPPeer = serde_json::from_value(serde_json::json!({
            "apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
            "metadata": {"name": "router", "namespace": NS},
            "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "198.51.100.1",
                     "passwordSecret": {"name": "bgp-password"}}
        }))?;
        Api::<BGPPeer>::namespaced(admin.clone(), NS)
            .create(&PostParams::default(), &peer)
            .await?;
        let summary = wait_for(
            "Invalid for the missing Secret",
            Duration::from_secs(30),
            || async {
                Ok(result(&admin)
                    .await?
                    .filter(|(r, _)| *r == ConfigurationResult::Invalid)
                    .map(|(_, s)| s))
            },
        )
        .await?;
        assert!(summary.contains("bgp-password"), "{summary}");
        wait_event(&admin, NS, "router", "InvalidConfig").await?;

        // The Secret appears: valid again, without a restart.
        let secret: Secret = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
            "metadata": {"name": "bgp-password", "namespace": NS},
            "stringData": {"password": "s3cret"}
        }))?;
        Api::<Secret>::namespaced(admin.clone(), NS)
            .create(&PostParams::default(), &secret)
            .await?;
        wait_for("Valid with the Secret", Duration::from_secs(30), || async {
            Ok(result(&admin)
                .await?
                .filter(|(r, _)| *r == ConfigurationResult::Valid)
                .map(drop))
        })
        .await?;
        Ok(())
    })
}
