"""The linearizability checker on hand-made histories."""

import itertools
import random
import time
import unittest

from simulator.clients import RequestRecord
from simulator.linearizability import (INF, LINEARIZABLE, NOT_LINEARIZABLE, UNDECIDED, Op, _by_clusters,
                                       _relevant, _search, _unwritten_read, check_linearizability,
                                       check_register, decide_register, history_from_records)


def w(value, invoke, response=INF, mid=""):
    """A write; without a response it may or may not have happened."""
    return Op("w", value, invoke, response, response != INF, mid)


def r(value, invoke, response, mid=""):
    return Op("r", value, invoke, response, True, mid)


def status(ops, **kw):
    return check_register(ops, **kw)[0]


class Registers(unittest.TestCase):
    def test_empty_and_writes_only(self):
        self.assertEqual(status([]), "linearizable")
        self.assertEqual(status([w("a", 0, 1), w("b", 0.5, 2), w("c", 3)]), "linearizable")

    def test_sequential_read_your_write(self):
        self.assertEqual(status([w("a", 0, 1), r("a", 2, 3)]), "linearizable")

    def test_read_of_a_value_never_written(self):
        self.assertEqual(status([w("a", 0, 1), r("zzz", 2, 3)]), "not linearizable")

    def test_read_before_any_write_cannot_see_it(self):
        self.assertEqual(status([r("a", 0, 1), w("a", 2, 3)]), "not linearizable")

    def test_stale_read(self):
        ops = [w("a", 0, 1), w("b", 2, 3), r("a", 4, 5)]
        self.assertEqual(status(ops), "not linearizable")

    def test_concurrent_write_may_take_effect_after_the_read(self):
        ops = [w("a", 0, 1), w("b", 0.5, 3), r("a", 2, 4)]
        self.assertEqual(status(ops), "linearizable")

    def test_concurrent_reads_must_agree_on_one_order(self):
        # Both writes finish before the reads start; the reads disagree in
        # an order that no single sequence explains.
        ops = [w("a", 0, 2), w("b", 0, 2), r("a", 3, 4), r("b", 5, 6), r("a", 7, 8)]
        self.assertEqual(status(ops), "not linearizable")
        ops = [w("a", 0, 2), w("b", 0, 2), r("a", 3, 4), r("a", 5, 6)]
        self.assertEqual(status(ops), "linearizable")

    def test_unanswered_put_may_have_happened(self):
        ops = [w("a", 0, 1), w("b", 2), r("b", 3, 4)]
        self.assertEqual(status(ops), "linearizable")

    def test_unanswered_put_may_not_have_happened(self):
        ops = [w("a", 0, 1), w("b", 2), r("a", 3, 4), r("a", 5, 6)]
        self.assertEqual(status(ops), "linearizable")

    def test_unanswered_put_cannot_act_before_it_was_sent(self):
        ops = [w("a", 0, 1), r("b", 1.5, 1.8), w("b", 2)]
        self.assertEqual(status(ops), "not linearizable")

    def test_unanswered_put_takes_effect_at_most_once(self):
        # a, then b, then a again: one maybe-write of a cannot be both.
        ops = [w("a", 0), r("a", 0.5, 0.8), w("b", 1, 2), r("b", 2.1, 2.2), r("a", 3, 4)]
        self.assertEqual(status(ops), "not linearizable")
        # A second maybe-write of a (a retry) explains it.
        self.assertEqual(status(ops + [w("a", 2.5)]), "linearizable")

    def test_maybe_write_sent_after_the_read_started_cannot_help(self):
        ops = [w("a", 0), r("a", 0.5, 0.8), w("b", 1, 2), r("a", 3, 4), w("a", 4.5)]
        self.assertEqual(status(ops), "not linearizable")

    def test_search_budget_gives_undecided(self):
        # Repeated values send the history to the search, which the node
        # budget stops.
        rng = random.Random(3)
        ops = [w(f"v{i % 7}", rng.random(), 50 + rng.random()) for i in range(14)]
        ops += [r(f"v{i}", 60 + i, 60.5 + i) for i in (6, 5)]
        self.assertEqual(status(ops, budget=5), UNDECIDED)
        self.assertEqual(status(ops), NOT_LINEARIZABLE)

    def test_many_overlapping_operations_stay_fast(self):
        rng = random.Random(4)
        ops = [w(f"v{i}", rng.random(), 10 + rng.random()) for i in range(12)]
        ops += [w(f"v{i}", rng.random()) for i in range(12, 24)]
        ops += [r("v3", 11, 12), r("v20", 12.5, 13)]
        t0 = time.monotonic()
        self.assertEqual(status(ops), "linearizable")
        self.assertLess(time.monotonic() - t0, 1.0)


