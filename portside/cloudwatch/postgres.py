"""The metric store on PostgreSQL: what replicas share when the server is on PostgreSQL.

PutMetricData reaches any replica, the leader's loops publish ECS's metrics and evaluate the
alarms, and GetMetricData asks any replica: so series, datapoints, alarms and their history
are tables of the control plane's database, in a schema of their own (`portside_metrics`).
The statements are MetricStore's (cloudwatch/store.py) and alarm_records.py's, over
store/side.py's pool. What SQLite does in Python functions inside its statements (merging a
bucket's values on an upsert, `cw_merge`; a roll-up's values, `cw_values`) is done here in
Python between a read and a write of the rows concerned, so metric writes are serialised
across replicas (an advisory lock per write transaction), as SQLite's single writer
serialises them.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from portside.cloudwatch import retention, values
from portside.cloudwatch.store import MetricStore, PointRow, Sample, dims_key
from portside.store.side import Reader, SideDatabase, Writer

SCHEMA = "portside_metrics"
_LOCK = 0x6D657472  # the advisory lock's key: making the tables, and every metric write
_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT COLLATE "C" PRIMARY KEY, value BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS series (
    id BIGSERIAL PRIMARY KEY,
    scope TEXT COLLATE "C" NOT NULL,
    namespace TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    dims TEXT COLLATE "C" NOT NULL,
    last_put BIGINT NOT NULL,
    UNIQUE (scope, namespace, name, dims)
);
CREATE TABLE IF NOT EXISTS points (
    series BIGINT NOT NULL,
    res INTEGER NOT NULL,
    ts BIGINT NOT NULL,
    unit INTEGER NOT NULL,
    n DOUBLE PRECISION NOT NULL,
    total DOUBLE PRECISION NOT NULL,
    lo DOUBLE PRECISION NOT NULL,
    hi DOUBLE PRECISION NOT NULL,
    vals BYTEA,
    PRIMARY KEY (series, res, ts, unit)
);
CREATE TABLE IF NOT EXISTS alarms (
    key TEXT COLLATE "C" PRIMARY KEY,
    scope TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alarm_history (
    id BIGSERIAL PRIMARY KEY,
    scope TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    ts DOUBLE PRECISION NOT NULL,
    kind TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alarm_history_by_name ON alarm_history (scope, name, ts);
CREATE INDEX IF NOT EXISTS alarm_history_by_time ON alarm_history (scope, ts);
"""
TABLES = ("series", "points", "alarms", "alarm_history", "meta")
_NEW_SERIES = (
    "INSERT INTO series (scope, namespace, name, dims, last_put) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (scope, namespace, name, dims) DO UPDATE SET "
    "last_put = GREATEST(series.last_put, excluded.last_put) RETURNING id"
)
_STORE = (
    "INSERT INTO points (series, res, ts, unit, n, total, lo, hi, vals) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (series, res, ts, unit) DO UPDATE SET "
    "n = excluded.n, total = excluded.total, lo = excluded.lo, hi = excluded.hi, "
    "vals = excluded.vals"
)
_STORED = (
    "SELECT series, res, ts, unit, n, total, lo, hi, vals FROM points "
    "WHERE (series, res, ts, unit) IN "
    "(SELECT * FROM unnest(%s::bigint[], %s::integer[], %s::bigint[], %s::integer[])) "
    "FOR UPDATE"
)
Key = tuple[int, int, int, int]


def _combine(a: PointRow, b: PointRow) -> PointRow:
    """One bucket's two aggregates as one, as SQLite's upsert merges them."""
    return (
        a[0], a[1], a[2], a[3], a[4] + b[4], a[5] + b[5], min(a[6], b[6]), max(a[7], b[7]),
        values.merge(a[8], a[4], a[6], b[8], b[4], b[6]),
    )  # fmt: skip


class MetricWriter(Writer):
    """A metric write transaction: retention's roll-up statement (a SQLite aggregate
    function inside) is carried out in Python here."""

    def execute(self, statement: str, args: Sequence[Any] = ()) -> Any:
        if statement is retention._ROLLUP:
            into, _, _, res, low, high, _, _ = args
            return _rollup(self, int(into), int(res), int(low), int(high))
        return super().execute(statement, args)


