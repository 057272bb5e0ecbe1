"""Restarts (docs/simulator.md, "Restarts"): the restart and kill_restart
events, the replicas' data dirs ($KV_DATA_DIR, --durable, --keep-data),
the restarted counter, the report, the JSON and the restart event.

The runs use tests/fakes/durable.py, the toy replica that keeps its store
in its data dir and logs every start (argv, data dir) in the working
directory.  They run in parallel, a few seconds in all.
"""

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from typing import Any, Dict, List, Tuple

from simulator.config import load_config, validate_config
from simulator.errors import ConfigError
from simulator.faults import RESTART_AFTER_KILL, SKIP_NOBODY_WAITING
from simulator.report import format_report
from simulator.result import RunResult
from simulator.simulation import Simulation, schedule
from tests import support

DURABLE = support.fake("durable")
SEED = 7


def config(**overrides: Any) -> Dict[str, Any]:
    return support.short_config(start_wait=1, end_wait=1, **overrides)


def starts(workdir: str, rid: str) -> List[Dict[str, Any]]:
    """Every start of replica ``rid`` as the durable fake logged it."""
    path = os.path.join(workdir, f"started-{rid}.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def all_starts(workdir: str) -> Dict[str, List[Dict[str, Any]]]:
    return {rid: starts(workdir, rid) for rid in ("0000", "0001", "0002")}


def data_roots(workdir: str) -> List[str]:
    return glob.glob(os.path.join(workdir, "kvdata-*"))


def until(check: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


class Validation(unittest.TestCase):
    def event(self, **ev: Any) -> Any:
        ev.setdefault("time", 2)
        return validate_config(config(events=[ev])).events[0]

    def refused(self, text: str, **ev: Any) -> None:
        with self.assertRaises(ConfigError) as cm:
            self.event(**ev)
        self.assertIn(text, str(cm.exception))

    def test_kill_restart_defaults(self) -> None:
        ev = self.event(type="kill_restart")
        self.assertEqual((ev.type, ev.time, ev.who, ev.down), ("kill_restart", 2, "leader", 0.5))

    def test_kill_restart_fields(self) -> None:
        ev = self.event(type="kill_restart", who="non_leader", down=3)
        self.assertEqual((ev.who, ev.down), ("non_leader", 3))
        self.assertEqual(self.event(type="kill_restart", down=0).down, 0)

    def test_a_restart_after_the_end_is_allowed(self) -> None:
        self.assertEqual(self.event(type="kill_restart", down=1000).down, 1000)

    def test_bad_who(self) -> None:
        for who in ("follower", "", None, 1, ["leader"]):
            with self.subTest(who=who):
                self.refused("'who'", type="kill_restart", who=who)

    def test_bad_down(self) -> None:
        for down in (-0.1, "1", None, True, float("nan"), float("inf"), [1]):
            with self.subTest(down=down):
                self.refused("'down' must be a non-negative number", type="kill_restart", down=down)

    def test_times_are_checked_as_for_every_event(self) -> None:
        self.refused("time must be between 0 and lifetime", type="restart", time=6)
        self.refused("needs a numeric 'time'", type="kill_restart", time="soon")

    def test_the_error_names_the_new_types(self) -> None:
        self.refused("restart, kill_restart", type="reboot")

    def test_has_restarts_and_settings(self) -> None:
        cfg = validate_config(config(events=[{"type": "restart", "time": 2},
                                             {"type": "kill_restart", "time": 3, "down": 1}]))
        self.assertTrue(cfg.has_restarts)
        self.assertEqual(cfg.settings()["events"], [
            {"type": "restart", "time": 2},
            {"type": "kill_restart", "time": 3, "who": "leader", "down": 1}])
        self.assertFalse(validate_config(config(events=[{"type": "kill_leader", "time": 2}])).has_restarts)

    def test_the_standard_scenarios_have_no_restarts(self) -> None:
        for path in glob.glob(os.path.join(support.ROOT, "configs", "*.json")):
            with self.subTest(path):
                self.assertFalse(load_config(path).has_restarts)

    def test_the_durability_configs(self) -> None:
        paths = sorted(glob.glob(os.path.join(support.ROOT, "configs", "durability", "*.json")))
        names = {os.path.basename(p) for p in paths}
        self.assertLessEqual({"rolling-restart-5.json", "leader-restart-twice-3.json",
                              "restart-in-partition-5.json", "long-snapshot-5.json"}, names)
        for path in paths:
            with self.subTest(path):
                for transport in ("classic", "udp"):
                    cfg = load_config(path, transport)
                self.assertTrue(cfg.has_restarts)
                self.assertTrue(3 <= cfg.replicas <= 7)
                for ev in cfg.events:
                    if ev.type == "kill_restart":
                        self.assertLess(ev.time + ev.down, cfg.lifetime, "a restart that never comes")
        long = load_config(os.path.join(support.ROOT, "configs", "durability", "long-snapshot-5.json"))
        self.assertGreaterEqual(long.lifetime, 300)
        self.assertGreaterEqual(long.requests / (long.lifetime - long.start_wait - long.end_wait), 100)
        self.assertTrue(any(e.type == "kill_restart" and e.down >= 30 for e in long.events))

    def test_the_ci_restart_config_is_short(self) -> None:
        cfg = load_config(os.path.join(support.ROOT, "configs", "ci", "restart.json"))
        self.assertLessEqual(cfg.lifetime, 8)
        self.assertEqual(sorted(e.who for e in cfg.events if e.type == "kill_restart"), ["leader", "non_leader"])


class Scheduling(unittest.TestCase):
    def test_a_kill_restart_schedules_its_restart_down_seconds_later(self) -> None:
        cfg = validate_config(config(requests=0, events=[
            {"type": "kill_restart", "time": 2, "down": 0.5},
            {"type": "part_end", "time": 2.5},
            {"type": "kill_restart", "time": 3, "who": "non_leader", "down": 0}]))
        self.assertEqual([(t, kind, i) for t, _, kind, i in schedule(cfg)], [
            (2, "kill_restart", 0), (2.5, "part_end", -1), (2.5, RESTART_AFTER_KILL, 0),
            (3, "kill_restart", 2), (3, RESTART_AFTER_KILL, 2)])

    def test_a_restart_with_nobody_killed_is_skipped(self) -> None:
        cfg = validate_config(config(events=[{"type": "restart", "time": 2}]))
        sim = Simulation(cfg, DURABLE, seed=1)           # never started: no process
        sim.faults.fire("restart")
        sim.faults.fire(RESTART_AFTER_KILL, 0)           # a kill_restart whose kill found nobody
        c = sim.counters
        self.assertEqual((c.restarted, c.restart_skipped), (0, 2))
        self.assertEqual(c.restart_skip_reasons[SKIP_NOBODY_WAITING], 1)

    def test_no_data_dirs_without_restarts(self) -> None:
        cfg = validate_config(config())
        self.assertIsNone(Simulation(cfg, DURABLE, seed=1).data)
        self.assertIsNotNone(Simulation(cfg, DURABLE, seed=1, durable=True).data)


RESTARTS = [{"type": "restart", "time": 1.2},                        # nobody killed yet: skipped
            {"type": "kill_restart", "time": 1.8, "who": "non_leader", "down": 0.4},
            {"type": "kill_non_leader", "time": 2.6},
            {"type": "restart", "time": 3.0},                        # the one just killed
            {"type": "kill_restart", "time": 3.4, "who": "non_leader", "down": 60}]   # never restarted

# name: (transport, config, run options, environment)
RUNS: Dict[str, Tuple[str, Dict[str, Any], Dict[str, Any], Dict[str, str]]] = {
    "classic": ("classic", config(events=RESTARTS), {}, {}),
    "udp": ("udp", config(events=RESTARTS), {}, {}),
    "plain": ("classic", config(events=[{"type": "kill_non_leader", "time": 2}]), {}, {}),
    "durable-kept": ("classic", config(), {"durable": True, "keep_data": True}, {}),
    # The leader first (everyone forgets it), then both followers: nobody
    # runs from 2.0 s; the leader is back at 2.5 s, the followers at 3.0 s.
    "all-down": ("classic", config(events=[
        {"type": "kill_restart", "time": 2.0, "who": "leader", "down": 0.5},
        {"type": "kill_restart", "time": 2.0, "who": "non_leader", "down": 1.0},
        {"type": "kill_restart", "time": 2.0, "who": "non_leader", "down": 1.0}]), {}, {}),
    "dies-after-restart": ("classic", config(events=[
        {"type": "kill_restart", "time": 1.5, "who": "non_leader", "down": 0.3}]), {},
        {"FAKE_DIE_AFTER_RESTART": "1"}),
}

RESULTS: Dict[str, RunResult] = {}
WORKDIRS: Dict[str, str] = {}
ERRORS: List[str] = []


def setUpModule() -> None:
    """Every run at once, each in a folder of its own."""

    def one(name: str) -> None:
        transport, cfg, opts, env = RUNS[name]
        work = WORKDIRS[name]
        try:
            config_ = validate_config(cfg, transport, name=name, path="<test>")
            sim = Simulation(config_, DURABLE, SEED, transport, True, work, **opts)
            # Only this run's replicas see ``env``.
            sim.replicas.env = dict(sim.replicas.env, **env)
            RESULTS[name] = sim.run()
        except Exception as exc:  # reported by the tests
            ERRORS.append(f"{name}: {exc!r}")

    threads = []
    for name in RUNS:
        WORKDIRS[name] = os.path.realpath(tempfile.mkdtemp(prefix=f"simrestart-{name}-"))
        threads.append(threading.Thread(target=one, args=(name,)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def tearDownModule() -> None:
    for d in WORKDIRS.values():
        shutil.rmtree(d, ignore_errors=True)


class Runs(unittest.TestCase):
    def result(self, name: str) -> RunResult:
        self.assertEqual(ERRORS, [])
        return RESULTS[name]

    def assertRestartedAsStarted(self, name: str, transport: str) -> None:
        r = self.result(name)
        c = r.counters
        # kill_restart restarts its victim; the kill at 2.6 is restarted at 3.0; the
        # first restart finds nobody; the last kill_restart's restart is after the end.
        self.assertEqual((c.killed, c.restarted, c.restart_skipped, c.died), (3, 2, 1, 0), r.restart_errors)
        self.assertEqual(c.restart_skip_reasons, {SKIP_NOBODY_WAITING: 1})
        self.assertEqual(c.incorrect, 0)
        self.assertTrue(r.correct, [k.message for k in r.checks if not k.passed])
        logged = all_starts(WORKDIRS[name])
        self.assertEqual(sum(len(v) for v in logged.values()), 3 + 2)
        for rid, runs in logged.items():
            with self.subTest(replica=rid):
                peers = [p for p in ("0000", "0001", "0002") if p != rid]
                for run in runs:
                    argv = run["argv"]
                    self.assertEqual(argv[-3:], [rid] + peers)
                    if transport == "udp":
                        self.assertEqual(len(argv), 4)
                self.assertEqual({json.dumps(run["argv"]) for run in runs}, {json.dumps(runs[0]["argv"])},
                                 "the same argv (under UDP: the same port)")
                dirs = {run["data_dir"] for run in runs}
                self.assertEqual(len(dirs), 1)
                data_dir = dirs.pop()
                self.assertEqual(os.path.basename(data_dir), rid)
                self.assertEqual(os.path.dirname(os.path.dirname(data_dir)), WORKDIRS[name])
                self.assertEqual(len({run["pid"] for run in runs}), len(runs))
        # The restarted followers found what they had written: nothing (only
        # the leader 0000 writes), so check the flag is only ever set there.
        self.assertTrue(all(not run["recovered"] for rid in ("0001", "0002") for run in logged[rid]))
        # Removed at the end, and no socket file left.
        self.assertEqual(data_roots(WORKDIRS[name]), [])
        self.assertEqual(support.socket_files(WORKDIRS[name]), [])
        self.assertTrue(r.durable)
        self.assertIsNone(r.data_dir)

    def test_classic_restart_reruns_the_same_replica(self) -> None:
        self.assertRestartedAsStarted("classic", "classic")

    def test_udp_restart_reruns_the_same_replica_on_the_same_port(self) -> None:
        self.assertRestartedAsStarted("udp", "udp")

    def test_without_restarts_no_data_dir(self) -> None:
        r = self.result("plain")
        self.assertFalse(r.durable)
        self.assertEqual((r.counters.killed, r.counters.restarted), (1, 0))
        for rid, runs in all_starts(WORKDIRS["plain"]).items():
            self.assertEqual([run["data_dir"] for run in runs], [None], rid)
        self.assertEqual(data_roots(WORKDIRS["plain"]), [])

    def test_durable_and_keep_data(self) -> None:
        r = self.result("durable-kept")
        self.assertTrue(r.durable)
        self.assertEqual(r.counters.restarted, 0)
        roots = data_roots(WORKDIRS["durable-kept"])
        self.assertEqual(roots, [r.data_dir])
        self.assertEqual(sorted(os.listdir(roots[0])), ["0000", "0001", "0002"])
        # The leader kept its store there.
        self.assertTrue(os.path.isfile(os.path.join(roots[0], "0000", "store.json")))

    def test_the_run_goes_on_while_every_replica_is_down_for_a_restart(self) -> None:
        r = self.result("all-down")
        c = r.counters
        self.assertEqual((c.killed, c.restarted, c.died), (3, 3, 0), r.restart_errors)
        self.assertGreaterEqual(r.duration, 4.5)
        # The leader came back with its store: the gets after it find their values.
        self.assertTrue(starts(WORKDIRS["all-down"], "0000")[-1]["recovered"])
        self.assertEqual(c.incorrect, 0)

    def test_a_replica_that_dies_after_its_restart_counts_as_died(self) -> None:
        r = self.result("dies-after-restart")
        c = r.counters
        self.assertEqual((c.killed, c.restarted, c.died), (1, 1, 1))
        self.assertIn("died", [k.name for k in r.checks if not k.passed])


class CommandLine(unittest.TestCase):
    """run.py itself: the report, the JSON, the restart event, the clean-up."""

    def setUp(self) -> None:
        self.dir = os.path.realpath(tempfile.mkdtemp(prefix="simrestart-cli-"))
        self.addCleanup(shutil.rmtree, self.dir, True)

    def test_report_json_and_the_restart_event(self) -> None:
        cfg = support.write_json(self.dir, "r.json", config(events=RESTARTS[:2]))
        proc = subprocess.run(
            [sys.executable, support.RUN_PY, cfg, "-r", DURABLE, "-s", "--seed", "3", "--json", "out.json",
             "--record", "rec.jsonl"], cwd=self.dir, capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn("Replicas that died/were killed: 0/1\n"
                      "Replicas restarted: 1 (skipped: 1 no killed replica waiting)\n", proc.stdout)
        self.assertIn("Replica data dirs ($KV_DATA_DIR): removed at the end", proc.stdout)
        with open(os.path.join(self.dir, "out.json")) as fh:
            out = json.load(fh)
        self.assertEqual((out["counters"]["restarted"], out["counters"]["restart_skipped"]), (1, 1))
        self.assertEqual(out["restart_skip_reasons"], {SKIP_NOBODY_WAITING: 1})
        self.assertTrue(out["durable"])
        with open(os.path.join(self.dir, "rec.jsonl")) as fh:
            events = [json.loads(line) for line in fh]
        sim = [e for e in events if e["src"] == "sim" and e["kind"] in ("kill", "restart")]
        self.assertEqual([e["kind"] for e in sim], ["kill", "restart"])
        self.assertEqual(sim[1]["replica"], sim[0]["replica"])
        self.assertEqual(set(sim[1]) - {"v", "ts", "src", "kind"}, {"replica"})
        self.assertEqual([e["stats"]["restarted"] for e in events if e["kind"] == "run_end"], [1])
        self.assertEqual(data_roots(self.dir), [])

    def test_keep_data_prints_where(self) -> None:
        cfg = support.write_json(self.dir, "r.json", config(requests=10))
        proc = subprocess.run(
            [sys.executable, support.RUN_PY, cfg, "-r", DURABLE, "-s", "--seed", "3", "--durable",
             "--keep-data"], cwd=self.dir, capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        roots = data_roots(self.dir)
        self.assertEqual(len(roots), 1)
        self.assertIn(f"Replica data dirs ($KV_DATA_DIR): kept in {roots[0]}\n", proc.stdout)

    def test_without_restarts_the_report_is_the_course_s(self) -> None:
        self.assertEqual(ERRORS, [])
        text = format_report(RESULTS["plain"])
        self.assertIn("Replicas that died/were killed: 0/1\nTotal messages sent:", text)
        self.assertNotIn("restarted", text)
        self.assertNotIn("data dirs", text)

    def interrupted(self, sig: int) -> None:
        cfg = support.write_json(self.dir, "long.json", config(lifetime=60, events=[
            {"type": "kill_restart", "time": 1.5, "who": "non_leader", "down": 0.2}]))
        proc = subprocess.Popen([sys.executable, support.RUN_PY, cfg, "-r", DURABLE, "-s"], cwd=self.dir,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        restarted = lambda: any(len(v) == 2 for v in all_starts(self.dir).values())  # noqa: E731
        self.assertTrue(until(restarted, 20), "no replica was restarted")
        self.assertEqual(len(data_roots(self.dir)), 1)
        proc.send_signal(sig)
        proc.communicate(timeout=20)
        if sig == signal.SIGKILL:
            self.assertEqual(proc.returncode, -signal.SIGKILL)
        else:
            self.assertEqual(proc.returncode, 130)
        self.assertTrue(until(lambda: not data_roots(self.dir), 5), data_roots(self.dir))
        self.assertTrue(until(lambda: not support.socket_files(self.dir), 5))
        pids = [run["pid"] for runs in all_starts(self.dir).values() for run in runs]
        self.assertTrue(all(support.dies_within(pid, 3) for pid in pids))

    def test_ctrl_c_removes_the_data_dirs(self) -> None:
        self.interrupted(signal.SIGINT)

    def test_sigkill_the_watchdog_removes_the_data_dirs(self) -> None:
        self.interrupted(signal.SIGKILL)


if __name__ == "__main__":
    unittest.main()
