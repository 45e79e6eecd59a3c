//! `ferrolb status pools`: how full each pool is, who uses it, and what
//! is wrong with it.

use super::services::pool_modes;
use super::snapshot::Snapshot;
use super::view::{API_VERSION, FamilyUsage, PoolRow, PoolsView};

/// Share of a family used from which a pool is reported nearly exhausted.
const NEARLY_EXHAUSTED_PERCENT: u64 = 90;

pub fn pools_view(snap: &Snapshot) -> PoolsView {
    let pools = snap
        .config
        .pools
        .values()
        .map(|pool| {
            let mut services: Vec<String> = snap
                .services
                .iter()
                .filter(|s| s.allocated_from.as_deref() == Some(pool.name.as_str()))
                .map(|s| s.key())
                .collect();
            services.sort();
            let modes = pool_modes(snap, &pool.name);
            let mut warnings = Vec::new();
            if modes.is_empty() {
                warnings.push(
                    "no L2Advertisement or BGPAdvertisement selects it: its addresses are assigned but never announced"
                        .to_string(),
                );
            }
            let families = match snap.pool_usage.get(&pool.name) {
                Some(u) => {
                    let has_v4 = pool.ipv4_ranges().next().is_some();
                    let has_v6 = pool.ipv6_ranges().next().is_some();
                    [
                        ("ipv4", has_v4, u.assigned_v4, u.available_v4),
                        ("ipv6", has_v6, u.assigned_v6, u.available_v6),
                    ]
                    .into_iter()
                    .filter(|(_, has, _, _)| *has)
                    .map(|(family, _, used, free)| FamilyUsage { family, used, free })
                    .collect()
                }
                None => {
                    warnings.push("the controller has not reported its usage".into());
                    Vec::new()
                }
            };
            for f in &families {
                if let Some(w) = exhaustion(f) {
                    warnings.push(w);
                }
            }
            PoolRow {
                name: pool.name.clone(),
                auto_assign: pool.auto_assign,
                modes,
                families,
                services,
                warnings,
            }
        })
        .collect();
    PoolsView {
        api_version: API_VERSION,
        kind: "Pools",
        pools,
    }
}

fn exhaustion(f: &FamilyUsage) -> Option<String> {
    let total = f.used.saturating_add(f.free);
    if total == 0 {
        return None;
    }
    if f.free == 0 {
        return Some(format!(
            "{} exhausted: all {total} addresses are used",
            f.family
        ));
    }
    let percent = f.used.saturating_mul(100) / total;
    (percent >= NEARLY_EXHAUSTED_PERCENT).then(|| {
        format!(
            "{} nearly exhausted: {} of {total} addresses used ({percent}%)",
            f.family, f.used
        )
    })
}
