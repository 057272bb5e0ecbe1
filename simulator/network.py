"""The network between replicas and clients (docs/simulator.md, "Routing").

``Network`` owns what decides a packet's fate: the partition, the drop
stream, and the leader the simulator learns from the packets it routes.
Routing one packet reads top to bottom in ``route``: validate, learn the
leader, then forward it to replicas (each counted, then partitioned,
dropped or delivered), hand it to a client, or reject it.
"""

from __future__ import annotations

import json
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Tuple

from .clients import Client, ClientPool
from .clock import Clock
from .config import Config
from .counters import Counters
from .events import REQUEST_ANSWERED, REQUEST_SENT, EventSink
from .ids import BROADCAST, is_address
from .pace import Pace, pace_or_native
from .processes import ReplicaProcess, ReplicaSet
from .traffic import (FATE_CLIENT, FATE_DEAD, FATE_DELIVERED, FATE_DROPPED, FATE_INVALID,
                      FATE_PARTITIONED, TrafficCounter)
from .workload import stream


# Why a packet from a replica is invalid: the keys of ``Counters.invalid_packets``.
NOT_UTF8 = "not utf-8"
TOO_DEEP = "json: nested too deep"
NUMBER_TOO_LONG = "json: number too long"
NOT_JSON_CONSTANT = "json: NaN or Infinity"
NOT_AN_OBJECT = "not an object"
BEFORE_HELLO = "before hello"
UNKNOWN_DST = "unknown dst"
ROUTING_ERROR = "routing error: "       # + the exception's class name
ADDRESS_FIELDS = ("src", "dst", "leader")


class _NotJson(ValueError):
    """NaN, Infinity and -Infinity: Python reads them, JSON has no such thing."""


def _reject_constant(name: str) -> Any:
    raise _NotJson(name)


