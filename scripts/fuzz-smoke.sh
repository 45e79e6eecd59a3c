#!/usr/bin/env bash
# Builds every fuzz target of a cargo-fuzz workspace and runs each for
# SECONDS, starting from its committed seeds. Exits non-zero if any target
# crashes (CI calls this for bgp/fuzz, bfd/fuzz and speaker/fuzz). PROFILE "dev"
# builds without optimisation: minutes faster for crates with heavy
# dependencies, at the price of fewer executions (a smoke run, not a
# campaign; fuzz for long with the default release build).
set -euo pipefail
dir="${1:?usage: fuzz-smoke.sh FUZZ_DIR SECONDS}"
secs="${2:?usage: fuzz-smoke.sh FUZZ_DIR SECONDS [dev]}"
profile=()
[ "${3:-}" = dev ] && profile=(--dev)
cd "$dir"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cargo +nightly fuzz build "${profile[@]}"
for target in $(cargo +nightly fuzz list); do
    mkdir -p "corpus/$target" "seeds/$target"
    echo "== $dir $target: ${secs}s"
    cargo +nightly fuzz run "${profile[@]}" "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -max_len=8192
done
