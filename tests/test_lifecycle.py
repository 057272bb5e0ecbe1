"""No orphans, whatever happens to run.py: every stop signal (SIGINT,
SIGTERM, SIGHUP) and SIGKILL leave no replica process, no socket file and
no temporary folder 2 s later, under both transports, with the real
replica (`make build`).  And setup never deletes a file it did not create.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from typing import Dict, List, Optional, Tuple

from simulator.events import EVENT_SOCKET_ENV
from tests import support

REPLICA = os.path.join(support.ROOT, "3700kvstore")
REPLICAS = 3
GONE_WITHIN = 2.0


def _built() -> bool:
    return os.access(REPLICA, os.X_OK)


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return b""


def replica_children(ppid: int) -> List[int]:
    """The 3700kvstore processes whose parent is ``ppid`` (from /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat_line = _read(f"/proc/{entry}/stat")
        try:
            parent = int(stat_line.rsplit(b")", 1)[1].split()[1])
        except (IndexError, ValueError):
            continue
        if parent == ppid and b"3700kvstore" in _read(f"/proc/{entry}/cmdline").split(b"\0")[0]:
            out.append(int(entry))
    return out


def replicas_in(workdir: str) -> List[int]:
    """Living 3700kvstore processes running in ``workdir``, whoever their parent is now."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if cwd == workdir and b"3700kvstore" in _read(f"/proc/{entry}/cmdline").split(b"\0")[0] \
                and support.pid_alive(int(entry)):
            out.append(int(entry))
    return out


def replica_event_socket(pid: int) -> Optional[str]:
    """The event socket a replica was given ($KVDASH_SOCKET): inside run.py's temporary folder."""
    for var in _read(f"/proc/{pid}/environ").split(b"\0"):
        name, _, value = var.partition(b"=")
        if name == EVENT_SOCKET_ENV.encode():
            return os.fsdecode(value)
    return None


def started_replicas(record: str) -> int:
    """How many replicas reported their `start` event in the record so far."""
    ids = set()
    for line in _read(record).splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if isinstance(ev, dict) and ev.get("kind") == "start" and ev.get("src") != "sim":
            ids.add(ev.get("src"))
    return len(ids)


def until(check, seconds: float) -> bool:
    """Poll ``check`` until it holds or ``seconds`` pass; whether it held."""
    deadline = time.monotonic() + seconds
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


@unittest.skipUnless(sys.platform.startswith("linux"), "reads /proc")
@unittest.skipUnless(_built() or os.environ.get("CI") == "true",
                     "build the replica first (make); skipped outside CI")
class NoOrphans(unittest.TestCase):
    def setUp(self) -> None:
        if not _built():
            raise AssertionError(f"{REPLICA} is missing: run `make` first")
        self.dir = os.path.realpath(tempfile.mkdtemp(prefix="simlife-"))
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.cfg = support.write_json(self.dir, "long.json",
                                      support.short_config(lifetime=60, replicas=REPLICAS))
        self.proc: Optional[subprocess.Popen] = None

    def tearDown(self) -> None:
        # Whatever the outcome, leave nothing running.
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pid in replicas_in(self.dir):
            os.kill(pid, signal.SIGKILL)

    def start_run(self, transport: str) -> Tuple[List[int], str]:
        """Start run.py and wait until every replica is in its loop; return
        the replica pids and run.py's temporary folder."""
        record = os.path.join(self.dir, "rec.jsonl")
        self.proc = subprocess.Popen(
            [sys.executable, support.RUN_PY, self.cfg, "-r", REPLICA, "-s", "--transport", transport,
             "--record", record],
            cwd=self.dir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        up = until(lambda: started_replicas(record) == REPLICAS, 20)
        self.assertTrue(up, f"the replicas did not start: {self.proc.poll()} {self.proc.stderr}")
        pids = replica_children(self.proc.pid)
        self.assertEqual(len(pids), REPLICAS)
        sock = replica_event_socket(pids[0])
        self.assertIsNotNone(sock)
        tmp = os.path.dirname(sock)  # type: ignore[arg-type]
        self.assertTrue(os.path.basename(tmp).startswith("kvsim-"), tmp)
        self.assertTrue(os.path.isdir(tmp))
        if transport == "classic":
            self.assertEqual(len(support.socket_files(self.dir)), REPLICAS)
        return pids, tmp

    def assertNothingLeft(self, pids: List[int], tmp: str) -> None:
        def clean() -> bool:
            return (not any(support.pid_alive(p) for p in pids) and not replicas_in(self.dir)
                    and not support.socket_files(self.dir) and not os.path.exists(tmp))
        if until(clean, GONE_WITHIN):
            return
        alive = [p for p in pids if support.pid_alive(p)] + replicas_in(self.dir)
        self.fail(f"{GONE_WITHIN} s after the signal: replicas alive {sorted(set(alive))}, "
                  f"socket files {support.socket_files(self.dir)}, temporary folder left: "
                  f"{os.path.exists(tmp)}")

    def signal_run(self, transport: str, sig: int) -> None:
        pids, tmp = self.start_run(transport)
        assert self.proc is not None
        self.proc.send_signal(sig)
        self.assertNothingLeft(pids, tmp)
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.fail("run.py did not exit within 10 s of the signal")
        if sig == signal.SIGKILL:
            self.assertEqual(self.proc.returncode, -signal.SIGKILL)
        else:
            self.assertEqual(self.proc.returncode, 130, err)
            self.assertIn(b"interrupted", err)

    def test_classic_sigint(self) -> None:
        self.signal_run("classic", signal.SIGINT)

    def test_classic_sigterm(self) -> None:
        self.signal_run("classic", signal.SIGTERM)

    def test_classic_sighup(self) -> None:
        self.signal_run("classic", signal.SIGHUP)

    def test_classic_sigkill(self) -> None:
        self.signal_run("classic", signal.SIGKILL)

    def test_udp_sigint(self) -> None:
        self.signal_run("udp", signal.SIGINT)

    def test_udp_sigterm(self) -> None:
        self.signal_run("udp", signal.SIGTERM)

    def test_udp_sighup(self) -> None:
        self.signal_run("udp", signal.SIGHUP)

    def test_udp_sigkill(self) -> None:
        self.signal_run("udp", signal.SIGKILL)


@unittest.skipUnless(sys.platform.startswith("linux"), "reads /proc")
class WatchdogKillsWhatIgnoresSigterm(unittest.TestCase):
    """SIGKILL of run.py with replicas that have no parent-death signal and
    ignore SIGTERM, as do their children: the watchdog SIGKILLs the groups
    and removes the socket files."""

    def test_sigkill_of_run_py(self) -> None:
        d = os.path.realpath(tempfile.mkdtemp(prefix="simlife-"))
        self.addCleanup(shutil.rmtree, d, True)
        cfg = support.write_json(d, "long.json", support.short_config(lifetime=60))
        proc = subprocess.Popen([sys.executable, support.RUN_PY, cfg, "-r", support.fake("ignores_sigterm"), "-s"],
                                cwd=d, env=dict(os.environ, FAKE_WRITE_PIDS="1"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(proc.wait)
        files = lambda: [f for f in os.listdir(d) if f.startswith(("pid-", "child-"))]  # noqa: E731
        self.assertTrue(until(lambda: len(files()) == 6, 20), "the fakes did not start")
        self.assertEqual(len(support.socket_files(d)), 3)
        pids = support.recorded_pids(d)
        proc.kill()

        def clean() -> bool:
            return not any(support.pid_alive(p) for p in pids) and not support.socket_files(d)
        ok = until(clean, GONE_WITHIN)
        for p in pids:
            if support.pid_alive(p):
                os.kill(p, signal.SIGKILL)
        self.assertTrue(ok, f"{GONE_WITHIN} s after SIGKILL: alive "
                            f"{[p for p in pids if support.pid_alive(p)]}, sockets {support.socket_files(d)}")


class SetupDeletesNothingItDidNotCreate(unittest.TestCase):
    """Something at ./<id> that is not a stale socket stops run.py (exit 2,
    one line naming the path) before anything starts, and is left as it was."""

    def setUp(self) -> None:
        self.dir = os.path.realpath(tempfile.mkdtemp(prefix="simsetup-"))
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.cfg = support.write_json(self.dir, "c.json", support.short_config(lifetime=5, start_wait=1,
                                                                              end_wait=1))

    def run_py(self) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, support.RUN_PY, self.cfg, "-r", support.fake("toy"), "-s",
                               "--seed", "1"], cwd=self.dir, capture_output=True, text=True, timeout=60)

    def assertRefused(self, proc: subprocess.CompletedProcess, path: str, text: str) -> None:
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertEqual(proc.stdout, "")
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)       # no traceback
        self.assertIn(path, lines[0])
        self.assertIn(text, lines[0])
        # Nothing started: no socket file was made.
        self.assertEqual(support.socket_files(self.dir), [])

    def test_a_regular_file_is_kept(self) -> None:
        path = os.path.join(self.dir, "0001")
        with open(path, "w") as fh:
            fh.write("mine")
        self.assertRefused(self.run_py(), path, "not a socket")
        with open(path) as fh:
            self.assertEqual(fh.read(), "mine")

    def test_a_folder_is_kept(self) -> None:
        path = os.path.join(self.dir, "0002")
        os.mkdir(path)
        with open(os.path.join(path, "inside"), "w") as fh:
            fh.write("mine")
        self.assertRefused(self.run_py(), path, "folder")
        self.assertTrue(os.path.isfile(os.path.join(path, "inside")))

    def test_a_symlink_is_kept(self) -> None:
        target = os.path.join(self.dir, "target")
        with open(target, "w") as fh:
            fh.write("mine")
        path = os.path.join(self.dir, "0000")
        os.symlink(target, path)
        self.assertRefused(self.run_py(), path, "not a socket")
        self.assertTrue(os.path.islink(path))

    def test_a_socket_another_run_listens_on_is_kept(self) -> None:
        path = os.path.join(self.dir, "0000")
        live = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.addCleanup(live.close)
        live.bind(path)
        live.listen(1)
        ino = os.lstat(path).st_ino
        proc = self.run_py()
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn(path, proc.stderr)
        self.assertIn("still going on", proc.stderr)
        self.assertEqual(os.lstat(path).st_ino, ino)

    def test_a_stale_socket_is_replaced(self) -> None:
        path = os.path.join(self.dir, "0000")
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        stale.bind(path)
        stale.close()                     # the file stays: what a killed run leaves
        proc = self.run_py()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(support.socket_files(self.dir), [])


@unittest.skipUnless(sys.platform.startswith("linux"), "reads /proc")
@unittest.skipUnless(_built() or os.environ.get("CI") == "true",
                     "build the replica first (make); skipped outside CI")
class ReplicaOutlivesNoSimulator(unittest.TestCase):
    """The replica's own side, without run.py's watchdog: a UDP replica
    whose parent is SIGKILLed exits within 2 s though the simulator's port
    stays open (so only the parent-death signal or the reparenting check
    can end it)."""

    def test_udp_replica_exits_when_its_parent_is_killed(self) -> None:
        if not _built():
            raise AssertionError(f"{REPLICA} is missing: run `make` first")
        port = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(port.close)
        port.bind(("127.0.0.1", 0))
        port.settimeout(20)
        parent = subprocess.Popen(
            [sys.executable, "-c",
             "import subprocess, sys, time\n"
             "p = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,"
             " stderr=subprocess.DEVNULL)\n"
             "print(p.pid, flush=True)\n"
             "time.sleep(60)\n",
             REPLICA, str(port.getsockname()[1]), "0000", "0001", "0002"],
            stdout=subprocess.PIPE, text=True)
        self.addCleanup(parent.wait)
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        self.addCleanup(lambda: support.pid_alive(pid) and os.kill(pid, signal.SIGKILL))
        data, _ = port.recvfrom(65535)       # its hello: it is in its loop
        self.assertIn(b"hello", data)
        parent.kill()
        self.assertTrue(support.dies_within(pid, GONE_WITHIN),
                        f"the replica {pid} outlived its parent by {GONE_WITHIN} s")


class WatchdogOrders(unittest.TestCase):
    """The watchdog's side of the pipe: what it reads and what it removes."""

    def test_done_means_nothing_to_do_and_bad_lines_are_skipped(self) -> None:
        import io
        from simulator.watchdog import read_orders
        lines = b"group 1234\ngroup x\ngroup 1\nsocket 1 2 %s\nsocket 1 2 zz\ndir %s\nnonsense\n" % (
            b"/tmp/a".hex().encode(), b"/tmp/d".hex().encode())
        groups, sockets, dirs, done = read_orders(io.BytesIO(lines))
        self.assertEqual((groups, sockets, dirs, done), ([1234], [(1, 2, b"/tmp/a")], [b"/tmp/d"], False))
        self.assertTrue(read_orders(io.BytesIO(lines + b"done\n"))[3])

    def test_only_the_very_socket_it_was_told_of_is_removed(self) -> None:
        from simulator.watchdog import clean_up
        d = tempfile.mkdtemp(prefix="simwatch-")
        self.addCleanup(shutil.rmtree, d, True)
        ours, replaced = os.path.join(d, "0000"), os.path.join(d, "0001")
        told = []
        for path in (ours, replaced):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.bind(path)
            s.close()
            st = os.lstat(path)
            told.append((st.st_dev, st.st_ino, os.fsencode(path)))
        # Someone put a file of their own where the second socket was.
        os.unlink(replaced)
        with open(replaced, "w") as fh:
            fh.write("not yours")
        clean_up([], told, [os.fsencode(d)])
        self.assertFalse(os.path.lexists(ours))
        self.assertTrue(os.path.isfile(replaced))
        self.assertTrue(os.path.isdir(d))            # not empty: kept
