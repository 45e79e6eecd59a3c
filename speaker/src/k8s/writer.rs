//! Writes what the speaker reports: its ServiceBGPStatus, ServiceL2Status,
//! BGPSessionState and NodeAnnouncementState objects (diffs against what it last wrote, never a rewrite of
//! everything), and Events on Services. The objects carry the speaker's Pod
//! as owner ([`ferrolb_k8s::owner`]), so the garbage collector deletes them
//! when the Pod goes, however it goes (`helm uninstall`, eviction, a deleted
//! node).

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use ferrolb_crds::api::{
    BGPSessionState, BGPSessionStateSpec, BGPSessionStateStatus, NodeAnnouncementState,
    NodeAnnouncementStateSpec, NodeAnnouncementStateStatus, ServiceBGPStatus, ServiceL2Status,
};
use ferrolb_k8s::events::Events;
use ferrolb_k8s::owner::owned_only_by;
use ferrolb_k8s::retry::unreachable;
use futures::StreamExt;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Reporter};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use tracing::{debug, warn};

use crate::decide::compact::{Growth, compact};
use crate::decide::{Changed, ServiceKey};
use crate::report::{BfdEvent, NoticeKind, service_status_name, session_state_name};

/// The field manager and Event reporter of the speaker's writes.
pub const FIELD_MANAGER: &str = "ferrolb-speaker";
/// Label naming the node an object reports on.
pub const NODE_LABEL: &str = "metallb.io/node";
const SERVICE_NAME_LABEL: &str = "metallb.io/service-name";
const SERVICE_NAMESPACE_LABEL: &str = "metallb.io/service-namespace";
const PEER_LABEL: &str = "metallb.io/peer";
/// Writes in flight at once.
const CONCURRENCY: usize = 16;

/// The per-Service status objects a speaker writes, one per Service and
/// node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum StatusKind {
    /// `ServiceBGPStatus`: the peers the Service goes to from this node.
    Bgp,
    /// `ServiceL2Status`: this node answers for the Service, on these
    /// interfaces.
    L2,
}

impl StatusKind {
    fn kind(self) -> &'static str {
        match self {
            StatusKind::Bgp => "ServiceBGPStatus",
            StatusKind::L2 => "ServiceL2Status",
        }
    }
}

/// One session as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Session {
    pub(super) address: String,
    pub(super) status: BGPSessionStateStatus,
}

impl Session {
    /// Whether the change is worth a write: message counters move with
    /// every keepalive and are left to the metrics.
    fn differs(&self, other: &Session) -> bool {
        let quiet = |s: &Session| {
            let mut s = s.clone();
            s.status.messages_sent = 0;
            s.status.messages_received = 0;
            s
        };
        quiet(self) != quiet(other)
    }
}

pub(super) struct Writer {
    client: Client,
    namespace: String,
    node: String,
    events: Events,
    owner: Option<OwnerReference>,
    /// What the API holds, as far as this speaker knows: each status as
    /// the fingerprint of its JSON text (the text took a hundred bytes per
    /// Service, the tree a kilobyte); `null`'s for content not known.
    services: BTreeMap<(StatusKind, ServiceKey), Fingerprint>,
    services_growth: Growth,
    sessions: BTreeMap<String, Session>,
    /// This node's `NodeAnnouncementState` as last written; `None` until
    /// the first write (a previous run's object is overwritten then).
    announcement: Option<NodeAnnouncementStateStatus>,
    /// The error each failing write last logged (`Kind/name`): a write
    /// retried through an API outage is logged again only when
    /// its error changes.
    failures: BTreeMap<String, String>,
}

impl Writer {
    /// `owner`: the speaker's Pod, `None` when it runs outside one.
    pub(super) fn new(
        client: Client,
        namespace: String,
        node: String,
        owner: Option<OwnerReference>,
    ) -> Self {
        let events = Events::new(
            client.clone(),
            Reporter {
                controller: FIELD_MANAGER.into(),
                instance: Some(node.clone()),
            },
        );
        Writer {
            client,
            namespace,
            node,
            events,
            owner,
            services: BTreeMap::new(),
            services_growth: Growth::default(),
            sessions: BTreeMap::new(),
            announcement: None,
            failures: BTreeMap::new(),
        }
    }

