#!/usr/bin/env python3
"""The toy with a memory: it keeps its store in $KV_DATA_DIR, when given,
and recovers it when started again there.

Each start appends one JSON line to ``started-<id>.jsonl`` in the working
directory (outside the data dirs, so that it outlives them): the argv, the
data dir ($KV_DATA_DIR, or null), the pid and whether a store was found.
With ``FAKE_DIE_AFTER_RESTART=1`` a replica started for the second time
exits on its own 0.3 s later (it dies, as the simulator counts it).
"""
import json
import os
import sys
import time
from typing import Any, Dict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakelib  # noqa: E402


class Durable(fakelib.ToyReplica):
    def on_start(self) -> None:
        self.data_dir = os.environ.get("KV_DATA_DIR")
        self.store_path = os.path.join(self.data_dir, "store.json") if self.data_dir else None
        recovered = False
        if self.store_path and os.path.exists(self.store_path):
            with open(self.store_path) as fh:
                self.store = json.load(fh)
            recovered = True
        log = f"started-{self.id}.jsonl"
        self.start_number = 1
        if os.path.exists(log):
            with open(log) as fh:
                self.start_number += sum(1 for _ in fh)
        with open(log, "a") as fh:
            fh.write(json.dumps({"argv": sys.argv[1:], "data_dir": self.data_dir, "pid": os.getpid(),
                                 "recovered": recovered}) + "\n")

    def on_tick(self) -> None:
        if (os.environ.get("FAKE_DIE_AFTER_RESTART") and self.start_number > 1
                and time.monotonic() - self.started > 0.3):
            os._exit(3)

    def handle_client(self, msg: Dict[str, Any]) -> None:
        super().handle_client(msg)
        if self.store_path and self.id == fakelib.LEADER and msg["type"] == "put":
            tmp = self.store_path + ".tmp"
            with open(tmp, "w") as fh:
                json.dump(self.store, fh)
            os.replace(tmp, self.store_path)


if __name__ == "__main__":
    fakelib.main(Durable)
