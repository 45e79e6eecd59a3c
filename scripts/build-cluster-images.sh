#!/usr/bin/env bash
# Builds the two images the lab's Kubernetes cluster needs besides FerroLB's,
# from scratch and without a registry (umoci + skopeo), as docker-archive
# tarballs that `ctr images import` loads under their names:
#   localhost/pause:3.4  the pod sandbox: pause.c of the Kubernetes tree
#                        (built by scripts/build-kubernetes.sh)
#   localhost/echo:1     busybox-static's httpd on port 8080; GET / answers
#                        with the client address it saw (first line) and the
#                        pod's name (second line)
# Cached per machine next to the Kubernetes binaries.
#
#   scripts/build-cluster-images.sh        # prints the directory of the tarballs
set -euo pipefail

cache=${FERROLB_CACHE:-/var/cache/ferrolb}
out="$cache/cluster-images-1"
if [[ -f $out/pause.tar && -f $out/echo.tar ]]; then
  echo "$out"
  exit 0
fi
log() { echo "build-cluster-images: $*" >&2; }
for p in umoci skopeo busybox; do
  command -v "$p" >/dev/null || { log "$p is missing (scripts/install-deps.sh installs it)"; exit 1; }
done
kube=$("$(dirname "$0")/build-kubernetes.sh")

work=$(mktemp -d "$cache/cluster-images.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
umoci init --layout oci

umoci new --image oci:pause
umoci unpack --image oci:pause pause >/dev/null
install -m 0755 "$kube/pause" pause/rootfs/pause
umoci repack --image oci:pause pause
umoci config --image oci:pause --config.entrypoint /pause

umoci new --image oci:echo
umoci unpack --image oci:echo echo >/dev/null
root=echo/rootfs
mkdir -p "$root/bin" "$root/www/cgi-bin" "$root/tmp" "$root/etc"
install -m 0755 "$(command -v busybox)" "$root/bin/busybox"
for applet in sh httpd hostname cat sleep nc ip; do ln -s busybox "$root/bin/$applet"; done
echo 'root:x:0:0:root:/:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
# No index.html: busybox httpd then runs cgi-bin/index.cgi for "/". Its
# REMOTE_ADDR reads "[::ffff:10.0.0.1]" on the dual-stack socket.
cat >"$root/www/cgi-bin/index.cgi" <<'CGI'
#!/bin/sh
a=${REMOTE_ADDR#[}
a=${a%]}
a=${a#::ffff:}
printf 'Content-Type: text/plain\r\n\r\n%s\n%s\n' "$a" "$(hostname)"
CGI
chmod 0755 "$root/www/cgi-bin/index.cgi"
umoci repack --image oci:echo echo
umoci config --image oci:echo --config.cmd /bin/httpd --config.cmd -f --config.cmd -p \
  --config.cmd 8080 --config.cmd -h --config.cmd /www --config.env PATH=/bin \
  --config.workingdir / --config.exposedports 8080/tcp

staging="$out.partial"
rm -rf "$staging"
mkdir -p "$staging"
skopeo copy --quiet oci:oci:pause "docker-archive:$staging/pause.tar:localhost/pause:3.4"
skopeo copy --quiet oci:oci:echo "docker-archive:$staging/echo.tar:localhost/echo:1"
rm -rf "$out"
mv "$staging" "$out"
log "cached $out"
echo "$out"
