"""State events: ``--events PATH`` and ``--record FILE`` (shared/README.md, schema v1).

The end-to-end runs (the toy and the event-emitting fake replicas, and the
real replica when ``./3700kvstore`` is built) all start at once in
``setUpModule``, each in its own temporary directory, with a test listener
bound to a datagram socket where one is needed; the tests then look at what
was received, recorded and reported.  The rest works on a ``Simulation``
that is never started, or on an ``EventSink`` alone.
"""

import io
import json
import math
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor
from contextlib import redirect_stderr, redirect_stdout
from unittest import mock

from simulator.cli import main
from simulator.config import METRICS, STANDARD_SCENARIOS, validate_config
from simulator.counters import Counters
from simulator.errors import SimulatorError
from simulator.events import EVENT_SEND_DELAY, EVENT_SEND_INTERVAL, EventSink, TRAFFIC_TYPE_MAX
from simulator.grading import grade
from simulator.ids import client_ids
from simulator.result import RunResult, TIER_PARTIAL, Tier
from simulator.simulation import Simulation, run_simulation
from tests import support

SEED = 5
REAL_REPLICA = os.path.join(support.ROOT, "3700kvstore")
FAULTS = [{"type": "part_easy", "time": 2.5}, {"type": "part_end", "time": 3.0},
          {"type": "kill_non_leader", "time": 3.5}]

# ---------------------------------------------------------------------------
# The schema, as strict as the Rust types in shared/src/events.rs
# ---------------------------------------------------------------------------

ROLES = {"follower", "pre_candidate", "candidate", "leader"}
REASONS = {"start", "election_timeout", "pre_vote_won", "won_election", "higher_term",
           "leader_found", "check_quorum_lost"}
OPS = {"get", "put"}
OUTCOMES = {"ok", "redirect", "fail"}
FATES = {"delivered", "dropped", "partitioned", "dead", "client", "invalid"}
TIERS = {"Bonus", "Passed", "Partial credit", "Failed"}
MOVED = {"delivered", "dropped", "partitioned", "dead"}   # the fates total_msgs counts


def u64(x):
    return type(x) is int and 0 <= x < 2 ** 64


def f64(x):
    return type(x) in (int, float) and math.isfinite(x)


def strs(x):
    return type(x) is list and all(type(i) is str for i in x)


def one_of(values):
    return lambda x: type(x) is str and x in values


def list_of(check):
    return lambda x: type(x) is list and all(check(i) for i in x)


def map_of(check):
    return lambda x: type(x) is dict and all(type(k) is str and check(v) for k, v in x.items())


def obj(required, optional=None):
    """An object with exactly these fields (``optional`` ones may be absent)."""
    optional = optional or {}

    def check(x):
        if type(x) is not dict:
            return False
        if not set(required) <= set(x) <= set(required) | set(optional):
            return False
        return all(c(x[k]) for k, c in list(required.items()) + list(optional.items()) if k in x)
    return check


HEX4 = lambda x: type(x) is str and len(x) == 4 and all(c in "0123456789ABCDEFabcdef" for c in x)  # noqa: E731
FOLLOWER = obj({"id": HEX4, "match_index": u64, "next_index": u64})

KINDS = {
    # from replicas
    "start": ({"id": HEX4, "peers": strs, "pid": u64, "transport": str.__instancecheck__},
              {"config": map_of(str.__instancecheck__), "tuned": str.__instancecheck__}),
    "role": ({"role": one_of(ROLES), "term": u64, "leader": HEX4, "reason": one_of(REASONS)}, {}),
    "vote": ({"candidate": HEX4, "term": u64, "granted": bool.__instancecheck__,
              "pre": bool.__instancecheck__}, {}),
    "log_appended": ({"last_index": u64, "last_term": u64}, {}),
    "commit": ({"commit_index": u64, "applied_index": u64}, {}),
    "progress": ({"followers": list_of(FOLLOWER)}, {}),
    "client_request": ({"mid": str.__instancecheck__, "client": HEX4, "op": one_of(OPS)}, {}),
    "client_answer": ({"mid": str.__instancecheck__, "client": HEX4, "op": one_of(OPS),
                       "outcome": one_of(OUTCOMES)}, {"latency_us": u64}),
    "status": ({"role": one_of(ROLES), "term": u64, "leader": HEX4, "last_index": u64, "last_term": u64,
                "commit_index": u64, "applied_index": u64, "sent": map_of(u64), "received": map_of(u64),
                "malformed": u64, "events_dropped": u64}, {"followers": list_of(FOLLOWER)}),
    "stop": ({"reason": str.__instancecheck__}, {}),
    # from the simulator
    "run_start": ({"config": str.__instancecheck__, "seed": u64, "replicas": list_of(HEX4),
                   "clients": list_of(HEX4), "transport": one_of({"classic", "udp"}), "lifetime": f64,
                   "settings": dict.__instancecheck__}, {}),
    "request_sent": ({"mid": str.__instancecheck__, "client": HEX4, "op": one_of(OPS),
                      "key": str.__instancecheck__, "target": HEX4}, {}),
    "request_answered": ({"mid": str.__instancecheck__, "client": HEX4, "op": one_of(OPS),
                          "outcome": one_of({"ok", "redirect", "fail"}), "latency_us": u64,
                          "replica": HEX4}, {}),
    "kill": ({"replica": HEX4, "leader": bool.__instancecheck__}, {}),
    "restart": ({"replica": HEX4}, {}),
    "partition": ({"majority": list_of(HEX4), "minority": list_of(HEX4), "hard": bool.__instancecheck__}, {}),
    "partition_healed": ({}, {}),
    "traffic": ({"window_us": u64, "leader": HEX4,
                 "rows": list_of(obj({"src": HEX4, "dst": HEX4, "type": str.__instancecheck__,
                                      "fate": one_of(FATES), "count": u64}))}, {}),
    "run_end": ({"passed": bool.__instancecheck__, "stats": map_of(f64),
                 "checks": list_of(obj({"name": str.__instancecheck__, "passed": bool.__instancecheck__,
                                        "detail": str.__instancecheck__})),
                 "tiers": list_of(obj({"metric": one_of(set(METRICS)), "value": f64,
                                       "thresholds": list_of(f64), "tier": one_of(TIERS)}))},
                {"linearizable": bool.__instancecheck__}),
}
SIM_KINDS = {"run_start", "request_sent", "request_answered", "kill", "restart", "partition",
             "partition_healed", "traffic", "run_end"}
