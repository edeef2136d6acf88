"""A PostgreSQL connection pool for the stores kept beside the control plane's: the CloudWatch
Logs store (logs/postgres.py) and the metric store (cloudwatch/postgres.py).

Both were written for SQLite: statements with `?` placeholders on a per-thread reader and on a
writer inside BEGIN ... COMMIT. This gives them the same shape on PostgreSQL: `reader()` runs
one statement in autocommit on a pooled connection and hands back its rows, `write()` one
transaction (optionally serialised across replicas by an advisory lock), each statement's
placeholders made psycopg's. Each store's tables live in a schema of its own in the control
plane's database (the connections' search_path), so their SQL names them as on SQLite.
A lost database is a ServerException, as the control plane's store reports it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from portside.errors import ServerException
from portside.store.postgresql import (
    DOWN_WAIT,
    RECONNECT_TIMEOUT,
    DatabaseFaults,
    _is_lost,
    _redact,
)


def placeholders(statement: str) -> str:
    """`statement` with psycopg's placeholders for SQLite's (the stores' SQL has no other
    question mark and no percent sign)."""
    return statement.replace("?", "%s")


class Rows:
    """A read's rows, fetched whole (its connection already back in the pool), with the
    part of a DB-API cursor the stores' callers use."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Any]:
        return self._rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def close(self) -> None:
        self._rows = []


class Reader:
    """`execute`: one statement in autocommit on a pooled connection."""

    def __init__(self, db: SideDatabase) -> None:
        self._db = db

    def execute(self, statement: str, args: Sequence[Any] = ()) -> Rows:
        with self._db.connection() as conn:
            cur = conn.execute(placeholders(statement), tuple(args))
            return Rows(cur.fetchall() if cur.description else [], cur.rowcount)


class Writer:
    """`execute` and `executemany` inside one transaction."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, statement: str, args: Sequence[Any] = ()) -> Any:
        return self.conn.execute(placeholders(statement), tuple(args))

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(placeholders(statement), rows)


class SideDatabase:
    """The pool, made once the schema's DDL has run (under an advisory lock: replicas
    starting together make the tables once)."""

    def __init__(
        self,
        url: str,
        *,
        schema: str,
        ddl: str,
        what: str,
        lock: int,
        pool_size: int = 8,
        pool_timeout: float = 5.0,
    ) -> None:
        self.where = _redact(url)
        self.what = what
        self.lock = lock
        self._faults = DatabaseFaults(self.where)
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (lock,))
            try:
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                conn.execute(f"SET search_path = {schema}")
                conn.execute(ddl)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (lock,))
        kwargs = {
            "autocommit": True,
            "options": f"-c search_path={schema} -c lock_timeout=15000",
            "application_name": f"portside-{what}",
            "connect_timeout": 5,
        }
        self.down = False  # as PostgresStore's: a lost database fails calls at once
        self.pool: ConnectionPool[Any] = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            timeout=pool_timeout,
            reconnect_timeout=RECONNECT_TIMEOUT,
            kwargs=kwargs,
            open=True,
        )

    def fault(self, exc: BaseException) -> ServerException | None:
        """The ServerException `exc` stands for when it means the database is lost."""
        if isinstance(exc, ServerException):
            return exc
        if not _is_lost(exc):
            return None
        self.down = True
        self._faults.report(exc, what=f"the {self.what} store")
        with contextlib.suppress(Exception):
            self.pool.check()
        return ServerException(
            "The server's database is unavailable; the request may not have been applied. Retry it."
        )

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            conn = self.pool.getconn(timeout=DOWN_WAIT if self.down else None)
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise (self.fault(exc) or exc) from exc
        self.down = False
        try:
            yield conn
        except Exception as exc:
            fault = self.fault(exc)
            if fault is None:
                raise
            raise fault from exc
        finally:
            self.pool.putconn(conn)

    def reader(self) -> Reader:
        return Reader(self)

    @contextlib.contextmanager
    def write(self, *, serialised: bool = False) -> Iterator[Writer]:
        """One transaction, committed when the block ends; `serialised`: with every other
        serialised writer of this store on any replica waiting its turn."""
        with self.connection() as conn:
            conn.execute("BEGIN")
            try:
                if serialised:
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (self.lock,))
                yield Writer(conn)
            except BaseException:
                with contextlib.suppress(Exception):
                    conn.rollback()
                raise
            conn.commit()

    def close(self) -> None:
        self.pool.close()
