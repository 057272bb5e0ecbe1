"""Linearizability as a correctness check, end to end and in the grading.

A fake replica whose history the course's checks accept but which is not
linearizable fails the run (exit 1, the witness names the key) unless
--course-checks; a history not decided within the budget fails too, with
its own verdict line and JSON count.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from simulator.clients import RequestRecord
from simulator.config import validate_config
from simulator.counters import Counters
from simulator.grading import grade
from simulator.report import format_report, result_to_json
from simulator.result import RunResult
from tests import support

SEED = 3


def run_cli(args, cwd):
    return subprocess.run([sys.executable, support.RUN_PY] + args, cwd=cwd, capture_output=True,
                          text=True, timeout=90)


class StaleDuplicateAnswer(unittest.TestCase):
    """The fake answers some gets twice, the second time with a value
    overwritten before the get was sent."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="simtest-lin-")
        cfg = support.write_json(cls.dir, "short.json", support.short_config(requests=80))
        base = [cfg, "-r", support.fake("stale_duplicate"), "-s", "--seed", str(SEED)]
        cls.full = run_cli(base + ["--json", "full.json"], cls.dir)
        cls.course = run_cli(base + ["--json", "course.json", "--course-checks"], cls.dir)
        with open(os.path.join(cls.dir, "full.json")) as fh:
            cls.data = json.load(fh)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_course_checks_alone_pass(self):
        self.assertEqual(self.course.returncode, 0, self.course.stdout + self.course.stderr)
        self.assertIn("All correctness tests passed", self.course.stdout)
        self.assertIn("--course-checks: this verdict does not count", self.course.stdout)
        self.assertGreater(self.data["counters"]["duplicates"], 0)
        self.assertEqual(self.data["counters"]["incorrect"], 0)

    def test_the_run_fails_and_names_the_key(self):
        self.assertEqual(self.full.returncode, 1, self.full.stdout + self.full.stderr)
        lin = self.data["linearizability"]
        self.assertEqual(lin["status"], "not linearizable")
        self.assertFalse(self.data["correctness"]["passed"])
        self.assertEqual(self.data["verdict"], "FAIL")
        key = lin["counterexample"]["key"]
        self.assertIn(key, lin["violating_keys"])
        self.assertIn(f"Error: history not linearizable", self.full.stdout)
        self.assertIn(f"Witness for key {key}", self.full.stdout)
        witness = lin["counterexample"]["witness"]
        # The stale second answer, the puts of its value, the put that
        # overwrote it and, when an unanswered put of the old value could
        # have landed late, a read showing it did not.
        self.assertLessEqual(len(witness), 6)
        self.assertLess(len(witness), lin["counterexample"]["key_operations"])
        dup = [o for o in witness if o["duplicate_answer"]]
        self.assertEqual(len(dup), 1)
        self.assertIn(f"MID {dup[0]['mid']} get value={dup[0]['value']} (a second ok to the same get)",
                      self.full.stdout)
        request = next(q for q in self.data["requests"] if q["mid"] == dup[0]["mid"])
        self.assertIn({"answered": dup[0]["response"], "value": dup[0]["value"]}, request["duplicate_answers"])
        self.assertNotEqual(request["answer_value"], dup[0]["value"])


def record(mid, client, rtype, key, value, sent, answered=None, answer_type=None, answer_value=None):
    rec = RequestRecord(mid=mid, client=client, type=rtype, key=key, value=value, sent=sent, target="0000")
    rec.answered, rec.answer_type, rec.answer_value = answered, answer_type, answer_value
    return rec


def graded(records, **kw):
    config = validate_config(support.short_config())
    counters = Counters(total_msgs=3000, generated_get=10, generated_put=10, keys_put=1)
    result = RunResult(config=config, seed=1, transport="classic", replica="x", counters=counters,
                       leaders=["0000"], latencies=[0.001], records=records, hop_ns=[], duration=5.0)
    return grade(result, **kw)


# Two clients share key K: A's put of v2 is answered after B's put of v1, and
# B later reads its own v1.  The course's check compares a read with the
# reader's own last put, so it passes; no order explains the read.
STALE_AFTER_HEAL = [
    record("B1", "0001", "put", "K", "v1", 1.0, 1.1, "ok"),
    record("A1", "0002", "put", "K", "v2", 2.0, 2.1, "ok"),
    record("B2", "0001", "get", "K", None, 3.0, 3.1, "ok", "v1"),
]


class Grading(unittest.TestCase):
    def test_a_stale_read_across_clients_fails_the_run(self):
        r = graded(STALE_AFTER_HEAL)
        self.assertFalse(r.correct)
        self.assertEqual([c.name for c in r.checks if not c.passed], ["linearizability"])
        text = format_report(r)
        self.assertIn("Witness for key K: these 3 of its 3 operations cannot be ordered", text)
        self.assertIn("client 0001 MID B2 get value=v1; invoked 3.000000, answered 3.100000", text)
        self.assertIn("client 0002 MID A1 put value=v2; invoked 2.000000, answered 2.100000", text)

    def test_course_checks_leave_it_out(self):
        r = graded(STALE_AFTER_HEAL, course_checks=True)
        self.assertTrue(r.correct)
        self.assertEqual(r.linearizability["status"], "not linearizable")
        self.assertFalse(graded(STALE_AFTER_HEAL).correct)

    def test_duplicate_get_answers_are_reads(self):
        ok = [record("P1", "0001", "put", "K", "v1", 1.0, 1.1, "ok"),
              record("P2", "0001", "put", "K", "v2", 2.0, 2.1, "ok"),
              record("G1", "0001", "get", "K", None, 3.0, 3.1, "ok", "v2")]
        ok[2].duplicate_answers = [(3.5, "v2")]
        self.assertTrue(graded(ok).correct)
        ok[2].duplicate_answers = [(3.5, "v1")]
        r = graded(ok)
        self.assertFalse(r.correct)
        witness = r.linearizability["counterexample"]["witness"]
        self.assertEqual([(o["mid"], o["value"], o["duplicate_answer"]) for o in witness],
                         [("P1", "v1", False), ("P2", "v2", False), ("G1", "v1", True)])

    def test_undecided_keys_fail_with_their_own_line_and_count(self):
        records = [record(f"P{i}", "0001", "put", f"K{i}", "v", 1.0, 1.1, "ok") for i in range(3)]
        r = graded(records, lin_time_limit=0.0)
        lin = r.linearizability
        self.assertEqual(lin["status"], "undecided")
        self.assertEqual((lin["undecided"], lin["decided_keys"]), (3, 0))
        self.assertFalse(r.correct)
        text = format_report(r)
        self.assertIn("linearizability: undecided for 3 keys within the budget (not verified: this is not a pass)",
                      text)
        self.assertIn("Error: linearizability undecided for 3 keys", text)
        self.assertNotIn("linearizable: all", text)
        data = result_to_json(r)
        self.assertEqual(data["linearizability"]["undecided"], 3)
        self.assertEqual(data["verdict"], "FAIL")
        self.assertFalse(data["correctness"]["passed"])

    def test_a_linearizable_history_reports_time_and_budget(self):
        r = graded(STALE_AFTER_HEAL[:2])
        self.assertTrue(r.correct)
        lin = r.linearizability
        self.assertEqual(lin["budget_s"], 5.0 + 0.001 * 2)
        self.assertIn(f"linearizability: linearizable: all 1 keys, 2 operations", format_report(r))
        self.assertIn(f"s of a {lin['budget_s']:.3f}s budget", format_report(r))


if __name__ == "__main__":
    unittest.main()
