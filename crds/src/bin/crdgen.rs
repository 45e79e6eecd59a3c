//! `crdgen [DIR]`: writes one YAML file per CRD into DIR (default: the
//! chart's `charts/ferrolb/crds/`). `--no-cel` strips the CEL rules, for
//! API servers older than 1.25.

use std::path::PathBuf;
use std::process::ExitCode;

use ferrolb_crds::crdgen;

fn main() -> ExitCode {
    let mut no_cel = false;
    let mut dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../charts/ferrolb/crds"
    ));
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--no-cel" => no_cel = true,
            "-h" | "--help" => {
                println!("usage: crdgen [--no-cel] [DIR]");
                return ExitCode::SUCCESS;
            }
            _ => dir = PathBuf::from(arg),
        }
    }
    match generate(&dir, no_cel) {
        Ok(n) => {
            println!("wrote {n} CRDs to {}", dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("crdgen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn generate(dir: &std::path::Path, no_cel: bool) -> Result<usize, Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let crds = crdgen::all()?;
    for g in &crds {
        let crd = if no_cel {
            crdgen::strip_cel(&g.crd)?
        } else {
            g.crd.clone()
        };
        std::fs::write(dir.join(&g.file_name), crdgen::to_yaml(&crd)?)?;
    }
    Ok(crds.len())
}
