"""The metric store: series, their datapoints, alarms and alarm history, in their own SQLite
database (`<data-dir>/metrics.db`, WAL), apart from the control plane's so that a flood of
PutMetricData never queues behind the control plane's writer, nor it behind metrics (the same
reason logs.db is apart).

    series   one row per metric (account|region, namespace, name, dimensions), with when it
             last received data (ListMetrics' two weeks and RecentlyActive)
    points   one row per (series, resolution, bucket start, unit): count, sum, minimum,
             maximum and the values for percentiles (`values.py`), clustered by series and
             time (WITHOUT ROWID), so a read of one metric over a day is one index seek and a
             sequential scan of 1,440 rows. Resolution is 60 (a minute's aggregate, every
             datapoint), 1 (a second's, high-resolution datapoints only, kept three hours),
             300 and 3600 (roll-ups, `retention.py`)
    alarms, alarm_history, meta   see `alarm_records.py`

A PutMetricData is one transaction: one upsert per (series, bucket), merging into the
aggregate already there (the values merged by `cw_merge`, a Python function SQLite calls on
conflict only). Every method is thread-safe: writes under one lock on one connection,
committed (durable per `synchronous`) before they return; reads on a connection per thread.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from portside.cloudwatch import values
from portside.cloudwatch.rules import Dimensions
from portside.store.sqlite import StorageFaults

CACHE_KIB = 16384
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    scope TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    dims TEXT NOT NULL,
    last_put INTEGER NOT NULL,
    UNIQUE (scope, namespace, name, dims)
);
CREATE TABLE IF NOT EXISTS points (
    series INTEGER NOT NULL,
    res INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    unit INTEGER NOT NULL,
    n REAL NOT NULL,
    total REAL NOT NULL,
    lo REAL NOT NULL,
    hi REAL NOT NULL,
    vals BLOB,
    PRIMARY KEY (series, res, ts, unit)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alarms (
    key TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    name TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alarm_history (
    id INTEGER PRIMARY KEY,
    scope TEXT NOT NULL,
    name TEXT NOT NULL,
    ts REAL NOT NULL,
    kind TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alarm_history_by_name ON alarm_history (scope, name, ts);
CREATE INDEX IF NOT EXISTS alarm_history_by_time ON alarm_history (scope, ts);
"""

UPSERT = (
    "INSERT INTO points (series, res, ts, unit, n, total, lo, hi, vals) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (series, res, ts, unit) DO UPDATE SET "
    "vals = cw_merge(points.vals, points.n, points.lo, excluded.vals, excluded.n, excluded.lo),"
    " n = points.n + excluded.n, total = points.total + excluded.total,"
    " lo = min(points.lo, excluded.lo), hi = max(points.hi, excluded.hi)"
)

# (series, res, ts, unit, count, sum, min, max, vals)
PointRow = tuple[int, int, int, int, float, float, float, float, bytes | None]
_NEW_SERIES = (
    "INSERT INTO series (scope, namespace, name, dims, last_put) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (scope, namespace, name, dims) DO UPDATE SET "
    "last_put = max(last_put, excluded.last_put) RETURNING id"
)


@dataclass(slots=True)  # not frozen: one is built per datapoint, and frozen costs ~1 µs
class Sample:
    """One datapoint to store: its metric, the buckets it goes into as (resolution, bucket
    start) — its minute, and its second as well when it is high-resolution — and `point` =
    (unit, count, sum, min, max, vals)."""

    namespace: str
    name: str
    dims: Dimensions
    buckets: tuple[tuple[int, int], ...]
    point: tuple[int, float, float, float, float, bytes | None]


@dataclass(frozen=True, slots=True)
class Series:
    id: int
    namespace: str
    name: str
    dims: Dimensions
    last_put: int


def dims_key(dims: Dimensions) -> str:
    return orjson.dumps(dims).decode()


def _series(row: Sequence[object]) -> Series:
    dims = tuple((str(n), str(v)) for n, v in orjson.loads(str(row[3])))
    return Series(int(str(row[0])), str(row[1]), str(row[2]), dims, int(str(row[4])))


