//! From a Service's annotations and spec fields (plain strings, as the API
//! server stores them) to the allocator's request, with every problem named.
//!
//! The `metallb.io/` annotations win over the deprecated
//! `metallb.universe.tf/` ones whenever both are present, even when empty, as
//! in MetalLB.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ferrolb_crds::selector::Labels;

use super::range::Family;
use super::request::{
    DualPolicy, IpFamilies, Port, Protocol, ServiceKey, ServiceRequest, TrafficPolicy,
};

/// `metallb.io/address-pool`: the pool to allocate from.
pub const ADDRESS_POOL: &str = "metallb.io/address-pool";
/// `metallb.io/loadBalancerIPs`: the addresses wanted, comma-separated.
pub const LOAD_BALANCER_IPS: &str = "metallb.io/loadBalancerIPs";
/// `metallb.io/allow-shared-ip`: the sharing key.
pub const ALLOW_SHARED_IP: &str = "metallb.io/allow-shared-ip";
pub use ferrolb_crds::service::IP_ALLOCATED_FROM_POOL;

/// The deprecated name of each annotation.
fn deprecated(stable: &'static str) -> &'static str {
    match stable {
        ADDRESS_POOL => "metallb.universe.tf/address-pool",
        LOAD_BALANCER_IPS => "metallb.universe.tf/loadBalancerIPs",
        ALLOW_SHARED_IP => "metallb.universe.tf/allow-shared-ip",
        _ => "metallb.universe.tf/ip-allocated-from-pool",
    }
}

/// The Service fields the allocator reads.
#[derive(Debug, Clone, Copy)]
pub struct ServiceFields<'a> {
    /// `metadata.annotations`.
    pub annotations: &'a BTreeMap<String, String>,
    /// `spec.loadBalancerIP`.
    pub load_balancer_ip: Option<&'a str>,
    /// `spec.ipFamilyPolicy` (absent means `SingleStack`).
    pub ip_family_policy: Option<&'a str>,
    /// `spec.ipFamilies`.
    pub ip_families: &'a [String],
    /// `spec.clusterIPs`, used for the families when `ipFamilies` is empty.
    pub cluster_ips: &'a [String],
    /// `spec.externalTrafficPolicy`.
    pub external_traffic_policy: Option<&'a str>,
    /// `spec.selector`.
    pub selector: &'a Labels,
    /// `spec.ports[*]`: `(protocol, port)`; an empty protocol means TCP.
    pub ports: &'a [(String, i32)],
}

/// Something to tell the user that does not stop allocation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnnotationWarning {
    /// A deprecated annotation is in use.
    #[error("annotation {used} is deprecated, use {replacement}")]
    Deprecated {
        /// The deprecated name.
        used: &'static str,
        /// The current name.
        replacement: &'static str,
    },
    /// Both names are set, to different values; the current one wins.
    #[error("annotations {kept} and {ignored} disagree; {ignored} is ignored")]
    Conflicting {
        /// The name honoured.
        kept: &'static str,
        /// The name ignored.
        ignored: &'static str,
    },
    /// `spec.loadBalancerIP` is deprecated by Kubernetes (still honoured).
    #[error(
        "spec.loadBalancerIP is deprecated by Kubernetes, use the {LOAD_BALANCER_IPS} annotation"
    )]
    LoadBalancerIpField,
}

