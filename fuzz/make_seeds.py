#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/seeds/<target>/ from real recordings.

kvdash_report and kvdash_plots get windows of consecutive lines of each
recording,
kvdash_ingest gets its event lines grouped as the replicas and run.py send
them (a few lines per datagram, datagrams NUL-separated), and
replica_packet gets packets in the wire format of shared/src/wire/mod.rs,
built from the recorded runs' message types and the node states the
target can start in.

    python3 fuzz/make_seeds.py [RECORDING.jsonl ...]

Without arguments it reads dashboard/tests/fixtures/*.jsonl and, if
present, fuzz/corpus-src/*.jsonl (`make fuzz-record` writes one).
"""

import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "fuzz" / "seeds"
# Small seeds: libFuzzer mutates small inputs far faster.
MAX_BYTES = 4096


def write(target: str, data: bytes) -> None:
    data = data[:MAX_BYTES]
    d = SEEDS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


def recordings(args: list[str]) -> list[Path]:
    if args:
        return [Path(a) for a in args]
    found = sorted((ROOT / "dashboard" / "tests" / "fixtures").glob("*.jsonl"))
    return found + sorted((ROOT / "fuzz" / "corpus-src").glob("*.jsonl"))


def small_lines(lines: list[str], budget: int) -> list[str]:
    """Consecutive lines from the start of `lines` that fit in `budget`."""
    out: list[str] = []
    size = 0
    for line in lines:
        size += len(line) + 1
        if size > budget:
            break
        out.append(line)
    return out


def report_and_ingest(path: Path) -> None:
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    kinds: dict[str, list[int]] = {}
    for i, ln in enumerate(lines):
        try:
            kinds.setdefault(json.loads(ln).get("kind", "?"), []).append(i)
        except (json.JSONDecodeError, AttributeError):
            continue
    # Each window starts at a line of a different kind, so every kind of
    # event is in some seed; the run's first lines say what the run is.
    head = lines[:3]
    starts = sorted({idx[0] for idx in kinds.values()} | {idx[-1] for idx in kinds.values()})
    for s in starts[:14]:
        window = small_lines(head + lines[s:], MAX_BYTES)
        report = ("\n".join(window) + "\n").encode()
        write("kvdash_report", report)
        write("kvdash_plots", report)
        datagrams = [
            "\n".join(window[i : i + 3]).encode() for i in range(0, len(window), 3)
        ]
        write("kvdash_ingest", b"\0".join(datagrams))
    for kind, idx in kinds.items():
        write("kvdash_ingest", lines[idx[0]].encode())
    head_seed = ("\n".join(small_lines(lines, MAX_BYTES)) + "\n").encode()
    write("kvdash_report", head_seed)
    write("kvdash_plots", head_seed)


def packet(src: str, dst: str, leader: str, body: dict) -> str:
    return json.dumps({"src": src, "dst": dst, "leader": leader, **body}, separators=(",", ":"))


def replica_packets() -> None:
    client = "0015"
    put = {"type": "put", "MID": "M1", "key": "k", "value": "v"}
    get = {"type": "get", "MID": "M2", "key": "k"}
    entry = {"t": 3, "p": {"k": "k2", "v": "v2", "c": client, "m": "M3"}}
    append = {"type": "append", "t": 3, "pi": 2, "pt": 3, "c": 2, "ts": 5000}
    bodies = {
        "hello": {"type": "hello"},
        "put": put,
        "get": get,
        "ok": {"type": "ok", "MID": "M1", "value": "v"},
        "fail": {"type": "fail", "MID": "M1"},
        "redirect": {"type": "redirect", "MID": "M1"},
        "vote": {"type": "vote", "t": 4, "li": 2, "lt": 3},
        "prevote": {"type": "vote", "t": 4, "li": 2, "lt": 3, "pre": True},
        "voted": {"type": "voted", "t": 1, "g": True},
        "prevoted": {"type": "voted", "t": 2, "g": True, "pre": True},
        "append": append,
        "append-entries": {**append, "c": 3, "hb": 1000000, "e": [entry]},
        "append-conflict": {**append, "t": 5, "pi": 1, "pt": 2, "e": [{"t": 5}]},
        "append-relay": {**append, "e": [entry], "rt": "0002"},
        "append-relayed": {**append, "e": [entry], "rl": {"l": "0001", "i": 3}},
        "appended": {"type": "appended", "t": 1, "ok": True, "i": 2, "ts": 1000, "c": 2},
        "appended-fail": {"type": "appended", "t": 1, "ok": False, "i": 1, "ct": 1, "ts": 1000},
        "appended-relay": {
            "type": "appended", "t": 1, "ok": True, "i": 3, "ts": 1000,
            "ra": {"f": "0002", "i": 3},
        },
    }
    # Client messages come from the client, Raft ones from a peer, each to
    # the node under test (0000) believing 0001 leads.
    def from_(name: str) -> str:
        return client if name in ("hello", "put", "get", "ok", "fail", "redirect") else "0001"

    for mode in ("", "L", "F"):
        for name, body in bodies.items():
            lines = [mode] if mode else []
            lines += [packet(from_(name), "0000", "0001", body), "#", "#300000"]
            write("replica_packet", "\n".join(lines).encode())
    # Sequences a run shows: a client's put and get at a leader, the
    # follower's side of replication, an election lost to a higher term.
    write("replica_packet", "\n".join(["L", packet(client, "0000", "FFFF", put), "#",
          packet("0001", "0000", "0000", bodies["appended"]), packet(client, "0000", "0000", get),
          "#", "#2000000"]).encode())
    write("replica_packet", "\n".join(["F", packet("0001", "0000", "0001", bodies["append-entries"]),
          packet(client, "0000", "0001", get), packet(client, "0000", "0001", put),
          "#3000000", "#"]).encode())
    write("replica_packet", "\n".join(["", "#", packet("0002", "FFFF", "FFFF", bodies["prevote"]),
          "#", packet("0002", "0000", "FFFF", bodies["vote"]), "#"]).encode())


def main() -> int:
    paths = recordings(sys.argv[1:])
    for p in paths:
        report_and_ingest(p)
    replica_packets()
    for d in sorted(SEEDS.iterdir()):
        files = list(d.iterdir())
        print(f"{d.relative_to(ROOT)}: {len(files)} files, {sum(f.stat().st_size for f in files)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
