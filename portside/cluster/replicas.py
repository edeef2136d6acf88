"""Each replica's heartbeat record and the cluster as `portside status` shows it.

A replica writes its row (`replicas` table) with every lease beat: its endpoint, host, when it
started, whether it leads and its loops' statuses. Anyone reads them all: the health route of
any replica shows every replica, so one call tells where the leader is and how each replica's
loops are doing. A row not renewed for FORGET_AFTER is removed by the leader.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from portside.cluster import records
from portside.controllers.loop import LoopStatus
from portside.store.base import Store

GONE_AFTER = 10.0  # seconds without a heartbeat before a replica shows as gone
FORGET_AFTER = 600.0  # seconds before a gone replica's row is removed

# What a heartbeat keeps of each loop's status (the rest is this replica's own health's).
_LOOP_FIELDS = (
    "name",
    "group",
    "standby",
    "passes",
    "last_success",
    "last_error",
    "consecutive_errors",
    "total_errors",
)


@dataclass(frozen=True, slots=True)
class Replica:
    """This server process as the other replicas see it."""

    endpoint: str
    started: float = field(default_factory=time.time)
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def heartbeat(
        self, loops: list[LoopStatus], *, epoch: int | None, now: float
    ) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "host": self.host,
            "pid": self.pid,
            "started": self.started,
            "seen": now,
            "leader": epoch is not None,
            "epoch": epoch,
            "loops": [{f: getattr(s, f) for f in _LOOP_FIELDS} for s in loops],
        }


def report(store: Store, me: str, now: float) -> dict[str, Any]:
    """The cluster as seen from replica `me`: the lease and every replica's heartbeat."""
    with store.read() as tx:
        lease = records.read_lease(tx)
        rows = records.replicas(tx)
    leader: dict[str, Any] | None = None
    if lease is not None and lease.holder is not None:
        leader = {"replica": lease.holder, "epoch": lease.epoch, "expires": lease.expires}
    return {
        "replica": me,
        "leader": leader,
        # Who leads is the lease's word: a heartbeat says what its replica knew at its last
        # beat (a term renewed late is ended and begun again between two beats).
        "replicas": [
            {
                **doc,
                "id": rid,
                "seen": seen,
                "gone": now - seen > GONE_AFTER,
                "leader": leader is not None and leader["replica"] == rid,
            }
            for rid, seen, doc in rows
        ],
    }
