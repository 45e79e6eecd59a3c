//! The multi-call binary: `ferrolb` run under another name (a link, as in
//! the container image) is that program, whatever directory it is in.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh directory of links to the built `ferrolb`, one per name.
fn links(test: &str, names: &[&str]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("multicall-{test}"));
    // A previous run's links; the directory is ours alone.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the links' directory");
    for name in names {
        symlink(env!("CARGO_BIN_EXE_ferrolb"), dir.join(name)).expect("link");
    }
    dir
}

/// `PROGRAM --help` (or any arguments): success and stdout, or the failure.
fn run(program: &Path, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .env_clear()
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{} {args:?}: {}\n{stdout}{}",
        program.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The three names, each with the start of its `--help`, its usage line
/// and an option only that program has.
const PROGRAMS: [(&str, &str, &str, &str); 3] = [
    (
        "ferrolb-controller",
        "FerroLB controller: IP address management",
        "Usage: ferrolb-controller [OPTIONS]",
        "--lease-name",
    ),
    (
        "ferrolb-speaker",
        "FerroLB speaker: decides what each node announces",
        "Usage: ferrolb-speaker [OPTIONS] --node-name <NODE_NAME>",
        "--bgp-listen",
    ),
    (
        "ferrolb",
        "The ferrolb command: validate configurations",
        "Usage: ferrolb <COMMAND>",
        "validate",
    ),
];

#[test]
fn each_name_runs_its_own_program() {
    let names = PROGRAMS.map(|(name, ..)| name);
    let dir = links("names", &names);
    for (name, about, usage, own) in PROGRAMS {
        let help = run(&dir.join(name), &["--help"]);
        assert!(help.starts_with(about), "{name}: {help}");
        assert!(help.contains(usage), "{name}: {help}");
        assert!(help.contains(own), "{name}: {help}");
        for (other, .., theirs) in PROGRAMS {
            if other != name {
                assert!(
                    !help.contains(theirs),
                    "{name} shows {other}'s {theirs}: {help}"
                );
            }
        }
    }
}

#[test]
fn each_program_reports_the_workspace_version() {
    let dir = links(
        "version",
        &["ferrolb", "ferrolb-controller", "ferrolb-speaker"],
    );
    let version = env!("CARGO_PKG_VERSION");
    for (name, says) in [
        ("ferrolb", "ferrolb"),
        ("ferrolb-controller", "ferrolb-controller"),
        ("ferrolb-speaker", "ferrolb-speaker"),
    ] {
        let out = run(&dir.join(name), &["--version"]);
        assert_eq!(out.trim(), format!("{says} {version}"), "{name} --version");
    }
}

#[test]
fn any_other_name_is_the_ferrolb_command() {
    // A copy renamed by a packager, and a name that only contains a
    // program's name, stay the command for humans.
    let dir = links("other", &["ferrolb-speaker.old", "my-ferrolb-controller"]);
    for name in ["ferrolb-speaker.old", "my-ferrolb-controller"] {
        let help = run(&dir.join(name), &["--help"]);
        assert!(help.contains("validate"), "{name}: {help}");
        assert!(!help.contains("--node-name"), "{name}: {help}");
    }
}

#[test]
fn the_speaker_still_refuses_a_missing_node_name() {
    // Running as the speaker means the speaker's own argument checks, not
    // the ferrolb command's.
    let dir = links("refuse", &["ferrolb-speaker"]);
    let stderr = fails(&dir.join("ferrolb-speaker"), &[]);
    assert!(
        stderr.contains("--node-name <NODE_NAME>") && stderr.contains("ferrolb-speaker"),
        "{stderr}"
    );
}

#[test]
fn as_kubectl_ferrolb_it_is_the_kubectl_plugin() {
    // kubectl runs `kubectl-ferrolb status ...` for `kubectl ferrolb
    // status ...`: the ferrolb command, named as the user typed it.
    let dir = links("kubectl", &["kubectl-ferrolb"]);
    let help = run(&dir.join("kubectl-ferrolb"), &["status", "--help"]);
    assert!(
        help.contains("Usage: kubectl ferrolb status [OPTIONS] [COMMAND]"),
        "{help}"
    );
    for option in ["--kubeconfig", "--context", "--all-namespaces", "--output"] {
        assert!(help.contains(option), "{option}: {help}");
    }
    assert!(!help.contains("--node-name"), "{help}");
}

/// `PROGRAM ARGS`, which must fail: its stderr.
fn fails(program: &Path, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .env_clear()
        .output()
        .expect("run");
    assert!(
        !out.status.success(),
        "{} {args:?} succeeded",
        program.display()
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn status_refuses_cluster_options_with_standalone() {
    let ferrolb = links("standalone-options", &["ferrolb"]).join("ferrolb");
    let stderr = fails(
        &ferrolb,
        &[
            "status",
            "--standalone",
            "/nonexistent.sock",
            "--context",
            "prod",
        ],
    );
    assert!(stderr.contains("cannot be used with"), "{stderr}");
    let stderr = fails(&ferrolb, &["status", "--standalone", "/nonexistent.sock"]);
    assert!(
        stderr.contains("cannot reach ferrolb run on /nonexistent.sock"),
        "{stderr}"
    );
}
