#!/usr/bin/env python3
"""Standard scenarios under random seeds: how often each one passes.

The benchmark (scripts/bench.py) runs fixed seeds; the course's simulator
draws a new one each run. This runs each scenario --runs times with seeds
from the system's random source (printed, so any failure can be rerun with
`./run.py SCENARIO --seed N`), --workers at a time in their own working
folders, and prints per scenario how many runs passed, the failing seeds
with the checks or tiers that failed, and the worst get-generation
shortfall (the check that depends on how soon puts are acknowledged).

Default scenarios: the standard ones with drops or kills. Standard library
only; numbers, no threshold.
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN_PY = os.path.join(ROOT, "run.py")
sys.path.insert(0, ROOT)

from simulator.config import STANDARD_SCENARIOS, load_config  # noqa: E402


def lossy_or_faulty() -> List[str]:
    """The standard scenarios that drop packets or kill replicas."""
    out = []
    for name in STANDARD_SCENARIOS:
        cfg = load_config(name, "classic", None)
        kinds = {e.type for e in cfg.events}
        if cfg.drops > 0 or any(k.startswith("kill") for k in kinds):
            out.append(name)
    return out


def one_run(scenario: str, seed: int, replica: str) -> Dict[str, Any]:
    """One run.py run in a private folder; its JSON results, trimmed."""
    work = tempfile.mkdtemp(prefix="seeds-")
    try:
        proc = subprocess.run([sys.executable, RUN_PY, scenario, "-s", "--seed", str(seed),
                               "-r", replica, "--json", "out.json"],
                              cwd=work, capture_output=True, text=True, timeout=600)
        path = os.path.join(work, "out.json")
        if not os.path.exists(path):
            return {"scenario": scenario, "seed": seed, "verdict": "ERROR",
                    "why": (proc.stderr.strip().splitlines() or ["no output"])[-1]}
        with open(path) as fh:
            data = json.load(fh)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    why = [f"{c['name']}: {c['message']}" for c in data["correctness"]["checks"] if not c["passed"]]
    why += [f"{name} {t['value']:.6g} {t['tier']}" for name, t in data["performance"].items()
            if t["tier"] == "Failed"]
    counters = data["counters"]
    gen = counters.get("generated_get", 0)
    short = counters.get("failed_to_generate_get", 0) / gen if gen else 0.0
    return {"scenario": scenario, "seed": seed, "verdict": data["verdict"], "why": why,
            "generation_shortfall": short, "duplicates": counters.get("duplicates", 0),
            "median": data["latency"]["median"], "msgs": counters.get("total_msgs", 0)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=20, help="runs per scenario (default 20)")
    p.add_argument("--workers", type=int, default=1,
                   help="runs at a time (default 1; each has its own folder)")
    p.add_argument("--scenarios", nargs="*", default=None,
                   help="scenario names (default: the standard ones with drops or kills)")
    p.add_argument("--replica", default=os.path.join(ROOT, "3700kvstore"))
    p.add_argument("--out", default=None, help="also write the table (markdown) to this file")
    args = p.parse_args()
    if args.runs < 1 or args.workers < 1:
        p.error("--runs and --workers must be at least 1")
    replica = os.path.abspath(args.replica)
    if not os.access(replica, os.X_OK):
        p.error(f"{replica} is not an executable replica (make build)")
    scenarios = args.scenarios or lossy_or_faulty()
    rng = random.SystemRandom()
    jobs: List[Tuple[str, int]] = [(s, rng.randrange(1, 2 ** 31)) for s in scenarios
                                   for _ in range(args.runs)]
    results: Dict[str, List[Dict[str, Any]]] = {s: [] for s in scenarios}
    t0 = time.monotonic()
    done = 0
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        futures = {pool.submit(one_run, s, seed, replica): (s, seed) for s, seed in jobs}
        for fut in as_completed(futures):
            r = fut.result()
            results[r["scenario"]].append(r)
            done += 1
            left = (time.monotonic() - t0) / done * (len(jobs) - done)
            mark = "" if r["verdict"] == "PASS" else "  " + "; ".join(r.get("why") or [r["verdict"]])
            print(f"[{done}/{len(jobs)}, ~{left / 60:.0f} min left] {r['scenario']} seed {r['seed']}: "
                  f"{r['verdict']}{mark}", file=sys.stderr, flush=True)
    lines = [f"Random seeds, {args.runs} runs per scenario, replica {replica}", "",
             "| scenario | passed | duplicates (total) | worst get-generation shortfall | median latency (median) | failing seeds |",
             "|---|---|---|---|---|---|"]
    for s in scenarios:
        rs = results[s]
        ok = sum(1 for r in rs if r["verdict"] == "PASS")
        fails = [f"{r['seed']}: {'; '.join(r.get('why') or [r['verdict']])}" for r in rs if r["verdict"] != "PASS"]
        dups = sum(r.get("duplicates", 0) for r in rs)
        worst = max((r.get("generation_shortfall", 0.0) for r in rs), default=0.0)
        medians = sorted(r["median"] for r in rs if "median" in r)
        med = medians[len(medians) // 2] if medians else float("nan")
        lines.append(f"| {s} | {ok}/{len(rs)} | {dups} | {worst:.3f} (limit 0.1) | {med * 1000:.3f} ms | "
                     f"{' / '.join(fails) or '-'} |")
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
