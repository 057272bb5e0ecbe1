#!/usr/bin/env python3
"""The toy, except that 0000 first sends one 20000-byte packet (cut at 16384
bytes, so it fails to decode: incorrect == 1) and one valid 16000-byte packet
to 0001 (delivered: total_msgs gains 1).
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakelib  # noqa: E402


def packet(size: int) -> bytes:
    base = {"src": "0000", "dst": "0001", "leader": "0000", "type": "filler", "pad": ""}
    overhead = len(json.dumps(base).encode())
    base["pad"] = "x" * (size - overhead)
    data = json.dumps(base).encode()
    assert len(data) == size
    return data


class Oversized(fakelib.ToyReplica):
    def on_start(self) -> None:
        if self.id == fakelib.LEADER:
            self.t.send_raw(packet(20000))
            self.t.send_raw(packet(16000))


if __name__ == "__main__":
    fakelib.main(Oversized)
