"""The linearizability check of a run's history, key by key.

Each key is a register that starts absent (``None``).  Puts answered ok and
gets answered ok must fit one sequential order consistent with real time;
puts that were never answered ok may or may not have taken effect.  A second
``ok`` to a get is one more read by the same request, answered later: its
value too must be one the key held between the request and that answer.
See docs/simulator.md, "Grading".

Two deciders, both exact:

* when every write that matters has its own value (the usual case: values
  are md5 chains), the *cluster* test: a write and the reads of its value
  must be one contiguous block of the order, so the history is linearizable
  iff each read can follow its write and the blocks can be ordered, which a
  topological sort over (latest invoke, earliest response) per block
  decides in O(n log n); a failure yields two blocks that must each precede
  the other;
* otherwise a Wing-Gong depth-first search over (linearized set, value)
  configurations, each visited once (Lowe's memoisation), with the set kept
  as a bitset and the candidates limited by real time (only operations
  invoked before every pending one's response); a read of the current value
  is linearized at once, never branched on.

A failure comes with a witness: a small set of operations that cannot be
ordered by themselves.  It keeps every write of each value its reads
return, so that any linearization of the whole history would order it: the
witness is a proof, not a hint.
"""

from __future__ import annotations

import bisect
import dataclasses
import heapq
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

if TYPE_CHECKING:
    from .clients import RequestRecord

INF = float("inf")
LINEARIZABLE = "linearizable"
NOT_LINEARIZABLE = "not linearizable"
UNDECIDED = "undecided"

# The time allowed for a whole run's check: a floor plus an allowance per
# operation.  Every recorded history so far is decided in well under 1 % of it.
BUDGET_FLOOR_S = 5.0
BUDGET_PER_OP_S = 0.001
# At most this long (and this many sub-checks) to shrink a witness.
WITNESS_TIME_S = 0.5


def time_budget(operations: int) -> float:
    """The check's time budget for a history of ``operations`` operations."""
    return BUDGET_FLOOR_S + BUDGET_PER_OP_S * operations


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
    client: str = ""
    duplicate: bool = False   # a read made of a second ok to the same get


@dataclass
class Decision:
    status: str                       # LINEARIZABLE, NOT_LINEARIZABLE or UNDECIDED
    nodes: int = 0                    # search configurations visited
    witness: List[Op] = field(default_factory=list)


class _OutOfBudget(Exception):
    pass


def _relevant(ops: Sequence[Op]) -> List[Op]:
    """Drop maybe-writes whose value no read returns: leaving them out (or
    putting them last) never hurts, so they cannot matter."""
    read_values = {o.value for o in ops if o.kind == "r"}
    return [o for o in ops if o.kind == "r" or o.required or o.value in read_values]


def _unwritten_read(ops: Sequence[Op]) -> Optional[Decision]:
    """A read of a value no write invoked before its response could supply."""
    first_invoke: Dict[Optional[str], float] = {}
    for o in ops:
        if o.kind == "w" and o.invoke < first_invoke.get(o.value, INF):
            first_invoke[o.value] = o.invoke
    for o in ops:
        if o.kind == "r" and o.value is not None and first_invoke.get(o.value, INF) > o.response:
            witness = [o] + [w for w in ops if w.kind == "w" and w.value == o.value]
            return Decision(NOT_LINEARIZABLE, 0, witness)
    return None


