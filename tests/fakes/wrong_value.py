#!/usr/bin/env python3
"""The toy, except that the leader answers gets with a stale-looking value.

Expected: each ok get counts as incorrect, and the history is not
linearizable.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakelib  # noqa: E402


class WrongValue(fakelib.ToyReplica):
    def reply(self, request, answer) -> None:
        if request["type"] == "get" and answer["type"] == "ok":
            answer = dict(answer, value="not-the-value")
        self.t.send(answer)


if __name__ == "__main__":
    fakelib.main(WrongValue)
