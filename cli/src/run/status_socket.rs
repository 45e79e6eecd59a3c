//! The standalone status endpoint (docs/adr/0009): a Unix socket on which
//! `GET /v1/objects` answers with the objects a cluster would hold for this
//! node, so `ferrolb status --standalone PATH` reads them into the same
//! views as on Kubernetes. File permissions decide who may read it.

use std::collections::{BTreeMap, VecDeque};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ferrolb_crds::api::{
    BGPSessionState, BGPSessionStateSpec, ConfigurationState, ConfigurationStateStatus,
    IPAddressPoolStatus, NodeAnnouncementState, NodeAnnouncementStateSpec,
    NodeAnnouncementStateStatus, ServiceBGPStatus, ServiceBGPStatusStatus, ServiceL2Status,
};
use ferrolb_crds::config::Resources;
use ferrolb_speaker::decide::ServiceKey;
use ferrolb_speaker::pass::{ServiceStatuses, Session};
use ferrolb_speaker::report::{service_status_name, session_state_name, session_status};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};
use tokio::net::{UnixListener, UnixStream};
use tracing::{debug, warn};

/// Events kept for `ferrolb status why`: the most recent ones.
const EVENTS_KEPT: usize = 200;
/// The namespace the objects are given, as in a default installation.
const NAMESPACE: &str = "metallb-system";

/// What this node's objects are, kept up to date by the run loop.
#[derive(Debug, Default)]
pub struct StatusObjects {
    pub node: String,
    pub services: BTreeMap<ServiceKey, Service>,
    pub resources: Resources,
    /// `None` until a configuration was accepted; the refusal's message.
    pub configuration: Option<Result<(), String>>,
    pub statuses: ServiceStatuses,
    /// The allocator's usage per pool, as the controller writes it into
    /// `IPAddressPool.status`.
    pub pool_stats: Vec<ferrolb_controller::ipam::PoolStats>,
    pub sessions: Vec<Value>,
    /// Why this node does not announce what it does not, as the
    /// Kubernetes speaker writes it (`Speaker::announcement_state`).
    pub announcement: NodeAnnouncementStateStatus,
    events: VecDeque<Value>,
}

impl StatusObjects {
    pub fn new(node: &str) -> Self {
        StatusObjects {
            node: node.to_string(),
            ..Default::default()
        }
    }

