"""Routing, leader tracking, client handling and events, without sockets.

A ``Simulation`` is built but never started; its replicas' delivery
function is replaced by one that records what would have been sent.
"""

import json
import time
import unittest

from simulator.config import validate_config
from simulator.processes import is_hello
from simulator.simulation import Simulation, schedule
from simulator.workload import stream
from tests import support


def packet(src, dst, leader="FFFF", mtype="append", **extra) -> bytes:
    msg = {"src": src, "dst": dst, "leader": leader, "type": mtype}
    msg.update(extra)
    return json.dumps(msg).encode()


class Harness:
    def __init__(self, transport="classic", **cfg):
        config = validate_config(support.short_config(replicas=cfg.pop("replicas", 5), **cfg), transport)
        self.sim = Simulation(config, support.fake("toy"), seed=1, transport=transport)
        self.sim.clock.start(config.run_lifetime)
        self.delivered = []
        self.sim.replicas.deliver = lambda rep, data: self.delivered.append((rep.id, json.loads(data)))
        for rep in self.sim.replicas:
            rep.addr = ("127.0.0.1", 1)      # as if every UDP replica had said hello

    def rep(self, rid):
        return self.sim.replicas.by_id[rid]

    def send(self, rid, data: bytes):
        self.sim.network.route(self.rep(rid), data, time.monotonic_ns())

    @property
    def c(self):
        return self.sim.counters

    def to(self, rid):
        return [m for dst, m in self.delivered if dst == rid]


class Validation(unittest.TestCase):
    def test_malformed_packets_are_incorrect_and_dropped(self):
        h = Harness()
        bad = [
            b"{not json",
            b"\xff\xfe not utf-8",
            b"[]",
            b'"a string"',
            b'{"src": "0000", "dst": "0001", "leader": "FFFF"}',
            b'{"src": "0000", "dst": "0001", "leader": "FFF", "type": "x"}',
            b'{"src": "0000", "dst": "00001", "leader": "FFFF", "type": "x"}',
            b'{"src": "000G", "dst": "0001", "leader": "FFFF", "type": "x"}',
            b'{"src": "0000", "dst": "0001", "leader": "FFFF", "type": 5}',
            b'{"src": ["0000"], "dst": "0001", "leader": "FFFF", "type": "x"}',
        ]
        for data in bad:
            h.send("0000", data)
        self.assertEqual(h.c.incorrect, len(bad))
        self.assertEqual(h.c.total_msgs, 0)
        self.assertEqual(h.delivered, [])
        self.assertEqual(h.sim.network.leaders, ["FFFF"])

    def test_unknown_destination_is_incorrect(self):
        h = Harness()
        for dst in ("ABCD", "0005", "ffff"):
            h.send("0000", packet("0000", dst))
        self.assertEqual(h.c.incorrect, 3)
        self.assertEqual(h.c.total_msgs, 0)

    def test_extra_fields_are_allowed_and_forwarded(self):
        h = Harness()
        h.send("0000", packet("0000", "0001", term=3, entries=[1, 2]))
        self.assertEqual(h.to("0001"), [json.loads(packet("0000", "0001", term=3, entries=[1, 2]))])


class Routing(unittest.TestCase):
    def test_unicast_counts_one_and_delivers(self):
        h = Harness()
        h.send("0000", packet("0000", "0003"))
        self.assertEqual(h.c.total_msgs, 1)
        self.assertEqual([d for d, _ in h.delivered], ["0003"])

    def test_broadcast_counts_n_minus_1_even_with_dead_replicas(self):
        h = Harness()
        h.sim.replicas.kill(h.rep("0004"))
        h.send("0000", packet("0000", "FFFF"))
        self.assertEqual(h.c.total_msgs, 4)
        self.assertEqual(sorted(d for d, _ in h.delivered), ["0001", "0002", "0003", "0004"])

    def test_partition_separates_sides_without_counting_drops(self):
        h = Harness()
        h.sim.network.partition = frozenset({"0000", "0001", "0002"})
        h.send("0000", packet("0000", "0003"))
        h.send("0000", packet("0000", "0001"))
        h.send("0003", packet("0003", "0004"))
        h.send("0003", packet("0003", "FFFF"))
        self.assertEqual(h.c.total_msgs, 3 + 4)
        self.assertEqual(h.c.total_drops, 0)
        self.assertEqual(sorted(d for d, _ in h.delivered), ["0001", "0004", "0004"])

    def test_drops_use_one_draw_per_recipient(self):
        h = Harness(drops=0.5)
        for _ in range(200):
            h.send("0000", packet("0000", "FFFF"))
        draws = stream(1, "drops")
        expected = sum(1 for _ in range(800) if draws.random() < 0.5)
        self.assertEqual(h.c.total_msgs, 800)
        self.assertEqual(h.c.total_drops, expected)
        self.assertEqual(len(h.delivered), 800 - expected)

    def test_client_traffic_ignores_partitions_and_drops(self):
        h = Harness(drops=1.0)
        h.sim.network.partition = frozenset({"0000", "0001", "0002"})
        client = h.sim.pool.clients[0]
        client.belief = "0004"
        h.sim.network.send_request(client, "put", "K", "V", "MID0000000000001")
        self.assertEqual(h.to("0004")[0]["MID"], "MID0000000000001")
        h.send("0004", packet("0004", client.id, "0004", "ok", MID="MID0000000000001"))
        self.assertEqual(client.held, {"K": "V"})
        self.assertEqual((h.c.total_msgs, h.c.total_drops, h.c.incorrect), (0, 0, 0))


