#!/usr/bin/env bash
# Sets FerroLB's version everywhere it is written down, from the one source
# (the workspace Cargo.toml): the crates and their lock files, and the chart's
# version and appVersion (the image tag the chart pulls). The image takes
# its tag and label from Cargo.toml when it is built. cli/tests/packaging.rs
# fails when the chart and the workspace disagree.
#
#   scripts/set-version.sh 0.2.0
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 VERSION" >&2; exit 2; }
new=$1
# SemVer 2.0, which both Cargo and Helm require.
semver='^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$'
[[ $new =~ $semver ]] || { echo "set-version: '$new' is not a SemVer version (MAJOR.MINOR.PATCH[-PRE][+BUILD])" >&2; exit 1; }
cd "$(dirname "$0")/.."
chart=charts/ferrolb/Chart.yaml

# The version line of [workspace.package], and only that one.
awk -v new="$new" '
  /^\[/ { inside = ($0 == "[workspace.package]") }
  inside && $1 == "version" && $2 == "=" { $0 = "version = \"" new "\""; done = 1 }
  { print }
  END { if (!done) exit 1 }
' Cargo.toml >Cargo.toml.new || { rm -f Cargo.toml.new; echo "set-version: no version in [workspace.package]" >&2; exit 1; }
mv Cargo.toml.new Cargo.toml

# Any unlocked cargo command rewrites the path packages' versions in a lock
# file and nothing else; the fuzz workspaces have lock files of their own.
for manifest in Cargo.toml bfd/fuzz/Cargo.toml bgp/fuzz/Cargo.toml l2/fuzz/Cargo.toml; do
  cargo update --workspace --quiet --manifest-path "$manifest"
done

sed -i -E "s/^version:.*/version: $new/; s/^appVersion:.*/appVersion: \"$new\"/" "$chart"
grep -qx "version: $new" "$chart" && grep -qx "appVersion: \"$new\"" "$chart" \
  || { echo "set-version: $chart has no top-level version and appVersion lines" >&2; exit 1; }
echo "set-version: $(scripts/workspace-field.sh version) in Cargo.toml, the lock files and $chart"
