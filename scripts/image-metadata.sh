#!/usr/bin/env bash
# What the container image says about itself, in one place: its name, its
# runtime configuration and its org.opencontainers.image.* labels. `make
# image` (scripts/build-image.sh) applies it, scripts/check-image.sh checks
# the built image against it, and the Dockerfile is tested against it
# (cli/tests/packaging.rs).
#
#   image-metadata.sh               KEY=VALUE lines (values never hold a newline)
#   image-metadata.sh --build-args  --build-arg options for docker/podman build
#
# The version, licence and source come from the workspace Cargo.toml; the
# revision is the commit (with -dirty when tracked files have changes), the
# creation time the commit's time, so two builds of one commit carry the same
# labels. REVISION and SOURCE_DATE_EPOCH in the environment override them
# (for a build outside a git checkout).
set -euo pipefail
cd "$(dirname "$0")/.."

field() { scripts/workspace-field.sh "$1"; }

revision() {
  if [[ -n ${REVISION:-} ]]; then
    printf '%s\n' "$REVISION"
    return
  fi
  local head
  head=$(git rev-parse HEAD 2>/dev/null) || {
    echo "image-metadata: not a git checkout; set REVISION (and SOURCE_DATE_EPOCH)" >&2
    return 1
  }
  if [[ -n $(git status --porcelain --untracked-files=no) ]]; then
    head+=-dirty
  fi
  printf '%s\n' "$head"
}

epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || true)}
[[ $epoch =~ ^[0-9]+$ ]] || {
  echo "image-metadata: no commit time; set SOURCE_DATE_EPOCH (seconds since 1970)" >&2
  exit 1
}
version=$(field version)

# The image's runtime configuration (the Dockerfile must say the same).
meta=(
  REPOSITORY=ghcr.io/ferrolb/ferrolb
  ENTRYPOINT=/usr/local/bin/ferrolb
  USER=0
  PATH_ENV=/usr/local/bin
  SOURCE_DATE_EPOCH="$epoch"
  # org.opencontainers.image.* labels, one variable each.
  TITLE=ferrolb
  DESCRIPTION="FerroLB: LoadBalancer Services for bare-metal Kubernetes, MetalLB-compatible (ferrolb, ferrolb-controller, ferrolb-speaker)"
  VERSION="$version"
  REVISION="$(revision)"
  CREATED="$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)"
  SOURCE="$(field repository)"
  LICENSES="$(field license)"
)

case ${1:-} in
  "")
    printf '%s\n' "${meta[@]}"
    ;;
  --build-args)
    # Only what the Dockerfile cannot know: the rest are its defaults.
    for key in VERSION REVISION CREATED SOURCE_DATE_EPOCH; do
      for kv in "${meta[@]}"; do
        [[ ${kv%%=*} == "$key" ]] && printf -- '--build-arg %s=%s ' "$key" "${kv#*=}"
      done
    done
    echo
    ;;
  *)
    echo "usage: $0 [--build-args]" >&2
    exit 2
    ;;
esac
