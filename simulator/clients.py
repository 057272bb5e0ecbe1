"""The 8 simulated clients: what each knows, and every request they made.

See docs/simulator.md, "Requests" and "Answers".  ``ClientPool`` owns the
clients' state (leader belief, acknowledged values, outstanding requests),
the request log with its latencies, and the random choices clients make
(which replica to ask when they know no leader, the MID of a retry).
Sending and receiving packets is the network's job (``network.Network``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, NamedTuple, Optional, Set, Tuple

from .counters import Counters
from .ids import BROADCAST, client_ids
from .workload import Draw, Planned, Workload, plan_request, random_name, stream

if TYPE_CHECKING:
    from .processes import ReplicaProcess, ReplicaSet

ANSWER_TYPES = ("ok", "fail", "redirect")


@dataclass
class RequestRecord:
    """One request (one MID) and what became of it."""

    mid: str
    client: str
    type: str
    key: str
    value: Optional[str]
    sent: float
    target: str
    retry_of: Optional[str] = None
    answered: Optional[float] = None
    answer_type: Optional[str] = None
    answered_by: Optional[str] = None
    answer_value: Optional[str] = None
    duplicates: int = 0
    wrong_value: bool = False
    # (arrival time, value) of each further ok to this get: each is checked
    # for linearizability like a read answered at that time.
    duplicate_answers: List[Tuple[float, Optional[str]]] = field(default_factory=list)

    @property
    def latency(self) -> Optional[float]:
        return None if self.answered is None else self.answered - self.sent

    def to_json(self) -> Dict[str, Any]:
        return {
            "mid": self.mid, "client": self.client, "type": self.type, "key": self.key,
            "value": self.value, "sent": self.sent, "target": self.target,
            "retry_of": self.retry_of, "answered": self.answered,
            "answer_type": self.answer_type, "answered_by": self.answered_by,
            "answer_value": self.answer_value, "latency": self.latency,
            "duplicates": self.duplicates, "wrong_value": self.wrong_value,
            "duplicate_answers": [{"answered": at, "value": v} for at, v in self.duplicate_answers],
        }


@dataclass
class Client:
    id: str
    belief: str = BROADCAST
    held: Dict[str, str] = field(default_factory=dict)   # key -> value acknowledged by ok
    outstanding: Dict[str, RequestRecord] = field(default_factory=dict)


class Reception(NamedTuple):
    """What an answer did: the request it answered, if it was the first
    answer to an outstanding one, and whether it was counted incorrect."""

    record: Optional[RequestRecord]
    incorrect: bool


def answer_value(msg: Dict[str, Any]) -> Optional[str]:
    """The value of an ok to a get, as recorded: a non-string one as its JSON."""
    value = msg.get("value")
    return value if isinstance(value, str) else (None if value is None else json.dumps(value))


class ClientPool:
    """The 8 clients' knowledge, and the rules that turn draws into requests."""

    def __init__(self, n_replicas: int, mix: float, seed: int = 0,
                 counters: Optional[Counters] = None) -> None:
        self.clients = [Client(cid) for cid in client_ids(n_replicas)]
        self.by_id = {c.id: c for c in self.clients}
        self.mix = mix
        self.counters = counters if counters is not None else Counters()
        self.workload = Workload(seed)
        self.rng_route = stream(seed, "routing")
        self.rng_retry = stream(seed, "retry-mids")
        self.records: List[RequestRecord] = []          # every request, in the order sent
        self.latencies: List[float] = []                # of every first answer
        self.ok_records: Dict[str, RequestRecord] = {}  # MID -> request answered ok
        self.keys_put: Set[str] = set()

    # ---- making requests --------------------------------------------------

    def plan(self, d: Draw) -> Planned:
        return plan_request(d, self.clients[d.client].held, self.mix)

    def next_request(self) -> Tuple[Client, Planned]:
        """The next scheduled request: who makes it and what it is (counted)."""
        planned = self.plan(self.workload.next())
        c = self.counters
        if planned.failed_to_generate_get:
            c.failed_to_generate_get += 1
        if planned.type == "get":
            c.generated_get += 1
        else:
            c.generated_put += 1
        return self.clients[planned.client], planned

    def choose_target(self, client: Client, replicas: "ReplicaSet") -> Optional["ReplicaProcess"]:
        """The replica the client believes leads, if alive; else a random
        living one, and the client's belief resets."""
        target = replicas.by_id.get(client.belief)
        if target is None or not target.alive:
            living = replicas.living()
            client.belief = BROADCAST
            target = living[self.rng_route.randrange(len(living))] if living else None
        return target

    def open(self, client: Client, rtype: str, key: str, value: Optional[str], mid: str,
             sent: float, target: str, retry_of: Optional[str] = None) -> RequestRecord:
        """Log a request the client sends now; it is outstanding until answered."""
        rec = RequestRecord(mid=mid, client=client.id, type=rtype, key=key, value=value,
                            sent=sent, target=target, retry_of=retry_of)
        self.records.append(rec)
        client.outstanding[mid] = rec
        return rec

    def new_mid(self) -> str:
        """The MID of a retry."""
        return random_name(self.rng_retry, 16)

    def forget_leader(self) -> None:
        for client in self.clients:
            client.belief = BROADCAST

    # ---- answers ------------------------------------------------------------

    def receive(self, client: Client, msg: Dict[str, Any], replica: str, t_read: float) -> Reception:
        """Take an answer from ``replica`` read at ``t_read`` (docs/simulator.md, "Answers")."""
        c = self.counters
        mid = msg.get("MID")
        rtype = msg["type"]
        if not isinstance(mid, str) or rtype not in ANSWER_TYPES:
            c.incorrect += 1
            return Reception(None, True)
        if mid in self.ok_records:
            c.duplicates += 1
            first = self.ok_records[mid]
            first.duplicates += 1
            if first.type == "get" and rtype == "ok":
                first.duplicate_answers.append((t_read, answer_value(msg)))
            return Reception(None, False)
        rec = client.outstanding.pop(mid, None)
        if rec is None:
            c.incorrect += 1
            return Reception(None, True)
        rec.answered = t_read
        rec.answer_type = rtype
        rec.answered_by = replica
        self.latencies.append(t_read - rec.sent)
        client.belief = msg["leader"]
        if rtype != "ok":
            c.redirects += 1
            if rtype == "fail":
                if rec.type == "get":
                    c.failed_get += 1
                else:
                    c.failed_put += 1
            return Reception(rec, False)
        self.ok_records[mid] = rec
        if rec.type == "put":
            client.held[rec.key] = rec.value  # type: ignore[assignment]
            self.keys_put.add(rec.key)
            return Reception(rec, False)
        value = msg.get("value")
        rec.answer_value = answer_value(msg)
        if value != client.held.get(rec.key):
            rec.wrong_value = True
            c.incorrect += 1
            return Reception(rec, True)
        return Reception(rec, False)

    def finish(self) -> None:
        """At the end of the run: what is still outstanding is unanswered."""
        c = self.counters
        for client in self.clients:
            for rec in client.outstanding.values():
                if rec.type == "get":
                    c.unanswered_get += 1
                else:
                    c.unanswered_put += 1
        c.keys_put = len(self.keys_put)
