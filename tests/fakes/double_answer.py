#!/usr/bin/env python3
"""The toy, except that the leader answers every request ok twice.

Expected: duplicates == the number of requests (each request's chain ends
in exactly one MID answered ok, and that MID is answered twice);
incorrect == 0.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakelib  # noqa: E402


class DoubleAnswer(fakelib.ToyReplica):
    def reply(self, request, answer) -> None:
        self.t.send(answer)
        if answer["type"] == "ok":
            self.t.send(answer)


if __name__ == "__main__":
    fakelib.main(DoubleAnswer)
