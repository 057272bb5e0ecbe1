"""End to end: the simulator against tiny fake replicas (tests/fakes/).

Every scenario runs for 5 s (the shortest lifetime a config may have), so
they all run at once in threads, each in its own temporary working
directory, and the tests then look at the results.  Each fake produces
exactly the counters and verdicts that docs/simulator.md describes.
"""

import os
import shutil
import tempfile
import unittest
from concurrent.futures import ThreadPoolExecutor

from simulator.ids import client_ids
from simulator.processes import TERM_GRACE
from simulator.report import format_report
from simulator.result import RunResult
from simulator.workload import Workload, stream
from tests import support

SEED = 11

SCENARIOS = {
    # name: (fake, config overrides, transport, seed)
    "toy": ("toy", {}, "classic", SEED),
    "toy_again": ("toy", {}, "classic", SEED),
    "toy_udp": ("toy", {}, "udp", SEED),
    "bad_json": ("bad_json", {}, "classic", SEED),
    "oversized": ("oversized", {}, "classic", SEED),
    "dies": ("dies", {}, "classic", SEED),
    "double_answer": ("double_answer", {}, "classic", SEED),
    "redirect_then_ok": ("redirect_then_ok", {}, "classic", SEED),
    "never_answers": ("never_answers", {}, "classic", SEED),
    "unknown_dst": ("unknown_dst", {}, "classic", SEED),
    "wrong_value": ("wrong_value", {}, "classic", SEED),
    "kill": ("toy", {"events": [{"type": "kill_non_leader", "time": 3}]}, "classic", SEED),
    "drops": ("toy", {"drops": 0.3}, "classic", SEED),
    "ignores_sigterm": ("ignores_sigterm", {}, "classic", SEED),
    "storm": ("storm", {"max_packets": 100}, "classic", SEED),
}

RESULTS = {}
WORKDIRS = {}
ERRORS = {}
_saved_env = None


def _one(name):
    fake, overrides, transport, seed = SCENARIOS[name]
    workdir = WORKDIRS[name]
    cfg = support.short_config(**overrides)
    return support.simulate(support.fake(fake), cfg, seed, transport, workdir)


def setUpModule():
    global _saved_env
    _saved_env = os.environ.get("FAKE_WRITE_PIDS")
    os.environ["FAKE_WRITE_PIDS"] = "1"
    for name in SCENARIOS:
        WORKDIRS[name] = tempfile.mkdtemp(prefix=f"simtest-{name}-")
    # A few at a time: each run starts three Python fakes, and on a small,
    # busy machine a fake that starts late misses its first packets (under
    # UDP, a packet for a replica that has not said hello yet kills it).
    with ThreadPoolExecutor(max_workers=5) as pool:
        futures = {name: pool.submit(_one, name) for name in SCENARIOS}
        for name, fut in futures.items():
            try:
                RESULTS[name] = fut.result()
            except Exception as exc:     # reported by the tests that need it
                ERRORS[name] = exc


def tearDownModule():
    if _saved_env is None:
        os.environ.pop("FAKE_WRITE_PIDS", None)
    else:
        os.environ["FAKE_WRITE_PIDS"] = _saved_env
    for d in WORKDIRS.values():
        shutil.rmtree(d, ignore_errors=True)


class FakeReplicaCase(unittest.TestCase):
    def result(self, name) -> RunResult:
        if name in ERRORS:
            raise ERRORS[name]
        return RESULTS[name]

    def failing(self, name):
        return [c.name for c in self.result(name).checks if not c.passed]

    def assertToyTraffic(self, r: RunResult, extra_msgs=0):
        c = r.counters
        self.assertEqual(c.generated_get + c.generated_put, 40)
        self.assertEqual(c.total_msgs, 2 * c.generated_put + extra_msgs)  # one broadcast per put, 3 replicas
        self.assertEqual((c.died, c.killed, c.total_drops), (0, 0, 0))
        self.assertEqual((c.unanswered_get, c.unanswered_put, c.failed_get, c.failed_put), (0, 0, 0, 0))
        self.assertEqual(r.leaders, ["FFFF", "0000"])


