"""Config loading and validation (docs/simulator.md: "Config files", "Command line")."""

import copy
import os
import subprocess
import sys
import tempfile
import unittest

from simulator.config import FRACTIONS, load_config, validate_config
from simulator.errors import ConfigError
from tests import support


def valid() -> dict:
    return {
        "lifetime": 30, "replicas": 5, "requests": 100, "mix": 0.2,
        "events": [{"type": "kill_leader", "time": 10}],
        "tests": {"benchmarks": copy.deepcopy(support.BENCHMARKS)},
    }


class ValidConfigs(unittest.TestCase):
    def test_defaults_classic(self):
        cfg = validate_config({"lifetime": 30, "replicas": 5, "requests": 10,
                               "tests": {"benchmarks": {}}})
        self.assertEqual((cfg.start_wait, cfg.end_wait, cfg.drops), (2, 2, 0))
        self.assertEqual(cfg.max_packets, 20000)
        self.assertEqual(cfg.run_lifetime, 30)
        self.assertEqual(cfg.fractions, FRACTIONS)
        self.assertEqual(cfg.events, ())

    def test_udp_defaults_extend_the_lifetime(self):
        cfg = validate_config(valid(), "udp")
        self.assertEqual(cfg.start_wait, 5)
        self.assertEqual(cfg.run_lifetime, 30 + 5 + 2)
        self.assertEqual(cfg.request_window, (5, 35))

    def test_requests_are_scheduled_evenly_between_the_waits(self):
        cfg = validate_config(dict(valid(), requests=4, lifetime=10, start_wait=2, end_wait=2))
        self.assertEqual(cfg.request_times(), [2.0, 3.5, 5.0, 6.5])

    def test_fractions_come_from_tests_only_in_classic(self):
        raw = valid()
        raw["maximum_get_generation_fail_fraction"] = 0.2
        self.assertEqual(validate_config(raw).fractions["maximum_get_generation_fail_fraction"], 0.1)
        self.assertEqual(validate_config(raw, "udp").fractions["maximum_get_generation_fail_fraction"], 0.2)
        raw["tests"]["maximum_get_generation_fail_fraction"] = 0.3
        self.assertEqual(validate_config(raw).fractions["maximum_get_generation_fail_fraction"], 0.3)
        self.assertEqual(validate_config(raw, "udp").fractions["maximum_get_generation_fail_fraction"], 0.3)

    def test_unknown_top_level_keys_are_allowed(self):
        validate_config(dict(valid(), description="anything"))

    def test_boundaries_are_accepted(self):
        for change in ({"lifetime": 5, "events": []}, {"replicas": 3}, {"replicas": 21}, {"requests": 0},
                       {"mix": 0}, {"mix": 1}, {"drops": 1}, {"start_wait": 0}, {"end_wait": 30},
                       {"max_packets": 100}, {"max_packets": 900000},
                       {"events": [{"type": "part_end", "time": 0}, {"type": "part_easy", "time": 30}]}):
            with self.subTest(change=change):
                validate_config(dict(valid(), **change))


REMOVE = object()


def changed(change: dict) -> dict:
    """valid() with some keys replaced, or removed when the value is REMOVE."""
    raw = valid()
    for key, value in change.items():
        if value is REMOVE:
            del raw[key]
        else:
            raw[key] = value
    return raw


