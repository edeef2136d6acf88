"""The embedded store: SQLite in WAL mode in the data directory."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from portside.store.schema import upgrade
from portside.store.sql import SqlStore


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
