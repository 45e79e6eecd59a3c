#!/usr/bin/env bash
# Builds the Kubernetes v1.20 binaries the lab needs from Debian bookworm's
# `kubernetes` source package, in ONE run of the same tree, and caches them:
# kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
# kube-proxy, kubectl (the client matching the server), and the pause
# binary (build/pause/linux/pause.c) for the pod sandbox image. No
# Kubernetes binary can be downloaded on our machines.
#
#   scripts/build-kubernetes.sh        # prints the directory holding them
#
# The source is fetched through a private apt configuration, never the
# system's: a deb-src line derived from the system's own Debian mirror.
# Two fixes are applied to the vendored tree before building (see
# docs/testing.md):
#  1. modern-go/reflect2 1.0.1 crashes under Go >= 1.18: use Debian's 1.0.2;
#  2. kubernetes#99804: with Go >= 1.16, 1.20 rejects every empty string in
#     a custom resource; drop the zero-value check in the two validators.
# kube-apiserver compiles nearly everything the others need, so building
# them together costs about a minute more than the API server alone (cold,
# 2 cores: about 7 minutes). The tree and the Go cache are removed after.
set -euo pipefail

cache=${FERROLB_CACHE:-/var/cache/ferrolb}
version=1.20.2
out="$cache/kubernetes-$version"
binaries=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl pause)
log() { echo "build-kubernetes: $*" >&2; }

complete() {
  local b
  for b in "${binaries[@]}"; do [[ -x $out/$b ]] || return 1; done
}

mkdir -p "$cache"
# One build at a time per machine: a second caller waits, then finds the
# binaries cached.
exec 9>"$cache/.build-kubernetes.lock"
if ! flock -n 9; then
  log "another build is running; waiting for it (up to 30 minutes)"
  flock -w 1800 9 || { log "gave up waiting for $cache/.build-kubernetes.lock"; exit 1; }
fi
if complete; then
  echo "$out"
  exit 0
fi

need=(golang-go jq rsync dpkg-dev golang-github-modern-go-reflect2-dev etcd-server openssl gcc libc6-dev)
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
fi

work="$cache/build-kubernetes"
rm -rf "$work"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/apt/lists/partial" "$work/src"

# The system's Debian mirror, from deb822 sources or a classic list.
mirror=$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
if [[ -z $mirror ]]; then
  mirror=$(awk '$1 == "deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
fi
[[ -n $mirror ]] || { log "no Debian bookworm mirror found in /etc/apt"; exit 1; }
echo "deb-src $mirror bookworm main" >"$work/apt/sources.list"
apt_private=(-o "Dir::Etc::SourceList=$work/apt/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
             -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt")
log "fetching the kubernetes source package"
apt-get "${apt_private[@]}" update -qq
(cd "$work/src" && apt-get "${apt_private[@]}" source -qq kubernetes >/dev/null 2>&1)
tree=$(find "$work/src" -maxdepth 1 -mindepth 1 -type d -name 'kubernetes-*' | head -n1)
[[ -d $tree ]] || { log "source package did not unpack"; exit 1; }
[[ $tree == *"really$version" ]] || { log "expected Kubernetes $version, got $tree"; exit 1; }

log "applying the two fixes to the vendored tree"
rm -rf "$tree/vendor/github.com/modern-go/reflect2"
cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 "$tree/vendor/github.com/modern-go/reflect2"
for f in vendor/k8s.io/kube-openapi/pkg/validation/validate/type.go vendor/github.com/go-openapi/validate/type.go; do
  [[ -f $tree/$f ]] || continue
  sed -i 's/if data == nil || reflect.DeepEqual(reflect.Zero(reflect.TypeOf(data)), reflect.ValueOf(data)) {/if data == nil {/' "$tree/$f"
  grep -q 'if data == nil {' "$tree/$f" || { log "fix 2 did not apply to $f"; exit 1; }
done

whats="cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler cmd/kubelet cmd/kube-proxy cmd/kubectl"
log "building $whats (GOPATH mode, as debian/rules does; several minutes)"
started=$(date +%s)
gopath="$work/go"
mkdir -p "$gopath/src/k8s.io"
ln -sfn "$tree" "$gopath/src/k8s.io/kubernetes"
(
  cd "$gopath/src/k8s.io/kubernetes"
  GOPATH="$gopath" GO111MODULE=off GOFLAGS=-mod=vendor CGO_ENABLED=0 GOPROXY=off GOCACHE="$work/gocache" \
    make WHAT="$whats" >"$work/build.log" 2>&1
) || { log "build failed; tail of $work/build.log:"; tail -30 "$work/build.log" >&2; trap - EXIT; exit 1; }
# The pod sandbox's process: static, as the upstream pause image builds it.
gcc -Os -Wall -Werror -static -DVERSION=v3.4-ferrolb -o "$tree/_output/pause" "$tree/build/pause/linux/pause.c"

staging="$out.partial"
rm -rf "$staging"
mkdir -p "$staging"
for b in "${binaries[@]}"; do
  built=$(find "$tree/_output" -type f -name "$b" -perm -u+x | head -n1)
  [[ -x $built ]] || { log "no $b in $tree/_output"; exit 1; }
  install -m 0755 "$built" "$staging/$b"
done
rm -rf "$out"
mv "$staging" "$out"
log "cached $out in $(($(date +%s) - started)) s of building"
echo "$out"
