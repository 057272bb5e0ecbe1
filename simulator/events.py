"""State events: where the simulator's events go (``--events``, ``--record``).

The schema is version 1 of shared/README.md; docs/simulator.md,
"Additions", says what the simulator sends and where.
"""

from __future__ import annotations

import errno
import json
import math
import os
import socket
import stat
import tempfile
import time
from contextlib import suppress
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

from .errors import SimulatorError
from .result import TIER_BONUS, TIER_FAILED, TIER_PARTIAL, TIER_PASSED

EVENT_VERSION = 1
EVENT_SRC = "sim"
EVENT_SOCKET_ENV = "KVDASH_SOCKET"
EVENT_DATAGRAM_MAX = 60 * 1024 - 1   # every datagram stays under 60 KiB
EVENT_RECV_SIZE = 65536
EVENT_SNDBUF = 1 << 20
EVENT_FILE_FLUSH = 0.5               # seconds between flushes of the record file
EVENT_SEND_INTERVAL = 0.05           # least seconds between datagrams to the --events socket
EVENT_SEND_DELAY = 0.25              # most seconds an event waits for an idle moment
EVENT_SEND_LINES = 500               # ...unless this many lines are waiting
RECORD_DRAIN_MAX = 64                # record-socket datagrams read per main-loop pass
UNIX_PATH_MAX = 107                  # sun_path holds 108 bytes with the NUL

TRAFFIC_TYPE_MAX = 200               # longer message types are cut in traffic rows
TRAFFIC_CHUNK = 48 * 1024            # a traffic event with more rows is split

# The tier names of the event schema (the JSON results keep run.py's own).
EVENT_TIER_NAMES = {TIER_BONUS: "Bonus", TIER_PASSED: "Passed",
                    TIER_PARTIAL: "Partial credit", TIER_FAILED: "Failed"}

_jstr = json.encoder.encode_basestring_ascii     # a quoted, escaped JSON string
_monotonic = time.monotonic

# The two events of every request, queued on its path as (tag, the request's
# ``clients.RequestRecord``, the clock's t0) and formatted at flush time from
# the record's fields, which do not change once sent (answered) is set.
REQUEST_SENT = 1
REQUEST_ANSWERED = 2

# A traffic log entry: (src, dst, type, fate) for one recipient, or (src, the
# recipients' ids, type, their fates in the same order) for a packet sent to
# several (``traffic.TrafficCounter``).
TrafficRow = Tuple[str, str, str, str]
TrafficEntry = Union[TrafficRow, Tuple[str, Sequence[str], str, Sequence[str]]]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


# One decoder, made once (json.loads with parse_constant builds one per call).
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def tally_traffic(log: Any) -> Dict[TrafficRow, int]:
    """The count of each (src, dst, type, fate) in a window's log of
    ``TrafficEntry``; a dict of counts is returned as it is."""
    if type(log) is dict:
        return log
    counts: Dict[TrafficRow, int] = {}
    get = counts.get
    for src, dst, mtype, fate in log:
        if type(dst) is str:
            key = (src, dst, mtype, fate)
            counts[key] = get(key, 0) + 1
        else:
            for d, f in zip(dst, fate):
                key = (src, d, mtype, f)
                counts[key] = get(key, 0) + 1
    return counts


def _valid_event(obj: Any) -> bool:
    """A JSON object with the fields every event has (shared/README.md)."""
    if type(obj) is not dict:
        return False
    v = obj.get("v")
    ts = obj.get("ts")
    return (type(v) is int and type(ts) is int and ts >= 0 and type(obj.get("src")) is str
            and type(obj.get("kind")) is str)


class _TrafficWindow(NamedTuple):
    """A traffic window queued for formatting at flush time."""
    ts: int
    window_us: int
    leader: str
    counts: Any         # Dict[TrafficRow, int], or a list of TrafficEntry