class MetricStore:
    def __init__(self, path: Path | str, *, synchronous: str = "FULL") -> None:
        self.path = str(path)
        # An in-memory store (tests) is one database shared by this store's connections.
        self._uri = f"file:cloudwatch-{id(self)}?mode=memory&cache=shared"
        self._faults = StorageFaults(self.path)
        self._synchronous = synchronous
        self._lock = threading.Lock()
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._ids: dict[tuple[str, str, str, str], int] = {}
        self._last_put: dict[int, int] = {}
        self._writer = self._open()
        self._writer.executescript(_SCHEMA)

    def _open(self) -> sqlite3.Connection:
        memory = self.path == ":memory:"
        conn = sqlite3.connect(
            self._uri if memory else self.path,
            isolation_level=None,
            check_same_thread=False,
            timeout=30,
            uri=memory,
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        conn.execute("PRAGMA mmap_size=268435456")
        conn.create_function("cw_merge", 6, values.merge, deterministic=True)
        conn.create_aggregate("cw_values", 3, values.Merged)  # type: ignore[arg-type]
        self._all.append(conn)
        return conn

    def reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            with self._lock:
                conn = self._open()
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
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
                fault = self._faults.check(exc)
                if fault is not None:
                    raise fault from None
                raise

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()

    # series ---------------------------------------------------------------------------------

    def put(self, scope: str, samples: Sequence[Sample], now: int) -> int:
        """Store datapoints in one transaction: series made where new, each sample merged
        into its bucket's aggregate. Returns the number of rows written."""
        fresh: dict[tuple[str, str, str, str], int] = {}
        touched: list[int] = []
        with self.write() as w:
            rows: list[PointRow] = []
            for s in samples:
                key = (scope, s.namespace, s.name, dims_key(s.dims))
                sid = self._ids.get(key) or fresh.get(key)
                if sid is None:
                    sid = int(w.execute(_NEW_SERIES, (*key, now)).fetchone()[0])
                    fresh[key] = sid
                elif now - self._last_put.get(sid, 0) >= 60:
                    touched.append(sid)
                rows += [(sid, res, ts, *s.point) for res, ts in s.buckets]
            w.executemany(UPSERT, rows)
            if touched:
                w.executemany(
                    "UPDATE series SET last_put = ? WHERE id = ?", [(now, i) for i in set(touched)]
                )
        self._ids.update(fresh)
        for sid in (*fresh.values(), *touched):
            self._last_put[sid] = now
        return len(rows)

    def find(self, scope: str, namespace: str, name: str, dims: Dimensions) -> int | None:
        key = (scope, namespace, name, dims_key(dims))
        found = self._ids.get(key)
        if found is not None:
            return found
        row = (
            self.reader()
            .execute(
                "SELECT id FROM series WHERE scope = ? AND namespace = ? AND name = ? AND dims = ?",
                key,
            )
            .fetchone()
        )
        return int(row[0]) if row else None

    def list_series(
        self, scope: str, *, namespace: str | None, name: str | None, since: int,
        after: int, limit: int,
    ) -> list[Series]:  # fmt: skip
        sql = "SELECT id, namespace, name, dims, last_put FROM series WHERE scope = ? AND id > ?"
        args: list[object] = [scope, after]
        if namespace is not None:
            sql += " AND namespace = ?"
            args.append(namespace)
        if name is not None:
            sql += " AND name = ?"
            args.append(name)
        sql += " AND last_put >= ? ORDER BY id LIMIT ?"
        args += [since, limit]
        return [_series(r) for r in self.reader().execute(sql, args)]

    # points ---------------------------------------------------------------------------------

    def aggregates(
        self, series: int, resolutions: Sequence[int], start: int, end: int, period: int,
        unit: int | None,
    ) -> list[tuple[int, int, float, float, float, float]]:  # fmt: skip
        """(bucket start, unit, count, sum, min, max) per period bucket from `start` and unit,
        aggregated in SQL."""
        marks = ",".join("?" * len(resolutions))
        sql = (
            f"SELECT ? + ((ts - ?) / ?) * ?, unit, sum(n), sum(total), min(lo), max(hi) "
            f"FROM points WHERE series = ? AND res IN ({marks}) AND ts >= ? AND ts < ?"
        )
        args: list[object] = [start, start, period, period, series, *resolutions, start, end]
        if unit is not None:
            sql += " AND unit = ?"
            args.append(unit)
        sql += " GROUP BY 1, 2 ORDER BY 1"
        return self.reader().execute(sql, args).fetchall()

    def points(
        self, series: int, resolutions: Sequence[int], start: int, end: int, unit: int | None
    ) -> list[tuple[int, float, float, float, float, bytes | None, int]]:
        """Every stored row of the window: (ts, count, sum, min, max, vals, unit)."""
        marks = ",".join("?" * len(resolutions))
        sql = (
            f"SELECT ts, n, total, lo, hi, vals, unit FROM points WHERE series = ? "
            f"AND res IN ({marks}) AND ts >= ? AND ts < ?"
        )
        args: list[object] = [series, *resolutions, start, end]
        if unit is not None:
            sql += " AND unit = ?"
            args.append(unit)
        return self.reader().execute(sql + " ORDER BY ts", args).fetchall()

    def units(self, series: int, start: int, end: int) -> list[int]:
        rows = self.reader().execute(
            "SELECT DISTINCT unit FROM points WHERE series = ? AND res = 60 AND ts >= ? AND ts < ?",
            (series, start, end),
        )
        return [int(r[0]) for r in rows]
