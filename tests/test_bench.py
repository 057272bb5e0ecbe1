"""scripts/bench.py: a new table goes on top and earlier results stay."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import bench  # noqa: E402


class HistoryTest(unittest.TestCase):
    NEW = "# Benchmarks\n\n## `b2`: 17 scenarios, 5 runs each\n\n| table b2 |\n"

    def test_first_run_writes_just_the_table(self) -> None:
        self.assertEqual(bench.with_history(self.NEW, ""), self.NEW)

    def test_earlier_sections_follow_under_one_title(self) -> None:
        old = "# Benchmarks\n\n## `a1`: 8 scenarios\n\n| table a1 |\n\n## Previous: `a0`\n\nnotes\n"
        out = bench.with_history(self.NEW, old)
        self.assertEqual(out.count("# Benchmarks\n"), 1)
        self.assertTrue(out.startswith(self.NEW.rstrip("\n")))
        self.assertLess(out.index("`b2`"), out.index("`a1`"))
        self.assertLess(out.index("`a1`"), out.index("`a0`"))
        self.assertTrue(out.endswith("notes\n"))

    def test_a_file_without_the_title_is_kept_whole(self) -> None:
        out = bench.with_history(self.NEW, "hand-written notes\n")
        self.assertTrue(out.endswith("\n\nhand-written notes\n"))


def fake_run(msgs: int, redirects: int, dups: int, leaders, p99: float, passed: bool = True):
    """The parts of a run.py --json record the stress table reads."""
    perf = {"total_msgs": msgs, "failures": 0, "duplicates": dups, "median_latency": 0.001}
    return {
        "performance": {m: {"value": v} for m, v in perf.items()},
        "counters": {"total_msgs": msgs, "redirects": redirects, "duplicates": dups},
        "correctness": {"passed": passed},
        "latency": {"p99": p99},
        "leaders": leaders,
        "packet_storm": False,
    }


class StressTableTest(unittest.TestCase):
    def test_every_stress_scenario_is_a_valid_config(self) -> None:
        for name in bench.STRESS:
            with self.subTest(name=name):
                config = bench.load_config(name)
                self.assertGreater(bench.traffic_floor(config), 0)

    def test_a_row_takes_medians_and_counts_against_the_floor(self) -> None:
        config = bench.load_config("write-burst-3")      # floor 3000 x 3 x 0.95 x 0.5 = 4275
        runs = [fake_run(4275, 30, 0, ["FFFF", "0001"], 0.2),
                fake_run(8550, 60, 2, ["FFFF", "0001", "FFFF", "0002"], 0.4, passed=False),
                fake_run(6412, 90, 1, ["FFFF", "0001", "FFFF", "0002", "FFFF", "0002"], 0.3)]
        row = bench.stress_row("write-burst-3", config, runs)
        self.assertEqual(row["correct"], "2/3")
        self.assertAlmostEqual(row["over_floor"], 6412 / 4275)
        self.assertEqual(row["redirect_share"], 60 / 3000)
        self.assertEqual(row["dups_max"], 2)
        self.assertEqual((row["leaders_named"], row["leaders_unknown"]), (2, 2))
        self.assertEqual(row["p99"], 0.3)
        line = bench.stress_table([row])[-1]
        self.assertTrue(line.startswith("| write-burst-3 | 2/3 | 6412 (Bonus) | 1.50 |"), line)


if __name__ == "__main__":
    unittest.main()
