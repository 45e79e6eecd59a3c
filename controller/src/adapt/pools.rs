//! Compiled `IPAddressPool`s (`ferrolb_crds::config::Pool`) into the
//! allocator's [`PoolSet`].

use ferrolb_crds::config::{self, Config};

use crate::ipam::{self, AddressRange, PoolError, PoolSet, RangeError};

/// Why a compiled configuration cannot become a [`PoolSet`]. The compiler
/// already checks what `PoolSet::new` checks, so this means the two
/// disagree; the reconciler treats it like an invalid configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolsError {
    /// A range the compiler accepted is not a valid allocator range.
    #[error("IPAddressPool {pool}: range {range}: {source}")]
    Range {
        /// The pool.
        pool: String,
        /// The range as written by the compiler.
        range: String,
        /// Why.
        source: RangeError,
    },
    /// The allocator refused the set of pools.
    #[error("{0}")]
    Pools(#[from] PoolError),
}

/// The allocator's pools for `config`.
pub fn pool_set(config: &Config) -> Result<PoolSet, PoolsError> {
    let pools = config
        .pools
        .values()
        .map(pool)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PoolSet::new(pools)?)
}

fn pool(p: &config::Pool) -> Result<ipam::Pool, PoolsError> {
    let ranges = p
        .ranges
        .iter()
        .map(|r| {
            AddressRange::new(r.start(), r.end()).map_err(|source| PoolsError::Range {
                pool: p.name.clone(),
                range: format!("{}-{}", r.start(), r.end()),
                source,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ipam::Pool {
        name: p.name.clone(),
        ranges,
        auto_assign: p.auto_assign,
        avoid_buggy_ips: p.avoid_buggy_ips,
        service_allocation: p
            .service_allocation
            .as_ref()
            .map(|sa| ipam::ServiceAllocation {
                priority: priority(sa.priority),
                namespaces: sa.namespaces.clone(),
                namespace_selectors: sa.namespace_selectors.clone(),
                service_selectors: sa.service_selectors.clone(),
            }),
    })
}

/// MetalLB's `int` priority into the allocator's `u32`, where 0 means unset
/// and ranks last. MetalLB also treats 0 as unset; any other value, negative
/// ones included, ranks by `<`. Shifting by 2^31 keeps that order in `u32`;
/// `i32::MIN` would land on 0 (unset), so it shares a rank with
/// `i32::MIN + 1` instead.
fn priority(p: Option<i32>) -> u32 {
    match p {
        None | Some(0) => 0,
        Some(p) => {
            let shifted = i64::from(p) - i64::from(i32::MIN);
            u32::try_from(shifted.max(1)).unwrap_or(u32::MAX)
        }
    }
}

#[cfg(test)]
mod tests {
    use ferrolb_crds::address::IpRange;
    use ferrolb_crds::selector::Labels;

    use super::*;

    fn compiled(name: &str, ranges: &[&str]) -> config::Pool {
        config::Pool {
            name: name.into(),
            namespace: "metallb-system".into(),
            labels: Labels::new(),
            ranges: ranges.iter().map(|r| IpRange::parse(r).unwrap()).collect(),
            auto_assign: true,
            avoid_buggy_ips: false,
            service_allocation: None,
        }
    }

    fn config(pools: Vec<config::Pool>) -> Config {
        Config {
            pools: pools.into_iter().map(|p| (p.name.clone(), p)).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn every_field_carries_over_in_range_order() {
        let mut p = compiled("a", &["10.0.1.0/24", "10.0.0.1-10.0.0.5", "fc00::/120"]);
        p.auto_assign = false;
        p.avoid_buggy_ips = true;
        p.service_allocation = Some(config::ServiceAllocation {
            priority: Some(5),
            namespaces: ["team".to_string()].into(),
            namespace_selectors: vec![],
            service_selectors: vec![],
        });
        let set = pool_set(&config(vec![p])).unwrap();
        let got = set.by_name("a").unwrap();
        let ranges: Vec<String> = got.ranges.iter().map(ToString::to_string).collect();
        assert_eq!(ranges.len(), 3);
        assert_eq!(got.ranges[0].start().to_string(), "10.0.1.0");
        assert_eq!(got.ranges[1].end().to_string(), "10.0.0.5");
        assert_eq!(got.ranges[2].end().to_string(), "fc00::ff");
        assert!(!got.auto_assign);
        assert!(got.avoid_buggy_ips);
        let sa = got.service_allocation.as_ref().unwrap();
        assert!(sa.namespaces.contains("team"));
        assert!(sa.priority > 0);
    }

    #[test]
    fn priorities_keep_metallb_order_with_zero_as_unset() {
        let order = [i32::MIN + 1, -5, -1, 1, 2, 1000, i32::MAX];
        let mapped: Vec<u32> = order.iter().map(|p| priority(Some(*p))).collect();
        assert!(mapped.windows(2).all(|w| w[0] < w[1]), "{mapped:?}");
        assert!(mapped.iter().all(|p| *p > 0));
        assert_eq!(priority(None), 0);
        assert_eq!(priority(Some(0)), 0);
        assert_eq!(priority(Some(i32::MIN)), priority(Some(i32::MIN + 1)));
    }

    #[test]
    fn an_empty_config_is_an_empty_pool_set() {
        assert!(pool_set(&Config::default()).unwrap().is_empty());
    }

    #[test]
    fn overlapping_pools_the_compiler_missed_are_refused() {
        let c = config(vec![
            compiled("a", &["10.0.0.0/24"]),
            compiled("b", &["10.0.0.5/32"]),
        ]);
        assert!(matches!(pool_set(&c), Err(PoolsError::Pools(_))));
    }
}
