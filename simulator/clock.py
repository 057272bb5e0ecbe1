"""The run's clock: seconds since the run started, on the monotonic clock."""

from __future__ import annotations

import time


class Clock:
    def __init__(self) -> None:
        self.t0 = 0.0          # time.monotonic() at the start of the run
        self.end = 0.0         # when the run ends, in seconds since t0

    def start(self, end: float = 0.0) -> None:
        """(Re)start the clock now; the run will end ``end`` seconds later."""
        self.t0 = time.monotonic()
        self.end = end

    def now(self) -> float:
        return time.monotonic() - self.t0

    def since_start(self, mono_ns: int) -> float:
        """A ``time.monotonic_ns()`` reading in seconds since the start."""
        return (mono_ns / 1e9) - self.t0

    def remaining(self) -> float:
        return self.end - self.now()