    /// Learns what a previous run of this speaker left, so that what is no
    /// longer true gets deleted. An object this Pod does not own alone (an
    /// earlier Pod of this node's speaker, not yet collected, or the Node
    /// older versions named) is remembered with unknown content: rewritten
    /// with this Pod as owner if still true (else the collector would delete
    /// it when that owner goes), deleted if not.
    pub(super) async fn load(&mut self) -> Result<(), kube::Error> {
        let params =
            ListParams::default().labels(&format!("{NODE_LABEL}={}", label_value(&self.node)));
        // Labels are cut at 63 characters: the node's full name decides.
        let owner = self.owner.clone();
        let known = |meta: &kube::api::ObjectMeta, status: serde_json::Value| {
            if owned_only_by(meta, owner.as_ref()) {
                status
            } else {
                serde_json::Value::Null
            }
        };
        for s in self.bgp_api().list(&params).await? {
            let status = s.status.clone().unwrap_or_default();
            if status.node != self.node {
                continue;
            }
            let key = ServiceKey::new(&status.service_namespace, &status.service_name);
            let value = known(&s.metadata, json!(status));
            self.services
                .insert((StatusKind::Bgp, key), fingerprint(&value));
        }
        for s in self.l2_api().list(&params).await? {
            let status = s.status.clone().unwrap_or_default();
            if status.node != self.node {
                continue;
            }
            let key = ServiceKey::new(&status.service_namespace, &status.service_name);
            let value = known(&s.metadata, json!(status));
            self.services
                .insert((StatusKind::L2, key), fingerprint(&value));
        }
        // Grown in list order: rebuilt with full nodes.
        compact(&mut self.services);
        for s in self.session_api().list(&params).await? {
            if s.spec.node != self.node {
                continue;
            }
            // No peer has an empty address: unknown content, rewritten.
            let address = if owned_only_by(&s.metadata, owner.as_ref()) {
                s.spec.peer_address.clone()
            } else {
                String::new()
            };
            self.sessions.insert(
                s.spec.peer.clone(),
                Session {
                    address,
                    status: s.status.unwrap_or_default(),
                },
            );
        }
        Ok(())
    }

    /// Makes this node's status objects of `kind` say `desired` (each
    /// Service's `status`), for every Service or only those `of` names
    /// (`desired` then holds only theirs: the others are as they were).
    /// False if a write failed (it is retried on the next call of every
    /// Service).
    pub(super) async fn service_statuses(
        &mut self,
        kind: StatusKind,
        desired: &BTreeMap<ServiceKey, serde_json::Value>,
        of: &Changed,
    ) -> bool {
        let mut jobs = Vec::new();
        for (key, status) in desired {
            let status = fingerprint(status);
            if self.services.get(&(kind, key.clone())) != Some(&status) {
                jobs.push((key.clone(), Some(status)));
            }
        }
        let gone = |key: &ServiceKey| !desired.contains_key(key);
        match of {
            Changed::All => {
                for (k, key) in self.services.keys() {
                    if *k == kind && gone(key) {
                        jobs.push((key.clone(), None));
                    }
                }
            }
            Changed::Some(keys) => {
                for key in keys {
                    if gone(key) && self.services.contains_key(&(kind, key.clone())) {
                        jobs.push((key.clone(), None));
                    }
                }
            }
        }
        let results = {
            let this = &*self;
            let mut writes = std::pin::pin!(
                futures::stream::iter(jobs)
                    .map(|(key, status)| async move {
                        let result = match &status {
                            Some(_) => this.write_service(kind, &key, &desired[&key]).await,
                            None => this.delete_service(kind, &key).await,
                        };
                        (key, status, result)
                    })
                    .buffer_unordered(CONCURRENCY)
            );
            let mut results = Vec::new();
            while let Some(done) = writes.next().await {
                let stop = done.2.as_ref().is_err_and(unreachable);
                results.push(done);
                if stop {
                    // The writes not started, or cut short, are not
                    // recorded: the retry writes them.
                    break;
                }
            }
            results
        };
        let mut ok = true;
        for (key, status, result) in results {
            match result {
                Ok(()) => match status {
                    Some(status) => {
                        self.failures.remove(&format!("{}/{key}", kind.kind()));
                        if self.services.insert((kind, key), status).is_none() {
                            self.services_growth.inserted(&mut self.services);
                        }
                    }
                    None => {
                        self.services.remove(&(kind, key));
                    }
                },
                Err(e) => {
                    if self.failing(format!("{}/{key}", kind.kind()), &e) {
                        warn!(service = %key, kind = kind.kind(), error = %e, "cannot write status; retrying with backoff");
                    }
                    ok = false;
                }
            }
        }
        ok
    }

