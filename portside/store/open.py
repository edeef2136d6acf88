"""Which database a server keeps its state in: SQLite in the data directory (one host), or
the PostgreSQL database `--database` / $PORTSIDE_DATABASE_URL names (several replicas).

The control plane's store, and with it the CloudWatch Logs store and the metrics store: on
PostgreSQL all three are tables of the one database, so an agent's logs, posted to whichever
replica it reaches, are read from every replica.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from portside.config import ServerConfig
from portside.store.sql import SqlStore

if TYPE_CHECKING:
    from portside.cloudwatch.store import MetricStore
    from portside.logs.store import LogStore


def on_postgres(config: ServerConfig) -> bool:
    from portside.store.postgresql import is_postgres_url

    return bool(config.database) and is_postgres_url(config.database)


@contextlib.contextmanager
def _reaching(config: ServerConfig) -> Iterator[None]:
    """A database that cannot be reached at the start is the start's error (StartupError:
    one line saying so, no traceback)."""
    import psycopg

    from portside.startup import StartupError
    from portside.store.postgresql import _redact

    try:
        yield
    except psycopg.OperationalError as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StartupError(
            f"cannot reach the database {_redact(config.database)}: {detail}"
        ) from None


def check_database(config: ServerConfig) -> None:
    """ValueError when `--database` is neither empty nor a PostgreSQL URL."""
    if config.database and not on_postgres(config):
        raise ValueError(
            f"--database must be a PostgreSQL URL (postgresql://...), not {config.database!r}"
        )


def open_store(config: ServerConfig) -> SqlStore:
    """The control plane's store for `config`."""
    check_database(config)
    if on_postgres(config):
        from portside.store.postgresql import PostgresStore

        with _reaching(config):
            return PostgresStore(config.database)
    from portside.store.sqlite import SqliteStore

    return SqliteStore(config.data_dir / "portside.db", synchronous=config.synchronous)


def open_log_store(config: ServerConfig) -> LogStore:
    """The CloudWatch Logs store for `config`: logs.db in the data directory, or tables of
    the PostgreSQL database (schema portside_logs)."""
    check_database(config)
    if on_postgres(config):
        from portside.logs.postgres import PostgresLogStore

        with _reaching(config):
            return PostgresLogStore(config.database)
    from portside.logs.store import LogStore

    return LogStore(config.data_dir / "logs.db", synchronous=config.synchronous)


def open_metric_store(config: ServerConfig) -> MetricStore | None:
    """The metric store on PostgreSQL (schema portside_metrics) when the server is; None
    for metrics.db in the data directory (cloudwatch/wiring.py opens it)."""
    check_database(config)
    if not on_postgres(config):
        return None
    from portside.cloudwatch.postgres import PostgresMetricStore

    with _reaching(config):
        return PostgresMetricStore(config.database)
