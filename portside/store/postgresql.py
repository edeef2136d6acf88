"""The shared store: PostgreSQL, for several `portside server` replicas over one database.

The same tables, statements and change feed as SQLite (store/sql.py, tables.py, schema.py),
over psycopg 3 with a connection pool. What differs, and why:

- Writes: every write transaction takes one transaction-scoped advisory lock before its first
  statement, so writers of all replicas are serialised as SQLite's BEGIN IMMEDIATE serialises
  them. Read-modify-write code written for SQLite (placement reading an instance's free
  resources, then reserving them) stays correct across replicas without retry loops, and the
  change feed's seqs (a sequence) are handed out in commit order, so a reader past seq N never
  misses a change committed later with a smaller one. Reads take no lock: a read transaction
  is a REPEATABLE READ snapshot.
- The change feed's waiters: each commit sends a NOTIFY (delivered when it commits) carrying
  its seq and tables; a listener thread per store hears every replica's, and wakes `wait` and
  the subscribers as a local commit does. When the listener's connection breaks it reconnects
  and wakes everyone once (what it may have missed is read from the feed).
- Round trips: the store's own pool of libpq connections and a cursor that puts BEGIN in
  front of a transaction's first statement, leaves a read's ROLLBACK for the connection's
  next message, and sends a write's unread statements (upserts, change-feed rows) with the
  next one that is read or with COMMIT (store/pg_wire.py). A lookup is one round trip.
- Faults: a lost database (connection refused or broken, server restarting, no connection free
  within the pool's timeout, a lock not granted in time) is a ServerException (HTTP 500 in
  ECS's shape), logged once per quiet period; the pool drops broken connections and opens new
  ones, so calls work again as soon as PostgreSQL is back. A COMMIT whose answer was lost may
  or may not have applied: the message says so; nothing acknowledged is ever lost.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import PoolTimeout
from sqlalchemy import create_engine

from portside.errors import ServerException
from portside.store.pg_wire import Cursor, Link, LinkPool, conninfo_of
from portside.store.schema import upgrade
from portside.store.sql import DbapiConnection, SqlStore, SqlTx
from portside.store.tables import metadata

log = logging.getLogger("portside.store")

CHANNEL = "portside_changes"
# pg_advisory_xact_lock keys (any bigint; these spell "portside" and "schema" in hex-ish).
WRITE_LOCK = 0x706F7274
SCHEMA_LOCK = 0x736368656D61
# Seconds the pool retries a lost connection before starting over; a call waits for a
# connection while the database is known to be gone.
RECONNECT_TIMEOUT = 8.0
DOWN_WAIT = 0.5
# A read's snapshot left open on an idle connection is rolled back after this many seconds.
REAP_AFTER = 0.25
READ_BEGIN = b"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
WRITE_BEGIN = f"BEGIN ISOLATION LEVEL READ COMMITTED;SELECT pg_advisory_xact_lock({WRITE_LOCK})"


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


class PostgresStore(SqlStore):
    """The store on a PostgreSQL database given by a libpq URL. `pool_size` bounds this
    process's connections (plus one for the listener); a caller waiting longer than
    `pool_timeout` seconds for one gets a ServerException."""

    placeholder = "%s"
    # A read waits on the database: on the event loop, every call would wait for the one
    # before it, and Python's work would never overlap PostgreSQL's.
    reads_block = True

    def __init__(
        self,
        url: str,
        clock: Callable[[], float] = time.time,
        *,
        pool_size: int = 16,
        pool_timeout: float = 5.0,
        lock_timeout: float = 15.0,
    ) -> None:
        self.url = url
        self._id = uuid.uuid4().hex[:12]
        self._faults = DatabaseFaults(_redact(url))
        self._closed = threading.Event()
        self._checking = threading.Lock()
        # Set when a call found the database gone, cleared when one gets a connection: while
        # set, a call waits a moment for a connection rather than `pool_timeout` (each of
        # the loops queued on the writer lock would wait that long in turn).
        self._down = False
        options = f"-c lock_timeout={int(lock_timeout * 1000)} -c statement_timeout=0"
        self._connect_kwargs: dict[str, Any] = {
            "autocommit": True,
            "options": options,
            "application_name": "portside",
            "connect_timeout": 5,
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
        }
        self._upgrade()
        self._pool_timeout = pool_timeout
        libpq = {k: v for k, v in self._connect_kwargs.items() if k != "autocommit"}
        self._pool = LinkPool(conninfo_of(url, client_encoding="UTF8", **libpq), pool_size)
        self._seq_name = self._changes_sequence()
        super().__init__(clock)
        self._reaper = threading.Thread(
            target=self._reap, name=f"portside-store-reap-{self._id}", daemon=True
        )
        self._reaper.start()
        self._listener = threading.Thread(
            target=self._listen, name=f"portside-store-listen-{self._id}", daemon=True
        )
        self._listening = threading.Event()
        self._listener.start()
        self._listening.wait(10)

    # -- schema -------------------------------------------------------------------------------

    def _upgrade(self) -> None:
        """Create or upgrade the tables (schema.py, as SQLite's), one replica at a time. The
        schema's fingerprint, kept in the database, spares a replica starting over a database
        already upgraded the half second of reading the catalogue back."""
        want = schema_fingerprint()
        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
            try:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS portside_schema "
                    "(id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL)"
                )
                row = conn.execute(
                    "SELECT fingerprint FROM portside_schema WHERE id = 1"
                ).fetchone()
                if row is not None and row[0] == want:
                    return
                engine = create_engine(
                    "postgresql+psycopg://",
                    creator=lambda: psycopg.connect(self.url, connect_timeout=10),
                    pool_size=2,  # the inspector's beside the upgrade's, both reused
                )
                try:
                    upgrade(engine)
                finally:
                    engine.dispose()
                conn.execute(
                    "INSERT INTO portside_schema (id, fingerprint) VALUES (1, %s) "
                    "ON CONFLICT (id) DO UPDATE SET fingerprint = excluded.fingerprint",
                    (want,),
                )
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))

    # -- SqlStore hooks -----------------------------------------------------------------------

    def _changes_sequence(self) -> str:
        """The name of the sequence that hands out the change feed's seqs."""
        link = self._pool.acquire(self._pool_timeout)
        try:
            res = link.run(b"SELECT pg_get_serial_sequence('changes', 'seq')")
            value = res.get_value(0, 0)
        finally:
            self._pool.release(link)
        if not value:
            raise RuntimeError("the changes table has no sequence for its seq column")
        return bytes(value).decode()

    @contextmanager
    def _connection(self) -> Iterator[DbapiConnection]:
        try:
            link = self._pool.acquire(DOWN_WAIT if self._down else self._pool_timeout)
        except psycopg.OperationalError as exc:
            raise self._lost(exc) from exc
        self._down = False
        session = _Session(link)
        try:
            yield session
        finally:
            # A broken connection, or one left in a failed transaction, is closed.
            self._pool.release(link)

    def _begin(self, cur: Any, writable: bool) -> None:
        cur.begin_with = self._write_begin if writable else READ_BEGIN
        cur.read_only = not writable

    _write_begin = WRITE_BEGIN.encode()

    def _before_commit(self, tx: SqlTx) -> None:
        status = tx._cur.link.pgconn.transaction_status
        if status == psycopg.pq.TransactionStatus.INERROR:
            # A statement failed and the caller went on: COMMIT would quietly roll back.
            raise RuntimeError("a statement of this transaction failed: it cannot commit")

    def _commit(self, conn: Any, tx: SqlTx) -> None:
        """COMMIT, with what the cursor kept back in front of it. A transaction that changed
        documents sends, before COMMIT, the NOTIFY that wakes the other replicas (delivered
        when it commits; it carries the seq of its last change), and after it asks for that
        seq: one round trip in all."""
        cur: Cursor = conn.cur
        if not tx.tables:
            cur.finish([b"COMMIT"])
            return
        seq = cur.link.literal(self._seq_name)
        head = cur.link.literal(f"{self._id} ")
        tail = cur.link.literal(f" {','.join(sorted(tx.tables))}")
        res = cur.finish(
            [
                b"SELECT pg_notify(%s, %s || currval(%s) || %s)"
                % (cur.link.literal(CHANNEL), head, seq, tail),
                b"COMMIT",
                b"SELECT currval(%s)" % seq,
            ]
        )
        if res is not None:
            tx.seq = int(res.get_value(0, 0) or 0)

    def _end_read(self, conn: Any) -> None:
        conn.cur.leave_open()

    def _reap(self) -> None:
        while not self._closed.wait(REAP_AFTER):
            try:
                self._pool.reap(REAP_AFTER)
            except Exception:  # a connection that broke meanwhile is dropped by the pool
                log.debug("store: reaping idle reads failed", exc_info=True)

    def lock_clause(self, shared: bool) -> str:
        return " FOR SHARE" if shared else " FOR UPDATE"

    def _storage_fault(self, exc: BaseException) -> Exception | None:
        if isinstance(exc, ServerException):
            return exc
        if _is_lost(exc):
            return self._lost(exc)
        return None

    _read_fault = _storage_fault

    def _lost(self, exc: BaseException) -> ServerException:
        self._down = True
        self._faults.report(exc)
        self._check_pool()
        return ServerException(
            "The server's database is unavailable; the request may not have been applied. Retry it."
        )

    def _check_pool(self) -> None:
        """Drop the pool's broken connections (all of them break when PostgreSQL restarts),
        so the next calls open new ones rather than fail on the dead ones in turn."""
        if self._closed.is_set() or not self._checking.acquire(blocking=False):
            return
        try:
            with contextlib.suppress(Exception):
                self._pool.clear()
        finally:
            self._checking.release()

    # -- change feed across replicas ----------------------------------------------------------

    def _listen(self) -> None:
        """LISTEN for every replica's commits; wake this store's waiters on each."""
        backoff = 0.2
        first = True
        while not self._closed.is_set():
            try:
                with psycopg.connect(self.url, **self._connect_kwargs) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    # What was committed before this LISTEN (at the start: since the store
                    # read the feed's position; after a reconnect: meanwhile) was not heard.
                    self._notify(None)
                    self._listening.set()
                    if not first:
                        log.info("store: listening to the change feed's notifications again")
                    first, backoff = False, 0.2
                    while not self._closed.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._heard(note.payload)
                            if self._closed.is_set():
                                break
            except Exception as exc:  # the connection broke: reconnect with back-off
                if self._closed.is_set():
                    return
                self._listening.set()
                self._faults.report(exc, what="change feed listener")
                self._closed.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    def _heard(self, payload: str) -> None:
        origin, _, rest = payload.partition(" ")
        if origin == self._id:
            return  # this store's own commit: it woke its waiters as it committed
        seq_text, _, tables = rest.partition(" ")
        seq = int(seq_text or 0)
        self._notify(seq or None, [t for t in tables.split(",") if t])

    def close(self) -> None:
        self._closed.set()
        self._pool.close()
        self._listener.join(timeout=5)
        self._reaper.join(timeout=5)


class _Session:
    """One transaction's hold on a connection: SqlStore's `conn` (cursor, commit,
    rollback), over the store's cursor (store/pg_wire.py)."""

    def __init__(self, link: Link) -> None:
        self.cur = Cursor(link)

    def cursor(self) -> Cursor:
        return self.cur

    def commit(self) -> None:
        self.cur.finish([b"COMMIT"])

    def rollback(self) -> None:
        self.cur.rollback()

    def close(self) -> None:
        """The connection stays the pool's (it decides, on release, whether to keep it)."""


def schema_fingerprint() -> str:
    """A digest of the tables, columns and indexes this version defines."""
    parts = []
    for table in sorted(metadata.sorted_tables, key=lambda t: t.name):
        cols = [f"{c.name}:{c.type!r}" for c in table.columns]
        ixs = sorted(f"{ix.name}:{[c.name for c in ix.columns]}" for ix in table.indexes)
        parts.append(f"{table.name}({','.join(cols)})[{';'.join(ixs)}]")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _is_lost(exc: BaseException) -> bool:
    """Whether `exc` means the database is gone or unusable for now, not a bad statement."""
    if isinstance(exc, PoolTimeout | pg_errors.LockNotAvailable | pg_errors.QueryCanceled):
        return True
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return True
    return isinstance(exc, pg_errors.AdminShutdown | pg_errors.CannotConnectNow)


def _redact(url: str) -> str:
    """`url` without its password, for the log."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    auth, _, host = rest.rpartition("@")
    user = auth.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"


class DatabaseFaults:
    """One ERROR line when the database is lost (then at most one every `quiet` seconds,
    counting those in between)."""

    def __init__(
        self, where: str, quiet: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.where = where
        self.quiet = quiet
        self.clock = clock
        self._lock = threading.Lock()
        self._logged_at: float | None = None
        self._unlogged = 0

    def report(self, exc: BaseException, what: str = "a request") -> None:
        with self._lock:
            now = self.clock()
            if self._logged_at is not None and now - self._logged_at < self.quiet:
                self._unlogged += 1
                return
            more = f" ({self._unlogged} more since the last report)" if self._unlogged else ""
            self._logged_at, self._unlogged = now, 0
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        log.error(
            "store: database %s unavailable for %s: %s%s; calls fail with ServerException "
            "until it is back",
            self.where,
            what,
            detail,
            more,
        )