    /// Makes this node's BGPSessionState objects say `desired` (by peer
    /// name). False if a write failed.
    pub(super) async fn sessions(&mut self, desired: &BTreeMap<String, Session>) -> bool {
        let mut ok = true;
        let gone: Vec<String> = self
            .sessions
            .keys()
            .filter(|p| !desired.contains_key(*p))
            .cloned()
            .collect();
        for peer in gone {
            match ignore_missing(
                self.session_api()
                    .delete(&self.session_name(&peer), &DeleteParams::default())
                    .await
                    .map(drop),
            ) {
                Ok(()) => {
                    self.failures.remove(&format!("BGPSessionState/{peer}"));
                    self.sessions.remove(&peer);
                }
                Err(e) => {
                    if self.failing(format!("BGPSessionState/{peer}"), &e) {
                        warn!(peer, error = %e, "cannot delete BGPSessionState; retrying with backoff");
                    }
                    if unreachable(&e) {
                        return false;
                    }
                    ok = false;
                }
            }
        }
        for (peer, session) in desired {
            if self.sessions.get(peer).is_some_and(|s| !s.differs(session)) {
                continue;
            }
            match self.write_session(peer, session).await {
                Ok(()) => {
                    self.failures.remove(&format!("BGPSessionState/{peer}"));
                    self.sessions.insert(peer.clone(), session.clone());
                }
                Err(e) => {
                    if self.failing(format!("BGPSessionState/{peer}"), &e) {
                        warn!(peer, error = %e, "cannot write BGPSessionState; retrying with backoff");
                    }
                    if unreachable(&e) {
                        return false;
                    }
                    ok = false;
                }
            }
        }
        ok
    }

    /// Whether `desired` differs from the `NodeAnnouncementState` written.
    pub(super) fn announcement_differs(&self, desired: &NodeAnnouncementStateStatus) -> bool {
        self.announcement.as_ref() != Some(desired)
    }

    /// Makes this node's `NodeAnnouncementState` say `desired`. False if
    /// the write failed.
    pub(super) async fn announcement_state(
        &mut self,
        desired: &NodeAnnouncementStateStatus,
    ) -> bool {
        if !self.announcement_differs(desired) {
            return true;
        }
        let name = self.announcement_name();
        let object = json!({
            "apiVersion": "metallb.io/v1beta1",
            "kind": "NodeAnnouncementState",
            "metadata": {
                "name": name,
                "labels": { NODE_LABEL: label_value(&self.node) },
                "ownerReferences": self.owner.iter().collect::<Vec<_>>(),
            },
            "spec": NodeAnnouncementStateSpec { node: self.node.clone() },
        });
        // A merge patch would keep list entries of the last write: the
        // status is replaced whole (`reasons: null` clears it).
        let mut status = json!(desired);
        for key in ["reasons", "omitted"] {
            if status.get(key).is_none() {
                status[key] = serde_json::Value::Null;
            }
        }
        let api = self.announcement_api();
        match self
            .apply(&api, &name, object, json!({ "status": status }))
            .await
        {
            Ok(()) => {
                self.failures.remove("NodeAnnouncementState");
                self.announcement = Some(desired.clone());
                true
            }
            Err(e) => {
                if self.failing("NodeAnnouncementState".into(), &e) {
                    warn!(
                        error = %e,
                        "cannot write NodeAnnouncementState (why this node does not announce); retrying"
                    );
                }
                false
            }
        }
    }

    /// Records that the write of `what` failed with `e`; true when that is
    /// news worth a log line (first failure, or a different error).
    fn failing(&mut self, what: String, e: &kube::Error) -> bool {
        let text = e.to_string();
        if self.failures.get(&what) == Some(&text) {
            debug!(%what, error = %text, "write still failing");
            return false;
        }
        self.failures.insert(what, text);
        true
    }

    /// Publishes an Event about a Service.
    pub(super) async fn event(
        &mut self,
        regarding: &ObjectReference,
        kind: NoticeKind,
        note: &str,
    ) {
        self.publish(regarding, kind.is_warning(), kind.reason(), note)
            .await;
    }

    /// Publishes an Event about a BGPPeer's BFD session.
    pub(super) async fn bfd_event(&mut self, regarding: &ObjectReference, event: &BfdEvent) {
        self.publish(regarding, event.is_warning(), event.reason(), &event.note)
            .await;
    }