# The statistics every run_end carries (the JSON results' counters, all
# numbers: restart_skip_reasons, a map, is in the JSON alone), restarts
# included; mean and median latency come only with answers.
RUN_END_STATS = {"total_msgs", "total_drops", "incorrect", "died", "killed", "restarted", "restart_skipped",
                 "duplicates", "redirects", "failed_get", "failed_put", "unanswered_get", "unanswered_put",
                 "generated_get", "generated_put", "failed_to_generate_get", "blocked", "send_stalls",
                 "keys_put", "failures", "events_dropped"}
COMMON = {"v", "ts", "src", "kind"}


def schema_problem(ev):
    """None if ``ev`` is a valid event of schema version 1, else why not."""
    if type(ev) is not dict:
        return "not an object"
    if ev.get("v") != 1 or type(ev.get("v")) is not int:
        return "v must be 1"
    if not u64(ev.get("ts")):
        return "ts must be a u64"
    if type(ev.get("src")) is not str:
        return "src must be a string"
    kind = ev.get("kind")
    if kind not in KINDS:
        return f"unknown kind {kind!r}"
    if (ev["src"] == "sim") != (kind in SIM_KINDS):
        return f"{kind} from {ev['src']}"
    required, optional = KINDS[kind]
    body = {k: v for k, v in ev.items() if k not in COMMON}
    if not obj(required, optional)(body):
        return f"bad fields for {kind}: {sorted(body)}"
    if kind == "run_end" and not RUN_END_STATS <= set(body["stats"]):
        return f"run_end stats without {sorted(RUN_END_STATS - set(body['stats']))}"
    return None


def parse_lines(data: bytes):
    return [json.loads(line) for line in data.split(b"\n") if line.strip()]


def replica_to_replica_moved(events, replicas):
    return sum(row["count"] for e in events if e["kind"] == "traffic" for row in e["rows"]
               if row["fate"] in MOVED and row["src"] in replicas and row["dst"] in replicas)


# ---------------------------------------------------------------------------
# A test listener and the end-to-end runs
# ---------------------------------------------------------------------------


class Listener:
    """Binds a datagram socket and keeps every datagram until stopped."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.05)
        self.datagrams = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                self.datagrams.append(self.sock.recv(1 << 17))
            except socket.timeout:
                pass
            except OSError:
                return

    def stop(self):
        time.sleep(0.2)      # whatever is still queued
        self._stop.set()
        self._thread.join(2)
        self.sock.close()

    def events(self):
        return [ev for d in self.datagrams for ev in parse_lines(d)]


def cli(args, cwd, env_extra=None, timeout=60):
    env = dict(os.environ, **(env_extra or {}))
    env.pop("KVDASH_SOCKET", None)
    return subprocess.run([sys.executable, support.RUN_PY] + args, cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


DIRS = {}
RUNS = {}


def _stream_run():
    """The toy with a partition and a kill, streaming to a listener."""
    d = DIRS["stream"]
    cfg = support.write_json(d, "faults.json", support.short_config(events=FAULTS))
    listener = Listener(os.path.join(d, "kvdash.sock"))
    try:
        proc = cli([cfg, "-r", support.fake("emits_events"), "-s", "--seed", str(SEED), "--json", "out.json",
                    "--events", "kvdash.sock"], d, {"FAKE_WRITE_ENV": "1"})
    finally:
        listener.stop()
    return proc, listener


def _record_run():
    """The event-emitting fake, recorded and forwarded; its private socket in our own TMPDIR."""
    d = DIRS["record"]
    tmp = os.path.join(d, "tmp")
    os.mkdir(tmp)
    cfg = support.write_json(d, "faults.json", support.short_config(events=FAULTS))
    listener = Listener(os.path.join(d, "kvdash.sock"))
    try:
        proc = cli([cfg, "-r", support.fake("emits_events"), "-s", "--seed", str(SEED), "--json", "out.json",
                    "--record", "rec.jsonl", "--events", "kvdash.sock"], d,
                   {"FAKE_EVENTS_MALFORMED": "1", "FAKE_WRITE_ENV": "1", "TMPDIR": tmp})
    finally:
        listener.stop()
    return proc, listener


def _udp_run():
    d = DIRS["udp"]
    cfg = support.write_json(d, "drops.json", support.short_config(drops=0.2))
    return cli([cfg, "-r", support.fake("emits_events"), "-s", "--seed", str(SEED), "--json", "out.json",
                "--transport", "udp", "--record", "rec.jsonl"], d), None


def _nobody_run():
    """--events to a path where nobody listens, and the replicas' environment recorded."""
    d = DIRS["nobody"]
    cfg = support.write_json(d, "short.json", support.short_config())
    return cli([cfg, "-r", support.fake("emits_events"), "-s", "--seed", str(SEED), "--json", "out.json",
                "--events", os.path.join(d, "no-such-dir", "kvdash.sock")], d, {"FAKE_WRITE_ENV": "1"}), None


def _plain_run():
    """No event option: the replicas get no KVDASH_SOCKET and nothing is emitted."""
    d = DIRS["plain"]
    cfg = support.write_json(d, "short.json", support.short_config())
    return cli([cfg, "-r", support.fake("emits_events"), "-s", "--seed", str(SEED), "--json", "out.json"],
               d, {"FAKE_WRITE_ENV": "1"}), None


def _interrupted_run():
    """A long recorded run, stopped with Ctrl-C once requests flow."""
    d = DIRS["interrupted"]
    tmp = os.path.join(d, "tmp")
    os.mkdir(tmp)
    cfg = support.write_json(d, "long.json", support.short_config(lifetime=60, start_wait=1))
    env = dict(os.environ, FAKE_WRITE_ENV="1", TMPDIR=tmp)
    env.pop("KVDASH_SOCKET", None)
    proc = subprocess.Popen([sys.executable, support.RUN_PY, cfg, "-r", support.fake("emits_events"), "-s",
                             "--seed", str(SEED), "--record", "rec.jsonl"],
                            cwd=d, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len([f for f in os.listdir(d) if f.startswith("env-")]) < 3:
        time.sleep(0.05)
    time.sleep(2.0)           # requests start 1 s into the run
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), None


def _real_run():
    d = DIRS["real"]
    cfg = support.write_json(d, "short.json", support.short_config(requests=60, mix=0.5))
    return cli([cfg, "-r", REAL_REPLICA, "-s", "--seed", str(SEED), "--json", "out.json",
                "--record", "rec.jsonl"], d), None


RESTARTS = [{"type": "kill_restart", "time": 2.5, "who": "non_leader", "down": 0.5},
            {"type": "restart", "time": 3.5}]


def _restart_run():
    """The event-emitting fake, a replica killed and restarted, then a
    restart that finds nobody down (skipped), recorded."""
    d = DIRS["restart"]
    cfg = support.write_json(d, "restart.json", support.short_config(events=RESTARTS))
    return cli([cfg, "-r", support.fake("emits_events"), "-s", "--seed", str(SEED), "--json", "out.json",
                "--record", "rec.jsonl"], d), None


