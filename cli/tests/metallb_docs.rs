//! MetalLB's own documentation as a corpus: every YAML example of its
//! v0.16 configuration and usage pages (`metallb_docs/examples/`, one file
//! per example, extracted by `scripts/metallb-doc-corpus.py`, source file
//! and heading in its first lines) is accepted, and what FerroLB makes of
//! it is kept as a golden file (`metallb_docs/golden/`) reviewed against
//! what MetalLB's documentation says the example means.
//!
//! - `metallb.io` objects: the compiled configuration (pools,
//!   advertisements with their selectors, peers, BFD profiles) and the
//!   compiler's warnings;
//! - Services: the allocator's reading of their annotations and fields;
//! - the legacy ConfigMap: what `ferrolb migrate` prints for it.
//!
//! Examples FerroLB refuses on purpose are listed in
//! `metallb_docs/refused.txt` with the error they must give and why.
//!
//! `UPDATE_GOLDEN=1 cargo nextest run -p ferrolb-cli --test metallb_docs`
//! rewrites the golden files; review the diff before committing it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use ferrolb_controller::adapt::ServiceData;
use ferrolb_crds::config::{self, Resources};
use ferrolb_crds::manifest::read_yaml;
use k8s_openapi::api::core::v1::Service;
use serde::Deserialize;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/metallb_docs");

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(DIR).join("examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

fn name(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .expect("UTF-8 file name")
        .to_string()
}

/// `refused.txt`: `name: expected error` lines, each after the comment
/// lines (`#`) that justify it.
fn refused() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(Path::new(DIR).join("refused.txt")).expect("refused.txt");
    let mut out = BTreeMap::new();
    let mut justified = false;
    for line in text.lines() {
        if line.starts_with('#') {
            justified = true;
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let (name, error) = line.split_once(": ").expect("`name: error`");
        assert!(justified, "{name}: refused without a justification");
        justified = false;
        out.insert(name.to_string(), error.to_string());
    }
    out
}

/// What FerroLB makes of one example, or the errors it gives.
fn render(path: &Path, text: &str) -> Result<String, String> {
    let mut out = String::new();
    if text.contains("\nkind: ConfigMap") && text.contains("address-pools:") {
        // MetalLB's legacy format: refused by `validate`, converted by
        // `migrate`; the golden is the conversion.
        let migrated = Command::cargo_bin("ferrolb")
            .expect("binary")
            .arg("migrate")
            .arg(path)
            .output()
            .expect("run ferrolb migrate");
        if !migrated.status.success() {
            return Err(String::from_utf8_lossy(&migrated.stderr).into_owned());
        }
        let yaml = String::from_utf8_lossy(&migrated.stdout).into_owned();
        out.push_str("# ferrolb migrate prints:\n");
        out.push_str(&yaml);
        out.push_str("# which compiles to:\n");
        out.push_str(&compile(&yaml)?);
        return Ok(out);
    }
    let mut resources = Resources::default();
    let (summary, errors) = read_yaml(text, &mut resources);
    if !errors.is_empty() {
        return Err(errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"));
    }
    if summary.read > 0 {
        let (context, names) = context_for(text);
        if !names.is_empty() {
            out.push_str(&format!("context: {}\n", names.join(", ")));
        }
        out.push_str(&compile(&format!("{text}\n---\n{context}"))?);
    }
    for doc in serde_norway::Deserializer::from_str(text) {
        let value = serde_norway::Value::deserialize(doc).map_err(|e| e.to_string())?;
        if value.get("kind").and_then(|k| k.as_str()) != Some("Service") {
            continue;
        }
        let mut svc: Service = serde_norway::from_value(value).map_err(|e| e.to_string())?;
        // What the API server fills in on an IPv4 cluster before any
        // controller sees the Service.
        if let Some(spec) = svc.spec.as_mut() {
            spec.ip_families.get_or_insert_with(|| vec!["IPv4".into()]);
            spec.ip_family_policy
                .get_or_insert_with(|| "SingleStack".into());
        }
        let parsed = ServiceData::of(&svc)
            .parse()
            .map_err(|e| format!("{e:?}"))?;
        let name = svc.metadata.name.unwrap_or_default();
        out.push_str(&format!("Service {name}: {parsed:#?}\n"));
    }
    assert!(!out.is_empty(), "{}: nothing FerroLB reads", path.display());
    Ok(out)
}

/// The objects of `context.yaml` that `text` mentions by name (a whole
/// word) but does not define: the documentation defines them in another
/// fragment. Their YAML and their names.
fn context_for(text: &str) -> (String, Vec<String>) {
    let all = std::fs::read_to_string(Path::new(DIR).join("context.yaml")).expect("context.yaml");
    let mut docs = Vec::new();
    let mut names = Vec::new();
    for doc in all.split("\n---\n") {
        let value: serde_norway::Value = serde_norway::from_str(doc).expect("context YAML");
        let kind = value["kind"].as_str().expect("kind").to_string();
        let name = value["metadata"]["name"]
            .as_str()
            .expect("name")
            .to_string();
        // A Community is mentioned by its aliases, not its name.
        let mentioned: Vec<String> = if kind == "Community" {
            value["spec"]["communities"]
                .as_sequence()
                .expect("communities")
                .iter()
                .filter_map(|c| c["name"].as_str().map(String::from))
                .collect()
        } else {
            vec![name.clone()]
        };
        let defined =
            text.contains(&format!("kind: {kind}\n")) && mentions(text, &format!("name: {name}"));
        if !defined && mentioned.iter().any(|m| mentions(text, m)) {
            docs.push(doc.to_string());
            names.push(format!("{kind} {name}"));
        }
    }
    (docs.join("\n---\n"), names)
}

/// `word` appears in `text` not as part of a longer name.
fn mentions(text: &str, word: &str) -> bool {
    let part = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(part) && !after.is_some_and(part)
    })
}

