//! `ferrolb run`: standalone mode. The controller's allocator and the
//! speaker composed in one process, fed from YAML files instead of
//! Kubernetes: the same compiler, the same allocation core, the same
//! announcement decision, the same BGP stack. Files are read again when they
//! change; a bad edit is refused with the compiler's errors and the last good
//! configuration stays in force.

mod inputs;
mod services;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use ferrolb_controller::adapt::pool_set;
use ferrolb_controller::reconcile::core::{Core, Scope, Snapshot};
use ferrolb_crds::config::{Config, compile};
use ferrolb_speaker::announce::{
    BgpAnnouncer, L2Args, L2Runtime, L2Setup, address_book, memberlist_key,
};
use ferrolb_speaker::decide::{
    Explanation, L2Verdict, NodeState, ServiceKey, ServiceState, Verdict, bgp_plan,
};
use ferrolb_speaker::membership::MembershipTiming;
use ferrolb_speaker::report::VerdictLog;
use ferrolb_speaker::timer::sleep_until;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{error, info, warn};

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
    /// --lb-class).
    #[arg(long)]
    lb_class: Option<String>,
    /// Accept routers' BGP connections here (as MetalLB's FRR mode does);
    /// "off" to connect out only.
    #[arg(long, default_value = "[::]:179")]
    bgp_listen: String,
    #[command(flatten)]
    l2: L2Args,
    /// How often to look for changed files.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    interval: Duration,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    ferrolb_crds::duration::parse_go_duration(s).map_err(|e| e.to_string())
}

pub fn run(args: RunArgs) -> ExitCode {
    // Refused before anything starts, not when Layer-2 mode first runs.
    if let Err(e) = args.l2.resolve() {
        eprintln!("ferrolb run: {e}");
        return ExitCode::FAILURE;
    }
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
    runtime.block_on(Standalone::new(args).serve())
}

struct Standalone {
    args: RunArgs,
    core: Core,
    /// The last valid configuration.
    config: Option<Config>,
    node: NodeState,
    announcer: Option<BgpAnnouncer>,
    /// Layer-2 mode, while some L2Advertisement exists.
    l2: Option<L2Runtime>,
    /// The services as the speaker's decision last read them.
    states: Vec<ServiceState>,
    /// The controller's decisions, kept across file reloads as a cluster
    /// keeps them in Service status.
    recorded: BTreeMap<ServiceKey, ferrolb_controller::reconcile::plan::Desired>,
    fingerprint: Option<Vec<(PathBuf, u64, Option<std::time::SystemTime>)>>,
    last_verdicts: VerdictLog,
    last_l2_verdicts: VerdictLog,
    last_states: BTreeMap<String, String>,
}

