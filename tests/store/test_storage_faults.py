"""store/sqlite.py StorageFaults: which SQLite errors are the storage's, and how often they
are logged."""

from __future__ import annotations

import logging
import sqlite3

import pytest

from portside.errors import ServerException
from portside.store.sqlite import StorageFaults


def error(message: str, code: int) -> sqlite3.OperationalError:
    exc = sqlite3.OperationalError(message)
    exc.sqlite_errorcode = code  # type: ignore[attr-defined]
    return exc


def test_full_and_io_errors_become_server_exceptions(caplog: pytest.LogCaptureFixture) -> None:
    faults = StorageFaults("/data/portside.db", quiet=0)
    full = faults.check(error("database or disk is full", 13))
    assert isinstance(full, ServerException)
    assert full.message == "The server's storage is full. The request was not applied."
    io = faults.check(error("disk I/O error", 10 | (4 << 8)))  # SQLITE_IOERR_WRITE
    assert isinstance(io, ServerException)
    assert faults.check(error("database is locked", 5)) is None
    assert faults.check(sqlite3.IntegrityError("UNIQUE constraint failed")) is None
    assert faults.check(ValueError("no")) is None
    assert [r.levelno for r in caplog.records] == [logging.ERROR, logging.ERROR]
    assert "no space left for /data/portside.db" in caplog.records[0].getMessage()


def test_a_burst_is_logged_once_then_counted(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    faults = StorageFaults("/d/p.db", quiet=10, clock=lambda: now[0])
    for _ in range(5):
        faults.check(error("database or disk is full", 13))
    now[0] = 11.0
    faults.check(error("database or disk is full", 13))
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "(4 more since the last report)" in lines[1]
