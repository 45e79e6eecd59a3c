//! The I/O shell's corner cases against a scripted API server
//! (`tower_test::mock::pair`): version-guarded writes, conflicts and
//! server errors, and that a failed write is retried, not remembered.

use std::collections::BTreeMap;
use std::sync::Arc;

use ferrolb_crds::api::ConfigurationStateStatus;
use http::{Request, Response};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Client;
use kube::api::ObjectMeta;
use kube::client::Body;
use serde_json::{Value, json};
use tower_test::mock;

use super::plan::{Desired, Plan};
use super::run::Reconciler;
use super::writer::{WriteError, Writer};
use crate::ipam::ServiceKey;
use crate::metrics::Metrics;

type Handle = mock::Handle<Request<Body>, Response<Body>>;

fn mock_writer() -> (Writer, Handle) {
    owned_writer(None)
}

fn owned_writer(owner: Option<OwnerReference>) -> (Writer, Handle) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    (
        Writer::new(client, "metallb-system".into(), "test".into(), owner),
        handle,
    )
}

fn web(rv: &str) -> Service {
    Service {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("shop".into()),
            resource_version: Some(rv.into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn desired() -> Desired {
    Desired {
        addresses: vec!["10.0.0.1".parse().unwrap()],
        pool: Some("p".into()),
    }
}

/// Answers the next request with `status` and `body`; returns the
/// request's method, path and JSON body.
async fn answer(handle: &mut Handle, status: u16, body: Value) -> (String, String, Value) {
    let (request, send) = handle.next_request().await.expect("a request");
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let bytes = request.into_body().collect_bytes().await.unwrap();
    let sent: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    send.send_response(
        Response::builder()
            .status(status)
            .body(Body::from(serde_json::to_vec(&body).unwrap()))
            .unwrap(),
    );
    (method, path, sent)
}

fn service_json(rv: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "web", "namespace": "shop", "resourceVersion": rv}})
}

fn status(code: u16, reason: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure",
           "message": reason, "reason": reason, "code": code})
}

/// The Service as the API server answers after a write that kept the pool
/// annotation.
fn assigned_json(rv: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "web", "namespace": "shop", "resourceVersion": rv,
                        "annotations": {"metallb.io/ip-allocated-from-pool": "p"}}})
}

#[tokio::test]
async fn addresses_and_pool_go_in_one_status_write() {
    let (writer, mut handle) = mock_writer();
    let server = tokio::spawn(async move {
        let (m, path, sent) = answer(&mut handle, 200, assigned_json("2")).await;
        assert_eq!(
            (m.as_str(), path.as_str()),
            ("PATCH", "/api/v1/namespaces/shop/services/web/status")
        );
        assert_eq!(sent["metadata"]["resourceVersion"], "1");
        assert_eq!(
            sent["metadata"]["annotations"]["metallb.io/ip-allocated-from-pool"],
            "p"
        );
        assert_eq!(
            sent["status"]["loadBalancer"]["ingress"][0]["ip"],
            "10.0.0.1"
        );
        // Nothing else: one write.
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(200), handle.next_request())
                .await
                .is_err()
        );
    });
    let produced = writer.service(&web("1"), &desired()).await.unwrap();
    assert_eq!(produced, [Some("2".to_string())]);
    server.await.unwrap();
}

#[tokio::test]
async fn a_server_dropping_metadata_from_status_writes_gets_two_steps() {
    let (writer, mut handle) = mock_writer();
    let server = tokio::spawn(async move {
        // The status write comes back without the annotation: it is
        // written on its own, carrying the version the first returned.
        let (_, path, _) = answer(&mut handle, 200, service_json("2")).await;
        assert_eq!(path, "/api/v1/namespaces/shop/services/web/status");
        let (_, path, sent) = answer(&mut handle, 200, assigned_json("3")).await;
        assert_eq!(path, "/api/v1/namespaces/shop/services/web");
        assert_eq!(sent["metadata"]["resourceVersion"], "2");
        assert_eq!(
            sent["metadata"]["annotations"]["metallb.io/ip-allocated-from-pool"],
            "p"
        );
        // From then on: the annotation first, then the status, each
        // carrying the version the previous step returned.
        let (_, path, sent) = answer(&mut handle, 200, assigned_json("5")).await;
        assert_eq!(path, "/api/v1/namespaces/shop/services/web");
        assert_eq!(sent["metadata"]["resourceVersion"], "4");
        let (_, path, sent) = answer(&mut handle, 200, assigned_json("6")).await;
        assert_eq!(path, "/api/v1/namespaces/shop/services/web/status");
        assert_eq!(sent["metadata"]["resourceVersion"], "5");
        assert!(sent["metadata"].get("annotations").is_none(), "{sent}");
    });
    let produced = writer.service(&web("1"), &desired()).await.unwrap();
    assert_eq!(produced, [Some("2".to_string()), Some("3".to_string())]);
    let produced = writer.service(&web("4"), &desired()).await.unwrap();
    assert_eq!(produced, [Some("5".to_string()), Some("6".to_string())]);
    server.await.unwrap();
}

