#!/usr/bin/env python3
"""What streaming state events costs the simulation.

Runs one scenario (default configs/simple-1.json) with the same seed N times
with `run.py --events PATH` and a listener draining PATH (a small in-process
reader thread, standing in for kvdash), and N times without --events,
alternating the two so that both see the same machine load.  Every run uses
the real replica (default ./3700kvstore) and writes `--json`, from which the
client latencies are read.

`--record`: the runs with events use `run.py --record FILE` instead (no
--events, no listener), as `kvdash sweep` does; the record is then checked:
every line an event, the simulator's run_start first and run_end last, and
the replicas' own count of the events they could not send (the
`events_dropped` of their last status).

`--own`: the runs without events still have the replicas stream theirs (to a
listener, through $KVDASH_SOCKET), so that only run.py's share differs: the
ratio is run.py's own cost.  Without it, the ratio is the whole cost of a
console (or a recording): run.py's events, the replicas' and the listener.

Prints, for both variants, the medians over the runs of: the median client
latency, the median latency of gets and of puts answered `ok`, and the
simulator's per-hop overhead; then the ratio with/without for each.  Numbers
only: there is no pass/fail threshold (timings depend on the machine).

Standard library only.
"""

import argparse
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN_PY = os.path.join(ROOT, "run.py")

FIGURES = [
    # (label, path in the --json results, scale, unit)
    ("median latency", ("latency", "median"), 1e3, "ms"),
    ("median ok get", ("latency", "median_ok_get"), 1e3, "ms"),
    ("median ok put", ("latency", "median_ok_put"), 1e3, "ms"),
    ("per-hop overhead", ("overhead", "median_us"), 1.0, "us"),
]


