# Build, demo, test and benchmark entry points. See README.md.

CARGO ?= cargo
PYTHON ?= python3

.PHONY: all build demo test test-rust test-python lint bench bench-durability bench-dash fuzz fuzz-seeds clean

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
	@# hostile input again in the test profile, whose overflow checks and
	@# debug assertions turn a wrapped integer into a failure
	$(CARGO) test -p replica --test robustness
	$(CARGO) test -p dashboard --test robust

test-python: build
	$(PYTHON) -m unittest discover -s tests -t . -v

# The 17 standard scenarios, 5 runs each, against the kvfloor stand-in,
# then the stress scenarios (write bursts, very lossy networks, large
# clusters, ...), 5 runs each, at run.py's pace and at the course
# simulator's; each table goes on top of docs/BENCHMARKS.md. Takes about
# three hours; `scripts/bench.py --help` runs one table at a time.
bench: build
	$(PYTHON) scripts/bench.py
	$(PYTHON) scripts/bench.py --stress
	$(PYTHON) scripts/bench.py --stress --pace course
	$(MAKE) bench-durability

# What a data dir costs a put (durable/memory, tmpfs and disk, 5 seeds of
# simple-2), and the data dir and memory over the 300-second run that
# forces snapshots and an InstallSnapshot.
bench-durability: build
	$(PYTHON) scripts/bench_durability.py latency --seeds 5
	$(PYTHON) scripts/bench_durability.py bounded

# kvdash's ingest rate (events/s on one core) and the memory it holds
# after 10 minutes of a 21-replica run; prints numbers only.
bench-dash:
	$(CARGO) run --release -p dashboard --example bench_ingest -- --replay dashboard/tests/fixtures/kill-partition.jsonl

# Coverage-guided fuzzing (cargo fuzz, libFuzzer) of the replica's packet
# path, kvdash's ingest, report and plots: FUZZ_SECONDS each (default 60).
# libFuzzer needs nightly flags: RUSTC_BOOTSTRAP lets the stable toolchain
# take them. No sanitizer: the code under test is safe Rust. Overflow
# checks and debug assertions are on (fuzz/Cargo.toml). Seeds are in
# fuzz/seeds/, the grown corpus in fuzz/corpus/, crashes in fuzz/artifacts/.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= replica_packet replica_storage kvdash_ingest kvdash_report kvdash_plots
FUZZ = RUSTC_BOOTSTRAP=1 $(CARGO) fuzz
FUZZ_FLAGS = --sanitizer none --debug-assertions
fuzz:
	@$(CARGO) fuzz --version >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	$(FUZZ) build $(FUZZ_FLAGS)
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t; \
	  log=fuzz/target/$$t.log; \
	  if ! $(FUZZ) run $(FUZZ_FLAGS) $$t fuzz/corpus/$$t fuzz/seeds/$$t -- \
	      -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 >$$log 2>&1; then \
	    tail -n 60 $$log; echo "fuzz: $$t FAILED (input in fuzz/artifacts/$$t/)"; exit 1; \
	  fi; \
	  echo "fuzz: $$t: $$(sed -n 's/^stat::number_of_executed_units: *//p' $$log) executions in $(FUZZ_SECONDS) s, corpus $$(ls fuzz/corpus/$$t | wc -l) inputs"; \
	done

# Rewrites fuzz/seeds/ from kvdash's fixtures and a short real run.
fuzz-seeds: build
	mkdir -p fuzz/corpus-src
	$(PYTHON) ./run.py configs/ci/simple.json --record fuzz/corpus-src/run.jsonl
	$(PYTHON) fuzz/make_seeds.py

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
	rm -f ./3700kvstore
