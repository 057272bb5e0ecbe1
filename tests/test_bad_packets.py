"""Hostile packets from replicas: each is one invalid packet, counted with
its reason, and the run goes on.

The unit tests route packets through a ``Simulation`` that is never started
(tests/test_routing.py's harness, no sockets); ``EndToEnd`` runs the
``bad_packets`` fake for real, under both generations.
"""

import json
import shutil
import sys
import tempfile
import unittest
from concurrent.futures import ThreadPoolExecutor

from simulator import network
from simulator.processes import is_hello
from simulator.report import format_report, result_to_json
from tests import support, test_routing
from tests.test_report import make_result

Harness = test_routing.Harness
packet = test_routing.packet

HEAD = b'{"src":"0000","dst":"0001","leader":"FFFF",'
MIB = 1 << 20

# What tests/fakes/bad_packets.py's packets count as, reason by reason.
BAD_PACKETS_FAKE_EXPECTED = {
    "json: nested too deep": 2,
    "json: number too long": 1,
    "json: NaN or Infinity": 1,
    "not utf-8": 1,
    "json: Invalid control character": 1,
    "json: Expecting value": 1,
    "not an object": 3,
    "field dst: wrong type": 2,
    "field type: wrong type": 1,
}


def huge_int_is_refused() -> bool:
    """Python 3.11 on refuses to read integers of more than 4300 digits."""
    return hasattr(sys, "get_int_max_str_digits") and sys.get_int_max_str_digits() != 0