#[tokio::test]
async fn a_conflict_stops_the_write_at_that_step() {
    let (writer, mut handle) = mock_writer();
    let server = tokio::spawn(async move {
        answer(&mut handle, 409, status(409, "Conflict")).await;
        // No second step after a refused first one.
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(200), handle.next_request())
                .await
                .is_err()
        );
    });
    let e = writer.service(&web("1"), &desired()).await.unwrap_err();
    assert!(matches!(e, WriteError::Conflict { .. }), "{e}");
    server.await.unwrap();
}

#[tokio::test]
async fn server_errors_and_vanished_services_are_told_apart() {
    let (writer, mut handle) = mock_writer();
    let server = tokio::spawn(async move {
        answer(&mut handle, 500, status(500, "InternalError")).await;
        answer(&mut handle, 404, status(404, "NotFound")).await;
    });
    let e = writer.service(&web("1"), &desired()).await.unwrap_err();
    assert!(matches!(e, WriteError::Api { .. }), "{e}");
    let e = writer.service(&web("1"), &desired()).await.unwrap_err();
    assert!(matches!(e, WriteError::Gone { .. }), "{e}");
    server.await.unwrap();
}

/// A reconciler writing through the scripted API server, and `web`'s key.
fn reconciler() -> (Reconciler, Handle, ServiceKey) {
    let (writer, handle) = mock_writer();
    let r = Reconciler::for_tests(writer, Arc::new(Metrics::default()));
    (r, handle, ServiceKey::new("shop", "web"))
}

/// A pass's plan: `desired()` for `key`.
fn write_plan(key: &ServiceKey) -> Plan {
    Plan {
        writes: vec![(key.clone(), desired())],
        notes: vec![],
    }
}

#[tokio::test]
async fn a_failed_write_is_retried_and_a_done_one_not_repeated() {
    let (mut r, mut handle, key) = reconciler();
    let services: BTreeMap<ServiceKey, Service> = [(key.clone(), web("1"))].into();
    let plan = || write_plan(&key);

    // An API error: a retry is scheduled and nothing is remembered.
    let server = tokio::spawn(async move {
        answer(&mut handle, 503, status(503, "ServiceUnavailable")).await;
        handle
    });
    r.execute(plan(), &services);
    r.settle(&services).await;
    let mut handle = server.await.unwrap();
    assert!(r.retry_scheduled());
    assert!(!r.remembers(&key));

    // The retry succeeds; the same decision on the same (stale) view is
    // then not written again.
    let server = tokio::spawn(async move {
        answer(&mut handle, 200, assigned_json("2")).await;
        handle
    });
    r.execute(plan(), &services);
    r.settle(&services).await;
    let mut handle = server.await.unwrap();
    assert!(r.remembers(&key));
    r.execute(plan(), &services);
    r.settle(&services).await;
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(200), handle.next_request())
            .await
            .is_err(),
        "a write was repeated"
    );
}

