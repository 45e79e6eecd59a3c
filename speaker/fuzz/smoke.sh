#!/usr/bin/env bash
# Builds every fuzz target and runs each for SECONDS, starting from the
# committed seeds. Exits non-zero if any target crashes (CI calls this).
set -euo pipefail
secs="${1:?usage: smoke.sh SECONDS}"
cd "$(dirname "$0")"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cargo +nightly fuzz build
for target in $(cargo +nightly fuzz list); do
    mkdir -p "corpus/$target"
    echo "== $target: ${secs}s"
    cargo +nightly fuzz run "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -max_len=8192
done