    /// Records an Event on a Service, as a cluster would hold it.
    pub fn event(
        &mut self,
        service: &ServiceKey,
        controller: bool,
        reason: &str,
        warning: bool,
        note: &str,
    ) {
        let n = self.events.len();
        self.events.push_back(json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": format!("{}.{n}", service.name()), "namespace": service.namespace()},
            "eventTime": Timestamp::now().to_string(),
            "reportingController": if controller { "ferrolb-controller" } else { "ferrolb-speaker" },
            "reportingInstance": self.node,
            "action": reason, "reason": reason,
            "type": if warning { "Warning" } else { "Normal" },
            "note": note,
            "regarding": {"kind": "Service", "namespace": service.namespace(), "name": service.name()},
        }));
        while self.events.len() > EVENTS_KEPT {
            self.events.pop_front();
        }
    }

    /// The sessions as `BGPSessionState` objects.
    pub fn set_sessions(&mut self, sessions: &[Session]) {
        self.sessions = sessions
            .iter()
            .map(|s| {
                let mut o = BGPSessionState::new(
                    &session_state_name(&self.node, &s.peer),
                    BGPSessionStateSpec {
                        node: self.node.clone(),
                        peer: s.peer.clone(),
                        peer_address: s.address.ip().to_string(),
                    },
                );
                o.metadata.namespace = Some(NAMESPACE.into());
                o.status = Some(session_status(&s.status, s.bfd.as_ref().map(|b| &b.status)));
                serde_json::to_value(o).unwrap_or(Value::Null)
            })
            .collect();
    }

    /// Everything, as a `v1` `List`.
    pub fn document(&self) -> Value {
        let mut items: Vec<Value> = Vec::new();
        let mut push = |v: Result<Value, serde_json::Error>| match v {
            Ok(v) => items.push(v),
            Err(e) => warn!(error = %e, "cannot encode a status object"),
        };
        let r = &self.resources;
        for s in self.services.values() {
            push(serde_json::to_value(s).map(|v| with_kind(v, "v1", "Service")));
        }
        for p in &r.pools {
            let mut p = p.clone();
            let name = p.metadata.name.as_deref().unwrap_or_default();
            if let Some(s) = self.pool_stats.iter().find(|s| s.pool == name) {
                let n = |v: u128| i64::try_from(v).unwrap_or(i64::MAX);
                p.status = Some(IPAddressPoolStatus {
                    assigned_ipv4: n(s.v4.assigned),
                    assigned_ipv6: n(s.v6.assigned),
                    available_ipv4: n(s.v4.available),
                    available_ipv6: n(s.v6.available),
                });
            }
            push(serde_json::to_value(p));
        }
        for a in &r.l2_advertisements {
            push(serde_json::to_value(a));
        }
        for a in &r.bgp_advertisements {
            push(serde_json::to_value(a));
        }
        for p in &r.peers {
            // Never a password on the socket.
            let mut p = p.clone();
            p.spec.password.clear();
            p.spec.password_secret = None;
            push(serde_json::to_value(p));
        }
        for b in &r.bfd_profiles {
            push(serde_json::to_value(b));
        }
        for c in &r.communities {
            push(serde_json::to_value(c));
        }
        for (key, peers) in &self.statuses.bgp {
            let mut o =
                ServiceBGPStatus::new(&service_status_name(&self.node, key), Default::default());
            o.metadata.namespace = Some(NAMESPACE.into());
            o.status = Some(ServiceBGPStatusStatus {
                node: self.node.clone(),
                service_name: key.name().to_string(),
                service_namespace: key.namespace().to_string(),
                peers: peers.clone(),
            });
            push(serde_json::to_value(o));
        }
        for (key, status) in &self.statuses.l2 {
            let mut o =
                ServiceL2Status::new(&service_status_name(&self.node, key), Default::default());
            o.metadata.namespace = Some(NAMESPACE.into());
            o.status = Some(status.to_api(key));
            push(serde_json::to_value(o));
        }
        for s in &self.sessions {
            push(Ok(s.clone()));
        }
        let mut o = NodeAnnouncementState::new(
            &self.node,
            NodeAnnouncementStateSpec {
                node: self.node.clone(),
            },
        );
        o.metadata.namespace = Some(NAMESPACE.into());
        o.status = Some(self.announcement.clone());
        push(serde_json::to_value(o));
        if let Some(result) = &self.configuration {
            let mut o = ConfigurationState::new("controller", Default::default());
            o.metadata.namespace = Some(NAMESPACE.into());
            o.status = Some(match result {
                Ok(()) => ConfigurationStateStatus {
                    result: Some(ferrolb_crds::api::ConfigurationResult::Valid),
                    ..Default::default()
                },
                Err(e) => ConfigurationStateStatus {
                    result: Some(ferrolb_crds::api::ConfigurationResult::Invalid),
                    error_summary: e.clone(),
                    ..Default::default()
                },
            });
            push(serde_json::to_value(o));
        }
        for e in &self.events {
            push(Ok(e.clone()));
        }
        json!({"apiVersion": "v1", "kind": "List", "items": items})
    }
}

/// Services read from files may lack `apiVersion`/`kind`.
fn with_kind(mut v: Value, api_version: &str, kind: &str) -> Value {
    v["apiVersion"] = api_version.into();
    v["kind"] = kind.into();
    v
}

/// The socket could not be made.
#[derive(Debug, thiserror::Error)]
#[error("cannot serve the status on {path}: {source}")]
pub struct SocketError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// Binds `path` (replacing a stale socket) with mode 0660 and serves the
/// latest document from `latest` until dropped.
pub fn start(
    path: &Path,
    latest: tokio::sync::watch::Receiver<String>,
) -> Result<tokio::task::JoinHandle<()>, SocketError> {
    let fail = |source| SocketError {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    // A socket file left by a crash would make bind fail.
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(fail(e)),
        _ => {}
    }
    let listener = UnixListener::bind(path).map_err(fail)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(fail)?;
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let body = latest.borrow().clone();
            tokio::spawn(async move {
                if let Err(e) = answer(stream, &body).await {
                    debug!(error = %e, "status request failed");
                }
            });
        }
    }))
}

