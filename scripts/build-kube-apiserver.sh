#!/usr/bin/env bash
# Prints the path of a kube-apiserver v1.20 for the controller's integration
# tests. The binary comes from scripts/build-kubernetes.sh, which builds it
# with the other Kubernetes binaries from the same tree in one run (cached
# per machine); a kube-apiserver cached by an earlier version of this script
# is used as it is.
#
#   scripts/build-kube-apiserver.sh        # prints the path of the binary
set -euo pipefail

cache=${FERROLB_CACHE:-/var/cache/ferrolb}
bin="$cache/kube-apiserver-1.20"
if [[ -x $bin ]]; then
  echo "$bin"
  exit 0
fi
dir=$("$(dirname "$0")/build-kubernetes.sh")
ln -sfn "$dir/kube-apiserver" "$bin"
echo "$bin"