    /// Publishes an Event (through a bounded recorder: [`Events`]).
    async fn publish(
        &mut self,
        regarding: &ObjectReference,
        warning: bool,
        reason: &str,
        note: &str,
    ) {
        let event = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.into(),
            note: Some(note.chars().take(1000).collect()),
            action: reason.into(),
            secondary: None,
        };
        if let Err(e) = self.events.publish(&event, regarding).await {
            let object = format!(
                "{}/{}/{}",
                regarding.kind.as_deref().unwrap_or_default(),
                regarding.namespace.as_deref().unwrap_or_default(),
                regarding.name.as_deref().unwrap_or_default()
            );
            warn!(%object, error = %e, reason, "cannot publish Event");
        }
    }

    /// Deletes every object of this node (graceful stop: nothing is
    /// announced from here any more).
    pub(super) async fn clear(&mut self) {
        self.service_statuses(StatusKind::Bgp, &BTreeMap::new(), &Changed::All)
            .await;
        self.service_statuses(StatusKind::L2, &BTreeMap::new(), &Changed::All)
            .await;
        self.sessions(&BTreeMap::new()).await;
        let deleted = self
            .announcement_api()
            .delete(&self.announcement_name(), &DeleteParams::default())
            .await
            .map(drop);
        if let Err(e) = ignore_missing(deleted) {
            warn!(error = %e, "cannot delete NodeAnnouncementState");
        }
    }

    async fn write_service(
        &self,
        kind: StatusKind,
        key: &ServiceKey,
        status: &serde_json::Value,
    ) -> Result<(), kube::Error> {
        let name = service_status_name(&self.node, key);
        let object = json!({
            "apiVersion": "metallb.io/v1beta1",
            "kind": kind.kind(),
            "metadata": {
                "name": name,
                "labels": {
                    NODE_LABEL: label_value(&self.node),
                    SERVICE_NAME_LABEL: key.name(),
                    SERVICE_NAMESPACE_LABEL: key.namespace(),
                },
                "ownerReferences": self.owner.iter().collect::<Vec<_>>(),
            },
            "spec": {},
        });
        let status = json!({ "status": status });
        match kind {
            StatusKind::Bgp => self.apply(&self.bgp_api(), &name, object, status).await,
            StatusKind::L2 => self.apply(&self.l2_api(), &name, object, status).await,
        }
    }

    async fn delete_service(&self, kind: StatusKind, key: &ServiceKey) -> Result<(), kube::Error> {
        let name = service_status_name(&self.node, key);
        let params = DeleteParams::default();
        let deleted = match kind {
            StatusKind::Bgp => self.bgp_api().delete(&name, &params).await.map(drop),
            StatusKind::L2 => self.l2_api().delete(&name, &params).await.map(drop),
        };
        ignore_missing(deleted)
    }

    async fn write_session(&self, peer: &str, session: &Session) -> Result<(), kube::Error> {
        let name = self.session_name(peer);
        let object = json!({
            "apiVersion": "metallb.io/v1beta1",
            "kind": "BGPSessionState",
            "metadata": {
                "name": name,
                "labels": { NODE_LABEL: label_value(&self.node), PEER_LABEL: label_value(peer) },
                "ownerReferences": self.owner.iter().collect::<Vec<_>>(),
            },
            "spec": BGPSessionStateSpec {
                node: self.node.clone(),
                peer: peer.to_string(),
                peer_address: session.address.clone(),
            },
        });
        self.apply(
            &self.session_api(),
            &name,
            object,
            json!({ "status": session.status }),
        )
        .await
    }

    /// Creates or updates the object, then its status subresource.
    async fn apply<K>(
        &self,
        api: &Api<K>,
        name: &str,
        object: serde_json::Value,
        status: serde_json::Value,
    ) -> Result<(), kube::Error>
    where
        K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let written = api.patch(name, &params, &Patch::Apply(&object)).await?;
        debug!(name = %written.name_any(), "written");
        api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .map(drop)
    }

    fn session_name(&self, peer: &str) -> String {
        session_state_name(&self.node, peer)
    }

    /// One object per node, named after it (a Node's name is a valid
    /// object name).
    fn announcement_name(&self) -> String {
        self.node.clone()
    }

    fn announcement_api(&self) -> Api<NodeAnnouncementState> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn bgp_api(&self) -> Api<ServiceBGPStatus> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn l2_api(&self) -> Api<ServiceL2Status> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn session_api(&self) -> Api<BGPSessionState> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }
}

/// A label value (63 characters at most); the full name is in the spec.
fn label_value(s: &str) -> String {
    let mut v: String = s.chars().take(63).collect();
    while v.ends_with(['.', '-', '_']) {
        v.pop();
    }
    v
}

