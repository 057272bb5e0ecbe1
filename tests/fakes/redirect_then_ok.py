#!/usr/bin/env python3
"""Followers answer redirect and then, wrongly, ok for the same MID.

Expected: every such second answer is incorrect (a MID answered with
redirect must never be answered again).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakelib  # noqa: E402


class RedirectThenOk(fakelib.ToyReplica):
    def reply(self, request, answer) -> None:
        self.t.send(answer)
        if answer["type"] == "redirect":
            late = dict(answer, type="ok")
            if request["type"] == "get":
                late["value"] = ""
            self.t.send(late)


if __name__ == "__main__":
    fakelib.main(RedirectThenOk)