#[tokio::test]
async fn retries_that_keep_failing_wait_longer_and_a_success_starts_over() {
    let (mut r, mut handle, key) = reconciler();
    let services: BTreeMap<ServiceKey, Service> = [(key.clone(), web("1"))].into();
    let codes = [503, 503, 503, 200, 503];
    let server = tokio::spawn(async move {
        for code in codes {
            match code {
                200 => answer(&mut handle, 200, assigned_json("2")).await,
                _ => answer(&mut handle, code, status(code, "ServiceUnavailable")).await,
            };
        }
    });
    // The last write is of another address: the success is remembered,
    // and the same write would not be tried again.
    let moved = Plan {
        writes: vec![(
            key.clone(),
            Desired {
                addresses: vec!["10.0.0.2".parse().unwrap()],
                pool: Some("p".into()),
            },
        )],
        notes: vec![],
    };
    let plans = [
        write_plan(&key),
        write_plan(&key),
        write_plan(&key),
        write_plan(&key),
        moved,
    ];
    let mut waits = Vec::new();
    for plan in plans {
        // What the run loop does when the retry timer fires.
        r.retry_fired();
        r.execute(plan, &services);
        r.settle(&services).await;
        waits.push(r.retry_in().map(|d| d.as_secs_f64()));
    }
    server.await.unwrap();
    // 2 s, 4 s, 8 s, each stretched by up to a quarter; then none after
    // the success, and 2 s again.
    let within = |w: Option<f64>, base: f64| w.is_some_and(|w| w > base - 0.1 && w <= base * 1.25);
    assert!(within(waits[0], 2.0), "{waits:?}");
    assert!(within(waits[1], 4.0), "{waits:?}");
    assert!(within(waits[2], 8.0), "{waits:?}");
    assert_eq!(waits[3], None);
    assert!(within(waits[4], 2.0), "{waits:?}");
}

/// `web` at version `rv` as someone else left it: its status forged to
/// another address, its pool annotation to another pool.
fn forged(rv: &str) -> Service {
    let mut svc = web(rv);
    svc.metadata.annotations = Some(
        [(
            "metallb.io/ip-allocated-from-pool".to_string(),
            "other".to_string(),
        )]
        .into(),
    );
    svc.status = Some(
        serde_json::from_value(json!({"loadBalancer": {"ingress": [{"ip": "10.0.0.9"}]}})).unwrap(),
    );
    svc
}

/// The bad_input "forged-later" case: a pass sees the Service forged while
/// its write is in flight and decides the same write, which cannot go out
/// (one job per Service). Once the write ends the Service must be decided
/// again, and the new write must be guarded by the forged version, not the
/// one the first write was based on.
#[tokio::test]
async fn a_service_changed_while_its_write_runs_is_decided_again() {
    let (mut r, mut handle, key) = reconciler();
    let plan = || write_plan(&key);
    let before: BTreeMap<ServiceKey, Service> = [(key.clone(), web("1"))].into();
    let after: BTreeMap<ServiceKey, Service> = [(key.clone(), forged("3"))].into();
    r.execute(plan(), &before);
    // The write (to version 2) is under way when the forgery (version 3)
    // is seen: the pass decides the same write again.
    r.execute(plan(), &after);
    let server = tokio::spawn(async move {
        let (_, _, sent) = answer(&mut handle, 200, assigned_json("2")).await;
        assert_eq!(sent["metadata"]["resourceVersion"], "1");
        handle
    });
    assert_eq!(r.finish_next(&after).await, Some(Some(key.clone())));
    let mut handle = server.await.unwrap();
    // Decided again on the forged version: written, guarded by it.
    let server = tokio::spawn(async move {
        let (_, _, sent) = answer(&mut handle, 200, assigned_json("4")).await;
        assert_eq!(sent["metadata"]["resourceVersion"], "3");
        assert_eq!(
            sent["status"]["loadBalancer"]["ingress"][0]["ip"],
            "10.0.0.1"
        );
    });
    r.execute(plan(), &after);
    assert!(r.settle(&after).await.is_empty());
    server.await.unwrap();
}

/// A forgery that came before the write: the write is refused, the forged
/// version is already in view, and only a new decision fixes it (no other
/// event will come).
#[tokio::test]
async fn a_write_refused_for_a_version_already_seen_is_decided_again() {
    let (mut r, mut handle, key) = reconciler();
    let plan = write_plan(&key);
    r.execute(plan, &[(key.clone(), web("1"))].into());
    let server = tokio::spawn(async move {
        answer(&mut handle, 409, status(409, "Conflict")).await;
    });
    let after: BTreeMap<ServiceKey, Service> = [(key.clone(), forged("2"))].into();
    assert_eq!(r.finish_next(&after).await, Some(Some(key.clone())));
    server.await.unwrap();
    assert!(!r.remembers(&key));
}

