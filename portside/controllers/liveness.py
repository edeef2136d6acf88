"""Instance liveness: an instance whose agent has not synced for a while shows
agentConnected false (the gateway sets it true again on the next sync; both through
ops/instances.set_agent_connected).

Registering is a sign of life too. An agent registers its instance and then opens its
session; a simulated fleet registers all of its N instances first, which at 10,000 takes
longer than the grace, so its first instances were marked lost before their session opened.
An instance the gateway has not seen since this server started therefore counts from its
latest registration, with the longer REGISTRATION_GRACE."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Protocol

from portside.controllers.loop import Loop, Loops
from portside.model.container_instance import INACTIVE
from portside.ops import instances as inst_ops
from portside.ops.context import World

log = logging.getLogger("portside.liveness")

DISCONNECT_AFTER = 30.0  # seconds without a sync
REGISTRATION_GRACE = 300.0  # seconds from a registration to the agent's first sync


class SeenTracker(Protocol):
    last_seen: dict[str, float]


def compute(
    connected: Iterable[str],
    last_seen: Mapping[str, float],
    now: float,
    started: float,
    grace: float = DISCONNECT_AFTER,
    registered: Mapping[str, float] | None = None,
    registration_grace: float = REGISTRATION_GRACE,
) -> list[str]:
    """The connected instances to mark disconnected. An instance not seen since this server
    started gets the grace period from the start (its agent may be reconnecting), or, when
    it registered since (`registered`: ARN -> when it last did), `registration_grace` from
    that registration (its agent may still be registering the rest of its fleet)."""
    lost = []
    for arn in connected:
        seen = last_seen.get(arn)
        if seen is not None and seen >= started:
            alive, allowed = seen, grace
        else:
            at = (registered or {}).get(arn)
            if at is not None and at >= started:
                alive, allowed = at, max(grace, registration_grace)
            else:
                alive, allowed = started, grace
        if now - alive > allowed:
            lost.append(arn)
    return lost


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
        now = self.world.clock()
        last_seen = self.gateway.last_seen
        connected: list[str] = []
        registered: dict[str, float] = {}
        with store.read() as tx:
            # Only instances the gateway has not heard from lately can be lost: read just
            # those (with every agent syncing, none), not every instance every pass.
            for arn, *_ in tx.index(inst_ops.TABLE, where=None, ordered=False):
                seen = last_seen.get(arn)
                if seen is not None and seen >= self.started and now - seen <= self.grace:
                    continue
                inst = inst_ops.load(tx, arn)
                if inst is None or not inst.agent_connected or inst.status == INACTIVE:
                    continue
                connected.append(arn)
                registered[arn] = inst.last_heartbeat or inst.registered_at
        lost = compute(connected, last_seen, now, self.started, self.grace, registered)
        if lost:
            with store.transaction() as tx:
                for arn in lost:
                    inst_ops.set_agent_connected(tx, arn, False, self.world.clock())
            log.warning("%d instance(s) lost their agent", len(lost))
        return lost

    def step(self) -> None:
        self.run_once()

    def register(self, loops: Loops) -> Loop:
        return loops.add("liveness", self.step, interval=self.interval, log=log)