class CorrectToy(FakeReplicaCase):
    def test_counters_and_verdicts(self):
        r = self.result("toy")
        c = r.counters
        self.assertToyTraffic(r)
        self.assertEqual((c.incorrect, c.duplicates), (0, 0))
        redirected = [x for x in r.records if x.answer_type == "redirect"]
        self.assertEqual(c.redirects, len(redirected))
        # Only followers redirect, and a retry goes to the leader they name.
        self.assertTrue(all(x.answered_by != "0000" for x in redirected))
        self.assertTrue(all(x.target == "0000" for x in r.records if x.retry_of is not None))
        self.assertEqual(len(r.latencies), 40 + c.redirects)
        self.assertTrue(r.correct)
        self.assertEqual({t.metric: t.tier for t in r.tiers}, {
            "total_msgs": "Bonus", "failures": "Passed", "duplicates": "Passed", "median_latency": "Bonus"})
        self.assertTrue(r.passed)
        self.assertEqual(r.linearizability["status"], "linearizable")
        self.assertIn("All correctness tests passed", format_report(r))

    def test_the_same_seed_gives_the_same_workload(self):
        # Which client sends when, and with which MID, depends on the seed
        # alone.  Whether a draw becomes a get or a put also depends on which
        # puts were acknowledged in time, so the exact get/put split is
        # checked without sockets in test_workload.
        def originals(r):
            return [(x.client, x.mid) for x in r.records if x.retry_of is None]
        a, b = originals(self.result("toy")), originals(self.result("toy_again"))
        workload = Workload(SEED)
        expected = []
        for _ in range(40):
            d = workload.next()
            expected.append((client_ids(3)[d.client], d.mid))
        self.assertEqual(a, expected)
        self.assertEqual(b, expected)

    def test_udp_generation_gives_the_same_results(self):
        r, classic = self.result("toy_udp"), self.result("toy")
        self.assertEqual(r.transport, "udp")
        self.assertToyTraffic(r)
        self.assertEqual((r.counters.incorrect, r.counters.blocked), (0, 0))
        self.assertTrue(r.correct)
        self.assertEqual([(x.client, x.mid) for x in r.records if x.retry_of is None],
                         [(x.client, x.mid) for x in classic.records if x.retry_of is None])
        self.assertIn("Total messages blocked by full sockets: 0", format_report(r))
        self.assertIn("Full credit", format_report(r))
        # The UDP run lasts lifetime + start_wait + end_wait.
        self.assertGreaterEqual(r.duration, 8.0)

    def test_drops_follow_the_seed(self):
        r = self.result("drops")
        c = r.counters
        draws = stream(SEED, "drops")
        expected = sum(1 for _ in range(c.total_msgs) if draws.random() < 0.3)
        self.assertEqual(c.total_msgs, 2 * c.generated_put)
        self.assertEqual(c.total_drops, expected)
        self.assertGreater(c.total_drops, 0)
        self.assertTrue(r.correct)

    def test_kill_non_leader(self):
        r = self.result("kill")
        c = r.counters
        self.assertEqual((c.killed, c.died), (1, 0))
        self.assertEqual(r.leaders, ["FFFF", "0000"])
        self.assertEqual(self.failing("kill"), [])
        self.assertIn("Replicas that died/were killed: 0/1", format_report(r))


