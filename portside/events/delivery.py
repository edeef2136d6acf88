"""Delivering events to webhook targets: at least once, in order per resource, with back-off.

One `TargetWorker` per enabled rule's target reads the feed from the target's cursor (its own
`FeedReader`, so a slow webhook delays nobody else), keeps the events its rule's pattern
matches in one lane per resource, and sends each lane's head until it is answered: lanes
run side by side (up to `concurrency` calls at once), a lane never passes its head, so one
resource's events arrive in order. A failed call is retried with exponential back-off until
the target's RetryPolicy gives up (MaximumRetryAttempts, MaximumEventAgeInSeconds; EventBridge's
defaults 185 and 24 h); then, or on an answer EventBridge does not retry (a 4xx other than
401/407/409/429), the event is dropped and logged.

The cursor persisted in the store (table `event_cursors`) is the feed position below which
every event is answered or dropped, written at most once a second while events finish, so a
restart redelivers from there: at least once. The feed keeps an hour of changes, and more
while a target's cursor is behind that, up to a day (controllers/maintenance.py); a target
further behind than a day (its webhook down that long) resumes at the oldest change kept, and
the events older than that are lost: logged with the range of feed positions skipped.

`DeliveryLoop` (here) starts and stops workers as rules, targets, API destinations and
connections change (it looks at most once a second, and reads them only when one of their
tables did). With no enabled rule nothing reads the feed. The worker is worker.py's; a
target's route, settings and rate limit are targets.py's. Its passes are reported to the
server's `Loops` as "events" (controllers/loop.py), so a failing or hung loop shows in health;
a worker that does not end within `STOP_WAIT` of being cancelled is logged as an error and let
go, so one stuck worker cannot hold up every other target.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import httpx

from portside.controllers.loop import Loop
from portside.events.destinations import CONNECTIONS, DESTINATIONS
from portside.events.egress import GuardedTransport
from portside.events.feed import FeedSignal
from portside.events.model import ApiDestination, Connection
from portside.events.patterns import compile_pattern
from portside.events.rules import RULES, TARGETS, load_rules, load_targets
from portside.events.targets import DeliveryConfig, RateLimiter, Route
from portside.events.worker import TargetWorker
from portside.model.doc import from_doc
from portside.store.base import Store

log = logging.getLogger("portside.events")
_CONFIG_TABLES = (RULES, TARGETS, CONNECTIONS, DESTINATIONS)
STOP_WAIT = 10.0  # seconds a cancelled worker has to end


class DeliveryLoop:
    """Runs one TargetWorker per enabled rule's target; runs from the server's lifespan."""

    def __init__(
        self,
        store: Store,
        config: DeliveryConfig | None = None,
        clock: Callable[[], float] = time.time,
        interval: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
        allow_link_local: bool = False,
        status: Loop | None = None,
    ) -> None:
        self.store = store
        self.status = status
        # Webhook calls go only where egress.py allows (a test's transport is its own).
        if transport is None:
            transport = GuardedTransport(allow_link_local=allow_link_local)
        self.transport = transport
        self.config = config or DeliveryConfig.from_env()
        self.clock = clock
        self.interval = interval
        self.signal = FeedSignal(store)
        self.workers: dict[str, tuple[TargetWorker, asyncio.Task[None], bytes]] = {}
        self.limiters: dict[str, RateLimiter] = {}
        self._checked = -1

    def _config_changed(self) -> bool:
        last = self.store.last_seq()
        if last == self._checked:
            return False
        first = self._checked < 0
        after = max(self._checked, 0)
        hit = bool(self.store.changes_raw(after, 1, tables=_CONFIG_TABLES, upto=last))
        self._checked = last
        return first or hit

    def _routes(self) -> dict[str, Route]:
        with self.store.read() as tx:
            rules = {r.arn: r for r in load_rules(tx) if r.enabled}
            targets = load_targets(tx)
            dests = {k: from_doc(ApiDestination, d) for k, d in tx.scan(DESTINATIONS)}
            conns = {k: from_doc(Connection, d) for k, d in tx.scan(CONNECTIONS)}
        routes: dict[str, Route] = {}
        for target in targets:
            rule = rules.get(target.rule_arn)
            dest = dests.get(target.spec["Arn"])
            if rule is None or dest is None:
                continue
            routes[target.key] = Route(
                target,
                rule,
                compile_pattern(rule.event_pattern),
                dest,
                conns.get(dest.connection_arn),
            )
        return routes

    async def _stop(self, worker: TargetWorker, task: asyncio.Task[None]) -> None:
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=STOP_WAIT)
        if not done:
            log.error(
                "event delivery: the worker of target %s did not end within %.0f s of being "
                "cancelled; letting it go",
                worker.key,
                STOP_WAIT,
            )
        elif not task.cancelled() and task.exception() is not None:
            log.error(
                "event delivery: the worker of target %s failed",
                worker.key,
                exc_info=task.exception(),
            )
        await worker.stop(STOP_WAIT)

    async def _apply(self, routes: dict[str, Route], client: httpx.AsyncClient) -> None:
        for key in list(self.workers):
            worker, task, print_ = self.workers[key]
            route = routes.get(key)
            if route is None or route.fingerprint != print_:
                del self.workers[key]
                await self._stop(worker, task)
        for key, route in routes.items():
            if key in self.workers:
                continue
            dest = route.destination
            limiter = self.limiters.get(dest.arn)
            if limiter is None or limiter.rate != dest.rate_limit:
                limiter = self.limiters[dest.arn] = RateLimiter(dest.rate_limit)
            worker = TargetWorker(
                self.store, self.signal, route, client, limiter, self.config, self.clock
            )
            self.workers[key] = (worker, asyncio.create_task(worker.run()), route.fingerprint)

    async def run(self) -> None:
        # Each run reads the rules afresh: a leader's next term remakes the workers its last
        # one stopped (cluster/leadership.py runs this once per term).
        self._checked = -1
        async with httpx.AsyncClient(
            timeout=self.config.timeout, transport=self.transport
        ) as client:
            if self.status is not None:
                self.status.started()
            try:
                while True:
                    try:
                        if await asyncio.to_thread(self._config_changed):
                            await self._apply(await asyncio.to_thread(self._routes), client)
                    except Exception as exc:
                        log.exception("event delivery: reloading rules failed")
                        if self.status is not None:
                            self.status.failed(exc, self.interval)
                    else:
                        if self.status is not None:
                            self.status.succeeded(self.interval)
                    await asyncio.sleep(self.interval)
            finally:
                workers, self.workers = list(self.workers.values()), {}
                for worker, task, _ in workers:
                    with contextlib.suppress(Exception):
                        await self._stop(worker, task)
