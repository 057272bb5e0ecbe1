"""Helpers shared by the simulator tests."""

import copy
import json
import os
import stat
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAKES = os.path.join(ROOT, "tests", "fakes")
RUN_PY = os.path.join(ROOT, "run.py")

if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from simulator.config import validate_config  # noqa: E402
from simulator.result import RunResult  # noqa: E402
from simulator.simulation import run_simulation  # noqa: E402


def fake(name: str) -> str:
    """Path of an executable fake replica under tests/fakes/."""
    return os.path.join(FAKES, name + ".py")


BENCHMARKS = {
    "total_msgs": [1000, 2000, 3000],
    "failures": [0, 1, 2],
    "duplicates": [0, 2, 5],
    "median_latency": [1, 2, 3],
}


def short_config(**overrides: Any) -> Dict[str, Any]:
    """A 5-second, 3-replica scenario; keyword arguments replace keys.

    Requests go out between 2 s and 4 s, which leaves the fakes time to
    start even on a loaded machine.  Get generation failures are not a
    concern of these tests (with few requests, and acknowledgements that may
    come late on a loaded machine, many draws find no key yet), so their
    limit is set out of reach; so is the latency one.
    """
    cfg: Dict[str, Any] = {
        "lifetime": 5,
        "replicas": 3,
        "requests": 40,
        "mix": 0.5,
        "start_wait": 2,
        "end_wait": 1,
        "tests": {
            "maximum_get_generation_fail_fraction": 1000,
            "benchmarks": copy.deepcopy(BENCHMARKS),
        },
    }
    cfg.update(overrides)
    return cfg


def write_json(directory: str, name: str, payload: Any) -> str:
    path = os.path.join(directory, name)
    with open(path, "w") as fh:
        json.dump(payload, fh)
    return path


def socket_files(directory: str) -> List[str]:
    out = []
    for entry in os.listdir(directory):
        try:
            if stat.S_ISSOCK(os.lstat(os.path.join(directory, entry)).st_mode):
                out.append(entry)
        except FileNotFoundError:
            pass
    return out


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    if os.path.isdir("/proc/self"):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return False
        return state != "Z"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def dies_within(pid: int, seconds: float = 2.0) -> bool:
    """True once ``pid`` is gone (or a zombie) within ``seconds``: a SIGKILL
    to a process group is delivered asynchronously, so a grandchild the
    simulator never reaps may still be exiting when the run returns."""
    deadline = time.monotonic() + seconds
    while pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def recorded_pids(directory: str) -> List[int]:
    pids = []
    for entry in os.listdir(directory):
        if entry.startswith(("pid-", "child-")):
            with open(os.path.join(directory, entry)) as fh:
                pids.append(int(fh.read().strip()))
    return pids


def simulate(replica: str, cfg: Dict[str, Any], seed: int, transport: str = "classic",
             workdir: Optional[str] = None) -> "RunResult":
    """Validate ``cfg`` and run it in a fresh temporary working directory."""
    config = validate_config(cfg, transport, name="test", path="<test>")
    workdir = workdir or tempfile.mkdtemp(prefix="simtest-")
    return run_simulation(config, replica, seed=seed, transport=transport,
                          silence=True, workdir=workdir)
