"""The replica processes and their sockets (docs/simulator.md, "Starting the
replicas" and "The UDP generation").

``ReplicaSet`` owns every replica's process and socket: it starts them,
hands packets to them, reads packets from them, and kills or reaps them.
It counts ``died``, ``killed``, ``restarted``, ``blocked`` and
``send_stalls``.  A restart (docs/simulator.md, "Restarts") starts a killed
replica again as it was started first, on the same socket path or port.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from contextlib import suppress
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple

from .clock import Clock
from .config import CLASSIC, UDP
from .counters import Counters
from .datadirs import DATA_DIR_ENV
from .errors import ReplicaError
from .ids import is_address, replica_ids
from .watchdog import Watchdog

CLASSIC_RECV_SIZE = 16384
UDP_RECV_SIZE = 65535
UDP_SEND_WAIT = 0.010
TERM_GRACE = 1.0
# A restart waits this long at most for the previous process to be gone.
RESTART_REAP_WAIT = 1.0
# Set in the replicas' environment: ask the kernel for SIGTERM when we die
# (the replica's --help and docs/simulator.md say more).
PARENT_DEATH_ENV = "KV_PARENT_DEATH_SIGNAL"
# The replicas' knobs (3700kvstore --print-config), set from --tune.
TUNE_ENV = "KV_TUNE"

# What ``ReplicaSet.receive`` returns: the sender, the packet, the sender's
# UDP address (None under classic), and time.monotonic_ns() when it was read.
Received = Tuple["ReplicaProcess", bytes, Any, int]


def check_replica_program(path: str) -> str:
    """Return the absolute path of an executable replica, or raise ReplicaError."""
    full = os.path.abspath(path)
    if not os.path.exists(full):
        raise ReplicaError(f"replica program {path!r} not found (build it or pass -r PATH)")
    if os.path.isdir(full):
        raise ReplicaError(f"replica program {path!r} is a directory")
    if not os.access(full, os.X_OK):
        raise ReplicaError(f"replica program {path!r} is not executable (chmod +x it)")
    return full


def check_tune(replica: str, tune: str) -> None:
    """Raise ReplicaError unless the replica accepts ``tune`` as its knobs,
    asking it with ``--tune TUNE --print-config``, so that a bad knob is an
    error before the run rather than a cluster that never starts."""
    try:
        done = subprocess.run([replica, "--tune", tune, "--print-config"], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=10, env=dict(os.environ, KV_TUNE=""))
    except (OSError, subprocess.SubprocessError) as exc:
        raise ReplicaError(f"cannot ask the replica about --tune: {exc}") from None
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        why = lines[0] if lines else f"exit status {done.returncode}"
        raise ReplicaError(f"the replica refused --tune {tune!r}: {why}")


def _listening_unix_paths() -> Optional[Set[str]]:
    """The paths Unix sockets are bound and listening on, from /proc/net/unix
    (None where there is no such file)."""
    try:
        with open("/proc/net/unix", "rb") as fh:
            lines = fh.read().splitlines()[1:]
    except OSError:
        return None
    paths: Set[str] = set()
    for line in lines:
        fields = line.split(None, 7)
        # Num RefCount Protocol Flags Type St Inode Path; flag 0x10000 is __SO_ACCEPTCON (listening).
        if len(fields) == 8:
            with suppress(ValueError):
                if int(fields[3], 16) & 0x10000:
                    paths.add(os.fsdecode(fields[7]))
    return paths


def claim_socket_paths(paths: List[str]) -> None:
    """Make way for the replicas' socket files, or raise ReplicaError
    before anything starts.

    A socket file nobody listens on is what an earlier run left (killed
    before it could clean up): it is replaced.  Anything else at a path
    (a file, a folder, a socket another run is listening on) is not ours
    to delete.
    """
    stale = []
    listening: Optional[Set[str]] = None
    for path in paths:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise ReplicaError(f"cannot use {path} for a replica socket: {exc.strerror or exc}") from None
        if not stat.S_ISSOCK(st.st_mode):
            kind = "a folder" if stat.S_ISDIR(st.st_mode) else "a file that is not a socket"
            raise ReplicaError(f"{path} is in the way of a replica socket: it is {kind}, which run.py "
                               f"did not create and will not delete; move it or run elsewhere")
        if listening is None:
            listening = _listening_unix_paths() or set()
        if path in listening:
            raise ReplicaError(f"{path} is the socket of a run still going on in this folder; "
                               f"wait for it or run elsewhere")
        stale.append(path)
    for path in stale:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise ReplicaError(f"cannot replace the stale socket {path}: {exc.strerror or exc}") from None


def is_hello(data: bytes) -> bool:
    """Whether a UDP packet is the hello a replica starts with."""
    if b"hello" not in data:
        return False
    try:
        msg = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    return (type(msg) is dict and msg.get("type") == "hello" and all(
        type(msg.get(k)) is str and is_address(msg.get(k)) for k in ("src", "dst", "leader")))


class ReplicaProcess:
    """One replica: its process, its sockets and whether it lives."""

    __slots__ = ("index", "id", "path", "proc", "listener", "conn", "sock", "addr",
                 "alive", "killed", "died", "threads", "data_dir", "port", "restarts",
                 "killed_seq", "old_procs")

    def __init__(self, index: int, rid: str) -> None:
        self.index = index
        self.id = rid
        self.path: Optional[str] = None                # classic: the socket file
        self.proc: Optional[subprocess.Popen] = None
        self.listener: Optional[socket.socket] = None  # classic, until it connects
        self.conn: Optional[socket.socket] = None      # classic, once connected
        self.sock: Optional[socket.socket] = None      # UDP
        self.addr: Optional[Tuple[str, int]] = None    # UDP, learned from hello
        self.alive = True
        self.killed = False
        self.died = False
        self.threads: List[threading.Thread] = []
        self.data_dir: Optional[str] = None            # $KV_DATA_DIR, when the run has data dirs
        self.port: Optional[int] = None                # UDP: the port its socket was bound to
        self.restarts = 0                              # how many times it was restarted
        self.killed_seq = 0                            # orders the kills: the last one is restarted
        self.old_procs: List[subprocess.Popen] = []    # the processes it ran before its restarts


_OUTPUT_LOCK = threading.Lock()


def _relay_output(pipe: Any, rid: str, stream_out: Any, clock: Callable[[], float]) -> None:
    """Copy a replica's output line by line, prefixed with the time and its ID."""
    try:
        for raw_line in iter(pipe.readline, b""):
            line = raw_line.decode("utf-8", "replace").rstrip("\n")
            with _OUTPUT_LOCK:
                stream_out.write(f"[{clock():9.4f} {rid}] {line}\n")
                stream_out.flush()
    except (OSError, ValueError):
        pass
    finally:
        with suppress(OSError):
            pipe.close()


