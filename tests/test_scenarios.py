"""The scenario files under configs/ (docs/simulator.md: "Standard scenarios")."""

import glob
import json
import os
import unittest

from simulator.config import FRACTIONS, STANDARD_SCENARIOS, load_config
from tests import support

CONFIGS = os.path.join(support.ROOT, "configs")

# name: requests, mix, drops, end_wait, events, total_msgs, failures, duplicates, median_latency
TABLE = {
    "simple-1": (500, 0.8, 0, None, [], [1200, 3000, 5000], [0, 1, 2], [0, 2, 5], [0.0004, 0.002, 0.05]),
    "simple-2": (500, 0.2, 0, None, [], [2200, 4000, 5000], [0, 1, 2], [0, 2, 5], [0.001, 0.005, 0.05]),
    "unreliable-1": (500, 0.2, 0.05, None, [], [2200, 4500, 5500], [0, 1, 2], [0, 2, 5], [0.001, 0.005, 0.05]),
    "unreliable-2": (500, 0.2, 0.1, None, [], [2300, 4500, 6000], [0, 1, 2], [0, 2, 5], [0.001, 0.005, 0.05]),
    "unreliable-3": (500, 0.2, 0.15, None, [], [2300, 4500, 6000], [0, 1, 5], [0, 2, 5], [0.001, 0.005, 0.05]),
    "crash-1": (500, 0.2, 0, None, [("kill_non_leader", 15)],
                [2500, 4000, 5000], [0, 1, 5], [0, 2, 5], [0.001, 0.005, 0.05]),
    "crash-2": (500, 0.2, 0, None, [("kill_non_leader", 10), ("kill_non_leader", 20)],
                [2500, 4000, 5000], [0, 1, 5], [0, 2, 5], [0.001, 0.005, 0.05]),
    "crash-3": (400, 0.2, 0, None, [("kill_leader", 10)],
                [2000, 4000, 5000], [0, 2, 5], [0, 2, 10], [0.0002, 0.005, 0.05]),
    "crash-4": (300, 0.2, 0, None, [("kill_leader", 8), ("kill_leader", 16)],
                [1800, 4000, 5000], [1, 4, 10], [0, 2, 10], [0.00015, 0.005, 0.05]),
    "partition-1": (400, 0.2, 0, None, [("part_easy", 5), ("part_end", 10)],
                    [2200, 4000, 5000], [0, 1, 5], [0, 2, 5], [0.0002, 0.005, 0.05]),
    "partition-2": (300, 0.2, 0, None, [("part_easy", 5), ("part_end", 10), ("part_easy", 18), ("part_end", 23)],
                    [1800, 4000, 5000], [0, 1, 5], [0, 2, 5], [0.0002, 0.005, 0.05]),
    "partition-3": (400, 0.2, 0, None, [("part_hard", 5), ("part_end", 10)],
                    [2200, 4000, 5000], [0, 10, 30], [0, 2, 5], [0.00025, 0.005, 0.05]),
    "partition-4": (300, 0.2, 0, None, [("part_hard", 5), ("part_end", 10), ("part_hard", 18), ("part_end", 23)],
                    [1800, 4000, 5000], [0, 20, 60], [0, 2, 5], [0.00025, 0.005, 0.05]),
    "advanced-1": (250, 0.2, 0.1, None, [("part_hard", 5), ("part_end", 8), ("part_hard", 12), ("part_end", 15),
                                         ("kill_leader", 20)],
                   [1000, 3000, 4000], [1, 10, 100], [0, 2, 5], [0.00015, 0.005, 0.05]),
    "advanced-2": (300, 0.2, 0.15, 5, [("kill_leader", 8), ("kill_leader", 16)],
                   [1000, 3000, 4000], [1, 10, 100], [0, 2, 10], [0.00015, 0.005, 0.05]),
    "advanced-3": (200, 0.2, 0.3, 10, [("kill_leader", 5)],
                   [1000, 3000, 4000], [1, 10, 100], [0, 5, 20], [0.0002, 0.005, 0.1]),
    "advanced-4": (300, 0.2, 0.1, 5, [("part_hard", 5), ("part_end", 8), ("part_hard", 12), ("part_end", 15),
                                      ("part_hard", 19), ("part_end", 21), ("kill_leader", 25)],
                   [1000, 4000, 5000], [1, 10, 100], [0, 2, 10], [0.0002, 0.005, 0.1]),
}


