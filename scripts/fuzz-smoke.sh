#!/usr/bin/env bash
# Builds every fuzz target of a cargo-fuzz workspace and runs each for
# SECONDS, starting from its committed seeds. Exits non-zero if any target
# crashes (CI calls this for bgp/fuzz, bfd/fuzz and l2/fuzz). Release builds
# (the cargo-fuzz default): every fuzzed crate is kube-free, so optimising
# them costs little and every second runs optimised code.
set -euo pipefail
dir="${1:?usage: fuzz-smoke.sh FUZZ_DIR SECONDS}"
secs="${2:?usage: fuzz-smoke.sh FUZZ_DIR SECONDS}"
cd "$dir"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# cargo-fuzz has no --locked: a fuzz workspace's Cargo.lock that lags its
# crate (a dependency added to the fuzzed crate) would be rewritten
# silently, leaving the checkout dirty under the image build that runs
# beside this. Refuse it instead, naming the file.
if ! cargo +nightly metadata --locked --format-version 1 >/dev/null; then
    echo "fuzz-smoke: $dir/Cargo.lock is out of date: run 'cargo +nightly fuzz build' in $dir and commit it" >&2
    exit 1
fi
cargo +nightly fuzz build
for target in $(cargo +nightly fuzz list); do
    mkdir -p "corpus/$target" "seeds/$target"
    echo "== $dir $target: ${secs}s"
    cargo +nightly fuzz run "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -max_len=8192
done
