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

`DeliveryLoop` starts and stops workers as rules, targets, API destinations and connections
change (it looks at most once a second, and reads them only when one of their tables did).
With no enabled rule nothing reads the feed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import orjson

from portside.events.destinations import CONNECTIONS, DESTINATIONS
from portside.events.envelope import DETAIL_TYPES
from portside.events.feed import FeedReader, FeedSignal, Item, raw_cursor, tables_for
from portside.events.model import ApiDestination, Connection, Rule, Target
from portside.events.patterns import Pattern, compile_pattern
from portside.events.requests import backoff, build_request, verdict
from portside.events.rules import RULES, TARGETS, load_rules, load_targets
from portside.model.doc import from_doc
from portside.store.base import Store

log = logging.getLogger("portside.events")
CURSORS = "event_cursors"
_CONFIG_TABLES = (RULES, TARGETS, CONNECTIONS, DESTINATIONS)


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    retry_base: float = 1.0  # seconds before the first retry; doubles each time
    retry_cap: float = 600.0
    timeout: float = 5.0  # EventBridge gives an API destination 5 s
    concurrency: int = 16  # calls in flight per target
    max_buffer: int = 10_000  # events held per target before it stops reading ahead

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> DeliveryConfig:
        env = dict(os.environ if env is None else env)
        default = cls()
        return cls(
            retry_base=float(env.get("PORTSIDE_EVENTS_RETRY_BASE", default.retry_base)),
            retry_cap=float(env.get("PORTSIDE_EVENTS_RETRY_CAP", default.retry_cap)),
            timeout=float(env.get("PORTSIDE_EVENTS_TIMEOUT", default.timeout)),
        )


@dataclass(frozen=True, slots=True)
class Route:
    """Everything one target needs to deliver."""

    target: Target
    rule: Rule
    pattern: Pattern
    destination: ApiDestination
    connection: Connection | None

    @property
    def fingerprint(self) -> bytes:
        return orjson.dumps(
            [
                self.target.spec,
                self.rule.event_pattern,
                self.destination.endpoint,
                self.destination.http_method,
                self.destination.rate_limit,
                self.connection.auth_parameters if self.connection else None,
            ]
        )


def detail_types(pattern: Pattern) -> tuple[str, ...]:
    """The detail-types of ECS events the pattern could match (judged on source and
    detail-type alone: a necessary condition)."""
    top = {k: v for k, v in pattern.source.items() if k in ("source", "detail-type")}
    if not top:
        return DETAIL_TYPES
    probe = compile_pattern(top)
    return tuple(t for t in DETAIL_TYPES if probe.matches({"source": "aws.ecs", "detail-type": t}))


