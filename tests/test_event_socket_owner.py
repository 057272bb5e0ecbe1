"""The event socket's path is predictable (/tmp/kvdash-<uid>.sock), so run.py
sends to it only if it is a socket owned by the user running it.

A socket owned by another user is made by binding one and handing it to
uid 65534 (nobody), which needs root (or CAP_CHOWN): without it the tests
are skipped.
"""

import os
import shutil
import socket
import tempfile
import unittest

from simulator.events import EventSink
from simulator.report import format_report
from tests.test_report import make_result

NOBODY = 65534


class SocketOwner(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="simevents-owner-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.path = os.path.join(self.dir, "kvdash.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(self.listener.close)
        self.listener.bind(self.path)
        self.listener.setblocking(False)
        if os.geteuid() == NOBODY:
            self.skipTest("running as uid 65534: no other user to give the socket to")
        try:
            os.chown(self.path, NOBODY, -1)
        except PermissionError:
            self.skipTest("chown to uid 65534 is not permitted (not root): "
                          "cannot make a socket owned by another user")

    def received(self) -> int:
        n = 0
        while True:
            try:
                n += self.listener.recv(1 << 17).count(b"\n")
            except BlockingIOError:
                return n

    def test_a_socket_of_another_user_is_not_sent_to(self):
        sink = EventSink(self.path)
        sink.open()
        self.addCleanup(sink.close)
        for _ in range(3):
            sink.emit("partition_healed", {})
        sink.flush(force=True)
        self.assertEqual(self.received(), 0)
        self.assertEqual((sink.sent, sink.dropped), (0, 3))
        self.assertTrue(sink.summary()["socket_not_owned"])

        # Back to this user: the next flush checks again, connects and sends.
        os.chown(self.path, os.geteuid(), -1)
        sink.emit("partition_healed", {})
        sink.flush(force=True)
        self.assertEqual(self.received(), 1)
        self.assertEqual((sink.sent, sink.dropped), (1, 3))
        self.assertFalse(sink.summary()["socket_not_owned"])

    def test_the_report_says_why_nothing_was_sent(self):
        sink = EventSink(self.path)
        sink.open()
        sink.emit("partition_healed", {})
        sink.close()
        result = make_result()
        result.events = sink.summary()
        self.assertIn(f"0 sent to {self.path}, 1 dropped (the socket is another user's: not used)",
                      format_report(result))


class Reconnection(unittest.TestCase):
    def test_a_listener_that_comes_back_is_found_again(self):
        d = tempfile.mkdtemp(prefix="simevents-reconnect-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "kvdash.sock")
        sink = EventSink(path)
        sink.open()
        self.addCleanup(sink.close)
        for _ in range(2):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.bind(path)
            sink.emit("partition_healed", {})
            sink.flush(force=True)
            self.assertEqual(s.recv(1 << 16).count(b"\n"), 1)
            s.close()                 # the console quits...
            os.unlink(path)
            sink.emit("partition_healed", {})
            sink.flush(force=True)    # ...this one is lost, and the next console is found
        self.assertEqual((sink.sent, sink.dropped), (2, 2))


if __name__ == "__main__":
    unittest.main()