JOBS = {"stream": _stream_run, "record": _record_run, "udp": _udp_run, "nobody": _nobody_run,
        "plain": _plain_run, "interrupted": _interrupted_run, "restart": _restart_run}
if os.access(REAL_REPLICA, os.X_OK):
    JOBS["real"] = _real_run


def setUpModule():
    for name in JOBS:
        DIRS[name] = tempfile.mkdtemp(prefix=f"simevents-{name}-")
    with ThreadPoolExecutor(max_workers=len(JOBS)) as pool:
        futures = {name: pool.submit(job) for name, job in JOBS.items()}
        for name, fut in futures.items():
            RUNS[name] = fut.result()


def tearDownModule():
    for d in DIRS.values():
        shutil.rmtree(d, ignore_errors=True)


class RunCase(unittest.TestCase):
    name = ""

    def proc(self, name=None):
        proc, _ = RUNS[name or self.name]
        return proc

    def listener(self, name=None) -> Listener:
        return RUNS[name or self.name][1]

    def results(self, name=None):
        with open(os.path.join(DIRS[name or self.name], "out.json")) as fh:
            return json.load(fh)

    def recorded(self, name=None):
        with open(os.path.join(DIRS[name or self.name], "rec.jsonl"), "rb") as fh:
            data = fh.read()
        self.assertTrue(data.endswith(b"\n"))
        return [json.loads(line) for line in data.split(b"\n")[:-1]]

    def replica_env(self, rid, name=None):
        with open(os.path.join(DIRS[name or self.name], f"env-{rid}")) as fh:
            return fh.read()

    def assertValidEvents(self, events):
        self.assertTrue(events)
        for ev in events:
            self.assertIsNone(schema_problem(ev), ev)

    def assertPassed(self, name=None):
        proc = self.proc(name)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn("All correctness tests passed", proc.stdout)


# ---------------------------------------------------------------------------
# --events: the stream a listener receives
# ---------------------------------------------------------------------------


class Stream(RunCase):
    name = "stream"

    def sim_events(self):
        return [e for e in self.listener().events() if e["src"] == "sim"]

    def test_the_run_passes_and_nothing_was_dropped(self):
        self.assertPassed()
        data = self.results()
        self.assertEqual(data["counters"]["events_dropped"], 0)
        self.assertEqual(data["events"]["dropped"], 0)
        self.assertEqual(data["events"]["sent"], data["events"]["emitted"])
        self.assertGreater(data["events"]["emitted"], 0)
        self.assertRegex(self.proc().stdout, r"\n        State events: (\d+) emitted; \1 sent to /\S+/kvdash.sock, 0 dropped\n")

    def test_every_datagram_is_json_lines_of_valid_events_under_60_kib(self):
        datagrams = self.listener().datagrams
        self.assertTrue(datagrams)
        for d in datagrams:
            self.assertLess(len(d), 60 * 1024)
            for line in d.split(b"\n"):
                if line:
                    self.assertIsNone(schema_problem(json.loads(line)), line)
        self.assertValidEvents(self.listener().events())

    def test_every_kind_of_the_run_is_there_once_per_occasion(self):
        kinds = [e["kind"] for e in self.sim_events()]
        for kind in ("run_start", "request_sent", "request_answered", "traffic", "kill", "partition",
                     "partition_healed", "run_end"):
            self.assertIn(kind, kinds)
        for kind in ("run_start", "kill", "partition", "partition_healed", "run_end"):
            self.assertEqual(kinds.count(kind), 1, kind)
        self.assertEqual(kinds[0], "run_start")
        self.assertEqual(kinds[-1], "run_end")

    def test_the_replicas_sent_their_own_events_to_the_same_socket(self):
        path = os.path.join(DIRS[self.name], "kvdash.sock")
        for rid in ("0000", "0001", "0002"):
            self.assertEqual(self.replica_env(rid), path)
        starts = {e["src"] for e in self.listener().events() if e["kind"] == "start"}
        self.assertEqual(starts, {"0000", "0001", "0002"})

    def test_run_start(self):
        ev = self.sim_events()[0]
        self.assertEqual(ev["config"], os.path.join(DIRS[self.name], "faults.json"))
        self.assertEqual(ev["seed"], SEED)
        self.assertEqual(ev["replicas"], ["0000", "0001", "0002"])
        self.assertEqual(ev["clients"], client_ids(3))
        self.assertEqual(ev["transport"], "classic")
        self.assertEqual(ev["lifetime"], 5.0)
        self.assertEqual(ev["settings"], support.short_config(events=FAULTS))

    def test_requests_sent_and_answered_match_the_json_records(self):
        records = self.results()["requests"]
        sent = [e for e in self.sim_events() if e["kind"] == "request_sent"]
        answered = [e for e in self.sim_events() if e["kind"] == "request_answered"]
        self.assertEqual([(e["mid"], e["client"], e["op"], e["key"], e["target"]) for e in sent],
                         [(r["mid"], r["client"], r["type"], r["key"], r["target"]) for r in records])
        by_mid = {r["mid"]: r for r in records}
        self.assertEqual(len(answered), sum(1 for r in records if r["answered"] is not None))
        for e in answered:
            r = by_mid[e["mid"]]
            self.assertEqual((e["client"], e["op"], e["outcome"], e["replica"]),
                             (r["client"], r["type"], r["answer_type"], r["answered_by"]))
            self.assertAlmostEqual(e["latency_us"], r["latency"] * 1e6, delta=1.0)
        self.assertIn("redirect", {e["outcome"] for e in answered})    # 0001 and 0002 redirect

    def test_timestamps_are_microseconds_since_the_epoch(self):
        events = self.sim_events()
        start, end = events[0]["ts"], events[-1]["ts"]
        self.assertLess(abs(start / 1e6 - time.time()), 600)
        self.assertGreaterEqual((end - start) / 1e6, 5.0)
        self.assertLess((end - start) / 1e6, 30.0)
        answered = [e for e in events if e["kind"] == "request_answered"]
        sent = {e["mid"]: e["ts"] for e in events if e["kind"] == "request_sent"}
        for e in answered:
            self.assertAlmostEqual(e["ts"] - sent[e["mid"]], e["latency_us"], delta=1000)

    def test_kill_and_partition(self):
        events = {e["kind"]: e for e in self.sim_events()}
        kill = events["kill"]
        self.assertFalse(kill["leader"])
        self.assertIn(kill["replica"], ("0001", "0002"))     # the toy's leader is 0000
        part = events["partition"]
        self.assertFalse(part["hard"])
        self.assertEqual(len(part["majority"]), 2)
        self.assertIn("0000", part["majority"])              # part_easy keeps the leader
        self.assertEqual(sorted(part["majority"] + part["minority"]), ["0000", "0001", "0002"])
        ts = [events[k]["ts"] for k in ("partition", "partition_healed", "kill")]
        self.assertEqual(ts, sorted(ts))
        self.assertAlmostEqual((ts[1] - ts[0]) / 1e6, 0.5, delta=0.2)

    def test_traffic_counts_sum_to_total_msgs(self):
        data = self.results()
        traffic = [e for e in self.sim_events() if e["kind"] == "traffic"]
        self.assertEqual(replica_to_replica_moved(traffic, {"0000", "0001", "0002"}),
                         data["counters"]["total_msgs"])
        fates = {row["fate"] for e in traffic for row in e["rows"]}
        self.assertLessEqual({"delivered", "partitioned", "client"}, fates)
        self.assertNotIn("invalid", fates)
        # Every answer the clients got is a `client` row.
        client_rows = sum(row["count"] for e in traffic for row in e["rows"] if row["fate"] == "client")
        self.assertEqual(client_rows, sum(1 for r in data["requests"] if r["answered"] is not None))

    def test_traffic_windows(self):
        traffic = [e for e in self.sim_events() if e["kind"] == "traffic"]
        self.assertGreater(len(traffic), 3)
        for e in traffic[:-1]:
            self.assertEqual(e["window_us"] % 100000, 0)
            self.assertGreater(e["window_us"], 0)
        self.assertLess(traffic[-1]["window_us"], 300000)   # the final window, closed at the end
        ts = [e["ts"] for e in traffic]
        self.assertEqual(ts, sorted(ts))
        self.assertEqual(len(ts), len(set(ts)))
        self.assertEqual(traffic[-1]["leader"], "0000")
        # After the first window, a window is only sent with rows or a leader change.
        for prev, e in zip(traffic, traffic[1:-1]):
            self.assertTrue(e["rows"] or e["leader"] != prev["leader"], e)

    def test_run_end(self):
        data = self.results()
        ev = self.sim_events()[-1]
        self.assertTrue(ev["passed"])
        self.assertIs(ev["linearizable"], True)
        expected = dict(data["counters"])
        self.assertEqual({k: v for k, v in ev["stats"].items() if k in expected}, expected)
        self.assertAlmostEqual(ev["stats"]["median_latency"], data["latency"]["median"])
        self.assertAlmostEqual(ev["stats"]["mean_latency"], data["latency"]["mean"])
        self.assertEqual(set(ev["stats"]) - set(expected), {"mean_latency", "median_latency"})
        self.assertEqual([c["name"] for c in ev["checks"]], [c["name"] for c in data["correctness"]["checks"]])
        self.assertTrue(all(c["passed"] and c["detail"] == "" for c in ev["checks"]))
        self.assertEqual({t["metric"]: (t["value"], t["thresholds"]) for t in ev["tiers"]},
                         {m: (p["value"], p["thresholds"]) for m, p in data["performance"].items()})


