#!/usr/bin/env python3
"""The replica benchmark: the 17 standard scenarios, several runs each.

With --stress, our own scenarios beyond the 17 instead (write bursts, very
lossy networks, large clusters and the rest of configs/), with the figures
that matter there: messages against the replication-traffic floor, the 99th
percentile latency, redirects, how often the simulator's leader list
changed, and packet storms. --pace runs the simulator at the course's
pace (see docs/simulator.md).

For each scenario it prints the median of each graded figure with its tier,
how many runs passed every correctness check, and the medians of completed
gets and puts (the simulator's median also counts redirects and fails, which
can flatter a replica that serves nobody). With --floor, the stand-in
`kvfloor` (a fixed leader answering gets at once and puts after one round
trip to a bare quorum) runs the no-drop scenarios in the same bench run,
and our put latency and message count are reported as ratios of its.

The table is printed and put on top of docs/BENCHMARKS.md; the earlier
sections there are kept.
"""

import argparse
import datetime
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
from typing import Any, Dict, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from simulator.config import Config, load_config  # noqa: E402
from simulator.grading import tier_for  # noqa: E402
from simulator.errors import SimulatorError  # noqa: E402
from simulator.pace import Pace, parse_pace  # noqa: E402
from simulator.report import result_to_json, write_json  # noqa: E402
from simulator.simulation import run_simulation  # noqa: E402

STANDARD = ["simple-1", "simple-2", "unreliable-1", "unreliable-2", "unreliable-3",
            "crash-1", "crash-2", "crash-3", "crash-4", "partition-1", "partition-2",
            "partition-3", "partition-4", "advanced-1", "advanced-2", "advanced-3", "advanced-4"]
STRESS = ["write-burst-3", "write-burst-5", "write-burst-7", "write-burst-21", "high-rate",
          "lossy-40", "lossy-50", "lossy-3-45", "lossy-7-35", "heavy-drops", "flapping",
          "lose-majority", "big-7", "big-21", "large-11", "large-15", "large-21"]
TITLE = "# Benchmarks"
METRICS = ["total_msgs", "failures", "duplicates", "median_latency"]


def one_run(config: "Config", replica: str, seed: int, pace: Optional[Pace] = None) -> Dict[str, Any]:
    with tempfile.TemporaryDirectory() as work:
        result = run_simulation(config, replica, seed=seed, silence=True, workdir=work, pace=pace)
    return result_to_json(result)


def traffic_floor(config: "Config") -> float:
    """The replication-traffic rule's least total_msgs for this config."""
    f = config.fractions
    return config.requests * config.replicas * (1 - config.mix) * (1 - f["maximum_appends_batched_fraction"])


def leader_changes(leaders: List[str]) -> Dict[str, int]:
    """The simulator's leader list: entries naming a replica, and FFFF ones."""
    unknown = sum(1 for x in leaders if x == "FFFF")
    return {"named": len(leaders) - unknown, "unknown": unknown}


