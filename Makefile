# Build, demo, test and benchmark entry points. See README.md.

CARGO ?= cargo
PYTHON ?= python3

.PHONY: all build demo test test-rust test-python lint bench clean

# `make`: release binaries, with ./3700kvstore at the repo root where the
# simulators expect it.
all: build

build:
	$(CARGO) build --release --workspace
	@# copy then rename: a simulation may be running the old binary
	cp target/release/3700kvstore ./.3700kvstore.tmp && mv -f ./.3700kvstore.tmp ./3700kvstore

# The main job: build, then a live run of a scenario with a leader kill and
# partitions, replica logs shown.
demo: build
	$(PYTHON) ./run.py configs/advanced-1.json

# The whole test suite: Rust unit + simulation tests, Python simulator
# tests, and short end-to-end scenarios against the real replica.
test: build lint test-rust test-python

test-rust:
	$(CARGO) test --workspace --release

test-python: build
	$(PYTHON) -m unittest discover -s tests -t . -v

# The 17 standard scenarios, 5 runs each, against the kvfloor stand-in;
# writes docs/BENCHMARKS.md. Takes over an hour.
bench: build
	$(PYTHON) scripts/bench.py

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
	rm -f ./3700kvstore