impl Standalone {
    fn new(args: RunArgs) -> Standalone {
        Standalone {
            core: Core::new(args.lb_class.clone()),
            node: NodeState::new(args.node.clone()),
            config: None,
            announcer: None,
            l2: None,
            states: Vec::new(),
            last_l2_verdicts: VerdictLog::default(),
            recorded: BTreeMap::new(),
            fingerprint: None,
            last_verdicts: VerdictLog::default(),
            last_states: BTreeMap::new(),
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
        info!(node = %self.args.node, config = %self.args.config.display(), "ferrolb run started");
        let (changed_tx, mut changed) = tokio::sync::mpsc::channel::<()>(1);
        // Kept alive for the whole run: dropping it stops the notifications.
        let _watcher = watch(&self.args.config, changed_tx);
        // The poll catches what notifications miss (network filesystems).
        let mut poll = tokio::time::interval(self.args.interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Set while an editor's save (several events) settles.
        let mut settling: Option<tokio::time::Instant> = None;
        loop {
            // Biased, most urgent first, and no branch waits inside: a stop
            // or a Layer-2 failover must never queue behind the files (a
            // 10 ms debounce here once held every takeover up by 0-80 ms).
            tokio::select! {
                biased;
                _ = term.recv() => break,
                _ = int.recv() => break,
                () = L2Runtime::changed_if_any(&mut self.l2) => self.apply_l2(),
                () = sleep_until(settling) => {
                    settling = None;
                    while changed.try_recv().is_ok() {}
                    self.step().await;
                }
                Some(()) = changed.recv(), if settling.is_none() => {
                    settling = Some(tokio::time::Instant::now() + Duration::from_millis(10));
                }
                _ = poll.tick() => self.step().await,
            }
        }
        info!("stopping: withdrawing every route and closing every session");
        let bgp = async {
            if let Some(announcer) = self.announcer.take() {
                announcer.shutdown("ferrolb run stopped").await;
            }
        };
        let l2 = async {
            if let Some(l2) = self.l2.take() {
                l2.shutdown().await;
            }
        };
        tokio::join!(bgp, l2);
        ExitCode::SUCCESS
    }

    async fn step(&mut self) {
        let files = match inputs::files(&self.args.config) {
            Ok(f) => f,
            Err(e) => {
                error!(path = %self.args.config.display(), error = %e, "cannot list the configuration");
                return;
            }
        };
        let fingerprint = inputs::fingerprint(&files);
        if self.fingerprint.as_ref() != Some(&fingerprint) {
            self.fingerprint = Some(fingerprint);
            self.reload(&files).await;
        }
        self.report_sessions();
    }

    async fn reload(&mut self, files: &[PathBuf]) {
        let (input, problems) = inputs::read(files);
        if !problems.is_empty() {
            for p in &problems {
                error!("{p}");
            }
            warn!("files refused; the last good configuration stays in force");
            return;
        }
        match compile(&input.resources) {
            Ok(compiled) => {
                for w in &compiled.warnings {
                    warn!("{w}");
                }
                match pool_set(&compiled.config) {
                    Ok(pools) => {
                        self.core.set_pools(pools);
                        self.config = Some(compiled.config);
                    }
                    Err(e) => error!("{e}; the last good configuration stays in force"),
                }
            }
            Err(e) => {
                for d in &e.errors {
                    error!("{d}");
                }
                warn!(
                    errors = e.errors.len(),
                    "configuration refused; the last good one stays in force"
                );
            }
        }
        let Some(config) = self.config.clone() else {
            warn!("no valid configuration yet: nothing to announce");
            return;
        };
        // This host's Node object, if the files have one: its labels select
        // peers and advertisements, its IPv4 address is the default router ID.
        let this_node = input
            .resources
            .nodes
            .as_ref()
            .and_then(|n| n.iter().find(|n| n.name == self.args.node));
        if let Some(node) = this_node {
            self.node.labels = node.labels.clone();
        }
        let router_id = self.args.router_id.or_else(|| {
            this_node
                .and_then(|n| {
                    n.addresses.iter().find_map(|a| match a {
                        IpAddr::V4(v4) => Some(*v4),
                        IpAddr::V6(_) => None,
                    })
                })
                .or_else(host_ipv4)
        });

        // The controller's part: assign addresses, as the reconciler does.
        let mut services = input.services;
        for (key, desired) in &self.recorded {
            if let Some(svc) = services.get_mut(key)
                && ferrolb_controller::adapt::recorded_addresses(svc).is_empty()
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
            let level_warn = note.reason.is_warning();
            if level_warn {
                warn!(service = %note.key, reason = note.reason.as_str(), "{}", note.message);
            } else {
                info!(service = %note.key, reason = note.reason.as_str(), "{}", note.message);
            }
        }
        for (key, desired) in plan.writes {
            if let Some(svc) = services.get_mut(&key) {
                services::record(svc, &desired);
            }
            self.recorded.insert(key, desired);
        }

        // The speaker's part: what this node announces, to whom.
        let nodes = input.resources.nodes.clone().unwrap_or_default();
        let mut node_names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        if !node_names.contains(&self.node.name.as_str()) {
            node_names.push(&self.node.name);
        }
        let states: Vec<_> = services
            .iter()
            .filter_map(|(key, svc)| {
                services::state(key, svc, input.endpoints.get(key), &node_names)
            })
            .collect();
        let bgp = bgp_plan(&config, &self.node, &states);
        self.report_verdicts(&bgp.explanations);
        let listen = self.args.bgp_listen.clone();
        let announcer = self.announcer.get_or_insert_with(|| {
            let mut announcer = BgpAnnouncer::new(router_id);
            if listen != "off" {
                match listen.parse() {
                    Ok(addr) => {
                        if let Err(e) = announcer.listen(addr) {
                            warn!(%addr, error = %e, "cannot listen for BGP connections; connecting out only");
                        }
                    }
                    Err(e) => warn!(listen, error = %e, "bad --bgp-listen; connecting out only"),
                }
            }
            announcer
        });
        announcer.apply(&config, &bgp).await;
        for (peer, e) in announcer.errors() {
            error!(peer, "{e}");
        }
        self.states = states;
        self.update_l2(&config, &input.resources, &nodes).await;
    }

    /// Starts, feeds or stops Layer-2 mode after a reload.
    async fn update_l2(
        &mut self,
        config: &Config,
        resources: &ferrolb_crds::config::Resources,
        nodes: &[ferrolb_crds::config::Node],
    ) {
        if config.l2_advertisements.is_empty() {
            if let Some(l2) = self.l2.take() {
                info!("no L2Advertisement any more: Layer-2 mode stops");
                l2.shutdown().await;
            }
            return;
        }
        if self.l2.is_none() {
            let (options, interface_rules) = match self.args.l2.resolve() {
                Ok(resolved) => resolved,
                Err(e) => {
                    error!("{e}");
                    return;
                }
            };
            let setup = L2Setup {
                node: self.node.name.clone(),
                key: memberlist_key(&resources.secrets),
                timing: MembershipTiming::default(),
                options,
                interface_rules,
                metrics: None,
            };
            match L2Runtime::start(setup).await {
                Ok(l2) => self.l2 = Some(l2),
                Err(e) => {
                    error!(error = %e, "cannot start Layer-2 mode");
                    return;
                }
            }
        }
        let Some(l2) = &mut self.l2 else {
            return;
        };
        // Every node of the files runs a speaker: the membership's known
        // members, at their first address.
        let book = address_book(
            nodes.iter().filter_map(|n| {
                let address = n
                    .addresses
                    .iter()
                    .find(|a| a.is_ipv4())
                    .or_else(|| n.addresses.first())?;
                Some((n.name.as_str(), *address))
            }),
            self.args.l2.ml_bind_port,
        );
        let states = nodes
            .iter()
            .map(|n| {
                let mut state = NodeState::new(n.name.clone());
                state.labels = n.labels.clone();
                (n.name.clone(), state)
            })
            .chain([(self.node.name.clone(), self.node.clone())])
            .collect();
        if let Err(e) = l2.set_members(book, states).await {
            error!(error = %e, "Layer-2 mode cannot reach the other nodes");
        }
        self.apply_l2();
    }

    /// Decides and applies Layer-2 announcements from the last inputs.
    fn apply_l2(&mut self) {
        let (Some(l2), Some(config)) = (&mut self.l2, &self.config) else {
            return;
        };
        let plan = l2.apply(config, &self.states);
        self.last_l2_verdicts.log(&plan.explanations, |v| {
            matches!(v, L2Verdict::Announced { .. })
        });
        for e in l2.events() {
            info!(interface = %e.interface, event = ?e.event, "layer 2");
        }
    }

    /// Logs each address's BGP verdict when it changes.
    fn report_verdicts(&mut self, explanations: &[Explanation]) {
        self.last_verdicts
            .log(explanations, |v| matches!(v, Verdict::Announced { .. }));
    }

    /// Logs each session's state when it changes.
    fn report_sessions(&mut self) {
        let Some(announcer) = &self.announcer else {
            return;
        };
        for (peer, status) in announcer.statuses() {
            let state = format!("{:?}", status.state);
            if self.last_states.get(&peer) != Some(&state) {
                match &status.last_error {
                    Some(err) if state != "Established" => {
                        warn!(peer, state, last_error = %err, "session")
                    }
                    _ => info!(peer, state, prefixes = status.prefixes_announced, "session"),
                }
                self.last_states.insert(peer, state);
            }
        }
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
