//! Dual-stack Services against a real API server (1.20 with its
//! IPv6DualStack gate on): one address of each family, from one pool;
//! PreferDualStack settles for one family when the pool has only that.

#[path = "controller_support/mod.rs"]
mod support;

use std::net::IpAddr;
use std::time::Duration;

use support::*;

fn dual(name: &str, policy: &str) -> k8s_openapi::api::core::v1::Service {
    let mut svc = lb_service(name, &[], 80);
    if let Some(spec) = svc.spec.as_mut() {
        spec.ip_family_policy = Some(policy.into());
        spec.ip_families = Some(vec!["IPv4".into(), "IPv6".into()]);
    }
    svc
}

#[test]
fn dual_stack_services_get_one_address_of_each_family() -> TestResult {
    block_on(async {
        let cluster = Cluster::start().await?;
        let admin = cluster.admin.clone();
        configure(
            &admin,
            vec![
                pool("both", &["192.0.2.0/29", "2001:db8::/125"]),
                pool("v4only", &["198.51.100.0/29"]),
            ],
        )
        .await?;
        let _replica = Replica::start(&cluster, "replica-a", Duration::from_secs(10))?;

        create(&admin, dual("required", "RequireDualStack")).await?;
        let svc = wait_assigned(&admin, "required").await?;
        let families: Vec<bool> = ingress(&svc)
            .iter()
            .map(|a| a.parse::<IpAddr>().map(|ip| ip.is_ipv4()))
            .collect::<Result<_, _>>()?;
        assert_eq!(
            families,
            [true, false],
            "IPv4 first, then IPv6: {:?}",
            ingress(&svc)
        );
        assert_eq!(
            annotation(&svc, "metallb.io/ip-allocated-from-pool"),
            Some("both")
        );

        // Asked for the IPv4-only pool, PreferDualStack settles for IPv4.
        let mut preferred = dual("preferred", "PreferDualStack");
        preferred
            .metadata
            .annotations
            .get_or_insert_default()
            .insert("metallb.io/address-pool".into(), "v4only".into());
        create(&admin, preferred).await?;
        let svc = wait_assigned(&admin, "preferred").await?;
        assert_eq!(ingress(&svc), ["198.51.100.0"]);
        Ok(())
    })
}
