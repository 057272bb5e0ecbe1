"""How long the simulator takes over each packet it handles, and when it
fires what is scheduled.

run.py routes a packet in ~35 µs; the course's classic simulator, also one
Python thread, takes ~150 µs (measured there: a stand-in replica that
answers at once sees a 0.31 ms median over the two hops of a request and
its answer). Replicas batch by what queues up while the simulator is busy,
so timing-dependent behaviour (how many puts share one AppendEntries in a
burst) only reproduces at the course's pace. ``--pace course`` makes every
hop cost at least that long, the way the course's does: the single loop is
busy the whole time (it spins, it does not sleep), so nothing else is read,
routed or fired meanwhile.

The course's loop also waits a fixed 0.1 s for packets before it looks at
the schedule, so on a quiet network the requests due meanwhile go out
together, in a clump, when a packet or the timeout wakes it. run.py's native
loop wakes for each request on time. ``course`` does as the course does.
"""

from __future__ import annotations

import re
import time
from typing import Optional

from .errors import SimulatorError

NATIVE = "native"
COURSE = "course"
# Per hop, read to forward. At this value kvfloor, which answers at once,
# has about the stand-in's 0.31 ms median in simple-1 (docs/BENCHMARKS.md).
COURSE_HOP_US = 150
# A hop may not stall the loop past the simulator's own select timeout.
MAX_HOP_US = 100_000

_US = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*(us|µs|ms)$")


class Pace:
    """The least time each hop takes; 0 means as fast as run.py goes."""

    def __init__(self, hop_us: float = 0.0, wake_for_schedule: bool = True) -> None:
        if not 0 <= hop_us <= MAX_HOP_US:
            raise SimulatorError(f"a hop's pace must be between 0 and {MAX_HOP_US} µs (got {hop_us:g})")
        self.hop_us = hop_us
        self.hop_ns = int(hop_us * 1000)
        # False: scheduled requests and faults wait for the loop to wake on a
        # packet or its fixed timeout, as in the course's loop.
        self.wake_for_schedule = wake_for_schedule
        # run.py's own routing time, learned as it goes, so that a paced hop
        # costs hop_us in all rather than hop_us plus our own work.
        self._own_ns = 0.0

    @property
    def label(self) -> str:
        """What the report and --json say (``pace`` in the JSON)."""
        if not self.hop_ns and self.wake_for_schedule:
            return NATIVE
        if self.hop_us == COURSE_HOP_US and not self.wake_for_schedule:
            return COURSE
        return f"{self.hop_us:g}us"

    def before_forward(self, t_read_ns: int) -> None:
        """Hold a packet read at ``t_read_ns`` (monotonic) until its hop has
        taken its time, less what routing it will take."""
        if self.hop_ns:
            _spin_until(t_read_ns + self.hop_ns - int(self._own_ns))

    def learn_own_cost(self, ns: int) -> None:
        """One routing's own time, in ns (a slow-moving average of them)."""
        if self.hop_ns:
            self._own_ns += (min(ns, self.hop_ns) - self._own_ns) / 64

    def before_send(self) -> None:
        """Take a hop's time over a request the simulator makes itself."""
        if self.hop_ns:
            _spin_until(time.monotonic_ns() + self.hop_ns)


def _spin_until(deadline_ns: int) -> None:
    mono = time.monotonic_ns
    while mono() < deadline_ns:
        pass


def parse_pace(text: str) -> Pace:
    """``native``, ``course`` or a time per hop such as ``150us`` or ``0.5ms``
    (which keeps the native loop's timely wake-ups)."""
    t = text.strip().lower()
    if t == NATIVE:
        return Pace(0.0)
    if t == COURSE:
        return Pace(COURSE_HOP_US, wake_for_schedule=False)
    m = _US.match(t)
    if m is None:
        raise SimulatorError(f"--pace must be 'native', 'course' or a time per hop like 150us or 0.2ms "
                             f"(got {text!r})")
    value = float(m.group(1)) * (1000.0 if m.group(2) == "ms" else 1.0)
    return Pace(value)


def pace_or_native(pace: Optional[Pace]) -> Pace:
    return pace if pace is not None else Pace(0.0)
