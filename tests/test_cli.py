"""The command line: reports, JSON, exit statuses, errors, Ctrl-C, 'all'."""

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from concurrent.futures import ThreadPoolExecutor
from contextlib import redirect_stderr, redirect_stdout
from unittest import mock

from simulator.cli import main
from simulator.config import STANDARD_SCENARIOS, validate_config
from simulator.counters import Counters
from simulator.errors import ReplicaError
from simulator.grading import grade
from simulator.result import RunResult
from simulator.simulation import run_simulation
from tests import support

RUNS = {}
DIRS = {}


def cli(args, cwd, env_extra=None, timeout=60):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, support.RUN_PY] + args, cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _good_run():
    d = DIRS["good"]
    cfg = support.write_json(d, "short.json", support.short_config())
    return cli([cfg, "-r", support.fake("toy"), "--seed", "5", "--json", "out.json"], d,
               {"FAKE_CHATTY": "1", "FAKE_WRITE_PIDS": "1"})


def _failing_run():
    d = DIRS["failing"]
    cfg = support.write_json(d, "short.json", support.short_config())
    return cli([cfg, "-r", support.fake("never_answers"), "-s", "--seed", "5"], d)


def _interrupted_run():
    """Start a long run, wait until every replica is up, then Ctrl-C it."""
    d = DIRS["interrupted"]
    cfg = support.write_json(d, "long.json", support.short_config(lifetime=60))
    env = dict(os.environ, FAKE_WRITE_PIDS="1")
    proc = subprocess.Popen([sys.executable, support.RUN_PY, cfg, "-r", support.fake("ignores_sigterm"), "-s"],
                            cwd=d, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if len([f for f in os.listdir(d) if f.startswith(("pid-", "child-"))]) == 6:
            break
        time.sleep(0.05)
    sockets_before = support.socket_files(d)
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        err += "\n(the simulator did not stop within 30 s of SIGINT)"
    return proc.returncode, out, err, sockets_before


def setUpModule():
    for name in ("good", "failing", "interrupted"):
        DIRS[name] = tempfile.mkdtemp(prefix=f"simcli-{name}-")
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {"good": pool.submit(_good_run), "failing": pool.submit(_failing_run),
                   "interrupted": pool.submit(_interrupted_run)}
        for name, fut in futures.items():
            RUNS[name] = fut.result()


def tearDownModule():
    for d in DIRS.values():
        shutil.rmtree(d, ignore_errors=True)


class SingleRun(unittest.TestCase):
    def test_report_seed_and_exit_status(self):
        proc = RUNS["good"]
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("# Simulation Finished", proc.stdout)
        self.assertIn("\nSeed: 5\n", proc.stdout)
        self.assertIn("All correctness tests passed", proc.stdout)
        self.assertIn("## Linearizability Check", proc.stdout)
        self.assertNotIn("\033[", proc.stdout)       # not a terminal: no colour

    def test_replica_output_is_shown_with_time_and_id(self):
        proc = RUNS["good"]
        self.assertRegex(proc.stdout, r"\[\s*-?\d+\.\d{4} 0001\] replica 0001 started\n")
        self.assertRegex(proc.stderr, r"\[\s*-?\d+\.\d{4} 0002\] replica 0002 says hi on stderr\n")

    def test_json_file(self):
        with open(os.path.join(DIRS["good"], "out.json")) as fh:
            data = json.load(fh)
        self.assertEqual(data["seed"], 5)
        self.assertEqual(data["transport"], "classic")
        self.assertEqual(data["verdict"], "PASS")
        self.assertEqual(data["config"]["name"], "short")
        self.assertEqual(len([r for r in data["requests"] if r["retry_of"] is None]), 40)
        rec = data["requests"][0]
        for key in ("mid", "client", "type", "key", "value", "sent", "answered", "answer_type",
                    "answered_by", "latency"):
            self.assertIn(key, rec)
        self.assertEqual(data["linearizability"]["status"], "linearizable")
        self.assertGreater(data["overhead"]["packets"], 0)
        self.assertIn("median_ok_get", data["latency"])
        self.assertEqual(support.socket_files(DIRS["good"]), [])

    def test_failing_run_exits_1(self):
        proc = RUNS["failing"]
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("## Correctness Checks Failed, Skipping Performance Tests", proc.stdout)
        self.assertEqual(proc.stderr, "")


class Interrupt(unittest.TestCase):
    def test_ctrl_c_stops_every_replica_and_removes_every_socket(self):
        code, out, err, sockets_before = RUNS["interrupted"]
        d = DIRS["interrupted"]
        self.assertEqual(code, 130, err)
        self.assertEqual(len(sockets_before), 3)           # the run had really started
        self.assertIn("interrupted", err)
        self.assertEqual(support.socket_files(d), [])
        pids = support.recorded_pids(d)
        self.assertEqual(len(pids), 6)                     # 3 replicas, each with a child
        for pid in pids:
            self.assertFalse(support.pid_alive(pid), pid)


class Errors(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="simcli-")
        self.cfg = support.write_json(self.dir, "c.json", support.short_config())

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def assertOneLineError(self, proc, text):
        self.assertEqual(proc.returncode, 2)
        self.assertEqual(proc.stdout, "")
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertIn(text, lines[0])
        self.assertEqual(support.socket_files(self.dir), [])

    def test_missing_replica(self):
        self.assertOneLineError(cli([self.cfg, "-r", "./nothing-here"], self.dir), "not found")

    def test_default_replica_is_3700kvstore_in_the_working_directory(self):
        self.assertOneLineError(cli([self.cfg], self.dir), "'./3700kvstore' not found")

    def test_non_executable_replica(self):
        path = os.path.join(self.dir, "3700kvstore")
        with open(path, "w") as fh:
            fh.write("#!/bin/sh\n")
        os.chmod(path, 0o644)
        self.assertOneLineError(cli([self.cfg], self.dir), "not executable")

    def test_replica_that_cannot_be_executed(self):
        path = os.path.join(self.dir, "3700kvstore")
        with open(path, "wb") as fh:
            fh.write(b"\x00\x01 not a program")
        os.chmod(path, 0o755)
        self.assertOneLineError(cli([self.cfg, "-s"], self.dir), "cannot start replica")

    def test_missing_config(self):
        self.assertOneLineError(cli(["no-such-scenario", "-r", support.fake("toy")], self.dir), "not found")

    def test_help(self):
        proc = cli(["--help"], self.dir)
        self.assertEqual(proc.returncode, 0)
        for option in ("--transport", "--seed", "--json", "--replica", "--silence", "--config-dir", "--pause"):
            self.assertIn(option, proc.stdout)

    def test_replica_errors_before_anything_starts_in_process(self):
        config = validate_config(support.short_config())
        with self.assertRaises(ReplicaError):
            run_simulation(config, os.path.join(self.dir, "missing"), seed=1, workdir=self.dir)


class AllMode(unittest.TestCase):
    """'all' with a stand-in for the simulation (the real thing takes 17 x 30 s)."""

    def fake_run(self, config, replica, seed, transport, silence, workdir, course_checks=False, pace=None):
        counters = Counters(total_msgs=3000, generated_get=100, generated_put=400, keys_put=50)
        if config.name == "crash-2":
            counters.died = 1
        result = RunResult(config=config, seed=seed, transport=transport, replica=replica,
                           counters=counters, leaders=["FFFF", "0000"], latencies=[0.0003],
                           records=[], hop_ns=[], duration=0.0)
        self.calls.append((config.name, seed, transport))
        return grade(result, course_checks=course_checks)

    def run_all(self, *args):
        self.calls = []
        out, err = io.StringIO(), io.StringIO()
        with mock.patch("simulator.cli.run_simulation", self.fake_run), redirect_stdout(out), redirect_stderr(err):
            code = main(["all", "-r", support.fake("toy"), "--seed", "9"] + list(args))
        return code, out.getvalue(), err.getvalue()

    def test_runs_the_17_standard_scenarios_in_order(self):
        code, out, err = self.run_all()
        self.assertEqual([c[0] for c in self.calls], list(STANDARD_SCENARIOS))
        self.assertTrue(all(c[1] == 9 for c in self.calls))
        lines = out.strip().splitlines()
        self.assertEqual(len(lines), 18)
        self.assertTrue(lines[0].startswith("simple-1      PASS  msgs=3000 (Partial credit) failures=0 (Passed) dup=0 (Passed)"), lines[0])
        self.assertIn("crash-2       FAIL  correctness: 1 replicas died", out)
        passed = sum(1 for line in lines[:-1] if " PASS " in line)
        self.assertEqual(lines[-1], f"Passed {passed} out of 17 tests")
        self.assertEqual(code, 1)

    def test_udp_uses_the_udp_variants(self):
        self.run_all("--transport", "udp")
        self.assertTrue(all(c[2] == "udp" for c in self.calls))

    def test_json_for_all(self):
        d = tempfile.mkdtemp()
        try:
            path = os.path.join(d, "all.json")
            self.run_all("--json", path)
            with open(path) as fh:
                data = json.load(fh)
            self.assertEqual(data["total"], 17)
            self.assertEqual(len(data["runs"]), 17)
        finally:
            shutil.rmtree(d)

    def test_missing_standard_scenario_is_an_error(self):
        d = tempfile.mkdtemp()
        try:
            code, out, err = self.run_all("--config-dir", d)
            self.assertEqual(code, 2)
            self.assertIn("standard scenario simple-1 not found", err)
            self.assertEqual(self.calls, [])
        finally:
            shutil.rmtree(d)


if __name__ == "__main__":
    unittest.main()
