#!/usr/bin/env python3
"""What durability costs, and whether compaction keeps a replica bounded.

Two measurements (both run run.py with the built replica):

  latency   the same scenario and seeds with and without --durable, with
            the data dirs on tmpfs and on the real disk, run one after
            the other per seed (so that the machine's drift hits both
            sides): the median ok-put latency and the simulator's median
            latency, as durable/memory ratios per seed, then the median
            and range of those ratios.

  bounded   one long scenario (default configs/durability/long-snapshot-5)
            with --durable --keep-data: every few seconds, each replica's
            wal and snapshot bytes and resident memory; then a table over
            time and the verdict. Bounded means the largest figure of the
            second half of the run is not above the first half's by more
            than the spread of a compaction cycle.

Examples:
  python3 scripts/bench_durability.py latency --seeds 5
  python3 scripts/bench_durability.py bounded --every 5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent


def run_py(config: str, seed: int, cwd: Path, replica: Path, extra: List[str]) -> dict:
    """One run.py run in `cwd`; its JSON result."""
    out = cwd / f"result-{seed}.json"
    cmd = [sys.executable, str(ROOT / "run.py"), config, "--seed", str(seed), "-s",
           "--replica", str(replica), "--json", str(out), *extra]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if not out.exists():
        raise SystemExit(f"run.py failed ({' '.join(cmd)}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return json.loads(out.read_text())


def spread(xs: List[float]) -> str:
    return f"{statistics.median(xs):.3f} [{min(xs):.3f}-{max(xs):.3f}]"


def latency(args: argparse.Namespace) -> int:
    places: List[Tuple[str, Path]] = []
    if Path("/dev/shm").is_dir():
        places.append(("tmpfs", Path("/dev/shm")))
    places.append(("disk", Path(args.disk_dir)))
    rows = []
    for name, parent in places:
        put_ratio, median_ratio, puts_mem, puts_dur = [], [], [], []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            work = Path(tempfile.mkdtemp(prefix="kvbench-", dir=parent))
            try:
                mem = run_py(args.config, seed, work, args.replica, [])
                dur = run_py(args.config, seed, work, args.replica, ["--durable"])
            finally:
                shutil.rmtree(work, ignore_errors=True)
            lm, ld = mem["latency"], dur["latency"]
            if not dur.get("durable"):
                raise SystemExit("run.py did not run the replicas with data dirs")
            put_ratio.append(ld["median_ok_put"] / lm["median_ok_put"])
            median_ratio.append(ld["median"] / lm["median"])
            puts_mem.append(lm["median_ok_put"] * 1e3)
            puts_dur.append(ld["median_ok_put"] * 1e3)
            print(f"  {name} seed {seed}: put median {puts_mem[-1]:.3f} ms -> {puts_dur[-1]:.3f} ms "
                  f"({put_ratio[-1]:.2f}x), verdicts {mem['verdict']}/{dur['verdict']}",
                  file=sys.stderr)
        rows.append((name, puts_mem, puts_dur, put_ratio, median_ratio))
    print(f"\nDurability cost on {args.config}, seeds {args.first_seed}-{args.first_seed + args.seeds - 1} "
          "(median [min-max] over seeds; ratios are durable/memory, paired by seed)\n")
    print("| data dir on | ok-put median, memory (ms) | ok-put median, durable (ms) | put ratio | simulator median ratio |")
    print("|---|---|---|---|---|")
    for name, pm, pd, pr, mr in rows:
        print(f"| {name} | {spread(pm)} | {spread(pd)} | {spread(pr)} | {spread(mr)} |")
    return 0


def replica_pids(ids: List[str], work: Path) -> Dict[str, int]:
    """The pids of this run's replicas, by id: 3700kvstore processes whose
    working directory is the run's (other runs may use the same ids)."""
    found: Dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            cwd = (entry / "cwd").resolve()
        except OSError:
            continue
        if not argv or not argv[0].endswith(b"3700kvstore") or cwd != work.resolve():
            continue
        for a in (x.decode(errors="replace") for x in argv[1:] if x):
            if a in ids:
                found[a] = int(entry.name)
                break
    return found


def rss_kib(pid: int) -> Optional[int]:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def snapshot_traffic(recording: Path) -> Dict[str, Tuple[int, int]]:
    """Per replica, the snapshot chunks it sent and received, as its last
    status events tell (a restarted replica counts from its restart, so
    each life's last figures are added up)."""
    lives: Dict[Tuple[str, int], Tuple[int, int]] = {}
    pid: Dict[str, int] = {}
    if not recording.exists():
        return {}
    for line in recording.read_text(errors="replace").splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        src, kind = ev.get("src"), ev.get("kind")
        if kind == "start" and src != "sim":
            pid[src] = ev.get("pid", 0)
        elif kind == "status" and src in pid:
            sent = ev.get("sent", {}).get("snapshot", 0)
            got = ev.get("received", {}).get("snapshot", 0)
            lives[(src, pid[src])] = (sent, got)
    out: Dict[str, Tuple[int, int]] = {}
    for (src, _), (s, r) in lives.items():
        a, b = out.get(src, (0, 0))
        out[src] = (a + s, b + r)
    return {k: v for k, v in out.items() if v != (0, 0)}