# ---------------------------------------------------------------------------
# --record: the file, with the replicas' events
# ---------------------------------------------------------------------------


class Record(RunCase):
    name = "record"

    def test_the_run_passes(self):
        self.assertPassed()

    def test_every_recorded_line_is_a_valid_event(self):
        self.assertValidEvents(self.recorded())

    def test_the_recording_has_the_simulator_and_the_replicas(self):
        events = self.recorded()
        sim = [e["kind"] for e in events if e["src"] == "sim"]
        self.assertEqual(sim[0], "run_start")
        self.assertEqual(sim[-1], "run_end")
        for kind in ("request_sent", "request_answered", "traffic", "kill", "partition", "partition_healed"):
            self.assertIn(kind, sim)
        by_replica = {}
        for e in events:
            if e["src"] != "sim":
                by_replica.setdefault(e["src"], set()).add(e["kind"])
        self.assertEqual(set(by_replica), {"0000", "0001", "0002"})
        for rid, kinds in by_replica.items():
            self.assertLessEqual({"start", "status", "stop"}, kinds, rid)
        self.assertIn("role", by_replica["0000"])     # the valid line of the mixed datagram

    def test_malformed_lines_are_counted_and_skipped(self):
        data = self.results()
        self.assertEqual(data["events"]["malformed"], 4)
        self.assertIn("(4 malformed lines skipped), recorded to rec.jsonl", self.proc().stdout)
        run_end = [e for e in self.recorded() if e["kind"] == "run_end"][0]
        self.assertEqual(run_end["stats"]["events_malformed"], 4)
        self.assertEqual(data["events"]["received"],
                         sum(1 for e in self.recorded() if e["src"] != "sim"))

    def test_the_replicas_used_a_private_socket_that_is_gone(self):
        path = self.replica_env("0000")
        self.assertEqual({self.replica_env(r) for r in ("0001", "0002")}, {path})
        self.assertNotEqual(path, os.path.join(DIRS[self.name], "kvdash.sock"))
        self.assertTrue(path.startswith(os.path.join(DIRS[self.name], "tmp")), path)
        self.assertFalse(os.path.exists(path))
        self.assertEqual(os.listdir(os.path.join(DIRS[self.name], "tmp")), [])
        self.assertEqual(support.socket_files(DIRS[self.name]), ["kvdash.sock"])

    def test_everything_is_forwarded_to_the_events_socket(self):
        received = self.listener().events()
        recorded = self.recorded()
        self.assertEqual(len(received), len(recorded))
        self.assertEqual(sorted(json.dumps(e, sort_keys=True) for e in received),
                         sorted(json.dumps(e, sort_keys=True) for e in recorded))
        self.assertEqual(self.results()["events"]["dropped"], 0)

    def test_traffic_counts_sum_to_total_msgs(self):
        self.assertEqual(replica_to_replica_moved(self.recorded(), {"0000", "0001", "0002"}),
                         self.results()["counters"]["total_msgs"])


class RecordUdp(RunCase):
    name = "udp"

    def test_udp_with_drops_records_valid_events_and_the_invariant_holds(self):
        self.assertPassed()
        events = self.recorded()
        self.assertValidEvents(events)
        data = self.results()
        self.assertGreater(data["counters"]["total_drops"], 0)
        self.assertEqual(replica_to_replica_moved(events, {"0000", "0001", "0002"}),
                         data["counters"]["total_msgs"])
        dropped = sum(row["count"] for e in events if e["kind"] == "traffic" for row in e["rows"]
                      if row["fate"] == "dropped")
        self.assertEqual(dropped, data["counters"]["total_drops"])
        run_start = events[0]
        self.assertEqual((run_start["kind"], run_start["transport"], run_start["lifetime"]),
                         ("run_start", "udp", 8.0))
        self.assertIn("start", {e["kind"] for e in events if e["src"] == "0001"})


