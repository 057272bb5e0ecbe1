"""Traffic accounting for the ``traffic`` state events (docs/simulator.md,
"Additions"; shared/README.md): every routed packet counted by (source,
destination, type, fate) in 100 ms windows."""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from .clock import Clock
from .events import EventSink
from .ids import BROADCAST, is_address

TRAFFIC_WINDOW_US = 100000
TRAFFIC_WINDOW = TRAFFIC_WINDOW_US / 1e6

# What became of a packet.
FATE_DELIVERED = "delivered"
FATE_DROPPED = "dropped"
FATE_PARTITIONED = "partitioned"
FATE_DEAD = "dead"
FATE_CLIENT = "client"
FATE_INVALID = "invalid"
MALFORMED_TYPE = "?"                 # traffic `type` of a packet that has none

Row = Tuple[str, str, str, str]      # (src, dst, type, fate)


class TrafficCounter:
    """The counts of the open window, sent to the sink when it closes."""

    def __init__(self, sink: EventSink, clock: Clock) -> None:
        self.sink = sink
        self.clock = clock
        self.counts: Dict[Row, int] = {}
        self.window = 0                  # the open window starts at window * 100 ms
        self.leader = BROADCAST          # the leader of the last traffic event

    def count(self, src: str, dst: str, mtype: str, fate: str) -> None:
        key = (src, dst, mtype, fate)
        self.counts[key] = self.counts.get(key, 0) + 1

    def count_invalid(self, src: str, msg: Optional[Dict[str, Any]]) -> None:
        """A packet counted as incorrect before any delivery (``msg``: None
        when it is not a JSON object)."""
        dst = msg.get("dst") if msg is not None else None
        mtype = msg.get("type") if msg is not None else None
        self.count(src, dst if type(dst) is str and is_address(dst) else BROADCAST,
                   mtype if type(mtype) is str else MALFORMED_TYPE, FATE_INVALID)

    def next_close(self) -> float:
        """When the open window ends, in seconds since the start."""
        return (self.window + 1) * TRAFFIC_WINDOW

    def close_window(self, now: float, leader: str, final: bool = False) -> None:
        """Close the open traffic window(s) at ``now`` (seconds since the start).

        A window is emitted when it routed packets or the leader changed; a
        loop pass that came late closes several windows as one (its
        ``window_us`` says so).  ``final`` closes the last, partial window.
        """
        idx = int(now / TRAFFIC_WINDOW)
        if not final and idx <= self.window:
            return
        start_us = self.window * TRAFFIC_WINDOW_US
        if final:
            end = now
            window_us = max(0, int(round(now * 1e6)) - start_us)
        else:
            end = idx * TRAFFIC_WINDOW
            window_us = (idx - self.window) * TRAFFIC_WINDOW_US
        if self.counts or leader != self.leader or final:
            self.sink.traffic(self.sink.at_us(self.clock.t0 + end), window_us, leader, self.counts)
            self.counts = {}
            self.leader = leader
        self.window = idx
