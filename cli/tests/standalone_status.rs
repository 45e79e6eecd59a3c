//! `ferrolb status --standalone SOCKET` against a `ferrolb run` in a lab
//! with a BIRD router (docs/adr/0009): the same views as on Kubernetes —
//! the Service announced to the router, one pending because the pool is
//! exhausted, the session Established then down — read from the run's
//! status socket.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use interop_tests::ferrolb::FerroLb;
use interop_tests::{Bird, Lab, Probe, RouterConfig, wait_paths};

const NODE_AS: u32 = 64512;
const CONVERGE: Duration = Duration::from_secs(30);

fn status(socket: &Path, args: &[&str]) -> interop_tests::Result<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrolb"))
        .arg("status")
        .args(args)
        .arg("--standalone")
        .arg(socket)
        .output()
        .map_err(|e| interop_tests::error::LabError::io("cannot run ferrolb status", e))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let errors = String::from_utf8_lossy(&out.stderr).into_owned();
    Ok(if out.status.success() {
        text
    } else {
        format!("failed: {errors}")
    })
}

#[test]
fn status_reads_a_standalone_run_through_its_socket() -> interop_tests::Result<()> {
    // SAFETY-free: the variable is read by FerroLb::start in this process.
    unsafe { std::env::set_var("FERROLB_BIN", env!("CARGO_BIN_EXE_ferrolb")) };
    let mut lab = Lab::new("sstatus")?;
    let r1 = lab.add_host("r1")?;
    let n1 = lab.add_host_at("n1", 11)?;
    let bird = Bird::start(
        &lab,
        &r1,
        &RouterConfig::facing_speakers(64500, &r1, &[&n1], NODE_AS),
    )?;
    let dir = lab.dir().join("ferrolb-config");
    std::fs::create_dir_all(&dir).expect("config dir");
    let config = format!(
        "apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {{name: public, namespace: metallb-system}}
spec: {{addresses: [198.51.100.10/32]}}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {{name: r1, namespace: metallb-system}}
spec: {{myASN: {NODE_AS}, peerASN: 64500, peerAddress: {}, holdTime: 9s, connectTime: 1s}}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {{name: all, namespace: metallb-system}}
spec: {{}}
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: apps}}
spec: {{type: LoadBalancer, ports: [{{port: 80}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: worker, namespace: apps}}
spec: {{type: LoadBalancer, ports: [{{port: 5432}}]}}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {{name: local, namespace: metallb-system}}
spec: {{addresses: [198.51.100.20/32], autoAssign: false}}
---
apiVersion: v1
kind: Service
metadata: {{name: local, namespace: apps, annotations: {{metallb.io/address-pool: local}}}}
spec: {{type: LoadBalancer, externalTrafficPolicy: Local, ports: [{{port: 80}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: local-1, namespace: apps, labels: {{kubernetes.io/service-name: local}}}}
addressType: IPv4
endpoints: [{{addresses: [10.244.1.5], conditions: {{ready: true}}, nodeName: n2}}]
ports: [{{port: 80, protocol: TCP}}]
",
        r1.ipv4
    );
    std::fs::write(dir.join("config.yaml"), config).expect("config");
    let socket = lab.dir().join("status.sock");
    let socket_arg = socket.display().to_string();
    let _run = FerroLb::start_args(&lab, &n1, &dir, &["--status-socket", &socket_arg])?;
    wait_paths(
        &lab,
        &bird,
        "198.51.100.10/32".parse().expect("prefix"),
        1,
        CONVERGE,
    )?;

    // Sessions are published as their state changes: wait for Established.
    let sessions = lab.wait_for("the session Established in the status", CONVERGE, || {
        let text = status(&socket, &["sessions"])?;
        Ok(if text.contains("Established") {
            Probe::Done(text)
        } else {
            Probe::Pending(text)
        })
    })?;
    let row = sessions
        .lines()
        .find(|l| l.starts_with("n1"))
        .unwrap_or_default();
    assert!(
        row.contains("r1") && row.contains(&r1.ipv4.to_string()),
        "{sessions}"
    );

    let services = status(&socket, &[])?;
    let web = services
        .lines()
        .find(|l| l.starts_with("apps/web"))
        .unwrap_or_default();
    assert!(
        web.contains("198.51.100.10") && web.contains("announced"),
        "{services}"
    );
    assert!(web.contains("n1→r1"), "{services}");
    // Services are assigned in name order: worker comes after web.
    let worker = services
        .lines()
        .find(|l| l.starts_with("apps/worker"))
        .unwrap_or_default();
    assert!(
        worker.contains("pending") && worker.contains("exhausted"),
        "{services}"
    );
    let json = status(&socket, &["-o", "json"])?;
    assert!(
        json.contains("\"apiVersion\": \"status.ferrolb.io/v1\""),
        "{json}"
    );
    // The same reason the Kubernetes speaker records, from the same
    // function: the Local Service's only endpoint runs on another node.
    let why = status(&socket, &["why", "apps/local"])?;
    assert!(
        why.contains("n1: does not announce it by BGP: externalTrafficPolicy is Local and no ready endpoint runs on this node"),
        "{why}"
    );
    let why = status(&socket, &["why", "apps/web"])?;
    assert!(
        why.contains("✓ node          n1: advertises it by BGP to r1"),
        "{why}"
    );
    assert!(
        why.contains("✓ configuration controller: the controller accepts it"),
        "{why}"
    );
    let pools = status(&socket, &["pools"])?;
    let public = pools
        .lines()
        .find(|l| l.starts_with("public"))
        .unwrap_or_default();
    assert_eq!(
        public.split_whitespace().collect::<Vec<_>>(),
        ["public", "BGP", "yes", "1/0", "-", "1"],
        "{pools}"
    );
    assert!(pools.contains("ipv4 exhausted"), "{pools}");

    // The router goes away: the status follows the session down.
    bird.daemon().stop(Duration::from_secs(5));
    let down = lab.wait_for("the session down in the status", CONVERGE, || {
        let text = status(&socket, &[])?;
        Ok(if text.contains("peer r1 session") {
            Probe::Done(text)
        } else {
            Probe::Pending(text)
        })
    })?;
    assert!(down.contains("on n1"), "{down}");
    Ok(())
}
