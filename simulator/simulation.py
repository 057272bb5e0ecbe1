"""One run of a config against a replica program (docs/simulator.md, "The run").

``Simulation`` puts the parts together and runs the main loop; the state
belongs to the parts:

* ``replicas`` (``processes.ReplicaSet``): the processes and their sockets;
* ``pool`` (``clients.ClientPool``): the clients and every request;
* ``network`` (``network.Network``): routing, the partition, drops, the leader view;
* ``faults`` (``faults.Faults``): the kill, partition and restart events;
* ``data`` (``datadirs.DataDirs``): the replicas' data dirs, None without;
* ``counters`` (``counters.Counters``): the tallies they all add to;
* ``sink`` and ``traffic``: the state events, None when off.
"""

from __future__ import annotations

import json
import os
import random
import select
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

from .clients import ClientPool
from .clock import Clock
from .config import CLASSIC, KILL_RESTART, RESTART, TRANSPORTS, Config
from .counters import Counters
from .datadirs import DataDirs
from .errors import SimulatorError
from .events import EVENT_SOCKET_ENV, EVENT_TIER_NAMES, EventSink
from .faults import RESTART_AFTER_KILL, Faults
from .grading import grade
from .network import Network
from .numeric import is_number
from .pace import Pace, pace_or_native
from .processes import TUNE_ENV, ReplicaSet, check_replica_program
from .report import result_counters
from .result import RunResult
from .signals import signals_deferred
from .traffic import TrafficCounter
from .watchdog import Watchdog

SELECT_TIMEOUT = 0.1
PROCESS_POLL_INTERVAL = 0.1
# The record socket is read in quiet passes, and in busy ones at most this
# often: its queue is short (net.unix.max_dgram_qlen, 10 datagrams).
RECORD_DRAIN_INTERVAL = 0.01

REQUEST = "request"      # the scheduled item that sends the next request


# A scheduled item: (time, sequence, type, index), the index being a
# kill_restart's place in the config's events (-1 for every other item).
Item = Tuple[float, int, str, int]


def schedule(config: Config) -> List[Item]:
    """(time, sequence, type, index) of every config event and every
    request, in time order; at the same time, config events come first.

    A ``kill_restart`` adds its restart, ``down`` seconds later (after the
    config events of that time, before its requests); one due after the
    end of the run never fires.
    """
    items: List[Item] = []
    seq = 0
    for i, ev in enumerate(config.events):
        items.append((ev.time, seq, ev.type, i if ev.type == KILL_RESTART else -1))
        seq += 1
    for i, ev in enumerate(config.events):
        if ev.type == KILL_RESTART:
            items.append((ev.time + ev.down, seq, RESTART_AFTER_KILL, i))
            seq += 1
    for t in config.request_times():
        items.append((t, seq, REQUEST, -1))
        seq += 1
    items.sort()
    return items


