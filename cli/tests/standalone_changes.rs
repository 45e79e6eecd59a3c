//! How `ferrolb run` follows changes, in a lab with FRR and BIRD routers:
//! endpoints moving under `externalTrafficPolicy: Local`, a dual-stack
//! service over IPv4 and IPv6 sessions, a node label that moves
//! announcements without resetting any session, a peer added and removed
//! without touching the others, and a deleted service withdrawn everywhere.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use interop_tests::ferrolb::FerroLb;
use interop_tests::{
    Bird, Family, Frr, Lab, Neighbor, Probe, RouterConfig, wait_established, wait_paths,
};
use ipnet::IpNet;

const NODE_AS: u32 = 64512;
const CONVERGE: Duration = Duration::from_secs(30);

fn net(s: &str) -> IpNet {
    s.parse().expect("prefix literal")
}

fn config(bird_peer: bool) -> String {
    let mut c = String::from(
        r#"
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: pool, namespace: metallb-system}
spec: {addresses: [198.51.100.10-198.51.100.99, "2001:db8:100::10-2001:db8:100::99"]}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: frr, namespace: metallb-system}
spec: {myASN: 64512, peerASN: 64500, peerAddress: 172.31.255.1, holdTime: 9s}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: frr6, namespace: metallb-system}
spec: {myASN: 64512, peerASN: 64500, peerAddress: "fd00:31:255::1", holdTime: 9s}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: adv, namespace: metallb-system}
spec:
  ipAddressPools: [pool]
  nodeSelectors: [{matchLabels: {announce: "yes"}}]
"#,
    );
    if bird_peer {
        c.push_str(
            r#"---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: bird, namespace: metallb-system}
spec: {myASN: 64512, peerASN: 64501, peerAddress: 172.31.255.2, holdTime: 9s}
"#,
        );
    }
    c
}

fn nodes(n2_announces: bool) -> String {
    let n2 = if n2_announces { "yes" } else { "no" };
    format!(
        "apiVersion: v1\nkind: Node\nmetadata: {{name: n1, labels: {{announce: \"yes\"}}}}\n---\napiVersion: v1\nkind: Node\nmetadata: {{name: n2, labels: {{announce: \"{n2}\"}}}}\n"
    )
}

fn services(with_web: bool) -> String {
    let mut s = String::from(
        r#"
apiVersion: v1
kind: Service
metadata: {name: local, namespace: default, annotations: {metallb.io/loadBalancerIPs: 198.51.100.20}}
spec: {type: LoadBalancer, externalTrafficPolicy: Local, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: dual, namespace: default, annotations: {metallb.io/loadBalancerIPs: "198.51.100.30,2001:db8:100::30"}}
spec: {type: LoadBalancer, ipFamilyPolicy: RequireDualStack, ipFamilies: [IPv4, IPv6], ports: [{port: 80}]}
"#,
    );
    if with_web {
        s.push_str(
            "---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default, annotations: {metallb.io/loadBalancerIPs: 198.51.100.40}}\nspec: {type: LoadBalancer, ports: [{port: 80}]}\n",
        );
    }
    s
}

fn endpoints_on(node: &str) -> String {
    format!(
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: local-1, namespace: default, labels: {{kubernetes.io/service-name: local}}}}\naddressType: IPv4\nendpoints: [{{addresses: [10.244.0.5], nodeName: {node}, conditions: {{ready: true}}}}]\n"
    )
}

fn write(dir: &Path, file: &str, text: &str) {
    // Write then rename, so a reader never sees half a file.
    let tmp = dir.join(format!(".{file}.tmp"));
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, dir.join(file)).expect("rename");
}

/// Next hops of the paths FRR holds for `prefix`, sorted.
fn next_hops(lab: &Lab, frr: &Frr, prefix: IpNet, want: &[IpAddr]) -> interop_tests::Result<()> {
    let mut want = want.to_vec();
    want.sort();
    let family = if prefix.addr().is_ipv4() {
        Family::Ipv4
    } else {
        Family::Ipv6
    };
    lab.wait_for(
        &format!("FRR to route {prefix} via {want:?}"),
        CONVERGE,
        || {
            let paths = interop_tests::Router::rib(frr, family)?
                .remove(&prefix)
                .unwrap_or_default();
            let mut hops: Vec<IpAddr> = paths.iter().filter_map(|p| p.peer).collect();
            hops.sort();
            Ok(if hops == want {
                Probe::Done(())
            } else {
                Probe::Pending(format!("{hops:?}"))
            })
        },
    )
}

