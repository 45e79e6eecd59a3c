//! `ferrolb validate` end to end, on the crds crate's manifest corpora.

use assert_cmd::Command;

const MANIFESTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../crds/tests/manifests");

fn ferrolb() -> Command {
    Command::cargo_bin("ferrolb").expect("binary")
}

fn output(args: &[&str]) -> (bool, String, String) {
    let out = ferrolb().args(args).output().expect("run");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_valid_configuration_prints_a_summary() {
    let file = format!("{MANIFESTS}/good/metallb-docs.yaml");
    let (ok, stdout, stderr) = output(&["validate", &file]);
    assert!(ok, "{stderr}");
    assert_eq!(
        stdout.trim(),
        "ok: 3 pool(s) (4 IPv4 range(s), 1 IPv6 range(s)), 4 peer(s), 2 BFD profile(s), 2 L2 advertisement(s), 4 BGP advertisement(s)"
    );
}

#[test]
fn errors_name_the_file_and_exit_1() {
    let file = format!("{MANIFESTS}/bad/overlapping-pools.yaml");
    let (ok, _, stderr) = output(&["validate", &file]);
    assert!(!ok);
    assert!(stderr.contains(&format!(
        "{file}: error: IPAddressPool metallb-system/pool-a: spec.addresses[1]: \"10.0.0.300/32\" is not a CIDR or range"
    )), "{stderr}");
    assert!(
        stderr.contains("2 error(s); configuration rejected"),
        "{stderr}"
    );
}

#[test]
fn references_cross_files_and_other_kinds_are_ignored() {
    let dir = std::env::temp_dir().join(format!("ferrolb-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let pools = dir.join("pools.yaml");
    let adv = dir.join("adv.yaml");
    std::fs::write(
        &pools,
        "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p, namespace: metallb-system}\nspec: {addresses: [10.0.0.0/24]}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n",
    )
    .expect("write");
    std::fs::write(
        &adv,
        "apiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata: {name: l2, namespace: metallb-system}\nspec: {ipAddressPools: [p, q]}\n",
    )
    .expect("write");
    let (p, a) = (pools.to_string_lossy(), adv.to_string_lossy());
    let (ok, stdout, stderr) = output(&["validate", &p, &a]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("1 other document(s) ignored"), "{stdout}");
    assert!(stderr.contains(&format!("{a}: warning: L2Advertisement metallb-system/l2: spec.ipAddressPools[1]: IPAddressPool \"q\" does not exist")), "{stderr}");
    let (ok, _, stderr) = output(&["validate", "--strict", &p, &a]);
    assert!(!ok, "{stderr}");
    let (ok, _, stderr) = output(&["validate", "--namespace", "other", &a]);
    assert!(ok, "{stderr}");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn unreadable_files_are_errors() {
    let (ok, _, stderr) = output(&["validate", "/nonexistent/ferrolb.yaml"]);
    assert!(!ok);
    assert!(
        stderr.contains("/nonexistent/ferrolb.yaml: error:"),
        "{stderr}"
    );
}

#[test]
fn the_user_guide_manifests_validate() {
    let dir = format!("{MANIFESTS}/seeds");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("seeds")
        .map(|e| e.expect("entry").path().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut args = vec!["validate".to_string()];
    args.extend(files);
    let out = ferrolb().args(&args).output().expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The issue's three slips: each would have changed what the object
/// means without a word (no MD5, a 90 s hold time, every pool announced).
#[test]
fn unknown_fields_are_refused_with_their_path_and_the_field_meant() {
    let yaml = r#"
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: p, namespace: metallb-system}
spec: {addresses: [10.0.0.0/24]}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: tor, namespace: metallb-system}
spec:
  myASN: 64500
  peerASN: 64501
  peerAddress: 10.0.0.1
  pasword: secret
  holdtime: 3s
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: l2, namespace: metallb-system}
spec:
  ipAddressPool: [p]
"#;
    let out = ferrolb()
        .args(["validate", "-"])
        .write_stdin(yaml)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    for line in [
        r#"-: error: document 2 (BGPPeer tor): spec.holdtime: unknown field; did you mean "holdTime"?"#,
        r#"-: error: document 2 (BGPPeer tor): spec.pasword: unknown field; did you mean "password"?"#,
        r#"-: error: document 3 (L2Advertisement l2): spec.ipAddressPool: unknown field; did you mean "ipAddressPools"?"#,
    ] {
        assert!(stderr.contains(line), "missing {line:?} in:\n{stderr}");
    }
}