class Simulation:
    """One run of a config against a replica program.

    Single-threaded event loop, like the course simulator: each pass waits
    for readable sockets, reads one packet per readable replica socket and
    routes it, then fires every scheduled event that is due.
    """

    def __init__(self, config: Config, replica_path: str, seed: int, transport: str = CLASSIC,
                 silence: bool = True, workdir: Optional[str] = None,
                 out: Any = None, err: Any = None,
                 events: Optional[str] = None, record: Optional[str] = None,
                 sink: Optional[EventSink] = None, course_checks: bool = False,
                 pace: Optional[Pace] = None, tune: str = "", durable: bool = False,
                 keep_data: bool = False) -> None:
        """``events``/``record``/``course_checks``/``pace``/``tune``/``durable``/``keep_data``:
        see ``run_simulation``; ``sink``: an event sink to use instead (never opened: for tests)."""
        if transport not in TRANSPORTS:
            raise SimulatorError(f"unknown transport {transport!r}")
        if config.transport != transport:
            raise SimulatorError("the config was validated for another transport")
        self.config = config
        self.course_checks = course_checks
        self.pace = pace_or_native(pace)
        self.replica_path = check_replica_program(replica_path)
        self.seed = seed
        self.transport = transport
        self.workdir = os.path.abspath(workdir or os.getcwd())
        self.err = err or sys.stderr
        self.clock = Clock()
        self.counters = Counters()
        # State events: None when off, so that the hot paths pay one
        # comparison and build nothing.
        if sink is None and (events or record):
            sink = EventSink(events, record)
        self.sink = sink
        self.traffic = TrafficCounter(sink, self.clock) if sink is not None else None
        self.replicas = ReplicaSet(config.replicas, transport, self.replica_path, self.workdir,
                                   self.counters, self.clock, silence, out, err)
        self.tune = tune
        if tune:
            self.replicas.env = dict(self.replicas.env, **{TUNE_ENV: tune})
        self.pool = ClientPool(config.replicas, config.mix, seed, self.counters)
        self.network = Network(config, self.replicas, self.pool, self.counters, self.clock, seed,
                               sink, self.traffic, self.pace)
        self.faults = Faults(self.replicas, self.network, self.pool, seed, sink, config.events)
        # The replicas' data dirs: only when a replica restarts or --durable
        # asks, so that other runs cost what they always did.
        self.data: Optional[DataDirs] = None
        if durable or config.has_restarts:
            self.data = DataDirs(self.workdir, keep_data)
        self.hop_ns: List[int] = []       # the simulator's time per routed packet
        self.packet_storm = False
        self._started = False             # every replica was started
        self._finished = False            # the loop ran to its end (no exception)

    # ---- the run ----------------------------------------------------------------

    def run(self) -> RunResult:
        """Start the replicas, run the scenario, stop everything, grade."""
        if self.sink is not None and not 0 <= self.seed < 2 ** 64:
            raise SimulatorError("the seed must be between 0 and 2**64 - 1 to be sent in events")
        # Cleans up after us if we die unable to (SIGKILL): told of every
        # temporary folder, socket file and replica group as they appear.
        watchdog = Watchdog.start()
        self.replicas.watchdog = watchdog
        try:
            return self._run_watched(watchdog)
        finally:
            if watchdog is not None:
                with signals_deferred():
                    watchdog.release()

    def _run_watched(self, watchdog: Optional[Watchdog]) -> RunResult:
        wall0 = time.monotonic()
        sink = self.sink
        if sink is not None:
            sink.open()       # SimulatorError before any replica starts
            if watchdog is not None and sink.record_path is not None and sink.replica_socket:
                watchdog.socket(sink.replica_socket)
                watchdog.directory(os.path.dirname(sink.replica_socket))
        try:
            try:
                self._setup()
                self._loop()
            finally:
                # Normal end, Ctrl-C or any exception: no replica and no socket
                # file outlives the run.
                self._teardown()
            self.pool.finish()
            result = RunResult(
                config=self.config, seed=self.seed, transport=self.transport,
                replica=self.replica_path, counters=self.counters, leaders=list(self.network.leaders),
                latencies=self.pool.latencies, records=self.pool.records, hop_ns=self.hop_ns,
                duration=time.monotonic() - wall0, packet_storm=self.packet_storm,
                replica_pids=self.replicas.pids(), pace=self.pace.label, tune=self.tune,
                durable=self.data is not None,
                data_dir=self.data.root if self.data is not None and self.data.keep else None,
                restart_errors=list(self.faults.restart_errors))
            grade(result, course_checks=self.course_checks)
            self.emit_run_end(result)
        finally:
            if sink is not None:
                # The record file is complete even after Ctrl-C.
                with signals_deferred():
                    sink.close()
        if sink is not None:
            result.events = sink.summary()
            if sink.record_error:
                self.err.write(f"run.py: warning: the event record {sink.record_path} is incomplete: "
                               f"{sink.record_error}\n")
        return result

    def _setup(self) -> None:
        self.clock.start()
        sink = self.sink
        if sink is not None:
            if sink.replica_socket is not None:
                self.replicas.env = dict(self.replicas.env, **{EVENT_SOCKET_ENV: sink.replica_socket})
            if sink.rec_sock is not None:
                self.replicas.watch(sink.rec_sock)     # wakes the loop; drained in quiet passes
            self._emit_run_start()
            sink.flush(force=True)
        if self.data is not None:
            dirs = self.data.create(self.replicas.ids)
            for rep in self.replicas:
                rep.data_dir = dirs[rep.id]
            watchdog = self.replicas.watchdog
            if watchdog is not None and not self.data.keep and self.data.root is not None:
                watchdog.tree(self.data.root)
        self.replicas.start()
        self.clock.start(self.config.run_lifetime)
        self._started = True

    def _loop(self) -> None:
        items = schedule(self.config)
        n_items = len(items)
        ei = 0
        lifetime = self.clock.end
        # With every replica down the run ends, unless a restart is still
        # to come (the index of the last one due within the run, else -1).
        last_restart = max((i for i, it in enumerate(items)
                            if it[2] in (RESTART, RESTART_AFTER_KILL) and it[0] < self.config.run_lifetime),
                           default=-1)
        max_packets = self.config.max_packets
        c = self.counters
        replicas = self.replicas
        mono = time.monotonic
        t0 = self.clock.t0
        sel = select.select
        read_one = self._read_one
        next_poll = 0.0
        sink = self.sink
        traffic = self.traffic
        rec_sock = sink.rec_sock if sink is not None else None
        wake_for_schedule = self.pace.wake_for_schedule
        # When the open traffic window ends and when the record socket may
        # be read in a busy pass, in seconds since the start.
        window_close = traffic.next_close() if traffic is not None else lifetime
        drain_due = 0.0
        while True:
            now = mono() - t0
            if now >= lifetime:
                break
            if c.total_msgs >= max_packets:
                self.packet_storm = True
                break
            if replicas.n_alive <= 0 and ei > last_restart:
                break
            next_t = items[ei][0] if ei < n_items and wake_for_schedule else lifetime
            timeout = min(SELECT_TIMEOUT, max(0.0, next_t - now), lifetime - now)
            if traffic is not None and wake_for_schedule:
                # Wake up for the end of the traffic window too.
                timeout = min(timeout, max(0.0, window_close - now))
            try:
                readable, _, _ = sel(replicas.sockets, [], [], timeout)
            except InterruptedError:
                readable = []
            for s in readable:
                read_one(s)
            # Quiet: no replica packet came (the record socket does not
            # count) and nothing is sent in this pass, so no answer is on
            # its way: the moment to spend on events.
            quiet = not readable or (len(readable) == 1 and readable[0] is rec_sock)
            now = mono() - t0
            while ei < n_items and items[ei][0] <= now:
                item = items[ei]
                if item[3] < 0:
                    self._fire(item[2])
                else:
                    self._fire(item[2], item[3])
                ei += 1
                quiet = False
            if now >= next_poll:
                replicas.poll()
                next_poll = now + PROCESS_POLL_INTERVAL
            if sink is not None:
                # A pass that read or sent a packet goes back to select at
                # once (a replica woken by a send may be waiting for this
                # CPU): the sink's work waits for a quiet pass, unless its
                # events are due or the record socket has waited too long.
                if traffic is not None and now >= window_close:
                    traffic.close_window(now, self.network.leader)
                    window_close = traffic.next_close()
                if quiet or now + t0 >= sink.due:
                    if rec_sock is not None:
                        sink.drain()
                        drain_due = now + RECORD_DRAIN_INTERVAL
                    sink.flush(quiet)
                elif rec_sock is not None and now >= drain_due and rec_sock in readable:
                    sink.drain()
                    drain_due = now + RECORD_DRAIN_INTERVAL
        self._finished = True

    def _read_one(self, s: Any) -> None:
        got = self.replicas.receive(s)
        if got is None:
            return
        rep, data, addr, t_read_ns = got
        pace = self.pace
        pace.before_forward(t_read_ns)
        perf0 = time.perf_counter_ns()
        if self.replicas.handshake(rep, data, addr):
            return
        self.network.route(rep, data, t_read_ns)
        own = time.perf_counter_ns() - perf0
        self.hop_ns.append(own)
        pace.learn_own_cost(own)

    def _fire(self, etype: str, index: int = -1) -> None:
        if etype == REQUEST:
            client, planned = self.pool.next_request()
            self.network.send_request(client, planned.type, planned.key, planned.value, planned.mid)
        else:
            self.faults.fire(etype, index)

    def _teardown(self) -> None:
        # A second Ctrl-C must not interrupt the clean-up half way.
        with signals_deferred():
            sink = self.sink
            if sink is not None and self.traffic is not None and self._started:
                self.traffic.close_window(self.clock.now(), self.network.leader, final=True)
                sink.flush(force=True)
            self.replicas.stop_all()
            self._remove_data()
            if sink is not None:
                # The replicas' last words (their `stop` events).
                sink.drain(None)
                sink.flush(force=True)

    def _remove_data(self) -> None:
        """Remove the data dirs (every replica is stopped), or say where they are kept."""
        data = self.data
        if data is None or data.root is None:
            return
        if data.keep:
            if not self._finished:
                self.err.write(f"run.py: the replicas' data dirs are kept in {data.root}\n")
            return
        data.remove()
        if data.remove_error:
            self.err.write(f"run.py: warning: could not remove the replicas' data dirs: "
                           f"{data.remove_error}\n")

    # ---- state events -----------------------------------------------------------

    def _emit_run_start(self) -> None:
        cfg = self.config
        settings: Any = cfg.raw
        try:
            json.dumps(settings, allow_nan=False)
        except (TypeError, ValueError):
            settings = cfg.settings()       # NaN or the like in an unchecked field
        self.sink.emit("run_start", {  # type: ignore[union-attr]
            "config": cfg.path or cfg.name, "seed": self.seed, "replicas": list(self.replicas.ids),
            "clients": [cl.id for cl in self.pool.clients], "transport": self.transport,
            "lifetime": float(cfg.run_lifetime), "settings": settings})

    def emit_run_end(self, result: RunResult) -> None:
        """The ``run_end`` event: the verdict, the statistics, the checks and tiers."""
        sink = self.sink
        if sink is None:
            return
        result.events = sink.summary()     # _teardown flushed every queued event
        stats: Dict[str, float] = dict(result_counters(result))
        if result.latencies:
            stats["mean_latency"] = result.mean_latency
            stats["median_latency"] = result.median_latency
        if sink.record_path is not None:
            stats["events_malformed"] = sink.malformed
        stats = {k: v for k, v in stats.items() if is_number(v)}
        fields: Dict[str, Any] = {
            "passed": result.passed,
            "stats": stats,
            "checks": [{"name": k.name, "passed": k.passed, "detail": "" if k.passed else k.message}
                       for k in result.checks],
            "tiers": [{"metric": t.metric, "value": t.value, "thresholds": list(t.thresholds),
                       "tier": EVENT_TIER_NAMES.get(t.tier, t.tier)}
                      for t in result.tiers if is_number(t.value)],
        }
        status = result.linearizability.get("status")
        if status == "linearizable":
            fields["linearizable"] = True
        elif status == "not linearizable":
            fields["linearizable"] = False
        sink.emit("run_end", fields)


