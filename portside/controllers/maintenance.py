"""Housekeeping on a timer: remove deleted task definitions nothing uses, trim the feed."""

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