class EventSink:
    """Where the simulator's state events go, without ever blocking it.

    * ``socket_path`` (``--events``): events are JSON lines, batched into
      datagrams under 60 KiB and sent in quiet main-loop passes (``flush``)
      through a non-blocking ``AF_UNIX``/``SOCK_DGRAM`` socket.  When nobody listens or
      the listener's queue is full, the datagram is dropped and its events
      counted in ``dropped``.  The path is predictable (``/tmp/kvdash-<uid>.sock``),
      so before the socket connects to it, it must be a socket owned by this
      user; one owned by anyone else is never sent to (``not_owned``).
    * ``record_path`` (``--record``): every event, the simulator's and the
      replicas', is written to that file.  The replicas' events come through
      a private datagram socket (``replica_socket``, in a fresh 0700
      directory, mode 0600, removed by ``close``) that the main loop drains
      (``drain``); with ``socket_path`` as well, they are forwarded there too.

    On the path of a packet the simulator only queues what an event is made
    of (``add``: a request's record, a traffic window's log); lines are
    formatted, sent and written by ``flush``, which the main loop calls in
    passes that neither read nor sent a packet, or once ``due``.

    ``ts`` values are microseconds since the Unix epoch: the monotonic clock
    the simulator runs on, anchored to ``time.time()`` once.
    """

    def __init__(self, socket_path: Optional[str] = None, record_path: Optional[str] = None) -> None:
        self.socket_path = os.path.abspath(socket_path) if socket_path else None
        self.record_path = record_path
        self.emitted = 0        # events the simulator built
        self.received = 0       # valid replica events read from the record socket
        self.malformed = 0      # lines on the record socket that are not events
        self.sent = 0           # events sent to socket_path
        self.dropped = 0        # events that could not be sent to socket_path
        self.not_owned = False  # the last connection attempt found socket_path owned by another user
        self._connected = False  # _out is connected to socket_path, whose owner was checked
        self.record_error: Optional[str] = None
        self.rec_sock: Optional[socket.socket] = None
        self._rec_dir: Optional[str] = None
        self._rec_path: Optional[str] = None
        self._out: Optional[socket.socket] = None
        self._file: Any = None
        # Events waiting for the next flush, in order: lines, or the raw
        # fields of a request event (formatted at flush time, off the path
        # of the request).
        self._pending: List[Any] = []
        self._pending_since = 0.0
        # When the queued events must go out even if no pass is quiet
        # (``time.monotonic()``; infinity while nothing waits): the main
        # loop calls ``flush`` in busy passes only from then on.
        self.due = math.inf
        self._next_file_flush = 0.0
        self._next_send = 0.0
        self._epoch_ns = time.time_ns() - time.monotonic_ns()
        self._closed = False

    # ---- lifecycle ------------------------------------------------------------

    def open(self) -> None:
        """Create the sockets and the record file; SimulatorError if impossible."""
        try:
            if self.socket_path is not None:
                out = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._out = out
                out.setblocking(False)
                try:
                    out.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, EVENT_SNDBUF)
                except OSError:
                    pass
            if self.record_path is not None:
                try:
                    self._file = open(self.record_path, "wb", buffering=1 << 16)
                except OSError as exc:
                    raise SimulatorError(
                        f"cannot write the event record {self.record_path}: {exc.strerror or exc}") from None
                d = tempfile.mkdtemp(prefix="kvsim-")
                if len(os.path.join(d, "events.sock")) > UNIX_PATH_MAX:
                    os.rmdir(d)
                    d = tempfile.mkdtemp(prefix="kvsim-", dir="/tmp")
                self._rec_dir = d            # mkdtemp makes it 0700
                path = os.path.join(d, "events.sock")
                rec = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self.rec_sock = rec
                rec.bind(path)
                self._rec_path = path
                os.chmod(path, 0o600)
                rec.setblocking(False)
        except SimulatorError:
            self.close()
            raise
        except OSError as exc:
            self.close()
            raise SimulatorError(f"cannot set up the event sockets: {exc.strerror or exc}") from None

    @property
    def replica_socket(self) -> Optional[str]:
        """What the replicas get as $KVDASH_SOCKET."""
        return self._rec_path if self.record_path is not None else self.socket_path

    def close(self) -> None:
        """Read what is left, send and write everything, release everything."""
        if self._closed:
            return
        self._closed = True
        self.drain(None)
        self.flush(force=True)
        for s in (self._out, self.rec_sock):
            if s is not None:
                with suppress(OSError):
                    s.close()
        self._out = self.rec_sock = None
        if self._rec_path is not None:
            with suppress(OSError):
                os.unlink(self._rec_path)
            self._rec_path = None
        if self._rec_dir is not None:
            with suppress(OSError):
                os.rmdir(self._rec_dir)
            self._rec_dir = None
        if self._file is not None:
            try:
                self._file.close()
            except OSError as exc:
                self.record_error = self.record_error or (exc.strerror or str(exc))
            self._file = None

    def summary(self) -> Dict[str, Any]:
        return {"socket": self.socket_path, "record": self.record_path, "emitted": self.emitted,
                "sent": self.sent, "dropped": self.dropped, "socket_not_owned": self.not_owned,
                "received": self.received,
                "malformed": self.malformed, "record_error": self.record_error}

    # ---- time -------------------------------------------------------------------

    def now_us(self) -> int:
        return (self._epoch_ns + time.monotonic_ns()) // 1000

    def at_us(self, mono: float) -> int:
        """The timestamp of a ``time.monotonic()`` reading."""
        return (self._epoch_ns + int(mono * 1e9)) // 1000

    # ---- output -----------------------------------------------------------------

    def add(self, item: Any) -> None:
        """One event built by the simulator: a line, or what ``lines`` formats
        one from at flush time.  On the path of packets: one append."""
        self.emitted += 1
        pending = self._pending
        if not pending:
            if self._out is None and self._file is None:
                return
            self._pending_since = since = _monotonic()
            self.due = since + EVENT_SEND_DELAY
        pending.append(item)
        if len(pending) >= EVENT_SEND_LINES:
            self.due = 0.0

    def _queue(self, item: Any) -> None:
        if self._out is None and self._file is None:
            return
        if not self._pending:
            self._pending_since = since = _monotonic()
            self.due = since + EVENT_SEND_DELAY
        self._pending.append(item)
        if len(self._pending) >= EVENT_SEND_LINES:
            self.due = 0.0

    def _write(self, line: bytes) -> None:
        try:
            self._file.write(line + b"\n")
        except (OSError, ValueError) as exc:
            self.record_error = getattr(exc, "strerror", None) or str(exc)
            try:
                self._file.close()
            except (OSError, ValueError):
                pass
            self._file = None

    def emit(self, kind: str, fields: Dict[str, Any], ts: Optional[int] = None) -> None:
        ev: Dict[str, Any] = {"v": EVENT_VERSION, "ts": self.now_us() if ts is None else ts,
                              "src": EVENT_SRC, "kind": kind}
        ev.update(fields)
        try:
            line = json.dumps(ev, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError):
            self.dropped += 1       # cannot happen with the fields run.py builds
            return
        self.add(line.encode("utf-8"))

    # The two events of every request are the hot path: only their fields
    # (or the request's record, see REQUEST_SENT) are kept here, and they
    # are formatted when the batch is flushed.

    def request_sent(self, ts: int, mid: str, client: str, op: str, key: str, target: str) -> None:
        self.add((ts, mid, client, op, key, target))

    def request_answered(self, ts: int, mid: str, client: str, op: str, outcome: str,
                         latency_us: int, replica: str) -> None:
        self.add((ts, mid, client, op, outcome, latency_us, replica))

    def _format(self, item: Any) -> bytes:
        """The line of a queued event (every string through the JSON string encoder)."""
        if type(item) is bytes:
            return item
        if len(item) == 3:
            tag, rec, t0 = item
            if tag == REQUEST_SENT:
                return self._format((self.at_us(t0 + rec.sent), rec.mid, rec.client, rec.type,
                                     rec.key, rec.target))
            t_read = rec.answered
            return self._format((self.at_us(t0 + t_read), rec.mid, rec.client, rec.type, rec.answer_type,
                                 max(0, int(round((t_read - rec.sent) * 1e6))), rec.answered_by))
        if len(item) == 6:
            ts, mid, client, op, key, target = item
            return (f'{{"v":1,"ts":{ts},"src":"sim","kind":"request_sent","mid":{_jstr(mid)},'
                    f'"client":{_jstr(client)},"op":{_jstr(op)},"key":{_jstr(key)},'
                    f'"target":{_jstr(target)}}}').encode("ascii")
        ts, mid, client, op, outcome, latency_us, replica = item
        return (f'{{"v":1,"ts":{ts},"src":"sim","kind":"request_answered","mid":{_jstr(mid)},'
                f'"client":{_jstr(client)},"op":{_jstr(op)},"outcome":{_jstr(outcome)},'
                f'"latency_us":{latency_us},"replica":{_jstr(replica)}}}').encode("ascii")

    def traffic(self, ts: int, window_us: int, leader: str, counts: Any) -> None:
        """One window's counts, a dict by (src, dst, type, fate) or a list of
        ``TrafficEntry`` (the caller hands it over), tallied and formatted
        when the batch is flushed, as several events if they would not fit
        one datagram."""
        self.add(_TrafficWindow(ts, window_us, leader, counts))

    def lines(self, item: Any) -> List[bytes]:
        """The lines of a queued event (a traffic window may take several)."""
        if type(item) is _TrafficWindow:
            lines = self._traffic_lines(*item)
            self.emitted += len(lines) - 1
            return lines
        return [self._format(item)]

    @staticmethod
    def _traffic_lines(ts: int, window_us: int, leader: str, counts: Any) -> List[bytes]:
        lines: List[bytes] = []
        agg: Dict[TrafficRow, int] = {}
        for (src, dst, mtype, fate), n in tally_traffic(counts).items():
            if len(mtype) > TRAFFIC_TYPE_MAX:
                mtype = mtype[:TRAFFIC_TYPE_MAX]
            k = (src, dst, mtype, fate)
            agg[k] = agg.get(k, 0) + n
        head = (f'{{"v":1,"ts":{ts},"src":"sim","kind":"traffic","window_us":{window_us},'
                f'"leader":{_jstr(leader)},"rows":[')
        rows: List[str] = []
        size = 0
        for (src, dst, mtype, fate), n in sorted(agg.items()):
            row = (f'{{"src":{_jstr(src)},"dst":{_jstr(dst)},"type":{_jstr(mtype)},'
                   f'"fate":"{fate}","count":{n}}}')
            if rows and size + len(row) > TRAFFIC_CHUNK:
                lines.append((head + ",".join(rows) + "]}").encode("ascii"))
                rows = []
                size = 0
            rows.append(row)
            size += len(row) + 1
        lines.append((head + ",".join(rows) + "]}").encode("ascii"))
        return lines

    def flush(self, idle: bool = True, force: bool = False) -> None:
        """Format, send and write the queued events when it is time.

        Called by the main loop in passes that neither read nor sent a
        packet (``idle``: no answer is on its way), and in any pass once
        ``due``.  Events go out at most every ``EVENT_SEND_INTERVAL`` and
        only in idle passes: formatting lines and waking a listener then
        delay no request (doing it right after sending one cost simple-1 a
        third of its median latency).
        Under constant traffic they still go out within ``EVENT_SEND_DELAY``
        (or once ``EVENT_SEND_LINES`` are queued).
        """
        now = time.monotonic()
        pending = self._pending
        if pending and (force or len(pending) >= EVENT_SEND_LINES
                        or now >= self._pending_since + EVENT_SEND_DELAY
                        or (idle and now >= self._next_send)):
            self._next_send = now + EVENT_SEND_INTERVAL
            self._pending = []
            self.due = math.inf
            lines = [line for item in pending for line in self.lines(item)]
            for line in lines:
                if self._file is None:
                    break
                self._write(line)
            if self._out is not None:
                self._send_lines(lines)
        f = self._file
        if f is not None:
            if force or now >= self._next_file_flush:
                self._next_file_flush = now + EVENT_FILE_FLUSH
                try:
                    f.flush()
                except (OSError, ValueError) as exc:
                    self.record_error = getattr(exc, "strerror", None) or str(exc)

    def _connect(self) -> bool:
        """Connect ``_out`` to ``socket_path`` if it is a socket of this user.

        Checked when connecting, not per datagram: the connection then stays
        with the socket that was checked, even if the path changes.
        """
        path = self.socket_path
        try:
            st = os.stat(path)  # type: ignore[arg-type]
        except OSError:
            return False        # nobody listens
        self.not_owned = st.st_uid != os.geteuid()
        if self.not_owned or not stat.S_ISSOCK(st.st_mode):
            return False
        try:
            self._out.connect(path)  # type: ignore[union-attr]
        except OSError:
            return False
        self._connected = True
        return True

    def _send_lines(self, lines: List[bytes]) -> None:
        out = self._out
        chunk: List[bytes] = []
        size = 0
        failed = not self._connected and not self._connect()
        for line in lines + [b""]:
            n = len(line) + 1
            if line and n > EVENT_DATAGRAM_MAX:
                self.dropped += 1           # one event bigger than a datagram
                continue
            if chunk and (not line or size + n > EVENT_DATAGRAM_MAX):
                if failed:
                    self.dropped += len(chunk)
                else:
                    try:
                        out.send(b"\n".join(chunk) + b"\n")  # type: ignore[union-attr]
                        self.sent += len(chunk)
                    except OSError as exc:
                        # EAGAIN/ENOBUFS: the listener is behind; anything
                        # else (ECONNREFUSED: it went away): reconnect, with
                        # a fresh owner check, next time.  Drop the rest of
                        # this pass either way rather than retry.
                        if exc.errno not in (errno.EAGAIN, errno.ENOBUFS):
                            self._connected = False
                        failed = True
                        self.dropped += len(chunk)
                chunk = []
                size = 0
            if line:
                chunk.append(line)
                size += n

    # ---- the replicas' events (--record) ------------------------------------------

    def drain(self, limit: Optional[int] = RECORD_DRAIN_MAX) -> int:
        """Read waiting datagrams from the record socket without blocking."""
        s = self.rec_sock
        if s is None:
            return 0
        n = 0
        while limit is None or n < limit:
            try:
                data = s.recv(EVENT_RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            n += 1
            self._take(data)
        return n

    def _take(self, data: bytes) -> None:
        for raw in data.split(b"\n"):
            line = raw.strip()
            if not line:
                continue
            try:
                obj = _DECODER.decode(line.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError):
                self.malformed += 1
                continue
            if not _valid_event(obj):
                self.malformed += 1
                continue
            self.received += 1
            self._queue(line)
