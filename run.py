#!/usr/bin/env python3
"""Cluster simulator for 3700kvstore replicas.

Runs N replica processes, plays the part of the network and of 8 clients,
injects drops, partitions and crashes, and grades the run.  The behaviour is
the contract in ../shared/SIMULATOR.md: the classic generation (Unix
SEQPACKET, the default) and the second generation (UDP on localhost,
``--transport udp``).  On top of that it adds seeds, a JSON record of every
run, a linearizability check of the recorded history and a clean process
lifecycle.

Layout of this file (each part importable and testable without sockets):

* configuration: ``load_config`` / ``validate_config`` -> ``Config``
* workload:      ``Workload`` (random draws) and ``ClientPool`` (client state)
* simulation:    ``Simulation`` / ``run_simulation`` -> ``RunResult``
* grading:       ``correctness_checks``, ``tier_for``, ``performance_tiers``
* linearizability: ``check_linearizability`` (per key, Wing-Gong search)
* report:        ``format_report``, ``format_summary_line``, ``result_to_json``
* state events:  ``EventSink`` (``--events`` / ``--record``, shared/README.md)
* command line:  ``main``

Standard library only; Python 3.9 or newer.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import random
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

# --------------------------------------------------------------------------
# Constants of the contract
# --------------------------------------------------------------------------

CLASSIC = "classic"
UDP = "udp"
TRANSPORTS = (CLASSIC, UDP)

BROADCAST = "FFFF"
NUM_CLIENTS = 8
CLIENT_ID_OFFSET = 16
CLASSIC_RECV_SIZE = 16384
UDP_RECV_SIZE = 65535
UDP_SEND_WAIT = 0.010
SELECT_TIMEOUT = 0.1
PROCESS_POLL_INTERVAL = 0.1
TERM_GRACE = 1.0

EVENT_TYPES = ("kill_leader", "kill_non_leader", "part_easy", "part_hard", "part_end")
METRICS = ("total_msgs", "failures", "duplicates", "median_latency")
METRIC_LABELS = {
    "total_msgs": "Total Messages Between Replicas",
    "failures": "Total Failures and Unanswered Requests",
    "duplicates": "Duplicate Responses to Clients",
    "median_latency": "Median Response Latency to Clients",
}
FRACTIONS = {
    "maximum_get_fail_fraction": 0.5,
    "maximum_put_fail_fraction": 0.5,
    "maximum_get_generation_fail_fraction": 0.1,
    "maximum_appends_batched_fraction": 0.5,
}
DEFAULT_MAX_PACKETS = 20000
MAX_MAX_PACKETS = 900000
DEFAULT_MIX = 0.8

STANDARD_SCENARIOS = (
    "simple-1", "simple-2",
    "unreliable-1", "unreliable-2", "unreliable-3",
    "crash-1", "crash-2", "crash-3", "crash-4",
    "partition-1", "partition-2", "partition-3", "partition-4",
    "advanced-1", "advanced-2", "advanced-3", "advanced-4",
)

TIER_BONUS = "Bonus"
TIER_PASSED = "Passed"
TIER_PARTIAL = "Partial"
TIER_FAILED = "Failed"

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_HEX4 = re.compile(r"[0-9A-Fa-f]{4}\Z").match

SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))


class SimulatorError(Exception):
    """An error that stops the simulator before or instead of a run."""


class ConfigError(SimulatorError):
    """A configuration file that is missing, unreadable or invalid."""


class ReplicaError(SimulatorError):
    """The replica program is missing or cannot be executed."""


# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    type: str
    time: float


@dataclass(frozen=True)
class Config:
    """A validated scenario.  Times are seconds from the start of the run."""

    name: str
    path: str
    transport: str
    lifetime: float          # as written in the file
    replicas: int
    requests: int
    mix: float
    drops: float
    start_wait: float
    end_wait: float
    max_packets: int
    events: Tuple[Event, ...]
    benchmarks: Dict[str, Tuple[float, float, float]]
    fractions: Dict[str, float]
    raw: Dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def run_lifetime(self) -> float:
        """How long the run lasts: UDP extends it by start_wait + end_wait."""
        if self.transport == UDP:
            return self.lifetime + self.start_wait + self.end_wait
        return self.lifetime

    @property
    def request_window(self) -> Tuple[float, float]:
        return (self.start_wait, self.run_lifetime - self.end_wait)

    def request_times(self) -> List[float]:
        """The scheduled send times of the ``requests`` requests."""
        start, end = self.request_window
        if self.requests <= 0:
            return []
        step = (end - start) / self.requests
        return [start + i * step for i in range(self.requests)]

    def settings(self) -> Dict[str, Any]:
        return {
            "lifetime": self.lifetime,
            "run_lifetime": self.run_lifetime,
            "replicas": self.replicas,
            "requests": self.requests,
            "mix": self.mix,
            "drops": self.drops,
            "start_wait": self.start_wait,
            "end_wait": self.end_wait,
            "max_packets": self.max_packets,
            "events": [{"type": e.type, "time": e.time} for e in self.events],
            "benchmarks": {k: list(v) for k, v in self.benchmarks.items()},
            "fractions": dict(self.fractions),
        }


class _JsonObject(dict):
    """A JSON object that remembers which keys appeared more than once."""

    duplicate_keys: Tuple[str, ...] = ()


def _object_pairs(pairs: List[Tuple[str, Any]]) -> _JsonObject:
    obj = _JsonObject()
    dups = []
    for key, value in pairs:
        if key in obj:
            dups.append(key)
        obj[key] = value
    obj.duplicate_keys = tuple(dups)
    return obj


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_config(raw: Any, transport: str = CLASSIC, name: str = "config", path: str = "") -> Config:
    """Check a decoded config against the contract and return a ``Config``.

    Raises ``ConfigError`` with a one-line message on the first violation.
    """
    if transport not in TRANSPORTS:
        raise ConfigError(f"unknown transport {transport!r}")
    if not isinstance(raw, dict):
        raise ConfigError("the config must be a JSON object")

    def number(key: str, default: Optional[float] = None) -> float:
        if key not in raw:
            if default is None:
                raise ConfigError(f"'{key}' is required")
            return default
        value = raw[key]
        if not _is_number(value):
            raise ConfigError(f"'{key}' must be a number (got {value!r})")
        return float(value) if isinstance(value, float) else value

    def integer(key: str, default: Optional[int] = None) -> int:
        if key not in raw:
            if default is None:
                raise ConfigError(f"'{key}' is required")
            return default
        value = raw[key]
        if not _is_int(value):
            raise ConfigError(f"'{key}' must be an integer (got {value!r})")
        return value

    lifetime = number("lifetime")
    replicas = integer("replicas")
    requests = integer("requests")
    if lifetime < 5:
        raise ConfigError(f"'lifetime' must be at least 5 (got {lifetime})")
    if not 3 <= replicas <= 21:
        raise ConfigError(f"'replicas' must be between 3 and 21 (got {replicas})")
    if requests < 0:
        raise ConfigError(f"'requests' must not be negative (got {requests})")
    mix = number("mix", DEFAULT_MIX)
    drops = number("drops", 0)
    for key, value in (("mix", mix), ("drops", drops)):
        if not 0 <= value <= 1:
            raise ConfigError(f"'{key}' must be between 0 and 1 (got {value})")
    start_wait = number("start_wait", 5 if transport == UDP else 2)
    end_wait = number("end_wait", 2)
    for key, value in (("start_wait", start_wait), ("end_wait", end_wait)):
        if not 0 <= value <= lifetime:
            raise ConfigError(f"'{key}' must be between 0 and lifetime {lifetime} (got {value})")
    max_packets = integer("max_packets", DEFAULT_MAX_PACKETS)
    if not requests <= max_packets <= MAX_MAX_PACKETS:
        raise ConfigError(
            f"'max_packets' must be between requests ({requests}) and {MAX_MAX_PACKETS} (got {max_packets})")

    events_raw = raw.get("events", [])
    if not isinstance(events_raw, list):
        raise ConfigError("'events' must be a list")
    events = []
    for i, ev in enumerate(events_raw):
        if not isinstance(ev, dict):
            raise ConfigError(f"event #{i + 1} must be an object with 'type' and 'time'")
        etype = ev.get("type")
        if etype not in EVENT_TYPES:
            raise ConfigError(
                f"event #{i + 1} has unknown type {etype!r} (expected one of {', '.join(EVENT_TYPES)})")
        etime = ev.get("time")
        if not _is_number(etime):
            raise ConfigError(f"event #{i + 1} ({etype}) needs a numeric 'time' (got {etime!r})")
        if not 0 <= etime <= lifetime:
            raise ConfigError(f"event #{i + 1} ({etype}) time must be between 0 and lifetime {lifetime} (got {etime})")
        events.append(Event(etype, etime))

    tests = raw.get("tests")
    if not isinstance(tests, dict):
        raise ConfigError("'tests' with 'tests.benchmarks' is required")
    benchmarks_raw = tests.get("benchmarks")
    if not isinstance(benchmarks_raw, dict):
        raise ConfigError("'tests.benchmarks' is required and must be an object")
    dups = getattr(benchmarks_raw, "duplicate_keys", ())
    if dups:
        raise ConfigError(f"benchmark '{dups[0]}' is given more than once")
    benchmarks: Dict[str, Tuple[float, float, float]] = {}
    for metric, thresholds in benchmarks_raw.items():
        if metric not in METRICS:
            raise ConfigError(f"unknown benchmark {metric!r} (expected one of {', '.join(METRICS)})")
        if (not isinstance(thresholds, list) or len(thresholds) != 3
                or not all(_is_number(t) for t in thresholds)):
            raise ConfigError(f"benchmark '{metric}' must be a list of exactly three numbers (got {thresholds!r})")
        benchmarks[metric] = (thresholds[0], thresholds[1], thresholds[2])

    fractions: Dict[str, float] = {}
    for key, default in FRACTIONS.items():
        value: Any = default
        if key in tests:
            value = tests[key]
        elif transport == UDP and key in raw:
            # The second generation also reads the fractions from the top level.
            value = raw[key]
        if not _is_number(value) or value < 0:
            raise ConfigError(f"'{key}' must be a non-negative number (got {value!r})")
        fractions[key] = value

    return Config(
        name=name, path=path, transport=transport, lifetime=lifetime, replicas=replicas,
        requests=requests, mix=mix, drops=drops, start_wait=start_wait, end_wait=end_wait,
        max_packets=max_packets, events=tuple(events), benchmarks=benchmarks,
        fractions=fractions, raw=dict(raw))


def resolve_config_path(spec: str, transport: str = CLASSIC, config_dir: Optional[str] = None) -> str:
    """Find a config: the path itself, else ``configs/<name>[.json]``.

    With the UDP transport ``configs/udp/`` is searched before ``configs/``.
    Both the working directory and this script's directory are tried.
    """
    if os.path.isfile(spec):
        return spec
    names = [spec] if spec.endswith(".json") else [spec, spec + ".json"]
    dirs: List[str] = []
    if config_dir:
        dirs.append(config_dir)
    for base in (os.getcwd(), SCRIPT_DIR):
        if transport == UDP:
            dirs.append(os.path.join(base, "configs", "udp"))
        dirs.append(os.path.join(base, "configs"))
    for d in dirs:
        for n in names:
            candidate = os.path.join(d, n)
            if os.path.isfile(candidate):
                return candidate
    raise ConfigError(f"config {spec!r} not found (looked at the path and in configs/)")


def load_config(spec: str, transport: str = CLASSIC, config_dir: Optional[str] = None) -> Config:
    """Read, decode and validate a config file (path or standard name)."""
    path = resolve_config_path(spec, transport, config_dir)
    try:
        with open(path, "r", encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        raw = json.loads(text, object_pairs_hook=_object_pairs)
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from None
    name = os.path.splitext(os.path.basename(path))[0]
    try:
        return validate_config(raw, transport, name=name, path=path)
    except ConfigError as exc:
        raise ConfigError(f"invalid config {path}: {exc}") from None


# --------------------------------------------------------------------------
# Workload: random draws and the clients' state
# --------------------------------------------------------------------------


def replica_ids(n: int) -> List[str]:
    return [format(i, "04X") for i in range(n)]


def client_ids(n: int) -> List[str]:
    return [format(n + CLIENT_ID_OFFSET + j, "04X") for j in range(NUM_CLIENTS)]


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def stream(seed: int, purpose: str) -> random.Random:
    """An independent, reproducible random stream for one purpose."""
    return random.Random(f"3700sim:{seed}:{purpose}")


@dataclass(frozen=True)
class Draw:
    """The random choices of one scheduled request (always the same count)."""

    client: int
    u_type: float
    u_new: float
    u_key: float
    mid: str
    new_key: str


class Workload:
    """The random stream behind scheduled requests.

    Every request consumes exactly the same draws whatever the clients'
    state, so the sequence depends on the seed alone.
    """

    def __init__(self, seed: int) -> None:
        self._rng = stream(seed, "workload")

    def next(self) -> Draw:
        r = self._rng
        return Draw(
            client=r.randrange(NUM_CLIENTS), u_type=r.random(), u_new=r.random(),
            u_key=r.random(), mid="".join(r.choices(ALNUM, k=16)),
            new_key="".join(r.choices(ALNUM, k=32)))


@dataclass
class RequestRecord:
    """One request (one MID) and what became of it."""

    mid: str
    client: str
    type: str
    key: str
    value: Optional[str]
    sent: float
    target: str
    retry_of: Optional[str] = None
    answered: Optional[float] = None
    answer_type: Optional[str] = None
    answered_by: Optional[str] = None
    answer_value: Optional[str] = None
    duplicates: int = 0
    wrong_value: bool = False

    @property
    def latency(self) -> Optional[float]:
        return None if self.answered is None else self.answered - self.sent

    def to_json(self) -> Dict[str, Any]:
        return {
            "mid": self.mid, "client": self.client, "type": self.type, "key": self.key,
            "value": self.value, "sent": self.sent, "target": self.target,
            "retry_of": self.retry_of, "answered": self.answered,
            "answer_type": self.answer_type, "answered_by": self.answered_by,
            "answer_value": self.answer_value, "latency": self.latency,
            "duplicates": self.duplicates, "wrong_value": self.wrong_value,
        }


@dataclass
class Client:
    id: str
    belief: str = BROADCAST
    held: Dict[str, str] = field(default_factory=dict)   # key -> value acknowledged by ok
    outstanding: Dict[str, RequestRecord] = field(default_factory=dict)


@dataclass(frozen=True)
class Planned:
    """A request the workload decided to make."""

    client: int
    type: str
    key: str
    value: Optional[str]
    mid: str
    failed_to_generate_get: bool


class ClientPool:
    """The 8 clients' knowledge, and the rules that turn draws into requests."""

    def __init__(self, n_replicas: int, mix: float) -> None:
        self.clients = [Client(cid) for cid in client_ids(n_replicas)]
        self.by_id = {c.id: c for c in self.clients}
        self.mix = mix

    def plan(self, d: Draw) -> Planned:
        c = self.clients[d.client]
        failed = False
        if d.u_type < self.mix:
            if c.held:
                keys = list(c.held)
                key = keys[int(d.u_key * len(keys))]
                return Planned(d.client, "get", key, None, d.mid, False)
            failed = True
        if d.u_new < 0.5 or not c.held:
            key = d.new_key
            value = md5_hex(key)
        else:
            keys = list(c.held)
            key = keys[int(d.u_key * len(keys))]
            value = md5_hex(c.held[key])
        return Planned(d.client, "put", key, value, d.mid, failed)