def bounded(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="kvbounded-", dir=args.disk_dir))
    path = Path(args.config)
    cfg = json.loads((path if path.suffix == ".json" else ROOT / "configs" / f"{args.config}.json").read_text())
    ids = [f"{i:04X}" for i in range(cfg["replicas"])]
    cmd = [sys.executable, str(ROOT / "run.py"), args.config, "--seed", str(args.first_seed), "-s",
           "--replica", str(args.replica), "--json", str(work / "result.json"), "--durable", "--keep-data",
           "--record", str(work / "run.jsonl")]
    proc = subprocess.Popen(cmd, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    samples: List[Tuple[float, Dict[str, Tuple[int, int, Optional[int]]]]] = []
    start = time.monotonic()
    try:
        while proc.poll() is None:
            time.sleep(args.every)
            dirs = list(work.glob("kvdata-*"))
            if not dirs:
                continue
            pids = replica_pids(ids, work)
            row = {}
            for rid in ids:
                d = dirs[0] / rid
                size = lambda n: (d / n).stat().st_size if (d / n).exists() else 0
                row[rid] = (size("wal"), size("snapshot"), rss_kib(pids[rid]) if rid in pids else None)
            samples.append((time.monotonic() - start, row))
            worst = max(w + s for w, s, _ in row.values())
            print(f"  {samples[-1][0]:6.0f} s: largest data dir {worst / 1024:.0f} KiB", file=sys.stderr)
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait()
        print("interrupted; the partial table follows", file=sys.stderr)
    output = proc.stdout.read() if proc.stdout else ""
    result = json.loads((work / "result.json").read_text()) if (work / "result.json").exists() else None
    print(f"\nData dir and memory over {args.config} (seed {args.first_seed}), sampled every {args.every} s; "
          "KiB, largest over the replicas (memory: resident set)\n")
    print("| time (s) | wal | snapshot | wal + snapshot | memory |")
    print("|---|---|---|---|---|")
    step = max(1, len(samples) // args.rows)
    for t, row in samples[::step]:
        wal = max(w for w, _, _ in row.values())
        snap = max(s for _, s, _ in row.values())
        both = max(w + s for w, s, _ in row.values())
        mem = max((m for _, _, m in row.values() if m is not None), default=0)
        print(f"| {t:.0f} | {wal / 1024:.0f} | {snap / 1024:.0f} | {both / 1024:.0f} | {mem} |")
    if samples:
        half = len(samples) // 2
        first = max(max(w for w, _, _ in r.values()) for _, r in samples[:half] or samples)
        second = max(max(w for w, _, _ in r.values()) for _, r in samples[half:])
        print(f"\nlargest wal (the log kept after compaction): first half {first / 1024:.0f} KiB, "
              f"second half {second / 1024:.0f} KiB; the snapshot is the store, which grows "
              "with the distinct keys the workload puts")
    chunks = snapshot_traffic(work / "run.jsonl")
    if chunks:
        print("InstallSnapshot traffic (from the replicas' status events): "
              + ", ".join(f"{rid} sent {s} chunks and took {r}" for rid, (s, r) in sorted(chunks.items())))
    else:
        print("no InstallSnapshot was needed")
    if result:
        c = result["counters"]
        print(f"requests {c['generated_get'] + c['generated_put']}, distinct keys put {c['keys_put']}, "
              f"restarted {c['restarted']}, "
              f"verdict {result['verdict']}, linearizability: {result['linearizability'].get('status')}")
    else:
        print(output[-3000:])
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept in {work}")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    for name, default in (("latency", "simple-2"), ("bounded", "configs/durability/long-snapshot-5.json")):
        s = sub.add_parser(name)
        s.add_argument("--config", default=default, help=f"scenario (default {default})")
        s.add_argument("--replica", type=Path, default=ROOT / "3700kvstore")
        s.add_argument("--first-seed", type=int, default=1)
        s.add_argument("--disk-dir", default=str(ROOT / "results"),
                       help="where on the real disk the runs work (default results/)")
    sub.choices["latency"].add_argument("--seeds", type=int, default=5)
    sub.choices["bounded"].add_argument("--every", type=float, default=5.0, help="seconds between samples")
    sub.choices["bounded"].add_argument("--rows", type=int, default=15, help="rows in the table")
    sub.choices["bounded"].add_argument("--keep", action="store_true", help="keep the run's folder")
    args = p.parse_args()
    # run.py runs in a scratch folder: a relative path means the repo's.
    if not Path(args.config).is_absolute() and (ROOT / args.config).exists():
        args.config = str(ROOT / args.config)
    if not args.replica.exists():
        p.error(f"no replica at {args.replica} (run make build)")
    os.makedirs(args.disk_dir, exist_ok=True)
    return latency(args) if args.mode == "latency" else bounded(args)


if __name__ == "__main__":
    sys.exit(main())