class NobodyListens(RunCase):
    name = "nobody"

    def test_the_run_passes_and_counts_the_dropped_events(self):
        self.assertPassed()
        data = self.results()
        self.assertGreater(data["counters"]["events_dropped"], 0)
        self.assertEqual(data["events"]["dropped"], data["events"]["emitted"])
        self.assertEqual(data["events"]["sent"], 0)
        self.assertEqual(self.replica_env("0001"), os.path.join(DIRS[self.name], "no-such-dir", "kvdash.sock"))


class NoEventOptions(RunCase):
    name = "plain"

    def test_no_socket_for_the_replicas_and_no_event_section(self):
        self.assertPassed()
        for rid in ("0000", "0001", "0002"):
            self.assertEqual(self.replica_env(rid), "<unset>")
        data = self.results()
        self.assertIsNone(data["events"])
        self.assertNotIn("State events", self.proc().stdout)
        self.assertEqual(data["counters"]["events_dropped"], 0)


class Interrupted(RunCase):
    name = "interrupted"

    def test_ctrl_c_loses_nothing_already_recorded(self):
        proc = self.proc()
        self.assertEqual(proc.returncode, 130, proc.stderr)
        events = self.recorded()            # complete lines only, ending with a newline
        self.assertValidEvents(events)
        sim = [e["kind"] for e in events if e["src"] == "sim"]
        self.assertEqual(sim[0], "run_start")
        self.assertNotIn("run_end", sim)    # the run was not graded
        self.assertEqual(sim[-1], "traffic")   # the last window, closed at the interruption
        self.assertIn("request_answered", sim)
        stops = {e["src"] for e in events if e["kind"] == "stop"}
        self.assertEqual(stops, {"0000", "0001", "0002"})   # read after the replicas were stopped
        self.assertEqual(os.listdir(os.path.join(DIRS[self.name], "tmp")), [])
        self.assertEqual(support.socket_files(DIRS[self.name]), [])


@unittest.skipUnless(os.access(REAL_REPLICA, os.X_OK), "./3700kvstore is not built")
class RealReplica(RunCase):
    name = "real"

    def test_the_recording_holds_the_replicas_events(self):
        self.assertPassed()
        events = self.recorded()
        for ev in events:
            self.assertIsNone(schema_problem(ev), ev)
        replicas = {"0000", "0001", "0002"}
        by_kind = {}
        for e in events:
            if e["src"] in replicas:
                by_kind.setdefault(e["kind"], set()).add(e["src"])
        for kind in ("start", "role", "commit", "client_request", "client_answer", "status"):
            self.assertIn(kind, by_kind, f"no {kind!r} event from any replica")
        self.assertEqual(by_kind["start"], replicas)
        self.assertEqual(by_kind["status"], replicas)
        self.assertEqual(replica_to_replica_moved(events, replicas), self.results()["counters"]["total_msgs"])


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


class CommandLine(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="simevents-cli-")
        self.cfg = support.write_json(self.dir, "c.json", support.short_config())

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def assertUsageError(self, proc, text):
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertEqual(proc.stdout, "")
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertIn(text, lines[0])
        self.assertEqual(os.listdir(self.dir), ["c.json"])

    def test_help_describes_the_options(self):
        proc = cli(["--help"], self.dir)
        self.assertEqual(proc.returncode, 0)
        for text in ("--events PATH", "--record FILE", "KVDASH_SOCKET", "events_dropped"):
            self.assertIn(text, proc.stdout)

    def test_record_is_refused_with_all(self):
        self.assertUsageError(cli(["all", "-r", support.fake("toy"), "--record", "x.jsonl"], self.dir),
                              "--record cannot be used with 'all'")

    def test_a_record_file_that_cannot_be_written(self):
        proc = cli([self.cfg, "-r", support.fake("toy"), "-s", "--record", os.path.join(self.dir, "no", "x")],
                   self.dir)
        self.assertUsageError(proc, "cannot write the event record")

    def test_an_events_path_too_long_for_a_socket(self):
        self.assertUsageError(cli([self.cfg, "-r", support.fake("toy"), "--events", "/tmp/" + "x" * 120],
                                  self.dir), "too long")

    def test_a_negative_seed_cannot_be_streamed(self):
        self.assertUsageError(cli([self.cfg, "-r", support.fake("toy"), "--seed", "-3", "--events", "s"],
                                  self.dir), "--seed")
        config = validate_config(support.short_config())
        with self.assertRaises(SimulatorError):
            run_simulation(config, support.fake("toy"), seed=-3, workdir=self.dir, events="s")
        self.assertEqual(os.listdir(self.dir), ["c.json"])

    def test_all_streams_every_scenario_to_the_same_socket(self):
        calls = []

        def fake_run(config, replica, seed, transport, silence, workdir, **kwargs):
            calls.append((config.name, kwargs))
            result = RunResult(config=config, seed=seed, transport=transport, replica=replica,
                               counters=Counters(total_msgs=3000, keys_put=5), leaders=["FFFF"],
                               latencies=[0.0003], records=[], hop_ns=[], duration=0.0)
            return grade(result)

        with mock.patch("simulator.cli.run_simulation", fake_run), \
                redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            main(["all", "-r", support.fake("toy"), "--seed", "9", "--events", "dash.sock"])
        self.assertEqual([c[0] for c in calls], list(STANDARD_SCENARIOS))
        expected = {"events": os.path.abspath("dash.sock"), "course_checks": False}
        self.assertTrue(all(c[1]["pace"].label == "native" for c in calls), calls[:1])
        self.assertTrue(all({k: v for k, v in c[1].items() if k != "pace"} == expected for c in calls), calls[:1])


# ---------------------------------------------------------------------------
# The sink alone
# ---------------------------------------------------------------------------


