#!/usr/bin/env python3
"""The toy, except that 0000 starts with a burst of 200 broadcasts.

With 3 replicas each broadcast counts 2 messages, so a config with
max_packets 100 must end in a packet storm after 50 of them.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakelib  # noqa: E402


class Storm(fakelib.ToyReplica):
    def on_start(self) -> None:
        if self.id == fakelib.LEADER:
            for i in range(200):
                self.t.send({"src": self.id, "dst": "FFFF", "leader": fakelib.LEADER, "type": "noise", "n": i})


if __name__ == "__main__":
    fakelib.main(Storm)
