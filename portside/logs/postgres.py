"""The log store on PostgreSQL: what replicas share when the server is on PostgreSQL.

Agents post their logs to whichever replica they reach, and a reader asks any replica, so the
groups, streams and events are tables of the control plane's database, in a schema of their
own (`portside_logs`) so that their names need no prefix. The statements are LogStore's
(logs/store.py) over store/side.py's pool; what differs is here: the tables' DDL (BIGINT
times, byte-ordered names), FilterLogEvents' scan read in pages rather than by open cursors,
and messages' NUL characters, which PostgreSQL's text cannot hold, stored as U+FFFD.

The event counter (`meta.seq`) is taken under its row's lock in each append: replicas'
appends are serialised on it, so seqs are handed out in commit order as on SQLite.
"""

from __future__ import annotations

import contextlib
import heapq
from collections.abc import Generator, Iterator, Sequence
from typing import Any

from psycopg import errors as pg_errors

from portside.logs.store import _END, Event, LogStore, Window, _past
from portside.logs.tokens import Position
from portside.store.side import Reader, SideDatabase, Writer

SCHEMA = "portside_logs"
_LOCK = 0x6C6F6773  # the advisory lock's key while the tables are made
_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT COLLATE "C" PRIMARY KEY, value BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS groups (
    id BIGSERIAL PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL UNIQUE,
    created BIGINT NOT NULL,
    retention INTEGER,
    tags TEXT NOT NULL DEFAULT '{}',
    class TEXT NOT NULL DEFAULT 'STANDARD'
);
CREATE TABLE IF NOT EXISTS streams (
    id BIGSERIAL PRIMARY KEY,
    group_id BIGINT NOT NULL REFERENCES groups(id),
    name TEXT COLLATE "C" NOT NULL,
    created BIGINT NOT NULL,
    first_ts BIGINT,
    last_ts BIGINT,
    last_ingest BIGINT,
    stored_bytes BIGINT NOT NULL DEFAULT 0,
    shipped BIGINT NOT NULL DEFAULT 0,
    UNIQUE (group_id, name)
);
CREATE INDEX IF NOT EXISTS streams_by_last_event ON streams (group_id, last_ts, id);
CREATE TABLE IF NOT EXISTS events (
    stream_id BIGINT NOT NULL,
    timestamp BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    ingestion BIGINT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (stream_id, timestamp, seq)
);
"""
_PAGE = 1000  # events a FilterLogEvents scan reads from one stream at a time


class PostgresLogStore(LogStore):
    _conflict = (pg_errors.UniqueViolation,)
    _contains = "strpos(g.name, ?)"
    _for_update = " FOR UPDATE"

    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        self._db = SideDatabase(
            url, schema=SCHEMA, ddl=_DDL, what="logs", lock=_LOCK, pool_size=pool_size
        )
        self.path = self._db.where

    def _reader(self) -> Reader:
        return self._db.reader()

    @contextlib.contextmanager
    def _write(self) -> Iterator[Writer]:
        with self._db.write() as w:
            yield w

    def _insert(self, w: Any, sid: int, events: Sequence[tuple[int, str]], now_ms: int) -> None:
        if any("\x00" in m for _, m in events):
            events = [(ts, m.replace("\x00", "\ufffd")) for ts, m in events]
        super()._insert(w, sid, events, now_ms)

    def scan(self, streams: Sequence[int], window: Window) -> Generator[Event, None, None]:
        """LogStore.scan, each stream read a page at a time past the last event read."""
        start, end, forward = window.start, window.end, window.forward
        low, high = _past(
            window.after,
            forward,
            Position(start, -1) if start is not None else Position(0, -1),
            Position(end, 1 << 62) if end is not None else _END,
        )
        order = "" if forward else " DESC"
        sql = (
            "SELECT timestamp, seq, ingestion, message, stream_id FROM events "
            "WHERE stream_id = ? AND (timestamp, seq) > (?, ?) AND (timestamp, seq) < (?, ?) "
            f"ORDER BY timestamp{order}, seq{order} LIMIT {_PAGE}"
        )

        def one(sid: int) -> Iterator[Event]:
            lo, hi = low, high
            while True:
                rows = (
                    self._reader()
                    .execute(sql, (sid, lo.timestamp, lo.seq, hi.timestamp, hi.seq))
                    .fetchall()
                )
                for row in rows:
                    yield Event(*row)
                if len(rows) < _PAGE:
                    return
                last = Position(rows[-1][0], rows[-1][1])
                lo, hi = (last, hi) if forward else (lo, last)

        each = [one(sid) for sid in streams]
        if len(each) == 1:
            yield from each[0]
        else:
            yield from heapq.merge(*each, key=lambda e: (e.timestamp, e.seq), reverse=not forward)

    def close(self) -> None:
        self._db.close()
