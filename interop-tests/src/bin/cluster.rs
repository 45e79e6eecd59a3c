//! `make cluster` / `make cluster-down`: a real Kubernetes cluster in the
//! lab with FerroLB installed by Helm, left running for a person to try.
//!
//!   cluster up [--nodes N]   builds it, installs FerroLB, writes
//!                            target/cluster/env, prints how to use it
//!   cluster down             removes everything it made
//!
//! `up` starts a supervisor in the background that owns the cluster (every
//! process, namespace and cgroup of it) until `down` sends it SIGTERM; then
//! it tears everything down by PID, as the tests do. Its processes also die
//! on their own after 12 hours.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use interop_tests::LabError;
use interop_tests::cluster::{
    CHART_SELECTOR, Cluster, ClusterSpec, ECHO_IMAGE, FREE_RANGE, LAN, chart_dir,
    routers::{BGP_POOL, BIRD_AS, FRR_AS, NODE_AS, Routers},
};
use nix::sys::signal::{SigSet, Signal, kill};
use nix::unistd::Pid;

const NAMESPACE: &str = "metallb-system";
const RELEASE: &str = "ferrolb";
const LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Building from nothing (binaries cached) and installing takes about a
/// minute on 2 idle cores.
const UP_TIMEOUT: Duration = Duration::from_secs(600);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("up") => up(node_count(&args[1..])),
        Some("serve") => serve(node_count(&args[1..])),
        Some("down") => down(),
        _ => Err(LabError::Invalid(
            "usage: cluster up [--nodes N] | cluster down".into(),
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cluster: {e}");
            ExitCode::FAILURE
        }
    }
}

fn node_count(args: &[String]) -> Result<usize, LabError> {
    match args {
        [] => Ok(3),
        [flag, n] if flag == "--nodes" => n
            .parse()
            .ok()
            .filter(|n| (1..=20).contains(n))
            .ok_or_else(|| LabError::Invalid(format!("--nodes {n}: use 1 to 20"))),
        other => Err(LabError::Invalid(format!("unexpected arguments {other:?}"))),
    }
}

/// target/cluster, beside the build.
fn state_dir() -> PathBuf {
    interop_tests::cluster::tools::project_root().join("target/cluster")
}

