//! The files shell's side of the speaker: YAML files read into the API's
//! types ([`read`]), and those objects adapted into a pass's [`Inputs`]
//! through the same readers ([`crate::adapt`]) as the Kubernetes shell's
//! watch caches. `ferrolb run` (in the `cli` crate) drives it, with the
//! controller's allocator between the reading and the pass.

pub mod read;

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;

use crate::adapt::{self, ServiceRecord, SliceRecord, WithoutSlices};
use crate::decide::ServiceKey;
use crate::pass::{Inputs, Services};

/// The inputs of a pass for `node`, serving `lb_class`, from the objects of
/// the files. A Service without an EndpointSlice is served by every node
/// (hosts serving the address themselves); every Node of the files runs a
/// speaker, reached at its first address (IPv4 first).
pub fn pass_inputs(
    node: &str,
    lb_class: Option<&str>,
    services: &BTreeMap<ServiceKey, Service>,
    slices: &[EndpointSlice],
    nodes: &BTreeMap<String, Node>,
) -> Inputs {
    let this = nodes.get(node);
    let mut node_names: Vec<String> = nodes.keys().cloned().collect();
    if this.is_none() {
        node_names.push(node.to_string());
    }
    let mut interned = adapt::Interned::default();
    Inputs {
        node: adapt::node_state(node, this),
        node_ipv4: this.and_then(adapt::node_ipv4),
        nodes: nodes
            .iter()
            .map(|(name, n)| (name.clone(), adapt::node_state(name, Some(n))))
            .collect(),
        speakers: nodes
            .iter()
            .filter_map(|(name, n)| Some((name.clone(), node_address(n)?)))
            .collect(),
        // The files are read again whole: every Service goes to the pass,
        // which compares them with what it holds.
        services: Services::All(adapt::service_states(
            &services
                .iter()
                .map(|(key, svc)| ServiceRecord::new(key.clone(), svc, &mut interned))
                .collect::<Vec<_>>(),
            &slices
                .iter()
                .map(|s| SliceRecord::new(s, &mut interned))
                .collect::<Vec<_>>(),
            lb_class,
            WithoutSlices::ReadyOn(&adapt::ready_on(&node_names)),
        )),
    }
}

/// Where a node's speaker listens: its first IPv4 address, else its first.
fn node_address(node: &Node) -> Option<IpAddr> {
    let addresses: Vec<IpAddr> = node
        .status
        .as_ref()?
        .addresses
        .as_ref()?
        .iter()
        .filter_map(|a| a.address.parse().ok())
        .collect();
    addresses
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addresses.first())
        .copied()
}
