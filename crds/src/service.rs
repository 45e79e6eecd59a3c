//! Reading Services the same way in every component: their key, whether
//! FerroLB serves them, and what the controller recorded on them.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;

/// `metallb.io/ip-allocated-from-pool`: written by the controller, read by
/// the speaker to find the advertisement of an address.
pub const IP_ALLOCATED_FROM_POOL: &str = "metallb.io/ip-allocated-from-pool";

/// Identifies a Service: `namespace/name`.
///
/// Every book of the controller and the speaker is keyed by Service, so a
/// key is copied into a dozen maps per Service. It is shared, not copied:
/// a clone costs a reference count, where two `String`s cost 48 bytes
/// inline and two heap allocations per copy.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceKey(Arc<KeyParts>);

/// Ordered by namespace, then name, as the books expect.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct KeyParts {
    namespace: Box<str>,
    name: Box<str>,
}

impl ServiceKey {
    /// `namespace/name`.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ServiceKey(Arc::new(KeyParts {
            namespace: namespace.into().into_boxed_str(),
            name: name.into().into_boxed_str(),
        }))
    }

    /// The Service's namespace.
    pub fn namespace(&self) -> &str {
        &self.0.namespace
    }

    /// The Service's name.
    pub fn name(&self) -> &str {
        &self.0.name
    }
}

impl fmt::Debug for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceKey")
            .field("namespace", &self.namespace())
            .field("name", &self.name())
            .finish()
    }
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace(), self.name())
    }
}

/// `namespace/name` of a Service; `None` for an object without a name
/// (never served by an API server, but the type allows it).
pub fn service_key(svc: &Service) -> Option<ServiceKey> {
    let meta = &svc.metadata;
    Some(ServiceKey::new(
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone()?,
    ))
}

/// How FerroLB relates to a Service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LbView {
    /// `type: LoadBalancer` and of our `loadBalancerClass`: ours to serve.
    Ours,
    /// `type: LoadBalancer` of another class: another controller's.
    OtherClass,
    /// Not a LoadBalancer (any more).
    NotLoadBalancer,
}

/// Classifies `svc` for a controller started with `--lb-class = our_class`.
pub fn lb_view(svc: &Service, our_class: Option<&str>) -> LbView {
    let Some(spec) = &svc.spec else {
        return LbView::NotLoadBalancer;
    };
    if spec.type_.as_deref() != Some("LoadBalancer") {
        return LbView::NotLoadBalancer;
    }
    if is_ours(spec.load_balancer_class.as_deref(), our_class) {
        LbView::Ours
    } else {
        LbView::OtherClass
    }
}

/// The IP addresses in `status.loadBalancer.ingress`, in order. Hostname
/// entries and unparsable text are skipped: they are not ours to adopt.
pub fn recorded_addresses(svc: &Service) -> Vec<IpAddr> {
    svc.status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .map(|ingress| {
            ingress
                .iter()
                .filter_map(|i| i.ip.as_deref())
                .filter_map(|ip| ip.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The `metallb.io/ip-allocated-from-pool` annotation, if set.
pub fn recorded_pool(svc: &Service) -> Option<&str> {
    svc.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(IP_ALLOCATED_FROM_POOL))
        .map(String::as_str)
}

/// `metallb.io/allow-shared-ip` and its older name: the key under which
/// Services share an address.
pub const ALLOW_SHARED_IP: [&str; 2] = [
    "metallb.io/allow-shared-ip",
    "metallb.universe.tf/allow-shared-ip",
];

/// Whether the Service carries an `allow-shared-ip` annotation, whatever
/// its value (MetalLB's speaker tests presence only).
pub fn asks_to_share_ip(svc: &Service) -> bool {
    svc.metadata
        .annotations
        .as_ref()
        .is_some_and(|a| ALLOW_SHARED_IP.iter().any(|k| a.contains_key(*k)))
}

/// Whether a Service with `spec.loadBalancerClass = service_class` belongs to
/// a controller started with `--lb-class = our_class`, as MetalLB decides: a
/// controller without a class takes exactly the Services without one; a
/// controller with a class takes exactly the Services of that class. An empty
/// class counts as none.
pub fn is_ours(service_class: Option<&str>, our_class: Option<&str>) -> bool {
    let service_class = service_class.filter(|c| !c.is_empty());
    let our_class = our_class.filter(|c| !c.is_empty());
    service_class == our_class
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lb_class_filtering_follows_metallb() {
        assert!(is_ours(None, None));
        assert!(!is_ours(Some("other"), None));
        assert!(!is_ours(None, Some("ferrolb")));
        assert!(is_ours(Some("ferrolb"), Some("ferrolb")));
        assert!(!is_ours(Some("other"), Some("ferrolb")));
        assert!(is_ours(None, Some("")));
    }
}