def _merge_into(w: Writer, rows: Sequence[PointRow]) -> None:
    """Merge `rows` into the stored aggregates of their buckets (new buckets made)."""
    merged: dict[Key, PointRow] = {}
    for row in rows:
        key = (row[0], row[1], row[2], row[3])
        merged[key] = _combine(merged[key], row) if key in merged else row
    if not merged:
        return
    keys = list(merged)
    stored = w.conn.execute(
        _STORED,
        ([k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys], [k[3] for k in keys]),
    ).fetchall()
    for old in stored:
        key = (old[0], old[1], old[2], old[3])
        merged[key] = _combine(tuple(old), merged[key])
    w.executemany(_STORE, list(merged.values()))


def _rollup(w: Writer, into: int, res: int, low: int, high: int) -> Any:
    rows = w.conn.execute(
        "SELECT series, ts, unit, n, total, lo, hi, vals FROM points "
        "WHERE res = %s AND ts >= %s AND ts < %s ORDER BY series, ts, unit",
        (res, low, high),
    ).fetchall()
    buckets: dict[Key, tuple[list[float], values.Merged]] = {}
    for series, ts, unit, n, total, lo, hi, vals in rows:
        key = (series, into, ts // into * into, unit)
        if key not in buckets:
            buckets[key] = ([0.0, 0.0, lo, hi], values.Merged())
        agg, vals_of = buckets[key]
        agg[0] += n
        agg[1] += total
        agg[2] = min(agg[2], lo)
        agg[3] = max(agg[3], hi)
        vals_of.step(vals, n, lo)
    _merge_into(
        w,
        [
            (*key, agg[0], agg[1], agg[2], agg[3], merged.finalize())
            for key, (agg, merged) in buckets.items()
        ],
    )
    return None


class PostgresMetricStore(MetricStore):
    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        self._db = SideDatabase(
            url, schema=SCHEMA, ddl=_DDL, what="metrics", lock=_LOCK, pool_size=pool_size
        )
        self.path = self._db.where
        self._ids: dict[tuple[str, str, str, str], int] = {}
        self._last_put: dict[int, int] = {}

    def reader(self) -> Reader:  # type: ignore[override]
        return self._db.reader()

    @contextlib.contextmanager
    def write(self) -> Iterator[MetricWriter]:  # type: ignore[override]
        with self._db.connection() as conn:
            conn.execute("BEGIN")
            try:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
                yield MetricWriter(conn)
            except BaseException:
                with contextlib.suppress(Exception):
                    conn.rollback()
                raise
            conn.commit()

    def close(self) -> None:
        self._db.close()

    def put(self, scope: str, samples: Sequence[Sample], now: int) -> int:
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
            _merge_into(w, rows)
            if touched:
                w.executemany(
                    "UPDATE series SET last_put = GREATEST(last_put, ?) WHERE id = ?",
                    [(now, i) for i in set(touched)],
                )
        self._ids.update(fresh)
        for sid in (*fresh.values(), *touched):
            self._last_put[sid] = now
        return len(rows)


class Migration:
    """`portside migrate`'s copy of a data directory's metrics.db into these tables."""

    tables = tuple(f"{SCHEMA}.{t}" for t in TABLES)

    def __init__(self, url: str) -> None:
        PostgresMetricStore(url).close()  # the tables, made as a server makes them

    def copy(self, pg: Any, src: sqlite3.Connection) -> dict[str, int]:
        have = {r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        counts: dict[str, int] = {}
        for table, cols in (
            ("series", "id, scope, namespace, name, dims, last_put"),
            ("points", "series, res, ts, unit, n, total, lo, hi, vals"),
            ("alarms", "key, scope, name, doc"),
            ("alarm_history", "id, scope, name, ts, kind, doc"),
            ("meta", "key, value"),
        ):
            if table not in have:
                continue
            marks = ", ".join(["%s"] * len(cols.split(",")))
            cur = src.execute(f"SELECT {cols} FROM {table}")
            copied = 0
            with pg.cursor() as out:
                while rows := cur.fetchmany(1000):
                    out.executemany(f"INSERT INTO {SCHEMA}.{table} ({cols}) VALUES ({marks})", rows)
                    copied += len(rows)
            counts[f"metric {table.replace('_', ' ')}"] = copied
        for table in ("series", "alarm_history"):
            pg.execute(
                f"SELECT setval(pg_get_serial_sequence('{SCHEMA}.{table}', 'id'), "
                f"GREATEST((SELECT MAX(id) FROM {SCHEMA}.{table}), 1))"
            )
        return counts