class InvalidConfigs(unittest.TestCase):
    CASES = [
        ("lifetime missing", {"lifetime": REMOVE}, "'lifetime' is required"),
        ("replicas missing", {"replicas": REMOVE}, "'replicas' is required"),
        ("requests missing", {"requests": REMOVE}, "'requests' is required"),
        ("lifetime too short", {"lifetime": 4.9}, "'lifetime' must be at least 5"),
        ("lifetime not a number", {"lifetime": "30"}, "'lifetime' must be a number"),
        ("too few replicas", {"replicas": 2}, "between 3 and 21"),
        ("too many replicas", {"replicas": 22}, "between 3 and 21"),
        ("replicas not an integer", {"replicas": 5.0}, "'replicas' must be an integer"),
        ("replicas a boolean", {"replicas": True}, "'replicas' must be an integer"),
        ("negative requests", {"requests": -1}, "'requests' must not be negative"),
        ("mix above 1", {"mix": 1.5}, "'mix' must be between 0 and 1"),
        ("negative drops", {"drops": -0.1}, "'drops' must be between 0 and 1"),
        ("start_wait past lifetime", {"start_wait": 31}, "'start_wait' must be between 0 and lifetime"),
        ("negative end_wait", {"end_wait": -1}, "'end_wait' must be between 0 and lifetime"),
        ("max_packets below requests", {"max_packets": 99}, "'max_packets' must be between requests"),
        ("max_packets too big", {"max_packets": 900001}, "'max_packets' must be between requests"),
        ("events not a list", {"events": {}}, "'events' must be a list"),
        ("event not an object", {"events": [3]}, "event #1 must be an object"),
        ("unknown event type", {"events": [{"type": "kill_all", "time": 3}]}, "unknown type 'kill_all'"),
        ("event time missing", {"events": [{"type": "part_end"}]}, "needs a numeric 'time'"),
        ("event after lifetime", {"events": [{"type": "part_end", "time": 31}]}, "time must be between 0 and lifetime"),
        ("negative event time", {"events": [{"type": "part_end", "time": -1}]}, "time must be between 0 and lifetime"),
        ("tests missing", {"tests": REMOVE}, "'tests' with 'tests.benchmarks' is required"),
        ("benchmarks missing", {"tests": {}}, "'tests.benchmarks' is required"),
        ("unknown metric", {"tests": {"benchmarks": {"latency": [1, 2, 3]}}}, "unknown benchmark 'latency'"),
        ("two thresholds", {"tests": {"benchmarks": {"failures": [1, 2]}}}, "exactly three numbers"),
        ("four thresholds", {"tests": {"benchmarks": {"failures": [1, 2, 3, 4]}}}, "exactly three numbers"),
        ("non-numeric threshold", {"tests": {"benchmarks": {"failures": [1, "2", 3]}}}, "exactly three numbers"),
        ("negative fraction", {"tests": {"benchmarks": {}, "maximum_put_fail_fraction": -1}},
         "'maximum_put_fail_fraction' must be a non-negative number"),
    ]

    def test_each_violation_is_a_config_error_with_a_clear_message(self):
        for label, change, expected in self.CASES:
            with self.subTest(label):
                with self.assertRaises(ConfigError) as ctx:
                    validate_config(changed(change))
                self.assertIn(expected, str(ctx.exception))
                self.assertNotIn("\n", str(ctx.exception))

    def test_the_config_must_be_an_object(self):
        with self.assertRaises(ConfigError) as ctx:
            validate_config([])
        self.assertIn("JSON object", str(ctx.exception))

    def test_a_metric_given_twice_is_an_error(self):
        text = ('{"lifetime": 30, "replicas": 5, "requests": 1, "tests": {"benchmarks": '
                '{"failures": [0, 1, 2], "failures": [0, 1, 3]}}}')
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "dup.json")
            with open(path, "w") as fh:
                fh.write(text)
            with self.assertRaises(ConfigError) as ctx:
                load_config(path)
        self.assertIn("'failures' is given more than once", str(ctx.exception))

    def test_bad_json_and_missing_files(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "broken.json")
            with open(path, "w") as fh:
                fh.write("{ not json")
            with self.assertRaises(ConfigError) as ctx:
                load_config(path)
            self.assertIn("is not valid JSON", str(ctx.exception))
            with self.assertRaises(ConfigError) as ctx:
                load_config(os.path.join(d, "nowhere.json"))
            self.assertIn("not found", str(ctx.exception))


class ConfigLookup(unittest.TestCase):
    def test_standard_names_resolve_under_configs(self):
        for spec in ("simple-1", "simple-1.json"):
            cfg = load_config(spec)
            self.assertEqual(cfg.name, "simple-1")
            self.assertEqual(os.path.abspath(cfg.path), os.path.join(support.ROOT, "configs", "simple-1.json"))

    def test_udp_prefers_the_udp_variants(self):
        cfg = load_config("advanced-1", "udp")
        self.assertEqual(os.path.abspath(cfg.path),
                         os.path.join(support.ROOT, "configs", "udp", "advanced-1.json"))
        self.assertEqual(cfg.fractions["maximum_get_generation_fail_fraction"], 0.2)


class CommandLineRejectsBadConfigs(unittest.TestCase):
    def test_exit_status_2_one_line_and_nothing_started(self):
        with tempfile.TemporaryDirectory() as d:
            raw = dict(valid(), replicas=2)
            path = support.write_json(d, "bad.json", raw)
            env = dict(os.environ, FAKE_WRITE_PIDS="1")
            proc = subprocess.run([sys.executable, support.RUN_PY, path, "-r", support.fake("toy"), "-s"],
                                  cwd=d, env=env, capture_output=True, text=True, timeout=30)
            self.assertEqual(proc.returncode, 2, proc.stderr)
            self.assertEqual(proc.stdout, "")
            lines = proc.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, proc.stderr)
            self.assertIn("'replicas' must be between 3 and 21", lines[0])
            self.assertEqual(sorted(os.listdir(d)), ["bad.json"])   # no socket, no replica pid file


if __name__ == "__main__":
    unittest.main()
