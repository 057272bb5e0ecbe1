#!/usr/bin/env python3
"""The toy, except that 0000 first sends five malformed packets.

Expected: incorrect == 5 (bad JSON, not an object, a missing field, a
malformed address, a non-string field); nothing else changes.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakelib  # noqa: E402

BAD_PACKETS = [
    b"this is not json",
    b"[1, 2, 3]",
    b'{"src": "0000", "dst": "0001", "leader": "0000"}',
    b'{"src": "0000", "dst": "0001", "leader": "00000", "type": "append"}',
    b'{"src": 0, "dst": "0001", "leader": "0000", "type": "append"}',
]


class BadJson(fakelib.ToyReplica):
    def on_start(self) -> None:
        if self.id == fakelib.LEADER:
            for packet in BAD_PACKETS:
                self.t.send_raw(packet)


if __name__ == "__main__":
    fakelib.main(BadJson)
