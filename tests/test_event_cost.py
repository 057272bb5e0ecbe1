"""State events off the request path (simulator/events.py, traffic.py, network.py).

The simulator keeps only the raw facts of an event on the path of a packet
(a request's record, one traffic log entry per packet) and formats them in
a quiet pass of the main loop.  These tests check that this loses nothing
and changes nothing: every event is in the record, in the order it
happened, byte for byte what the general JSON encoder would write; the
traffic rows are the per-recipient counts; a pass that sent or read a
packet does no event work unless the events are due; and a run stopped by
Ctrl-C still records everything queued.
"""

import json
import os
import shutil
import tempfile
import time
import unittest
from typing import Any, Dict, List, Tuple
from unittest import mock

from simulator.config import validate_config
from simulator.events import EVENT_SEND_DELAY, EVENT_SEND_LINES, EventSink, tally_traffic
from simulator.simulation import RECORD_DRAIN_INTERVAL, Simulation
from tests import support

T0 = 1000.0                        # the clock's t0 in the driven simulations
EPOCH_NS = 1_700_000_000 * 10 ** 9


def dumps(fields: Dict[str, Any]) -> bytes:
    """An event as the general encoder writes it (the schema's field order)."""
    return json.dumps(fields, separators=(",", ":"), allow_nan=False).encode("ascii")


def packet(src: str, dst: str, leader: str = "FFFF", mtype: str = "append", **extra: Any) -> bytes:
    msg = {"src": src, "dst": dst, "leader": leader, "type": mtype}
    msg.update(extra)
    return json.dumps(msg).encode()


class Driven:
    """A Simulation that is never started, with a real sink recording to a
    file, a controlled clock and replicas that take every packet."""

    def __init__(self, directory: str, replicas: int = 5) -> None:
        self.record = os.path.join(directory, "rec.jsonl")
        self.sink = EventSink(None, self.record)
        self.sink.open()
        self.sink._epoch_ns = EPOCH_NS
        config = validate_config(support.short_config(replicas=replicas))
        self.sim = Simulation(config, support.fake("toy"), seed=1, sink=self.sink)
        self.t = 0.0
        self.sim.clock.t0 = T0
        self.sim.clock.now = lambda: self.t          # type: ignore[method-assign]
        self.sink.now_us = lambda: self.sink.at_us(T0 + self.t)  # type: ignore[method-assign]
        self.sim.replicas.deliver = lambda rep, data: rep.alive  # type: ignore[method-assign]

    def route(self, src: str, data: bytes) -> None:
        self.sim.network.route(self.sim.replicas.by_id[src], data, int((T0 + self.t) * 1e9))

    def lines(self) -> List[bytes]:
        self.sink.close()
        with open(self.record, "rb") as fh:
            data = fh.read()
        assert data.endswith(b"\n")
        return data.split(b"\n")[:-1]


