//! `ferrolb validate FILE...`: the config compiler on YAML files.
//!
//! All files form one configuration (references may cross files), as if
//! applied together to FerroLB's namespace. Each finding is printed with the
//! file that holds the object at fault, compiler style:
//! `pools.yaml: error: IPAddressPool metallb-system/a: spec.addresses[0]: ...`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use ferrolb_crds::config::{self, Config, Diagnostic, ObjectRef, Resources};
use ferrolb_crds::manifest::read_yaml;

/// Arguments of `ferrolb validate`.
#[derive(Args)]
pub struct ValidateArgs {
    /// Multi-document YAML files; `-` reads standard input.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Only objects of this namespace (FerroLB's), as the controller sees
    /// them; by default every object read counts.
    #[arg(long, short = 'n')]
    namespace: Option<String>,
    /// Treat warnings (references MetalLB tolerates) as errors.
    #[arg(long)]
    strict: bool,
}

/// Runs the command; prints to stdout (summary) and stderr (findings).
pub fn run(args: &ValidateArgs) -> ExitCode {
    let mut resources = Resources::default();
    let mut origin: BTreeMap<ObjectRef, String> = BTreeMap::new();
    let mut read_errors = 0usize;
    let mut skipped = 0usize;
    for path in &args.files {
        let shown = path.display().to_string();
        let text = match read(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{shown}: error: {e}");
                read_errors += 1;
                continue;
            }
        };
        read_errors += report_legacy(&shown, &text);
        let mut from_file = Resources::default();
        let (summary, errors) = read_yaml(&text, &mut from_file);
        skipped += summary.skipped;
        for e in &errors {
            eprintln!("{shown}: error: {e}");
        }
        read_errors += errors.len();
        for obj in from_file.object_refs() {
            origin.entry(obj).or_insert_with(|| shown.clone());
        }
        resources.extend(from_file);
    }
    if let Some(ns) = &args.namespace {
        resources.retain_namespace(ns);
    }
    let file_of = |d: &Diagnostic| {
        origin
            .get(&d.object)
            .cloned()
            .unwrap_or_else(|| "<input>".into())
    };
    let (config, errors, warnings) = match config::compile(&resources) {
        Ok(c) => (Some(c.config), Vec::new(), c.warnings),
        Err(e) => (None, e.errors, e.warnings),
    };
    let warnings_are_errors = args.strict && !warnings.is_empty();
    let level = if args.strict { "error" } else { "warning" };
    for d in &errors {
        eprintln!("{}: error: {d}", file_of(d));
    }
    for d in &warnings {
        eprintln!("{}: {level}: {d}", file_of(d));
    }
    let error_count = errors.len() + read_errors + if args.strict { warnings.len() } else { 0 };
    match config {
        Some(config) if error_count == 0 && !warnings_are_errors => {
            println!("ok: {}", summary(&config, skipped));
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{error_count} error(s); configuration rejected");
            ExitCode::FAILURE
        }
    }
}

/// Legacy configuration is not skipped as "other documents": it would
/// configure nothing. Says what it is and how to convert it; the count.
fn report_legacy(shown: &str, text: &str) -> usize {
    let mut found = 0;
    for (i, doc) in serde_norway::Deserializer::from_str(text).enumerate() {
        // Syntax errors are reported by the manifest reader.
        let Ok(value) = <serde_json::Value as serde::Deserialize>::deserialize(doc) else {
            break;
        };
        if let Some(legacy) = crate::legacy::detect(&value) {
            found += 1;
            eprintln!(
                "{shown}: error: document {}: {}, which FerroLB (like MetalLB since v0.13) does not read; convert it with `ferrolb migrate {shown}` and apply the printed objects",
                i + 1,
                legacy.shape.describe()
            );
        }
    }
    found
}

fn read(path: &PathBuf) -> std::io::Result<String> {
    if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    }
}

fn summary(config: &Config, skipped: usize) -> String {
    let v4: usize = config.pools.values().map(|p| p.ipv4_ranges().count()).sum();
    let v6: usize = config.pools.values().map(|p| p.ipv6_ranges().count()).sum();
    let mut out = format!(
        "{} pool(s) ({v4} IPv4 range(s), {v6} IPv6 range(s)), {} peer(s), {} BFD profile(s), {} L2 advertisement(s), {} BGP advertisement(s)",
        config.pools.len(),
        config.peers.len(),
        config.bfd_profiles.len(),
        config.l2_advertisements.len(),
        config.bgp_advertisements.len(),
    );
    if skipped > 0 {
        let _ = write!(out, "; {skipped} other document(s) ignored");
    }
    out
}
