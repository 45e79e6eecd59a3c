//! Speaker benchmark (issue 6): how fast a service change becomes a route
//! in the routers, and how much memory the speaker needs.
//!
//! One node runs `ferrolb run` peering with an FRR and a BIRD router. For
//! each of `--changes` new services, the time from writing the Services file
//! to the route's arrival in each router's kernel (timestamped by a netlink
//! notification in the router's namespace: an upper bound for "in the
//! RIB"); then the speaker's memory with 1, 1,000 and 10,000 services.
//!
//! `make bench-speaker` (release build).

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::{Duration, Instant};

use clap::Parser;
use interop_tests::ferrolb::FerroLb;
use interop_tests::kernel::RouteMonitor;
use interop_tests::{Bird, Frr, Lab, LabError, Probe, RouterConfig, wait_established};
use ipnet::IpNet;

#[derive(Parser)]
struct Args {
    /// Service additions timed.
    #[arg(long, default_value_t = 200)]
    changes: usize,
    /// Service counts for the memory figures.
    #[arg(long, value_delimiter = ',', default_value = "1,1000,10000")]
    services: Vec<usize>,
}

const NODE_AS: u32 = 64512;
const CONFIG: &str = r#"
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: bench, namespace: metallb-system}
spec: {addresses: [100.64.0.0/16]}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: frr, namespace: metallb-system}
spec: {myASN: 64512, peerASN: 64500, peerAddress: 172.31.255.1}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: bird, namespace: metallb-system}
spec: {myASN: 64512, peerASN: 64501, peerAddress: 172.31.255.2}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: bench, namespace: metallb-system}
spec: {ipAddressPools: [bench]}
"#;

fn address(i: usize) -> Ipv4Addr {
    Ipv4Addr::from(0x6440_0000u32 + 1 + i as u32)
}

/// `count` Services, each asking for its own address.
fn services(count: usize) -> String {
    let mut s = String::with_capacity(count * 200);
    for i in 0..count {
        let _ = write!(
            s,
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: s{i}, namespace: default, annotations: {{metallb.io/loadBalancerIPs: {}}}}}\nspec: {{type: LoadBalancer, ports: [{{port: 80}}]}}\n",
            address(i)
        );
    }
    s
}

fn write(dir: &Path, file: &str, text: &str) -> interop_tests::Result<()> {
    let tmp = dir.join(format!(".{file}.tmp"));
    std::fs::write(&tmp, text).map_err(|e| LabError::io("write", e))?;
    std::fs::rename(&tmp, dir.join(file)).map_err(|e| LabError::io("rename", e))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// VmRSS and VmHWM of a process, in MiB.
fn memory(pid: i32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (kib("VmRSS:") / 1024.0, kib("VmHWM:") / 1024.0)
}

fn main() -> std::process::ExitCode {
    match run(Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("speaker-bench failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> interop_tests::Result<()> {
    let mut lab = Lab::new("spkbench")?;
    let r1 = lab.add_host("r1")?;
    let r2 = lab.add_host("r2")?;
    let n1 = lab.add_host_at("n1", 11)?;
    let frr = Frr::start(
        &lab,
        &r1,
        &RouterConfig::facing_speakers(64500, &r1, &[&n1], NODE_AS),
    )?;
    let bird = Bird::start(
        &lab,
        &r2,
        &RouterConfig::facing_speakers(64501, &r2, &[&n1], NODE_AS),
    )?;
    let dir = lab.dir().join("ferrolb-config");
    std::fs::create_dir_all(&dir).map_err(|e| LabError::io("config dir", e))?;
    write(&dir, "config.yaml", CONFIG)?;
    write(&dir, "services.yaml", "")?;
    let speaker = FerroLb::start(&lab, &n1, &dir)?;
    wait_established(&lab, &frr, n1.ipv4.into())?;
    wait_established(&lab, &bird, n1.ipv4.into())?;
    let monitors = [
        RouteMonitor::start(&r1.netns)?,
        RouteMonitor::start(&r2.netns)?,
    ];

    // Latency: one more service per change.
    let mut latency: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    for i in 0..args.changes {
        let prefix = IpNet::from(IpAddr::from(address(i)));
        write(&dir, "services.yaml", &services(i + 1))?;
        let written = Instant::now();
        for (m, samples) in monitors.iter().zip(latency.iter_mut()) {
            let added = lab.wait_for(
                &format!("{prefix} in the router's kernel"),
                Duration::from_secs(10),
                || {
                    Ok(match m.events(prefix).added {
                        Some(t) => Probe::Done(t),
                        None => Probe::Pending("not yet".into()),
                    })
                },
            )?;
            samples.push(added.saturating_duration_since(written));
        }
        // Changes a few tens of ms apart, as a busy cluster makes them.
        std::thread::sleep(Duration::from_millis(20));
    }
    println!(
        "\nservice change -> route in the router's kernel, {} changes",
        args.changes
    );
    println!("| router | p50 | p90 | p99 | max |");
    println!("|---|---|---|---|---|");
    for (name, samples) in ["FRR 8.4", "BIRD 2.0.12"].iter().zip(latency.iter_mut()) {
        samples.sort();
        println!(
            "| {name} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |",
            percentile(samples, 0.5).as_secs_f64() * 1e3,
            percentile(samples, 0.9).as_secs_f64() * 1e3,
            percentile(samples, 0.99).as_secs_f64() * 1e3,
            samples.last().copied().unwrap_or_default().as_secs_f64() * 1e3
        );
    }

    // Memory with N services announced to both routers.
    let pid = speaker
        .daemon()
        .pid()
        .ok_or_else(|| LabError::Invalid("no speaker pid".into()))?
        .as_raw();
    println!("\nspeaker memory (ferrolb run, two BGP sessions)");
    println!("| services | RSS | peak RSS | time to all routes in FRR |");
    println!("|---|---|---|---|");
    let mut sizes = args.services.clone();
    sizes.sort();
    for n in sizes {
        let t = Instant::now();
        write(&dir, "services.yaml", &services(n))?;
        lab.wait_for(
            &format!("FRR to hold {n} routes"),
            Duration::from_secs(120),
            || {
                Ok(match frr.prefixes_received(n1.ipv4.into())? {
                    c if c == n as u64 => Probe::Done(()),
                    c => Probe::Pending(c.to_string()),
                })
            },
        )?;
        let took = t.elapsed();
        std::thread::sleep(Duration::from_millis(300));
        let (rss, peak) = memory(pid);
        println!(
            "| {n} | {rss:.1} MiB | {peak:.1} MiB | {:.0} ms |",
            took.as_secs_f64() * 1e3
        );
    }
    Ok(())
}
