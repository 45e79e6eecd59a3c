# The two entry points of the README. Both install what they need first.
.PHONY: demo test deps lint unit

CARGO ?= cargo

# The main job: the network lab demo (needs root).
demo: deps
	$(CARGO) build --quiet --locked -p ferrolb-cli
	$(CARGO) run --quiet --locked -p interop-tests --bin lab-demo

# Every test: formatting, lints, unit, property and interop tests.
test: deps lint
	scripts/run-tests.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

deps:
	scripts/install-deps.sh