class RateLimiter:
    """A token bucket: at most `rate` calls a second (an API destination's limit)."""

    def __init__(self, rate: int | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.clock = clock
        self._tokens = float(rate or 0)
        self._at = clock()

    async def acquire(self) -> None:
        if not self.rate:
            return
        while True:
            now = self.clock()
            self._tokens = min(float(self.rate), self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            await asyncio.sleep((1 - self._tokens) / self.rate)


@dataclass(slots=True)
class _Pending:
    item: Item
    attempts: int = 0


@dataclass(slots=True)
class Stats:
    delivered: int = 0
    dropped: int = 0
    attempts: int = 0
    lost_to_retention: int = 0
    last_error: str = ""


class TargetWorker:
    def __init__(
        self,
        store: Store,
        signal: FeedSignal,
        route: Route,
        client: httpx.AsyncClient,
        limiter: RateLimiter,
        config: DeliveryConfig,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.signal = signal
        self.route = route
        self.client = client
        self.limiter = limiter
        self.config = config
        self.clock = clock
        self.rng = rng or random.Random()
        self.key = route.target.key
        self.lanes: dict[str, deque[_Pending]] = {}
        self.buffered = 0
        self.position = 0
        self.persisted = 0
        self._finished = 0
        self._persisted_at = 0.0
        self._slots = asyncio.Semaphore(config.concurrency)
        self._room = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.stats = Stats()

    # -- the cursor ----------------------------------------------------------------------------

    def _load_cursor(self) -> int:
        with self.store.read() as tx:
            doc = tx.get(CURSORS, self.key)
        last = self.store.last_seq()
        start = int(doc["seq"]) if doc else last
        oldest = self.store.oldest_seq()
        if oldest and start < oldest - 1:
            log.warning(
                "target %s fell behind the change feed's retention: the changes at feed "
                "positions %d to %d were trimmed unread, and their events are lost",
                self.key,
                start + 1,
                oldest - 1,
            )
            self.stats.lost_to_retention = oldest - 1 - start
            start = oldest - 1
        return start

    def watermark(self) -> int:
        heads = [lane[0].item.seq for lane in self.lanes.values() if lane]
        return min(heads) - 1 if heads else self.position

    def _save_cursor(self, seq: int) -> None:
        with self.store.transaction() as tx:
            if tx.get(TARGETS, self.key) is not None:
                tx.put(CURSORS, self.key, {"seq": seq})

    async def persist(self, force: bool = False) -> None:
        mark = self.watermark()
        if mark <= self.persisted:
            return
        now = self.clock()
        due = self._finished and now - self._persisted_at >= 1.0
        # Idle: keep the cursor near the feed's head now and then (our own write moves it).
        idle = now - self._persisted_at >= 600.0
        if force or due or idle:
            await asyncio.to_thread(self._save_cursor, mark)
            self.persisted, self._persisted_at, self._finished = mark, now, 0

    # -- reading -------------------------------------------------------------------------------

    async def run(self) -> None:
        start = await asyncio.to_thread(self._load_cursor)
        self.position = self.persisted = start
        self._persisted_at = self.clock()
        tables = tables_for(detail_types(self.route.pattern))
        reader = FeedReader(self.store, start, tables)
        while True:
            try:
                await self._step(reader)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event delivery to %s failed; going on in a second", self.key)
                await asyncio.sleep(1.0)

    async def _step(self, reader: FeedReader) -> None:
        rule = self.route.rule
        items: list[Item] = []
        if self.buffered < self.config.max_buffer:
            items = await asyncio.to_thread(reader.read, 500)
            for item in items:
                event = item.event
                if event["region"] == rule.region and self.route.pattern.matches(event):
                    self._enqueue(item)
            self.position = reader.position
        await self.persist()
        if self.buffered >= self.config.max_buffer:
            self._room.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._room.wait(), 1.0)
        elif reader.position >= self.store.last_seq():
            await self.signal.wait(reader.position, 1.0)

    def _enqueue(self, item: Item) -> None:
        resources = item.event.get("resources") or [""]
        lane_key = resources[0]
        lane = self.lanes.get(lane_key)
        self.buffered += 1
        if lane is not None:
            lane.append(_Pending(item))
            return
        lane = self.lanes[lane_key] = deque([_Pending(item)])
        task = asyncio.create_task(self._drain(lane_key, lane))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- sending -------------------------------------------------------------------------------

    async def _drain(self, lane_key: str, lane: deque[_Pending]) -> None:
        while lane:
            await self._deliver(lane[0])
            lane.popleft()
            self.buffered -= 1
            self._finished += 1
            self._room.set()
        del self.lanes[lane_key]

    async def _deliver(self, pending: _Pending) -> None:
        route = self.route
        request = build_request(
            pending.item.event, route.target.spec, route.destination, route.connection
        )
        while True:
            status: int | None = None
            error = ""
            async with self._slots:
                await self.limiter.acquire()
                self.stats.attempts += 1
                try:
                    answer = await self.client.request(
                        request.method,
                        request.url,
                        headers=request.headers,
                        content=request.body,
                        timeout=self.config.timeout,
                    )
                    status = answer.status_code
                    error = f"HTTP {status}"
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"
            outcome = verdict(status)
            if outcome == "ok":
                self.stats.delivered += 1
                return
            pending.attempts += 1
            self.stats.last_error = error
            age = self.clock() - pending.item.at
            target = route.target
            if outcome == "fail" or pending.attempts > target.max_attempts or age > target.max_age:
                self.stats.dropped += 1
                log.warning(
                    "dropped event %s for target %s after %d attempt(s): %s",
                    pending.item.event["id"],
                    self.key,
                    pending.attempts,
                    error,
                )
                return
            await asyncio.sleep(
                backoff(pending.attempts, self.config.retry_base, self.config.retry_cap, self.rng)
            )

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.persist(force=True)
        s = self.stats
        log.info(
            "target %s stopped: %d delivered, %d dropped, %d calls, %d pending (redelivered "
            "on restart)%s",
            self.key,
            s.delivered,
            s.dropped,
            s.attempts,
            self.buffered,
            f"; last error: {s.last_error}" if s.last_error else "",
        )


class DeliveryLoop:
    """Runs one TargetWorker per enabled rule's target; runs from the server's lifespan."""

    def __init__(
        self,
        store: Store,
        config: DeliveryConfig | None = None,
        clock: Callable[[], float] = time.time,
        interval: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.store = store
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
        ph = getattr(self.store, "placeholder", "?")
        with self.store.read() as tx:
            cur = raw_cursor(tx)
            cur.execute(
                f"SELECT 1 FROM changes WHERE seq > {ph} AND seq <= {ph} AND tbl IN "
                f"({', '.join(ph for _ in _CONFIG_TABLES)}) LIMIT 1",
                (max(self._checked, 0), last, *_CONFIG_TABLES),
            )
            hit = cur.fetchone() is not None
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

    async def _apply(self, routes: dict[str, Route], client: httpx.AsyncClient) -> None:
        for key in list(self.workers):
            worker, task, print_ = self.workers[key]
            route = routes.get(key)
            if route is None or route.fingerprint != print_:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                await worker.stop()
                del self.workers[key]
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
        async with httpx.AsyncClient(
            timeout=self.config.timeout, transport=self.transport
        ) as client:
            try:
                while True:
                    try:
                        if await asyncio.to_thread(self._config_changed):
                            await self._apply(await asyncio.to_thread(self._routes), client)
                    except Exception:
                        log.exception("event delivery: reloading rules failed")
                    await asyncio.sleep(self.interval)
            finally:
                for worker, task, _ in list(self.workers.values()):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                    with contextlib.suppress(Exception):
                        await worker.stop()
