"""A fresh store for a test or a benchmark."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from portside.store.sqlite import SqliteStore


def sqlite_store(
    directory: Path | str,
    *,
    clock: Callable[[], float] = time.time,
    durable: bool = False,
    name: str = "portside.db",
) -> SqliteStore:
    """A new SQLite store (file `name` in `directory`). Its commits are not fsynced unless
    `durable`: a test's data need not survive a power cut, and the fsync is most of a
    write's time. `clock` stamps the change feed (`Change.at`)."""
    path = Path(directory) / name
    return SqliteStore(path, clock=clock, synchronous="FULL" if durable else "OFF")
