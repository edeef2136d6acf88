"""The log store: log groups, streams and events in their own SQLite database.

`<data_dir>/logs.db` (WAL), apart from the control plane's database so that log ingest never
waits on the control plane's writer, nor it on ingest. Events are clustered by
(stream, timestamp, seq): a stream's events are contiguous and in reading order, so
GetLogEvents is one index seek and a sequential read at any depth of a stream. `seq` is a
store-wide counter (kept in `meta`), so (timestamp, seq) orders events across streams too,
which is what FilterLogEvents merges on.

Every method is thread-safe. Writes go through one connection under a lock and are committed
(durable, per `synchronous`) before they return; reads use a connection per thread.
"""

from __future__ import annotations

import contextlib
import heapq
import sqlite3
import threading
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from portside.errors import ResourceAlreadyExistsException, ResourceNotFoundException
from portside.logs.tokens import Position
from portside.store.sqlite import StorageFaults

GROUP_NOT_FOUND = "The specified log group does not exist."
STREAM_NOT_FOUND = "The specified log stream does not exist."

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS groups (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL,
    retention INTEGER,
    tags TEXT NOT NULL DEFAULT '{}',
    class TEXT NOT NULL DEFAULT 'STANDARD'
);
CREATE TABLE IF NOT EXISTS streams (
    id INTEGER PRIMARY KEY,
    group_id INTEGER NOT NULL REFERENCES groups(id),
    name TEXT NOT NULL,
    created INTEGER NOT NULL,
    first_ts INTEGER,
    last_ts INTEGER,
    last_ingest INTEGER,
    stored_bytes INTEGER NOT NULL DEFAULT 0,
    shipped INTEGER NOT NULL DEFAULT 0,
    UNIQUE (group_id, name)
);
CREATE INDEX IF NOT EXISTS streams_by_last_event ON streams (group_id, last_ts, id);
CREATE TABLE IF NOT EXISTS events (
    stream_id INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    ingestion INTEGER NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (stream_id, timestamp, seq)
) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class Group:
    id: int
    name: str
    created: int
    retention: int | None
    tags: dict[str, str]
    stored_bytes: int
    log_class: str


@dataclass(frozen=True, slots=True)
class Stream:
    id: int
    group_id: int
    name: str
    created: int
    first_ts: int | None
    last_ts: int | None
    last_ingest: int | None


@dataclass(frozen=True, slots=True)
class Event:
    timestamp: int
    seq: int
    ingestion: int
    message: str
    stream_id: int = 0

    @property
    def position(self) -> Position:
        return Position(self.timestamp, self.seq)


@dataclass(frozen=True, slots=True)
class Window:
    """Which events a read wants: those past `after` in reading order, ascending when
    `forward`, else descending (None: from the head going forward, from the tail going
    backward), with timestamps from `start` up to `end` (None: unbounded)."""

    forward: bool = True
    after: Position | None = None
    start: int | None = None
    end: int | None = None


_GROUP_COLS = (
    "g.id, g.name, g.created, g.retention, g.tags, "
    "CAST((SELECT COALESCE(SUM(s.stored_bytes), 0) FROM streams s WHERE s.group_id = g.id) "
    "AS BIGINT), g.class"
)
_STREAM_COLS = "id, group_id, name, created, first_ts, last_ts, last_ingest"
_END = Position(1 << 62, 0)


def _past(
    after: Position | None, forward: bool, low: Position, high: Position
) -> tuple[Position, Position]:
    """The exclusive bounds (low, high) narrowed to what lies past `after` in reading order:
    above it going forward, below it going backward."""
    if after is None:
        return low, high
    return (max(low, after), high) if forward else (low, min(high, after))


def _group(row: Any) -> Group:
    gid, name, created, retention, tags, stored, log_class = row
    return Group(gid, name, created, retention, orjson.loads(tags), stored, log_class)


def _stream(row: Any) -> Stream:
    return Stream(*row)


# Each connection's page cache, KiB. The writer's keeps every page it writes, and events
# are only ever appended: a larger one held more of the newest pages, never used again (the
# soak: 64 MiB filled at ~3 MiB a minute for 20 minutes, the server's RSS with it). Reads go
# through mmap, which needs none.
CACHE_KIB = 8192


