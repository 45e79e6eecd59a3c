//! Kubernetes `Service`s as the allocator sees them: whether FerroLB serves
//! one, the request it makes, and the addresses already recorded on it.

use std::collections::BTreeMap;

use ferrolb_crds::selector::Labels;
use k8s_openapi::api::core::v1::Service;

use crate::ipam::annotations::{self, AnnotationError, ParsedService, ServiceFields};

/// The Service fields the allocator reads, owned, so that
/// [`ServiceFields`] can borrow them.
#[derive(Debug, Clone, Default)]
pub struct ServiceData {
    annotations: BTreeMap<String, String>,
    load_balancer_ip: Option<String>,
    ip_family_policy: Option<String>,
    ip_families: Vec<String>,
    cluster_ips: Vec<String>,
    external_traffic_policy: Option<String>,
    selector: Labels,
    ports: Vec<(String, i32)>,
    labels: Labels,
}

impl ServiceData {
    /// Copies what the allocator needs out of `svc`.
    pub fn of(svc: &Service) -> Self {
        let spec = svc.spec.clone().unwrap_or_default();
        let cluster_ips = match (spec.cluster_ips, spec.cluster_ip) {
            (Some(ips), _) if !ips.is_empty() => ips,
            (_, Some(ip)) => vec![ip],
            _ => Vec::new(),
        };
        ServiceData {
            annotations: svc.metadata.annotations.clone().unwrap_or_default(),
            load_balancer_ip: spec.load_balancer_ip,
            ip_family_policy: spec.ip_family_policy,
            ip_families: spec.ip_families.unwrap_or_default(),
            cluster_ips,
            external_traffic_policy: spec.external_traffic_policy,
            selector: spec.selector.unwrap_or_default(),
            ports: spec
                .ports
                .unwrap_or_default()
                .into_iter()
                .map(|p| (p.protocol.unwrap_or_default(), p.port))
                .collect(),
            labels: svc.metadata.labels.clone().unwrap_or_default(),
        }
    }

    /// The borrowed view `annotations::parse` takes.
    pub fn fields(&self) -> ServiceFields<'_> {
        ServiceFields {
            annotations: &self.annotations,
            load_balancer_ip: self.load_balancer_ip.as_deref(),
            ip_family_policy: self.ip_family_policy.as_deref(),
            ip_families: &self.ip_families,
            cluster_ips: &self.cluster_ips,
            external_traffic_policy: self.external_traffic_policy.as_deref(),
            selector: &self.selector,
            ports: &self.ports,
        }
    }

    /// Parses annotations and spec fields; every error found.
    pub fn parse(&self) -> Result<ParsedService, Vec<AnnotationError>> {
        annotations::parse(&self.fields())
    }

    /// `metadata.labels`.
    pub fn labels(&self) -> &Labels {
        &self.labels
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{
        LoadBalancerIngress, LoadBalancerStatus, ServicePort, ServiceSpec, ServiceStatus,
    };
    use kube::api::ObjectMeta;

    use super::*;
    use crate::ipam::ServiceKey;
    use crate::ipam::{Family, IpFamilies, Port, Protocol};
    use ferrolb_crds::service::{LbView, lb_view, recorded_addresses, service_key};

    fn lb(class: Option<&str>) -> Service {
        Service {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("shop".into()),
                ..Default::default()
            },
            spec: Some(ServiceSpec {
                type_: Some("LoadBalancer".into()),
                load_balancer_class: class.map(Into::into),
                ip_families: Some(vec!["IPv4".into()]),
                ports: Some(vec![ServicePort {
                    port: 80,
                    protocol: Some("TCP".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            status: None,
        }
    }

    #[test]
    fn classes_follow_metallb() {
        assert_eq!(lb_view(&lb(None), None), LbView::Ours);
        assert_eq!(lb_view(&lb(Some("x")), None), LbView::OtherClass);
        assert_eq!(lb_view(&lb(Some("x")), Some("x")), LbView::Ours);
        assert_eq!(lb_view(&lb(None), Some("x")), LbView::OtherClass);
        let mut cluster_ip = lb(None);
        cluster_ip.spec.as_mut().unwrap().type_ = Some("ClusterIP".into());
        assert_eq!(lb_view(&cluster_ip, None), LbView::NotLoadBalancer);
        assert_eq!(lb_view(&Service::default(), None), LbView::NotLoadBalancer);
    }

    #[test]
    fn a_service_becomes_a_request() {
        let mut svc = lb(None);
        svc.metadata.annotations = Some(
            [(
                "metallb.universe.tf/address-pool".to_string(),
                "gold".to_string(),
            )]
            .into(),
        );
        svc.metadata.labels = Some([("app".to_string(), "web".to_string())].into());
        let data = ServiceData::of(&svc);
        let parsed = data.parse().unwrap();
        assert_eq!(parsed.warnings.len(), 1, "{:?}", parsed.warnings);
        let req = parsed.into_request(
            service_key(&svc).unwrap(),
            data.labels().clone(),
            Labels::new(),
        );
        assert_eq!(req.key, ServiceKey::new("shop", "web"));
        assert_eq!(req.pool.as_deref(), Some("gold"));
        assert_eq!(req.families, IpFamilies::Single(Family::V4));
        assert_eq!(req.ports, vec![Port::new(Protocol::Tcp, 80)]);
        assert_eq!(req.labels.get("app").map(String::as_str), Some("web"));
    }

    #[test]
    fn families_fall_back_to_the_cluster_ip() {
        let mut svc = lb(None);
        let spec = svc.spec.as_mut().unwrap();
        spec.ip_families = None;
        spec.cluster_ip = Some("fd00::1".into());
        let parsed = ServiceData::of(&svc).parse().unwrap();
        assert_eq!(parsed.families, IpFamilies::Single(Family::V6));
    }

    #[test]
    fn recorded_addresses_skip_hostnames_and_garbage() {
        let mut svc = lb(None);
        let ingress = |ip: Option<&str>, host: Option<&str>| LoadBalancerIngress {
            ip: ip.map(Into::into),
            hostname: host.map(Into::into),
            ..Default::default()
        };
        svc.status = Some(ServiceStatus {
            load_balancer: Some(LoadBalancerStatus {
                ingress: Some(vec![
                    ingress(Some("10.0.0.1"), None),
                    ingress(None, Some("lb.example")),
                    ingress(Some("not-an-ip"), None),
                    ingress(Some("fc00::1"), None),
                ]),
            }),
            ..Default::default()
        });
        let got: Vec<String> = recorded_addresses(&svc)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(got, ["10.0.0.1", "fc00::1"]);
        assert!(recorded_addresses(&lb(None)).is_empty());
    }
}
