#!/usr/bin/env python3
"""The toy, except that a get is answered ok twice: first with the current
value, then with the key's previous value, overwritten by a put answered
well before the get was sent.

The course's checks see only a duplicate (incorrect == 0); the second
answer is a stale read, so the history is not linearizable.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakelib  # noqa: E402

# The overwriting put must have been answered before the get was sent: a
# put applied this long before the get arrives was (the toy answers at once).
SETTLED_S = 0.3


class StaleDuplicate(fakelib.ToyReplica):
    def __init__(self, argv) -> None:
        super().__init__(argv)
        self.history = {}     # key -> [(value, when applied)]

    def handle_client(self, msg) -> None:
        if self.id == fakelib.LEADER and msg["type"] == "put":
            self.history.setdefault(msg["key"], []).append((msg["value"], time.monotonic()))
        super().handle_client(msg)

    def reply(self, request, answer) -> None:
        self.t.send(answer)
        past = self.history.get(request["key"], [])
        if (request["type"] == "get" and answer["type"] == "ok" and len(past) >= 2
                and past[-1][1] < time.monotonic() - SETTLED_S and past[-2][0] != past[-1][0]):
            self.t.send(dict(answer, value=past[-2][0]))


if __name__ == "__main__":
    fakelib.main(StaleDuplicate)
