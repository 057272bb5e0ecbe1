"""The workload: seeded random streams, and the rules that turn draws into requests.

See docs/simulator.md, "Requests".  Every request consumes the same draws
whatever the clients know, so the sequence depends on the seed alone.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from .config import Config
from .ids import NUM_CLIENTS

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def stream(seed: int, purpose: str) -> random.Random:
    """An independent, reproducible random stream for one purpose."""
    return random.Random(f"3700sim:{seed}:{purpose}")


def random_name(rng: random.Random, length: int) -> str:
    """``length`` random characters of [A-Z0-9]: MIDs (16) and new keys (32)."""
    return "".join(rng.choices(ALNUM, k=length))


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
    """The random stream behind scheduled requests."""

    def __init__(self, seed: int) -> None:
        self._rng = stream(seed, "workload")

    def next(self) -> Draw:
        r = self._rng
        return Draw(
            client=r.randrange(NUM_CLIENTS), u_type=r.random(), u_new=r.random(),
            u_key=r.random(), mid=random_name(r, 16), new_key=random_name(r, 32))


@dataclass(frozen=True)
class Planned:
    """A request the workload decided to make."""

    client: int
    type: str
    key: str
    value: Optional[str]
    mid: str
    failed_to_generate_get: bool


def plan_request(d: Draw, held: Dict[str, str], mix: float) -> Planned:
    """What draw ``d`` asks of a client that holds ``held`` (key -> value acknowledged by ok)."""
    failed = False
    if d.u_type < mix:
        if held:
            keys = list(held)
            key = keys[int(d.u_key * len(keys))]
            return Planned(d.client, "get", key, None, d.mid, False)
        failed = True
    if d.u_new < 0.5 or not held:
        key = d.new_key
        value = md5_hex(key)
    else:
        keys = list(held)
        key = keys[int(d.u_key * len(keys))]
        value = md5_hex(held[key])
    return Planned(d.client, "put", key, value, d.mid, failed)


def least_generation_failures(config: Config, seed: int) -> Tuple[int, int]:
    """(failed_to_generate_get, generated_get) for this seed's workload if
    every put were answered ok before the next request: the fewest any
    replica can get, since the draws do not depend on the answers."""
    workload = Workload(seed)
    held: List[Dict[str, str]] = [{} for _ in range(NUM_CLIENTS)]
    failed = gets = 0
    for _ in range(config.requests):
        d = workload.next()
        planned = plan_request(d, held[d.client], config.mix)
        failed += planned.failed_to_generate_get
        if planned.type == "get":
            gets += 1
        else:
            held[planned.client][planned.key] = planned.value  # type: ignore[assignment]
    return failed, gets
