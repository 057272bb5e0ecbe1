#!/usr/bin/env python3
"""The toy, plus state events (shared/README.md) sent to $KVDASH_SOCKET.

Each replica sends a ``start`` event, a ``status`` event every 250 ms and a
``stop`` event when it gets SIGTERM (reason ``signal``) or its connection
closes (reason ``closed``).  With FAKE_EVENTS_MALFORMED=1, replica
0000 also sends, once at start, exactly 4 lines that are not events (spread
over 3 datagrams, one of them mixed with a valid ``role`` event).  With
FAKE_WRITE_ENV=1, each writes the $KVDASH_SOCKET it was given (or
``<unset>``) to ``env-<id>`` in the working directory.
"""
import json
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakelib  # noqa: E402

STATUS_EVERY = 0.25


class EmitsEvents(fakelib.ToyReplica):
    def on_start(self) -> None:
        self.events_path = os.environ.get("KVDASH_SOCKET")
        if os.environ.get("FAKE_WRITE_ENV"):
            with open(f"env-{self.id}", "w") as fh:
                fh.write(self.events_path if self.events_path is not None else "<unset>")
        self.events = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.events.setblocking(False)
        self.dropped = 0
        self.stopped = False
        self.next_status = 0.0
        self.is_leader = self.id == fakelib.LEADER
        self.emit("start", id=self.id, peers=self.t.peers, pid=os.getpid(), transport=self.t.kind)
        if os.environ.get("FAKE_EVENTS_MALFORMED") and self.is_leader:
            role = self.line("role", role="leader", term=1, leader=self.id, reason="start")
            self.send(b"this is not json\n" + role + b"\n")           # 1 malformed, 1 valid
            self.send(b"\xff\xfe not utf-8")                           # 1 malformed
            self.send(b'[1, 2]\n{"v": 1, "ts": 5, "src": "0000"}\n')   # 2 malformed (no kind)
        signal.signal(signal.SIGTERM, self.on_sigterm)

    def line(self, kind, **fields) -> bytes:
        ev = {"v": 1, "ts": time.time_ns() // 1000, "src": self.id, "kind": kind}
        ev.update(fields)
        return json.dumps(ev).encode()

    def send(self, data: bytes) -> None:
        if not self.events_path:
            return
        try:
            self.events.sendto(data, self.events_path)
        except OSError:
            self.dropped += 1

    def emit(self, kind, **fields) -> None:
        self.send(self.line(kind, **fields))

    def on_tick(self) -> None:
        now = time.monotonic()
        if now < self.next_status:
            return
        self.next_status = now + STATUS_EVERY
        self.emit("status", role="leader" if self.is_leader else "follower", term=1,
                  leader=fakelib.LEADER, last_index=len(self.store), last_term=1,
                  commit_index=len(self.store), applied_index=len(self.store),
                  sent={}, received={}, malformed=0, events_dropped=self.dropped)

    def stop(self, reason: str) -> None:
        # The simulator closes the connection and sends SIGTERM at once:
        # whichever comes first, the other must not cut the stop event short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if not self.stopped:
            self.stopped = True
            self.emit("stop", reason=reason)

    def on_sigterm(self, signum, frame) -> None:
        self.stop("signal")
        sys.exit(0)

    def run(self) -> None:
        try:
            super().run()
        finally:
            self.stop("closed")


if __name__ == "__main__":
    fakelib.main(EmitsEvents)