class Sink(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="simevents-sink-")
        self.path = os.path.join(self.dir, "l.sock")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def bind(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(self.path)
        s.setblocking(False)
        self.addCleanup(s.close)
        return s

    @staticmethod
    def read_all(s):
        out = []
        while True:
            try:
                out.append(s.recv(1 << 17))
            except BlockingIOError:
                return out

    def test_lines_are_batched_into_datagrams_under_60_kib(self):
        s = self.bind()
        sink = EventSink(self.path)
        sink.open()
        self.addCleanup(sink.close)
        for i in range(1500):
            sink.emit("kill", {"replica": "0001", "leader": False, "pad": "x" * 150})
        self.assertEqual(sink.sent, 0)       # nothing leaves before the flush
        sink.flush()
        datagrams = self.read_all(s)
        self.assertGreater(len(datagrams), 1)
        self.assertTrue(all(len(d) < 60 * 1024 for d in datagrams))
        events = [e for d in datagrams for e in parse_lines(d)]
        self.assertEqual(len(events), 1500)
        self.assertEqual((sink.sent, sink.dropped, sink.emitted), (1500, 0, 1500))

    def test_a_full_listener_drops_and_counts_without_blocking(self):
        s = self.bind()                      # never read until the end
        sink = EventSink(self.path)
        sink.open()
        self.addCleanup(sink.close)
        t0 = time.monotonic()
        for _ in range(200):
            for _ in range(50):
                sink.emit("kill", {"replica": "0001", "leader": False, "pad": "x" * 500})
            sink.flush(force=True)
        self.assertLess(time.monotonic() - t0, 2.0)
        self.assertGreater(sink.dropped, 0)
        self.assertEqual(sink.sent + sink.dropped, sink.emitted)
        got = sum(len(parse_lines(d)) for d in self.read_all(s))
        self.assertEqual(got, sink.sent)

    def test_passes_in_quick_succession_share_one_datagram(self):
        s = self.bind()
        sink = EventSink(self.path)
        sink.open()
        self.addCleanup(sink.close)
        sink.emit("kill", {"replica": "0001", "leader": False})
        sink.flush()                         # the first send goes at once
        for _ in range(3):
            sink.emit("kill", {"replica": "0002", "leader": False})
            sink.flush()                     # within EVENT_SEND_INTERVAL: held
        self.assertEqual(sink.sent, 1)
        time.sleep(EVENT_SEND_INTERVAL)
        sink.flush()
        self.assertEqual(sink.sent, 4)
        self.assertEqual([len(parse_lines(d)) for d in self.read_all(s)], [1, 3])

    def test_busy_passes_hold_events_until_an_idle_one_or_the_delay(self):
        s = self.bind()
        sink = EventSink(self.path)
        sink.open()
        self.addCleanup(sink.close)
        sink.request_sent(1, "M1", "c001", "get", "k", "0001")
        sink.flush(idle=False)               # packets are waiting: held
        self.assertEqual(sink.sent, 0)
        sink.flush(idle=True)                # a quiet moment: sent
        self.assertEqual(sink.sent, 1)
        time.sleep(EVENT_SEND_INTERVAL)
        sink.request_answered(2, "M1", "c001", "get", "ok", 250, "0001")
        t0 = time.monotonic()
        while sink.sent < 2 and time.monotonic() - t0 < 5:
            sink.flush(idle=False)           # never idle: the delay bounds the wait
            time.sleep(0.01)
        self.assertGreaterEqual(time.monotonic() - t0, EVENT_SEND_DELAY * 0.9)
        self.assertEqual(sink.sent, 2)
        events = [e for d in self.read_all(s) for e in parse_lines(d)]
        self.assertEqual([e["kind"] for e in events], ["request_sent", "request_answered"])
        self.assertEqual(events[1]["latency_us"], 250)

    def test_nobody_listening(self):
        sink = EventSink(self.path)
        sink.open()
        sink.emit("partition_healed", {})
        sink.flush()
        sink.close()
        self.assertEqual((sink.sent, sink.dropped), (0, 1))

    def test_an_event_bigger_than_a_datagram_is_dropped_alone(self):
        s = self.bind()
        sink = EventSink(self.path)
        sink.open()
        self.addCleanup(sink.close)
        sink.emit("kill", {"replica": "0001", "leader": True})
        sink.emit("kill", {"replica": "0002", "leader": True, "pad": "x" * 70000})
        sink.emit("kill", {"replica": "0003", "leader": True})
        sink.flush()
        events = [e for d in self.read_all(s) for e in parse_lines(d)]
        self.assertEqual([e["replica"] for e in events], ["0001", "0003"])
        self.assertEqual(sink.dropped, 1)

    def test_big_traffic_windows_are_split_into_events_that_fit(self):
        s = self.bind()
        sink = EventSink(self.path)
        sink.open()
        self.addCleanup(sink.close)
        counts = {(format(a, "04X"), format(b, "04X"), t, "delivered"): 1
                  for a in range(21) for b in range(21) for t in ("append", "appended", "vote", "x" * 300)}
        sink.traffic(123, 100000, "0001", counts)
        sink.flush()
        datagrams = self.read_all(s)
        events = [e for d in datagrams for e in parse_lines(d)]
        self.assertGreater(len(events), 1)
        self.assertEqual(sink.dropped, 0)
        self.assertEqual((sink.emitted, sink.sent), (len(events), len(events)))
        for e in events:
            self.assertIsNone(schema_problem(e))
            self.assertEqual((e["ts"], e["window_us"], e["leader"]), (123, 100000, "0001"))
        self.assertEqual(sum(r["count"] for e in events for r in e["rows"]), len(counts))
        self.assertTrue(all(len(r["type"]) <= TRAFFIC_TYPE_MAX for e in events for r in e["rows"]))

    def test_the_record_socket_is_private_and_validates_what_it_reads(self):
        rec = os.path.join(self.dir, "rec.jsonl")
        s = self.bind()
        sink = EventSink(self.path, rec)
        sink.open()
        path = sink.replica_socket
        self.assertNotEqual(path, self.path)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode), 0o700)
        tx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(tx.close)
        good = b'{"v":1,"ts":10,"src":"0001","kind":"stop","reason":"signal"}'
        for data in (good + b"\n" + good, b"garbage\n" + good + b"\n\n", b"\xff\xfe",
                     b'{"v":1,"ts":1,"src":"0001"}', b'{"v":"1","ts":1,"src":"0001","kind":"stop"}',
                     b'{"v":1,"ts":NaN,"src":"0001","kind":"stop"}', b"[]\n42\nnull",
                     b'{"v":1,"ts":-1,"src":"0001","kind":"stop"}'):
            tx.sendto(data, path)
        sink.emit("partition_healed", {})
        self.assertEqual(sink.drain(), 8)
        self.assertEqual(sink.drain(), 0)    # never blocks
        self.assertEqual((sink.received, sink.malformed), (3, 9))
        sink.flush()
        sink.close()
        self.assertFalse(os.path.exists(path))
        self.assertFalse(os.path.exists(os.path.dirname(path)))
        with open(rec, "rb") as fh:
            lines = fh.read().splitlines()
        self.assertEqual(len(lines), 4)
        self.assertEqual(lines[1:], [good] * 3)
        forwarded = [e for d in self.read_all(s) for e in parse_lines(d)]
        self.assertEqual([e["kind"] for e in forwarded], ["partition_healed", "stop", "stop", "stop"])

    def test_close_reads_what_is_left(self):
        rec = os.path.join(self.dir, "rec.jsonl")
        sink = EventSink(None, rec)
        sink.open()
        self.assertIsNone(sink.socket_path)
        tx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(tx.close)
        tx.sendto(b'{"v":1,"ts":10,"src":"0001","kind":"stop","reason":"closed"}', sink.replica_socket)
        sink.close()
        with open(rec) as fh:
            self.assertEqual(len(fh.read().splitlines()), 1)