class LeaderTracking(unittest.TestCase):
    def test_history_appends_changes_only(self):
        h = Harness()
        for leader in ("FFFF", "0001", "0001", "FFFF", "0003"):
            h.send("0001", packet("0001", "0002", leader))
        self.assertEqual(h.sim.network.leaders, ["FFFF", "0001", "FFFF", "0003"])
        self.assertEqual(h.sim.network.leader, "0003")

    def test_only_the_majority_side_is_believed_during_a_partition(self):
        h = Harness()
        h.sim.network.partition = frozenset({"0000", "0001", "0002"})
        h.send("0004", packet("0004", "0003", "0004"))
        self.assertEqual(h.sim.network.leaders, ["FFFF"])
        h.send("0002", packet("0002", "0001", "0002"))
        self.assertEqual(h.sim.network.leaders, ["FFFF", "0002"])


class Clients(unittest.TestCase):
    def setUp(self):
        self.h = Harness()
        self.client = self.h.sim.pool.clients[0]
        self.client.belief = "0000"

    def request(self, rtype="put", key="K", value="V1", mid="AAAAAAAAAAAAAAAA"):
        self.h.sim.network.send_request(self.client, rtype, key, value, mid)

    def answer(self, mtype, mid="AAAAAAAAAAAAAAAA", src="0000", leader="0000", dst=None, **extra):
        self.h.send(src, packet(src, dst or self.client.id, leader, mtype, MID=mid, **extra))

    def test_ok_then_duplicate(self):
        self.request()
        self.answer("ok")
        self.answer("ok")
        self.answer("ok", src="0002")
        self.assertEqual((self.h.c.duplicates, self.h.c.incorrect), (2, 0))
        self.assertEqual(len(self.h.sim.pool.latencies), 1)
        self.assertEqual(self.h.sim.pool.records[0].duplicates, 2)

    def test_redirect_retries_with_a_new_mid_and_a_second_answer_is_incorrect(self):
        self.request()
        self.answer("redirect", leader="0002")
        self.assertEqual(self.h.c.redirects, 1)
        self.assertEqual(self.client.belief, "0002")
        retry = self.h.to("0002")[-1]
        self.assertNotEqual(retry["MID"], "AAAAAAAAAAAAAAAA")
        self.assertEqual((retry["type"], retry["key"], retry["value"]), ("put", "K", "V1"))
        self.answer("ok")          # the redirected MID answered again
        self.assertEqual(self.h.c.incorrect, 1)
        self.assertEqual(self.h.c.duplicates, 0)

    def test_fail_counts_as_redirect_and_failure(self):
        self.request("get", mid="GGGGGGGGGGGGGGGG")
        self.request("put", mid="PPPPPPPPPPPPPPPP")
        self.answer("fail", mid="GGGGGGGGGGGGGGGG")
        self.answer("fail", mid="PPPPPPPPPPPPPPPP")
        c = self.h.c
        self.assertEqual((c.redirects, c.failed_get, c.failed_put), (2, 1, 1))
        self.assertEqual(len(self.h.sim.pool.latencies), 2)

    def test_bad_responses_are_incorrect(self):
        self.request()
        self.answer("ok", mid="UNKNOWNUNKNOWN00")                   # never sent
        self.h.send("0000", packet("0000", self.client.id, "0000", "ok"))   # no MID
        self.answer("maybe")                                          # unknown type
        other = self.h.sim.pool.clients[1]
        self.answer("ok", dst=other.id)                               # wrong client
        self.assertEqual(self.h.c.incorrect, 4)
        self.assertIn("AAAAAAAAAAAAAAAA", self.client.outstanding)

    def test_get_value_must_match_what_the_client_holds(self):
        self.client.held["K"] = "V1"
        self.request("get", mid="G1G1G1G1G1G1G1G1", value=None)
        self.request("get", mid="G2G2G2G2G2G2G2G2", value=None)
        self.answer("ok", mid="G1G1G1G1G1G1G1G1", value="V1")
        self.answer("ok", mid="G2G2G2G2G2G2G2G2", value="stale")
        self.assertEqual(self.h.c.incorrect, 1)
        self.assertTrue(self.h.sim.pool.records[1].wrong_value)

    def test_dead_belief_sends_to_a_living_replica_and_resets(self):
        self.h.sim.replicas.kill(self.h.rep("0000"))
        self.request()
        self.assertEqual(self.client.belief, "FFFF")
        dst, msg = self.h.delivered[-1]
        self.assertNotEqual(dst, "0000")
        self.assertEqual(msg["leader"], "FFFF")

    def test_outstanding_requests_are_unanswered_at_the_end(self):
        self.request("put", mid="P1P1P1P1P1P1P1P1")
        self.request("get", mid="G1G1G1G1G1G1G1G1")
        self.request("get", mid="G2G2G2G2G2G2G2G2")
        self.answer("ok", mid="P1P1P1P1P1P1P1P1")
        self.h.sim.pool.finish()
        self.assertEqual((self.h.c.unanswered_get, self.h.c.unanswered_put), (2, 0))
        self.assertEqual(self.h.c.keys_put, 1)


