"""Scenario configs: the fields, their defaults and limits, and where to find them.

A config is a JSON object; ``validate_config`` checks one against the rules
of docs/simulator.md ("Config files") and returns a frozen ``Config``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from .errors import ConfigError
from .numeric import is_int, is_number

CLASSIC = "classic"
UDP = "udp"
TRANSPORTS = (CLASSIC, UDP)

# The course's event types, then our own (docs/simulator.md, "Restarts"):
# a restart brings a killed replica back with the same id, socket and data.
COURSE_EVENT_TYPES = ("kill_leader", "kill_non_leader", "part_easy", "part_hard", "part_end")
RESTART = "restart"
KILL_RESTART = "kill_restart"
RESTART_EVENT_TYPES = (RESTART, KILL_RESTART)
EVENT_TYPES = COURSE_EVENT_TYPES + RESTART_EVENT_TYPES
# kill_restart: whom it kills (as kill_leader / kill_non_leader) and how
# many seconds the replica stays down.
KILL_RESTART_WHO = ("leader", "non_leader")
DEFAULT_KILL_RESTART_WHO = "leader"
DEFAULT_KILL_RESTART_DOWN = 0.5
METRICS = ("total_msgs", "failures", "duplicates", "median_latency")
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

# The directory of run.py: configs/ is looked up there as well as in the
# working directory.
ROOT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass(frozen=True)
class Event:
    type: str
    time: float
    # kill_restart only: "leader" or "non_leader", and the seconds down.
    who: str = ""
    down: float = 0.0

    def to_json(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"type": self.type, "time": self.time}
        if self.type == KILL_RESTART:
            out["who"] = self.who
            out["down"] = self.down
        return out


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
    def has_restarts(self) -> bool:
        """Whether an event restarts a replica (which then needs its data dir)."""
        return any(e.type in RESTART_EVENT_TYPES for e in self.events)

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
            "events": [e.to_json() for e in self.events],
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


def validate_config(raw: Any, transport: str = CLASSIC, name: str = "config", path: str = "") -> Config:
    """Check a decoded config against the contract and return a ``Config``.

    Raises ``ConfigError`` with a one-line message on the first violation.
    """
    if transport not in TRANSPORTS:
        raise ConfigError(f"unknown transport {transport!r}")
    if not isinstance(raw, dict):
        raise ConfigError("the config must be a JSON object")

    def number(key: str, default: Optional[float] = None) -> float:
        return _setting(raw, key, is_number, "a number", default)

    def integer(key: str, default: Optional[int] = None) -> int:
        return _setting(raw, key, is_int, "an integer", default)

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

    return Config(
        name=name, path=path, transport=transport, lifetime=lifetime, replicas=replicas,
        requests=requests, mix=mix, drops=drops, start_wait=start_wait, end_wait=end_wait,
        max_packets=max_packets, events=_events(raw, lifetime), benchmarks=_benchmarks(raw),
        fractions=_fractions(raw, transport), raw=dict(raw))


def _setting(raw: Dict[str, Any], key: str, valid: Callable[[Any], bool], what: str, default: Any) -> Any:
    """A top-level field: its default when absent (required when there is
    none), else its value if ``valid``."""
    if key not in raw:
        if default is None:
            raise ConfigError(f"'{key}' is required")
        return default
    value = raw[key]
    if not valid(value):
        raise ConfigError(f"'{key}' must be {what} (got {value!r})")
    return value


def _events(raw: Dict[str, Any], lifetime: float) -> Tuple[Event, ...]:
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
        if not is_number(etime):
            raise ConfigError(f"event #{i + 1} ({etype}) needs a numeric 'time' (got {etime!r})")
        if not 0 <= etime <= lifetime:
            raise ConfigError(f"event #{i + 1} ({etype}) time must be between 0 and lifetime {lifetime} (got {etime})")
        if etype == KILL_RESTART:
            events.append(_kill_restart(ev, i, etime))
        else:
            events.append(Event(etype, etime))
    return tuple(events)


def _kill_restart(ev: Dict[str, Any], i: int, etime: float) -> Event:
    """A kill_restart event's ``who`` and ``down``.  A ``down`` that reaches
    past the end of the run is allowed: that restart never comes."""
    who = ev.get("who", DEFAULT_KILL_RESTART_WHO)
    if who not in KILL_RESTART_WHO:
        raise ConfigError(f"event #{i + 1} (kill_restart) has unknown 'who' {who!r} "
                          f"(expected one of {', '.join(KILL_RESTART_WHO)})")
    down = ev.get("down", DEFAULT_KILL_RESTART_DOWN)
    if not is_number(down) or down < 0:
        raise ConfigError(f"event #{i + 1} (kill_restart) 'down' must be a non-negative number "
                          f"of seconds (got {down!r})")
    return Event(KILL_RESTART, etime, who, down)


def _tests(raw: Dict[str, Any]) -> Dict[str, Any]:
    tests = raw.get("tests")
    if not isinstance(tests, dict):
        raise ConfigError("'tests' with 'tests.benchmarks' is required")
    return tests


def _benchmarks(raw: Dict[str, Any]) -> Dict[str, Tuple[float, float, float]]:
    benchmarks_raw = _tests(raw).get("benchmarks")
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
                or not all(is_number(t) for t in thresholds)):
            raise ConfigError(f"benchmark '{metric}' must be a list of exactly three numbers (got {thresholds!r})")
        benchmarks[metric] = (thresholds[0], thresholds[1], thresholds[2])
    return benchmarks


def _fractions(raw: Dict[str, Any], transport: str) -> Dict[str, float]:
    tests = _tests(raw)
    fractions: Dict[str, float] = {}
    for key, default in FRACTIONS.items():
        value: Any = default
        if key in tests:
            value = tests[key]
        elif transport == UDP and key in raw:
            # The second generation also reads the fractions from the top level.
            value = raw[key]
        if not is_number(value) or value < 0:
            raise ConfigError(f"'{key}' must be a non-negative number (got {value!r})")
        fractions[key] = value
    return fractions


def _search_dirs(transport: str) -> List[str]:
    """configs/ (after configs/udp/ for UDP) under the working directory, then under ROOT_DIR."""
    dirs: List[str] = []
    for base in (os.getcwd(), ROOT_DIR):
        if transport == UDP:
            dirs.append(os.path.join(base, "configs", "udp"))
        dirs.append(os.path.join(base, "configs"))
    return dirs


def resolve_config_path(spec: str, transport: str = CLASSIC, config_dir: Optional[str] = None) -> str:
    """Find a config: the path itself, else ``configs/<name>[.json]``.

    With the UDP transport ``configs/udp/`` is searched before ``configs/``.
    Both the working directory and run.py's directory are tried.
    """
    if os.path.isfile(spec):
        return spec
    names = [spec] if spec.endswith(".json") else [spec, spec + ".json"]
    dirs = ([config_dir] if config_dir else []) + _search_dirs(transport)
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


def standard_dir(config_dir: Optional[str], transport: str) -> str:
    """Where ``all`` finds the standard scenarios."""
    if config_dir:
        return config_dir
    for base in (os.getcwd(), ROOT_DIR):
        d = os.path.join(base, "configs", "udp") if transport == UDP else os.path.join(base, "configs")
        if os.path.isdir(d):
            return d
    return os.path.join("configs")


def load_standard_scenarios(config_dir: Optional[str], transport: str) -> List[Config]:
    """The 17 standard scenarios, in order; ConfigError if one is missing."""
    cdir = standard_dir(config_dir, transport)
    configs = []
    for name in STANDARD_SCENARIOS:
        path = os.path.join(cdir, name + ".json")
        if not os.path.isfile(path):
            raise ConfigError(f"standard scenario {name} not found in {cdir}")
        configs.append(load_config(path, transport))
    return configs
