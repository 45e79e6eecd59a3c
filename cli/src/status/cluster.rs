//! Reading the cluster: a client from the user's kubeconfig, and one list
//! per kind. Thin on purpose; everything the output says is decided from
//! the [`Objects`] read here, without I/O.

use std::path::PathBuf;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, Resource};
use serde::de::DeserializeOwned;

use super::objects::Objects;

/// Where the Services and Events are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Namespace(String),
    All,
}

/// Failures, with what was being read.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot read kubeconfig {path}: {source}")]
    Kubeconfig {
        path: PathBuf,
        source: kube::config::KubeconfigError,
    },
    #[error("cannot configure the Kubernetes client: {0}")]
    Config(String),
    #[error("cannot list {what}: {source}")]
    List { what: String, source: kube::Error },
}

/// A client as kubectl would make one: `--kubeconfig` (else $KUBECONFIG,
/// else ~/.kube/config, else the in-cluster service account) and
/// `--context`; with the context's namespace.
pub async fn connect(
    kubeconfig: Option<&std::path::Path>,
    context: Option<&str>,
) -> Result<(Client, String), ClusterError> {
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    let config = match kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path).map_err(|source| ClusterError::Kubeconfig {
                path: path.to_path_buf(),
                source,
            })?;
            Config::from_custom_kubeconfig(kc, &options)
                .await
                .map_err(|e| ClusterError::Config(e.to_string()))?
        }
        None if context.is_some() => Config::from_kubeconfig(&options)
            .await
            .map_err(|e| ClusterError::Config(e.to_string()))?,
        None => Config::infer()
            .await
            .map_err(|e| ClusterError::Config(e.to_string()))?,
    };
    let namespace = config.default_namespace.clone();
    let client = Client::try_from(config).map_err(|e| ClusterError::Config(e.to_string()))?;
    Ok((client, namespace))
}

async fn list<K>(api: Api<K>) -> Result<Vec<K>, ClusterError>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
    K::DynamicType: Default,
{
    api.list(&ListParams::default())
        .await
        .map(|l| l.items)
        .map_err(|source| ClusterError::List {
            what: api.resource_url().to_string(),
            source,
        })
}

/// Every object the views use: Services and Events in `scope`, FerroLB's
/// objects in `ferrolb_namespace`.
pub async fn read(
    client: &Client,
    scope: &Scope,
    ferrolb_namespace: &str,
) -> Result<Objects, ClusterError> {
    let ours = |c: &Client| c.clone();
    let (services, events): (Api<Service>, Api<Event>) = match scope {
        Scope::Namespace(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
        ),
        Scope::All => (Api::all(client.clone()), Api::all(client.clone())),
    };
    let ns = ferrolb_namespace;
    let (services, events, pools, l2_advertisements, bgp_advertisements, peers) = tokio::try_join!(
        list(services),
        list(events),
        list(Api::namespaced(ours(client), ns)),
        list(Api::namespaced(ours(client), ns)),
        list(Api::namespaced(ours(client), ns)),
        list(Api::namespaced(ours(client), ns)),
    )?;
    let (bfd_profiles, communities, bgp_statuses, l2_statuses, sessions, configuration_states) = tokio::try_join!(
        list(Api::namespaced(ours(client), ns)),
        list(Api::namespaced(ours(client), ns)),
        list(Api::namespaced(ours(client), ns)),
        list(Api::namespaced(ours(client), ns)),
        list(Api::namespaced(ours(client), ns)),
        list(Api::namespaced(ours(client), ns)),
    )?;
    // Optional: an installation whose CRDs predate the kind has none.
    let announcement_states = match list(Api::namespaced(ours(client), ns)).await {
        Err(ClusterError::List {
            source: kube::Error::Api(e),
            ..
        }) if e.code == 404 => Vec::new(),
        other => other?,
    };
    Ok(Objects {
        announcement_states,
        services,
        events,
        pools,
        l2_advertisements,
        bgp_advertisements,
        peers,
        bfd_profiles,
        communities,
        bgp_statuses,
        l2_statuses,
        sessions,
        configuration_states,
    })
}