/// The write's own versions, or the one it was based on (the watch not yet
/// caught up), need no new decision: nothing but the write changed.
#[tokio::test]
async fn a_write_seen_back_needs_no_new_decision() {
    let (mut r, mut handle, key) = reconciler();
    let plan = || write_plan(&key);
    let server = tokio::spawn(async move {
        answer(&mut handle, 200, assigned_json("2")).await;
        answer(&mut handle, 200, assigned_json("4")).await;
    });
    // Not caught up: the view still shows the version written over.
    let before: BTreeMap<ServiceKey, Service> = [(key.clone(), web("1"))].into();
    r.execute(plan(), &before);
    assert_eq!(r.finish_next(&before).await, Some(None));
    // Caught up: the view shows the version the write produced.
    let third: BTreeMap<ServiceKey, Service> = [(key.clone(), web("3"))].into();
    r.execute(plan(), &third);
    let seen_back: BTreeMap<ServiceKey, Service> = [(key.clone(), web("4"))].into();
    assert_eq!(r.finish_next(&seen_back).await, Some(None));
    server.await.unwrap();
}

fn deployment_owner() -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        name: "metallb-ferrolb-controller".into(),
        uid: "d-uid".into(),
        ..Default::default()
    }
}

fn configuration_state_json() -> Value {
    json!({"apiVersion": "metallb.io/v1beta1", "kind": "ConfigurationState",
           "metadata": {"name": "controller", "namespace": "metallb-system"}})
}

const STATE_PATH: &str =
    "/apis/metallb.io/v1beta1/namespaces/metallb-system/configurationstates/controller";

#[tokio::test]
async fn the_configuration_state_is_created_owned_by_the_deployment() {
    let (writer, mut handle) = owned_writer(Some(deployment_owner()));
    let server = tokio::spawn(async move {
        let (m, _, sent) = answer(&mut handle, 201, configuration_state_json()).await;
        assert_eq!(m, "POST");
        assert_eq!(
            sent["metadata"]["ownerReferences"],
            json!([{"apiVersion": "apps/v1", "kind": "Deployment",
                    "name": "metallb-ferrolb-controller", "uid": "d-uid"}])
        );
        let (m, path, _) = answer(&mut handle, 200, configuration_state_json()).await;
        assert_eq!(
            (m.as_str(), path),
            ("PATCH", format!("{STATE_PATH}/status"))
        );
        handle
    });
    let state = ConfigurationStateStatus::default();
    writer.configuration_state(&state).await.unwrap();
    let mut handle = server.await.unwrap();
    // Created by this process with its owner: the next write is only the
    // status.
    let server = tokio::spawn(async move {
        answer(&mut handle, 409, status(409, "AlreadyExists")).await;
        let (_, path, _) = answer(&mut handle, 200, configuration_state_json()).await;
        assert_eq!(path, format!("{STATE_PATH}/status"));
    });
    writer.configuration_state(&state).await.unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn an_unowned_configuration_state_left_behind_is_given_the_owner_once() {
    let (writer, mut handle) = owned_writer(Some(deployment_owner()));
    let server = tokio::spawn(async move {
        answer(&mut handle, 409, status(409, "AlreadyExists")).await;
        let (m, path, sent) = answer(&mut handle, 200, configuration_state_json()).await;
        assert_eq!((m.as_str(), path.as_str()), ("PATCH", STATE_PATH));
        assert_eq!(sent["metadata"]["ownerReferences"][0]["uid"], "d-uid");
        assert_eq!(
            sent["metadata"]["ownerReferences"].as_array().map(Vec::len),
            Some(1)
        );
        let (_, path, _) = answer(&mut handle, 200, configuration_state_json()).await;
        assert_eq!(path, format!("{STATE_PATH}/status"));
        // Second write: exists, owner already patched.
        answer(&mut handle, 409, status(409, "AlreadyExists")).await;
        let (_, path, _) = answer(&mut handle, 200, configuration_state_json()).await;
        assert_eq!(path, format!("{STATE_PATH}/status"));
    });
    let state = ConfigurationStateStatus::default();
    writer.configuration_state(&state).await.unwrap();
    writer.configuration_state(&state).await.unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn without_a_deployment_nothing_is_owned() {
    let (writer, mut handle) = mock_writer();
    let server = tokio::spawn(async move {
        let (_, _, sent) = answer(&mut handle, 409, status(409, "AlreadyExists")).await;
        assert!(sent["metadata"].get("ownerReferences").is_none(), "{sent}");
        let (_, path, _) = answer(&mut handle, 200, configuration_state_json()).await;
        assert_eq!(path, format!("{STATE_PATH}/status"));
    });
    writer
        .configuration_state(&ConfigurationStateStatus::default())
        .await
        .unwrap();
    server.await.unwrap();
}
