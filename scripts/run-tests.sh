#!/usr/bin/env bash
# Runs every test of the workspace. The interop tests build network labs and
# need root; they fail (never skip) without it.
set -euo pipefail
cd "$(dirname "$0")/.."

# Every parser that reads the network is fuzzed for a bounded time
# (FUZZ_SECONDS per target); a crash fails the run.
for dir in bgp/fuzz speaker/fuzz; do
    scripts/fuzz-smoke.sh "$dir" "${FUZZ_SECONDS:-30}"
done

# nextest does not run doctests.
cargo test --locked --workspace --doc --quiet
cargo nextest run --locked --workspace --no-fail-fast