def stress_row(name: str, config: "Config", runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The stress table's figures for one scenario: medians over the runs."""
    floor = traffic_floor(config)
    figures = {m: median([r["performance"][m]["value"] for r in runs]) for m in METRICS}
    changes = [leader_changes(r["leaders"]) for r in runs]
    return {
        "name": name, "runs": runs, "figures": figures,
        "tiers": {m: tier(config, m, figures[m]) for m in METRICS},
        "correct": f"{sum(1 for r in runs if r['correctness']['passed'])}/{len(runs)}",
        "over_floor": median([r["counters"]["total_msgs"] / floor for r in runs]) if floor else None,
        "p99": median([r["latency"]["p99"] for r in runs]),
        "redirect_share": median([r["counters"]["redirects"] / config.requests for r in runs]),
        "dups_max": max(r["counters"]["duplicates"] for r in runs),
        "leaders_named": median([c["named"] for c in changes]),
        "leaders_unknown": median([c["unknown"] for c in changes]),
        "storms": sum(1 for r in runs if r["packet_storm"]),
    }


def stress_table(rows: List[Dict[str, Any]]) -> List[str]:
    lines = [
        "msgs/rule: total messages over the replication-traffic rule's floor "
        "(`requests x replicas x (1 - mix) x 0.5`; below 1 fails). p99: 99th percentile of the "
        "simulator's latencies (redirects and fails included). redirects: per request. "
        "leaders: entries of the simulator's leader list naming a replica / FFFF. "
        "dups max: the most duplicates in any run.",
        "",
        "| scenario | correct | msgs | msgs/rule | failures | duplicates | dups max | median | p99 "
        "| redirects | leaders | storms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        f, t = r["figures"], r["tiers"]
        over = "-" if r["over_floor"] is None else f"{r['over_floor']:.2f}"
        lines.append(
            f"| {r['name']} | {r['correct']} | {fmt(f['total_msgs'])} ({t['total_msgs']}) | {over} "
            f"| {fmt(f['failures'])} ({t['failures']}) | {fmt(f['duplicates'])} ({t['duplicates']}) "
            f"| {r['dups_max']} | {fmt(f['median_latency'])} ({t['median_latency']}) | {fmt(r['p99'])} "
            f"| {r['redirect_share']:.0%} | {fmt(r['leaders_named'])} / {fmt(r['leaders_unknown'])} "
            f"| {r['storms']} |")
    return lines


def keep_failure(directory: str, name: str, seed: int, result: Dict[str, Any]) -> str:
    """Save a failed run's full result and describe it: which checks, why, where."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{name}-seed{seed}.json")
    write_json(path, result)  # the same format as run.py --json
    why = "; ".join(f"{c['name']}: {c['message']}" for c in result["correctness"]["checks"]
                    if not c["passed"])
    shown = os.path.relpath(path, ROOT)
    if shown.startswith(".."):
        shown = os.path.abspath(path)
    text = f"{name} seed {seed}: {why} (full result: {shown})"
    print(f"bench: FAILED {text}", file=sys.stderr, flush=True)
    return text


def median(xs: List[Optional[float]]) -> Optional[float]:
    vals = [x for x in xs if x is not None]
    return statistics.median(vals) if vals else None


def tier(config: "Config", metric: str, value: float) -> str:
    thresholds = config.benchmarks[metric]
    return tier_for(value, thresholds)


def fmt(x: Optional[float], digits: int = 6) -> str:
    if x is None:
        return "-"
    return f"{x:.{digits}f}".rstrip("0").rstrip(".") if isinstance(x, float) else str(x)


def ratio(a: Optional[float], b: Optional[float]) -> str:
    return "-" if a is None or not b else f"{a / b:.2f}x"


def current_commit() -> str:
    """HEAD's short hash, with `+changes` when tracked files differ from it."""
    def git(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True)
    commit = git("rev-parse", "--short", "HEAD").stdout.strip() or "unknown"
    if git("diff", "--quiet", "HEAD").returncode == 1:
        commit += "+changes"
    return commit


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=5, help="runs per scenario (default 5)")
    p.add_argument("--scenarios", nargs="*", default=None,
                   help="scenario names (default: the 17, or with --stress our stress scenarios)")
    p.add_argument("--stress", action="store_true",
                   help="the stress table: %s by default" % ", ".join(STRESS))
    p.add_argument("--pace", default="native",
                   help="the simulator's pace (run.py --pace): native (default), course, or a time per hop")
    p.add_argument("--replica", default=os.path.join(ROOT, "3700kvstore"))
    p.add_argument("--floor", default=os.path.join(ROOT, "target", "release", "kvfloor"),
                   help="the floor stand-in (default target/release/kvfloor); '' to skip")
    p.add_argument("--seed", type=int, default=1000, help="first seed; run i uses seed + i")
    p.add_argument("--out", default=os.path.join(ROOT, "docs", "BENCHMARKS.md"))
    p.add_argument("--failures-dir", default=os.path.join(ROOT, "target", "bench-failures"),
                   help="where the full JSON result of each run that fails a check is kept "
                        "(default target/bench-failures)")
    args = p.parse_args()
    if args.scenarios is None:
        args.scenarios = STRESS if args.stress else STANDARD
    try:
        pace = parse_pace(args.pace)
    except SimulatorError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2

    for binary in [args.replica] + ([args.floor] if args.floor else []):
        if not os.access(binary, os.X_OK):
            print(f"bench: {binary} is missing or not executable (run `make`)", file=sys.stderr)
            return 2

    # Read now: the binaries were built from this tree, and commits made
    # while the bench runs must not be named as what it measured.
    commit = current_commit()
    if args.stress:
        return run_stress(args, pace, commit)
    rows = []
    failed_runs: List[str] = []
    totals = {m: {} for m in METRICS}
    for name in args.scenarios:
        config = load_config(name)
        # Ours and the floor alternate, seed by seed, so that a machine
        # whose speed drifts during the bench skews neither side's medians.
        ours, floor = [], []
        for i in range(args.runs):
            ours.append(one_run(config, args.replica, args.seed + i, pace))
            if args.floor and not config.drops:
                floor.append(one_run(config, args.floor, args.seed + i, pace))
        correct = sum(1 for r in ours if r["correctness"]["passed"])
        for i, r in enumerate(ours):
            if not r["correctness"]["passed"]:
                failed_runs.append(keep_failure(args.failures_dir, name, args.seed + i, r))
        figures = {m: median([r["performance"][m]["value"] for r in ours]) for m in METRICS}
        tiers = {m: tier(config, m, figures[m]) for m in METRICS}
        for m in METRICS:
            totals[m][tiers[m]] = totals[m].get(tiers[m], 0) + 1
        get50 = median([r["latency"]["median_ok_get"] for r in ours])
        put50 = median([r["latency"]["median_ok_put"] for r in ours])
        floor_put = median([r["latency"]["median_ok_put"] for r in floor]) if floor else None
        floor_msgs = median([r["counters"]["total_msgs"] for r in floor]) if floor else None
        row = {
            "name": name, "correct": f"{correct}/{len(ours)}", "figures": figures, "tiers": tiers,
            "get50": get50, "put50": put50, "floor_put": floor_put, "floor_msgs": floor_msgs,
        }
        rows.append(row)
        print(f"{name:13} correct {row['correct']}  "
              + "  ".join(f"{m}={fmt(figures[m])} ({tiers[m]})" for m in METRICS)
              + f"  get50={fmt(get50)} put50={fmt(put50)}"
              + (f"  floor put50={fmt(floor_put)} ({ratio(put50, floor_put)})"
                 f" floor msgs={fmt(floor_msgs)} ({ratio(figures['total_msgs'], floor_msgs)})" if floor else ""),
              flush=True)

    lines = [
        TITLE,
        "",
        f"## `{commit}`: {len(rows)} scenarios, {args.runs} runs each" + pace_note(pace),
        "",
        f"`make bench` ({shlex.join(['scripts/bench.py'] + sys.argv[1:])}) on "
        f"{datetime.date.today().isoformat()}, commit `{commit}`: {args.runs} runs per scenario, "
        f"seeds {args.seed}..{args.seed + args.runs - 1}; each figure is the median over the runs.",
        "Latencies in seconds. get50/put50: median latency of completed (ok) gets and puts. "
        "Floor: the `kvfloor` stand-in on the same seeds (no-drop scenarios only).",
        "",
        "| scenario | correct | msgs | failures | duplicates | median | get50 | put50 | floor put50 | put/floor | floor msgs | msgs/floor |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        f, t = r["figures"], r["tiers"]
        lines.append(
            f"| {r['name']} | {r['correct']} | {fmt(f['total_msgs'])} ({t['total_msgs']}) "
            f"| {fmt(f['failures'])} ({t['failures']}) | {fmt(f['duplicates'])} ({t['duplicates']}) "
            f"| {fmt(f['median_latency'])} ({t['median_latency']}) | {fmt(r['get50'])} | {fmt(r['put50'])} "
            f"| {fmt(r['floor_put'])} | {ratio(r['put50'], r['floor_put'])} | {fmt(r['floor_msgs'])} "
            f"| {ratio(f['total_msgs'], r['floor_msgs'])} |")
    lines += ["", "Tiers reached, per metric:", ""]
    for m in METRICS:
        lines.append(f"- {m}: " + ", ".join(f"{k} {v}" for k, v in sorted(totals[m].items())))
    if failed_runs:
        lines += ["", "Runs that failed a check:", ""] + [f"- {f}" for f in failed_runs]
    publish("\n".join(lines) + "\n", args.out)
    return 0


def pace_note(pace: Pace) -> str:
    return "" if pace.label == "native" else f", at the {pace.label} pace"


def run_stress(args: argparse.Namespace, pace: Pace, commit: str) -> int:
    """The stress table: each scenario's runs, then one row each."""
    rows = []
    failed_runs: List[str] = []
    for name in args.scenarios:
        config = load_config(name)
        runs = []
        for i in range(args.runs):
            r = one_run(config, args.replica, args.seed + i, pace)
            runs.append(r)
            if not r["correctness"]["passed"]:
                failed_runs.append(keep_failure(args.failures_dir, name, args.seed + i, r))
        row = stress_row(name, config, runs)
        rows.append(row)
        print(stress_table([row])[-1], flush=True)
    lines = [
        TITLE,
        "",
        f"## `{commit}`: stress, {len(rows)} scenarios, {args.runs} runs each" + pace_note(pace),
        "",
        f"`{shlex.join(['scripts/bench.py'] + sys.argv[1:])}` on {datetime.date.today().isoformat()}, "
        f"commit `{commit}`: seeds {args.seed}..{args.seed + args.runs - 1}; each figure is the median "
        f"over the runs. Latencies in seconds.",
        "",
        *stress_table(rows),
    ]
    if failed_runs:
        lines += ["", "Runs that failed a check:", ""] + [f"- {f}" for f in failed_runs]
    publish("\n".join(lines) + "\n", args.out)
    return 0


def publish(text: str, out: str) -> None:
    """Print the table and put it on top of ``out``, keeping the history."""
    print()
    print(text)
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    previous = ""
    if os.path.exists(out):
        with open(out) as fh:
            previous = fh.read()
    with open(out + ".tmp", "w") as fh:
        fh.write(with_history(text, previous))
    os.replace(out + ".tmp", out)



def with_history(new: str, previous: str) -> str:
    """The new table on top, then every earlier section of the file as it was
    (the tuning history the closing notes refer to is never overwritten)."""
    old = previous.strip("\n")
    if old.startswith(TITLE):
        old = old[len(TITLE):].strip("\n")
    return new if not old else new.rstrip("\n") + "\n\n" + old + "\n"


if __name__ == "__main__":
    sys.exit(main())
