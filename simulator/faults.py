"""The scenario's fault events: kills and partitions (docs/simulator.md, "Events")."""

from __future__ import annotations

from typing import Callable, Dict, List, Optional

from .clients import ClientPool
from .events import EventSink
from .ids import BROADCAST
from .network import Network
from .processes import ReplicaSet
from .workload import stream


class Faults:
    """Fires ``kill_leader``, ``kill_non_leader``, ``part_easy``, ``part_hard``
    and ``part_end``; owns the random streams that pick victims and sides."""

    def __init__(self, replicas: ReplicaSet, network: Network, pool: ClientPool, seed: int,
                 sink: Optional[EventSink] = None) -> None:
        self.replicas = replicas
        self.network = network
        self.pool = pool
        self.sink = sink
        self.rng_part = stream(seed, "partitions")
        self.rng_kill = stream(seed, "kills")
        self._actions: Dict[str, Callable[[], None]] = {
            "kill_leader": self.kill_leader, "kill_non_leader": self.kill_non_leader,
            "part_easy": self.part_easy, "part_hard": self.part_hard, "part_end": self.part_end,
        }

    def fire(self, etype: str) -> None:
        action = self._actions.get(etype)
        if action is not None:
            action()

    def _forget_leader(self) -> None:
        """The simulator and every client forget who leads."""
        self.network.forget_leader()
        self.pool.forget_leader()

    def kill_leader(self) -> None:
        leader = self.network.leader
        if leader == BROADCAST:
            return
        rep = self.replicas.by_id.get(leader)
        if rep is not None and self.replicas.kill(rep) and self.sink is not None:
            self.sink.emit("kill", {"replica": rep.id, "leader": True})
        self._forget_leader()

    def kill_non_leader(self) -> None:
        candidates = [r for r in self.replicas if r.alive and r.id != self.network.leader]
        if candidates:
            rep = candidates[self.rng_kill.randrange(len(candidates))]
            self.replicas.kill(rep)
            if self.sink is not None:
                self.sink.emit("kill", {"replica": rep.id, "leader": False})

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
