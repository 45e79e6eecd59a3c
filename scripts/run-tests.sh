#!/usr/bin/env bash
# Runs every test of the workspace. The interop tests build network labs and
# need root; they fail (never skip) without it.
set -euo pipefail
cd "$(dirname "$0")/.."

# Every parser that reads the network is fuzzed for a bounded time
# (FUZZ_SECONDS per target); a crash fails the run.
# Both fuzz workspaces are kube-free, so both are release builds: every
# second buys optimised executions.
scripts/fuzz-smoke.sh bgp/fuzz "${FUZZ_SECONDS:-30}"
scripts/fuzz-smoke.sh bfd/fuzz "${FUZZ_SECONDS:-30}"
scripts/fuzz-smoke.sh l2/fuzz "${FUZZ_SECONDS:-30}"

# The container image: built as `make image` builds it (a release build of
# the multi-call binary), then loaded back, checked and run from its
# unpacked root. Before the tests: the cluster tests install it.
make --no-print-directory image
scripts/check-image.sh

# nextest does not run doctests.
cargo test --locked --workspace --doc --quiet
cargo nextest run --locked --workspace --no-fail-fast
