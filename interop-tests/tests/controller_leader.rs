//! Two replicas: only the Lease holder writes; when it dies without
//! releasing the Lease the other takes over after the lease expires, and a
//! graceful stop hands over at once.

#[path = "controller_support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use support::*;

async fn holder(admin: &kube::Client) -> TestResult<Option<String>> {
    let leases: Api<Lease> = Api::namespaced(admin.clone(), NS);
    Ok(leases
        .get_opt("ferrolb-controller")
        .await?
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity))
}

/// The reporting instances of every Event on `name`, once its
/// IPAllocated is there: a Service's Events are published after its
/// status is written, so an address seen does not mean its Event is.
async fn reporters(admin: &kube::Client, name: &str) -> TestResult<Vec<String>> {
    wait_event(admin, APPS, name, "IPAllocated").await?;
    Ok(events(admin, APPS, name)
        .await?
        .into_iter()
        .map(|(_, _, who)| who)
        .collect())
}

#[test]
fn only_the_leader_writes_and_a_dead_leader_is_replaced() -> TestResult {
    block_on(async {
        let cluster = Cluster::start().await?;
        let admin = cluster.admin.clone();
        configure(&admin, vec![pool("p", &["192.0.2.0/28"])]).await?;
        let lease = Duration::from_secs(6);
        let mut one = Replica::start(&cluster, "one", lease)?;
        let leader = wait_for("a lease holder", Duration::from_secs(30), || async {
            holder(&admin).await
        })
        .await?;
        assert_eq!(leader, "one");
        let mut two = Replica::start(&cluster, "two", lease)?;

        create(&admin, lb_service("s1", &[], 80)).await?;
        let s1 = wait_assigned(&admin, "s1").await?;
        assert_eq!(ingress(&s1), ["192.0.2.0"]);
        // Give the standby time to misbehave, then check nobody else wrote:
        // every Event names the leader as its reporting instance.
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(reporters(&admin, "s1").await?, ["one"]);
        assert_eq!(holder(&admin).await?.as_deref(), Some("one"));

        // Crash the leader: the lease is not released, so "two" waits for
        // it to expire, then serves.
        let killed = Instant::now();
        one.kill();
        create(&admin, lb_service("s2", &[], 80)).await?;
        let s2 = wait_assigned(&admin, "s2").await?;
        let took = killed.elapsed();
        assert_eq!(
            ingress(&s2),
            ["192.0.2.1"],
            "s1's address is known to the new leader"
        );
        assert_eq!(holder(&admin).await?.as_deref(), Some("two"));
        assert_eq!(reporters(&admin, "s2").await?, ["two"]);
        assert!(
            took >= lease / 2,
            "took over after {took:?}, before the lease expired"
        );

        // A graceful stop releases the lease: a new replica takes over
        // without waiting for expiry.
        let three = Replica::start(&cluster, "three", lease)?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(two.stop_now().await, "Ok(())");
        wait_for(
            "three to lead",
            Duration::from_secs(3 * lease.as_secs()),
            || async { Ok((holder(&admin).await?.as_deref() == Some("three")).then_some(())) },
        )
        .await?;
        create(&admin, lb_service("s3", &[], 80)).await?;
        assert_eq!(ingress(&wait_assigned(&admin, "s3").await?), ["192.0.2.2"]);
        assert_eq!(reporters(&admin, "s3").await?, ["three"]);
        drop(three);
        Ok(())
    })
}

#[test]
fn a_leader_that_sees_another_holder_stops_writing_at_once() -> TestResult {
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
    use kube::api::{Patch, PatchParams};

    block_on(async {
        let cluster = Cluster::start().await?;
        let admin = cluster.admin.clone();
        configure(&admin, vec![pool("p", &["192.0.2.0/28"])]).await?;
        // A long lease: the lease manager renews (and would notice) only
        // every 18 s; the leader's own check reads the Lease every second.
        let _one = Replica::start(&cluster, "one", Duration::from_secs(20))?;
        create(&admin, lb_service("s1", &[], 80)).await?;
        assert_eq!(ingress(&wait_assigned(&admin, "s1").await?), ["192.0.2.0"]);

        // Someone else holds the Lease now (as after a partition during
        // which "one" could not renew).
        let intruder = LeaseSpec {
            holder_identity: Some("intruder".into()),
            renew_time: Some(MicroTime(k8s_openapi::jiff::Timestamp::now())),
            lease_duration_seconds: Some(3600),
            ..Default::default()
        };
        Api::<Lease>::namespaced(admin.clone(), NS)
            .patch(
                "ferrolb-controller",
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({ "spec": intruder })),
            )
            .await?;
        tokio::time::sleep(Duration::from_secs(3)).await;
        create(&admin, lb_service("s2", &[], 80)).await?;
        tokio::time::sleep(Duration::from_secs(5)).await;
        let s2 = services(&admin).get("s2").await?;
        assert!(
            ingress(&s2).is_empty(),
            "a fenced leader wrote {:?}",
            ingress(&s2)
        );
        assert!(events(&admin, APPS, "s2").await?.is_empty());
        Ok(())
    })
}

/// Whether the replica reports a configuration verdict: only while it
/// leads (a standby's `_bool` gauges are gone).
fn leads(replica: &Replica) -> bool {
    let mut text = String::new();
    let _ = prometheus_client::encoding::text::encode(&mut text, &replica.registry);
    text.contains("metallb_k8s_client_config_loaded_bool{}")
}

#[test]
fn a_leader_whose_api_server_hangs_stops_leading_when_its_lease_runs_out() -> TestResult {
    use interop_tests::apiserver::Part;
    use nix::sys::signal::Signal;

    block_on(async {
        let cluster = Cluster::start().await?;
        let admin = cluster.admin.clone();
        configure(&admin, vec![pool("p", &["192.0.2.0/28"])]).await?;
        let lease = Duration::from_secs(6);
        let one = Replica::start(&cluster, "one", lease)?;
        create(&admin, lb_service("s1", &[], 80)).await?;
        wait_assigned(&admin, "s1").await?;
        assert!(leads(&one));

        // The API server hangs: connections are accepted, nothing answers.
        // No renewal can succeed, and nobody can tell the leader so: it
        // must stop on its own once the lease it last saw runs out (a
        // standby elsewhere may lead by then).
        cluster
            .server
            .signal(Part::KubeApiserver, Signal::SIGSTOP)?;
        let frozen = Instant::now();
        let stopped = wait_for("one to stop leading", 3 * lease, || async {
            Ok((!leads(&one)).then(|| frozen.elapsed()))
        })
        .await;
        cluster
            .server
            .signal(Part::KubeApiserver, Signal::SIGCONT)?;
        let stopped = stopped?;
        println!("stopped leading {stopped:?} after the API server froze (lease {lease:?})");

        // Answering again: it takes the lease back and serves.
        create(&admin, lb_service("s2", &[], 80)).await?;
        assert_eq!(ingress(&wait_assigned(&admin, "s2").await?), ["192.0.2.1"]);
        assert!(leads(&one));
        Ok(())
    })
}
