"""The clean-up watchdog: what a run leaves behind is removed even when
run.py is killed with SIGKILL (docs/simulator.md, "Signals and clean-up").

run.py starts one watchdog per run (``Watchdog.start``), a separate
process running this file as a script with the standard library only.
Its standard input is a pipe whose write end only run.py holds; run.py
tells it, one line at a time, every replica process group, socket file
and temporary folder it creates.  When the run ends normally run.py
cleans up itself and writes ``done``: the watchdog exits without acting.
When the pipe closes without ``done`` (run.py died, whatever killed it),
the watchdog SIGTERMs every group, removes the socket files that are
still the very sockets run.py made, removes the folders if empty, and
SIGKILLs the groups still there after ``KILL_AFTER`` seconds.

The lines: ``group PID``, ``socket DEV INO HEXPATH``, ``dir HEXPATH``,
``tree DEV INO HEXPATH`` (the replicas' data folder, removed with its
contents once the groups are gone, if it is still that very folder),
``done`` (paths as the hex of their bytes: any byte may be in a path).
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from contextlib import suppress
from typing import IO, List, Optional, Sequence, Tuple

KILL_AFTER = 1.0
POLL = 0.02


class Watchdog:
    """run.py's end of the pipe to a running watchdog."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc

    @classmethod
    def start(cls) -> Optional["Watchdog"]:
        """Start a watchdog; None if it cannot be started (the run goes on
        without: the replicas' parent-death signal still ends them)."""
        if not sys.executable:
            return None
        try:
            # Its own session: a Ctrl-C or hang-up meant for run.py's
            # terminal must not end the watchdog before run.py.  No output
            # pipes: whoever reads run.py's output must not wait for it.
            # -I -S: the standard library only, started as fast as it can.
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", os.path.abspath(__file__)], stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True,
                start_new_session=True)
        except OSError:
            return None
        return cls(proc)

    def _send(self, line: bytes) -> None:
        pipe = self.proc.stdin
        if pipe is None:
            return
        try:
            pipe.write(line + b"\n")
            pipe.flush()
        except (OSError, ValueError):
            pass

    def group(self, pid: int) -> None:
        """A replica's process group (its pid: replicas lead their own session)."""
        self._send(b"group %d" % pid)

    def socket(self, path: str) -> None:
        """A socket file run.py bound: removed only if it is still that socket."""
        try:
            st = os.lstat(path)
        except OSError:
            return
        self._send(b"socket %d %d %s" % (st.st_dev, st.st_ino, os.fsencode(path).hex().encode()))

    def directory(self, path: str) -> None:
        """A temporary folder run.py made: removed if empty once its sockets are."""
        self._send(b"dir %s" % os.fsencode(path).hex().encode())

    def tree(self, path: str) -> None:
        """A folder run.py made whose contents are all its own (the replicas'
        data dirs): removed whole, but only if it is still that folder."""
        try:
            st = os.lstat(path)
        except OSError:
            return
        self._send(b"tree %d %d %s" % (st.st_dev, st.st_ino, os.fsencode(path).hex().encode()))

    def release(self) -> None:
        """The run cleaned up after itself: the watchdog exits without acting."""
        self._send(b"done")
        with suppress(OSError):
            self.proc.stdin.close()  # type: ignore[union-attr]
        try:
            self.proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            with suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=1.0)


# ---- the watchdog process --------------------------------------------------------

Orders = Tuple[List[int], List[Tuple[int, int, bytes]], List[bytes], bool]


def read_orders(stream: IO[bytes], trees: Optional[List[Tuple[int, int, bytes]]] = None) -> Orders:
    """Read until end of file or ``done``; malformed lines are skipped.
    ``tree`` orders are appended to ``trees`` when given, else skipped."""
    groups: List[int] = []
    sockets: List[Tuple[int, int, bytes]] = []
    dirs: List[bytes] = []
    for line in stream:
        parts = line.split()
        try:
            if parts == [b"done"]:
                return groups, sockets, dirs, True
            if len(parts) == 2 and parts[0] == b"group":
                pid = int(parts[1])
                if pid > 1:
                    groups.append(pid)
            elif len(parts) == 4 and parts[0] == b"socket":
                sockets.append((int(parts[1]), int(parts[2]), bytes.fromhex(parts[3].decode("ascii"))))
            elif len(parts) == 2 and parts[0] == b"dir":
                dirs.append(bytes.fromhex(parts[1].decode("ascii")))
            elif len(parts) == 4 and parts[0] == b"tree" and trees is not None:
                trees.append((int(parts[1]), int(parts[2]), bytes.fromhex(parts[3].decode("ascii"))))
        except (ValueError, UnicodeDecodeError):
            continue
    return groups, sockets, dirs, False


def _signal_groups(groups: List[int], sig: int) -> List[int]:
    """Signal each group; return those that still exist."""
    alive = []
    for g in groups:
        try:
            os.killpg(g, sig)
            alive.append(g)
        except OSError:
            pass
    return alive


def clean_up(groups: List[int], sockets: List[Tuple[int, int, bytes]], dirs: List[bytes],
             trees: Sequence[Tuple[int, int, bytes]] = ()) -> None:
    alive = _signal_groups(groups, signal.SIGTERM)
    for dev, ino, path in sockets:
        with suppress(OSError):
            st = os.lstat(path)
            # Only the very socket run.py bound: never a file someone put there since.
            if stat.S_ISSOCK(st.st_mode) and (st.st_dev, st.st_ino) == (dev, ino):
                os.unlink(path)
    for d in dirs:
        with suppress(OSError):
            os.rmdir(d)
    deadline = time.monotonic() + KILL_AFTER
    while alive and time.monotonic() < deadline:
        time.sleep(POLL)
        alive = _signal_groups(alive, 0)
    _signal_groups(alive, signal.SIGKILL)
    if trees:
        # The replicas may write to their data dirs until they are gone.
        deadline = time.monotonic() + KILL_AFTER
        while _signal_groups(alive, 0) and time.monotonic() < deadline:
            time.sleep(POLL)
    for dev, ino, path in trees:
        with suppress(OSError):
            st = os.lstat(path)
            if stat.S_ISDIR(st.st_mode) and (st.st_dev, st.st_ino) == (dev, ino):
                shutil.rmtree(path, ignore_errors=True)


def main() -> int:
    # Terminal signals may reach us; the end of the pipe is what counts.
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    trees: List[Tuple[int, int, bytes]] = []
    groups, sockets, dirs, done = read_orders(sys.stdin.buffer, trees)
    if not done:
        clean_up(groups, sockets, dirs, trees)
    return 0


if __name__ == "__main__":
    sys.exit(main())
