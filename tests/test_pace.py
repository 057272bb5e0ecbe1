"""--pace: the simulator's time per hop, and the course loop's clumped firing."""

import io
import shutil
import tempfile
import unittest
from contextlib import redirect_stderr
from typing import List

from simulator.cli import main
from simulator.config import validate_config
from simulator.errors import SimulatorError
from simulator.pace import COURSE_HOP_US, MAX_HOP_US, parse_pace
from simulator.simulation import run_simulation
from tests import support


class ParsePace(unittest.TestCase):
    def test_names_and_times(self):
        native = parse_pace("native")
        self.assertEqual((native.hop_us, native.wake_for_schedule, native.label), (0, True, "native"))
        course = parse_pace("Course")
        self.assertEqual((course.hop_us, course.wake_for_schedule, course.label),
                         (COURSE_HOP_US, False, "course"))
        self.assertEqual(parse_pace("80us").hop_us, 80)
        self.assertEqual(parse_pace("80 µs").hop_us, 80)
        self.assertEqual(parse_pace("0.2ms").hop_us, 200)
        # A bare time keeps the native loop's timely wake-ups.
        self.assertTrue(parse_pace("150us").wake_for_schedule)
        self.assertEqual(parse_pace("150us").label, "150us")

    def test_bad_paces_are_clear_errors(self):
        for text in ("fast", "", "80", "-5us", "1s", "us", "1e3us"):
            with self.subTest(text=text):
                with self.assertRaisesRegex(SimulatorError, "--pace must be"):
                    parse_pace(text)
        with self.assertRaisesRegex(SimulatorError, str(MAX_HOP_US)):
            parse_pace("101ms")

    def test_the_command_line_refuses_a_bad_pace_before_starting(self):
        err = io.StringIO()
        with redirect_stderr(err):
            status = main(["simple-1", "-r", support.fake("toy"), "--pace", "soon"])
        self.assertEqual(status, 2)
        self.assertIn("--pace must be", err.getvalue())


def sent_gaps(result) -> List[float]:
    sent = sorted(r.sent for r in result.records if r.retry_of is None)
    return [b - a for a, b in zip(sent, sent[1:])]


class PacedRuns(unittest.TestCase):
    """Real runs of the toy replica (0000 leads, answers at once)."""

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="simpace-")
        self.addCleanup(shutil.rmtree, self.work, True)
        self.config = validate_config(support.short_config(), name="short")

    def run_at(self, pace: str):
        return run_simulation(self.config, support.fake("toy"), seed=3, workdir=self.work,
                              pace=parse_pace(pace))

    def test_every_answer_takes_at_least_the_pace_of_its_request(self):
        result = self.run_at("2ms")
        oks = [r.latency for r in result.records if r.answer_type == "ok"]
        self.assertGreater(len(oks), 20)
        self.assertGreaterEqual(min(oks), 0.002)
        self.assertEqual(result.pace, "2000us")

    def test_course_pace_fires_requests_in_clumps_when_the_network_is_quiet(self):
        # 40 requests over 2 s: one due every 50 ms, while the course loop
        # waits 100 ms for packets before it looks at the schedule.
        native = sent_gaps(self.run_at("native"))
        course = sent_gaps(self.run_at("course"))
        clumped = lambda gaps: sum(1 for g in gaps if g < 0.005) / len(gaps)  # noqa: E731
        self.assertLess(clumped(native), 0.25, native)
        self.assertGreater(clumped(course), 0.35, course)


if __name__ == "__main__":
    unittest.main()
