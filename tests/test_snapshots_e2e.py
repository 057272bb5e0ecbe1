"""End to end: snapshots and InstallSnapshot between real replica processes.

configs/ci/restart.json (the leader and then a follower killed and
restarted from their data dirs) with the compaction threshold tuned down
to 16 entries, so that every replica compacts many times and a restarted
or lagging follower can only catch up from the leader's snapshot. Every
check must hold, the history must be linearizable, and the replicas' own
status events must show snapshot chunks sent and received.
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest
from typing import Dict, Tuple

from tests.support import ROOT

REPLICA = os.path.join(ROOT, "3700kvstore")
CONFIG = os.path.join(ROOT, "configs", "ci", "restart.json")


def snapshot_traffic(recording: str) -> Dict[str, Tuple[int, int]]:
    """Per replica: the most snapshot chunks it reported sent and received."""
    most: Dict[str, Tuple[int, int]] = {}
    with open(recording, encoding="utf-8") as f:
        for line in f:
            ev = json.loads(line)
            if ev.get("kind") != "status":
                continue
            sent = ev["sent"].get("snapshot", 0)
            got = ev["received"].get("snapshot", 0)
            s, r = most.get(ev["src"], (0, 0))
            most[ev["src"]] = (max(s, sent), max(r, got))
    return most


@unittest.skipUnless(os.access(REPLICA, os.X_OK) or os.environ.get("CI") == "true",
                     "build the replica first (make); skipped outside CI")
class SnapshotsBetweenRealReplicas(unittest.TestCase):
    def test_restarted_followers_catch_up_from_snapshots_and_stay_linearizable(self) -> None:
        with tempfile.TemporaryDirectory() as work:
            recording = os.path.join(work, "run.jsonl")
            result = os.path.join(work, "result.json")
            done = subprocess.run(
                [sys.executable, os.path.join(ROOT, "run.py"), CONFIG, "--seed", "1", "-s",
                 "--replica", REPLICA, "--tune", "compact=16", "--record", recording,
                 "--json", result],
                cwd=work, capture_output=True, text=True, timeout=120)
            self.assertTrue(os.path.exists(result), done.stdout[-2000:] + done.stderr[-2000:])
            with open(result, encoding="utf-8") as f:
                r = json.load(f)
            self.assertEqual(r["verdict"], "PASS", done.stdout[-3000:])
            self.assertEqual(r["linearizability"]["status"], "linearizable")
            self.assertEqual(r["counters"]["restarted"], 2)
            # The leader restarted and led again: the puts it had applied
            # (its data dir's commit index says which) are not answered again.
            self.assertEqual(r["counters"]["duplicates"], 0)
            self.assertEqual(r["tune"], "compact=16")
            traffic = snapshot_traffic(recording)
            self.assertGreater(sum(s for s, _ in traffic.values()), 0, traffic)
            self.assertGreater(sum(g for _, g in traffic.values()), 0, traffic)
            leftovers = [p for p in os.listdir(work) if p.startswith("kvdata-")]
            self.assertEqual(leftovers, [], "data dirs are removed at the end")


if __name__ == "__main__":
    unittest.main()
