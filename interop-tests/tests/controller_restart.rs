//! A restart never moves an address: the new controller adopts what the
//! Services record before it assigns anything new, and rewrites none of
//! them.

#[path = "controller_support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use support::*;

const SERVICES: usize = 1000;

#[test]
fn a_restart_with_1000_services_moves_nothing() -> TestResult {
    block_on(async {
        let cluster = Cluster::start().await?;
        let admin = cluster.admin.clone();
        configure(&admin, vec![pool("big", &["172.16.0.0/16"])]).await?;
        let replica = Replica::start(&cluster, "before", Duration::from_secs(10))?;
        // Created in reverse name order, a few at a time: the addresses
        // then do not follow name order, so a restart that assigned in
        // name order would move them.
        let names: Vec<String> = (0..SERVICES).rev().map(|i| format!("svc-{i:04}")).collect();
        futures::stream::iter(names.clone())
            .map(|n| {
                let admin = admin.clone();
                async move { create(&admin, lb_service(&n, &[], 80)).await }
            })
            .buffered(16)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<TestResult<Vec<_>>>()?;
        let before = wait_for(
            "every Service assigned",
            Duration::from_secs(120),
            || async {
                let all = services(&admin).list(&Default::default()).await?.items;
                let assigned: BTreeMap<String, (Vec<String>, Option<String>)> = all
                    .iter()
                    // Status and annotation are two writes: wait for both.
                    .filter(|s| {
                        !ingress(s).is_empty()
                            && annotation(s, "metallb.io/ip-allocated-from-pool").is_some()
                    })
                    .map(|s| {
                        (
                            s.metadata.name.clone().unwrap_or_default(),
                            (ingress(s), s.metadata.resource_version.clone()),
                        )
                    })
                    .collect();
                Ok((assigned.len() == SERVICES).then_some(assigned))
            },
        )
        .await?;
        let sorted: Vec<&String> = before.values().map(|(ips, _)| &ips[0]).collect();
        let mut distinct = sorted.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), SERVICES, "addresses are unique");
        assert_eq!(replica.stop().await, "Ok(())");
        // While it is down, a Service whose name sorts first arrives.
        create(&admin, lb_service("aaa-new", &[], 80)).await?;
        let _after = Replica::start(&cluster, "after", Duration::from_secs(10))?;
        let new = wait_assigned(&admin, "aaa-new").await?;
        assert!(
            !sorted.contains(&&ingress(&new)[0]),
            "the newcomer took a held address: {:?}",
            ingress(&new)
        );
        for svc in services(&admin).list(&Default::default()).await?.items {
            let name = svc.metadata.name.clone().unwrap_or_default();
            if let Some((ips, rv)) = before.get(&name) {
                assert_eq!(&ingress(&svc), ips, "{name} moved");
                assert_eq!(&svc.metadata.resource_version, rv, "{name} was rewritten");
            }
        }
        Ok(())
    })
}
