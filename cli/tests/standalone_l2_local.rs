//! Layer-2 mode with `externalTrafficPolicy: Local` and a dual-stack
//! Service: the node answering ARP and NDP is the one running the endpoint,
//! the same node for both families, and it follows the endpoint when it
//! moves.

use std::collections::BTreeSet;
use std::time::Duration;

use interop_tests::ferrolb::FerroLb;
use interop_tests::l2::L2Lan;
use interop_tests::l2::ferrolb::members_config;
use interop_tests::l2::lan::{VIP4, VIP6};
use interop_tests::{Family, LabError, Probe};

const CONVERGE: Duration = Duration::from_secs(30);

fn config(lan: &L2Lan) -> String {
    let mut yaml = members_config(lan);
    yaml += &format!(
        "apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {{name: lan, namespace: metallb-system}}
spec: {{addresses: [{VIP4}/32, {VIP6}/128]}}
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {{name: lan, namespace: metallb-system}}
spec: {{ipAddressPools: [lan]}}
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: default}}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  ipFamilyPolicy: RequireDualStack
  ipFamilies: [IPv4, IPv6]
  ports: [{{port: 80, protocol: TCP}}]
"
    );
    yaml
}

/// The Service's one endpoint, on `node`.
fn endpoint_on(node: &str) -> String {
    format!(
        "apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: web-1, namespace: default, labels: {{kubernetes.io/service-name: web}}}}
addressType: IPv4
endpoints: [{{addresses: [10.244.0.5], conditions: {{ready: true}}, nodeName: {node}}}]
"
    )
}

/// The nodes answering NDP for the IPv6 address (ndisc6 from the client).
fn ndp_answers(lan: &L2Lan) -> interop_tests::Result<BTreeSet<String>> {
    let out = lan
        .client()
        .netns
        .command("ndisc6")
        .args([
            "-m",
            "-n",
            "-r",
            "3",
            "-w",
            "300",
            &VIP6.to_string(),
            "eth0",
        ])
        .output()
        .map_err(|e| LabError::io("cannot run ndisc6", e))?;
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    let mut nodes = BTreeSet::new();
    for n in lan.nodes() {
        if text.contains(&n.mac()?.to_lowercase()) {
            nodes.insert(n.name.clone());
        }
    }
    Ok(nodes)
}

fn wait_answered_by(
    lan: &L2Lan,
    node: &str,
    logs: &dyn Fn() -> String,
) -> interop_tests::Result<()> {
    let want: BTreeSet<String> = [node.to_string()].into();
    let waited = lan.lab().wait_for(
        &format!("{node} alone to answer ARP and NDP"),
        CONVERGE,
        || {
            let (arp, ndp) = (lan.arp_answers()?, ndp_answers(lan)?);
            Ok(if arp == want && ndp == want {
                Probe::Done(())
            } else {
                Probe::Pending(format!("ARP {arp:?}, NDP {ndp:?}"))
            })
        },
    );
    waited.map_err(|e| LabError::Invalid(format!("{e}\n{}", logs())))
}

#[test]
fn the_owner_runs_the_endpoint_for_both_families_and_follows_it() -> interop_tests::Result<()> {
    // SAFETY-free: the variable is read by FerroLb::start in this process.
    unsafe { std::env::set_var("FERROLB_BIN", env!("CARGO_BIN_EXE_ferrolb")) };
    let lan = L2Lan::new("sl2loc", Family::Ipv4, 3)?;
    let dir = lan.lab().dir().join("ferrolb-config");
    std::fs::create_dir_all(&dir).expect("config dir");
    std::fs::write(dir.join("config.yaml"), config(&lan)).expect("config");
    std::fs::write(dir.join("endpoints.yaml"), endpoint_on("n3")).expect("endpoints");
    let speakers: Vec<FerroLb> = lan
        .nodes()
        .iter()
        .map(|n| FerroLb::start(lan.lab(), n, &dir))
        .collect::<interop_tests::Result<_>>()?;
    let logs = || {
        speakers
            .iter()
            .map(|s| s.log())
            .collect::<Vec<_>>()
            .join("\n---\n")
    };
    wait_answered_by(&lan, "n3", &logs)?;
    std::fs::write(dir.join("endpoints.yaml"), endpoint_on("n1")).expect("move the endpoint");
    wait_answered_by(&lan, "n1", &logs)?;
    Ok(())
}
