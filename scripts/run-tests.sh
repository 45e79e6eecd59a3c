#!/usr/bin/env bash
# Runs every test of the workspace. The interop tests build network labs and
# need root; they fail (never skip) without it.
set -euo pipefail
cd "$(dirname "$0")/.."

# Every parser that reads the network is fuzzed for a bounded time
# (FUZZ_SECONDS per target); a crash fails the run.
# Both fuzz workspaces are kube-free, so both are release builds: every
# second buys optimised executions. Each target runs on one core, and the
# image's fat-LTO link below mostly on one too: on CI's two cores the two
# overlap instead of queueing (about 4 minutes less). The fuzz output is
# printed when it ends, not interleaved with the build's.
fuzz_log="$(mktemp)"
# Its own process group (setsid), so that a failed build stops it whole.
FUZZ_SECONDS="${FUZZ_SECONDS:-30}" setsid bash -c '
    for dir in bgp/fuzz bfd/fuzz l2/fuzz; do
        scripts/fuzz-smoke.sh "$dir" "$FUZZ_SECONDS" || exit
    done' >"$fuzz_log" 2>&1 &
fuzz_pid=$!
trap 'kill -- "-$fuzz_pid" 2>/dev/null || true; rm -f "$fuzz_log"' EXIT

# The container image: built as `make image` builds it (a release build of
# the multi-call binary), then loaded back, checked and run from its
# unpacked root. Before the tests: the cluster tests install it.
make --no-print-directory image
scripts/check-image.sh

fuzz_status=0
wait "$fuzz_pid" || fuzz_status=$?
cat "$fuzz_log"
if [ "$fuzz_status" -ne 0 ]; then
    echo "run-tests: the fuzz smoke failed (exit $fuzz_status): see above" >&2
    exit "$fuzz_status"
fi

# nextest does not run doctests.
cargo test --locked --workspace --doc --quiet
cargo nextest run --locked --workspace --no-fail-fast
