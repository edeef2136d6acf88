"""A host's network view for its agent, as a long poll (server side).

    POST /_portside/agent/v1/network  NetworkViewRequest -> NetworkView

The view of the session's instances is built by `ec2/host_view.py` in a worker thread and
answered at once when its version differs from the one the agent holds; else the request
waits until a table the view is made of changes (`host_view.WATCHED`: tasks, instances,
ENIs, rules, groups, subnets) and builds again, answering when the version moved or `wait`
seconds passed.

The wait is the store's commits as the gateway's sync hears them (`Store.subscribe`, on the
event loop), then the feed asked whether one of the watched tables changed, rather than a
`Store.wait(tables=)` in a thread: the server's default executor has a handful of threads
on a small machine (cpu + 4), and every agent's long poll holding one for 20 s would starve
the API's writes. A poll also looks each second whether the gateway is closing.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

from starlette.routing import BaseRoute, Route

from portside.ec2.host_view import WATCHED, HostNetwork, host_network
from portside.errors import ClientException, SerializationException
from portside.gateway.protocol.network import (
    NETWORK,
    LocalEni,
    NetworkView,
    NetworkViewRequest,
    SubnetInfo,
)
from portside.gateway.protocol.sync import MAX_WAIT
from portside.ops.context import Op, World

InstancesOf = Callable[[str], set[str] | None]
SLICE = 1.0  # seconds a poll sleeps at most before looking whether the gateway is closing


def as_view(found: HostNetwork) -> NetworkView:
    """The agent protocol's message for a host's network (pure)."""
    return NetworkView.of(
        enis=[
            LocalEni(i.task_arn, i.address, i.subnet_id, i.mac, i.groups) for i in found.interfaces
        ],
        rules=found.rules,
        members=found.members,
        subnets={k: SubnetInfo(cidr, vpc) for k, (cidr, vpc) in found.subnets.items()},
        subnet_peers=found.subnet_peers,
    )


class _Commits:
    """Commits announced on the event loop: a counter and a condition to wait on."""

    def __init__(self) -> None:
        self.count = 0
        self.cond: asyncio.Condition | None = None

    def attach(self, world: World) -> None:
        if self.cond is not None:
            return
        loop = asyncio.get_running_loop()
        self.cond = asyncio.Condition()

        def heard(seq: int) -> None:
            if not loop.is_closed():
                loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._notify()))

        world.store.subscribe(heard)

    async def _notify(self) -> None:
        self.count += 1
        assert self.cond is not None
        async with self.cond:
            self.cond.notify_all()

    async def wait(self, seen: int, timeout: float) -> None:
        """Return when a commit is announced after the count was `seen`, or after `timeout`."""
        assert self.cond is not None
        try:
            async with self.cond:
                if self.count == seen:
                    async with asyncio.timeout(max(0.0, timeout)):
                        await self.cond.wait()
        except TimeoutError:
            pass


class NetworkDesk:
    def __init__(
        self, world: World, instances_of: InstancesOf, closing: Callable[[], bool]
    ) -> None:
        self.world = world
        self.instances_of = instances_of
        self.closing = closing
        self._commits = _Commits()

    def routes(self, endpoint: Callable[[Any], Any]) -> list[BaseRoute]:
        """The route, wrapped by the gateway's signed-endpoint wrapper."""
        return [Route(NETWORK, endpoint(self.answer), methods=["POST"])]

    def build(self, instances: set[str]) -> NetworkView:
        with self.world.store.read() as tx:
            return as_view(host_network(tx, instances))

    def _changed(self, after: int) -> tuple[bool, int]:
        """Whether a watched table changed after `after`, and the position looked up to."""
        store = self.world.store
        upto = store.last_seq()
        return bool(store.changes_raw(after, 1, tables=WATCHED, upto=upto)), upto

    async def answer(self, op: Op, params: dict[str, Any]) -> NetworkView:
        try:
            ask = NetworkViewRequest.from_wire(params)
        except (KeyError, TypeError, ValueError) as exc:
            raise SerializationException(f"The request is not a valid message: {exc!r}") from None
        self._commits.attach(self.world)
        wait = ask.wait if math.isfinite(ask.wait) else 0.0
        deadline = time.monotonic() + min(max(wait, 0.0), MAX_WAIT)
        while True:
            instances = self.instances_of(ask.session)
            if instances is None:
                raise ClientException("UnknownSession: open a new session.")
            after = self.world.store.last_seq()
            view = await asyncio.to_thread(self.build, set(instances))
            if view.version != ask.version or self.closing():
                return view
            # Look at the feed once (a commit may have landed while the view was built),
            # then again only after a commit is heard.
            seen = self._commits.count
            changed, after = await asyncio.to_thread(self._changed, after)
            while not changed:
                left = deadline - time.monotonic()
                if left <= 0 or self.closing():
                    return view
                await self._commits.wait(seen, min(left, SLICE))
                if self._commits.count != seen:
                    seen = self._commits.count
                    changed, after = await asyncio.to_thread(self._changed, after)
