//! Whether a Service has endpoints that may take traffic, with the
//! EndpointSlice condition semantics Kubernetes defines.

use std::sync::Arc;

/// `spec.externalTrafficPolicy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TrafficPolicy {
    /// Any node may receive traffic and forward it to any endpoint.
    #[default]
    Cluster,
    /// Only nodes with a local endpoint may receive traffic.
    Local,
}

/// A node's name as endpoints carry it: shared, since thousands of
/// endpoints name the same few nodes.
pub type NodeName = Arc<str>;

/// A Service's endpoints, shared with the EndpointSlice they came from
/// (a Service has one slice, mostly).
pub type Endpoints = Arc<[Endpoint]>;

/// One endpoint of an EndpointSlice. Conditions are `Option` because the API
/// leaves them unset when unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoint {
    /// `nodeName`.
    pub node: Option<NodeName>,
    pub ready: Option<bool>,
    pub serving: Option<bool>,
    pub terminating: Option<bool>,
}

impl Endpoint {
    /// A ready endpoint on `node`.
    pub fn ready_on(node: &str) -> Endpoint {
        Endpoint {
            node: Some(node.into()),
            ready: Some(true),
            serving: Some(true),
            terminating: Some(false),
        }
    }

    /// Whether traffic may be sent to it: ready, or (during graceful
    /// termination, when `ready` turns false) still serving and not yet
    /// terminating. Kubernetes says an unknown `ready` is to be read as
    /// ready, and an unknown `serving` as `ready`.
    pub fn takes_traffic(&self) -> bool {
        let ready = self.ready.unwrap_or(true);
        let serving = self.serving.unwrap_or(ready);
        let terminating = self.terminating.unwrap_or(false);
        ready || (serving && !terminating)
    }
}

/// Whether `node` should attract traffic for a Service with these endpoints.
pub(super) fn has_usable_endpoint(
    policy: TrafficPolicy,
    endpoints: &[Endpoint],
    node: &str,
) -> bool {
    endpoints.iter().any(|e| {
        e.takes_traffic()
            && match policy {
                TrafficPolicy::Cluster => true,
                TrafficPolicy::Local => e.node.as_deref() == Some(node),
            }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(ready: Option<bool>, serving: Option<bool>, terminating: Option<bool>) -> Endpoint {
        Endpoint {
            node: Some("n1".into()),
            ready,
            serving,
            terminating,
        }
    }

    #[test]
    fn endpoint_conditions_follow_kubernetes() {
        assert!(ep(None, None, None).takes_traffic(), "unknown means ready");
        assert!(ep(Some(true), None, None).takes_traffic());
        assert!(
            !ep(Some(false), None, None).takes_traffic(),
            "unknown serving follows ready"
        );
        assert!(
            ep(Some(false), Some(true), Some(false)).takes_traffic(),
            "serving, not terminating"
        );
        assert!(
            !ep(Some(false), Some(true), Some(true)).takes_traffic(),
            "terminating"
        );
        assert!(!ep(Some(false), Some(false), Some(false)).takes_traffic());
    }

    #[test]
    fn local_policy_needs_an_endpoint_on_this_node() {
        let eps = [Endpoint::ready_on("n2")];
        assert!(has_usable_endpoint(TrafficPolicy::Cluster, &eps, "n1"));
        assert!(!has_usable_endpoint(TrafficPolicy::Local, &eps, "n1"));
        assert!(has_usable_endpoint(TrafficPolicy::Local, &eps, "n2"));
        assert!(!has_usable_endpoint(TrafficPolicy::Cluster, &[], "n1"));
    }
}
