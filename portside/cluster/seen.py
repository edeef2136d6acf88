"""Which agents are alive, as every replica's gateway heard them.

An agent syncs with whichever replica it reaches; that replica's gateway notes when
(`AgentGateway.last_seen`, in memory). The liveness loop runs on the leader and must not
take an agent that syncs with another replica for lost: each replica publishes its gateway's
map with its heartbeat row every PUBLISH_EVERY seconds, and the leader's beat refreshes
`SharedSeen.last_seen`, which liveness reads: its own gateway's map merged with the others'
(newest wins). A published map is at most PUBLISH_EVERY plus a beat old, well inside
liveness's 30 s grace. A sole replica's `last_seen` is its gateway's map itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from portside.cluster import records
from portside.cluster.replicas import GONE_AFTER
from portside.store.base import Store

PUBLISH_EVERY = 5.0  # seconds between a replica's publications of its gateway's map


class SeenTracker(Protocol):
    last_seen: dict[str, float]


class SharedSeen:
    """`last_seen` (ARN -> when its agent last synced) over every replica's gateway."""

    def __init__(
        self, local: SeenTracker, store: Store, me: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.local = local
        self.store = store
        self.me = me
        self.clock = clock
        self.last_seen: dict[str, float] = local.last_seen  # until the first refresh

    def refresh(self) -> None:
        """Read the other replicas' maps and merge this one's in (blocking)."""
        since = self.clock() - GONE_AFTER - PUBLISH_EVERY
        with self.store.read() as tx:
            maps = records.instances_seen(tx, besides=self.me, since=since)
        merged: dict[str, float] = {}
        for seen in [*maps, dict(self.local.last_seen)]:
            for arn, when in seen.items():
                if when > merged.get(arn, 0.0):
                    merged[arn] = when
        self.last_seen = merged
