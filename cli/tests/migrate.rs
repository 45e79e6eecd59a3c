//! `ferrolb migrate` and `ferrolb validate` on MetalLB's legacy
//! configuration: the printed objects validate and mean what MetalLB's own
//! converter (`configmaptocrs`) produces for the same input.

use assert_cmd::Command;
use serde::Deserialize;
use serde_json::{Value, json};

const LEGACY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/legacy");

fn ferrolb(args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut cmd = Command::cargo_bin("ferrolb").expect("binary");
    cmd.args(args);
    if let Some(text) = stdin {
        cmd.write_stdin(text.to_string());
    }
    let out = cmd.output().expect("run");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn migrate(file: &str) -> (String, Vec<Value>) {
    let path = format!("{LEGACY}/{file}");
    let (ok, stdout, stderr) = ferrolb(&["migrate", &path], None);
    assert!(ok, "{stderr}");
    let docs = serde_norway::Deserializer::from_str(&stdout)
        .map(|d| Value::deserialize(d).expect("yaml"))
        .filter(|v| !v.is_null())
        .collect();
    (stdout, docs)
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {docs:#?}"))
}

/// The documented example: the objects MetalLB's page shows, and they
/// validate.
#[test]
fn metallbs_documented_configmap_converts_to_what_its_converter_prints() {
    let (text, docs) = migrate("metallb-docs-configmap.yaml");
    assert_eq!(docs.len(), 3, "{text}");
    assert_eq!(
        find(&docs, "BGPPeer", "peer1")["spec"],
        json!({"myASN": 64512, "peerASN": 64512, "peerAddress": "10.96.0.100"})
    );
    assert_eq!(
        find(&docs, "IPAddressPool", "my-ip-space")["spec"],
        json!({"addresses": ["198.51.100.0/24"]})
    );
    assert_eq!(
        find(&docs, "BGPAdvertisement", "bgpadvertisement1")["spec"],
        json!({"aggregationLength": 32, "communities": ["64512:1234"], "ipAddressPools": ["my-ip-space"], "localPref": 100})
    );
    assert_eq!(
        find(&docs, "IPAddressPool", "my-ip-space")["metadata"]["namespace"],
        "metallb-system"
    );
    let (ok, stdout, stderr) = ferrolb(&["validate", "-"], Some(&text));
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("ok: 1 pool(s)"), "{stdout}");
}

/// Every field of the legacy format, from a values file with configInline.
#[test]
fn every_legacy_field_is_mapped() {
    let (text, docs) = migrate("full-values.yaml");
    let peer = &find(&docs, "BGPPeer", "peer1")["spec"];
    assert_eq!(
        *peer,
        json!({
            "myASN": 64512, "peerASN": 64512, "peerAddress": "10.0.0.1", "peerPort": 179,
            "sourceAddress": "10.0.0.2", "holdTime": "120s", "keepaliveTime": "30s",
            "routerID": "1.2.3.4", "password": "yourPassword",
            "nodeSelectors": [{
                "matchLabels": {"kubernetes.io/hostname": "prod-01"},
                "matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "arm"]}]
            }]
        })
    );
    // MetalLB's converter makes the name a Kubernetes name.
    let pool = &find(&docs, "IPAddressPool", "my-ip-space")["spec"];
    assert_eq!(
        *pool,
        json!({"addresses": ["192.168.10.0/24", "192.168.0.150-192.168.0.200"], "autoAssign": true, "avoidBuggyIPs": true})
    );
    assert_eq!(
        find(&docs, "BGPAdvertisement", "bgpadvertisement1")["spec"],
        json!({"aggregationLength": 32, "aggregationLengthV6": 64, "localPref": 100,
               "communities": ["64512:1", "no-export"], "ipAddressPools": ["my-ip-space"]})
    );
    assert_eq!(
        find(&docs, "BGPAdvertisement", "bgpadvertisement2")["spec"],
        json!({"aggregationLength": 27, "ipAddressPools": ["my-ip-space"]})
    );
    assert_eq!(
        find(&docs, "IPAddressPool", "my-l2-space")["spec"],
        json!({"addresses": ["192.168.11.0/24"], "autoAssign": false})
    );
    assert_eq!(
        find(&docs, "L2Advertisement", "l2advertisement1")["spec"],
        json!({"ipAddressPools": ["my-l2-space"]})
    );
    assert_eq!(
        find(&docs, "BFDProfile", "bfdprofile1")["spec"],
        json!({"receiveInterval": 280, "transmitInterval": 270, "echoInterval": 62, "echoMode": false,
               "passiveMode": true, "minimumTtl": 254, "detectMultiplier": 200})
    );
    assert_eq!(
        find(&docs, "Community", "communities")["spec"],
        json!({"communities": [{"name": "no-export", "value": "65535:65281"}]})
    );
    let (ok, _, stderr) = ferrolb(&["validate", "-"], Some(&text));
    assert!(ok, "{stderr}\n{text}");
}

#[test]
fn validate_says_what_legacy_configuration_is_and_how_to_convert_it() {
    for (file, what) in [
        (
            "metallb-docs-configmap.yaml",
            "a MetalLB ConfigMap in the legacy (pre-0.13) format",
        ),
        ("full-values.yaml", "a Helm values file with configInline"),
    ] {
        let path = format!("{LEGACY}/{file}");
        let (ok, _, stderr) = ferrolb(&["validate", &path], None);
        assert!(!ok, "{file}: {stderr}");
        assert!(stderr.contains(what), "{file}: {stderr}");
        assert!(
            stderr.contains(&format!("convert it with `ferrolb migrate {path}`")),
            "{stderr}"
        );
    }
}

#[test]
fn what_cannot_be_mapped_is_refused() {
    let bad_protocol = "address-pools:\n- name: a\n  protocol: l2\n  addresses: [10.0.0.0/24]\n";
    let (ok, _, stderr) = ferrolb(&["migrate", "-"], Some(bad_protocol));
    assert!(!ok);
    assert!(
        stderr.contains(r#"address-pools[0] (a): protocol "l2": expected layer2 or bgp"#),
        "{stderr}"
    );
    let typo = "peers:\n- my-asn: 1\n  peer-asn: 2\n  peer-address: 10.0.0.1\n  hold-tme: 3s\n";
    let (ok, _, stderr) = ferrolb(&["migrate", "-"], Some(typo));
    assert!(!ok);
    assert!(
        stderr.contains("peers[0]") && stderr.contains("hold-tme"),
        "{stderr}"
    );
    let (ok, _, stderr) = ferrolb(&["migrate", "-"], Some("apiVersion: v1\nkind: Service\n"));
    assert!(!ok);
    assert!(
        stderr.contains("no legacy MetalLB configuration found"),
        "{stderr}"
    );
}
