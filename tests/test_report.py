"""Grading and report text (docs/simulator.md: "Grading", "The report", "The UDP generation")."""

import json
import unittest

from simulator.clients import RequestRecord
from simulator.config import Config, validate_config
from simulator.counters import Counters
from simulator.grading import grade, tier_for
from simulator.numeric import fmt_num, median
from simulator.report import fmt_metric_value, format_report, format_summary_line, result_to_json
from simulator.result import RunResult
from simulator.workload import least_generation_failures

STANDARD_BENCHMARKS = {
    "total_msgs": [1000, 3000, 4000],
    "failures": [1, 10, 100],
    "duplicates": [0, 2, 5],
    "median_latency": [0.0002, 0.005, 0.05],
}


def make_result(transport="classic", latencies=(0.0001, 0.0001, 0.000103), **counters) -> RunResult:
    raw = {"lifetime": 30, "replicas": 5, "requests": 100, "mix": 0.6,
           "tests": {"benchmarks": STANDARD_BENCHMARKS}}
    config = validate_config(raw, transport, name="example", path="example.json")
    c = Counters(**{"total_msgs": 370, "generated_get": 60, "generated_put": 40, "keys_put": 20,
                    **counters})
    result = RunResult(config=config, seed=1234, transport=transport, replica="./3700kvstore",
                       counters=c, leaders=["FFFF", "0001", "FFFF", "0003"],
                       latencies=list(latencies), records=[], hop_ns=[10000, 20000, 30000],
                       duration=30.0)
    return grade(result)


class Tiers(unittest.TestCase):
    def test_boundaries(self):
        t = (1, 10, 100)
        self.assertEqual(tier_for(0, t), "Bonus")
        self.assertEqual(tier_for(1, t), "Passed")
        self.assertEqual(tier_for(9.99, t), "Passed")
        self.assertEqual(tier_for(10, t), "Partial")
        self.assertEqual(tier_for(99, t), "Partial")
        self.assertEqual(tier_for(100, t), "Failed")
        self.assertEqual(tier_for(0, (0, 1, 2)), "Passed")   # a zero bonus threshold cannot be beaten

    def test_median_is_the_upper_middle_element(self):
        self.assertEqual(median([3, 1, 2, 4]), 3)
        self.assertEqual(median([5]), 5)
        self.assertEqual(median([]), 0.0)


class Checks(unittest.TestCase):
    def failing(self, **counters):
        return [c.name for c in make_result(**counters).checks if not c.passed]

    def test_all_pass(self):
        self.assertEqual(self.failing(), [])

    def test_each_check(self):
        self.assertEqual(self.failing(incorrect=1), ["incorrect"])
        self.assertEqual(self.failing(died=1), ["died"])
        self.assertEqual(self.failing(keys_put=0), ["keys_put"])
        self.assertEqual(self.failing(unanswered_get=30), [])
        self.assertEqual(self.failing(unanswered_get=31), ["unanswered_get"])
        self.assertEqual(self.failing(unanswered_put=21), ["unanswered_put"])
        self.assertEqual(self.failing(failed_to_generate_get=6), [])
        self.assertEqual(self.failing(failed_to_generate_get=7), ["failed_to_generate_get"])
        # 100 requests * 5 replicas * (1 - 0.6) * (1 - 0.5) = 100
        self.assertEqual(self.failing(total_msgs=100), [])
        self.assertEqual(self.failing(total_msgs=99), ["replication"])

    def test_failures_sum(self):
        c = Counters(failed_get=1, failed_put=2, unanswered_get=3, unanswered_put=4)
        self.assertEqual(c.failures, 10)


class ReportText(unittest.TestCase):
    def test_passing_report_matches_the_contract(self):
        result = make_result(duplicates=1, unanswered_put=3, redirects=19, failed_get=1, failed_put=31)
        text = format_report(result)
        expected_head = """# Simulation Finished

## Useful Information and Statistics
Leaders: FFFF 0001 FFFF 0003
Replicas that died/were killed: 0/0
Total messages sent: 370
Total messages dropped: 0
Total client get()/put() requests: 60/40
Total duplicate responses: 1
Total unanswered get()/put() requests: 0/3
Total redirects: 19
Total get()/put() failures: 1/31
Total get() with incorrect response: 0
Mean/Median query latency: 0.000101sec/0.000100sec
Seed: 1234

## Correctness Checks
        All correctness tests passed

## Performance Tests
## <test metric>: <your score> <benchmark score>, <test result>
        Total Messages Between Replicas: 370 < 1000, Bonus!
        Total Failures and Unanswered Requests: 35 < 100, Partial credit, needs improvement
        Duplicate Responses to Clients: 1 < 2, Passed
        Median Response Latency to Clients: 0.0001 < 0.0002, Bonus!

## Linearizability Check (per key, Wing-Gong search)
"""
        self.assertTrue(text.startswith(expected_head), text)
        self.assertNotIn("\033", text)

    def test_failed_tier_line(self):
        text = format_report(make_result(total_msgs=4000))
        self.assertIn("        Total Messages Between Replicas: 4000 >= 4000, Failed\n", text)

    def test_failing_checks_skip_the_performance_tests(self):
        text = format_report(make_result(incorrect=2, died=1))
        self.assertIn("## Correctness Checks\n        Error: 2 incorrect", text)
        self.assertIn("\n        Error: 1 replicas died", text)
        self.assertIn("\n\n## Correctness Checks Failed, Skipping Performance Tests\n", text)
        self.assertNotIn("## Performance Tests", text)
        self.assertNotIn("Bonus", text)

    def test_udp_wording(self):
        text = format_report(make_result("udp", blocked=7, total_msgs=1500))
        self.assertIn("Total messages dropped: 0\nTotal messages blocked by full sockets: 7\n", text)
        self.assertIn("Total Messages Between Replicas: 1500 < 3000, Full credit", text)
        text = format_report(make_result("udp", total_msgs=5000))
        self.assertIn("Total Messages Between Replicas: 5000 >= 4000, No credit", text)

    def test_classic_has_no_blocked_line(self):
        self.assertNotIn("blocked", format_report(make_result()))

    def test_colour_only_when_asked(self):
        text = format_report(make_result(), color=True)
        self.assertIn("\033[1m# Simulation Finished\033[0m", text)
        self.assertIn("\033[32mBonus!\033[0m", text)
        failed = format_report(make_result(total_msgs=5000), color=True)
        self.assertIn("\033[31mFailed\033[0m", failed)

    def test_packet_storm_is_reported(self):
        result = make_result(total_msgs=20000)
        result.packet_storm = True
        text = format_report(result)
        self.assertTrue(text.startswith("Error: packet storm: 20000 messages reached max_packets (20000)"))
        self.assertFalse(result.passed)

    def test_summary_lines(self):
        line = format_summary_line(make_result())
        self.assertEqual(line, "example       PASS  msgs=370 (Bonus) failures=0 (Bonus) dup=0 (Passed) "
                               "median=0.0001 (Bonus)  seed=1234")
        self.assertIn("FAIL  msgs=5000 (Failed)", format_summary_line(make_result(total_msgs=5000)))
        self.assertIn("FAIL  correctness: 1 replicas died", format_summary_line(make_result(died=1)))

    def test_number_formatting(self):
        self.assertEqual(fmt_num(1000), "1000")
        self.assertEqual(fmt_num(0.00015), "0.00015")
        self.assertEqual(fmt_num(5e-05), "0.00005")
        self.assertEqual(fmt_num(2.0), "2")
        self.assertEqual(fmt_metric_value("median_latency", 0.00012345), "0.000123")


