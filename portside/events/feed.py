"""Reading the change feed as ECS events.

A `FeedReader` walks the store's `changes` table from a position, reads only the rows of
the tables that can make the events its consumer wants (the rest stay unparsed), turns each
change into envelopes (envelope.py) and remembers what it said of each resource. When it
meets a service it knows nothing of (a fresh reader, a restart), it looks up the service's
previous change in the last LOOKBACK changes of the feed; failing that, a service older than
the reader's start counts its news from before that start as already reported.

A `FeedSignal` turns the store's commit callback into an asyncio wake-up. It costs one
attribute test per commit while nobody waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from portside.events.envelope import TABLES, Envelope, Seen, envelopes, remember
from portside.store.base import Change, Store

# How far back (in changes) a reader looks for a service's previous change.
LOOKBACK = 20_000

# detail-type -> the table whose changes make it
_TABLE_OF = {
    "ECS Task State Change": "tasks",
    "ECS Container Instance State Change": "container_instances",
    "ECS Service Action": "services",
    "ECS Deployment State Change": "services",
    "CloudWatch Alarm State Change": "cw_alarm_events",
}


def tables_for(detail_types: Iterable[str]) -> tuple[str, ...]:
    wanted = {_TABLE_OF[t] for t in detail_types if t in _TABLE_OF}
    return tuple(t for t in TABLES if t in wanted)


@dataclass(frozen=True, slots=True)
class Item:
    seq: int
    at: float  # when the change committed: the event's age counts from here
    event: Envelope


class FeedReader:
    """Events from the feed after a position, oldest first."""

    def __init__(self, store: Store, after: int, tables: tuple[str, ...] = TABLES) -> None:
        self.store = store
        self.position = after
        self.tables = tables
        self._start = after
        self._since: float | None = None
        self._seen: dict[str, Seen] = {}

    def read(self, limit: int = 500) -> list[Item]:
        """The events of up to `limit` changes after the position; advances it."""
        store = self.store
        upto = store.last_seq()
        if upto <= self.position:
            return []
        if not self.tables:
            self.position = upto
            return []
        rows = store.changes_raw(self.position, limit, tables=self.tables, upto=upto)
        if rows and self._since is None:
            self._since = self._start_at()
        since = self._since or 0.0
        out: list[Item] = []
        for seq, at, tbl, key, op, doc in rows:
            change = Change(seq, at, tbl, key, op, orjson.loads(doc) if doc else None)
            seen = self._seen.get(key)
            if seen is None and tbl == "services" and op == "put":
                seen = self._previous(tbl, key, seq)
            found, now = envelopes(change, seen, since)
            if now is not None:
                self._seen[key] = now
            elif op == "delete":
                self._seen.pop(key, None)
            out.extend(Item(seq, at, e) for e in found)
        self.position = rows[-1].seq if len(rows) >= limit else upto
        return out

    def _start_at(self) -> float:
        """Before when a resource's news counts as reported when nothing is known of its past:
        when the reader's start position committed (a restarted target acknowledged up to
        there); reading from the feed's beginning, when its oldest kept change committed, or
        0 while it still holds every change since the store began."""
        store = self.store
        if self._start > 0:
            at = store.feed_time_at(self._start)
            if at is not None:
                return at
        oldest = store.oldest_seq()
        if oldest <= 0 or (oldest == 1 and self._start <= 0):
            return 0.0
        return store.feed_time_at(oldest) or 0.0

    def _previous(self, table: str, key: str, seq: int) -> Seen | None:
        """What the resource's previous change said, if the feed has it near enough (the
        look-back is bounded: the changes table has no index by key)."""
        row = self.store.last_change(table, key, before=seq, after=seq - LOOKBACK)
        if row is None:
            return None  # created in this change, or its previous change is too far back
        return remember(table, orjson.loads(row.doc) if row.op == "put" and row.doc else None)


class FeedSignal:
    """Wakes asyncio waiters when the store commits."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: set[asyncio.Event] = set()
        store.subscribe(self._committed)

    def _committed(self, _seq: int) -> None:
        if self._waiters and self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        for event in self._waiters:
            event.set()

    async def wait(self, after: int, timeout: float) -> None:
        """Return once the feed holds a change past `after`, or after `timeout` seconds."""
        self._loop = asyncio.get_running_loop()
        event = asyncio.Event()
        self._waiters.add(event)
        try:
            # Checked once registered, so a commit just before is not missed.
            if self.store.last_seq() > after:
                return
            async with asyncio.timeout(timeout):
                await event.wait()
        except TimeoutError:
            pass
        finally:
            self._waiters.discard(event)