/// A field or annotation that makes the Service impossible to serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnnotationError {
    /// Both the annotation and `spec.loadBalancerIP` request addresses.
    #[error("service can not have both {LOAD_BALANCER_IPS} and spec.loadBalancerIP")]
    BothAddressFields,
    /// Not an IP address.
    #[error("invalid {field}: {value:?} is not an IP address")]
    InvalidAddress {
        /// Where it came from.
        field: &'static str,
        /// The offending text.
        value: String,
    },
    /// More than one address per family.
    #[error("invalid {field}: {value:?} holds more than one address per family")]
    TooManyAddresses {
        /// Where it came from.
        field: &'static str,
        /// The whole value.
        value: String,
    },
    /// Unknown `ipFamilyPolicy`.
    #[error("unknown spec.ipFamilyPolicy {0:?}")]
    UnknownFamilyPolicy(String),
    /// Unknown entry of `ipFamilies`.
    #[error("unknown IP family {0:?} in spec.ipFamilies")]
    UnknownFamily(String),
    /// Families that cannot go together with the policy.
    #[error("spec.ipFamilies {families:?} do not fit spec.ipFamilyPolicy {policy}")]
    FamiliesDoNotFitPolicy {
        /// `spec.ipFamilies` (or the families of `clusterIPs`).
        families: Vec<String>,
        /// The policy.
        policy: String,
    },
    /// Neither `ipFamilies` nor a usable `clusterIPs`.
    #[error("the service has no ipFamilies and no cluster IP, so its IP family is unknown")]
    NoFamilies,
    /// Unknown port protocol.
    #[error("unknown port protocol {0:?}")]
    UnknownProtocol(String),
    /// Port number out of range.
    #[error("port {0} is out of range 1-65535")]
    InvalidPort(i32),
}

/// A Service's allocation-relevant fields, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedService {
    /// Families wanted.
    pub families: IpFamilies,
    /// Addresses requested.
    pub requested: Vec<IpAddr>,
    /// Pool requested.
    pub pool: Option<String>,
    /// Sharing key.
    pub sharing_key: Option<String>,
    /// Ports.
    pub ports: Vec<Port>,
    /// Traffic policy.
    pub traffic_policy: TrafficPolicy,
    /// Things to tell the user.
    pub warnings: Vec<AnnotationWarning>,
}

impl ParsedService {
    /// The allocator's request for this Service.
    pub fn into_request(
        self,
        key: ServiceKey,
        labels: Labels,
        namespace_labels: Labels,
    ) -> ServiceRequest {
        ServiceRequest {
            key,
            labels,
            namespace_labels,
            families: self.families,
            requested: self.requested,
            pool: self.pool,
            sharing_key: self.sharing_key,
            ports: self.ports,
            traffic_policy: self.traffic_policy,
        }
    }
}

/// MetalLB's backend key: the pod selector rendered as `k1=v1,k2=v2`, keys
/// sorted (Kubernetes' `labels.Set.String()`).
pub fn backend_key(selector: &Labels) -> String {
    let parts: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.join(",")
}

/// Parses `fields`; returns every error found, not just the first.
pub fn parse(fields: &ServiceFields<'_>) -> Result<ParsedService, Vec<AnnotationError>> {
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    let mut annotation = |stable| lookup(fields.annotations, stable, &mut warnings);

    let pool = annotation(ADDRESS_POOL).filter(|v| !v.is_empty());
    let sharing_key = annotation(ALLOW_SHARED_IP).filter(|v| !v.is_empty());
    let ips = annotation(LOAD_BALANCER_IPS).filter(|v| !v.trim().is_empty());
    let lb_ip = fields.load_balancer_ip.filter(|v| !v.trim().is_empty());

    let requested = match (ips, lb_ip) {
        (Some(_), Some(_)) => {
            errors.push(AnnotationError::BothAddressFields);
            Vec::new()
        }
        (Some(list), None) => parse_addresses(LOAD_BALANCER_IPS, &list, &mut errors),
        (None, Some(one)) => {
            warnings.push(AnnotationWarning::LoadBalancerIpField);
            parse_addresses("spec.loadBalancerIP", one, &mut errors)
        }
        (None, None) => Vec::new(),
    };

    let families = parse_families(fields).map_err(|e| errors.push(e)).ok();
    let mut ports = Vec::new();
    for (protocol, port) in fields.ports {
        let protocol = match protocol.as_str() {
            "" | "TCP" => Ok(Protocol::Tcp),
            "UDP" => Ok(Protocol::Udp),
            "SCTP" => Ok(Protocol::Sctp),
            other => Err(AnnotationError::UnknownProtocol(other.to_string())),
        };
        let number = u16::try_from(*port)
            .ok()
            .filter(|&p| p != 0)
            .ok_or(AnnotationError::InvalidPort(*port));
        match (protocol, number) {
            (Ok(protocol), Ok(port)) => ports.push(Port::new(protocol, port)),
            (p, n) => errors.extend(p.err().into_iter().chain(n.err())),
        }
    }
    let traffic_policy = match fields.external_traffic_policy {
        Some("Local") => TrafficPolicy::Local {
            backend_key: backend_key(fields.selector),
        },
        _ => TrafficPolicy::Cluster,
    };
    match families {
        Some(families) if errors.is_empty() => Ok(ParsedService {
            families,
            requested,
            pool,
            sharing_key,
            ports,
            traffic_policy,
            warnings,
        }),
        _ => Err(errors),
    }
}