async fn answer(mut stream: UnixStream, body: &str) -> std::io::Result<()> {
    let path = ferrolb_k8s::http::request_path(&mut stream).await?;
    let (status, content_type, body) = if path == "/v1/objects" {
        ("200 OK", "application/json", body)
    } else {
        ("404 Not Found", "text/plain; charset=utf-8", "not found\n")
    };
    ferrolb_k8s::http::respond(&mut stream, status, content_type, body).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::objects::Objects;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn key() -> ServiceKey {
        ServiceKey::new("apps", "web")
    }

    fn objects() -> StatusObjects {
        let mut s = StatusObjects::new("n1");
        let svc: Service = serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "apps",
                         "annotations": {"metallb.io/ip-allocated-from-pool": "public"}},
            "spec": {"type": "LoadBalancer"},
            "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.10"}]}}
        }))
        .expect("service literal");
        s.services.insert(key(), svc);
        s.resources.peers.push(
            serde_json::from_value(json!({
                "apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
                "metadata": {"name": "r1", "namespace": "metallb-system"},
                "spec": {"myASN": 64512, "peerASN": 64500, "peerAddress": "192.0.2.1",
                         "password": "secret"}
            }))
            .expect("peer literal"),
        );
        s.statuses.bgp.insert(key(), vec!["r1".into()]);
        s.configuration = Some(Ok(()));
        s.event(
            &key(),
            true,
            "IPAllocated",
            false,
            "Assigned IP 198.51.100.10",
        );
        s
    }

    #[test]
    fn the_document_reads_back_as_the_objects_of_a_cluster() {
        let doc = objects().document();
        assert!(!doc.to_string().contains("secret"), "no password: {doc}");
        let items = doc["items"].as_array().cloned().unwrap_or_default();
        let o = Objects::from_items(items).expect("objects");
        assert_eq!(o.services.len(), 1);
        assert_eq!(o.peers.len(), 1);
        assert_eq!(o.bgp_statuses.len(), 1);
        assert_eq!(o.events.len(), 1);
        assert_eq!(o.configuration_states.len(), 1);
        assert_eq!(o.announcement_states.len(), 1);
        let snap = o.snapshot(Timestamp::now());
        assert_eq!(snap.bgp_statuses[0].node, "n1");
        assert_eq!(snap.bgp_statuses[0].peers, ["r1"]);
        assert_eq!(snap.events[0].reason, "IPAllocated");
        assert_eq!(snap.controller.map(|c| c.result), Some("Valid".into()));
    }

    #[test]
    fn events_are_bounded() {
        let mut s = StatusObjects::new("n1");
        for _ in 0..EVENTS_KEPT + 5 {
            s.event(&key(), false, "nodeAssigned", false, "x");
        }
        assert_eq!(s.events.len(), EVENTS_KEPT);
    }

    #[tokio::test]
    async fn the_socket_answers_objects_and_nothing_else() {
        let dir = std::env::temp_dir().join(format!("ferrolb-status-{}", std::process::id()));
        let path = dir.join("status.sock");
        let (_tx, rx) = tokio::sync::watch::channel("{\"kind\":\"List\"}".to_string());
        let task = start(&path, rx).expect("socket");
        let mode = std::fs::metadata(&path)
            .expect("socket file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o660);
        let ask = |request: &'static str| {
            let path = path.clone();
            async move {
                let mut s = UnixStream::connect(&path).await.expect("connect");
                s.write_all(request.as_bytes()).await.expect("write");
                let mut out = String::new();
                s.read_to_string(&mut out).await.expect("read");
                out
            }
        };
        let ok = ask("GET /v1/objects HTTP/1.1\r\n\r\n").await;
        assert!(
            ok.starts_with("HTTP/1.1 200 OK") && ok.ends_with("{\"kind\":\"List\"}"),
            "{ok}"
        );
        let other = ask("GET /metrics HTTP/1.1\r\n\r\n").await;
        assert!(other.starts_with("HTTP/1.1 404"), "{other}");
        task.abort();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
