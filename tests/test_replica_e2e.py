"""End to end: the real Rust replica under run.py on the short CI scenarios.

Every correctness check must hold and every history must be linearizable,
under both transports. The replica must have been built (`make`); in CI
(CI=true) a missing binary is a failure, elsewhere the tests are skipped.
"""

import glob
import os
import subprocess
import tempfile
import threading
import unittest
from typing import Dict, List, Tuple

from simulator.config import CLASSIC, UDP, load_config
from simulator.result import RunResult
from simulator.simulation import run_simulation
from tests.support import ROOT

REPLICA = os.path.join(ROOT, "3700kvstore")
SEED = 20261125


def _built() -> bool:
    return os.access(REPLICA, os.X_OK)


def _durable() -> bool:
    """Whether the built replica keeps its state in a data dir ($KV_DATA_DIR,
    which its --help names): a replica restarted without it starts empty,
    and the scenarios that restart replicas are left out until then."""
    if not _built():
        return False
    try:
        done = subprocess.run([REPLICA, "--help"], capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return b"KV_DATA_DIR" in done.stdout + done.stderr


DURABLE = _durable()
CI_CONFIGS = sorted(p for p in glob.glob(os.path.join(ROOT, "configs", "ci", "*.json"))
                    if DURABLE or not load_config(p).has_restarts)


@unittest.skipUnless(_built() or os.environ.get("CI") == "true",
                     "build the replica first (make); skipped outside CI")
class RealReplicaEndToEnd(unittest.TestCase):
    results: Dict[Tuple[str, str], "RunResult"] = {}
    errors: List[str] = []

    @classmethod
    def setUpClass(cls) -> None:
        if not _built():
            raise AssertionError(f"{REPLICA} is missing: run `make` first")
        jobs = [(path, CLASSIC) for path in CI_CONFIGS]
        jobs.append((os.path.join(ROOT, "configs", "ci", "crash.json"), UDP))

        def one(path: str, transport: str) -> None:
            try:
                cfg = load_config(path, transport)
                with tempfile.TemporaryDirectory() as work:
                    result = run_simulation(cfg, REPLICA, seed=SEED, transport=transport,
                                            silence=True, workdir=work)
                cls.results[(os.path.basename(path), transport)] = result
            except Exception as e:  # reported by the tests below
                cls.errors.append(f"{path} ({transport}): {e!r}")

        # Two at a time: the machine may have only two cores.
        for i in range(0, len(jobs), 2):
            threads = [threading.Thread(target=one, args=job) for job in jobs[i:i + 2]]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

    def test_the_ci_scenarios_exist(self) -> None:
        self.assertGreaterEqual(len(CI_CONFIGS), 4)

    def test_every_run_completed(self) -> None:
        self.assertEqual(self.errors, [])
        self.assertEqual(len(self.results), len(CI_CONFIGS) + 1)

    def test_every_correctness_check_passes(self) -> None:
        for (name, transport), result in sorted(self.results.items()):
            with self.subTest(config=name, transport=transport):
                failed = [f"{c.name}: {c.detail}" for c in result.checks if not c.passed]
                self.assertEqual(failed, [], f"seed {result.seed}; rerun: ./run.py configs/ci/{name}"
                                 f" --transport {transport} --seed {result.seed}")
                self.assertEqual(result.counters.incorrect, 0)
                self.assertEqual(result.counters.died, 0)

    def test_every_history_is_linearizable(self) -> None:
        for (name, transport), result in sorted(self.results.items()):
            with self.subTest(config=name, transport=transport):
                self.assertEqual(result.linearizability.get("status"), "linearizable",
                              f"{result.linearizability} (seed {result.seed})")

    def test_most_requests_are_answered_ok(self) -> None:
        for (name, transport), result in sorted(self.results.items()):
            with self.subTest(config=name, transport=transport):
                answered = [r for r in result.records if r.answer_type == "ok"]
                # A redirected request is retried under a new MID: count
                # each client request once, by the first MID of its chain.
                retry_of = {r.mid: r.retry_of for r in result.records}

                def first(mid: str) -> str:
                    while retry_of.get(mid):
                        mid = retry_of[mid]
                    return mid
                asked = {first(r.mid) for r in result.records}
                self.assertGreater(len(answered), 0.8 * len(asked), f"seed {result.seed}")


if __name__ == "__main__":
    unittest.main()