def _by_clusters(ops: Sequence[Op]) -> Decision:
    """The cluster test; ``ops`` are relevant, each write with its own value."""
    writes = {o.value: o for o in ops if o.kind == "w"}
    members: Dict[Optional[str], List[Op]] = {v: [w] for v, w in writes.items()}
    for o in ops:
        if o.kind == "r":
            members.setdefault(o.value, []).append(o)
    clusters: List[Tuple[float, float, Op, Op, Optional[Op]]] = []   # s, f, op of s, op of f, write
    for value, group in members.items():
        write = writes.get(value)
        s_op = max(group, key=lambda o: o.invoke)
        f_op = min(group, key=lambda o: o.response)
        # The initial value's block has a write at minus infinity: it comes first.
        f = f_op.response if write is not None else -INF
        clusters.append((s_op.invoke, f, s_op, f_op, write))
    n = len(clusters)
    alive = [True] * n
    by_f = [(c[1], i) for i, c in enumerate(clusters)]
    by_s = [(c[0], i) for i, c in enumerate(clusters)]
    heapq.heapify(by_f)
    heapq.heapify(by_s)

    def top_two(heap: List[Tuple[float, int]]) -> Tuple[Tuple[float, int], Tuple[float, int]]:
        while not alive[heap[0][1]]:
            heapq.heappop(heap)
        first = heapq.heappop(heap)
        while heap and not alive[heap[0][1]]:
            heapq.heappop(heap)
        second = heap[0] if heap else (INF, -1)
        heapq.heappush(heap, first)
        return first, second

    for _ in range(n):
        (f1, i1), (f2, i2) = top_two(by_f)
        (s1, j1), (s2, j2) = top_two(by_s)
        j, sj = (j1, s1) if j1 != i1 else (j2, s2)
        # A block can come next iff it invokes nothing after every other's
        # earliest response.
        if j >= 0 and sj <= f1:
            pick = j
        elif clusters[i1][0] <= f2:
            pick = i1
        else:
            # i1 must precede i2 (f1 < s of i2) and i2 must precede i1: the
            # witness is the two writes and, for each direction, an op that
            # responds before one of the other block is invoked (the writes
            # themselves when they do).
            witness = [c[4] for c in (clusters[i1], clusters[i2]) if c[4] is not None]
            for a, b in ((i1, i2), (i2, i1)):
                if clusters[a][4] is None:
                    continue      # the initial value's block precedes every other anyway
                early = [o for o in (clusters[a][4], clusters[a][3]) if o is not None]
                late = [o for o in (clusters[b][4], clusters[b][2]) if o is not None]
                pair = min(((x, y) for x in early for y in late if x.response < y.invoke),
                           key=lambda xy: sum(o not in witness for o in xy))
                witness += [o for o in pair if o not in witness]
            return Decision(NOT_LINEARIZABLE, n, witness)
        alive[pick] = False
    return Decision(LINEARIZABLE, n)


def _search(ops: Sequence[Op], deadline: Optional[float], max_nodes: Optional[int]) -> Decision:
    """The Wing-Gong search; ``ops`` are relevant."""
    req = sorted((o for o in ops if o.required), key=lambda o: (o.invoke, o.response))
    groups: Dict[Optional[str], List[float]] = {}
    for o in ops:
        if not o.required:
            groups.setdefault(o.value, []).append(o.invoke)
    opt_values = list(groups)
    opt_invokes = [sorted(groups[v]) for v in opt_values]
    n = len(req)
    inv = [o.invoke for o in req]
    resp = [o.response for o in req]
    is_read = [o.kind == "r" for o in req]
    vals = [o.value for o in req]

    stack: List[Tuple[int, Tuple[int, ...], Optional[str]]] = [(0, tuple(0 for _ in opt_values), None)]
    seen: Set[Tuple[int, Tuple[int, ...], Optional[str]]] = set()
    nodes = 0
    while stack:
        state = stack.pop()
        if state in seen:
            continue
        seen.add(state)
        mask, counts, cur = state
        lo = (~mask & (mask + 1)).bit_length() - 1     # the first operation not linearized
        if lo >= n:
            return Decision(LINEARIZABLE, nodes)
        nodes += 1
        if nodes & 255 == 0:
            if deadline is not None and time.monotonic() > deadline:
                raise _OutOfBudget
        if max_nodes is not None and nodes > max_nodes:
            raise _OutOfBudget
        # Candidates: pending operations invoked before every pending one's
        # response.  Operations are in invoke order, and a response is never
        # before its invoke, so the scan stops at the first invoke past the
        # smallest response seen.
        min_resp = INF
        cands: List[int] = []
        i = lo
        rest = mask >> lo
        while i < n and inv[i] <= min_resp:
            if not rest & 1:
                cands.append(i)
                if resp[i] < min_resp:
                    min_resp = resp[i]
            rest >>= 1
            i += 1
        taken = False
        for i in cands:
            if is_read[i] and vals[i] == cur and inv[i] <= min_resp:
                stack.append((mask | (1 << i), counts, cur))
                taken = True
                break
        if taken:
            continue
        # Of candidate writes with one value, only the earliest to respond
        # is tried: swapping two such writes in any linearization keeps it
        # one (same values throughout; the earlier response can only
        # loosen real time).  Maybe-writes respond never, so come last.
        first_write: Dict[Optional[str], int] = {}
        for i in cands:
            if not is_read[i] and inv[i] <= min_resp:
                j = first_write.get(vals[i])
                if j is None or resp[i] < resp[j]:
                    first_write[vals[i]] = i
        # A maybe-write is only worth placing right before a read of its
        # value (moving it later never breaks real time: it has no
        # response), so only when such a read is a candidate now.
        wanted = {vals[i] for i in cands if is_read[i] and inv[i] <= min_resp}
        for g, value in enumerate(opt_values):
            c = counts[g]
            if (value in wanted and c < len(opt_invokes[g]) and opt_invokes[g][c] <= min_resp
                    and value != cur and value not in first_write):
                stack.append((mask, counts[:g] + (c + 1,) + counts[g + 1:], value))
        # Pushed latest-responding first, so the earliest is tried first.
        for i in sorted(first_write.values(), key=lambda i: -resp[i]):
            stack.append((mask | (1 << i), counts, vals[i]))
    return Decision(NOT_LINEARIZABLE, nodes)