# --------------------------------------------------------------------------
# Grading
# --------------------------------------------------------------------------


@dataclass
class Counters:
    total_msgs: int = 0
    total_drops: int = 0
    incorrect: int = 0
    died: int = 0
    killed: int = 0
    duplicates: int = 0
    redirects: int = 0
    failed_get: int = 0
    failed_put: int = 0
    unanswered_get: int = 0
    unanswered_put: int = 0
    generated_get: int = 0
    generated_put: int = 0
    failed_to_generate_get: int = 0
    blocked: int = 0           # UDP: sends that found the socket full
    send_stalls: int = 0       # classic: sends abandoned at the end of the run
    keys_put: int = 0          # keys successfully put at least once

    @property
    def failures(self) -> int:
        return self.failed_get + self.failed_put + self.unanswered_get + self.unanswered_put


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    message: str


def correctness_checks(config: Config, c: Counters) -> List[Check]:
    """The contract's correctness checks; each failing one carries its error."""
    f = config.fractions
    required_msgs = config.requests * config.replicas * (1 - config.mix) * (
        1 - f["maximum_appends_batched_fraction"])
    get_limit = c.generated_get * f["maximum_get_fail_fraction"]
    put_limit = c.generated_put * f["maximum_put_fail_fraction"]
    gen_limit = c.generated_get * f["maximum_get_generation_fail_fraction"]
    return [
        Check("incorrect", c.incorrect == 0,
              f"Error: {c.incorrect} incorrect or malformed messages and responses (must be 0)"),
        Check("died", c.died == 0,
              f"Error: {c.died} replicas died without being killed (must be 0)"),
        Check("keys_put", c.keys_put > 0,
              "Error: no key was successfully put"),
        Check("unanswered_get", c.unanswered_get <= get_limit,
              f"Error: too many unanswered get() requests: {c.unanswered_get} > {_fmt_num(get_limit)}"),
        Check("unanswered_put", c.unanswered_put <= put_limit,
              f"Error: too many unanswered put() requests: {c.unanswered_put} > {_fmt_num(put_limit)}"),
        Check("failed_to_generate_get", c.failed_to_generate_get <= gen_limit,
              f"Error: too many get() requests could not be generated: "
              f"{c.failed_to_generate_get} > {_fmt_num(gen_limit)}"),
        Check("replication", c.total_msgs >= required_msgs,
              f"Error: too few messages between replicas: {c.total_msgs} < {_fmt_num(required_msgs)}"
              f" (puts must be replicated)"),
    ]


def tier_for(value: float, thresholds: Sequence[float]) -> str:
    if value < thresholds[0]:
        return TIER_BONUS
    if value < thresholds[1]:
        return TIER_PASSED
    if value < thresholds[2]:
        return TIER_PARTIAL
    return TIER_FAILED


@dataclass(frozen=True)
class Tier:
    metric: str
    value: float
    thresholds: Tuple[float, float, float]
    tier: str


def performance_tiers(config: Config, values: Dict[str, float]) -> List[Tier]:
    return [Tier(m, values[m], config.benchmarks[m], tier_for(values[m], config.benchmarks[m]))
            for m in METRICS if m in config.benchmarks]


# --------------------------------------------------------------------------
# Linearizability (per key, Wing-Gong search with memoization)
# --------------------------------------------------------------------------

INF = float("inf")


@dataclass(frozen=True)
class Op:
    """One operation on a register: a read (get) or a write (put).

    ``required`` operations completed with ok and must be in the
    linearization; the others (unanswered, fail, redirect puts) may or may
    not have taken effect, and have no response time.
    """

    kind: str              # "r" or "w"
    value: Optional[str]
    invoke: float
    response: float        # INF for operations that may or may not have happened
    required: bool
    mid: str = ""


@dataclass
class KeyResult:
    key: str
    status: str            # "linearizable", "not linearizable", "unknown"
    ops: int
    nodes: int


def check_register(ops: Sequence[Op], budget: int = 200000,
                   deadline: Optional[float] = None) -> Tuple[str, int]:
    """Decide whether a single register's history is linearizable.

    The register starts absent (``None``).  Returns the status and the number
    of search states visited.  Optional writes of the same value are
    interchangeable, so the search always takes the earliest-invoked unused
    one, and optional writes whose value no read returns are dropped.
    """
    read_values = {op.value for op in ops if op.kind == "r" and op.required}
    req = sorted((op for op in ops if op.required), key=lambda o: (o.invoke, o.response))
    groups: Dict[Optional[str], List[float]] = {}
    for op in ops:
        if not op.required and op.kind == "w" and op.value in read_values:
            groups.setdefault(op.value, []).append(op.invoke)
    opt_values = list(groups)
    opt_invokes = [sorted(groups[v]) for v in opt_values]
    n = len(req)
    full = (1 << n) - 1
    inv = [o.invoke for o in req]
    resp = [o.response for o in req]
    kinds = [o.kind for o in req]
    vals = [o.value for o in req]
    # Cheap refutation: a read of a value nobody could have written.
    written = {o.value for o in ops if o.kind == "w"}
    for o in req:
        if o.kind == "r" and o.value not in written:
            return "not linearizable", 0

    start = (0, tuple(0 for _ in opt_values), None)
    stack = [start]
    seen = set()
    nodes = 0
    while stack:
        state = stack.pop()
        if state in seen:
            continue
        seen.add(state)
        mask, counts, cur = state
        if mask == full:
            return "linearizable", nodes
        nodes += 1
        if nodes > budget or (deadline is not None and nodes % 1024 == 0 and time.monotonic() > deadline):
            return "unknown", nodes
        min_resp = INF
        for i in range(n):
            if not mask >> i & 1 and resp[i] < min_resp:
                min_resp = resp[i]
        # Optional writes first, so that required operations are tried first.
        for g, value in enumerate(opt_values):
            c = counts[g]
            if c < len(opt_invokes[g]) and opt_invokes[g][c] <= min_resp and value != cur:
                stack.append((mask, counts[:g] + (c + 1,) + counts[g + 1:], value))
        for i in range(n - 1, -1, -1):
            if mask >> i & 1 or inv[i] > min_resp:
                continue
            if kinds[i] == "r":
                if vals[i] == cur:
                    stack.append((mask | (1 << i), counts, cur))
            else:
                stack.append((mask | (1 << i), counts, vals[i]))
    return "not linearizable", nodes


