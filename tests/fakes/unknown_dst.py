#!/usr/bin/env python3
"""The toy, except that 0000 first sends three well-formed packets to
destinations that are neither a replica, FFFF nor a client.

Expected: incorrect == 3, total_msgs unchanged by them.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakelib  # noqa: E402

UNKNOWN = ["ABCD", "1234", "0005"]   # with 5 replicas: 0000-0004, clients 0015-001C


class UnknownDst(fakelib.ToyReplica):
    def on_start(self) -> None:
        if self.id == fakelib.LEADER:
            for dst in UNKNOWN:
                self.t.send({"src": self.id, "dst": dst, "leader": fakelib.LEADER, "type": "append"})


if __name__ == "__main__":
    fakelib.main(UnknownDst)
