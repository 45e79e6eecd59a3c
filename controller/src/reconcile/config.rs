//! The configuration objects into the allocator's pools, or the reasons the
//! configuration is refused. An invalid configuration is refused as a
//! whole: the caller keeps the last good pools.

use ferrolb_crds::api::{ConfigurationStateStatus, IPAddressPool};
use ferrolb_crds::config::{self, Diagnostic, ObjectRef, Resources};

use crate::adapt::pool_set;
use crate::ipam::PoolSet;

/// What the compiler made of the configuration.
#[derive(Debug)]
pub struct Verdict {
    /// For `ConfigurationState`.
    pub status: ConfigurationStateStatus,
    /// The pools, when the configuration is valid.
    pub pools: Option<PoolSet>,
    /// Errors (invalid) or warnings (valid), with the object at fault.
    pub findings: Vec<Finding>,
}

/// One compiler finding, for an Event on the object at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The object, when the finding names one.
    pub object: Option<ObjectRef>,
    /// The message.
    pub message: String,
    /// An error (the configuration is refused) or a warning.
    pub error: bool,
}

impl From<(&Diagnostic, bool)> for Finding {
    fn from((d, error): (&Diagnostic, bool)) -> Self {
        Finding {
            object: Some(d.object.clone()),
            message: d.to_string(),
            error,
        }
    }
}

/// Compiles `resources` (FerroLB's namespace only) into a verdict.
pub fn evaluate(resources: &Resources) -> Verdict {
    let result = config::compile(resources);
    let mut status = ConfigurationStateStatus::from_compile(&result);
    match result {
        Ok(compiled) => {
            let findings = compiled
                .warnings
                .iter()
                .map(|w| (w, false).into())
                .collect();
            match pool_set(&compiled.config) {
                Ok(pools) => Verdict {
                    status,
                    pools: Some(pools),
                    findings,
                },
                Err(e) => {
                    // The compiler and the allocator disagree: refuse, and
                    // say so rather than run on half a configuration.
                    status.result = Some(ferrolb_crds::api::ConfigurationResult::Invalid);
                    status.error_summary = e.to_string();
                    Verdict {
                        status,
                        pools: None,
                        findings: vec![Finding {
                            object: None,
                            message: e.to_string(),
                            error: true,
                        }],
                    }
                }
            }
        }
        Err(e) => Verdict {
            status,
            pools: None,
            findings: e
                .errors
                .iter()
                .map(|d| (d, true).into())
                .chain(e.warnings.iter().map(|d| (d, false).into()))
                .collect(),
        },
    }
}

/// The `IPAddressPool` names in `resources`, to know whose status to write.
pub fn pool_names(resources: &Resources) -> Vec<String> {
    resources
        .pools
        .iter()
        .filter_map(|p: &IPAddressPool| p.metadata.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use ferrolb_crds::api::{ConfigurationResult, IPAddressPoolSpec};
    use kube::api::ObjectMeta;

    use super::*;

    fn pool(name: &str, addresses: &[&str]) -> IPAddressPool {
        IPAddressPool {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("metallb-system".into()),
                ..Default::default()
            },
            spec: IPAddressPoolSpec {
                addresses: addresses.iter().map(|a| a.to_string()).collect(),
                ..Default::default()
            },
            status: None,
        }
    }

    #[test]
    fn a_valid_configuration_gives_pools_and_its_warnings() {
        let r = Resources {
            pools: vec![pool("a", &["10.0.0.0/24"])],
            ..Default::default()
        };
        let v = evaluate(&r);
        assert_eq!(v.status.result, Some(ConfigurationResult::Valid));
        assert!(v.pools.unwrap().by_name("a").is_some());
        // No advertisement announces the pool: a warning, not an error.
        assert!(v.findings.iter().all(|f| !f.error));
        assert_eq!(v.findings.len(), 1);
    }

    #[test]
    fn an_invalid_configuration_gives_no_pools_and_names_the_object() {
        let r = Resources {
            pools: vec![pool("a", &["10.0.0.0/24"]), pool("b", &["10.0.0.7/32"])],
            ..Default::default()
        };
        let v = evaluate(&r);
        assert_eq!(v.status.result, Some(ConfigurationResult::Invalid));
        assert!(v.pools.is_none());
        assert!(
            v.status.error_summary.contains("overlaps"),
            "{:?}",
            v.status
        );
        let error = v.findings.iter().find(|f| f.error).unwrap();
        assert_eq!(error.object.as_ref().unwrap().name, "b");
    }
}