def history_from_records(records: Iterable[RequestRecord]) -> Dict[str, List[Op]]:
    """Turn request records into per-key register histories."""
    per_key: Dict[str, List[Op]] = {}
    for r in records:
        ok = r.answer_type == "ok" and r.answered is not None
        if r.type == "put":
            op = Op("w", r.value, r.sent, r.answered if ok else INF, ok, r.mid)  # type: ignore[arg-type]
        elif ok:
            op = Op("r", r.answer_value, r.sent, r.answered, True, r.mid)  # type: ignore[arg-type]
        else:
            continue   # a read that never returned constrains nothing
        per_key.setdefault(r.key, []).append(op)
    return per_key


def check_linearizability(histories: Dict[str, List[Op]], time_limit: float = 1.5,
                          budget_per_key: int = 200000) -> Dict[str, Any]:
    """Check every key's history; the result is a JSON-ready summary."""
    t0 = time.monotonic()
    deadline = t0 + time_limit
    bad: List[KeyResult] = []
    unknown: List[KeyResult] = []
    total_ops = 0
    total_nodes = 0
    checked = 0
    for key in sorted(histories, key=lambda k: len(histories[k])):
        ops = histories[key]
        total_ops += len(ops)
        if time.monotonic() > deadline:
            unknown.append(KeyResult(key, "unknown", len(ops), 0))
            continue
        status, nodes = check_register(ops, budget_per_key, deadline)
        total_nodes += nodes
        checked += 1
        if status == "not linearizable":
            bad.append(KeyResult(key, status, len(ops), nodes))
        elif status == "unknown":
            unknown.append(KeyResult(key, status, len(ops), nodes))
    if bad:
        status = "not linearizable"
    elif unknown:
        status = "unknown"
    else:
        status = "linearizable"
    result: Dict[str, Any] = {
        "status": status,
        "keys": len(histories),
        "operations": total_ops,
        "search_states": total_nodes,
        "violating_keys": [k.key for k in bad],
        "unknown_keys": [k.key for k in unknown],
        "elapsed_s": time.monotonic() - t0,
    }
    if bad:
        key = min(bad, key=lambda k: k.ops).key
        result["counterexample"] = {
            "key": key,
            "operations": [
                {"mid": o.mid, "kind": "get" if o.kind == "r" else "put", "value": o.value,
                 "invoke": o.invoke, "response": None if o.response == INF else o.response,
                 "definite": o.required}
                for o in sorted(histories[key], key=lambda o: o.invoke)],
        }
    return result


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------