class MisbehavingReplicas(FakeReplicaCase):
    def test_invalid_json(self):
        r = self.result("bad_json")
        self.assertEqual(r.counters.incorrect, 5)
        self.assertToyTraffic(r)
        self.assertEqual(self.failing("bad_json"), ["incorrect"])
        self.assertFalse(r.passed)
        text = format_report(r)
        self.assertIn("Error: 5 incorrect", text)
        self.assertIn("## Correctness Checks Failed, Skipping Performance Tests", text)

    def test_oversized_packet(self):
        r = self.result("oversized")
        self.assertEqual(r.counters.incorrect, 1)
        self.assertToyTraffic(r, extra_msgs=1)
        self.assertEqual(self.failing("oversized"), ["incorrect"])

    def test_replica_that_dies(self):
        r = self.result("dies")
        c = r.counters
        self.assertEqual((c.died, c.killed, c.incorrect), (1, 0, 0))
        self.assertEqual(self.failing("dies"), ["died"])
        self.assertIn("Replicas that died/were killed: 1/0", format_report(r))

    def test_answers_a_mid_twice(self):
        r = self.result("double_answer")
        c = r.counters
        self.assertEqual(c.duplicates, 40)
        self.assertEqual(c.incorrect, 0)
        self.assertToyTraffic(r)
        self.assertTrue(r.correct)
        tiers = {t.metric: t.tier for t in r.tiers}
        self.assertEqual(tiers["duplicates"], "Failed")
        self.assertFalse(r.passed)
        self.assertIn("Duplicate Responses to Clients: 40 >= 5, Failed", format_report(r))

    def test_answers_again_after_a_redirect(self):
        r = self.result("redirect_then_ok")
        c = r.counters
        self.assertGreater(c.redirects, 0)
        self.assertEqual(c.incorrect, c.redirects)
        self.assertEqual(c.duplicates, 0)
        self.assertEqual(self.failing("redirect_then_ok"), ["incorrect"])

    def test_never_answers(self):
        r = self.result("never_answers")
        c = r.counters
        workload = Workload(SEED)
        draws = [workload.next() for _ in range(40)]
        expected_failed_gets = sum(1 for d in draws if d.u_type < 0.5)
        self.assertEqual((c.generated_get, c.generated_put), (0, 40))
        self.assertEqual((c.unanswered_get, c.unanswered_put), (0, 40))
        self.assertEqual(c.failed_to_generate_get, expected_failed_gets)
        self.assertEqual((c.total_msgs, c.incorrect, c.duplicates, c.redirects), (0, 0, 0, 0))
        self.assertEqual([x.mid for x in r.records], [d.mid for d in draws])
        self.assertEqual(r.latencies, [])
        self.assertEqual(self.failing("never_answers"),
                         ["keys_put", "unanswered_put", "failed_to_generate_get", "replication"])
        self.assertEqual(r.leaders, ["FFFF"])
        self.assertIn("Mean/Median query latency: 0.000000sec/0.000000sec", format_report(r))

    def test_unknown_destinations(self):
        r = self.result("unknown_dst")
        self.assertEqual(r.counters.incorrect, 3)
        self.assertToyTraffic(r)
        self.assertEqual(self.failing("unknown_dst"), ["incorrect"])

    def test_wrong_values_are_incorrect_and_not_linearizable(self):
        r = self.result("wrong_value")
        c = r.counters
        self.assertGreater(c.generated_get, 0)
        self.assertEqual(c.incorrect, c.generated_get)
        self.assertEqual(r.linearizability["status"], "not linearizable")
        self.assertIn("NOT linearizable", format_report(r))


class PacketStorm(FakeReplicaCase):
    def test_max_packets_ends_the_run_early(self):
        r = self.result("storm")
        self.assertTrue(r.packet_storm)
        self.assertEqual(r.counters.total_msgs, 100)
        self.assertLess(r.duration, 4.5)
        self.assertFalse(r.passed)
        text = format_report(r)
        self.assertTrue(text.startswith("Error: packet storm: 100 messages reached max_packets (100)"), text)


class Lifecycle(FakeReplicaCase):
    def test_no_socket_files_are_left(self):
        for name in SCENARIOS:
            with self.subTest(name):
                self.result(name)
                self.assertEqual(support.socket_files(WORKDIRS[name]), [])

    def test_no_process_outlives_a_run(self):
        for name in SCENARIOS:
            with self.subTest(name):
                r = self.result(name)
                pids = support.recorded_pids(WORKDIRS[name])
                self.assertEqual(len(r.replica_pids), 3)
                if name != "storm":             # the storm run may end before all fakes are up
                    self.assertGreaterEqual(len(pids), 3)
                for pid in pids + r.replica_pids:
                    self.assertTrue(support.dies_within(pid), f"{name}: pid {pid} alive 2 s after the run")

    def test_a_replica_ignoring_sigterm_and_its_child_are_killed(self):
        r = self.result("ignores_sigterm")
        self.assertEqual(len([p for p in os.listdir(WORKDIRS["ignores_sigterm"]) if p.startswith("child-")]), 3)
        self.assertTrue(r.correct)
        self.assertLess(r.duration, 5 + TERM_GRACE + 3)

    def test_overhead_is_measured(self):
        ov = self.result("toy").overhead()
        self.assertGreater(ov["packets"], 40)
        self.assertGreater(ov["median_us"], 0)
        self.assertGreaterEqual(ov["p99_us"], ov["median_us"])


if __name__ == "__main__":
    unittest.main()
