//! What ships FerroLB agrees with itself: the chart's version is the
//! workspace's, and the Dockerfile (which CI cannot build: no daemon)
//! describes the image `make image` builds, as scripts/image-metadata.sh
//! defines it.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Chart {
    version: String,
    app_version: String,
}

#[test]
fn the_chart_and_the_image_tag_are_the_workspace_version() {
    let chart: Chart =
        serde_norway::from_str(&read("charts/ferrolb/Chart.yaml")).expect("Chart.yaml");
    let version = env!("CARGO_PKG_VERSION");
    let fix = "scripts/set-version.sh sets every version from one command";
    assert_eq!(chart.version, version, "Chart.yaml version: {fix}");
    // appVersion is the tag of the image the chart pulls, which `make
    // image` tags with the workspace version.
    assert_eq!(chart.app_version, version, "Chart.yaml appVersion: {fix}");
    assert_eq!(metadata()["VERSION"], version);
}

/// scripts/image-metadata.sh's output, with the git-derived values pinned
/// so the test does not depend on the checkout's state.
fn image_metadata(args: &[&str]) -> String {
    let out = Command::new(Path::new(ROOT).join("scripts/image-metadata.sh"))
        .args(args)
        .env("REVISION", "0123abc")
        .env("SOURCE_DATE_EPOCH", "0")
        .output()
        .expect("run scripts/image-metadata.sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// scripts/image-metadata.sh's KEY=VALUE lines.
fn metadata() -> BTreeMap<String, String> {
    image_metadata(&[])
        .lines()
        .map(|line| {
            let (key, value) = line.split_once('=').expect("KEY=VALUE");
            (key.to_string(), value.to_string())
        })
        .collect()
}

/// One Dockerfile instruction: its keyword and the rest of its logical line
/// (continuation lines joined, comment lines dropped as Docker drops them).
#[derive(Debug)]
struct Instruction {
    keyword: String,
    args: String,
}

/// The Dockerfile's stages, each the instructions from a FROM on.
fn stages(text: &str) -> Vec<Vec<Instruction>> {
    let mut stages: Vec<Vec<Instruction>> = Vec::new();
    let mut line = String::new();
    for raw in text.lines() {
        let raw = raw.trim();
        if raw.starts_with('#') || (line.is_empty() && raw.is_empty()) {
            continue;
        }
        if let Some(part) = raw.strip_suffix('\\') {
            line.push_str(part);
            continue;
        }
        line.push_str(raw);
        let (keyword, args) = line.split_once(' ').expect("KEYWORD ARGS");
        let instruction = Instruction {
            keyword: keyword.to_uppercase(),
            args: args.split_whitespace().collect::<Vec<_>>().join(" "),
        };
        if instruction.keyword == "FROM" {
            stages.push(Vec::new());
        }
        stages.last_mut().expect("FROM first").push(instruction);
        line.clear();
    }
    stages
}

/// `a=b c="d e"` as pairs (LABEL's and ARG's syntax), quotes removed.
fn pairs(args: &str) -> Vec<(String, Option<String>)> {
    let mut words = Vec::new();
    let (mut word, mut quoted) = (String::new(), false);
    for c in args.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => words.push(std::mem::take(&mut word)),
            c => word.push(c),
        }
    }
    words.push(word);
    words
        .into_iter()
        .filter(|w| !w.is_empty())
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (w, None),
        })
        .collect()
}

fn one<'a>(stage: &'a [Instruction], keyword: &str) -> &'a str {
    let found: Vec<_> = stage.iter().filter(|i| i.keyword == keyword).collect();
    assert_eq!(found.len(), 1, "one {keyword} in the stage: {stage:?}");
    &found[0].args
}

#[test]
fn the_dockerfile_describes_the_image_make_image_builds() {
    let meta = metadata();
    let stages = stages(&read("Dockerfile"));
    assert_eq!(stages.len(), 2, "a build stage and the runtime stage");
    let (build, runtime) = (&stages[0], &stages[1]);

    // The pinned toolchain builds it, with the script (and so the cargo
    // profile and file layout) `make image` uses.
    let toolchain = read("rust-toolchain.toml");
    let channel = toolchain
        .lines()
        .find_map(|l| l.strip_prefix("channel = "))
        .expect("rust-toolchain.toml's channel")
        .trim_matches('"');
    assert_eq!(
        one(build, "FROM"),
        format!("docker.io/library/rust:{channel}-bookworm AS build")
    );
    assert!(
        one(build, "RUN").ends_with("scripts/image-rootfs.sh /rootfs"),
        "{build:?}"
    );
    assert_eq!(one(runtime, "FROM"), "scratch");
    assert_eq!(one(runtime, "COPY"), "--from=build /rootfs/ /");

    // The configuration scripts/image-metadata.sh gives umoci.
    assert_eq!(one(runtime, "ENV"), format!("PATH={}", meta["PATH_ENV"]));
    assert_eq!(one(runtime, "USER"), meta["USER"]);
    assert_eq!(
        one(runtime, "ENTRYPOINT"),
        format!("[\"{}\"]", meta["ENTRYPOINT"])
    );

    // The same labels, each from a build argument of the same name; those
    // the Dockerfile cannot know come from `image-metadata.sh --build-args`,
    // the others default to image-metadata.sh's values.
    let labels: BTreeMap<_, _> = pairs(one(runtime, "LABEL")).into_iter().collect();
    let keys = [
        "TITLE",
        "DESCRIPTION",
        "VERSION",
        "REVISION",
        "CREATED",
        "SOURCE",
        "LICENSES",
    ];
    let expected: BTreeMap<_, _> = keys
        .iter()
        .map(|k| {
            let label = format!("org.opencontainers.image.{}", k.to_lowercase());
            (label, Some(format!("${{{k}}}")))
        })
        .collect();
    assert_eq!(labels, expected);
    let args: BTreeMap<_, _> = runtime
        .iter()
        .filter(|i| i.keyword == "ARG")
        .flat_map(|i| pairs(&i.args))
        .collect();
    let given = build_args();
    for key in keys {
        match args.get(key) {
            Some(None) => assert!(
                given.contains(&key.to_string()),
                "ARG {key} is not in --build-args"
            ),
            Some(Some(default)) => assert_eq!(default, &meta[key], "ARG {key}'s default"),
            None => panic!("the runtime stage has no ARG {key}"),
        }
    }
    // Every build argument is declared where it is used.
    let build_stage_args: Vec<_> = build
        .iter()
        .filter(|i| i.keyword == "ARG")
        .map(|i| i.args.as_str())
        .collect();
    for arg in &given {
        assert!(
            args.contains_key(arg.as_str()) || build_stage_args.contains(&arg.as_str()),
            "--build-arg {arg} is declared by no ARG"
        );
    }
}

/// The names `image-metadata.sh --build-args` passes.
fn build_args() -> Vec<String> {
    let text = image_metadata(&["--build-args"]);
    let words: Vec<_> = text.split_whitespace().collect();
    words
        .chunks(2)
        .map(|pair| {
            assert_eq!(pair[0], "--build-arg", "{text}");
            pair[1].split_once('=').expect("NAME=VALUE").0.to_string()
        })
        .collect()
}

#[test]
fn the_docker_context_leaves_out_builds_and_history() {
    let ignored: Vec<_> = read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    for path in ["target", ".git"] {
        assert!(
            ignored.iter().any(|l| l == path),
            ".dockerignore lacks {path}"
        );
    }
}
