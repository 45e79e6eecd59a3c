# The two entry points of the README. Both install what they need first.
.PHONY: demo test check deps lint image bench bench-speaker bench-speaker-memory bench-speaker-change bench-bfd bench-l2 bench-l2-starvation bench-nodes bench-controller faults-long soak fuzz-long cluster cluster-down

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

# The container image, without a daemon or a registry (umoci + skopeo):
# target/image/ferrolb-VERSION.tar, a docker-archive tagged
# ghcr.io/ferrolb/ferrolb:VERSION (docs/operations.md#the-container-image).
# Needs umoci and skopeo (scripts/install-deps.sh installs them).
image:
	scripts/build-image.sh

# The fast loop while developing (no root, no network lab, no API server, no
# fuzzing): formatting, clippy, and every unit and property test. Under two
# minutes once built (docs/testing.md).
check: lint
	$(CARGO) nextest run --locked --workspace --exclude interop-tests --profile check --no-fail-fast

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

# Issue 18's speaker memory per Service (needs root; about 25 minutes with
# the defaults, most of it the API server taking 50,000 Services): RSS of
# `ferrolb run` and of `ferrolb-speaker` (against the test kube-apiserver)
# at 1k / 10k / 50k Services, a table with the slope per Service, and the
# curve docs/img/speaker-memory.svg, with the recorded earlier run dashed
# (docs/benchmarks.md). A subset with, e.g.,
# make bench-speaker-memory BENCH_SPEAKER_MEMORY_ARGS="--shells standalone --services 1000,10000"
bench-speaker-memory: deps
	$(CARGO) build --quiet --locked --release -p ferrolb-cli -p ferrolb-speaker
	$(CARGO) bench --quiet --locked -p interop-tests --bench speaker_memory -- \
		--before $(CURDIR)/docs/img/speaker-memory-before.tsv $(BENCH_SPEAKER_MEMORY_ARGS)

# Issue 18's controller scale (no root; about 25 minutes with the
# defaults): N LoadBalancer Services created at once against the test
# kube-apiserver, assigned by a trivial writer (the API server's write
# ceiling on this machine) and by the release ferrolb-controller, each on
# a fresh API server, in 3 rounds of alternating order; time until all are
# assigned, API writes per Service, the ratio per round and its median,
# and the curve docs/img/controller-scale.svg with the recorded earlier run
# dashed (docs/benchmarks.md). A subset with, e.g.,
# make bench-controller BENCH_CONTROLLER_ARGS="--services 1000,10000 --rounds 4"
bench-controller: deps
	$(CARGO) build --quiet --locked --release -p ferrolb-controller
	$(CARGO) bench --quiet --locked -p interop-tests --bench controller_scale -- \
		--before $(CURDIR)/docs/img/controller-scale-before.tsv $(BENCH_CONTROLLER_ARGS)

# Issue 18's service change -> route on the Kubernetes path (needs root;
# about 10 minutes): the test kube-apiserver holds 1k, then 10k Services;
# one Service's endpoint turns not ready and ready again, 200 times, each
# timed from the API write to BIRD's kernel (docs/benchmarks.md). The
# memory figures of that run go to target/, not docs/. An older build is
# timed on the same API server with, e.g.,
# BENCH_SPEAKER_CHANGE_ARGS="--services 1000,10000 --changes 200 --changes-before /tmp/old-ferrolb-speaker".
BENCH_SPEAKER_CHANGE_ARGS ?= --services 1000,10000 --changes 200
bench-speaker-change: deps
	$(CARGO) build --quiet --locked --release -p ferrolb-speaker
	$(CARGO) bench --quiet --locked -p interop-tests --bench speaker_memory -- \
		--shells kubernetes --out $(CURDIR)/target/speaker-change.tsv $(BENCH_SPEAKER_CHANGE_ARGS)

# Issue 14's BFD detection benchmark (needs root; about 20 minutes): link
# cut -> route gone from FRR's and BIRD's kernels with BFD 50 ms x 3,
# 300 ms x 3 and the 3 s hold timer alone, 20 cuts each, and the same cuts
# of an FRR node and a BIRD node as references, then the CPU cost
# of 100 BFD sessions at 50 ms against FRR's bfdd (docs/benchmarks.md).
# A subset with, e.g.,
# make bench-bfd BENCH_BFD_ARGS="--runs 5 --mode bfd-50ms --sessions 0"
bench-bfd: deps
	$(CARGO) build --quiet --release --locked -p ferrolb-cli
	$(CARGO) run --quiet --release --locked -p interop-tests --bin bfd-detection -- $(BENCH_BFD_ARGS)