class Reasons(unittest.TestCase):
    def assertRejected(self, data: bytes, reason: str) -> None:
        h = Harness()
        h.send("0000", data)
        self.assertEqual(h.c.incorrect, 1, data[:80])
        self.assertEqual(h.c.invalid_packets, {reason: 1}, data[:80])
        self.assertEqual((h.c.total_msgs, h.delivered), (0, []))
        self.assertEqual(h.sim.network.leaders, ["FFFF"])

    def assertForwarded(self, data: bytes) -> None:
        h = Harness()
        h.send("0000", data)
        self.assertEqual((h.c.incorrect, h.c.invalid_packets), (0, {}), data[:80])
        self.assertEqual(h.c.total_msgs, 1)
        self.assertEqual([d for d, _ in h.delivered], ["0001"])

    def test_deep_nesting(self):
        self.assertRejected(b"[" * 16000, network.TOO_DEEP)
        self.assertRejected(b"[" * 16000 + b"]" * 16000, network.TOO_DEEP)
        self.assertRejected(HEAD + b'"type":"append","x":' + b'{"a":' * 16000 + b"1" + b"}" * 16001,
                            network.TOO_DEEP)

    def test_huge_numbers(self):
        big = HEAD + b'"type":"append","n":' + b"9" * 5000 + b"}"
        if huge_int_is_refused():
            self.assertRejected(big, network.NUMBER_TOO_LONG)
        else:
            self.assertForwarded(big)
        # 1e999 is valid JSON that Python reads as infinity: fine in a field
        # nobody reads, the wrong type where an address belongs.
        self.assertForwarded(HEAD + b'"type":"append","n":1e999}')
        self.assertForwarded(HEAD + b'"type":"append","n":' + b"1" * 5000 + b".5}")
        self.assertRejected(b'{"src":"0000","dst":1e999,"leader":"FFFF","type":"append"}',
                            "field dst: wrong type")
        self.assertRejected(b"1e999", network.NOT_AN_OBJECT)

    def test_nan_and_infinity_are_not_json(self):
        for const in (b"NaN", b"Infinity", b"-Infinity"):
            self.assertRejected(HEAD + b'"type":"append","n":' + const + b"}", network.NOT_JSON_CONSTANT)

    def test_invalid_utf8(self):
        for data in (b"\xff\xfe", HEAD + b'"type":"\xc3("}', b"\xed\xa0\x80", HEAD[:-1] + b"\x80}"):
            self.assertRejected(data, network.NOT_UTF8)

    def test_nul_bytes(self):
        self.assertRejected(b"\x00" * 100, "json: Expecting value")
        self.assertRejected(HEAD + b'"type":"app\x00end"}', "json: Invalid control character")
        self.assertRejected(HEAD + b'"type":"append"}\x00', "json: Extra data")
        self.assertRejected(b'{"src":"00\\u00000","dst":"0001","leader":"FFFF","type":"x"}',
                            "field src: not an address")
        self.assertForwarded(HEAD + b'"type":"app\\u0000end"}')

    def test_one_mib_packets(self):
        pad = b"x" * MIB
        self.assertForwarded(HEAD + b'"type":"append","pad":"' + pad + b'"}')
        self.assertRejected(pad, "json: Expecting value")
        self.assertRejected(b"[" * MIB, network.TOO_DEEP)
        self.assertRejected(b"[" + b"0," * (MIB // 2) + b"0]", network.NOT_AN_OBJECT)

    def test_not_an_object(self):
        for data in (b"[]", b'"a string"', b"null", b"true", b"42", b'[{"src":"0000"}]'):
            self.assertRejected(data, network.NOT_AN_OBJECT)

    def test_wrong_field_types(self):
        cases = [
            (b'{"src":0,"dst":"0001","leader":"FFFF","type":"x"}', "field src: wrong type"),
            (b'{"src":"0000","dst":"0001","leader":["FFFF"],"type":"x"}', "field leader: wrong type"),
            (b'{"src":"0000","dst":"0001","leader":"FFFF","type":{"t":1}}', "field type: wrong type"),
            (b'{"src":"0000","dst":"0001","leader":"FFFF","type":null}', "field type: wrong type"),
            (b'{"src":"0000","dst":"0001","leader":"FFFF"}', "field type: missing"),
            (b'{"dst":"0001","leader":"FFFF","type":"x"}', "field src: missing"),
            (b'{"src":"0000","dst":"0001","leader":"FFF","type":"x"}', "field leader: not an address"),
        ]
        for data, reason in cases:
            self.assertRejected(data, reason)

    def test_dst_that_is_not_a_string(self):
        for dst in (b"5", b"null", b"true", b'["0001"]', b'{"0001":1}', b"1e999", b"-0.0"):
            self.assertRejected(b'{"src":"0000","dst":' + dst + b',"leader":"FFFF","type":"x"}',
                                "field dst: wrong type")

    def test_unknown_dst_and_before_hello(self):
        self.assertRejected(packet("0000", "ABCD"), network.UNKNOWN_DST)
        h = Harness(transport="udp")
        h.rep("0000").addr = None
        h.send("0000", packet("0000", "0001"))
        self.assertEqual(h.c.invalid_packets, {network.BEFORE_HELLO: 1})

    def test_hello_check_survives_deep_nesting(self):
        self.assertFalse(is_hello(b"[" * 16000 + b'"hello"'))


class AnyFailure(unittest.TestCase):
    def test_an_exception_while_routing_is_one_invalid_packet(self):
        h = Harness()
        deliver = h.sim.replicas.deliver
        calls = []

        def broken(rep, data):
            calls.append(rep.id)
            if len(calls) == 1:
                raise RuntimeError("boom")
            deliver(rep, data)

        h.sim.replicas.deliver = broken
        h.send("0000", packet("0000", "0001"))
        self.assertEqual(h.c.incorrect, 1)
        self.assertEqual(h.c.invalid_packets, {"routing error: RuntimeError": 1})
        h.send("0000", packet("0000", "0002"))            # the next one goes through
        self.assertEqual([d for d, _ in h.delivered], ["0002"])
        self.assertEqual(h.c.invalid_packets, {"routing error: RuntimeError": 1})

    def test_interrupts_are_not_swallowed(self):
        for exc in (KeyboardInterrupt, SystemExit):
            h = Harness()

            def interrupted(rep, data, exc=exc):
                raise exc()

            h.sim.replicas.deliver = interrupted
            with self.assertRaises(exc):
                h.send("0000", packet("0000", "0001"))
            self.assertEqual(h.c.invalid_packets, {})


class Reporting(unittest.TestCase):
    def test_reasons_in_the_report_and_the_json(self):
        r = make_result(incorrect=3)
        r.counters.invalid_packets.update({"not utf-8": 1, "json: nested too deep": 2})
        self.assertIn("Total get() with incorrect response: 3\n"
                      "Invalid packets from replicas: 3 (2 json: nested too deep, 1 not utf-8)\n",
                      format_report(r))
        data = json.loads(json.dumps(result_to_json(r), allow_nan=False))
        self.assertEqual(data["invalid_packets"], {"json: nested too deep": 2, "not utf-8": 1})
        self.assertNotIn("invalid_packets", data["counters"])

    def test_no_line_without_invalid_packets(self):
        r = make_result()
        self.assertNotIn("Invalid packets", format_report(r))
        self.assertEqual(result_to_json(r)["invalid_packets"], {})


class EndToEnd(unittest.TestCase):
    def test_a_real_run_counts_the_bad_packets_and_completes(self):
        dirs = {t: tempfile.mkdtemp(prefix=f"simtest-bad-{t}-") for t in ("classic", "udp")}
        try:
            with ThreadPoolExecutor(max_workers=2) as pool:
                futures = {t: pool.submit(support.simulate, support.fake("bad_packets"),
                                          support.short_config(), 11, t, d) for t, d in dirs.items()}
                results = {t: f.result() for t, f in futures.items()}
        finally:
            for d in dirs.values():
                shutil.rmtree(d, ignore_errors=True)
        expected = dict(BAD_PACKETS_FAKE_EXPECTED)
        if not huge_int_is_refused():
            del expected["json: number too long"]
        n = sum(expected.values())
        for transport, r in results.items():
            with self.subTest(transport=transport):
                c = r.counters
                self.assertEqual(c.invalid_packets, expected)
                self.assertEqual(c.incorrect, n)
                # The run went on to its end: every request answered.
                self.assertEqual(c.generated_get + c.generated_put, 40)
                self.assertEqual((c.unanswered_get, c.unanswered_put, c.died), (0, 0, 0))
                self.assertEqual(r.leaders, ["FFFF", "0000"])
                self.assertIn(f"Invalid packets from replicas: {n} (", format_report(r))
                data = json.loads(json.dumps(result_to_json(r), allow_nan=False))
                self.assertEqual(data["invalid_packets"], expected)


if __name__ == "__main__":
    unittest.main()