def _unique(ops: Sequence[Op]) -> bool:
    values = [o.value for o in ops if o.kind == "w"]
    return None not in values and len(set(values)) == len(values)


def _split_values(ops: Sequence[Op]) -> List[Op]:
    """Give writes of a repeated value distinct values where no read can
    tell them apart.

    A read's source (the last write before it) is a write of its value
    invoked before its response and not definitely followed by another
    write that responds before the read is invoked.  Writes of one value
    that share a possible reader, directly or through others, form a group;
    renaming each group's value keeps exactly the same linearizations,
    since every read's source lies in its own group."""
    last_before: List[Tuple[float, float]] = sorted(
        (o.response, o.invoke) for o in ops if o.kind == "w" and o.required)
    resps = [r for r, _ in last_before]
    prefix_max: List[float] = []
    m = -INF
    for _, i in last_before:
        m = max(m, i)
        prefix_max.append(m)
    writes_of: Dict[Optional[str], List[int]] = {}
    for idx, o in enumerate(ops):
        if o.kind == "w":
            writes_of.setdefault(o.value, []).append(idx)
    parent = list(range(len(ops)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    reader_of: Dict[int, int] = {}
    for idx, o in enumerate(ops):
        if o.kind != "r" or len(writes_of.get(o.value, ())) < 2:
            continue
        k = bisect.bisect_left(resps, o.invoke)      # writes responding before the read
        floor = prefix_max[k - 1] if k else -INF
        sources = [j for j in writes_of[o.value]
                   if ops[j].invoke <= o.response and ops[j].response >= floor]
        for j in sources[1:]:
            parent[find(j)] = find(sources[0])
        if sources:
            reader_of[idx] = sources[0]
    out: List[Op] = []
    for idx, o in enumerate(ops):
        group = None
        if o.kind == "w" and len(writes_of[o.value]) > 1:
            group = find(idx)
        elif idx in reader_of:
            group = find(reader_of[idx])
        if group is None:
            out.append(o)
            continue
        out.append(dataclasses.replace(o, value=f"{o.value}\x00{group}"))
    return out


def _decide(ops: Sequence[Op], deadline: Optional[float], max_nodes: Optional[int]) -> Decision:
    """Decide one register; raises _OutOfBudget.  No witness shrinking."""
    rel = _relevant(ops)
    refuted = _unwritten_read(rel)
    if refuted is not None:
        return refuted
    if _unique(rel):
        return _by_clusters(rel)
    renamed = _split_values(rel)
    renamed = _relevant(renamed)
    refuted = _unwritten_read(renamed)
    if refuted is None:
        d = _by_clusters(renamed) if _unique(renamed) else _search(renamed, deadline, max_nodes)
    else:
        d = refuted
    # A witness among renamed values may lean on operations that told the
    # groups apart; decide_register shrinks one from the original instead.
    d.witness = []
    return d


def _shrink(ops: List[Op], stop: float) -> List[Op]:
    """A smaller non-linearizable subset of ``ops`` that keeps every write of
    each value read (so it still proves the whole history wrong): drop
    chunks of operations, halving the chunk, while the rest stays refuted."""

    def refuted(candidate: List[Op]) -> bool:
        try:
            return _decide(candidate, stop, 20000).status == NOT_LINEARIZABLE
        except _OutOfBudget:
            return False

    chunk = max(1, len(ops) // 2)
    while chunk >= 1 and time.monotonic() < stop:
        i = 0
        while i < len(ops) and time.monotonic() < stop:
            kept_reads = {o.value for j, o in enumerate(ops)
                          if o.kind == "r" and not i <= j < i + chunk}
            trial = [o for j, o in enumerate(ops)
                     if not i <= j < i + chunk or (o.kind == "w" and o.value in kept_reads)]
            if len(trial) < len(ops) and refuted(trial):
                ops = trial
            else:
                i += chunk
        chunk //= 2
    return ops


def decide_register(ops: Sequence[Op], deadline: Optional[float] = None,
                    max_nodes: Optional[int] = None) -> Decision:
    """Decide whether a single register's history is linearizable, with a
    witness when it is not."""
    try:
        decision = _decide(ops, deadline, max_nodes)
    except _OutOfBudget:
        return Decision(UNDECIDED)
    if decision.status == NOT_LINEARIZABLE and len(decision.witness) == 0:
        stop = time.monotonic() + WITNESS_TIME_S
        if deadline is not None:
            stop = min(stop, max(deadline, time.monotonic() + 0.05))
        decision.witness = _shrink(list(ops), stop)
    decision.witness.sort(key=lambda o: (o.invoke, o.response))
    return decision


def check_register(ops: Sequence[Op], budget: Optional[int] = None,
                   deadline: Optional[float] = None) -> Tuple[str, int]:
    """The status of one register's history and the configurations visited."""
    d = decide_register(ops, deadline, budget)
    return d.status, d.nodes


def history_from_records(records: Iterable[RequestRecord]) -> Dict[str, List[Op]]:
    """Turn request records into per-key register histories."""
    per_key: Dict[str, List[Op]] = {}
    for r in records:
        ok = r.answer_type == "ok" and r.answered is not None
        ops = per_key.setdefault(r.key, [])
        if r.type == "put":
            ops.append(Op("w", r.value, r.sent, r.answered if ok else INF, ok,  # type: ignore[arg-type]
                          r.mid, r.client))
        elif ok:
            ops.append(Op("r", r.answer_value, r.sent, r.answered, True, r.mid, r.client))  # type: ignore[arg-type]
            for at, value in r.duplicate_answers:
                ops.append(Op("r", value, r.sent, at, True, r.mid, r.client, duplicate=True))
        if not ops:
            del per_key[r.key]    # a read that never returned constrains nothing
    return per_key


def op_to_json(o: Op) -> Dict[str, Any]:
    return {"client": o.client, "mid": o.mid, "op": "get" if o.kind == "r" else "put",
            "value": o.value, "invoke": o.invoke,
            "response": None if o.response == INF else o.response,
            "definite": o.required, "duplicate_answer": o.duplicate}


def check_linearizability(histories: Dict[str, List[Op]], time_limit: Optional[float] = None,
                          max_nodes_per_key: Optional[int] = None) -> Dict[str, Any]:
    """Check every key's history; the result is a JSON-ready summary.

    ``time_limit`` defaults to ``time_budget`` of the history's size.  Keys
    are checked smallest first; those not decided when it runs out are
    counted as undecided, never as linearizable.
    """
    t0 = time.monotonic()
    total_ops = sum(len(ops) for ops in histories.values())
    budget = time_budget(total_ops) if time_limit is None else time_limit
    deadline = t0 + budget
    bad: List[Tuple[str, Decision]] = []
    undecided: List[str] = []
    total_nodes = 0
    slowest = ("", 0.0)
    for key in sorted(histories, key=lambda k: (len(histories[k]), k)):
        ops = histories[key]
        if time.monotonic() > deadline:
            undecided.append(key)
            continue
        k0 = time.monotonic()
        d = decide_register(ops, deadline, max_nodes_per_key)
        spent = time.monotonic() - k0
        if spent > slowest[1]:
            slowest = (key, spent)
        total_nodes += d.nodes
        if d.status == NOT_LINEARIZABLE:
            bad.append((key, d))
        elif d.status == UNDECIDED:
            undecided.append(key)
    status = NOT_LINEARIZABLE if bad else UNDECIDED if undecided else LINEARIZABLE
    result: Dict[str, Any] = {
        "status": status,
        "keys": len(histories),
        "operations": total_ops,
        "decided_keys": len(histories) - len(undecided),
        "undecided": len(undecided),
        "undecided_keys": sorted(undecided),
        "violating_keys": [k for k, _ in bad],
        "search_states": total_nodes,
        "elapsed_s": time.monotonic() - t0,
        "budget_s": budget,
        "slowest_key": {"key": slowest[0], "elapsed_s": slowest[1]} if slowest[0] else None,
    }
    if bad:
        key, d = min(bad, key=lambda kd: (len(kd[1].witness), kd[0]))
        result["counterexample"] = {
            "key": key,
            "key_operations": len(histories[key]),
            "witness": [op_to_json(o) for o in d.witness],
        }
    return result