class Listener:
    """Binds a Unix datagram socket and drains it on a thread, counting."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.05)
        self.datagrams = 0
        self.events = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="listener")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(1 << 17)
            except socket.timeout:
                continue
            except OSError:
                return
            self.datagrams += 1
            self.events += sum(1 for line in data.split(b"\n") if line.strip())

    def close(self) -> None:
        time.sleep(0.2)
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


def check_record(path: str) -> Dict[str, Any]:
    """What a --record file holds: its events, and whether it is whole."""
    sim: List[str] = []
    replica_events = 0
    bad = 0
    last_status: Dict[str, Dict[str, Any]] = {}
    with open(path, "rb") as fh:
        data = fh.read()
    for line in data.split(b"\n"):
        if not line:
            continue
        try:
            ev = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if not isinstance(ev, dict) or ev.get("v") != 1 or not isinstance(ev.get("kind"), str):
            bad += 1
        elif ev.get("src") == "sim":
            sim.append(ev["kind"])
        else:
            replica_events += 1
            if ev["kind"] == "status":
                last_status[ev["src"]] = ev
    whole = (data.endswith(b"\n") and bad == 0 and bool(sim) and sim[0] == "run_start"
             and sim[-1] == "run_end")
    return {"received": len(sim) + replica_events, "replica_events": replica_events, "whole": whole,
            "replica_dropped": max((int(st.get("events_dropped", 0)) for st in last_status.values()),
                                   default=0)}


def one_run(args: argparse.Namespace, workdir: str, events: bool, index: int) -> Dict[str, Any]:
    out = os.path.join(workdir, f"{'with' if events else 'without'}-{index}.json")
    cmd = [sys.executable, RUN_PY, args.config, "-r", args.replica, "-s", "--seed", str(args.seed),
           "--transport", args.transport, "--json", out, "--color", "never"]
    listener: Optional[Listener] = None
    # Never the default socket: a kvdash running meanwhile would get the
    # replicas' events in the runs without.
    env = dict(os.environ, KVDASH_SOCKET=os.path.join(workdir, "nobody.sock"))
    record = os.path.join(workdir, f"record-{index}.jsonl")
    path = os.path.join(workdir, "kvdash.sock")
    if events and args.record:
        cmd += ["--record", record]
    elif events:
        listener = Listener(path)
        cmd += ["--events", path]
    elif args.own:
        listener = Listener(path)
        env["KVDASH_SOCKET"] = path     # only the replicas stream
    try:
        proc = subprocess.run(cmd, cwd=workdir, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    finally:
        if listener is not None:
            listener.close()
    if proc.returncode not in (0, 1) or not os.path.exists(out):
        raise SystemExit(f"bench_events: run.py failed (exit {proc.returncode}): {proc.stderr.strip()}")
    with open(out) as fh:
        data = json.load(fh)
    row: Dict[str, Any] = {"verdict": data["verdict"], "dropped": data["counters"].get("events_dropped", 0),
                           "received": listener.events if listener else 0}
    if events and args.record:
        row.update(check_record(record))
        os.unlink(record)
    for label, (section, key), scale, _ in FIGURES:
        row[label] = data[section][key] * scale
    return row


def median(rows: List[Dict[str, Any]], label: str) -> float:
    return statistics.median(r[label] for r in rows)


# Two-sided 95% quantiles of Student's t, by degrees of freedom (1.96 beyond).
T95 = [12.71, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
       2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
       2.052, 2.048, 2.045, 2.042]


def ratios_of(rows: Dict[bool, List[Dict[str, Any]]], label: str) -> List[float]:
    """with/without for one figure, round by round."""
    return [w[label] / wo[label] for w, wo in zip(rows[True], rows[False])
            if wo[label] > 0 and w[label] > 0]


def paired_ratio(rows: Dict[bool, List[Dict[str, Any]]], label: str) -> str:
    """The median over rounds of with/without for one figure."""
    ratios = ratios_of(rows, label)
    return f"{statistics.median(ratios):.3f}" if ratios else "n/a"


def geometric_interval(rows: Dict[bool, List[Dict[str, Any]]], label: str) -> str:
    """The geometric mean of the rounds' ratios and its 95% interval (t on the
    logarithms): how far the noise lets the bench tell a cost from none."""
    logs = [math.log(r) for r in ratios_of(rows, label)]
    if len(logs) < 2:
        return "n/a"
    mean = statistics.mean(logs)
    half = (T95[len(logs) - 2] if len(logs) - 1 <= len(T95) else 1.96) * statistics.stdev(logs) / math.sqrt(len(logs))
    return f"{math.exp(mean):.3f} [{math.exp(mean - half):.3f}, {math.exp(mean + half):.3f}]"


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(
        prog="bench_events.py",
        description="Measure what `run.py --events` (or --record) costs: one scenario N times with "
                    "a listener attached and N times without, same seed, real replica; prints median "
                    "client latencies (all, ok gets, ok puts), the per-hop overhead and the ratios.")
    p.add_argument("--config", default=os.path.join(ROOT, "configs", "simple-1.json"),
                   help="scenario to run (default: configs/simple-1.json)")
    p.add_argument("-n", "--runs", type=int, default=5, metavar="N",
                   help="runs with and runs without events (default 5 each)")
    p.add_argument("--seed", type=int, default=1, help="seed for every run (default 1)")
    p.add_argument("-r", "--replica", default=os.path.join(ROOT, "3700kvstore"),
                   help="replica program (default: ./3700kvstore at the repo root)")
    p.add_argument("--transport", choices=("classic", "udp"), default="classic")
    p.add_argument("--record", action="store_true",
                   help="the runs with events use `run.py --record FILE` (as kvdash sweep does) instead "
                        "of --events and a listener; each record is checked to be whole")
    p.add_argument("--own", action="store_true",
                   help="the runs without events still have the replicas stream theirs to a listener: "
                        "the ratio is then run.py's own share of the cost")
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error("--runs must be at least 1")
    args.replica = os.path.abspath(args.replica)
    args.config = os.path.abspath(args.config)
    if not os.access(args.replica, os.X_OK):
        p.error(f"replica {args.replica} is missing or not executable (build it: make)")
    if not os.path.isfile(args.config):
        p.error(f"config {args.config} not found")

    workdir = tempfile.mkdtemp(prefix="bench-events-")
    rows: Dict[bool, List[Dict[str, Any]]] = {True: [], False: []}
    try:
        mode = "--record" if args.record else "--events"
        baseline = "replicas streaming to a listener" if args.own else "no events at all"
        print(f"{os.path.basename(args.config)}, seed {args.seed}, {args.runs} runs each, "
              f"replica {args.replica}; with: run.py {mode}; without: {baseline}", flush=True)
        for i in range(args.runs):
            for events in ((True, False) if i % 2 == 0 else (False, True)):
                row = one_run(args, workdir, events, i)
                rows[events].append(row)
                extra = ""
                if events and args.record:
                    extra = (f"  events recorded {row['received']} ({row['replica_events']} from replicas), "
                             f"{'whole' if row['whole'] else 'INCOMPLETE'}, dropped {row['dropped']}, "
                             f"dropped by replicas {row['replica_dropped']}")
                elif events:
                    extra = f"  events received {row['received']}, dropped {row['dropped']}"
                print(f"  run {i + 1} {'with   ' if events else 'without'} events: {row['verdict']}  "
                      + "  ".join(f"{label} {row[label]:.4f}{unit}" for label, _, _, unit in FIGURES)
                      + extra, flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print()
    with_label = "with record" if args.record else "with events"
    print(f"{'median over runs':<18} {'without':>12} {with_label:>12} {'ratio':>8} {'paired':>8}  "
          f"{'geomean paired [95%]':>22}")
    for label, _, _, unit in FIGURES:
        without = median(rows[False], label)
        with_ev = median(rows[True], label)
        ratio = f"{with_ev / without:.3f}" if without > 0 else "n/a"
        print(f"{label:<18} {without:>10.4f}{unit:<2} {with_ev:>10.4f}{unit:<2} {ratio:>8} "
              f"{paired_ratio(rows, label):>8}  {geometric_interval(rows, label):>22}")
    print("paired: the median over rounds of with/without within a round (the two runs of a "
          "round are back to back, so a machine that speeds up or slows down over the bench "
          "moves both); geomean: their geometric mean, with its 95% confidence interval")
    dropped = [r["dropped"] for r in rows[True]]
    received = [r["received"] for r in rows[True]]
    print(f"events {'recorded' if args.record else 'received'} per run: median "
          f"{statistics.median(received):.0f}; events_dropped per run: median "
          f"{statistics.median(dropped):.0f}, max {max(dropped)}")
    if args.record:
        whole = sum(1 for r in rows[True] if r["whole"])
        print(f"records whole: {whole}/{len(rows[True])}; events the replicas could not send: max "
              f"{max(r['replica_dropped'] for r in rows[True])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
