"""The workload: seeds, request generation rules, IDs (docs/simulator.md: "Requests",
"Replicas and clients", "Additions")."""

import hashlib
import unittest

from simulator.clients import ClientPool
from simulator.ids import client_ids, replica_ids
from simulator.workload import Workload, stream


def generate(seed: int, n: int, mix: float = 0.5, ack: bool = True):
    """Plan ``n`` requests; with ``ack`` every put is acknowledged at once."""
    workload = Workload(seed)
    pool = ClientPool(5, mix)
    out = []
    for _ in range(n):
        p = pool.plan(workload.next())
        out.append(p)
        if ack and p.type == "put":
            pool.clients[p.client].held[p.key] = p.value
    return out


class Seeds(unittest.TestCase):
    def test_the_same_seed_gives_the_same_workload(self):
        self.assertEqual(generate(42, 500), generate(42, 500))
        self.assertEqual(generate(42, 500, ack=False), generate(42, 500, ack=False))

    def test_another_seed_gives_another_workload(self):
        self.assertNotEqual(generate(42, 50), generate(43, 50))

    def test_the_draw_stream_does_not_depend_on_the_clients_state(self):
        # Same draws whether or not puts succeed: only what they mean changes.
        acked = generate(7, 200)
        unacked = generate(7, 200, ack=False)
        self.assertEqual([p.mid for p in acked], [p.mid for p in unacked])
        self.assertEqual([p.client for p in acked], [p.client for p in unacked])

    def test_purpose_streams_are_independent_and_reproducible(self):
        a = [stream(1, "drops").random() for _ in range(5)]
        self.assertEqual(a, [stream(1, "drops").random() for _ in range(5)])
        self.assertNotEqual(a, [stream(1, "kills").random() for _ in range(5)])


class GenerationRules(unittest.TestCase):
    def test_ids(self):
        self.assertEqual(replica_ids(5), ["0000", "0001", "0002", "0003", "0004"])
        self.assertEqual(client_ids(5), ["0015", "0016", "0017", "0018", "0019", "001A", "001B", "001C"])
        self.assertEqual(client_ids(21)[0], "0025")

    def test_mids_and_keys_have_the_contract_shape(self):
        for p in generate(3, 300):
            self.assertRegex(p.mid, r"^[A-Z0-9]{16}$")
            self.assertRegex(p.key, r"^[A-Z0-9]{32}$")

    def test_new_keys_hold_the_md5_of_the_key_and_updates_chain_it(self):
        seen = {}
        workload = Workload(5)
        pool = ClientPool(5, 0.0)      # puts only
        for _ in range(300):
            p = pool.plan(workload.next())
            held = pool.clients[p.client].held
            if p.key in held:
                self.assertEqual(p.value, hashlib.md5(held[p.key].encode()).hexdigest())
            else:
                self.assertEqual(p.value, hashlib.md5(p.key.encode()).hexdigest())
            held[p.key] = p.value
            seen[p.key] = p.client
        # Roughly half the puts create a new key.
        self.assertTrue(100 < len(seen) < 200, len(seen))

    def test_a_get_without_keys_turns_into_a_put(self):
        for p in generate(9, 200, mix=1.0, ack=False):
            self.assertEqual(p.type, "put")
            self.assertTrue(p.failed_to_generate_get)

    def test_gets_pick_among_the_clients_own_acknowledged_keys(self):
        workload = Workload(11)
        pool = ClientPool(5, 0.8)
        gets = 0
        for _ in range(400):
            p = pool.plan(workload.next())
            held = pool.clients[p.client].held
            if p.type == "get":
                gets += 1
                self.assertIn(p.key, held)
                self.assertFalse(p.failed_to_generate_get)
            else:
                held[p.key] = p.value
        self.assertGreater(gets, 200)

    def test_mix_is_the_get_probability(self):
        plans = generate(13, 2000, mix=0.8)
        draws = sum(1 for p in plans if p.type == "get" or p.failed_to_generate_get)
        self.assertAlmostEqual(draws / 2000, 0.8, delta=0.04)


if __name__ == "__main__":
    unittest.main()
