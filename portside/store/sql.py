"""The store over a DB-API connection: one implementation, two dialects (SQLite, PostgreSQL).

SQLAlchemy Core defines the schema (tables.py) and creates it; the statements on the hot path
are plain SQL written once per table, which both SQLite and PostgreSQL accept as they stand
(`INSERT ... ON CONFLICT (key) DO UPDATE`), differing only in the placeholder. Going through
SQLAlchemy's connection pool and compiler cost ~120 µs a read; this costs ~15 µs.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import orjson

from portside.store.base import Change, Document, RawChange, Tally
from portside.store.tables import BOOL_COLUMNS, INDEXES, VERSIONED, column_type

_MAX_CHAR = "\U0010ffff"
_UNREAD: Any = object()
# A `where` value of one of these types means "one of": `col IN (...)`.
_ONE_OF = (frozenset, set, tuple, list)


class DbapiConnection(Protocol):
    def cursor(self) -> Any: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def close(self) -> None: ...


class _Statements:
    """The SQL of one table, with the dialect's placeholder."""

    def __init__(self, table: str, ph: str) -> None:
        cols = list(INDEXES[table])
        self.cols = cols
        all_cols = ["key", *cols, "doc"]
        self.get = f"SELECT doc FROM {table} WHERE key = {ph}"
        self.exists = f"SELECT 1 FROM {table} WHERE key = {ph}"
        updates = ", ".join(f"{c} = excluded.{c}" for c in [*cols, "doc"])
        self.put = (
            f"INSERT INTO {table} ({', '.join(all_cols)}) "
            f"VALUES ({', '.join([ph] * len(all_cols))}) "
            f"ON CONFLICT (key) DO UPDATE SET {updates}"
        )
        self.delete = f"DELETE FROM {table} WHERE key = {ph}"
        # A versioned table's (tables.py): the stored version, read by key before a put of a
        # document this transaction has not read.
        self.version = f"SELECT version FROM {table} WHERE key = {ph}"
        self.versioned = table in VERSIONED
        self.table = table
        self.fields = tuple(INDEXES[table][c] for c in cols)
        self.flags = tuple(i for i, c in enumerate(cols) if c in BOOL_COLUMNS)

    def values(self, doc: Document) -> list[Any]:
        """The indexed columns' values, taken from the document."""
        values = [doc.get(f) for f in self.fields]
        for i in self.flags:
            if values[i] is not None:
                values[i] = int(bool(values[i]))
        return values