/// The value of an annotation under its current or deprecated name.
fn lookup(
    annotations: &BTreeMap<String, String>,
    stable: &'static str,
    warnings: &mut Vec<AnnotationWarning>,
) -> Option<String> {
    let old = deprecated(stable);
    match (annotations.get(stable), annotations.get(old)) {
        (Some(new), Some(legacy)) => {
            if new != legacy {
                warnings.push(AnnotationWarning::Conflicting {
                    kept: stable,
                    ignored: old,
                });
            }
            Some(new.clone())
        }
        (Some(new), None) => Some(new.clone()),
        (None, Some(legacy)) => {
            warnings.push(AnnotationWarning::Deprecated {
                used: old,
                replacement: stable,
            });
            Some(legacy.clone())
        }
        (None, None) => None,
    }
}

/// Comma-separated addresses, at most one per family.
fn parse_addresses(
    field: &'static str,
    value: &str,
    errors: &mut Vec<AnnotationError>,
) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = Vec::new();
    for part in value.split(',') {
        match part.trim().parse::<IpAddr>() {
            Ok(ip) => out.push(ip),
            Err(_) => errors.push(AnnotationError::InvalidAddress {
                field,
                value: part.trim().to_string(),
            }),
        }
    }
    let v4 = out.iter().filter(|a| a.is_ipv4()).count();
    if v4 > 1 || out.len() - v4 > 1 {
        errors.push(AnnotationError::TooManyAddresses {
            field,
            value: value.to_string(),
        });
    }
    out
}

