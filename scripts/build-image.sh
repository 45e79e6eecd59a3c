#!/usr/bin/env bash
# `make image`: the container image, built without a daemon or a registry.
# scripts/image-rootfs.sh builds the binary and its root filesystem, umoci
# packs it as a one-layer OCI image configured from scripts/image-metadata.sh,
# and skopeo writes it as a docker-archive that `ctr images import`, `podman
# load` and `docker load` all take:
#
#   target/image/ferrolb-VERSION.tar   docker-archive, tagged REPOSITORY:VERSION
#   target/image/oci                   the OCI layout (tag VERSION), for skopeo copy
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in umoci skopeo; do
  command -v "$tool" >/dev/null || {
    echo "build-image: $tool is missing (apt-get install $tool, or run scripts/install-deps.sh)" >&2
    exit 1
  }
done

metadata=$(scripts/image-metadata.sh)
declare -A meta
while IFS='=' read -r key value; do meta[$key]=$value; done <<<"$metadata"
version=${meta[VERSION]}
export SOURCE_DATE_EPOCH=${meta[SOURCE_DATE_EPOCH]}
created=${meta[CREATED]}

out=target/image
layout=$out/oci
archive=$out/ferrolb-$version.tar
rootfs=$out/rootfs
rm -rf "$layout" "$rootfs" "$archive" "$out/layer.tar"
mkdir -p "$out"

scripts/image-rootfs.sh "$rootfs"

image="$layout:$version"
history=(--history.created="$created" --history.author=FerroLB)
umoci init --layout "$layout"
umoci new --image "$image"
# The layer is written by GNU tar, not `umoci insert`: umoci 0.4.7's own
# layers end without tar's padding and end-of-archive blocks, which GNU tar
# rejects. Sorted, numeric root ownership: the same root gives the same bytes.
layer=$out/layer.tar
(cd "$rootfs" && tar --create --file "$OLDPWD/$layer" --format=gnu --sort=name \
  --owner=0 --group=0 --numeric-owner -- *)
umoci raw add-layer --image "$image" "${history[@]}" \
  --history.created_by="scripts/image-rootfs.sh (cargo build --profile dist)" "$layer"
rm -f "$layer"
labels=()
for key in TITLE DESCRIPTION VERSION REVISION CREATED SOURCE LICENSES; do
  labels+=(--config.label "org.opencontainers.image.${key,,}=${meta[$key]}")
done
umoci config --image "$image" "${history[@]}" --created "$created" \
  --config.user "${meta[USER]}" \
  --config.env "PATH=${meta[PATH_ENV]}" \
  --config.entrypoint "${meta[ENTRYPOINT]}" \
  "${labels[@]}"
umoci gc --layout "$layout"

skopeo --insecure-policy copy --quiet \
  "oci:$image" "docker-archive:$archive:${meta[REPOSITORY]}:$version"
unpacked=$(du -sb "$rootfs" | cut -f1)
rm -rf "$rootfs"

# The compressed size is what a registry stores and a node pulls: the
# gzipped layer, the config and the manifest.
compressed=$(cat "$layout"/blobs/sha256/* | wc -c)
echo "build-image: $archive: ${meta[REPOSITORY]}:$version, revision ${meta[REVISION]}"
echo "build-image: unpacked $unpacked bytes, compressed $compressed bytes, archive $(stat -c %s "$archive") bytes"