class DeferredFormatting(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="simevents-cost-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def test_request_events_are_what_the_json_encoder_writes_in_the_order_they_happened(self):
        d = Driven(self.dir)
        sim, net = d.sim, d.sim.network
        expected: List[bytes] = []
        keys = ["plain", "quote\"back\\slash", "ctrl\x01\n", "caf\u00e9 \u2603 \U0001F600"]
        for i in range(200):
            d.t += 0.003
            client = sim.pool.clients[i % len(sim.pool.clients)]
            mid = f"MID{i:013d}"
            key = keys[i % len(keys)]
            net.send_request(client, "put" if i % 3 else "get", key, "V", mid)
            rec = sim.pool.records[-1]
            expected.append(dumps({"v": 1, "ts": (EPOCH_NS + int((T0 + rec.sent) * 1e9)) // 1000,
                                   "src": "sim", "kind": "request_sent", "mid": mid, "client": client.id,
                                   "op": rec.type, "key": key, "target": rec.target}))
            d.t += 0.0004 + (i % 7) * 1e-5
            answer = ("ok", "redirect", "fail")[i % 3 if i % 5 == 0 else 0]
            n = len(sim.pool.records)
            d.route("0000", packet("0000", client.id, "0000", answer, MID=mid, value="V"))
            t_read = rec.answered
            expected.append(dumps({"v": 1, "ts": (EPOCH_NS + int((T0 + t_read) * 1e9)) // 1000,
                                   "src": "sim", "kind": "request_answered", "mid": mid,
                                   "client": client.id, "op": rec.type, "outcome": answer,
                                   "latency_us": max(0, int(round((t_read - rec.sent) * 1e6))),
                                   "replica": "0000"}))
            for retry in sim.pool.records[n:]:         # a redirect or fail is retried at once
                expected.append(dumps({"v": 1, "ts": (EPOCH_NS + int((T0 + retry.sent) * 1e9)) // 1000,
                                       "src": "sim", "kind": "request_sent", "mid": retry.mid,
                                       "client": client.id, "op": retry.type, "key": key,
                                       "target": retry.target}))
            if i % 9 == 0:
                d.sink.flush(idle=i % 2 == 0)        # some batches go out meanwhile, some wait
        self.assertEqual(d.sink.emitted, len(expected))
        self.assertEqual(d.lines(), expected)

    def test_traffic_rows_are_the_per_recipient_counts(self):
        d = Driven(self.dir)
        sim = d.sim
        ids = sim.replicas.ids
        sim.replicas.kill(sim.replicas.by_id["0004"])
        expected: Dict[Tuple[str, str, str, str], int] = {}

        def add(src: str, dst: str, mtype: str, fate: str) -> None:
            expected[(src, dst, mtype, fate)] = expected.get((src, dst, mtype, fate), 0) + 1

        majority = frozenset({"0000", "0001", "0002"})
        for i in range(300):
            src = ids[i % 4]
            partitioned = i >= 150
            sim.network.partition = majority if partitioned else None
            dst = "FFFF" if i % 3 == 0 else ids[(i + 1 + i // 4) % 5]
            mtype = ("append", "appended", "vote")[i % 3]
            d.route(src, packet(src, dst, "0000", mtype))
            for rid in ([r for r in ids if r != src] if dst == "FFFF" else [dst]):
                if partitioned and (src in majority) != (rid in majority):
                    add(src, rid, mtype, "partitioned")
                else:
                    add(src, rid, mtype, "dead" if rid == "0004" else "delivered")
        d.route("0001", b"{not json")
        add("0001", "FFFF", "?", "invalid")
        d.t = 0.05
        sim.traffic.close_window(d.t, sim.network.leader, final=True)
        (line,) = d.lines()
        ev = json.loads(line)
        rows = {(r["src"], r["dst"], r["type"], r["fate"]): r["count"] for r in ev["rows"]}
        self.assertEqual(rows, expected)
        self.assertEqual(sum(n for (_, _, _, f), n in rows.items() if f != "invalid"),
                         sim.counters.total_msgs)
        # The rows are sorted, as the dict-fed formatter writes them.
        self.assertEqual([(r["src"], r["dst"], r["type"], r["fate"]) for r in ev["rows"]], sorted(rows))

    def test_a_window_is_the_same_from_counts_or_from_a_log(self):
        log = [("0000", ("0001", "0002", "0003"), "append", ["delivered", "dropped", "delivered"]),
               ("0001", "0000", "appended", "delivered"), ("0002", "0000", "appended", "partitioned"),
               ("0000", "0015", "ok", "client"), ("0000", ("0001", "0002", "0003"), "append",
                                                  ["delivered", "delivered", "dead"]),
               ("0003", "FFFF", "x" * 300, "invalid")]
        counts = tally_traffic(log)
        self.assertEqual(counts[("0000", "0001", "append", "delivered")], 2)
        self.assertEqual(sum(counts.values()), 10)
        self.assertIs(tally_traffic(counts), counts)
        self.assertEqual(EventSink._traffic_lines(5, 100000, "0000", log),
                         EventSink._traffic_lines(5, 100000, "0000", counts))

    def test_the_sink_is_due_after_the_delay_or_once_enough_lines_wait(self):
        sink = EventSink(None, os.path.join(self.dir, "rec.jsonl"))
        sink.open()
        self.addCleanup(sink.close)
        self.assertEqual(sink.due, float("inf"))      # nothing waits
        before = time.monotonic()
        sink.emit("partition_healed", {})
        self.assertGreaterEqual(sink.due, before + EVENT_SEND_DELAY)
        self.assertLessEqual(sink.due, time.monotonic() + EVENT_SEND_DELAY)
        for _ in range(EVENT_SEND_LINES - 2):
            sink.emit("partition_healed", {})
        self.assertGreater(sink.due, time.monotonic())
        sink.emit("partition_healed", {})            # the EVENT_SEND_LINES-th
        self.assertLessEqual(sink.due, time.monotonic())
        sink.flush(idle=False)                       # due: goes out in a busy pass too
        self.assertEqual(sink.due, float("inf"))
        sink.close()
        with open(sink.record_path or "", "rb") as fh:
            self.assertEqual(len(fh.read().splitlines()), EVENT_SEND_LINES)

    def test_no_request_event_is_built_without_a_sink(self):
        config = validate_config(support.short_config())
        sim = Simulation(config, support.fake("toy"), seed=1)
        sim.clock.start()
        sim.replicas.deliver = lambda rep, data: True  # type: ignore[method-assign]
        sim.network.send_request(sim.pool.clients[0], "get", "K", None, "MID0000000000001")
        sim.network.route(sim.replicas.by_id["0000"],
                          packet("0000", sim.pool.clients[0].id, "0000", "ok", MID="MID0000000000001"),
                          time.monotonic_ns())
        self.assertEqual(sim.pool.records[0].answer_type, "ok")


# ---------------------------------------------------------------------------
# Whole runs (the event-emitting fake replicas)
# ---------------------------------------------------------------------------


class Runs(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="simevents-cost-run-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.tmp = os.path.join(self.dir, "tmp")
        os.mkdir(self.tmp)
        env = mock.patch.dict(os.environ, {"TMPDIR": self.tmp})
        env.start()
        self.addCleanup(env.stop)
        os.environ.pop("KVDASH_SOCKET", None)
        tempfile.tempdir = None            # TMPDIR is read again
        self.addCleanup(setattr, tempfile, "tempdir", None)

    def simulation(self, lifetime: float = 5, requests: int = 150) -> Tuple[Simulation, str]:
        record = os.path.join(self.dir, "rec.jsonl")
        config = validate_config(support.short_config(lifetime=lifetime, requests=requests, mix=0.5))
        sim = Simulation(config, support.fake("emits_events"), seed=3, workdir=self.dir, record=record)
        return sim, record

    def recorded(self, record: str) -> List[Dict[str, Any]]:
        with open(record, "rb") as fh:
            data = fh.read()
        self.assertTrue(data.endswith(b"\n"))
        return [json.loads(line) for line in data.split(b"\n")[:-1]]

    def test_a_pass_that_sent_or_read_a_packet_does_no_event_work_unless_due(self):
        sim, record = self.simulation()
        sink = sim.sink
        assert sink is not None
        calls: List[Tuple[str, float, bool]] = []     # (what, monotonic time, the events were due)
        in_loop = [False]

        def spy(name: str, fn: Any) -> Any:
            def wrapped(*args: Any, **kwargs: Any) -> Any:
                if in_loop[0]:
                    now = time.monotonic()
                    calls.append((name, now, now >= sink.due))
                return fn(*args, **kwargs)
            return wrapped

        real_loop = sim._loop

        def loop() -> None:
            in_loop[0] = True
            try:
                real_loop()
            finally:
                in_loop[0] = False

        deliver = sim.replicas.deliver
        sim.replicas.deliver = spy("deliver", deliver)        # type: ignore[method-assign]
        receive = spy("receive", sim.replicas.receive)
        # Reading the record socket (which receive leaves alone) keeps a pass quiet.
        sim.replicas.receive = lambda s: None if s is sink.rec_sock else receive(s)  # type: ignore
        sink.flush = spy("flush", sink.flush)                 # type: ignore[method-assign]
        sink.drain = spy("drain", sink.drain)                 # type: ignore[method-assign]
        sim._loop = loop                                      # type: ignore[method-assign]
        import simulator.simulation as simulation_module
        real_select = simulation_module.select.select
        with mock.patch.object(simulation_module.select, "select",
                               spy("select", real_select)):
            result = sim.run()
        self.assertTrue(result.passed, result)
        busy = False
        last_drain = -1.0
        flushes = drains = 0
        for what, now, due in calls:
            if what == "select":
                busy = False
            elif what in ("deliver", "receive"):
                busy = True
            elif what == "flush":
                flushes += 1
                self.assertTrue(not busy or due, "a busy pass flushed events that were not due")
            elif what == "drain":
                drains += 1
                self.assertTrue(not busy or due or now - last_drain >= RECORD_DRAIN_INTERVAL * 0.99,
                                "a busy pass read the record socket again within the interval")
                last_drain = now
        self.assertGreater(flushes, 10)
        self.assertGreater(drains, 10)
        self.assertGreater(sum(1 for c in calls if c[0] == "deliver"), 100)
        # And nothing was lost meanwhile.
        events = self.recorded(record)
        sim_events = [e for e in events if e["src"] == "sim"]
        self.assertEqual(len(sim_events), sink.emitted)
        self.assertEqual(sink.received, len(events) - len(sim_events))
        self.assertEqual([e["mid"] for e in sim_events if e["kind"] == "request_sent"],
                         [r.mid for r in result.records])
        answered = {e["mid"]: e for e in sim_events if e["kind"] == "request_answered"}
        self.assertEqual(set(answered), {r.mid for r in result.records if r.answered is not None})
        for r in result.records:
            if r.answered is not None:
                self.assertEqual(answered[r.mid]["latency_us"], max(0, int(round(r.latency * 1e6))))
        self.assertEqual(sim_events[0]["kind"], "run_start")
        self.assertEqual(sim_events[-1]["kind"], "run_end")
        self.assertEqual({e["src"] for e in events if e["kind"] == "stop"}, {"0000", "0001", "0002"})

    def test_ctrl_c_records_every_event_still_queued(self):
        sim, record = self.simulation(lifetime=30, requests=3000)
        sink = sim.sink
        assert sink is not None
        fired = [0]
        queued_at_interrupt: List[int] = []
        real_fire = sim._fire

        def fire(etype: str) -> None:
            real_fire(etype)
            fired[0] += 1
            if fired[0] == 120:
                queued_at_interrupt.append(len(sink._pending))
                raise KeyboardInterrupt

        sim._fire = fire                                       # type: ignore[method-assign]
        t0 = time.monotonic()
        with self.assertRaises(KeyboardInterrupt):
            sim.run()
        self.assertLess(time.monotonic() - t0, 20)
        self.assertGreater(queued_at_interrupt[0], 0)          # the interrupt came with events queued
        events = self.recorded(record)
        sim_events = [e for e in events if e["src"] == "sim"]
        self.assertEqual(len(sim_events), sink.emitted)
        self.assertEqual(sim_events[0]["kind"], "run_start")
        self.assertEqual(sim_events[-1]["kind"], "traffic")    # the last window, closed at the interrupt
        self.assertEqual([e["mid"] for e in sim_events if e["kind"] == "request_sent"],
                         [r.mid for r in sim.pool.records])
        self.assertEqual(sum(1 for e in sim_events if e["kind"] == "request_answered"),
                         sum(1 for r in sim.pool.records if r.answered is not None))
        self.assertEqual({e["src"] for e in events if e["kind"] == "stop"}, {"0000", "0001", "0002"})
        self.assertEqual(os.listdir(self.tmp), [])


if __name__ == "__main__":
    unittest.main()
