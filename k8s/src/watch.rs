//! One watch stream per kind, retried with backoff, merged by the caller.

use futures::StreamExt;
use futures::stream::BoxStream;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use tracing::warn;

/// Watches `api` with `config` and wraps every event with `wrap`. Errors are
/// retried with backoff by the watcher and logged, never ending the stream.
pub fn watch<K, I>(
    api: Api<K>,
    config: watcher::Config,
    wrap: impl Fn(Event<K>) -> I + Send + 'static,
) -> BoxStream<'static, I>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
    K::DynamicType: Default,
    I: Send + 'static,
{
    let kind = K::kind(&K::DynamicType::default()).to_string();
    watch_kind(api, config, kind, move |e| Some(wrap(e)))
}

/// [`watch`] for kinds known only at run time (dynamic objects), named
/// `kind` in logs; events `wrap` maps to `None` are dropped.
pub fn watch_kind<K, I>(
    api: Api<K>,
    config: watcher::Config,
    kind: String,
    wrap: impl Fn(Event<K>) -> Option<I> + Send + 'static,
) -> BoxStream<'static, I>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
    I: Send + 'static,
{
    watcher::watcher(api, config)
        .default_backoff()
        .filter_map(move |r| {
            let out = match r {
                Ok(e) => wrap(e),
                Err(e) => {
                    // RBAC errors land here too, so they must be visible.
                    warn!(kind = %kind, error = %e, "watch failed; retrying");
                    None
                }
            };
            std::future::ready(out)
        })
        .boxed()
}
