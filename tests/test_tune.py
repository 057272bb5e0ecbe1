"""run.py --tune: the replicas' knobs reach them, are checked before the
run, and are reported in the text, the JSON and the replicas' events."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from tests import support

REPLICA = os.path.join(support.ROOT, "3700kvstore")


def run_py(args, cwd):
    return subprocess.run([sys.executable, support.RUN_PY] + args, cwd=cwd,
                          capture_output=True, text=True, timeout=60)


class Tune(unittest.TestCase):
    def setUp(self) -> None:
        if not os.access(REPLICA, os.X_OK):
            raise AssertionError(f"{REPLICA} is missing: run `make` first")
        self.dir = tempfile.mkdtemp(prefix="simtune-")
        self.cfg = support.write_json(self.dir, "c.json", support.short_config(requests=20))

    def tearDown(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_the_knobs_reach_the_replicas_and_every_report(self) -> None:
        proc = run_py([self.cfg, "-r", REPLICA, "-s", "--seed", "3", "--tune", "heartbeat=200ms,hold=2s",
                       "--json", "out.json", "--record", "rec.jsonl"], self.dir)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn("Replica knobs (--tune): heartbeat=200ms,hold=2s\n", proc.stdout)
        with open(os.path.join(self.dir, "out.json")) as fh:
            self.assertEqual(json.load(fh)["tune"], "heartbeat=200ms,hold=2s")
        starts = []
        with open(os.path.join(self.dir, "rec.jsonl")) as fh:
            for line in fh:
                ev = json.loads(line)
                if ev["kind"] == "start":
                    starts.append(ev)
        self.assertEqual(len(starts), 3)
        for ev in starts:
            self.assertEqual(ev["tuned"], "heartbeat=200ms,hold=2s")
            self.assertEqual(ev["config"]["heartbeat"], "200ms")
            self.assertEqual(ev["config"]["election"], "1s-2s")

    def test_without_tune_the_replicas_report_their_defaults(self) -> None:
        proc = run_py([self.cfg, "-r", REPLICA, "-s", "--seed", "3", "--record", "rec.jsonl"], self.dir)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertNotIn("Replica knobs", proc.stdout)
        with open(os.path.join(self.dir, "rec.jsonl")) as fh:
            starts = [e for e in map(json.loads, fh) if e["kind"] == "start"]
        self.assertEqual(len(starts), 3)
        for ev in starts:
            self.assertNotIn("tuned", ev)
            self.assertEqual(ev["config"]["heartbeat"], "300ms")

    def test_a_bad_knob_is_one_clear_error_before_any_replica_starts(self) -> None:
        for tune, text in [
            ("heartbeat=9s", "heartbeat: must be above 0 and below the election timeout's minimum"),
            ("heartbeet=1ms", 'unknown knob "heartbeet"'),
            ("lease=85", 'lease: "85" needs a unit: %'),
        ]:
            proc = run_py([self.cfg, "-r", REPLICA, "-s", "--tune", tune], self.dir)
            self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
            self.assertEqual(proc.stdout, "")
            lines = proc.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, proc.stderr)
            self.assertIn(f"the replica refused --tune {tune!r}", lines[0])
            self.assertIn(text, lines[0])
        self.assertEqual(support.socket_files(self.dir), [])

    def test_a_replica_without_knobs_is_an_error_when_asked_for_them(self) -> None:
        proc = run_py([self.cfg, "-r", support.fake("toy"), "-s", "--tune", "heartbeat=200ms"], self.dir)
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        self.assertIn("the replica refused --tune 'heartbeat=200ms'", proc.stderr)

    def test_the_replica_lists_its_knobs(self) -> None:
        out = subprocess.run([REPLICA, "--print-config", "--tune", "lease=50%"], capture_output=True,
                             text=True, timeout=10, env=dict(os.environ, KV_TUNE="hold=1s"))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("lease=50%", out.stdout)
        self.assertIn("(default 85%)", out.stdout)
        self.assertIn("hold=1s", out.stdout)
        self.assertIn("(default 3s)", out.stdout)
        bad = subprocess.run([REPLICA, "0001", "0002"], capture_output=True, text=True, timeout=10,
                             env=dict(os.environ, KV_TUNE="election=2s-1s"))
        self.assertEqual(bad.returncode, 2)
        self.assertIn("3700kvstore: tuning: election: needs MIN-MAX with 0 < MIN < MAX", bad.stderr)


if __name__ == "__main__":
    unittest.main()
