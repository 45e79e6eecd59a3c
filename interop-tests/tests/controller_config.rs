//! An invalid configuration is refused as a whole: the last good one stays,
//! no address moves, new Services are still served from it, and
//! ConfigurationState plus an Event on the faulty object say what is wrong.
//! A valid change that shrinks a pool orphans, never moves.

#[path = "controller_support/mod.rs"]
mod support;

use std::time::Duration;

use ferrolb_crds::api::{ConfigurationResult, ConfigurationState, IPAddressPool};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use support::*;

#[test]
fn an_invalid_configuration_moves_nothing_and_is_reported() -> TestResult {
    block_on(async {
        let cluster = Cluster::start().await?;
        let admin = cluster.admin.clone();
        configure(&admin, vec![pool("a", &["192.0.2.0/29"])]).await?;
        let _replica = Replica::start(&cluster, "replica-a", Duration::from_secs(10))?;
        create(&admin, lb_service("first", &[], 80)).await?;
        let first = wait_assigned(&admin, "first").await?;
        assert_eq!(ingress(&first), ["192.0.2.0"]);

        // Pool "b" overlaps "a", and "a" is edited at the same time: the
        // whole configuration is refused, the edit to "a" included.
        let pools: Api<IPAddressPool> = Api::namespaced(admin.clone(), NS);
        pools
            .create(&PostParams::default(), &pool("b", &["192.0.2.4/30"]))
            .await?;
        pools
            .patch(
                "a",
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"spec": {"addresses": ["192.0.2.6/31"]}})),
            )
            .await?;
        let states: Api<ConfigurationState> = Api::namespaced(admin.clone(), NS);
        let summary = wait_for(
            "ConfigurationState Invalid",
            Duration::from_secs(30),
            || async {
                let s = states.get_opt("controller").await?.and_then(|s| s.status);
                Ok(s.filter(|s| s.result == Some(ConfigurationResult::Invalid))
                    .map(|s| s.error_summary))
            },
        )
        .await?;
        assert!(summary.contains("overlaps"), "{summary}");
        let note = wait_event(&admin, NS, "b", "InvalidConfig").await?;
        assert!(note.contains("overlaps"), "{note}");

        // Served from the last good configuration: "first" keeps its
        // address and is not even rewritten; a new Service gets the next
        // address of the old "a".
        create(&admin, lb_service("second", &[], 80)).await?;
        assert_eq!(
            ingress(&wait_assigned(&admin, "second").await?),
            ["192.0.2.1"]
        );
        let again = services(&admin).get("first").await?;
        assert_eq!(
            again.metadata.resource_version,
            first.metadata.resource_version
        );

        // Fixed: valid again, with the edit to "a" now in force. "first"
        // and "second" are outside the new "a": they keep their addresses
        // (orphaned, reported), and lose the pool annotation.
        pools.delete("b", &DeleteParams::default()).await?;
        wait_for(
            "ConfigurationState Valid",
            Duration::from_secs(30),
            || async {
                let s = states.get("controller").await?.status;
                Ok(s.filter(|s| s.result == Some(ConfigurationResult::Valid))
                    .map(drop))
            },
        )
        .await?;
        let note = wait_event(&admin, APPS, "first", "AddressOrphaned").await?;
        assert!(note.contains("192.0.2.0"), "{note}");
        let first = services(&admin).get("first").await?;
        assert_eq!(ingress(&first), ["192.0.2.0"]);
        create(&admin, lb_service("third", &[], 80)).await?;
        assert_eq!(
            ingress(&wait_assigned(&admin, "third").await?),
            ["192.0.2.6"]
        );
        Ok(())
    })
}
