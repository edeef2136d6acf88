"""Two replicas' stores over one database: two SqliteStore objects on one file, or two
PostgresStore objects on one database (tests/pg_fixtures.py; skipped where PostgreSQL is
not installed)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from portside.store.base import Store
from portside.testing.store import sqlite_store

OpenStore = Callable[[], Store]


@pytest.fixture(params=["sqlite", "postgresql"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenStore]:
    """Opens one more store over the test's one database (each is a replica's)."""
    opened: list[Store] = []
    if request.param == "sqlite":

        def make() -> Store:
            store = sqlite_store(tmp_path)
            opened.append(store)
            return store

    else:
        url = request.getfixturevalue("postgres_url")
        from portside.store.postgresql import PostgresStore

        def make() -> Store:
            store = PostgresStore(url, pool_size=4)
            opened.append(store)
            return store

    yield make
    for store in opened:
        store.close()