class JsonOutput(unittest.TestCase):
    def test_fields(self):
        result = make_result(duplicates=1)
        rec = RequestRecord(mid="M" * 16, client="0015", type="get", key="K", value=None, sent=1.0,
                            target="0001", answered=1.25, answer_type="ok", answered_by="0001",
                            answer_value="v")
        result.records.append(rec)
        data = json.loads(json.dumps(result_to_json(result)))
        for key in ("config", "seed", "transport", "counters", "leaders", "latency", "correctness",
                    "performance", "verdict", "linearizability", "overhead", "requests"):
            self.assertIn(key, data)
        for key in ("total_msgs", "total_drops", "incorrect", "died", "killed", "duplicates", "redirects",
                    "failed_get", "failed_put", "unanswered_get", "unanswered_put", "generated_get",
                    "generated_put", "failed_to_generate_get", "blocked", "failures"):
            self.assertIn(key, data["counters"])
        self.assertEqual(data["seed"], 1234)
        self.assertEqual(data["config"]["name"], "example")
        self.assertEqual(data["performance"]["duplicates"]["tier"], "Passed")
        self.assertEqual(data["overhead"]["median_us"], 20.0)
        self.assertEqual(set(data["latency"]), {"count", "mean", "median", "p99", "median_ok_get",
                                                "median_ok_put", "ok_get_count", "ok_put_count"})
        self.assertEqual(data["latency"]["p99"], 0.000103)
        self.assertEqual(data["pace"], "native")
        self.assertEqual(data["requests"][0]["latency"], 0.25)
        self.assertEqual(data["requests"][0]["answered_by"], "0001")


if __name__ == "__main__":
    unittest.main()


class InherentGenerationFailures(unittest.TestCase):
    """A seed whose workload fails the get-generation check for any replica says so."""

    def config(self, requests: int, mix: float) -> "Config":
        raw = {"lifetime": 30, "replicas": 5, "requests": requests, "mix": mix,
               "tests": {"benchmarks": STANDARD_BENCHMARKS}}
        return validate_config(raw, "classic", name="example", path="example.json")

    def test_without_gets_nothing_can_fail(self):
        self.assertEqual(least_generation_failures(self.config(300, 0.0), 7), (0, 0))

    def test_the_count_is_a_lower_bound_replayed_from_the_seed(self):
        cfg = self.config(300, 0.2)
        least, gets = least_generation_failures(cfg, 7)
        self.assertEqual((least, gets), least_generation_failures(cfg, 7))
        self.assertGreater(least, 0)     # each client's first get finds no key
        self.assertGreater(gets, 30)

    def test_a_failed_check_names_an_inherent_seed(self):
        def graded(seed: int) -> str:
            cfg = self.config(300, 0.2)
            least, gets = least_generation_failures(cfg, seed)
            c = Counters(total_msgs=5000, generated_get=gets, generated_put=300 - gets, keys_put=20,
                         failed_to_generate_get=least + 20)
            result = RunResult(config=cfg, seed=seed, transport="classic", replica="x", counters=c,
                               leaders=["FFFF"], latencies=[0.001], records=[], hop_ns=[], duration=1.0)
            check = next(k for k in grade(result).checks if k.name == "failed_to_generate_get")
            self.assertFalse(check.passed)
            return check.message

        messages = {s: graded(s) for s in range(200)}
        inherent = [s for s, m in messages.items() if "inherent" in m]
        fine = [s for s, m in messages.items() if "inherent" not in m]
        self.assertTrue(inherent and fine, "some seeds of 300 requests fail on their own, most do not")
        seed = inherent[0]
        least, gets = least_generation_failures(self.config(300, 0.2), seed)
        self.assertGreater(least, gets * 0.1)