class LogStore:
    """The log store on SQLite; logs/postgres.py's on PostgreSQL runs the same statements
    (those that differ are the class attributes below)."""

    # What a duplicate name raises, and SQL for "the position of ? in g.name".
    _conflict: tuple[type[BaseException], ...] = (sqlite3.IntegrityError,)
    _contains = "instr(g.name, ?)"
    # What a read that the write after it depends on appends (PostgreSQL: a row lock, as
    # replicas write at once; SQLite's writers are serialised already).
    _for_update = ""

    def __init__(self, path: Path | str, *, synchronous: str = "FULL") -> None:
        self.path = str(path)
        self._faults = StorageFaults(self.path)
        self._synchronous = synchronous
        self._lock = threading.Lock()
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._writer = self._open()
        self._writer.executescript(_SCHEMA)

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        # Reads of a page of events copy less through mmap (~10% on GetLogEvents).
        conn.execute("PRAGMA mmap_size=268435456")
        self._all.append(conn)
        return conn

    def _reader(self) -> Any:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            with self._lock:
                conn = self._open()
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def _write(self) -> Iterator[Any]:
        """One write transaction under the writer lock, committed when the block ends."""
        with self._lock:
            w = self._writer
            w.execute("BEGIN IMMEDIATE")
            try:
                yield w
                w.execute("COMMIT")
            except BaseException as exc:
                if w.in_transaction:
                    w.execute("ROLLBACK")
                # A full disk or an I/O error: ServerException saying so, one log line.
                fault = self._faults.check(exc)
                if fault is not None:
                    raise fault from None
                raise

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()

    # groups ---------------------------------------------------------------------------------

    def create_group(
        self,
        name: str,
        now_ms: int,
        tags: dict[str, str] | None = None,
        log_class: str = "STANDARD",
    ) -> None:
        try:
            with self._write() as w:
                w.execute(
                    "INSERT INTO groups (name, created, tags, class) VALUES (?, ?, ?, ?)",
                    (name, now_ms, orjson.dumps(tags or {}).decode(), log_class),
                )
        except self._conflict:
            raise ResourceAlreadyExistsException("The specified log group already exists") from None

    def delete_group(self, name: str) -> None:
        """Delete a group with all its streams and events, in one transaction."""
        with self._write() as w:
            gid = self._group_id(w, name)
            ids = [r[0] for r in w.execute("SELECT id FROM streams WHERE group_id = ?", (gid,))]
            for sid in ids:
                w.execute("DELETE FROM events WHERE stream_id = ?", (sid,))
            w.execute("DELETE FROM streams WHERE group_id = ?", (gid,))
            w.execute("DELETE FROM groups WHERE id = ?", (gid,))

    def events_ingested(self) -> int:
        """Events stored since the store was made (the store-wide counter in `meta`)."""
        row = self._reader().execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()
        return int(row[0]) if row else 0

    def group(self, name: str) -> Group:
        row = (
            self._reader()
            .execute(f"SELECT {_GROUP_COLS} FROM groups g WHERE g.name = ?", (name,))
            .fetchone()
        )
        if row is None:
            raise ResourceNotFoundException(GROUP_NOT_FOUND)
        return _group(row)

    def groups(
        self,
        *,
        prefix: str | None,
        contains: str | None,
        after: str,
        limit: int,
        classes: Sequence[str] = (),
    ) -> list[Group]:
        """Groups by name, after `after`; `prefix` or `contains` (case-sensitive) filters, and
        `classes` (when given) the log group classes."""
        sql = f"SELECT {_GROUP_COLS} FROM groups g WHERE g.name > ?"
        args: list[object] = [after]
        if classes:
            sql += f" AND g.class IN ({','.join('?' * len(classes))})"
            args += list(classes)
        if prefix:
            # BETWEEN keeps the name index; the upper bound is the prefix's last possible name.
            sql += " AND g.name >= ? AND g.name < ?"
            args += [prefix, prefix + "\U0010ffff"]
        if contains:
            sql += f" AND {self._contains} > 0"
            args.append(contains)
        sql += " ORDER BY g.name LIMIT ?"
        args.append(limit)
        return [_group(r) for r in self._reader().execute(sql, args)]

    def set_retention(self, name: str, days: int | None) -> None:
        with self._write() as w:
            cur = w.execute("UPDATE groups SET retention = ? WHERE name = ?", (days, name))
            if cur.rowcount == 0:
                raise ResourceNotFoundException(GROUP_NOT_FOUND)

    def retentions(self) -> list[tuple[int, int]]:
        """(group id, retention days) of every group with a retention policy."""
        rows = self._reader().execute(
            "SELECT id, retention FROM groups WHERE retention IS NOT NULL"
        )
        return [(int(g), int(d)) for g, d in rows]

    def update_tags(
        self, name: str, add: dict[str, str] | None = None, remove: Iterable[str] = ()
    ) -> dict[str, str]:
        with self._write() as w:
            row = w.execute(
                f"SELECT tags FROM groups WHERE name = ?{self._for_update}", (name,)
            ).fetchone()
            if row is None:
                raise ResourceNotFoundException(GROUP_NOT_FOUND)
            tags: dict[str, str] = orjson.loads(row[0])
            tags.update(add or {})
            for key in remove:
                tags.pop(key, None)
            w.execute(
                "UPDATE groups SET tags = ? WHERE name = ?", (orjson.dumps(tags).decode(), name)
            )
            return tags

    @staticmethod
    def _group_id(conn: Any, name: str) -> int:
        row = conn.execute("SELECT id FROM groups WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise ResourceNotFoundException(GROUP_NOT_FOUND)
        return int(row[0])

    # streams --------------------------------------------------------------------------------

    def create_stream(self, group: str, stream: str, now_ms: int) -> None:
        try:
            with self._write() as w:
                gid = self._group_id(w, group)
                w.execute(
                    "INSERT INTO streams (group_id, name, created) VALUES (?, ?, ?)",
                    (gid, stream, now_ms),
                )
        except self._conflict:
            raise ResourceAlreadyExistsException(
                "The specified log stream already exists"
            ) from None

    def ensure_stream(self, group: str, stream: str, *, create_group: bool, now_ms: int) -> None:
        """Create the stream (idempotent); the group too when `create_group`, else the group
        must exist (ResourceNotFoundException)."""
        with self._write() as w:
            if create_group:
                w.execute(
                    "INSERT INTO groups (name, created) VALUES (?, ?) "
                    "ON CONFLICT (name) DO NOTHING",
                    (group, now_ms),
                )
            gid = self._group_id(w, group)
            w.execute(
                "INSERT INTO streams (group_id, name, created) VALUES (?, ?, ?) "
                "ON CONFLICT (group_id, name) DO NOTHING",
                (gid, stream, now_ms),
            )

    def delete_stream(self, group: str, stream: str) -> None:
        with self._write() as w:
            sid = self._stream_id(w, group, stream)
            w.execute("DELETE FROM events WHERE stream_id = ?", (sid,))
            w.execute("DELETE FROM streams WHERE id = ?", (sid,))

    def stream(self, group: str, stream: str) -> Stream:
        conn = self._reader()
        gid = self._group_id(conn, group)
        row = conn.execute(
            f"SELECT {_STREAM_COLS} FROM streams WHERE group_id = ? AND name = ?", (gid, stream)
        ).fetchone()
        if row is None:
            raise ResourceNotFoundException(STREAM_NOT_FOUND)
        return _stream(row)

    def streams(
        self,
        group_id: int,
        *,
        prefix: str | None = None,
        by_last_event: bool = False,
        descending: bool = False,
        after: tuple[int, str] | None = None,
        limit: int = 50,
    ) -> list[Stream]:
        """A page of a group's streams by name or by last event time (ties by id); `after` is
        the previous page's last (last_ts or 0, name)."""
        sql = f"SELECT {_STREAM_COLS} FROM streams WHERE group_id = ?"
        args: list[object] = [group_id]
        op = "<" if descending else ">"
        order = "DESC" if descending else "ASC"
        if prefix:
            sql += " AND name >= ? AND name < ?"
            args += [prefix, prefix + "\U0010ffff"]
        if by_last_event:
            key = "COALESCE(last_ts, 0)"
            if after is not None:
                sql += f" AND ({key}, name) {op} (?, ?)"
                args += [after[0], after[1]]
            sql += f" ORDER BY {key} {order}, name {order}"
        else:
            if after is not None:
                sql += f" AND name {op} ?"
                args.append(after[1])
            sql += f" ORDER BY name {order}"
        sql += " LIMIT ?"
        args.append(limit)
        return [_stream(r) for r in self._reader().execute(sql, args)]

    def stream_ids(
        self, group_id: int, names: Sequence[str] | None, prefix: str | None
    ) -> list[Stream]:
        """The group's streams that FilterLogEvents searches."""
        if names is not None:
            marks = ",".join("?" * len(names))
            sql = f"SELECT {_STREAM_COLS} FROM streams WHERE group_id = ? AND name IN ({marks})"
            rows = self._reader().execute(sql, (group_id, *names))
        elif prefix:
            rows = self._reader().execute(
                f"SELECT {_STREAM_COLS} FROM streams WHERE group_id = ? AND name >= ? "
                "AND name < ? ORDER BY name",
                (group_id, prefix, prefix + "\U0010ffff"),
            )
        else:
            rows = self._reader().execute(
                f"SELECT {_STREAM_COLS} FROM streams WHERE group_id = ? ORDER BY name",
                (group_id,),
            )
        return [_stream(r) for r in rows]

    @staticmethod
    def _stream_id(conn: Any, group: str, stream: str) -> int:
        gid = LogStore._group_id(conn, group)
        row = conn.execute(
            "SELECT id FROM streams WHERE group_id = ? AND name = ?", (gid, stream)
        ).fetchone()
        if row is None:
            raise ResourceNotFoundException(STREAM_NOT_FOUND)
        return int(row[0])

    # events ---------------------------------------------------------------------------------

    def append(self, group: str, stream: str, events: list[tuple[int, str]], now_ms: int) -> int:
        """Append (timestamp_ms, message) pairs in the given order; how many were stored."""
        with self._write() as w:
            sid = self._stream_id(w, group, stream)
            self._insert(w, sid, events, now_ms)
        return len(events)

    def put_shipped(
        self, group: str, stream: str, first: int, events: list[tuple[int, str]], now_ms: int
    ) -> int:
        """An agent's batch: `first` is the agent's count of events it shipped to the stream
        before this batch. Events the stream already has (index below its `shipped` counter,
        from a retried batch) are skipped. Returns the new counter."""
        with self._write() as w:
            sid = self._stream_id(w, group, stream)
            (shipped,) = w.execute(
                f"SELECT shipped FROM streams WHERE id = ?{self._for_update}", (sid,)
            ).fetchone()
            fresh = events[max(0, shipped - first) :]
            if fresh:
                self._insert(w, sid, fresh, now_ms)
            shipped = max(shipped, first + len(events))
            w.execute("UPDATE streams SET shipped = ? WHERE id = ?", (shipped, sid))
        return int(shipped)

    def _insert(self, w: Any, sid: int, events: Sequence[tuple[int, str]], now_ms: int) -> None:
        if not events:
            return
        # The store-wide counter, taken under the row's lock (replicas on one PostgreSQL
        # database share it); the statement both reserves the numbers and says which.
        (last,) = w.execute(
            "INSERT INTO meta (key, value) VALUES ('seq', ?) ON CONFLICT (key) "
            "DO UPDATE SET value = meta.value + ? RETURNING value",
            (len(events), len(events)),
        ).fetchone()
        base = int(last) - len(events)
        w.executemany(
            "INSERT INTO events (stream_id, timestamp, seq, ingestion, message) "
            "VALUES (?, ?, ?, ?, ?)",
            [(sid, ts, base + i, now_ms, msg) for i, (ts, msg) in enumerate(events, 1)],
        )
        size = sum(len(m) for _, m in events)  # characters; bytes would cost an encode each
        low = min(ts for ts, _ in events)
        high = max(ts for ts, _ in events)
        w.execute(
            "UPDATE streams SET "
            "first_ts = CASE WHEN first_ts IS NULL OR first_ts > ? THEN ? ELSE first_ts END, "
            "last_ts = CASE WHEN last_ts IS NULL OR last_ts < ? THEN ? ELSE last_ts END, "
            "last_ingest = ?, stored_bytes = stored_bytes + ? WHERE id = ?",
            (low, low, high, high, now_ms, size, sid),
        )

    def read(self, stream_id: int, window: Window, limit: int) -> list[Event]:
        """Up to `limit` events of a stream in the window, its `end` excluded, in ascending
        order: the first ones past `after` going forward, the last ones before it going
        backward."""
        with contextlib.closing(self.read_rows(stream_id, window, limit)) as rows:
            found = [Event(*r) for r in rows]
        if not window.forward:
            found.reverse()
        return found

    def read_rows(self, stream_id: int, window: Window, limit: int) -> Any:
        """`read`'s rows as (timestamp, seq, ingestion, message), lazily and in reading
        order: descending when not `forward`. The hot path of GetLogEvents. Close the cursor
        when done: an unfinished statement would hold its read snapshot open."""
        start, end = window.start, window.end
        # Both bounds are exclusive positions; seq -1 sorts before every event of a millisecond.
        low, high = _past(
            window.after,
            window.forward,
            Position(start or 0, -1),
            _END if end is None else Position(end, -1),
        )
        order = "" if window.forward else " DESC"
        sql = (
            "SELECT timestamp, seq, ingestion, message FROM events WHERE stream_id = ? "
            "AND (timestamp, seq) > (?, ?) AND (timestamp, seq) < (?, ?) "
            f"ORDER BY timestamp{order}, seq{order} LIMIT ?"
        )
        args = (stream_id, low.timestamp, low.seq, high.timestamp, high.seq, limit)
        return self._reader().execute(sql, args)

    def scan(self, streams: Sequence[int], window: Window) -> Generator[Event, None, None]:
        """Every event of the given streams in the window, its `end` included, merged in
        (timestamp, seq) order (descending when not `forward`). Lazy: each stream is one
        cursor that SQLite steps only as far as the caller reads."""
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
            f"ORDER BY timestamp{order}, seq{order}"
        )
        conn = self._reader()
        bounds = (low.timestamp, low.seq, high.timestamp, high.seq)
        cursors = [conn.execute(sql, (sid, *bounds)) for sid in streams]
        try:
            streams_events = [(Event(*r) for r in c) for c in cursors]
            if len(streams_events) == 1:
                yield from streams_events[0]
            else:
                yield from heapq.merge(
                    *streams_events, key=lambda e: (e.timestamp, e.seq), reverse=not forward
                )
        finally:
            # Close the generator before the caller's next read: an unfinished statement
            # keeps its connection's read snapshot.
            for cursor in cursors:
                cursor.close()

    # retention ------------------------------------------------------------------------------

    def expire(self, group_id: int, before_ms: int, batch: int = 5000) -> int:
        """Delete the group's events older than `before_ms`, a batch per transaction so
        ingest never waits long; how many were deleted."""
        deleted = 0
        streams = [
            int(r[0])
            for r in self._reader().execute(
                "SELECT id FROM streams WHERE group_id = ? AND first_ts < ?", (group_id, before_ms)
            )
        ]
        for sid in streams:
            while True:
                with self._write() as w:
                    # One replica at a time: each subtracts the bytes of what it deleted.
                    w.execute(f"SELECT id FROM streams WHERE id = ?{self._for_update}", (sid,))
                    rows = w.execute(
                        "SELECT timestamp, seq, length(message) FROM events "
                        "WHERE stream_id = ? AND timestamp < ? ORDER BY timestamp, seq "
                        "LIMIT ?",
                        (sid, before_ms, batch),
                    ).fetchall()
                    if rows:
                        last_ts, last_seq, _ = rows[-1]
                        w.execute(
                            "DELETE FROM events WHERE stream_id = ? AND (timestamp, seq) <= (?, ?)",
                            (sid, last_ts, last_seq),
                        )
                    first = w.execute(
                        "SELECT MIN(timestamp) FROM events WHERE stream_id = ?", (sid,)
                    ).fetchone()[0]
                    w.execute(
                        "UPDATE streams SET first_ts = ?, stored_bytes = "
                        "CASE WHEN stored_bytes > ? THEN stored_bytes - ? ELSE 0 END WHERE id = ?",
                        (first, sum(r[2] for r in rows), sum(r[2] for r in rows), sid),
                    )
                deleted += len(rows)
                if len(rows) < batch:
                    break
        return deleted
