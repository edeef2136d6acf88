"""The store's tests run on both backends: SQLite in the test's directory, PostgreSQL in a
database of the test's own (tests/pg_fixtures.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from portside.store.sql import SqlStore
from portside.store.sqlite import SqliteStore


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_store(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> Iterator[Callable[[], SqlStore]]:
    """Opens a store on the test's database, each call a new one on the same data (a
    reopen, or another replica); all closed after the test."""
    opened: list[SqlStore] = []
    url = request.getfixturevalue("postgres_store_url") if backend == "postgresql" else ""

    def make() -> SqlStore:
        if backend == "postgresql":
            from portside.store.postgresql import PostgresStore

            store: SqlStore = PostgresStore(url)
        else:
            store = SqliteStore(tmp_path / "s.db")
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()
