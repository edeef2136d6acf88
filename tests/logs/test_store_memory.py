"""The log store's memory does not follow what it holds: events are only appended, and the
page cache that kept every page written made the server's RSS climb for the first 20
minutes of the soak (~3 MiB a minute at 400 events/s, up to 64 MiB a connection)."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from pathlib import Path

import pytest

from portside.logs.store import CACHE_KIB, LogStore


def _sqlite_memory() -> Callable[[], int]:
    try:
        lib = ctypes.CDLL("libsqlite3.so.0")
    except OSError:
        pytest.skip("no libsqlite3 to ask how much memory SQLite holds")
    used = lib.sqlite3_memory_used
    used.restype = ctypes.c_int64
    return lambda: int(used())


def test_appending_events_holds_no_more_than_the_cache(tmp_path: Path) -> None:
    used = _sqlite_memory()
    store = LogStore(tmp_path / "logs.db", synchronous="OFF")
    store.create_group("/app", 0)
    for n in range(4):
        store.create_stream("/app", f"s{n}", 0)
    before = used()
    ts = 1_700_000_000_000
    for n in range(2500):  # 250,000 events, ~30 MiB of pages
        ts += 25
        events = [(ts + k, f"event {n} {k} " + "x" * 60) for k in range(100)]
        store.append("/app", f"s{n % 4}", events, ts)
    grew = (used() - before) / 2**20
    assert (tmp_path / "logs.db").stat().st_size + (tmp_path / "logs.db-wal").stat().st_size > (
        3 * CACHE_KIB * 1024
    )
    assert grew < CACHE_KIB / 1024 + 4, f"SQLite holds {grew:.1f} MiB more"
    store.close()
