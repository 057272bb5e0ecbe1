# Build, demo, test and benchmark entry points. See README.md.

CARGO ?= cargo
PYTHON ?= python3

.PHONY: all build demo test test-rust test-python lint bench bench-dash clean

# `make`: release binaries, with ./3700kvstore at the repo root where the
# simulators expect it.
all: build

build:
	$(CARGO) build --release --workspace
	@# copy then rename: a simulation may be running the old binary
	cp target/release/3700kvstore ./.3700kvstore.tmp && mv -f ./.3700kvstore.tmp ./3700kvstore

# The main job: build, then watch a run live in kvdash: a scenario with a
# leader kill and partitions. q quits and prints run.py's report.
demo: build
	./target/release/kvdash run configs/advanced-1.json

# The whole test suite: Rust unit + simulation tests, Python simulator
# tests, and short end-to-end scenarios against the real replica.
test: build lint test-rust test-python

test-rust:
	$(CARGO) test --workspace --release

test-python: build
	$(PYTHON) -m unittest discover -s tests -t . -v

# The 17 standard scenarios, 5 runs each, against the kvfloor stand-in;
# puts the table on top of docs/BENCHMARKS.md. Takes over an hour.
bench: build
	$(PYTHON) scripts/bench.py

# kvdash's ingest rate (events/s on one core) and the memory it holds
# after 10 minutes of a 21-replica run; prints numbers only.
bench-dash:
	$(CARGO) run --release -p dashboard --example bench_ingest -- --replay dashboard/tests/fixtures/kill-partition.jsonl

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
	rm -f ./3700kvstore