class Restart(RunCase):
    """run.py's own extension (docs/simulator.md, "Restarts"): the restart
    event, the replica's fresh start, the new statistics."""
    name = "restart"

    def test_the_run_passes_and_every_line_is_a_valid_event(self):
        self.assertPassed()
        self.assertValidEvents(self.recorded())

    def test_the_restart_follows_the_kill_of_the_same_replica(self):
        sim = [e for e in self.recorded() if e["src"] == "sim" and e["kind"] in ("kill", "restart")]
        self.assertEqual([e["kind"] for e in sim], ["kill", "restart"])
        kill, restart = sim
        self.assertEqual(restart["replica"], kill["replica"])
        self.assertFalse(kill["leader"])
        self.assertAlmostEqual((restart["ts"] - kill["ts"]) / 1e6, 0.5, delta=0.3)

    def test_the_restarted_replica_starts_again_with_a_new_pid(self):
        events = self.recorded()
        rid = next(e["replica"] for e in events if e["kind"] == "restart")
        starts = [e for e in events if e["kind"] == "start" and e["src"] == rid]
        self.assertEqual(len(starts), 2)
        self.assertNotEqual(starts[0]["pid"], starts[1]["pid"])
        self.assertEqual(starts[0]["peers"], starts[1]["peers"])
        restart_ts = next(e["ts"] for e in events if e["kind"] == "restart")
        # Stamped by itself once running: about when run.py stamps the restart.
        self.assertAlmostEqual((starts[1]["ts"] - restart_ts) / 1e6, 0, delta=0.25)
        others = {e["src"] for e in events if e["kind"] == "start" and e["src"] != rid}
        self.assertEqual(len(others), 2)

    def test_run_end_stats_and_the_json_count_restarts_alike(self):
        data = self.results()
        c = data["counters"]
        self.assertEqual((c["killed"], c["restarted"], c["restart_skipped"]), (1, 1, 1))
        self.assertEqual(data["restart_skip_reasons"], {"no killed replica waiting": 1})
        self.assertTrue(data["durable"])
        self.assertIsNone(data["data_dir"])
        run_end = [e for e in self.recorded() if e["kind"] == "run_end"]
        self.assertEqual(len(run_end), 1)
        stats = run_end[0]["stats"]
        self.assertEqual((stats["restarted"], stats["restart_skipped"]), (1, 1))
        self.assertNotIn("restart_skip_reasons", stats)
        restarts = sum(1 for e in self.recorded() if e["kind"] == "restart")
        self.assertEqual(restarts, c["restarted"])


# ---------------------------------------------------------------------------
# The simulator's events, on a Simulation that is never started
# ---------------------------------------------------------------------------


class Capture(EventSink):
    def __init__(self):
        super().__init__()
        self.events = []

    def add(self, item):
        self.emitted += 1
        self.events.extend(json.loads(line) for line in self.lines(item))


def packet(src, dst, leader="FFFF", mtype="append", **extra) -> bytes:
    msg = {"src": src, "dst": dst, "leader": leader, "type": mtype}
    msg.update(extra)
    return json.dumps(msg).encode()


class Harness:
    def __init__(self, **cfg):
        config = validate_config(support.short_config(replicas=cfg.pop("replicas", 5), **cfg))
        sim = Simulation(config, support.fake("toy"), seed=1, sink=Capture())
        sim.clock.start(config.run_lifetime)
        sim.replicas.deliver = lambda rep, data: rep.alive
        self.sim = sim

    def send(self, rid, data: bytes):
        self.sim.network.route(self.sim.replicas.by_id[rid], data, time.monotonic_ns())

    def events(self, kind=None):
        return [e for e in self.sim.sink.events if kind is None or e["kind"] == kind]

    def close_window(self, final=True):
        self.close(self.sim.clock.now() + (0 if final else 0.1), final=final)

    def close(self, now, final=False):
        self.sim.traffic.close_window(now, self.sim.network.leader, final=final)