# One decoder, made once: json.loads with an argument would build one per call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def decode(data: bytes) -> Tuple[Optional[Dict[str, Any]], str]:
    """The JSON object a packet holds and "", or None and why not.

    Every way a packet can fail to decode is one of these reasons: a packet
    nested 16,000 deep raises RecursionError in the parser, a 5,000-digit
    integer ValueError, and neither may end the run.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None, NOT_UTF8
    try:
        msg = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        # The message without the position, so that the reasons stay few
        # ("Invalid control character at" loses its dangling "at").
        return None, "json: " + exc.msg.removesuffix(" at")
    except RecursionError:
        return None, TOO_DEEP
    except _NotJson:
        return None, NOT_JSON_CONSTANT
    except ValueError as exc:
        # Python refuses to convert integers of more than 4300 digits.
        return None, NUMBER_TOO_LONG if "integer string conversion" in str(exc) else "json: " + type(exc).__name__
    if type(msg) is not dict:
        return None, NOT_AN_OBJECT
    return msg, ""


def well_formed(msg: Dict[str, Any]) -> bool:
    """String ``src``, ``dst``, ``leader`` and ``type``, the first three addresses."""
    src = msg.get("src")
    dst = msg.get("dst")
    leader = msg.get("leader")
    return bool(type(src) is str and type(dst) is str and type(leader) is str
                and type(msg.get("type")) is str
                and is_address(src) and is_address(dst) and is_address(leader))


def malformation(msg: Dict[str, Any]) -> str:
    """Why ``msg`` is not ``well_formed`` (its first bad field), or ""."""
    for name in ADDRESS_FIELDS + ("type",):
        if name not in msg:
            return f"field {name}: missing"
        value = msg[name]
        if type(value) is not str:
            return f"field {name}: wrong type"
        if name != "type" and not is_address(value):
            return f"field {name}: not an address"
    return ""


class Network:
    def __init__(self, config: Config, replicas: ReplicaSet, pool: ClientPool, counters: Counters,
                 clock: Clock, seed: int, sink: Optional[EventSink] = None,
                 traffic: Optional[TrafficCounter] = None, pace: Optional[Pace] = None) -> None:
        self.replicas = replicas
        self.pace = pace_or_native(pace)
        self.pool = pool
        self.counters = counters
        self.clock = clock
        self.sink = sink
        self.traffic = traffic              # None without state events
        self.drops = config.drops
        self.rng_drop = stream(seed, "drops")
        self.partition: Optional[FrozenSet[str]] = None   # the majority side, while partitioned
        self.leader = BROADCAST                            # the leader as the simulator knows it
        self.leaders: List[str] = [BROADCAST]              # every change of it
        # A broadcast's recipients and their ids, by sender id (the set of
        # replicas, dead ones included, never changes during a run).
        self._others: Dict[str, Tuple[List[ReplicaProcess], Tuple[str, ...]]] = {}

    # ---- the leader view and the partition ---------------------------------

    def forget_leader(self) -> None:
        self.leader = BROADCAST

    def split(self, majority: Iterable[str]) -> None:
        self.partition = frozenset(majority)

    def heal(self) -> bool:
        """End the partition; False if there was none."""
        healed = self.partition is not None
        self.partition = None
        return healed

    # ---- packets from replicas -------------------------------------------------

    def route(self, sender: ReplicaProcess, data: bytes, t_read_ns: int) -> None:
        """Route one packet from a replica, read at ``t_read_ns`` (monotonic).

        Whatever goes wrong with one packet makes it invalid, with a reason,
        and the run goes on (KeyboardInterrupt and SystemExit still stop it).
        """
        msg: Optional[Dict[str, Any]] = None
        try:
            msg, reason = decode(data)
            if msg is None:
                self._reject(sender, None, reason)
                return
            if not well_formed(msg):
                self._reject(sender, msg, malformation(msg))
                return
            if self.replicas.awaiting_hello(sender):
                self._reject(sender, msg, BEFORE_HELLO)
                return
            self._learn_leader(sender, msg["leader"])
            dst = msg["dst"]
            if dst == BROADCAST or dst in self.replicas.by_id:
                self._forward(sender, dst, msg["type"], data)
            elif dst in self.pool.by_id:
                self._to_client(sender, self.pool.by_id[dst], msg, t_read_ns)
            else:
                self._reject(sender, msg, UNKNOWN_DST)
        except Exception as exc:  # noqa: BLE001 -- any failure is this packet's, not the run's
            self._reject(sender, msg, ROUTING_ERROR + type(exc).__name__)

    def _reject(self, sender: ReplicaProcess, msg: Optional[Dict[str, Any]], reason: str) -> None:
        """Count a packet that cannot be routed as incorrect, by ``reason``; it goes nowhere."""
        c = self.counters
        c.incorrect += 1
        c.invalid_packets[reason] = c.invalid_packets.get(reason, 0) + 1
        if self.traffic is not None:
            self.traffic.count_invalid(sender.id, msg)

    def _learn_leader(self, sender: ReplicaProcess, leader: str) -> None:
        """Believe the sender's leader, unless it is cut off from the majority."""
        if self.partition is None or sender.id in self.partition:
            if leader != self.leaders[-1]:
                self.leaders.append(leader)
            self.leader = leader

    def _forward(self, sender: ReplicaProcess, dst: str, mtype: str, data: bytes) -> None:
        """Replica to replica: one message per recipient (a broadcast counts
        the dead too), each then partitioned, dropped or delivered.

        The traffic count is one log entry per packet, a broadcast's fates
        filled in as its recipients are served (``traffic.TrafficCounter``):
        no per-recipient bookkeeping between two deliveries.
        """
        fate = self._fate
        if dst != BROADCAST:
            self.counters.total_msgs += 1
            result = fate(sender, self.replicas.by_id[dst], data)
            if self.traffic is not None:
                self.traffic.log.append((sender.id, dst, mtype, result))
            return
        others = self._others.get(sender.id)
        if others is None:
            recipients = [r for r in self.replicas if r is not sender]
            others = self._others[sender.id] = (recipients, tuple(r.id for r in recipients))
        recipients = others[0]
        self.counters.total_msgs += len(recipients)
        if self.traffic is None:
            for rep in recipients:
                fate(sender, rep, data)
            return
        # Logged first, filled as it goes: a routing error half way keeps
        # the recipients already served.
        fates: List[str] = []
        self.traffic.log.append((sender.id, others[1], mtype, fates))
        for rep in recipients:
            fates.append(fate(sender, rep, data))

    def _fate(self, sender: ReplicaProcess, rep: ReplicaProcess, data: bytes) -> str:
        part = self.partition
        if part is not None and (sender.id in part) != (rep.id in part):
            return FATE_PARTITIONED
        if self.drops and self.rng_drop.random() < self.drops:
            self.counters.total_drops += 1
            return FATE_DROPPED
        return FATE_DELIVERED if self.replicas.deliver(rep, data) else FATE_DEAD

    def _to_client(self, sender: ReplicaProcess, client: Client, msg: Dict[str, Any], t_read_ns: int) -> None:
        """An answer: never dropped, whatever the partition; a redirect or a
        fail is retried at once with a new MID."""
        t_read = self.clock.since_start(t_read_ns)
        rec, incorrect = self.pool.receive(client, msg, sender.id, t_read)
        traffic = self.traffic
        if traffic is not None:
            traffic.log.append((sender.id, client.id, msg["type"], FATE_INVALID if incorrect else FATE_CLIENT))
        if rec is not None:
            if self.sink is not None:
                # The record holds every field (answered_by is sender.id,
                # answer_type msg["type"], answered t_read): formatted later.
                self.sink.add((REQUEST_ANSWERED, rec, self.clock.t0))
            if rec.answer_type != "ok":
                self.send_request(client, rec.type, rec.key, rec.value, self.pool.new_mid(), retry_of=rec.mid)

    # ---- packets from clients -------------------------------------------------------

    def send_request(self, client: Client, rtype: str, key: str, value: Optional[str], mid: str,
                     retry_of: Optional[str] = None) -> None:
        """A client's request, to the replica it believes leads (never dropped)."""
        target = self.pool.choose_target(client, self.replicas)
        rec = self.pool.open(client, rtype, key, value, mid, self.clock.now(),
                             target.id if target else BROADCAST, retry_of)
        if target is not None:
            msg = {"src": client.id, "dst": target.id, "leader": client.belief, "type": rtype,
                   "MID": mid, "key": key}
            if rtype == "put":
                msg["value"] = value
            self.pace.before_send()
            self.replicas.deliver(target, json.dumps(msg).encode("utf-8"))
        if self.sink is not None:
            # After the send, so that it costs the request nothing; stamped
            # with the time of sending, formatted later from the record.
            self.sink.add((REQUEST_SENT, rec, self.clock.t0))