def run_simulation(config: Config, replica_path: str = "./3700kvstore", seed: Optional[int] = None,
                   transport: Optional[str] = None, silence: bool = True, workdir: Optional[str] = None,
                   out: Any = None, err: Any = None,
                   events: Optional[str] = None, record: Optional[str] = None,
                   course_checks: bool = False, pace: Optional[Pace] = None,
                   tune: str = "", durable: bool = False, keep_data: bool = False) -> RunResult:
    """Run one config and return the graded result.

    ``workdir`` is where the socket files are made and where the replicas
    run (default: the current directory).  Safe to call from several
    threads at once with different working directories.  ``events`` is a
    Unix datagram socket to stream state events to, ``record`` a file to
    write every event to (the simulator's and the replicas').
    ``course_checks`` grades as the course simulator does (the
    linearizability verdict is reported but is not a check).  ``pace``
    sets the least time each hop takes (default: as fast as run.py goes).
    ``tune`` is passed to the replicas as ``$KV_TUNE`` (their knobs; see
    ``3700kvstore --print-config``); it is not checked here.  ``durable``
    gives every replica a data dir (``$KV_DATA_DIR``) even when no event
    restarts one (a config that restarts replicas always does);
    ``keep_data`` keeps them after the run (``RunResult.data_dir``).
    """
    if seed is None:
        seed = new_seed()
    sim = Simulation(config, replica_path, seed, transport or config.transport, silence, workdir, out, err,
                     events=events, record=record, course_checks=course_checks, pace=pace, tune=tune,
                     durable=durable, keep_data=keep_data)
    return sim.run()


def new_seed() -> int:
    return random.SystemRandom().randrange(1, 2 ** 31)
