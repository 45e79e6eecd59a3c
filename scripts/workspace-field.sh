#!/usr/bin/env bash
# Prints one field of [workspace.package] in the root Cargo.toml (version,
# license, repository...): the one source of the version the crates, the
# image and the chart share.
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 FIELD" >&2; exit 2; }
manifest="$(dirname "$0")/../Cargo.toml"
value=$(awk -v key="$1" '
  /^\[/ { inside = ($0 == "[workspace.package]"); next }
  inside && $1 == key && $2 == "=" { sub(/^[^=]*= *"/, ""); sub(/".*$/, ""); print; exit }
' "$manifest")
[[ -n $value ]] || { echo "workspace-field: no $1 in [workspace.package] of $manifest" >&2; exit 1; }
printf '%s\n' "$value"