def brute_force_order(ops):
    """Try every subset of the maybe-operations and every order."""
    required = [o for o in ops if o.required]
    optional = [o for o in ops if not o.required]
    for mask in range(1 << len(optional)):
        chosen = required + [o for i, o in enumerate(optional) if mask >> i & 1]
        for order in itertools.permutations(chosen):
            if any(order[j].response < order[i].invoke
                   for i in range(len(order)) for j in range(i + 1, len(order))):
                continue
            state = None
            good = True
            for o in order:
                if o.kind == "w":
                    state = o.value
                elif o.value != state:
                    good = False
                    break
            if good:
                return order
    return None


def brute_force(ops):
    return "not linearizable" if brute_force_order(ops) is None else "linearizable"


def random_history(rng, n, values):
    ops = []
    for i in range(n):
        invoke = rng.randint(0, 8)
        value = rng.choice(values) if values else f"u{i}"
        kind = rng.choice("rw")
        if kind == "w" and rng.random() < 0.3:
            ops.append(w(value, invoke))
        else:
            response = invoke + rng.randint(0, 4) + 0.5
            ops.append(r(value, invoke, response) if kind == "r" else w(value, invoke, response))
    if not values:
        # Unique written values; reads pick one of them (or the initial None).
        written = [o.value for o in ops if o.kind == "w"]
        ops = [o if o.kind == "w" else r(rng.choice(written + [None]), o.invoke, o.response)
               for o in ops]
    return ops


def decide_with(method, ops):
    rel = _relevant(ops)
    refuted = _unwritten_read(rel)
    if refuted is not None:
        return refuted
    return method(rel) if method is _by_clusters else method(rel, None, None)


class AgainstBruteForce(unittest.TestCase):
    def check_witness(self, ops, decision):
        """A witness is a non-linearizable subset that keeps every write of
        each value it reads."""
        self.assertTrue(decision.witness, ops)
        for o in decision.witness:
            self.assertIn(o, ops)
        read_values = {o.value for o in decision.witness if o.kind == "r"}
        for o in ops:
            if o.kind == "w" and o.value in read_values:
                self.assertIn(o, decision.witness, (ops, decision.witness))
        self.assertEqual(brute_force(decision.witness), NOT_LINEARIZABLE, decision.witness)

    def test_cluster_test_and_search_on_unique_values(self):
        rng = random.Random(7)
        verdicts = set()
        for _ in range(500):
            ops = random_history(rng, rng.randint(1, 7), None)
            expected = brute_force(ops)
            verdicts.add(expected)
            for method in (_by_clusters, _search):
                d = decide_with(method, ops)
                self.assertEqual(d.status, expected, (method.__name__, ops))
            d = decide_register(ops)
            self.assertEqual(d.status, expected)
            if expected == NOT_LINEARIZABLE:
                self.check_witness(ops, d)
        self.assertEqual(verdicts, {LINEARIZABLE, NOT_LINEARIZABLE})

    def test_search_on_repeated_values(self):
        rng = random.Random(11)
        for _ in range(400):
            ops = random_history(rng, rng.randint(1, 7), "ab")
            expected = brute_force(ops)
            self.assertEqual(decide_with(_search, ops).status, expected, ops)
            d = decide_register(ops)
            if expected == NOT_LINEARIZABLE:
                self.check_witness(ops, d)

    def test_random_small_histories(self):
        rng = random.Random(2024)
        verdicts = set()
        for _ in range(400):
            ops = random_history(rng, rng.randint(1, 6), "abc")
            expected = brute_force(ops)
            verdicts.add(expected)
            self.assertEqual(status(ops), expected, ops)
        self.assertEqual(verdicts, {"linearizable", "not linearizable"})