fn compile(text: &str) -> Result<String, String> {
    let mut resources = Resources::default();
    let (_, errors) = read_yaml(text, &mut resources);
    assert!(errors.is_empty(), "{errors:?}");
    match config::compile(&resources) {
        Ok(compiled) => {
            let mut out = format!("{:#?}\n", compiled.config);
            for w in &compiled.warnings {
                out.push_str(&format!("warning: {w}\n"));
            }
            Ok(out)
        }
        Err(e) => Err(e
            .errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")),
    }
}

#[test]
fn every_documented_example_means_what_its_golden_says() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let refused = refused();
    let files = examples();
    assert!(
        files.len() >= 40,
        "the corpus lost examples: {}",
        files.len()
    );
    let names: Vec<String> = files.iter().map(|p| name(p)).collect();
    for r in refused.keys() {
        assert!(
            names.contains(r),
            "refused.txt names {r}, which is no example"
        );
    }
    let mut failures = Vec::new();
    for path in &files {
        let name = name(path);
        let text = std::fs::read_to_string(path).expect("read example");
        assert!(
            text.starts_with("# source: metallb/metallb ") && text.contains("\n# heading: "),
            "{name}: no source noted"
        );
        let result = render(path, &text);
        match (refused.get(&name), result) {
            (Some(expected), Err(e)) => {
                if !e.contains(expected.as_str()) {
                    failures.push(format!("{name}: refused with\n{e}\nnot with {expected}"));
                }
            }
            (Some(_), Ok(_)) => {
                failures.push(format!("{name}: accepted, but refused.txt lists it"));
            }
            (None, Err(e)) => failures.push(format!("{name}: refused:\n{e}")),
            (None, Ok(rendered)) => {
                let golden = Path::new(DIR).join("golden").join(format!("{name}.txt"));
                if update {
                    std::fs::create_dir_all(golden.parent().expect("parent")).expect("mkdir");
                    std::fs::write(&golden, &rendered).expect("write golden");
                    continue;
                }
                let want = std::fs::read_to_string(&golden).unwrap_or_default();
                if want != rendered {
                    failures.push(format!(
                        "{name}: differs from {} (UPDATE_GOLDEN=1 rewrites it; review the diff):\n{rendered}",
                        golden.display()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
