#!/usr/bin/env python3
"""Replicas that connect and read, but never answer or send anything.

Expected: every request is unanswered; no key is ever put, so every get
draw turns into a put (failed_to_generate_get).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakelib  # noqa: E402


class NeverAnswers(fakelib.ToyReplica):
    def handle_client(self, msg) -> None:
        pass


if __name__ == "__main__":
    fakelib.main(NeverAnswers)
