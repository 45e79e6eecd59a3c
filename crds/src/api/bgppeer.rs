//! `BGPPeer`: a BGP router the nodes peer with. Served as `v1beta1` and
//! `v1beta2` (stored) with conversion strategy `None`: `v1beta1` is a strict
//! subset of `v1beta2` with the same JSON names and meanings (its node
//! selectors have the same JSON shape as `metav1.LabelSelector`), so the API
//! server only has to rewrite `apiVersion`. See docs/configuration.md.

pub mod v1beta1;
pub mod v1beta2;
