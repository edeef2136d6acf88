"""Retention: events older than their group's retentionInDays are deleted.

`plan` decides (pure: groups' retention and the time in, what to delete out); `RetentionLoop`
applies it every `interval` seconds, as the server's "retention" loop (controllers/loop.py).
Deletion runs in small transactions (LogStore.expire), so ingest does not wait behind it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from portside.controllers.loop import Loop, Loops
from portside.logs.rules import retention_cutoff
from portside.logs.store import LogStore

log = logging.getLogger("portside.logs.retention")


@dataclass(frozen=True, slots=True)
class Expiry:
    group_id: int
    before_ms: int  # delete events with a timestamp before this


def plan(retentions: Iterable[tuple[int, int]], now_ms: int) -> list[Expiry]:
    """What to delete: for each (group id, retention days), the events before its cutoff."""
    out: list[Expiry] = []
    for group_id, days in retentions:
        cutoff = retention_cutoff(days, now_ms)
        if cutoff is not None:
            out.append(Expiry(group_id, cutoff))
    return out


def apply(store: LogStore, now_ms: int) -> int:
    """One pass: delete every expired event; how many were deleted."""
    return sum(store.expire(e.group_id, e.before_ms) for e in plan(store.retentions(), now_ms))


class RetentionLoop:
    def __init__(self, store: LogStore, clock: Callable[[], float], interval: float = 60.0) -> None:
        self.store = store
        self.clock = clock
        self.interval = interval

    def step(self) -> None:
        deleted = apply(self.store, int(self.clock() * 1000))
        if deleted:
            log.info("retention: deleted %d expired log events", deleted)

    def register(self, loops: Loops) -> Loop:
        return loops.add("retention", self.step, interval=self.interval, log=log)
