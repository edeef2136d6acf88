"""Instance liveness: an instance whose agent has not synced for a while shows
agentConnected false (the gateway sets it true again on the next sync)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Protocol

from portside.ops import instances as inst_ops
from portside.ops.context import World

log = logging.getLogger("portside.liveness")

DISCONNECT_AFTER = 30.0  # seconds without a sync


class SeenTracker(Protocol):
    last_seen: dict[str, float]


def compute(
    connected: Iterable[str],
    last_seen: Mapping[str, float],
    now: float,
    started: float,
    grace: float = DISCONNECT_AFTER,
) -> list[str]:
    """The connected instances to mark disconnected. An instance not seen since this server
    started gets the grace period from the start (its agent may be reconnecting)."""
    return [arn for arn in connected if now - max(last_seen.get(arn, started), started) > grace]


class LivenessLoop:
    def __init__(
        self,
        world: World,
        gateway: SeenTracker,
        interval: float = 5.0,
        grace: float = DISCONNECT_AFTER,
    ) -> None:
        self.world = world
        self.gateway = gateway
        self.interval = interval
        self.grace = grace
        self.started = world.clock()

    def run_once(self) -> list[str]:
        store = self.world.store
        with store.read() as tx:
            connected = [
                row[0]
                for row in tx.index(inst_ops.TABLE)
                if (doc := tx.get(inst_ops.TABLE, row[0]))
                and doc.get("agentConnected")
                and doc.get("status") != "INACTIVE"
            ]
        lost = compute(
            connected, self.gateway.last_seen, self.world.clock(), self.started, self.grace
        )
        if lost:
            with store.transaction() as tx:
                for arn in lost:
                    inst = inst_ops.load(tx, arn)
                    if inst is not None and inst.agent_connected:
                        inst.agent_connected = False
                        inst.disconnected_at = self.world.clock()
                        inst.version += 1
                        inst_ops.save(tx, inst)
            log.warning("%d instance(s) lost their agent", len(lost))
        return lost

    async def run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.run_once)
            except Exception:
                log.exception("liveness pass failed")
            await asyncio.sleep(self.interval)