def _signal_group(rep: ReplicaProcess, sig: int) -> None:
    if rep.proc is None:
        return
    try:
        os.killpg(rep.proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class ReplicaSet:
    """The N replicas of a run, in ID order."""

    def __init__(self, n: int, transport: str, program: str, workdir: str, counters: Counters,
                 clock: Clock, silence: bool = True, out: Any = None, err: Any = None) -> None:
        self.transport = transport
        self.program = program
        self.workdir = workdir
        self.counters = counters
        self.clock = clock
        self.silence = silence
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        # The replicas' environment: ours, and a request for a parent-death
        # signal (they are started and stopped from one thread, which the
        # signal follows).
        self.env: Dict[str, str] = dict(os.environ, **{PARENT_DEATH_ENV: "1"})
        self.watchdog: Optional[Watchdog] = None        # told every group and socket file
        self.ids = replica_ids(n)
        self.replicas = [ReplicaProcess(i, rid) for i, rid in enumerate(self.ids)]
        self.by_id = {r.id: r for r in self.replicas}
        self.n_alive = n
        self.kills = 0                                  # kills so far (ReplicaProcess.killed_seq)
        self.sockets: List[socket.socket] = []          # what the main loop waits on
        self._owner: Dict[socket.socket, ReplicaProcess] = {}

    def __iter__(self) -> Iterator[ReplicaProcess]:
        return iter(self.replicas)

    def __len__(self) -> int:
        return len(self.replicas)

    def living(self) -> List[ReplicaProcess]:
        return [r for r in self.replicas if r.alive]

    def pids(self) -> List[int]:
        """Every process the replicas ran, those replaced by a restart included."""
        return ([p.pid for r in self.replicas for p in r.old_procs]
                + [r.proc.pid for r in self.replicas if r.proc is not None])

    def peers(self, rep: ReplicaProcess) -> List[str]:
        return [o for o in self.ids if o != rep.id]

    # ---- starting -------------------------------------------------------------

    def watch(self, s: socket.socket) -> None:
        """Have the main loop wait on another socket too (the event record socket)."""
        self.sockets.append(s)

    def _listen(self, rep: ReplicaProcess, s: socket.socket) -> None:
        self.sockets.append(s)
        self._owner[s] = rep

    def start(self) -> None:
        """Make every replica's socket, then start every replica."""
        if self.transport == CLASSIC:
            paths = [os.path.join(self.workdir, rep.id) for rep in self.replicas]
            claim_socket_paths(paths)
            for rep, path in zip(self.replicas, paths):
                self._bind_classic(rep, path)
            for rep in self.replicas:
                self._spawn(rep, [rep.id] + self.peers(rep))
        else:
            for rep in self.replicas:
                self._bind_udp(rep, 0)
            for rep in self.replicas:
                self._spawn(rep, [str(rep.port), rep.id] + self.peers(rep))

    def _bind_classic(self, rep: ReplicaProcess, path: str) -> None:
        lst = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        rep.listener = lst
        self._listen(rep, lst)
        try:
            lst.bind(path)
        except OSError as exc:
            raise ReplicaError(f"cannot make the replica socket {path}: "
                               f"{exc.strerror or exc}") from None
        rep.path = path
        if self.watchdog is not None:
            self.watchdog.socket(path)
        lst.listen(1)

    def _bind_udp(self, rep: ReplicaProcess, port: int) -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(("localhost", port))
        except OSError:
            s.close()
            raise
        s.setblocking(False)
        rep.sock = s
        rep.port = s.getsockname()[1]
        self._listen(rep, s)

    def _spawn(self, rep: ReplicaProcess, args: List[str]) -> None:
        if self.silence:
            out = err = subprocess.DEVNULL
        else:
            out = err = subprocess.PIPE
        env = self.env
        if rep.data_dir is not None:
            env = dict(env, **{DATA_DIR_ENV: rep.data_dir})
        try:
            rep.proc = subprocess.Popen(
                [self.program] + args, cwd=self.workdir, stdin=subprocess.DEVNULL,
                stdout=out, stderr=err, start_new_session=True, close_fds=True,
                env=env)
        except OSError as exc:
            raise ReplicaError(f"cannot start replica {self.program}: {exc.strerror or exc}") from None
        if self.watchdog is not None:
            self.watchdog.group(rep.proc.pid)
        if not self.silence:
            for pipe, dest in ((rep.proc.stdout, self.out), (rep.proc.stderr, self.err)):
                t = threading.Thread(target=_relay_output, args=(pipe, rep.id, dest, self.clock.now),
                                     daemon=True, name=f"relay-{rep.id}")
                t.start()
                rep.threads.append(t)

    # ---- restarting -----------------------------------------------------------

    def last_killed(self) -> Optional[ReplicaProcess]:
        """The replica killed last that is not running again, if any."""
        waiting = [r for r in self.replicas if r.killed and not r.alive]
        return max(waiting, key=lambda r: r.killed_seq) if waiting else None

    def restart(self, rep: ReplicaProcess) -> None:
        """Start a killed replica again, as ``start`` started it: the same
        id and peers, the same socket path (classic) or port (UDP, a fresh
        one only if that port was taken meanwhile), the same environment
        and data dir.  Its previous process is SIGKILLed first if it is
        still there, so that two never share the data dir.  Raises
        ReplicaError when it cannot start (the replica stays down)."""
        if rep.alive or not rep.killed:
            raise ReplicaError(f"replica {rep.id} is not a killed replica")
        self._reap_previous(rep)
        if self.transport == CLASSIC:
            path = os.path.join(self.workdir, rep.id)
            try:
                claim_socket_paths([path])
                self._bind_classic(rep, path)
            except ReplicaError:
                self._close_sockets(rep)
                raise
            args = [rep.id] + self.peers(rep)
        else:
            try:
                self._bind_udp(rep, rep.port or 0)
            except OSError:
                try:
                    self._bind_udp(rep, 0)
                except OSError as exc:
                    raise ReplicaError(f"cannot make a UDP socket for replica {rep.id}: "
                                       f"{exc.strerror or exc}") from None
            rep.addr = None                  # learned again from its hello
            args = [str(rep.port), rep.id] + self.peers(rep)
        if rep.proc is not None:
            rep.old_procs.append(rep.proc)
            rep.proc = None
        try:
            self._spawn(rep, args)
        except ReplicaError:
            self._close_sockets(rep)
            raise
        rep.alive = True
        rep.killed = False
        rep.restarts += 1
        self.n_alive += 1
        self.counters.restarted += 1

    def _reap_previous(self, rep: ReplicaProcess) -> None:
        """Make sure the killed process is gone (SIGTERMed at the kill)."""
        proc = rep.proc
        if proc is None:
            return
        if proc.poll() is None:
            _signal_group(rep, signal.SIGKILL)
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=RESTART_REAP_WAIT)

    # ---- ending ---------------------------------------------------------------

    def _close_sockets(self, rep: ReplicaProcess) -> None:
        for s in (rep.conn, rep.listener, rep.sock):
            if s is None:
                continue
            if s in self._owner:
                del self._owner[s]
            with suppress(ValueError):
                self.sockets.remove(s)
            with suppress(OSError):
                s.close()
        rep.conn = rep.listener = rep.sock = None
        if rep.path is not None:
            with suppress(OSError):
                os.unlink(rep.path)
            rep.path = None

    def kill(self, rep: ReplicaProcess) -> bool:
        """The kill events: SIGTERM the group, close and remove the socket.
        False if the replica was no longer alive."""
        if not rep.alive:
            return False
        rep.alive = False
        rep.killed = True
        self.kills += 1
        rep.killed_seq = self.kills
        self.n_alive -= 1
        self.counters.killed += 1
        _signal_group(rep, signal.SIGTERM)
        self._close_sockets(rep)
        return True

    def mark_died(self, rep: ReplicaProcess) -> None:
        """A replica that exited, or whose socket failed, without being killed."""
        if not rep.alive:
            return
        rep.alive = False
        rep.died = True
        self.n_alive -= 1
        self.counters.died += 1
        self._close_sockets(rep)
        _signal_group(rep, signal.SIGTERM)

    def poll(self) -> None:
        """Notice replicas whose process exited (a connected one's death shows on its socket)."""
        for rep in self.replicas:
            if not rep.alive or rep.proc is None:
                continue
            if self.transport == CLASSIC and rep.conn is not None:
                continue
            if rep.proc.poll() is not None:
                self.mark_died(rep)

    def stop_all(self) -> None:
        """Close every socket, SIGTERM every group, wait TERM_GRACE, then SIGKILL and reap."""
        for rep in self.replicas:
            self._close_sockets(rep)
            if rep.proc is not None and rep.proc.poll() is None:
                _signal_group(rep, signal.SIGTERM)
            for old in rep.old_procs:
                # A process replaced by a restart was made sure of then;
                # its group may still hold children.
                with suppress(ProcessLookupError, PermissionError):
                    os.killpg(old.pid, signal.SIGKILL)
                with suppress(subprocess.TimeoutExpired):
                    old.wait(timeout=0.1)
        deadline = time.monotonic() + TERM_GRACE
        for rep in self.replicas:
            if rep.proc is None:
                continue
            try:
                rep.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for rep in self.replicas:
            # SIGKILL whatever is left of each group (a leader that ignored
            # SIGTERM, or children it left behind), then reap.
            _signal_group(rep, signal.SIGKILL)
            if rep.proc is not None:
                try:
                    rep.proc.wait(timeout=2.0)
                except subprocess.TimeoutExpired:
                    pass
        for rep in self.replicas:
            for t in rep.threads:
                t.join(timeout=0.5)

    # ---- sending --------------------------------------------------------------

    def deliver(self, rep: ReplicaProcess, data: bytes) -> bool:
        """Hand a packet to a replica; packets for the dead vanish.

        False when the packet vanished because the replica is dead or cannot
        receive (not connected yet, no hello, its socket failed): the `dead`
        fate of the traffic events.
        """
        if not rep.alive:
            return False
        if self.transport == CLASSIC:
            return self._send_classic(rep, data)
        return self._send_udp(rep, data)

    def _send_classic(self, rep: ReplicaProcess, data: bytes) -> bool:
        conn = rep.conn
        if conn is None:
            return False    # not connected yet: the packet vanishes
        sent = self._try_send(rep, conn, data)
        # While the replica is not reading, wait for it like a blocking send
        # would, but never past the end of the run.
        while sent is None:
            remaining = self.clock.remaining()
            try:
                _, w, _ = select.select([], [conn], [], max(0.01, remaining))
            except OSError:
                self.mark_died(rep)
                return False
            if w:
                sent = self._try_send(rep, conn, data)
            elif remaining <= 0:
                self.counters.send_stalls += 1
                return True
        return sent

    def _try_send(self, rep: ReplicaProcess, conn: socket.socket, data: bytes) -> Optional[bool]:
        """One non-blocking send: True if sent, False if the replica died, None if it would block."""
        try:
            conn.send(data, socket.MSG_DONTWAIT)
            return True
        except BlockingIOError:
            return None
        except OSError:
            self.mark_died(rep)
            return False

    def _send_udp(self, rep: ReplicaProcess, data: bytes) -> bool:
        if rep.addr is None:
            if rep.restarts:
                # Restarted and not yet said hello: the packet vanishes, as
                # one for a classic replica that has not connected yet.
                return False
            # Sending to a replica that never said hello: it is dead.
            self.mark_died(rep)
            return False
        sock = rep.sock
        try:
            sock.sendto(data, rep.addr)  # type: ignore[union-attr]
            return True
        except BlockingIOError:
            pass
        except OSError:
            return False
        try:
            _, w, _ = select.select([], [sock], [], UDP_SEND_WAIT)
            if w:
                sock.sendto(data, rep.addr)  # type: ignore[union-attr]
                return True
        except OSError:
            pass
        self.counters.blocked += 1
        return True

    # ---- receiving ------------------------------------------------------------

    def receive(self, s: socket.socket) -> Optional[Received]:
        """Read one packet from a readable socket; None when there is none
        (a connection accepted, a read failed, the replica is dead)."""
        rep = self._owner.get(s)
        if rep is None or not rep.alive:
            return None
        if self.transport == CLASSIC:
            if s is rep.listener:
                self._accept(rep, s)
                return None
            try:
                data = s.recv(CLASSIC_RECV_SIZE)
            except OSError:
                self.mark_died(rep)
                return None
            t_read_ns = time.monotonic_ns()
            if not data:
                self.mark_died(rep)
                return None
            return rep, data, None, t_read_ns
        try:
            data, addr = s.recvfrom(UDP_RECV_SIZE)
        except OSError:     # BlockingIOError and InterruptedError included
            return None
        return rep, data, addr, time.monotonic_ns()

    def _accept(self, rep: ReplicaProcess, listener: socket.socket) -> None:
        """The replica's one connection replaces its listener in the loop."""
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        if rep.conn is None:
            rep.conn = conn
            self.sockets.remove(listener)
            self._listen(rep, conn)
        else:
            conn.close()

    def handshake(self, rep: ReplicaProcess, data: bytes, addr: Any) -> bool:
        """UDP: a hello teaches the replica's address (the first one does);
        hellos are neither routed nor counted.  Always False under classic."""
        if self.transport != UDP or not is_hello(data):
            return False
        if rep.addr is None:
            rep.addr = addr
        return True

    def awaiting_hello(self, rep: ReplicaProcess) -> bool:
        """UDP: the replica has not said hello yet, so it may not send."""
        return self.transport == UDP and rep.addr is None
