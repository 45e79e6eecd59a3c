//! Manifest corpora: every MetalLB manifest from the user guides in
//! `shared/seeds` (copied to `manifests/seeds/`) and `manifests/good/` must
//! compile cleanly; every file in `manifests/bad/` must produce the errors
//! its `# expect:` lines name.

use std::path::{Path, PathBuf};

use ferrolb_crds::config::{self, Resources};
use ferrolb_crds::manifest::read_yaml;

fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/manifests")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no manifests in {}", dir.display());
    files
}

fn load(path: &Path) -> (String, Resources) {
    let text = std::fs::read_to_string(path).expect("read manifest");
    let mut resources = Resources::default();
    let (summary, errors) = read_yaml(&text, &mut resources);
    assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    assert!(
        summary.read > 0,
        "{}: no metallb.io objects",
        path.display()
    );
    (text, resources)
}

#[test]
fn seed_and_good_manifests_compile_without_errors() {
    for path in yaml_files("seeds").into_iter().chain(yaml_files("good")) {
        let (_, resources) = load(&path);
        if let Err(e) = config::compile(&resources) {
            let lines: Vec<String> = e.errors.iter().map(ToString::to_string).collect();
            panic!("{}:\n{}", path.display(), lines.join("\n"));
        }
    }
}

#[test]
fn bad_manifests_produce_the_expected_errors() {
    for path in yaml_files("bad") {
        let (text, resources) = load(&path);
        let expected: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .collect();
        assert!(
            !expected.is_empty(),
            "{}: no `# expect:` lines",
            path.display()
        );
        let errors: Vec<String> = match config::compile(&resources) {
            Ok(_) => Vec::new(),
            Err(e) => e.errors.iter().map(ToString::to_string).collect(),
        };
        assert_eq!(errors, expected, "{}", path.display());
    }
}

#[test]
fn objects_round_trip_without_nulls() {
    for path in yaml_files("seeds").into_iter().chain(yaml_files("good")) {
        let (_, r) = load(&path);
        let mut texts = Vec::new();
        for p in &r.pools {
            texts.push(serde_json::to_string(p).expect("json"));
        }
        for p in &r.peers {
            texts.push(serde_json::to_string(p).expect("json"));
        }
        for a in &r.bgp_advertisements {
            texts.push(serde_json::to_string(a).expect("json"));
        }
        for a in &r.l2_advertisements {
            texts.push(serde_json::to_string(a).expect("json"));
        }
        for b in &r.bfd_profiles {
            texts.push(serde_json::to_string(b).expect("json"));
        }
        for t in &texts {
            assert!(!t.contains("null"), "{}: {t}", path.display());
        }
        // Written back and read again, the objects compile to the same config.
        let again: String = texts.iter().map(|t| format!("{t}\n---\n")).collect();
        let mut r2 = Resources::default();
        let (_, errors) = read_yaml(&again, &mut r2);
        assert!(errors.is_empty(), "{errors:?}");
        r2.secrets = r.secrets.clone();
        r2.communities = r.communities.clone();
        assert_eq!(
            config::compile(&r).map(|c| c.config),
            config::compile(&r2).map(|c| c.config),
            "{}",
            path.display()
        );
    }
}

#[test]
fn malformed_documents_name_the_field() {
    let yaml = "apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: p}\nspec: {myASN: 1, peerASN: 2, peerAddress: 10.0.0.1, holdTime: 90}\n---\napiVersion: metallb.io/v1beta1\nkind: AddressPool\nmetadata: {name: old}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n";
    let mut r = Resources::default();
    let (summary, errors) = read_yaml(yaml, &mut r);
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "document 1 (BGPPeer p): spec.holdTime: invalid type: integer `90`, expected a string",
            "document 2: unknown metallb.io kind or version metallb.io/v1beta1 AddressPool",
        ]
    );
    assert_eq!((summary.read, summary.skipped), (0, 1));
}

#[test]
fn configuration_state_reports_compiler_errors() {
    use ferrolb_crds::api::{ConfigurationResult, ConfigurationStateStatus};
    for path in yaml_files("bad") {
        let (_, r) = load(&path);
        let status = ConfigurationStateStatus::from_compile(&config::compile(&r));
        assert_eq!(status.result, Some(ConfigurationResult::Invalid));
        assert!(status.error_summary.lines().count() >= 1);
    }
    let (_, good) = load(&yaml_files("good")[0]);
    let status = ConfigurationStateStatus::from_compile(&config::compile(&good));
    assert_eq!(status.result, Some(ConfigurationResult::Valid));
    assert_eq!(
        serde_json::to_string(&status).expect("json"),
        r#"{"result":"Valid"}"#
    );
}
