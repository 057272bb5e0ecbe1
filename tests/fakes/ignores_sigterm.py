#!/usr/bin/env python3
"""The toy, but it ignores SIGTERM and starts a child that does too, so the
simulator has to SIGKILL the whole process group at the end."""
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakelib  # noqa: E402


class IgnoresSigterm(fakelib.ToyReplica):
    def on_start(self) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child = subprocess.Popen([sys.executable, "-c",
                                  "import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"])
        if os.environ.get("FAKE_WRITE_PIDS"):
            fakelib.write_pid_file(f"child-{self.id}", child.pid)


if __name__ == "__main__":
    fakelib.main(IgnoresSigterm)
