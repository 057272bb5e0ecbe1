"""The linearizability check of a run's history: per key, a Wing-Gong search.

Each key is a register that starts absent.  Puts answered ok and gets
answered ok must fit one sequential order consistent with real time; puts
that were never answered ok may or may not have taken effect.  See
docs/simulator.md, "Additions".
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence, Tuple

if TYPE_CHECKING:
    from .clients import RequestRecord

INF = float("inf")


@dataclass(frozen=True)
class Op:
    """One operation on a register: a read (get) or a write (put).

    ``required`` operations completed with ok and must be in the
    linearization; the others (unanswered, fail, redirect puts) may or may
    not have taken effect, and have no response time.
    """

    kind: str              # "r" or "w"
    value: Optional[str]
    invoke: float
    response: float        # INF for operations that may or may not have happened
    required: bool
    mid: str = ""


@dataclass
class KeyResult:
    key: str
    status: str            # "linearizable", "not linearizable", "unknown"
    ops: int
    nodes: int


def check_register(ops: Sequence[Op], budget: int = 200000,
                   deadline: Optional[float] = None) -> Tuple[str, int]:
    """Decide whether a single register's history is linearizable.

    The register starts absent (``None``).  Returns the status and the number
    of search states visited.  Optional writes of the same value are
    interchangeable, so the search always takes the earliest-invoked unused
    one, and optional writes whose value no read returns are dropped.
    """
    read_values = {op.value for op in ops if op.kind == "r" and op.required}
    req = sorted((op for op in ops if op.required), key=lambda o: (o.invoke, o.response))
    groups: Dict[Optional[str], List[float]] = {}
    for op in ops:
        if not op.required and op.kind == "w" and op.value in read_values:
            groups.setdefault(op.value, []).append(op.invoke)
    opt_values = list(groups)
    opt_invokes = [sorted(groups[v]) for v in opt_values]
    n = len(req)
    full = (1 << n) - 1
    inv = [o.invoke for o in req]
    resp = [o.response for o in req]
    kinds = [o.kind for o in req]
    vals = [o.value for o in req]
    # Cheap refutation: a read of a value nobody could have written.
    written = {o.value for o in ops if o.kind == "w"}
    for o in req:
        if o.kind == "r" and o.value not in written:
            return "not linearizable", 0

    start = (0, tuple(0 for _ in opt_values), None)
    stack = [start]
    seen = set()
    nodes = 0
    while stack:
        state = stack.pop()
        if state in seen:
            continue
        seen.add(state)
        mask, counts, cur = state
        if mask == full:
            return "linearizable", nodes
        nodes += 1
        if nodes > budget or (deadline is not None and nodes % 1024 == 0 and time.monotonic() > deadline):
            return "unknown", nodes
        min_resp = INF
        for i in range(n):
            if not mask >> i & 1 and resp[i] < min_resp:
                min_resp = resp[i]
        # Optional writes first, so that required operations are tried first.
        for g, value in enumerate(opt_values):
            c = counts[g]
            if c < len(opt_invokes[g]) and opt_invokes[g][c] <= min_resp and value != cur:
                stack.append((mask, counts[:g] + (c + 1,) + counts[g + 1:], value))
        for i in range(n - 1, -1, -1):
            if mask >> i & 1 or inv[i] > min_resp:
                continue
            if kinds[i] == "r":
                if vals[i] == cur:
                    stack.append((mask | (1 << i), counts, cur))
            else:
                stack.append((mask | (1 << i), counts, vals[i]))
    return "not linearizable", nodes


def history_from_records(records: Iterable[RequestRecord]) -> Dict[str, List[Op]]:
    """Turn request records into per-key register histories."""
    per_key: Dict[str, List[Op]] = {}
    for r in records:
        ok = r.answer_type == "ok" and r.answered is not None
        if r.type == "put":
            op = Op("w", r.value, r.sent, r.answered if ok else INF, ok, r.mid)  # type: ignore[arg-type]
        elif ok:
            op = Op("r", r.answer_value, r.sent, r.answered, True, r.mid)  # type: ignore[arg-type]
        else:
            continue   # a read that never returned constrains nothing
        per_key.setdefault(r.key, []).append(op)
    return per_key


def check_linearizability(histories: Dict[str, List[Op]], time_limit: float = 1.5,
                          budget_per_key: int = 200000) -> Dict[str, Any]:
    """Check every key's history; the result is a JSON-ready summary."""
    t0 = time.monotonic()
    deadline = t0 + time_limit
    bad: List[KeyResult] = []
    unknown: List[KeyResult] = []
    total_ops = 0
    total_nodes = 0
    checked = 0
    for key in sorted(histories, key=lambda k: len(histories[k])):
        ops = histories[key]
        total_ops += len(ops)
        if time.monotonic() > deadline:
            unknown.append(KeyResult(key, "unknown", len(ops), 0))
            continue
        status, nodes = check_register(ops, budget_per_key, deadline)
        total_nodes += nodes
        checked += 1
        if status == "not linearizable":
            bad.append(KeyResult(key, status, len(ops), nodes))
        elif status == "unknown":
            unknown.append(KeyResult(key, status, len(ops), nodes))
    if bad:
        status = "not linearizable"
    elif unknown:
        status = "unknown"
    else:
        status = "linearizable"
    result: Dict[str, Any] = {
        "status": status,
        "keys": len(histories),
        "operations": total_ops,
        "search_states": total_nodes,
        "violating_keys": [k.key for k in bad],
        "unknown_keys": [k.key for k in unknown],
        "elapsed_s": time.monotonic() - t0,
    }
    if bad:
        key = min(bad, key=lambda k: k.ops).key
        result["counterexample"] = {
            "key": key,
            "operations": [
                {"mid": o.mid, "kind": "get" if o.kind == "r" else "put", "value": o.value,
                 "invoke": o.invoke, "response": None if o.response == INF else o.response,
                 "definite": o.required}
                for o in sorted(histories[key], key=lambda o: o.invoke)],
        }
    return result


