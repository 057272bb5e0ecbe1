"""The replicas' data dirs (docs/simulator.md, "Restarts").

When a run restarts replicas (a ``restart`` or ``kill_restart`` event), or
with ``--durable``, each replica keeps its durable state in a folder of its
own, named to it in ``$KV_DATA_DIR``.  The folders of one run live in a
fresh folder ``kvdata-XXXXXXXX`` made under the run's working directory
with ``tempfile.mkdtemp``: its name is unique, so that no run ever finds
(and recovers) what an earlier or concurrent run left, and there is never
anything to refuse or to delete that run.py did not make.  Replica *ID*'s
folder is ``kvdata-XXXXXXXX/ID``.

The whole folder is removed when the run ends (normally, on an error or on
Ctrl-C: ``Simulation``'s teardown), unless ``--keep-data``; the watchdog
removes it if run.py is killed outright.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Dict, List, Optional

from .errors import ReplicaError

DATA_DIR_ENV = "KV_DATA_DIR"
DATA_ROOT_PREFIX = "kvdata-"


class DataDirs:
    """One run's data folder and a folder per replica in it."""

    def __init__(self, workdir: str, keep: bool = False) -> None:
        self.workdir = workdir
        self.keep = keep
        self.root: Optional[str] = None
        self.by_id: Dict[str, str] = {}
        self.remove_error: Optional[str] = None

    def create(self, ids: List[str]) -> Dict[str, str]:
        """Make the run's folder and one per replica; their paths by replica id."""
        try:
            self.root = tempfile.mkdtemp(prefix=DATA_ROOT_PREFIX, dir=self.workdir)
            for rid in ids:
                path = os.path.join(self.root, rid)
                os.mkdir(path, 0o700)
                self.by_id[rid] = path
        except OSError as exc:
            raise ReplicaError(f"cannot make the replicas' data dirs under {self.workdir}: "
                               f"{exc.strerror or exc}") from None
        return dict(self.by_id)

    def remove(self) -> None:
        """Remove the folder and everything in it, unless it is to be kept.
        Call once no replica runs any more."""
        if self.keep or self.root is None or not os.path.isdir(self.root):
            return
        try:
            shutil.rmtree(self.root)
        except OSError as exc:
            self.remove_error = f"{exc.filename or self.root}: {exc.strerror or exc}"
