//! The controller against a real kube-apiserver, with exactly the chart's
//! RBAC: addresses land in status with the pool annotation and Events;
//! requests, pools, sharing and exhaustion behave as MetalLB's; deleting a
//! Service frees its address; pool status, ConfigurationState and metrics
//! report usage.

#[path = "controller_support/mod.rs"]
mod support;

use std::time::Duration;

use ferrolb_crds::api::{ConfigurationResult, ConfigurationState, IPAddressPool};
use kube::api::{Api, Patch, PatchParams};
use support::*;

const POOL_ANNOTATION: &str = "metallb.io/ip-allocated-from-pool";

#[test]
fn services_get_addresses_requests_sharing_exhaustion_and_release() -> TestResult {
    block_on(async {
        let cluster = Cluster::start().await?;
        let admin = cluster.admin.clone();
        configure(
            &admin,
            vec![pool("small", &["192.0.2.0-192.0.2.2"]), {
                let mut p = pool("reserved", &["198.51.100.0/30"]);
                p.spec.auto_assign = false;
                p
            }],
        )
        .await?;
        let replica = Replica::start(&cluster, "replica-a", Duration::from_secs(10))?;

        // A plain LoadBalancer Service: lowest address of the auto pool.
        create(&admin, lb_service("web", &[], 80)).await?;
        let web = wait_assigned(&admin, "web").await?;
        assert_eq!(ingress(&web), ["192.0.2.0"]);
        assert_eq!(annotation(&web, POOL_ANNOTATION), Some("small"));
        let note = wait_event(&admin, APPS, "web", "IPAllocated").await?;
        assert!(note.contains("192.0.2.0"), "{note}");

        // A requested address and a requested (non-auto) pool.
        create(
            &admin,
            lb_service("fixed", &[("metallb.io/loadBalancerIPs", "192.0.2.2")], 80),
        )
        .await?;
        create(
            &admin,
            lb_service("vip", &[("metallb.io/address-pool", "reserved")], 80),
        )
        .await?;
        assert_eq!(
            ingress(&wait_assigned(&admin, "fixed").await?),
            ["192.0.2.2"]
        );
        let vip = wait_assigned(&admin, "vip").await?;
        assert_eq!(ingress(&vip), ["198.51.100.0"]);
        assert_eq!(annotation(&vip, POOL_ANNOTATION), Some("reserved"));

        // Sharing: same key, different ports, same address.
        let shared = [
            ("metallb.io/allow-shared-ip", "k"),
            ("metallb.io/loadBalancerIPs", "192.0.2.1"),
        ];
        create(&admin, lb_service("share-a", &shared, 80)).await?;
        create(&admin, lb_service("share-b", &shared, 443)).await?;
        assert_eq!(
            ingress(&wait_assigned(&admin, "share-a").await?),
            ["192.0.2.1"]
        );
        assert_eq!(
            ingress(&wait_assigned(&admin, "share-b").await?),
            ["192.0.2.1"]
        );
        // Same port: refused, and the Event names the holder and the port.
        create(&admin, lb_service("share-c", &shared, 80)).await?;
        let note = wait_event(&admin, APPS, "share-c", "AllocationFailed").await?;
        assert!(note.contains("TCP/80"), "{note}");

        // The pool is full now: exhaustion is an Event, the Service pending.
        create(&admin, lb_service("late", &[], 80)).await?;
        let note = wait_event(&admin, APPS, "late", "AllocationFailed").await?;
        assert!(note.contains("exhausted"), "{note}");
        assert!(ingress(&services(&admin).get("late").await?).is_empty());

        // Deprecated annotation: honoured, and warned about.
        create(
            &admin,
            lb_service(
                "old",
                &[("metallb.universe.tf/address-pool", "reserved")],
                80,
            ),
        )
        .await?;
        assert_eq!(
            ingress(&wait_assigned(&admin, "old").await?),
            ["198.51.100.1"]
        );
        let note = wait_event(&admin, APPS, "old", "DeprecatedAnnotation").await?;
        assert!(note.contains("metallb.universe.tf/address-pool"), "{note}");

        // Deleting "web" frees 192.0.2.0, which the pending Service gets.
        delete(&admin, "web").await?;
        assert_eq!(
            ingress(&wait_assigned(&admin, "late").await?),
            ["192.0.2.0"]
        );

        // A Service that stops being a LoadBalancer is cleared.
        services(&admin)
            .patch(
                "fixed",
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"spec": {"type": "ClusterIP"}})),
            )
            .await?;
        wait_for("fixed to be cleared", Duration::from_secs(30), || async {
            let svc = services(&admin).get("fixed").await?;
            Ok(
                (ingress(&svc).is_empty() && annotation(&svc, POOL_ANNOTATION).is_none())
                    .then_some(()),
            )
        })
        .await?;
        wait_event(&admin, APPS, "fixed", "ClearAssignment").await?;

        // (`spec.loadBalancerClass` arrived in Kubernetes 1.21: the 1.20
        // test server drops it, so `--lb-class` is covered by unit tests.)

        // Pool status and the configuration state.
        let pools: Api<IPAddressPool> = Api::namespaced(admin.clone(), NS);
        wait_for("pool status", Duration::from_secs(30), || async {
            let p = pools.get("small").await?;
            Ok(p.status
                .filter(|s| s.assigned_ipv4 == 2 && s.available_ipv4 == 1)
                .map(drop))
        })
        .await?;
        let state: Api<ConfigurationState> = Api::namespaced(admin.clone(), NS);
        let state = state.get("controller").await?;
        assert_eq!(
            state.status.and_then(|s| s.result),
            Some(ConfigurationResult::Valid)
        );

        // MetalLB's metric names.
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &replica.registry)?;
        assert!(
            text.contains("metallb_allocator_addresses_in_use_total{pool=\"small\"} 2"),
            "{text}"
        );
        assert!(text.contains("metallb_allocator_addresses_total{pool=\"reserved\"} 4"));
        let outcome = replica.stop().await;
        assert_eq!(outcome, "Ok(())");
        Ok(())
    })
}
