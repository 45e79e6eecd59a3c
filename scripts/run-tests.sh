#!/usr/bin/env bash
# Runs every test of the workspace. The interop tests build network labs and
# need root; they fail (never skip) without it.
set -euo pipefail
cd "$(dirname "$0")/.."

# nextest does not run doctests.
cargo test --locked --workspace --doc --quiet
cargo nextest run --locked --workspace --no-fail-fast