class StandardScenarios(unittest.TestCase):
    def test_the_list_of_standard_scenarios(self):
        self.assertEqual(sorted(STANDARD_SCENARIOS), sorted(TABLE))
        self.assertEqual(len(STANDARD_SCENARIOS), 17)

    def test_each_file_matches_the_contract_table(self):
        for name, row in TABLE.items():
            requests, mix, drops, end_wait, events, msgs, failures, dups, latency = row
            with self.subTest(name):
                cfg = load_config(os.path.join(CONFIGS, name + ".json"))
                self.assertEqual((cfg.lifetime, cfg.replicas, cfg.start_wait), (30, 5, 2))
                self.assertEqual((cfg.requests, cfg.mix, cfg.drops), (requests, mix, drops))
                self.assertEqual(cfg.end_wait, 2 if end_wait is None else end_wait)
                self.assertEqual([(e.type, e.time) for e in cfg.events], events)
                self.assertEqual(cfg.benchmarks, {
                    "total_msgs": tuple(msgs), "failures": tuple(failures),
                    "duplicates": tuple(dups), "median_latency": tuple(latency)})
                self.assertEqual(cfg.fractions, FRACTIONS)

    def test_udp_variants_exist_and_validate(self):
        for name in TABLE:
            with self.subTest(name):
                cfg = load_config(os.path.join(CONFIGS, "udp", name + ".json"), "udp")
                self.assertEqual(cfg.requests, TABLE[name][0])
                self.assertEqual(cfg.run_lifetime, 30 + 5 + cfg.end_wait)


class OwnScenarios(unittest.TestCase):
    def own(self):
        names = [os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(CONFIGS, "*.json"))]
        return sorted(set(names) - set(TABLE))

    def test_at_least_five_own_scenarios_that_validate(self):
        own = self.own()
        self.assertGreaterEqual(len(own), 5, own)
        for name in own:
            with self.subTest(name):
                path = os.path.join(CONFIGS, name + ".json")
                load_config(path)
                load_config(path, "udp")
                with open(path) as fh:
                    self.assertTrue(json.load(fh).get("description"), "say what it stresses")

    def test_they_cover_what_the_standard_ones_do_not(self):
        configs = {n: load_config(os.path.join(CONFIGS, n + ".json")) for n in self.own()}
        self.assertTrue(any(c.replicas == 7 for c in configs.values()))
        self.assertTrue(any(c.replicas == 21 for c in configs.values()))
        self.assertTrue(any(c.requests / (c.lifetime - c.start_wait - c.end_wait) >= 100
                            for c in configs.values()), "a sustained high request rate")
        self.assertTrue(any(sum(e.type == "part_end" for e in c.events) >= 5 for c in configs.values()),
                        "flapping partitions")
        self.assertTrue(any(c.drops >= 0.4 for c in configs.values()), "heavy drops")

        def loses_majority(c):
            kills = sum(e.type in ("kill_leader", "kill_non_leader") for e in c.events)
            return kills > (c.replicas - 1) // 2
        self.assertTrue(any(loses_majority(c) for c in configs.values()))

    def test_ci_scenarios_are_short(self):
        paths = glob.glob(os.path.join(CONFIGS, "ci", "*.json"))
        self.assertGreaterEqual(len(paths), 4)
        for path in paths:
            with self.subTest(path):
                cfg = load_config(path)
                self.assertLessEqual(cfg.lifetime, 8)


if __name__ == "__main__":
    unittest.main()