fn read_pid() -> Option<Pid> {
    std::fs::read_to_string(state_dir().join("supervisor.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
        .map(Pid::from_raw)
}

fn alive(pid: Pid) -> bool {
    kill(pid, None).is_ok()
}

fn up(nodes: Result<usize, LabError>) -> Result<(), LabError> {
    let nodes = nodes?;
    let dir = state_dir();
    if let Some(pid) = read_pid().filter(|p| alive(*p)) {
        return Err(LabError::Invalid(format!(
            "a cluster is already running (supervisor {pid}): `make cluster-down` first"
        )));
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| LabError::io(format!("cannot create {}", dir.display()), e))?;
    for f in ["env", "ready", "failed", "supervisor.pid"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    let log = dir.join("supervisor.log");
    let out = std::fs::File::create(&log)
        .map_err(|e| LabError::io(format!("cannot create {}", log.display()), e))?;
    let err = out
        .try_clone()
        .map_err(|e| LabError::io("cannot duplicate a file handle", e))?;
    let exe = std::env::current_exe().map_err(|e| LabError::io("cannot find myself", e))?;
    let mut command = Command::new(exe);
    command
        .args(["serve", "--nodes", &nodes.to_string()])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    // Its own session: the terminal's Ctrl-C and hang-up do not reach it.
    unsafe_setsid(&mut command);
    let mut child = command
        .spawn()
        .map_err(|e| LabError::io("cannot start the supervisor", e))?;
    println!(
        "cluster: bringing up {nodes} nodes (supervisor {}, log {})",
        child.id(),
        log.display()
    );
    let started = Instant::now();
    loop {
        if dir.join("ready").exists() {
            break;
        }
        if dir.join("failed").exists() || !matches!(child.try_wait(), Ok(None)) {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(LabError::Invalid(format!(
                "the cluster did not come up:\n{text}"
            )));
        }
        if started.elapsed() > UP_TIMEOUT {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
            return Err(LabError::Invalid(format!(
                "the cluster was not up after {UP_TIMEOUT:?}; see {}",
                log.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    print!(
        "{}",
        std::fs::read_to_string(dir.join("ready")).unwrap_or_default()
    );
    Ok(())
}

fn unsafe_setsid(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setsid is async-signal-safe and touches no memory.
    unsafe {
        command.pre_exec(|| {
            nix::unistd::setsid()
                .map(drop)
                .map_err(std::io::Error::from)
        });
    }
}

/// The supervisor: builds the cluster, then holds it until SIGTERM.
fn serve(nodes: Result<usize, LabError>) -> Result<(), LabError> {
    let dir = state_dir();
    // Blocked before anything starts, so a `down` during `up` is not lost.
    let mut signals = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        signals.add(s);
    }
    signals
        .thread_block()
        .map_err(|e| LabError::io("cannot block signals", e.into()))?;
    std::fs::write(dir.join("supervisor.pid"), std::process::id().to_string())
        .map_err(|e| LabError::io("cannot write supervisor.pid", e))?;
    let cluster = match bring_up(nodes, &dir) {
        Ok(cluster) => cluster,
        Err(e) => {
            eprintln!("{e}");
            let _ = std::fs::write(dir.join("failed"), e.to_string());
            return Err(e);
        }
    };
    let signal = signals
        .wait()
        .map_err(|e| LabError::io("cannot wait for a signal", e.into()))?;
    println!("{signal}: tearing the cluster down");
    drop(cluster);
    for f in ["env", "ready", "kubectl", "bgp.yaml", "supervisor.pid"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    println!("cluster: removed");
    Ok(())
}

fn bring_up(nodes: Result<usize, LabError>, dir: &Path) -> Result<Cluster, LabError> {
    let mut spec = ClusterSpec::new("cluster", nodes?);
    spec.lifetime = LIFETIME;
    let mut cluster = Cluster::start(&spec)?;
    println!(
        "cluster: control plane ready in {:.1} s, {} nodes Ready {:.1} s later",
        cluster.times.control_plane.as_secs_f64(),
        spec.nodes.len(),
        cluster.times.nodes_ready.as_secs_f64()
    );
    let installed = Instant::now();
    cluster.helm_install(RELEASE, NAMESPACE, &[])?;
    cluster.wait_pods_ready(
        NAMESPACE,
        CHART_SELECTOR,
        spec.nodes.len() + 1,
        Duration::from_secs(180),
    )?;
    cluster.ensure_memberlist_secret(NAMESPACE)?;
    println!(
        "cluster: FerroLB installed by Helm and ready in {:.1} s",
        installed.elapsed().as_secs_f64()
    );
    // The BGP walkthrough's routers (docs/kubernetes.md): idle until a
    // BGPPeer names them; their daemons live as long as the lab.
    let routers = Routers::start(&mut cluster)?;
    let bgp_config = dir.join("bgp.yaml");
    write(&bgp_config, &routers.config("bgp-pool"))?;
    let client = cluster.client.netns.name().to_string();
    let kubeconfig = cluster.kubectl.kubeconfig().display().to_string();
    let kubectl = cluster.kubectl.binary().display().to_string();
    let env = format!(
        "KUBECONFIG={kubeconfig}\nKUBECTL={kubectl}\nHELM={helm}\nCLIENT_NETNS={client}\nLAN_CIDR={LAN}\nFREE_RANGE={}-{}\nECHO_IMAGE={ECHO_IMAGE}\nCHART={chart}\nFRR_NETNS={frr}\nBIRD_NETNS={bird}\nBGP_POOL={BGP_POOL}\nBGP_CONFIG={bgp}\n",
        FREE_RANGE.0,
        FREE_RANGE.1,
        helm = cluster.helm.binary().display(),
        chart = chart_dir().display(),
        frr = routers.frr_host.netns.name(),
        bird = routers.bird_host.netns.name(),
        bgp = bgp_config.display(),
    );
    write(&dir.join("env"), &env)?;
    // kubectl as a person would type it: from the client's namespace, the
    // only place (with the nodes) that reaches the API server.
    let wrapper = dir.join("kubectl");
    write(
        &wrapper,
        &format!(
            "#!/bin/sh\n# kubectl against the lab cluster, run from its client namespace\nexec ip netns exec {client} {kubectl} --kubeconfig={kubeconfig} \"$@\"\n"
        ),
    )?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| LabError::io("cannot make the kubectl wrapper executable", e))?;
    let nodes_list = cluster.kubectl.run(&["get", "nodes", "-o", "wide"])?;
    let pods = cluster
        .kubectl
        .run(&["get", "pods", "-n", NAMESPACE, "-o", "wide"])?;
    let usage = format!(
        "\n{nodes_list}\n{pods}
The cluster runs until `make cluster-down` (at most 12 hours). As root:

  set -a; . target/cluster/env; set +a
  ip netns exec $CLIENT_NETNS $KUBECTL get nodes      # or: target/cluster/kubectl get nodes
  ip netns exec $CLIENT_NETNS $KUBECTL apply -f -  <<'EOF'
  apiVersion: metallb.io/v1beta1
  kind: IPAddressPool
  metadata: {{name: pool-1, namespace: metallb-system}}
  spec: {{addresses: [\"{a}-{b}\"]}}
  ---
  apiVersion: metallb.io/v1beta1
  kind: L2Advertisement
  metadata: {{name: adv-1, namespace: metallb-system}}
  EOF
  ip netns exec $CLIENT_NETNS $KUBECTL create deployment echo --image=$ECHO_IMAGE
  ip netns exec $CLIENT_NETNS $KUBECTL expose deployment echo --type=LoadBalancer --port=80 --target-port=8080
  ip netns exec $CLIENT_NETNS $KUBECTL get svc echo
  ip netns exec $CLIENT_NETNS curl http://<EXTERNAL-IP>/   # the echo server answers with the client's address

The client ({client_ip}) and the nodes share the LAN {LAN}; {a}-{b} is free for pools.
BGP: FRR ({frr_ip}, AS {FRR_AS}) and BIRD ({bird_ip}, AS {BIRD_AS}) peer with every node (AS {NODE_AS});
the client routes {BGP_POOL} through FRR. $BGP_CONFIG holds their BGPPeers, a pool and a BGPAdvertisement:
  ip netns exec $CLIENT_NETNS $KUBECTL apply -f $BGP_CONFIG
  ip netns exec $FRR_NETNS ip route            # an ECMP route per Service address, a next hop per node
Helm: ip netns exec $CLIENT_NETNS $HELM --kubeconfig $KUBECONFIG list -n metallb-system
",
        a = FREE_RANGE.0,
        b = FREE_RANGE.1,
        client_ip = cluster.client.ipv4,
        frr_ip = routers.frr_host.ipv4,
        bird_ip = routers.bird_host.ipv4,
    );
    write(&dir.join("ready"), &usage)?;
    Ok(cluster)
}

fn down() -> Result<(), LabError> {
    let Some(pid) = read_pid() else {
        println!("cluster: none is running");
        return Ok(());
    };
    if !alive(pid) {
        let _ = std::fs::remove_file(state_dir().join("supervisor.pid"));
        println!("cluster: its supervisor {pid} is gone already");
        return Ok(());
    }
    kill(pid, Signal::SIGTERM)
        .map_err(|e| LabError::io(format!("cannot signal the supervisor {pid}"), e.into()))?;
    let started = Instant::now();
    while alive(pid) {
        if started.elapsed() > Duration::from_secs(120) {
            return Err(LabError::Invalid(format!(
                "the supervisor {pid} did not finish tearing down in 2 minutes; see target/cluster/supervisor.log"
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "cluster: removed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<(), LabError> {
    std::fs::write(path, text)
        .map_err(|e| LabError::io(format!("cannot write {}", path.display()), e))
}
