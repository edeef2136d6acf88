"""A host's Service Connect view for its agent, as a long poll (server side).

    POST /_portside/agent/v1/serviceconnect  ConnectRequest -> ConnectView

Built by `serviceconnect/view.py` for the session's instances in a worker thread, answered
at once when its version differs from the agent's, else when a table it is made of changes
(services, tasks) and the version moved, or after `wait` seconds. Commits are heard on the
event loop (`Store.subscribe`), as the network view's poll hears them, so a waiting poll
holds no thread.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

from starlette.routing import BaseRoute, Route

from portside.errors import ClientException, SerializationException
from portside.gateway.protocol.sync import MAX_WAIT
from portside.ops.context import Op, World
from portside.serviceconnect.protocol import ROUTE, ConnectRequest, ConnectView, Name
from portside.serviceconnect.view import WATCHED, Reader

InstancesOf = Callable[[str], set[str] | None]
SLICE = 1.0  # seconds a poll sleeps at most before looking whether the gateway is closing


class ConnectDesk:
    def __init__(
        self, world: World, instances_of: InstancesOf, closing: Callable[[], bool]
    ) -> None:
        self.world = world
        self.instances_of = instances_of
        self.closing = closing
        self.reader = Reader()
        self._count = 0
        self._cond: asyncio.Condition | None = None

    def routes(self, endpoint: Callable[[Any], Any]) -> list[BaseRoute]:
        return [Route(ROUTE, endpoint(self.answer), methods=["POST"])]

    def build(self, instances: set[str]) -> ConnectView:
        with self.world.store.read() as tx:
            found = self.reader.host_view(tx, instances)
        names = tuple(
            Name(e.namespace, e.dns_name, e.port, e.target, e.servers) for e in found.endpoints
        )
        return ConnectView(found.version(), found.clients, names)

    def _attach(self) -> asyncio.Condition:
        if self._cond is None:
            loop = asyncio.get_running_loop()
            self._cond = asyncio.Condition()

            def heard(seq: int) -> None:
                if not loop.is_closed():
                    loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._notify()))

            self.world.store.subscribe(heard)
        return self._cond

    async def _notify(self) -> None:
        self._count += 1
        assert self._cond is not None
        async with self._cond:
            self._cond.notify_all()

    def _changed(self, after: int) -> tuple[bool, int]:
        store = self.world.store
        upto = store.last_seq()
        return bool(store.changes_raw(after, 1, tables=WATCHED, upto=upto)), upto

    async def answer(self, op: Op, params: dict[str, Any]) -> ConnectView:
        try:
            ask = ConnectRequest.from_wire(params)
        except (KeyError, TypeError, ValueError) as exc:
            raise SerializationException(f"The request is not a valid message: {exc!r}") from None
        cond = self._attach()
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
            seen = self._count
            changed, after = await asyncio.to_thread(self._changed, after)
            while not changed:
                left = deadline - time.monotonic()
                if left <= 0 or self.closing():
                    return view
                try:
                    async with cond:
                        if self._count == seen:
                            async with asyncio.timeout(min(left, SLICE)):
                                await cond.wait()
                except TimeoutError:
                    pass
                if self._count != seen:
                    seen = self._count
                    changed, after = await asyncio.to_thread(self._changed, after)
