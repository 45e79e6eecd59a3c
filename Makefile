# The two entry points of the README. Both install what they need first.
.PHONY: demo test deps lint bench bench-speaker

CARGO ?= cargo

# The main job: the network lab demo (needs root).
demo: deps
	$(CARGO) build --quiet --locked -p ferrolb-cli
	$(CARGO) run --quiet --locked -p interop-tests --bin lab-demo

# Every test: formatting, lints, unit, property and interop tests.
test: deps lint
	scripts/run-tests.sh

# The BGP convergence benchmark (needs root; about 4 minutes for the full
# matrix, 3 runs per cell): docs/benchmarks.md. Choose a subset with, e.g.,
# make bench BENCH_ARGS="--routes 1000,10000 --speakers ferrolb,bird --runs 1"
bench: deps
	$(CARGO) build --quiet --release --locked -p interop-tests --bin bgp-announce
	$(CARGO) run --quiet --release --locked -p interop-tests --bin bgp-convergence -- $(BENCH_ARGS)

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

deps:
	scripts/install-deps.sh

# Issue 6's speaker benchmark: service change -> route in FRR's and BIRD's
# kernels, and the speaker's memory (docs/benchmarks.md).
bench-speaker: deps
	$(CARGO) build --quiet --locked --release -p ferrolb-cli -p interop-tests --bins
	target/release/speaker-bench
