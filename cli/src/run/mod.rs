//! `ferrolb run`: standalone mode. The controller's allocator and the
//! speaker composed in one process, fed from YAML files instead of
//! Kubernetes: the same compiler, the same allocation core, the same
//! announcement decision, the same BGP stack. Files are read again when they
//! change; a bad edit is refused with the compiler's errors and the last good
//! configuration stays in force.

mod metrics;
mod services;
mod status_socket;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use ferrolb_controller::adapt::pool_set;
use ferrolb_controller::reconcile::core::{Core, Scope, Snapshot};
use ferrolb_crds::service::recorded_addresses;
use ferrolb_k8s::timer::sleep_until;
use ferrolb_speaker::announce::{
    GracefulRestartArgs, GracefulRestartSettings, L2Args, L2ArgsError, L2Settings, excludel2,
};
use ferrolb_speaker::files::{self, read};
use ferrolb_speaker::memory::Trim;
use ferrolb_speaker::pass::{Change, Settings, Speaker};
use metrics::StandaloneMetrics;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{Instrument, error, info, warn};

/// Arguments of `ferrolb run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// A YAML file, or a directory of them: metallb.io objects, Secrets,
    /// Services (with requested or recorded addresses), EndpointSlices,
    /// Namespaces and Nodes.
    #[arg(long, value_name = "FILE_OR_DIR")]
    config: PathBuf,
    /// This node's name: Node objects and nodeSelectors are matched against it.
    #[arg(long)]
    node: String,
    /// BGP router ID when a BGPPeer sets none; defaults to the Node object's
    /// first IPv4 address, else the host's first global IPv4 address.
    #[arg(long)]
    router_id: Option<Ipv4Addr>,
    /// Handle only Services of this loadBalancerClass (as the controller's
    /// and the speaker's --lb-class).
    #[arg(long)]
    lb_class: Option<String>,
    /// Accept routers' BGP connections here (as MetalLB's FRR mode does);
    /// "off" to connect out only.
    #[arg(long, default_value = "[::]:179", value_parser = parse_listen)]
    bgp_listen: Listen,
    #[command(flatten)]
    l2: L2Args,
    #[command(flatten)]
    graceful_restart: GracefulRestartArgs,
    /// How often to look for changed files.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    interval: Duration,
    #[command(flatten)]
    pub log: ferrolb_k8s::logging::LogArgs,
    /// Serve `ferrolb status --standalone PATH` on this Unix socket (mode
    /// 0660; docs/adr/0009-standalone-status-socket.md). Off unless given.
    #[arg(long, value_name = "PATH")]
    status_socket: Option<PathBuf>,
    /// Serve Prometheus metrics (`/metrics`, with `/healthz` and
    /// `/readyz`) on this address, e.g. `127.0.0.1:7472`: the speaker's
    /// and the allocator's, under the names the Kubernetes components
    /// use. Off unless given.
    #[arg(long, value_name = "ADDR")]
    metrics_addr: Option<SocketAddr>,
}

/// `--bgp-listen`: an address, or off.
#[derive(Debug, Clone, Copy)]
struct Listen(Option<SocketAddr>);

