//! Every field of MetalLB's CRDs is served by FerroLB's, or refused by name
//! as a field FerroLB does not implement yet: none falls through as an
//! "unknown field", and none is accepted and ignored.

use ferrolb_crds::fields::{NEWER_METALLB_FIELDS, served};

#[test]
fn every_metallb_field_is_served_or_named_as_not_supported_yet() {
    let list = include_str!("metallb-fields.txt");
    let mut missing = Vec::new();
    let mut count = 0;
    for line in list
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let parts: Vec<&str> = line.split(' ').collect();
        let [version, kind, path] = parts[..] else {
            panic!("malformed line {line:?}");
        };
        count += 1;
        if !served(version, kind, path) {
            missing.push(line);
        }
    }
    assert!(count > 100, "only {count} fields read");
    assert!(
        missing.is_empty(),
        "MetalLB fields neither served nor named: {missing:#?}"
    );
    // Each "not supported yet" entry is a real MetalLB field.
    for f in NEWER_METALLB_FIELDS {
        let line = format!("{} {} {}", f.version, f.kind, f.path);
        assert!(
            list.lines().any(|l| l == line),
            "{line} is not a MetalLB field"
        );
    }
}

/// Each kind with a section of its own in docs/configuration.md (status
/// kinds are documented together), with that section.
fn documented_kinds() -> Vec<(ferrolb_crds::crdgen::GeneratedCrd, &'static str)> {
    let docs = include_str!("../../docs/configuration.md");
    ferrolb_crds::crdgen::all()
        .expect("CRDs")
        .into_iter()
        .filter_map(|generated| {
            let kind = &generated.crd.spec.names.kind;
            let start = docs.find(&format!("\n## {kind}\n"))?;
            let rest = &docs[start + 1..];
            let section = &rest[..rest[3..].find("\n## ").map_or(rest.len(), |e| e + 3)];
            Some((generated, section))
        })
        .collect()
}

/// docs/configuration.md's section of each kind names every `spec` field
/// FerroLB serves (its tables say honoured, refused or extension), so the
/// compatibility tables cannot fall behind the API types.
#[test]
fn the_configuration_reference_names_every_served_field() {
    let mut missing = Vec::new();
    for (generated, section) in documented_kinds() {
        let kind = &generated.crd.spec.names.kind;
        for version in &generated.crd.spec.versions {
            let schema = serde_json::to_value(
                version
                    .schema
                    .as_ref()
                    .and_then(|s| s.open_api_v3_schema.as_ref())
                    .expect("schema"),
            )
            .expect("json");
            let fields = schema["properties"]["spec"]["properties"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            for field in fields.keys() {
                let named = [
                    format!("`spec.{field}`"),
                    format!("`spec.{field}["),
                    format!("`spec.{field}."),
                    format!("`{field}`"),
                ]
                .iter()
                .any(|n| section.contains(n.as_str()));
                if !named {
                    missing.push(format!("{kind} {} spec.{field}", version.name));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not in docs/configuration.md: {missing:#?}"
    );
}

/// The other direction: every `spec.` row of a kind's tables in
/// docs/configuration.md names a field the kind really has (in some served
/// version), so the tables hold no invented or misspelt field.
#[test]
fn every_field_the_configuration_reference_tabulates_is_real() {
    let mut invented = Vec::new();
    let mut rows = 0;
    for (generated, section) in documented_kinds() {
        let kind = &generated.crd.spec.names.kind;
        for line in section.lines() {
            let Some(cell) = line.strip_prefix("| `spec.") else {
                continue;
            };
            let Some(end) = cell.find('`') else {
                continue;
            };
            // `spec.peers[]`, `spec.x.y`: the field's path without indices.
            let path = format!("spec.{}", &cell[..end]).replace("[]", "");
            rows += 1;
            let real = generated
                .crd
                .spec
                .versions
                .iter()
                .any(|v| served(&v.name, kind, &path));
            if !real {
                invented.push(format!("{kind} {path}"));
            }
        }
    }
    assert!(rows > 50, "only {rows} table rows read");
    // The check can tell: a misspelt field is no field.
    assert!(!served("v1beta1", "IPAddressPool", "spec.autoAsign"));
    assert!(
        invented.is_empty(),
        "docs/configuration.md tabulates fields the API types lack: {invented:#?}"
    );
}