class FromRecords(unittest.TestCase):
    def record(self, mid, rtype, key, value, sent, answered=None, answer_type=None, answer_value=None):
        rec = RequestRecord(mid=mid, client="0015", type=rtype, key=key, value=value, sent=sent,
                            target="0000")
        rec.answered, rec.answer_type, rec.answer_value = answered, answer_type, answer_value
        return rec

    def test_history_rules(self):
        records = [
            self.record("P1", "put", "K", "a", 0.0, 0.1, "ok"),
            self.record("P2", "put", "K", "b", 0.2, 0.3, "redirect"),     # maybe
            self.record("P3", "put", "K", "b", 0.3),                      # unanswered: maybe
            self.record("G1", "get", "K", None, 0.4, 0.5, "fail"),        # constrains nothing
            self.record("G2", "get", "K", None, 0.6),                     # constrains nothing
            self.record("G3", "get", "K", None, 0.7, 0.8, "ok", "b"),
            self.record("P4", "put", "L", "x", 0.0, 0.1, "fail"),
        ]
        hist = history_from_records(records)
        self.assertEqual(sorted(hist), ["K", "L"])
        self.assertEqual([(o.kind, o.value, o.required) for o in hist["K"]],
                         [("w", "a", True), ("w", "b", False), ("w", "b", False), ("r", "b", True)])
        self.assertEqual(hist["K"][1].response, INF)
        result = check_linearizability(hist)
        self.assertEqual(result["status"], "linearizable")
        self.assertEqual((result["keys"], result["operations"]), (2, 5))

    def test_summary_names_a_counterexample(self):
        hist = {
            "GOOD": [w("a", 0, 1), r("a", 2, 3)],
            "BAD": [w("a", 0, 1), w("b", 2, 3), r("a", 4, 5)],
        }
        result = check_linearizability(hist)
        self.assertEqual(result["status"], "not linearizable")
        self.assertEqual(result["violating_keys"], ["BAD"])
        self.assertEqual(result["counterexample"]["key"], "BAD")
        witness = result["counterexample"]["witness"]
        self.assertEqual(sorted((o["op"], o["value"]) for o in witness),
                         [("get", "a"), ("put", "a"), ("put", "b")])

    @staticmethod
    def generated_history(seed, n):
        """A history produced by a correct register: every operation takes
        effect at a point inside its interval; some puts are unanswered
        (and then did or did not happen)."""
        rng = random.Random(seed)
        hist, state, keys = {}, {}, []
        t = 0.0
        for i in range(n):
            t += 0.01
            if keys and rng.random() < 0.6:
                key = rng.choice(keys[-20:])
            else:
                key = f"K{i}"
                keys.append(key)
            ops = hist.setdefault(key, [])
            invoke = t - rng.random() * 0.04
            response = t + rng.random() * 0.04
            if key in state and rng.random() < 0.5:
                ops.append(r(state[key], invoke, response))
            elif rng.random() < 0.2:
                value = f"{key}-{i}"
                ops.append(w(value, invoke))            # maybe
                if rng.random() < 0.5:
                    state[key] = value
            else:
                value = f"{key}-{i}"
                ops.append(w(value, invoke, response))
                state[key] = value
        return hist

    def test_a_standard_sized_history_is_checked_well_within_two_seconds(self):
        for seed in range(3):
            hist = self.generated_history(seed, 2000)
            t0 = time.monotonic()
            result = check_linearizability(hist)
            self.assertLess(time.monotonic() - t0, 2.0)
            self.assertEqual(result["status"], "linearizable", seed)

    def test_one_busy_key_with_repeated_values_is_decided(self):
        # 3000 operations on one key, up to ~12 at once, a fifth of the puts
        # repeating the previous value and a tenth never answered: the
        # search must place maybe-writes only where a read needs them.
        rng = random.Random(8)
        timed = []
        last = None
        for i in range(3000):
            invoke = i * 0.001
            response = invoke + rng.random() * 0.025
            kind = rng.choice("rw")
            value = last if kind == "w" and last and rng.random() < 0.2 else f"v{i}"
            if kind == "w":
                last = value
            timed.append((rng.uniform(invoke, response), kind, value, invoke, response))
        timed.sort()
        ops, state = [], None
        for _, kind, value, invoke, response in timed:
            if kind == "r":
                ops.append(r(state, invoke, response))
            elif rng.random() < 0.1:
                ops.append(w(value, invoke))
                if rng.random() < 0.5:
                    state = value
            else:
                ops.append(w(value, invoke, response))
                state = value
        t0 = time.monotonic()
        self.assertEqual(status(ops, deadline=t0 + 10), LINEARIZABLE)
        self.assertLess(time.monotonic() - t0, 2.0)

    def test_a_corrupted_read_is_found(self):
        hist = self.generated_history(5, 500)
        key = next(k for k, ops in hist.items() if any(o.kind == "r" for o in ops))
        ops = hist[key]
        i = next(i for i, o in enumerate(ops) if o.kind == "r")
        ops[i] = r("garbage", ops[i].invoke, ops[i].response)
        result = check_linearizability(hist)
        self.assertEqual(result["status"], "not linearizable")
        self.assertEqual(result["violating_keys"], [key])


if __name__ == "__main__":
    unittest.main()