fn parse_listen(s: &str) -> Result<Listen, String> {
    match s {
        "off" => Ok(Listen(None)),
        _ => s
            .parse()
            .map(|a| Listen(Some(a)))
            .map_err(|e| format!("{e} (an address and port, or \"off\")")),
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    ferrolb_crds::duration::parse_go_duration(s).map_err(|e| e.to_string())
}

pub fn run(args: RunArgs) -> ExitCode {
    // Refused before anything starts, not when Layer-2 mode first runs.
    // The `metallb-excludel2` ConfigMap comes from the files, read once at
    // start as MetalLB's speaker reads its mount.
    let l2 = match excludel2(&args.config).and_then(|list| args.l2.resolve_with(list)) {
        Ok(l2) => l2,
        Err(e) => {
            eprintln!("ferrolb run: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ferrolb run: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Before the first session: the marker says whether this is a restart.
    let graceful_restart = args.graceful_restart.resolve();
    // Every line names this host's node (as the speaker's do).
    let span = tracing::info_span!("ferrolb_run", node = %args.node);
    runtime.block_on(
        async move {
            let metrics = match args.metrics_addr {
                Some(addr) => match StandaloneMetrics::start(addr).await {
                    Ok(m) => Some(m),
                    Err(e) => {
                        eprintln!("ferrolb run: metrics: {e}");
                        return ExitCode::FAILURE;
                    }
                },
                None => None,
            };
            Standalone::new(args, l2, graceful_restart, metrics)
                .serve()
                .await
        }
        .instrument(span),
    )
}

/// The `metallb-excludel2` list of the configuration files, with the file
/// that holds it.
fn excludel2(config: &std::path::Path) -> Result<Option<(String, Vec<String>)>, L2ArgsError> {
    let files = read::files(config).unwrap_or_default();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            // Unreadable files are reported by the configuration reader.
            continue;
        };
        let origin = file.display().to_string();
        if let Some(list) = excludel2::from_documents(&text, &origin)? {
            return Ok(Some((origin, list)));
        }
    }
    Ok(None)
}

/// The files shell: the controller's allocator and the speaker's pass, fed
/// from the files.
struct Standalone {
    args: RunArgs,
    core: Core,
    speaker: Speaker,
    fingerprint: Option<Vec<(PathBuf, u64, Option<std::time::SystemTime>)>>,
    /// What `ferrolb status --standalone` is told, and where it is sent.
    status: status_socket::StatusObjects,
    published: Option<tokio::sync::watch::Sender<String>>,
    metrics: Option<StandaloneMetrics>,
}

impl Standalone {
    fn new(
        args: RunArgs,
        l2: L2Settings,
        graceful_restart: GracefulRestartSettings,
        metrics: Option<StandaloneMetrics>,
    ) -> Standalone {
        let speaker = Speaker::new(Settings {
            node: args.node.clone(),
            router_id: args.router_id,
            bgp_listen: args.bgp_listen.0,
            l2,
            graceful_restart,
            metrics: metrics.as_ref().map(|m| m.speaker.clone()),
        });
        Standalone {
            metrics,
            status: status_socket::StatusObjects::new(&args.node),
            published: None,
            core: Core::new(args.lb_class.clone()),
            speaker,
            fingerprint: None,
            args,
        }
    }

    async fn serve(mut self) -> ExitCode {
        let (mut term, mut int) = match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(t), Ok(i)) => (t, i),
            _ => {
                eprintln!("ferrolb run: cannot install signal handlers");
                return ExitCode::FAILURE;
            }
        };
        ferrolb_k8s::logging::watch_level_file();
        let _status_task = match &self.args.status_socket {
            Some(path) => {
                let (tx, rx) = tokio::sync::watch::channel(self.status.document().to_string());
                match status_socket::start(path, rx) {
                    Ok(task) => {
                        self.published = Some(tx);
                        Some(AbortOnDrop(task))
                    }
                    Err(e) => {
                        eprintln!("ferrolb run: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            None => None,
        };
        info!(node = %self.args.node, config = %self.args.config.display(), "ferrolb run started");
        let (changed_tx, mut changed) = tokio::sync::mpsc::channel::<()>(1);
        // Kept alive for the whole run: dropping it stops the notifications.
        let _watcher = watch(&self.args.config, changed_tx);
        // The poll catches what notifications miss (network filesystems).
        let mut poll = tokio::time::interval(self.args.interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Set while an editor's save (several events) settles.
        let mut settling: Option<tokio::time::Instant> = None;
        let mut trim = Trim::default();
        loop {
            // Biased, most urgent first, and no branch waits inside: a stop
            // or a Layer-2 failover must never queue behind the files (a
            // 10 ms debounce here once held every takeover up by 0-80 ms).
            tokio::select! {
                biased;
                _ = term.recv() => break,
                _ = int.recv() => break,
                // Events are for an API server: the pass logged the
                // verdicts, and logs each session's state as it changes.
                change = self.speaker.changed() => match change {
                    Change::Layer2 => {
                        let report = self.speaker.apply_l2();
                        self.publish_speaker(&report);
                    }
                    Change::Sessions | Change::LinkPeer => {
                        if change == Change::LinkPeer {
                            self.speaker.apply_bgp().await;
                        }
                        let sessions = self.speaker.sessions();
                        if self.published.is_some() {
                            self.status.set_sessions(&sessions);
                            self.publish();
                        }
                    }
                },
                () = sleep_until(settling) => {
                    settling = None;
                    while changed.try_recv().is_ok() {}
                    if self.step().await {
                        trim.after_work();
                    }
                }
                Some(()) = changed.recv(), if settling.is_none() => {
                    settling = Some(tokio::time::Instant::now() + Duration::from_millis(10));
                }
                _ = poll.tick() => {
                    if self.step().await {
                        trim.after_work();
                    }
                }
                // Reading the files freed far more than the run keeps.
                () = sleep_until(trim.due()) => trim.run(),
            }
        }
        self.speaker.shutdown("ferrolb run stopped").await;
        ExitCode::SUCCESS
    }

    /// Reads the files again if they changed; `true` if they did.
    async fn step(&mut self) -> bool {
        let files = match read::files(&self.args.config) {
            Ok(f) => f,
            Err(e) => {
                error!(path = %self.args.config.display(), error = %e, "cannot list the configuration");
                return false;
            }
        };
        let fingerprint = read::fingerprint(&files);
        if self.fingerprint.as_ref() == Some(&fingerprint) {
            return false;
        }
        self.fingerprint = Some(fingerprint);
        self.reload(&files).await;
        true
    }

    async fn reload(&mut self, files: &[PathBuf]) {
        let (input, problems) = read::read(files);
        if !problems.is_empty() {
            for p in &problems {
                error!("{p}");
            }
            warn!("files refused; the last good configuration stays in force");
            if let Some(m) = &self.metrics {
                m.files_refused(self.speaker.config().is_some());
            }
            return;
        }
        // The allocator takes the pools the speaker takes, or neither does.
        let core = &mut self.core;
        self.speaker.configure_with(&input.resources, |config| {
            pool_set(config).map(|pools| core.set_pools(pools))
        });
        if self.speaker.config().is_none() {
            self.status.configuration = Some(Err(
                "the configuration files were refused (see the log)".into(),
            ));
            self.publish();
            return;
        }
        self.status.configuration = Some(Ok(()));
        self.status.resources = input.resources.clone();

        // The controller's part: assign addresses, as the reconciler does.
        // The controller's decisions stand across reloads, as a cluster
        // keeps them in Service status.
        let mut services = input.services;
        for (key, desired) in self.core.decided() {
            if let Some(svc) = services.get_mut(key)
                && recorded_addresses(svc).is_empty()
            {
                services::record(svc, desired);
            }
        }
        // Files change as a whole: look at every Service.
        let plan = self.core.sync(
            Snapshot {
                services: &services,
                namespaces: &input.namespaces,
            },
            &Scope::All,
        );
        for note in &plan.notes {
            if note.reason.is_warning() {
                warn!(service = %note.key, reason = note.reason.as_str(), "{}", note.message);
            } else {
                info!(service = %note.key, reason = note.reason.as_str(), "{}", note.message);
            }
            // Kept for `ferrolb status` only, as the pass's Events are.
            if self.published.is_some() {
                self.status.event(
                    &note.key,
                    true,
                    note.reason.as_str(),
                    note.reason.is_warning(),
                    &note.message,
                );
            }
        }
        for (key, desired) in plan.writes {
            if let Some(svc) = services.get_mut(&key) {
                services::record(svc, &desired);
            }
        }

        // The speaker's part: what this node announces, to whom.
        let mut inputs = files::pass_inputs(
            &self.args.node,
            self.args.lb_class.as_deref(),
            &services,
            &input.slices,
            &input.nodes,
        );
        inputs.node_ipv4 = inputs.node_ipv4.or_else(host_ipv4);
        // The pass logged the verdicts; its Events go to the status socket.
        let report = self.speaker.pass(inputs).await;
        // The whole objects are for `ferrolb status` only: without its
        // socket nobody reads them, and they were most of the run's
        // memory (docs/benchmarks.md, speaker memory).
        if self.published.is_some() {
            self.status.services = services;
        }
        self.status.pool_stats = self.core.pool_stats();
        if let Some(m) = &self.metrics {
            m.reloaded(
                &self.status.pool_stats,
                plan.notes.iter().map(|n| &n.reason),
            );
        }
        self.publish_speaker(&report);
    }

    /// Records a pass's Events and statuses for the status socket.
    fn publish_speaker(&mut self, report: &ferrolb_speaker::pass::Report) {
        if self.published.is_none() {
            return;
        }
        for e in &report.events {
            self.status.event(
                &e.service,
                false,
                e.kind.reason(),
                e.kind.is_warning(),
                &e.note,
            );
        }
        self.status.statuses = self.speaker.service_statuses();
        self.status.announcement = self.speaker.announcement_state();
        self.publish();
    }

    fn publish(&self) {
        if let Some(tx) = &self.published {
            tx.send_replace(self.status.document().to_string());
        }
    }
}

/// Stops the status server with the run.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Watches the configuration (the directory, or a file's directory, so that
/// editors that save by renaming are seen) and signals every change.
fn watch(
    path: &std::path::Path,
    changed: tokio::sync::mpsc::Sender<()>,
) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    let dir = if path.is_dir() {
        path
    } else {
        path.parent().unwrap_or(path)
    };
    let result = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // Opening and reading the files is an event too (inotify's
        // IN_OPEN): ours would wake us for ever, and every other process
        // reading them (the other nodes of a lab) would too.
        if event.is_ok_and(|e| !e.kind.is_access()) {
            // Full means a reload is already due.
            let _ = changed.try_send(());
        }
    })
    .and_then(|mut w| {
        w.watch(dir, notify::RecursiveMode::NonRecursive)
            .map(|()| w)
    });
    match result {
        Ok(w) => Some(w),
        Err(e) => {
            warn!(error = %e, "cannot watch the configuration; polling only");
            None
        }
    }
}

/// The host's first global IPv4 address, for a default router ID.
fn host_ipv4() -> Option<Ipv4Addr> {
    nix::ifaddrs::getifaddrs().ok()?.find_map(|ifa| {
        let addr = ifa.address?.as_sockaddr_in()?.ip();
        (!addr.is_loopback() && !addr.is_link_local()).then_some(addr)
    })
}
