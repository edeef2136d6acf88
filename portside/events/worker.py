"""One target's delivery: `TargetWorker` reads the feed from the target's cursor, keeps the
events its rule's pattern matches in one lane per resource, and sends each lane's head until
it is answered (delivery.py's docstring tells the guarantees)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from portside.events.egress import DestinationRefused
from portside.events.feed import FeedReader, FeedSignal, Item, tables_for
from portside.events.requests import backoff, build_request, verdict
from portside.events.rules import TARGETS
from portside.events.targets import DeliveryConfig, RateLimiter, Route, detail_types
from portside.store.base import Store

log = logging.getLogger("portside.events")
CURSORS = "event_cursors"


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
                async with asyncio.timeout(1.0):
                    await self._room.wait()
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
            refused = False
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
                except DestinationRefused as exc:
                    error, refused = str(exc), True
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"
            outcome = "fail" if refused else verdict(status)
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

    async def stop(self, wait: float = 10.0) -> None:
        """Cancel the lanes (each waits at most `wait` seconds to end), save the cursor."""
        lanes = list(self._tasks)
        for task in lanes:
            task.cancel()
        if lanes:
            _, pending = await asyncio.wait(lanes, timeout=wait)
            if pending:
                log.error(
                    "target %s: %d delivery lane(s) did not end within %.0f s of being cancelled",
                    self.key,
                    len(pending),
                    wait,
                )
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
