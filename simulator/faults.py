"""The scenario's fault events: kills, partitions and restarts
(docs/simulator.md, "Events" and "Restarts")."""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence

from .clients import ClientPool
from .config import KILL_RESTART, RESTART, Event
from .errors import ReplicaError
from .events import EventSink
from .ids import BROADCAST
from .network import Network
from .processes import ReplicaProcess, ReplicaSet
from .workload import stream

# The second half of a kill_restart: a scheduled item of its own, ``down``
# seconds after the kill (``simulation.schedule``), never in a config.
RESTART_AFTER_KILL = "kill_restart/restart"

# Why a restart did not happen: the keys of ``Counters.restart_skip_reasons``.
SKIP_NOBODY_WAITING = "no killed replica waiting"
SKIP_KILLED_NOBODY = "its kill found nobody to kill"
SKIP_ALREADY_RUNNING = "the replica was already restarted"
SKIP_CANNOT_START = "the replica could not be started"


class Faults:
    """Fires ``kill_leader``, ``kill_non_leader``, ``part_easy``, ``part_hard``
    and ``part_end``, and our ``restart`` and ``kill_restart``; owns the
    random streams that pick victims and sides.

    ``events`` are the config's: a ``kill_restart`` is fired with its index
    there, and so is its restart (``RESTART_AFTER_KILL``), which restarts
    the replica that very kill killed.
    """

    def __init__(self, replicas: ReplicaSet, network: Network, pool: ClientPool, seed: int,
                 sink: Optional[EventSink] = None, events: Sequence[Event] = ()) -> None:
        self.replicas = replicas
        self.network = network
        self.pool = pool
        self.sink = sink
        self.events = tuple(events)
        self.rng_part = stream(seed, "partitions")
        self.rng_kill = stream(seed, "kills")
        self._actions: Dict[str, Callable[[], object]] = {
            "kill_leader": self.kill_leader, "kill_non_leader": self.kill_non_leader,
            "part_easy": self.part_easy, "part_hard": self.part_hard, "part_end": self.part_end,
            RESTART: self.restart,
        }
        # kill_restart index -> the replica its kill killed (None: nobody).
        self._victims: Dict[int, Optional[ReplicaProcess]] = {}
        self.restart_errors: List[str] = []     # why a replica could not be started again

    def fire(self, etype: str, index: int = -1) -> None:
        """Fire an event; ``index`` is its place in ``events`` (kill_restart needs it)."""
        if etype == KILL_RESTART:
            self.kill_restart(index)
        elif etype == RESTART_AFTER_KILL:
            self.restart_after_kill(index)
        else:
            action = self._actions.get(etype)
            if action is not None:
                action()

    def _forget_leader(self) -> None:
        """The simulator and every client forget who leads."""
        self.network.forget_leader()
        self.pool.forget_leader()

    def kill_leader(self) -> Optional[ReplicaProcess]:
        """Kill the known leader; the replica killed, if any."""
        leader = self.network.leader
        if leader == BROADCAST:
            return None
        rep = self.replicas.by_id.get(leader)
        killed = rep is not None and self.replicas.kill(rep)
        if killed and self.sink is not None:
            self.sink.emit("kill", {"replica": rep.id, "leader": True})  # type: ignore[union-attr]
        self._forget_leader()
        return rep if killed else None

    def kill_non_leader(self) -> Optional[ReplicaProcess]:
        """Kill a random living replica other than the known leader; the one killed, if any."""
        candidates = [r for r in self.replicas if r.alive and r.id != self.network.leader]
        if not candidates:
            return None
        rep = candidates[self.rng_kill.randrange(len(candidates))]
        self.replicas.kill(rep)
        if self.sink is not None:
            self.sink.emit("kill", {"replica": rep.id, "leader": False})
        return rep

    # ---- restarts -------------------------------------------------------------

    def restart(self) -> None:
        """``restart``: start the replica killed last again, if one is down."""
        rep = self.replicas.last_killed()
        if rep is None:
            self._skip(SKIP_NOBODY_WAITING)
            return
        self._restart(rep)

    def kill_restart(self, index: int) -> None:
        """The kill of a ``kill_restart``: as kill_leader or kill_non_leader."""
        who = self.events[index].who if 0 <= index < len(self.events) else "leader"
        self._victims[index] = self.kill_leader() if who == "leader" else self.kill_non_leader()

    def restart_after_kill(self, index: int) -> None:
        """The restart of a ``kill_restart``: the replica its kill killed."""
        rep = self._victims.pop(index, None)
        if rep is None:
            self._skip(SKIP_KILLED_NOBODY)
        elif rep.alive:
            self._skip(SKIP_ALREADY_RUNNING)
        else:
            self._restart(rep)

    def _restart(self, rep: ReplicaProcess) -> None:
        try:
            self.replicas.restart(rep)
        except ReplicaError as exc:
            self._skip(SKIP_CANNOT_START)
            self.restart_errors.append(f"{rep.id}: {exc}")
            return
        if self.sink is not None:
            self.sink.emit("restart", {"replica": rep.id})

    def _skip(self, reason: str) -> None:
        c = self.replicas.counters
        c.restart_skipped += 1
        c.restart_skip_reasons[reason] = c.restart_skip_reasons.get(reason, 0) + 1

    def _majority_size(self) -> int:
        return len(self.replicas) // 2 + 1

    def part_easy(self) -> None:
        """The known leader (if any) and random others make the majority side."""
        ids = self.replicas.ids
        leader = self.network.leader
        if leader in self.replicas.by_id:
            others = [i for i in ids if i != leader]
            members = [leader] + self.rng_part.sample(others, self._majority_size() - 1)
        else:
            members = self.rng_part.sample(ids, self._majority_size())
        self._split(members, hard=False)

    def part_hard(self) -> None:
        """Everyone forgets the leader; the majority side is picked at random."""
        self._forget_leader()
        self._split(self.rng_part.sample(self.replicas.ids, self._majority_size()), hard=True)

    def _split(self, members: List[str], hard: bool) -> None:
        self.network.split(members)
        if self.sink is not None:
            side = set(members)
            ids = self.replicas.ids
            self.sink.emit("partition", {"majority": [i for i in ids if i in side],
                                         "minority": [i for i in ids if i not in side],
                                         "hard": hard})

    def part_end(self) -> None:
        if self.network.heal() and self.sink is not None:
            self.sink.emit("partition_healed", {})
