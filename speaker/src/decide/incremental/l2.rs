//! Layer-2 mode, kept up to date Service by Service. An address has one
//! owner whichever Services hold it, decided over all of them: a change to
//! one Service decides again every Service sharing one of its addresses
//! (before or after the change), and no other.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ferrolb_crds::config::Config;

use super::super::input::{ServiceKey, ServiceState};
use super::super::l2::{
    ClusterView, Common, Eligible, Entry, L2Plan, LocalNode, outranking, verdict,
};
use super::super::verdict::L2Verdict;
use super::{Changed, Delta, ServiceBook, addresses_of, replace_explanations};

/// The Services decided again in one update, each with its stake in
/// each of its addresses (in its order).
type Entries<'a> = BTreeMap<&'a ServiceKey, (&'a ServiceState, Vec<(IpAddr, Entry<'a>)>)>;

/// What every Layer-2 decision reads besides its Services.
#[derive(Debug, Clone)]
struct Inputs {
    config: Config,
    this_node: LocalNode,
    cluster: ClusterView,
}

impl Inputs {
    /// Whether a plan from `self` holds for these: the fence counts only
    /// by whether it lets this node announce.
    fn same(&self, config: &Config, this_node: &LocalNode, cluster: &ClusterView) -> bool {
        let (a, b) = (&self.this_node, this_node);
        a.name == b.name
            && a.links == b.links
            && a.interface_rules == b.interface_rules
            && a.fence.may_announce() == b.fence.may_announce()
            && self.cluster == *cluster
            && self.config == *config
    }
}

/// The Layer-2 plan of the Services of a [`ServiceBook`], and what it was
/// decided from.
#[derive(Debug, Clone, Default)]
pub struct L2Book {
    /// `None` before the first update.
    decided_from: Option<Inputs>,
    /// The Services holding each address, in key order.
    holders: BTreeMap<IpAddr, Vec<ServiceKey>>,
    plan: L2Plan,
}

impl L2Book {
    /// The plan, equal to [`super::super::l2_plan`] over the same inputs.
    pub fn plan(&self) -> &L2Plan {
        &self.plan
    }

    /// Decides again the Services `changed` and those sharing an address
    /// with them (all of them when the configuration, this node or the
    /// live members differ from the last update's), and says how their
    /// verdicts moved.
    pub fn update(
        &mut self,
        config: &Config,
        this_node: &LocalNode,
        cluster: &ClusterView,
        services: &ServiceBook,
        changed: Changed,
    ) -> Delta<L2Verdict> {
        let same_inputs = self
            .decided_from
            .as_ref()
            .is_some_and(|i| i.same(config, this_node, cluster));
        let changed = match changed {
            Changed::Some(keys) if same_inputs => keys,
            _ => return self.rebuild(config, this_node, cluster, services),
        };
        // The addresses whose owner may move: every address a changed
        // Service held or holds.
        let mut addresses: BTreeSet<IpAddr> = BTreeSet::new();
        for key in &changed {
            let old = addresses_of(&self.plan.explanations, key);
            for address in &old {
                if let Some(holders) = self.holders.get_mut(address) {
                    holders.retain(|k| k != key);
                    if holders.is_empty() {
                        self.holders.remove(address);
                    }
                }
            }
            addresses.extend(old);
            if let Some(service) = services.get(key) {
                for address in service.addresses.iter() {
                    let holders = self.holders.entry(*address).or_default();
                    if let Err(at) = holders.binary_search(key) {
                        holders.insert(at, key.clone());
                    }
                }
                addresses.extend(service.addresses.iter().copied());
            }
        }
        let mut redecide = changed;
        for address in &addresses {
            redecide.extend(self.holders.get(address).into_iter().flatten().cloned());
        }

        let mut eligible = Eligible::new(config, cluster);
        let mut entries: Entries = BTreeMap::new();
        for key in &redecide {
            if let Some(service) = services.get(key) {
                let mine = service
                    .addresses
                    .iter()
                    .map(|&a| (a, eligible.entry(service, a)))
                    .collect();
                entries.insert(key, (service, mine));
            }
        }
        for &address in &addresses {
            let owner = self.owner(address, services, &entries, cluster);
            match owner {
                Some(owner) => self.plan.owners.insert(address, owner.to_string()),
                None => self.plan.owners.remove(&address),
            };
        }

        let mut delta = Delta::default();
        let mut announced: BTreeMap<IpAddr, BTreeSet<String>> = BTreeMap::new();
        for key in &redecide {
            self.plan.statuses.remove(key);
            let verdicts: Vec<(IpAddr, L2Verdict)> = match entries.remove(key) {
                Some((service, mine)) => mine
                    .into_iter()
                    .map(|(address, entry)| {
                        let owner = self.plan.owners.get(&address).map(String::as_str);
                        let v = verdict(this_node, cluster, service, address, entry, owner);
                        (address, v)
                    })
                    .collect(),
                None => Vec::new(),
            };
            for (address, v) in &verdicts {
                if let L2Verdict::Announced { interfaces } = v {
                    if addresses.contains(address) {
                        announced
                            .entry(*address)
                            .or_default()
                            .extend(interfaces.iter().cloned());
                    }
                    let status = self.plan.statuses.entry(key.clone()).or_default();
                    status.node.clone_from(&this_node.name);
                    status.interfaces.extend(interfaces.iter().cloned());
                }
            }
            replace_explanations(&mut self.plan.explanations, key, verdicts, &mut delta);
        }
        // Every Service holding one of `addresses` was decided again just
        // above: what they answer on is the whole of it.
        for address in &addresses {
            match announced.remove(address) {
                Some(interfaces) => self.plan.addresses.insert(*address, interfaces),
                None => self.plan.addresses.remove(address),
            };
        }
        delta
    }

