//! Faults (issue 18, scenarios 1-3) with `ferrolb run` speakers and real
//! FRR and BIRD: the scenarios of `bgp_faults` (what each must never do is
//! said there), each node reading one configuration directory. The figures
//! they print are recorded in docs/reliability.md.
//!
//! `FERROLB_FAULTS_LONG=1` (`make faults-long`) runs the long variants:
//! routers down 30 s, link flaps for 2 minutes.

mod bgp_faults;

use std::path::{Path, PathBuf};

use bgp_faults::{NODE_AS, Outcome, PEERS, POOL, Rig, Shell, Timers};
use interop_tests::ferrolb::FerroLb;
use ipnet::IpNet;

fn write(dir: &Path, file: &str, text: &str) -> Outcome {
    let tmp = dir.join(format!(".{file}.tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, dir.join(file))?;
    Ok(())
}

/// `ferrolb run` on every node, all reading one configuration directory:
/// one pool, the BGPPeers of both routers, and the Services, each asking
/// for its address.
struct Files {
    config: PathBuf,
}

impl Files {
    fn write(rig: &Rig, timers: Timers) -> Outcome<Files> {
        // The variable is read by FerroLb::start in this process only.
        unsafe { std::env::set_var("FERROLB_BIN", env!("CARGO_BIN_EXE_ferrolb")) };
        let dir = rig.lab.dir().join("ferrolb-config");
        std::fs::create_dir_all(&dir)?;
        let mut config = format!(
            "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {{name: pool, namespace: metallb-system}}\nspec: {{addresses: [{POOL}]}}\n---\napiVersion: metallb.io/v1beta1\nkind: BGPAdvertisement\nmetadata: {{name: adv, namespace: metallb-system}}\nspec: {{ipAddressPools: [pool]}}\n",
        );
        let bfd = if timers.bfd {
            config.push_str("---\napiVersion: metallb.io/v1beta1\nkind: BFDProfile\nmetadata: {name: fast, namespace: metallb-system}\nspec: {receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3}\n");
            ", bfdProfile: fast"
        } else {
            ""
        };
        for ((name, asn), routed) in PEERS.iter().zip(&rig.routers) {
            config.push_str(&format!(
                "---\napiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {{name: {name}, namespace: metallb-system}}\nspec: {{myASN: {NODE_AS}, peerASN: {asn}, peerAddress: \"{}\", holdTime: {}s{bfd}}}\n",
                routed.host.ipv4, timers.hold
            ));
        }
        write(&dir, "config.yaml", &config)?;
        let files = Files { config: dir };
        files.write_services(rig.prefixes())?;
        Ok(files)
    }

    /// The Services, `svc-I` asking for `prefixes[I]`.
    fn write_services(&self, prefixes: &[IpNet]) -> Outcome {
        let services: Vec<String> = prefixes
            .iter()
            .enumerate()
            .map(|(i, p)| {
                format!(
                    "apiVersion: v1\nkind: Service\nmetadata: {{name: svc-{i}, namespace: default, annotations: {{metallb.io/loadBalancerIPs: \"{}\"}}}}\nspec: {{type: LoadBalancer, ports: [{{port: 80}}]}}\n",
                    p.addr()
                )
            })
            .collect();
        write(&self.config, "services.yaml", &services.join("---\n"))
    }
}

impl Shell for Files {
    fn name(&self) -> &'static str {
        "ferrolb run"
    }

    fn keep_services(&self, rig: &Rig, count: usize) -> Outcome {
        self.write_services(&rig.prefixes()[..count])
    }

    fn start(&self, rig: &Rig, i: usize, life: u32) -> Outcome<FerroLb> {
        Ok(FerroLb::start_with(
            &rig.lab,
            &rig.nodes[i],
            &self.config,
            &format!("ferrolb-{life}.log"),
            Some("info,ferrolb_bgp=debug"),
            &[],
        )?)
    }
}

bgp_faults::scenario_tests!(Files::write, "sa");
