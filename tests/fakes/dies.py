#!/usr/bin/env python3
"""The toy, except that follower 0002 exits on its own after 0.5 s.

Expected: died == 1, killed == 0, so the correctness checks fail.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakelib  # noqa: E402


class Dies(fakelib.ToyReplica):
    def on_tick(self) -> None:
        if self.id == "0002" and time.monotonic() - self.started > 0.5:
            os._exit(3)


if __name__ == "__main__":
    fakelib.main(Dies)
