//! Real Helm v4 on `charts/ferrolb`: lint, template and install, as a user
//! runs them. The binary comes from `scripts/install-helm.sh` (cached per
//! machine), or `FERROLB_HELM`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::cmd;
use crate::error::{LabError, Result};
use crate::prereq;

/// `charts/ferrolb`.
pub fn chart_dir() -> PathBuf {
    workspace().join("charts/ferrolb")
}

/// `interop-tests/fixtures/chart`: values files and golden renderings.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/chart")
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One `helm template` or `helm install`: release, namespace, values files
/// and `--set`s, optionally only some templates.
#[derive(Debug, Clone)]
pub struct Release {
    pub name: String,
    pub namespace: String,
    pub values: Vec<PathBuf>,
    pub set: Vec<String>,
    pub show_only: Vec<String>,
}

impl Release {
    pub fn new(name: &str, namespace: &str) -> Release {
        Release {
            name: name.to_string(),
            namespace: namespace.to_string(),
            values: Vec::new(),
            set: Vec::new(),
            show_only: Vec::new(),
        }
    }

    /// `--values FILE`.
    pub fn values(mut self, file: impl Into<PathBuf>) -> Release {
        self.values.push(file.into());
        self
    }

    /// `--set KEY=VALUE`.
    pub fn set(mut self, assignment: &str) -> Release {
        self.set.push(assignment.to_string());
        self
    }

    /// `--show-only templates/FILE`.
    pub fn show_only(mut self, template: &str) -> Release {
        self.show_only.push(format!("templates/{template}"));
        self
    }

    fn args(&self) -> Vec<String> {
        let mut args = vec![
            self.name.clone(),
            chart_dir().display().to_string(),
            "--namespace".into(),
            self.namespace.clone(),
        ];
        for v in &self.values {
            args.extend(["--values".into(), v.display().to_string()]);
        }
        for s in &self.set {
            args.extend(["--set".into(), s.clone()]);
        }
        for s in &self.show_only {
            args.extend(["--show-only".into(), s.clone()]);
        }
        args
    }
}

/// The Helm binary.
#[derive(Debug, Clone)]
pub struct Helm {
    binary: PathBuf,
}

impl Helm {
    /// Installs Helm on first use (scripts/install-helm.sh), or takes
    /// `FERROLB_HELM`.
    pub fn new() -> Result<Helm> {
        let binary = match std::env::var_os("FERROLB_HELM") {
            Some(path) => PathBuf::from(path),
            None => {
                let script = workspace().join("scripts/install-helm.sh");
                let out = cmd::output_of(&mut Command::new(&script))?;
                PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
            }
        };
        let path = binary
            .to_str()
            .ok_or_else(|| LabError::Invalid("non-UTF-8 helm path".into()))?;
        prereq::require_program(path, "helm (scripts/install-helm.sh)")?;
        Ok(Helm { binary })
    }

    /// The kubectl 1.33 the same wheel carries, beside helm.
    pub fn kubectl(&self) -> Result<PathBuf> {
        let target = std::fs::canonicalize(&self.binary)
            .map_err(|e| LabError::io(format!("cannot resolve {}", self.binary.display()), e))?;
        let kubectl = target.with_file_name("kubectl");
        let path = kubectl
            .to_str()
            .ok_or_else(|| LabError::Invalid("non-UTF-8 kubectl path".into()))?;
        prereq::require_program(path, "kubectl (scripts/install-helm.sh)")?;
        Ok(kubectl)
    }

    /// `helm ARGS...`; a non-zero exit is an error quoting stderr.
    pub fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Result<String> {
        let mut command = Command::new(&self.binary);
        command.args(args).current_dir(workspace());
        let out = cmd::output_of(&mut command)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `helm lint --strict` with the release's values.
    pub fn lint(&self, release: &Release) -> Result<String> {
        let mut args = vec!["lint".to_string(), "--strict".into()];
        args.extend(release.args().into_iter().skip(1));
        self.run(&args)
    }

    /// `helm template`: the rendered manifest, as Helm prints it.
    pub fn template(&self, release: &Release) -> Result<String> {
        let mut args = vec!["template".to_string()];
        args.extend(release.args());
        self.run(&args)
    }

    /// `helm template`, parsed into its documents.
    pub fn render(&self, release: &Release) -> Result<Vec<Value>> {
        parse_documents(&self.template(release)?)
    }

    /// `helm install` (or `upgrade --install`) against `kubeconfig`, with
    /// client-side apply: Kubernetes 1.20 refuses server-side apply of CRDs
    /// that carry CEL rules.
    pub fn install(&self, release: &Release, kubeconfig: &Path, upgrade: bool) -> Result<String> {
        let mut args: Vec<String> = if upgrade {
            vec!["upgrade".into(), "--install".into()]
        } else {
            vec!["install".into()]
        };
        args.extend(release.args());
        args.extend([
            "--kubeconfig".into(),
            kubeconfig.display().to_string(),
            "--server-side=false".into(),
            "--timeout".into(),
            "60s".into(),
        ]);
        self.run(&args)
    }
}

/// The YAML documents of a manifest (empty ones dropped).
pub fn parse_documents(text: &str) -> Result<Vec<Value>> {
    serde_norway::Deserializer::from_str(text)
        .map(|doc| {
            serde::Deserialize::deserialize(doc)
                .map_err(|e| LabError::parse("a rendered manifest", e, text))
        })
        .filter(|doc: &Result<Value>| !matches!(doc, Ok(Value::Null)))
        .collect()
}

/// The documents of `kind`.
pub fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_split_and_empty_ones_dropped() {
        let docs = parse_documents("---\n# only a comment\n---\nkind: A\n---\nkind: B\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(of_kind(&docs, "B").len(), 1);
        assert!(parse_documents("kind: [").is_err());
    }

    #[test]
    fn a_release_becomes_helm_arguments() {
        let args = Release::new("r", "ns")
            .values("/v.yaml")
            .set("a.b=1")
            .show_only("x.yaml")
            .args();
        assert_eq!(args[0], "r");
        assert!(args.ends_with(&[
            "--namespace".into(),
            "ns".into(),
            "--values".into(),
            "/v.yaml".into(),
            "--set".into(),
            "a.b=1".into(),
            "--show-only".into(),
            "templates/x.yaml".into(),
        ]));
    }
}
