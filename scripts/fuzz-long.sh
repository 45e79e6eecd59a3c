#!/usr/bin/env bash
# Runs every fuzz target of every cargo-fuzz workspace for RUNS executions
# (default 10 million; issue 18), then merges what found new coverage into
# the committed seeds (`-merge=1`: only inputs that add coverage, so the
# seeds stay small), which CI's 30-second runs start from. Prints one line
# per target: executions, time, coverage and the seeds kept, for
# docs/testing.md. Release builds, one target at a time.
#   scripts/fuzz-long.sh [RUNS] [FUZZ_DIR...]
# FUZZ_TARGETS="a b" runs only those targets of the directories given.
set -euo pipefail
runs="${1:-10000000}"
shift || true
dirs=("$@")
[ ${#dirs[@]} -gt 0 ] || dirs=(bgp/fuzz bfd/fuzz l2/fuzz)
root="$(cd "$(dirname "$0")/.." && pwd)"
summary="$(mktemp)"
trap 'rm -f "$summary"' EXIT
for dir in "${dirs[@]}"; do
    cd "$root/$dir"
    cargo +nightly metadata --locked --format-version 1 >/dev/null
    cargo +nightly fuzz build
    for target in ${FUZZ_TARGETS:-$(cargo +nightly fuzz list)}; do
        mkdir -p "corpus/$target" "seeds/$target"
        log="$(mktemp)"
        start=$(date +%s)
        cargo +nightly fuzz run "$target" "corpus/$target" "seeds/$target" -- \
            -runs="$runs" -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 2>"$log" \
            || { tail -40 "$log" >&2; echo "fuzz-long: $dir $target failed" >&2; exit 1; }
        secs=$(( $(date +%s) - start ))
        done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)"
        execs="$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')"
        before=$(find "seeds/$target" -type f | wc -l)
        cargo +nightly fuzz run "$target" "seeds/$target" "corpus/$target" -- -merge=1 >/dev/null 2>&1
        after=$(find "seeds/$target" -type f | wc -l)
        printf '%s %s: %s executions in %ss (%s); seeds %s -> %s\n' \
            "$dir" "$target" "$execs" "$secs" "$(echo "$done_line" | grep -oE 'cov: [0-9]+ ft: [0-9]+' || true)" \
            "$before" "$after" | tee -a "$summary"
        rm -f "$log"
    done
done
echo "== fuzz-long summary ($runs executions each)"
cat "$summary"
