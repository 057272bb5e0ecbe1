"""Shared plumbing for the fake replicas used by the tests.

A fake speaks either generation of the simulator: classic (argv ``<id>
<peers...>``, a SEQPACKET connection to the socket file named by the ID in
the working directory) or UDP (argv ``<port> <id> <peers...>``, a hello to
localhost:<port> first).  The classic simulator creates the socket file
before it starts the replica, which is how the two are told apart.

``ToyReplica`` is a deliberately tiny, correct-enough store: replica 0000
is the leader for ever; it applies puts, broadcasts one ``append`` per put
(so the simulator sees replication traffic) and answers at once.  The other
replicas redirect clients to 0000 and ignore appends.  The misbehaving
fakes subclass it and change one thing each.
"""

import json
import os
import select
import socket
import sys
import time
from typing import Any, Dict, List, Optional

LEADER = "0000"
BROADCAST = "FFFF"



def write_pid_file(name: str, pid: int) -> None:
    """Write ``pid`` under ``name`` atomically: the run may kill this process
    at any moment, and a half-written file would read as an empty pid."""
    tmp = f".{name}.tmp"
    with open(tmp, "w") as fh:
        fh.write(str(pid))
    os.replace(tmp, name)

class Transport:
    def __init__(self, argv: List[str]) -> None:
        args = argv[1:]
        if os.path.exists(args[0]):
            self.kind = "classic"
            self.id = args[0]
            self.peers = args[1:]
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            self.sock.connect(self.id)
            self.addr = None
        else:
            self.kind = "udp"
            port = int(args[0])
            self.id = args[1]
            self.peers = args[2:]
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind(("localhost", 0))
            self.addr = ("localhost", port)
            self.send({"src": self.id, "dst": BROADCAST, "leader": BROADCAST, "type": "hello"})
        if os.environ.get("FAKE_WRITE_PIDS"):
            # Lets lifecycle tests check that no process outlives the run.
            write_pid_file(f"pid-{self.id}", os.getpid())

    def send_raw(self, data: bytes) -> None:
        if self.kind == "classic":
            self.sock.send(data)
        else:
            self.sock.sendto(data, self.addr)

    def send(self, msg: Dict[str, Any]) -> None:
        self.send_raw(json.dumps(msg).encode("utf-8"))

    def recv(self, timeout: float) -> Optional[Dict[str, Any]]:
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            return None
        data = self.sock.recv(65535)
        if not data:
            sys.exit(0)          # the simulator went away
        return json.loads(data.decode("utf-8"))


class ToyReplica:
    def __init__(self, argv: List[str]) -> None:
        self.t = Transport(argv)
        self.id = self.t.id
        self.store: Dict[str, str] = {}
        self.started = time.monotonic()

    # hooks for the misbehaving variants --------------------------------
    def on_start(self) -> None:
        pass

    def on_tick(self) -> None:
        pass

    def reply(self, request: Dict[str, Any], answer: Dict[str, Any]) -> None:
        self.t.send(answer)

    # behaviour ----------------------------------------------------------
    def answer(self, msg: Dict[str, Any], mtype: str, **extra: Any) -> Dict[str, Any]:
        out = {"src": self.id, "dst": msg["src"], "leader": LEADER, "type": mtype, "MID": msg["MID"]}
        out.update(extra)
        return out

    def handle_client(self, msg: Dict[str, Any]) -> None:
        if self.id != LEADER:
            self.reply(msg, self.answer(msg, "redirect"))
            return
        if msg["type"] == "put":
            self.store[msg["key"]] = msg["value"]
            self.t.send({"src": self.id, "dst": BROADCAST, "leader": LEADER, "type": "append",
                         "key": msg["key"], "value": msg["value"]})
            self.reply(msg, self.answer(msg, "ok"))
        else:
            self.reply(msg, self.answer(msg, "ok", value=self.store.get(msg["key"], "")))

    def run(self) -> None:
        if os.environ.get("FAKE_CHATTY"):
            print(f"replica {self.id} started", flush=True)
            print(f"replica {self.id} says hi on stderr", file=sys.stderr, flush=True)
        self.on_start()
        while True:
            msg = self.t.recv(0.05)
            self.on_tick()
            if msg is None:
                continue
            if msg.get("type") in ("get", "put"):
                self.handle_client(msg)


def main(cls: type) -> None:
    try:
        cls(sys.argv).run()
    except (KeyboardInterrupt, BrokenPipeError, ConnectionError):
        pass
