"""PostgreSQL for the tests: one throwaway server per test process (pytest-xdist worker),
a fresh database per test (portside/testing/postgres.py).

Where PostgreSQL is not installed the tests that need it are skipped with a reason (listed at
the end of the run; failures under CI=true): scripts/ensure-test-deps.sh installs Debian's
`postgresql` on Debian hosts.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from portside.testing.postgres import PostgresServer, available


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test process, stopped (and its directory removed) after."""
    reason = available()
    if reason is not None:
        pytest.skip(reason)
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> str:
    """A database holding the store's tables (made once by a PostgresStore), which
    `postgres_store_url` copies: a copy costs milliseconds, creating the tables ~1 s."""
    from portside.store.postgresql import PostgresStore

    name = postgres_server.create_database("portside_template")
    PostgresStore(postgres_server.socket_url(name)).close()
    return name


@pytest.fixture
def postgres_database(postgres_server: PostgresServer) -> Iterator[str]:
    """The name of a new empty database, dropped after the test."""
    name = postgres_server.create_database()
    yield name
    if postgres_server.running:
        postgres_server.drop_database(name)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, postgres_database: str) -> str:
    """A libpq URL (unix socket) of a new empty database of the test's own."""
    return postgres_server.socket_url(postgres_database)


@pytest.fixture
def postgres_store_url(postgres_server: PostgresServer, postgres_template: str) -> Iterator[str]:
    """A libpq URL (unix socket) of a new database of the test's own that already holds the
    store's tables (a PostgresStore opens on it at once)."""
    name = postgres_server.create_database(template=postgres_template)
    yield postgres_server.socket_url(name)
    if postgres_server.running:
        postgres_server.drop_database(name)
