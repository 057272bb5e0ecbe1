"""Addresses: replica and client IDs, and the broadcast address.

See docs/simulator.md, "Replicas and clients".
"""

from __future__ import annotations

import re
from typing import List

BROADCAST = "FFFF"
NUM_CLIENTS = 8
CLIENT_ID_OFFSET = 16

is_address = re.compile(r"[0-9A-Fa-f]{4}\Z").match
"""Whether a string is an address: exactly four hexadecimal characters."""


def replica_ids(n: int) -> List[str]:
    return [format(i, "04X") for i in range(n)]


def client_ids(n: int) -> List[str]:
    return [format(n + CLIENT_ID_OFFSET + j, "04X") for j in range(NUM_CLIENTS)]