/// A status as the writer remembers it. serde_json's maps are sorted (its
/// `preserve_order` feature is off), so equal statuses give equal text.
/// What tells one status from another: a 64-bit hash of its JSON text.
/// Two statuses of one Service that differ have the same fingerprint once
/// in 2^64 changes; the write is then skipped until the next change.
type Fingerprint = u64;

fn fingerprint(status: &serde_json::Value) -> Fingerprint {
    let mut hasher = std::hash::DefaultHasher::new();
    status.to_string().hash(&mut hasher);
    hasher.finish()
}

fn ignore_missing(result: Result<(), kube::Error>) -> Result<(), kube::Error> {
    match result {
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http::{Request, Response};
    use kube::client::Body;
    use tower_test::mock;

    use super::*;

    /// How the scripted API server answers one request.
    enum Answer {
        Status(u16, serde_json::Value),
        /// The connection refused: the server was not reached.
        Refused,
    }

    /// A writer whose API server answers each request by its path, and the
    /// count of requests it got.
    fn writer_against(answer: fn(&str) -> Answer) -> (Writer, Arc<AtomicUsize>) {
        let (service, mut handle) = mock::pair::<Request<Body>, Response<Body>>();
        let seen = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Some((request, send)) = handle.next_request().await {
                count.fetch_add(1, Ordering::Relaxed);
                match answer(request.uri().path()) {
                    Answer::Status(code, body) => send.send_response(
                        Response::builder()
                            .status(code)
                            .body(Body::from(serde_json::to_vec(&body).unwrap_or_default()))
                            .expect("a response"),
                    ),
                    Answer::Refused => {
                        send.send_error(std::io::Error::from(std::io::ErrorKind::ConnectionRefused))
                    }
                }
            }
        });
        let client = Client::new(service, "default");
        let writer = Writer::new(client, "metallb-system".into(), "n1".into(), None);
        (writer, seen)
    }

    fn statuses(n: usize) -> BTreeMap<ServiceKey, serde_json::Value> {
        (0..n)
            .map(|i| {
                let key = ServiceKey::new("shop", format!("web-{i:02}"));
                let status = json!({ "node": "n1", "serviceName": key.name(),
                                     "serviceNamespace": "shop", "peers": ["r1"] });
                (key, status)
            })
            .collect()
    }

    /// The object a status write names, as the API server returns it.
    fn written(path: &str) -> Answer {
        let name = path
            .trim_end_matches("/status")
            .rsplit('/')
            .next()
            .unwrap_or_default();
        Answer::Status(
            200,
            json!({ "apiVersion": "metallb.io/v1beta1", "kind": "ServiceBGPStatus",
                    "metadata": { "name": name, "namespace": "metallb-system" }, "spec": {} }),
        )
    }

    #[tokio::test]
    async fn a_round_stops_at_the_first_write_the_server_did_not_answer() {
        let desired = statuses(40);
        let (mut writer, seen) = writer_against(|_| Answer::Refused);
        assert!(
            !writer
                .service_statuses(StatusKind::Bgp, &desired, &Changed::All)
                .await
        );
        let tried = seen.load(Ordering::Relaxed);
        // Only the writes already under way when the first failed (each
        // of the 40 cost a connection, every round of an outage, before).
        assert!(
            (1..=CONCURRENCY).contains(&tried),
            "{tried} requests for 40 Services with the API server away"
        );
        assert!(writer.services.is_empty(), "a write cut short is recorded");

        // What the round did not write, the retry writes: every Service.
        let (fresh, seen) = writer_against(written);
        let mut writer = Writer {
            failures: writer.failures,
            ..fresh
        };
        assert!(
            writer
                .service_statuses(StatusKind::Bgp, &desired, &Changed::All)
                .await
        );
        assert_eq!(writer.services.len(), 40);
        assert_eq!(
            seen.load(Ordering::Relaxed),
            80,
            "an apply and a status patch each"
        );
    }

    #[tokio::test]
    async fn an_error_the_server_answered_does_not_stop_the_round() {
        let desired = statuses(40);
        let (mut writer, _) = writer_against(|path| {
            let refused = service_status_name("n1", &ServiceKey::new("shop", "web-03"));
            if path.contains(&refused) {
                Answer::Status(
                    422,
                    json!({ "kind": "Status", "apiVersion": "v1", "status": "Failure",
                            "message": "invalid", "reason": "Invalid", "code": 422 }),
                )
            } else {
                written(path)
            }
        });
        assert!(
            !writer
                .service_statuses(StatusKind::Bgp, &desired, &Changed::All)
                .await
        );
        assert_eq!(writer.services.len(), 39, "every other Service written");
    }
}
