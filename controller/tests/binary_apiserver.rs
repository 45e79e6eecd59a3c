//! The `ferrolb-controller` binary against the real test API server, with
//! the chart's RBAC: flags, `/readyz`, `/metrics`, a Service served, and
//! SIGTERM releasing the lease and exiting 0. (In this package because only
//! its tests get `CARGO_BIN_EXE_ferrolb-controller`; the fixture is shared
//! with interop-tests/tests/controller_*.rs.)

#[path = "../../interop-tests/tests/controller_support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ferrolb_crds::api::IPAddressPool;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, PostParams};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use support::*;

/// Kills the controller if the test fails half-way.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(port: u16, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

#[test]
fn the_binary_serves_reports_and_stops_on_sigterm() -> TestResult {
    block_on(async {
        let cluster = Cluster::start().await?;
        let admin = cluster.admin.clone();
        configure(&admin, vec![pool("p", &["192.0.2.0/30"])]).await?;
        let port = free_port()?;
        let mut running = Running(
            Command::new(env!("CARGO_BIN_EXE_ferrolb-controller"))
                .arg("--kubeconfig")
                .arg(&cluster.controller_kubeconfig)
                .args([
                    "--namespace",
                    NS,
                    "--identity",
                    "bin-1",
                    "--log-format",
                    "json",
                ])
                .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()?,
        );
        wait_for("/readyz", Duration::from_secs(30), || async {
            Ok(get(port, "/readyz")
                .is_ok_and(|r| r.starts_with("HTTP/1.1 200"))
                .then_some(()))
        })
        .await?;
        assert!(get(port, "/healthz")?.starts_with("HTTP/1.1 200"));

        create(&admin, lb_service("web", &[], 80)).await?;
        assert_eq!(ingress(&wait_assigned(&admin, "web").await?), ["192.0.2.0"]);
        let has_all = |m: &str, lines: &[&str]| lines.iter().all(|l| m.lines().any(|x| x == *l));
        let metrics = wait_for("metrics", Duration::from_secs(10), || async {
            let m = get(port, "/metrics")?;
            Ok(has_all(
                &m,
                &[
                    "metallb_allocator_addresses_in_use_total{pool=\"p\"} 1",
                    "metallb_allocator_ipv4_addresses_in_use_total{pool=\"p\"} 1",
                    "metallb_allocator_ipv6_addresses_in_use_total{pool=\"p\"} 0",
                    "metallb_allocator_addresses_total{pool=\"p\"} 4",
                    "metallb_allocator_ipv4_addresses_total{pool=\"p\"} 4",
                    "metallb_k8s_client_config_loaded_bool{} 1",
                    "metallb_k8s_client_config_stale_bool{} 0",
                    "metallb_k8s_client_update_errors_total 0",
                ],
            )
            .then_some(m))
        })
        .await?;
        // The pool, the advertisement, the Service and its writes came as
        // watch events.
        let updates = |m: &str| -> Option<u64> {
            m.lines()
                .find_map(|l| l.strip_prefix("metallb_k8s_client_updates_total "))?
                .parse()
                .ok()
        };
        let before = updates(&metrics).ok_or("no metallb_k8s_client_updates_total")?;
        assert!(before >= 3, "{metrics}");

        // A pool overlapping "p": refused, the last good one stays; stale.
        Api::<IPAddressPool>::namespaced(admin.clone(), NS)
            .create(&PostParams::default(), &pool("q", &["192.0.2.1/32"]))
            .await?;
        let metrics = wait_for("stale config", Duration::from_secs(10), || async {
            let m = get(port, "/metrics")?;
            Ok(has_all(
                &m,
                &[
                    "metallb_k8s_client_config_loaded_bool{} 1",
                    "metallb_k8s_client_config_stale_bool{} 1",
                ],
            )
            .then_some(m))
        })
        .await?;
        assert!(updates(&metrics) > Some(before), "{metrics}");
        let leases: Api<Lease> = Api::namespaced(admin.clone(), NS);
        let holder = |l: Lease| l.spec.and_then(|s| s.holder_identity);
        assert_eq!(
            holder(leases.get("ferrolb-controller").await?).as_deref(),
            Some("bin-1")
        );

        let pid = Pid::from_raw(i32::try_from(running.0.id())?);
        kill(pid, Signal::SIGTERM)?;
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(status) = running.0.try_wait()? {
                break status;
            }
            if std::time::Instant::now() > deadline {
                return Err("no exit within 15 s of SIGTERM".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let mut logs = String::new();
        if let Some(mut e) = running.0.stderr.take() {
            e.read_to_string(&mut logs)?;
        }
        assert!(status.success(), "{status:?}\n{logs}");
        assert!(logs.contains("\"SIGTERM: shutting down\""), "{logs}");
        assert_eq!(
            holder(leases.get("ferrolb-controller").await?),
            None,
            "lease released"
        );
        Ok(())
    })
}

#[test]
fn help_names_every_flag() -> TestResult {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrolb-controller"))
        .arg("--help")
        .output()?;
    let help = String::from_utf8(out.stdout)?;
    for flag in [
        "--kubeconfig",
        "--namespace",
        "--lb-class",
        "--log-format",
        "--metrics-addr",
        "--lease-duration",
    ] {
        assert!(help.contains(flag), "{flag} missing:\n{help}");
    }
    Ok(())
}

#[test]
fn an_unreadable_kubeconfig_is_a_clear_error() -> TestResult {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrolb-controller"))
        .args([
            "--kubeconfig",
            "/nonexistent",
            "--metrics-addr",
            "127.0.0.1:0",
        ])
        .output()?;
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr)?;
    assert!(err.contains("cannot read kubeconfig /nonexistent"), "{err}");
    Ok(())
}

#[test]
fn impossible_lease_times_are_refused_before_any_request() -> TestResult {
    let dir = std::env::temp_dir().join(format!("ferrolb-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: x\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\n",
    )?;
    let out = Command::new(env!("CARGO_BIN_EXE_ferrolb-controller"))
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args([
            "--metrics-addr",
            "127.0.0.1:0",
            "--lease-duration",
            "5",
            "--lease-grace",
            "5",
        ])
        .output()?;
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr)?;
    assert!(
        err.contains("lease grace (5s) must be at least 1s and shorter"),
        "{err}"
    );
    Ok(())
}
