"""Housekeeping on a timer: remove deleted task definitions nothing uses, forget stopped
tasks after an hour (ECS keeps them describable for at least that long), remove secrets whose
recovery window has ended, trim the change feed (agents further behind get a full snapshot;
controllers resync every 30 s; event targets hold it back while they lag, up to a day), and
hand the heap's free pages back (heap.py)."""

from __future__ import annotations

import logging

from portside import heap
from portside.controllers.loop import Loop, Loops
from portside.model.states import TaskStatus
from portside.ops import task_definitions
from portside.ops.context import Caller, Op, World, root_principal
from portside.secretsmanager import records as secrets
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


REAP_BATCH = 500  # tasks deleted per write transaction: the write lock is never held long


def reap_stopped_tasks(store: Store, now: float, ttl: float = STOPPED_TASK_TTL) -> int:
    """Delete the tasks STOPPED more than `ttl` ago (ECS keeps a stopped task visible for
    about an hour), oldest first through the (status, stopped_at) index, REAP_BATCH per
    transaction. A STOPPED task never changes again, so finding them needs no write lock.
    Tasks with no stoppedAt are kept (they are excluded by the `after` bound)."""
    removed = 0
    cutoff = now - ttl
    while True:
        with store.read() as tx:
            rows = tx.select(
                "tasks",
                order=["stopped_at"],
                where={"status": TaskStatus.STOPPED},
                after=[float("-inf")],
                limit=REAP_BATCH,
            )
        old = [key for key, at in rows if at < cutoff]
        if old:
            with store.transaction() as tx:
                for key in old:
                    if tx.delete("tasks", key):
                        tx.delete("tags", key)
                        removed += 1
        if len(old) < REAP_BATCH:
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
        secrets.purge_expired(self.world.store, now)
        self.world.store.trim(feed_trim_point(self.world.store, now))
        heap.release()  # what this pass and the others freed goes back to the system
        return removed

    def step(self) -> None:
        removed = self.run_once()
        if removed:
            log.info("removed %d deleted task definition(s)", removed)

    def register(self, loops: Loops) -> Loop:
        return loops.add("maintenance", self.step, interval=self.interval, log=log)