# Issue 7's Layer-2 failover benchmark (needs root; about 12 minutes): the
# floor, keepalived VRRPv3 (1 s, 100 ms, 10 ms adverts) and FerroLB's L2 mode
# (ferrolb run, built here in release next to the benchmark) under link cut,
# SIGKILL and SIGTERM, 20 runs each (docs/benchmarks.md). A subset with, e.g.,
# make bench-l2 BENCH_L2_ARGS="--subject floor,keepalived-100ms --runs 5"
bench-l2: deps
	$(CARGO) build --quiet --release --locked -p ferrolb-cli
	$(CARGO) run --quiet --release --locked -p interop-tests --bin l2-failover -- $(BENCH_L2_ARGS)

# Layer 2 under CPU starvation (issue 17): busy loops on every core, no
# failure; gaps, dual answers, owner changes per window.
# make bench-l2-starvation BENCH_L2_STARVATION_ARGS="--windows 1 --seconds 60"
bench-l2-starvation: deps
	$(CARGO) build --quiet --release --locked -p ferrolb-cli
	$(CARGO) run --quiet --release --locked -p interop-tests --bin l2-starvation -- $(BENCH_L2_STARVATION_ARGS)

# Issue 18's nodes curve (needs root; about 10 minutes): 3, 5, 10, 20, 35
# and 50 `ferrolb run` nodes (release, built here; FERROLB_BIN for another
# build) on one LAN in Layer-2 mode, then BGP to one BIRD router. Per node:
# membership datagrams and bytes per second, CPU, RSS; failovers of a
# killed owner; the time until BIRD routes over all N; BIRD's CPU. Writes
# docs/img/nodes.tsv and docs/img/nodes.svg (docs/benchmarks.md). A subset
# with, e.g., make bench-nodes BENCH_NODES_ARGS="--nodes 3,10 --window 10"
# (--plot-only redraws the SVG from the TSV).
bench-nodes: deps
	$(CARGO) build --quiet --release --locked -p ferrolb-cli
	$(CARGO) run --quiet --release --locked -p interop-tests --bin nodes-scale -- $(BENCH_NODES_ARGS)

# Issue 18's fault scenarios with their long variants (needs root; about
# 15 minutes): routers killed and down 30 s, link flaps for 2 minutes, a
# speaker of three killed (standalone and on the test API server), a
# controller leader killed during a burst of 1,000 Services, the API
# server and etcd down 60 s each (docs/reliability.md). CI runs the
# short ones.
faults-long: deps
	$(CARGO) build --quiet --locked -p ferrolb-cli
	FERROLB_FAULTS_LONG=1 $(CARGO) nextest run --locked -p ferrolb-cli --test standalone_faults --test faults_apiserver --no-capture
	FERROLB_BURST_SERVICES=1000 FERROLB_OUTAGE_SECS=60 $(CARGO) nextest run --locked -p ferrolb-cli --test burst_apiserver --test outage_apiserver --no-capture

# Issue 18's soak (needs root; 30 minutes of churn by default, plus about
# two of setup and convergence): the controller and three speakers against
# the test kube-apiserver, announcing to BIRD and FRR, with Services
# created, updated and deleted at 20/s, EndpointSlices flipping and a
# BGPPeer edited every minute. Prints RSS and descriptor slopes after
# warm-up, session resets against edits and the routers' tables against
# the expected one; writes docs/img/soak.tsv and docs/img/soak.svg
# (docs/reliability.md). Debug builds unless SOAK_PROFILE=release. E.g.
# make soak SOAK_ARGS="--minutes 15 --rate 10 --no-frr"
SOAK_PROFILE ?= dev
soak: deps
	$(CARGO) build --quiet --locked --profile $(SOAK_PROFILE) -p ferrolb-controller -p ferrolb-speaker
	$(CARGO) bench --quiet --locked --profile $(SOAK_PROFILE) -p interop-tests --bench soak -- $(SOAK_ARGS)

# Issue 18's long fuzzing: every fuzz target for FUZZ_RUNS executions
# (10 million by default; about an hour on one core, the membership
# datagram target most of it), then what found new coverage merged into
# the committed seeds that CI's 30-second runs start from
# (docs/testing.md). E.g. make fuzz-long FUZZ_RUNS=1000000
FUZZ_RUNS ?= 10000000
fuzz-long: deps
	scripts/fuzz-long.sh $(FUZZ_RUNS)

# A real Kubernetes 1.20 cluster in the lab (3 nodes, a client, FerroLB
# installed by Helm from charts/ferrolb and the image `make image` builds),
# left running: target/cluster/env says how to reach it (docs/lab.md).
# CLUSTER_NODES=N for another size.
cluster: deps image
	$(CARGO) build --quiet --locked -p interop-tests --bin cluster
	target/debug/cluster up --nodes $(or $(CLUSTER_NODES),3)

cluster-down:
	$(CARGO) build --quiet --locked -p interop-tests --bin cluster
	target/debug/cluster down
