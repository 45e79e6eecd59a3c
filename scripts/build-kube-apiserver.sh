#!/usr/bin/env bash
# Builds kube-apiserver v1.20 from Debian bookworm's `kubernetes` source
# package, for the controller's integration tests (no kube-apiserver binary
# can be downloaded on our machines). Built once per machine and cached.
#
#   scripts/build-kube-apiserver.sh        # prints the path of the binary
#
# The source is fetched through a private apt configuration, never the
# system's: a deb-src line derived from the system's own Debian mirror.
# Two fixes are applied to the vendored tree before building (see
# ../shared/K8S.md in the project's history, and docs/testing.md):
#  1. modern-go/reflect2 1.0.1 crashes under Go >= 1.18: use Debian's 1.0.2;
#  2. kubernetes#99804: with Go >= 1.16, 1.20 rejects every empty string in
#     a custom resource; drop the zero-value check in the two validators.
set -euo pipefail

cache=${FERROLB_CACHE:-/var/cache/ferrolb}
bin="$cache/kube-apiserver-1.20"
if [[ -x $bin ]]; then
  echo "$bin"
  exit 0
fi
log() { echo "build-kube-apiserver: $*" >&2; }

need=(golang-go jq rsync dpkg-dev golang-github-modern-go-reflect2-dev etcd-server openssl)
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
fi

work="$cache/build"
rm -rf "$work"
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

log "applying the two fixes to the vendored tree"
rm -rf "$tree/vendor/github.com/modern-go/reflect2"
cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 "$tree/vendor/github.com/modern-go/reflect2"
for f in vendor/k8s.io/kube-openapi/pkg/validation/validate/type.go vendor/github.com/go-openapi/validate/type.go; do
  [[ -f $tree/$f ]] || continue
  sed -i 's/if data == nil || reflect.DeepEqual(reflect.Zero(reflect.TypeOf(data)), reflect.ValueOf(data)) {/if data == nil {/' "$tree/$f"
  grep -q 'if data == nil {' "$tree/$f" || { log "fix 2 did not apply to $f"; exit 1; }
done

log "building (GOPATH mode, as debian/rules does; several minutes)"
gopath="$work/go"
mkdir -p "$gopath/src/k8s.io"
ln -sfn "$tree" "$gopath/src/k8s.io/kubernetes"
(
  cd "$gopath/src/k8s.io/kubernetes"
  GOPATH="$gopath" GO111MODULE=off GOFLAGS=-mod=vendor CGO_ENABLED=0 GOPROXY=off GOCACHE="$work/gocache" \
    make WHAT=cmd/kube-apiserver >"$work/build.log" 2>&1
) || { log "build failed; tail of $work/build.log:"; tail -30 "$work/build.log" >&2; exit 1; }
built=$(find "$tree/_output" -type f -name kube-apiserver -perm -u+x | head -n1)
[[ -x $built ]] || { log "no binary in $tree/_output"; exit 1; }
install -m 0755 "$built" "$bin"
rm -rf "$work"
log "cached $bin"
echo "$bin"