/// The families from `ipFamilies` (or `clusterIPs`) and `ipFamilyPolicy`.
fn parse_families(fields: &ServiceFields<'_>) -> Result<IpFamilies, AnnotationError> {
    let policy = fields.ip_family_policy.unwrap_or("SingleStack");
    let dual = match policy {
        "SingleStack" => None,
        "PreferDualStack" => Some(DualPolicy::Prefer),
        "RequireDualStack" => Some(DualPolicy::Require),
        other => return Err(AnnotationError::UnknownFamilyPolicy(other.to_string())),
    };
    let (names, families): (Vec<String>, Vec<Family>) = if fields.ip_families.is_empty() {
        let families = fields
            .cluster_ips
            .iter()
            .filter_map(|ip| ip.parse::<IpAddr>().ok())
            .map(|ip| Family::of(&ip))
            .collect::<Vec<_>>();
        (fields.cluster_ips.to_vec(), families)
    } else {
        let families = fields
            .ip_families
            .iter()
            .map(|f| match f.as_str() {
                "IPv4" => Ok(Family::V4),
                "IPv6" => Ok(Family::V6),
                other => Err(AnnotationError::UnknownFamily(other.to_string())),
            })
            .collect::<Result<Vec<_>, _>>()?;
        (fields.ip_families.to_vec(), families)
    };
    let misfit = || AnnotationError::FamiliesDoNotFitPolicy {
        families: names.clone(),
        policy: policy.to_string(),
    };
    match (families.as_slice(), dual) {
        ([], _) => Err(AnnotationError::NoFamilies),
        ([f], None | Some(DualPolicy::Prefer)) => Ok(IpFamilies::Single(*f)),
        ([a, b], Some(policy)) if a != b => Ok(IpFamilies::Dual {
            primary: *a,
            policy,
        }),
        _ => Err(misfit()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Svc {
        annotations: BTreeMap<String, String>,
        lb_ip: Option<String>,
        policy: Option<String>,
        families: Vec<String>,
        cluster_ips: Vec<String>,
        etp: Option<&'static str>,
        selector: Labels,
        ports: Vec<(String, i32)>,
    }

    impl Svc {
        fn new() -> Self {
            Svc {
                annotations: BTreeMap::new(),
                lb_ip: None,
                policy: None,
                families: vec!["IPv4".into()],
                cluster_ips: vec![],
                etp: None,
                selector: Labels::new(),
                ports: vec![("TCP".into(), 80)],
            }
        }
        fn annotate(mut self, k: &str, v: &str) -> Self {
            self.annotations.insert(k.into(), v.into());
            self
        }
        fn parse(&self) -> Result<ParsedService, Vec<AnnotationError>> {
            parse(&ServiceFields {
                annotations: &self.annotations,
                load_balancer_ip: self.lb_ip.as_deref(),
                ip_family_policy: self.policy.as_deref(),
                ip_families: &self.families,
                cluster_ips: &self.cluster_ips,
                external_traffic_policy: self.etp,
                selector: &self.selector,
                ports: &self.ports,
            })
        }
    }

    #[test]
    fn plain_service() {
        let p = Svc::new().parse().unwrap();
        assert_eq!(p.families, IpFamilies::Single(Family::V4));
        assert!(p.requested.is_empty() && p.pool.is_none() && p.sharing_key.is_none());
        assert_eq!(p.ports, vec![Port::new(Protocol::Tcp, 80)]);
        assert_eq!(p.traffic_policy, TrafficPolicy::Cluster);
        assert!(p.warnings.is_empty());
    }

    #[test]
    fn stable_annotations_win_and_deprecated_ones_warn() {
        let p = Svc::new()
            .annotate("metallb.universe.tf/address-pool", "old")
            .annotate("metallb.universe.tf/allow-shared-ip", "k")
            .parse()
            .unwrap();
        assert_eq!(p.pool.as_deref(), Some("old"));
        assert_eq!(p.sharing_key.as_deref(), Some("k"));
        assert_eq!(p.warnings.len(), 2);
        assert!(matches!(
            p.warnings[0],
            AnnotationWarning::Deprecated { .. }
        ));

        let p = Svc::new()
            .annotate(ADDRESS_POOL, "new")
            .annotate("metallb.universe.tf/address-pool", "old")
            .parse()
            .unwrap();
        assert_eq!(p.pool.as_deref(), Some("new"));
        assert!(matches!(
            p.warnings[..],
            [AnnotationWarning::Conflicting { .. }]
        ));

        // Present but empty still wins, as in MetalLB.
        let p = Svc::new()
            .annotate(ALLOW_SHARED_IP, "")
            .annotate("metallb.universe.tf/allow-shared-ip", "k")
            .parse()
            .unwrap();
        assert_eq!(p.sharing_key, None);
    }

    #[test]
    fn requested_addresses() {
        let p = Svc::new()
            .annotate(LOAD_BALANCER_IPS, "10.0.0.5, fc00::5")
            .parse()
            .unwrap();
        assert_eq!(p.requested.len(), 2);

        let mut s = Svc::new();
        s.lb_ip = Some("10.0.0.7".into());
        let p = s.parse().unwrap();
        assert_eq!(p.requested, vec!["10.0.0.7".parse::<IpAddr>().unwrap()]);
        assert_eq!(p.warnings, vec![AnnotationWarning::LoadBalancerIpField]);

        let s = s.annotate(LOAD_BALANCER_IPS, "10.0.0.5");
        assert_eq!(
            s.parse().unwrap_err(),
            vec![AnnotationError::BothAddressFields]
        );

        let e = Svc::new()
            .annotate(LOAD_BALANCER_IPS, "10.0.0.5,banana")
            .parse()
            .unwrap_err();
        assert!(
            matches!(&e[..], [AnnotationError::InvalidAddress { value, .. }] if value == "banana")
        );
        let e = Svc::new()
            .annotate(LOAD_BALANCER_IPS, "10.0.0.5,10.0.0.6")
            .parse()
            .unwrap_err();
        assert!(matches!(&e[..], [AnnotationError::TooManyAddresses { .. }]));
    }

    #[test]
    fn families_and_policies() {
        let with = |policy: Option<&'static str>, fams: &[&str]| {
            let mut s = Svc::new();
            s.policy = policy.map(str::to_string);
            s.families = fams.iter().map(|f| f.to_string()).collect();
            s.parse()
        };
        assert_eq!(
            with(Some("RequireDualStack"), &["IPv6", "IPv4"])
                .unwrap()
                .families,
            IpFamilies::Dual {
                primary: Family::V6,
                policy: DualPolicy::Require
            }
        );
        assert_eq!(
            with(Some("PreferDualStack"), &["IPv6"]).unwrap().families,
            IpFamilies::Single(Family::V6)
        );
        assert!(with(Some("RequireDualStack"), &["IPv4"]).is_err());
        assert!(with(None, &["IPv4", "IPv6"]).is_err());
        assert!(with(Some("Sometimes"), &["IPv4"]).is_err());
        assert!(with(None, &["IPv5"]).is_err());
        assert_eq!(
            with(None, &[]).unwrap_err(),
            vec![AnnotationError::NoFamilies]
        );

        let mut s = Svc::new();
        s.families.clear();
        s.cluster_ips = vec!["fd00::10".into()];
        assert_eq!(s.parse().unwrap().families, IpFamilies::Single(Family::V6));
    }

    #[test]
    fn ports_and_traffic_policy() {
        let mut s = Svc::new();
        s.ports = vec![("".into(), 53), ("UDP".into(), 53), ("SCTP".into(), 9)];
        s.etp = Some("Local");
        s.selector = Labels::from([("tier".into(), "web".into()), ("app".into(), "a".into())]);
        let p = s.parse().unwrap();
        assert_eq!(p.ports.len(), 3);
        assert_eq!(
            p.traffic_policy,
            TrafficPolicy::Local {
                backend_key: "app=a,tier=web".into()
            }
        );
        s.ports = vec![("ICMP".into(), 1), ("TCP".into(), 70000)];
        assert_eq!(s.parse().unwrap_err().len(), 2);
    }

    proptest::proptest! {
        /// Whatever users write, the parser answers instead of panicking,
        /// and what it accepts is something the allocator can take.
        #[test]
        fn never_panics(
            ips in "[0-9a-f:., ]{0,40}",
            lb_ip in proptest::option::of("[0-9a-f:.]{0,20}"),
            policy in proptest::option::of("(SingleStack|PreferDualStack|RequireDualStack|x)"),
            fams in proptest::collection::vec("(IPv4|IPv6|IPv9)", 0..3),
            port in proptest::num::i32::ANY,
            proto in "(TCP|UDP|SCTP|)",
        ) {
            let mut s = Svc::new().annotate(LOAD_BALANCER_IPS, &ips);
            s.lb_ip = lb_ip;
            s.policy = policy;
            s.families = fams;
            s.ports = vec![(proto, port)];
            if let Ok(p) = s.parse() {
                proptest::prop_assert!(p.requested.len() <= 2);
                proptest::prop_assert!(p.ports.iter().all(|p| p.port != 0));
            }
        }
    }
}
