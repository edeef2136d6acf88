"""The embedded store: SQLite in WAL mode in the data directory."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from portside.errors import ServerException
from portside.store.schema import upgrade
from portside.store.sql import SqlStore

log = logging.getLogger("portside.store")

# Primary result codes (the low byte of an extended one) that mean the storage failed.
_SQLITE_IOERR, _SQLITE_FULL = 10, 13


class SqliteStore(SqlStore):
    """SQLite with WAL. Every commit is fsynced before the call that made it returns
    (synchronous=FULL), so neither kill -9 nor a power cut loses an acknowledged change.
    Each thread gets its own connection; writers serialise on BEGIN IMMEDIATE."""

    placeholder = "?"

    def __init__(
        self, path: Path | str, clock: Callable[[], float] = time.time, *, synchronous: str = "FULL"
    ) -> None:
        self.path = str(path)
        self._synchronous = synchronous
        self._faults = StorageFaults(self.path)
        if self.path == ":memory:":
            # One shared connection: every thread must see the same in-memory database.
            self._shared: sqlite3.Connection | None = self._open(check_same_thread=False)
        else:
            self._shared = None
        engine = create_engine("sqlite://", creator=self._connect)
        upgrade(engine)
        engine.dispose()
        super().__init__(clock)

    def _open(self, check_same_thread: bool = True) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=check_same_thread, timeout=10
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    def _connect(self) -> Any:
        return self._shared if self._shared is not None else self._open()

    def _begin(self, cur: Any, writable: bool) -> None:
        # Writers take the write lock up front so two writers never deadlock upgrading.
        cur.execute("BEGIN IMMEDIATE" if writable else "BEGIN")

    def _storage_fault(self, exc: BaseException) -> Exception | None:
        return self._faults.check(exc)


def quick_check(path: Path | str) -> str | None:
    """None when SQLite's `PRAGMA quick_check` passes on the database at `path`, else what
    is wrong (its first findings, or why the file cannot be read as a database at all)."""
    try:
        conn = sqlite3.connect(str(path), isolation_level=None, timeout=10)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        rows = conn.execute("PRAGMA quick_check(5)").fetchall()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        conn.close()
    found = [str(r[0]) for r in rows]
    return None if found == ["ok"] else "; ".join(found)


class StorageFaults:
    """Turns SQLite's "disk full" and "I/O error" into a ServerException that says so, with
    one ERROR line (then at most one every `quiet` seconds, counting those in between): the
    write was rolled back whole, and writes work again as soon as there is space."""

    def __init__(
        self, path: str, quiet: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.path = path
        self.quiet = quiet
        self.clock = clock
        self._lock = threading.Lock()
        self._logged_at: float | None = None
        self._unlogged = 0

    def check(self, exc: BaseException) -> ServerException | None:
        code = getattr(exc, "sqlite_errorcode", None)
        if not isinstance(exc, sqlite3.Error) or code is None:
            return None
        if code & 0xFF == _SQLITE_FULL:
            what, message = f"no space left for {self.path}", "The server's storage is full."
        elif code & 0xFF == _SQLITE_IOERR:
            what, message = f"I/O error on {self.path} ({exc})", "The server's storage failed."
        else:
            return None
        self._log(what)
        return ServerException(f"{message} The request was not applied.")

    def _log(self, what: str) -> None:
        with self._lock:
            now = self.clock()
            if self._logged_at is not None and now - self._logged_at < self.quiet:
                self._unlogged += 1
                return
            more = f" ({self._unlogged} more since the last report)" if self._unlogged else ""
            self._logged_at, self._unlogged = now, 0
        log.error(
            "storage: %s: a write was refused and rolled back, nothing of it applied%s; "
            "writes resume once there is space",
            what,
            more,
        )
