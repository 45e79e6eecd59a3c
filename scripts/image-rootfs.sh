#!/usr/bin/env bash
# Builds the multi-call `ferrolb` binary with the `dist` profile and lays out
# the container image's root filesystem in DEST: the binary, its two other
# names, the shared libraries it loads and nothing else (no shell). `make
# image` and the Dockerfile both run this, so both images hold the same
# files.
#
#   image-rootfs.sh DEST    (DEST must not exist yet)
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 DEST" >&2; exit 2; }
dest=$1
cd "$(dirname "$0")/.."
if [[ -e $dest ]]; then
  echo "image-rootfs: $dest already exists" >&2
  exit 1
fi

start=$SECONDS
# Without SOURCE_DATE_EPOCH: the cc crate's build scripts (ring's among them)
# rerun when it changes, which would rebuild half the tree at every commit.
env -u SOURCE_DATE_EPOCH cargo build --locked --profile dist -p ferrolb-cli --bin ferrolb
echo "image-rootfs: cargo build --profile dist: $((SECONDS - start)) s" >&2
binary=target/dist/ferrolb

install -d -m 0755 "$dest"/usr/local/bin "$dest"/etc
install -m 0755 "$binary" "$dest"/usr/local/bin/ferrolb
# Relative links: they resolve the same inside a container, a chroot and an
# unpacked bundle. The binary picks its program from the name it is run by.
ln -s ferrolb "$dest"/usr/local/bin/ferrolb-controller
ln -s ferrolb "$dest"/usr/local/bin/ferrolb-speaker

# Exactly the shared objects the dynamic linker resolves (glibc's libc, libm,
# libgcc_s and the loader itself), copied to the paths the binary asks for.
# A library ldd cannot find fails the build here, not in a pod.
libraries=$(ldd "$binary" | awk '
  /=> not found/ { print "MISSING " $1; next }
  /=>/ && $3 ~ /^\// { print $3; next }
  $1 ~ /^\// { print $1 }
')
if grep -q '^MISSING' <<<"$libraries"; then
  echo "image-rootfs: $binary needs libraries this machine lacks:" >&2
  grep '^MISSING' <<<"$libraries" >&2
  exit 1
fi
for lib in $libraries; do
  install -D -m 0755 "$(readlink -f "$lib")" "$dest$lib"
done
# The licences of what we ship besides our own code (glibc is LGPL).
for package in libc6 libgcc-s1; do
  if [[ -f /usr/share/doc/$package/copyright ]]; then
    install -D -m 0644 /usr/share/doc/$package/copyright "$dest"/usr/share/doc/$package/copyright
  fi
done

# Names for the two users the chart runs as (root, nobody 65534), so tools
# and logs show names; no login shell exists.
cat >"$dest"/etc/passwd <<'PASSWD'
root:x:0:0:root:/root:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
PASSWD
cat >"$dest"/etc/group <<'GROUP'
root:x:0:
nogroup:x:65534:
GROUP
# /etc/hosts (which the kubelet writes) before DNS, as in any Debian host.
echo 'hosts: files dns' >"$dest"/etc/nsswitch.conf
chmod 0644 "$dest"/etc/passwd "$dest"/etc/group "$dest"/etc/nsswitch.conf

# Same files, same times: with SOURCE_DATE_EPOCH (build-image.sh sets the
# commit's time) the layer does not change from one build to the next.
if [[ -n ${SOURCE_DATE_EPOCH:-} ]]; then
  find "$dest" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
fi