def _median(values: Sequence[float]) -> float:
    """The contract's median: the element at len // 2 of the sorted list."""
    if not values:
        return 0.0
    s = sorted(values)
    return s[len(s) // 2]


def _percentile(sorted_values: Sequence[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    idx = min(len(sorted_values) - 1, max(0, math.ceil(p / 100.0 * len(sorted_values)) - 1))
    return sorted_values[idx]


@dataclass
class RunResult:
    config: Config
    seed: int
    transport: str
    replica: str
    counters: Counters
    leaders: List[str]
    latencies: List[float]
    records: List[RequestRecord]
    hop_ns: List[int]
    duration: float
    packet_storm: bool = False
    checks: List[Check] = field(default_factory=list)
    tiers: List[Tier] = field(default_factory=list)
    linearizability: Dict[str, Any] = field(default_factory=dict)
    replica_pids: List[int] = field(default_factory=list)
    events: Dict[str, Any] = field(default_factory=dict)     # EventSink.summary(), if any

    @property
    def correct(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def passed(self) -> bool:
        """PASS: every correctness check holds and no metric is in the Failed tier."""
        return self.correct and not self.packet_storm and all(t.tier != TIER_FAILED for t in self.tiers)

    @property
    def mean_latency(self) -> float:
        return sum(self.latencies) / len(self.latencies) if self.latencies else 0.0

    @property
    def median_latency(self) -> float:
        return _median(self.latencies)

    def metric_values(self) -> Dict[str, float]:
        c = self.counters
        return {"total_msgs": c.total_msgs, "failures": c.failures,
                "duplicates": c.duplicates, "median_latency": self.median_latency}

    def overhead(self) -> Dict[str, Any]:
        s = sorted(self.hop_ns)
        us = [v / 1000.0 for v in s]
        return {
            "packets": len(us),
            "median_us": _median(us),
            "p99_us": _percentile(us, 99),
            "mean_us": (sum(us) / len(us)) if us else 0.0,
            "max_us": us[-1] if us else 0.0,
        }


def least_generation_failures(config: Config, seed: int) -> Tuple[int, int]:
    """(failed_to_generate_get, generated_get) for this seed's workload if
    every put were answered ok before the next request: the fewest any
    replica can get, since the draws do not depend on the answers."""
    workload = Workload(seed)
    pool = ClientPool(config.replicas, config.mix)
    failed = gets = 0
    for _ in range(config.requests):
        planned = pool.plan(workload.next())
        failed += planned.failed_to_generate_get
        if planned.type == "get":
            gets += 1
        else:
            pool.clients[planned.client].held[planned.key] = planned.value  # type: ignore[assignment]
    return failed, gets


def _note_inherent(check: Check, result: RunResult) -> Check:
    """A failed get-generation check that the seed's workload alone fails says so."""
    if check.name != "failed_to_generate_get" or check.passed:
        return check
    least, gets = least_generation_failures(result.config, result.seed)
    limit = gets * result.config.fractions["maximum_get_generation_fail_fraction"]
    if least <= limit:
        return check
    note = (f" (inherent to seed {result.seed}: with every put answered at once"
            f" it would still be {least} > {_fmt_num(limit)})")
    return dataclasses.replace(check, message=check.message + note)


def grade(result: RunResult, lin_time_limit: float = 1.5) -> RunResult:
    """Fill in the checks, the tiers and the linearizability verdict."""
    result.checks = [_note_inherent(check, result) for check in
                     correctness_checks(result.config, result.counters)]
    result.tiers = performance_tiers(result.config, result.metric_values())
    result.linearizability = check_linearizability(history_from_records(result.records), lin_time_limit)
    return result


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

_ANSI = {"bold": "1", "green": "32", "yellow": "33", "red": "31", "cyan": "36"}


def _paint(text: str, style: str, color: bool) -> str:
    if not color:
        return text
    return f"\033[{_ANSI[style]}m{text}\033[0m"


def _fmt_num(value: Any) -> str:
    """Print a number the way a config writes it: 1000, 0.0002, 2.5."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        text = repr(value)
        if "e" in text or "E" in text:
            text = f"{value:.10f}".rstrip("0").rstrip(".")
        return text
    return str(value)


def _fmt_metric_value(metric: str, value: float) -> str:
    if metric == "median_latency":
        text = f"{value:.6f}".rstrip("0").rstrip(".")
        return text or "0"
    return _fmt_num(value)


def _verdict_text(tier: str, transport: str) -> Tuple[str, str]:
    if tier == TIER_BONUS:
        return "Bonus!", "green"
    if tier == TIER_PASSED:
        return ("Full credit" if transport == UDP else "Passed"), "green"
    if tier == TIER_PARTIAL:
        return "Partial credit, needs improvement", "yellow"
    return ("No credit" if transport == UDP else "Failed"), "red"


def format_tier_line(t: Tier, transport: str, color: bool = False) -> str:
    label = METRIC_LABELS[t.metric]
    value = _fmt_metric_value(t.metric, t.value)
    verdict, style = _verdict_text(t.tier, transport)
    if t.tier == TIER_BONUS:
        bound = f"< {_fmt_num(t.thresholds[0])}"
    elif t.tier == TIER_PASSED:
        bound = f"< {_fmt_num(t.thresholds[1])}"
    elif t.tier == TIER_PARTIAL:
        bound = f"< {_fmt_num(t.thresholds[2])}"
    else:
        bound = f">= {_fmt_num(t.thresholds[2])}"
    return f"        {label}: {value} {bound}, {_paint(verdict, style, color)}"


def format_linearizability(lin: Dict[str, Any]) -> str:
    if not lin:
        return "        Not checked"
    status = lin["status"]
    elapsed = lin.get("elapsed_s", 0.0)
    if status == "linearizable":
        return (f"        Linearizable: {lin['keys']} keys, {lin['operations']} operations "
                f"checked in {elapsed:.3f}s")
    if status == "unknown":
        return (f"        Unknown (search budget exceeded) for {len(lin['unknown_keys'])} of "
                f"{lin['keys']} keys; no violation found in the others")
    ce = lin.get("counterexample", {})
    return (f"        NOT linearizable: {len(lin['violating_keys'])} of {lin['keys']} keys; "
            f"counterexample key {ce.get('key')} ({len(ce.get('operations', []))} operations, see the JSON)")


def format_report(result: RunResult, color: bool = False) -> str:
    """The report text of the contract, plus the seed and the extra sections."""
    c = result.counters
    h = lambda text: _paint(text, "bold", color)  # noqa: E731
    lines: List[str] = []
    if result.packet_storm:
        lines.append(_paint(
            f"Error: packet storm: {c.total_msgs} messages reached max_packets "
            f"({result.config.max_packets}), the simulation was stopped early", "red", color))
    lines += [
        h("# Simulation Finished"),
        "",
        h("## Useful Information and Statistics"),
        "Leaders: " + " ".join(result.leaders),
        f"Replicas that died/were killed: {c.died}/{c.killed}",
        f"Total messages sent: {c.total_msgs}",
        f"Total messages dropped: {c.total_drops}",
    ]
    if result.transport == UDP:
        lines.append(f"Total messages blocked by full sockets: {c.blocked}")
    lines += [
        f"Total client get()/put() requests: {c.generated_get}/{c.generated_put}",
        f"Total duplicate responses: {c.duplicates}",
        f"Total unanswered get()/put() requests: {c.unanswered_get}/{c.unanswered_put}",
        f"Total redirects: {c.redirects}",
        f"Total get()/put() failures: {c.failed_get}/{c.failed_put}",
        f"Total get() with incorrect response: {c.incorrect}",
        f"Mean/Median query latency: {result.mean_latency:.6f}sec/{result.median_latency:.6f}sec",
        f"Seed: {result.seed}",
        "",
        h("## Correctness Checks"),
    ]
    failing = [chk for chk in result.checks if not chk.passed]
    if not failing:
        lines.append("        " + _paint("All correctness tests passed", "green", color))
        lines += [
            "",
            h("## Performance Tests"),
            h("## <test metric>: <your score> <benchmark score>, <test result>"),
        ]
        lines += [format_tier_line(t, result.transport, color) for t in result.tiers]
    else:
        lines += ["        " + _paint(chk.message, "red", color) for chk in failing]
        lines += ["", h("## Correctness Checks Failed, Skipping Performance Tests")]
    ov = result.overhead()
    lines += [
        "",
        h("## Linearizability Check (per key, Wing-Gong search)"),
        format_linearizability(result.linearizability),
        "",
        h("## Simulator"),
        f"        Per-hop overhead: median {ov['median_us']:.1f}us, p99 {ov['p99_us']:.1f}us "
        f"over {ov['packets']} packets",
    ]
    ev = result.events
    if ev:
        parts = [f"{ev['emitted']} emitted"]
        if ev.get("record"):
            parts.append(f"{ev['received']} from the replicas ({ev['malformed']} malformed lines skipped), "
                         f"recorded to {ev['record']}")
        if ev.get("socket"):
            parts.append(f"{ev['sent']} sent to {ev['socket']}, {ev['dropped']} dropped")
        lines.append("        State events: " + "; ".join(parts))
    return "\n".join(lines) + "\n"


def format_summary_line(result: RunResult, color: bool = False) -> str:
    """One line for ``all`` mode."""
    verdict = _paint("PASS", "green", color) if result.passed else _paint("FAIL", "red", color)
    head = f"{result.config.name:<13} {verdict}  "
    if not result.correct:
        first = next(chk for chk in result.checks if not chk.passed)
        return f"{head}correctness: {first.message[len('Error: '):]}  seed={result.seed}"
    short = {"total_msgs": "msgs", "failures": "failures", "duplicates": "dup", "median_latency": "median"}
    parts = []
    for t in result.tiers:
        verdict_word, _ = _verdict_text(t.tier, result.transport)
        verdict_word = verdict_word.split(",")[0].rstrip("!")
        parts.append(f"{short[t.metric]}={_fmt_metric_value(t.metric, t.value)} ({verdict_word})")
    storm = "  PACKET STORM" if result.packet_storm else ""
    return f"{head}{' '.join(parts)}{storm}  seed={result.seed}"


def result_counters(result: RunResult) -> Dict[str, int]:
    """The ``counters`` of the JSON results (also ``run_end``'s stats)."""
    c = result.counters
    counters = {k: getattr(c, k) for k in c.__dataclass_fields__}
    counters["failures"] = c.failures
    counters["events_dropped"] = int(result.events.get("dropped", 0))
    return counters


def result_to_json(result: RunResult) -> Dict[str, Any]:
    ok_get = [r.latency for r in result.records if r.type == "get" and r.answer_type == "ok"]
    ok_put = [r.latency for r in result.records if r.type == "put" and r.answer_type == "ok"]
    counters = result_counters(result)
    return {
        "config": {"name": result.config.name, "path": result.config.path,
                   "settings": result.config.settings()},
        "seed": result.seed,
        "transport": result.transport,
        "replica": result.replica,
        "duration_s": result.duration,
        "packet_storm": result.packet_storm,
        "counters": counters,
        "leaders": result.leaders,
        "latency": {
            "count": len(result.latencies),
            "mean": result.mean_latency,
            "median": result.median_latency,
            "median_ok_get": _median([x for x in ok_get if x is not None]),
            "median_ok_put": _median([x for x in ok_put if x is not None]),
            "ok_get_count": len(ok_get),
            "ok_put_count": len(ok_put),
        },
        "correctness": {
            "passed": result.correct,
            "checks": [{"name": k.name, "passed": k.passed, "message": None if k.passed else k.message}
                       for k in result.checks],
        },
        "performance": {
            t.metric: {"label": METRIC_LABELS[t.metric], "value": t.value,
                       "thresholds": list(t.thresholds), "tier": t.tier,
                       "printed": result.correct}
            for t in result.tiers
        },
        "verdict": "PASS" if result.passed else "FAIL",
        "linearizability": result.linearizability,
        "overhead": result.overhead(),
        "events": result.events or None,
        "requests": [r.to_json() for r in result.records],
    }


# --------------------------------------------------------------------------
# State events (shared/README.md, schema version 1)
# --------------------------------------------------------------------------

EVENT_VERSION = 1
EVENT_SRC = "sim"
EVENT_SOCKET_ENV = "KVDASH_SOCKET"
EVENT_DATAGRAM_MAX = 60 * 1024 - 1   # every datagram stays under 60 KiB
EVENT_RECV_SIZE = 65536
EVENT_SNDBUF = 1 << 20
EVENT_FILE_FLUSH = 0.5               # seconds between flushes of the record file
EVENT_SEND_INTERVAL = 0.05           # least seconds between datagrams to the --events socket
EVENT_SEND_DELAY = 0.25              # most seconds an event waits for an idle moment
EVENT_SEND_LINES = 500               # ...unless this many lines are waiting
RECORD_DRAIN_MAX = 64                # record-socket datagrams read per main-loop pass
UNIX_PATH_MAX = 107                  # sun_path holds 108 bytes with the NUL

TRAFFIC_WINDOW_US = 100000
TRAFFIC_WINDOW = TRAFFIC_WINDOW_US / 1e6
TRAFFIC_TYPE_MAX = 200               # longer message types are cut in traffic rows
TRAFFIC_CHUNK = 48 * 1024            # a traffic event with more rows is split

FATE_DELIVERED = "delivered"
FATE_DROPPED = "dropped"
FATE_PARTITIONED = "partitioned"
FATE_DEAD = "dead"
FATE_CLIENT = "client"
FATE_INVALID = "invalid"
MALFORMED_TYPE = "?"                 # traffic `type` of a packet that has none

# The tier names of the event schema (the JSON results keep run.py's own).
EVENT_TIER_NAMES = {TIER_BONUS: "Bonus", TIER_PASSED: "Passed",
                    TIER_PARTIAL: "Partial credit", TIER_FAILED: "Failed"}

_jstr = json.encoder.encode_basestring_ascii     # a quoted, escaped JSON string


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _valid_event(obj: Any) -> bool:
    """A JSON object with the fields every event has (shared/README.md)."""
    if type(obj) is not dict:
        return False
    v = obj.get("v")
    ts = obj.get("ts")
    return (type(v) is int and type(ts) is int and ts >= 0 and type(obj.get("src")) is str
            and type(obj.get("kind")) is str)


class _TrafficWindow(NamedTuple):
    """A traffic window queued for formatting at flush time."""
    ts: int
    window_us: int
    leader: str
    counts: Dict[Tuple[str, str, str, str], int]


class EventSink:
    """Where the simulator's state events go, without ever blocking it.

    * ``socket_path`` (``--events``): events are JSON lines, batched into
      datagrams under 60 KiB and sent once per main-loop pass through a
      non-blocking ``AF_UNIX``/``SOCK_DGRAM`` socket.  When nobody listens or
      the listener's queue is full, the datagram is dropped and its events
      counted in ``dropped``.
    * ``record_path`` (``--record``): every event, the simulator's and the
      replicas', is written to that file.  The replicas' events come through
      a private datagram socket (``replica_socket``, in a fresh 0700
      directory, mode 0600, removed by ``close``) that the main loop drains;
      with ``socket_path`` as well, they are forwarded there too.

    ``ts`` values are microseconds since the Unix epoch: the monotonic clock
    the simulator runs on, anchored to ``time.time()`` once.
    """

    def __init__(self, socket_path: Optional[str] = None, record_path: Optional[str] = None) -> None:
        self.socket_path = os.path.abspath(socket_path) if socket_path else None
        self.record_path = record_path
        self.emitted = 0        # events the simulator built
        self.received = 0       # valid replica events read from the record socket
        self.malformed = 0      # lines on the record socket that are not events
        self.sent = 0           # events sent to socket_path
        self.dropped = 0        # events that could not be sent to socket_path
        self.record_error: Optional[str] = None
        self.rec_sock: Optional[socket.socket] = None
        self._rec_dir: Optional[str] = None
        self._rec_path: Optional[str] = None
        self._out: Optional[socket.socket] = None
        self._file: Any = None
        # Events waiting for the next flush, in order: lines, or the raw
        # fields of a request event (formatted at flush time, off the path
        # of the request).
        self._pending: List[Any] = []
        self._pending_since = 0.0
        self._next_file_flush = 0.0
        self._next_send = 0.0
        self._epoch_ns = time.time_ns() - time.monotonic_ns()
        self._closed = False

    # ---- lifecycle ------------------------------------------------------------

    def open(self) -> None:
        """Create the sockets and the record file; SimulatorError if impossible."""
        try:
            if self.socket_path is not None:
                out = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._out = out
                out.setblocking(False)
                try:
                    out.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, EVENT_SNDBUF)
                except OSError:
                    pass
            if self.record_path is not None:
                try:
                    self._file = open(self.record_path, "wb", buffering=1 << 16)
                except OSError as exc:
                    raise SimulatorError(
                        f"cannot write the event record {self.record_path}: {exc.strerror or exc}") from None
                d = tempfile.mkdtemp(prefix="kvsim-")
                if len(os.path.join(d, "events.sock")) > UNIX_PATH_MAX:
                    os.rmdir(d)
                    d = tempfile.mkdtemp(prefix="kvsim-", dir="/tmp")
                self._rec_dir = d            # mkdtemp makes it 0700
                path = os.path.join(d, "events.sock")
                rec = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self.rec_sock = rec
                rec.bind(path)
                self._rec_path = path
                os.chmod(path, 0o600)
                rec.setblocking(False)
        except SimulatorError:
            self.close()
            raise
        except OSError as exc:
            self.close()
            raise SimulatorError(f"cannot set up the event sockets: {exc.strerror or exc}") from None

    @property
    def replica_socket(self) -> Optional[str]:
        """What the replicas get as $KVDASH_SOCKET."""
        return self._rec_path if self.record_path is not None else self.socket_path

    def close(self) -> None:
        """Read what is left, send and write everything, release everything."""
        if self._closed:
            return
        self._closed = True
        self.drain(None)
        self.flush(force=True)
        for s in (self._out, self.rec_sock):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
        self._out = self.rec_sock = None
        if self._rec_path is not None:
            try:
                os.unlink(self._rec_path)
            except OSError:
                pass
            self._rec_path = None
        if self._rec_dir is not None:
            try:
                os.rmdir(self._rec_dir)
            except OSError:
                pass
            self._rec_dir = None
        if self._file is not None:
            try:
                self._file.close()
            except OSError as exc:
                self.record_error = self.record_error or (exc.strerror or str(exc))
            self._file = None

    def summary(self) -> Dict[str, Any]:
        return {"socket": self.socket_path, "record": self.record_path, "emitted": self.emitted,
                "sent": self.sent, "dropped": self.dropped, "received": self.received,
                "malformed": self.malformed, "record_error": self.record_error}

    # ---- time -------------------------------------------------------------------

    def now_us(self) -> int:
        return (self._epoch_ns + time.monotonic_ns()) // 1000

    def at_us(self, mono: float) -> int:
        """The timestamp of a ``time.monotonic()`` reading."""
        return (self._epoch_ns + int(mono * 1e9)) // 1000

    # ---- output -----------------------------------------------------------------

    def _put(self, item: Any) -> None:
        """One event built by the simulator: a line, or request-event fields."""
        self.emitted += 1
        self._queue(item)

    def _queue(self, item: Any) -> None:
        if self._out is None and self._file is None:
            return
        if not self._pending:
            self._pending_since = time.monotonic()
        self._pending.append(item)

    def _write(self, line: bytes) -> None:
        try:
            self._file.write(line + b"\n")
        except (OSError, ValueError) as exc:
            self.record_error = getattr(exc, "strerror", None) or str(exc)
            try:
                self._file.close()
            except (OSError, ValueError):
                pass
            self._file = None

    def emit(self, kind: str, fields: Dict[str, Any], ts: Optional[int] = None) -> None:
        ev: Dict[str, Any] = {"v": EVENT_VERSION, "ts": self.now_us() if ts is None else ts,
                              "src": EVENT_SRC, "kind": kind}
        ev.update(fields)
        try:
            line = json.dumps(ev, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError):
            self.dropped += 1       # cannot happen with the fields run.py builds
            return
        self._put(line.encode("utf-8"))

    # The two events of every request are the hot path: only their fields
    # are kept here, and they are formatted when the batch is flushed.

    def request_sent(self, ts: int, mid: str, client: str, op: str, key: str, target: str) -> None:
        self._put((ts, mid, client, op, key, target))

    def request_answered(self, ts: int, mid: str, client: str, op: str, outcome: str,
                         latency_us: int, replica: str) -> None:
        self._put((ts, mid, client, op, outcome, latency_us, replica))

    @staticmethod
    def _format(item: Any) -> bytes:
        """The line of a queued event (every string through the JSON string encoder)."""
        if type(item) is bytes:
            return item
        if len(item) == 6:
            ts, mid, client, op, key, target = item
            return (f'{{"v":1,"ts":{ts},"src":"sim","kind":"request_sent","mid":{_jstr(mid)},'
                    f'"client":{_jstr(client)},"op":{_jstr(op)},"key":{_jstr(key)},'
                    f'"target":{_jstr(target)}}}').encode("ascii")
        ts, mid, client, op, outcome, latency_us, replica = item
        return (f'{{"v":1,"ts":{ts},"src":"sim","kind":"request_answered","mid":{_jstr(mid)},'
                f'"client":{_jstr(client)},"op":{_jstr(op)},"outcome":{_jstr(outcome)},'
                f'"latency_us":{latency_us},"replica":{_jstr(replica)}}}').encode("ascii")

    def traffic(self, ts: int, window_us: int, leader: str,
                counts: Dict[Tuple[str, str, str, str], int]) -> None:
        """One window's counts (the caller hands the dict over), formatted
        when the batch is flushed, as several events if they would not fit
        one datagram."""
        self._put(_TrafficWindow(ts, window_us, leader, counts))

    def _lines(self, item: Any) -> List[bytes]:
        """The lines of a queued event (a traffic window may take several)."""
        if type(item) is _TrafficWindow:
            lines = self._traffic_lines(*item)
            self.emitted += len(lines) - 1
            return lines
        return [self._format(item)]

    @staticmethod
    def _traffic_lines(ts: int, window_us: int, leader: str,
                       counts: Dict[Tuple[str, str, str, str], int]) -> List[bytes]:
        lines: List[bytes] = []
        agg: Dict[Tuple[str, str, str, str], int] = {}
        for (src, dst, mtype, fate), n in counts.items():
            if len(mtype) > TRAFFIC_TYPE_MAX:
                mtype = mtype[:TRAFFIC_TYPE_MAX]
            k = (src, dst, mtype, fate)
            agg[k] = agg.get(k, 0) + n
        head = (f'{{"v":1,"ts":{ts},"src":"sim","kind":"traffic","window_us":{window_us},'
                f'"leader":{_jstr(leader)},"rows":[')
        rows: List[str] = []
        size = 0
        for (src, dst, mtype, fate), n in sorted(agg.items()):
            row = (f'{{"src":{_jstr(src)},"dst":{_jstr(dst)},"type":{_jstr(mtype)},'
                   f'"fate":"{fate}","count":{n}}}')
            if rows and size + len(row) > TRAFFIC_CHUNK:
                lines.append((head + ",".join(rows) + "]}").encode("ascii"))
                rows = []
                size = 0
            rows.append(row)
            size += len(row) + 1
        lines.append((head + ",".join(rows) + "]}").encode("ascii"))
        return lines

    def flush(self, idle: bool = True, force: bool = False) -> None:
        """Format, send and write the queued events when it is time.

        Called once per main-loop pass; ``idle`` says the pass neither read
        nor sent a packet, so no answer is on its way.  Events go out at most
        every ``EVENT_SEND_INTERVAL`` and only in idle passes: formatting
        lines and waking a listener then delay no request (doing it right
        after sending one cost simple-1 a third of its median latency).
        Under constant traffic they still go out within ``EVENT_SEND_DELAY``
        (or once ``EVENT_SEND_LINES`` are queued).
        """
        now = time.monotonic()
        pending = self._pending
        if pending and (force or len(pending) >= EVENT_SEND_LINES
                        or now >= self._pending_since + EVENT_SEND_DELAY
                        or (idle and now >= self._next_send)):
            self._next_send = now + EVENT_SEND_INTERVAL
            self._pending = []
            lines = [line for item in pending for line in self._lines(item)]
            for line in lines:
                if self._file is None:
                    break
                self._write(line)
            if self._out is not None:
                self._send_lines(lines)
        f = self._file
        if f is not None:
            if force or now >= self._next_file_flush:
                self._next_file_flush = now + EVENT_FILE_FLUSH
                try:
                    f.flush()
                except (OSError, ValueError) as exc:
                    self.record_error = getattr(exc, "strerror", None) or str(exc)

    def _send_lines(self, lines: List[bytes]) -> None:
        out = self._out
        path = self.socket_path
        chunk: List[bytes] = []
        size = 0
        failed = False
        for line in lines + [b""]:
            n = len(line) + 1
            if line and n > EVENT_DATAGRAM_MAX:
                self.dropped += 1           # one event bigger than a datagram
                continue
            if chunk and (not line or size + n > EVENT_DATAGRAM_MAX):
                if failed:
                    self.dropped += len(chunk)
                else:
                    try:
                        out.sendto(b"\n".join(chunk) + b"\n", path)  # type: ignore[union-attr]
                        self.sent += len(chunk)
                    except OSError:
                        # EAGAIN/ENOBUFS: the listener is behind; ENOENT/
                        # ECONNREFUSED: nobody listens.  Drop the rest of
                        # this pass too rather than retry.
                        failed = True
                        self.dropped += len(chunk)
                chunk = []
                size = 0
            if line:
                chunk.append(line)
                size += n

    # ---- the replicas' events (--record) ------------------------------------------

    def drain(self, limit: Optional[int] = RECORD_DRAIN_MAX) -> int:
        """Read waiting datagrams from the record socket without blocking."""
        s = self.rec_sock
        if s is None:
            return 0
        n = 0
        while limit is None or n < limit:
            try:
                data = s.recv(EVENT_RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            n += 1
            self._take(data)
        return n

    def _take(self, data: bytes) -> None:
        for raw in data.split(b"\n"):
            line = raw.strip()
            if not line:
                continue
            try:
                obj = json.loads(line.decode("utf-8"), parse_constant=_reject_constant)
            except (UnicodeDecodeError, ValueError, RecursionError):
                self.malformed += 1
                continue
            if not _valid_event(obj):
                self.malformed += 1
                continue
            self.received += 1
            self._queue(line)


@contextmanager
def _signals_deferred() -> Any:
    """Ignore Ctrl-C and SIGTERM for the duration (clean-up must finish)."""
    saved = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            saved[sig] = signal.signal(sig, signal.SIG_IGN)
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


# --------------------------------------------------------------------------
# Processes and sockets
# --------------------------------------------------------------------------


def check_replica_program(path: str) -> str:
    """Return the absolute path of an executable replica, or raise ReplicaError."""
    full = os.path.abspath(path)
    if not os.path.exists(full):
        raise ReplicaError(f"replica program {path!r} not found (build it or pass -r PATH)")
    if os.path.isdir(full):
        raise ReplicaError(f"replica program {path!r} is a directory")
    if not os.access(full, os.X_OK):
        raise ReplicaError(f"replica program {path!r} is not executable (chmod +x it)")
    return full


class _Replica:
    __slots__ = ("index", "id", "path", "proc", "listener", "conn", "sock", "addr",
                 "alive", "killed", "died", "threads")

    def __init__(self, index: int, rid: str) -> None:
        self.index = index
        self.id = rid
        self.path: Optional[str] = None
        self.proc: Optional[subprocess.Popen] = None
        self.listener: Optional[socket.socket] = None
        self.conn: Optional[socket.socket] = None
        self.sock: Optional[socket.socket] = None      # UDP
        self.addr: Optional[Tuple[str, int]] = None    # UDP, learned from hello
        self.alive = True
        self.killed = False
        self.died = False
        self.threads: List[threading.Thread] = []


_OUTPUT_LOCK = threading.Lock()


def _relay_output(pipe: Any, rid: str, stream_out: Any, clock: Callable[[], float]) -> None:
    """Copy a replica's output line by line, prefixed with the time and its ID."""
    try:
        for raw_line in iter(pipe.readline, b""):
            line = raw_line.decode("utf-8", "replace").rstrip("\n")
            with _OUTPUT_LOCK:
                stream_out.write(f"[{clock():9.4f} {rid}] {line}\n")
                stream_out.flush()
    except (OSError, ValueError):
        pass
    finally:
        try:
            pipe.close()
        except OSError:
            pass


# --------------------------------------------------------------------------
# The simulation
# --------------------------------------------------------------------------


class Simulation:
    """One run of a config against a replica program.

    Single-threaded event loop, like the course simulator: each pass waits
    for readable sockets, reads one packet per readable replica socket and
    routes it, then fires every scheduled event that is due.
    """

    def __init__(self, config: Config, replica_path: str, seed: int, transport: str = CLASSIC,
                 silence: bool = True, workdir: Optional[str] = None,
                 out: Any = None, err: Any = None,
                 events: Optional[str] = None, record: Optional[str] = None) -> None:
        if transport not in TRANSPORTS:
            raise SimulatorError(f"unknown transport {transport!r}")
        if config.transport != transport:
            raise SimulatorError("the config was validated for another transport")
        self.config = config
        self.replica_path = check_replica_program(replica_path)
        self.seed = seed
        self.transport = transport
        self.silence = silence
        self.workdir = os.path.abspath(workdir or os.getcwd())
        self.out = out or sys.stdout
        self.err = err or sys.stderr

        n = config.replicas
        self.ids = replica_ids(n)
        self.replicas = [_Replica(i, rid) for i, rid in enumerate(self.ids)]
        self.by_id = {r.id: r for r in self.replicas}
        self.pool = ClientPool(n, config.mix)
        self.workload = Workload(seed)
        self.rng_drop = stream(seed, "drops")
        self.rng_part = stream(seed, "partitions")
        self.rng_kill = stream(seed, "kills")
        self.rng_route = stream(seed, "routing")
        self.rng_retry = stream(seed, "retry-mids")

        self.c = Counters()
        self.leaders: List[str] = [BROADCAST]
        self.leader = BROADCAST
        self.partition: Optional[frozenset] = None
        self.latencies: List[float] = []
        self.records: List[RequestRecord] = []
        self.ok_mids: set = set()
        self.hop_ns: List[int] = []
        self.keys_put: set = set()
        self.packet_storm = False
        self.n_alive = n
        self.rlist: List[socket.socket] = []
        self.owner: Dict[socket.socket, _Replica] = {}
        self._ok_records: Dict[str, RequestRecord] = {}
        self.t0 = 0.0
        self.end_time = 0.0
        # State events (--events / --record): None when off, so that the hot
        # paths pay one comparison and build nothing.
        self.events_path = events
        self.record_path = record
        self.ev: Optional[EventSink] = None
        self._traffic: Optional[Dict[Tuple[str, str, str, str], int]] = None
        self._win_idx = 0                 # the open traffic window starts at _win_idx * 100 ms
        self._win_leader = BROADCAST      # the leader of the last traffic event
        self._replica_env: Optional[Dict[str, str]] = None

    # ---- time -----------------------------------------------------------

    def now(self) -> float:
        return time.monotonic() - self.t0

    # ---- lifecycle --------------------------------------------------------

    def _spawn(self, rep: _Replica, args: List[str]) -> None:
        if self.silence:
            out = err = subprocess.DEVNULL
        else:
            out = err = subprocess.PIPE
        try:
            rep.proc = subprocess.Popen(
                [self.replica_path] + args, cwd=self.workdir, stdin=subprocess.DEVNULL,
                stdout=out, stderr=err, start_new_session=True, close_fds=True,
                env=self._replica_env)
        except OSError as exc:
            raise ReplicaError(f"cannot start replica {self.replica_path}: {exc.strerror or exc}") from None
        if not self.silence:
            for pipe, dest in ((rep.proc.stdout, self.out), (rep.proc.stderr, self.err)):
                t = threading.Thread(target=_relay_output, args=(pipe, rep.id, dest, self.now),
                                     daemon=True, name=f"relay-{rep.id}")
                t.start()
                rep.threads.append(t)

    def _setup(self) -> None:
        self.t0 = time.monotonic()
        ev = self.ev
        if ev is not None:
            if ev.replica_socket is not None:
                self._replica_env = dict(os.environ, **{EVENT_SOCKET_ENV: ev.replica_socket})
            if ev.rec_sock is not None:
                self.rlist.append(ev.rec_sock)     # wakes the loop; drained once per pass
            self._emit_run_start()
            ev.flush(force=True)
        if self.transport == CLASSIC:
            for rep in self.replicas:
                path = os.path.join(self.workdir, rep.id)
                if os.path.lexists(path):
                    os.unlink(path)
                lst = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                rep.listener = lst
                lst.bind(path)
                rep.path = path
                lst.listen(1)
                self.rlist.append(lst)
                self.owner[lst] = rep
            for rep in self.replicas:
                self._spawn(rep, [rep.id] + [o for o in self.ids if o != rep.id])
        else:
            for rep in self.replicas:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.bind(("localhost", 0))
                s.setblocking(False)
                rep.sock = s
                self.rlist.append(s)
                self.owner[s] = rep
            for rep in self.replicas:
                port = rep.sock.getsockname()[1]  # type: ignore[union-attr]
                self._spawn(rep, [str(port), rep.id] + [o for o in self.ids if o != rep.id])
        self.t0 = time.monotonic()
        self.end_time = self.config.run_lifetime
        if ev is not None:
            self._traffic = {}

    def _close_sockets(self, rep: _Replica) -> None:
        for s in (rep.conn, rep.listener, rep.sock):
            if s is None:
                continue
            if s in self.owner:
                del self.owner[s]
            try:
                self.rlist.remove(s)
            except ValueError:
                pass
            try:
                s.close()
            except OSError:
                pass
        rep.conn = rep.listener = rep.sock = None
        if rep.path is not None:
            try:
                os.unlink(rep.path)
            except FileNotFoundError:
                pass
            except OSError:
                pass
            rep.path = None

    @staticmethod
    def _signal_group(rep: _Replica, sig: int) -> None:
        if rep.proc is None:
            return
        try:
            os.killpg(rep.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _kill(self, rep: _Replica) -> None:
        """The kill events: SIGTERM the group, close and remove the socket."""
        if not rep.alive:
            return
        rep.alive = False
        rep.killed = True
        self.n_alive -= 1
        self.c.killed += 1
        self._signal_group(rep, signal.SIGTERM)
        self._close_sockets(rep)

    def _mark_died(self, rep: _Replica) -> None:
        if not rep.alive:
            return
        rep.alive = False
        rep.died = True
        self.n_alive -= 1
        self.c.died += 1
        self._close_sockets(rep)
        self._signal_group(rep, signal.SIGTERM)

    def _teardown(self) -> None:
        # A second Ctrl-C must not interrupt the clean-up half way.
        with _signals_deferred():
            ev = self.ev
            if ev is not None and self._traffic is not None:
                self._traffic_window(self.now(), final=True)
                ev.flush(force=True)
            self._stop_everything()
            if ev is not None:
                # The replicas' last words (their `stop` events).
                ev.drain(None)
                ev.flush(force=True)

    def _stop_everything(self) -> None:
        for rep in self.replicas:
            self._close_sockets(rep)
            if rep.proc is not None and rep.proc.poll() is None:
                self._signal_group(rep, signal.SIGTERM)
        deadline = time.monotonic() + TERM_GRACE
        for rep in self.replicas:
            if rep.proc is None:
                continue
            try:
                rep.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for rep in self.replicas:
            # SIGKILL whatever is left of each group (a leader that ignored
            # SIGTERM, or children it left behind), then reap.
            self._signal_group(rep, signal.SIGKILL)
            if rep.proc is not None:
                try:
                    rep.proc.wait(timeout=2.0)
                except subprocess.TimeoutExpired:
                    pass
        for rep in self.replicas:
            for t in rep.threads:
                t.join(timeout=0.5)

    # ---- sending ------------------------------------------------------------

    def _deliver(self, rep: _Replica, data: bytes) -> bool:
        """Hand a packet to a replica; packets for the dead vanish.

        False when the packet vanished because the replica is dead or cannot
        receive (not connected yet, no hello, its socket failed): the `dead`
        fate of the traffic events.
        """
        if not rep.alive:
            return False
        if self.transport == CLASSIC:
            conn = rep.conn
            if conn is None:
                return False    # not connected yet: the packet vanishes
            try:
                conn.send(data, socket.MSG_DONTWAIT)
                return True
            except BlockingIOError:
                pass
            except OSError:
                self._mark_died(rep)
                return False
            # The replica is not reading: wait for it like a blocking send
            # would, but never past the end of the run.
            while True:
                remaining = self.end_time - self.now()
                try:
                    _, w, _ = select.select([], [conn], [], max(0.01, remaining))
                    if w:
                        conn.send(data, socket.MSG_DONTWAIT)
                        return True
                except BlockingIOError:
                    continue
                except OSError:
                    self._mark_died(rep)
                    return False
                if remaining <= 0:
                    self.c.send_stalls += 1
                    return True
        else:
            if rep.addr is None:
                # Sending to a replica that never said hello: it is dead.
                self._mark_died(rep)
                return False
            sock = rep.sock
            try:
                sock.sendto(data, rep.addr)  # type: ignore[union-attr]
                return True
            except BlockingIOError:
                pass
            except OSError:
                return False
            try:
                _, w, _ = select.select([], [sock], [], UDP_SEND_WAIT)
                if w:
                    sock.sendto(data, rep.addr)  # type: ignore[union-attr]
                    return True
            except OSError:
                pass
            self.c.blocked += 1
            return True

    # ---- clients ------------------------------------------------------------

    def _send_request(self, client: Client, rtype: str, key: str, value: Optional[str], mid: str,
                      retry_of: Optional[str] = None) -> None:
        target = self.by_id.get(client.belief)
        if target is None or not target.alive:
            living = [r for r in self.replicas if r.alive]
            client.belief = BROADCAST
            target = living[self.rng_route.randrange(len(living))] if living else None
        rec = RequestRecord(mid=mid, client=client.id, type=rtype, key=key, value=value,
                            sent=self.now(), target=target.id if target else BROADCAST,
                            retry_of=retry_of)
        self.records.append(rec)
        client.outstanding[mid] = rec
        if target is not None:
            msg = {"src": client.id, "dst": target.id, "leader": client.belief, "type": rtype,
                   "MID": mid, "key": key}
            if rtype == "put":
                msg["value"] = value
            self._deliver(target, json.dumps(msg).encode("utf-8"))
        ev = self.ev
        if ev is not None:
            # After the send, so that it costs the request nothing; stamped
            # with the time of sending.
            ev.request_sent(ev.at_us(self.t0 + rec.sent), mid, client.id, rtype, key, rec.target)

    def _new_request(self) -> None:
        planned = self.pool.plan(self.workload.next())
        if planned.failed_to_generate_get:
            self.c.failed_to_generate_get += 1
        if planned.type == "get":
            self.c.generated_get += 1
        else:
            self.c.generated_put += 1
        client = self.pool.clients[planned.client]
        self._send_request(client, planned.type, planned.key, planned.value, planned.mid)

    def _client_receive(self, client: Client, msg: Dict[str, Any], rep: _Replica, t_read: float) -> None:
        c = self.c
        mid = msg.get("MID")
        rtype = msg["type"]
        if not isinstance(mid, str) or rtype not in ("ok", "fail", "redirect"):
            c.incorrect += 1
            return
        if mid in self.ok_mids:
            c.duplicates += 1
            rec = self._ok_records.get(mid)
            if rec is not None:
                rec.duplicates += 1
            return
        rec = client.outstanding.pop(mid, None)
        if rec is None:
            c.incorrect += 1
            return
        rec.answered = t_read
        rec.answer_type = rtype
        rec.answered_by = rep.id
        self.latencies.append(t_read - rec.sent)
        ev = self.ev
        if ev is not None:
            ev.request_answered(ev.at_us(self.t0 + t_read), mid, client.id, rec.type, rtype,
                                max(0, int(round((t_read - rec.sent) * 1e6))), rep.id)
        client.belief = msg["leader"]
        if rtype != "ok":
            c.redirects += 1
            if rtype == "fail":
                if rec.type == "get":
                    c.failed_get += 1
                else:
                    c.failed_put += 1
            new_mid = "".join(self.rng_retry.choices(ALNUM, k=16))
            self._send_request(client, rec.type, rec.key, rec.value, new_mid, retry_of=mid)
            return
        self.ok_mids.add(mid)
        self._ok_records[mid] = rec
        if rec.type == "put":
            client.held[rec.key] = rec.value  # type: ignore[assignment]
            self.keys_put.add(rec.key)
        else:
            value = msg.get("value")
            rec.answer_value = value if isinstance(value, str) else (None if value is None else json.dumps(value))
            if value != client.held.get(rec.key):
                rec.wrong_value = True
                c.incorrect += 1

    # ---- routing ------------------------------------------------------------

    def _on_packet(self, rep: _Replica, data: bytes, t_read_ns: int) -> None:
        c = self.c
        tr = self._traffic      # traffic counts of the open window; None without events
        try:
            msg = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            c.incorrect += 1
            if tr is not None:
                self._count_invalid(rep, None)
            return
        if type(msg) is not dict:
            c.incorrect += 1
            if tr is not None:
                self._count_invalid(rep, None)
            return
        src = msg.get("src")
        dst = msg.get("dst")
        leader = msg.get("leader")
        mtype = msg.get("type")
        if not (type(src) is str and type(dst) is str and type(leader) is str and type(mtype) is str
                and _HEX4(src) and _HEX4(dst) and _HEX4(leader)):
            c.incorrect += 1
            if tr is not None:
                self._count_invalid(rep, msg)
            return
        if self.transport == UDP and rep.addr is None:
            # Only reached for non-hello traffic before the hello (hellos are
            # handled by the caller).
            c.incorrect += 1
            if tr is not None:
                self._count_invalid(rep, msg)
            return
        part = self.partition
        if part is None or rep.id in part:
            if leader != self.leaders[-1]:
                self.leaders.append(leader)
            self.leader = leader
        target = self.by_id.get(dst)
        if target is not None:
            c.total_msgs += 1
            if part is not None and ((rep.id in part) != (dst in part)):
                fate = FATE_PARTITIONED
            elif self.config.drops and self.rng_drop.random() < self.config.drops:
                c.total_drops += 1
                fate = FATE_DROPPED
            else:
                fate = FATE_DELIVERED if self._deliver(target, data) else FATE_DEAD
            if tr is not None:
                key = (rep.id, dst, mtype, fate)
                tr[key] = tr.get(key, 0) + 1
        elif dst == BROADCAST:
            c.total_msgs += len(self.replicas) - 1
            drops = self.config.drops
            src_in = part is not None and rep.id in part
            for other in self.replicas:
                if other is rep:
                    continue
                if part is not None and (other.id in part) != src_in:
                    fate = FATE_PARTITIONED
                elif drops and self.rng_drop.random() < drops:
                    c.total_drops += 1
                    fate = FATE_DROPPED
                else:
                    fate = FATE_DELIVERED if self._deliver(other, data) else FATE_DEAD
                if tr is not None:
                    # A broadcast counts once per recipient, the dead included.
                    key = (rep.id, other.id, mtype, fate)
                    tr[key] = tr.get(key, 0) + 1
        else:
            client = self.pool.by_id.get(dst)
            if client is not None:
                t_read = (t_read_ns / 1e9) - self.t0
                if tr is None:
                    self._client_receive(client, msg, rep, t_read)
                else:
                    before = c.incorrect
                    self._client_receive(client, msg, rep, t_read)
                    key = (rep.id, dst, mtype, FATE_INVALID if c.incorrect != before else FATE_CLIENT)
                    tr[key] = tr.get(key, 0) + 1
            else:
                c.incorrect += 1
                if tr is not None:
                    self._count_invalid(rep, msg)

    def _count_invalid(self, rep: _Replica, msg: Optional[Dict[str, Any]]) -> None:
        """A traffic row for a packet counted as incorrect before any delivery."""
        dst = msg.get("dst") if msg is not None else None
        mtype = msg.get("type") if msg is not None else None
        key = (rep.id, dst if type(dst) is str and _HEX4(dst) else BROADCAST,
               mtype if type(mtype) is str else MALFORMED_TYPE, FATE_INVALID)
        tr = self._traffic
        tr[key] = tr.get(key, 0) + 1  # type: ignore[index]

    def _read_one(self, s: socket.socket) -> None:
        rep = self.owner.get(s)
        if rep is None or not rep.alive:
            return
        if self.transport == CLASSIC:
            if s is rep.listener:
                try:
                    conn, _ = s.accept()
                except OSError:
                    return
                if rep.conn is None:
                    rep.conn = conn
                    self.rlist.remove(s)
                    self.rlist.append(conn)
                    self.owner[conn] = rep
                else:
                    conn.close()
                return
            try:
                data = s.recv(CLASSIC_RECV_SIZE)
            except OSError:
                self._mark_died(rep)
                return
            t_read_ns = time.monotonic_ns()
            if not data:
                self._mark_died(rep)
                return
            perf0 = time.perf_counter_ns()
            self._on_packet(rep, data, t_read_ns)
            self.hop_ns.append(time.perf_counter_ns() - perf0)
        else:
            try:
                data, addr = s.recvfrom(UDP_RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            t_read_ns = time.monotonic_ns()
            perf0 = time.perf_counter_ns()
            if rep.addr is None and self._is_hello(data):
                rep.addr = addr
                return
            if rep.addr is not None and self._is_hello(data):
                return      # a repeated hello is neither routed nor counted
            self._on_packet(rep, data, t_read_ns)
            self.hop_ns.append(time.perf_counter_ns() - perf0)

    @staticmethod
    def _is_hello(data: bytes) -> bool:
        if b"hello" not in data:
            return False
        try:
            msg = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return False
        return (type(msg) is dict and msg.get("type") == "hello" and all(
            type(msg.get(k)) is str and _HEX4(msg.get(k)) for k in ("src", "dst", "leader")))

    # ---- events -------------------------------------------------------------

    def _forget_leader(self) -> None:
        self.leader = BROADCAST
        for client in self.pool.clients:
            client.belief = BROADCAST

    def _fire(self, etype: str) -> None:
        n = len(self.replicas)
        if etype == "request":
            self._new_request()
        elif etype == "kill_leader":
            if self.leader == BROADCAST:
                return
            rep = self.by_id.get(self.leader)
            if rep is not None:
                was_alive = rep.alive
                self._kill(rep)
                if was_alive and self.ev is not None:
                    self.ev.emit("kill", {"replica": rep.id, "leader": True})
            self._forget_leader()
        elif etype == "kill_non_leader":
            candidates = [r for r in self.replicas if r.alive and r.id != self.leader]
            if candidates:
                rep = candidates[self.rng_kill.randrange(len(candidates))]
                self._kill(rep)
                if self.ev is not None:
                    self.ev.emit("kill", {"replica": rep.id, "leader": False})
        elif etype == "part_easy":
            size = n // 2 + 1
            if self.leader in self.by_id:
                others = [i for i in self.ids if i != self.leader]
                members = [self.leader] + self.rng_part.sample(others, size - 1)
            else:
                members = self.rng_part.sample(self.ids, size)
            self.partition = frozenset(members)
            self._emit_partition(False)
        elif etype == "part_hard":
            self._forget_leader()
            self.partition = frozenset(self.rng_part.sample(self.ids, n // 2 + 1))
            self._emit_partition(True)
        elif etype == "part_end":
            healed = self.partition is not None
            self.partition = None
            if healed and self.ev is not None:
                self.ev.emit("partition_healed", {})

    # ---- state events ---------------------------------------------------------

    def _emit_partition(self, hard: bool) -> None:
        if self.ev is None or self.partition is None:
            return
        part = self.partition
        self.ev.emit("partition", {"majority": [i for i in self.ids if i in part],
                                   "minority": [i for i in self.ids if i not in part],
                                   "hard": hard})

    def _emit_run_start(self) -> None:
        cfg = self.config
        settings: Any = cfg.raw
        try:
            json.dumps(settings, allow_nan=False)
        except (TypeError, ValueError):
            settings = cfg.settings()       # NaN or the like in an unchecked field
        self.ev.emit("run_start", {  # type: ignore[union-attr]
            "config": cfg.path or cfg.name, "seed": self.seed, "replicas": list(self.ids),
            "clients": [cl.id for cl in self.pool.clients], "transport": self.transport,
            "lifetime": float(cfg.run_lifetime), "settings": settings})

    def _traffic_window(self, now: float, final: bool = False) -> None:
        """Close the open traffic window(s) at ``now`` (seconds since t0).

        A window is emitted when it routed packets or the leader changed; a
        loop pass that came late closes several windows as one (its
        ``window_us`` says so).  ``final`` closes the last, partial window.
        """
        ev = self.ev
        tr = self._traffic
        if ev is None or tr is None:
            return
        idx = int(now / TRAFFIC_WINDOW)
        if not final and idx <= self._win_idx:
            return
        start_us = self._win_idx * TRAFFIC_WINDOW_US
        if final:
            end = now
            window_us = max(0, int(round(now * 1e6)) - start_us)
        else:
            end = idx * TRAFFIC_WINDOW
            window_us = (idx - self._win_idx) * TRAFFIC_WINDOW_US
        leader = self.leader
        if tr or leader != self._win_leader or final:
            ev.traffic(ev.at_us(self.t0 + end), window_us, leader, tr)
            self._traffic = {}
            self._win_leader = leader
        self._win_idx = idx

    def _emit_run_end(self, result: "RunResult") -> None:
        ev = self.ev
        if ev is None:
            return
        result.events = ev.summary()     # _teardown flushed every queued event
        stats: Dict[str, float] = dict(result_counters(result))
        if result.latencies:
            stats["mean_latency"] = result.mean_latency
            stats["median_latency"] = result.median_latency
        if ev.record_path is not None:
            stats["events_malformed"] = ev.malformed
        stats = {k: v for k, v in stats.items() if _is_number(v)}
        fields: Dict[str, Any] = {
            "passed": result.passed,
            "stats": stats,
            "checks": [{"name": k.name, "passed": k.passed, "detail": "" if k.passed else k.message}
                       for k in result.checks],
            "tiers": [{"metric": t.metric, "value": t.value, "thresholds": list(t.thresholds),
                       "tier": EVENT_TIER_NAMES.get(t.tier, t.tier)}
                      for t in result.tiers if _is_number(t.value)],
        }
        status = result.linearizability.get("status")
        if status == "linearizable":
            fields["linearizable"] = True
        elif status == "not linearizable":
            fields["linearizable"] = False
        ev.emit("run_end", fields)

    def _schedule(self) -> List[Tuple[float, int, str]]:
        items: List[Tuple[float, int, str]] = []
        seq = 0
        for ev in self.config.events:
            items.append((ev.time, seq, ev.type))
            seq += 1
        for t in self.config.request_times():
            items.append((t, seq, "request"))
            seq += 1
        items.sort()
        return items

    def _poll_processes(self) -> None:
        for rep in self.replicas:
            if not rep.alive or rep.proc is None:
                continue
            if self.transport == CLASSIC and rep.conn is not None:
                continue    # a connected replica's death shows on its socket
            if rep.proc.poll() is not None:
                self._mark_died(rep)

    def _loop(self) -> None:
        schedule = self._schedule()
        n_events = len(schedule)
        ei = 0
        lifetime = self.end_time
        max_packets = self.config.max_packets
        c = self.c
        mono = time.monotonic
        t0 = self.t0
        sel = select.select
        read_one = self._read_one
        next_poll = 0.0
        ev = self.ev
        rec_sock = ev.rec_sock if ev is not None else None
        while True:
            now = mono() - t0
            if now >= lifetime:
                break
            if c.total_msgs >= max_packets:
                self.packet_storm = True
                break
            if self.n_alive <= 0:
                break
            next_t = schedule[ei][0] if ei < n_events else lifetime
            timeout = min(SELECT_TIMEOUT, max(0.0, next_t - now), lifetime - now)
            if ev is not None:
                # Wake up for the end of the traffic window too.
                timeout = min(timeout, max(0.0, (self._win_idx + 1) * TRAFFIC_WINDOW - now))
            try:
                readable, _, _ = sel(self.rlist, [], [], timeout)
            except InterruptedError:
                readable = []
            for s in readable:
                read_one(s)
            # Quiet: no replica packet came (the record socket does not
            # count) and nothing is sent in this pass, so no answer is on
            # its way: the moment to spend on events.
            quiet = not readable or (len(readable) == 1 and readable[0] is rec_sock)
            now = mono() - t0
            while ei < n_events and schedule[ei][0] <= now:
                self._fire(schedule[ei][2])
                ei += 1
                quiet = False
            if now >= next_poll:
                self._poll_processes()
                next_poll = now + PROCESS_POLL_INTERVAL
            if ev is not None:
                self._traffic_window(now)
                ev.drain()
                ev.flush(quiet)

    def _finish(self) -> None:
        c = self.c
        for client in self.pool.clients:
            for rec in client.outstanding.values():
                if rec.type == "get":
                    c.unanswered_get += 1
                else:
                    c.unanswered_put += 1
        c.keys_put = len(self.keys_put)

    def run(self) -> RunResult:
        """Start the replicas, run the scenario, stop everything, grade."""
        wall0 = time.monotonic()
        if self.events_path or self.record_path:
            if not 0 <= self.seed < 2 ** 64:
                raise SimulatorError("the seed must be between 0 and 2**64 - 1 to be sent in events")
            ev = EventSink(self.events_path, self.record_path)
            ev.open()       # SimulatorError before any replica starts
            self.ev = ev
        try:
            try:
                self._setup()
                self._loop()
            finally:
                # Normal end, Ctrl-C or any exception: no replica and no socket
                # file outlives the run.
                self._teardown()
            self._finish()
            result = RunResult(
                config=self.config, seed=self.seed, transport=self.transport,
                replica=self.replica_path, counters=self.c, leaders=list(self.leaders),
                latencies=self.latencies, records=self.records, hop_ns=self.hop_ns,
                duration=time.monotonic() - wall0, packet_storm=self.packet_storm,
                replica_pids=[r.proc.pid for r in self.replicas if r.proc is not None])
            grade(result)
            self._emit_run_end(result)
        finally:
            if self.ev is not None:
                # The record file is complete even after Ctrl-C.
                with _signals_deferred():
                    self.ev.close()
        if self.ev is not None:
            result.events = self.ev.summary()
            if self.ev.record_error:
                self.err.write(f"run.py: warning: the event record {self.ev.record_path} is incomplete: "
                               f"{self.ev.record_error}\n")
        return result


def run_simulation(config: Config, replica_path: str = "./3700kvstore", seed: Optional[int] = None,
                   transport: Optional[str] = None, silence: bool = True, workdir: Optional[str] = None,
                   out: Any = None, err: Any = None,
                   events: Optional[str] = None, record: Optional[str] = None) -> RunResult:
    """Run one config and return the graded result.

    ``workdir`` is where the socket files are made and where the replicas
    run (default: the current directory).  Safe to call from several
    threads at once with different working directories.  ``events`` is a
    Unix datagram socket to stream state events to, ``record`` a file to
    write every event to (the simulator's and the replicas').
    """
    if seed is None:
        seed = new_seed()
    sim = Simulation(config, replica_path, seed, transport or config.transport, silence, workdir, out, err,
                     events=events, record=record)
    return sim.run()


def new_seed() -> int:
    return random.SystemRandom().randrange(1, 2 ** 31)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="run.py",
        description=(
            "Simulate a cluster of 3700kvstore replicas and grade it like the course simulator. "
            "CONFIG is a path, a name under configs/ (with or without .json), or 'all' for the "
            "17 standard scenarios."),
        epilog=(
            "Exit status: 0 when the run passes (all correctness checks hold; for 'all', every "
            "scenario PASSes, meaning also that no metric is in the Failed tier), 1 when it does "
            "not, 2 for a bad config, a missing replica or bad arguments, 130 when interrupted."))
    p.add_argument("config", help="config path or name, or 'all'")
    p.add_argument("-r", "--replica", default="./3700kvstore",
                   help="replica program (default: ./3700kvstore)")
    p.add_argument("-s", "--silence", action="store_true",
                   help="send replica stdout/stderr to /dev/null (default: show them prefixed "
                        "with the time and the replica ID)")
    p.add_argument("--transport", choices=TRANSPORTS, default=CLASSIC,
                   help="classic: Unix SEQPACKET, arguments <id> <peers> (default); "
                        "udp: second generation, hello handshake, arguments <port> <id> <peers>")
    p.add_argument("--seed", type=int, default=None, metavar="N",
                   help="seed for every random choice (workload, drops, partitions, kills); "
                        "default: a random seed, printed in the report")
    p.add_argument("--json", metavar="FILE", default=None,
                   help="write every statistic, verdict and request record to FILE")
    p.add_argument("-c", "--config-dir", metavar="DIR", default=None,
                   help="where 'all' finds the standard scenarios (default: configs/, or "
                        "configs/udp/ with --transport udp)")
    p.add_argument("--pause", type=float, default=0.0, metavar="SECONDS",
                   help="pause between scenarios in 'all' mode (default 0)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="in 'all' mode, also print each scenario's full report")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="bold headings and coloured verdicts (default: when stdout is a terminal)")
    p.add_argument("--events", metavar="PATH", default=None,
                   help="stream state events (JSON lines, schema v1 of shared/README.md: run_start, "
                        "request_sent/answered, kill, partition, traffic every 100 ms, run_end) to the "
                        "Unix datagram socket PATH, e.g. the one kvdash listens on, and pass PATH to "
                        "the replicas as $%s for their own events. Never blocks: events nobody "
                        "receives are dropped and counted (events_dropped). With 'all', every "
                        "scenario streams its own run_start ... run_end" % EVENT_SOCKET_ENV)
    p.add_argument("--record", metavar="FILE", default=None,
                   help="write every event of the run, the simulator's and the replicas' (gathered "
                        "on a private socket passed as $%s), to FILE as JSON lines; with --events "
                        "they are also forwarded to PATH. Not with 'all'" % EVENT_SOCKET_ENV)
    return p


def _error(msg: str) -> None:
    sys.stderr.write(f"run.py: error: {msg}\n")
    sys.stderr.flush()


def _write_json(path: str, payload: Any) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=1, allow_nan=False, default=str)
        fh.write("\n")
    os.replace(tmp, path)


def _standard_dir(args: argparse.Namespace) -> str:
    if args.config_dir:
        return args.config_dir
    for base in (os.getcwd(), SCRIPT_DIR):
        d = os.path.join(base, "configs", "udp") if args.transport == UDP else os.path.join(base, "configs")
        if os.path.isdir(d):
            return d
    return os.path.join("configs")


def _check_event_options(args: argparse.Namespace) -> Optional[str]:
    """What is wrong with --events / --record, if anything."""
    if args.record is not None:
        if args.config == "all":
            return "--record cannot be used with 'all': record one scenario at a time (--events works with 'all')"
        if not args.record or os.path.isdir(args.record):
            return f"--record needs a file name (got {args.record!r})"
    if args.events is not None:
        if not args.events:
            return "--events needs a socket path"
        length = len(os.fsencode(os.path.abspath(args.events)))
        if length > UNIX_PATH_MAX:
            return f"--events path is too long for a Unix socket ({length} bytes, at most {UNIX_PATH_MAX})"
    if args.seed is not None and not 0 <= args.seed < 2 ** 64:
        return "--seed must be between 0 and 2**64 - 1 with --events/--record (the event schema's seed is unsigned)"
    return None


def _sigterm_handler(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt()


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _build_parser().parse_args(argv)
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    saved = {}
    if threading.current_thread() is threading.main_thread():
        # Ctrl-C and SIGTERM always stop the run cleanly, even when the
        # caller started us with SIGINT ignored (as shells do for '&' jobs).
        saved[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
        saved[signal.SIGTERM] = signal.signal(signal.SIGTERM, _sigterm_handler)
    try:
        return _main(args, color)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _main(args: argparse.Namespace, color: bool) -> int:
    # Everything is checked before any replica starts.
    try:
        if args.config == "all":
            cdir = _standard_dir(args)
            configs = []
            for name in STANDARD_SCENARIOS:
                path = os.path.join(cdir, name + ".json")
                if not os.path.isfile(path):
                    raise ConfigError(f"standard scenario {name} not found in {cdir}")
                configs.append(load_config(path, args.transport))
        else:
            configs = [load_config(args.config, args.transport, args.config_dir)]
        replica = check_replica_program(args.replica)
    except SimulatorError as exc:
        _error(str(exc))
        return EXIT_USAGE
    if args.pause < 0:
        _error("--pause must not be negative")
        return EXIT_USAGE
    sim_kwargs: Dict[str, Any] = {}
    if args.events is not None or args.record is not None:
        problem = _check_event_options(args)
        if problem:
            _error(problem)
            return EXIT_USAGE
        if args.events is not None:
            sim_kwargs["events"] = os.path.abspath(args.events)
        if args.record is not None:
            sim_kwargs["record"] = args.record

    results: List[RunResult] = []
    try:
        for i, cfg in enumerate(configs):
            if i and args.pause:
                time.sleep(args.pause)
            seed = args.seed if args.seed is not None else new_seed()
            result = run_simulation(cfg, replica, seed, args.transport, args.silence, os.getcwd(),
                                    **sim_kwargs)
            results.append(result)
            if args.config == "all":
                if args.verbose:
                    sys.stdout.write(format_report(result, color))
                sys.stdout.write(format_summary_line(result, color) + "\n")
            else:
                sys.stdout.write(format_report(result, color))
            sys.stdout.flush()
    except KeyboardInterrupt:
        _error("interrupted; every replica was stopped and every socket file removed")
        return EXIT_INTERRUPTED
    except SimulatorError as exc:
        _error(str(exc))
        return EXIT_USAGE

    if args.config == "all":
        passed = sum(1 for r in results if r.passed)
        sys.stdout.write(f"Passed {passed} out of {len(results)} tests\n")
        ok = passed == len(results)
    else:
        ok = results[0].correct
    if args.json:
        try:
            if args.config == "all":
                payload: Any = {"runs": [result_to_json(r) for r in results],
                                "passed": sum(1 for r in results if r.passed), "total": len(results)}
            else:
                payload = result_to_json(results[0])
            _write_json(args.json, payload)
        except OSError as exc:
            _error(f"cannot write {args.json}: {exc.strerror}")
            return EXIT_USAGE
    return EXIT_OK if ok else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