class SimulatorEvents(unittest.TestCase):
    def test_traffic_accounting_matches_the_counters(self):
        h = Harness(drops=0.3)
        sim = h.sim
        sim.replicas.kill(sim.replicas.by_id["0004"])
        client = sim.pool.clients[0]
        sim.network.send_request(client, "put", "K", "V", "MID0000000000001")
        for i in range(30):
            h.send("0000", packet("0000", "FFFF", "0000"))
            h.send("0000", packet("0000", format(1 + i % 4, "04X"), "0000"))
        sim.network.partition = frozenset({"0000", "0001", "0002"})
        for i in range(10):
            h.send("0003", packet("0003", "FFFF", "0003", "vote"))
            h.send("0001", packet("0001", "0003", "0000", "vote"))
        h.send("0000", packet("0000", client.id, "0000", "ok", MID="MID0000000000001"))
        h.send("0000", packet("0000", client.id, "0000", "ok", MID="MID0000000000001"))   # duplicate
        h.send("0000", packet("0000", client.id, "0000", "ok", MID="NOT-OUTSTANDING"))     # incorrect
        for bad in (b"{nope", b"[]", packet("0000", "0999"), packet("0000", "0001", "XX"), b'{"type": 3}'):
            h.send("0000", bad)
        h.close_window()
        traffic = h.events("traffic")
        self.assertEqual(len(traffic), 1)
        for e in traffic:
            self.assertIsNone(schema_problem(dict(e, v=1, src="sim")))
        rows = traffic[0]["rows"]
        ids = set(sim.replicas.ids)
        c = sim.counters
        self.assertEqual(replica_to_replica_moved(traffic, ids), c.total_msgs)

        def total(fate, **match):
            return sum(r["count"] for r in rows if r["fate"] == fate
                       and all(r[k] == v for k, v in match.items()))
        self.assertEqual(total("dropped"), c.total_drops)
        self.assertGreater(c.total_drops, 0)
        self.assertEqual(total("invalid"), c.incorrect)
        self.assertEqual(c.incorrect, 6)
        self.assertEqual(total("client"), 2)                 # the answer and its duplicate
        self.assertEqual(c.duplicates, 1)
        self.assertGreater(total("dead", dst="0004"), 0)     # broadcasts count the dead
        self.assertEqual(total("delivered", dst="0004"), 0)
        self.assertEqual(total("partitioned", src="0001", dst="0003"), 10)
        self.assertEqual(total("invalid", dst="FFFF", type="?"), 3)
        self.assertEqual(total("invalid", dst="0999", type="append"), 1)
        self.assertEqual(traffic[0]["leader"], sim.network.leader)
        self.assertIn(h.events("request_sent")[0]["target"], {"0000", "0001", "0002", "0003"})
        answered = h.events("request_answered")
        self.assertEqual([(e["mid"], e["outcome"], e["replica"], e["op"]) for e in answered],
                         [("MID0000000000001", "ok", "0000", "put")])

    def test_windows_without_rows_or_leader_change_are_not_sent(self):
        h = Harness()
        sim = h.sim
        h.close(0.05)
        h.close(0.15)       # the first window: empty, leader unchanged
        self.assertEqual(h.events("traffic"), [])
        h.send("0000", packet("0000", "0001", "0000"))
        h.close(0.25)
        h.close(0.35)       # empty again
        sim.network.leader = "0002"
        h.close(0.45)       # no rows, but a new leader
        h.close(0.95)       # five empty windows at once
        h.close(1.03, final=True)
        traffic = h.events("traffic")
        self.assertEqual([(len(e["rows"]), e["leader"], e["window_us"]) for e in traffic],
                         [(1, "0000", 100000), (0, "0002", 100000), (0, "0002", 130000)])
        ts = [e["ts"] for e in traffic]
        for gap, expected in zip([b - a for a, b in zip(ts, ts[1:])], [200000, 630000]):
            self.assertAlmostEqual(gap, expected, delta=2)

    def test_kills_and_partitions(self):
        h = Harness()
        sim = h.sim
        sim.faults.fire("kill_leader")               # no leader known: nothing
        sim.faults.fire("part_end")                  # no partition: nothing
        self.assertEqual(h.events(), [])
        h.send("0003", packet("0003", "0001", "0003"))
        sim.faults.fire("kill_leader")
        sim.faults.fire("kill_non_leader")
        sim.faults.fire("part_hard")
        sim.faults.fire("part_end")
        sim.faults.fire("part_easy")
        kinds = [(e["kind"], e.get("leader"), e.get("hard")) for e in h.events() if e["kind"] != "traffic"]
        self.assertEqual(kinds, [("kill", True, None), ("kill", False, None), ("partition", None, True),
                                 ("partition_healed", None, None), ("partition", None, False)])
        kills = h.events("kill")
        self.assertEqual(kills[0]["replica"], "0003")
        self.assertNotEqual(kills[1]["replica"], "0003")
        for e in h.events("partition"):
            self.assertEqual(len(e["majority"]), 3)
            self.assertEqual(sorted(e["majority"] + e["minority"]), sim.replicas.ids)
        self.assertEqual(frozenset(h.events("partition")[-1]["majority"]), sim.network.partition)
        for e in h.events():
            self.assertIsNone(schema_problem(dict(e, v=1, src="sim")), e)

    def test_a_restart_is_an_event_a_skipped_one_is_not(self):
        h = Harness()
        sim = h.sim

        def restart(rep):                     # no process is started here
            rep.alive, rep.killed = True, False
            sim.counters.restarted += 1
        sim.replicas.restart = restart
        sim.faults.fire("restart")            # nobody down: skipped, no event
        sim.faults.fire("kill_non_leader")
        sim.faults.fire("restart")
        kinds = [(e["kind"], e["replica"]) for e in h.events() if e["kind"] in ("kill", "restart")]
        self.assertEqual([k for k, _ in kinds], ["kill", "restart"])
        self.assertEqual(kinds[0][1], kinds[1][1])
        self.assertEqual((sim.counters.restarted, sim.counters.restart_skipped), (1, 1))
        for e in h.events():
            self.assertIsNone(schema_problem(dict(e, v=1, src="sim")), e)
        self.assertEqual(schema_problem({"v": 1, "ts": 1, "src": "sim", "kind": "restart"}),
                         "bad fields for restart: []")
        self.assertEqual(schema_problem({"v": 1, "ts": 1, "src": "0001", "kind": "restart",
                                         "replica": "0001"}), "restart from 0001")

    def test_a_leader_that_is_already_dead_is_not_killed_twice(self):
        h = Harness()
        h.send("0003", packet("0003", "0001", "0003"))
        h.sim.faults.fire("kill_leader")
        h.send("0001", packet("0001", "0002", "0003"))   # someone still believes in 0003
        h.sim.faults.fire("kill_leader")
        self.assertEqual(len(h.events("kill")), 1)
        self.assertEqual(h.sim.counters.killed, 1)

    def test_run_end_without_latencies_or_a_verdict_on_linearizability(self):
        h = Harness()
        sim = h.sim
        result = RunResult(config=sim.config, seed=1, transport="classic", replica="x",
                           counters=Counters(total_msgs=10, failed_put=3, killed=2, restarted=1,
                                             restart_skipped=1,
                                             restart_skip_reasons={"no killed replica waiting": 1}),
                           leaders=["FFFF"],
                           latencies=[], records=[], hop_ns=[], duration=1.0)
        grade(result)
        result.linearizability["status"] = "unknown"
        result.tiers = [Tier("failures", 3, (1, 2, 5), TIER_PARTIAL)]
        sim.emit_run_end(result)
        ev = h.events("run_end")[0]
        self.assertIsNone(schema_problem(dict(ev, v=1, src="sim")), ev)
        self.assertNotIn("linearizable", ev)
        self.assertNotIn("mean_latency", ev["stats"])
        self.assertNotIn("median_latency", ev["stats"])
        self.assertFalse(ev["passed"])
        self.assertEqual(ev["tiers"][0]["tier"], "Partial credit")
        self.assertEqual(ev["stats"]["failures"], 3)
        self.assertEqual((ev["stats"]["killed"], ev["stats"]["restarted"], ev["stats"]["restart_skipped"]),
                         (2, 1, 1))
        self.assertNotIn("restart_skip_reasons", ev["stats"])
        self.assertIn("keys_put", [c["name"] for c in ev["checks"] if not c["passed"]])
        self.assertTrue(all(c["detail"] for c in ev["checks"] if not c["passed"]))

    def test_no_events_means_nothing_is_built(self):
        config = validate_config(support.short_config())
        sim = Simulation(config, support.fake("toy"), seed=1)
        self.assertIsNone(sim.sink)
        self.assertIsNone(sim.traffic)
        sim.clock.start()
        sim.replicas.deliver = lambda rep, data: True
        sim.network.route(sim.replicas.by_id["0000"], packet("0000", "FFFF", "0000"), time.monotonic_ns())
        sim.faults.fire("part_hard")
        self.assertEqual(sim.counters.total_msgs, 2)


if __name__ == "__main__":
    unittest.main()
