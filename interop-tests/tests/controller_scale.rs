//! Scale run (ignored by default; a measurement, not a check of speed):
//! 1,000 LoadBalancer Services created at once, time from each creation to
//! its status being written (p50/p99), then a restart that must move and
//! rewrite none of them, and how long the new leader takes to be ready.
//!
//! `cargo test -p interop-tests --test controller_scale -- --ignored --nocapture`

#[path = "controller_support/mod.rs"]
mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::runtime::watcher;
use support::*;

const SERVICES: usize = 1000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[test]
#[ignore = "measurement; run explicitly"]
fn one_thousand_services_latency_and_restart() -> TestResult {
    block_on(async {
        let cluster = Cluster::start().await?;
        let admin = cluster.admin.clone();
        configure(&admin, vec![pool("big", &["172.16.0.0/16"])]).await?;
        let replica = Replica::start(&cluster, "before", Duration::from_secs(15))?;
        wait_for(
            "the replica to be ready",
            Duration::from_secs(30),
            || async { Ok(replica.ready.load(Ordering::Acquire).then_some(())) },
        )
        .await?;

        // Watch for written statuses from the test's side.
        let seen: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
        let watch = {
            let seen = seen.clone();
            let stream = watcher(services(&admin), watcher::Config::default());
            tokio::spawn(async move {
                let mut stream = std::pin::pin!(stream);
                while let Some(e) = stream.next().await {
                    if let Ok(watcher::Event::Apply(s) | watcher::Event::InitApply(s)) = e
                        && !ingress(&s).is_empty()
                    {
                        let name = s.metadata.name.clone().unwrap_or_default();
                        seen.lock()
                            .unwrap()
                            .entry(name)
                            .or_insert_with(Instant::now);
                    }
                }
            })
        };
        let started = Instant::now();
        let created: Vec<(String, Instant)> = futures::stream::iter(0..SERVICES)
            .map(|i| {
                let admin = admin.clone();
                async move {
                    let name = format!("svc-{i:04}");
                    let before = Instant::now();
                    create(&admin, lb_service(&name, &[], 80)).await?;
                    TestResult::Ok((name, before))
                }
            })
            .buffer_unordered(16)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<TestResult<_>>()?;
        let create_time = started.elapsed();
        wait_for("every status", Duration::from_secs(300), || async {
            Ok((seen.lock().unwrap().len() >= SERVICES).then_some(()))
        })
        .await?;
        let all_done = started.elapsed();
        watch.abort();
        let seen = seen.lock().unwrap().clone();
        let mut latency: Vec<Duration> = created
            .iter()
            .map(|(n, t)| seen[n].saturating_duration_since(*t))
            .collect();
        latency.sort();
        println!(
            "{SERVICES} services: created in {create_time:?}, all statuses in {all_done:?}; creation->status p50 {:?} p99 {:?} max {:?}",
            percentile(&latency, 0.5),
            percentile(&latency, 0.99),
            latency[latency.len() - 1]
        );

        // Restart: nothing moves, nothing is rewritten.
        let snapshot = || async {
            wait_for(
                "both writes on every Service",
                Duration::from_secs(120),
                || async {
                    let all = services(&admin).list(&Default::default()).await?.items;
                    let done: BTreeMap<String, (Vec<String>, Option<String>)> = all
                        .iter()
                        .filter(|s| annotation(s, "metallb.io/ip-allocated-from-pool").is_some())
                        .map(|s| {
                            (
                                s.metadata.name.clone().unwrap_or_default(),
                                (ingress(s), s.metadata.resource_version.clone()),
                            )
                        })
                        .collect();
                    Ok((done.len() == SERVICES).then_some(done))
                },
            )
            .await
        };
        let before = snapshot().await?;
        assert_eq!(replica.stop().await, "Ok(())");
        let restarted = Instant::now();
        let after_replica = Replica::start(&cluster, "after", Duration::from_secs(15))?;
        wait_for(
            "the new leader to be ready",
            Duration::from_secs(60),
            || async { Ok(after_replica.ready.load(Ordering::Acquire).then_some(())) },
        )
        .await?;
        // Ready means the views are complete and the first pass is under
        // way; a marker Service created now is served after it.
        create(&admin, lb_service("zzz-marker", &[], 80)).await?;
        wait_assigned(&admin, "zzz-marker").await?;
        println!(
            "restart with {SERVICES} services: serving a new Service {:?} after start",
            restarted.elapsed()
        );
        let after = snapshot_excluding(&admin, "zzz-marker").await?;
        assert_eq!(before, after, "a restart moved or rewrote a Service");
        Ok(())
    })
}

async fn snapshot_excluding(
    admin: &kube::Client,
    skip: &str,
) -> TestResult<BTreeMap<String, (Vec<String>, Option<String>)>> {
    Ok(services(admin)
        .list(&Default::default())
        .await?
        .items
        .iter()
        .filter(|s| s.metadata.name.as_deref() != Some(skip))
        .map(|s| {
            (
                s.metadata.name.clone().unwrap_or_default(),
                (ingress(s), s.metadata.resource_version.clone()),
            )
        })
        .collect())
}
