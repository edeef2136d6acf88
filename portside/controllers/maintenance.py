"""Housekeeping on a timer: remove deleted task definitions nothing uses, forget stopped
tasks after an hour (ECS keeps them describable for at least that long), trim the change
feed (agents further behind get a full snapshot; controllers resync every 30 s; event targets
hold it back while they lag, up to a day)."""

from __future__ import annotations

import asyncio
import logging

from portside.ops import task_definitions
from portside.ops.context import Caller, Op, World, root_principal
from portside.store.base import Store

log = logging.getLogger("portside.maintenance")


def regions(store: Store) -> set[tuple[str, str]]:
    """(region, account) pairs that hold task definitions."""
    found: set[tuple[str, str]] = set()
    with store.read() as tx:
        for row in tx.index("task_definitions", where={"status": "DELETE_IN_PROGRESS"}):
            parts = str(row[0]).split(":")
            found.add((parts[3], parts[4]))
    return found


STOPPED_TASK_TTL = 3600.0
FEED_TTL = 3600.0
# An event target that lags (its webhook down) keeps the feed from being trimmed past what it
# has not delivered, for up to EventBridge's default maximum event age.
FEED_HOLD_MAX = 24 * 3600.0


def feed_trim_point(store: Store, now: float) -> float:
    """Changes committed before this instant may be forgotten: an hour ago, or earlier while
    an event target still has to deliver them (at most FEED_HOLD_MAX back)."""
    before = now - FEED_TTL
    with store.read() as tx:
        targets = {key for key, *_ in tx.index("event_targets", ordered=False)}
        cursors = [int(doc["seq"]) for key, doc in tx.scan("event_cursors") if key in targets]
    if not cursors:
        return before
    unread = store.changes(min(cursors), limit=1)
    if not unread:
        return before
    return min(before, max(unread[0].at, now - FEED_HOLD_MAX))


def reap_stopped_tasks(store: Store, now: float, ttl: float = STOPPED_TASK_TTL) -> int:
    removed = 0
    with store.transaction() as tx:
        for row in tx.index("tasks", where={"status": "STOPPED"}, ordered=False):
            doc = tx.get("tasks", row[0])
            if doc is not None and now - float(doc.get("stoppedAt") or now) > ttl:
                tx.delete("tasks", row[0])
                tx.delete("tags", row[0])
                removed += 1
    return removed


class MaintenanceLoop:
    def __init__(self, world: World, *, account: str, interval: float = 10.0) -> None:
        self.world = world
        self.account = account
        self.interval = interval

    def run_once(self) -> int:
        removed = 0
        for region, account in regions(self.world.store):
            caller = Caller(account, region, "", root_principal(account))
            removed += task_definitions.reap_deleted(Op(self.world, caller))
        now = self.world.clock()
        removed += reap_stopped_tasks(self.world.store, now)
        self.world.store.trim(feed_trim_point(self.world.store, now))
        return removed

    async def run(self) -> None:
        while True:
            try:
                removed = await asyncio.to_thread(self.run_once)
                if removed:
                    log.info("removed %d deleted task definition(s)", removed)
            except Exception:
                log.exception("maintenance pass failed")
            await asyncio.sleep(self.interval)
