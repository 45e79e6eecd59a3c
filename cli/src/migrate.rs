//! `ferrolb migrate FILE...`: MetalLB's legacy configuration (a ConfigMap,
//! its bare `config` text, or a Helm values file with `configInline`)
//! printed as the equivalent `metallb.io` objects (see [`crate::legacy`]).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde::Deserialize;
use serde_json::Value;

use crate::legacy;

/// Arguments of `ferrolb migrate`.
#[derive(Args)]
pub struct MigrateArgs {
    /// Files holding legacy configuration; `-` reads standard input.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Namespace of the objects printed, unless a ConfigMap names its own
    /// (MetalLB's converter uses metallb-system).
    #[arg(long, short = 'n', default_value = "metallb-system")]
    namespace: String,
}

/// Runs the command: objects on stdout, problems on stderr.
pub fn run(args: &MigrateArgs) -> ExitCode {
    let mut failed = false;
    let mut documents = Vec::new();
    for path in &args.files {
        let shown = path.display().to_string();
        match migrate_file(path, &args.namespace) {
            Ok(objects) if objects.is_empty() => {
                eprintln!("{shown}: error: no legacy MetalLB configuration found");
                failed = true;
            }
            Ok(objects) => documents.extend(objects),
            Err(e) => {
                eprintln!("{shown}: error: {e}");
                failed = true;
            }
        }
    }
    if failed {
        return ExitCode::FAILURE;
    }
    let mut out =
        String::from("# Converted from MetalLB's legacy configuration by `ferrolb migrate`.\n");
    for doc in &documents {
        match serde_norway::to_string(doc) {
            Ok(text) => {
                out.push_str("---\n");
                out.push_str(&text);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    print!("{out}");
    ExitCode::SUCCESS
}

fn migrate_file(path: &PathBuf, namespace: &str) -> Result<Vec<Value>, String> {
    let text = if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    }
    .map_err(|e| e.to_string())?;
    let mut objects = Vec::new();
    for (i, doc) in serde_norway::Deserializer::from_str(&text).enumerate() {
        let value = Value::deserialize(doc).map_err(|e| format!("document {}: {e}", i + 1))?;
        let Some(found) = legacy::detect(&value) else {
            continue;
        };
        let ns = found.namespace.as_deref().unwrap_or(namespace);
        let converted =
            legacy::convert(&found.config, ns).map_err(|e| format!("document {}: {e}", i + 1))?;
        objects.extend(converted);
    }
    Ok(objects)
}
