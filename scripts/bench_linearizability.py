#!/usr/bin/env python3
"""Time the linearizability checker on recorded or synthetic histories.

    scripts/bench_linearizability.py RUN.json ...        # from ./run.py --json
    scripts/bench_linearizability.py --synthetic 10000   # generated histories

For each history: the verdict, the total time against the budget, and the
slowest keys.  Synthetic histories come from a simulated correct register
(every operation takes effect at a random point of its interval, a tenth of
the puts are never answered and take effect or not); ``--keys`` few keys and
``--overlap`` seconds per operation make the concurrency heavy.  Each is
checked as generated (linearizable), with one read made stale (not
linearizable), with some puts repeating the previous value, and (with
``--values``) with values drawn from a few: repeats the checker cannot
tell apart send it to its search, which such histories can defeat (deciding
them is NP-complete).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from simulator.clients import RequestRecord  # noqa: E402
from simulator.linearizability import (INF, Op, check_linearizability, decide_register,  # noqa: E402
                                       history_from_records, time_budget)


def records_from_json(path: str) -> List[Tuple[str, List[RequestRecord]]]:
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    runs = data["runs"] if isinstance(data, dict) and "runs" in data else [data]
    out = []
    for run in runs:
        records = []
        for q in run.get("requests", []):
            rec = RequestRecord(mid=q["mid"], client=q["client"], type=q["type"], key=q["key"],
                                value=q["value"], sent=q["sent"], target=q["target"],
                                retry_of=q.get("retry_of"))
            rec.answered, rec.answer_type = q["answered"], q["answer_type"]
            rec.answer_value = q["answer_value"]
            rec.duplicate_answers = [(d["answered"], d["value"]) for d in q.get("duplicate_answers", [])]
            records.append(rec)
        name = f"{os.path.basename(path)}:{run['config']['name']} seed {run['seed']}"
        out.append((name, records))
    return out


def synthetic(n: int, keys: int, overlap: float, seed: int,
              values: Optional[int] = None, repeat: float = 0.0) -> Dict[str, List[Op]]:
    """A correct register's history: ``n`` operations over ``keys`` keys.

    Values are unique, or drawn from ``values`` values, or with probability
    ``repeat`` the key's previous put's value (as a retry or a second put
    sent before the first was answered would)."""
    rng = random.Random(seed)
    pending: List[Tuple[float, str, int, Op]] = []
    last_value: Dict[str, str] = {}
    for i in range(n):
        key = f"K{rng.randrange(keys)}"
        invoke = i * 0.001
        response = invoke + rng.random() * overlap
        point = rng.uniform(invoke, response)
        kind = "r" if rng.random() < 0.5 else "w"
        value = f"v{i}" if values is None else f"v{rng.randrange(values)}"
        if kind == "w":
            if key in last_value and rng.random() < repeat:
                value = last_value[key]
            last_value[key] = value
        op = Op(kind, value, invoke, response, True, f"M{i}", f"C{i % 8}")
        pending.append((point, key, i, op))
    pending.sort()
    state: Dict[str, Optional[str]] = {}
    hist: Dict[str, List[Op]] = {}
    for point, key, i, op in pending:
        if op.kind == "w":
            if rng.random() < 0.1:
                # Never answered: it may or may not have happened.
                op = Op("w", op.value, op.invoke, INF, False, op.mid, op.client)
                if rng.random() < 0.5:
                    hist.setdefault(key, []).append(op)
                    continue
            state[key] = op.value
        else:
            op = Op("r", state.get(key), op.invoke, op.response, True, op.mid, op.client)
        hist.setdefault(key, []).append(op)
    return hist


def make_stale(hist: Dict[str, List[Op]], seed: int) -> str:
    """Make one read return a value overwritten by a put that was answered
    before the read was sent; the key it changed."""
    rng = random.Random(seed)
    for key in rng.sample(sorted(hist), len(hist)):
        ops = hist[key]
        done = sorted((o for o in ops if o.kind == "w" and o.required), key=lambda o: o.response)
        for idx in rng.sample(range(len(ops)), len(ops)):
            o = ops[idx]
            if o.kind != "r":
                continue
            before = [w for w in done if w.response < o.invoke]
            if len(before) < 2:
                continue
            last, older = before[-1], before[-2]
            # Only if ``last`` must come after ``older``, and no other put of
            # the old value could explain the read.
            if older.response < last.invoke and sum(1 for w in ops if w.kind == "w" and w.value == older.value) == 1:
                ops[idx] = Op("r", older.value, o.invoke, o.response, True, o.mid, o.client)
                return key
    raise SystemExit("no read could be made stale")


def report(name: str, hist: Dict[str, List[Op]], top: int) -> Dict[str, Any]:
    per_key: List[Tuple[float, str, int, str]] = []
    for key, ops in hist.items():
        t0 = time.monotonic()
        d = decide_register(ops, t0 + time_budget(len(ops)))
        per_key.append((time.monotonic() - t0, key, len(ops), d.status))
    summary = check_linearizability(hist)
    per_key.sort(reverse=True)
    ops_total = sum(len(v) for v in hist.values())
    print(f"{name}: {summary['status']}, {len(hist)} keys, {ops_total} operations, "
          f"{summary['elapsed_s']:.3f}s of a {summary['budget_s']:.1f}s budget, "
          f"undecided {summary['undecided']}")
    for spent, key, n, status in per_key[:top]:
        print(f"    key {key}: {n} operations, {status}, {spent * 1000:.1f} ms")
    if summary.get("counterexample"):
        ce = summary["counterexample"]
        print(f"    witness for {ce['key']}: {len(ce['witness'])} of {ce['key_operations']} operations")
    return summary


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("files", nargs="*", help="JSON files written by run.py --json")
    p.add_argument("--synthetic", type=int, default=0, metavar="N",
                   help="also check synthetic histories of N operations")
    p.add_argument("--keys", type=int, default=4, help="keys of the synthetic histories (default 4)")
    p.add_argument("--overlap", type=float, default=0.05,
                   help="longest operation of the synthetic histories, in seconds; operations start "
                        "every millisecond (default 0.05: up to 50 at once)")
    p.add_argument("--repeat", type=float, default=0.2,
                   help="share of puts that repeat the key's previous put's value in the "
                        "repeated-values synthetic history (default 0.2)")
    p.add_argument("--values", type=int, default=0,
                   help="also check a synthetic history whose values are drawn from this few "
                        "(adversarial: the search may leave keys undecided)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--top", type=int, default=3, help="slowest keys to list (default 3)")
    args = p.parse_args()
    if not args.files and not args.synthetic:
        p.error("give JSON files or --synthetic N")
    failures = 0
    for path in args.files:
        for name, records in records_from_json(path):
            s = report(name, history_from_records(records), args.top)
            failures += s["undecided"] > 0
    if args.synthetic:
        n = args.synthetic
        print(f"(budget for {n} operations: {time_budget(n):.1f}s)")
        h = synthetic(n, args.keys, args.overlap, args.seed)
        s = report(f"synthetic, unique values", h, args.top)
        failures += s["status"] != "linearizable"
        key = make_stale(h, args.seed)
        s = report(f"synthetic, one stale read on {key}", h, args.top)
        failures += s["status"] != "not linearizable" or s["violating_keys"] != [key]
        h = synthetic(n, args.keys, args.overlap, args.seed, repeat=args.repeat)
        s = report(f"synthetic, {args.repeat:.0%} of puts repeat the previous value", h, args.top)
        failures += s["status"] != "linearizable"
        if args.values:
            h = synthetic(n, args.keys, args.overlap, args.seed, values=args.values)
            report(f"synthetic, values drawn from {args.values}", h, args.top)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
