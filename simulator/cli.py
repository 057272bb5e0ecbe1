"""The command line of run.py: options, checks, one run or ``all``, exit status."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

from .config import CLASSIC, TRANSPORTS, load_config, load_standard_scenarios
from .datadirs import DATA_DIR_ENV, DATA_ROOT_PREFIX
from .errors import SimulatorError
from .events import EVENT_SOCKET_ENV, UNIX_PATH_MAX
from .pace import COURSE_HOP_US, NATIVE, parse_pace
from .processes import TUNE_ENV, check_replica_program, check_tune
from .report import format_report, format_summary_line, result_to_json, write_json
from .result import RunResult
from .signals import signals_interrupt
from .simulation import new_seed, run_simulation

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="run.py",
        description=(
            "Simulate a cluster of 3700kvstore replicas and grade it like the course simulator. "
            "CONFIG is a path, a name under configs/ (with or without .json), or 'all' for the "
            "17 standard scenarios."),
        epilog=(
            "Exit status: 0 when the run passes (all correctness checks hold, linearizability "
            "included unless --course-checks; for 'all', every "
            "scenario PASSes, meaning also that no metric is in the Failed tier), 1 when it does "
            "not, 2 for a bad config, a missing replica or bad arguments, 130 when interrupted."))
    p.add_argument("config", help="config path or name, or 'all'")
    p.add_argument("-r", "--replica", default="./3700kvstore",
                   help="replica program (default: ./3700kvstore)")
    p.add_argument("-s", "--silence", action="store_true",
                   help="send replica stdout/stderr to /dev/null (default: show them prefixed "
                        "with the time and the replica ID)")
    p.add_argument("--transport", choices=TRANSPORTS, default=CLASSIC,
                   help="classic: Unix SEQPACKET, arguments <id> <peers> (default); "
                        "udp: second generation, hello handshake, arguments <port> <id> <peers>")
    p.add_argument("--seed", type=int, default=None, metavar="N",
                   help="seed for every random choice (workload, drops, partitions, kills); "
                        "default: a random seed, printed in the report")
    p.add_argument("--json", metavar="FILE", default=None,
                   help="write every statistic, verdict and request record to FILE")
    p.add_argument("-c", "--config-dir", metavar="DIR", default=None,
                   help="where 'all' finds the standard scenarios (default: configs/, or "
                        "configs/udp/ with --transport udp)")
    p.add_argument("--pause", type=float, default=0.0, metavar="SECONDS",
                   help="pause between scenarios in 'all' mode (default 0)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="in 'all' mode, also print each scenario's full report")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="bold headings and coloured verdicts (default: when stdout is a terminal)")
    p.add_argument("--events", metavar="PATH", default=None,
                   help="stream state events (JSON lines, schema v1 of shared/README.md: run_start, "
                        "request_sent/answered, kill, partition, traffic every 100 ms, run_end) to the "
                        "Unix datagram socket PATH, e.g. the one kvdash listens on, and pass PATH to "
                        "the replicas as $%s for their own events. Never blocks: events nobody "
                        "receives are dropped and counted (events_dropped). With 'all', every "
                        "scenario streams its own run_start ... run_end" % EVENT_SOCKET_ENV)
    p.add_argument("--record", metavar="FILE", default=None,
                   help="write every event of the run, the simulator's and the replicas' (gathered "
                        "on a private socket passed as $%s), to FILE as JSON lines; with --events "
                        "they are also forwarded to PATH. Not with 'all'" % EVENT_SOCKET_ENV)
    p.add_argument("--course-checks", action="store_true",
                   help="grade exactly as the course simulator does: the linearizability verdict "
                        "is reported but is not a correctness check (by default a history that is "
                        "not linearizable, or not decided within the budget, fails the run)")
    p.add_argument("--pace", default=NATIVE, metavar="PACE",
                   help="the least time the simulator takes over each packet: 'native' (as fast as "
                        "run.py goes, ~35 µs; default), 'course' (%d µs, the course's classic "
                        "simulator, under which replicas batch more) or a time such as 80us or "
                        "0.2ms. The loop stays busy meanwhile, as the course's does" % COURSE_HOP_US)
    p.add_argument("--tune", default="", metavar="KNOBS",
                   help="the replicas' timing and size knobs, e.g. heartbeat=200ms,election=800ms-1600ms, "
                        "passed to them as $%s; checked first with `REPLICA --tune KNOBS --print-config`, "
                        "which also lists every knob" % TUNE_ENV)
    p.add_argument("--durable", action="store_true",
                   help="give every replica a data dir of its own, passed as $%s, under a fresh "
                        "%sXXXXXXXX folder in the working directory (a config with restart or "
                        "kill_restart events always does; without either, replicas get none and "
                        "keep everything in memory)" % (DATA_DIR_ENV, DATA_ROOT_PREFIX))
    p.add_argument("--keep-data", action="store_true",
                   help="keep the replicas' data dirs after the run (the report says where); by "
                        "default they are removed when the run ends, also on Ctrl-C or an error. "
                        "Nothing to keep in runs without data dirs")
    return p


def _error(msg: str) -> None:
    try:
        sys.stderr.write(f"run.py: error: {msg}\n")
        sys.stderr.flush()
    except OSError:
        pass            # the terminal hung up (SIGHUP): nobody to tell


def _check_event_options(args: argparse.Namespace) -> Optional[str]:
    """What is wrong with --events / --record, if anything."""
    if args.record is not None:
        if args.config == "all":
            return "--record cannot be used with 'all': record one scenario at a time (--events works with 'all')"
        if not args.record or os.path.isdir(args.record):
            return f"--record needs a file name (got {args.record!r})"
    if args.events is not None:
        if not args.events:
            return "--events needs a socket path"
        length = len(os.fsencode(os.path.abspath(args.events)))
        if length > UNIX_PATH_MAX:
            return f"--events path is too long for a Unix socket ({length} bytes, at most {UNIX_PATH_MAX})"
    if args.seed is not None and not 0 <= args.seed < 2 ** 64:
        return "--seed must be between 0 and 2**64 - 1 with --events/--record (the event schema's seed is unsigned)"
    return None


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    # Ctrl-C, SIGTERM and SIGHUP always stop the run cleanly.
    with signals_interrupt():
        return _main(args, color)


def _main(args: argparse.Namespace, color: bool) -> int:
    # Everything is checked before any replica starts.
    try:
        if args.config == "all":
            configs = load_standard_scenarios(args.config_dir, args.transport)
        else:
            configs = [load_config(args.config, args.transport, args.config_dir)]
        replica = check_replica_program(args.replica)
    except SimulatorError as exc:
        _error(str(exc))
        return EXIT_USAGE
    try:
        pace = parse_pace(args.pace)
    except SimulatorError as exc:
        _error(str(exc))
        return EXIT_USAGE
    if args.pause < 0:
        _error("--pause must not be negative")
        return EXIT_USAGE
    sim_kwargs: Dict[str, Any] = {"pace": pace}
    if args.durable:
        sim_kwargs["durable"] = True
    if args.keep_data:
        sim_kwargs["keep_data"] = True
    if args.tune:
        try:
            check_tune(replica, args.tune)
        except SimulatorError as exc:
            _error(str(exc))
            return EXIT_USAGE
        sim_kwargs["tune"] = args.tune
    if args.events is not None or args.record is not None:
        problem = _check_event_options(args)
        if problem:
            _error(problem)
            return EXIT_USAGE
        if args.events is not None:
            sim_kwargs["events"] = os.path.abspath(args.events)
        if args.record is not None:
            sim_kwargs["record"] = args.record

    results: List[RunResult] = []
    try:
        for i, cfg in enumerate(configs):
            if i and args.pause:
                time.sleep(args.pause)
            seed = args.seed if args.seed is not None else new_seed()
            result = run_simulation(cfg, replica, seed, args.transport, args.silence, os.getcwd(),
                                    course_checks=args.course_checks, **sim_kwargs)
            results.append(result)
            if args.config == "all":
                if args.verbose:
                    sys.stdout.write(format_report(result, color))
                sys.stdout.write(format_summary_line(result, color) + "\n")
            else:
                sys.stdout.write(format_report(result, color))
            sys.stdout.flush()
    except KeyboardInterrupt:
        _error("interrupted; every replica was stopped and every socket file removed")
        return EXIT_INTERRUPTED
    except SimulatorError as exc:
        _error(str(exc))
        return EXIT_USAGE

    if args.config == "all":
        passed = sum(1 for r in results if r.passed)
        sys.stdout.write(f"Passed {passed} out of {len(results)} tests\n")
        ok = passed == len(results)
    else:
        ok = results[0].correct
    if args.json:
        try:
            if args.config == "all":
                payload: Any = {"runs": [result_to_json(r) for r in results],
                                "passed": sum(1 for r in results if r.passed), "total": len(results)}
            else:
                payload = result_to_json(results[0])
            write_json(args.json, payload)
        except OSError as exc:
            _error(f"cannot write {args.json}: {exc.strerror}")
            return EXIT_USAGE
    return EXIT_OK if ok else EXIT_FAILED
