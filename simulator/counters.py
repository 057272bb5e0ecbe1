"""The run's tallies, as graded and reported (docs/simulator.md, "Grading").

One ``Counters`` per run, shared by reference; each field has one writer:

* the network (``network.Network``): ``total_msgs``, ``total_drops`` and the
  ``incorrect`` packets it cannot route, also counted by reason in
  ``invalid_packets``;
* the clients (``clients.ClientPool``): requests generated, answers
  (``duplicates``, ``redirects``, ``failed_*``, incorrect answers), and at
  the end ``unanswered_*`` and ``keys_put``;
* the replica processes (``processes.ReplicaSet``): ``died``, ``killed``,
  ``restarted``, ``blocked`` and ``send_stalls``;
* the fault events (``faults.Faults``): ``restart_skipped`` and its reasons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict


@dataclass
class Counters:
    total_msgs: int = 0
    total_drops: int = 0
    incorrect: int = 0
    died: int = 0
    killed: int = 0
    restarted: int = 0         # replicas started again by a restart or kill_restart event
    restart_skipped: int = 0   # restarts that did not happen (nobody to restart, ...)
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
    # Reason (network.decode, network.malformation, ...) -> packets; their sum
    # is the part of ``incorrect`` that the network rejected.
    invalid_packets: Dict[str, int] = field(default_factory=dict)
    # Reason -> restarts skipped for it; their sum is ``restart_skipped``.
    restart_skip_reasons: Dict[str, int] = field(default_factory=dict)

    @property
    def failures(self) -> int:
        return self.failed_get + self.failed_put + self.unanswered_get + self.unanswered_put