    /// The owner of `address`, over every Service holding it (all in
    /// `entries`), as [`super::super::l2_plan`] elects it: keyed on the
    /// first address of the first Service holding it, ranked by the
    /// advertisements of the first Service that has candidates.
    fn owner<'a>(
        &self,
        address: IpAddr,
        services: &ServiceBook,
        entries: &'a Entries<'a>,
        cluster: &ClusterView,
    ) -> Option<&'a str> {
        let holders = self.holders.get(&address)?;
        let key = self.key_of(address, services);
        let mut common = Common::default();
        for holder in holders {
            let Some((_, mine)) = entries.get(holder) else {
                continue;
            };
            for (_, entry) in mine.iter().filter(|(a, _)| *a == address) {
                common.add(entry);
            }
        }
        common.owner(key, cluster)
    }

    /// What `address`'s owner is keyed on: the first address of the first
    /// Service holding it.
    fn key_of(&self, address: IpAddr, services: &ServiceBook) -> IpAddr {
        self.holders
            .get(&address)
            .and_then(|h| h.first())
            .and_then(|k| services.get(k))
            .and_then(|s| s.addresses.first().copied())
            .unwrap_or(address)
    }

    /// Every address the plan has this node answer for, with the members
    /// outside `candidates` that would own it were they candidates (often
    /// none): the answer gate holds it back for the moment the membership
    /// counts one of them a candidate again, before a new plan
    /// (`ferrolb_l2::membership::gate`), and holds back every address
    /// absent. `known` has every member that should run a speaker,
    /// candidates or not.
    pub fn answering(
        &self,
        config: &Config,
        known: &ClusterView,
        candidates: &BTreeSet<String>,
        services: &ServiceBook,
        this_node: &str,
    ) -> BTreeMap<IpAddr, Vec<String>> {
        let mut eligible = Eligible::new(config, known);
        let mut outranked = BTreeMap::new();
        for &address in self.plan.addresses.keys() {
            let holders: Vec<&ServiceState> = self
                .holders
                .get(&address)
                .into_iter()
                .flatten()
                .filter_map(|k| services.get(k))
                .collect();
            let key = self.key_of(address, services);
            let entries: Vec<Entry> = holders.iter().map(|s| eligible.entry(s, address)).collect();
            outranked.insert(
                address,
                outranking(&entries, key, this_node, candidates, known),
            );
        }
        outranked
    }

    /// [`answering`](L2Book::answering) while every known member is a
    /// candidate: nobody outranks this node for any of its addresses.
    pub fn answering_unchallenged(&self) -> BTreeMap<IpAddr, Vec<String>> {
        self.plan
            .addresses
            .keys()
            .map(|a| (*a, Vec::new()))
            .collect()
    }

    /// Decides every Service afresh.
    fn rebuild(
        &mut self,
        config: &Config,
        this_node: &LocalNode,
        cluster: &ClusterView,
        services: &ServiceBook,
    ) -> Delta<L2Verdict> {
        let before = std::mem::take(&mut self.plan.explanations);
        *self = L2Book {
            decided_from: Some(Inputs {
                config: config.clone(),
                this_node: this_node.clone(),
                cluster: cluster.clone(),
            }),
            ..L2Book::default()
        };
        let all = services.keys().cloned().collect();
        let mut delta = self.update(config, this_node, cluster, services, Changed::Some(all));
        // Built by growing: the spare half of the last doubling is not kept.
        self.plan.explanations.shrink_to_fit();
        delta.before = before;
        delta
    }
}