fn connections(frr: &Frr, node: IpAddr) -> interop_tests::Result<u64> {
    Ok(frr.neighbor(node)?["connectionsEstablished"]
        .as_u64()
        .unwrap_or(0))
}

#[test]
fn standalone_follows_endpoints_labels_peers_and_deletions_with_diffs() -> interop_tests::Result<()>
{
    // The variable is read by FerroLb::start in this process only.
    unsafe { std::env::set_var("FERROLB_BIN", env!("CARGO_BIN_EXE_ferrolb")) };
    let mut lab = Lab::new("changes")?;
    let r1 = lab.add_host("r1")?;
    let r2 = lab.add_host("r2")?;
    let n1 = lab.add_host_at("n1", 11)?;
    let n2 = lab.add_host_at("n2", 12)?;
    let v6 = [Family::Ipv6];
    let frr_config = [&n1, &n2]
        .iter()
        .fold(RouterConfig::new(64500, r1.ipv4), |c, n| {
            c.neighbor(Neighbor::new(n.ipv4.into(), NODE_AS).no_export())
                .neighbor(
                    Neighbor::new(n.ipv6.into(), NODE_AS)
                        .no_export()
                        .families(&v6),
                )
        });
    let frr = Frr::start(&lab, &r1, &frr_config)?;
    let bird = Bird::start(
        &lab,
        &r2,
        &RouterConfig::facing_speakers(64501, &r2, &[&n1, &n2], NODE_AS),
    )?;
    let dir = lab.dir().join("ferrolb-config");
    std::fs::create_dir_all(&dir).expect("config dir");
    write(&dir, "config.yaml", &config(false));
    write(&dir, "nodes.yaml", &nodes(true));
    write(&dir, "services.yaml", &services(true));
    write(&dir, "slices.yaml", &endpoints_on("n1"));
    let _speakers: Vec<FerroLb> = [&n1, &n2]
        .iter()
        .map(|n| FerroLb::start(&lab, n, &dir))
        .collect::<Result<_, _>>()?;
    let (a1, a2): (IpAddr, IpAddr) = (n1.ipv4.into(), n2.ipv4.into());
    let both = [a1, a2];

    // ETP Local: only the node with the endpoint announces; it follows the endpoint.
    let local = net("198.51.100.20/32");
    next_hops(&lab, &frr, local, &[a1])?;
    write(&dir, "slices.yaml", &endpoints_on("n2"));
    next_hops(&lab, &frr, local, &[a2])?;

    // Dual stack: the /32 over the IPv4 sessions, the /128 over the IPv6 ones.
    next_hops(&lab, &frr, net("198.51.100.30/32"), &both)?;
    next_hops(
        &lab,
        &frr,
        net("2001:db8:100::30/128"),
        &[n1.ipv6.into(), n2.ipv6.into()],
    )?;

    // A node label change moves the announcements; no session is reset.
    let before = (connections(&frr, a1)?, connections(&frr, a2)?);
    write(&dir, "nodes.yaml", &nodes(false));
    next_hops(&lab, &frr, net("198.51.100.40/32"), &[a1])?;
    write(&dir, "nodes.yaml", &nodes(true));
    next_hops(&lab, &frr, net("198.51.100.40/32"), &both)?;
    assert_eq!(
        (connections(&frr, a1)?, connections(&frr, a2)?),
        before,
        "sessions were reset"
    );

    // A peer added: its sessions come up, the others are untouched.
    write(&dir, "config.yaml", &config(true));
    for n in both {
        wait_established(&lab, &bird, n)?;
    }
    wait_paths(&lab, &bird, net("198.51.100.40/32"), 2, CONVERGE)?;
    // ... and removed: BIRD loses the routes, FRR's sessions stay.
    write(&dir, "config.yaml", &config(false));
    wait_paths(&lab, &bird, net("198.51.100.40/32"), 0, CONVERGE)?;
    assert_eq!(
        (connections(&frr, a1)?, connections(&frr, a2)?),
        before,
        "FRR's sessions were touched"
    );

    // A deleted service is withdrawn everywhere.
    write(&dir, "services.yaml", &services(false));
    next_hops(&lab, &frr, net("198.51.100.40/32"), &[])?;
    next_hops(&lab, &frr, net("198.51.100.30/32"), &both)?;
    assert_eq!((connections(&frr, a1)?, connections(&frr, a2)?), before);
    Ok(())
}
