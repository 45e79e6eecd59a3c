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