class SqlTx:
    """A transaction on one connection. Writes also append to the change feed."""

    def __init__(self, store: SqlStore, cur: Any, writable: bool) -> None:
        self._store = store
        self._cur = cur
        self._writable = writable
        self.wrote = False
        self.seq: int | None = None  # the seq of this transaction's last change, when known
        self.tables: set[str] = set()  # the tables it changed
        self.committed: list[Callable[[], None]] = []
        # Versioned documents' stored versions as this transaction knows them (None: none
        # stored): what it read, wrote or deleted. A put of one of them needs no SELECT.
        self._versions: dict[tuple[str, str], int | None] = {}

    def _sql(self, table: str) -> _Statements:
        try:
            return self._store.statements[table]
        except KeyError:
            raise KeyError(f"unknown table {table!r}") from None

    def get(self, table: str, key: str) -> Document | None:
        sql = self._sql(table)
        self._cur.execute(sql.get, (key,))
        row = self._cur.fetchone()
        doc = orjson.loads(row[0]) if row else None
        if sql.versioned and self._writable:
            self._versions[(table, key)] = doc.get("version") if doc is not None else None
        return doc

    def _where(
        self, table: str, prefix: str, after: str, where: Mapping[str, Any] | None
    ) -> tuple[str, list[Any]]:
        ph = self._store.placeholder
        clauses: list[str] = []
        params: list[Any] = []
        if prefix:
            clauses.append(f"key >= {ph} AND key < {ph}")
            params += [prefix, prefix + _MAX_CHAR]
        if after:
            clauses.append(f"key > {ph}")
            params.append(after)
        for col, value in (where or {}).items():
            if col not in INDEXES[table]:
                raise KeyError(f"{table} has no indexed column {col!r}")
            if isinstance(value, _ONE_OF):
                choices = sorted(value)
                if not choices:
                    clauses.append("0 = 1")  # one of nothing: no row
                    continue
                clauses.append(f"{col} IN ({', '.join([ph] * len(choices))})")
                params += choices
            else:
                clauses.append(f"{col} = {ph}")
                params.append(value)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def scan(
        self,
        table: str,
        *,
        prefix: str = "",
        after: str = "",
        where: Mapping[str, Any] | None = None,
        limit: int | None = None,
    ) -> Iterator[tuple[str, Document]]:
        self._sql(table)
        clause, params = self._where(table, prefix, after, where)
        sql = f"SELECT key, doc FROM {table}{clause} ORDER BY key"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        self._cur.execute(sql, params)
        rows = self._cur.fetchall()
        for key, doc in rows:
            yield key, orjson.loads(doc)

    def scan_raw(
        self, table: str, *, prefix: str = "", where: Mapping[str, Any] | None = None
    ) -> list[tuple[str, str]]:
        self._sql(table)
        clause, params = self._where(table, prefix, "", where)
        self._cur.execute(f"SELECT key, doc FROM {table}{clause}", params)
        return [(k, d) for k, d in self._cur.fetchall()]

    def index(
        self,
        table: str,
        *,
        prefix: str = "",
        where: Mapping[str, Any] | None = None,
        ordered: bool = True,
    ) -> list[tuple[Any, ...]]:
        self._sql(table)
        clause, params = self._where(table, prefix, "", where)
        cols = ", ".join(["key", *INDEXES[table]])
        order = " ORDER BY key" if ordered else ""
        self._cur.execute(f"SELECT {cols} FROM {table}{clause}{order}", params)
        return [tuple(r) for r in self._cur.fetchall()]

    def select(
        self,
        table: str,
        *,
        order: Sequence[str],
        prefix: str = "",
        where: Mapping[str, Any] | None = None,
        descending: bool = False,
        after: Sequence[Any] | None = None,
        limit: int | None = None,
        docs: bool = False,
    ) -> list[tuple[Any, ...]]:
        self._sql(table)
        unknown = [c for c in order if c not in INDEXES[table]]
        if unknown or not order:
            raise KeyError(f"{table} cannot be ordered by {list(order)!r}")
        clause, params = self._where(table, prefix, "", where)
        if after is not None:
            if len(after) != len(order):
                raise ValueError("`after` needs one value per ordering column")
            ph = self._store.placeholder
            # A row value comparison: SQLite (3.15+) and PostgreSQL both use the index for it.
            cmp = "<" if descending else ">"
            row = f"({', '.join(order)}) {cmp} ({', '.join([ph] * len(order))})"
            clause = f"{clause} AND {row}" if clause else f" WHERE {row}"
            params = [*params, *after]
        direction = " DESC" if descending else ""
        by = ", ".join(f"{c}{direction}" for c in [*order, "key"])
        cols = ", ".join(["key", *order, *(["doc"] if docs else [])])
        sql = f"SELECT {cols} FROM {table}{clause} ORDER BY {by}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        self._cur.execute(sql, params)
        if docs:
            return [(*r[:-1], orjson.loads(r[-1])) for r in self._cur.fetchall()]
        return [tuple(r) for r in self._cur.fetchall()]

    def tally(
        self, table: str, by: Sequence[str], *, where: Mapping[str, Any] | None = None
    ) -> dict[tuple[Any, ...], int]:
        self._sql(table)
        if not by or any(c not in INDEXES[table] for c in by):
            raise KeyError(f"{table} cannot be grouped by {list(by)!r}")
        clause, params = self._where(table, "", "", where)
        cols = ", ".join(by)
        self._cur.execute(f"SELECT {cols}, COUNT(*) FROM {table}{clause} GROUP BY {cols}", params)
        return {tuple(row[:-1]): int(row[-1]) for row in self._cur.fetchall()}

    def tallies(self, queries: Sequence[Tally]) -> list[dict[tuple[Any, ...], int]]:
        """One UNION ALL: each query's rows tagged with its index, its columns in places of
        their own (NULL in the others' rows), so no column mixes two types."""
        for q in queries:
            self._sql(q.table)
            if any(c not in INDEXES[q.table] for c in q.by):
                raise KeyError(f"{q.table} cannot be grouped by {list(q.by)!r}")
        # PostgreSQL types a UNION's columns branch by branch: a NULL carries its type.
        nulls = [f"CAST(NULL AS {column_type(q.table, c)})" for q in queries for c in q.by]
        parts: list[str] = []
        params: list[Any] = []
        offset = 0
        for i, q in enumerate(queries):
            clause, more = self._where(q.table, "", "", q.where)
            cols = list(nulls)
            cols[offset : offset + len(q.by)] = q.by
            group = f" GROUP BY {', '.join(q.by)}" if q.by else ""
            parts.append(
                f"SELECT {i}{''.join(', ' + c for c in cols)}, COUNT(*) FROM {q.table}"
                f"{clause}{group}"
            )
            params += more
            offset += len(q.by)
        out: list[dict[tuple[Any, ...], int]] = [{} for _ in queries]
        if not parts:
            return out
        self._cur.execute(" UNION ALL ".join(parts), params)
        starts = [0]
        for q in queries:
            starts.append(starts[-1] + len(q.by))
        for row in self._cur.fetchall():
            i, n = int(row[0]), int(row[-1])
            if n:
                out[i][tuple(row[1 + starts[i] : 1 + starts[i + 1]])] = n
        return out

    def count(self, table: str, *, prefix: str = "", where: Mapping[str, Any] | None = None) -> int:
        self._sql(table)
        clause, params = self._where(table, prefix, "", where)
        self._cur.execute(f"SELECT COUNT(*) FROM {table}{clause}", params)
        return int(self._cur.fetchone()[0])

    def _check_writable(self) -> None:
        if not self._writable:
            raise RuntimeError("write in a read-only transaction")
        self.wrote = True

    def put(self, table: str, key: str, doc: Document, *, bump: bool = True) -> None:
        self._check_writable()
        sql = self._sql(table)
        if sql.versioned:
            if bump:
                stored = self._stored_version(sql, table, key)
                if stored is not None:
                    doc["version"] = stored + 1
            self._versions[(table, key)] = doc.get("version")
        body = orjson.dumps(doc).decode()
        self._later(sql.put, (key, *sql.values(doc), body))
        self._record(table, key, "put", body)

    def _stored_version(self, sql: _Statements, table: str, key: str) -> int | None:
        known = self._versions.get((table, key), _UNREAD)
        if known is not _UNREAD:
            return int(known or 0) if known is not None else None
        self._cur.execute(sql.version, (key,))
        row = self._cur.fetchone()
        return int(row[0] or 0) if row is not None else None

    def delete(self, table: str, key: str) -> bool:
        self._check_writable()
        sql = self._sql(table)
        if sql.versioned:
            self._versions[(table, key)] = None
        self._cur.execute(sql.delete, (key,))
        gone = bool(self._cur.rowcount and self._cur.rowcount > 0)
        if gone:
            self._record(table, key, "delete", None)
        return gone

    def next_value(self, counter: str) -> int:
        self._check_writable()
        ph = self._store.placeholder
        self._cur.execute(
            f"INSERT INTO counters (name, value) VALUES ({ph}, 1) "
            "ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value",
            (counter,),
        )
        return int(self._cur.fetchone()[0])

    def feed_seq(self) -> int:
        self._cur.execute("SELECT MAX(seq) FROM changes")
        return int(self._cur.fetchone()[0] or 0)

    def changed_keys(self, table: str, after: int, *, prefix: str = "") -> set[str] | None:
        ph = self._store.placeholder
        self._cur.execute("SELECT MIN(seq) FROM changes")
        oldest = self._cur.fetchone()[0]
        if oldest is not None and int(oldest) > after + 1:
            return None  # trimmed: changes after `after` may be gone
        sql = f"SELECT DISTINCT key FROM changes WHERE seq > {ph} AND tbl = {ph}"
        params: list[Any] = [after, table]
        if prefix:
            sql += f" AND key >= {ph} AND key < {ph}"
            params += [prefix, prefix + _MAX_CHAR]
        self._cur.execute(sql, params)
        return {k for (k,) in self._cur.fetchall()}

    def on_commit(self, callback: Callable[[], None]) -> None:
        self.committed.append(callback)

    def lock(self, table: str, key: str, *, shared: bool = True) -> bool:
        if not self._writable:
            raise RuntimeError("lock in a read-only transaction")
        sql = self._sql(table)
        self._cur.execute(sql.exists + self._store.lock_clause(shared), (key,))
        return self._cur.fetchone() is not None

    def _record(self, table: str, key: str, op: str, body: str | None) -> None:
        self.tables.add(table)
        ph = self._store.placeholder
        self._later(
            f"INSERT INTO changes (at, tbl, key, op, doc) VALUES ({ph}, {ph}, {ph}, {ph}, {ph})",
            (self._store.clock(), table, key, op, body),
        )
        # The change's seq, where the driver tells it (sqlite3: the rowid it just made); a
        # backend that defers the insert tells it at commit.
        self.seq = getattr(self._cur, "lastrowid", None)

    def _later(self, sql: str, params: Sequence[Any]) -> None:
        """Run a statement whose answer is not read: now, or, where the cursor can keep it
        (store/pg_wire.py), with the next statement sent. Its failure then shows there."""
        defer = getattr(self._cur, "defer", None)
        if defer is not None:
            defer(sql, params)
        else:
            self._cur.execute(sql, params)


