# syntax=docker/dockerfile:1
# FerroLB's container image, for those who build with Docker or Podman:
#
#   docker build $(scripts/image-metadata.sh --build-args) -t ghcr.io/ferrolb/ferrolb:0.1.0 .
#
# `make image` builds the same image without a daemon (scripts/build-image.sh),
# and both lay out the root with scripts/image-rootfs.sh, so they hold the same
# files. CI has no daemon and never builds this file: cli/tests/packaging.rs
# checks it against scripts/image-metadata.sh, and CI builds and runs
# `make image`'s image.

# The toolchain rust-toolchain.toml pins, on the Debian release whose glibc
# the image ships.
FROM docker.io/library/rust:1.95.0-bookworm AS build
WORKDIR /src
COPY . .
ARG VERSION
ARG SOURCE_DATE_EPOCH
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    expected="$(scripts/workspace-field.sh version)" \
    && if [ "$VERSION" != "$expected" ]; then \
         echo "pass --build-arg VERSION=$expected (scripts/image-metadata.sh --build-args gives every build argument)" >&2; \
         exit 1; \
       fi \
    && scripts/image-rootfs.sh /rootfs

# Nothing but what image-rootfs.sh laid out: the binary, its links, the
# glibc libraries it loads, /etc/passwd and /etc/group. No shell.
FROM scratch
ARG VERSION
ARG REVISION
ARG CREATED
ARG TITLE=ferrolb
ARG DESCRIPTION="FerroLB: LoadBalancer Services for bare-metal Kubernetes, MetalLB-compatible (ferrolb, ferrolb-controller, ferrolb-speaker)"
ARG SOURCE=https://github.com/ferrolb/ferrolb
ARG LICENSES=Apache-2.0
COPY --from=build /rootfs/ /
ENV PATH=/usr/local/bin
# Root by default: the speaker binds port 179 and opens raw sockets. The
# chart runs the controller as 65534.
USER 0
ENTRYPOINT ["/usr/local/bin/ferrolb"]
LABEL org.opencontainers.image.title="${TITLE}" \
      org.opencontainers.image.description="${DESCRIPTION}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="${LICENSES}"
