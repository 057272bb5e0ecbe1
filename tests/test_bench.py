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


if __name__ == "__main__":
    unittest.main()