class Events(unittest.TestCase):
    def test_kill_leader_kills_the_known_leader_and_everyone_forgets(self):
        h = Harness()
        h.send("0002", packet("0002", "0001", "0002"))
        for client in h.sim.pool.clients:
            client.belief = "0002"
        h.sim.faults.fire("kill_leader")
        self.assertFalse(h.rep("0002").alive)
        self.assertTrue(h.rep("0002").killed)
        self.assertEqual((h.c.killed, h.c.died), (1, 0))
        self.assertEqual(h.sim.network.leader, "FFFF")
        self.assertTrue(all(c.belief == "FFFF" for c in h.sim.pool.clients))
        self.assertEqual(h.sim.network.leaders, ["FFFF", "0002"])

    def test_kill_leader_without_a_leader_does_nothing(self):
        h = Harness()
        h.sim.faults.fire("kill_leader")
        self.assertEqual(h.c.killed, 0)
        self.assertTrue(all(r.alive for r in h.sim.replicas))

    def test_kill_non_leader_spares_the_leader(self):
        for seed_round in range(10):
            h = Harness()
            h.sim.faults.rng_kill = stream(seed_round, "kills")
            h.send("0001", packet("0001", "0002", "0001"))
            for _ in range(4):
                h.sim.faults.fire("kill_non_leader")
            self.assertEqual([r.id for r in h.sim.replicas if r.alive], ["0001"])
            h.sim.faults.fire("kill_non_leader")          # nobody left to kill
            self.assertEqual(h.c.killed, 4)

    def test_part_easy_keeps_the_leader_on_the_majority_side(self):
        for seed_round in range(10):
            h = Harness(replicas=7)
            h.sim.faults.rng_part = stream(seed_round, "partitions")
            h.send("0005", packet("0005", "0002", "0005"))
            h.sim.faults.fire("part_easy")
            self.assertEqual(len(h.sim.network.partition), 4)
            self.assertIn("0005", h.sim.network.partition)
            self.assertEqual(h.sim.network.leader, "0005")
            h.sim.faults.fire("part_end")
            self.assertIsNone(h.sim.network.partition)

    def test_part_hard_forgets_the_leader(self):
        h = Harness()
        h.send("0001", packet("0001", "0002", "0001"))
        h.sim.pool.clients[3].belief = "0001"
        h.sim.faults.fire("part_hard")
        self.assertEqual(len(h.sim.network.partition), 3)
        self.assertEqual(h.sim.network.leader, "FFFF")
        self.assertEqual(h.sim.pool.clients[3].belief, "FFFF")

    def test_partition_membership_follows_the_seed(self):
        def members(seed):
            h = Harness(replicas=9)
            h.sim.faults.rng_part = stream(seed, "partitions")
            h.sim.faults.fire("part_hard")
            return h.sim.network.partition
        self.assertEqual(members(5), members(5))
        self.assertNotEqual({members(s) for s in range(6)}, {members(5)})

    def test_schedule_puts_config_events_before_requests_at_the_same_time(self):
        h = Harness(events=[{"type": "part_end", "time": 2}])
        items = schedule(h.sim.config)
        self.assertEqual(items[0][2], "part_end")
        self.assertEqual(items[1][:1], (2.0,))
        self.assertEqual(sum(1 for s in items if s[2] == "request"), 40)


class UdpGeneration(unittest.TestCase):
    def test_a_replica_that_never_said_hello_is_treated_as_dead(self):
        config = validate_config(support.short_config(), "udp")
        sim = Simulation(config, support.fake("toy"), seed=1, transport="udp")
        rep = sim.replicas.by_id["0001"]
        sim.replicas.deliver(rep, packet("0000", "0001"))
        self.assertFalse(rep.alive)
        self.assertEqual(sim.counters.died, 1)

    def test_traffic_before_hello_is_incorrect(self):
        config = validate_config(support.short_config(), "udp")
        sim = Simulation(config, support.fake("toy"), seed=1, transport="udp")
        sim.network.route(sim.replicas.by_id["0000"], packet("0000", "0001"), 0)
        self.assertEqual((sim.counters.incorrect, sim.counters.total_msgs), (1, 0))

    def test_hello_is_recognised(self):
        self.assertTrue(is_hello(packet("0001", "FFFF", "FFFF", "hello")))
        self.assertFalse(is_hello(packet("0001", "FFFF", "FFFF", "append")))
        self.assertFalse(is_hello(b'{"type": "hello"}'))


if __name__ == "__main__":
    unittest.main()
