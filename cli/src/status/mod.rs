//! `ferrolb status` (also `kubectl ferrolb status`): where each Service
//! stands, the BGP sessions, the pools, and why a Service is or is not
//! served, from what the controller and the speakers recorded. See
//! docs/status.md.
//!
//! Layout: [`cluster`] reads objects, [`objects`] reduces them to a
//! [`snapshot::Snapshot`] (pure), the view modules decide what to say
//! (pure), [`render`] prints text; JSON and YAML serialise the views.

mod cluster;
pub(crate) mod objects;
mod pools;
mod render;
mod services;
mod sessions;
mod snapshot;
mod standalone;
mod view;
mod why;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

use cluster::Scope;
use render::Colour;
use snapshot::Snapshot;

#[derive(Args)]
pub struct StatusArgs {
    #[command(subcommand)]
    view: Option<View>,
    /// Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or the
    /// in-cluster service account).
    #[arg(long, global = true)]
    kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use.
    #[arg(long, global = true)]
    context: Option<String>,
    /// Namespace of the Services shown (default: the context's).
    #[arg(short, long, global = true)]
    namespace: Option<String>,
    /// Show Services of every namespace.
    #[arg(short = 'A', long, global = true, conflicts_with = "namespace")]
    all_namespaces: bool,
    /// Namespace FerroLB runs in (its pools, peers and status objects).
    #[arg(long, global = true, default_value = "metallb-system")]
    ferrolb_namespace: String,
    /// Read a standalone `ferrolb run` through its --status-socket instead
    /// of a cluster.
    #[arg(
        long,
        global = true,
        value_name = "SOCKET",
        conflicts_with_all = ["kubeconfig", "context", "all_namespaces", "ferrolb_namespace"]
    )]
    standalone: Option<PathBuf>,
    /// Output format.
    #[arg(short, long, global = true, value_enum, default_value_t = Format::Text)]
    output: Format,
}

#[derive(Subcommand, Clone)]
enum View {
    /// Every node × peer BGP session: state, uptime, prefixes, BFD, last error.
    Sessions,
    /// Addresses used and free per pool and family, Services per pool.
    Pools,
    /// The chain of decisions for one Service, node by node.
    Why {
        /// NAMESPACE/NAME, or NAME in the namespace of -n.
        service: String,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
    Yaml,
}

/// Why `ferrolb status` printed nothing useful.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error(transparent)]
    Cluster(#[from] cluster::ClusterError),
    #[error(transparent)]
    Standalone(#[from] standalone::StandaloneError),
    #[error("no LoadBalancer Service {0}")]
    NoSuchService(String),
    #[error("cannot encode the output: {0}")]
    Encode(String),
    #[error("cannot start the runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

pub fn run(args: &StatusArgs) -> ExitCode {
    match print(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferrolb status: {e}");
            ExitCode::FAILURE
        }
    }
}

fn print(args: &StatusArgs) -> Result<(), StatusError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(StatusError::Runtime)?;
    let (snapshot, namespace) = runtime.block_on(async {
        if let Some(socket) = &args.standalone {
            // One host: every Service it serves, or those of -n.
            let mut objects = standalone::read(socket).await?;
            if let Some(ns) = &args.namespace {
                objects
                    .services
                    .retain(|s| s.metadata.namespace.as_deref() == Some(ns.as_str()));
            }
            let namespace = args.namespace.clone().unwrap_or_else(|| "default".into());
            return Ok((
                objects.snapshot(k8s_openapi::jiff::Timestamp::now()),
                namespace,
            ));
        }
        let (client, default_ns) =
            cluster::connect(args.kubeconfig.as_deref(), args.context.as_deref()).await?;
        let namespace = args.namespace.clone().unwrap_or(default_ns);
        let scope = match &args.view {
            // `why ns/name` reads the Service's namespace, whatever -n says.
            Some(View::Why { service }) => Scope::Namespace(
                service
                    .split_once('/')
                    .map_or(namespace.clone(), |(ns, _)| ns.to_string()),
            ),
            _ if args.all_namespaces => Scope::All,
            _ => Scope::Namespace(namespace.clone()),
        };
        let objects = cluster::read(&client, &scope, &args.ferrolb_namespace).await?;
        Ok::<_, StatusError>((
            objects.snapshot(k8s_openapi::jiff::Timestamp::now()),
            namespace,
        ))
    })?;
    let colour = Colour::detect(
        std::io::IsTerminal::is_terminal(&std::io::stdout()),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let text = render_view(
        &snapshot,
        args.view.as_ref(),
        &namespace,
        args.output,
        colour,
    )?;
    print!("{text}");
    Ok(())
}

/// The output for `view` of `snapshot`.
fn render_view(
    snapshot: &Snapshot,
    view: Option<&View>,
    namespace: &str,
    format: Format,
    colour: Colour,
) -> Result<String, StatusError> {
    match view {
        None => {
            let v = services::services_view(snapshot);
            encode(&v, format, || render::services(&v, colour))
        }
        Some(View::Sessions) => {
            let v = sessions::sessions_view(snapshot);
            encode(&v, format, || render::sessions(&v, colour))
        }
        Some(View::Pools) => {
            let v = pools::pools_view(snapshot);
            encode(&v, format, || render::pools(&v, colour))
        }
        Some(View::Why { service }) => {
            let (ns, name) = service.split_once('/').unwrap_or((namespace, service));
            let svc = snapshot
                .services
                .iter()
                .find(|s| s.namespace == ns && s.name == name)
                .ok_or_else(|| StatusError::NoSuchService(format!("{ns}/{name}")))?;
            let v = why::why_view(snapshot, svc);
            encode(&v, format, || render::why(&v, colour))
        }
    }
}

fn encode<V: Serialize>(
    view: &V,
    format: Format,
    text: impl FnOnce() -> String,
) -> Result<String, StatusError> {
    match format {
        Format::Text => Ok(text()),
        Format::Json => serde_json::to_string_pretty(view)
            .map(|s| s + "\n")
            .map_err(|e| StatusError::Encode(e.to_string())),
        Format::Yaml => {
            serde_norway::to_string(view).map_err(|e| StatusError::Encode(e.to_string()))
        }
    }
}
