"""Traffic accounting for the ``traffic`` state events (docs/simulator.md,
"Additions"; shared/README.md): every routed packet counted by (source,
destination, type, fate) in 100 ms windows.

Counting is on the path of every packet, so it only appends one entry to
the open window's log (a broadcast is one entry for all its recipients);
the entries are summed into rows when the window's event is formatted, in
a quiet moment of the main loop (``EventSink.flush``).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from .clock import Clock
from .events import EventSink, TrafficEntry, tally_traffic
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
    """The log of the open window, sent to the sink when it closes."""

    def __init__(self, sink: EventSink, clock: Clock) -> None:
        self.sink = sink
        self.clock = clock
        self.log: List[TrafficEntry] = []   # the open window's packets
        self.window = 0                  # the open window starts at window * 100 ms
        self.leader = BROADCAST          # the leader of the last traffic event

    def count(self, src: str, dst: str, mtype: str, fate: str) -> None:
        self.log.append((src, dst, mtype, fate))

    def count_invalid(self, src: str, msg: Optional[Dict[str, Any]]) -> None:
        """A packet counted as incorrect before any delivery (``msg``: None
        when it is not a JSON object)."""
        dst = msg.get("dst") if msg is not None else None
        mtype = msg.get("type") if msg is not None else None
        self.count(src, dst if type(dst) is str and is_address(dst) else BROADCAST,
                   mtype if type(mtype) is str else MALFORMED_TYPE, FATE_INVALID)

    @property
    def counts(self) -> Dict[Row, int]:
        """The open window's counts so far."""
        return tally_traffic(self.log)

    def next_close(self) -> float:
        """When the open window ends, in seconds since the start."""
        return (self.window + 1) * TRAFFIC_WINDOW

    def close_window(self, now: float, leader: str, final: bool = False) -> None:
        """Close the open traffic window(s) at ``now`` (seconds since the start).

        A window is emitted when it routed packets or the leader changed; a
        loop pass that came late closes several windows as one (its
        ``window_us`` says so).  ``final`` closes the last, partial window.
        The log is handed over as it is and tallied when formatted.
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
        if self.log or leader != self.leader or final:
            self.sink.traffic(self.sink.at_us(self.clock.t0 + end), window_us, leader, self.log)
            self.log = []
            self.leader = leader
        self.window = idx