class SqlStore:
    """Store implementation shared by the SQLite and PostgreSQL backends. Subclasses say how
    to open a connection and begin a transaction."""

    placeholder = "?"
    reads_block = False

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.statements = {t: _Statements(t, self.placeholder) for t in INDEXES}
        self._cond = threading.Condition()
        self._local = threading.local()
        self._subscribers: list[Callable[[int], None]] = []
        # Per table, the seq of the newest commit this process made that changed it, so that a
        # loop waits for its own tables only; a commit whose tables are unknown counts for all.
        self._table_seq: dict[str, int] = {}
        self._any_seq = 0
        self._writer = threading.RLock()
        self._seq = self._query_last_seq()

    # -- backend hooks -----------------------------------------------------------------------

    def _connect(self) -> DbapiConnection:
        raise NotImplementedError

    def _begin(self, cur: Any, writable: bool) -> None:
        cur.execute("BEGIN")

    def _storage_fault(self, exc: BaseException) -> Exception | None:
        """What a write that failed with `exc` raises instead, when the storage itself failed
        (disk full, I/O error): a ServerException saying so, logged once here. None: `exc` is
        not a storage failure and goes on as it is."""
        return None

    def _read_fault(self, exc: BaseException) -> Exception | None:
        """`_storage_fault` for a read: None (SQLite's reads fail only as the code does)."""
        return None

    def _before_commit(self, tx: SqlTx) -> None:
        """Called in a write transaction just before its COMMIT (`tx.wrote`: whether it
        wrote); what it raises rolls the transaction back."""

    def _commit(self, conn: Any, tx: SqlTx) -> None:
        """Commit `tx` on `conn` (a backend that defers its change-feed rows sets `tx.seq`)."""
        conn.commit()

    def _end_read(self, conn: Any) -> None:
        """End a read-only transaction that went well."""
        conn.rollback()

    def lock_clause(self, shared: bool) -> str:
        """What `Tx.lock` appends to its SELECT: nothing here, where writers are serialised
        (SQLite's BEGIN IMMEDIATE); PostgreSQL's row locks."""
        return ""

    # -- connections -------------------------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[DbapiConnection]:
        """A connection for one transaction: here the thread's own, kept open."""
        yield self._conn()

    def _conn(self) -> DbapiConnection:
        conn: DbapiConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[SqlTx]:
        # Writers of this process queue here, in order, rather than in the database's busy
        # handler, which polls with back-off and gives up ("database is locked") under load.
        with self._writer, self._connection() as conn:
            cur = conn.cursor()
            tx = SqlTx(self, cur, writable=True)
            try:
                self._begin(cur, writable=True)
                yield tx
                self._before_commit(tx)
            except BaseException as exc:
                with contextlib.suppress(Exception):
                    conn.rollback()
                fault = self._storage_fault(exc)
                if fault is None:
                    raise
                raise fault from exc
            try:
                self._commit(conn, tx)
            except Exception as exc:
                # A failed COMMIT (disk full, I/O error) may leave the transaction open.
                with contextlib.suppress(Exception):
                    conn.rollback()
                fault = self._storage_fault(exc)
                if fault is None:
                    raise
                raise fault from exc
            for callback in tx.committed:
                callback()
        if tx.wrote:
            self._notify(tx.seq, tx.tables)

    @contextmanager
    def read(self) -> Iterator[SqlTx]:
        with self._connection() as conn:
            cur = conn.cursor()
            tx = SqlTx(self, cur, writable=False)
            try:
                self._begin(cur, writable=False)
                yield tx
                self._end_read(conn)
            except BaseException as exc:
                with contextlib.suppress(Exception):
                    conn.rollback()
                fault = self._read_fault(exc)
                if fault is None:
                    raise
                raise fault from exc
        for callback in tx.committed:
            callback()

    # -- change feed -------------------------------------------------------------------------

    def _query_last_seq(self) -> int:
        with self.read() as tx:
            tx._cur.execute("SELECT MAX(seq) FROM changes")
            value = tx._cur.fetchone()[0]
        return int(value or 0)

    def _notify(self, seq: int | None = None, tables: Iterable[str] = ()) -> None:
        known = seq is not None and bool(tables)
        if seq is None:
            seq = self._query_last_seq()
        with self._cond:
            self._seq = max(self._seq, seq)
            if known:
                for table in tables:
                    self._table_seq[table] = max(self._table_seq.get(table, 0), seq)
            else:
                self._any_seq = max(self._any_seq, seq)
            self._cond.notify_all()
        for callback in list(self._subscribers):
            callback(seq)

    def subscribe(self, callback: Callable[[int], None]) -> None:
        """Call `callback(seq)` after every commit that wrote (from the committing thread)."""
        self._subscribers.append(callback)

    def last_seq(self) -> int:
        return self._seq

    def changes(
        self,
        after: int,
        limit: int = 1000,
        *,
        tables: Collection[str] | None = None,
        upto: int | None = None,
    ) -> list[Change]:
        return [
            Change(seq, at, tbl, key, op, orjson.loads(doc) if doc is not None else None)
            for seq, at, tbl, key, op, doc in self.changes_raw(
                after, limit, tables=tables, upto=upto
            )
        ]

    def changes_raw(
        self,
        after: int,
        limit: int = 1000,
        *,
        tables: Collection[str] | None = None,
        upto: int | None = None,
    ) -> list[RawChange]:
        ph = self.placeholder
        sql = f"SELECT seq, at, tbl, key, op, doc FROM changes WHERE seq > {ph}"
        params: list[Any] = [after]
        if upto is not None:
            sql += f" AND seq <= {ph}"
            params.append(upto)
        if tables is not None:
            if not tables:
                return []
            sql += f" AND tbl IN ({', '.join([ph] * len(tables))})"
            params += list(tables)
        with self.read() as tx:
            tx._cur.execute(f"{sql} ORDER BY seq LIMIT {int(limit)}", params)
            rows = tx._cur.fetchall()
        return [RawChange(*row) for row in rows]

    def feed_time_at(self, seq: int) -> float | None:
        ph = self.placeholder
        with self.read() as tx:
            tx._cur.execute(
                f"SELECT at FROM changes WHERE seq <= {ph} ORDER BY seq DESC LIMIT 1", (seq,)
            )
            row = tx._cur.fetchone()
        return float(row[0]) if row is not None else None

    def last_change(self, table: str, key: str, *, before: int, after: int = 0) -> RawChange | None:
        ph = self.placeholder
        with self.read() as tx:
            tx._cur.execute(
                f"SELECT seq, at, tbl, key, op, doc FROM changes WHERE seq < {ph} AND seq > {ph} "
                f"AND tbl = {ph} AND key = {ph} ORDER BY seq DESC LIMIT 1",
                (before, after, table, key),
            )
            row = tx._cur.fetchone()
        return RawChange(*row) if row is not None else None

    def oldest_seq(self) -> int:
        """The seq of the oldest change still kept (0 when none)."""
        with self.read() as tx:
            tx._cur.execute("SELECT MIN(seq) FROM changes")
            value = tx._cur.fetchone()[0]
        return int(value or 0)

    def trim(self, before: float) -> int:
        """Forget changes committed before `before` (epoch seconds); the newest is kept.

        The feed is cut at its first change committed at or after `before`, found walking
        from the oldest in seq (commit) order: the walk reads what goes, not the whole feed
        (`at` has no index; a scan of an hour's feed under the write lock, every pass of
        the maintenance loop, held up every write)."""
        ph = self.placeholder
        with self.transaction() as tx:
            cur = tx._cur
            cur.execute(f"SELECT seq FROM changes WHERE at >= {ph} ORDER BY seq LIMIT 1", (before,))
            row = cur.fetchone()
            if row is None:
                cur.execute("SELECT MAX(seq) FROM changes")
                row = cur.fetchone()
            if row is None or row[0] is None:
                return 0
            cur.execute(f"DELETE FROM changes WHERE seq < {ph}", (int(row[0]),))
            return int(cur.rowcount or 0)

    def wait(self, after: int, timeout: float, *, tables: Iterable[str] | None = None) -> bool:
        if tables is None:
            return self._wait_for(lambda: self._seq > after, timeout)
        watched = tuple(tables)
        seqs = self._table_seq
        return self._wait_for(
            lambda: self._any_seq > after or any(seqs.get(t, 0) > after for t in watched),
            timeout,
        )

    def _wait_for(self, ready: Callable[[], bool], timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(ready, timeout=timeout)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
